//! `boneage segment`: the hand mask of each radiograph, and the radiograph with everything but
//! the hand removed and its contrast equalised (CLAHE), ready for the keypoint and age nets.
//!
//! ```text
//! boneage segment [--model DIR | --bootstrap] --out DIR [--data DATASET] [IMAGE|FOLDER ...]
//! ```
//!
//! Writes `masks/<id>.png` (same size as the input, hand = 255), `images/<id>.png` (8-bit:
//! the grey scale turned back if inverted, CLAHE of the whole radiograph, then zero outside the
//! mask), `segment.csv` (one row per image:
//! size, mask area, whether the grey scale was inverted, the plausibility check's verdict) and
//! `contact.png` (outlines green when plausible, red with the reason when not).
//!
//! Without `--model` the default model built into the binary is used (trained on phantoms and
//! on real radiographs mined from their bootstrap masks; see `scripts/build-segmentation-model.sh`).
//! `--bootstrap` uses the classical mask instead (no network).

use crate::app::flags::{BatchFlags, DeviceFlag};
use crate::app::inputs::{collect_inputs, read_mask, write_mask};
use crate::app::models::load_segmentation;
use crate::app::out::ItemError;
use crate::progress;
use crate::sheet::{self, Tile};
use anyhow::{bail, Context};
use boneage_imaging::clahe::ClaheConfig;
use boneage_imaging::io::{write_atomic, write_png_gray8};
use boneage_imaging::mask::{MaskLimits, MaskScore};
use boneage_imaging::segment::bootstrap_mask;
use boneage_imaging::{read_radiograph, GrayImage, Mask};
use boneage_pipeline::front::enhance;
use clap::Args;
use rayon::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct SegmentArgs {
    /// Segmentation model folder (segmentation.json + model.safetensors), as `boneage mine`
    /// writes in `<out>/model`. Default: the model built into the binary.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Use the classical (threshold + morphology) mask instead of a network.
    #[arg(long, conflicts_with = "model")]
    pub bootstrap: bool,
    /// Output folder (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// A dataset (label table or folder with one) whose images to segment.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Radiographs (PNG, JPEG, DICOM) or folders of them.
    pub images: Vec<PathBuf>,
    /// CLAHE clip limit of the written images.
    #[arg(long, default_value_t = 2.0)]
    pub clip_limit: f64,
    /// CLAHE tiles across and down.
    #[arg(long, default_value_t = 8)]
    pub tiles: usize,
    /// Folder of true masks `<id>.png`: the IoU of each mask against its truth goes into
    /// segment.csv and summary.json, and the mean and minimum are printed.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    #[command(flatten)]
    pub batch: BatchFlags,
    #[command(flatten)]
    pub device: DeviceFlag,
}

struct Row {
    id: String,
    path: PathBuf,
    result: Result<Done, ItemError>,
}

struct Done {
    width: usize,
    height: usize,
    mask: Mask,
    thumb: GrayImage,
    score: MaskScore,
    problems: Vec<String>,
    iou: Option<f64>,
}

