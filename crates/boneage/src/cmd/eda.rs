//! `boneage eda`: the seed's exploratory data analysis of a label table, and optionally of its
//! images.
//!
//! Writes into `--out`:
//! - `summary.json`: `n, male_fraction, divisible_by_6_fraction, divisible_by_12_fraction,
//!   min_months, max_months, mean_months, sd_months, baseline_mae_months` (baseline = MAE of
//!   predicting the mean), plus per-sex and per-stage breakdowns and, with images, image
//!   statistics;
//! - `report.html`: the same with plots (bone age histogram by sex, sex ratio, stages) and,
//!   with images, sizes, bit depths, intensities and a gallery of flagged images;
//! - with `--images`: `quality.csv` (one row per image) and `flagged.png`, a contact sheet of
//!   the flagged images with marker boxes drawn in.
//!
//! A one-screen summary goes to stdout.

use crate::app::flags::{BatchFlags, JobsFlag};
use crate::progress;
use crate::report::{bar_chart_svg, esc, Page, Series, FEMALE_COLOR, GREY_COLOR, MALE_COLOR};
use crate::sheet::{self, Tile};
use anyhow::{bail, Context};
use boneage_core::reference::Stage;
use boneage_core::stats::{self, Summary};
use boneage_core::{Dataset, Sample, Sex};
use boneage_imaging::io::{write_atomic, Radiograph};
use boneage_imaging::quality::{
    assess_with_hand, HandMask, QualityConfig, QualityFlag, QualityReport,
};
use boneage_imaging::{GrayImage, Mask};
use clap::Args;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct EdaArgs {
    /// Label table: RSNA train (id,boneage,male), validation (id,male,boneage), test
    /// (image_ID,dir,patient_ID,sex,bone_age), phantom labels or a manifest (path,boneage,male).
    #[arg(long)]
    pub labels: PathBuf,
    /// Folder with the images (RSNA/Kaggle layout or flat); enables the image analysis.
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Output folder (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub batch: BatchFlags,
}

/// Label statistics: the keys the seed's EDA reports.
#[derive(Debug, Serialize)]
pub struct LabelSummary {
    pub n: usize,
    pub male_fraction: f64,
    pub divisible_by_6_fraction: f64,
    pub divisible_by_12_fraction: f64,
    pub min_months: f64,
    pub max_months: f64,
    pub mean_months: f64,
    pub sd_months: f64,
    pub median_months: f64,
    pub baseline_mae_months: f64,
}

impl LabelSummary {
    pub fn of(samples: &[Sample]) -> LabelSummary {
        let ages: Vec<f64> = samples.iter().map(|s| s.bone_age_months).collect();
        let n = ages.len();
        let divisible = |k: f64| {
            ages.iter()
                .filter(|a| a.fract() == 0.0 && (*a % k) == 0.0)
                .count() as f64
                / n as f64
        };
        let s = Summary::of(&ages);
        LabelSummary {
            n,
            male_fraction: samples.iter().filter(|s| s.sex.is_male()).count() as f64 / n as f64,
            divisible_by_6_fraction: divisible(6.0),
            divisible_by_12_fraction: divisible(12.0),
            min_months: s.min,
            max_months: s.max,
            mean_months: s.mean,
            sd_months: s.sd,
            median_months: s.median,
            baseline_mae_months: stats::mean_predictor_mae(&ages),
        }
    }
}

/// What the image pass learns about one image.
struct ImageRow {
    id: String,
    path: PathBuf,
    result: Result<(Radiograph, QualityReport, GrayImage, HandMask), String>,
}

/// Longest side of the thumbnails in the flagged-image contact sheet.
const THUMB: usize = 160;

pub fn run(args: EdaArgs) -> anyhow::Result<()> {
    let mut ds = Dataset::read(&args.labels)?;
    if let Some(dir) = &args.images {
        if !dir.is_dir() {
            bail!("{}: image folder does not exist", dir.display());
        }
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create output folder", args.out.display()))?;

    let labels = LabelSummary::of(&ds.samples);
    let mut json = serde_json::to_value(&labels)?;
    json["table"] = serde_json::json!(args.labels);
    json["format"] = serde_json::json!(ds.format.to_string());
    json["by_sex"] = by_sex_json(&ds.samples);
    json["by_stage"] = by_stage_json(&ds.samples);

    let mut page = Page::new(&format!(
        "Bone age EDA — {}",
        args.labels
            .file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default()
    ));
    label_sections(&mut page, &ds, &labels)?;

    let mut image_text = String::new();
    if args.images.is_some() || ds.format == boneage_core::TableFormat::Manifest {
        ds.resolve_images(args.images.as_deref())?;
        let rows = analyse_images(&ds, &args.batch.jobs)?;
        let failed: Vec<&ImageRow> = rows.iter().filter(|r| r.result.is_err()).collect();
        if let (Some(first), false) = (failed.first(), args.batch.keep_going) {
            bail!(
                "{}",
                first.result.as_ref().err().expect("filtered on errors")
            );
        }
        write_quality_csv(&args.out.join("quality.csv"), &rows)?;
        let flagged = write_contact_sheet(&args.out.join("flagged.png"), &rows)?;
        json["images"] = image_json(&rows, flagged);
        image_text = image_sections(&mut page, &rows, flagged)?;
    }

    write_atomic(
        &args.out.join("summary.json"),
        (serde_json::to_string_pretty(&json)? + "\n").as_bytes(),
    )
    .with_context(|| format!("{}: cannot write summary.json", args.out.display()))?;
    page.write(&args.out.join("report.html"))?;

    print!("{}", text_summary(&ds, &labels));
    print!("{image_text}");
    println!("report: {}", args.out.join("report.html").display());
    Ok(())
}

fn text_summary(ds: &Dataset, l: &LabelSummary) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} — {}", ds.path.display(), ds.format);
    let _ = writeln!(s, "  images (rows)         {}", l.n);
    let _ = writeln!(s, "  boys                  {:.2}%", 100.0 * l.male_fraction);
    let _ = writeln!(
        s,
        "  ages divisible by 6   {:.2}%   by 12  {:.2}%",
        100.0 * l.divisible_by_6_fraction,
        100.0 * l.divisible_by_12_fraction
    );
    let _ = writeln!(
        s,
        "  bone age, months      range {}–{}  mean {:.2}  SD {:.2}  median {:.1}",
        l.min_months, l.max_months, l.mean_months, l.sd_months, l.median_months
    );
    let _ = writeln!(
        s,
        "  baseline MAE          {:.2} months (predicting the mean)",
        l.baseline_mae_months
    );
    for sex in [Sex::Male, Sex::Female] {
        let ages: Vec<f64> = ds
            .samples
            .iter()
            .filter(|x| x.sex == sex)
            .map(|x| x.bone_age_months)
            .collect();
        if !ages.is_empty() {
            let _ = writeln!(
                s,
                "  {:<6} n {:>6}  mean {:>6.2}  SD {:>5.2}",
                sex.to_string(),
                ages.len(),
                stats::mean(&ages),
                stats::sd(&ages)
            );
        }
    }
    s
}

