//! The pieces of the EDA report: label statistics and their sections, and the image pass
//! (quality flags, contact sheet, image sections).

use crate::app::flags::JobsFlag;
use crate::progress;
use crate::report::{bar_chart_svg, esc, Page, Series, FEMALE_COLOR, GREY_COLOR, MALE_COLOR};
use crate::sheet::{self, Tile};
use anyhow::Context;
use boneage_core::reference::Stage;
use boneage_core::stats::{self, Summary};
use boneage_core::{Dataset, Sample, Sex};
use boneage_imaging::io::{write_atomic, Radiograph};
use boneage_imaging::quality::{
    assess_with_hand, HandMask, QualityConfig, QualityFlag, QualityReport,
};
use boneage_imaging::{GrayImage, Mask};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

mod images;
mod labels;

pub(crate) use images::*;
pub(crate) use labels::*;
