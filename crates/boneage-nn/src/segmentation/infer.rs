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
        let (w, h) = self.config.size();
        let p = prepare(img, w, h);
        let mut input = p.input;
        standardize(&mut input);
        let prob = self.probabilities(&[input]).remove(0);
        p.letterbox.to_source(&prob)
    }

    /// The hand mask of `img` (same size): probability thresholded, largest component, small
    /// holes filled.
    pub fn mask(&self, img: &GrayImage) -> Mask {
        Mask::threshold(&self.probability(img), self.config.threshold as f32)
            .cleaned(self.config.max_hole_fraction)
    }
}