fn by_sex_json(samples: &[Sample]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for sex in [Sex::Male, Sex::Female] {
        let ages: Vec<f64> = samples
            .iter()
            .filter(|s| s.sex == sex)
            .map(|s| s.bone_age_months)
            .collect();
        if ages.is_empty() {
            continue;
        }
        out.insert(
            sex.to_string(),
            serde_json::json!({
                "n": ages.len(),
                "mean_months": stats::mean(&ages),
                "sd_months": stats::sd(&ages),
                "baseline_mae_months": stats::mean_predictor_mae(&ages),
            }),
        );
    }
    serde_json::Value::Object(out)
}

fn stage_counts(samples: &[Sample]) -> BTreeMap<Stage, [usize; 2]> {
    let mut m: BTreeMap<Stage, [usize; 2]> = Stage::ALL.iter().map(|s| (*s, [0, 0])).collect();
    for s in samples {
        m.get_mut(&Stage::of(s.sex, s.bone_age_months))
            .expect("all stages present")[s.sex.is_male() as usize] += 1;
    }
    m
}

fn by_stage_json(samples: &[Sample]) -> serde_json::Value {
    let m: serde_json::Map<String, serde_json::Value> = stage_counts(samples)
        .into_iter()
        .map(|(st, [f, m])| {
            (
                serde_json::to_value(st)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                serde_json::json!({"female": f, "male": m}),
            )
        })
        .collect();
    serde_json::Value::Object(m)
}

