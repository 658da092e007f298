//! The keypoint net: a VGG-style regressor ([`crate::vgg`] with the six-output
//! [`Head::Keypoints`], no sex input) for the seed's three keypoints — tip of the middle
//! finger's distal phalanx, tip of the thumb's distal phalanx, centre of the capitate — on the
//! segmented, equalised hand image cut to the hand's bounding box and shrunk into the input
//! (letterboxed), so the hand's size and place on the film do not matter. Outputs are the points'
//! `(x, y)` as fractions of the input's width and height; the loss is L1 on those.
//!
//! Training pairs are augmented with rotations (±30° by default) so any pose within that range
//! works, plus scale, shift, gamma, contrast and noise; the points move with the image. Never a
//! mirror: that would put the thumb on the wrong side.
//!
//! A keypoint model folder holds `keypoints.json` (the [`KeypointConfig`]) and
//! `model.safetensors`.

use crate::fit::{self, Fit};
use crate::folder::ModelFolder;
use crate::segmentation::Letterbox;
use crate::training::TrainError;
use crate::vgg::{ConfigError, Head, Vgg, VggConfig};
use boneage_imaging::intensity::{contrast, gamma, standardize};
use boneage_imaging::spatial::{warp, Affine};
use boneage_imaging::GrayImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

pub use boneage_core::keypoints::Keypoints;

/// Augmentation of keypoint pairs.
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
}

impl Default for KeypointAugment {
    fn default() -> Self {
        KeypointAugment {
            rotation_deg: 30.0,
            scale: 0.12,
            shift_fraction: 0.06,
            gamma: 0.4,
            contrast: 0.25,
            noise_sd: 0.02,
        }
    }
}

/// Everything a keypoint model needs; saved as `keypoints.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeypointConfig {
    /// The net: `head` must be `keypoints`, `sex_embedding` 0.
    pub model: VggConfig,
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
        if !(self.lr > 0.0 && self.lr < 1.0) {
            return Err(bad_config(format!("lr must be in (0, 1), not {}", self.lr)));
        }
        Ok(())
    }

    /// Reads a config file (JSON), naming the file in any error.
    pub fn read(path: &Path) -> Result<KeypointConfig, TrainError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrainError::Io(path.to_path_buf(), e.to_string()))?;
        let cfg: KeypointConfig = serde_json::from_str(&text)
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

/// A training pair at the net's input size: the hand image (values in [0, 1], not yet
/// standardised) and its keypoints in input pixels.
#[derive(Debug, Clone)]
pub struct KeypointPair {
    pub id: String,
    pub image: GrayImage,
    pub points: Keypoints,
}

impl KeypointPair {
    /// Cuts the hand out of a hand image (segmented, equalised; any size), shrinks it into the
    /// input and moves its keypoints (source pixels) with it.
    pub fn new(id: &str, hand: &GrayImage, points: &Keypoints, cfg: &KeypointConfig) -> Self {
        let (w, h) = cfg.size();
        let (input, map) = to_input(hand, w, h);
        KeypointPair {
            id: id.to_string(),
            image: input,
            points: points.map(|p| {
                let (x, y) = map.apply(p[0], p[1]);
                [x, y]
            }),
        }
    }

    /// A randomly augmented copy: the standardised image and the moved points.
    fn augmented(&self, a: &KeypointAugment, rng: &mut ChaCha8Rng) -> (GrayImage, Keypoints) {
        let sym = |rng: &mut ChaCha8Rng, r: f64| if r > 0.0 { rng.gen_range(-r..=r) } else { 0.0 };
        let (w, h) = (self.image.width as f64, self.image.height as f64);
        let (cx, cy) = ((w - 1.0) / 2.0, (h - 1.0) / 2.0);
        let s = 1.0 + sym(rng, a.scale);
        let forward = Affine::translate(
            cx + sym(rng, a.shift_fraction) * w,
            cy + sym(rng, a.shift_fraction) * h,
        )
        .after(&Affine::rotate_deg(sym(rng, a.rotation_deg)))
        .after(&Affine::scale(s, s))
        .after(&Affine::translate(-cx, -cy));
        let to_source = forward.inverse().expect("scale is positive");
        let mut img = warp(
            &self.image,
            self.image.width,
            self.image.height,
            &to_source,
            0.0,
        );
        let g = (1.0 + a.gamma.max(0.0)).ln();
        gamma(&mut img, sym(rng, g).exp() as f32);
        contrast(&mut img, (1.0 + sym(rng, a.contrast)) as f32);
        let sd = rng.gen_range(0.0..=a.noise_sd.max(0.0)) as f32;
        if sd > 0.0 {
            for v in &mut img.data {
                let (u1, u2): (f32, f32) = (rng.gen_range(1e-7..1.0), rng.gen());
                *v += sd * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
            }
        }
        standardize(&mut img);
        let points = self.points.map(|p| {
            let (x, y) = forward.apply(p[0], p[1]);
            [x, y]
        });
        (img, points)
    }
}

