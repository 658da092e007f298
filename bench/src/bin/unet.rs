//! The segmentation U-Net (default config: 1x320x256 input, base 8 channels, depth 4) in
//! boneage: training step (forward, BCE + Dice, backward, AdamW step) and inference, in images
//! per second, batch 8. `bench/unet.sh` runs it beside the same net in PyTorch
//! (`bench/unet_peer.py`) and prints the ratios.
//!
//! Usage: unet [--threads N] [--iters N]

use boneage_bench::{arg, median_seconds};
use boneage_nn::unet::{bce_dice_loss, UNetConfig};
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Tensor};

fn main() -> anyhow::Result<()> {
    let threads: i32 = arg("--threads", "2").parse()?;
    let iters: usize = arg("--iters", "10").parse()?;
    tch::set_num_threads(threads);
    tch::manual_seed(0);
    let batch = 8i64;
    let cfg = UNetConfig::default();
    let vs = nn::VarStore::new(Device::Cpu);
    let net = cfg.init(&vs.root())?;
    let mut opt = nn::AdamW::default().build(&vs, 1e-3)?;
    let (h, w) = (cfg.input_height, cfg.input_width);
    let x = Tensor::randn([batch, 1, h, w], (Kind::Float, Device::Cpu));
    let y = Tensor::rand([batch, 1, h, w], (Kind::Float, Device::Cpu)).round();
    let train = median_seconds(iters, || {
        let loss = bce_dice_loss(&net.forward(&x, true), &y);
        opt.backward_step(&loss);
    });
    let infer = median_seconds(iters, || {
        tch::no_grad(|| {
            let _ = net.forward(&x, false).sigmoid();
        });
    });
    println!(
        "{}",
        serde_json::json!({
            "impl": "boneage (tch)",
            "threads": threads,
            "batch": batch,
            "train_images_per_s": batch as f64 / train,
            "infer_images_per_s": batch as f64 / infer,
        })
    );
    Ok(())
}
