//! A model bundle: one folder with every model the full pipeline needs, and the pipeline
//! itself (radiograph → hand mask → CLAHE'd hand → keypoints → canonical frame → regions →
//! per-region nets → weighted ensemble, with optional test-time augmentation).
//!
//! ```text
//! BUNDLE/
//!   manifest.json                      what is inside; SHA-256 of every file
//!   segmentation/segmentation.json     U-Net config     + model.safetensors
//!   keypoints/keypoints.json           keypoint config  + model.safetensors
//!   members/<name>/config.json         age net config   + model.safetensors
//! ```
//!
//! [`Bundle::open`] reads the manifest, checks the format and the SHA-256 of every file it
//! lists (an edited, truncated or swapped file is refused by name) and loads the nets.

use crate::keypoints::KeypointModel;
use crate::segmentation::SegModel;
use crate::training::{TrainError, TrainedRun};
use crate::vgg::{Arch, Head};
use boneage_core::Sex;
use boneage_imaging::clahe::ClaheConfig;
use boneage_imaging::registration::Region;
use boneage_imaging::spatial::Affine;
use boneage_imaging::{GrayImage, Mask};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::Device;

/// File name of the manifest.
pub const MANIFEST: &str = "manifest.json";
/// Format written in every manifest; others are refused.
pub const FORMAT: &str = "boneage-bundle/1";

/// A bundle that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Model(#[from] TrainError),
}

fn invalid<T>(m: String) -> Result<T, BundleError> {
    Err(BundleError::Invalid(m))
}

/// Size and SHA-256 of one file of the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHash {
    pub bytes: u64,
    pub sha256: String,
}

/// A segmentation or keypoint model in the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Folder inside the bundle.
    pub dir: String,
    /// Network input, `[width, height]`.
    pub input: [i64; 2],
}

/// One age net of the ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Unique name, e.g. `A-regression`.
    pub name: String,
    /// Region it reads: `A` (whole hand), `B` (carpals), `C` (metacarpals + proximal
    /// phalanges).
    pub region: String,
    pub head: Head,
    pub arch: Arch,
    /// Folder inside the bundle (`config.json` + `model.safetensors`).
    pub dir: String,
    /// Network input, `[width, height]`.
    pub input: [i64; 2],
    /// Ensemble weight (the weights sum to 1).
    pub weight: f64,
    /// MAE on the validation set the weights were fitted on.
    pub valid_mae_months: f64,
}

/// How the ensemble weights were found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleInfo {
    pub method: String,
    pub n_valid: usize,
    pub valid_mae_months: f64,
    pub best_single: String,
    pub best_single_valid_mae_months: f64,
    /// Mean bone age of the training set: the constant a model must beat (the results
    /// table's baseline).
    #[serde(default)]
    pub train_mean_months: Option<f64>,
}

/// Test-time augmentation: each extra draw moves the hand in the canonical frame by a random
/// rotation, shift and scale about the region's centre before the region is cut.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TtaConfig {
    /// Views per region when the user does not say (1 = no augmentation). Default 1.
    pub views: usize,
    /// Largest rotation, degrees. Default 5.
    pub rotation_deg: f64,
    /// Largest shift as a fraction of the region's size. Default 0.03.
    pub shift_fraction: f64,
    /// Largest relative scale change. Default 0.05.
    pub scale: f64,
}

impl Default for TtaConfig {
    fn default() -> Self {
        TtaConfig {
            views: 1,
            rotation_deg: 5.0,
            shift_fraction: 0.03,
            scale: 0.05,
        }
    }
}

/// A straight line applied to the ensemble's estimate (`slope · age + intercept`), fitted on
/// the validation set: nets that underfit answer too close to the training mean (old hands
/// read young, young hands old), which the line undoes (the last step of Deeplasia's pipeline
/// too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    pub slope: f64,
    pub intercept: f64,
    /// Validation MAE of the ensemble before and after.
    pub valid_mae_before_months: f64,
    pub valid_mae_after_months: f64,
}

impl Calibration {
    /// The calibrated age, kept within 0–240 months.
    pub fn apply(&self, age_months: f64) -> f64 {
        (self.slope * age_months + self.intercept).clamp(0.0, 240.0)
    }

