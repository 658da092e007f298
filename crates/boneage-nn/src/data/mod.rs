//! From dataset samples to batches: decode, fit into the network input, augment, standardise,
//! batch — on worker threads that run ahead of the training step.
//!
//! Each image is decoded once and kept (shrunk to fit the input, letterboxed on air = 0, an
//! inverted grey scale turned back) when
//! [`DataConfig::cache_decoded`] is on. Augmentation is a random affine map (rotation, shift,
//! scale — never a flip: a left hand stays left), optionally lost resolution and blur, then
//! gamma, contrast and Gaussian noise; then every
//! image is standardised to zero mean and unit SD. Randomness comes from a ChaCha RNG seeded by
//! (seed, epoch, batch index), so batches are identical whatever the number of workers.

use crate::transforms::{Degrade, Jitter};
use boneage_core::labels::{cumulative_target, scale_age, BINS};
use boneage_core::Sample;
use boneage_imaging::intensity::standardize;
use boneage_imaging::spatial::{warp, Affine};
use boneage_imaging::GrayImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, OnceLock};

/// What to do with an image that fails to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBadImage {
    /// Stop with an error naming the file (default).
    Stop,
    /// Leave it out, count it, and report the count at the end.
    Skip,
}

/// Random augmentation ranges of the age nets' training ([`crate::transforms`]: the
/// similarity and the grey-value jitter). Defaults are moderate, as for hand radiographs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentConfig {
    /// Rotation drawn uniformly in ±this, degrees. Default 15.
    pub rotation_deg: f64,
    /// Shift drawn uniformly in ±this fraction of the input size. Default 0.05.
    pub shift_fraction: f64,
    /// Scale drawn uniformly in 1 ± this. Default 0.1.
    pub scale: f64,
    /// Gamma drawn log-uniformly in [1/(1+g), 1+g]. Default 0.3.
    pub gamma: f64,
    /// Contrast factor drawn uniformly in 1 ± this. Default 0.2.
    pub contrast: f64,
    /// Added Gaussian noise (image in [0, 1]): its SD drawn up to this. Default 0.02.
    pub noise_sd: f64,
    /// Gaussian blur with its SD drawn up to this, in input pixels. Default 0 (none).
    pub blur_sigma: f64,
    /// Resolution loss: the input shrunk to a share drawn in `[1 - this, 1]` of its size and
    /// enlarged back. Default 0 (none).
    pub resolution: f64,
}

impl AugmentConfig {
    /// The loss of sharpness these ranges describe ([`crate::transforms::RandomDegrade`]).
    pub fn degrade(&self) -> crate::transforms::RandomDegrade {
        crate::transforms::RandomDegrade {
            blur_sigma: self.blur_sigma,
            resolution: self.resolution,
        }
    }
}

// Never a mirror: a left hand stays left.
crate::transforms::transform_ranges!(AugmentConfig, |_: &AugmentConfig| 0.0);

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            rotation_deg: 15.0,
            shift_fraction: 0.05,
            scale: 0.1,
            gamma: 0.3,
            contrast: 0.2,
            noise_sd: 0.02,
            blur_sigma: 0.0,
            resolution: 0.0,
        }
    }
}

/// The data pipeline's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Random augmentation ranges.
    pub augment: AugmentConfig,
    /// Decoding/augmenting threads. Default 2.
    pub workers: usize,
    /// Batches prepared ahead of the training step. Default 4.
    pub prefetch: usize,
    /// Keep each decoded, fitted image in memory after its first use. Default true.
    pub cache_decoded: bool,
    /// Invert images whose grey scale looks inverted (air brighter than the palm; see
    /// `boneage_imaging::quality::looks_inverted`), so every input has bone bright. Default true.
    pub fix_inverted: bool,
    /// What to do with an image that fails to decode.
    pub on_bad_image: OnBadImage,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            augment: AugmentConfig::default(),
            workers: 2,
            prefetch: 4,
            cache_decoded: true,
            fix_inverted: true,
            on_bad_image: OnBadImage::Stop,
        }
    }
}

