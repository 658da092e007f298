//! Radiographs to tensors and back.

use boneage_imaging::GrayImage;
use tch::{Kind, Tensor};

/// One image as a `[1, 1, height, width]` float tensor on the CPU.
pub fn image_to_tensor(img: &GrayImage) -> Tensor {
    Tensor::from_slice(&img.data).view([1, 1, img.height as i64, img.width as i64])
}

/// A batch of same-sized images as `[batch, 1, height, width]`; `None` when sizes differ or
/// the batch is empty.
pub fn batch_to_tensor(imgs: &[&GrayImage]) -> Option<Tensor> {
    let first = imgs.first()?;
    if imgs
        .iter()
        .any(|i| i.width != first.width || i.height != first.height)
    {
        return None;
    }
    let mut data = Vec::with_capacity(imgs.len() * first.data.len());
    for i in imgs {
        data.extend_from_slice(&i.data);
    }
    Some(Tensor::from_slice(&data).view([
        imgs.len() as i64,
        1,
        first.height as i64,
        first.width as i64,
    ]))
}

/// The same 4-D tensor with channels-last (NHWC) strides, the layout oneDNN's CPU
/// convolutions run fastest in; shape and values are unchanged. (`tch` has no memory-format
/// argument, so the strides are produced by a permute-copy-permute.)
pub fn to_channels_last(t: &Tensor) -> Tensor {
    assert_eq!(t.dim(), 4, "channels-last needs a 4-D tensor");
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// Whether a 4-D tensor has channels-last strides.
pub fn is_channels_last(t: &Tensor) -> bool {
    let s = t.stride();
    t.dim() == 4 && s[1] == 1 && s[3] == t.size()[1] && s[2] == t.size()[1] * t.size()[3]
}

/// A `[1, 1, H, W]`, `[1, H, W]` or `[H, W]` tensor back to an image (moved to CPU, as f32).
pub fn tensor_to_image(t: &Tensor) -> GrayImage {
    let t = t
        .to_device(tch::Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous();
    let size = t.size();
    let (h, w) = (size[size.len() - 2] as usize, size[size.len() - 1] as usize);
    let flat = t.view([-1]);
    let data: Vec<f32> = Vec::<f32>::try_from(&flat).expect("float tensor converts to Vec<f32>");
    GrayImage::from_vec(w, h, data[..w * h].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_batching() {
        let mut img = GrayImage::new(5, 3, 0.0);
        for (i, v) in img.data.iter_mut().enumerate() {
            *v = i as f32 / 15.0;
        }
        let t = image_to_tensor(&img);
        assert_eq!(t.size(), vec![1, 1, 3, 5]);
        // Row-major, (x, y) with y down: element [0, 0, y=2, x=1] is pixel (1, 2).
        assert_eq!(t.double_value(&[0, 0, 2, 1]) as f32, img.get(1, 2));
        assert_eq!(tensor_to_image(&t), img);
        let b = batch_to_tensor(&[&img, &img]).unwrap();
        assert_eq!(b.size(), vec![2, 1, 3, 5]);
        assert!(batch_to_tensor(&[&img, &GrayImage::new(2, 2, 0.0)]).is_none());
    }

    #[test]
    fn convolution_runs_and_channels_last_matches() {
        // The engine works end to end: a convolution in default and channels-last layouts
        // gives the same numbers (the nets use channels-last on CPU).
        tch::manual_seed(0);
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let conv = tch::nn::conv2d(vs.root(), 1, 8, 3, Default::default());
        let x = Tensor::randn([2, 1, 32, 32], (Kind::Float, tch::Device::Cpu));
        let a = x.apply(&conv);
        let xl = to_channels_last(&x);
        let y = Tensor::zeros([2, 3, 8, 8], (Kind::Float, tch::Device::Cpu));
        assert!(is_channels_last(&to_channels_last(&y)) && !is_channels_last(&y));
        let b = xl.apply(&conv).contiguous();
        assert_eq!(a.size(), vec![2, 8, 30, 30]);
        let diff = (a - b).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "{diff}");
    }
}