    /// The line with the lowest MAE of `pred` against `truth` (slopes 0.8–1.6 in steps of
    /// 0.005, each with the median residual as intercept); `None` unless it lowers the MAE by
    /// at least 0.1 month.
    pub fn fit(pred: &[f64], truth: &[f64]) -> Option<Calibration> {
        if pred.len() < 10 || pred.len() != truth.len() {
            return None;
        }
        let mae = |a: f64, b: f64| {
            pred.iter()
                .zip(truth)
                .map(|(p, t)| ((a * p + b).clamp(0.0, 240.0) - t).abs())
                .sum::<f64>()
                / pred.len() as f64
        };
        let before = mae(1.0, 0.0);
        let mut best = (before, 1.0, 0.0);
        for k in 0..=160 {
            let a = 0.8 + 0.005 * k as f64;
            let mut r: Vec<f64> = pred.iter().zip(truth).map(|(p, t)| t - a * p).collect();
            r.sort_by(f64::total_cmp);
            let b = r[r.len() / 2];
            let m = mae(a, b);
            if m < best.0 {
                best = (m, a, b);
            }
        }
        (best.0 < before - 0.1).then_some(Calibration {
            slope: best.1,
            intercept: best.2,
            valid_mae_before_months: before,
            valid_mae_after_months: best.0,
        })
    }
}

/// The bundle measured on a held-out test set it was neither trained nor weighted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestReport {
    /// What the test set is, in words.
    pub set: String,
    /// The ensemble: overall (MAE, RMSE, bias, share within 12 months, mean-predictor
    /// baseline), by sex and by development stage.
    pub ensemble: boneage_core::metrics::Evaluation,
    /// Each member's test MAE, months.
    pub members: BTreeMap<String, f64>,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    /// Names this bundle in every prediction: a label and the first 12 hex digits of the
    /// SHA-256 over the manifest's file hashes.
    pub id: String,
    /// Date the bundle was made (UTC, YYYY-MM-DD).
    pub created: String,
    pub boneage_version: String,
    pub libtorch: String,
    /// What the nets were trained on, in words.
    pub trained_on: String,
    /// True when no net saw a real radiograph with a real bone age.
    pub phantom_only: bool,
    /// Shown to users with every prediction.
    pub notice: String,
    pub segmentation: Component,
    pub keypoints: Component,
    pub members: Vec<Member>,
    pub ensemble: EnsembleInfo,
    pub tta: TtaConfig,
    /// The line applied to the ensemble's estimate, when one helped on validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// The bundle on its held-out test set, when one was given to `boneage bundle --test`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestReport>,
    /// Every file of the bundle but the manifest, by path inside the bundle.
    pub files: BTreeMap<String, FileHash>,
}

/// SHA-256 as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Manifest {
    /// The id for a label and these file hashes.
    pub fn make_id(label: &str, files: &BTreeMap<String, FileHash>) -> String {
        let all: String = files
            .iter()
            .map(|(k, v)| format!("{k}={}\n", v.sha256))
            .collect();
        format!("{label}-{}", &sha256_hex(all.as_bytes())[..12])
    }
}

/// Where a bundle's files come from: a folder, or bytes built into a binary.
pub enum Source<'a> {
    Folder(PathBuf),
    Embedded(&'a [(&'a str, &'a [u8])]),
}

impl Source<'_> {
    fn describe(&self, rel: &str) -> String {
        match self {
            Source::Folder(d) => d.join(rel).display().to_string(),
            Source::Embedded(_) => format!("built-in bundle: {rel}"),
        }
    }

    fn read(&self, rel: &str) -> Result<Cow<'_, [u8]>, BundleError> {
        match self {
            Source::Folder(d) => {
                let p = d.join(rel);
                std::fs::read(&p)
                    .map(Cow::Owned)
                    .or_else(|e| invalid(format!("{}: cannot read bundle file: {e}", p.display())))
            }
            Source::Embedded(files) => files
                .iter()
                .find(|(n, _)| *n == rel)
                .map(|(_, b)| Cow::Borrowed(*b))
                .ok_or_else(|| BundleError::Invalid(format!("built-in bundle lacks {rel}"))),
        }
    }

    fn text(&self, rel: &str) -> Result<String, BundleError> {
        String::from_utf8(self.read(rel)?.into_owned())
            .or_else(|_| invalid(format!("{}: not UTF-8 text", self.describe(rel))))
    }
}

/// A loaded, checked bundle.
pub struct Bundle {
    pub manifest: Manifest,
    /// Where it was loaded from (a folder, or "built-in").
    pub origin: String,
    pub segmentation: SegModel,
    pub keypoints: KeypointModel,
    /// The age nets, in manifest order.
    pub members: Vec<TrainedRun>,
}

