//! `boneage train --data DIR --config FILE --out RUN_DIR`: trains a VGG-style regression or
//! classification network (chosen by the config's `model.head`).

use crate::app::data::open_dataset;
use crate::app::flags::{DeviceFlag, TrainingFlags};
use anyhow::{bail, Context};
use boneage_core::split::stratified_split;
use boneage_core::Sample;
use boneage_nn::training::{train, Progress, TrainConfig};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct TrainArgs {
    /// Training data: a label table, or a folder with labels.csv and images/.
    #[arg(long)]
    pub data: PathBuf,
    /// Separate validation data; without it, `validation_fraction` of --data is held out
    /// (stratified by sex and age).
    #[arg(long)]
    pub valid: Option<PathBuf>,
    #[command(flatten)]
    pub training: TrainingFlags,
    /// Run folder for checkpoints, metrics and the config.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub device: DeviceFlag,
    /// Continue the run in --out after a stop.
    #[arg(long)]
    pub resume: bool,
    /// Start from these weights (`best.safetensors` of a run with the same model config, e.g.
    /// pre-trained on phantoms) instead of a random start; recorded in the run's config.json.
    #[arg(long, conflicts_with = "resume")]
    pub init: Option<PathBuf>,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let device = args.device.resolve()?;
    let mut cfg = match (&args.training.config, args.resume) {
        (Some(p), _) => TrainConfig::read(p)?,
        (None, true) => TrainConfig::read(&args.out.join("config.json"))?,
        (None, false) => bail!("--config FILE is needed to start a run"),
    };
    if let Some(e) = args.training.epochs {
        cfg.epochs = e;
    }
    if let Some(w) = &args.init {
        cfg.init_weights = Some(w.clone());
    }
    let ds = open_dataset(&args.data, None)?;
    let (train_set, valid_set): (Vec<Sample>, Vec<Sample>) = match &args.valid {
        Some(v) => (ds.samples.clone(), open_dataset(v, None)?.samples),
        None if args.resume && args.out.join("split.json").is_file() => {
            // Resume with exactly the samples the run started with.
            let split: boneage_nn::training::Split = serde_json::from_str(
                &std::fs::read_to_string(args.out.join("split.json")).context("split.json")?,
            )
            .context("split.json")?;
            let pick = |ids: &[String]| -> anyhow::Result<Vec<Sample>> {
                let by_id: std::collections::HashMap<&str, &Sample> =
                    ds.samples.iter().map(|s| (s.id.as_str(), s)).collect();
                ids.iter()
                    .map(|id| {
                        by_id
                            .get(id.as_str())
                            .map(|s| (*s).clone())
                            .with_context(|| {
                                format!(
                                    "sample {id:?} of the run's split is not in {}",
                                    args.data.display()
                                )
                            })
                    })
                    .collect()
            };
            (pick(&split.train)?, pick(&split.valid)?)
        }
        None => {
            let parts = stratified_split(
                &ds.samples,
                &[1.0 - cfg.validation_fraction, cfg.validation_fraction],
                cfg.seed,
            );
            let take = |p: &[usize]| p.iter().map(|&i| ds.samples[i].clone()).collect::<Vec<_>>();
            (take(&parts[0]), take(&parts[1]))
        }
    };
    eprintln!(
        "training {:?} head on {} images, validating on {}, device {:?}",
        cfg.model.head,
        train_set.len(),
        valid_set.len(),
        device
    );
    let mut bar: Option<indicatif::ProgressBar> = None;
    // A run that fails before its first checkpoint leaves nothing behind; one with a
    // checkpoint stays, for --resume.
    let folder = crate::app::out::OutFolder::create(&args.out)?;
    let result = train(
        &cfg,
        &train_set,
        &valid_set,
        &args.out,
        device,
        args.resume,
        |p| match p {
            Progress::Batch {
                epoch,
                done,
                total,
                loss,
                mae_months,
            } => {
                let pb = bar.get_or_insert_with(|| {
                    crate::progress::bar(total as u64, &format!("epoch {epoch}"))
                });
                pb.set_position(done as u64);
                pb.set_message(format!("epoch {epoch} loss {loss:.4} MAE {mae_months:.1}"));
            }
            Progress::Epoch(m) => {
                if let Some(pb) = bar.take() {
                    pb.finish_and_clear();
                }
                eprintln!(
                    "epoch {:>3}  lr {:.2e}  loss {:.4}  train MAE {:6.2}  valid MAE {:6.2} months  ({:.0} s)",
                    m.epoch, m.lr, m.train_loss, m.train_mae_months, m.valid_mae_months, m.seconds
                );
            }
        },
    );
    if result.is_ok() || args.out.join("state.json").is_file() {
        folder.keep();
    }
    let summary = result?;
    if summary.skipped_images > 0 {
        eprintln!(
            "{} image(s) could not be decoded and were skipped",
            summary.skipped_images
        );
    }
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