/// A data error: which file and what happened.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DataError {
    /// A sample without an image path.
    #[error("sample {id:?} has no image path (resolve the dataset's images first)")]
    NoImage {
        /// The sample's id.
        id: String,
    },
    /// An image that cannot be decoded (the message names the file).
    #[error("{0}")]
    Decode(String),
    /// A worker thread ended without sending its batch.
    #[error("a data worker stopped unexpectedly")]
    WorkerLost,
}

/// One batch, laid out for tensors.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Sample ids, in batch order.
    pub ids: Vec<String>,
    /// `[n, 1, height, width]`, row-major.
    pub images: Vec<f32>,
    /// `[n, 1]`: 1 for male.
    pub sex: Vec<f32>,
    /// Bone age in months, `[n]`.
    pub ages: Vec<f32>,
    /// Rows of each image.
    pub height: usize,
    /// Columns of each image.
    pub width: usize,
}

impl Batch {
    /// Samples in the batch.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The images as a `[n, 1, height, width]` tensor.
    pub fn images_tensor(&self) -> tch::Tensor {
        tch::Tensor::from_slice(&self.images).view([
            self.len() as i64,
            1,
            self.height as i64,
            self.width as i64,
        ])
    }

    /// The sexes as a `[n, 1]` tensor (1 = male).
    pub fn sex_tensor(&self) -> tch::Tensor {
        tch::Tensor::from_slice(&self.sex).view([self.len() as i64, 1])
    }

    /// The bone ages as a `[n]` tensor, months.
    pub fn ages_tensor(&self) -> tch::Tensor {
        tch::Tensor::from_slice(&self.ages)
    }

    /// Regression targets `(age − 120) / 120`, `[n, 1]`.
    pub fn scaled_age_tensor(&self) -> tch::Tensor {
        let v: Vec<f32> = self
            .ages
            .iter()
            .map(|&a| scale_age(a as f64) as f32)
            .collect();
        tch::Tensor::from_slice(&v).view([self.len() as i64, 1])
    }

    /// Cumulative classification targets, `[n, 240]`.
    pub fn cumulative_tensor(&self) -> tch::Tensor {
        let mut v = Vec::with_capacity(self.len() * BINS);
        for &a in &self.ages {
            v.extend_from_slice(&cumulative_target(a as f64));
        }
        tch::Tensor::from_slice(&v).view([self.len() as i64, BINS as i64])
    }
}

struct Item {
    id: String,
    path: Option<PathBuf>,
    male: bool,
    age: f32,
}

/// Serves batches of a fixed set of samples at a fixed input size.
pub struct Loader {
    /// Shared with the worker threads of every epoch.
    ctx: Arc<Ctx>,
}

impl Loader {
    /// A loader for `samples` (images resolved) producing `width x height` inputs.
    pub fn new(
        samples: &[Sample],
        width: usize,
        height: usize,
        cfg: DataConfig,
        seed: u64,
    ) -> Loader {
        let items: Vec<Item> = samples
            .iter()
            .map(|s| Item {
                id: s.id.clone(),
                path: s.image.clone(),
                male: s.sex.is_male(),
                age: s.bone_age_months as f32,
            })
            .collect();
        let cache = (0..items.len()).map(|_| OnceLock::new()).collect();
        Loader {
            ctx: Arc::new(Ctx {
                items,
                cache,
                skipped: AtomicUsize::new(0),
                cfg,
                width,
                height,
                seed,
            }),
        }
    }

    /// Samples in the loader.
    pub fn len(&self) -> usize {
        self.ctx.items.len()
    }

    /// Whether the loader has no samples.
    pub fn is_empty(&self) -> bool {
        self.ctx.items.is_empty()
    }

    /// Images left out so far because they failed to decode (with [`OnBadImage::Skip`]).
    pub fn skipped(&self) -> usize {
        self.ctx.skipped.load(Ordering::Relaxed)
    }