/// A bundle's file named in the manifest, read and checked against its hash.
fn checked(src: &Source, m: &Manifest, rel: &str) -> Result<Vec<u8>, BundleError> {
    let Some(want) = m.files.get(rel) else {
        return invalid(format!(
            "{}: not listed in the manifest's files",
            src.describe(rel)
        ));
    };
    let bytes = src.read(rel)?;
    let got = sha256_hex(&bytes);
    if bytes.len() as u64 != want.bytes || got != want.sha256 {
        return invalid(format!(
            "{}: SHA-256 {got} ({} bytes) differs from the manifest's {} ({} bytes): the bundle \
             was changed or damaged",
            src.describe(rel),
            bytes.len(),
            want.sha256,
            want.bytes
        ));
    }
    Ok(bytes.into_owned())
}

fn text_of(src: &Source, m: &Manifest, rel: &str) -> Result<String, BundleError> {
    String::from_utf8(checked(src, m, rel)?)
        .or_else(|_| invalid(format!("{}: not UTF-8 text", src.describe(rel))))
}

impl Bundle {
    /// Opens the bundle in folder `dir`.
    pub fn load(dir: &Path, device: Device) -> Result<Bundle, BundleError> {
        if !dir.join(MANIFEST).is_file() {
            return invalid(format!(
                "{}: not a model bundle (no {MANIFEST})",
                dir.display()
            ));
        }
        let mut b = Bundle::open(&Source::Folder(dir.to_path_buf()), device)?;
        b.origin = dir.display().to_string();
        Ok(b)
    }

    /// Opens a bundle: manifest, hashes, nets.
    pub fn open(src: &Source, device: Device) -> Result<Bundle, BundleError> {
        let text = src.text(MANIFEST)?;
        let manifest: Manifest = serde_json::from_str(&text)
            .or_else(|e| invalid(format!("{}: {e}", src.describe(MANIFEST))))?;
        if manifest.format != FORMAT {
            return invalid(format!(
                "{}: format {:?}, this boneage reads {FORMAT:?}",
                src.describe(MANIFEST),
                manifest.format
            ));
        }
        if manifest.members.is_empty() {
            return invalid(format!("{}: no members", src.describe(MANIFEST)));
        }
        let hash = Manifest::make_id("", &manifest.files);
        if !manifest.id.ends_with(&hash) {
            return invalid(format!(
                "{}: id {} does not match its files (expected …{hash}): the manifest was edited",
                src.describe(MANIFEST),
                manifest.id
            ));
        }
        // Every listed file is checked, used or not.
        for rel in manifest.files.keys() {
            checked(src, &manifest, rel)?;
        }
        let seg_dir = &manifest.segmentation.dir;
        let segmentation = SegModel::from_bytes(
            &text_of(src, &manifest, &format!("{seg_dir}/segmentation.json"))?,
            &checked(src, &manifest, &format!("{seg_dir}/model.safetensors"))?,
            device,
        )?;
        let kp_dir = &manifest.keypoints.dir;
        let keypoints = KeypointModel::from_bytes(
            &text_of(src, &manifest, &format!("{kp_dir}/keypoints.json"))?,
            &checked(src, &manifest, &format!("{kp_dir}/model.safetensors"))?,
            device,
        )?;
        let mut members = Vec::new();
        for m in &manifest.members {
            if region_of(&m.region).is_none() {
                return invalid(format!(
                    "{}: member {} has region {:?} (A, B or C)",
                    src.describe(MANIFEST),
                    m.name,
                    m.region
                ));
            }
            let run = TrainedRun::from_bytes(
                &src.describe(&m.dir),
                &text_of(src, &manifest, &format!("{}/config.json", m.dir))?,
                &checked(src, &manifest, &format!("{}/model.safetensors", m.dir))?,
                device,
            )?;
            if run.config.model.head != m.head || run.config.model.arch != m.arch {
                return invalid(format!(
                    "{}: member {} is a {:?} {:?} net in the manifest but its config says {:?} {:?}",
                    src.describe(MANIFEST),
                    m.name,
                    m.arch,
                    m.head,
                    run.config.model.arch,
                    run.config.model.head
                ));
            }
            members.push(run);
        }
        let w: f64 = manifest.members.iter().map(|m| m.weight).sum();
        if manifest.members.iter().any(|m| !(m.weight >= 0.0)) || (w - 1.0).abs() > 1e-6 {
            return invalid(format!(
                "{}: ensemble weights must be >= 0 and sum to 1 (they sum to {w})",
                src.describe(MANIFEST)
            ));
        }
        Ok(Bundle {
            manifest,
            origin: "built-in".into(),
            segmentation,
            keypoints,
            members,
        })
    }
}

