//! The VGG-style bone age net (1x256x256 input, batch 8) in boneage: training step (forward,
//! L1 loss, backward, AdamW step) and inference, in images per second. `bench/vgg.sh` runs it
//! beside the same net in PyTorch (`bench/vgg_peer.py`) and prints the ratios.
//!
//! Usage: vgg [--threads N] [--iters N] [--layout channels_last|default]

use boneage_bench::{arg, median_seconds};
use boneage_nn::vgg::{Head, VggConfig};
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Tensor};

fn main() -> anyhow::Result<()> {
    let threads: i32 = arg("--threads", "2").parse()?;
    let iters: usize = arg("--iters", "10").parse()?;
    let channels_last = arg("--layout", "channels_last") == "channels_last";
    tch::set_num_threads(threads);
    tch::manual_seed(0);
    let batch = 8i64;
    let cfg = VggConfig {
        head: Head::Regression,
        ..VggConfig::default()
    };
    let vs = nn::VarStore::new(Device::Cpu);
    let net = cfg.init(&vs.root())?;
    if channels_last {
        tch::no_grad(|| {
            for (_, mut v) in vs.variables() {
                if v.dim() == 4 {
                    let cl = boneage_nn::tensor::to_channels_last(&v);
                    v.set_data(&cl);
                }
            }
        });
    }
    let mut opt = nn::AdamW::default().build(&vs, 1e-3)?;
    let x = Tensor::randn([batch, 1, 256, 256], (Kind::Float, Device::Cpu));
    let x = if channels_last {
        boneage_nn::tensor::to_channels_last(&x)
    } else {
        x
    };
    let sex = Tensor::from_slice(&[1f32, 0., 1., 0., 1., 0., 1., 0.]).view([batch, 1]);
    let y = Tensor::rand([batch, 1], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
    let train = median_seconds(iters, || {
        let out = net.forward(&x, &sex, true);
        let loss = out.l1_loss(&y, tch::Reduction::Mean);
        opt.backward_step(&loss);
    });
    let infer = median_seconds(iters, || {
        tch::no_grad(|| {
            let _ = net.forward(&x, &sex, false);
        });
    });
    println!(
        "{}",
        serde_json::json!({
            "impl": "boneage (tch)",
            "layout": if channels_last { "channels_last" } else { "default" },
            "threads": threads,
            "batch": batch,
            "train_images_per_s": batch as f64 / train,
            "infer_images_per_s": batch as f64 / infer,
        })
    );
    Ok(())
}
