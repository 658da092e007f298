//! `boneage evaluate --run RUN_DIR --data DIR --out DIR`: predictions of a trained run on a
//! labelled set, `evaluation.json` (overall, by sex, by development stage), `predictions.csv`
//! and an HTML report (predicted vs true, Bland-Altman, error by age, sex and stage).

use crate::app::evaluation::evaluate;
use crate::app::flags::{DeviceFlag, TtaFlag};
use boneage_nn::run::TrainedRun;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct EvaluateArgs {
    /// Run folder written by `boneage train` (one net on the whole image).
    #[arg(long, conflicts_with = "model")]
    pub run: Option<PathBuf>,
    /// Model bundle: the full pipeline from the raw radiographs, written as the seed's results
    /// table (results.json, results.html). Default when no --run: the built-in bundle.
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub tta: TtaFlag,
    /// Labelled data: a label table, or a folder with labels.csv and images/.
    #[arg(long)]
    pub data: PathBuf,
    /// Where the images of --data are (default: `images/` beside its table, or its folder).
    #[arg(long = "data-images")]
    pub data_images: Option<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub device: DeviceFlag,
}

use crate::app::out::OutFolder;

pub fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    let device = args.device.resolve()?;
    let Some(run) = &args.run else {
        let bundle = crate::app::models::load_bundle(args.model.as_deref(), device)?;
        let tta = args.tta.views(bundle.manifest.tta.views)?;
        let pipeline = boneage_pipeline::Pipeline::new(bundle).with_tta(tta);
        let folder = OutFolder::create(&args.out)?;
        let r = crate::app::results::bundle_results(
            &pipeline,
            &args.data,
            args.data_images.as_deref(),
            &args.out,
            "Bone age results table",
        )?;
        folder.keep();
        r.print_summary(&args.out);
        return Ok(());
    };
    let run = TrainedRun::load(run, device)?;
    let folder = OutFolder::create(&args.out)?;
    let ev = evaluate(
        &run,
        &args.data,
        args.data_images.as_deref(),
        &args.out,
        "Bone age evaluation",
    )?;
    folder.keep();
    println!(
        "n {}  MAE {:.2} months  RMSE {:.2}  within 12 months {:.1}%  (baseline MAE {:.2})",
        ev.overall.n,
        ev.overall.mae_months,
        ev.overall.rmse_months,
        100.0 * ev.overall.within_12_months_fraction,
        ev.overall.baseline_mae_months
    );
    println!("report: {}", args.out.join("report.html").display());
    Ok(())
}
