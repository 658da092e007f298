//! The seed's VGG-style bone age network: blocks of (conv3x3 → ELU → BatchNorm) × k followed by
//! a 2x2 max-pool, a fixed-size average pool, sex fed in through a small dense embedding that is
//! concatenated before the dense head, and one of two heads:
//!
//! - **regression**: one output, trained against `(age − 120) / 120` with an L1 (MAE) loss;
//! - **classification**: 240 outputs, one per month, trained with binary cross-entropy against
//!   a *cumulative* (ordinal) target (see [`boneage_core::labels`]): output `k` (0-based) estimates
//!   P(age > k months), and the age in months is the sum of the 240 sigmoids.
//!
//! Pure architecture: no data, no training loop.

use boneage_core::limits;
use serde::{Deserialize, Serialize};
use tch::nn;
use tch::Tensor;

/// Which output the network has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Head {
    /// One output: scaled age `(age − 120) / 120`.
    Regression,
    /// [`boneage_core::labels::BINS`] outputs: cumulative one-month bins.
    Classification,
    /// Six outputs: the three keypoints `(x, y)` as fractions of the input's width and height
    /// (the keypoint net, [`crate::keypoints`]; not an age head).
    Keypoints,
}

impl Head {
    /// Outputs of the head (1, 240 or 6).
    pub fn outputs(self) -> i64 {
        match self {
            Head::Regression => 1,
            Head::Classification => boneage_core::labels::BINS as i64,
            Head::Keypoints => 6,
        }
    }
}

/// Which backbone an age net has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// The seed's VGG-style net (this module).
    #[default]
    Vgg,
    /// The challenge winner's Inception-v3 ([`crate::inception`]), one input channel. The
    /// VGG-only fields (`base_channels`, `max_channels`, `convs_per_block`, `batch_norm`,
    /// `pooled_size`) are not used; `width` scales its channels.
    InceptionV3,
}

/// Architecture of an age net (and of the keypoint net): the VGG-style net by default, or
/// Inception-v3 with `"arch": "inception_v3"`. Defaults follow the seed's recipe, scaled for
/// CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VggConfig {
    /// Backbone. Default `vgg`.
    pub arch: Arch,
    /// Inception-v3 only: every layer's channel count is multiplied by this (1.0 = the
    /// published net, 2048 features; smaller for CPU tests). Default 1.0.
    pub width: f64,
    /// Input height in pixels. Default 256.
    pub input_height: i64,
    /// Input width in pixels. Default 256.
    pub input_width: i64,
    /// Channels of the first block; each following block doubles them, capped at
    /// `max_channels`. Default 32.
    pub base_channels: i64,
    /// Largest number of channels of a block. Default 256.
    pub max_channels: i64,
    /// Convolutions per block; one entry per block, each block ends in a 2x2 max-pool.
    /// Default `[2, 2, 2, 2, 2, 2]` (6 blocks: 256 px → 4 px).
    pub convs_per_block: Vec<usize>,
    /// BatchNorm after each convolution. Default true.
    pub batch_norm: bool,
    /// The feature map is average-pooled to this many cells per side before the dense head.
    /// Default 2.
    pub pooled_size: i64,
    /// Width of the sex embedding (dense 1 → n, ELU). Default 16.
    pub sex_embedding: i64,
    /// Width of the hidden dense layer. Default 256.
    pub dense: i64,
    /// Dropout before the output layer. Default 0.3.
    pub dropout: f64,
    /// Regression, 240-bin classification or keypoints.
    pub head: Head,
}

impl Default for VggConfig {
    fn default() -> Self {
        VggConfig {
            arch: Arch::Vgg,
            width: 1.0,
            input_height: 256,
            input_width: 256,
            base_channels: 32,
            max_channels: 256,
            convs_per_block: vec![2; 6],
            batch_norm: true,
            pooled_size: 2,
            sex_embedding: 16,
            dense: 256,
            dropout: 0.3,
            head: Head::Regression,
        }
    }
}

/// A configuration that cannot build a network.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid network config: {0}")]
pub struct ConfigError(pub String);

