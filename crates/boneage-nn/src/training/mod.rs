//! Training a bone age network: Adam with weight decay, a cosine learning-rate schedule, early
//! stopping on validation MAE, best and last checkpoints written atomically, resume after a
//! kill, per-epoch `metrics.csv`, a progress bar, and a stop with a clear message on a NaN loss.
//!
//! A run folder holds everything needed to reproduce and reuse it:
//!
//! | file | what |
//! |---|---|
//! | `config.json` | the [`TrainConfig`] (written first) |
//! | `split.json` | ids of the training and validation samples |
//! | `metrics.csv` | one row per epoch |
//! | `best.safetensors` | weights with the lowest validation MAE |
//! | `last.safetensors` | weights after the last finished epoch |
//! | `state.json` | epoch, best MAE, early-stopping counter (for `--resume`) |
//!
//! On resume the weights and counters are restored; Adam's moment estimates are not (libtorch's
//! optimizer state is not reachable through `tch`), so the first steps after a resume behave
//! like a warm restart.

use crate::data::{Batch, DataError, Loader};
pub use crate::error::TrainError;
use crate::folder::{save_atomic, write_json};
use crate::vgg::{AgeNet, ConfigError, Head, VggConfig};
use boneage_core::Sample;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

mod config;
pub use config::*;

/// What a training run reports as it goes, to a callback (the library draws nothing).
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// A training batch is done: running means over the epoch so far.
    Batch {
        /// 1-based epoch.
        epoch: usize,
        /// Batches done in this epoch, of `total`.
        done: usize,
        /// Batches in the epoch.
        total: usize,
        /// Mean training loss so far.
        loss: f64,
        /// Mean training MAE so far, months.
        mae_months: f64,
    },
    /// An epoch is done and validated.
    Epoch(&'a EpochMetrics),
}

/// Counters saved after every epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    /// Last finished epoch (1-based).
    pub epoch: usize,
    /// Best validation MAE so far, months.
    pub best_valid_mae: f64,
    /// Epoch of that best (1-based).
    pub best_epoch: usize,
    /// Epochs since it improved (for `patience`).
    pub epochs_without_improvement: usize,
    /// Images skipped for failing to decode.
    pub skipped_images: usize,
    /// The run has finished.
    pub finished: bool,
}

/// One epoch's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Mean training MAE, months.
    pub train_mae_months: f64,
    /// Validation MAE, months.
    pub valid_mae_months: f64,
    /// Seconds the epoch took.
    pub seconds: f64,
}

/// What a finished run reports.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    /// The run folder.
    pub run: PathBuf,
    /// Epochs trained.
    pub epochs_run: usize,
    /// Epoch with the best validation MAE.
    pub best_epoch: usize,
    /// That MAE, months.
    pub best_valid_mae_months: f64,
    /// Images skipped for failing to decode.
    pub skipped_images: usize,
    /// Stopped by `patience` before the last epoch.
    pub stopped_early: bool,
}

/// A network with its var store and config, on a device.
pub struct Model {
    /// Its variables.
    pub vs: nn::VarStore,
    /// The net.
    pub net: AgeNet,
    /// Its config.
    pub config: VggConfig,
    /// Whether inputs are laid out channels-last.
    pub channels_last: bool,
}

impl Model {
    /// A freshly initialised net on `device`.
    pub fn new(
        config: &VggConfig,
        device: Device,
        channels_last: bool,
    ) -> Result<Model, ConfigError> {
        if config.head == Head::Keypoints {
            return Err(ConfigError(
                "head \"keypoints\" is the keypoint net's (boneage keypoints), not an age head"
                    .into(),
            ));
        }
        let vs = nn::VarStore::new(device);
        let net = config.init_net(&vs.root())?;
        let channels_last = channels_last && device == Device::Cpu;
        let m = Model {
            vs,
            net,
            config: config.clone(),
            channels_last,
        };
        m.relayout();
        Ok(m)
    }

