//! `boneage bundle`: trained region nets, the segmentation and the keypoint model into one model
//! bundle, with ensemble weights fitted on a registered validation set.
//!
//! ```text
//! boneage bundle --member A:RUN_DIR [--member B:RUN_DIR ...] --valid REGISTERED_DIR --out BUNDLE
//!                [--test REGISTERED_DIR] [--segmentation DIR] [--keypoints DIR]
//!                [--trained-on TEXT] [--phantom-only]
//! ```
//!
//! Each member is a run folder of `boneage train` (its `config.json` and `best.safetensors`)
//! and the region it was trained on; its name is the run folder's name. `--valid` is a folder
//! written by `boneage register --data` (regions/<R>/ with labels.csv): every member predicts
//! its region of those images, and the weights (≥ 0, summing to 1) that give the lowest MAE are
//! kept — never worse on that set than the best single member. A straight line through the
//! ensemble's estimates (`Calibration`, fitted on the same validation set) is kept when it
//! lowers their MAE: nets that underfit answer too close to the mean. With `--test`, every member and
//! the weighted ensemble are measured once on a registered test set and the figures (overall,
//! by sex, by development stage, the mean-predictor baseline) are stored in the manifest.

use crate::app::flags::DeviceFlag;
use anyhow::{bail, Context};
use boneage_core::metrics::{Case, Evaluation};
use boneage_nn::bundle::{
    region_of, write_bundle, BundleSpec, Calibration, EnsembleInfo, IntervalInfo, Member,
    ModelFiles, TestReport, TtaConfig,
};
use boneage_nn::run::TrainedRun;
use boneage_pipeline::ensemble::{
    fit_interval, leave_one_out_estimates, leave_one_out_mae, spreads, Weighting,
};
use clap::Args;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct BundleArgs {
    /// REGION:RUN_DIR — a trained run and the region (A, B or C) it reads. Repeat per member.
    #[arg(long = "member", required = true)]
    pub members: Vec<String>,
    /// Registered validation set (`boneage register --data` output) for the ensemble weights.
    #[arg(long)]
    pub valid: PathBuf,
    /// Registered held-out test set: the bundle's test figures (overall, by sex and stage,
    /// each member's) go into its manifest. Never used to fit anything.
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// What the test set is, in words (goes into the manifest with the figures).
    #[arg(long, default_value = "held-out test set")]
    pub test_name: String,
    /// Bundle folder to write (replaced if it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// Segmentation model folder. Default: the built-in one.
    #[arg(long)]
    pub segmentation: Option<PathBuf>,
    /// Keypoint model folder. Default: the built-in one.
    #[arg(long)]
    pub keypoints: Option<PathBuf>,
    /// What the nets were trained on, in words (goes into the manifest).
    #[arg(long, default_value = "not stated")]
    pub trained_on: String,
    /// Mark the bundle as trained on phantoms only (predictions say so).
    #[arg(long)]
    pub phantom_only: bool,
    /// Test-time augmentation views per region that predictions use by default.
    #[arg(long, default_value_t = 1)]
    pub tta: usize,
    /// Start of the bundle id (the last one given counts).
    #[arg(long, default_value = "boneage", overrides_with = "label")]
    pub label: String,
    /// How the members' weights are chosen on the validation set: `fitted` (the weights that
    /// minimize its MAE), `equal`, or `auto`: the one whose leave-one-out validation MAE
    /// (each film predicted by weights fitted on the others) is lower. With each, a calibration
    /// line is kept only when it lowers the leave-one-out MAE too.
    #[arg(long, value_enum, default_value_t = WeightsArg::Auto)]
    pub weights: WeightsArg,
    #[command(flatten)]
    pub device: DeviceFlag,
}

/// `--weights`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum WeightsArg {
    Fitted,
    Equal,
    Auto,
}

fn model_files<'a>(dir: &Path, config_name: &'a str) -> anyhow::Result<ModelFiles<'a>> {
    let cfg = dir.join(config_name);
    let w = dir.join(boneage_nn::folder::WEIGHTS);
    Ok(ModelFiles {
        config_name,
        config: std::fs::read_to_string(&cfg)
            .with_context(|| format!("{}: cannot read", cfg.display()))?
            .into(),
        weights: std::fs::read(&w)
            .with_context(|| format!("{}: cannot read", w.display()))?
            .into(),
    })
}

