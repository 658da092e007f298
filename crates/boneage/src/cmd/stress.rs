//! `boneage stress --data DIR --out DIR`: clinical image variations at graded strengths
//! applied to labelled radiographs and read by the whole pipeline (`app::stress`); per
//! variation the mean and 95th percentile change of the bone age and the share the quality
//! gate rejected, in `stress.json`, `stress.html` and `changes.csv`.
//!
//! ```text
//! boneage stress --data TABLE_OR_DIR [--data-images DIR] --out DIR [--model BUNDLE] [--tta N]
//!                [--only rotate,jpeg,...] [--limit N] [--tolerance-months 6] [--check]
//! ```

use crate::app::flags::{DeviceFlag, TtaFlag};
use crate::app::stress::{select, stress};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct StressArgs {
    /// Model bundle (default: the built-in one).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Labelled radiographs: a label table, or a folder with labels.csv and images/.
    #[arg(long)]
    pub data: PathBuf,
    /// Where the images of --data are (default: `images/` beside its table, or its folder).
    #[arg(long = "data-images")]
    pub data_images: Option<PathBuf>,
    /// Output folder: stress.json, stress.html, changes.csv.
    #[arg(long)]
    pub out: PathBuf,
    /// Only these transforms (comma-separated: rotate, flip, brightness, contrast, gamma,
    /// invert, noise, blur, downscale, resolution, crop, markers, jpeg). Default: all.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Only the first N films of --data.
    #[arg(long)]
    pub limit: Option<usize>,
    /// A variation passes when the films still read move by at most this much on average.
    #[arg(long, default_value_t = 6.0)]
    pub tolerance_months: f64,
    /// Longest side of the example pictures (every variation of the first film, in
    /// OUT/examples/); a large value keeps them at full size, to feed to `boneage predict
    /// --debug-images`.
    #[arg(long, default_value_t = 384)]
    pub example_size: usize,
    /// Exit with status 1 when a variation is over the tolerance.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub tta: TtaFlag,
    #[command(flatten)]
    pub device: DeviceFlag,
}

pub fn run(args: StressArgs) -> anyhow::Result<()> {
    let chosen = select(&args.only)?;
    if args.limit == Some(0) {
        anyhow::bail!("--limit 0: no films to test");
    }
    let device = args.device.resolve()?;
    let bundle = crate::app::models::load_bundle(args.model.as_deref(), device)?;
    let tta = args.tta.views(bundle.manifest.tta.views)?;
    let pipeline = boneage_pipeline::Pipeline::new(bundle).with_tta(tta);
    let folder = crate::app::out::OutFolder::create(&args.out)?;
    let r = stress(
        &pipeline,
        &args.data,
        args.data_images.as_deref(),
        &args.out,
        &chosen,
        args.limit,
        args.tolerance_months,
        args.example_size.max(16),
    )?;
    folder.keep();
    println!(
        "stress: {} films ({} unchanged rejected), unchanged MAE {:.2} months, {} variations, {:.0} s",
        r.films,
        r.unchanged_rejected.len(),
        r.unchanged_mae_months,
        r.variations.len(),
        r.seconds
    );
    for v in &r.variations {
        let f = |x: Option<f64>| x.map_or("     –".into(), |x| format!("{x:6.2}"));
        println!(
            "  {:<11} {:<24} rejected {:5.1}%  mean |change| {}  p95 {}  {}",
            v.transform,
            v.strength,
            100.0 * v.rejected_share,
            f(v.mean_abs_change_months),
            f(v.p95_abs_change_months),
            if v.passes { "passes" } else { "OVER" }
        );
    }
    let over = r.variations.iter().filter(|v| !v.passes).count();
    println!(
        "{} of {} variations within {} months or rejected; table: {}",
        r.variations.len() - over,
        r.variations.len(),
        r.tolerance_months,
        args.out.join("stress.html").display()
    );
    if args.check && over > 0 {
        eprintln!("error: {over} variations moved the bone age by more than the tolerance");
        std::process::exit(1);
    }
    Ok(())
}