    /// Starts the output layer at the training set's age distribution (see
    /// [`crate::vgg::Vgg::set_output_prior`]): the scaled mean age for regression, the logit of the share
    /// of ages above each month for classification.
    pub fn init_output_prior(&mut self, ages: &[f64]) {
        let n = ages.len().max(1) as f64;
        let bias: Vec<f32> = match self.config.head {
            Head::Regression => {
                vec![boneage_core::labels::scale_age(ages.iter().sum::<f64>() / n) as f32]
            }
            Head::Classification => (0..boneage_core::labels::BINS)
                .map(|k| {
                    let share: f64 = ages
                        .iter()
                        .map(|a| (a - k as f64).clamp(0.0, 1.0))
                        .sum::<f64>()
                        / n;
                    let p = share.clamp(0.005, 0.995);
                    (p / (1.0 - p)).ln() as f32
                })
                .collect(),
            Head::Keypoints => unreachable!("keypoint heads are refused by Model::new"),
        };
        self.net.set_output_prior(&bias, 0.1);
    }

    /// Puts 4-D weights in channels-last layout when enabled (values unchanged).
    pub(crate) fn relayout(&self) {
        if !self.channels_last {
            return;
        }
        tch::no_grad(|| {
            for (_, mut v) in self.vs.variables() {
                if v.dim() == 4 {
                    let cl = crate::tensor::to_channels_last(&v);
                    v.set_data(&cl);
                }
            }
        });
    }

    fn input(&self, batch: &Batch) -> (Tensor, Tensor) {
        let device = self.vs.device();
        let x = batch.images_tensor().to_device(device);
        let x = if self.channels_last {
            crate::tensor::to_channels_last(&x)
        } else {
            x
        };
        (x, batch.sex_tensor().to_device(device))
    }

    /// Raw network outputs for a batch.
    pub fn forward(&self, batch: &Batch, train: bool) -> Tensor {
        let (x, s) = self.input(batch);
        self.net.forward(&x, &s, train)
    }

    /// Ages in months from raw outputs (`[n, 1]` scaled age, or `[n, 240]` logits).
    pub fn ages_from_output(&self, out: &Tensor) -> Tensor {
        match self.config.head {
            Head::Regression => {
                out.view([-1]) * boneage_core::labels::AGE_HALF_RANGE
                    + boneage_core::labels::AGE_CENTRE
            }
            Head::Classification => {
                out.sigmoid()
                    .sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
            }
            Head::Keypoints => unreachable!("keypoint heads are refused by Model::new"),
        }
    }

    /// The training loss of a batch.
    pub fn loss(&self, out: &Tensor, batch: &Batch) -> Tensor {
        let device = self.vs.device();
        match self.config.head {
            Head::Regression => out.l1_loss(
                &batch.scaled_age_tensor().to_device(device),
                tch::Reduction::Mean,
            ),
            Head::Classification => out.binary_cross_entropy_with_logits::<Tensor>(
                &batch.cumulative_tensor().to_device(device),
                None,
                None,
                tch::Reduction::Mean,
            ),
            Head::Keypoints => unreachable!("keypoint heads are refused by Model::new"),
        }
    }

