//! Intensity transforms on `[0, 1]` images: gamma, contrast, noise, standardisation.

use crate::gray::GrayImage;

/// `v → v^gamma` on values clamped to `[0, 1]`.
pub fn gamma(img: &mut GrayImage, gamma: f32) {
    for v in &mut img.data {
        *v = v.clamp(0.0, 1.0).powf(gamma);
    }
}

/// `v → mid + factor·(v − mid)` around the image mean.
pub fn contrast(img: &mut GrayImage, factor: f32) {
    let mid = img.data.iter().sum::<f32>() / img.data.len().max(1) as f32;
    for v in &mut img.data {
        *v = mid + factor * (*v - mid);
    }
}

/// Adds the given noise values (one per pixel, e.g. Gaussian draws scaled by the caller).
pub fn add_noise(img: &mut GrayImage, noise: impl Iterator<Item = f32>) {
    for (v, n) in img.data.iter_mut().zip(noise) {
        *v += n;
    }
}

/// Standardises to zero mean and unit SD (an SD below 1e-6 is treated as 1).
pub fn standardize(img: &mut GrayImage) {
    let n = img.data.len().max(1) as f32;
    let mean = img.data.iter().sum::<f32>() / n;
    let var = img
        .data
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum::<f32>()
        / n;
    let sd = if var.sqrt() < 1e-6 { 1.0 } else { var.sqrt() };
    for v in &mut img.data {
        *v = (*v - mean) / sd;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms() {
        let mut img = GrayImage::from_vec(2, 2, vec![0.0, 0.25, 0.5, 1.0]);
        gamma(&mut img, 2.0);
        assert_eq!(img.data, vec![0.0, 0.0625, 0.25, 1.0]);
        let mut c = GrayImage::from_vec(2, 1, vec![0.4, 0.6]);
        contrast(&mut c, 2.0);
        assert!((c.data[0] - 0.3).abs() < 1e-6 && (c.data[1] - 0.7).abs() < 1e-6);
        standardize(&mut c);
        assert!((c.data[0] + 1.0).abs() < 1e-5 && (c.data[1] - 1.0).abs() < 1e-5);
        let mut flat = GrayImage::new(3, 3, 0.7);
        standardize(&mut flat);
        assert!(flat.data.iter().all(|v| v.abs() < 1e-6));
    }
}
