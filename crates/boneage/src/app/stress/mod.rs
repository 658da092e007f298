//! The stress test: clinical image variations (after the Radiology: AI stress test of the RSNA
//! 2017 winner) at graded strengths applied to labelled radiographs, each variant read by the
//! whole pipeline and compared with the reading of the unchanged film.
//!
//! Per variation: the mean and 95th percentile of the absolute change of the predicted age, the
//! signed mean change, the MAE against the reference, and the share the quality gate rejected.
//! A variation passes when the films still read changed by at most the tolerance on average
//! (6 months by default); films the gate turns away are not counted as changes: declining to
//! read a film is a safe answer, a moved answer is not.
//!
//! Writes `stress.json`, `stress.html` (the table) and `changes.csv` (one row per film and
//! variation), each atomically.

mod variations;
pub use variations::{apply, apply_to_film, select, Variation};

use crate::app::data::open_dataset;
use crate::app::models::share_cores_with_overlap;
use crate::progress;
use crate::report::{esc, Page};
use anyhow::Context;
use boneage_core::stats;
use boneage_imaging::io::write_atomic;
use boneage_pipeline::{Given, Patient, Pipeline};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct VariationResult {
    pub transform: String,
    pub strength: String,
    /// Films whose unchanged version was read (the base of every figure here).
    pub n: usize,
    /// Of them, variants the quality gate rejected.
    pub rejected: usize,
    pub rejected_share: f64,
    /// Over the variants read: |variant − unchanged| in months.
    pub mean_abs_change_months: Option<f64>,
    pub p95_abs_change_months: Option<f64>,
    pub max_abs_change_months: Option<f64>,
    /// Signed mean change (a bias the variation introduces).
    pub mean_change_months: Option<f64>,
    /// MAE of the variants read against the reference, and of the same films unchanged.
    pub mae_months: Option<f64>,
    pub unchanged_mae_months: Option<f64>,
    /// Mean change within the tolerance, or every variant rejected.
    pub passes: bool,
    /// The first film under this variation, in `examples/`.
    pub example: String,
}

/// What `stress.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct StressReport {
    pub bundle: String,
    pub notice: String,
    pub data: String,
    pub films: usize,
    /// Unchanged films the gate rejected: left out of every row.
    pub unchanged_rejected: Vec<String>,
    pub unchanged_mae_months: f64,
    pub tolerance_months: f64,
    pub tta: usize,
    pub variations: Vec<VariationResult>,
    /// Every variation passes.
    pub all_pass: bool,
    pub seconds: f64,
}

/// One film's reading: the bone age, or the gate's reasons.
type Reading = Result<f64, String>;