/// A model inside a new bundle: its config file's name and text, and its weights.
pub struct ModelFiles<'a> {
    pub config_name: &'a str,
    pub config: Cow<'a, str>,
    pub weights: Cow<'a, [u8]>,
}

/// Everything [`write_bundle`] puts in a bundle.
pub struct BundleSpec<'a> {
    /// Start of the id (e.g. `phantom-vgg-ensemble`).
    pub label: String,
    pub trained_on: String,
    pub phantom_only: bool,
    pub segmentation: ModelFiles<'a>,
    pub keypoints: ModelFiles<'a>,
    /// Members with their files; `dir` and `input` are filled in by `write_bundle`.
    pub members: Vec<(Member, ModelFiles<'a>)>,
    pub ensemble: EnsembleInfo,
    pub tta: TtaConfig,
    pub calibration: Option<Calibration>,
    pub test: Option<TestReport>,
}

/// The notice every prediction carries.
pub fn notice(phantom_only: bool) -> String {
    if phantom_only {
        "trained on synthetic phantom radiographs only: shows the pipeline working, NOT for \
         clinical use"
            .into()
    } else {
        "research model, not a medical device: NOT for clinical use".into()
    }
}

/// Today's date (UTC) as YYYY-MM-DD.
fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!("{y:04}-{m:02}-{d:02}")
}

/// Writes a bundle folder: into a temporary folder beside `out`, then renamed into place (an
/// existing bundle at `out` is replaced only once the new one is complete).
pub fn write_bundle(out: &Path, spec: BundleSpec) -> Result<Manifest, BundleError> {
    let io = io_error;
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !out.join(MANIFEST).is_file() && !empty {
            return invalid(format!(
                "{}: exists and is not a model bundle; not replacing it",
                out.display()
            ));
        }
    }
    let tmp = parent.join(format!(".{name}.tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let written = fill_bundle(&tmp, spec);
    let manifest = match written {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let old = parent.join(format!(".{name}.old{}", std::process::id()));
    if out.exists() {
        std::fs::rename(out, &old).map_err(|e| io(out, e))?;
    }
    if let Err(e) = std::fs::rename(&tmp, out) {
        let _ = std::fs::rename(&old, out);
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(io(out, e));
    }
    let _ = std::fs::remove_dir_all(&old);
    Ok(manifest)
}

fn io_error(p: &Path, e: std::io::Error) -> BundleError {
    BundleError::Invalid(format!("{}: {e}", p.display()))
}

/// Writes the bundle's files and manifest into the folder `tmp`.
fn fill_bundle(tmp: &Path, spec: BundleSpec) -> Result<Manifest, BundleError> {
    let io = io_error;
    let mut files = BTreeMap::new();
    let mut put = |rel: &str, bytes: &[u8]| -> Result<(), BundleError> {
        let p = tmp.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
        }
        std::fs::write(&p, bytes).map_err(|e| io(&p, e))?;
        files.insert(
            rel.to_string(),
            FileHash {
                bytes: bytes.len() as u64,
                sha256: sha256_hex(bytes),
            },
        );
        Ok(())
    };
    let mut component = |dir: &str, m: &ModelFiles| -> Result<(), BundleError> {
        put(&format!("{dir}/{}", m.config_name), m.config.as_bytes())?;
        put(&format!("{dir}/{}", crate::folder::WEIGHTS), &m.weights)
    };
    component("segmentation", &spec.segmentation)?;
    component("keypoints", &spec.keypoints)?;
    let input_of = |text: &str, what: &str| -> Result<[i64; 2], BundleError> {
        let v: serde_json::Value =
            serde_json::from_str(text).or_else(|e| invalid(format!("{what} config: {e}")))?;
        let m = &v["model"];
        Ok([
            m["input_width"].as_i64().unwrap_or(0),
            m["input_height"].as_i64().unwrap_or(0),
        ])
    };
    let mut members = Vec::new();
    for (mut m, f) in spec.members {
        if region_of(&m.region).is_none() {
            return invalid(format!(
                "member {}: region {:?} (A, B or C)",
                m.name, m.region
            ));
        }
        if members.iter().any(|o: &Member| o.name == m.name) {
            return invalid(format!("two members named {}", m.name));
        }
        m.dir = format!("members/{}", m.name);
        m.input = input_of(&f.config, &m.name)?;
        component(&m.dir, &f)?;
        members.push(m);
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        id: Manifest::make_id(&spec.label, &files),
        created: today(),
        boneage_version: env!("CARGO_PKG_VERSION").into(),
        libtorch: "2.11.0".into(),
        trained_on: spec.trained_on,
        phantom_only: spec.phantom_only,
        notice: notice(spec.phantom_only),
        segmentation: Component {
            dir: "segmentation".into(),
            input: input_of(&spec.segmentation.config, "segmentation")?,
        },
        keypoints: Component {
            dir: "keypoints".into(),
            input: input_of(&spec.keypoints.config, "keypoints")?,
        },
        members,
        ensemble: spec.ensemble,
        tta: spec.tta,
        calibration: spec.calibration,
        test: spec.test,
        files,
    };
    let text = serde_json::to_string_pretty(&manifest)
        .or_else(|e| invalid(format!("manifest: {e}")))?
        + "\n";
    std::fs::write(tmp.join(MANIFEST), text).map_err(|e| io(tmp, e))?;
    Ok(manifest)
}

/// `A`, `B` or `C` as a region.
pub fn region_of(name: &str) -> Option<Region> {
    Region::ALL.into_iter().find(|r| r.name() == name)
}

/// A radiograph taken through segmentation, CLAHE and keypoints.
pub struct Analysis {
    pub mask: Mask,
    /// The hand image the regions are cut from (inversion undone, CLAHE, black outside the
    /// mask), source size.
    pub hand: GrayImage,
    /// Middle finger tip, thumb tip, capitate, in source pixels.
    pub keypoints: [[f64; 2]; 3],
    /// Source pixels → canonical frame (with a reflection when the hand was read mirrored).
    pub to_canonical: Affine,
    /// Distance of the thumb keypoint from its canonical place after registration (canonical
    /// pixels; the frame is 2080 high).
    pub thumb_residual: f64,
    /// The hand was a mirror image (a right hand, or a film turned over) and was read as a left
    /// hand.
    pub mirrored: bool,
    /// What makes the result doubtful (an implausible hand mask, a hand turned far from
    /// upright); empty when nothing was noticed.
    pub warnings: Vec<String>,
}

/// A thumb keypoint further than this from its canonical place after registration (canonical
/// pixels) is reported as a warning.
pub const THUMB_WARNING_PX: f64 = 250.0;

/// Members disagreeing by more than this SD (months) is reported as a warning.
pub const SPREAD_WARNING_MONTHS: f64 = 24.0;

impl Prediction {
    /// Warnings about the ensemble's answer itself.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.spread_months > SPREAD_WARNING_MONTHS {
            w.push(format!(
                "the nets disagree: SD {:.1} months between members",
                self.spread_months
            ));
        }
        w
    }
}