pub fn run(args: BundleArgs) -> anyhow::Result<()> {
    if args.tta == 0 || args.tta > 64 {
        bail!("--tta {}: give 1 (no augmentation) to 64 views", args.tta);
    }
    let device = args.device.resolve()?;
    let mut parsed = Vec::new();
    for m in &args.members {
        let Some((region, dir)) = m.split_once(':') else {
            bail!("--member {m}: expected REGION:RUN_DIR (e.g. A:runs/A-regression)");
        };
        if region_of(region).is_none() {
            bail!("--member {m}: region {region:?} is not A, B or C");
        }
        let dir = PathBuf::from(dir);
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .with_context(|| format!("--member {m}: no run folder name"))?;
        if parsed
            .iter()
            .any(|(_, n, _): &(String, String, PathBuf)| *n == name)
        {
            bail!("--member {m}: two members named {name} (run folders need distinct names)");
        }
        parsed.push((region.to_string(), name, dir));
    }
    // Validation predictions, aligned by id across members.
    let mut truth: Option<(Vec<String>, Vec<f64>)> = None;
    let mut preds = Vec::new();
    let mut members = Vec::new();
    let mut train_mean = None;
    let mut test_preds = Vec::new();
    for (region, name, dir) in &parsed {
        let run = TrainedRun::load(dir, device)?;
        train_mean = train_mean.or(run.split.as_ref().map(|s| s.train_mean_months));
        let data = args.valid.join("regions").join(region);
        let ds = crate::app::data::open_dataset(&data, Some(&data))
            .with_context(|| format!("--valid {}: region {region}", args.valid.display()))?;
        if let Some(split) = &run.split {
            // Ids the net trained on and did not validate on (phantom sets number their
            // images from 1, so a separate validation set shares ids with the training set;
            // those ids are then in the run's validation list too).
            let trained: std::collections::HashSet<&str> =
                split.train.iter().map(|s| s.as_str()).collect();
            let validated: std::collections::HashSet<&str> =
                split.valid.iter().map(|s| s.as_str()).collect();
            let seen = ds
                .samples
                .iter()
                .filter(|s| trained.contains(s.id.as_str()) && !validated.contains(s.id.as_str()))
                .count();
            if seen > 0 {
                bail!(
                    "{}: {seen} of the --valid images were in the training set of {}; ensemble \
                     weights must be fitted on images the nets did not learn from",
                    data.display(),
                    dir.display()
                );
            }
        }
        let p = run.predict(&ds.samples)?;
        if let Some(test) = &args.test {
            let (samples, p) = registered_predictions(&run, test, region)?;
            test_preds.push((name.clone(), samples, p));
        }
        let by_id: HashMap<&str, f64> = ds
            .samples
            .iter()
            .map(|s| s.id.as_str())
            .zip(p.iter().copied())
            .collect();
        let (ids, t) = truth
            .get_or_insert_with(|| (ds.samples.iter().map(|s| s.id.clone()).collect(), ds.ages()));
        let aligned: Option<Vec<f64>> = ids
            .iter()
            .map(|id| by_id.get(id.as_str()).copied())
            .collect();
        let Some(aligned) = aligned else {
            bail!(
                "{}: its images are not the other regions' images",
                data.display()
            );
        };
        let mae = aligned
            .iter()
            .zip(t.iter())
            .map(|(p, t)| (p - t).abs())
            .sum::<f64>()
            / t.len().max(1) as f64;
        eprintln!("  {name:<28} region {region}  validation MAE {mae:6.2} months");
        preds.push(aligned);
        members.push((
            Member {
                name: name.clone(),
                region: region.clone(),
                head: run.config.model.head,
                arch: run.config.model.arch,
                dir: String::new(),
                input: [0, 0],
                weight: 0.0,
                valid_mae_months: mae,
            },
            dir.clone(),
        ));
    }
    let (_, t) = truth.context("no members")?;
    // Each rule's worth on validation films it was not fitted to (weights, and a calibration
    // line or none); `auto` takes the best.
    let rules = [
        (Weighting::Fitted, true),
        (Weighting::Fitted, false),
        (Weighting::Equal, true),
        (Weighting::Equal, false),
    ];
    let loo: Vec<f64> = rules
        .iter()
        .map(|&(r, c)| leave_one_out_mae(r, c, &preds, &t))
        .collect();
    let figures = format!(
        "fitted weights + line {:.2}, fitted weights {:.2}, equal weights + line {:.2}, equal \
         weights {:.2} months",
        loo[0], loo[1], loo[2], loo[3]
    );
    eprintln!("  leave-one-out validation MAE: {figures}");
    let allowed = |r: Weighting| match args.weights {
        WeightsArg::Fitted => r == Weighting::Fitted,
        WeightsArg::Equal => r == Weighting::Equal,
        WeightsArg::Auto => true,
    };
    let (rule, calibrate) = rules
        .iter()
        .zip(&loo)
        .filter(|((r, _), _)| allowed(*r))
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(rc, _)| *rc)
        .context("no weighting rule")?;
    let w = rule.weights(&preds, &t);
    // A 95% interval from the errors on validation films the weights did not see.
    let errors: Vec<f64> = leave_one_out_estimates(rule, calibrate, &preds, &t)
        .iter()
        .zip(&t)
        .map(|(e, t)| (e - t).abs())
        .collect();
    let interval = fit_interval(&errors, &spreads(&preds, &w), 0.95);
    if let Some(i) = &interval {
        eprintln!(
            "  95% interval: ±({:.2} + {:.2} x spread) months ({})",
            i.half_width_months, i.spread_factor, i.method
        );
    }
    let ens: Vec<f64> = (0..t.len())
        .map(|i| preds.iter().zip(&w).map(|(p, w)| p[i] * w).sum())
        .collect();
    let calibration = if calibrate {
        Calibration::fit(&ens, &t)
    } else {
        None
    };
    let ens_mae = match &calibration {
        Some(c) => {
            eprintln!(
                "  calibration: {:.3} x ensemble {:+.2} months (validation MAE {:.2} -> {:.2})",
                c.slope, c.intercept, c.valid_mae_before_months, c.valid_mae_after_months
            );
            c.valid_mae_after_months
        }
        None => ens.iter().zip(&t).map(|(p, t)| (p - t).abs()).sum::<f64>() / t.len() as f64,
    };
    let best = members
        .iter()
        .min_by(|a, b| a.0.valid_mae_months.total_cmp(&b.0.valid_mae_months))
        .map(|m| (m.0.name.clone(), m.0.valid_mae_months))
        .context("no members")?;
    let mut spec_members = Vec::new();
    for ((mut m, dir), w) in members.into_iter().zip(&w) {
        m.weight = *w;
        let weights = ["best.safetensors", "last.safetensors"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
            .with_context(|| format!("{}: no weights", dir.display()))?;
        let files = ModelFiles {
            config_name: "config.json",
            config: std::fs::read_to_string(dir.join("config.json"))
                .with_context(|| format!("{}: cannot read config.json", dir.display()))?
                .into(),
            weights: std::fs::read(&weights)
                .with_context(|| format!("{}: cannot read", weights.display()))?
                .into(),
        };
        spec_members.push((m, files));
    }
    let test = match &args.test {
        Some(dir) => Some(test_report(
            &test_preds,
            &w,
            calibration.as_ref(),
            interval.as_ref(),
            train_mean.context("the member runs do not record their training mean")?,
            &format!("{} ({})", args.test_name, dir.display()),
        )?),
        None => None,
    };
    check_registration_models(&args)?;
    let segmentation = match &args.segmentation {
        Some(d) => model_files(d, "segmentation.json")?,
        None => crate::app::models::segmentation_files(),
    };
    let keypoints = match &args.keypoints {
        Some(d) => model_files(d, "keypoints.json")?,
        None => crate::app::models::keypoint_files(),
    };
    let manifest = write_bundle(
        &args.out,
        BundleSpec {
            label: args.label.clone(),
            trained_on: args.trained_on.clone(),
            phantom_only: args.phantom_only,
            segmentation,
            keypoints,
            members: spec_members,
            ensemble: EnsembleInfo {
                method: format!(
                    "{}, {} (chosen by leave-one-out validation MAE: {figures})",
                    rule.describe(),
                    if calibration.is_some() {
                        "then a calibration line"
                    } else {
                        "no calibration line"
                    }
                ),
                n_valid: t.len(),
                valid_mae_months: ens_mae,
                best_single: best.0,
                best_single_valid_mae_months: best.1,
                train_mean_months: train_mean,
            },
            tta: TtaConfig {
                views: args.tta,
                ..TtaConfig::default()
            },
            calibration,
            interval,
            test,
        },
    )?;
    for m in &manifest.members {
        eprintln!("  weight {:.3}  {}", m.weight, m.name);
    }
    println!(
        "bundle {} written to {}: {} members, ensemble validation MAE {:.2} months (best single {:.2}, {})",
        manifest.id,
        args.out.display(),
        manifest.members.len(),
        ens_mae,
        manifest.ensemble.best_single_valid_mae_months,
        manifest.ensemble.best_single
    );
    Ok(())
}