impl VggConfig {
    /// Checks that the numbers describe a buildable network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let e = |m: String| Err(ConfigError(m));
        if self.arch == Arch::InceptionV3 {
            if !(self.width > 0.0 && self.width <= 4.0) {
                return e(format!("width {} must be in (0, 4]", self.width));
            }
            if self.input_height < 75 || self.input_width < 75 {
                return e(format!(
                    "input {}x{} is too small for Inception-v3 (needs >= 75 px)",
                    self.input_width, self.input_height
                ));
            }
            if self.input_height > 4096 || self.input_width > 4096 {
                return e("input larger than 4096 px".into());
            }
            if self.sex_embedding < 0 || self.dense < 1 {
                return e("dense must be >= 1, sex_embedding >= 0".into());
            }
            if !(0.0..1.0).contains(&self.dropout) {
                return e(format!("dropout {} must be in [0, 1)", self.dropout));
            }
            return Ok(());
        }
        if self.convs_per_block.is_empty() || self.convs_per_block.iter().any(|&c| c == 0) {
            return e("convs_per_block must list at least one block, each with >= 1 conv".into());
        }
        if self.convs_per_block.len() > limits::MAX_BLOCKS {
            return e(format!(
                "convs_per_block lists {} blocks; at most {} (a 4096 px input pooled {} times is 1 px)",
                self.convs_per_block.len(),
                limits::MAX_BLOCKS,
                limits::MAX_BLOCKS
            ));
        }
        if let Some(&c) = self
            .convs_per_block
            .iter()
            .find(|&&c| c > limits::MAX_CONVS_PER_BLOCK)
        {
            return e(format!(
                "convs_per_block has a block of {c} convolutions; at most {}",
                limits::MAX_CONVS_PER_BLOCK
            ));
        }
        let down = 1i64 << self.convs_per_block.len();
        if self.input_height < down || self.input_width < down {
            return e(format!(
                "input {}x{} is too small for {} pooling blocks (needs >= {down} px)",
                self.input_width,
                self.input_height,
                self.convs_per_block.len()
            ));
        }
        if self.input_height > 4096 || self.input_width > 4096 {
            return e("input larger than 4096 px".into());
        }
        if self.base_channels < 1 || self.max_channels < self.base_channels {
            return e("need 1 <= base_channels <= max_channels".into());
        }
        if self.max_channels > limits::MAX_CHANNELS {
            return e(format!(
                "max_channels {} is more than the {} allowed",
                self.max_channels,
                limits::MAX_CHANNELS
            ));
        }
        if self.pooled_size < 1 || self.sex_embedding < 0 || self.dense < 1 {
            return e("pooled_size and dense must be >= 1, sex_embedding >= 0".into());
        }
        if self.pooled_size > 64 {
            return e(format!("pooled_size {} is more than 64", self.pooled_size));
        }
        if self.dense > limits::MAX_DENSE || self.sex_embedding > limits::MAX_DENSE {
            return e(format!(
                "dense {} / sex_embedding {}: at most {} each",
                self.dense,
                self.sex_embedding,
                limits::MAX_DENSE
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return e(format!("dropout {} must be in [0, 1)", self.dropout));
        }
        let params = self.weight_count();
        if params > limits::MAX_MODEL_PARAMETERS {
            return e(format!(
                "the net would have {params} weights, more than the {} allowed",
                limits::MAX_MODEL_PARAMETERS
            ));
        }
        Ok(())
    }

    /// Output channels of block `b` (0-based).
    fn block_channels(&self, b: usize) -> i64 {
        (self.base_channels << b).min(self.max_channels)
    }

    /// Number of weights of the VGG-style net (saturating: a config far beyond the limits
    /// counts as `u64::MAX`). Call after the per-field checks.
    pub fn weight_count(&self) -> u64 {
        let mut total: u64 = 0;
        let mut add = |n: u64| total = total.saturating_add(n);
        let mut cin = 1u64;
        for (b, &convs) in self.convs_per_block.iter().enumerate() {
            let cout = self.block_channels(b) as u64;
            for _ in 0..convs {
                add(cin
                    .saturating_mul(cout)
                    .saturating_mul(9)
                    .saturating_add(cout));
                if self.batch_norm {
                    add(2 * cout);
                }
                cin = cout;
            }
        }
        let sex = self.sex_embedding as u64;
        let dense = self.dense as u64;
        let pooled = (self.pooled_size * self.pooled_size) as u64;
        add(2 * sex);
        let features = cin.saturating_mul(pooled).saturating_add(sex);
        add(features.saturating_mul(dense).saturating_add(dense));
        let outputs = self.head.outputs() as u64;
        add(dense.saturating_mul(outputs).saturating_add(outputs));
        total
    }

    /// Bytes of feature maps one training sample needs (every convolution's output, about
    /// three copies each: the convolution, BatchNorm and activation kept for the backward
    /// pass); an estimate for refusing configs that cannot fit in memory.
    pub fn activation_bytes_per_sample(&self) -> u64 {
        if self.arch != Arch::Vgg {
            // Inception-v3 at width 1 on 299x299: about 50 MB per sample; scales with the
            // input area and the width.
            let area = (self.input_width.max(1) * self.input_height.max(1)) as f64;
            return (50e6 * area / (299.0 * 299.0) * self.width.max(0.0)) as u64;
        }
        let (mut h, mut w) = (
            self.input_height.max(1) as u64,
            self.input_width.max(1) as u64,
        );
        let mut total: u64 = 0;
        for (b, &convs) in self.convs_per_block.iter().enumerate() {
            let maps = h
                .saturating_mul(w)
                .saturating_mul(self.block_channels(b) as u64);
            total = total.saturating_add(maps.saturating_mul(convs as u64 * 3 * 4));
            h = (h / 2).max(1);
            w = (w / 2).max(1);
        }
        total
    }

    /// Builds the age net of either backbone under `vs`.
    pub fn init_net(&self, vs: &nn::Path) -> Result<AgeNet, ConfigError> {
        match self.arch {
            Arch::Vgg => Ok(AgeNet::Vgg(self.init(vs)?)),
            Arch::InceptionV3 => {
                self.validate()?;
                Ok(AgeNet::Inception(crate::inception::InceptionV3::new(
                    vs,
                    self.width,
                    self.sex_embedding,
                    self.dense,
                    self.head.outputs(),
                    self.dropout,
                )))
            }
        }
    }

    /// Builds the VGG-style network's variables under `vs`.
    pub fn init(&self, vs: &nn::Path) -> Result<Vgg, ConfigError> {
        self.validate()?;
        if self.arch != Arch::Vgg {
            return Err(ConfigError(format!(
                "arch {:?} is not the VGG-style net this model needs",
                self.arch
            )));
        }
        let mut features = nn::seq_t();
        let mut cin = 1;
        for (b, &convs) in self.convs_per_block.iter().enumerate() {
            let cout = self.block_channels(b);
            for c in 0..convs {
                let p = vs / format!("block{b}") / format!("conv{c}");
                let conv = nn::conv2d(
                    &p,
                    cin,
                    cout,
                    3,
                    nn::ConvConfig {
                        padding: 1,
                        ..Default::default()
                    },
                );
                features = features.add(conv).add_fn(|x| x.elu());
                if self.batch_norm {
                    features = features.add(nn::batch_norm2d(&p / "bn", cout, Default::default()));
                }
                cin = cout;
            }
            features = features.add_fn(|x| x.max_pool2d_default(2));
        }
        let flat = cin * self.pooled_size * self.pooled_size;
        let sex = (self.sex_embedding > 0)
            .then(|| nn::linear(vs / "sex", 1, self.sex_embedding, Default::default()));
        let dense = nn::linear(
            vs / "dense",
            flat + self.sex_embedding,
            self.dense,
            Default::default(),
        );
        let out = nn::linear(
            vs / "out",
            self.dense,
            self.head.outputs(),
            Default::default(),
        );
        Ok(Vgg {
            features,
            sex,
            dense,
            out,
            pooled: self.pooled_size,
            dropout: self.dropout,
        })
    }
}

/// The network. `forward(images [batch, 1, H, W], sex [batch, 1] (1 = male)) → [batch, outputs]`.
#[derive(Debug)]
pub struct Vgg {
    features: nn::SequentialT,
    sex: Option<nn::Linear>,
    dense: nn::Linear,
    out: nn::Linear,
    pooled: i64,
    dropout: f64,
}

impl Vgg {
    /// Raw outputs (scaled age or 240 logits).
    pub fn forward(&self, images: &Tensor, sex: &Tensor, train: bool) -> Tensor {
        let f = images
            .apply_t(&self.features, train)
            .adaptive_avg_pool2d([self.pooled, self.pooled])
            .flatten(1, -1);
        let f = match &self.sex {
            Some(s) => Tensor::cat(&[f, sex.apply(s).elu()], 1),
            None => f,
        };
        f.apply(&self.dense)
            .elu()
            .dropout(self.dropout, train)
            .apply(&self.out)
    }
}

impl Vgg {
    /// Starts the output layer at a prior: biases set to `bias` (one per output) and weights
    /// scaled by `weight_scale`, so the untrained net already predicts the training
    /// distribution. With an L1 loss, Adam moves the output bias by about one learning rate per
    /// step; starting from the prior saves the hundreds of steps it would take to walk there.
    pub fn set_output_prior(&mut self, bias: &[f32], weight_scale: f64) {
        set_prior(&mut self.out, bias, weight_scale);
    }
}

/// An age net of either backbone.
#[derive(Debug)]
pub enum AgeNet {
    /// The VGG-style net.
    Vgg(Vgg),
    /// The challenge winner's Inception-v3.
    Inception(crate::inception::InceptionV3),
}

impl AgeNet {
    /// `forward(images [batch, 1, H, W], sex [batch, 1] (1 = male)) → [batch, outputs]`.
    pub fn forward(&self, images: &Tensor, sex: &Tensor, train: bool) -> Tensor {
        match self {
            AgeNet::Vgg(n) => n.forward(images, sex, train),
            AgeNet::Inception(n) => n.forward(images, sex, train),
        }
    }

