//! The stress test's image variations: what each transform is, at which strengths, and how it
//! changes a film.

use anyhow::Context;
use boneage_imaging::spatial::{warp, Affine};
use boneage_imaging::{intensity, GrayImage, Radiograph};
use std::path::Path;

/// One image variation at one strength.
#[derive(Debug, Clone, PartialEq)]
pub struct Variation {
    /// The transform's name (`rotate`, `jpeg`, …).
    pub transform: &'static str,
    /// Its strength as shown in the table (`30°`, `quality 10`, …).
    pub strength: String,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Degrees, counter-clockwise; the canvas grows to hold the whole film.
    Rotate(f64),
    FlipHorizontal,
    FlipVertical,
    /// Added to every value (the image is in [0, 1]).
    Brightness(f32),
    /// Factor around the image mean.
    Contrast(f32),
    Gamma(f32),
    Invert,
    /// Gaussian noise, SD in units of the full range.
    Noise(f32),
    /// Gaussian blur, sigma as a fraction of the longer side.
    Blur(f32),
    /// Fewer pixels: the film shrunk by this factor.
    Downscale(f64),
    /// Detail lost: shrunk by this factor, then enlarged back to its size.
    Rescale(f64),
    /// This fraction cut from each side.
    Crop(f64),
    /// Lead markers (letters in a frame) added in this many corners.
    Markers(usize),
    /// Saved as JPEG at this quality and read back.
    Jpeg(u8),
}

/// The variations the stress test applies, in table order.
pub fn variations() -> Vec<Variation> {
    let v = |transform, strength: String, kind| Variation {
        transform,
        strength,
        kind,
    };
    let mut out = Vec::new();
    for d in [10.0, 30.0, 90.0, 180.0] {
        out.push(v("rotate", format!("{d}°"), Kind::Rotate(d)));
    }
    out.push(v("flip", "left-right".into(), Kind::FlipHorizontal));
    out.push(v("flip", "top-bottom".into(), Kind::FlipVertical));
    for b in [-0.2f32, -0.1, 0.1, 0.2] {
        out.push(v("brightness", format!("{b:+}"), Kind::Brightness(b)));
    }
    for c in [0.5f32, 0.75, 1.5] {
        out.push(v("contrast", format!("x{c}"), Kind::Contrast(c)));
    }
    for g in [0.5f32, 0.7, 1.5, 2.0] {
        out.push(v("gamma", format!("{g}"), Kind::Gamma(g)));
    }
    out.push(v("invert", "negative".into(), Kind::Invert));
    for n in [0.02f32, 0.05, 0.1] {
        out.push(v("noise", format!("SD {n}"), Kind::Noise(n)));
    }
    for b in [0.0025f32, 0.005, 0.01] {
        out.push(v(
            "blur",
            format!("sigma {}% of the side", b * 100.0),
            Kind::Blur(b),
        ));
    }
    for f in [0.5, 0.25] {
        out.push(v("downscale", format!("x{f}"), Kind::Downscale(f)));
    }
    for f in [0.5, 0.25] {
        out.push(v("resolution", format!("x{f} and back"), Kind::Rescale(f)));
    }
    for c in [0.05, 0.1, 0.2] {
        out.push(v(
            "crop",
            format!("{}% each side", c * 100.0),
            Kind::Crop(c),
        ));
    }
    for m in [1usize, 2, 4] {
        out.push(v("markers", format!("{m}"), Kind::Markers(m)));
    }
    for q in [75u8, 40, 10] {
        out.push(v("jpeg", format!("quality {q}"), Kind::Jpeg(q)));
    }
    out
}

/// The variations whose transform is named in `only` (all when empty); an unknown name is an
/// error listing the known ones.
pub fn select(only: &[String]) -> anyhow::Result<Vec<Variation>> {
    let all = variations();
    if only.is_empty() {
        return Ok(all);
    }
    let mut names: Vec<&str> = all.iter().map(|v| v.transform).collect();
    names.dedup();
    for o in only {
        anyhow::ensure!(
            names.contains(&o.as_str()),
            "--only {o}: no such transform (known: {})",
            names.join(", ")
        );
    }
    Ok(all
        .into_iter()
        .filter(|v| only.iter().any(|o| o == v.transform))
        .collect())
}

