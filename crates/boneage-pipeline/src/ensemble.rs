//! Stages 7 and 8: every member net on its region's views, and the weighted ensemble (with the
//! bundle's calibration line), plus the ensemble weights' fit used when a bundle is made.

use boneage_core::Sex;
use boneage_imaging::registration::Region;
use boneage_imaging::GrayImage;
use boneage_nn::bundle::{Bundle, Calibration, IntervalInfo};
use boneage_nn::vgg::Head;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// Members disagreeing by more than this SD (months) is reported as a warning.
pub const SPREAD_WARNING_MONTHS: f64 = 24.0;

/// One member's estimate.
#[derive(Debug, Clone, Serialize)]
pub struct MemberValue {
    /// The member's name in the bundle.
    pub name: String,
    /// The region it reads (A, B or C).
    pub region: String,
    /// Regression or 240-bin classification.
    pub head: Head,
    /// Its estimate, the mean over the views.
    pub bone_age_months: f64,
    /// SD over the test-time augmentation draws (0 without TTA).
    pub tta_sd_months: f64,
    /// Its ensemble weight.
    pub weight: f64,
}

/// The ensemble's estimate for one radiograph.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// The weighted mean of the members, through the bundle's calibration line if it has one.
    pub bone_age_months: f64,
    /// SD of the members' estimates around the ensemble's, weighted by the ensemble weights:
    /// how much the nets that count disagree.
    pub spread_months: f64,
    /// Ensemble of each region's members (weights renormalized within the region; plain
    /// mean where they are all 0).
    pub by_region: BTreeMap<String, f64>,
    /// The same per head (`regression`, `classification`).
    pub by_head: BTreeMap<String, f64>,
    /// Every member's estimate.
    pub members: Vec<MemberValue>,
    /// Number of views per region (1 = no TTA).
    pub tta: usize,
    /// The bundle's prediction interval around the estimate (`[low, high]`, months), when the
    /// bundle has one.
    pub interval_months: Option<[f64; 2]>,
}

impl Prediction {
    /// Warnings about the ensemble's answer itself.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.spread_months > SPREAD_WARNING_MONTHS {
            w.push(format!(
                "the nets disagree: SD {:.1} months between members",
                self.spread_months
            ));
        }
        w
    }
}

/// Stage 7, members: each member net of the bundle on the views of its region, averaged over
/// the views.
pub fn run_members(
    bundle: &Bundle,
    views: &[(Region, Vec<GrayImage>)],
    sex: Sex,
) -> Vec<MemberValue> {
    let mut members = Vec::new();
    for (m, run) in bundle.manifest.members.iter().zip(&bundle.members) {
        let Some((_, imgs)) = views.iter().find(|(r, _)| r.name() == m.region) else {
            continue;
        };
        let (w, h) = (
            run.config.model.input_width as usize,
            run.config.model.input_height as usize,
        );
        // Inversion decided once, on the unmoved view, as training decided it on the stored
        // region.
        let invert = run.config.data.fix_inverted
            && imgs
                .first()
                .is_some_and(boneage_imaging::quality::looks_inverted);
        let inputs: Vec<GrayImage> = imgs
            .par_iter()
            .map(|v| boneage_nn::data::network_input_inverted(v.clone(), invert, w, h))
            .collect();
        let ages = run.predict_inputs(&inputs, sex.is_male());
        members.push(MemberValue {
            name: m.name.clone(),
            region: m.region.clone(),
            head: m.head,
            bone_age_months: ages.iter().sum::<f64>() / ages.len().max(1) as f64,
            tta_sd_months: sd(&ages),
            weight: m.weight,
        });
    }
    members
}

/// Stage 8, ensemble: the members' weighted mean through the bundle's calibration line.
pub fn ensemble(bundle: &Bundle, members: Vec<MemberValue>, views: usize) -> Prediction {
    let mut p = combine(members, views);
    if let Some(c) = &bundle.manifest.calibration {
        p.bone_age_months = c.apply(p.bone_age_months);
    }
    p.interval_months = bundle
        .manifest
        .interval
        .as_ref()
        .map(|i| i.around(p.bone_age_months, p.spread_months));
    p
}

