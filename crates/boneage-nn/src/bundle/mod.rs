//! A model bundle: one folder with every model the assessment pipeline needs (the pipeline
//! itself is the `boneage-pipeline` crate). This module is the format only: manifest, hashes,
//! loading and writing.
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

use crate::folder::ModelFolder;
use crate::keypoints::KeypointModel;
use crate::run::TrainedRun;
use crate::segmentation::SegModel;
use crate::training::TrainError;
use boneage_imaging::registration::Region;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::Device;

mod manifest;
mod write;
pub use manifest::*;
pub use write::{notice, write_bundle, BundleSpec, ModelFiles};

/// File name of the manifest.
pub const MANIFEST: &str = "manifest.json";
/// Format written in every manifest; others are refused.
pub const FORMAT: &str = "boneage-bundle/1";

/// A bundle that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The folder holds no manifest.
    #[error("{}: not a model bundle (no {MANIFEST})", dir.display())]
    NotABundle {
        /// The folder.
        dir: PathBuf,
    },
    /// A file of the bundle cannot be read, or is not UTF-8 where text is needed.
    #[error("{file}: {reason}")]
    Unreadable {
        /// The file, inside the bundle.
        file: String,
        /// What went wrong.
        reason: String,
    },
    /// A file the bundle needs is not listed in the manifest's files.
    #[error("{file}: not listed in the manifest's files")]
    NotListed {
        /// The file, inside the bundle.
        file: String,
    },
    /// A file's size or SHA-256 differs from the manifest's.
    #[error(
        "{file}: SHA-256 {got} ({got_bytes} bytes) differs from the manifest's {want} \
         ({want_bytes} bytes): the bundle was changed or damaged"
    )]
    Damaged {
        /// The file, inside the bundle.
        file: String,
        /// Its SHA-256.
        got: String,
        /// Its size.
        got_bytes: usize,
        /// The manifest's SHA-256.
        want: String,
        /// The manifest's size.
        want_bytes: u64,
    },
    /// The manifest cannot be parsed or contradicts itself or the files (an edited id, an
    /// unknown format or region, weights that do not sum to 1, …).
    #[error("{manifest}: {reason}")]
    BadManifest {
        /// The manifest.
        manifest: String,
        /// What is wrong.
        reason: String,
    },
    /// The parts given for a new bundle do not fit together.
    #[error("{0}")]
    BadSpec(String),
    /// Writing a new bundle failed.
    #[error("{}: {reason}", path.display())]
    Write {
        /// What could not be written.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A model inside the bundle cannot be built from its files.
    #[error(transparent)]
    Model(#[from] TrainError),
}

/// Where a bundle's files come from: a folder, or bytes built into a binary.
pub enum Source<'a> {
    /// A folder on disk.
    Folder(PathBuf),
    /// Files built into the binary: (path inside the bundle, bytes).
    Embedded(&'a [(&'a str, &'a [u8])]),
}

impl Source<'_> {
    fn describe(&self, rel: &str) -> String {
        match self {
            Source::Folder(d) => d.join(rel).display().to_string(),
            Source::Embedded(_) => format!("built-in bundle: {rel}"),
        }
    }

    /// A file of the bundle, at most `max` bytes of it. `rel` must stay inside the bundle
    /// (relative, no `..`), and on disk it must be a regular file: both are checked before
    /// anything is read.
    fn read(&self, rel: &str, max: u64) -> Result<Cow<'_, [u8]>, BundleError> {
        let unreadable = |reason: String| BundleError::Unreadable {
            file: self.describe(rel),
            reason,
        };
        let inside = !rel.is_empty()
            && Path::new(rel)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !inside {
            return Err(unreadable(
                "a bundle file must be a relative path inside the bundle folder (no '..', \
                 not absolute)"
                    .into(),
            ));
        }
        match self {
            Source::Folder(d) => {
                use std::io::Read;
                let p = d.join(rel);
                let file = std::fs::File::open(&p)
                    .map_err(|e| unreadable(format!("cannot read bundle file: {e}")))?;
                let meta = file
                    .metadata()
                    .map_err(|e| unreadable(format!("cannot read bundle file: {e}")))?;
                if !meta.is_file() {
                    return Err(unreadable(
                        "not a regular file (a device, pipe or folder is not read)".into(),
                    ));
                }
                let mut bytes = Vec::with_capacity(meta.len().min(max) as usize);
                file.take(max + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| unreadable(format!("cannot read bundle file: {e}")))?;
                if bytes.len() as u64 > max {
                    return Err(unreadable(format!(
                        "larger than the {max} bytes expected of it"
                    )));
                }
                Ok(Cow::Owned(bytes))
            }
            Source::Embedded(files) => files
                .iter()
                .find(|(n, _)| *n == rel)
                .map(|(_, b)| Cow::Borrowed(*b))
                .ok_or_else(|| unreadable("not in the built-in bundle".into())),
        }
    }

    fn text(&self, rel: &str) -> Result<String, BundleError> {
        String::from_utf8(self.read(rel, MAX_MANIFEST_BYTES)?.into_owned()).map_err(|_| {
            BundleError::Unreadable {
                file: self.describe(rel),
                reason: "not UTF-8 text".into(),
            }
        })
    }
}

