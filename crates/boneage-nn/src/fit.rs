//! The epoch loop shared by the segmentation and keypoint trainers: AdamW, one epoch of
//! linear warm-up then cosine decay to 5% of the peak, a seeded shuffle per epoch, a stop on a
//! non-finite loss, a validation score after every epoch, and the weights of the best-scoring
//! epoch restored at the end.

use crate::training::TrainError;
use crate::vgg::ConfigError;
use boneage_imaging::GrayImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{nn, nn::OptimizerConfig, Tensor};

/// Optimisation settings of a run.
pub(crate) struct Fit {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub seed: u64,
}

/// Trains the variables of `vs` over `n` samples. `batch_loss(indices, epoch, batch)` builds
/// and runs one batch and returns its loss; `score()` rates the model after each epoch (NaN
/// when there is nothing to rate it on); `on_epoch(epoch, mean loss, score, seconds)` sees each
/// epoch. `what` names the model in errors.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    vs: &nn::VarStore,
    fit: &Fit,
    n: usize,
    what: &str,
    batch_loss: &mut dyn FnMut(&[usize], usize, usize) -> Tensor,
    score: &dyn Fn() -> f64,
    higher_is_better: bool,
    on_epoch: &mut dyn FnMut(usize, f64, f64, f64),
) -> Result<(), TrainError> {
    let mut opt = nn::AdamW {
        wd: fit.weight_decay,
        ..Default::default()
    }
    .build(vs, fit.lr)?;
    let steps_per_epoch = n.div_ceil(fit.batch_size);
    let total = steps_per_epoch * fit.epochs;
    let mut step = 0usize;
    let mut best: Option<(f64, Vec<(String, Tensor)>)> = None;
    for epoch in 0..fit.epochs {
        let t0 = std::time::Instant::now();
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(fit.seed ^ ((epoch as u64) << 32));
        for i in (1..order.len()).rev() {
            order.swap(i, rng.gen_range(0..=i));
        }
        let mut loss_sum = 0.0;
        for (b, chunk) in order.chunks(fit.batch_size).enumerate() {
            opt.set_lr(warm_cosine(fit.lr, step, steps_per_epoch, total));
            let loss = batch_loss(chunk, epoch, b);
            let lv = loss.double_value(&[]);
            if !lv.is_finite() {
                return Err(TrainError::Config(ConfigError(format!(
                    "{what} loss became {lv} at epoch {}",
                    epoch + 1
                ))));
            }
            opt.backward_step(&loss);
            loss_sum += lv;
            step += 1;
        }
        let s = score();
        on_epoch(
            epoch + 1,
            loss_sum / steps_per_epoch as f64,
            s,
            t0.elapsed().as_secs_f64(),
        );
        let better = |b: f64| if higher_is_better { s > b } else { s < b };
        if !s.is_nan() && best.as_ref().is_none_or(|b| better(b.0)) {
            best = Some((s, snapshot(vs)));
        }
    }
    if let Some((_, snap)) = best {
        restore(vs, snap);
    }
    Ok(())
}

/// One batch's samples, each drawn by `draw(index, rng)` with its own generator seeded by
/// [`sample_seed`] (so a batch is the same whatever the thread count), in parallel.
pub(crate) fn draw_batch<T: Send>(
    chunk: &[usize],
    seed: u64,
    epoch: usize,
    batch: usize,
    draw: impl Fn(usize, &mut ChaCha8Rng) -> T + Sync,
) -> Vec<T> {
    use rayon::prelude::*;
    chunk
        .par_iter()
        .map(|&i| {
            draw(
                i,
                &mut ChaCha8Rng::seed_from_u64(sample_seed(seed, epoch, batch, i)),
            )
        })
        .collect()
}

/// Standardised copies of images (zero mean, unit SD), as the nets see them without
/// augmentation.
pub(crate) fn standardized<'a>(images: impl Iterator<Item = &'a GrayImage>) -> Vec<GrayImage> {
    images
        .map(|img| {
            let mut i = img.clone();
            boneage_imaging::intensity::standardize(&mut i);
            i
        })
        .collect()
}

/// The per-sample seed of an augmentation draw: depends on the run's seed, the epoch, the
/// batch and the sample, nothing else.
pub(crate) fn sample_seed(seed: u64, epoch: usize, batch: usize, index: usize) -> u64 {
    seed ^ ((epoch as u64) << 40) ^ ((batch as u64) << 20) ^ index as u64
}

/// Learning rate at `step`: linear warm-up over the first epoch, then cosine decay from `peak`
/// to 5% of it at the last step.
pub(crate) fn warm_cosine(peak: f64, step: usize, steps_per_epoch: usize, total: usize) -> f64 {
    let warm = steps_per_epoch as f64;
    if (step as f64) < warm {
        peak * (step + 1) as f64 / warm
    } else {
        let p = (step as f64 - warm) / (total as f64 - warm).max(1.0);
        peak * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()))
    }
}

/// A detached copy of every variable.
fn snapshot(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    vs.variables()
        .into_iter()
        .map(|(k, v)| (k, v.detach().copy()))
        .collect()
}

/// Writes a snapshot back into the variables.
fn restore(vs: &nn::VarStore, snap: Vec<(String, Tensor)>) {
    let vars = vs.variables();
    tch::no_grad(|| {
        for (k, v) in snap {
            if let Some(mut t) = vars.get(&k).map(|t| t.shallow_clone()) {
                t.copy_(&v);
            }
        }
    });
}