/// A member's predictions on its region of a registered set: the samples and their ages.
fn registered_predictions(
    run: &TrainedRun,
    set: &Path,
    region: &str,
) -> anyhow::Result<(Vec<boneage_core::Sample>, Vec<f64>)> {
    let data = set.join("regions").join(region);
    let ds = crate::app::data::open_dataset(&data, Some(&data))
        .with_context(|| format!("{}: region {region}", set.display()))?;
    let p = run.predict(&ds.samples)?;
    Ok((ds.samples, p))
}

/// The weighted ensemble and every member on the test set.
fn test_report(
    preds: &[(String, Vec<boneage_core::Sample>, Vec<f64>)],
    weights: &[f64],
    calibration: Option<&Calibration>,
    interval: Option<&IntervalInfo>,
    train_mean: f64,
    set: &str,
) -> anyhow::Result<TestReport> {
    let (_, samples, _) = preds.first().context("no members")?;
    let mut ens = vec![0.0; samples.len()];
    let mut members = std::collections::BTreeMap::new();
    for ((name, s, p), w) in preds.iter().zip(weights) {
        if s.len() != samples.len() || s.iter().zip(samples).any(|(a, b)| a.id != b.id) {
            bail!("test set: member {name}'s region does not hold the other regions' images");
        }
        for (e, v) in ens.iter_mut().zip(p) {
            *e += w * v;
        }
        let truth: Vec<f64> = s.iter().map(|x| x.bone_age_months).collect();
        members.insert(name.clone(), boneage_core::stats::mae(p, &truth));
    }
    let cases: Vec<Case> = samples
        .iter()
        .zip(&ens)
        .map(|(s, &p)| Case {
            sex: s.sex,
            truth_months: s.bone_age_months,
            pred_months: calibration.map_or(p, |c| c.apply(p)),
        })
        .collect();
    let ensemble = Evaluation::of(&cases, train_mean);
    let member_preds: Vec<Vec<f64>> = preds.iter().map(|(_, _, p)| p.clone()).collect();
    let interval_coverage = interval.map(|i| {
        let inside = cases
            .iter()
            .zip(spreads(&member_preds, weights))
            .filter(|(c, s)| {
                let [lo, hi] = i.around(c.pred_months, *s);
                (lo..=hi).contains(&c.truth_months)
            })
            .count();
        inside as f64 / cases.len().max(1) as f64
    });
    if let Some(c) = interval_coverage {
        eprintln!(
            "  test: {:.1}% of the films inside their 95% interval",
            100.0 * c
        );
    }
    eprintln!(
        "  test ({} images): ensemble MAE {:.2} months, mean predictor {:.2}",
        samples.len(),
        ensemble.overall.mae_months,
        ensemble.overall.baseline_mae_months
    );
    for (n, m) in &members {
        eprintln!("    {n:<28} test MAE {m:6.2}");
    }
    Ok(TestReport {
        set: set.to_string(),
        ensemble,
        members,
        interval_coverage,
    })
}