pub fn run(args: SegmentArgs) -> anyhow::Result<()> {
    let inputs = collect_inputs(&args.images, args.data.as_deref(), None)?;
    if inputs.is_empty() {
        bail!("nothing to segment: give images, folders or --data");
    }
    let cl = ClaheConfig {
        clip_limit: args.clip_limit,
        tiles_x: args.tiles,
        tiles_y: args.tiles,
    };
    cl.validate()?;
    let pool = args.batch.jobs.pool()?;
    let model = if args.bootstrap {
        None
    } else {
        let device = args.device.resolve()?;
        if args.model.is_none() {
            eprintln!("segment: {}", crate::app::models::SEGMENTATION_ORIGIN);
        }
        Some(load_segmentation(args.model.as_deref(), device)?)
    };
    crate::app::out::remove_stale_temporaries(&args.out);
    for sub in ["masks", "images"] {
        std::fs::create_dir_all(args.out.join(sub))
            .with_context(|| format!("{}: cannot create", args.out.join(sub).display()))?;
    }
    let limits = MaskLimits::default();
    let bar = progress::bar(inputs.len() as u64, "segment");
    let mut rows: Vec<Row> = Vec::with_capacity(inputs.len());
    // Chunks: decode in parallel, run the net one image at a time (libtorch uses the cores),
    // equalise and write in parallel.
    let chunk = pool.current_num_threads().max(1) * 2;
    for part in inputs.chunks(chunk) {
        let decoded: Vec<Result<GrayImage, String>> = pool.install(|| {
            part.par_iter()
                .map(|i| {
                    read_radiograph(&i.path)
                        .map(|r| r.image)
                        .map_err(|e| e.to_string())
                })
                .collect()
        });
        let masks: Vec<Option<Mask>> = decoded
            .iter()
            .map(|d| {
                d.as_ref().ok().map(|img| match &model {
                    Some(m) => m.mask(img),
                    None => pool.install(|| bootstrap_mask(img).mask),
                })
            })
            .collect();
        let done: Vec<Row> = pool.install(|| {
            part.par_iter()
                .zip(decoded)
                .zip(masks)
                .map(|((input, img), mask)| {
                    let result = match (img, mask) {
                        (Ok(img), Some(mask)) => finish(
                            &args.out, &input.id, &img, mask, &cl, &limits,
                        )
                        .and_then(|mut d| {
                            if let Some(t) = &args.truth {
                                d.iou = Some(
                                    iou_against(t, &input.id, &d.mask).map_err(ItemError::Input)?,
                                );
                            }
                            Ok(d)
                        }),
                        (Err(e), _) => Err(ItemError::Input(e)),
                        (Ok(_), None) => Err(ItemError::Input("no mask".into())),
                    };
                    Row {
                        id: input.id.clone(),
                        path: input.path.clone(),
                        result,
                    }
                })
                .collect()
        });
        // A failed write stops the batch even with --keep-going (every later image would
        // fail the same way); it is named first.
        let errors = || done.iter().filter_map(|r| r.result.as_ref().err());
        let first_error = errors()
            .find(|e| e.is_output())
            .or_else(|| errors().next())
            .cloned();
        for r in &done {
            if let Err(e) = &r.result {
                bar.suspend(|| eprintln!("warning: {e}"));
            }
        }
        bar.inc(part.len() as u64);
        rows.extend(done);
        if let Some(e) = first_error.filter(|e| e.is_output() || !args.batch.keep_going) {
            // Stopping: the table still lists every mask written so far (and the bad image),
            // so no mask is left without its row.
            bar.finish_and_clear();
            let table = args.out.join("segment.csv");
            let written = rows.iter().filter(|r| r.result.is_ok()).count();
            let listed = match write_csv(&table, &rows) {
                Ok(()) => format!("{} lists the {written} images segmented so far", table.display()),
                Err(t) => format!(
                    "the {written} images segmented so far are kept, but their table could not be written ({t:#})"
                ),
            };
            bail!("{e} ({}); stopped: {listed}", e.stop_reason());
        }
    }
    bar.finish_and_clear();
    write_csv(&args.out.join("segment.csv"), &rows)?;
    let tiles: Vec<Tile> = rows
        .iter()
        .filter_map(|r| r.result.as_ref().ok().map(|d| (r, d)))
        .take(200)
        .map(|(r, d)| {
            let ok = d.problems.is_empty();
            Tile {
                thumb: d.thumb.clone(),
                source_size: (d.width, d.height),
                outline: Some((d.mask.clone(), if ok { sheet::GREEN } else { sheet::RED })),
                boxes: Vec::new(),
                frame: (!ok).then_some(sheet::RED),
                caption: if ok {
                    r.id.clone()
                } else {
                    d.problems.join(", ")
                },
                heat: None,
            }
        })
        .collect();
    if !tiles.is_empty() {
        sheet::write_sheet(&args.out.join("contact.png"), &tiles, 200, 8)?;
    }
    let failed = rows.iter().filter(|r| r.result.is_err()).count();
    let ious: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.result.as_ref().ok().and_then(|d| d.iou))
        .collect();
    let mut summary = serde_json::json!({
        "images": rows.len(),
        "unreadable": failed,
        "implausible": rows.iter().filter(|r| r.result.as_ref().is_ok_and(|d| !d.problems.is_empty())).count(),
        "method": if args.bootstrap { "bootstrap" } else { "unet" },
        "model": args.model.as_ref().map(|m| m.display().to_string()).unwrap_or_else(|| if args.bootstrap { String::new() } else { "default".into() }),
    });
    if !ious.is_empty() {
        let mean = ious.iter().sum::<f64>() / ious.len() as f64;
        let min = ious.iter().cloned().fold(f64::INFINITY, f64::min);
        summary["iou_mean"] = serde_json::json!(mean);
        summary["iou_min"] = serde_json::json!(min);
        summary["iou_n"] = serde_json::json!(ious.len());
        println!(
            "IoU against the true masks: mean {mean:.4}, min {min:.4} over {} images",
            ious.len()
        );
    }
    write_atomic(
        &args.out.join("summary.json"),
        (serde_json::to_string_pretty(&summary)? + "\n").as_bytes(),
    )
    .with_context(|| format!("{}: cannot write", args.out.display()))?;
    let implausible = rows
        .iter()
        .filter(|r| r.result.as_ref().is_ok_and(|d| !d.problems.is_empty()))
        .count();
    println!(
        "segmented {} of {} images into {} ({} flagged implausible{}){}",
        rows.len() - failed,
        rows.len(),
        args.out.display(),
        implausible,
        if failed > 0 {
            format!(", {failed} unreadable")
        } else {
            String::new()
        },
        if args.bootstrap {
            " with the bootstrap mask"
        } else {
            ""
        }
    );
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// Scores the mask, writes `masks/<id>.png` and the equalised, masked `images/<id>.png`.
fn finish(
    out: &Path,
    id: &str,
    img: &GrayImage,
    mask: Mask,
    cl: &ClaheConfig,
    limits: &MaskLimits,
) -> Result<Done, ItemError> {
    let score = MaskScore::compute(img, &mask, None, limits);
    let problems = score.problems(limits);
    write_mask(&out.join("masks").join(format!("{id}.png")), &mask)
        .map_err(|e| ItemError::Output(format!("{e:#}")))?;
    write_png_gray8(
        &out.join("images").join(format!("{id}.png")),
        &enhance(img, &mask, cl),
    )
    .map_err(|e| ItemError::Output(e.to_string()))?;
    let (tw, th) = img.fit_within(200, 200);
    Ok(Done {
        width: img.width,
        height: img.height,
        thumb: img.resize(tw, th),
        mask,
        score,
        problems,
        iou: None,
    })
}