fn label_sections(page: &mut Page, ds: &Dataset, l: &LabelSummary) -> anyhow::Result<()> {
    page.p(&format!("Table {} ({}).", ds.path.display(), ds.format));
    let card = |label: &str, value: String| {
        format!(
            "<div class=\"card\"><div>{}</div><div class=\"num\">{}</div></div>",
            esc(label),
            esc(&value)
        )
    };
    page.raw(&format!(
        "<div class=\"cards\">{}{}{}{}{}</div>",
        card("radiographs", l.n.to_string()),
        card("boys", format!("{:.2}%", 100.0 * l.male_fraction)),
        card("mean bone age", format!("{:.1} mo", l.mean_months)),
        card("SD", format!("{:.1} mo", l.sd_months)),
        card("baseline MAE", format!("{:.2} mo", l.baseline_mae_months)),
    ));
    page.h2("Bone age");
    page.table(
        &["statistic", "value"],
        &[
            vec!["n".into(), l.n.to_string()],
            vec![
                "range (months)".into(),
                format!("{} – {}", l.min_months, l.max_months),
            ],
            vec!["mean (months)".into(), format!("{:.2}", l.mean_months)],
            vec!["SD (months)".into(), format!("{:.2}", l.sd_months)],
            vec!["median (months)".into(), format!("{:.1}", l.median_months)],
            vec![
                "ages divisible by 6".into(),
                format!("{:.2}%", 100.0 * l.divisible_by_6_fraction),
            ],
            vec![
                "ages divisible by 12".into(),
                format!("{:.2}%", 100.0 * l.divisible_by_12_fraction),
            ],
            vec![
                "baseline MAE (predict the mean)".into(),
                format!("{:.2} months", l.baseline_mae_months),
            ],
        ],
    );
    page.p(
        "Readers report bone age mostly in half-year steps, so most labels are multiples of 6 \
         months; a model's resolution finer than that is partly below the label noise.",
    );
    // Histogram by sex, 12-month bins up to 20 years (older ages fall into the last bin).
    let bins = 20;
    let hist = |sex: Sex| -> Vec<f64> {
        let ages: Vec<f64> = ds
            .samples
            .iter()
            .filter(|s| s.sex == sex)
            .map(|s| s.bone_age_months)
            .collect();
        stats::histogram(&ages, 0.0, 12.0, bins)
            .into_iter()
            .map(|c| c as f64)
            .collect()
    };
    let (m, f) = (hist(Sex::Male), hist(Sex::Female));
    let labels: Vec<String> = (0..bins).map(|i| format!("{i}–{}", i + 1)).collect();
    let svg = bar_chart_svg(
        "Bone age by sex",
        "bone age (years)",
        "radiographs",
        &labels,
        &[
            Series {
                name: "boys",
                color: MALE_COLOR,
                values: &m,
            },
            Series {
                name: "girls",
                color: FEMALE_COLOR,
                values: &f,
            },
        ],
        (900, 380),
    )?;
    page.figure(
        &svg,
        "Histogram of bone age in 12-month bins, boys and girls side by side.",
    );
    let nm = ds.samples.iter().filter(|s| s.sex.is_male()).count() as f64;
    let nf = ds.samples.len() as f64 - nm;
    let svg = bar_chart_svg(
        "Sex ratio",
        "",
        "radiographs",
        &["boys".into(), "girls".into()],
        &[Series {
            name: "n",
            color: GREY_COLOR,
            values: &[nm, nf],
        }],
        (360, 300),
    )?;
    page.figure(
        &svg,
        &format!(
            "{:.2}% boys, {:.2}% girls.",
            100.0 * nm / ds.samples.len() as f64,
            100.0 * nf / ds.samples.len() as f64
        ),
    );
    page.h2("Development stages");
    let rows: Vec<Vec<String>> = stage_counts(&ds.samples)
        .into_iter()
        .map(|(st, [f, m])| vec![st.to_string(), m.to_string(), f.to_string()])
        .collect();
    page.table(
        &["stage (Gilsanz & Ratib, by bone age)", "boys", "girls"],
        &rows,
    );
    Ok(())
}

