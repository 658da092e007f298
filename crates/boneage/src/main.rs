//! `boneage`: automated pediatric bone age assessment from left-hand radiographs.
//!
//! One subcommand per job; each lives in its own module under `cmd/` and only parses, calls and
//! prints: the stages of an assessment are `boneage_pipeline::Pipeline::assess`, what commands
//! share is in `app/`. Errors are printed as a
//! chain (`error: ...`, `caused by: ...`) and the process exits with status 2.

mod app;
mod cmd;
mod progress;
mod report;
mod sheet;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "boneage",
    version,
    about = "Automated pediatric bone age assessment"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole job on built-in data: phantom test set through the full pipeline with the
    /// built-in bundle, the seed's results table, one prediction with TTA.
    #[cfg(feature = "torch")]
    Demo(cmd::demo::DemoArgs),
    /// Explore a label table (and optionally its images): HTML report, summary.json, quality flags.
    Eda(cmd::eda::EdaArgs),
    /// Read radiographs and print what is known about each (size, depth, photometric, header).
    Inspect(cmd::inspect::InspectArgs),
    /// Generate a synthetic hand radiograph dataset with ground truth.
    Phantom(cmd::phantom::PhantomArgs),
    /// Split a labelled set into train / validation / test tables, stratified by sex and age.
    Split(cmd::split::SplitArgs),
    /// Train a VGG-style bone age network (regression or 240-bin classification).
    #[cfg(feature = "torch")]
    Train(cmd::train::TrainArgs),
    /// Evaluate a trained run on a labelled set: evaluation.json and an HTML report.
    #[cfg(feature = "torch")]
    Evaluate(cmd::evaluate::EvaluateArgs),
    /// Predict the bone age of radiographs: the full pipeline with a model bundle (default: the
    /// built-in one), or one trained run.
    #[cfg(feature = "torch")]
    Predict(cmd::predict::PredictArgs),
    /// The stress test: clinical image variations (rotation, flips, exposure, noise, blur,
    /// resolution, cropping, markers, JPEG) at graded strengths on labelled radiographs; how
    /// far each moves the bone age, and how often the quality gate declines.
    #[cfg(feature = "torch")]
    Stress(cmd::stress::StressArgs),
    /// A printable bone-age report per radiograph (HTML and PDF): result, SDS and reading,
    /// growth chart, what the pipeline saw, where the nets look.
    #[cfg(feature = "torch")]
    Report(cmd::report::ReportArgs),
    /// The pipeline as an HTTP service with a web page: POST /v1/assess, reports, health,
    /// version, metrics, OpenAPI.
    #[cfg(feature = "torch")]
    Serve(cmd::serve::ServeArgs),
    /// Hand masks of radiographs, and the masked, contrast-equalised images.
    #[cfg(feature = "torch")]
    Segment(cmd::segment::SegmentArgs),
    /// Train the segmentation U-Net by positive mining (labelled masks + mined predictions).
    #[cfg(feature = "torch")]
    Mine(cmd::mine::MineArgs),
    /// Train the keypoint net (middle finger tip, thumb tip, capitate) on images with keypoints.
    #[cfg(feature = "torch")]
    Keypoints(cmd::keypoints::KeypointsArgs),
    /// Fit the left-hand / mirror-image template of the mirror check on registered left hands.
    #[cfg(feature = "torch")]
    Handedness(cmd::handedness::HandednessArgs),
    /// Fit the quality gate's template of a typical registered hand on registered real hands.
    #[cfg(feature = "torch")]
    HandTemplate(cmd::hand_template::HandTemplateArgs),
    /// Register radiographs into the canonical frame and cut regions A, B, C.
    #[cfg(feature = "torch")]
    Register(cmd::register::RegisterArgs),
    /// Put trained region nets, segmentation and keypoint models into one model bundle, with
    /// ensemble weights fitted on a registered validation set.
    #[cfg(feature = "torch")]
    Bundle(cmd::bundle::BundleArgs),
    /// Show the tensor engine (libtorch) this build uses and the devices it sees.
    #[cfg(feature = "torch")]
    Engine,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "torch")]
        Command::Demo(args) => cmd::demo::run(args),
        Command::Eda(args) => cmd::eda::run(args),
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Phantom(args) => cmd::phantom::run(args),
        Command::Split(args) => cmd::split::run(args),
        #[cfg(feature = "torch")]
        Command::Train(args) => cmd::train::run(args),
        #[cfg(feature = "torch")]
        Command::Evaluate(args) => cmd::evaluate::run(args),
        #[cfg(feature = "torch")]
        Command::Predict(args) => cmd::predict::run(args),
        #[cfg(feature = "torch")]
        Command::Report(args) => cmd::report::run(args),
        #[cfg(feature = "torch")]
        Command::Stress(args) => cmd::stress::run(args),
        #[cfg(feature = "torch")]
        Command::Serve(args) => cmd::serve::run(args),
        #[cfg(feature = "torch")]
        Command::Bundle(args) => cmd::bundle::run(args),
        #[cfg(feature = "torch")]
        Command::Segment(args) => cmd::segment::run(args),
        #[cfg(feature = "torch")]
        Command::Mine(args) => cmd::mine::run(args),
        #[cfg(feature = "torch")]
        Command::Keypoints(args) => cmd::keypoints::run(args),
        #[cfg(feature = "torch")]
        Command::Handedness(args) => cmd::handedness::run(args),
        #[cfg(feature = "torch")]
        Command::HandTemplate(args) => cmd::hand_template::run(args),
        #[cfg(feature = "torch")]
        Command::Register(args) => cmd::register::run(args),
        #[cfg(feature = "torch")]
        Command::Engine => cmd::engine::run(),
    };
    if let Err(err) = result {
        eprintln!("error: {err}");
        for cause in err.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(2);
    }
}