/// One member's estimate.
#[derive(Debug, Clone, Serialize)]
pub struct MemberValue {
    pub name: String,
    pub region: String,
    pub head: Head,
    pub bone_age_months: f64,
    /// SD over the test-time augmentation draws (0 without TTA).
    pub tta_sd_months: f64,
    pub weight: f64,
}

/// The ensemble's estimate for one radiograph.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// The weighted mean of the members, through the bundle's calibration line if it has one.
    pub bone_age_months: f64,
    /// SD of the members' estimates around the ensemble's, weighted by the ensemble weights:
    /// how much the nets that count disagree.
    pub spread_months: f64,
    /// Ensemble of each region's members (weights renormalized within the region; plain
    /// mean where they are all 0).
    pub by_region: BTreeMap<String, f64>,
    /// The same per head (`regression`, `classification`).
    pub by_head: BTreeMap<String, f64>,
    pub members: Vec<MemberValue>,
    /// Number of views per region (1 = no TTA).
    pub tta: usize,
}

/// Pixel values as they come back from an 8-bit PNG: the registration cache the nets were
/// trained on stores regions that way.
fn quantize8(img: &mut GrayImage) {
    for v in &mut img.data {
        *v = (v.clamp(0.0, 1.0) * 255.0 + 0.5).floor() / 255.0;
    }
}

/// The canonical-frame move of TTA draw `k` (0 = none) for a region.
fn tta_move(cfg: &TtaConfig, region: Region, k: usize, seed: u64) -> Affine {
    if k == 0 {
        return Affine::IDENTITY;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let sym = |rng: &mut ChaCha8Rng, r: f64| if r > 0.0 { rng.gen_range(-r..=r) } else { 0.0 };
    let b = region.canonical_box();
    let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    let rot = sym(&mut rng, cfg.rotation_deg);
    let (dx, dy) = (
        sym(&mut rng, cfg.shift_fraction) * w,
        sym(&mut rng, cfg.shift_fraction) * h,
    );
    let s = 1.0 + sym(&mut rng, cfg.scale);
    Affine::translate(cx + dx, cy + dy)
        .after(&Affine::rotate_deg(rot))
        .after(&Affine::scale(s, s))
        .after(&Affine::translate(-cx, -cy))
}

fn weighted_mean(values: &[(f64, f64)]) -> f64 {
    let w: f64 = values.iter().map(|(_, w)| w).sum();
    if w > 0.0 {
        values.iter().map(|(v, w)| v * w).sum::<f64>() / w
    } else {
        values.iter().map(|(v, _)| v).sum::<f64>() / values.len().max(1) as f64
    }
}

fn sd(values: &[f64]) -> f64 {
    let n = values.len().max(1) as f64;
    let m = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n).sqrt()
}