    /// See [`Vgg::set_output_prior`].
    pub fn set_output_prior(&mut self, bias: &[f32], weight_scale: f64) {
        let out = match self {
            AgeNet::Vgg(n) => &mut n.out,
            AgeNet::Inception(n) => &mut n.out,
        };
        set_prior(out, bias, weight_scale);
    }
}

/// Output layer biases set to `bias`, weights scaled by `weight_scale`.
fn set_prior(out: &mut nn::Linear, bias: &[f32], weight_scale: f64) {
    tch::no_grad(|| {
        if let Some(b) = out.bs.as_mut() {
            assert_eq!(b.numel(), bias.len(), "one prior value per output");
            let t = Tensor::from_slice(bias).to_device(b.device());
            b.copy_(&t);
        }
        let scaled = &out.ws * weight_scale;
        out.ws.copy_(&scaled);
    });
}

/// Number of trainable parameters in a var store.
pub fn parameter_count(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn tiny(head: Head) -> VggConfig {
        VggConfig {
            input_height: 32,
            input_width: 32,
            base_channels: 4,
            max_channels: 16,
            convs_per_block: vec![1, 1, 1],
            dense: 16,
            head,
            ..Default::default()
        }
    }

    #[test]
    fn output_shapes_per_head() {
        for (head, n) in [(Head::Regression, 1), (Head::Classification, 240)] {
            let vs = nn::VarStore::new(Device::Cpu);
            let net = tiny(head).init(&vs.root()).unwrap();
            let x = Tensor::rand([3, 1, 32, 32], (Kind::Float, Device::Cpu));
            let s = Tensor::from_slice(&[1f32, 0., 1.]).view([3, 1]);
            assert_eq!(net.forward(&x, &s, false).size(), vec![3, n]);
            assert_eq!(parameter_count(&vs) as u64, tiny(head).weight_count());
        }
    }

    #[test]
    fn sex_input_changes_the_output() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = tiny(Head::Regression).init(&vs.root()).unwrap();
        let x = Tensor::rand([1, 1, 32, 32], (Kind::Float, Device::Cpu)).repeat([2, 1, 1, 1]);
        let s = Tensor::from_slice(&[1f32, 0.]).view([2, 1]);
        let y = net.forward(&x, &s, false);
        assert!((y.get(0) - y.get(1)).abs().double_value(&[0]) > 0.0);
    }

