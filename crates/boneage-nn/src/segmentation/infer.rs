//! The hand's probability and mask of a radiograph.

use super::*;

impl SegModel {
    /// Probability maps (input size) of standardised input-size images.
    pub(super) fn probabilities(&self, imgs: &[GrayImage]) -> Vec<GrayImage> {
        let refs: Vec<&GrayImage> = imgs.iter().collect();
        let x = crate::tensor::batch_to_tensor(&refs)
            .expect("same-size inputs")
            .to_device(self.vs.device());
        let p = tch::no_grad(|| self.net.forward(&x, false).sigmoid())
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous();
        let (w, h) = (imgs[0].width, imgs[0].height);
        let flat: Vec<f32> = Vec::<f32>::try_from(p.view([-1])).expect("float tensor");
        flat.chunks(w * h)
            .map(|c| GrayImage::from_vec(w, h, c.to_vec()))
            .collect()
    }

    /// The hand's probability at every pixel of `img` (same size as `img`).
    pub fn probability(&self, img: &GrayImage) -> GrayImage {
        self.probability_at(img, img.width, img.height)
    }

    /// The hand's probability over `img`, resampled to `width x height`.
    pub fn probability_at(&self, img: &GrayImage, width: usize, height: usize) -> GrayImage {
        let (w, h) = self.config.size();
        let p = prepare(img, w, h);
        let mut input = p.input;
        standardize(&mut input);
        let prob = self.probabilities(&[input]).remove(0);
        p.letterbox.to_size(&prob, width, height)
    }

    /// The hand mask of `img` (same size): the probability thresholded, cleaned to its largest
    /// component with small holes filled at the working resolution ([`working_size`]), and
    /// brought to the film's size by nearest neighbour.
    pub fn mask(&self, img: &GrayImage) -> Mask {
        let (w, h) = working_size(img.width, img.height);
        Mask::threshold(
            &self.probability_at(img, w, h),
            self.config.threshold as f32,
        )
        .cleaned(self.config.max_hole_fraction)
        .resize_nearest(img.width, img.height)
    }
}

/// Long side of the resolution a mask is made at: twice the U-Net's input, so no detail the
/// net sees is lost, and the thresholding and component labelling of a 3-megapixel film cost
/// what they cost on a quarter-megapixel one.
pub const MASK_WORKING_SIDE: usize = 640;

/// The size a `width x height` film's mask is made at: shrunk (aspect kept) to a long side of
/// [`MASK_WORKING_SIDE`], never enlarged.
pub fn working_size(width: usize, height: usize) -> (usize, usize) {
    let long = width.max(height);
    if long <= MASK_WORKING_SIDE {
        return (width, height);
    }
    let s = MASK_WORKING_SIDE as f64 / long as f64;
    (
        ((width as f64 * s).round() as usize).max(1),
        ((height as f64 * s).round() as usize).max(1),
    )
}
