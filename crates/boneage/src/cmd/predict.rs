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
//! from upright, nets that disagree by more than 24 months SD), the bundle id and its notice,
//! and `status`: `ok`, or `rejected` with `reasons` and no bone age when the quality gate
//! (`boneage_pipeline::gate`) finds no readable hand (not a hand radiograph, the hand cut off,
//! far too small).
//! `--saliency` adds each region's occlusion map (`boneage_pipeline::saliency`). `--run` predicts with
//! one trained net from the whole image (the earlier, single-model path).
//!
//! Sex comes from `--sex` or, for DICOM, the PatientSex header; neither is an error. Every
//! radiograph goes through `boneage_pipeline::Pipeline::assess_file`.

use crate::app::debug::{stem_of, write_debug};
use crate::app::flags::{AgeFlags, DeviceFlag, TtaFlag};
use crate::app::models::{load_bundle, share_cores_with_overlap};
use anyhow::Context;
use boneage_core::{Sample, Sex};
use boneage_imaging::read_radiograph;
use boneage_nn::run::TrainedRun;
use boneage_pipeline::{Given, Patient, Pipeline};
use clap::Args;
use std::path::{Path, PathBuf};

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
    #[command(flatten)]
    pub age: AgeFlags,
    #[command(flatten)]
    pub tta: TtaFlag,
    /// Seed of the TTA draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write what the pipeline saw per image into DIR/<image name>/: mask, hand, registered
    /// hand, regions and an overview sheet.
    #[arg(long)]
    pub debug_images: Option<PathBuf>,
    /// Explain: each region's occlusion map (how many months the region's estimate moves when
    /// each cell of an 8x8 grid is hidden) in the JSON (`saliency`) and, with
    /// `--debug-images`, drawn over the registered hand (saliency.png).
    #[arg(long)]
    pub saliency: bool,
    /// Assess one film at a time. By default the next film is read, segmented and registered
    /// while the nets read this one (faster for many films; each film's `seconds` then include
    /// waiting for the other thread's share of the cores).
    #[arg(long)]
    pub one_at_a_time: bool,
    #[command(flatten)]
    pub device: DeviceFlag,
    /// Radiographs (PNG, JPEG or DICOM).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let sex: Option<Sex> = match &args.sex {
        Some(s) => Some(s.parse().with_context(|| format!("--sex {s}"))?),
        None => None,
    };
    let given = Given {
        sex,
        chronological_age_months: args.age.months()?,
    };
    let device = args.device.resolve()?;
    if let Some(run) = &args.run {
        return predict_run(run, given, &args.images, device);
    }
    let bundle = load_bundle(args.model.as_deref(), device)?;
    let tta = args.tta.views(bundle.manifest.tta.views)?;
    let mut pipeline = Pipeline::new(bundle).with_tta(tta);
    pipeline.seed = args.seed;
    let bundle = &pipeline.bundle;
    eprintln!(
        "predict: bundle {} ({}): {}",
        bundle.manifest.id, bundle.origin, bundle.manifest.notice
    );
    let mut debug_names = std::collections::HashSet::new();
    if args.one_at_a_time {
        for path in &args.images {
            let (r, a) = pipeline.assess_file(path, given)?;
            print_one(path, &r.image, &a, &pipeline, &args, &mut debug_names)?;
        }
        return Ok(());
    }
    // The next film is read and registered while the nets read this one.
    share_cores_with_overlap();
    let files: Vec<_> = args.images.iter().map(|p| (p.clone(), given)).collect();
    let mut failure = None;
    pipeline.assess_files(&files, |path, result| {
        let written = result
            .map_err(anyhow::Error::from)
            .and_then(|(r, a)| print_one(path, &r.image, &a, &pipeline, &args, &mut debug_names));
        written.map_err(|e| failure = Some(e)).is_ok()
    });
    failure.map_or(Ok(()), Err)
}

