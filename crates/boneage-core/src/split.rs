//! Reproducible splits stratified by sex and age.
//!
//! Samples are grouped into strata (sex x 24-month age band); inside each stratum they are
//! ordered by id, shuffled with a ChaCha RNG seeded from the seed and the stratum, and dealt out.
//! The result therefore depends only on the samples and the seed, not on row order or platform.

use crate::dataset::Sample;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Width of the age bands used as strata, in months.
pub const AGE_BAND_MONTHS: f64 = 24.0;

fn strata(samples: &[Sample], seed: u64) -> BTreeMap<(bool, i64), Vec<usize>> {
    let mut strata: BTreeMap<(bool, i64), Vec<usize>> = BTreeMap::new();
    for (i, s) in samples.iter().enumerate() {
        let band = (s.bone_age_months / AGE_BAND_MONTHS).floor() as i64;
        strata.entry((s.sex.is_male(), band)).or_default().push(i);
    }
    for (key, idx) in strata.iter_mut() {
        idx.sort_by(|&a, &b| samples[a].id.cmp(&samples[b].id));
        let stream = (key.0 as u64) << 32 | (key.1 as u64 & 0xffff_ffff);
        let mut rng = ChaCha8Rng::seed_from_u64(seed_mix(seed, stream));
        idx.shuffle(&mut rng);
    }
    strata
}

fn seed_mix(seed: u64, stream: u64) -> u64 {
    // SplitMix64 finaliser over (seed, stratum): decorrelates neighbouring strata.
    let mut z = seed.wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Splits `samples` into parts with the given `fractions` (which must sum to 1), stratified by
/// sex and age band. Returns one list of sample indices per part, each sorted.
pub fn stratified_split(samples: &[Sample], fractions: &[f64], seed: u64) -> Vec<Vec<usize>> {
    assert!(!fractions.is_empty(), "split needs at least one fraction");
    let total: f64 = fractions.iter().sum();
    assert!(
        (total - 1.0).abs() < 1e-6 && fractions.iter().all(|f| *f >= 0.0),
        "split fractions must be non-negative and sum to 1, got {fractions:?}"
    );
    let strata = strata(samples, seed);
    let mut parts = vec![Vec::new(); fractions.len()];
    // Carry the rounding remainder from stratum to stratum so small strata do not all round
    // the same way and the overall sizes match the fractions.
    let mut carried = vec![0.0f64; fractions.len()];
    for idx in strata.values() {
        let n = idx.len();
        let mut counts: Vec<usize> = Vec::with_capacity(fractions.len());
        for (k, f) in fractions.iter().enumerate() {
            let want = f * n as f64 + carried[k];
            let c = want.round().max(0.0) as usize;
            carried[k] = want - c as f64;
            counts.push(c);
        }
        // Make the counts sum to n, adjusting the last non-zero fraction.
        let sum: usize = counts.iter().sum();
        let last = fractions.iter().rposition(|f| *f > 0.0).unwrap_or(0);
        if sum > n {
            let mut excess = sum - n;
            for c in counts.iter_mut().rev() {
                let take = excess.min(*c);
                *c -= take;
                excess -= take;
            }
        } else {
            counts[last] += n - sum;
        }
        let mut start = 0;
        for (k, c) in counts.iter().enumerate() {
            parts[k].extend_from_slice(&idx[start..start + c]);
            start += c;
        }
    }
    for p in &mut parts {
        p.sort_unstable();
    }
    parts
}

/// Assigns each sample a fold in `0..k`, stratified by sex and age band.
pub fn kfold(samples: &[Sample], k: usize, seed: u64) -> Vec<usize> {
    assert!(k >= 2, "k-fold needs k >= 2");
    let strata = strata(samples, seed);
    let mut fold = vec![0; samples.len()];
    let mut offset = 0;
    for idx in strata.values() {
        for (j, &i) in idx.iter().enumerate() {
            fold[i] = (j + offset) % k;
        }
        offset += idx.len();
    }
    fold
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sex::Sex;

    fn samples(n: usize) -> Vec<Sample> {
        (0..n)
            .map(|i| Sample {
                id: format!("s{i}"),
                bone_age_months: (i * 37 % 228) as f64,
                sex: Sex::from_is_male(i % 3 != 0),
                chronological_age_months: None,
                image_hint: None,
                image: None,
                line: i as u64 + 2,
            })
            .collect()
    }

    #[test]
    fn split_is_reproducible_complete_and_balanced() {
        let s = samples(1000);
        let a = stratified_split(&s, &[0.8, 0.1, 0.1], 7);
        let b = stratified_split(&s, &[0.8, 0.1, 0.1], 7);
        assert_eq!(a, b);
        let c = stratified_split(&s, &[0.8, 0.1, 0.1], 8);
        assert_ne!(a, c, "another seed gives another split");
        let mut all: Vec<usize> = a.concat();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..1000).collect::<Vec<_>>(),
            "every sample exactly once"
        );
        assert!((a[0].len() as i64 - 800).abs() <= 2, "{}", a[0].len());
        assert!((a[1].len() as i64 - 100).abs() <= 2, "{}", a[1].len());
        // Sex ratio is kept in each part.
        let male =
            |p: &[usize]| p.iter().filter(|&&i| s[i].sex.is_male()).count() as f64 / p.len() as f64;
        for p in &a {
            assert!((male(p) - male(&(0..1000).collect::<Vec<_>>())).abs() < 0.03);
        }
        // Row order does not matter.
        let mut rev = s.clone();
        rev.reverse();
        let r = stratified_split(&rev, &[0.8, 0.1, 0.1], 7);
        let ids = |parts: &[Vec<usize>], set: &[Sample]| -> Vec<Vec<String>> {
            parts
                .iter()
                .map(|p| {
                    let mut v: Vec<String> = p.iter().map(|&i| set[i].id.clone()).collect();
                    v.sort();
                    v
                })
                .collect()
        };
        assert_eq!(ids(&a, &s), ids(&r, &rev));
    }

    #[test]
    fn kfold_balances_folds() {
        let s = samples(500);
        let f = kfold(&s, 5, 1);
        for k in 0..5 {
            let n = f.iter().filter(|&&x| x == k).count();
            assert!((n as i64 - 100).abs() <= 2, "fold {k}: {n}");
        }
    }
}
