//! `boneage predict --run RUN_DIR --sex M|F IMAGE...`: the bone age of each radiograph from a
//! trained run (whole image as the network input), one JSON object per image on stdout.

use anyhow::{bail, Context};
use boneage_core::{Sample, Sex};
use boneage_nn::training::TrainedRun;
use boneage_nn::DeviceChoice;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct PredictArgs {
    /// Run folder written by `boneage train`.
    #[arg(long)]
    pub run: PathBuf,
    /// Sex of the patient(s): M or F. May be left out for DICOM files that carry PatientSex.
    #[arg(long)]
    pub sex: Option<String>,
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Radiographs (PNG, JPEG or DICOM).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let sex: Option<Sex> = match &args.sex {
        Some(s) => Some(s.parse().with_context(|| format!("--sex {s}"))?),
        None => None,
    };
    let device = args.device.parse::<DeviceChoice>()?.resolve()?;
    let run = TrainedRun::load(&args.run, device)?;
    for path in &args.images {
        // Read once here to check the file and take sex from the header if needed.
        let r = boneage_imaging::read_radiograph(path)?;
        let sex = match (sex, r.meta.sex) {
            (Some(s), _) => s,
            (None, Some(s)) => s,
            (None, None) => bail!(
                "{}: no sex given (--sex M|F) and none in the file header",
                path.display()
            ),
        };
        let sample = Sample {
            id: path.display().to_string(),
            bone_age_months: 0.0,
            sex,
            chronological_age_months: None,
            image_hint: None,
            image: Some(path.clone()),
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
