//! The seed's results table for a model bundle on a labelled set: every radiograph through the
//! full pipeline (segmentation → keypoints → registration → regions → nets → ensemble), then
//! the MAE of every single net, of each region's and each head's ensemble, and of the whole
//! ensemble — overall, by sex and by development stage.
//!
//! Writes `results.json`, `results.html` (the table, then the ensemble's accuracy figures) and
//! `predictions.csv` (one row per image: reference, ensemble, every member).

use crate::app::data::open_dataset;
use crate::app::evaluation::accuracy_sections;
use crate::app::models::share_cores_with_overlap;
use crate::progress;
use crate::report::Page;
use anyhow::Context;
use boneage_core::metrics::{Case, Evaluation};
use boneage_core::reference::Stage;
use boneage_core::{stats, Sex};
use boneage_imaging::io::write_atomic;
use boneage_pipeline::{Pipeline, Prediction};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct ResultRow {
    /// Member name, `region A`, `regression`, or `ensemble`.
    pub model: String,
    /// `single`, `region`, `head` or `ensemble`.
    pub kind: String,
    pub region: Option<String>,
    pub head: Option<String>,
    /// Ensemble weight (single nets only).
    pub weight: Option<f64>,
    pub evaluation: Evaluation,
}

/// A film the quality gate turned away.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedFilm {
    pub id: String,
    pub reasons: Vec<String>,
}

/// What `results.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub bundle: String,
    pub notice: String,
    pub data: String,
    /// Films scored (the quality gate's rejections left out).
    pub n: usize,
    /// Films the quality gate rejected (no bone age), and why.
    pub n_rejected: usize,
    pub rejected: Vec<RejectedFilm>,
    pub tta: usize,
    pub baseline_mean_months: f64,
    /// Where the baseline's constant comes from.
    pub baseline_source: String,
    pub rows: Vec<ResultRow>,
    pub best_single: String,
    pub best_single_mae_months: f64,
    pub ensemble_mae_months: f64,
    pub ensemble_no_worse_than_best_single: bool,
    /// Share of the films whose bone age lies inside their prediction interval (when the
    /// bundle has one), and the interval's nominal coverage.
    pub interval_coverage: Option<f64>,
    pub interval_nominal: Option<f64>,
    pub seconds_per_image: f64,
}

impl Results {
    pub fn ensemble(&self) -> &ResultRow {
        self.rows
            .iter()
            .find(|r| r.kind == "ensemble")
            .expect("the ensemble row is always there")
    }