/// Runs the stress test of `pipeline` on the labelled set `data` and writes it into `out`;
/// the example pictures of the first film fit in `example_size` pixels.
pub fn stress(
    pipeline: &Pipeline,
    data: &Path,
    images: Option<&Path>,
    out: &Path,
    chosen: &[Variation],
    limit: Option<usize>,
    tolerance: f64,
    example_size: usize,
) -> anyhow::Result<StressReport> {
    anyhow::ensure!(
        tolerance.is_finite() && tolerance > 0.0,
        "the tolerance must be a positive number of months, not {tolerance}"
    );
    let ds = open_dataset(data, images)?;
    let mut samples = ds.samples;
    if let Some(n) = limit {
        samples.truncate(n);
    }
    anyhow::ensure!(!samples.is_empty(), "{}: no images", data.display());
    for s in &samples {
        s.image
            .as_ref()
            .with_context(|| format!("{}: no image found for id {}", data.display(), s.id))?;
    }
    let started = std::time::Instant::now();
    let per_film = chosen.len() + 1;
    let bar = progress::bar((samples.len() * per_film) as u64, "stress");
    // The second thread reads each film and makes its variants; a read error stops it.
    let read_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let jobs =
        samples.iter().enumerate().flat_map(|(i, s)| {
            let path = s.image.clone().expect("checked above");
            let film = match boneage_imaging::read_radiograph(&path)
                .map_err(anyhow::Error::from)
                .and_then(|r| {
                    let patient = Patient::from_header(&r, Given::sex(Some(s.sex)))
                        .map_err(|e| e.in_file(&path))?;
                    Ok((r, patient))
                }) {
                Ok(f) => Some(f),
                Err(e) => {
                    *read_error.lock().expect("not poisoned") = Some(e);
                    None
                }
            };
            let read_error = &read_error;
            std::iter::once(None)
                .chain(chosen.iter().map(Some))
                .map_while(move |v| {
                    let (r, patient) = film.as_ref()?;
                    match v {
                        None => Some((r.clone(), *patient)),
                        Some(v) => match apply_to_film(v, r, i as u64) {
                            Ok(x) => Some((x, *patient)),
                            Err(e) => {
                                *read_error.lock().expect("not poisoned") = Some(e.context(
                                    format!("{}: {} {}", path.display(), v.transform, v.strength),
                                ));
                                None
                            }
                        },
                    }
                })
        });
    let mut readings: Vec<Reading> = Vec::with_capacity(samples.len() * per_film);
    let mut failure = None;
    share_cores_with_overlap();
    pipeline.assess_images(
        jobs.take_while(|_| read_error.lock().map(|e| e.is_none()).unwrap_or(false)),
        |result| match result {
            Ok(a) => {
                readings.push(
                    a.bone_age_months()
                        .ok_or_else(|| a.verdict.rejection_reasons().join("; ")),
                );
                bar.inc(1);
                true
            }
            Err(e) => {
                failure = Some(anyhow::Error::from(e));
                false
            }
        },
    );
    bar.finish_and_clear();
    if let Some(e) = read_error.into_inner().expect("not poisoned") {
        return Err(e);
    }
    if let Some(e) = failure {
        return Err(e);
    }
    anyhow::ensure!(
        readings.len() == samples.len() * per_film,
        "the stress run stopped early"
    );
    let mut unchanged_rejected = Vec::new();
    let mut rows_csv = String::from("id,transform,strength,reference_months,unchanged_months,variant_months,change_months,status\n");
    let mut results = Vec::new();
    let films: Vec<(usize, f64)> = samples
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &readings[i * per_film] {
            Ok(a) => Some((i, *a)),
            Err(_) => {
                unchanged_rejected.push(s.id.clone());
                None
            }
        })
        .collect();
    let unchanged_mae = stats::mean(
        &films
            .iter()
            .map(|&(i, a)| (a - samples[i].bone_age_months).abs())
            .collect::<Vec<_>>(),
    );
    for (j, v) in chosen.iter().enumerate() {
        let mut changes = Vec::new();
        let mut errors = Vec::new();
        let mut unchanged_errors = Vec::new();
        let mut rejected = 0;
        for &(i, base) in &films {
            let s = &samples[i];
            match &readings[i * per_film + 1 + j] {
                Ok(a) => {
                    changes.push(a - base);
                    errors.push((a - s.bone_age_months).abs());
                    unchanged_errors.push((base - s.bone_age_months).abs());
                    let _ = writeln!(
                        rows_csv,
                        "{},{},{},{:.2},{:.2},{:.2},{:.2},ok",
                        csv_field(&s.id),
                        v.transform,
                        csv_field(&v.strength),
                        s.bone_age_months,
                        base,
                        a,
                        a - base
                    );
                }
                Err(_) => {
                    rejected += 1;
                    let _ = writeln!(
                        rows_csv,
                        "{},{},{},{:.2},{:.2},,,rejected",
                        csv_field(&s.id),
                        v.transform,
                        csv_field(&v.strength),
                        s.bone_age_months,
                        base
                    );
                }
            }
        }
        let abs: Vec<f64> = changes.iter().map(|c| c.abs()).collect();
        let some = |x: f64| (!abs.is_empty()).then_some(x);
        let mean_abs = some(stats::mean(&abs));
        results.push(VariationResult {
            transform: v.transform.into(),
            strength: v.strength.clone(),
            n: films.len(),
            rejected,
            rejected_share: rejected as f64 / films.len().max(1) as f64,
            mean_abs_change_months: mean_abs,
            p95_abs_change_months: some(stats::quantile(&abs, 0.95)),
            max_abs_change_months: some(abs.iter().copied().fold(0.0, f64::max)),
            mean_change_months: some(stats::mean(&changes)),
            mae_months: some(stats::mean(&errors)),
            unchanged_mae_months: some(stats::mean(&unchanged_errors)),
            passes: mean_abs.is_none_or(|m| m <= tolerance),
            example: example_name(j, v),
        });
    }
    let report = StressReport {
        bundle: pipeline.bundle.manifest.id.clone(),
        notice: pipeline.bundle.manifest.notice.clone(),
        data: data.display().to_string(),
        films: samples.len(),
        unchanged_rejected,
        unchanged_mae_months: unchanged_mae,
        tolerance_months: tolerance,
        tta: pipeline.tta,
        all_pass: results.iter().all(|r| r.passes),
        variations: results,
        seconds: started.elapsed().as_secs_f64(),
    };
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let w = |name: &str, bytes: &[u8]| {
        let p = out.join(name);
        write_atomic(&p, bytes).with_context(|| format!("{}: cannot write", p.display()))
    };
    // Every variation of the first film, to look at.
    let examples = out.join("examples");
    std::fs::create_dir_all(&examples)
        .with_context(|| format!("{}: cannot create", examples.display()))?;
    let first = boneage_imaging::read_radiograph(samples[0].image.as_ref().expect("checked"))?;
    for (j, v) in chosen.iter().enumerate() {
        let img = apply(v, &first.image, 0)?;
        let (tw, th) = if img.width.max(img.height) <= example_size {
            (img.width, img.height)
        } else {
            img.fit_within(example_size, example_size)
        };
        let small = if (tw, th) == (img.width, img.height) {
            img
        } else {
            img.resize(tw, th)
        };
        w(
            &format!("examples/{}", example_name(j, v)),
            &boneage_imaging::io::encode_png_gray8(tw, th, &small.to_u8()),
        )?;
    }
    w("changes.csv", rows_csv.as_bytes())?;
    w(
        "stress.json",
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    html(&report).write(&out.join("stress.html"))?;
    Ok(report)
}