/// A loaded, checked bundle.
pub struct Bundle {
    /// The manifest.
    pub manifest: Manifest,
    /// Where it was loaded from (a folder, or "built-in").
    pub origin: String,
    /// The segmentation U-Net.
    pub segmentation: SegModel,
    /// The keypoint net.
    pub keypoints: KeypointModel,
    /// The age nets, in manifest order.
    pub members: Vec<TrainedRun>,
}

/// Largest manifest read.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Largest file of a bundle (the biggest net is tens of MB).
const MAX_FILE_BYTES: u64 = 1 << 30;
/// Most TTA views a bundle may ask for by default.
pub const MAX_TTA_VIEWS: usize = 64;

/// A bundle's file named in the manifest, read and checked against its hash.
fn checked(src: &Source, m: &Manifest, rel: &str) -> Result<Vec<u8>, BundleError> {
    let Some(want) = m.files.get(rel) else {
        return Err(BundleError::NotListed {
            file: src.describe(rel),
        });
    };
    if want.bytes > MAX_FILE_BYTES {
        return Err(BundleError::BadManifest {
            manifest: src.describe(MANIFEST),
            reason: format!(
                "{rel}: {} bytes listed, more than the {MAX_FILE_BYTES} a bundle file may have",
                want.bytes
            ),
        });
    }
    // Read no more than the manifest says: a longer file is damaged, whatever it holds.
    let bytes = src.read(rel, want.bytes)?;
    let got = sha256_hex(&bytes);
    if bytes.len() as u64 != want.bytes || got != want.sha256 {
        return Err(BundleError::Damaged {
            file: src.describe(rel),
            got,
            got_bytes: bytes.len(),
            want: want.sha256.clone(),
            want_bytes: want.bytes,
        });
    }
    Ok(bytes.into_owned())
}

fn text_of(src: &Source, m: &Manifest, rel: &str) -> Result<String, BundleError> {
    String::from_utf8(checked(src, m, rel)?).map_err(|_| BundleError::Unreadable {
        file: src.describe(rel),
        reason: "not UTF-8 text".into(),
    })
}

impl Bundle {
    /// Opens the bundle in folder `dir`.
    pub fn load(dir: &Path, device: Device) -> Result<Bundle, BundleError> {
        if !dir.join(MANIFEST).is_file() {
            return Err(BundleError::NotABundle {
                dir: dir.to_path_buf(),
            });
        }
        let mut b = Bundle::open(&Source::Folder(dir.to_path_buf()), device)?;
        b.origin = dir.display().to_string();
        Ok(b)
    }