    /// Predicted ages (months) for every sample of an epoch, in order, with their ids.
    pub fn predict_loader(
        &self,
        loader: &Loader,
        batch_size: usize,
    ) -> Result<Vec<(String, f64)>, DataError> {
        let mut out = Vec::with_capacity(loader.len());
        tch::no_grad(|| -> Result<(), DataError> {
            for b in loader.epoch(0, batch_size, false, false) {
                let b = b?;
                if b.is_empty() {
                    continue;
                }
                let ages = self.ages_from_output(&self.forward(&b, false));
                let ages: Vec<f32> =
                    Vec::<f32>::try_from(ages.to_device(Device::Cpu)).unwrap_or_default();
                for (id, a) in b.ids.iter().zip(ages) {
                    out.push((id.clone(), a as f64));
                }
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// Training and validation samples of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Split {
    /// Ids of the training samples.
    pub train: Vec<String>,
    /// Ids of the validation samples.
    pub valid: Vec<String>,
    /// Mean bone age of the training samples: the mean predictor a model must beat.
    pub train_mean_months: f64,
}

/// Trains a network into `run`. `train` and `valid` must have their images resolved. With
/// `resume`, continues the run found in `run`.
pub fn train(
    cfg: &TrainConfig,
    train: &[Sample],
    valid: &[Sample],
    run: &Path,
    device: Device,
    resume: bool,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<TrainSummary, TrainError> {
    cfg.validate()?;
    if train.is_empty() || valid.is_empty() {
        return Err(TrainError::Dataset(format!(
            "training needs samples to train on and to validate with (got {} and {})",
            train.len(),
            valid.len()
        )));
    }
    std::fs::create_dir_all(run).map_err(|e| TrainError::Io(run.to_path_buf(), e.to_string()))?;
    tch::manual_seed(cfg.seed as i64);
    let mut model = Model::new(&cfg.model, device, cfg.channels_last)?;
    let metrics_path = run.join("metrics.csv");
    let mut state = TrainState {
        epoch: 0,
        best_valid_mae: f64::INFINITY,
        best_epoch: 0,
        epochs_without_improvement: 0,
        skipped_images: 0,
        finished: false,
    };
    if resume {
        let state_path = run.join("state.json");
        let last = run.join("last.safetensors");
        if !state_path.is_file() || !last.is_file() {
            return Err(TrainError::NoCheckpoint(run.to_path_buf()));
        }
        let text = std::fs::read_to_string(&state_path)
            .map_err(|e| TrainError::Io(state_path.clone(), e.to_string()))?;
        state = serde_json::from_str(&text)
            .map_err(|e| TrainError::Io(state_path.clone(), e.to_string()))?;
        model.vs.load(&last)?;
        model.relayout();
        // A run resumed with more epochs (or more patience) than it had goes on.
        state.finished =
            state.epoch >= cfg.epochs || state.epochs_without_improvement >= cfg.patience;
    } else {
        match &cfg.init_weights {
            Some(w) => {
                if !w.is_file() {
                    return Err(TrainError::Io(
                        w.clone(),
                        "init_weights: no such file".into(),
                    ));
                }
                model.vs.load(w).map_err(|e| {
                    TrainError::Io(
                        w.clone(),
                        format!("init_weights do not fit this model config: {e}"),
                    )
                })?;
                model.relayout();
            }
            None => model
                .init_output_prior(&train.iter().map(|s| s.bone_age_months).collect::<Vec<_>>()),
        }
        write_json(&run.join("config.json"), cfg)?;
        write_json(
            &run.join("split.json"),
            &Split {
                train: train.iter().map(|s| s.id.clone()).collect(),
                valid: valid.iter().map(|s| s.id.clone()).collect(),
                train_mean_months: train.iter().map(|s| s.bone_age_months).sum::<f64>()
                    / train.len() as f64,
            },
        )?;
        boneage_imaging::io::write_atomic(
            &metrics_path,
            b"epoch,lr,train_loss,train_mae_months,valid_mae_months,seconds\n",
        )
        .map_err(|e| TrainError::Io(metrics_path.clone(), e.to_string()))?;
    }
    let (w, h) = (
        cfg.model.input_width as usize,
        cfg.model.input_height as usize,
    );
    let train_loader = Loader::new(train, w, h, cfg.data.clone(), cfg.seed);
    let valid_loader = Loader::new(valid, w, h, cfg.data.clone(), cfg.seed ^ 0x5eed);
    let mut opt = nn::AdamW {
        beta1: cfg.optimizer.beta1,
        beta2: cfg.optimizer.beta2,
        wd: cfg.optimizer.weight_decay,
        eps: 1e-8,
        amsgrad: false,
    }
    .build(&model.vs, cfg.optimizer.lr)?;
    let mut stopped_early = false;
    while state.epoch < cfg.epochs && !state.finished {
        let epoch = state.epoch; // 0-based index of the epoch being run
        let lr = cfg.lr_at(epoch);
        opt.set_lr(lr);
        let started = std::time::Instant::now();
        let batches = train_loader.epoch(epoch as u64, cfg.batch_size, true, true);
        let total = batches.total();
        let (mut loss_sum, mut abs_err, mut n) = (0f64, 0f64, 0usize);
        for (bi, b) in batches.enumerate() {
            let b = b?;
            if b.is_empty() {
                continue;
            }
            let out = model.forward(&b, true);
            let loss = model.loss(&out, &b);
            let lv = loss.double_value(&[]);
            if !lv.is_finite() {
                return Err(TrainError::NonFinite {
                    value: lv,
                    epoch: epoch + 1,
                    batch: bi + 1,
                    run: run.to_path_buf(),
                });
            }
            opt.backward_step(&loss);
            let ages = tch::no_grad(|| model.ages_from_output(&out.detach()));
            let err = (ages - b.ages_tensor().to_device(model.vs.device()))
                .abs()
                .sum(Kind::Float)
                .double_value(&[]);
            loss_sum += lv * b.len() as f64;
            abs_err += err;
            n += b.len();
            progress(Progress::Batch {
                epoch: epoch + 1,
                done: bi + 1,
                total,
                loss: loss_sum / n as f64,
                mae_months: abs_err / n as f64,
            });
        }
        let preds = model.predict_loader(&valid_loader, cfg.batch_size)?;
        let valid_mae = mae_of(&preds, valid);
        let m = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: loss_sum / n.max(1) as f64,
            train_mae_months: abs_err / n.max(1) as f64,
            valid_mae_months: valid_mae,
            seconds: started.elapsed().as_secs_f64(),
        };
        state.epoch = epoch + 1;
        state.skipped_images = train_loader.skipped() + valid_loader.skipped();
        if valid_mae < state.best_valid_mae {
            state.best_valid_mae = valid_mae;
            state.best_epoch = epoch + 1;
            state.epochs_without_improvement = 0;
            save_atomic(&model.vs, &run.join("best.safetensors"))?;
        } else {
            state.epochs_without_improvement += 1;
        }
        if state.epochs_without_improvement >= cfg.patience {
            state.finished = true;
            stopped_early = true;
        }
        if state.epoch >= cfg.epochs {
            state.finished = true;
        }
        save_atomic(&model.vs, &run.join("last.safetensors"))?;
        append_line(
            &metrics_path,
            &format!(
                "{},{:.6},{:.6},{:.4},{:.4},{:.2}\n",
                m.epoch, m.lr, m.train_loss, m.train_mae_months, m.valid_mae_months, m.seconds
            ),
        )?;
        write_json(&run.join("state.json"), &state)?;
        progress(Progress::Epoch(&m));
    }
    Ok(TrainSummary {
        run: run.to_path_buf(),
        epochs_run: state.epoch,
        best_epoch: state.best_epoch,
        best_valid_mae_months: state.best_valid_mae,
        skipped_images: state.skipped_images,
        stopped_early,
    })
}

fn append_line(path: &Path, line: &str) -> Result<(), TrainError> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| TrainError::Io(path.to_path_buf(), e.to_string()))?;
    f.write_all(line.as_bytes())
        .map_err(|e| TrainError::Io(path.to_path_buf(), e.to_string()))
}

/// MAE in months of `(id, prediction)` pairs against the samples' bone ages.
pub fn mae_of(preds: &[(String, f64)], samples: &[Sample]) -> f64 {
    let truth: std::collections::HashMap<&str, f64> = samples
        .iter()
        .map(|s| (s.id.as_str(), s.bone_age_months))
        .collect();
    let errs: Vec<f64> = preds
        .iter()
        .filter_map(|(id, p)| truth.get(id.as_str()).map(|t| (p - t).abs()))
        .collect();
    errs.iter().sum::<f64>() / errs.len().max(1) as f64
}
