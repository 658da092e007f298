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

use crate::app::answer::assessment_json;
use crate::app::debug::{stem_of, write_debug};
use crate::app::flags::{AgeFlags, DeviceFlag, TtaFlag};
use crate::app::models::{load_bundle, share_cores_with_overlap};
use boneage_core::Sample;
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
    /// Go on past a film that cannot be read or assessed: its line says `"status": "error"`
    /// with the message (also on stderr), the other films are answered, and the exit status
    /// is 1. Without it the first such film stops the run.
    #[arg(long)]
    pub keep_going: bool,
    #[command(flatten)]
    pub device: DeviceFlag,
    /// Radiographs (PNG, JPEG or DICOM).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let given = args.age.given(args.sex.as_deref())?;
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
    let mut failed = 0usize;
    // A film that fails: with --keep-going its error line, and on; else the run stops.
    let mut on_failure = |path: &Path, e: anyhow::Error| -> Option<anyhow::Error> {
        if !args.keep_going {
            return Some(e);
        }
        failed += 1;
        eprintln!("warning: {e:#}");
        let line = serde_json::json!({
            "image": path.display().to_string(),
            "status": "error",
            "error": format!("{e:#}"),
        });
        println!("{line}");
        None
    };
    if args.one_at_a_time {
        for path in &args.images {
            let written = pipeline
                .assess_file(path, given)
                .map_err(anyhow::Error::from)
                .and_then(|(r, a)| {
                    print_one(path, &r.image, &a, &pipeline, &args, &mut debug_names)
                });
            if let Err(e) = written {
                if let Some(e) = on_failure(path, e) {
                    return Err(e);
                }
            }
        }
    } else {
        // The next film is read and registered while the nets read this one.
        share_cores_with_overlap();
        let files: Vec<_> = args.images.iter().map(|p| (p.clone(), given)).collect();
        let mut failure = None;
        pipeline.assess_files(&files, |path, result| {
            let written = result.map_err(anyhow::Error::from).and_then(|(r, a)| {
                print_one(path, &r.image, &a, &pipeline, &args, &mut debug_names)
            });
            match written {
                Ok(()) => true,
                Err(e) => {
                    failure = on_failure(path, e);
                    failure.is_none()
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} films could not be assessed (their lines say \"status\": \"error\")",
            args.images.len()
        );
        std::process::exit(1);
    }
    Ok(())
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
    let obj = assessment_json(&path.display().to_string(), a, pipeline, &saliency);
    println!("{}", serde_json::to_string(&obj)?);
    Ok(())
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