/// The weighted ensemble of member estimates, with per-region and per-head values.
pub fn combine(members: Vec<MemberValue>, tta: usize) -> Prediction {
    let pairs = |f: &dyn Fn(&MemberValue) -> bool| -> Vec<(f64, f64)> {
        members
            .iter()
            .filter(|m| f(m))
            .map(|m| (m.bone_age_months, m.weight))
            .collect()
    };
    let mut by_region = BTreeMap::new();
    for r in Region::ALL {
        let p = pairs(&|m| m.region == r.name());
        if !p.is_empty() {
            by_region.insert(r.name().to_string(), weighted_mean(&p));
        }
    }
    let mut by_head = BTreeMap::new();
    for (h, name) in [
        (Head::Regression, "regression"),
        (Head::Classification, "classification"),
    ] {
        let p = pairs(&|m| m.head == h);
        if !p.is_empty() {
            by_head.insert(name.to_string(), weighted_mean(&p));
        }
    }
    let all = pairs(&|_| true);
    let mean = weighted_mean(&all);
    let wsum: f64 = all.iter().map(|(_, w)| w).sum();
    let spread = if wsum > 0.0 {
        (all.iter()
            .map(|(v, w)| w * (v - mean) * (v - mean))
            .sum::<f64>()
            / wsum)
            .sqrt()
    } else {
        sd(&all.iter().map(|(v, _)| *v).collect::<Vec<_>>())
    };
    Prediction {
        interval_months: None,
        bone_age_months: mean,
        spread_months: spread,
        by_region,
        by_head,
        members,
        tta,
    }
}

/// Ensemble weights (≥ 0, summing to 1) that minimize the MAE of `preds[member][case]`
/// against `truth`: start from the best single member, then move weight between pairs of
/// members while the MAE falls, in steps from 0.2 down to 0.0125. The result is never worse
/// on these cases than the best single member.
pub fn fit_weights(preds: &[Vec<f64>], truth: &[f64]) -> Vec<f64> {
    let m = preds.len();
    let mae = |w: &[f64]| -> f64 {
        truth
            .iter()
            .enumerate()
            .map(|(i, t)| (preds.iter().zip(w).map(|(p, w)| p[i] * w).sum::<f64>() - t).abs())
            .sum::<f64>()
            / truth.len().max(1) as f64
    };
    let mut w = vec![0.0; m];
    if m == 0 {
        return w;
    }
    let best = (0..m)
        .min_by(|&a, &b| {
            let one = |k: usize| {
                let mut v = vec![0.0; m];
                v[k] = 1.0;
                mae(&v)
            };
            one(a).total_cmp(&one(b))
        })
        .unwrap_or(0);
    w[best] = 1.0;
    let mut cur = mae(&w);
    let mut step: f64 = 0.2;
    while step >= 0.0125 {
        let mut improved = true;
        while improved {
            improved = false;
            for from in 0..m {
                for to in 0..m {
                    if from == to || w[from] <= 0.0 {
                        continue;
                    }
                    let d = step.min(w[from]);
                    w[from] -= d;
                    w[to] += d;
                    let e = mae(&w);
                    if e + 1e-9 < cur {
                        cur = e;
                        improved = true;
                    } else {
                        w[from] += d;
                        w[to] -= d;
                    }
                }
            }
        }
        step /= 2.0;
    }
    w
}

/// How the members' weights are chosen from their validation predictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weighting {
    /// [`fit_weights`]: the weights that minimize the validation MAE.
    Fitted,
    /// Every member the same weight.
    Equal,
}

impl Weighting {
    /// The weights for `preds[member][case]` against `truth`.
    pub fn weights(self, preds: &[Vec<f64>], truth: &[f64]) -> Vec<f64> {
        match self {
            Weighting::Fitted => fit_weights(preds, truth),
            Weighting::Equal => vec![1.0 / preds.len().max(1) as f64; preds.len()],
        }
    }

