//! The net's view of a radiograph (letterboxed into the input, inversion undone) and the
//! training pairs with their augmentation.

use super::*;

/// Where a source image sits inside the net's input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Width of the source image.
    pub source_width: usize,
    /// Height of the source image.
    pub source_height: usize,
    /// Offset and size of the shrunk image inside the input.
    pub x0: usize,
    /// Row of the shrunk image's top edge inside the input.
    pub y0: usize,
    /// Width of the shrunk image inside the input.
    pub width: usize,
    /// Height of the shrunk image inside the input.
    pub height: usize,
}

impl Letterbox {
    /// Where a `src_w x src_h` image goes in an `in_w x in_h` input (centred, aspect kept).
    pub fn new(src_w: usize, src_h: usize, in_w: usize, in_h: usize) -> Letterbox {
        let s = (in_w as f64 / src_w as f64).min(in_h as f64 / src_h as f64);
        let width = ((src_w as f64 * s).round() as usize).clamp(1, in_w);
        let height = ((src_h as f64 * s).round() as usize).clamp(1, in_h);
        Letterbox {
            source_width: src_w,
            source_height: src_h,
            x0: (in_w - width) / 2,
            y0: (in_h - height) / 2,
            width,
            height,
        }
    }

    /// Places `img` (source size) into an `in_w x in_h` canvas filled with `fill`.
    pub fn place(&self, img: &GrayImage, in_w: usize, in_h: usize, fill: f32) -> GrayImage {
        let small = img.resize(self.width, self.height);
        let mut out = GrayImage::new(in_w, in_h, fill);
        for y in 0..self.height {
            let row = (self.y0 + y) * in_w + self.x0;
            out.data[row..row + self.width]
                .copy_from_slice(&small.data[y * self.width..(y + 1) * self.width]);
        }
        out
    }

    /// The map from source pixels to input pixels (pixel centres at integers).
    pub fn source_to_input(&self) -> Affine {
        let sx = self.width as f64 / self.source_width as f64;
        let sy = self.height as f64 / self.source_height as f64;
        Affine {
            m: [
                [sx, 0.0, self.x0 as f64 + 0.5 * sx - 0.5],
                [0.0, sy, self.y0 as f64 + 0.5 * sy - 0.5],
            ],
        }
    }

    /// Cuts the image's part out of an input-sized map and resamples it to the source size.
    pub fn to_source(&self, map: &GrayImage) -> GrayImage {
        self.to_size(map, self.source_width, self.source_height)
    }

    /// Cuts the image's part out of an input-sized map and resamples it to `width x height`
    /// (the source's frame at another resolution).
    pub fn to_size(&self, map: &GrayImage, width: usize, height: usize) -> GrayImage {
        let mut crop = GrayImage::new(self.width, self.height, 0.0);
        for y in 0..self.height {
            let row = (self.y0 + y) * map.width + self.x0;
            crop.data[y * self.width..(y + 1) * self.width]
                .copy_from_slice(&map.data[row..row + self.width]);
        }
        crop.resize(width, height)
    }
}

/// An image ready for the net: inverted grey scale turned back, shrunk into the input, values
/// in [0, 1] (not yet standardised).
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The net's input (not yet standardised).
    pub input: GrayImage,
    /// Where the image lies in the input.
    pub letterbox: Letterbox,
    /// Whether the grey scale was turned back.
    pub inverted: bool,
}

/// Prepares `img` for a net with input `in_w x in_h`. The border is filled with the image's
/// darkest percentile (air), so the padding looks like background.
pub fn prepare(img: &GrayImage, in_w: usize, in_h: usize) -> Prepared {
    let inverted = looks_inverted(img);
    let fixed;
    let src = if inverted {
        fixed = GrayImage::from_vec(
            img.width,
            img.height,
            img.data.iter().map(|v| 1.0 - v).collect(),
        );
        &fixed
    } else {
        img
    };
    let lb = Letterbox::new(src.width, src.height, in_w, in_h);
    let h = boneage_imaging::threshold::histogram(src, None);
    let air = boneage_imaging::threshold::histogram_quantile(&h, 0.02);
    Prepared {
        input: lb.place(src, in_w, in_h, air),
        letterbox: lb,
        inverted,
    }
}

/// A training pair at the net's input size: prepared image and its mask (0 or 1).
#[derive(Debug, Clone)]
pub struct SegPair {
    /// Image id.
    pub id: String,
    /// The image at the net's input size.
    pub image: GrayImage,
    /// Its mask, 1 on the hand.
    pub mask: GrayImage,
}

impl SegPair {
    /// Prepares an image and its full-size mask the same way.
    pub fn new(id: &str, img: &GrayImage, mask: &Mask, cfg: &SegConfig) -> SegPair {
        assert_eq!((img.width, img.height), (mask.width, mask.height));
        let (w, h) = cfg.size();
        let p = prepare(img, w, h);
        let m = p.letterbox.place(&mask.to_gray(), w, h, 0.0);
        SegPair {
            id: id.to_string(),
            image: p.input,
            mask: m,
        }
    }

    /// A randomly augmented copy (image standardised, mask thresholded at one half).
    pub(super) fn augmented(&self, a: &SegAugment, rng: &mut ChaCha8Rng) -> (GrayImage, GrayImage) {
        let forward = a
            .affine()
            .draw_for(rng, self.image.width, self.image.height);
        let to_source = forward.inverse().expect("scale is positive");
        let fill = boneage_imaging::threshold::histogram_quantile(
            &boneage_imaging::threshold::histogram(&self.image, None),
            0.02,
        );
        let mut img = warp(
            &self.image,
            self.image.width,
            self.image.height,
            &to_source,
            fill,
        );
        let mask = warp(
            &self.mask,
            self.mask.width,
            self.mask.height,
            &to_source,
            0.0,
        );
        let jitter = a.intensity().draw(rng);
        let invert = rng.gen_bool(a.invert.clamp(0.0, 1.0));
        jitter.apply(&mut img);
        if invert {
            img.data.iter_mut().for_each(|v| *v = 1.0 - *v);
        }
        standardize(&mut img);
        let mask = GrayImage::from_vec(
            mask.width,
            mask.height,
            mask.data
                .iter()
                .map(|&v| if v >= 0.5 { 1.0 } else { 0.0 })
                .collect(),
        );
        (img, mask)
    }
}
