//! `boneage keypoints`: trains the keypoint net.
//!
//! ```text
//! boneage keypoints --data DIR [--data DIR ...] [--config FILE] [--epochs N]
//!                   [--valid-fraction 0.1] --out MODEL_DIR
//! ```
//!
//! Each `--data` folder holds `images/` and `keypoints.csv` (`id,x1,y1,x2,y2,x3,y3`: tip of the
//! middle finger, tip of the thumb, centre of the capitate, in image pixels) — a phantom set as
//! `boneage phantom` writes it, or real radiographs with keypoints marked by hand. Hands are cut
//! out with `masks/<id>.png` when the folder has them, else with the segmentation model
//! (`--segmentation DIR`, default the built-in one), and equalised (CLAHE) as `boneage
//! register` does before the net sees them.

use crate::app::flags::{DeviceFlag, TrainingFlags};
use crate::app::inputs::{collect_inputs, read_mask};
use crate::app::models::load_segmentation;
use crate::progress;
use anyhow::{bail, Context};
use boneage_core::keypoints::read_keypoints;
use boneage_imaging::clahe::ClaheConfig;
use boneage_imaging::read_radiograph;
use boneage_nn::folder::ModelFolder;
use boneage_nn::keypoints::{KeypointConfig, KeypointModel, KeypointPair};
use boneage_nn::segmentation::SegModel;
use boneage_pipeline::front::enhance;
use clap::Args;
use rayon::prelude::*;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Args)]
pub struct KeypointsArgs {
    /// Folder with images/ and keypoints.csv (and optionally masks/). Repeatable.
    #[arg(long, required = true)]
    pub data: Vec<PathBuf>,
    #[command(flatten)]
    pub training: TrainingFlags,
    /// Segmentation model for folders without masks/ (default: the built-in one).
    #[arg(long)]
    pub segmentation: Option<PathBuf>,
    /// Fraction of the images held out to pick the best epoch and report the error.
    #[arg(long, default_value_t = 0.1)]
    pub valid_fraction: f64,
    /// Output model folder.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub device: DeviceFlag,
}

pub fn run(args: KeypointsArgs) -> anyhow::Result<()> {
    let device = args.device.resolve()?;
    let mut config = match &args.training.config {
        Some(c) => KeypointConfig::read(c)?,
        None => KeypointConfig::default(),
    };
    if let Some(e) = args.training.epochs {
        config.epochs = e;
    }
    config.validate()?;
    if !(0.0..0.9).contains(&args.valid_fraction) {
        bail!("--valid-fraction must be in [0, 0.9)");
    }
    let mut jobs = Vec::new();
    let mut need_segmentation = false;
    for d in &args.data {
        let table = d.join("keypoints.csv");
        let kps = read_keypoints(&table)?;
        let images = collect_inputs(&[d.join("images")], None, None)
            .with_context(|| format!("{}: a keypoint folder needs images/", d.display()))?;
        let by_id: std::collections::BTreeMap<_, _> =
            images.into_iter().map(|i| (i.id, i.path)).collect();
        for (id, kp) in kps {
            let img = by_id.get(&id).with_context(|| {
                format!(
                    "{}: keypoints for {id}, but no image {id}.* in {}",
                    table.display(),
                    d.join("images").display()
                )
            })?;
            let mask = d.join("masks").join(format!("{id}.png"));
            let mask = mask.is_file().then_some(mask);
            need_segmentation |= mask.is_none();
            jobs.push((id, img.clone(), mask, kp));
        }
    }
    if jobs.is_empty() {
        bail!("no keypoints found in the --data folders");
    }
    let seg: Option<SegModel> = if need_segmentation {
        Some(load_segmentation(args.segmentation.as_deref(), device)?)
    } else {
        None
    };
    let cl = ClaheConfig::default();
    let bar = progress::bar(jobs.len() as u64, "prepare");
    // Decode and equalise in parallel; the segmentation net (when needed) runs in turn.
    let pairs: Vec<KeypointPair> = jobs
        .par_iter()
        .map(|(id, img, mask, kp)| {
            let image = read_radiograph(img)?.image;
            let m = match mask {
                Some(m) => read_mask(m)?,
                None => return Ok((id.clone(), image, None, *kp)),
            };
            bar.inc(1);
            Ok((id.clone(), image, Some(m), *kp))
        })
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .map(|(id, image, m, kp)| {
            let m = match m {
                Some(m) => m,
                None => {
                    bar.inc(1);
                    seg.as_ref().expect("loaded when needed").mask(&image)
                }
            };
            KeypointPair::new(&id, &enhance(&image, &m, &cl), &kp, &config)
        })
        .collect();
    bar.finish_and_clear();
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for p in pairs {
        let h = p.id.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
        if (h % 1000) as f64 / 1000.0 < args.valid_fraction {
            valid.push(p);
        } else {
            train.push(p);
        }
    }
    eprintln!(
        "keypoints: {} training, {} held out",
        train.len(),
        valid.len()
    );
    let mut model = KeypointModel::new(&config, device)?;
    let bar = progress::bar(config.epochs as u64, "train");
    let mut csv = String::from("epoch,loss,valid_error_of_height,seconds\n");
    let epochs = config.epochs;
    let history = model.train(&train, &valid, &mut |e| {
        bar.suspend(|| {
            eprintln!(
                "epoch {}/{epochs}: loss {:.4}, held-out error {:.2}% of the input height ({:.0} s)",
                e.epoch,
                e.loss,
                100.0 * e.valid_error,
                e.seconds
            )
        });
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    for e in &history {
        writeln!(
            csv,
            "{},{:.5},{:.5},{:.1}",
            e.epoch, e.loss, e.valid_error, e.seconds
        )?;
    }
    model.save(&args.out)?;
    boneage_imaging::io::write_atomic(&args.out.join("metrics.csv"), csv.as_bytes())
        .with_context(|| format!("{}: cannot write", args.out.display()))?;
    let best = history
        .iter()
        .map(|e| e.valid_error)
        .fold(f64::INFINITY, f64::min);
    println!(
        "keypoint model written to {}; held-out mean error {:.2}% of the input height",
        args.out.display(),
        100.0 * best
    );
    Ok(())
}