fn analyse_images(ds: &Dataset, jobs: &JobsFlag) -> anyhow::Result<Vec<ImageRow>> {
    let pool = jobs.pool()?;
    let pb = progress::bar(ds.samples.len() as u64, "images");
    let cfg = QualityConfig::default();
    let rows = pool.install(|| {
        ds.samples
            .par_iter()
            .map(|s| {
                let path = s.image.clone().expect("images resolved before analysis");
                let result = boneage_imaging::read_radiograph(&path)
                    .map(|r| {
                        let (q, hand) = assess_with_hand(&r.image, &cfg);
                        let (w, h) = r.image.fit_within(THUMB, THUMB);
                        let thumb = r.image.resize(w, h);
                        (r, q, thumb, hand)
                    })
                    .map_err(|e| e.to_string());
                pb.inc(1);
                ImageRow {
                    id: s.id.clone(),
                    path,
                    result,
                }
            })
            .collect::<Vec<_>>()
    });
    pb.finish_and_clear();
    Ok(rows)
}

fn write_quality_csv(path: &Path, rows: &[ImageRow]) -> anyhow::Result<()> {
    let mut s = String::from(
        "id,path,width,height,bit_depth,photometric,mean,sd,p01,p50,p99,hand_area_fraction,\
         border_bright_fraction,marker_components,rotation_deg,flags,error\n",
    );
    let q = |v: &str| {
        if v.contains([',', '"', '\n']) {
            format!("\"{}\"", v.replace('"', "\"\""))
        } else {
            v.to_string()
        }
    };
    for r in rows {
        match &r.result {
            Ok((rad, qr, _, _)) => {
                let flags: Vec<&str> = qr.flags.iter().map(|f| f.name()).collect();
                let _ = writeln!(
                    s,
                    "{},{},{},{},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{},{},{},",
                    q(&r.id),
                    q(&r.path.display().to_string()),
                    rad.image.width,
                    rad.image.height,
                    rad.meta.bit_depth,
                    serde_json::to_value(rad.meta.photometric)?
                        .as_str()
                        .unwrap_or(""),
                    qr.mean,
                    qr.sd,
                    qr.p01,
                    qr.p50,
                    qr.p99,
                    qr.hand_area_fraction,
                    qr.border_bright_fraction,
                    qr.marker_components,
                    qr.rotation_deg
                        .map(|d| format!("{d:.1}"))
                        .unwrap_or_default(),
                    flags.join(";"),
                );
            }
            Err(e) => {
                let _ = writeln!(
                    s,
                    "{},{},,,,,,,,,,,,,,unreadable,{}",
                    q(&r.id),
                    q(&r.path.display().to_string()),
                    q(e)
                );
            }
        }
    }
    write_atomic(path, s.as_bytes()).with_context(|| format!("{}: cannot write", path.display()))
}

/// Flags worth a look in the contact sheet: everything but `markers` and `collimation` (both
/// on most radiographs, and removed by segmentation).
fn is_flagged(q: &QualityReport) -> bool {
    q.flags
        .iter()
        .any(|f| !matches!(f, QualityFlag::Markers | QualityFlag::Collimation))
}

