//! Hand segmentation with the U-Net: preparing an image for the net (grey scale turned back if
//! inverted, shrunk into the input keeping its aspect ratio), training on image/mask pairs with
//! joint augmentation, and predicting a full-size mask (the probability map is resampled to the
//! input's size, thresholded at one half, and cleaned to the largest component with small holes
//! filled).
//!
//! A segmentation model folder holds `segmentation.json` (the [`SegConfig`]) and
//! `model.safetensors`.

use crate::fit::{self, Fit};
use crate::folder::ModelFolder;
use crate::training::TrainError;
use crate::unet::{bce_dice_loss, UNet, UNetConfig};
use crate::vgg::ConfigError;
use boneage_imaging::intensity::{contrast, gamma};
use boneage_imaging::quality::looks_inverted;
use boneage_imaging::spatial::{warp, Affine};
use boneage_imaging::{GrayImage, Mask};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

/// Augmentation of image/mask pairs (geometry applied to both).
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
    pub model: UNetConfig,
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
    pub fn validate(&self) -> Result<(), TrainError> {
        self.model.validate()?;
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(bad_config("epochs and batch_size must be at least 1"));
        }
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
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrainError::Io(path.to_path_buf(), e.to_string()))?;
        let cfg: SegConfig = serde_json::from_str(&text)
            .map_err(|e| bad_config(format!("{}: {e}", path.display())))?;
        cfg.validate()
            .map_err(|e| bad_config(format!("{}: {e}", path.display())))?;
        Ok(cfg)
    }

    fn size(&self) -> (usize, usize) {
        (
            self.model.input_width as usize,
            self.model.input_height as usize,
        )
    }
}

/// Where a source image sits inside the net's input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub source_width: usize,
    pub source_height: usize,
    /// Offset and size of the shrunk image inside the input.
    pub x0: usize,
    pub y0: usize,
    pub width: usize,
    pub height: usize,
}

impl Letterbox {
    /// Where a `src_w x src_h` image goes in an `in_w x in_h` input (centred, aspect kept).
    pub fn new(src_w: usize, src_h: usize, in_w: usize, in_h: usize) -> Letterbox {
        let s = (in_w as f64 / src_w as f64).min(in_h as f64 / src_h as f64);
        let width = ((src_w as f64 * s).round() as usize).clamp(1, in_w);
        let height = ((src_h as f64 * s).round() as usize).clamp(1, in_h);
        Letterbox {
            source_width: src_w,
            source_height: src_h,
            x0: (in_w - width) / 2,
            y0: (in_h - height) / 2,
            width,
            height,
        }
    }

    /// Places `img` (source size) into an `in_w x in_h` canvas filled with `fill`.
    pub fn place(&self, img: &GrayImage, in_w: usize, in_h: usize, fill: f32) -> GrayImage {
        let small = img.resize(self.width, self.height);
        let mut out = GrayImage::new(in_w, in_h, fill);
        for y in 0..self.height {
            let row = (self.y0 + y) * in_w + self.x0;
            out.data[row..row + self.width]
                .copy_from_slice(&small.data[y * self.width..(y + 1) * self.width]);
        }
        out
    }

    /// The map from source pixels to input pixels (pixel centres at integers).
    pub fn source_to_input(&self) -> Affine {
        let sx = self.width as f64 / self.source_width as f64;
        let sy = self.height as f64 / self.source_height as f64;
        Affine {
            m: [
                [sx, 0.0, self.x0 as f64 + 0.5 * sx - 0.5],
                [0.0, sy, self.y0 as f64 + 0.5 * sy - 0.5],
            ],
        }
    }

    /// Cuts the image's part out of an input-sized map and resamples it to the source size.
    pub fn to_source(&self, map: &GrayImage) -> GrayImage {
        let mut crop = GrayImage::new(self.width, self.height, 0.0);
        for y in 0..self.height {
            let row = (self.y0 + y) * map.width + self.x0;
            crop.data[y * self.width..(y + 1) * self.width]
                .copy_from_slice(&map.data[row..row + self.width]);
        }
        crop.resize(self.source_width, self.source_height)
    }
}

/// An image ready for the net: inverted grey scale turned back, shrunk into the input, values
/// in [0, 1] (not yet standardised).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub input: GrayImage,
    pub letterbox: Letterbox,
    pub inverted: bool,
}

/// Prepares `img` for a net with input `in_w x in_h`. The border is filled with the image's
/// darkest percentile (air), so the padding looks like background.
pub fn prepare(img: &GrayImage, in_w: usize, in_h: usize) -> Prepared {
    let inverted = looks_inverted(img);
    let fixed;
    let src = if inverted {
        fixed = GrayImage::from_vec(
            img.width,
            img.height,
            img.data.iter().map(|v| 1.0 - v).collect(),
        );
        &fixed
    } else {
        img
    };
    let lb = Letterbox::new(src.width, src.height, in_w, in_h);
    let h = boneage_imaging::threshold::histogram(src, None);
    let air = boneage_imaging::threshold::histogram_quantile(&h, 0.02);
    Prepared {
        input: lb.place(src, in_w, in_h, air),
        letterbox: lb,
        inverted,
    }
}

