//! U-Net for hand segmentation: an encoder of `depth` blocks (two 3x3 convolutions, each with
//! BatchNorm and ReLU, then a 2x2 max-pool), a bottleneck block, and a decoder that upsamples
//! with 2x2 transposed convolutions, concatenates the encoder's features of the same size and
//! runs another block; a 1x1 convolution gives one logit per pixel.
//!
//! Layer names in the safetensors file: `enc{i}.conv{j}.{weight,bias}`, `enc{i}.bn{j}.*`,
//! `mid.*`, `up{i}.{weight,bias}`, `dec{i}.conv{j}.*`, `dec{i}.bn{j}.*`, `head.{weight,bias}`,
//! with `i` counted from the full-resolution level (0) down.

use crate::vgg::ConfigError;
use serde::{Deserialize, Serialize};
use tch::{nn, nn::ModuleT, Tensor};

/// Architecture and input size of the segmentation net.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UNetConfig {
    /// Input width in pixels (a multiple of `2^depth`). Default 256.
    pub input_width: i64,
    /// Input height in pixels (a multiple of `2^depth`). Default 320.
    pub input_height: i64,
    /// Channels at full resolution, doubled at each level. Default 8.
    pub base_channels: i64,
    /// Number of 2x2 poolings. Default 4.
    pub depth: usize,
}

impl Default for UNetConfig {
    fn default() -> Self {
        UNetConfig {
            input_width: 256,
            input_height: 320,
            base_channels: 8,
            depth: 4,
        }
    }
}

impl UNetConfig {
    /// Checks the config; errors name the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.depth == 0 || self.depth > 6 {
            return Err(ConfigError(format!(
                "depth must be 1 to 6, not {}",
                self.depth
            )));
        }
        let m = 1i64 << self.depth;
        for (name, v) in [
            ("input_width", self.input_width),
            ("input_height", self.input_height),
        ] {
            if v > 4096 {
                return Err(ConfigError(format!("{name} {v} is more than 4096 px")));
            }
            if v < m * 4 || v % m != 0 {
                return Err(ConfigError(format!(
                    "{name} must be a multiple of {m} (2^depth) and at least {}, not {v}",
                    m * 4
                )));
            }
        }
        if !(1..=128).contains(&self.base_channels) {
            return Err(ConfigError(format!(
                "base_channels must be 1 to 128, not {}",
                self.base_channels
            )));
        }
        Ok(())
    }

    /// The U-Net with fresh weights under `vs`.
    pub fn init(&self, vs: &nn::Path) -> Result<UNet, ConfigError> {
        self.validate()?;
        let ch = |level: usize| self.base_channels << level;
        let mut enc = Vec::new();
        let mut cin = 1;
        for i in 0..self.depth {
            enc.push(block(&(vs / format!("enc{i}")), cin, ch(i)));
            cin = ch(i);
        }
        let mid = block(&(vs / "mid"), cin, ch(self.depth));
        let mut up = Vec::new();
        let mut dec = Vec::new();
        for i in (0..self.depth).rev() {
            up.push(nn::conv_transpose2d(
                vs / format!("up{i}"),
                ch(i + 1),
                ch(i),
                2,
                nn::ConvTransposeConfig {
                    stride: 2,
                    ..Default::default()
                },
            ));
            dec.push(block(&(vs / format!("dec{i}")), 2 * ch(i), ch(i)));
        }
        let head = nn::conv2d(vs / "head", ch(0), 1, 1, Default::default());
        Ok(UNet {
            enc,
            mid,
            up,
            dec,
            head,
        })
    }
}

fn block(p: &nn::Path, cin: i64, cout: i64) -> nn::SequentialT {
    let conv = |p: nn::Path, cin| {
        nn::conv2d(
            p,
            cin,
            cout,
            3,
            nn::ConvConfig {
                padding: 1,
                bias: false,
                ..Default::default()
            },
        )
    };
    nn::seq_t()
        .add(conv(p / "conv0", cin))
        .add(nn::batch_norm2d(p / "bn0", cout, Default::default()))
        .add_fn(|x| x.relu())
        .add(conv(p / "conv1", cout))
        .add(nn::batch_norm2d(p / "bn1", cout, Default::default()))
        .add_fn(|x| x.relu())
}

/// The network: `forward(images [batch, 1, H, W]) → logits [batch, 1, H, W]`.
#[derive(Debug)]
pub struct UNet {
    enc: Vec<nn::SequentialT>,
    mid: nn::SequentialT,
    up: Vec<nn::ConvTranspose2D>,
    dec: Vec<nn::SequentialT>,
    head: nn::Conv2D,
}

impl UNet {
    /// Hand probability logits `[n, 1, h, w]` of images `[n, 1, h, w]`.
    pub fn forward(&self, images: &Tensor, train: bool) -> Tensor {
        let mut skips = Vec::with_capacity(self.enc.len());
        let mut x = images.shallow_clone();
        for e in &self.enc {
            let f = e.forward_t(&x, train);
            x = f.max_pool2d_default(2);
            skips.push(f);
        }
        x = self.mid.forward_t(&x, train);
        for ((u, d), skip) in self.up.iter().zip(&self.dec).zip(skips.iter().rev()) {
            let up = x.apply(u);
            x = d.forward_t(&Tensor::cat(&[up, skip.shallow_clone()], 1), train);
        }
        x.apply(&self.head)
    }
}

/// Binary cross-entropy on the logits plus (1 − soft Dice) over the batch: BCE gets every
/// pixel right on average, Dice keeps the thin fingers from being traded for background.
pub fn bce_dice_loss(logits: &Tensor, target: &Tensor) -> Tensor {
    let bce =
        logits.binary_cross_entropy_with_logits::<Tensor>(target, None, None, tch::Reduction::Mean);
    let p = logits.sigmoid();
    let inter = (&p * target).sum(tch::Kind::Float);
    let denom = p.sum(tch::Kind::Float) + target.sum(tch::Kind::Float);
    let dice = (inter * 2.0 + 1.0) / (denom + 1.0);
    bce + (1.0 - dice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn shapes_and_bad_configs() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = UNetConfig {
            input_width: 64,
            input_height: 80,
            base_channels: 4,
            depth: 3,
        };
        let net = cfg.init(&vs.root()).unwrap();
        let x = Tensor::randn([2, 1, 80, 64], (Kind::Float, Device::Cpu));
        assert_eq!(net.forward(&x, false).size(), vec![2, 1, 80, 64]);
        let bad = UNetConfig {
            input_width: 100,
            ..cfg.clone()
        };
        assert!(bad.validate().unwrap_err().0.contains("multiple of 8"));
        // A perfect prediction has a small loss, a wrong one a large loss.
        let t = Tensor::from_slice(&[1f32, 0., 1., 0.]).view([1, 1, 2, 2]);
        let good = bce_dice_loss(&((&t * 2.0 - 1.0) * 20.0), &t).double_value(&[]);
        let wrong = bce_dice_loss(&((&t * 2.0 - 1.0) * -20.0), &t).double_value(&[]);
        assert!(good < 0.01 && wrong > 10.0, "{good} {wrong}");
    }
}