/// Writes a contact sheet: the flagged images first (framed in red), then, up to 100 images
/// in all, the others, so the sheet also shows what the check saw on good images. The hand
/// outline found is drawn in green, marker boxes in yellow. Returns how many were flagged.
fn write_contact_sheet(path: &Path, rows: &[ImageRow]) -> anyhow::Result<usize> {
    let mut ok: Vec<_> = rows
        .iter()
        .filter_map(|r| {
            r.result
                .as_ref()
                .ok()
                .map(|(rad, q, t, hand)| (q, t, rad, hand))
        })
        .collect();
    let n_flagged = ok.iter().filter(|x| is_flagged(x.0)).count();
    ok.sort_by_key(|x| !is_flagged(x.0));
    let limit = if n_flagged > 100 {
        n_flagged.min(200)
    } else {
        100
    };
    let shown = &ok[..ok.len().min(limit)];
    if shown.is_empty() {
        return Ok(0);
    }
    let tiles: Vec<Tile> = shown
        .iter()
        .map(|(q, thumb, rad, hand)| Tile {
            thumb: (*thumb).clone(),
            source_size: (rad.image.width, rad.image.height),
            outline: Some((
                Mask::from_vec(hand.width, hand.height, hand.mask.clone()),
                sheet::GREEN,
            )),
            boxes: q.marker_boxes.iter().map(|b| (*b, sheet::YELLOW)).collect(),
            frame: is_flagged(q).then_some(sheet::RED),
            caption: String::new(),
        })
        .collect();
    sheet::write_sheet(path, &tiles, THUMB, 10)?;
    Ok(n_flagged)
}

fn image_json(rows: &[ImageRow], flagged: usize) -> serde_json::Value {
    let ok: Vec<(&Radiograph, &QualityReport)> = rows
        .iter()
        .filter_map(|r| r.result.as_ref().ok().map(|(a, b, _, _)| (a, b)))
        .collect();
    let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
    let mut depths: BTreeMap<String, usize> = BTreeMap::new();
    let mut flags: BTreeMap<&str, usize> = QualityFlag::ALL.iter().map(|f| (f.name(), 0)).collect();
    for (r, q) in &ok {
        *sizes
            .entry(format!("{}x{}", r.image.width, r.image.height))
            .or_default() += 1;
        *depths.entry(r.meta.bit_depth.to_string()).or_default() += 1;
        for f in &q.flags {
            *flags.get_mut(f.name()).expect("all flags listed") += 1;
        }
    }
    let means: Vec<f64> = ok.iter().map(|(_, q)| q.mean as f64).collect();
    let rot: Vec<f64> = ok.iter().filter_map(|(_, q)| q.rotation_deg).collect();
    serde_json::json!({
        "n": rows.len(),
        "unreadable": rows.len() - ok.len(),
        "flagged": flagged,
        "sizes": sizes,
        "bit_depths": depths,
        "flag_counts": flags,
        "mean_intensity": Summary::of(&means),
        "rotation_deg": if rot.is_empty() { serde_json::Value::Null } else { serde_json::to_value(Summary::of(&rot)).unwrap_or_default() },
    })
}

