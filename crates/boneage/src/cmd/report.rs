//! `boneage report`: a printable bone-age report per radiograph, as a self-contained HTML page
//! and a PDF.
//!
//! ```text
//! boneage report [--model BUNDLE] [--sex M|F] [--chronological-age-months M |
//!                --birth-date YYYY-MM-DD --study-date YYYY-MM-DD] [--tta N] --out DIR IMAGE...
//! ```
//!
//! Each radiograph goes through the whole pipeline (`Pipeline::assess_file`; a DICOM file gives
//! what its header has: sex, birth and study date or PatientAge) and its occlusion maps
//! (`Pipeline::explain`). `DIR/<name>.html` and `DIR/<name>.pdf` then carry: patient and study
//! fields, the result (bone age with its 95% interval, chronological age, difference, SDS and
//! reading against the Greulich–Pyle/Brush reference), the growth chart, the radiograph with
//! mask outline, keypoints and regions, the occlusion maps over the registered hand, the
//! per-region and per-net estimates, warnings, the bundle and its notice. A film the quality
//! gate rejects gets a report that says so, with the reasons and no bone age.

use crate::app::clinical_report;
use crate::app::debug::stem_of;
use crate::app::flags::{AgeFlags, DeviceFlag, TtaFlag};
use crate::app::models::load_bundle;
use anyhow::Context;
use boneage_imaging::io::write_atomic;
use boneage_pipeline::{Given, Pipeline};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ReportArgs {
    /// Model bundle folder. Default: the built-in bundle.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Sex of the patient: M or F. May be left out for DICOM files that carry PatientSex.
    #[arg(long)]
    pub sex: Option<String>,
    #[command(flatten)]
    pub age: AgeFlags,
    #[command(flatten)]
    pub tta: TtaFlag,
    #[command(flatten)]
    pub device: DeviceFlag,
    /// Output folder: <name>.html and <name>.pdf per radiograph.
    #[arg(long)]
    pub out: PathBuf,
    /// Radiographs (PNG, JPEG or DICOM).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let given = args.age.given(args.sex.as_deref())?;
    let device = args.device.resolve()?;
    let bundle = load_bundle(args.model.as_deref(), device)?;
    let tta = args.tta.views(bundle.manifest.tta.views)?;
    let pipeline = Pipeline::new(bundle).with_tta(tta);
    // Each film's report is whole (HTML and PDF) or absent; the reports of the films done
    // before a failure stay, and a folder this run made stays only if it holds one.
    let folder = crate::app::out::OutFolder::create(&args.out)?;
    let mut written = 0usize;
    let result = write_reports(&args, &pipeline, given, &mut written);
    if written > 0 {
        folder.keep();
    }
    result
}

fn write_reports(
    args: &ReportArgs,
    pipeline: &Pipeline,
    given: Given,
    written: &mut usize,
) -> anyhow::Result<()> {
    let mut names = std::collections::HashSet::new();
    for path in &args.images {
        let (r, a) = pipeline.assess_file(path, given)?;
        let saliency = pipeline.explain(&a);
        let report = clinical_report::render(path, &r, &a, pipeline, given, &saliency)?;
        let stem = stem_of(path);
        let mut name = stem.clone();
        let mut k = 2;
        while !names.insert(name.clone()) {
            name = format!("{stem}-{k}");
            k += 1;
        }
        let html_path = args.out.join(format!("{name}.html"));
        write_atomic(&html_path, report.html.as_bytes())
            .with_context(|| format!("{}: cannot write", html_path.display()))?;
        let pdf_path = args.out.join(format!("{name}.pdf"));
        if let Err(e) = write_atomic(&pdf_path, &report.pdf) {
            let _ = std::fs::remove_file(&html_path);
            return Err(e).with_context(|| format!("{}: cannot write", pdf_path.display()));
        }
        *written += 1;
        println!(
            "{}: {} -> {}, {}",
            path.display(),
            report.headline,
            html_path.display(),
            pdf_path.display()
        );
    }
    Ok(())
}