    /// In words, for the manifest.
    pub fn describe(self) -> &'static str {
        match self {
            Weighting::Fitted => {
                "weights >= 0 summing to 1 that minimize the validation MAE (pairwise weight \
                 moves from the best single member)"
            }
            Weighting::Equal => "equal weights",
        }
    }
}

/// The ensemble's MAE on the validation cases when each case is predicted by weights (and,
/// with `calibrate`, a calibration line, [`Calibration::fit`]) chosen on the other cases only:
/// what the rule is worth on films it did not see. With few validation films, fitted weights
/// (or a line) can score well on the films they were fitted to and worse on new ones.
pub fn leave_one_out_mae(
    rule: Weighting,
    calibrate: bool,
    preds: &[Vec<f64>],
    truth: &[f64],
) -> f64 {
    let est = leave_one_out_estimates(rule, calibrate, preds, truth);
    if est.is_empty() {
        return f64::NAN;
    }
    est.iter()
        .zip(truth)
        .map(|(e, t)| (e - t).abs())
        .sum::<f64>()
        / est.len() as f64
}

/// Each validation case's estimate from weights (and, with `calibrate`, a calibration line)
/// fitted on the other cases (empty with fewer than two cases).
pub fn leave_one_out_estimates(
    rule: Weighting,
    calibrate: bool,
    preds: &[Vec<f64>],
    truth: &[f64],
) -> Vec<f64> {
    let n = truth.len();
    if n < 2 || preds.is_empty() {
        return Vec::new();
    }
    (0..n)
        .map(|i| {
            let keep = |v: &[f64]| -> Vec<f64> {
                v.iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, x)| *x)
                    .collect()
            };
            let p: Vec<Vec<f64>> = preds.iter().map(|m| keep(m)).collect();
            let t = keep(truth);
            let w = rule.weights(&p, &t);
            let ens = |k: usize, set: &[Vec<f64>]| -> f64 {
                set.iter().zip(&w).map(|(m, w)| m[k] * w).sum()
            };
            let estimate = ens(i, preds);
            if !calibrate {
                return estimate;
            }
            let fitted: Vec<f64> = (0..t.len()).map(|k| ens(k, &p)).collect();
            match Calibration::fit(&fitted, &t) {
                Some(c) => c.apply(estimate),
                None => estimate,
            }
        })
        .collect()
}

/// The members' spread for each case: the SD of their estimates around the weighted mean,
/// weighted as the ensemble weights them (as [`Prediction::spread_months`]).
pub fn spreads(preds: &[Vec<f64>], weights: &[f64]) -> Vec<f64> {
    let n = preds.first().map_or(0, Vec::len);
    (0..n)
        .map(|i| {
            let members: Vec<MemberValue> = preds
                .iter()
                .zip(weights)
                .map(|(p, &w)| MemberValue {
                    name: String::new(),
                    region: String::new(),
                    head: Head::Regression,
                    bone_age_months: p[i],
                    tta_sd_months: 0.0,
                    weight: w,
                })
                .collect();
            combine(members, 1).spread_months
        })
        .collect()
}