fn image_sections(page: &mut Page, rows: &[ImageRow], flagged: usize) -> anyhow::Result<String> {
    let ok: Vec<(&ImageRow, &Radiograph, &QualityReport)> = rows
        .iter()
        .filter_map(|r| r.result.as_ref().ok().map(|(a, b, _, _)| (r, a, b)))
        .collect();
    let mut text = String::new();
    page.h2("Images");
    let mut sizes: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    let mut depths: BTreeMap<(u8, String), usize> = BTreeMap::new();
    for (_, r, _) in &ok {
        *sizes.entry((r.image.width, r.image.height)).or_default() += 1;
        let ph = serde_json::to_value(r.meta.photometric)?
            .as_str()
            .unwrap_or("")
            .to_string();
        *depths.entry((r.meta.bit_depth, ph)).or_default() += 1;
    }
    page.table(
        &["size (w x h)", "images"],
        &sizes
            .iter()
            .map(|((w, h), n)| vec![format!("{w} x {h}"), n.to_string()])
            .collect::<Vec<_>>(),
    );
    page.table(
        &["bit depth", "photometric", "images"],
        &depths
            .iter()
            .map(|((d, p), n)| vec![d.to_string(), p.clone(), n.to_string()])
            .collect::<Vec<_>>(),
    );
    let col = |f: &dyn Fn(&QualityReport) -> f32| -> Vec<f64> {
        ok.iter().map(|(_, _, q)| f(q) as f64).collect()
    };
    let stat_row = |name: &str, v: Vec<f64>| {
        let s = Summary::of(&v);
        vec![
            name.to_string(),
            format!("{:.3}", s.mean),
            format!("{:.3}", s.sd),
            format!("{:.3}", s.min),
            format!("{:.3}", s.median),
            format!("{:.3}", s.max),
        ]
    };
    page.p(
        "Intensity statistics per image (values in [0, 1], bone bright), summarised over images:",
    );
    page.table(
        &["per-image value", "mean", "SD", "min", "median", "max"],
        &[
            stat_row("mean intensity", col(&|q| q.mean)),
            stat_row("SD of intensity", col(&|q| q.sd)),
            stat_row("1st percentile", col(&|q| q.p01)),
            stat_row("median", col(&|q| q.p50)),
            stat_row("99th percentile", col(&|q| q.p99)),
            stat_row("hand area fraction", col(&|q| q.hand_area_fraction)),
        ],
    );
    page.h2("Quality flags");
    let mut counts: BTreeMap<QualityFlag, usize> = BTreeMap::new();
    for (_, _, q) in &ok {
        for f in &q.flags {
            *counts.entry(*f).or_default() += 1;
        }
    }
    let unreadable = rows.len() - ok.len();
    let mut flag_rows: Vec<Vec<String>> = QualityFlag::ALL
        .iter()
        .map(|f| {
            vec![
                f.name().to_string(),
                counts.get(f).copied().unwrap_or(0).to_string(),
            ]
        })
        .collect();
    flag_rows.push(vec!["unreadable".into(), unreadable.to_string()]);
    page.table(&["flag", "images"], &flag_rows);
    page.p(
        "too_dark: 99th percentile below 0.35; too_bright: 5th percentile above 0.5; \
         low_contrast: 1st–99th percentile range below 0.3; likely_inverted: the commonest grey \
         (air) is brighter than the middle of the image (palm); markers: very bright blobs \
         outside the hand (lead letters, labels); collimation: thin bright strips along the \
         border; rotated: the hand's long axis more than 20° from vertical (estimate from the \
         hand outline's second moments).",
    );
    let _ = writeln!(
        text,
        "  images: {} read, {} unreadable, {} flagged (besides markers); flags: {}",
        ok.len(),
        unreadable,
        flagged,
        counts
            .iter()
            .map(|(f, n)| format!("{f} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    page.raw(&format!(
        "<p>Contact sheet (<code>flagged.png</code>): {}. Flagged images come first, framed in red; \
         the hand outline found is drawn in green, marker boxes in yellow.</p>\
         <img src=\"flagged.png\" style=\"max-width:100%\" alt=\"contact sheet\">",
        if flagged > 0 { format!("{flagged} flagged image(s)") } else { "no image flagged besides markers and collimation".into() }
    ));
    page.h2("Per image");
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| match &r.result {
            Ok((rad, q, _, _)) => vec![
                r.id.clone(),
                format!("{}x{}", rad.image.width, rad.image.height),
                rad.meta.bit_depth.to_string(),
                format!("{:.2}", q.mean),
                format!("{:.2}–{:.2}", q.p01, q.p99),
                q.rotation_deg
                    .map(|d| format!("{d:+.0}°"))
                    .unwrap_or_else(|| "–".into()),
                q.marker_components.to_string(),
                q.flags
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(" "),
            ],
            Err(e) => vec![
                r.id.clone(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                format!("unreadable: {e}"),
            ],
        })
        .take(500)
        .collect();
    page.table(
        &[
            "id",
            "size",
            "bits",
            "mean",
            "p01–p99",
            "rotation",
            "markers",
            "flags",
        ],
        &table_rows,
    );
    if rows.len() > 500 {
        page.p(&format!(
            "First 500 of {} images; all are in quality.csv.",
            rows.len()
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_summary_on_a_small_table() {
        let ds = Dataset::parse(
            Path::new("t.csv"),
            b"id,boneage,male\n1,6,True\n2,12,False\n3,13,True\n4,24.5,False\n",
        )
        .unwrap();
        let l = LabelSummary::of(&ds.samples);
        assert_eq!(l.n, 4);
        assert_eq!(l.male_fraction, 0.5);
        assert_eq!(l.divisible_by_6_fraction, 0.5);
        assert_eq!(l.divisible_by_12_fraction, 0.25);
        assert_eq!((l.min_months, l.max_months), (6.0, 24.5));
        assert!((l.mean_months - 13.875).abs() < 1e-12);
    }
}
