//! `boneage predict`: the bone age of each radiograph, one JSON object per image on stdout.
//!
//! ```text
//! boneage predict [--model BUNDLE | --run RUN_DIR] [--sex M|F] [--tta N] [--debug-images DIR] IMAGE...
//! ```
//!
//! With a model bundle (`--model`, or the built-in default bundle when neither `--model` nor
//! `--run` is given) each radiograph (PNG, JPEG or DICOM) goes through the whole pipeline:
//! hand mask → CLAHE → keypoints → canonical frame → regions A, B, C → every member net →
//! weighted ensemble, with `--tta N` views per region (N = 1: none). The JSON carries
//! `bone_age_months`, `spread_months` (SD of the members' estimates), `by_region`, `by_head`,
//! every member's value, the keypoints, `warnings` (an implausible hand mask, a hand turned far
//! from upright, nets that disagree by more than 24 months SD), the bundle id and its notice.
//! `--run` predicts with
//! one trained net from the whole image (the earlier, single-model path).
//!
//! Sex comes from `--sex` or, for DICOM, the PatientSex header; neither is an error.

use crate::sheet::{self, Tile};
use anyhow::{bail, Context};
use boneage_core::{Sample, Sex};
use boneage_imaging::io::write_png_gray8;
use boneage_imaging::registration::{warp_to_canonical, Region, CANONICAL_HEIGHT, CANONICAL_WIDTH};
use boneage_imaging::{read_radiograph, GrayImage};
use boneage_nn::bundle::{Analysis, Bundle};
use boneage_nn::training::TrainedRun;
use boneage_nn::DeviceChoice;
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
pub struct PredictArgs {
    /// Model bundle folder (`boneage bundle`). Default: the built-in bundle.
    #[arg(long, conflicts_with = "run")]
    pub model: Option<PathBuf>,
    /// A single trained run (`boneage train`) applied to the whole image instead of a bundle.
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Sex of the patient(s): M or F. May be left out for DICOM files that carry PatientSex.
    #[arg(long)]
    pub sex: Option<String>,
    /// Views per region for test-time augmentation (1 = none; the challenge winner used 10).
    /// Default: the bundle's (`tta.views` in its manifest).
    #[arg(long)]
    pub tta: Option<usize>,
    /// Seed of the TTA draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write what the pipeline saw per image into DIR/<image name>/: mask, hand, registered
    /// hand, regions and an overview sheet.
    #[arg(long)]
    pub debug_images: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Radiographs (PNG, JPEG or DICOM).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

/// The sex to use for an image: the argument, else the header, else an error.
pub fn sex_for(path: &Path, arg: Option<Sex>, header: Option<Sex>) -> anyhow::Result<Sex> {
    match (arg, header) {
        (Some(s), _) | (None, Some(s)) => Ok(s),
        (None, None) => bail!(
            "{}: no sex given (--sex M|F) and none in the file header",
            path.display()
        ),
    }
}

/// Refuses a `--tta` outside 1..=64.
pub fn check_tta(tta: Option<usize>) -> anyhow::Result<()> {
    match tta {
        Some(n) if n == 0 || n > 64 => {
            bail!("--tta {n}: give 1 (no augmentation) to 64 views")
        }
        _ => Ok(()),
    }
}

/// Loads the bundle named on the command line, or the built-in one.
pub fn load_bundle(model: Option<&Path>, device: boneage_nn::Device) -> anyhow::Result<Bundle> {
    match model {
        Some(d) => Ok(Bundle::load(d, device)?),
        None => super::default_model::bundle(device),
    }
}

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let sex: Option<Sex> = match &args.sex {
        Some(s) => Some(s.parse().with_context(|| format!("--sex {s}"))?),
        None => None,
    };
    check_tta(args.tta)?;
    let device = args.device.parse::<DeviceChoice>()?.resolve()?;
    if let Some(run) = &args.run {
        return predict_run(run, sex, &args.images, device);
    }
    let bundle = load_bundle(args.model.as_deref(), device)?;
    let tta = args.tta.unwrap_or(bundle.manifest.tta.views).max(1);
    eprintln!(
        "predict: bundle {} ({}): {}",
        bundle.manifest.id, bundle.origin, bundle.manifest.notice
    );
    let mut debug_names = std::collections::HashSet::new();
    for path in &args.images {
        let t0 = Instant::now();
        let r = read_radiograph(path)?;
        let sex = sex_for(path, sex, r.meta.sex)?;
        let t_read = t0.elapsed().as_secs_f64();
        let a = bundle
            .analyse(&r.image)
            .with_context(|| format!("{}", path.display()))?;
        let t_analyse = t0.elapsed().as_secs_f64();
        let views = bundle.region_views(&a, tta, args.seed);
        let t_regions = t0.elapsed().as_secs_f64();
        let p = bundle.predict_views(&views, sex);
        let t_all = t0.elapsed().as_secs_f64();
        if let Some(dir) = &args.debug_images {
            // One folder per image, named by the file; a second file of the same name gets
            // a number.
            let stem = stem_of(path);
            let mut name = stem.clone();
            let mut k = 2;
            while !debug_names.insert(name.clone()) {
                name = format!("{stem}-{k}");
                k += 1;
            }
            write_debug(
                &dir.join(name),
                path,
                &r.image,
                &a,
                &views,
                p.bone_age_months,
            )?;
        }
        let round2 = |v: f64| (v * 100.0).round() / 100.0;
        let obj = serde_json::json!({
            "image": path,
            "sex": sex.letter(),
            "bone_age_months": round2(p.bone_age_months),
            "bone_age_years": round2(p.bone_age_months / 12.0),
            "spread_months": round2(p.spread_months),
            "by_region": p.by_region.iter().map(|(k, v)| (k.clone(), round2(*v))).collect::<std::collections::BTreeMap<_, _>>(),
            "by_head": p.by_head.iter().map(|(k, v)| (k.clone(), round2(*v))).collect::<std::collections::BTreeMap<_, _>>(),
            "members": p.members.iter().map(|m| serde_json::json!({
                "name": m.name, "region": m.region, "head": m.head,
                "bone_age_months": round2(m.bone_age_months),
                "tta_sd_months": round2(m.tta_sd_months), "weight": m.weight,
            })).collect::<Vec<_>>(),
            "tta": p.tta,
            "warnings": a.warnings.iter().cloned().chain(p.warnings()).collect::<Vec<_>>(),
            "keypoints": a.keypoints.map(|k| [round2(k[0]), round2(k[1])]),
            "thumb_residual_px": round2(a.thumb_residual),
            "mirrored": a.mirrored,
            "bundle": bundle.manifest.id,
            "notice": bundle.manifest.notice,
            "trained_on": bundle.manifest.trained_on,
            "bundle_valid_mae_months": round2(bundle.manifest.ensemble.valid_mae_months),
            "bundle_test_mae_months": bundle.manifest.test.as_ref().map(|t| round2(t.ensemble.overall.mae_months)),
            "seconds": {
                "read": round3(t_read),
                "segment_keypoints": round3(t_analyse - t_read),
                "regions": round3(t_regions - t_analyse),
                "nets": round3(t_all - t_regions),
                "total": round3(t_all),
            },
        });
        println!("{}", serde_json::to_string(&obj)?);
    }
    Ok(())
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The single-run path: one net on the whole image.
fn predict_run(
    run: &Path,
    sex: Option<Sex>,
    images: &[PathBuf],
    device: boneage_nn::Device,
) -> anyhow::Result<()> {
    let run = TrainedRun::load(run, device)?;
    for path in images {
        // Read once here to check the file and take sex from the header if needed.
        let r = read_radiograph(path)?;
        let sex = sex_for(path, sex, r.meta.sex)?;
        let sample = Sample {
            id: path.display().to_string(),
            bone_age_months: 0.0,
            sex,
            chronological_age_months: None,
            image_hint: None,
            image: Some(path.to_path_buf()),
            line: 0,
        };
        let age = run.predict(std::slice::from_ref(&sample))?[0];
        let obj = serde_json::json!({
            "image": path,
            "sex": sex.letter(),
            "bone_age_months": (age * 100.0).round() / 100.0,
            "bone_age_years": (age / 12.0 * 100.0).round() / 100.0,
            "head": run.config.model.head,
            "run": run.dir,
        });
        println!("{}", serde_json::to_string(&obj)?);
    }
    Ok(())
}

fn stem_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into())
}

