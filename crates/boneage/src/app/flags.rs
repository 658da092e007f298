//! Flags that several commands take, defined once and put into each command's arguments with
//! `#[command(flatten)]`.

use clap::Args;
use std::path::PathBuf;

/// `--device`.
#[cfg(feature = "torch")]
#[derive(Args, Debug, Clone)]
pub struct DeviceFlag {
    /// cpu, cuda, cuda:N or auto (a GPU when libtorch sees one).
    #[arg(long, default_value = "auto")]
    pub device: String,
}

#[cfg(feature = "torch")]
impl DeviceFlag {
    /// The device named, checked against what libtorch sees.
    pub fn resolve(&self) -> anyhow::Result<boneage_nn::Device> {
        Ok(self.device.parse::<boneage_nn::DeviceChoice>()?.resolve()?)
    }
}

/// `--jobs`.
#[derive(Args, Debug, Clone)]
pub struct JobsFlag {
    /// Worker threads for the image work (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}

impl JobsFlag {
    /// A thread pool of `--jobs` threads (all cores without it).
    pub fn pool(&self) -> anyhow::Result<rayon::ThreadPool> {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(j) = self.jobs {
            anyhow::ensure!(j >= 1, "--jobs must be at least 1");
            b = b.num_threads(j);
        }
        b.build()
            .map_err(|e| anyhow::anyhow!("cannot start the worker threads: {e}"))
    }
}

/// `--keep-going` and `--jobs`, for commands that work through many images.
#[derive(Args, Debug, Clone)]
pub struct BatchFlags {
    /// Go on past unreadable images instead of stopping at the first: each is listed (in the
    /// command's table and on stderr) and the exit status is 1.
    #[arg(long)]
    pub keep_going: bool,
    #[command(flatten)]
    pub jobs: JobsFlag,
}

/// `--config` and `--epochs`, for the commands that train a net.
#[derive(Args, Debug, Clone)]
pub struct TrainingFlags {
    /// Config file (JSON): `TrainConfig` for train (optional with --resume: the run's own
    /// config.json), `SegConfig` for mine, `KeypointConfig` for keypoints; every key has a
    /// default.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Epochs (per round for mine); overrides the config's.
    #[arg(long)]
    pub epochs: Option<usize>,
}

/// `--tta`.
#[derive(Args, Debug, Clone)]
pub struct TtaFlag {
    /// Views per region for test-time augmentation (1 = none; the challenge winner used 10).
    /// Default: the bundle's (`tta.views` in its manifest).
    #[arg(long)]
    pub tta: Option<usize>,
}

impl TtaFlag {
    /// The views to use: `--tta` (1 to 64) or `default`.
    pub fn views(&self, default: usize) -> anyhow::Result<usize> {
        match self.tta {
            Some(n) if n == 0 || n > 64 => {
                anyhow::bail!("--tta {n}: give 1 (no augmentation) to 64 views")
            }
            Some(n) => Ok(n),
            None => Ok(default.max(1)),
        }
    }
}

/// `--chronological-age-months M`, or `--birth-date` and `--study-date`: the patient's age, that
/// the bone age is read against (difference, SDS, delayed / normal / advanced). A DICOM file's
/// header gives it when these are left out.
#[derive(Args, Debug, Clone, Default)]
pub struct AgeFlags {
    /// Chronological age of the patient at the study, in months (0-240).
    #[arg(long, allow_negative_numbers = true, conflicts_with_all = ["birth_date", "study_date"])]
    pub chronological_age_months: Option<f64>,
    /// Birth date of the patient, YYYY-MM-DD (with --study-date).
    #[arg(long, requires = "study_date")]
    pub birth_date: Option<String>,
    /// Date the radiograph was taken, YYYY-MM-DD (with --birth-date).
    #[arg(long, requires = "birth_date")]
    pub study_date: Option<String>,
}

impl AgeFlags {
    /// What the command line says about the patient: `--sex` (checked) and these flags' age;
    /// the file header fills in the rest.
    pub fn given(&self, sex: Option<&str>) -> anyhow::Result<boneage_pipeline::Given> {
        use anyhow::Context;
        let sex: Option<boneage_core::Sex> = match sex {
            Some(s) => Some(s.parse().with_context(|| format!("--sex {s}"))?),
            None => None,
        };
        Ok(boneage_pipeline::Given {
            sex,
            chronological_age_months: self.months()?,
        })
    }

    /// The chronological age in months, checked (0-20 years, the study not before the birth).
    pub fn months(&self) -> anyhow::Result<Option<f64>> {
        use anyhow::Context;
        use boneage_core::age::{checked_months, chronological_months};
        match (
            &self.chronological_age_months,
            &self.birth_date,
            &self.study_date,
        ) {
            (Some(m), _, _) => Ok(Some(
                checked_months(*m).context("--chronological-age-months")?,
            )),
            (None, Some(b), Some(s)) => Ok(Some(
                chronological_months(b, s).context("--birth-date / --study-date")?,
            )),
            _ => Ok(None),
        }
    }
}
