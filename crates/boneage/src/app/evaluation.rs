//! Evaluating one trained run on a labelled set, and the accuracy sections of the HTML
//! reports (predicted vs true, Bland-Altman, error by age, sex and stage).

use crate::app::data::open_dataset;
use crate::report::{
    bar_chart_svg, scatter_svg, Line, Page, Point, Series, FEMALE_COLOR, GREY_COLOR, MALE_COLOR,
};
use anyhow::Context;
use boneage_core::metrics::{Case, ErrorSummary, Evaluation};
use boneage_core::{stats, Sex};
use boneage_imaging::io::write_atomic;
use boneage_nn::run::TrainedRun;
use plotters::style::RGBColor;
use std::fmt::Write as _;
use std::path::Path;

/// Evaluates a loaded run on a dataset and writes the outputs; returns the evaluation.
pub fn evaluate(
    run: &TrainedRun,
    data: &Path,
    images: Option<&Path>,
    out: &Path,
    title: &str,
) -> anyhow::Result<Evaluation> {
    let ds = open_dataset(data, images)?;
    let preds = run.predict(&ds.samples)?;
    let cases: Vec<Case> = ds
        .samples
        .iter()
        .zip(&preds)
        .map(|(s, &p)| Case {
            sex: s.sex,
            truth_months: s.bone_age_months,
            pred_months: p,
        })
        .collect();
    let baseline_mean = run
        .split
        .as_ref()
        .map(|s| s.train_mean_months)
        .unwrap_or_else(|| stats::mean(&ds.ages()));
    let ev = Evaluation::of(&cases, baseline_mean);
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let mut csv = String::from("id,male,bone_age_months,predicted_months,error_months\n");
    for (s, p) in ds.samples.iter().zip(&preds) {
        let _ = writeln!(
            csv,
            "{},{},{},{:.3},{:.3}",
            s.id,
            s.sex.is_male(),
            s.bone_age_months,
            p,
            p - s.bone_age_months
        );
    }
    write_atomic(&out.join("predictions.csv"), csv.as_bytes()).context("predictions.csv")?;
    let mut json = serde_json::to_value(&ev)?;
    json["run"] = serde_json::json!(run.dir);
    json["data"] = serde_json::json!(data);
    json["head"] = serde_json::to_value(run.config.model.head)?;
    json["baseline_mean_months"] = serde_json::json!(baseline_mean);
    write_atomic(
        &out.join("evaluation.json"),
        (serde_json::to_string_pretty(&json)? + "\n").as_bytes(),
    )
    .context("evaluation.json")?;
    report(&cases, &ev, run, data, title)?.write(&out.join("report.html"))?;
    Ok(ev)
}

fn sex_color(s: Sex) -> RGBColor {
    if s.is_male() {
        MALE_COLOR
    } else {
        FEMALE_COLOR
    }
}

pub fn row(name: &str, e: &ErrorSummary) -> Vec<String> {
    vec![
        name.to_string(),
        e.n.to_string(),
        format!("{:.2}", e.mae_months),
        format!("{:.2}", e.rmse_months),
        format!("{:+.2}", e.bias_months),
        format!("{:.1}%", 100.0 * e.within_12_months_fraction),
        format!("{:.2}", e.baseline_mae_months),
    ]
}

pub const HEADER: [&str; 7] = [
    "group",
    "n",
    "MAE (mo)",
    "RMSE (mo)",
    "bias (mo)",
    "within 12 mo",
    "baseline MAE (mo)",
];

fn report(
    cases: &[Case],
    ev: &Evaluation,
    run: &TrainedRun,
    data: &Path,
    title: &str,
) -> anyhow::Result<Page> {
    let mut page = Page::new(title);
    page.p(&format!(
        "Run {} ({:?} head, input {}x{}) on {}. Baseline: always predicting the training mean.",
        run.dir.display(),
        run.config.model.head,
        run.config.model.input_width,
        run.config.model.input_height,
        data.display()
    ));
    accuracy_sections(&mut page, cases, ev)?;
    Ok(page)
}