/// Per-epoch numbers of a keypoint training.
#[derive(Debug, Clone, Serialize)]
pub struct KeypointEpoch {
    pub epoch: usize,
    /// Mean L1 loss (fractions of the input size).
    pub loss: f64,
    /// Mean keypoint error on the validation pairs, as a fraction of the input's height
    /// (NaN without validation pairs).
    pub valid_error: f64,
    pub seconds: f64,
}

/// A keypoint model: config and weights.
pub struct KeypointModel {
    pub config: KeypointConfig,
    pub vs: nn::VarStore,
    net: Vgg,
}

impl ModelFolder for KeypointModel {
    type Config = KeypointConfig;
    const CONFIG_FILE: &'static str = "keypoints.json";
    const KIND: &'static str = "keypoint";

    /// A freshly initialised model (training starts its output at the mean keypoints).
    fn new(config: &KeypointConfig, device: Device) -> Result<KeypointModel, TrainError> {
        config.validate()?;
        tch::manual_seed(config.seed as i64);
        let vs = nn::VarStore::new(device);
        let net = config.model.init(&vs.root())?;
        Ok(KeypointModel {
            config: config.clone(),
            vs,
            net,
        })
    }

    fn read_config(path: &Path) -> Result<KeypointConfig, TrainError> {
        KeypointConfig::read(path)
    }

    fn config(&self) -> &KeypointConfig {
        &self.config
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }
}

impl KeypointModel {
    /// Trains for `config.epochs` epochs, keeping the epoch with the lowest validation error
    /// when `valid` is not empty.
    pub fn train(
        &mut self,
        train: &[KeypointPair],
        valid: &[KeypointPair],
        on_epoch: &mut dyn FnMut(&KeypointEpoch),
    ) -> Result<Vec<KeypointEpoch>, TrainError> {
        if train.is_empty() {
            return Err(bad_config("no training keypoints"));
        }
        let cfg = self.config.clone();
        let (w, h) = cfg.size();
        // Start the output at the mean keypoints.
        let mut prior = [0f32; 6];
        for p in train {
            for k in 0..3 {
                prior[2 * k] += (p.points[k][0] / w as f64) as f32 / train.len() as f32;
                prior[2 * k + 1] += (p.points[k][1] / h as f64) as f32 / train.len() as f32;
            }
        }
        self.net.set_output_prior(&prior, 0.1);
        let fit = Fit {
            epochs: cfg.epochs,
            batch_size: cfg.batch_size,
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            seed: cfg.seed,
        };
        let device = self.vs.device();
        let mut history = Vec::new();
        fit::run(
            &self.vs,
            &fit,
            train.len(),
            "keypoint",
            &mut |chunk, epoch, b| {
                let items: Vec<(GrayImage, Keypoints)> = chunk
                    .par_iter()
                    .map(|&i| {
                        let mut r =
                            ChaCha8Rng::seed_from_u64(fit::sample_seed(cfg.seed, epoch, b, i));
                        train[i].augmented(&cfg.augment, &mut r)
                    })
                    .collect();
                let imgs: Vec<&GrayImage> = items.iter().map(|x| &x.0).collect();
                let x = crate::tensor::batch_to_tensor(&imgs)
                    .expect("same-size inputs")
                    .to_device(device);
                let target: Vec<f32> = items
                    .iter()
                    .flat_map(|(_, p)| {
                        p.iter()
                            .flat_map(|q| [(q[0] / w as f64) as f32, (q[1] / h as f64) as f32])
                            .collect::<Vec<_>>()
                    })
                    .collect();
                let y = Tensor::from_slice(&target)
                    .view([items.len() as i64, 6])
                    .to_device(device);
                self.forward(&x, true).l1_loss(&y, tch::Reduction::Mean)
            },
            &|| {
                if valid.is_empty() {
                    f64::NAN
                } else {
                    self.input_error(valid)
                }
            },
            false,
            &mut |epoch, loss, valid_error, seconds| {
                let e = KeypointEpoch {
                    epoch,
                    loss,
                    valid_error,
                    seconds,
                };
                on_epoch(&e);
                history.push(e);
            },
        )?;
        Ok(history)
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let sex = Tensor::zeros([x.size()[0], 1], (Kind::Float, x.device()));
        self.net.forward(x, &sex, train)
    }