    #[test]
    fn bad_configs_are_refused() {
        let mut c = tiny(Head::Regression);
        c.input_height = 4;
        assert!(c.validate().unwrap_err().0.contains("too small"));
        let c = VggConfig {
            dropout: 1.5,
            ..tiny(Head::Regression)
        };
        assert!(c.validate().is_err());
        let c = VggConfig {
            convs_per_block: vec![],
            ..tiny(Head::Regression)
        };
        assert!(c.validate().is_err());
        // Configs that once ran out of memory or overflowed a shift before being checked.
        for (c, says) in [
            (
                VggConfig {
                    convs_per_block: vec![1_000_000],
                    ..tiny(Head::Regression)
                },
                "block of 1000000 convolutions",
            ),
            (
                VggConfig {
                    convs_per_block: vec![1; 64],
                    ..tiny(Head::Regression)
                },
                "64 blocks",
            ),
            (
                VggConfig {
                    convs_per_block: vec![1; 63],
                    ..tiny(Head::Regression)
                },
                "63 blocks",
            ),
            (
                VggConfig {
                    max_channels: 1 << 40,
                    ..tiny(Head::Regression)
                },
                "max_channels 1099511627776",
            ),
            (
                VggConfig {
                    dense: i64::MAX,
                    ..tiny(Head::Regression)
                },
                "at most 65536",
            ),
            (
                VggConfig {
                    pooled_size: 1 << 30,
                    ..tiny(Head::Regression)
                },
                "pooled_size 1073741824",
            ),
            (
                VggConfig {
                    base_channels: 4096,
                    max_channels: 4096,
                    dense: 65_536,
                    pooled_size: 64,
                    ..tiny(Head::Regression)
                },
                "weights, more than",
            ),
        ] {
            let e = c.validate().unwrap_err().0;
            assert!(e.contains(says), "{e}");
        }
        let e =
            serde_json::from_str::<VggConfig>(r#"{"input_height": 64, "colour": 3}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }
}
