//! `boneage demo`: the whole job on built-in data, in a few minutes on a laptop's CPU.
//!
//! 1. makes a phantom test set (ages and sexes drawn from the RSNA training distribution);
//! 2. runs the default model bundle (or `--model`) over it — hand segmentation, keypoints,
//!    registration, regions A/B/C, six region nets, the weighted ensemble — and writes the
//!    seed's results table (`results/results.json`, `results/results.html`);
//! 3. predicts one test radiograph with 10 test-time augmentation views, as `boneage predict`
//!    does, with the debug images of every step;
//! 4. with `--whole-image`, also trains the seed's whole-image VGG regressor and classifier on
//!    a phantom training set and evaluates them on the same test set (the single-net baseline).
//!
//! With `--data DIR` the test set is the user's own labelled radiographs instead of phantoms.
//! The built-in bundle's own figures on real radiographs (validation, held-out test, by sex and
//! development stage, from its manifest) are printed beside the run. Research use only, not
//! for clinical use.

use crate::app::evaluation::evaluate;
use crate::app::flags::DeviceFlag;
use crate::app::results::bundle_results;
use crate::progress;
use anyhow::Context;
use boneage_core::split::stratified_split;
use boneage_core::{Dataset, Sample};
use boneage_nn::run::TrainedRun;
use boneage_nn::training::{train, Progress, TrainConfig};
use boneage_nn::vgg::{Head, VggConfig};
use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{AgeSource, PhantomConfig};
use boneage_pipeline::Pipeline;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct DemoArgs {
    /// Output folder.
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
    /// Model bundle. Default: the built-in one.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Your own labelled radiographs (a label table, or a folder with labels.csv and images/)
    /// instead of the phantom test set.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Where the images of --data are (default: `images/` beside its table, or its folder).
    #[arg(long = "data-images", requires = "data")]
    pub data_images: Option<PathBuf>,
    /// Also train and evaluate the whole-image nets (about 8 more minutes on 2 cores).
    #[arg(long)]
    pub whole_image: bool,
    /// Phantom training images (a stratified 15% of them validate).
    #[arg(long, default_value_t = 900)]
    pub n_train: usize,
    /// Phantom test images.
    #[arg(long, default_value_t = 300)]
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
    #[command(flatten)]
    pub device: DeviceFlag,
}

/// Size of the whole-image training phantoms: the RSNA samples' 4:5 aspect.
const PHANTOM_SIZE: (usize, usize) = (192, 240);
/// Size of the test phantoms the bundle reads (as its training phantoms).
const TEST_SIZE: (usize, usize) = (384, 480);

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

/// The bundle's own figures: validation (the weights' fit) and its held-out test set, overall,
/// by sex and by development stage, from its manifest.
pub fn print_real_figures(m: &boneage_nn::bundle::Manifest) {
    println!(
        "  validation ({} images): ensemble MAE {:.2} months (best single net {:.2}, {})",
        m.ensemble.n_valid,
        m.ensemble.valid_mae_months,
        m.ensemble.best_single_valid_mae_months,
        m.ensemble.best_single
    );
    let Some(t) = &m.test else {
        println!("  (the bundle carries no test figures)");
        return;
    };
    let e = &t.ensemble;
    println!("  test: {}", t.set);
    let row = |name: &str, s: &boneage_core::metrics::ErrorSummary| {
        println!(
            "    {name:<22} n {:>4}  MAE {:6.2}  RMSE {:6.2}  bias {:+6.2}  within 12 months {:5.1}%  (mean predictor {:.2})",
            s.n,
            s.mae_months,
            s.rmse_months,
            s.bias_months,
            100.0 * s.within_12_months_fraction,
            s.baseline_mae_months
        )
    };
    row("ensemble", &e.overall);
    for (k, v) in &e.by_sex {
        row(&format!("  {k}"), v);
    }
    for (k, v) in &e.by_stage {
        row(&format!("  {k}"), v);
    }
    let best = t
        .members
        .iter()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(n, v)| format!("{n} {v:.2}"))
        .unwrap_or_default();
    println!("    best single net on test: {best}");
}

