#![warn(missing_docs)]
//! Domain types and pure logic for bone age assessment.
//!
//! Nothing here touches pixels or tensors: this crate holds what every other crate agrees on —
//! [`Sex`], ages in months and chronological age from dates ([`age`]), the RSNA dataset tables and the plain manifest ([`dataset`]),
//! reproducible stratified splits ([`split`]), summary statistics ([`stats`]) and the
//! Greulich-Pyle/Brush reference with development stages ([`reference`]).

pub mod age;
pub mod dataset;
pub mod keypoints;
pub mod labels;
pub mod limits;
pub mod metrics;
pub mod real_data;
pub mod reference;
pub mod sex;
pub mod split;
pub mod stats;

pub use dataset::{Dataset, DatasetError, Sample, TableFormat};
pub use sex::Sex;
