//! What the commands share, so that each `cmd/<name>.rs` only parses its arguments, calls the
//! pipeline or a library, and prints: finding datasets and images, loading models (a folder or
//! the built-in default), the flags several commands take, the results table and evaluation
//! reports, output folders that a failed run leaves as it found them, the debug pictures of an assessment, and the clinical report's growth chart and PDF
//! writer.

#[cfg(feature = "torch")]
pub mod answer;
#[cfg(feature = "torch")]
pub mod clinical_report;
pub mod data;
#[cfg(feature = "torch")]
pub mod debug;
pub mod eda;
#[cfg(feature = "torch")]
pub mod evaluation;
pub mod flags;
pub mod growth_chart;
pub mod inputs;
#[cfg(feature = "torch")]
pub mod models;
pub mod out;
pub mod pdf;
#[cfg(feature = "torch")]
pub mod results;
#[cfg(feature = "torch")]
pub mod service;
#[cfg(feature = "torch")]
pub mod stress;
