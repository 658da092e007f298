//! The keypoint net: a VGG-style regressor ([`crate::vgg`] with the six-output
//! [`Head::Keypoints`], no sex input) for the seed's three keypoints — tip of the middle
//! finger's distal phalanx, tip of the thumb's distal phalanx, centre of the capitate — on the
//! segmented, equalised hand image cut to the hand's bounding box and shrunk into the input
//! (letterboxed), so the hand's size and place on the film do not matter. Outputs are the points'
//! `(x, y)` as fractions of the input's width and height; the loss is L1 on those.
//!
//! Training pairs are augmented with rotations (±30° by default) so any pose within that range
//! works, plus scale, shift, gamma, contrast and noise; the points move with the image. Never a
//! mirror: that would put the thumb on the wrong side. A share of the draws (`tight_frame`)
//! shows each hand cut by film edges below the wrist and beside the hand, so a film
//! collimated or cropped close to the hand is read like a whole one.
//!
//! A keypoint model folder holds `keypoints.json` (the [`KeypointConfig`]) and
//! `model.safetensors`.

use crate::fit::{self, Fit};
use crate::segmentation::Letterbox;
use crate::training::TrainError;
use crate::vgg::{ConfigError, Head, Vgg, VggConfig};
use boneage_imaging::intensity::standardize;
use boneage_imaging::spatial::{warp, Affine};
use boneage_imaging::GrayImage;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

pub use boneage_core::keypoints::Keypoints;

mod data;
mod infer;
mod train;

pub use data::KeypointPair;
use data::*;
pub use infer::{
    axes_agree, mean_distance, thumb_fit_prefers_mirror, Registration, MIRROR_AXIS_TOLERANCE,
    MIRROR_MIN_THUMB_RESIDUAL, MIRROR_RESIDUAL_RATIO,
};
pub use train::KeypointEpoch;

/// Augmentation of keypoint pairs: ranges of the shared transforms ([`crate::transforms`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeypointAugment {
    /// Rotation drawn from ±this, degrees. Default 30.
    pub rotation_deg: f64,
    /// Scale drawn from 1 ± this. Default 0.12.
    pub scale: f64,
    /// Shift drawn from ± this fraction of the size. Default 0.06.
    pub shift_fraction: f64,
    /// Gamma drawn from [1/(1+g), 1+g]. Default 0.4.
    pub gamma: f64,
    /// Contrast factor drawn from 1 ± this. Default 0.25.
    pub contrast: f64,
    /// Standard deviation of added Gaussian noise, drawn up to this. Default 0.02.
    pub noise_sd: f64,
    /// Share of draws that show the hand in a tight frame: the hand image cut by film edges
    /// below the wrist and, at random, beside the hand (never through a keypoint), as on a
    /// film collimated or cropped close to the hand, where the mask's bounding box loses the
    /// forearm and the margins. Default 0.5; 0 trains on whole hands only. A config file
    /// without it reads 0: models saved before it existed were trained on whole hands.
    #[serde(default)]
    pub tight_frame: f64,
}

crate::transforms::transform_ranges!(KeypointAugment, |_: &KeypointAugment| 0.0);

impl Default for KeypointAugment {
    fn default() -> Self {
        KeypointAugment {
            rotation_deg: 30.0,
            scale: 0.12,
            shift_fraction: 0.06,
            gamma: 0.4,
            contrast: 0.25,
            noise_sd: 0.02,
            tight_frame: 0.5,
        }
    }
}

/// Everything a keypoint model needs; saved as `keypoints.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeypointConfig {
    /// The net: `head` must be `keypoints`, `sex_embedding` 0.
    pub model: VggConfig,
    /// Augmentation ranges of its training.
    pub augment: KeypointAugment,
    /// Default 30.
    pub epochs: usize,
    /// Default 16.
    pub batch_size: usize,
    /// Peak learning rate (AdamW, one epoch of warm-up, cosine decay to 5%). Default 1e-3.
    pub lr: f64,
    /// Default 1e-4.
    pub weight_decay: f64,
    /// Default 3.
    pub seed: u64,
    /// The left-hand / mirror-image template the mirror check reads (fitted by `boneage
    /// handedness` on registered hands). Without it the mirror check falls back to the thumb
    /// keypoint's fit alone. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handedness: Option<boneage_imaging::handedness::HandednessTemplate>,
}

impl Default for KeypointConfig {
    fn default() -> Self {
        KeypointConfig {
            model: VggConfig {
                input_width: 128,
                input_height: 160,
                base_channels: 16,
                max_channels: 128,
                convs_per_block: vec![2, 2, 2, 2, 2],
                batch_norm: true,
                pooled_size: 4,
                sex_embedding: 0,
                dense: 256,
                dropout: 0.1,
                head: Head::Keypoints,
                ..VggConfig::default()
            },
            augment: KeypointAugment::default(),
            epochs: 30,
            batch_size: 16,
            lr: 1e-3,
            weight_decay: 1e-4,
            seed: 3,
            handedness: None,
        }
    }
}

fn bad_config(msg: impl Into<String>) -> TrainError {
    TrainError::Config(ConfigError(msg.into()))
}

impl KeypointConfig {
    /// Checks the config; errors name the field.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.model.validate()?;
        if self.model.head != Head::Keypoints {
            return Err(bad_config("model.head must be \"keypoints\""));
        }
        if self.model.sex_embedding != 0 {
            return Err(bad_config(
                "model.sex_embedding must be 0 (keypoints do not depend on sex)",
            ));
        }
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(bad_config("epochs and batch_size must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.augment.tight_frame) {
            return Err(bad_config(format!(
                "augment.tight_frame must be in [0, 1], not {}",
                self.augment.tight_frame
            )));
        }
        crate::training::check_run_size(self.epochs, self.batch_size)?;
        crate::training::check_batch_memory(&self.model, self.batch_size)?;
        if !(self.lr > 0.0 && self.lr < 1.0) {
            return Err(bad_config(format!("lr must be in (0, 1), not {}", self.lr)));
        }
        Ok(())
    }

    /// Reads a config file (JSON), naming the file in any error.
    pub fn read(path: &Path) -> Result<KeypointConfig, TrainError> {
        crate::folder::read_config(path, KeypointConfig::validate)
    }

    fn size(&self) -> (usize, usize) {
        (
            self.model.input_width as usize,
            self.model.input_height as usize,
        )
    }
}

/// A keypoint model: config and weights.
pub struct KeypointModel {
    /// The model's config.
    pub config: KeypointConfig,
    /// Its variables.
    pub vs: nn::VarStore,
    net: Vgg,
}

crate::folder::impl_model_folder!(KeypointModel, KeypointConfig, "keypoints.json", "keypoint");