/// A training pair at the net's input size: prepared image and its mask (0 or 1).
#[derive(Debug, Clone)]
pub struct SegPair {
    pub id: String,
    pub image: GrayImage,
    pub mask: GrayImage,
}

impl SegPair {
    /// Prepares an image and its full-size mask the same way.
    pub fn new(id: &str, img: &GrayImage, mask: &Mask, cfg: &SegConfig) -> SegPair {
        assert_eq!((img.width, img.height), (mask.width, mask.height));
        let (w, h) = cfg.size();
        let p = prepare(img, w, h);
        let m = p.letterbox.place(&mask.to_gray(), w, h, 0.0);
        SegPair {
            id: id.to_string(),
            image: p.input,
            mask: m,
        }
    }

    /// A randomly augmented copy (image standardised, mask thresholded at one half).
    fn augmented(&self, a: &SegAugment, rng: &mut ChaCha8Rng) -> (GrayImage, GrayImage) {
        let sym = |rng: &mut ChaCha8Rng, r: f64| if r > 0.0 { rng.gen_range(-r..=r) } else { 0.0 };
        let (w, h) = (self.image.width as f64, self.image.height as f64);
        let (cx, cy) = ((w - 1.0) / 2.0, (h - 1.0) / 2.0);
        let s = 1.0 + sym(rng, a.scale);
        let flip = if rng.gen_bool(a.flip.clamp(0.0, 1.0)) {
            -1.0
        } else {
            1.0
        };
        let forward = Affine::translate(
            cx + sym(rng, a.shift_fraction) * w,
            cy + sym(rng, a.shift_fraction) * h,
        )
        .after(&Affine::rotate_deg(sym(rng, a.rotation_deg)))
        .after(&Affine::scale(s * flip, s))
        .after(&Affine::translate(-cx, -cy));
        let to_source = forward.inverse().expect("scale is positive");
        let fill = boneage_imaging::threshold::histogram_quantile(
            &boneage_imaging::threshold::histogram(&self.image, None),
            0.02,
        );
        let mut img = warp(
            &self.image,
            self.image.width,
            self.image.height,
            &to_source,
            fill,
        );
        let mask = warp(
            &self.mask,
            self.mask.width,
            self.mask.height,
            &to_source,
            0.0,
        );
        let g = (1.0 + a.gamma.max(0.0)).ln();
        gamma(&mut img, sym(rng, g).exp() as f32);
        contrast(&mut img, (1.0 + sym(rng, a.contrast)) as f32);
        if rng.gen_bool(a.invert.clamp(0.0, 1.0)) {
            img.data.iter_mut().for_each(|v| *v = 1.0 - *v);
        }
        let sd = rng.gen_range(0.0..=a.noise_sd.max(0.0)) as f32;
        if sd > 0.0 {
            for v in &mut img.data {
                let (u1, u2): (f32, f32) = (rng.gen_range(1e-7..1.0), rng.gen());
                *v += sd * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
            }
        }
        standardize(&mut img);
        let mask = GrayImage::from_vec(
            mask.width,
            mask.height,
            mask.data
                .iter()
                .map(|&v| if v >= 0.5 { 1.0 } else { 0.0 })
                .collect(),
        );
        (img, mask)
    }
}

fn bad_config(msg: impl Into<String>) -> TrainError {
    TrainError::Config(ConfigError(msg.into()))
}

fn standardize(img: &mut GrayImage) {
    boneage_imaging::intensity::standardize(img);
}

/// A segmentation model: config and U-Net weights.
pub struct SegModel {
    pub config: SegConfig,
    pub vs: nn::VarStore,
    net: UNet,
}

/// Per-epoch numbers of a segmentation training.
#[derive(Debug, Clone, Serialize)]
pub struct SegEpoch {
    pub epoch: usize,
    pub loss: f64,
    /// Mean IoU on the validation pairs at the input size (NaN without validation pairs).
    pub valid_iou: f64,
    pub seconds: f64,
}

impl ModelFolder for SegModel {
    type Config = SegConfig;
    const CONFIG_FILE: &'static str = "segmentation.json";
    const KIND: &'static str = "segmentation";

    fn new(config: &SegConfig, device: Device) -> Result<SegModel, TrainError> {
        config.validate()?;
        tch::manual_seed(config.seed as i64);
        let vs = nn::VarStore::new(device);
        let net = config.model.init(&vs.root())?;
        Ok(SegModel {
            config: config.clone(),
            vs,
            net,
        })
    }

