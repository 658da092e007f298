//! Summary statistics over ages and errors, in months.

use serde::Serialize;

/// Mean of `xs`; `NaN` for an empty slice.
pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample standard deviation (n − 1 in the denominator); `NaN` below two values.
pub fn sd(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return f64::NAN;
    }
    let m = mean(xs);
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}

/// Mean absolute error between predictions and truth.
pub fn mae(pred: &[f64], truth: &[f64]) -> f64 {
    assert_eq!(pred.len(), truth.len(), "mae: length mismatch");
    pred.iter()
        .zip(truth)
        .map(|(p, t)| (p - t).abs())
        .sum::<f64>()
        / pred.len() as f64
}

/// Root mean squared error between predictions and truth.
pub fn rmse(pred: &[f64], truth: &[f64]) -> f64 {
    assert_eq!(pred.len(), truth.len(), "rmse: length mismatch");
    (pred
        .iter()
        .zip(truth)
        .map(|(p, t)| (p - t).powi(2))
        .sum::<f64>()
        / pred.len() as f64)
        .sqrt()
}

/// Linear-interpolated quantile (`q` in [0, 1]) of unsorted values; `NaN` when empty.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// MAE of always predicting the mean of `truth`: the baseline every model must beat.
pub fn mean_predictor_mae(truth: &[f64]) -> f64 {
    let m = mean(truth);
    truth.iter().map(|t| (t - m).abs()).sum::<f64>() / truth.len() as f64
}

/// Count, mean, SD, min, median and max of a set of values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Standard deviation (population).
    pub sd: f64,
    /// Smallest value.
    pub min: f64,
    /// Median.
    pub median: f64,
    /// Largest value.
    pub max: f64,
}

impl Summary {
    /// The summary of `xs`.
    pub fn of(xs: &[f64]) -> Summary {
        Summary {
            n: xs.len(),
            mean: mean(xs),
            sd: sd(xs),
            min: xs.iter().copied().fold(f64::INFINITY, f64::min),
            median: quantile(xs, 0.5),
            max: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// Counts of values in equal-width bins `[lo + i*width, lo + (i+1)*width)`; values outside
/// `[lo, lo + n*width)` go to the nearest end bin.
pub fn histogram(xs: &[f64], lo: f64, width: f64, n: usize) -> Vec<usize> {
    let mut counts = vec![0; n];
    for &x in xs {
        let i = ((x - lo) / width).floor();
        let i = if i < 0.0 { 0 } else { (i as usize).min(n - 1) };
        counts[i] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_statistics() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(mean(&xs), 2.5);
        assert!((sd(&xs) - 1.2909944).abs() < 1e-6);
        assert_eq!(quantile(&xs, 0.5), 2.5);
        assert_eq!(mean_predictor_mae(&xs), 1.0);
        assert_eq!(mae(&[1.0, 3.0], &[2.0, 2.0]), 1.0);
        assert!((rmse(&[0.0, 4.0], &[0.0, 0.0]) - 8f64.sqrt()).abs() < 1e-12);
        assert_eq!(
            histogram(&[-1.0, 0.5, 1.5, 9.0], 0.0, 1.0, 3),
            vec![2, 1, 1]
        );
        let s = Summary::of(&xs);
        assert_eq!((s.n, s.min, s.max), (4, 1.0, 4.0));
    }
}
