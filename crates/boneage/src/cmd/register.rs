//! `boneage register`: every radiograph into the seed's canonical frame, and its regions.
//!
//! ```text
//! boneage register [--model KEYPOINT_MODEL] [--segmentation SEG_MODEL] --out DIR
//!                  [--data DATASET] [IMAGE|FOLDER ...]
//! ```
//!
//! Radiograph → hand mask (U-Net) → grey scale turned back if inverted, CLAHE, black outside
//! the hand → the three keypoints (keypoint net) → least-squares similarity onto the canonical
//! keypoints (1600x2080 frame; see `boneage_imaging::registration`) → writes
//!
//! - `registered/<id>.png`: the hand in the canonical frame (1600x2080, 8-bit);
//! - `regions/A|B|C/<id>.png`: whole hand 375x500, carpals 256x256, metacarpals + proximal
//!   phalanges 320x256, cut by `boneage_pipeline::cut_regions` exactly as prediction cuts them;
//! - `<id>.json`: `keypoints` (three `[x, y]` in source pixels: middle tip, thumb tip,
//!   capitate), `mirrored` (a right hand or a film put in backwards, read as a left hand
//!   through a reflection), `affine` (the 2x3 matrix from source to canonical pixels), the
//!   scale and rotation it implies, the source and the models used;
//! - `contact.png`: the registered hands side by side with the canonical keypoints (yellow) and
//!   the regions A (green), B (red), C (blue) marked.
//!
//! The output folder is a cache: an image whose `<id>.json` names the same source (size and
//! modification time) and the same models is not done again. With `--data`, each
//! `regions/<R>/` also gets the dataset's label table as `labels.csv`, so
//! `boneage train --data DIR/regions/A` trains on the registered regions.

use crate::app::flags::{BatchFlags, DeviceFlag};
use crate::app::inputs::{collect_inputs, Input};
use crate::app::models::{load_keypoints, load_segmentation};
use crate::app::out::ItemError;
use crate::progress;
use crate::sheet::{self, Tile};
use anyhow::{bail, Context};
use boneage_imaging::io::{write_atomic, write_png_gray8};
use boneage_imaging::registration::{warp_to_canonical, Region, CANONICAL_KEYPOINTS};
use boneage_imaging::{read_radiograph, GrayImage};
use boneage_nn::bundle::TtaConfig;
use boneage_nn::keypoints::Registration;
use boneage_pipeline::front::{cut_regions, rotation_deg, scale, FrontEnd, REGISTRATION_RULE};
use clap::Args;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct RegisterArgs {
    /// Keypoint model folder (keypoints.json + model.safetensors). Default: built in.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Segmentation model folder. Default: built in.
    #[arg(long)]
    pub segmentation: Option<PathBuf>,
    /// Output folder (also the cache).
    #[arg(long)]
    pub out: PathBuf,
    /// A dataset (label table or folder with one) whose images to register.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Where the images of --data are (default: `images/` beside its table, or its folder).
    #[arg(long = "data-images", requires = "data")]
    pub data_images: Option<PathBuf>,
    /// Radiographs (PNG, JPEG, DICOM) or folders of them.
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub batch: BatchFlags,
    #[command(flatten)]
    pub device: DeviceFlag,
    /// Register the mirror image of every radiograph instead (right hands made from left
    /// ones: the examples `boneage handedness` learns what a mirror image looks like from).
    #[arg(long)]
    pub mirror_images: bool,
}

/// What `<id>.json` holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    id: String,
    source: String,
    source_width: usize,
    source_height: usize,
    source_modified: u64,
    keypoints: [[f64; 2]; 3],
    /// A mirrored hand, read as a left hand (the affine then includes the reflection).
    #[serde(default)]
    mirrored: bool,
    /// Distance of the thumb keypoint from its canonical place (canonical pixels, of 2080).
    #[serde(default)]
    thumb_residual_px: f64,
    /// Where the thumb keypoint lands in the canonical frame (its place: 1500, 850).
    #[serde(default)]
    thumb_canonical: [f64; 2],
    /// The same for the reading not taken (the mirror image's, or the original's).
    #[serde(default)]
    other_thumb_canonical: Option<[f64; 2]>,
    /// The handedness template's margin of the reading taken (positive: a left hand) and of
    /// the other one, when the keypoint model has a template.
    #[serde(default)]
    handedness_margin: Option<f64>,
    #[serde(default)]
    other_handedness_margin: Option<f64>,
    affine: [[f64; 3]; 2],
    scale: f64,
    rotation_deg: f64,
    models: String,
}

