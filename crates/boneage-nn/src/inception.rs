//! The RSNA 2017 challenge winner's backbone: Inception-v3 (Szegedy et al. 2016) for a
//! one-channel radiograph, with the patient's sex fed in the way the winner did it: sex → dense
//! 32, concatenated with the pooled image features, dense 1000, then the output layer (one
//! scaled age, or the 240 cumulative bins).
//!
//! The layers and their names are torchvision's `inception_v3` (without the auxiliary
//! classifier), so weights trained in PyTorch load by name (see `docs/weights.md`):
//!
//! | name | layer |
//! |---|---|
//! | `Conv2d_1a_3x3` … `Conv2d_4a_3x3` | stem: `.conv.weight` (no bias), `.bn.{weight,bias,running_mean,running_var}` (eps 0.001) |
//! | `Mixed_5b` … `Mixed_7c` | the eleven Inception blocks, branches named as in torchvision (`branch1x1`, `branch5x5_1`, …), each a conv + bn as above |
//! | `sex` | dense 1 → `sex_embedding` (ReLU) |
//! | `dense` | dense features + sex → `dense` (ReLU), then dropout |
//! | `out` | dense → outputs |
//!
//! `width` multiplies every channel count (rounded, at least 1): 1.0 is the published network
//! (2048 pooled features, 21.8 M parameters in the backbone); smaller widths give the same
//! topology for CPU tests. Input must be at least 75x75; the winner used 500x500.

use tch::nn;
use tch::Tensor;

fn conv_bn(
    p: nn::Path,
    c_in: i64,
    c_out: i64,
    k: [i64; 2],
    pad: [i64; 2],
    stride: i64,
) -> nn::SequentialT {
    let conv_cfg = nn::ConvConfigND::<[i64; 2]> {
        stride: [stride, stride],
        padding: pad,
        bias: false,
        ..Default::default()
    };
    let bn_cfg = nn::BatchNormConfig {
        eps: 0.001,
        ..Default::default()
    };
    nn::seq_t()
        .add(nn::conv(&p / "conv", c_in, c_out, k, conv_cfg))
        .add(nn::batch_norm2d(&p / "bn", c_out, bn_cfg))
        .add_fn(|x| x.relu())
}

/// A square-kernel conv + bn.
fn cb(p: nn::Path, c_in: i64, c_out: i64, k: i64, pad: i64, stride: i64) -> nn::SequentialT {
    conv_bn(p, c_in, c_out, [k, k], [pad, pad], stride)
}

fn max_pool(x: &Tensor) -> Tensor {
    x.max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], false)
}

fn avg_pool(x: &Tensor) -> Tensor {
    x.avg_pool2d([3, 3], [1, 1], [1, 1], false, true, None)
}