/// IoU of `mask` against the true mask `<truth>/<id>.png`.
fn iou_against(truth: &Path, id: &str, mask: &Mask) -> Result<f64, String> {
    let path = truth.join(format!("{id}.png"));
    let t = read_mask(&path).map_err(|e| format!("{e:#}"))?;
    if (t.width, t.height) != (mask.width, mask.height) {
        return Err(format!(
            "{}: true mask is {}x{}, the image {}x{}",
            path.display(),
            t.width,
            t.height,
            mask.width,
            mask.height
        ));
    }
    Ok(mask.iou(&t))
}

fn write_csv(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    let mut s = String::from(
        "id,source,width,height,area_fraction,finger_lines,edge_contrast,plausible,problems,iou\n",
    );
    for r in rows {
        match &r.result {
            Ok(d) => writeln!(
                s,
                "{},{},{},{},{:.4},{:.3},{:.3},{},\"{}\",{}",
                r.id,
                r.path.display(),
                d.width,
                d.height,
                d.score.area_fraction,
                d.score.finger_lines,
                d.score.edge_contrast,
                d.problems.is_empty(),
                d.problems.join("; "),
                d.iou.map(|v| format!("{v:.4}")).unwrap_or_default()
            )?,
            Err(e) => writeln!(
                s,
                "{},{},,,,,,false,\"unreadable: {}\",",
                r.id,
                r.path.display(),
                e.to_string().replace('"', "'")
            )?,
        }
    }
    write_atomic(path, s.as_bytes()).with_context(|| format!("{}: cannot write", path.display()))
}
