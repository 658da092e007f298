//! `boneage phantom`: a synthetic dataset of left-hand radiographs in the RSNA layout, or a
//! contact sheet of phantoms from birth to 19 years.
//!
//! ```text
//! boneage phantom --n 1000 --out phantoms --seed 7 [--size 512x640] [--ages rsna|uniform|FILE] [--bit16]
//! boneage phantom --contact-sheet sheet.png [--size 200x250] [--clean] [--seed 0]
//! ```
//!
//! The set folder gets `labels.csv` (`id,boneage,male,chronological_age`), `keypoints.csv`
//! (`id,x1,y1,x2,y2,x3,y3`: tip of the middle finger's distal phalanx, tip of the thumb's,
//! centre of the capitate, pixels), `images/<id>.png`, `masks/<id>.png` (hand = 255) and
//! `phantom.json` (how it was made). The output is byte-identical for a seed whatever `--jobs`.

use crate::app::flags::JobsFlag;
use crate::progress;
use anyhow::{bail, Context};
use boneage_phantom::contact::{contact_sheet, ContactSheet};
use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{parse_size, AgeSource, PhantomConfig};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct PhantomArgs {
    /// Number of images (default with --ages FILE: one per row of the table).
    #[arg(long)]
    pub n: Option<usize>,
    /// Output folder (created if needed).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed of the set; image i uses the stream (seed, i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Image size WIDTHxHEIGHT (default 512x640; for --contact-sheet the tile size, default
    /// 200x250).
    #[arg(long)]
    pub size: Option<String>,
    /// Where bone ages and sexes come from: `rsna` (the RSNA training distribution, default),
    /// `uniform` (0-228 months, sexes 50/50) or a label table FILE (any format `boneage eda`
    /// reads) whose rows are used in order.
    #[arg(long, default_value = "rsna")]
    pub ages: String,
    /// Write 16-bit PNG radiographs.
    #[arg(long)]
    pub bit16: bool,
    #[command(flatten)]
    pub jobs: JobsFlag,
    /// Write a contact sheet (girls and boys, 0-19 years of bone age) to this PNG instead of a
    /// dataset.
    #[arg(long, value_name = "FILE")]
    pub contact_sheet: Option<PathBuf>,
    /// With --contact-sheet: neutral pose, typical build, no noise or artefacts.
    #[arg(long)]
    pub clean: bool,
}

pub fn run(args: PhantomArgs) -> anyhow::Result<()> {
    let pool = args.jobs.pool()?;
    pool.install(|| match &args.contact_sheet {
        Some(path) => run_sheet(&args, path),
        None => run_dataset(&args),
    })
}

fn run_sheet(args: &PhantomArgs, path: &PathBuf) -> anyhow::Result<()> {
    let (tile_width, tile_height) = match &args.size {
        Some(s) => parse_size(s)?,
        None => (200, 250),
    };
    let opts = ContactSheet {
        tile_width,
        tile_height,
        clean: args.clean,
        seed: args.seed,
    };
    let sheet = contact_sheet(&opts)?;
    boneage_imaging::io::write_png_gray8(path, &sheet)?;
    println!(
        "wrote contact sheet {} ({}x{}, tiles {}x{}, seed {})",
        path.display(),
        sheet.width,
        sheet.height,
        tile_width,
        tile_height,
        args.seed
    );
    Ok(())
}

fn run_dataset(args: &PhantomArgs) -> anyhow::Result<()> {
    let Some(out) = &args.out else {
        bail!("--out DIR is required (or --contact-sheet FILE)");
    };
    let (width, height) = match &args.size {
        Some(s) => parse_size(s)?,
        None => (512, 640),
    };
    let ages = match args.ages.as_str() {
        "rsna" => AgeSource::Rsna,
        "uniform" => AgeSource::Uniform,
        file => AgeSource::from_table(std::path::Path::new(file))?,
    };
    let n = match (args.n, ages.rows()) {
        (Some(n), _) => n,
        (None, Some(rows)) => rows,
        (None, None) => bail!("--n N is required (the number of images)"),
    };
    let spec = DatasetSpec {
        n,
        seed: args.seed,
        config: PhantomConfig::with_size(width, height),
        ages,
        bit16: args.bit16,
    };
    boneage_phantom::dataset::validate(&spec)?;
    let bar = progress::bar(n as u64, "phantom");
    let start = Instant::now();
    let folder = crate::app::out::OutFolder::create(out)?;
    let records = write_dataset(out, &spec, &|| bar.inc(1))
        .with_context(|| format!("writing the phantom set into {}", out.display()))?;
    folder.keep();
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let males = records.iter().filter(|r| r.subject.sex.is_male()).count();
    let mean_age = records
        .iter()
        .map(|r| r.subject.bone_age_months)
        .sum::<f64>()
        / records.len() as f64;
    println!(
        "wrote {} phantoms ({}x{}{}, seed {}) to {}: labels.csv, keypoints.csv, images/, masks/",
        records.len(),
        width,
        height,
        if args.bit16 { ", 16-bit" } else { "" },
        args.seed,
        out.display()
    );
    println!(
        "  {males} boys, {} girls, mean bone age {mean_age:.1} months; {:.1} s ({:.1} images/s)",
        records.len() - males,
        secs,
        records.len() as f64 / secs.max(1e-9)
    );
    Ok(())
}
