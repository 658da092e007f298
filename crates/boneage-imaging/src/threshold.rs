//! Thresholds: histograms, Otsu's method, and a local (adaptive) mean threshold.

use crate::gray::GrayImage;

/// Number of bins used for histogram-based thresholds on `[0, 1]` data.
pub const BINS: usize = 256;

/// Histogram of values in `[0, 1]` over [`BINS`] bins (values outside are clamped), counting
/// only pixels where `mask` (if given) is true.
pub fn histogram(img: &GrayImage, mask: Option<&[bool]>) -> [u64; BINS] {
    let mut h = [0u64; BINS];
    for (i, &v) in img.data.iter().enumerate() {
        if mask.is_some_and(|m| !m[i]) {
            continue;
        }
        let b = (v.clamp(0.0, 1.0) * (BINS - 1) as f32 + 0.5) as usize;
        h[b] += 1;
    }
    h
}

/// Otsu's threshold of a histogram: the bin edge that maximises the between-class variance,
/// returned as a value in `[0, 1]`; pixels `> threshold` form the bright class.
pub fn otsu_from_histogram(h: &[u64; BINS]) -> f32 {
    let total: u64 = h.iter().sum();
    if total == 0 {
        return 0.5;
    }
    let sum_all: f64 = h
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut w0, mut sum0) = (0f64, 0f64);
    let (mut best, mut best_t) = (-1f64, 0usize);
    for (t, &c) in h.iter().enumerate() {
        w0 += c as f64;
        sum0 += t as f64 * c as f64;
        let w1 = total as f64 - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let m0 = sum0 / w0;
        let m1 = (sum_all - sum0) / w1;
        let var = w0 * w1 * (m0 - m1) * (m0 - m1);
        if var > best {
            best = var;
            best_t = t;
        }
    }
    (best_t as f32 + 0.5) / (BINS - 1) as f32
}

/// Otsu's threshold of an image (optionally within a mask).
pub fn otsu(img: &GrayImage, mask: Option<&[bool]>) -> f32 {
    otsu_from_histogram(&histogram(img, mask))
}

/// Pixels brighter than `t`.
pub fn above(img: &GrayImage, t: f32) -> Vec<bool> {
    img.data.iter().map(|&v| v > t).collect()
}

/// Value below which a fraction `q` of the histogram's pixels lie.
pub fn histogram_quantile(h: &[u64; BINS], q: f64) -> f32 {
    let total: u64 = h.iter().sum();
    let target = (q.clamp(0.0, 1.0) * total as f64).ceil() as u64;
    let mut acc = 0;
    for (i, &c) in h.iter().enumerate() {
        acc += c;
        if acc >= target.max(1) {
            return i as f32 / (BINS - 1) as f32;
        }
    }
    1.0
}

/// Adaptive mean threshold (OpenCV's `ADAPTIVE_THRESH_MEAN_C` with `THRESH_BINARY`): a pixel
/// is foreground when it is brighter than the mean of the `block x block` window around it
/// minus `c`. At the border the window is cut to the pixels inside the image (OpenCV replicates
/// the edge instead; the two differ only within `block / 2` of the border). `block` must be odd
/// and at least 3. Runs in `O(width * height)` through an integral image.
pub fn adaptive_mean(img: &GrayImage, block: usize, c: f32) -> Vec<bool> {
    assert!(
        block >= 3 && block % 2 == 1,
        "adaptive_mean: block must be odd and >= 3"
    );
    let (w, h) = (img.width, img.height);
    let stride = w + 1;
    let mut integral = vec![0f64; stride * (h + 1)];
    for y in 0..h {
        let mut row = 0f64;
        for x in 0..w {
            row += img.get(x, y) as f64;
            integral[(y + 1) * stride + x + 1] = integral[y * stride + x + 1] + row;
        }
    }
    let r = block / 2;
    let mut out = vec![false; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let sum = integral[y1 * stride + x1]
                - integral[y0 * stride + x1]
                - integral[y1 * stride + x0]
                + integral[y0 * stride + x0];
            let mean = sum / ((y1 - y0) * (x1 - x0)) as f64;
            out[y * w + x] = img.get(x, y) as f64 > mean - c as f64;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_finds_a_faint_object_on_a_ramp() {
        // A background ramp from 0.1 to 0.7 and a square 0.05 brighter than its surroundings:
        // no global threshold separates it, a local one does.
        let (w, h) = (64, 64);
        let mut img = GrayImage::new(w, h, 0.0);
        for y in 0..h {
            for x in 0..w {
                let base = 0.1 + 0.6 * x as f32 / w as f32;
                let inside = (20..30).contains(&x) && (20..30).contains(&y);
                img.set(x, y, base + if inside { 0.05 } else { 0.0 });
            }
        }
        let m = adaptive_mean(&img, 31, -0.01);
        assert!(m[25 * w + 25]);
        assert!(!m[5 * w + 25] && !m[25 * w + 45]);
        let inside = (20..30).flat_map(|y| (20..30).map(move |x| (x, y)));
        assert!(inside.clone().filter(|&(x, y)| m[y * w + x]).count() >= 90);
    }

    #[test]
    fn otsu_separates_two_levels() {
        let mut img = GrayImage::new(10, 10, 0.2);
        for v in img.data.iter_mut().take(30) {
            *v = 0.8;
        }
        let t = otsu(&img, None);
        assert!(t > 0.2 && t < 0.8, "{t}");
        assert_eq!(above(&img, t).iter().filter(|b| **b).count(), 30);
        let h = histogram(&img, None);
        assert!((histogram_quantile(&h, 0.5) - 0.2).abs() < 0.01);
        assert!((histogram_quantile(&h, 0.9) - 0.8).abs() < 0.01);
    }
}
