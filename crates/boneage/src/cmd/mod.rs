//! The subcommands, one module each.

pub mod eda;
#[cfg(feature = "torch")]
pub mod engine;
pub mod inspect;
pub mod phantom;