    /// Batches of one epoch, in a fixed order: shuffled by (seed, epoch) when `shuffle`,
    /// augmented when `augment`. Prepared by the worker threads ahead of consumption.
    pub fn epoch(
        &self,
        epoch: u64,
        batch_size: usize,
        shuffle: bool,
        augment: bool,
    ) -> EpochBatches {
        let mut order: Vec<usize> = (0..self.len()).collect();
        if shuffle {
            use rand::seq::SliceRandom;
            let mut rng = ChaCha8Rng::seed_from_u64(mix(self.ctx.seed, epoch, u64::MAX));
            order.shuffle(&mut rng);
        }
        let jobs: Arc<Vec<Vec<usize>>> = Arc::new(
            order
                .chunks(batch_size.max(1))
                .map(|c| c.to_vec())
                .collect(),
        );
        let n_jobs = jobs.len();
        let next = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = sync_channel(self.ctx.cfg.prefetch.max(1));
        let workers = self.ctx.cfg.workers.max(1);
        for _ in 0..workers {
            let (jobs, next, tx, ctx) = (jobs.clone(), next.clone(), tx.clone(), self.ctx.clone());
            std::thread::spawn(move || loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                if j >= jobs.len() {
                    break;
                }
                let mut rng = ChaCha8Rng::seed_from_u64(mix(ctx.seed, epoch, j as u64));
                let batch = ctx.make_batch(&jobs[j], augment, &mut rng);
                if tx.send((j, batch)).is_err() {
                    break;
                }
            });
        }
        EpochBatches {
            rx,
            pending: BTreeMap::new(),
            next: 0,
            total: n_jobs,
        }
    }
}

fn mix(seed: u64, a: u64, b: u64) -> u64 {
    let mut z =
        seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The batches of one epoch, in order.
pub struct EpochBatches {
    rx: Receiver<(usize, Result<Batch, DataError>)>,
    pending: BTreeMap<usize, Result<Batch, DataError>>,
    next: usize,
    total: usize,
}

impl EpochBatches {
    /// Number of batches in the epoch.
    pub fn total(&self) -> usize {
        self.total
    }
}

impl Iterator for EpochBatches {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.total {
            return None;
        }
        loop {
            if let Some(b) = self.pending.remove(&self.next) {
                self.next += 1;
                return Some(b);
            }
            match self.rx.recv() {
                Ok((j, b)) => {
                    self.pending.insert(j, b);
                }
                Err(_) => {
                    self.next = self.total;
                    return Some(Err(DataError::WorkerLost));
                }
            }
        }
    }
}

/// What the worker threads share: the samples, the decode cache and the settings.
struct Ctx {
    items: Vec<Item>,
    cache: Vec<OnceLock<Result<Arc<GrayImage>, String>>>,
    skipped: AtomicUsize,
    cfg: DataConfig,
    width: usize,
    height: usize,
    seed: u64,
}

impl Ctx {
    fn decode(&self, i: usize) -> Result<Arc<GrayImage>, String> {
        let item = &self.items[i];
        let load = || -> Result<Arc<GrayImage>, String> {
            let path = item.path.as_ref().ok_or_else(|| {
                DataError::NoImage {
                    id: item.id.clone(),
                }
                .to_string()
            })?;
            let r = boneage_imaging::read_radiograph(path).map_err(|e| e.to_string())?;
            Ok(Arc::new(letterboxed(
                r.image,
                self.cfg.fix_inverted,
                self.width,
                self.height,
            )))
        };
        if self.cfg.cache_decoded {
            let r = self.cache[i].get_or_init(|| {
                let r = load();
                if r.is_err() && self.cfg.on_bad_image == OnBadImage::Skip {
                    self.skipped.fetch_add(1, Ordering::Relaxed);
                }
                r
            });
            r.clone()
        } else {
            load()
        }
    }

