//! `boneage mine`: trains the segmentation U-Net by positive mining.
//!
//! ```text
//! boneage mine --labelled DIR [--labelled DIR ...] [--unlabelled IMAGES|FOLDER ...]
//!              [--bootstrap] [--corrections DIR] [--rounds 3] [--config FILE] [--init MODEL]
//!              --out DIR
//! ```
//!
//! Start from the labelled masks (folders with `images/` and `masks/` of the same file names:
//! a phantom set, hand-drawn masks) and, with `--bootstrap`, the classical masks of the
//! unlabelled images that pass the plausibility check. Each round trains the net, predicts
//! every unlabelled image, keeps the largest component, scores the mask (area, one piece,
//! extent, fingers, contrast across the outline, agreement with the previous round's mask) and
//! keeps the plausible ones as training masks for the next round.
//!
//! Each round writes `round-<k>/contact.png` (kept masks outlined green, rejected red with the
//! reason, hand corrections yellow), `round-<k>/scores.csv` and the kept masks in
//! `round-<k>/masks/`. Masks dropped into the corrections folder (default
//! `<out>/corrections/<id>.png`, hand = white) replace the prediction of that image from the
//! next round on, and are never scored away. The final model is written to `<out>/model`
//! (for `boneage segment --model`), the rounds' numbers to `<out>/rounds.csv`.

use crate::app::flags::{DeviceFlag, TrainingFlags};
use crate::app::inputs::{collect_inputs, read_mask, stem, write_mask, Input};
use crate::progress;
use crate::sheet::{self, Tile};
use anyhow::{bail, Context};
use boneage_imaging::io::write_atomic;
use boneage_imaging::mask::{MaskLimits, MaskScore};
use boneage_imaging::segment::bootstrap_mask;
use boneage_imaging::{read_radiograph, GrayImage, Mask};
use boneage_nn::folder::ModelFolder;
use boneage_nn::segmentation::{SegConfig, SegModel, SegPair};
use clap::Args;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
pub struct MineArgs {
    /// Folder with `images/` and `masks/` (same file names; hand = white). Repeatable.
    #[arg(long, required = true)]
    pub labelled: Vec<PathBuf>,
    /// Images without masks to mine (files or folders). Repeatable.
    #[arg(long)]
    pub unlabelled: Vec<PathBuf>,
    /// Seed the first round with the bootstrap masks of the unlabelled images that pass the
    /// plausibility check.
    #[arg(long)]
    pub bootstrap: bool,
    /// Folder of hand-corrected masks `<id>.png` (default `<out>/corrections`).
    #[arg(long)]
    pub corrections: Option<PathBuf>,
    /// Rounds of train → predict → check.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    #[command(flatten)]
    pub training: TrainingFlags,
    /// Start from this model's weights (its config is used unless --config is given).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Fraction of the labelled masks held out to pick each round's best epoch.
    #[arg(long, default_value_t = 0.1)]
    pub valid_fraction: f64,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub device: DeviceFlag,
}

/// An unlabelled image kept in memory at a working size.
struct Unlabelled {
    input: Input,
    source_size: (usize, usize),
    small: GrayImage,
}

/// Longest side unlabelled images are kept at.
const WORK_SIZE: usize = 512;

