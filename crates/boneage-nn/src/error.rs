//! The error of this crate's training, loading and inference: every variant that concerns a
//! file names it.

use crate::data::DataError;
use crate::vgg::ConfigError;
use std::path::PathBuf;

/// Why training stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration that cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file that cannot be read or written (the file, what went wrong).
    #[error("{0}: {1}")]
    Io(PathBuf, String),
    /// The data loader failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// libtorch reported an error.
    #[error("{0}")]
    Torch(String),
    /// The loss became NaN or infinite.
    #[error(
        "loss became {value} at epoch {epoch}, batch {batch}; stopped. The last good \
         checkpoint is kept in {run}"
    )]
    NonFinite {
        /// The loss.
        value: f64,
        /// 1-based epoch.
        epoch: usize,
        /// Batch in the epoch.
        batch: usize,
        /// The run folder.
        run: PathBuf,
    },
    /// `--resume` of a run folder without a checkpoint.
    #[error("{0}: no checkpoint to resume from (state.json and last.safetensors are needed)")]
    NoCheckpoint(PathBuf),
    /// The dataset cannot be used (no samples, a bad split, …).
    #[error("{0}")]
    Dataset(String),
}

impl From<tch::TchError> for TrainError {
    fn from(e: tch::TchError) -> Self {
        TrainError::Torch(e.to_string())
    }
}
