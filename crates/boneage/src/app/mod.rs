//! What the commands share, so that each `cmd/<name>.rs` only parses its arguments, calls the
//! pipeline or a library, and prints: finding datasets and images, loading models (a folder or
//! the built-in default), the flags several commands take, the results table and evaluation
//! reports, and the debug pictures of an assessment.

pub mod data;
#[cfg(feature = "torch")]
pub mod debug;
pub mod eda;
#[cfg(feature = "torch")]
pub mod evaluation;
pub mod flags;
pub mod inputs;
#[cfg(feature = "torch")]
pub mod models;
#[cfg(feature = "torch")]
pub mod results;