/// Warns when the validation set was registered with other segmentation or keypoint models
/// than the ones going into the bundle: the bundle would cut regions differently from the
/// ones its nets learned from.
fn check_registration_models(args: &BundleArgs) -> anyhow::Result<()> {
    let name = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in".into())
    };
    let expected = format!(
        "segmentation={} keypoints={} {}",
        name(&args.segmentation),
        name(&args.keypoints),
        boneage_pipeline::front::REGISTRATION_RULE
    );
    let record = std::fs::read_dir(&args.valid)
        .with_context(|| format!("{}: cannot read", args.valid.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "json"));
    let Some(record) = record else {
        eprintln!(
            "warning: {} has no registration records (<id>.json); cannot check which models cut \
             its regions",
            args.valid.display()
        );
        return Ok(());
    };
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&record)
            .with_context(|| format!("{}: cannot read", record.display()))?,
    )
    .with_context(|| format!("{}: not a registration record", record.display()))?;
    if let Some(models) = v["models"].as_str() {
        if models != expected {
            eprintln!(
                "warning: the validation regions were registered with \"{models}\" but the bundle \
                 gets \"{expected}\"; give the same models (--segmentation, --keypoints) so the \
                 bundle cuts regions as its nets were trained"
            );
        }
    }
    Ok(())
}