/// Seconds since the epoch of a file's modification (0 when unknown).
fn modified(p: &Path) -> u64 {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn run(args: RegisterArgs) -> anyhow::Result<()> {
    let inputs = collect_inputs(
        &args.images,
        args.data.as_deref(),
        args.data_images.as_deref(),
    )?;
    if inputs.is_empty() {
        bail!("nothing to register: give images, folders or --data");
    }
    let pool = args.batch.jobs.pool()?;
    let device = args.device.resolve()?;
    let seg = load_segmentation(args.segmentation.as_deref(), device)?;
    let kp = load_keypoints(args.model.as_deref(), device)?;
    let models = format!(
        "segmentation={} keypoints={} {REGISTRATION_RULE}{}",
        args.segmentation
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in".into()),
        args.model
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in".into()),
        if args.mirror_images {
            " mirror-images"
        } else {
            ""
        }
    );
    // Name only the built-in models in use: a run with its own keypoint model and the
    // built-in U-Net (the bundle build's) should not read as if both were built in.
    let built_in: Vec<&str> = [
        args.segmentation
            .is_none()
            .then_some("segmentation: phantoms and 20 real radiographs"),
        args.model
            .is_none()
            .then_some("keypoints: phantoms, with a handedness check fitted on real RSNA films"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !built_in.is_empty() {
        eprintln!(
            "register: built-in {} ({}); research use, not for clinical use",
            if built_in.len() == 2 {
                "models"
            } else {
                "model"
            },
            built_in.join("; ")
        );
    }
    let out = &args.out;
    crate::app::out::remove_stale_temporaries(out);
    for sub in ["registered", "regions/A", "regions/B", "regions/C"] {
        std::fs::create_dir_all(out.join(sub))
            .with_context(|| format!("{}: cannot create", out.join(sub).display()))?;
    }
    let template = boneage_imaging::hand_template::HandTemplate::shipped();
    let front = FrontEnd {
        segmentation: &seg,
        keypoints: &kp,
        template: Some(&template),
    };
    let bar = progress::bar(inputs.len() as u64, "register");
    let (mut done, mut cached, mut failed) = (0usize, 0usize, 0usize);
    let mut thumbs: Vec<(String, GrayImage)> = Vec::new();
    let chunk = pool.current_num_threads().max(1) * 2;
    for part in inputs.chunks(chunk) {
        // Cached images are skipped; the rest decoded in parallel.
        let todo: Vec<&Input> = part
            .iter()
            .filter(|i| {
                let hit = is_cached(out, i, &models);
                cached += hit as usize;
                !hit
            })
            .collect();
        let decoded: Vec<Result<GrayImage, String>> = pool.install(|| {
            todo.par_iter()
                .map(|i| {
                    read_radiograph(&i.path)
                        .map(|r| {
                            let mut img = r.image;
                            if args.mirror_images {
                                for row in img.data.chunks_mut(img.width.max(1)) {
                                    row.reverse();
                                }
                            }
                            img
                        })
                        .map_err(|e| e.to_string())
                })
                .collect()
        });
        // The nets run one image at a time (libtorch uses the cores).
        let prepared: Vec<Result<(GrayImage, Option<Registration>), String>> = decoded
            .into_iter()
            .map(|d| {
                d.map(|img| {
                    match front.analyse(&img) {
                        Ok(a) => (a.hand, Some(a.registration)),
                        // No registration: the hand image is still written, for a look.
                        Err(_) => (front.enhance(&img, &front.segment(&img)), None),
                    }
                })
            })
            .collect();
        let results: Vec<Result<Option<GrayImage>, ItemError>> = pool.install(|| {
            todo.par_iter()
                .zip(prepared)
                .map(|(input, p)| {
                    let (hand, reg) = p.map_err(ItemError::Input)?;
                    write_outputs(out, input, &hand, reg, &models)
                })
                .collect()
        });
        for (input, r) in todo.iter().zip(results) {
            match r {
                Ok(thumb) => {
                    done += 1;
                    if let Some(t) = thumb {
                        if thumbs.len() < 200 {
                            thumbs.push((input.id.clone(), t));
                        }
                    }
                }
                Err(e) => {
                    failed += 1;
                    // A failed write stops the batch even with --keep-going.
                    if e.is_output() || !args.batch.keep_going {
                        bar.finish_and_clear();
                        bail!(
                            "{e} ({}); stopped: the {} \
                             images registered so far are kept in {} with their records, and \
                             are not done again when the command is run again; the regions' \
                             labels.csv is written when a run finishes",
                            e.stop_reason(),
                            done + cached,
                            out.display()
                        );
                    }
                    bar.suspend(|| eprintln!("warning: {e}"));
                }
            }
        }
        bar.inc(part.len() as u64);
    }
    bar.finish_and_clear();
    if !thumbs.is_empty() {
        write_contact(&out.join("contact.png"), &thumbs)?;
    }
    if let Some(d) = &args.data {
        let ds = crate::app::data::open_dataset(d, args.data_images.as_deref())?;
        let bytes = if failed == 0 {
            std::fs::read(&ds.path)
                .with_context(|| format!("{}: cannot read", ds.path.display()))?
        } else {
            // Only the images that were registered, so training on the regions does not stop
            // at the missing ones (as `id,boneage,male`).
            boneage_core::dataset::rsna_table(
                ds.samples
                    .iter()
                    .filter(|smp| out.join(format!("{}.json", smp.id)).is_file()),
            )
            .into_bytes()
        };
        for r in Region::ALL {
            let p = out.join("regions").join(r.name()).join("labels.csv");
            write_atomic(&p, &bytes).with_context(|| format!("{}: cannot write", p.display()))?;
        }
    }
    println!(
        "registered {done} images into {} ({cached} already there{})",
        out.display(),
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        }
    );
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn is_cached(out: &Path, input: &Input, models: &str) -> bool {
    let json = out.join(format!("{}.json", input.id));
    let Ok(text) = std::fs::read_to_string(&json) else {
        return false;
    };
    let Ok(rec) = serde_json::from_str::<Record>(&text) else {
        return false;
    };
    let files_there = std::iter::once(out.join(format!("registered/{}.png", input.id)))
        .chain(
            Region::ALL
                .iter()
                .map(|r| out.join(format!("regions/{}/{}.png", r.name(), input.id))),
        )
        .all(|p| p.is_file());
    files_there
        && rec.source == input.path.display().to_string()
        && rec.source_modified == modified(&input.path)
        && rec.models == models
}

/// Writes the registered image, the regions and the record; returns a thumbnail of the
/// registered hand.
fn write_outputs(
    out: &Path,
    input: &Input,
    hand: &GrayImage,
    reg: Option<Registration>,
    models: &str,
) -> Result<Option<GrayImage>, ItemError> {
    let id = &input.id;
    let reg = reg.ok_or_else(|| {
        ItemError::Input(format!(
            "{}: the keypoints found coincide, no registration possible",
            input.path.display()
        ))
    })?;
    let map = reg.to_canonical;
    let registered = warp_to_canonical(hand, &map, 0.0);
    let written = |e: boneage_imaging::ReadError| ItemError::Output(e.to_string());
    write_png_gray8(&out.join(format!("registered/{id}.png")), &registered).map_err(written)?;
    // The regions exactly as the pipeline cuts them for prediction (view 0).
    for (r, views) in cut_regions(hand, &map, &Region::ALL, 1, &TtaConfig::default(), 0) {
        write_png_gray8(
            &out.join(format!("regions/{}/{id}.png", r.name())),
            &views[0],
        )
        .map_err(written)?;
    }
    let rec = Record {
        id: id.clone(),
        source: input.path.display().to_string(),
        source_width: hand.width,
        source_height: hand.height,
        source_modified: modified(&input.path),
        keypoints: reg.keypoints,
        mirrored: reg.mirrored,
        thumb_residual_px: reg.thumb_residual,
        thumb_canonical: reg.thumb_canonical,
        other_thumb_canonical: reg.other_thumb_canonical,
        handedness_margin: reg.handedness_margin,
        other_handedness_margin: reg.other_handedness_margin,
        affine: map.m,
        scale: scale(&map),
        rotation_deg: rotation_deg(&map, reg.mirrored),
        models: models.to_string(),
    };
    let path = out.join(format!("{id}.json"));
    let text = serde_json::to_string_pretty(&rec).expect("a record serialises") + "\n";
    write_atomic(&path, text.as_bytes())
        .map_err(|e| ItemError::Output(format!("{}: cannot write: {e}", path.display())))?;
    let (tw, th) = registered.fit_within(160, 208);
    Ok(Some(registered.resize(tw, th)))
}

const BLUE: [u8; 3] = [60, 140, 255];

/// Registered hands side by side, the canonical keypoints and the three regions marked.
fn write_contact(path: &Path, thumbs: &[(String, GrayImage)]) -> anyhow::Result<()> {
    let tiles: Vec<Tile> = thumbs
        .iter()
        .map(|(id, t)| {
            let mut tile = Tile::of(t, 208);
            tile.source_size = (
                boneage_imaging::registration::CANONICAL_WIDTH,
                boneage_imaging::registration::CANONICAL_HEIGHT,
            );
            // Canonical keypoints as small yellow squares; regions A (green), B (red),
            // C (blue).
            tile.boxes = CANONICAL_KEYPOINTS
                .iter()
                .map(|k| {
                    let (x, y) = (k[0] as usize, k[1] as usize);
                    ([x - 25, y - 25, x + 25, y + 25], sheet::YELLOW)
                })
                .chain(
                    Region::ALL
                        .iter()
                        .zip([sheet::GREEN, sheet::RED, BLUE])
                        .map(|(r, c)| {
                            let b = r.canonical_box();
                            let b = [b[0], b[1], b[2] - 1.0, b[3] - 1.0].map(|v| v as usize);
                            (b, c)
                        }),
                )
                .collect();
            tile.caption = id.clone();
            tile
        })
        .collect();
    sheet::write_sheet(path, &tiles, 208, 10)
}
