//! Writing a bundle: every model file, their SHA-256 and the manifest, into a temporary
//! folder renamed into place.

use super::*;

/// A model inside a new bundle: its config file's name and text, and its weights.
pub struct ModelFiles<'a> {
    /// File name of the config inside the model's folder.
    pub config_name: &'a str,
    /// The config's text.
    pub config: Cow<'a, str>,
    /// The weights (safetensors).
    pub weights: Cow<'a, [u8]>,
}

/// Everything [`write_bundle`] puts in a bundle.
pub struct BundleSpec<'a> {
    /// Start of the id (e.g. `phantom-vgg-ensemble`).
    pub label: String,
    /// What the nets were trained on, in words.
    pub trained_on: String,
    /// No net saw a real radiograph.
    pub phantom_only: bool,
    /// The segmentation model.
    pub segmentation: ModelFiles<'a>,
    /// The keypoint model.
    pub keypoints: ModelFiles<'a>,
    /// Members with their files; `dir` and `input` are filled in by `write_bundle`.
    pub members: Vec<(Member, ModelFiles<'a>)>,
    /// How the members are combined.
    pub ensemble: EnsembleInfo,
    /// Test-time augmentation settings.
    pub tta: TtaConfig,
    /// The calibration line, when one is kept.
    pub calibration: Option<Calibration>,
    /// The prediction interval, when fitted.
    pub interval: Option<IntervalInfo>,
    /// The test set's figures, when a test set was given.
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
    let (y, m, d) = boneage_core::age::civil_from_days(days);
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
            return Err(BundleError::Write {
                path: out.to_path_buf(),
                reason: "exists and is not a model bundle; not replacing it".into(),
            });
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
    BundleError::Write {
        path: p.to_path_buf(),
        reason: e.to_string(),
    }
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
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| BundleError::BadSpec(format!("{what} config: {e}")))?;
        let m = &v["model"];
        Ok([
            m["input_width"].as_i64().unwrap_or(0),
            m["input_height"].as_i64().unwrap_or(0),
        ])
    };
    let mut members = Vec::new();
    for (mut m, f) in spec.members {
        if region_of(&m.region).is_none() {
            return Err(BundleError::BadSpec(format!(
                "member {}: region {:?} (A, B or C)",
                m.name, m.region
            )));
        }
        if members.iter().any(|o: &Member| o.name == m.name) {
            return Err(BundleError::BadSpec(format!(
                "two members named {}",
                m.name
            )));
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
        interval: spec.interval,
        test: spec.test,
        files,
    };
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| BundleError::BadSpec(format!("manifest: {e}")))?
        + "\n";
    std::fs::write(tmp.join(MANIFEST), text).map_err(|e| io(tmp, e))?;
    Ok(manifest)
}
