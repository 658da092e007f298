//! A trained run loaded for inference: its config and the weights of its best epoch, from a
//! run folder or from bytes inside a bundle.

use crate::data::{DataConfig, Loader};
use crate::error::TrainError;
use crate::training::{Model, Split, TrainConfig};
use crate::vgg::ConfigError;
use boneage_core::labels::unscale_age;
use boneage_core::Sample;
use boneage_imaging::GrayImage;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// A trained run, loaded for inference.
pub struct TrainedRun {
    /// The run folder.
    pub dir: PathBuf,
    /// Its training config.
    pub config: TrainConfig,
    /// The trained net.
    pub model: Model,
    /// The run's split, when `split.json` is there.
    pub split: Option<Split>,
}

impl TrainedRun {
    /// Loads `config.json` and `best.safetensors` (or `last.safetensors`) from a run folder.
    pub fn load(dir: &Path, device: Device) -> Result<TrainedRun, TrainError> {
        let cfg_path = dir.join("config.json");
        if !cfg_path.is_file() {
            return Err(TrainError::NoCheckpoint(dir.to_path_buf()));
        }
        let config = TrainConfig::read(&cfg_path)?;
        let weights = [dir.join("best.safetensors"), dir.join("last.safetensors")]
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| TrainError::NoCheckpoint(dir.to_path_buf()))?;
        let mut model = Model::new(&config.model, device, config.channels_last)?;
        model
            .vs
            .load(&weights)
            .map_err(|e| TrainError::Io(weights.clone(), e.to_string()))?;
        model.relayout();
        let split = std::fs::read_to_string(dir.join("split.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        Ok(TrainedRun {
            dir: dir.to_path_buf(),
            config,
            model,
            split,
        })
    }

    /// A run from the bytes of its `config.json` and weights (a run inside a model bundle or
    /// built into a binary); `name` names it in errors.
    pub fn from_bytes(
        name: &str,
        config_json: &str,
        weights: &[u8],
        device: Device,
    ) -> Result<TrainedRun, TrainError> {
        let config: TrainConfig = serde_json::from_str(config_json)
            .map_err(|e| TrainError::Config(ConfigError(format!("{name}: config.json: {e}"))))?;
        config.validate().map_err(|e| {
            TrainError::Config(ConfigError(format!(
                "{name}: config.json: {}",
                crate::folder::config_message(&e)
            )))
        })?;
        let mut model = Model::new(&config.model, device, config.channels_last)?;
        crate::folder::load_bytes(
            &mut model.vs,
            weights,
            &format!("{name}/{}", crate::folder::WEIGHTS),
        )?;
        model.relayout();
        Ok(TrainedRun {
            dir: PathBuf::from(name),
            config,
            model,
            split: None,
        })
    }

    /// Ages (months) for images already made network inputs ([`crate::data::network_input`]),
    /// all of one sex, in one batch.
    pub fn predict_inputs(&self, inputs: &[GrayImage], male: bool) -> Vec<f64> {
        if inputs.is_empty() {
            return Vec::new();
        }
        let refs: Vec<&GrayImage> = inputs.iter().collect();
        let device = self.model.vs.device();
        let x = crate::tensor::batch_to_tensor(&refs)
            .expect("inputs of one size")
            .to_device(device);
        let x = if self.model.channels_last {
            crate::tensor::to_channels_last(&x)
        } else {
            x
        };
        let sex = Tensor::full(
            [inputs.len() as i64, 1],
            male as u8 as f64,
            (Kind::Float, device),
        );
        let ages = tch::no_grad(|| {
            self.model
                .ages_from_output(&self.model.net.forward(&x, &sex, false))
        });
        Vec::<f32>::try_from(ages.to_device(Device::Cpu).to_kind(Kind::Float))
            .unwrap_or_default()
            .into_iter()
            .map(f64::from)
            .collect()
    }

    /// Predicts ages (months) for samples (images resolved), in order.
    pub fn predict(&self, samples: &[Sample]) -> Result<Vec<f64>, TrainError> {
        let data = DataConfig {
            on_bad_image: crate::data::OnBadImage::Stop,
            ..self.config.data.clone()
        };
        let loader = Loader::new(
            samples,
            self.config.model.input_width as usize,
            self.config.model.input_height as usize,
            data,
            0,
        );
        Ok(self
            .model
            .predict_loader(&loader, self.config.batch_size)?
            .into_iter()
            .map(|(_, a)| a)
            .collect())
    }
}

/// Regression output back to months, for callers holding raw outputs.
pub fn regression_to_months(scaled: f64) -> f64 {
    unscale_age(scaled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vgg::VggConfig;

    fn tiny_config() -> TrainConfig {
        TrainConfig {
            model: VggConfig {
                input_height: 32,
                input_width: 32,
                base_channels: 4,
                max_channels: 8,
                convs_per_block: vec![1, 1],
                dense: 8,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn corrupt_weights_are_named_by_their_source_not_a_temporary_file() {
        let config = serde_json::to_string(&tiny_config()).unwrap();
        let weights = b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage".to_vec();
        let e = TrainedRun::from_bytes("bundle/members/B", &config, &weights, Device::Cpu)
            .err()
            .expect("garbage weights load")
            .to_string();
        assert!(e.starts_with("bundle/members/B/model.safetensors: "), "{e}");
        assert!(e.contains("corrupt or foreign safetensors"), "{e}");
        assert!(!e.contains("boneage-weights-"), "{e}");
        assert!(!e.contains("invalid network config"), "{e}");
    }

    #[test]
    fn a_bad_config_is_reported_once_with_its_file() {
        let mut cfg = tiny_config();
        cfg.model.convs_per_block = vec![1; 64];
        let text = serde_json::to_string(&cfg).unwrap();
        let e = TrainedRun::from_bytes("bundle/members/B", &text, b"", Device::Cpu)
            .err()
            .expect("a 64-block net is refused")
            .to_string();
        assert_eq!(e.matches("invalid network config").count(), 1, "{e}");
        assert!(
            e.contains("bundle/members/B: config.json: convs_per_block lists 64 blocks"),
            "{e}"
        );

        let dir = std::env::temp_dir().join(format!("boneage-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("train.json");
        cfg.model.convs_per_block = vec![2, 2];
        cfg.epochs = 10_000_000;
        std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();
        let e = TrainConfig::read(&path).unwrap_err().to_string();
        assert_eq!(e.matches("invalid network config").count(), 1, "{e}");
        assert!(e.contains("train.json: epochs 10000000"), "{e}");
        cfg.epochs = 4;
        cfg.batch_size = 4096;
        cfg.model.input_width = 4096;
        cfg.model.input_height = 4096;
        cfg.model.base_channels = 64;
        cfg.model.max_channels = 64;
        std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();
        let e = TrainConfig::read(&path).unwrap_err().to_string();
        assert!(e.contains("GB of feature maps"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