    /// The table's rows and its one-line verdict, for the terminal.
    pub fn print_rows(&self) {
        for r in &self.rows {
            println!(
                "  {:<24} {:<9} test MAE {:6.2} months",
                r.model, r.kind, r.evaluation.overall.mae_months
            );
        }
        println!(
            "  n {}: ensemble {:.2} months vs best single {:.2} ({}); mean-predictor baseline {:.2}; {:.2} s per image",
            self.n,
            self.ensemble_mae_months,
            self.best_single_mae_months,
            self.best_single,
            self.ensemble().evaluation.overall.baseline_mae_months,
            self.seconds_per_image
        );
        if self.n_rejected > 0 {
            println!(
                "  {} of {} films rejected by the quality gate (no bone age; not scored): {}",
                self.n_rejected,
                self.n + self.n_rejected,
                self.rejected
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if let (Some(c), Some(n)) = (self.interval_coverage, self.interval_nominal) {
            println!(
                "  {:.1}% of the films inside their {:.0}% interval",
                100.0 * c,
                100.0 * n
            );
        }
    }

    pub fn print_summary(&self, out: &Path) {
        self.print_rows();
        println!("results: {}", out.join("results.html").display());
    }
}

/// Runs the bundle over the dataset at `data` (images in `images`, default beside the table)
/// and writes the results into `out`.
pub fn bundle_results(
    pipeline: &Pipeline,
    data: &Path,
    images: Option<&Path>,
    out: &Path,
    title: &str,
) -> anyhow::Result<Results> {
    let bundle = &pipeline.bundle;
    let ds = open_dataset(data, images)?;
    anyhow::ensure!(!ds.samples.is_empty(), "{}: no images", data.display());
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let started = std::time::Instant::now();
    let bar = progress::bar(ds.samples.len() as u64, "results");
    let files =
        ds.samples
            .iter()
            .map(|s| {
                let path = s.image.clone().with_context(|| {
                    format!("{}: no image found for id {}", data.display(), s.id)
                })?;
                Ok((path, boneage_pipeline::Given::sex(Some(s.sex))))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
    let mut outcomes: Vec<Result<Prediction, Vec<String>>> = Vec::with_capacity(ds.samples.len());
    let mut failure = None;
    // The next film is read and registered while the nets read this one.
    share_cores_with_overlap();
    pipeline.assess_files(&files, |_, result| match result {
        Ok((_, a)) => {
            outcomes.push(a.prediction.ok_or_else(|| a.verdict.rejection_reasons()));
            bar.inc(1);
            true
        }
        Err(e) => {
            failure = Some(e);
            false
        }
    });
    bar.finish_and_clear();
    if let Some(e) = failure {
        return Err(e.into());
    }
    let seconds_per_image = started.elapsed().as_secs_f64() / ds.samples.len() as f64;
    // Films the quality gate rejected have no bone age: they are listed, not scored.
    let mut samples = Vec::new();
    let mut preds: Vec<Prediction> = Vec::new();
    let mut rejected = Vec::new();
    for (s, o) in ds.samples.iter().zip(outcomes) {
        match o {
            Ok(p) => {
                samples.push(s);
                preds.push(p);
            }
            Err(reasons) => rejected.push(RejectedFilm {
                id: s.id.clone(),
                reasons,
            }),
        }
    }
    anyhow::ensure!(
        !preds.is_empty(),
        "{}: the quality gate rejected every film ({}: {})",
        data.display(),
        rejected[0].id,
        rejected[0].reasons.join("; ")
    );
    let truth: Vec<f64> = samples.iter().map(|s| s.bone_age_months).collect();
    let (baseline, baseline_source) = match bundle.manifest.ensemble.train_mean_months {
        Some(m) => (m, "the training mean"),
        None => (
            stats::mean(&truth),
            "the mean of this set: the bundle does not record its training mean",
        ),
    };
    let eval_of = |get: &dyn Fn(&Prediction) -> Option<f64>| -> Evaluation {
        let cases: Vec<Case> = samples
            .iter()
            .zip(&preds)
            .filter_map(|(s, p)| {
                get(p).map(|v| Case {
                    sex: s.sex,
                    truth_months: s.bone_age_months,
                    pred_months: v,
                })
            })
            .collect();
        Evaluation::of(&cases, baseline)
    };
    let mut rows = Vec::new();
    for (i, m) in bundle.manifest.members.iter().enumerate() {
        rows.push(ResultRow {
            model: m.name.clone(),
            kind: "single".into(),
            region: Some(m.region.clone()),
            head: Some(head_name(m.head).into()),
            weight: Some(m.weight),
            evaluation: eval_of(&|p| p.members.get(i).map(|v| v.bone_age_months)),
        });
    }
    let regions: Vec<String> = preds[0].by_region.keys().cloned().collect();
    for r in &regions {
        rows.push(ResultRow {
            model: format!("region {r}"),
            kind: "region".into(),
            region: Some(r.clone()),
            head: None,
            weight: None,
            evaluation: eval_of(&|p| p.by_region.get(r).copied()),
        });
    }
    let heads: Vec<String> = preds[0].by_head.keys().cloned().collect();
    for h in &heads {
        rows.push(ResultRow {
            model: h.clone(),
            kind: "head".into(),
            region: None,
            head: Some(h.clone()),
            weight: None,
            evaluation: eval_of(&|p| p.by_head.get(h).copied()),
        });
    }
    rows.push(ResultRow {
        model: "ensemble".into(),
        kind: "ensemble".into(),
        region: None,
        head: None,
        weight: None,
        evaluation: eval_of(&|p| Some(p.bone_age_months)),
    });
    let best = rows
        .iter()
        .filter(|r| r.kind == "single")
        .min_by(|a, b| {
            a.evaluation
                .overall
                .mae_months
                .total_cmp(&b.evaluation.overall.mae_months)
        })
        .context("no members")?;
    let ens = rows
        .last()
        .expect("pushed above")
        .evaluation
        .overall
        .mae_months;
    let results = Results {
        bundle: bundle.manifest.id.clone(),
        notice: bundle.manifest.notice.clone(),
        data: data.display().to_string(),
        n: samples.len(),
        n_rejected: rejected.len(),
        rejected,
        tta: pipeline.tta,
        baseline_mean_months: baseline,
        baseline_source: baseline_source.into(),
        best_single: best.model.clone(),
        best_single_mae_months: best.evaluation.overall.mae_months,
        ensemble_mae_months: ens,
        ensemble_no_worse_than_best_single: ens <= best.evaluation.overall.mae_months + 1e-9,
        rows,
        interval_coverage: {
            let inside = samples
                .iter()
                .zip(&preds)
                .filter_map(|(s, p)| {
                    p.interval_months
                        .map(|[lo, hi]| (lo..=hi).contains(&s.bone_age_months))
                })
                .collect::<Vec<bool>>();
            (!inside.is_empty())
                .then(|| inside.iter().filter(|&&b| b).count() as f64 / inside.len() as f64)
        },
        interval_nominal: bundle.manifest.interval.as_ref().map(|i| i.coverage),
        seconds_per_image,
    };
    // predictions.csv
    let mut csv = String::from("id,male,bone_age_months,ensemble_months,spread_months");
    for m in &bundle.manifest.members {
        let _ = write!(csv, ",{}", csv_field(&m.name));
    }
    csv.push('\n');
    for (s, p) in samples.iter().zip(&preds) {
        let _ = write!(
            csv,
            "{},{},{},{:.3},{:.3}",
            csv_field(&s.id),
            s.sex.is_male(),
            s.bone_age_months,
            p.bone_age_months,
            p.spread_months
        );
        for m in &p.members {
            let _ = write!(csv, ",{:.3}", m.bone_age_months);
        }
        csv.push('\n');
    }
    write_atomic(&out.join("predictions.csv"), csv.as_bytes()).context("predictions.csv")?;
    write_atomic(
        &out.join("results.json"),
        (serde_json::to_string_pretty(&results)? + "\n").as_bytes(),
    )
    .context("results.json")?;
    let cases: Vec<Case> = samples
        .iter()
        .zip(&preds)
        .map(|(s, p)| Case {
            sex: s.sex,
            truth_months: s.bone_age_months,
            pred_months: p.bone_age_months,
        })
        .collect();
    html(&results, bundle, &cases, title)?.write(&out.join("results.html"))?;
    Ok(results)
}

fn head_name(h: boneage_nn::vgg::Head) -> &'static str {
    match h {
        boneage_nn::vgg::Head::Regression => "regression",
        boneage_nn::vgg::Head::Classification => "classification",
        boneage_nn::vgg::Head::Keypoints => "keypoints",
    }
}

fn html(
    r: &Results,
    bundle: &boneage_nn::bundle::Bundle,
    cases: &[Case],
    title: &str,
) -> anyhow::Result<Page> {
    let mut page = Page::new(title);
    page.raw(&format!(
        "<p>Model bundle <b>{}</b> ({}) on {} ({} radiographs), every image through the full \
         pipeline: hand segmentation, keypoints, registration, regions A (whole hand), B \
         (carpals), C (metacarpals + proximal phalanges), the region nets and their weighted \
         ensemble{}. Trained on: {}. <b>{}</b>.</p>",
        crate::report::esc(&r.bundle),
        crate::report::esc(&bundle.origin),
        crate::report::esc(&r.data),
        r.n,
        if r.tta > 1 {
            format!(", {} test-time augmentation views per region", r.tta)
        } else {
            String::new()
        },
        crate::report::esc(&bundle.manifest.trained_on),
        crate::report::esc(&r.notice)
    ));
    if !r.rejected.is_empty() {
        let mut list = String::new();
        for f in &r.rejected {
            let _ = write!(
                list,
                "<li><b>{}</b>: {}</li>",
                crate::report::esc(&f.id),
                crate::report::esc(&f.reasons.join("; "))
            );
        }
        page.raw(&format!(
            "<p>The quality gate rejected {} of {} radiographs (no bone age; left out of the              figures below):</p><ul>{list}</ul>",
            r.n_rejected,
            r.n + r.n_rejected
        ));
    }
    page.h2("Results table");
    let stages: Vec<&str> = Stage::ALL
        .iter()
        .map(|s| s.name())
        .filter(|s| {
            r.rows
                .iter()
                .any(|row| row.evaluation.by_stage.contains_key(*s))
        })
        .collect();
    let header = [
        "model",
        "kind",
        "weight",
        "n",
        "MAE (mo)",
        "RMSE (mo)",
        "bias (mo)",
        "within 12 mo",
        "MAE boys",
        "MAE girls",
    ];
    let by_sex = |row: &ResultRow, sex: Sex| {
        row.evaluation
            .by_sex
            .get(&sex.to_string())
            .map(|e| format!("{:.2}", e.mae_months))
            .unwrap_or_else(|| "–".into())
    };
    let name = |row: &ResultRow| {
        let n = crate::report::esc(&row.model);
        if row.kind == "ensemble" {
            format!("<b>{n}</b>")
        } else {
            n
        }
    };
    let mut rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            let e = &row.evaluation.overall;
            let mae = format!("{:.2}", e.mae_months);
            vec![
                name(row),
                row.kind.clone(),
                row.weight.map(|w| format!("{w:.3}")).unwrap_or_default(),
                e.n.to_string(),
                if row.kind == "ensemble" {
                    format!("<b>{mae}</b>")
                } else {
                    mae
                },
                format!("{:.2}", e.rmse_months),
                format!("{:+.2}", e.bias_months),
                format!("{:.1}%", 100.0 * e.within_12_months_fraction),
                by_sex(row, Sex::Male),
                by_sex(row, Sex::Female),
            ]
        })
        .collect();
    let base = &r.ensemble().evaluation.overall;
    let mut brow = vec![
        "mean predictor".to_string(),
        "baseline".into(),
        String::new(),
        base.n.to_string(),
        format!("{:.2}", base.baseline_mae_months),
    ];
    brow.resize(header.len(), String::new());
    rows.push(brow);
    page.raw_table(&header, &rows);
    page.raw("<p>MAE in months by development stage (of the reference bone age):</p>");
    let mut stage_header = vec!["model".to_string()];
    stage_header.extend(stages.iter().map(|s| s.to_string()));
    let stage_refs: Vec<&str> = stage_header.iter().map(|s| s.as_str()).collect();
    let stage_rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            let mut v = vec![name(row)];
            v.extend(stages.iter().map(|s| {
                row.evaluation
                    .by_stage
                    .get(*s)
                    .map(|e| format!("{:.2} (n {})", e.mae_months, e.n))
                    .unwrap_or_else(|| "–".into())
            }));
            v
        })
        .collect();
    page.raw_table(&stage_refs, &stage_rows);
    page.raw(&format!(
        "<p>Best single net: {} ({:.2} months). Ensemble: <b>{:.2} months</b> — {}. Weights were chosen on \
         the bundle's validation set ({} images, validation MAE {:.2}; {}); region and head rows \
         combine their members with the same weights renormalized. The mean predictor always \
         says {:.1} months ({}).{} {:.2} s per image on this machine.</p>",
        crate::report::esc(&r.best_single),
        r.best_single_mae_months,
        r.ensemble_mae_months,
        if r.ensemble_no_worse_than_best_single {
            "no worse than the best single net"
        } else {
            "WORSE than the best single net"
        },
        bundle.manifest.ensemble.n_valid,
        bundle.manifest.ensemble.valid_mae_months,
        crate::report::esc(&bundle.manifest.ensemble.method),
        r.baseline_mean_months,
        r.baseline_source,
        match (r.interval_coverage, r.interval_nominal) {
            (Some(c), Some(n)) => format!(
                " {:.1}% of these films lie inside their {:.0}% prediction interval.",
                100.0 * c,
                100.0 * n
            ),
            _ => String::new(),
        },
        r.seconds_per_image
    ));
    page.h2("The ensemble in detail");
    accuracy_sections(&mut page, cases, &r.ensemble().evaluation)?;
    Ok(page)
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