impl Bundle {
    /// Segmentation, hand image and keypoints of a radiograph; an error when no registration
    /// is possible (keypoints that coincide).
    pub fn analyse(&self, img: &GrayImage) -> Result<Analysis, BundleError> {
        let mask = self.segmentation.mask(img);
        let hand = boneage_imaging::segment::hand_image(img, &mask, &ClaheConfig::default());
        let Some(reg) = self.keypoints.register(&hand) else {
            return invalid("the keypoints found coincide: no hand to register".into());
        };
        let crate::keypoints::Registration {
            keypoints,
            to_canonical,
            thumb_residual,
            mirrored,
            ..
        } = reg;
        let limits = boneage_imaging::mask::MaskLimits::default();
        let mut warnings: Vec<String> =
            boneage_imaging::mask::MaskScore::compute(img, &mask, None, &limits)
                .problems(&limits)
                .into_iter()
                .map(|p| format!("hand mask looks wrong: {p}"))
                .collect();
        if mirrored {
            warnings.push(
                "the hand is a mirror image (a right hand, or the film turned over): read as a \
                 left hand"
                    .into(),
            );
        }
        if thumb_residual > THUMB_WARNING_PX {
            warnings.push(format!(
                "the thumb keypoint lands {:.0} px (of 2080) from its place after registration: \
                 check the keypoints",
                thumb_residual
            ));
        }
        let det = to_canonical.m[0][0] * to_canonical.m[1][1]
            - to_canonical.m[0][1] * to_canonical.m[1][0];
        let rotation = if det < 0.0 {
            // Undo the reflection to read the rotation.
            to_canonical.m[1][0]
                .atan2(-to_canonical.m[0][0])
                .to_degrees()
        } else {
            to_canonical.m[1][0]
                .atan2(to_canonical.m[0][0])
                .to_degrees()
        };
        if rotation.abs() > 45.0 {
            warnings.push(format!(
                "hand turned {rotation:.0}° from upright: check the keypoints"
            ));
        }
        Ok(Analysis {
            mask,
            hand,
            keypoints,
            to_canonical,
            thumb_residual,
            mirrored,
            warnings,
        })
    }

    /// The region images a prediction with `tta` views reads: `[region][view]`, 8-bit values.
    pub fn region_views(
        &self,
        a: &Analysis,
        tta: usize,
        seed: u64,
    ) -> Vec<(Region, Vec<GrayImage>)> {
        let tta = tta.max(1);
        let regions: Vec<Region> = Region::ALL
            .into_iter()
            .filter(|r| self.manifest.members.iter().any(|m| m.region == r.name()))
            .collect();
        let jobs: Vec<(Region, usize)> = regions
            .iter()
            .flat_map(|&r| (0..tta).map(move |k| (r, k)))
            .collect();
        let (tta_cfg, to_canonical) = (&self.manifest.tta, a.to_canonical);
        let hand = &a.hand;
        // The source shrunk once per region; every view is cut from it.
        let prepared: Vec<_> = regions
            .par_iter()
            .map(|r| r.prepare(hand, &to_canonical))
            .collect();
        let cuts: Vec<GrayImage> = jobs
            .par_iter()
            .map(|&(r, k)| {
                let p = &prepared[regions.iter().position(|x| *x == r).expect("listed")];
                let map = tta_move(tta_cfg, r, k, seed).after(&to_canonical);
                let mut c = r.cut_prepared(p, &map, 0.0);
                quantize8(&mut c);
                c
            })
            .collect();
        let mut cuts = cuts.into_iter();
        regions
            .into_iter()
            .map(|r| (r, cuts.by_ref().take(tta).collect()))
            .collect()
    }

    /// The ensemble's estimate from a radiograph's analysis; `tta` views per region (1 = none).
    pub fn predict(&self, a: &Analysis, sex: Sex, tta: usize, seed: u64) -> Prediction {
        let views = self.region_views(a, tta, seed);
        self.predict_views(&views, sex)
    }

