//! `boneage hand-template`: fits the quality gate's template of a typical registered hand.
//!
//! ```text
//! boneage hand-template --registered DIR [--registered DIR ...] [--quantile Q]
//!                       [--described-as TEXT] --out FILE
//! ```
//!
//! Each `--registered` folder is `boneage register` output of real left hands (the training
//! split; never the films the gate is measured on). Every hand registered without a reflection
//! gives its occupancy grid and thumbnail (`boneage_imaging::hand_template`); the template is
//! their mean, and each score's lower limit is the `--quantile` of the fitting hands' own scores
//! (default 0.01: one hand in 100 falls below). The project ships the result as
//! `data/hand_template.json`; the quality gate (`boneage_pipeline::gate`) reads it.

use crate::app::inputs::registered_hands;
use anyhow::{bail, Context};
use boneage_imaging::hand_template::{occupancy, HandTemplate};
use boneage_imaging::handedness::thumbnail;
use boneage_imaging::io::write_atomic;
use boneage_imaging::read_radiograph;
use boneage_imaging::spatial::Affine;
use clap::Args;
use rayon::prelude::*;
use std::path::PathBuf;

#[derive(Args)]
pub struct HandTemplateArgs {
    /// A `boneage register` output folder of real left hands. Repeatable.
    #[arg(long, required = true)]
    pub registered: Vec<PathBuf>,
    /// Each score's lower limit: this quantile of the fitting hands' scores.
    #[arg(long, default_value_t = 0.01)]
    pub quantile: f64,
    /// The fitting hands in words, for the template's `fitted_on` (default: the folders).
    #[arg(long)]
    pub described_as: Option<String>,
    /// Output JSON file.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: HandTemplateArgs) -> anyhow::Result<()> {
    if !(args.quantile.is_finite() && (0.0..0.5).contains(&args.quantile)) {
        bail!("--quantile must be a number in [0, 0.5)");
    }
    let files = registered_hands(&args.registered)?;
    let hands = files
        .par_iter()
        .map(|p| -> anyhow::Result<_> {
            let img = read_radiograph(p)?.image;
            Ok((
                occupancy(&img, &Affine::IDENTITY),
                thumbnail(&img, &Affine::IDENTITY),
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut t = HandTemplate::fit(&hands, args.quantile).context("no hands to fit")?;
    let list = args.described_as.clone().unwrap_or_else(|| {
        args.registered
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    });
    t.fitted_on = format!(
        "{} registered hands ({list}); limits at the {} quantile of their own scores",
        hands.len(),
        args.quantile
    );
    let mut shape: Vec<f64> = hands.iter().map(|h| t.shape(&h.0)).collect();
    let mut look: Vec<f64> = hands.iter().map(|h| t.look(&h.1)).collect();
    for (name, v, min) in [
        ("shape", &mut shape, t.shape_min),
        ("look", &mut look, t.look_min),
    ] {
        v.sort_by(f64::total_cmp);
        println!(
            "{name}: min {:.3}, median {:.3}, limit {:.3} ({} of {} below)",
            v[0],
            v[v.len() / 2],
            min,
            v.iter().filter(|&&s| s < min).count(),
            v.len()
        );
    }
    let json = serde_json::to_string(&t)?;
    write_atomic(&args.out, json.as_bytes())
        .with_context(|| format!("{}: cannot write", args.out.display()))?;
    println!("hand template: {}", args.out.display());
    Ok(())
}
