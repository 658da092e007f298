//! What a training run is asked to do: the optimiser, the learning-rate schedule, epochs and
//! batches, the data and the net, checked against the project's limits before anything is
//! allocated.

use crate::data::DataConfig;
use crate::error::TrainError;
use crate::vgg::{ConfigError, Head, VggConfig};
use boneage_core::limits;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Adam settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamConfig {
    /// Peak learning rate. Default 1e-3.
    pub lr: f64,
    /// Decoupled weight decay (AdamW). Default 1e-4.
    pub weight_decay: f64,
    /// Adam's first-moment decay. Default 0.9.
    pub beta1: f64,
    /// Adam's second-moment decay. Default 0.999.
    pub beta2: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            weight_decay: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
        }
    }
}

/// Learning-rate schedule over epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// The same learning rate every epoch.
    Constant,
    /// Linear warm-up for one epoch, then cosine decay to 5% of the peak.
    Cosine,
}

/// Everything a training run needs; saved as `config.json` in the run folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// The net.
    pub model: VggConfig,
    /// Data loading and augmentation.
    pub data: DataConfig,
    /// Optimiser settings.
    pub optimizer: AdamConfig,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Maximum number of epochs. Default 30.
    pub epochs: usize,
    /// Default 16.
    pub batch_size: usize,
    /// Stop after this many epochs without a better validation MAE. Default 8.
    pub patience: usize,
    /// Fraction of the training table held out for validation (stratified by sex and age),
    /// when no separate validation set is given. Default 0.15.
    pub validation_fraction: f64,
    /// Seed of the split, the initial weights, the shuffling and the augmentation. Default 42.
    pub seed: u64,
    /// Run convolutions in channels-last memory layout on CPU (faster with oneDNN). Default true.
    pub channels_last: bool,
    /// Start from these weights (a `.safetensors` of a run with the same model config, e.g.
    /// one pre-trained on phantoms) instead of a random initialisation and the output prior.
    /// Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_weights: Option<PathBuf>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: VggConfig::default(),
            data: DataConfig::default(),
            optimizer: AdamConfig::default(),
            schedule: Schedule::Cosine,
            epochs: 30,
            batch_size: 16,
            patience: 8,
            validation_fraction: 0.15,
            seed: 42,
            channels_last: true,
            init_weights: None,
        }
    }
}

/// Refuses more epochs or a larger batch than [`limits`] allow (every trainer's config).
pub fn check_run_size(epochs: usize, batch_size: usize) -> Result<(), TrainError> {
    if epochs > limits::MAX_EPOCHS || batch_size > limits::MAX_BATCH_SIZE {
        return Err(TrainError::Config(ConfigError(format!(
            "epochs {epochs} / batch_size {batch_size}: at most {} epochs and batches of {}",
            limits::MAX_EPOCHS,
            limits::MAX_BATCH_SIZE
        ))));
    }
    Ok(())
}

/// Refuses a net and batch size whose feature maps alone would pass
/// [`limits::MAX_BATCH_ACTIVATION_BYTES`] in one training step.
pub fn check_batch_memory(model: &VggConfig, batch_size: usize) -> Result<(), TrainError> {
    let bytes = model
        .activation_bytes_per_sample()
        .saturating_mul(batch_size as u64);
    if bytes > limits::MAX_BATCH_ACTIVATION_BYTES {
        return Err(TrainError::Config(ConfigError(format!(
            "a batch of {batch_size} at {}x{} would need about {} GB of feature maps, more than the {} GB allowed: a smaller batch_size, input or channel count",
            model.input_width,
            model.input_height,
            bytes >> 30,
            limits::MAX_BATCH_ACTIVATION_BYTES >> 30
        ))));
    }
    Ok(())
}

impl TrainConfig {
    /// Checks the config; errors name the field.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.model.validate()?;
        let bad = |m: &str| Err(TrainError::Config(ConfigError(m.to_string())));
        if self.epochs == 0 {
            return bad("epochs must be >= 1");
        }
        if self.model.head == Head::Keypoints {
            return bad("model.head \"keypoints\" is for the keypoint net, not an age model");
        }
        if self.batch_size == 0 {
            return bad("batch_size must be >= 1");
        }
        check_run_size(self.epochs, self.batch_size)?;
        check_batch_memory(&self.model, self.batch_size)?;
        if !(self.optimizer.lr > 0.0 && self.optimizer.lr.is_finite()) {
            return bad("optimizer.lr must be a positive number");
        }
        if self.optimizer.weight_decay < 0.0 {
            return bad("optimizer.weight_decay must be >= 0");
        }
        if !(0.0..0.9).contains(&self.validation_fraction) {
            return bad("validation_fraction must be in [0, 0.9)");
        }
        Ok(())
    }

    /// Reads a config file (JSON); unknown keys and impossible values are errors naming the file.
    pub fn read(path: &Path) -> Result<TrainConfig, TrainError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrainError::Io(path.to_path_buf(), e.to_string()))?;
        let cfg: TrainConfig = serde_json::from_str(&text)
            .map_err(|e| TrainError::Config(ConfigError(format!("{}: {e}", path.display()))))?;
        cfg.validate().map_err(|e| {
            TrainError::Config(ConfigError(format!(
                "{}: {}",
                path.display(),
                crate::folder::config_message(&e)
            )))
        })?;
        Ok(cfg)
    }

    /// Learning rate at an epoch (0-based).
    pub fn lr_at(&self, epoch: usize) -> f64 {
        let peak = self.optimizer.lr;
        match self.schedule {
            Schedule::Constant => peak,
            Schedule::Cosine => {
                if epoch == 0 && self.epochs > 2 {
                    return peak * 0.3;
                }
                let t = epoch as f64 / (self.epochs.max(2) - 1) as f64;
                let min = 0.05 * peak;
                min + (peak - min) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}