/// A split-conformal prediction interval of nominal `coverage` from validation cases: the
/// absolute errors of estimates the cases did not help fit (e.g.
/// [`leave_one_out_estimates`]) and the members' spread per case. Two forms are calibrated to
/// the same coverage — a constant half-width (the ⌈(n+1)·coverage⌉-th smallest error) and one
/// proportional to the spread plus one month — and the one whose intervals are narrower on
/// average is taken.
pub fn fit_interval(errors: &[f64], spreads: &[f64], coverage: f64) -> Option<IntervalInfo> {
    let n = errors.len();
    if n < 10 || spreads.len() != n {
        return None;
    }
    let quantile = |mut v: Vec<f64>| -> f64 {
        v.sort_by(f64::total_cmp);
        let k = (((n + 1) as f64 * coverage).ceil() as usize).clamp(1, n);
        v[k - 1]
    };
    let constant = quantile(errors.to_vec());
    let factor = quantile(
        errors
            .iter()
            .zip(spreads)
            .map(|(e, s)| e / (s + 1.0))
            .collect(),
    );
    let mean_spread = spreads.iter().sum::<f64>() / n as f64;
    let scaled_width = factor * (mean_spread + 1.0);
    let pct = (coverage * 100.0).round();
    Some(if scaled_width < constant {
        IntervalInfo {
            coverage,
            half_width_months: factor,
            spread_factor: factor,
            method: format!(
                "split conformal on {n} validation films' leave-one-out errors, scaled by the \
                 members' spread + 1 month: the {pct}% quantile of error / (spread + 1) \
                 (mean half-width {scaled_width:.1} against {constant:.1} for a constant one)"
            ),
            n_valid: n,
        }
    } else {
        IntervalInfo {
            coverage,
            half_width_months: constant,
            spread_factor: 0.0,
            method: format!(
                "split conformal on {n} validation films' leave-one-out errors: their {pct}% \
                 quantile as a constant half-width (narrower than scaling by the members' \
                 spread, {scaled_width:.1} months on average)"
            ),
            n_valid: n,
        }
    })
}

fn weighted_mean(values: &[(f64, f64)]) -> f64 {
    let w: f64 = values.iter().map(|(_, w)| w).sum();
    if w > 0.0 {
        values.iter().map(|(v, w)| v * w).sum::<f64>() / w
    } else {
        values.iter().map(|(v, _)| v).sum::<f64>() / values.len().max(1) as f64
    }
}

