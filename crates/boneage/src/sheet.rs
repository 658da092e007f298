//! Colour contact sheets: thumbnails of radiographs with a mask outline, boxes, a coloured
//! frame and a caption, written as one RGB PNG. Used by `eda` (flagged images), `segment` and
//! `mine` (kept and rejected masks).

use anyhow::Context;
use boneage_imaging::io::write_atomic;
use boneage_imaging::{GrayImage, Mask};
use std::path::Path;

pub const GREEN: [u8; 3] = [40, 220, 60];
pub const RED: [u8; 3] = [230, 40, 40];
pub const YELLOW: [u8; 3] = [255, 220, 0];

/// One thumbnail and what to draw on it. Coordinates of `boxes` are in the pixels of the image
/// the thumbnail was made from (`source_size`).
pub struct Tile {
    pub thumb: GrayImage,
    pub source_size: (usize, usize),
    pub outline: Option<(Mask, [u8; 3])>,
    pub boxes: Vec<([usize; 4], [u8; 3])>,
    pub frame: Option<[u8; 3]>,
    pub caption: String,
    /// A heat map over the thumbnail (its size, 0–1), drawn in orange over the grey.
    pub heat: Option<GrayImage>,
}

impl Tile {
    /// A tile of `img` shrunk to fit `size x size`.
    pub fn of(img: &GrayImage, size: usize) -> Tile {
        let (w, h) = img.fit_within(size, size);
        Tile {
            thumb: if w < img.width {
                img.resize(w, h)
            } else {
                img.clone()
            },
            source_size: (img.width, img.height),
            outline: None,
            boxes: Vec::new(),
            frame: None,
            caption: String::new(),
            heat: None,
        }
    }
}

/// An RGB canvas.
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Canvas {
    pub fn new(width: usize, height: usize, grey: u8) -> Canvas {
        Canvas {
            width,
            height,
            rgb: vec![grey; width * height * 3],
        }
    }

    pub fn put(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 3;
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    pub fn rect(&mut self, x0: usize, y0: usize, x1: usize, y1: usize, c: [u8; 3]) {
        for x in x0..=x1 {
            self.put(x, y0, c);
            self.put(x, y1, c);
        }
        for y in y0..=y1 {
            self.put(x0, y, c);
            self.put(x1, y, c);
        }
    }

    pub fn write_png(&self, path: &Path) -> anyhow::Result<()> {
        let bytes = self.png_bytes()?;
        write_atomic(path, &bytes).with_context(|| format!("{}: cannot write", path.display()))
    }

    /// The canvas as a PNG file's bytes.
    pub fn png_bytes(&self) -> anyhow::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut bytes, self.width as u32, self.height as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut wr = enc.write_header()?;
            wr.write_image_data(&self.rgb)?;
        }
        Ok(bytes)
    }
}

/// Height of the caption strip under a thumbnail.
const CAPTION: usize = 12;

/// Lays out `tiles` in rows of `cols` cells of `size` pixels (plus caption) and writes the PNG.
pub fn write_sheet(path: &Path, tiles: &[Tile], size: usize, cols: usize) -> anyhow::Result<()> {
    render(tiles, size, cols).write_png(path)
}

/// Lays out `tiles` in rows of `cols` cells of `size` pixels (plus caption).
pub fn render(tiles: &[Tile], size: usize, cols: usize) -> Canvas {
    let cols = cols.min(tiles.len()).max(1);
    let any_caption = tiles.iter().any(|t| !t.caption.is_empty());
    let cap = if any_caption { CAPTION } else { 0 };
    let (cw, ch) = (size + 8, size + 8 + cap);
    let rows = tiles.len().div_ceil(cols).max(1);
    let mut c = Canvas::new(cols * cw, rows * ch, 24);
    for (i, t) in tiles.iter().enumerate() {
        let thumb = &t.thumb;
        let ox = (i % cols) * cw + 4 + (size - thumb.width.min(size)) / 2;
        let oy = (i / cols) * ch + 4 + (size - thumb.height.min(size)) / 2;
        for y in 0..thumb.height {
            for x in 0..thumb.width {
                let v = thumb.get(x, y).clamp(0.0, 1.0) * 255.0;
                let a = t
                    .heat
                    .as_ref()
                    .map_or(0.0, |h| 0.7 * h.get(x, y).clamp(0.0, 1.0));
                let mix = |hot: f32| (v * (1.0 - a) + hot * a + 0.5) as u8;
                c.put(ox + x, oy + y, [mix(255.0), mix(120.0), mix(0.0)]);
            }
        }
        if let Some((mask, colour)) = &t.outline {
            let (mw, mh) = (mask.width, mask.height);
            for (k, on) in mask.outline().into_iter().enumerate() {
                if on {
                    let (x, y) = (k % mw, k / mw);
                    c.put(
                        ox + x * thumb.width / mw,
                        oy + y * thumb.height / mh,
                        *colour,
                    );
                }
            }
        }
        let sx = thumb.width as f64 / t.source_size.0 as f64;
        let sy = thumb.height as f64 / t.source_size.1 as f64;
        for (b, colour) in &t.boxes {
            c.rect(
                ox + (b[0] as f64 * sx) as usize,
                oy + (b[1] as f64 * sy) as usize,
                ox + (b[2] as f64 * sx) as usize,
                oy + (b[3] as f64 * sy) as usize,
                *colour,
            );
        }
        if let Some(colour) = t.frame {
            c.rect(
                ox.saturating_sub(2),
                oy.saturating_sub(2),
                ox + thumb.width + 1,
                oy + thumb.height + 1,
                colour,
            );
        }
        if !t.caption.is_empty() {
            let (x0, y0) = ((i % cols) * cw + 4, (i / cols) * ch + size + 8);
            let colour = t.frame.unwrap_or([220, 220, 220]);
            let (w, h) = (c.width, c.height);
            let max_chars = size / 6;
            let text: String = t.caption.chars().take(max_chars).collect();
            let mut ink = Vec::new();
            boneage_phantom::font::draw_text(
                &text.to_uppercase(),
                x0 as isize,
                y0 as isize + 2,
                1,
                w,
                h,
                |k| ink.push(k),
            );
            for k in ink {
                c.put(k % w, k / w, colour);
            }
        }
    }
    c
}
