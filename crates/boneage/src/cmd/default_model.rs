//! The default models built into the binary (small enough for the repository). They are
//! rebuilt by `scripts/build-segmentation-model.sh`, which writes `models/segmentation/`.

use boneage_nn::segmentation::SegModel;
use boneage_nn::Device;

const SEG_CONFIG: &str = include_str!("../../../../models/segmentation/segmentation.json");
const SEG_WEIGHTS: &[u8] = include_bytes!("../../../../models/segmentation/model.safetensors");

/// What the default segmentation model was trained on, for users to read.
pub const SEGMENTATION_ORIGIN: &str = "built-in segmentation model: U-Net trained on 600 \
    phantoms and 20 real RSNA radiographs mined from their bootstrap masks; a research tool, \
    not for clinical use";

/// The default segmentation model.
pub fn segmentation(device: Device) -> anyhow::Result<SegModel> {
    Ok(SegModel::from_bytes(SEG_CONFIG, SEG_WEIGHTS, device)?)
}