    /// Opens a bundle: manifest, hashes, nets.
    pub fn open(src: &Source, device: Device) -> Result<Bundle, BundleError> {
        let text = src.text(MANIFEST)?;
        let bad = |reason: String| BundleError::BadManifest {
            manifest: src.describe(MANIFEST),
            reason,
        };
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if manifest.format != FORMAT {
            return Err(bad(format!(
                "format {:?}, this boneage reads {FORMAT:?}",
                manifest.format
            )));
        }
        if manifest.members.is_empty() {
            return Err(bad("no members".into()));
        }
        let tta = &manifest.tta;
        if !(1..=MAX_TTA_VIEWS).contains(&tta.views) {
            return Err(bad(format!(
                "tta.views {}: give 1 to {MAX_TTA_VIEWS}",
                tta.views
            )));
        }
        for (name, v, max) in [
            ("tta.rotation_deg", tta.rotation_deg, 45.0),
            ("tta.shift_fraction", tta.shift_fraction, 0.5),
            ("tta.scale", tta.scale, 0.5),
        ] {
            if !(v.is_finite() && (0.0..=max).contains(&v)) {
                return Err(bad(format!("{name} {v}: give 0 to {max}")));
            }
        }
        if let Some(m) = manifest.members.iter().find(|m| !(m.weight >= 0.0)) {
            return Err(bad(format!(
                "member {} has weight {}: ensemble weights must be 0 or more",
                m.name, m.weight
            )));
        }
        let hash = Manifest::make_id("", &manifest.files);
        if !manifest.id.ends_with(&hash) {
            return Err(bad(format!(
                "id {} does not match its files (expected …{hash}): the manifest was edited",
                manifest.id
            )));
        }
        // Every listed file is checked, used or not.
        for rel in manifest.files.keys() {
            checked(src, &manifest, rel)?;
        }
        let seg_dir = &manifest.segmentation.dir;
        let segmentation = SegModel::from_bytes(
            &src.describe(seg_dir),
            &text_of(src, &manifest, &format!("{seg_dir}/segmentation.json"))?,
            &checked(src, &manifest, &format!("{seg_dir}/model.safetensors"))?,
            device,
        )?;
        let kp_dir = &manifest.keypoints.dir;
        let keypoints = KeypointModel::from_bytes(
            &src.describe(kp_dir),
            &text_of(src, &manifest, &format!("{kp_dir}/keypoints.json"))?,
            &checked(src, &manifest, &format!("{kp_dir}/model.safetensors"))?,
            device,
        )?;
        let mut members = Vec::new();
        for m in &manifest.members {
            if region_of(&m.region).is_none() {
                return Err(bad(format!(
                    "member {} has region {:?} (A, B or C)",
                    m.name, m.region
                )));
            }
            let run = TrainedRun::from_bytes(
                &src.describe(&m.dir),
                &text_of(src, &manifest, &format!("{}/config.json", m.dir))?,
                &checked(src, &manifest, &format!("{}/model.safetensors", m.dir))?,
                device,
            )?;
            if run.config.model.head != m.head || run.config.model.arch != m.arch {
                return Err(bad(format!(
                    "member {} is a {:?} {:?} net in the manifest but its config says {:?} {:?}",
                    m.name, m.arch, m.head, run.config.model.arch, run.config.model.head
                )));
            }
            let input = [run.config.model.input_width, run.config.model.input_height];
            if input != m.input {
                return Err(bad(format!(
                    "member {} reads {}x{} in the manifest but its config says {}x{}",
                    m.name, m.input[0], m.input[1], input[0], input[1]
                )));
            }
            members.push(run);
        }
        let w: f64 = manifest.members.iter().map(|m| m.weight).sum();
        if (w - 1.0).abs() > 1e-6 {
            return Err(bad(format!(
                "ensemble weights must sum to 1 (they sum to {w})"
            )));
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

/// `A`, `B` or `C` as a region.
pub fn region_of(name: &str) -> Option<Region> {
    Region::ALL.into_iter().find(|r| r.name() == name)
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
}
