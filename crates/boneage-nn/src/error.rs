//! The error of this crate's training, loading and inference: every variant that concerns a
//! file names it.

use crate::data::DataError;
use crate::vgg::ConfigError;
use std::path::PathBuf;

/// Why training stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}: {1}")]
    Io(PathBuf, String),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{0}")]
    Torch(String),
    #[error(
        "loss became {value} at epoch {epoch}, batch {batch}; stopped. The last good \
         checkpoint is kept in {run}"
    )]
    NonFinite {
        value: f64,
        epoch: usize,
        batch: usize,
        run: PathBuf,
    },
    #[error("{0}: no checkpoint to resume from (state.json and last.safetensors are needed)")]
    NoCheckpoint(PathBuf),
    #[error("{0}")]
    Dataset(String),
}

impl From<tch::TchError> for TrainError {
    fn from(e: tch::TchError) -> Self {
        TrainError::Torch(e.to_string())
    }
}