/// The file name of variation `j`'s example picture.
fn example_name(j: usize, v: &Variation) -> String {
    let strength: String = v
        .strength
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{:02}-{}-{}.png", j + 1, v.transform, strength)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn html(r: &StressReport) -> Page {
    let mut page = Page::new("Bone age stress test");
    page.p(&format!(
        "Bundle {} ({}). {} films of {}; of them unchanged, {} rejected by the quality gate and left out. \
         Unchanged MAE {:.2} months. Each variation is read by the whole pipeline (TTA {}) and \
         compared with the reading of the same film unchanged; a variation passes when the \
         films still read moved by at most {} months on average (films the gate rejects are \
         not changes). {:.0} s.",
        esc(&r.bundle),
        esc(&r.notice),
        r.films,
        esc(&r.data),
        r.unchanged_rejected.len(),
        r.unchanged_mae_months,
        r.tta,
        r.tolerance_months,
        r.seconds
    ));
    let f = |v: Option<f64>| v.map_or("–".into(), |x| format!("{x:.2}"));
    let rows: Vec<Vec<String>> = r
        .variations
        .iter()
        .map(|v| {
            vec![
                format!(
                    "<img src=\"examples/{}\" alt=\"\" style=\"height:64px\">",
                    esc(&v.example)
                ),
                esc(&v.transform),
                esc(&v.strength),
                format!("{:.0}%", 100.0 * v.rejected_share),
                f(v.mean_abs_change_months),
                f(v.p95_abs_change_months),
                f(v.mean_change_months),
                f(v.mae_months),
                if v.passes {
                    "<span style=\"color:#1a7f37\">passes</span>".into()
                } else {
                    "<b style=\"color:#b42318\">over the tolerance</b>".into()
                },
            ]
        })
        .collect();
    page.raw_table(
        &[
            "first film",
            "transform",
            "strength",
            "rejected",
            "mean |change| (months)",
            "95th percentile |change|",
            "mean change",
            "MAE of the variants read",
            "verdict",
        ],
        &rows,
    );
    page
}