/// Debug images (when asked for) and the JSON line of one assessed radiograph.
fn print_one(
    path: &Path,
    image: &boneage_imaging::GrayImage,
    a: &boneage_pipeline::Assessment,
    pipeline: &Pipeline,
    args: &PredictArgs,
    debug_names: &mut std::collections::HashSet<String>,
) -> anyhow::Result<()> {
    let (bundle, t) = (&pipeline.bundle, a.timings);
    let saliency = if args.saliency {
        pipeline.explain(a)
    } else {
        Vec::new()
    };
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
        write_debug(&dir.join(name), path, image, a, &saliency)?;
    }
    let round2 = |v: f64| (v * 100.0).round() / 100.0;
    let mut obj = serde_json::json!({
        "image": path,
        "status": a.status(),
        "sex": a.patient.sex.letter(),
        "warnings": a.warnings(),
        "hand_scores": a.verdict.scores.map(|s| serde_json::json!({
            "shape": round2(s.shape), "look": round2(s.look),
        })),
        "bundle": bundle.manifest.id,
        "notice": bundle.manifest.notice,
        "trained_on": bundle.manifest.trained_on,
        "bundle_valid_mae_months": round2(bundle.manifest.ensemble.valid_mae_months),
        "bundle_test_mae_months": bundle.manifest.test.as_ref().map(|t| round2(t.ensemble.overall.mae_months)),
        "seconds": {
            "read": round3(t.read),
            "segment_keypoints": round3(t.front),
            "regions": round3(t.regions),
            "nets": round3(t.nets),
            "total": round3(t.read + t.front + t.regions + t.nets),
        },
    });
    let extend = |obj: &mut serde_json::Value, fields: serde_json::Value| {
        if let (Some(o), Some(f)) = (obj.as_object_mut(), fields.as_object()) {
            o.extend(f.clone());
        }
    };
    if let Some(kp) = a.analysis.as_ref().map(|x| x.registration) {
        extend(
            &mut obj,
            serde_json::json!({
                "keypoints": kp.keypoints.map(|k| [round2(k[0]), round2(k[1])]),
                "thumb_residual_px": round2(kp.thumb_residual),
                "mirrored": kp.mirrored,
            }),
        );
    }
    if !saliency.is_empty() {
        let maps: serde_json::Map<String, serde_json::Value> = saliency
            .iter()
            .map(|m| {
                let grid: Vec<Vec<f64>> = m
                    .months
                    .data
                    .chunks(m.months.width)
                    .map(|row| row.iter().map(|&v| round2(v as f64)).collect())
                    .collect();
                (
                    m.region.name().to_string(),
                    serde_json::json!({
                        "base_months": round2(m.base_months),
                        "max_months": round2(m.max_months()),
                        "grid_months": grid,
                    }),
                )
            })
            .collect();
        extend(&mut obj, serde_json::json!({ "saliency": maps }));
    }
    let Some(p) = &a.prediction else {
        // Rejected by the quality gate: the reasons, no bone age.
        extend(
            &mut obj,
            serde_json::json!({ "reasons": a.verdict.rejection_reasons() }),
        );
        println!("{}", serde_json::to_string(&obj)?);
        return Ok(());
    };
    extend(
        &mut obj,
        serde_json::json!({
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
            "interval_months": p.interval_months.map(|[lo, hi]| [round2(lo), round2(hi)]),
        }),
    );
    if let Some(c) = &a.reading {
        // Stage 9: the bone age against the chronological age.
        let round = |v: Option<f64>| v.map(round2);
        let fields = serde_json::json!({
            "chronological_age_months": round2(c.chronological_age_months),
            "bone_age_minus_chronological_months": round2(c.bone_age_minus_chronological_months),
            "sds": c.sds.map(|v| (v * 1000.0).round() / 1000.0),
            "reading": c.reading,
            "reference": c.reference,
            "reference_mean_months": round(c.reference_mean_months),
            "reference_sd_months": round(c.reference_sd_months),
            "reading_unavailable": c.unavailable,
        });
        extend(&mut obj, fields);
    }
    println!("{}", serde_json::to_string(&obj)?);
    Ok(())
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The single-run path: one net on the whole image.
fn predict_run(
    run: &Path,
    given: Given,
    images: &[PathBuf],
    device: boneage_nn::Device,
) -> anyhow::Result<()> {
    let run = TrainedRun::load(run, device)?;
    for path in images {
        // Read once here to check the file and take sex from the header if needed.
        let r = read_radiograph(path)?;
        let sex = Patient::from_header(&r, given)
            .map_err(|e| e.in_file(path))?
            .sex;
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