/// Into folder `d`: mask.png, hand.png, registered.png, region_<R>.png (first view),
/// overview.png (radiograph with mask outline and keypoints, registered hand with the
/// regions, the regions as the nets see them).
pub fn write_debug(
    d: &Path,
    path: &Path,
    img: &GrayImage,
    a: &Analysis,
    views: &[(Region, Vec<GrayImage>)],
    age: f64,
) -> anyhow::Result<()> {
    let stem = stem_of(path);
    let d = d.to_path_buf();
    std::fs::create_dir_all(&d).with_context(|| format!("{}: cannot create", d.display()))?;
    let mask_img = GrayImage {
        width: a.mask.width,
        height: a.mask.height,
        data: a.mask.data.iter().map(|&m| m as u8 as f32).collect(),
    };
    write_png_gray8(&d.join("mask.png"), &mask_img)?;
    write_png_gray8(&d.join("hand.png"), &a.hand)?;
    let registered = warp_to_canonical(&a.hand, &a.to_canonical, 0.0);
    write_png_gray8(&d.join("registered.png"), &registered)?;
    let size = 320;
    let mut first = Tile::of(img, size);
    first.outline = Some((
        a.mask.resize(first.thumb.width, first.thumb.height),
        sheet::GREEN,
    ));
    first.boxes = a
        .keypoints
        .iter()
        .map(|k| {
            let r = (img.width.max(img.height) / 80).max(2) as f64;
            let b = [k[0] - r, k[1] - r, k[0] + r, k[1] + r].map(|v| v.max(0.0) as usize);
            (b, sheet::YELLOW)
        })
        .collect();
    first.caption = format!("{stem}: {age:.1} months");
    let mut reg = Tile::of(&registered, size);
    reg.source_size = (CANONICAL_WIDTH, CANONICAL_HEIGHT);
    reg.boxes = Region::ALL
        .iter()
        .zip([sheet::GREEN, sheet::RED, [60, 140, 255]])
        .map(|(r, c)| {
            let b = r.canonical_box();
            ([b[0], b[1], b[2] - 1.0, b[3] - 1.0].map(|v| v as usize), c)
        })
        .collect();
    reg.caption = "registered".into();
    let mut tiles = vec![first, reg];
    for (r, v) in views {
        if let Some(v0) = v.first() {
            write_png_gray8(&d.join(format!("region_{}.png", r.name())), v0)?;
            let mut t = Tile::of(v0, size);
            t.caption = format!("region {}", r.name());
            tiles.push(t);
        }
    }
    sheet::write_sheet(&d.join("overview.png"), &tiles, size, tiles.len())
}