fn phantom_set(
    dir: &Path,
    n: usize,
    seed: u64,
    size: (usize, usize),
    label: &str,
) -> anyhow::Result<Dataset> {
    if dir.join("labels.csv").is_file() {
        eprintln!("{label}: reusing {}", dir.display());
    } else {
        let spec = DatasetSpec {
            n,
            seed,
            config: PhantomConfig::with_size(size.0, size.1),
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
    let device = args.device.resolve()?;
    let folder = crate::app::out::OutFolder::create(&args.out)?;
    // The size is in the name so a test set of another size (an earlier demo) is not reused.
    let phantom_dir = args
        .out
        .join(format!("phantom-test-{}x{}", TEST_SIZE.0, TEST_SIZE.1));
    let phantom_test = || {
        phantom_set(
            &phantom_dir,
            args.n_test,
            args.seed + 1,
            TEST_SIZE,
            "test set",
        )
    };
    let (test_dir, test, what) = match &args.data {
        Some(d) => (
            d.clone(),
            crate::app::data::open_dataset(d, args.data_images.as_deref())?,
            format!("your labelled set {}", d.display()),
        ),
        None => (
            phantom_dir.clone(),
            phantom_test()?,
            format!("{} phantoms ({}x{})", args.n_test, TEST_SIZE.0, TEST_SIZE.1),
        ),
    };
    anyhow::ensure!(
        !test.samples.is_empty(),
        "{}: no images",
        test_dir.display()
    );

    let mut pipeline = Pipeline::new(crate::app::models::load_bundle(
        args.model.as_deref(),
        device,
    )?)
    .with_tta(1);
    let m = &pipeline.bundle.manifest;
    eprintln!("bundle {} ({}): {}", m.id, pipeline.bundle.origin, m.notice);
    let results_dir = args.out.join("results");
    let results = bundle_results(
        &pipeline,
        &test_dir,
        args.data_images.as_deref(),
        &results_dir,
        &format!("Demo: the seed's results table on {what}"),
    )?;

    // One prediction with TTA, as `boneage predict --tta 10 --debug-images` gives it, on the
    // first test film the quality gate accepts.
    pipeline.tta = 10;
    let mut chosen = None;
    for first in &test.samples {
        let img = first.image.clone().context("test image")?;
        let r = boneage_pipeline::read(&img)?;
        let patient = boneage_pipeline::Patient {
            sex: first.sex,
            chronological_age_months: None,
        };
        let t0 = std::time::Instant::now();
        let a = pipeline.assess(&r, patient)?;
        if a.prediction.is_some() {
            chosen = Some((first, img, r, a, t0.elapsed().as_secs_f64()));
            break;
        }
    }
    let (first, img, r, a, tta_seconds) =
        chosen.context("the quality gate rejected every demo test radiograph")?;
    let p = a
        .prediction
        .as_ref()
        .context("an accepted film has a prediction")?;
    let analysis = a
        .analysis
        .as_ref()
        .context("an accepted film has an analysis")?;
    let debug = args.out.join("debug");
    let p1 = pipeline.estimate(&pipeline.cut_regions(analysis, 1), first.sex);
    let bundle = &pipeline.bundle;

    let whole = if args.whole_image {
        // The whole-image nets are compared on the phantom test set.
        phantom_test()?;
        whole_image(&args, device, &phantom_dir)?
    } else {
        Vec::new()
    };

    println!();
    println!("boneage demo — {}", bundle.manifest.notice);
    println!(
        "  bundle {}: {}",
        bundle.manifest.id, bundle.manifest.trained_on
    );
    print_real_figures(&bundle.manifest);
    println!(
        "  demo test set: {what}, {} images, every image through segmentation, keypoints, registration, regions and the ensemble",
        results.n,
    );
    results.print_rows();
    println!(
        "  results table: {}",
        results_dir.join("results.html").display()
    );
    for (name, mae, base, dir) in &whole {
        println!(
            "  whole-image {name:<15} test MAE {mae:6.2} months (baseline {base:.2})  report {}",
            dir.join("report.html").display()
        );
    }
    println!(
        "  predict {} ({}): {:.1} months, spread {:.1}; with TTA-10 {:.1} months ({:.2} s); reference {:.1}",
        img.display(),
        first.sex,
        p1.bone_age_months,
        p1.spread_months,
        p.bone_age_months,
        tta_seconds,
        first.bone_age_months
    );
    crate::app::debug::write_debug(
        &debug.join(first.id.as_str()),
        &img,
        &r.image,
        &a,
        &pipeline.explain(&a),
    )?;
    println!("  what the pipeline saw: {}", debug.display());
    println!("  total time {:.0} s", started.elapsed().as_secs_f64());
    folder.keep();
    Ok(())
}

/// The seed's whole-image nets: trained on a phantom training set, evaluated on the test set.
fn whole_image(
    args: &DemoArgs,
    device: boneage_nn::Device,
    test_dir: &Path,
) -> anyhow::Result<Vec<(&'static str, f64, f64, PathBuf)>> {
    let train_dir = args.out.join("phantom-train");
    let train_ds = phantom_set(
        &train_dir,
        args.n_train,
        args.seed,
        PHANTOM_SIZE,
        "phantoms",
    )?;
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
            "training the whole-image {name} net ({} train / {} valid images, {} epochs)",
            tr.len(),
            va.len(),
            cfg.epochs
        );
        let resume = run_dir.join("state.json").is_file();
        let s = train(&cfg, &tr, &va, &run_dir, device, resume, |p| {
            if let Progress::Epoch(m) = p {
                eprintln!(
                    "  epoch {:>2}  loss {:.4}  train MAE {:6.2}  valid MAE {:6.2} months  ({:.0} s)",
                    m.epoch, m.train_loss, m.train_mae_months, m.valid_mae_months, m.seconds
                );
            }
        })?;
        let run = TrainedRun::load(&s.run, device)?;
        let eval_dir = args.out.join(format!("eval-{name}"));
        let ev = evaluate(
            &run,
            test_dir,
            None,
            &eval_dir,
            &format!("Demo: whole-image {name} net on phantom test set"),
        )?;
        rows.push((
            name,
            ev.overall.mae_months,
            ev.overall.baseline_mae_months,
            eval_dir,
        ));
    }
    Ok(rows)
}