/// One Inception block: its module and number of output channels.
type Block = (nn::FuncT<'static>, i64);

struct Widths(f64);

impl Widths {
    fn c(&self, n: i64) -> i64 {
        ((n as f64 * self.0).round() as i64).max(1)
    }
}

fn block_a(p: nn::Path, w: &Widths, c_in: i64, pool: i64) -> Block {
    let (c64, c48, c96, cp) = (w.c(64), w.c(48), w.c(96), w.c(pool));
    let b1 = cb(&p / "branch1x1", c_in, c64, 1, 0, 1);
    let b2_1 = cb(&p / "branch5x5_1", c_in, c48, 1, 0, 1);
    let b2_2 = cb(&p / "branch5x5_2", c48, c64, 5, 2, 1);
    let b3_1 = cb(&p / "branch3x3dbl_1", c_in, c64, 1, 0, 1);
    let b3_2 = cb(&p / "branch3x3dbl_2", c64, c96, 3, 1, 1);
    let b3_3 = cb(&p / "branch3x3dbl_3", c96, c96, 3, 1, 1);
    let bp = cb(&p / "branch_pool", c_in, cp, 1, 0, 1);
    let f = nn::func_t(move |x, t| {
        Tensor::cat(
            &[
                x.apply_t(&b1, t),
                x.apply_t(&b2_1, t).apply_t(&b2_2, t),
                x.apply_t(&b3_1, t).apply_t(&b3_2, t).apply_t(&b3_3, t),
                avg_pool(x).apply_t(&bp, t),
            ],
            1,
        )
    });
    (f, c64 + c64 + c96 + cp)
}

fn block_b(p: nn::Path, w: &Widths, c_in: i64) -> Block {
    let (c384, c64, c96) = (w.c(384), w.c(64), w.c(96));
    let b1 = cb(&p / "branch3x3", c_in, c384, 3, 0, 2);
    let b2_1 = cb(&p / "branch3x3dbl_1", c_in, c64, 1, 0, 1);
    let b2_2 = cb(&p / "branch3x3dbl_2", c64, c96, 3, 1, 1);
    let b2_3 = cb(&p / "branch3x3dbl_3", c96, c96, 3, 0, 2);
    let f = nn::func_t(move |x, t| {
        Tensor::cat(
            &[
                x.apply_t(&b1, t),
                x.apply_t(&b2_1, t).apply_t(&b2_2, t).apply_t(&b2_3, t),
                max_pool(x),
            ],
            1,
        )
    });
    (f, c384 + c96 + c_in)
}

fn block_c(p: nn::Path, w: &Widths, c_in: i64, c7: i64) -> Block {
    let (c192, c7) = (w.c(192), w.c(c7));
    let b1 = cb(&p / "branch1x1", c_in, c192, 1, 0, 1);
    let b2_1 = cb(&p / "branch7x7_1", c_in, c7, 1, 0, 1);
    let b2_2 = conv_bn(&p / "branch7x7_2", c7, c7, [1, 7], [0, 3], 1);
    let b2_3 = conv_bn(&p / "branch7x7_3", c7, c192, [7, 1], [3, 0], 1);
    let b3_1 = cb(&p / "branch7x7dbl_1", c_in, c7, 1, 0, 1);
    let b3_2 = conv_bn(&p / "branch7x7dbl_2", c7, c7, [7, 1], [3, 0], 1);
    let b3_3 = conv_bn(&p / "branch7x7dbl_3", c7, c7, [1, 7], [0, 3], 1);
    let b3_4 = conv_bn(&p / "branch7x7dbl_4", c7, c7, [7, 1], [3, 0], 1);
    let b3_5 = conv_bn(&p / "branch7x7dbl_5", c7, c192, [1, 7], [0, 3], 1);
    let bp = cb(&p / "branch_pool", c_in, c192, 1, 0, 1);
    let f = nn::func_t(move |x, t| {
        Tensor::cat(
            &[
                x.apply_t(&b1, t),
                x.apply_t(&b2_1, t).apply_t(&b2_2, t).apply_t(&b2_3, t),
                x.apply_t(&b3_1, t)
                    .apply_t(&b3_2, t)
                    .apply_t(&b3_3, t)
                    .apply_t(&b3_4, t)
                    .apply_t(&b3_5, t),
                avg_pool(x).apply_t(&bp, t),
            ],
            1,
        )
    });
    (f, 4 * c192)
}

fn block_d(p: nn::Path, w: &Widths, c_in: i64) -> Block {
    let (c192, c320) = (w.c(192), w.c(320));
    let b1_1 = cb(&p / "branch3x3_1", c_in, c192, 1, 0, 1);
    let b1_2 = cb(&p / "branch3x3_2", c192, c320, 3, 0, 2);
    let b2_1 = cb(&p / "branch7x7x3_1", c_in, c192, 1, 0, 1);
    let b2_2 = conv_bn(&p / "branch7x7x3_2", c192, c192, [1, 7], [0, 3], 1);
    let b2_3 = conv_bn(&p / "branch7x7x3_3", c192, c192, [7, 1], [3, 0], 1);
    let b2_4 = cb(&p / "branch7x7x3_4", c192, c192, 3, 0, 2);
    let f = nn::func_t(move |x, t| {
        Tensor::cat(
            &[
                x.apply_t(&b1_1, t).apply_t(&b1_2, t),
                x.apply_t(&b2_1, t)
                    .apply_t(&b2_2, t)
                    .apply_t(&b2_3, t)
                    .apply_t(&b2_4, t),
                max_pool(x),
            ],
            1,
        )
    });
    (f, c320 + c192 + c_in)
}

fn block_e(p: nn::Path, w: &Widths, c_in: i64) -> Block {
    let (c320, c384, c448, c192) = (w.c(320), w.c(384), w.c(448), w.c(192));
    let b1 = cb(&p / "branch1x1", c_in, c320, 1, 0, 1);
    let b2_1 = cb(&p / "branch3x3_1", c_in, c384, 1, 0, 1);
    let b2_2a = conv_bn(&p / "branch3x3_2a", c384, c384, [1, 3], [0, 1], 1);
    let b2_2b = conv_bn(&p / "branch3x3_2b", c384, c384, [3, 1], [1, 0], 1);
    let b3_1 = cb(&p / "branch3x3dbl_1", c_in, c448, 1, 0, 1);
    let b3_2 = cb(&p / "branch3x3dbl_2", c448, c384, 3, 1, 1);
    let b3_3a = conv_bn(&p / "branch3x3dbl_3a", c384, c384, [1, 3], [0, 1], 1);
    let b3_3b = conv_bn(&p / "branch3x3dbl_3b", c384, c384, [3, 1], [1, 0], 1);
    let bp = cb(&p / "branch_pool", c_in, c192, 1, 0, 1);
    let f = nn::func_t(move |x, t| {
        let b2 = x.apply_t(&b2_1, t);
        let b3 = x.apply_t(&b3_1, t).apply_t(&b3_2, t);
        Tensor::cat(
            &[
                x.apply_t(&b1, t),
                b2.apply_t(&b2_2a, t),
                b2.apply_t(&b2_2b, t),
                b3.apply_t(&b3_3a, t),
                b3.apply_t(&b3_3b, t),
                avg_pool(x).apply_t(&bp, t),
            ],
            1,
        )
    });
    (f, c320 + 4 * c384 + c192)
}

/// Inception-v3 with sex input. `forward(images [n, 1, H, W], sex [n, 1]) → [n, outputs]`.
#[derive(Debug)]
pub struct InceptionV3 {
    features: nn::SequentialT,
    sex: Option<nn::Linear>,
    dense: nn::Linear,
    pub(crate) out: nn::Linear,
    dropout: f64,
}

impl InceptionV3 {
    /// Builds the variables under `vs` (see the module docs for the names).
    pub fn new(
        vs: &nn::Path,
        width: f64,
        sex_embedding: i64,
        dense: i64,
        outputs: i64,
        dropout: f64,
    ) -> InceptionV3 {
        let w = Widths(width);
        let (c32, c64, c80, c192) = (w.c(32), w.c(64), w.c(80), w.c(192));
        let mut f = nn::seq_t()
            .add(cb(vs / "Conv2d_1a_3x3", 1, c32, 3, 0, 2))
            .add(cb(vs / "Conv2d_2a_3x3", c32, c32, 3, 0, 1))
            .add(cb(vs / "Conv2d_2b_3x3", c32, c64, 3, 1, 1))
            .add_fn(max_pool)
            .add(cb(vs / "Conv2d_3b_1x1", c64, c80, 1, 0, 1))
            .add(cb(vs / "Conv2d_4a_3x3", c80, c192, 3, 0, 1))
            .add_fn(max_pool);
        let mut c = c192;
        let push = |f: nn::SequentialT, (m, out): Block, c: &mut i64| {
            *c = out;
            f.add(m)
        };
        f = push(f, block_a(vs / "Mixed_5b", &w, c, 32), &mut c);
        f = push(f, block_a(vs / "Mixed_5c", &w, c, 64), &mut c);
        f = push(f, block_a(vs / "Mixed_5d", &w, c, 64), &mut c);
        f = push(f, block_b(vs / "Mixed_6a", &w, c), &mut c);
        f = push(f, block_c(vs / "Mixed_6b", &w, c, 128), &mut c);
        f = push(f, block_c(vs / "Mixed_6c", &w, c, 160), &mut c);
        f = push(f, block_c(vs / "Mixed_6d", &w, c, 160), &mut c);
        f = push(f, block_c(vs / "Mixed_6e", &w, c, 192), &mut c);
        f = push(f, block_d(vs / "Mixed_7a", &w, c), &mut c);
        f = push(f, block_e(vs / "Mixed_7b", &w, c), &mut c);
        f = push(f, block_e(vs / "Mixed_7c", &w, c), &mut c);
        let sex = (sex_embedding > 0)
            .then(|| nn::linear(vs / "sex", 1, sex_embedding, Default::default()));
        let dense_l = nn::linear(vs / "dense", c + sex_embedding, dense, Default::default());
        let out = nn::linear(vs / "out", dense, outputs, Default::default());
        InceptionV3 {
            features: f,
            sex,
            dense: dense_l,
            out,
            dropout,
        }
    }

    /// Age outputs for a batch of images `[n, 1, h, w]` and sexes `[n, 1]`.
    pub fn forward(&self, images: &Tensor, sex: &Tensor, train: bool) -> Tensor {
        let f = images
            .apply_t(&self.features, train)
            .adaptive_avg_pool2d([1, 1])
            .flatten(1, -1);
        let f = match &self.sex {
            Some(s) => Tensor::cat(&[f, sex.apply(s).relu()], 1),
            None => f,
        };
        f.apply(&self.dense)
            .relu()
            .dropout(self.dropout, train)
            .apply(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vgg::parameter_count;
    use tch::{Device, Kind};

    #[test]
    fn full_width_has_the_published_size_and_takes_500px() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = InceptionV3::new(&vs.root(), 1.0, 32, 1000, 1, 0.0);
        // torchvision's inception_v3 without the auxiliary head and fc has 21,785,568
        // parameters for RGB input; one input channel removes 2 x 32 x 3 x 3 = 576.
        let backbone: i64 = vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum::<i64>()
            - (32 + 32 + 2048 * 1000 + 32 * 1000 + 1000 + 1000 + 1);
        assert_eq!(backbone, 21_785_568 - 576);
        let x = Tensor::rand([1, 1, 500, 500], (Kind::Float, Device::Cpu));
        let s = Tensor::ones([1, 1], (Kind::Float, Device::Cpu));
        let y = tch::no_grad(|| net.forward(&x, &s, false));
        assert_eq!(y.size(), vec![1, 1]);
        assert!(parameter_count(&vs) > 21_000_000);
    }

    #[test]
    fn narrow_net_runs_and_sex_matters() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = InceptionV3::new(&vs.root(), 0.125, 8, 16, 240, 0.0);
        let x = Tensor::rand([1, 1, 80, 96], (Kind::Float, Device::Cpu)).repeat([2, 1, 1, 1]);
        let s = Tensor::from_slice(&[1f32, 0.]).view([2, 1]);
        let y = net.forward(&x, &s, false);
        assert_eq!(y.size(), vec![2, 240]);
        assert!(
            (y.get(0) - y.get(1))
                .abs()
                .sum(Kind::Float)
                .double_value(&[])
                > 0.0
        );
    }
}
