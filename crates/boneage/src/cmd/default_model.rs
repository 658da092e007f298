//! The default models built into the binary (small enough for the repository), rebuilt by
//! `scripts/build-segmentation-model.sh`.

use boneage_nn::segmentation::SegModel;

/// The default segmentation model: trained on phantoms and on real radiographs mined from
/// their bootstrap masks (the RSNA samples in the shared data).
pub fn segmentation(device: boneage_nn::Device) -> anyhow::Result<SegModel> {
    anyhow::bail!(
        "no default segmentation model is built in yet; pass --model DIR (device {device:?})"
    )
}