    /// The ensemble's estimate from region views made by [`Bundle::region_views`].
    pub fn predict_views(&self, views: &[(Region, Vec<GrayImage>)], sex: Sex) -> Prediction {
        let mut members = Vec::new();
        let mut tta = 1;
        for (m, run) in self.manifest.members.iter().zip(&self.members) {
            let Some((_, imgs)) = views.iter().find(|(r, _)| r.name() == m.region) else {
                continue;
            };
            tta = imgs.len();
            let (w, h) = (
                run.config.model.input_width as usize,
                run.config.model.input_height as usize,
            );
            // Inversion decided once, on the unmoved view, as training decided it on the
            // stored region.
            let invert = run.config.data.fix_inverted
                && imgs
                    .first()
                    .is_some_and(boneage_imaging::quality::looks_inverted);
            let inputs: Vec<GrayImage> = imgs
                .par_iter()
                .map(|v| crate::data::network_input_inverted(v.clone(), invert, w, h))
                .collect();
            let ages = run.predict_inputs(&inputs, sex.is_male());
            members.push(MemberValue {
                name: m.name.clone(),
                region: m.region.clone(),
                head: m.head,
                bone_age_months: ages.iter().sum::<f64>() / ages.len().max(1) as f64,
                tta_sd_months: sd(&ages),
                weight: m.weight,
            });
        }
        let mut p = combine(members, tta);
        if let Some(c) = &self.manifest.calibration {
            p.bone_age_months = c.apply(p.bone_age_months);
        }
        p
    }
}

/// The weighted ensemble of member estimates, with per-region and per-head values.
pub fn combine(members: Vec<MemberValue>, tta: usize) -> Prediction {
    let pairs = |f: &dyn Fn(&MemberValue) -> bool| -> Vec<(f64, f64)> {
        members
            .iter()
            .filter(|m| f(m))
            .map(|m| (m.bone_age_months, m.weight))
            .collect()
    };
    let mut by_region = BTreeMap::new();
    for r in Region::ALL {
        let p = pairs(&|m| m.region == r.name());
        if !p.is_empty() {
            by_region.insert(r.name().to_string(), weighted_mean(&p));
        }
    }
    let mut by_head = BTreeMap::new();
    for (h, name) in [
        (Head::Regression, "regression"),
        (Head::Classification, "classification"),
    ] {
        let p = pairs(&|m| m.head == h);
        if !p.is_empty() {
            by_head.insert(name.to_string(), weighted_mean(&p));
        }
    }
    let all = pairs(&|_| true);
    let mean = weighted_mean(&all);
    let wsum: f64 = all.iter().map(|(_, w)| w).sum();
    let spread = if wsum > 0.0 {
        (all.iter()
            .map(|(v, w)| w * (v - mean) * (v - mean))
            .sum::<f64>()
            / wsum)
            .sqrt()
    } else {
        sd(&all.iter().map(|(v, _)| *v).collect::<Vec<_>>())
    };
    Prediction {
        bone_age_months: mean,
        spread_months: spread,
        by_region,
        by_head,
        members,
        tta,
    }
}

