//! `boneage handedness`: fits the left-hand / mirror-image template of the mirror check and
//! writes it into a keypoint model.
//!
//! ```text
//! boneage handedness --registered DIR [--registered DIR ...] --mirrored DIR [--mirrored DIR ...]
//!                    [--model KEYPOINT_DIR] [--threshold T] [--lambda L] [--iterations N]
//!                    --out KEYPOINT_DIR
//! ```
//!
//! Each `--registered` folder is `boneage register` output of left hands (RSNA films are left
//! hands, phantoms too); each `--mirrored` folder the same images registered as mirror images
//! (`boneage register --mirror-images`). Every hand registered without a reflection
//! (`mirrored: false`) gives the thumbnail of its registered whole hand: left hands in the first
//! folders, what a mirror image looks like when read as a left hand in the others. The template
//! is fitted by logistic regression on those (`boneage_imaging::handedness`), and the keypoint
//! model (default: the built-in one) is written to `--out` with the template in its
//! `keypoints.json`; its net is unchanged. The scores on the fitting sets are printed.

use crate::app::inputs::registered_hands;
use crate::app::models::load_keypoints;
use anyhow::bail;
use boneage_imaging::handedness::{thumbnail, HandednessTemplate};
use boneage_imaging::spatial::Affine;
use boneage_imaging::{read_radiograph, GrayImage};
use boneage_nn::folder::ModelFolder;
use boneage_nn::DeviceChoice;
use clap::Args;
use rayon::prelude::*;
use std::path::PathBuf;

#[derive(Args)]
pub struct HandednessArgs {
    /// A `boneage register` output folder of left hands. Repeatable.
    #[arg(long, required = true)]
    pub registered: Vec<PathBuf>,
    /// A `boneage register --mirror-images` output folder. Repeatable.
    #[arg(long, required = true)]
    pub mirrored: Vec<PathBuf>,
    /// Keypoint model to add the template to. Default: the built-in one.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// A reading counts as a mirror image only beyond this margin.
    #[arg(long, default_value_t = 8.0)]
    pub threshold: f64,
    /// L2 penalty of the logistic regression.
    #[arg(long, default_value_t = 0.05)]
    pub lambda: f64,
    /// Gradient-descent iterations.
    #[arg(long, default_value_t = 300)]
    pub iterations: usize,
    /// Output keypoint model folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Thumbnails of the hands registered without a reflection in `boneage register` folders.
fn thumbnails(dirs: &[PathBuf]) -> anyhow::Result<Vec<GrayImage>> {
    registered_hands(dirs)?
        .par_iter()
        .map(|p| -> anyhow::Result<_> {
            Ok(thumbnail(&read_radiograph(p)?.image, &Affine::IDENTITY))
        })
        .collect()
}

/// Prints the spread of the scores of a set.
fn describe(what: &str, t: &HandednessTemplate, thumbs: &[GrayImage], sign: f64) {
    let mut m: Vec<f64> = thumbs.iter().map(|x| sign * t.margin(x)).collect();
    m.sort_by(f64::total_cmp);
    let q = |f: f64| m[((m.len() - 1) as f64 * f).round() as usize];
    let wrong = m.iter().filter(|v| **v < 0.0).count();
    println!(
        "{what}: {} hands, score on the right side: min {:.1}, 1% {:.1}, 5% {:.1}, median {:.1}; \
         {wrong} on the wrong side",
        m.len(),
        m[0],
        q(0.01),
        q(0.05),
        q(0.5),
    );
}

pub fn run(args: HandednessArgs) -> anyhow::Result<()> {
    if !(args.threshold.is_finite() && args.threshold >= 0.0) {
        bail!("--threshold must be a number >= 0");
    }
    let left = thumbnails(&args.registered)?;
    let mirrors = thumbnails(&args.mirrored)?;
    let mut t = HandednessTemplate::fit(&left, &mirrors, args.lambda, args.iterations);
    t.threshold = args.threshold;
    describe("left hands", &t, &left, 1.0);
    describe("mirror images", &t, &mirrors, -1.0);
    let list = |d: &[PathBuf]| {
        d.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    t.fitted_on = format!(
        "{} registered left hands ({}) and {} registered mirror images ({}); logistic \
         regression, lambda {}, {} iterations",
        left.len(),
        list(&args.registered),
        mirrors.len(),
        list(&args.mirrored),
        args.lambda,
        args.iterations
    );
    let device = DeviceChoice::Cpu.resolve()?;
    let mut model = load_keypoints(args.model.as_deref(), device)?;
    model.config.handedness = Some(t);
    model.save(&args.out)?;
    println!(
        "keypoint model with the handedness template: {}",
        args.out.display()
    );
    Ok(())
}
