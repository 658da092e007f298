//! `boneage demo`: the whole job on built-in data, in minutes on a laptop's CPU.
//!
//! 1. makes a phantom training set and a separate phantom test set (ages and sexes drawn from
//!    the RSNA training distribution);
//! 2. trains a small VGG-style regressor and a small 240-bin classifier on the training set;
//! 3. evaluates both on the test set (evaluation.json and an HTML report each);
//! 4. predicts the bone age of one test radiograph;
//! 5. prints the MAEs against the mean-predictor baseline and where the reports are.
//!
//! The models are trained on phantoms only: they show the pipeline working, not clinical
//! accuracy.

use super::evaluate::evaluate;
use crate::progress;
use anyhow::Context;
use boneage_core::split::stratified_split;
use boneage_core::{Dataset, Sample};
use boneage_nn::training::{train, TrainConfig, TrainedRun};
use boneage_nn::vgg::{Head, VggConfig};
use boneage_nn::DeviceChoice;
use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{AgeSource, PhantomConfig};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct DemoArgs {
    /// Output folder.
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
    /// Phantom training images (a stratified 15% of them validate).
    #[arg(long, default_value_t = 900)]
    pub n_train: usize,
    /// Phantom test images.
    #[arg(long, default_value_t = 200)]
    pub n_test: usize,
    /// Training epochs per model.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Training batch size.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Seed of the phantoms, the split and the training.
    #[arg(long, default_value_t = 2017)]
    pub seed: u64,
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Phantom size: the RSNA samples' 4:5 aspect.
const PHANTOM_SIZE: (usize, usize) = (192, 240);

/// The demo's network: small enough to train on 2 CPU cores in minutes.
pub fn demo_config(head: Head, epochs: usize, batch_size: usize, seed: u64) -> TrainConfig {
    let mut c = TrainConfig {
        model: VggConfig {
            input_width: 128,
            input_height: 160,
            base_channels: 16,
            max_channels: 128,
            convs_per_block: vec![1, 1, 2, 2, 2],
            dense: 128,
            dropout: 0.2,
            head,
            ..VggConfig::default()
        },
        epochs,
        batch_size,
        patience: epochs,
        seed,
        ..TrainConfig::default()
    };
    c.optimizer.lr = 1e-3;
    c.data.augment.rotation_deg = 10.0;
    c
}

fn phantom_set(dir: &Path, n: usize, seed: u64, label: &str) -> anyhow::Result<Dataset> {
    if dir.join("labels.csv").is_file() {
        eprintln!("{label}: reusing {}", dir.display());
    } else {
        let spec = DatasetSpec {
            n,
            seed,
            config: PhantomConfig::with_size(PHANTOM_SIZE.0, PHANTOM_SIZE.1),
            ages: AgeSource::Rsna,
            bit16: false,
        };
        let pb = progress::bar(n as u64, label);
        write_dataset(dir, &spec, &|| pb.inc(1))?;
        pb.finish_and_clear();
        eprintln!("{label}: {n} phantoms in {}", dir.display());
    }
    let mut ds = Dataset::read(dir.join("labels.csv"))?;
    ds.resolve_images(Some(&dir.join("images")))?;
    Ok(ds)
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let device = args.device.parse::<DeviceChoice>()?.resolve()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    let train_dir = args.out.join("phantom-train");
    let test_dir = args.out.join("phantom-test");
    let train_ds = phantom_set(&train_dir, args.n_train, args.seed, "phantoms")?;
    phantom_set(&test_dir, args.n_test, args.seed + 1, "test set")?;

    let parts = stratified_split(&train_ds.samples, &[0.85, 0.15], args.seed);
    let take = |p: &[usize]| {
        p.iter()
            .map(|&i| train_ds.samples[i].clone())
            .collect::<Vec<Sample>>()
    };
    let (tr, va) = (take(&parts[0]), take(&parts[1]));

    let mut rows = Vec::new();
    for head in [Head::Regression, Head::Classification] {
        let name = match head {
            Head::Regression => "regression",
            Head::Classification => "classification",
            Head::Keypoints => unreachable!("the demo trains age heads"),
        };
        let run_dir = args.out.join("runs").join(name);
        let cfg = demo_config(head, args.epochs, args.batch_size, args.seed);
        eprintln!(
            "training the {name} net ({} train / {} valid images, {} epochs)",
            tr.len(),
            va.len(),
            cfg.epochs
        );
        let resume = run_dir.join("state.json").is_file();
        let s = train(&cfg, &tr, &va, &run_dir, device, resume, |m| {
            eprintln!(
                "  epoch {:>2}  loss {:.4}  train MAE {:6.2}  valid MAE {:6.2} months  ({:.0} s)",
                m.epoch, m.train_loss, m.train_mae_months, m.valid_mae_months, m.seconds
            );
        })?;
        let run = TrainedRun::load(&s.run, device)?;
        let eval_dir = args.out.join(format!("eval-{name}"));
        let ev = evaluate(
            &run,
            &test_dir,
            &eval_dir,
            &format!("Demo: {name} net on phantom test set"),
        )?;
        rows.push((
            name,
            ev.overall.mae_months,
            ev.overall.baseline_mae_months,
            eval_dir,
            run,
        ));
    }

    // One prediction, as `boneage predict` gives it.
    let test = Dataset::read(test_dir.join("labels.csv"))?;
    let first = &test.samples[0];
    let img = test_dir.join("images").join(format!("{}.png", first.id));
    let one = Sample {
        image: Some(img.clone()),
        ..first.clone()
    };
    let pred = rows[0].4.predict(std::slice::from_ref(&one))?[0];

    println!();
    println!("boneage demo — phantom data only, not for clinical use");
    println!(
        "  test set: {} phantoms ({}x{}), models trained on {} (+{} validation)",
        test.samples.len(),
        PHANTOM_SIZE.0,
        PHANTOM_SIZE.1,
        tr.len(),
        va.len()
    );
    for (name, mae, base, dir, _) in &rows {
        println!(
            "  {name:<15} test MAE {mae:6.2} months  ({:.0}% of the mean-predictor baseline {base:.2})  report {}",
            100.0 * mae / base,
            dir.join("report.html").display()
        );
    }
    println!(
        "  predict {}: {:.1} months (reference {:.1}, {})",
        img.display(),
        pred,
        first.bone_age_months,
        first.sex
    );
    println!("  total time {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
