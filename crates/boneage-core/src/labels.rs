//! Label encodings of bone age for the networks.
//!
//! - Regression: `scaled = (age − 120) / 120`, so 0–240 months maps to [−1, 1] (the seed's
//!   scaling).
//! - Classification: [`BINS`] one-month bins with a **cumulative (ordinal) target**: output `k`
//!   (0-based) is trained towards `clamp(age − k, 0, 1)`, i.e. "is the age above `k` months", with
//!   the fractional month shared by the bin it falls in. The sum of the targets equals the age, so
//!   an age is read back from a network as the sum of its 240 sigmoid outputs (the expected
//!   number of thresholds passed). Neighbouring ages get neighbouring targets, which a one-hot
//!   encoding would not give, and the read-out needs no arg-max.

/// Number of one-month classification bins (0–240 months).
pub const BINS: usize = 240;

/// Centre of the regression scaling, months.
pub const AGE_CENTRE: f64 = 120.0;
/// Half-range of the regression scaling, months.
pub const AGE_HALF_RANGE: f64 = 120.0;

/// Age in months → regression target.
pub fn scale_age(age_months: f64) -> f64 {
    (age_months - AGE_CENTRE) / AGE_HALF_RANGE
}

/// Regression output → age in months.
pub fn unscale_age(scaled: f64) -> f64 {
    scaled * AGE_HALF_RANGE + AGE_CENTRE
}

/// Cumulative target of an age: `t[k] = clamp(age − k, 0, 1)`.
pub fn cumulative_target(age_months: f64) -> [f32; BINS] {
    let mut t = [0f32; BINS];
    for (k, v) in t.iter_mut().enumerate() {
        *v = (age_months - k as f64).clamp(0.0, 1.0) as f32;
    }
    t
}

/// Age from per-bin probabilities P(age > k): their sum.
pub fn age_from_cumulative(probabilities: &[f32]) -> f64 {
    probabilities.iter().map(|&p| p as f64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip() {
        for age in [0.0, 1.0, 37.5, 120.0, 228.0, 240.0] {
            assert!((unscale_age(scale_age(age)) - age).abs() < 1e-12);
            let t = cumulative_target(age);
            assert!((age_from_cumulative(&t) - age).abs() < 1e-4, "{age}");
            assert!(t.windows(2).all(|w| w[0] >= w[1]), "monotone");
        }
        assert_eq!(scale_age(0.0), -1.0);
        assert_eq!(scale_age(240.0), 1.0);
        let t = cumulative_target(2.25);
        assert_eq!(&t[..4], &[1.0, 1.0, 0.25, 0.0]);
    }
}
