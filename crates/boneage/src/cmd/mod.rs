//! The subcommands, one module each.

#[cfg(feature = "torch")]
pub mod bundle;
#[cfg(feature = "torch")]
pub mod demo;
pub mod eda;
#[cfg(feature = "torch")]
pub mod engine;
#[cfg(feature = "torch")]
pub mod evaluate;
#[cfg(feature = "torch")]
pub mod handedness;
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
pub mod split;
#[cfg(feature = "torch")]
pub mod train;
