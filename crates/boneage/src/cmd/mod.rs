//! The subcommands, one module each.

pub mod data;
#[cfg(feature = "torch")]
pub mod default_model;
#[cfg(feature = "torch")]
pub mod demo;
pub mod eda;
#[cfg(feature = "torch")]
pub mod engine;
#[cfg(feature = "torch")]
pub mod evaluate;
pub mod inspect;
#[cfg(feature = "torch")]
pub mod keypoints;
#[cfg(feature = "torch")]
pub mod mine;
pub mod phantom;
#[cfg(feature = "torch")]
pub mod predict;
#[cfg(feature = "torch")]
pub mod register;
#[cfg(feature = "torch")]
pub mod segment;
#[cfg(feature = "torch")]
pub mod train;
