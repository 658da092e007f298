//! Accuracy of bone age predictions: MAE, RMSE, bias, share within 12 months, the
//! mean-predictor baseline — overall, by sex and by development stage.

use crate::reference::Stage;
use crate::sex::Sex;
use crate::stats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Errors of a set of predictions, months.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    /// Number of cases.
    pub n: usize,
    /// Mean absolute error, months.
    pub mae_months: f64,
    /// Root mean square error, months.
    pub rmse_months: f64,
    /// Mean of prediction − truth.
    pub bias_months: f64,
    /// Share of cases within 12 months of the reference.
    pub within_12_months_fraction: f64,
    /// MAE of predicting `baseline_mean_months` for every case.
    pub baseline_mae_months: f64,
}

impl ErrorSummary {
    /// `baseline_mean` is the constant the mean predictor outputs (the training mean).
    pub fn of(pred: &[f64], truth: &[f64], baseline_mean: f64) -> ErrorSummary {
        let n = pred.len();
        let within = pred
            .iter()
            .zip(truth)
            .filter(|(p, t)| (*p - *t).abs() <= 12.0)
            .count();
        ErrorSummary {
            n,
            mae_months: stats::mae(pred, truth),
            rmse_months: stats::rmse(pred, truth),
            bias_months: pred.iter().zip(truth).map(|(p, t)| p - t).sum::<f64>() / n.max(1) as f64,
            within_12_months_fraction: within as f64 / n.max(1) as f64,
            baseline_mae_months: truth.iter().map(|t| (t - baseline_mean).abs()).sum::<f64>()
                / n.max(1) as f64,
        }
    }
}

/// One evaluated case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Sex of the patient.
    pub sex: Sex,
    /// Reference bone age, months.
    pub truth_months: f64,
    /// Predicted bone age, months.
    pub pred_months: f64,
}

/// Overall, per-sex and per-stage (by true bone age) error summaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// All cases.
    #[serde(flatten)]
    pub overall: ErrorSummary,
    /// By sex (`female`, `male`).
    pub by_sex: BTreeMap<String, ErrorSummary>,
    /// By development stage of the reference bone age.
    pub by_stage: BTreeMap<String, ErrorSummary>,
}

impl Evaluation {
    /// The errors of `cases`, with the mean predictor answering `baseline_mean` as the baseline.
    pub fn of(cases: &[Case], baseline_mean: f64) -> Evaluation {
        let summary = |sel: &dyn Fn(&Case) -> bool| {
            let (p, t): (Vec<f64>, Vec<f64>) = cases
                .iter()
                .filter(|c| sel(c))
                .map(|c| (c.pred_months, c.truth_months))
                .unzip();
            (!p.is_empty()).then(|| ErrorSummary::of(&p, &t, baseline_mean))
        };
        let mut by_sex = BTreeMap::new();
        for sex in [Sex::Male, Sex::Female] {
            if let Some(s) = summary(&|c: &Case| c.sex == sex) {
                by_sex.insert(sex.to_string(), s);
            }
        }
        let mut by_stage = BTreeMap::new();
        for stage in Stage::ALL {
            if let Some(s) = summary(&|c: &Case| Stage::of(c.sex, c.truth_months) == stage) {
                by_stage.insert(stage.name().to_string(), s);
            }
        }
        Evaluation {
            overall: summary(&|_| true)
                .unwrap_or_else(|| ErrorSummary::of(&[], &[], baseline_mean)),
            by_sex,
            by_stage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_by_group() {
        let cases = vec![
            Case {
                sex: Sex::Male,
                truth_months: 120.0,
                pred_months: 130.0,
            },
            Case {
                sex: Sex::Male,
                truth_months: 60.0,
                pred_months: 40.0,
            },
            Case {
                sex: Sex::Female,
                truth_months: 100.0,
                pred_months: 100.0,
            },
        ];
        let e = Evaluation::of(&cases, 100.0);
        assert_eq!(e.overall.n, 3);
        assert!((e.overall.mae_months - 10.0).abs() < 1e-12);
        assert!((e.overall.within_12_months_fraction - 2.0 / 3.0).abs() < 1e-12);
        assert!((e.overall.baseline_mae_months - 20.0).abs() < 1e-12);
        assert!((e.overall.bias_months + 10.0 / 3.0).abs() < 1e-12);
        assert_eq!(e.by_sex["male"].n, 2);
        assert_eq!(e.by_sex["female"].mae_months, 0.0);
        assert_eq!(e.by_stage["pre-puberty"].n, 1);
        let j = serde_json::to_value(&e).unwrap();
        assert!(j["mae_months"].is_number() && j["by_sex"]["male"]["rmse_months"].is_number());
    }
}