pub fn run(args: MineArgs) -> anyhow::Result<()> {
    let device = args.device.resolve()?;
    let mut config = match (&args.training.config, &args.init) {
        (Some(c), _) => SegConfig::read(c)?,
        (None, Some(m)) => SegModel::load(m, device)?.config,
        (None, None) => SegConfig::default(),
    };
    if let Some(e) = args.training.epochs {
        config.epochs = e;
    }
    config.validate()?;
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    if !(0.0..0.9).contains(&args.valid_fraction) {
        bail!(
            "--valid-fraction must be in [0, 0.9), not {}",
            args.valid_fraction
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    let corrections_dir = args
        .corrections
        .clone()
        .unwrap_or_else(|| args.out.join("corrections"));
    std::fs::create_dir_all(&corrections_dir)
        .with_context(|| format!("{}: cannot create", corrections_dir.display()))?;

    // Labelled pairs, split into training and validation by a hash of the id.
    let labelled = read_labelled(&args.labelled, &config)?;
    let (mut train_l, mut valid) = (Vec::new(), Vec::new());
    for p in labelled {
        if (fnv(&p.id) % 1000) as f64 / 1000.0 < args.valid_fraction {
            valid.push(p);
        } else {
            train_l.push(p);
        }
    }
    if train_l.is_empty() {
        bail!("no labelled masks left for training (lower --valid-fraction or add masks)");
    }
    let unlabelled = read_unlabelled(&args.unlabelled)?;
    eprintln!(
        "mine: {} labelled masks ({} for training, {} held out), {} unlabelled images",
        train_l.len() + valid.len(),
        train_l.len(),
        valid.len(),
        unlabelled.len()
    );

    let limits = MaskLimits::default();
    let mut accepted: BTreeMap<String, Mask> = BTreeMap::new();
    if args.bootstrap && !unlabelled.is_empty() {
        let verdicts: Vec<Verdict> = unlabelled
            .par_iter()
            .map(|u| {
                let mask = bootstrap_mask(&u.small).mask;
                let score = MaskScore::compute(&u.small, &mask, None, &limits);
                Verdict {
                    problems: score.problems(&limits),
                    mask,
                    score,
                    corrected: false,
                }
            })
            .collect();
        write_round(&args.out.join("round-0"), &unlabelled, &verdicts)?;
        for (u, v) in unlabelled.iter().zip(verdicts) {
            if v.problems.is_empty() {
                accepted.insert(u.input.id.clone(), v.mask);
            }
        }
        eprintln!(
            "round 0 (bootstrap): kept {} of {} masks",
            accepted.len(),
            unlabelled.len()
        );
    }

    let mut model = match &args.init {
        Some(m) => {
            let mut loaded = SegModel::load(m, device)?;
            loaded.config = config.clone();
            loaded
        }
        None => SegModel::new(&config, device)?,
    };
    let mut rounds_csv = String::from(
        "round,train_masks,labelled,mined,corrected,kept,rejected,valid_iou,seconds\n",
    );
    for round in 1..=args.rounds {
        let t0 = Instant::now();
        let corrections = read_corrections(&corrections_dir, &unlabelled)?;
        let mut train = train_l.clone();
        let mut mined = 0;
        for u in &unlabelled {
            let id = &u.input.id;
            let m = corrections.get(id).or_else(|| accepted.get(id));
            if let Some(m) = m {
                train.push(SegPair::new(id, &u.small, m, &config));
                mined += (!corrections.contains_key(id)) as usize;
            }
        }
        let bar = progress::bar(config.epochs as u64, &format!("round {round}"));
        let history = model.train(&train, &valid, &mut |e| {
            bar.set_message(format!("round {round} iou {:.4}", e.valid_iou));
            bar.inc(1);
        })?;
        bar.finish_and_clear();
        let valid_iou = if valid.is_empty() {
            f64::NAN
        } else {
            model.input_iou(&valid)
        };
        let verdicts: Vec<Verdict> = unlabelled
            .iter()
            .map(|u| {
                let id = &u.input.id;
                if let Some(c) = corrections.get(id) {
                    let score = MaskScore::compute(&u.small, c, None, &limits);
                    return Verdict {
                        mask: c.clone(),
                        score,
                        problems: Vec::new(),
                        corrected: true,
                    };
                }
                let mask = model.mask(&u.small);
                let score = MaskScore::compute(&u.small, &mask, accepted.get(id), &limits);
                Verdict {
                    problems: score.problems(&limits),
                    mask,
                    score,
                    corrected: false,
                }
            })
            .collect();
        write_round(
            &args.out.join(format!("round-{round}")),
            &unlabelled,
            &verdicts,
        )?;
        let kept = verdicts
            .iter()
            .filter(|v| v.problems.is_empty() && !v.corrected)
            .count();
        let rejected = verdicts.iter().filter(|v| !v.problems.is_empty()).count();
        accepted = unlabelled
            .iter()
            .zip(verdicts)
            .filter(|(_, v)| v.problems.is_empty() && !v.corrected)
            .map(|(u, v)| (u.input.id.clone(), v.mask))
            .collect();
        let secs = t0.elapsed().as_secs_f64();
        writeln!(
            rounds_csv,
            "{round},{},{},{mined},{},{kept},{rejected},{valid_iou:.4},{secs:.1}",
            train.len(),
            train_l.len(),
            corrections.len()
        )?;
        let last = history.last().map(|e| e.loss).unwrap_or(f64::NAN);
        eprintln!(
            "round {round}: trained on {} masks ({mined} mined, {} corrected), loss {last:.4}, \
             held-out IoU {valid_iou:.4}; kept {kept}, rejected {rejected} ({secs:.0} s)",
            train.len(),
            corrections.len()
        );
        write_atomic(&args.out.join("rounds.csv"), rounds_csv.as_bytes())
            .with_context(|| format!("{}: cannot write", args.out.display()))?;
    }
    model.save(&args.out.join("model"))?;
    println!(
        "model written to {} (use: boneage segment --model {} ...)",
        args.out.join("model").display(),
        args.out.join("model").display()
    );
    Ok(())
}

struct Verdict {
    mask: Mask,
    score: MaskScore,
    problems: Vec<String>,
    corrected: bool,
}

/// FNV-1a hash of an id (a split that does not depend on the order of files).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Image/mask pairs from folders with `images/` and `masks/`.
fn read_labelled(dirs: &[PathBuf], cfg: &SegConfig) -> anyhow::Result<Vec<SegPair>> {
    let mut jobs: Vec<(String, PathBuf, PathBuf)> = Vec::new();
    for d in dirs {
        let (img_dir, mask_dir) = (d.join("images"), d.join("masks"));
        if !img_dir.is_dir() || !mask_dir.is_dir() {
            bail!(
                "{}: a labelled folder needs images/ and masks/ subfolders",
                d.display()
            );
        }
        let images: BTreeMap<String, PathBuf> = collect_inputs(&[img_dir.clone()], None, None)?
            .into_iter()
            .map(|i| (i.id, i.path))
            .collect();
        let masks = collect_inputs(&[mask_dir.clone()], None, None)?;
        for m in masks {
            let img = images.get(&m.id).with_context(|| {
                format!(
                    "{}: mask without an image of the same name in {}",
                    m.path.display(),
                    img_dir.display()
                )
            })?;
            jobs.push((m.id, img.clone(), m.path));
        }
    }
    if jobs.is_empty() {
        bail!("no labelled masks found");
    }
    let bar = progress::bar(jobs.len() as u64, "labelled");
    let pairs = jobs
        .par_iter()
        .map(|(id, img, mask)| {
            let image = read_radiograph(img)?.image;
            let m = read_mask(mask)?;
            if (m.width, m.height) != (image.width, image.height) {
                bail!(
                    "{}: mask is {}x{} but its image {} is {}x{}",
                    mask.display(),
                    m.width,
                    m.height,
                    img.display(),
                    image.width,
                    image.height
                );
            }
            bar.inc(1);
            Ok(SegPair::new(id, &image, &m, cfg))
        })
        .collect::<anyhow::Result<Vec<_>>>();
    bar.finish_and_clear();
    pairs
}

fn read_unlabelled(paths: &[PathBuf]) -> anyhow::Result<Vec<Unlabelled>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let inputs = collect_inputs(paths, None, None)?;
    inputs
        .into_par_iter()
        .map(|input| {
            let img = read_radiograph(&input.path)?.image;
            let (w, h) = img.fit_within(WORK_SIZE, WORK_SIZE);
            let small = if w < img.width {
                img.resize(w, h)
            } else {
                img.clone()
            };
            Ok(Unlabelled {
                source_size: (img.width, img.height),
                small,
                input,
            })
        })
        .collect()
}

/// Hand corrections for unlabelled images, at their working size. A correction for an id that
/// is not among the unlabelled images is an error (a typo would otherwise be ignored).
fn read_corrections(
    dir: &Path,
    unlabelled: &[Unlabelled],
) -> anyhow::Result<BTreeMap<String, Mask>> {
    let mut out = BTreeMap::new();
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    for f in files {
        let id = stem(&f);
        let u = unlabelled
            .iter()
            .find(|u| u.input.id == id)
            .with_context(|| {
                format!(
                    "{}: a correction for {id}, which is not among the unlabelled images",
                    f.display()
                )
            })?;
        let m = read_mask(&f)?;
        if (m.width, m.height) != u.source_size {
            bail!(
                "{}: mask is {}x{} but {} is {}x{}",
                f.display(),
                m.width,
                m.height,
                u.input.path.display(),
                u.source_size.0,
                u.source_size.1
            );
        }
        out.insert(id, m.resize(u.small.width, u.small.height));
    }
    Ok(out)
}

fn write_round(dir: &Path, unlabelled: &[Unlabelled], verdicts: &[Verdict]) -> anyhow::Result<()> {
    let masks = dir.join("masks");
    std::fs::create_dir_all(&masks)
        .with_context(|| format!("{}: cannot create", masks.display()))?;
    let mut csv = String::from(
        "id,kept,corrected,area_fraction,extent,finger_lines,edge_contrast,agreement,problems\n",
    );
    let mut tiles = Vec::new();
    for (u, v) in unlabelled.iter().zip(verdicts) {
        let kept = v.problems.is_empty();
        if kept {
            write_mask(
                &masks.join(format!("{}.png", u.input.id)),
                &v.mask.resize(u.source_size.0, u.source_size.1),
            )?;
        }
        let s = &v.score;
        writeln!(
            csv,
            "{},{kept},{},{:.4},{:.3},{:.3},{:.3},{},\"{}\"",
            u.input.id,
            v.corrected,
            s.area_fraction,
            s.extent,
            s.finger_lines,
            s.edge_contrast,
            s.agreement.map(|a| format!("{a:.4}")).unwrap_or_default(),
            v.problems.join("; ")
        )?;
        let colour = if v.corrected {
            sheet::YELLOW
        } else if kept {
            sheet::GREEN
        } else {
            sheet::RED
        };
        let mut t = Tile::of(&u.small, 160);
        t.outline = Some((v.mask.clone(), colour));
        t.frame = (!kept || v.corrected).then_some(colour);
        t.caption = if kept {
            u.input.id.clone()
        } else {
            v.problems.join(", ")
        };
        tiles.push(t);
    }
    write_atomic(&dir.join("scores.csv"), csv.as_bytes())
        .with_context(|| format!("{}: cannot write", dir.display()))?;
    // Rejected first: they are the ones to look at (and correct).
    tiles.sort_by_key(|t| t.frame != Some(sheet::RED));
    if !tiles.is_empty() {
        sheet::write_sheet(
            &dir.join("contact.png"),
            &tiles[..tiles.len().min(300)],
            160,
            10,
        )?;
    }
    Ok(())
}
