//! The bundle's manifest: what is inside, how it was trained and tested, how the ensemble
//! weighs and calibrates its members, and the size and SHA-256 of every file.

use crate::vgg::{Arch, Head};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Size and SHA-256 of one file of the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHash {
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
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
    /// Regression or 240-bin classification.
    pub head: Head,
    /// VGG or Inception-v3.
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
    /// How the weights (and calibration) were chosen, in words.
    pub method: String,
    /// Validation films the ensemble was fitted on.
    pub n_valid: usize,
    /// The ensemble's validation MAE, months.
    pub valid_mae_months: f64,
    /// The member with the lowest validation MAE.
    pub best_single: String,
    /// Its validation MAE, months.
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

impl TtaConfig {
    /// The similarity these ranges describe ([`crate::transforms`]; no mirror).
    pub fn affine(&self) -> crate::transforms::RandomAffine {
        crate::transforms::RandomAffine {
            rotation_deg: self.rotation_deg,
            shift_fraction: self.shift_fraction,
            scale: self.scale,
            flip: 0.0,
        }
    }
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
    /// Slope of the line.
    pub slope: f64,
    /// Intercept, months.
    pub intercept: f64,
    /// Validation MAE of the ensemble before and after.
    pub valid_mae_before_months: f64,
    /// Validation MAE after the line.
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

/// A prediction interval for the bone age, calibrated on validation residuals (split
/// conformal): half-width `half_width_months + spread_factor × spread`, where spread is the SD
/// of the members' estimates for that film.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalInfo {
    /// Nominal coverage (0.95: 95 of 100 films' true bone age inside their interval).
    pub coverage: f64,
    /// The constant part of the half-width, months.
    pub half_width_months: f64,
    /// The part proportional to the members' spread.
    pub spread_factor: f64,
    /// How it was fitted, in words.
    pub method: String,
    /// Validation films it was fitted on.
    pub n_valid: usize,
}

impl IntervalInfo {
    /// The interval around an estimate with the members' spread, kept within 0–240 months.
    pub fn around(&self, estimate_months: f64, spread_months: f64) -> [f64; 2] {
        let h = self.half_width_months + self.spread_factor * spread_months;
        [
            (estimate_months - h).max(0.0),
            (estimate_months + h).min(240.0),
        ]
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
    /// Share of the test films whose bone age lies inside their interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_coverage: Option<f64>,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Bundle format version (`boneage-bundle/1`).
    pub format: String,
    /// Names this bundle in every prediction: a label and the first 12 hex digits of the
    /// SHA-256 over the manifest's file hashes.
    pub id: String,
    /// Date the bundle was made (UTC, YYYY-MM-DD).
    pub created: String,
    /// Version of boneage that wrote it.
    pub boneage_version: String,
    /// libtorch version it was written with.
    pub libtorch: String,
    /// What the nets were trained on, in words.
    pub trained_on: String,
    /// True when no net saw a real radiograph with a real bone age.
    pub phantom_only: bool,
    /// Shown to users with every prediction.
    pub notice: String,
    /// The segmentation U-Net.
    pub segmentation: Component,
    /// The keypoint net.
    pub keypoints: Component,
    /// The age nets, with region, head, weight and validation MAE.
    pub members: Vec<Member>,
    /// How the members are combined.
    pub ensemble: EnsembleInfo,
    /// Test-time augmentation settings.
    pub tta: TtaConfig,
    /// The line applied to the ensemble's estimate, when one helped on validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// The prediction interval, when fitted (`boneage bundle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IntervalInfo>,
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