    fn read_config(path: &Path) -> Result<SegConfig, TrainError> {
        SegConfig::read(path)
    }

    fn config(&self) -> &SegConfig {
        &self.config
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }
}

impl SegModel {
    /// Trains on `train` for `config.epochs` epochs (continuing from the current weights),
    /// keeping the weights of the epoch with the best validation IoU when `valid` is not
    /// empty. `on_epoch` sees each epoch's numbers as they come.
    pub fn train(
        &mut self,
        train: &[SegPair],
        valid: &[SegPair],
        on_epoch: &mut dyn FnMut(&SegEpoch),
    ) -> Result<Vec<SegEpoch>, TrainError> {
        if train.is_empty() {
            return Err(bad_config("no training masks"));
        }
        let cfg = self.config.clone();
        let fit = Fit {
            epochs: cfg.epochs,
            batch_size: cfg.batch_size,
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            seed: cfg.seed,
        };
        let device = self.vs.device();
        let net = &self.net;
        let mut history = Vec::new();
        fit::run(
            &self.vs,
            &fit,
            train.len(),
            "segmentation",
            &mut |chunk, epoch, b| {
                let pairs: Vec<(GrayImage, GrayImage)> = chunk
                    .par_iter()
                    .map(|&i| {
                        let mut r =
                            ChaCha8Rng::seed_from_u64(fit::sample_seed(cfg.seed, epoch, b, i));
                        train[i].augmented(&cfg.augment, &mut r)
                    })
                    .collect();
                let (x, y) = stack(&pairs, device);
                bce_dice_loss(&net.forward(&x, true), &y)
            },
            &|| {
                if valid.is_empty() {
                    f64::NAN
                } else {
                    self.input_iou(valid)
                }
            },
            true,
            &mut |epoch, loss, valid_iou, seconds| {
                let e = SegEpoch {
                    epoch,
                    loss,
                    valid_iou,
                    seconds,
                };
                on_epoch(&e);
                history.push(e);
            },
        )?;
        Ok(history)
    }

    /// Mean IoU of thresholded predictions against the pairs' masks, at the input size.
    pub fn input_iou(&self, pairs: &[SegPair]) -> f64 {
        let mut sum = 0.0;
        for chunk in pairs.chunks(self.config.batch_size) {
            let imgs: Vec<GrayImage> = chunk
                .iter()
                .map(|p| {
                    let mut i = p.image.clone();
                    standardize(&mut i);
                    i
                })
                .collect();
            let probs = self.probabilities(&imgs);
            for (p, pair) in probs.iter().zip(chunk) {
                let a = Mask::threshold(p, self.config.threshold as f32);
                let b = Mask::threshold(&pair.mask, 0.5);
                sum += a.iou(&b);
            }
        }
        sum / pairs.len().max(1) as f64
    }

    /// Probability maps (input size) of standardised input-size images.
    fn probabilities(&self, imgs: &[GrayImage]) -> Vec<GrayImage> {
        let refs: Vec<&GrayImage> = imgs.iter().collect();
        let x = crate::tensor::batch_to_tensor(&refs)
            .expect("same-size inputs")
            .to_device(self.vs.device());
        let p = tch::no_grad(|| self.net.forward(&x, false).sigmoid())
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous();
        let (w, h) = (imgs[0].width, imgs[0].height);
        let flat: Vec<f32> = Vec::<f32>::try_from(p.view([-1])).expect("float tensor");
        flat.chunks(w * h)
            .map(|c| GrayImage::from_vec(w, h, c.to_vec()))
            .collect()
    }

    /// The hand's probability at every pixel of `img` (same size as `img`).
    pub fn probability(&self, img: &GrayImage) -> GrayImage {
        let (w, h) = self.config.size();
        let p = prepare(img, w, h);
        let mut input = p.input;
        standardize(&mut input);
        let prob = self.probabilities(&[input]).remove(0);
        p.letterbox.to_source(&prob)
    }

    /// The hand mask of `img` (same size): probability thresholded, largest component, small
    /// holes filled.
    pub fn mask(&self, img: &GrayImage) -> Mask {
        Mask::threshold(&self.probability(img), self.config.threshold as f32)
            .cleaned(self.config.max_hole_fraction)
    }
}

fn stack(pairs: &[(GrayImage, GrayImage)], device: Device) -> (Tensor, Tensor) {
    let imgs: Vec<&GrayImage> = pairs.iter().map(|p| &p.0).collect();
    let masks: Vec<&GrayImage> = pairs.iter().map(|p| &p.1).collect();
    (
        crate::tensor::batch_to_tensor(&imgs)
            .expect("same-size inputs")
            .to_device(device),
        crate::tensor::batch_to_tensor(&masks)
            .expect("same-size masks")
            .to_device(device),
    )
}