/// Ensemble weights (≥ 0, summing to 1) that minimize the MAE of `preds[member][case]`
/// against `truth`: start from the best single member, then move weight between pairs of
/// members while the MAE falls, in steps from 0.2 down to 0.0125. The result is never worse
/// on these cases than the best single member.
pub fn fit_weights(preds: &[Vec<f64>], truth: &[f64]) -> Vec<f64> {
    let m = preds.len();
    let mae = |w: &[f64]| -> f64 {
        truth
            .iter()
            .enumerate()
            .map(|(i, t)| (preds.iter().zip(w).map(|(p, w)| p[i] * w).sum::<f64>() - t).abs())
            .sum::<f64>()
            / truth.len().max(1) as f64
    };
    let mut w = vec![0.0; m];
    if m == 0 {
        return w;
    }
    let best = (0..m)
        .min_by(|&a, &b| {
            let one = |k: usize| {
                let mut v = vec![0.0; m];
                v[k] = 1.0;
                mae(&v)
            };
            one(a).total_cmp(&one(b))
        })
        .unwrap_or(0);
    w[best] = 1.0;
    let mut cur = mae(&w);
    let mut step: f64 = 0.2;
    while step >= 0.0125 {
        let mut improved = true;
        while improved {
            improved = false;
            for from in 0..m {
                for to in 0..m {
                    if from == to || w[from] <= 0.0 {
                        continue;
                    }
                    let d = step.min(w[from]);
                    w[from] -= d;
                    w[to] += d;
                    let e = mae(&w);
                    if e + 1e-9 < cur {
                        cur = e;
                        improved = true;
                    } else {
                        w[from] += d;
                        w[to] -= d;
                    }
                }
            }
        }
        step /= 2.0;
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_undoes_answers_pulled_to_the_mean() {
        // An ensemble that answers 120 + 0.7 (age − 120) ± noise.
        let truth: Vec<f64> = (0..60).map(|i| 20.0 + 3.0 * i as f64).collect();
        let pred: Vec<f64> = truth
            .iter()
            .enumerate()
            .map(|(i, t)| 120.0 + 0.7 * (t - 120.0) + if i % 2 == 0 { 2.0 } else { -2.0 })
            .collect();
        let c = Calibration::fit(&pred, &truth).expect("a line that helps");
        assert!((c.slope - 1.0 / 0.7).abs() < 0.06, "{c:?}");
        assert!(
            c.valid_mae_after_months < 0.5 * c.valid_mae_before_months,
            "{c:?}"
        );
        assert!((c.apply(120.0) - 120.0).abs() < 3.0);
        assert_eq!(c.apply(1e6), 240.0);
        // Answers already right: no line.
        assert!(Calibration::fit(&truth, &truth).is_none());
    }

    #[test]
    fn weights_beat_or_match_the_best_member() {
        // Two members with independent errors: averaging halves the error variance.
        let truth: Vec<f64> = (0..200).map(|i| i as f64).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let noisy = |rng: &mut ChaCha8Rng, sd: f64| -> Vec<f64> {
            truth.iter().map(|t| t + rng.gen_range(-sd..sd)).collect()
        };
        let preds = vec![
            noisy(&mut rng, 10.0),
            noisy(&mut rng, 12.0),
            vec![100.0; 200],
        ];
        let w = fit_weights(&preds, &truth);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(w.iter().all(|&x| x >= 0.0));
        assert!(w[0] > 0.2 && w[1] > 0.2, "{w:?}");
        assert!(w[2] < 0.1, "{w:?}");
        let mae = |p: &[f64]| {
            p.iter()
                .zip(&truth)
                .map(|(a, b)| (a - b).abs())
                .sum::<f64>()
                / 200.0
        };
        let ens: Vec<f64> = (0..200)
            .map(|i| preds.iter().zip(&w).map(|(p, w)| p[i] * w).sum())
            .collect();
        assert!(
            mae(&ens) < mae(&preds[0]) * 0.9,
            "{} vs {}",
            mae(&ens),
            mae(&preds[0])
        );
    }

    #[test]
    fn tta_moves_are_small_and_the_first_is_none() {
        let cfg = TtaConfig::default();
        assert_eq!(tta_move(&cfg, Region::A, 0, 7), Affine::IDENTITY);
        let b = Region::B.canonical_box();
        let c = [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0];
        for k in 1..20 {
            let m = tta_move(&cfg, Region::B, k, 7);
            let p = m.apply(c[0], c[1]);
            assert!((p.0 - c[0]).abs() <= 0.031 * 800.0 && (p.1 - c[1]).abs() <= 0.031 * 800.0);
            let scale = (m.m[0][0].powi(2) + m.m[1][0].powi(2)).sqrt();
            assert!((scale - 1.0).abs() <= 0.051);
        }
        assert_ne!(
            tta_move(&cfg, Region::B, 1, 7),
            tta_move(&cfg, Region::B, 2, 7)
        );
    }

    #[test]
    fn combine_reports_regions_heads_and_spread() {
        let mv = |name: &str, region: &str, head, v, weight| MemberValue {
            name: name.into(),
            region: region.into(),
            head,
            bone_age_months: v,
            tta_sd_months: 0.0,
            weight,
        };
        let p = combine(
            vec![
                mv("A-r", "A", Head::Regression, 100.0, 0.5),
                mv("A-c", "A", Head::Classification, 110.0, 0.5),
                mv("B-r", "B", Head::Regression, 130.0, 0.0),
            ],
            1,
        );
        assert!((p.bone_age_months - 105.0).abs() < 1e-9);
        assert!((p.by_region["A"] - 105.0).abs() < 1e-9);
        assert!(
            (p.by_region["B"] - 130.0).abs() < 1e-9,
            "zero weights: plain mean"
        );
        assert!((p.by_head["regression"] - 100.0).abs() < 1e-9);
        // Weighted: the weight-0 member does not count.
        assert!((p.spread_months - 5.0).abs() < 1e-9, "{}", p.spread_months);
    }
}