    /// Keypoints (input pixels) of standardised input-size images.
    fn predict_inputs(&self, imgs: &[GrayImage]) -> Vec<Keypoints> {
        let (w, h) = self.config.size();
        let refs: Vec<&GrayImage> = imgs.iter().collect();
        let x = crate::tensor::batch_to_tensor(&refs)
            .expect("same-size inputs")
            .to_device(self.vs.device());
        let out = tch::no_grad(|| self.forward(&x, false))
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous();
        let flat: Vec<f32> = Vec::<f32>::try_from(out.view([-1])).expect("float tensor");
        flat.chunks(6)
            .map(|c| {
                [0, 1, 2].map(|k| [c[2 * k] as f64 * w as f64, c[2 * k + 1] as f64 * h as f64])
            })
            .collect()
    }

    /// Mean keypoint error on pairs (no augmentation), as a fraction of the input's height.
    pub fn input_error(&self, pairs: &[KeypointPair]) -> f64 {
        let h = self.config.size().1 as f64;
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
            for (pred, pair) in self.predict_inputs(&imgs).iter().zip(chunk) {
                sum += mean_distance(pred, &pair.points) / h;
            }
        }
        sum / pairs.len().max(1) as f64
    }

    /// The keypoints of a hand image (segmented, equalised; any size), in its pixels.
    pub fn predict(&self, hand: &GrayImage) -> Keypoints {
        let (w, h) = self.config.size();
        let (mut input, map) = to_input(hand, w, h);
        standardize(&mut input);
        let to_source = map.inverse().expect("positive scale");
        self.predict_inputs(&[input])[0].map(|p| {
            let (x, y) = to_source.apply(p[0], p[1]);
            [x, y]
        })
    }
}

/// A hand's keypoints and its map into the canonical frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Registration {
    /// Middle finger tip, thumb tip, capitate, in the hand image's pixels.
    pub keypoints: Keypoints,
    /// Hand-image pixels → canonical frame (with a reflection when `mirrored`).
    pub to_canonical: Affine,
    /// Distance of the thumb keypoint from its canonical place after registration (canonical
    /// pixels; the frame is 2080 high).
    pub thumb_residual: f64,
    /// The hand was a mirror image (a right hand, or a film put in backwards) and is read as a
    /// left hand.
    pub mirrored: bool,
    /// Where the thumb keypoint lands in the canonical frame (its canonical place is
    /// (1500, 850)).
    pub thumb_canonical: [f64; 2],
    /// The reading not taken (the mirror image's for a left hand, the unmirrored one's for a
    /// mirrored hand): its thumb's place in the canonical frame; `None` when it had no fit.
    pub other_thumb_canonical: Option<[f64; 2]>,
    /// The handedness template's margin for the reading taken (positive: a left hand) and for
    /// the other one; `None` without a template.
    pub handedness_margin: Option<f64>,
    pub other_handedness_margin: Option<f64>,
}

/// Without a handedness template: a hand whose thumb keypoint lands within this of its
/// canonical place (canonical pixels, of 2080) is read as a left hand, whatever the mirror
/// image does.
pub const MIRROR_MIN_THUMB_RESIDUAL: f64 = 200.0;

/// Without a handedness template: the mirror image's thumb must fit at least this much better
/// (residual ratio) to be taken.
pub const MIRROR_RESIDUAL_RATIO: f64 = 0.5;

/// Mirroring moves the thumb only: the mirror image's middle finger tip and capitate (brought
/// back into the original's pixels) must lie within this fraction of the tip–capitate distance
/// of the original reading's. A mirror reading that turns the hand upside down (tip and
/// capitate swapped, a rotation near 180°) fails this.
pub const MIRROR_AXIS_TOLERANCE: f64 = 0.2;

/// Whether two readings of the same hand agree on its middle finger tip and capitate (see
/// [`MIRROR_AXIS_TOLERANCE`]); keypoints in the same image's pixels.
pub fn axes_agree(a: &Keypoints, b: &Keypoints) -> bool {
    let dist = |p: [f64; 2], q: [f64; 2]| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt();
    let axis = dist(a[0], a[2]);
    axis > 0.0
        && dist(a[0], b[0]) < MIRROR_AXIS_TOLERANCE * axis
        && dist(a[2], b[2]) < MIRROR_AXIS_TOLERANCE * axis
}

/// The thumb-fit rule used without a handedness template: the original's thumb fits badly and
/// the mirror's fits under half as far.
pub fn thumb_fit_prefers_mirror(t_orig: f64, t_mirror: f64) -> bool {
    t_orig > MIRROR_MIN_THUMB_RESIDUAL && t_mirror < MIRROR_RESIDUAL_RATIO * t_orig
}