    fn make_batch(
        &self,
        idx: &[usize],
        augment: bool,
        rng: &mut ChaCha8Rng,
    ) -> Result<Batch, DataError> {
        let (w, h) = (self.width, self.height);
        let mut b = Batch {
            ids: Vec::with_capacity(idx.len()),
            images: Vec::with_capacity(idx.len() * w * h),
            sex: Vec::with_capacity(idx.len()),
            ages: Vec::with_capacity(idx.len()),
            height: h,
            width: w,
        };
        for &i in idx {
            // Draw the augmentation before decoding so a skipped image does not shift the
            // random stream of the others.
            let aug = augment.then(|| Draw::new(&self.cfg.augment, w, h, rng));
            let img = match self.decode(i) {
                Ok(img) => img,
                Err(e) => match self.cfg.on_bad_image {
                    OnBadImage::Stop => return Err(DataError::Decode(e)),
                    OnBadImage::Skip => {
                        if !self.cfg.cache_decoded {
                            self.skipped.fetch_add(1, Ordering::Relaxed);
                        }
                        continue;
                    }
                },
            };
            let img = match aug {
                Some(d) => d.apply(&img),
                None => {
                    let mut x = (*img).clone();
                    standardize(&mut x);
                    x
                }
            };
            let item = &self.items[i];
            b.ids.push(item.id.clone());
            b.images.extend_from_slice(&img.data);
            b.sex.push(item.male as u8 as f32);
            b.ages.push(item.age);
        }
        Ok(b)
    }
}

/// A decoded image as the loader keeps it: grey scale turned back when `fix_inverted` and it
/// looks inverted, then letterboxed to the network's input size.
fn letterboxed(mut img: GrayImage, fix_inverted: bool, width: usize, height: usize) -> GrayImage {
    if fix_inverted && boneage_imaging::quality::looks_inverted(&img) {
        img.data.iter_mut().for_each(|v| *v = 1.0 - *v);
    }
    fit_letterbox(&img, width, height)
}

/// The network input the loader makes of an image without augmentation (as in evaluation and
/// prediction): inversion fixed per `cfg`, letterboxed to `width x height`, standardized.
pub fn network_input(img: GrayImage, cfg: &DataConfig, width: usize, height: usize) -> GrayImage {
    let mut x = letterboxed(img, cfg.fix_inverted, width, height);
    standardize(&mut x);
    x
}

/// [`network_input`] with the inversion decided by the caller (`invert`: turn the grey scale
/// back), e.g. once for all test-time views of one image.
pub fn network_input_inverted(
    mut img: GrayImage,
    invert: bool,
    width: usize,
    height: usize,
) -> GrayImage {
    if invert {
        img.data.iter_mut().for_each(|v| *v = 1.0 - *v);
    }
    let mut x = fit_letterbox(&img, width, height);
    standardize(&mut x);
    x
}

/// Shrinks an image to fit `width x height` keeping its aspect ratio, centred on air (0).
pub fn fit_letterbox(img: &GrayImage, width: usize, height: usize) -> GrayImage {
    let (fw, fh) = img.fit_within(width, height);
    let small = img.resize(fw, fh);
    if fw == width && fh == height {
        return small;
    }
    let mut out = GrayImage::new(width, height, 0.0);
    let (ox, oy) = ((width - fw) / 2, (height - fh) / 2);
    for y in 0..fh {
        out.data[(oy + y) * width + ox..(oy + y) * width + ox + fw]
            .copy_from_slice(&small.data[y * fw..(y + 1) * fw]);
    }
    out
}

/// One draw of the augmentation: a similarity (for the input size) and a grey-value jitter.
struct Draw {
    forward: Affine,
    jitter: Jitter,
    degrade: Degrade,
}

impl Draw {
    fn new(a: &AugmentConfig, width: usize, height: usize, rng: &mut ChaCha8Rng) -> Draw {
        Draw {
            forward: a.affine().draw_for(rng, width, height),
            jitter: a.intensity().draw(rng),
            degrade: a.degrade().draw(rng),
        }
    }

    fn apply(&self, img: &GrayImage) -> GrayImage {
        let to_source = self.forward.inverse().expect("scale is positive");
        let mut out = warp(img, img.width, img.height, &to_source, 0.0);
        // Sharpness is lost before the detector's noise is added.
        self.degrade.apply(&mut out);
        self.jitter.apply(&mut out);
        standardize(&mut out);
        out
    }
}

#[cfg(test)]
mod tests;