/// The median of the film's outermost rows and columns: the background a rotated film is
/// padded with.
fn border_value(img: &GrayImage) -> f32 {
    let (w, h) = (img.width, img.height);
    let mut v: Vec<f32> = (0..w)
        .flat_map(|x| [img.get(x, 0), img.get(x, h - 1)])
        .chain((0..h).flat_map(|y| [img.get(0, y), img.get(w - 1, y)]))
        .collect();
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

fn map_values(img: &GrayImage, f: impl Fn(f32) -> f32) -> GrayImage {
    GrayImage::from_vec(
        img.width,
        img.height,
        img.data.iter().map(|&v| f(v).clamp(0.0, 1.0)).collect(),
    )
}

/// Applies `v` to a film (values in [0, 1]); `seed` draws the noise.
pub fn apply(v: &Variation, img: &GrayImage, seed: u64) -> anyhow::Result<GrayImage> {
    let (w, h) = (img.width, img.height);
    Ok(match v.kind {
        Kind::Rotate(deg) => {
            let r = deg.to_radians();
            let (c, s) = (r.cos().abs(), r.sin().abs());
            let nw = ((w as f64 * c + h as f64 * s).round() as usize).max(1);
            let nh = ((w as f64 * s + h as f64 * c).round() as usize).max(1);
            let to_source = Affine::translate(w as f64 / 2.0, h as f64 / 2.0)
                .after(&Affine::rotate_deg(-deg))
                .after(&Affine::translate(-(nw as f64) / 2.0, -(nh as f64) / 2.0));
            warp(img, nw, nh, &to_source, border_value(img))
        }
        Kind::FlipHorizontal => {
            let mut out = img.clone();
            for row in out.data.chunks_mut(w) {
                row.reverse();
            }
            out
        }
        Kind::FlipVertical => {
            let data = img.data.chunks(w).rev().flatten().copied().collect();
            GrayImage::from_vec(w, h, data)
        }
        Kind::Brightness(b) => map_values(img, |x| x + b),
        Kind::Contrast(f) => {
            let mut out = img.clone();
            intensity::contrast(&mut out, f);
            map_values(&out, |x| x)
        }
        Kind::Gamma(g) => {
            let mut out = img.clone();
            intensity::gamma(&mut out, g);
            out
        }
        Kind::Invert => map_values(img, |x| 1.0 - x),
        Kind::Noise(sd) => {
            let mut rng = boneage_phantom::rng::image_rng(seed, 0x57e55);
            let mut noise = vec![0f32; img.data.len()];
            boneage_phantom::rng::fill_normal(&mut rng, &mut noise);
            let mut out = img.clone();
            intensity::add_noise(&mut out, noise.into_iter().map(|n| n * sd));
            map_values(&out, |x| x)
        }
        Kind::Blur(frac) => {
            let sigma = frac * w.max(h) as f32;
            let buf = image::ImageBuffer::<image::Luma<f32>, Vec<f32>>::from_raw(
                w as u32,
                h as u32,
                img.data.clone(),
            )
            .context("image buffer")?;
            let blurred = image::imageops::blur(&buf, sigma);
            GrayImage::from_vec(w, h, blurred.into_raw())
        }
        Kind::Downscale(f) => img.resize(
            ((w as f64 * f).round() as usize).max(1),
            ((h as f64 * f).round() as usize).max(1),
        ),
        Kind::Rescale(f) => img
            .resize(
                ((w as f64 * f).round() as usize).max(1),
                ((h as f64 * f).round() as usize).max(1),
            )
            .resize(w, h),
        Kind::Crop(frac) => {
            let (dx, dy) = (
                (w as f64 * frac).round() as usize,
                (h as f64 * frac).round() as usize,
            );
            let (nw, nh) = (w - 2 * dx, h - 2 * dy);
            let mut data = Vec::with_capacity(nw * nh);
            for y in dy..dy + nh {
                data.extend_from_slice(&img.data[y * w + dx..y * w + dx + nw]);
            }
            GrayImage::from_vec(nw, nh, data)
        }
        Kind::Markers(n) => {
            let mut out = img.clone();
            let cell = (w.min(h) / 80).max(1);
            let (mw, mh) = (cell * 12, cell * 11);
            let margin = cell * 3;
            let corners = [
                (w.saturating_sub(mw + margin), margin, "R"),
                (margin, margin, "L"),
                (
                    w.saturating_sub(mw + margin),
                    h.saturating_sub(mh + margin),
                    "PA",
                ),
                (margin, h.saturating_sub(mh + margin), "L"),
            ];
            for &(x0, y0, text) in corners.iter().take(n) {
                // A frame, and the letters in it, as bright as lead.
                for y in y0..(y0 + mh).min(h) {
                    for x in x0..(x0 + mw).min(w) {
                        let edge = y < y0 + cell
                            || y >= y0 + mh - cell
                            || x < x0 + cell
                            || x >= x0 + mw - cell;
                        if edge {
                            out.set(x, y, 1.0);
                        }
                    }
                }
                let tx = x0 + mw.saturating_sub(boneage_phantom::font::text_cells(text) * cell) / 2;
                let ty = y0 + mh.saturating_sub(7 * cell) / 2;
                boneage_phantom::font::draw_text(text, tx as isize, ty as isize, cell, w, h, |i| {
                    out.data[i] = 1.0
                });
            }
            out
        }
        Kind::Jpeg(q) => jpeg(img, q)?.image,
    })
}

/// Applies `v` to a radiograph: the pixels as [`apply`] changes them, with what the file
/// said about them; a JPEG variant is the film saved as a JPEG and read back, so the
/// pipeline sees the JPEG's own header (its quality) as it would a user's file.
pub fn apply_to_film(v: &Variation, r: &Radiograph, seed: u64) -> anyhow::Result<Radiograph> {
    Ok(match v.kind {
        Kind::Jpeg(q) => jpeg(&r.image, q)?,
        _ => Radiograph {
            image: apply(v, &r.image, seed)?,
            meta: r.meta.clone(),
        },
    })
}

/// `img` saved as an 8-bit JPEG of quality `q` and read back.
fn jpeg(img: &GrayImage, q: u8) -> anyhow::Result<Radiograph> {
    let bytes = boneage_imaging::io::encode_jpeg_gray8(img, q).context("JPEG encoding")?;
    Ok(boneage_imaging::io::decode_radiograph(
        Path::new("stress.jpg"),
        &bytes,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use boneage_core::stats;

    fn film() -> GrayImage {
        let (w, h) = (60, 80);
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if (20..40).contains(&x) && (10..70).contains(&y) {
                    0.8
                } else {
                    0.1 + 0.001 * x as f32
                }
            })
            .collect();
        GrayImage::from_vec(w, h, data)
    }

    fn by(transform: &str, strength: &str) -> Variation {
        variations()
            .into_iter()
            .find(|v| v.transform == transform && v.strength == strength)
            .unwrap_or_else(|| panic!("{transform} {strength}"))
    }

    #[test]
    fn every_variation_keeps_a_valid_film() {
        let img = film();
        for v in variations() {
            let out = apply(&v, &img, 1).unwrap();
            assert!(out.width > 0 && out.height > 0, "{v:?}");
            assert!(
                out.data
                    .iter()
                    .all(|x| x.is_finite() && (-0.01..=1.01).contains(x)),
                "{v:?}"
            );
        }
    }

    #[test]
    fn variations_do_what_they_say() {
        let img = film();
        let r90 = apply(&by("rotate", "90°"), &img, 0).unwrap();
        assert_eq!((r90.width, r90.height), (80, 60));
        let r180 = apply(&by("rotate", "180°"), &img, 0).unwrap();
        assert!((r180.get(5, 5) - img.get(54, 74)).abs() < 0.02);
        let fl = apply(&by("flip", "left-right"), &img, 0).unwrap();
        assert_eq!(fl.get(0, 3), img.get(59, 3));
        let fv = apply(&by("flip", "top-bottom"), &img, 0).unwrap();
        assert_eq!(fv.get(3, 0), img.get(3, 79));
        let inv = apply(&by("invert", "negative"), &img, 0).unwrap();
        assert!((inv.get(30, 30) - 0.2).abs() < 1e-6);
        let c = apply(&by("crop", "10% each side"), &img, 0).unwrap();
        assert_eq!((c.width, c.height), (48, 64));
        let d = apply(&by("downscale", "x0.5"), &img, 0).unwrap();
        assert_eq!((d.width, d.height), (30, 40));
        let m = apply(&by("markers", "4"), &img, 0).unwrap();
        let bright = |g: &GrayImage| g.data.iter().filter(|&&v| v >= 0.99).count();
        assert!(bright(&m) > bright(&img) + 40, "markers drawn");
        let j = apply(&by("jpeg", "quality 10"), &img, 0).unwrap();
        let err = stats::mean(
            &j.data
                .iter()
                .zip(&img.data)
                .map(|(a, b)| (a - b).abs() as f64)
                .collect::<Vec<_>>(),
        );
        assert!(err > 0.001 && err < 0.1, "JPEG error {err}");
        let n1 = apply(&by("noise", "SD 0.05"), &img, 1).unwrap();
        let n2 = apply(&by("noise", "SD 0.05"), &img, 1).unwrap();
        assert_eq!(n1.data, n2.data, "noise is seeded");
        let b = apply(&by("blur", "sigma 1% of the side"), &img, 0).unwrap();
        assert!(
            b.get(20, 40) < 0.8 && b.get(20, 40) > 0.1,
            "an edge is softened"
        );
    }

    #[test]
    fn select_names_the_known_transforms() {
        assert_eq!(select(&[]).unwrap().len(), variations().len());
        let j = select(&["jpeg".into(), "rotate".into()]).unwrap();
        assert_eq!(j.len(), 7);
        let e = select(&["sharpen".into()]).unwrap_err().to_string();
        assert!(e.contains("sharpen") && e.contains("jpeg"), "{e}");
    }
}
