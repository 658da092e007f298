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

use crate::app::eda::*;
use crate::app::flags::BatchFlags;
use crate::report::Page;
use anyhow::{bail, Context};
use boneage_core::{stats, Dataset, Sex};
use boneage_imaging::io::write_atomic;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;

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

pub fn run(args: EdaArgs) -> anyhow::Result<()> {
    let mut ds = Dataset::read(&args.labels)?;
    if let Some(dir) = &args.images {
        if !dir.is_dir() {
            bail!("{}: image folder does not exist", dir.display());
        }
    }
    let folder = crate::app::out::OutFolder::create(&args.out)?;

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
    folder.keep();
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
