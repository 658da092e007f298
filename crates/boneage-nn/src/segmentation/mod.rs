//! Hand segmentation with the U-Net: preparing an image for the net (grey scale turned back if
//! inverted, shrunk into the input keeping its aspect ratio), training on image/mask pairs with
//! joint augmentation, and predicting a full-size mask (the probability map is resampled to the
//! input's size, thresholded at one half, and cleaned to the largest component with small holes
//! filled).
//!
//! A segmentation model folder holds `segmentation.json` (the [`SegConfig`]) and
//! `model.safetensors`.

use crate::fit::{self, Fit};
use crate::training::TrainError;
use crate::unet::{bce_dice_loss, UNet, UNetConfig};
use crate::vgg::ConfigError;
use boneage_imaging::quality::looks_inverted;
use boneage_imaging::spatial::{warp, Affine};
use boneage_imaging::{GrayImage, Mask};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

mod data;
mod infer;
mod train;

pub use data::{prepare, Letterbox, Prepared, SegPair};
pub use infer::{working_size, MASK_WORKING_SIDE};
pub use train::SegEpoch;

/// Augmentation of image/mask pairs (geometry applied to both): ranges of the shared
/// transforms ([`crate::transforms`]) and an inversion of the grey scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SegAugment {
    /// Rotation drawn from ±this, degrees. Default 30.
    pub rotation_deg: f64,
    /// Scale drawn from 1 ± this. Default 0.15.
    pub scale: f64,
    /// Shift drawn from ± this fraction of the size. Default 0.08.
    pub shift_fraction: f64,
    /// Probability of a left-right mirror (right hands, flipped films). Default 0.5.
    pub flip: f64,
    /// Gamma drawn from [1/(1+g), 1+g]. Default 0.5.
    pub gamma: f64,
    /// Contrast factor drawn from 1 ± this. Default 0.3.
    pub contrast: f64,
    /// Probability of an inverted grey scale (if the inversion test misses one). Default 0.1.
    pub invert: f64,
    /// Standard deviation of added Gaussian noise (on [0, 1]), drawn up to this. Default 0.03.
    pub noise_sd: f64,
}

// The inversion of the grey scale is drawn on its own.
crate::transforms::transform_ranges!(SegAugment, |a: &SegAugment| a.flip);

impl Default for SegAugment {
    fn default() -> Self {
        SegAugment {
            rotation_deg: 30.0,
            scale: 0.15,
            shift_fraction: 0.08,
            flip: 0.5,
            gamma: 0.5,
            contrast: 0.3,
            invert: 0.1,
            noise_sd: 0.03,
        }
    }
}

/// Everything a segmentation model needs to be trained and used; saved as `segmentation.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SegConfig {
    /// The U-Net.
    pub model: UNetConfig,
    /// Augmentation ranges of its training.
    pub augment: SegAugment,
    /// Epochs per training (each positive-mining round trains this many). Default 12.
    pub epochs: usize,
    /// Default 8.
    pub batch_size: usize,
    /// Peak learning rate (Adam, cosine decay to 5%). Default 2e-3.
    pub lr: f64,
    /// Default 1e-4.
    pub weight_decay: f64,
    /// Probability threshold of the mask. Default 0.5.
    pub threshold: f64,
    /// Holes smaller than this fraction of the image are filled. Default 0.02.
    pub max_hole_fraction: f64,
    /// Default 7.
    pub seed: u64,
}

impl Default for SegConfig {
    fn default() -> Self {
        SegConfig {
            model: UNetConfig::default(),
            augment: SegAugment::default(),
            epochs: 12,
            batch_size: 8,
            lr: 2e-3,
            weight_decay: 1e-4,
            threshold: 0.5,
            max_hole_fraction: 0.02,
            seed: 7,
        }
    }
}

impl SegConfig {
    /// Checks the config; errors name the field.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.model.validate()?;
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(bad_config("epochs and batch_size must be at least 1"));
        }
        crate::training::check_run_size(self.epochs, self.batch_size)?;
        if !(self.lr > 0.0 && self.lr < 1.0) {
            return Err(bad_config(format!("lr must be in (0, 1), not {}", self.lr)));
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(bad_config(format!(
                "threshold must be in (0, 1), not {}",
                self.threshold
            )));
        }
        Ok(())
    }

    /// Reads a config file (JSON), naming the file in any error.
    pub fn read(path: &Path) -> Result<SegConfig, TrainError> {
        crate::folder::read_config(path, SegConfig::validate)
    }

    fn size(&self) -> (usize, usize) {
        (
            self.model.input_width as usize,
            self.model.input_height as usize,
        )
    }
}

pub(super) fn bad_config(msg: impl Into<String>) -> TrainError {
    TrainError::Config(ConfigError(msg.into()))
}

pub(super) fn standardize(img: &mut GrayImage) {
    boneage_imaging::intensity::standardize(img);
}

/// A segmentation model: config and U-Net weights.
pub struct SegModel {
    /// The model's config.
    pub config: SegConfig,
    /// Its variables.
    pub vs: nn::VarStore,
    net: UNet,
}

crate::folder::impl_model_folder!(SegModel, SegConfig, "segmentation.json", "segmentation");