fn sd(values: &[f64]) -> f64 {
    let n = values.len().max(1) as f64;
    let m = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn leave_one_out_tells_overfitted_weights_from_useful_ones() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let truth: Vec<f64> = (0..40).map(|i| 6.0 * i as f64).collect();
        // Eight members of the same quality: fitted weights chase the noise of 40 cases, so on
        // cases left out they do no better than equal weights; in-sample they look better.
        let same: Vec<Vec<f64>> = (0..8)
            .map(|_| {
                truth
                    .iter()
                    .map(|t| t + rng.gen_range(-15.0..15.0))
                    .collect()
            })
            .collect();
        let loo_fit = leave_one_out_mae(Weighting::Fitted, true, &same, &truth);
        let loo_eq = leave_one_out_mae(Weighting::Equal, true, &same, &truth);
        let w = fit_weights(&same, &truth);
        let in_sample: f64 = (0..40)
            .map(|i| (same.iter().zip(&w).map(|(p, w)| p[i] * w).sum::<f64>() - truth[i]).abs())
            .sum::<f64>()
            / 40.0;
        assert!(in_sample < loo_fit, "{in_sample} vs {loo_fit}");
        assert!(
            loo_eq <= loo_fit + 0.5,
            "equal {loo_eq} vs fitted {loo_fit}"
        );
        // One useless member among good ones: fitted weights drop it, equal weights do not.
        let mut mixed = same[..3].to_vec();
        mixed.push((0..40).map(|_| rng.gen_range(0.0..240.0)).collect());
        let loo_fit = leave_one_out_mae(Weighting::Fitted, false, &mixed, &truth);
        let loo_eq = leave_one_out_mae(Weighting::Equal, false, &mixed, &truth);
        assert!(loo_fit < loo_eq, "fitted {loo_fit} vs equal {loo_eq}");
        assert_eq!(Weighting::Equal.weights(&mixed, &truth), vec![0.25; 4]);
    }

    #[test]
    fn conformal_intervals_cover_new_cases_at_their_nominal_rate() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let mut normal = move || {
            let (u1, u2): (f64, f64) = (rng.gen_range(1e-9..1.0), rng.gen());
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        };
        // Errors that grow with the members' spread: the scaled form is narrower.
        let draw = |n: usize, normal: &mut dyn FnMut() -> f64| -> (Vec<f64>, Vec<f64>) {
            (0..n)
                .map(|i| {
                    let spread = 1.0 + (i % 20) as f64;
                    ((2.0 * spread * normal()).abs(), spread)
                })
                .unzip()
        };
        let (err, spr) = draw(400, &mut normal);
        let iv = fit_interval(&err, &spr, 0.95).unwrap();
        assert!(iv.spread_factor > 0.0, "{iv:?}");
        let (new_err, new_spr) = draw(4000, &mut normal);
        let covered = new_err
            .iter()
            .zip(&new_spr)
            .filter(|(e, s)| {
                let [lo, hi] = iv.around(100.0, **s);
                (lo..=hi).contains(&(100.0 + **e))
            })
            .count() as f64
            / 4000.0;
        assert!((0.93..=0.97).contains(&covered), "coverage {covered}");
        // Errors that do not depend on the spread: a constant half-width, also 95%.
        let err: Vec<f64> = (0..400).map(|_| (8.0 * normal()).abs()).collect();
        let iv = fit_interval(&err, &spr, 0.95).unwrap();
        assert_eq!(iv.spread_factor, 0.0, "{iv:?}");
        assert!((iv.half_width_months - 1.96 * 8.0).abs() < 2.0, "{iv:?}");
        assert_eq!(iv.around(5.0, 3.0)[0], 0.0, "kept within 0-240 months");
        assert!(
            fit_interval(&err[..5], &spr[..5], 0.95).is_none(),
            "too few cases"
        );
    }

    #[test]
    fn weights_beat_or_match_the_best_member() {
        // Two members with independent errors: averaging halves the error variance.
        let truth: Vec<f64> = (0..200).map(|i| i as f64).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let noisy = |rng: &mut ChaCha8Rng, sd: f64| -> Vec<f64> {
            truth.iter().map(|t| t + rng.gen_range(-sd..sd)).collect()
        };
        let preds = vec![
            noisy(&mut rng, 10.0),
            noisy(&mut rng, 12.0),
            vec![100.0; 200],
        ];
        let w = fit_weights(&preds, &truth);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(w.iter().all(|&x| x >= 0.0));
        assert!(w[0] > 0.2 && w[1] > 0.2, "{w:?}");
        assert!(w[2] < 0.1, "{w:?}");
        let mae = |p: &[f64]| {
            p.iter()
                .zip(&truth)
                .map(|(a, b)| (a - b).abs())
                .sum::<f64>()
                / 200.0
        };
        let ens: Vec<f64> = (0..200)
            .map(|i| preds.iter().zip(&w).map(|(p, w)| p[i] * w).sum())
            .collect();
        assert!(
            mae(&ens) < mae(&preds[0]) * 0.9,
            "{} vs {}",
            mae(&ens),
            mae(&preds[0])
        );
    }

    #[test]
    fn combine_reports_regions_heads_and_spread() {
        let mv = |name: &str, region: &str, head, v, weight| MemberValue {
            name: name.into(),
            region: region.into(),
            head,
            bone_age_months: v,
            tta_sd_months: 0.0,
            weight,
        };
        let p = combine(
            vec![
                mv("A-r", "A", Head::Regression, 100.0, 0.5),
                mv("A-c", "A", Head::Classification, 110.0, 0.5),
                mv("B-r", "B", Head::Regression, 130.0, 0.0),
            ],
            1,
        );
        assert!((p.bone_age_months - 105.0).abs() < 1e-9);
        assert!((p.by_region["A"] - 105.0).abs() < 1e-9);
        assert!(
            (p.by_region["B"] - 130.0).abs() < 1e-9,
            "zero weights: plain mean"
        );
        assert!((p.by_head["regression"] - 100.0).abs() < 1e-9);
        // Weighted: the weight-0 member does not count.
        assert!((p.spread_months - 5.0).abs() < 1e-9, "{}", p.spread_months);
    }
}
