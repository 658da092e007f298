#![warn(missing_docs)]
//! Everything that runs on libtorch (through `tch`): the tensor engine and devices
//! ([`engine`]), and turning radiographs into tensors ([`tensor`]). Networks, losses, the
//! trainer and the inference pipeline are built on these.
//!
//! Only this crate (and the `boneage` binary's `torch` feature) needs libtorch; the rest of the
//! workspace builds and tests without it.

pub mod bundle;
pub mod data;
pub mod engine;
pub mod error;
mod fit;
pub mod folder;
pub mod inception;
pub mod keypoints;
pub mod run;
pub mod segmentation;
pub mod tensor;
pub mod training;
pub mod transforms;
pub mod unet;
pub mod vgg;

pub use engine::{set_cpu_threads, DeviceChoice, EngineInfo};
pub use tch::Device;
