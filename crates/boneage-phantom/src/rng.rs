//! Small sampling helpers over a caller's RNG (the crate never holds a global one), and the
//! per-image generator: one ChaCha8 stream per `(seed, index)`, so an image does not depend on
//! which thread renders it or on the images before it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator for image `index` of a set made with `seed`.
pub fn image_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// Uniform in `[lo, hi)` (`lo` when the range is empty).
#[inline]
pub fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f32, hi: f32) -> f32 {
    if hi <= lo {
        return lo;
    }
    lo + (hi - lo) * rng.gen::<f32>()
}

/// A standard normal deviate (Box-Muller, one of the pair).
#[inline]
pub fn std_normal<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    let u1: f32 = rng.gen::<f32>().max(1e-7);
    let u2: f32 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// `N(mean, sd)` clamped to `mean ± max_dev`.
#[inline]
pub fn normal_clamped<R: Rng + ?Sized>(rng: &mut R, mean: f32, sd: f32, max_dev: f32) -> f32 {
    (mean + sd * std_normal(rng)).clamp(mean - max_dev, mean + max_dev)
}

/// Fills `out` with standard normal deviates, two per uniform pair.
pub fn fill_normal<R: Rng + ?Sized>(rng: &mut R, out: &mut [f32]) {
    let mut chunks = out.chunks_exact_mut(2);
    for pair in &mut chunks {
        let u1: f32 = rng.gen::<f32>().max(1e-7);
        let u2: f32 = rng.gen();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f32::consts::TAU * u2).sin_cos();
        pair[0] = r * c;
        pair[1] = r * s;
    }
    for v in chunks.into_remainder() {
        *v = std_normal(rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normals_have_unit_variance() {
        let mut rng = image_rng(1, 2);
        let mut v = vec![0.0f32; 20000];
        fill_normal(&mut rng, &mut v);
        let m = v.iter().sum::<f32>() / v.len() as f32;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / v.len() as f32;
        assert!(m.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{m} {var}");
    }

    #[test]
    fn streams_differ_and_repeat() {
        let a: u64 = image_rng(7, 0).gen();
        let b: u64 = image_rng(7, 1).gen();
        let c: u64 = image_rng(7, 0).gen();
        assert_ne!(a, b);
        assert_eq!(a, c);
    }
}