/// The accuracy sections of a report: table by sex, predicted vs reference, Bland-Altman,
/// error by age and by development stage.
pub fn accuracy_sections(page: &mut Page, cases: &[Case], ev: &Evaluation) -> anyhow::Result<()> {
    page.h2("Accuracy");
    let mut rows = vec![row("all", &ev.overall)];
    rows.extend(ev.by_sex.iter().map(|(k, e)| row(k, e)));
    page.table(&HEADER, &rows);
    let legend = [("boys", MALE_COLOR), ("girls", FEMALE_COLOR)];
    let pts: Vec<Point> = cases
        .iter()
        .map(|c| Point {
            x: c.truth_months,
            y: c.pred_months,
            color: sex_color(c.sex),
        })
        .collect();
    let hi = cases
        .iter()
        .map(|c| c.truth_months.max(c.pred_months))
        .fold(0.0, f64::max);
    let identity = Line {
        from: (0.0, 0.0),
        to: (hi, hi),
        color: GREY_COLOR,
        dashed: false,
    };
    page.figure(
        &scatter_svg(
            "Predicted vs reference",
            "reference bone age (months)",
            "predicted (months)",
            &pts,
            &[identity],
            &legend,
            (620, 520),
        )?,
        "Each dot one radiograph; the line is perfect agreement.",
    );
    // Bland-Altman: mean of the two readings vs their difference.
    let diffs: Vec<f64> = cases
        .iter()
        .map(|c| c.pred_months - c.truth_months)
        .collect();
    let (bias, sd) = (stats::mean(&diffs), stats::sd(&diffs));
    let sd = if sd.is_finite() { sd } else { 0.0 };
    let means: Vec<f64> = cases
        .iter()
        .map(|c| (c.pred_months + c.truth_months) / 2.0)
        .collect();
    let (lo, hi) = (
        means.iter().copied().fold(f64::INFINITY, f64::min),
        means.iter().copied().fold(0.0, f64::max),
    );
    let pts: Vec<Point> = cases
        .iter()
        .zip(&means)
        .zip(&diffs)
        .map(|((c, &m), &d)| Point {
            x: m,
            y: d,
            color: sex_color(c.sex),
        })
        .collect();
    let hline = |y: f64, dashed: bool| Line {
        from: (lo, y),
        to: (hi, y),
        color: GREY_COLOR,
        dashed,
    };
    page.figure(
        &scatter_svg(
            "Bland-Altman",
            "mean of predicted and reference (months)",
            "predicted − reference (months)",
            &pts,
            &[
                hline(bias, false),
                hline(bias + 1.96 * sd, true),
                hline(bias - 1.96 * sd, true),
            ],
            &legend,
            (620, 420),
        )?,
        &format!(
            "Bias {bias:+.2} months; limits of agreement {:+.2} to {:+.2} months (bias ± 1.96 SD).",
            bias - 1.96 * sd,
            bias + 1.96 * sd
        ),
    );
    page.h2("Error by age");
    let bins = 10;
    let mut labels = Vec::new();
    let (mut m_mae, mut f_mae) = (Vec::new(), Vec::new());
    for b in 0..bins {
        let (a0, a1) = (b as f64 * 24.0, (b + 1) as f64 * 24.0);
        labels.push(format!("{}–{}", a0 as i32 / 12, a1 as i32 / 12));
        let mae = |sex: Sex| {
            let e: Vec<f64> = cases
                .iter()
                .filter(|c| {
                    c.sex == sex && c.truth_months >= a0 && (c.truth_months < a1 || b == bins - 1)
                })
                .map(|c| (c.pred_months - c.truth_months).abs())
                .collect();
            if e.is_empty() {
                0.0
            } else {
                stats::mean(&e)
            }
        };
        m_mae.push(mae(Sex::Male));
        f_mae.push(mae(Sex::Female));
    }
    page.figure(
        &bar_chart_svg(
            "MAE by reference bone age",
            "reference bone age (years)",
            "MAE (months)",
            &labels,
            &[
                Series {
                    name: "boys",
                    color: MALE_COLOR,
                    values: &m_mae,
                },
                Series {
                    name: "girls",
                    color: FEMALE_COLOR,
                    values: &f_mae,
                },
            ],
            (820, 360),
        )?,
        "Mean absolute error in 2-year bands of reference bone age (an empty band shows no bar).",
    );
    page.h2("Error by development stage");
    let rows: Vec<Vec<String>> = boneage_core::reference::Stage::ALL
        .iter()
        .filter_map(|st| ev.by_stage.get(st.name()).map(|e| row(st.name(), e)))
        .collect();
    page.table(&HEADER, &rows);
    Ok(())
}