impl KeypointModel {
    /// Keypoints and the map into the canonical frame, mirrored hands included: the net knows
    /// left hands only, so the mirror image is read too. It is taken only when both readings
    /// agree on the middle finger tip and the capitate ([`axes_agree`]) and the picture says
    /// so: with the model's handedness template (`boneage handedness`), the original reading's
    /// whole hand must score as a mirror image and the mirror reading's as a left hand, each
    /// beyond the template's threshold; without one, the thumb keypoint's fit decides
    /// ([`thumb_fit_prefers_mirror`]). `None` when the keypoints coincide.
    pub fn register(&self, hand: &GrayImage) -> Option<Registration> {
        use boneage_imaging::handedness::thumbnail;
        use boneage_imaging::registration::{keypoint_residuals, to_canonical};
        let keypoints = self.predict(hand);
        let map = to_canonical(&keypoints)?;
        let at = |m: &Affine, k: &Keypoints| {
            let (x, y) = m.apply(k[1][0], k[1][1]);
            [x, y]
        };
        let template = self.config.handedness.as_ref();
        let margin = |m: &Affine| template.map(|t| t.margin(&thumbnail(hand, m)));
        let mut best = Registration {
            keypoints,
            to_canonical: map,
            thumb_residual: keypoint_residuals(&keypoints, &map)[1],
            mirrored: false,
            thumb_canonical: at(&map, &keypoints),
            other_thumb_canonical: None,
            handedness_margin: margin(&map),
            other_handedness_margin: None,
        };
        let mut flipped = hand.clone();
        for row in flipped.data.chunks_mut(hand.width.max(1)) {
            row.reverse();
        }
        let kp = self.predict(&flipped);
        if let Some(m) = to_canonical(&kp) {
            let t = keypoint_residuals(&kp, &m)[1];
            let w = (hand.width as f64 - 1.0).max(0.0);
            let back = kp.map(|k| [w - k[0], k[1]]);
            // Hand x → mirrored x → canonical.
            let reflect = Affine {
                m: [[-1.0, 0.0, w], [0.0, 1.0, 0.0]],
            };
            let mirror_map = m.after(&reflect);
            let mirror_margin = margin(&mirror_map);
            let pictures_say_mirror = match (template, best.handedness_margin, mirror_margin) {
                (Some(tp), Some(mo), Some(mm)) => mo < -tp.threshold && mm > tp.threshold,
                _ => thumb_fit_prefers_mirror(best.thumb_residual, t),
            };
            if axes_agree(&best.keypoints, &back) && pictures_say_mirror {
                best = Registration {
                    keypoints: back,
                    to_canonical: mirror_map,
                    thumb_residual: t,
                    mirrored: true,
                    thumb_canonical: at(&m, &kp),
                    other_thumb_canonical: Some(best.thumb_canonical),
                    handedness_margin: mirror_margin,
                    other_handedness_margin: best.handedness_margin,
                };
            } else {
                best.other_thumb_canonical = Some(at(&m, &kp));
                best.other_handedness_margin = mirror_margin;
            }
        }
        Some(best)
    }
}

/// The net's view of a hand image: the bounding box of the hand (non-black pixels) with a 4%
/// margin, letterboxed into `w x h`, so the hand fills the input whatever its size and place
/// on the film. Returns the input and the map from hand-image pixels to input pixels.
fn to_input(hand: &GrayImage, w: usize, h: usize) -> (GrayImage, Affine) {
    let (hw, hh) = (hand.width, hand.height);
    let (mut x0, mut y0, mut x1, mut y1) = (hw, hh, 0, 0);
    for y in 0..hh {
        for x in 0..hw {
            if hand.data[y * hw + x] > 0.0 {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
    }
    let (x0, y0, x1, y1) = if x1 < x0 {
        (0, 0, hw - 1, hh - 1)
    } else {
        let m = ((x1 - x0).max(y1 - y0) as f64 * 0.04).ceil() as usize;
        (
            x0.saturating_sub(m),
            y0.saturating_sub(m),
            (x1 + m).min(hw - 1),
            (y1 + m).min(hh - 1),
        )
    };
    let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);
    let mut crop = GrayImage::new(cw, ch, 0.0);
    for y in 0..ch {
        crop.data[y * cw..(y + 1) * cw]
            .copy_from_slice(&hand.data[(y0 + y) * hw + x0..(y0 + y) * hw + x0 + cw]);
    }
    let lb = Letterbox::new(cw, ch, w, h);
    let map = lb
        .source_to_input()
        .after(&Affine::translate(-(x0 as f64), -(y0 as f64)));
    (lb.place(&crop, w, h, 0.0), map)
}

/// Mean Euclidean distance between corresponding keypoints.
pub fn mean_distance(a: &Keypoints, b: &Keypoints) -> f64 {
    (0..3)
        .map(|k| ((a[k][0] - b[k][0]).powi(2) + (a[k][1] - b[k][1]).powi(2)).sqrt())
        .sum::<f64>()
        / 3.0
}
