//! Loading models: a folder named on the command line, or the default built into the binary
//! (small enough for the repository). The defaults are rebuilt by `scripts/build-segmentation-model.sh` (`models/segmentation/`) and
//! `scripts/build-keypoint-model.sh` (`models/keypoints/`).

use boneage_nn::folder::ModelFolder;
use boneage_nn::segmentation::SegModel;
use boneage_nn::Device;
use std::path::Path;

const SEG_CONFIG: &str = include_str!("../../../../models/segmentation/segmentation.json");
const SEG_WEIGHTS: &[u8] = include_bytes!("../../../../models/segmentation/model.safetensors");

/// What the default segmentation model was trained on, for users to read.
pub const SEGMENTATION_ORIGIN: &str = "built-in segmentation model: U-Net trained on 600 \
    phantoms and 20 real RSNA radiographs mined from their bootstrap masks; a research tool, \
    not for clinical use";

const KP_CONFIG: &str = include_str!("../../../../models/keypoints/keypoints.json");
const KP_WEIGHTS: &[u8] = include_bytes!("../../../../models/keypoints/model.safetensors");

/// The default keypoint model: trained on phantoms only (see
/// `scripts/build-keypoint-model.sh`).
pub fn keypoints(device: Device) -> anyhow::Result<boneage_nn::keypoints::KeypointModel> {
    Ok(boneage_nn::keypoints::KeypointModel::from_bytes(
        "built-in keypoints",
        KP_CONFIG,
        KP_WEIGHTS,
        device,
    )?)
}

/// The default segmentation model.
pub fn segmentation(device: Device) -> anyhow::Result<SegModel> {
    Ok(SegModel::from_bytes(
        "built-in segmentation",
        SEG_CONFIG,
        SEG_WEIGHTS,
        device,
    )?)
}

/// The segmentation model's files, for putting it into a bundle.
pub fn segmentation_files() -> boneage_nn::bundle::ModelFiles<'static> {
    boneage_nn::bundle::ModelFiles {
        config_name: "segmentation.json",
        config: SEG_CONFIG.into(),
        weights: SEG_WEIGHTS.into(),
    }
}

/// The keypoint model's files, for putting it into a bundle.
pub fn keypoint_files() -> boneage_nn::bundle::ModelFiles<'static> {
    boneage_nn::bundle::ModelFiles {
        config_name: "keypoints.json",
        config: KP_CONFIG.into(),
        weights: KP_WEIGHTS.into(),
    }
}

include!(concat!(env!("OUT_DIR"), "/bundle_files.rs"));

/// The default bundle (models/bundle/ when the binary was built), checked and loaded.
pub fn bundle(device: Device) -> anyhow::Result<boneage_nn::bundle::Bundle> {
    if BUNDLE_FILES.is_empty() {
        anyhow::bail!(
            "this boneage was built without a default model bundle: give --model BUNDLE, or \
             make one with ./scripts/build-bundle.sh and rebuild"
        );
    }
    let src = boneage_nn::bundle::Source::Embedded(BUNDLE_FILES);
    Ok(boneage_nn::bundle::Bundle::open(&src, device)?)
}

/// The segmentation model to use: a folder, or the default one built into the binary.
pub fn load_segmentation(dir: Option<&Path>, device: Device) -> anyhow::Result<SegModel> {
    match dir {
        Some(d) => Ok(SegModel::load(d, device)?),
        None => segmentation(device),
    }
}

/// The keypoint model to use: a folder, or the default one built into the binary.
pub fn load_keypoints(
    dir: Option<&Path>,
    device: Device,
) -> anyhow::Result<boneage_nn::keypoints::KeypointModel> {
    match dir {
        Some(d) => Ok(boneage_nn::keypoints::KeypointModel::load(d, device)?),
        None => keypoints(device),
    }
}

/// The model bundle to use: a folder, or the one built into the binary.
pub fn load_bundle(
    dir: Option<&Path>,
    device: Device,
) -> anyhow::Result<boneage_nn::bundle::Bundle> {
    match dir {
        Some(d) => Ok(boneage_nn::bundle::Bundle::load(d, device)?),
        None => bundle(device),
    }
}

/// Gives libtorch half of the cores (at least one) when films are assessed overlapped
/// (`Pipeline::assess_files`: rayon's threads segment and register the next film while
/// libtorch's run this film's nets), unless `OMP_NUM_THREADS` says otherwise. On 2 cores this
/// is about 1.2x the films per second of one film at a time with both libtorch threads (see
/// BENCHMARKS.md).
pub fn share_cores_with_overlap() {
    if std::env::var_os("OMP_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        boneage_nn::set_cpu_threads(cores / 2);
    }
}
