//! Decoding benchmark: how long `boneage_imaging::io::read_radiograph` takes to turn a
//! 2000x2500 16-bit grey PNG, and the same pixels as an uncompressed 16-bit DICOM, into an
//! `f32` image in `[0, 1]`. `bench/decode_peer.py` does the same with PIL/OpenCV/pydicom and
//! numpy; `bench/decode.sh` runs both and prints the comparison.
//!
//! ```text
//! decode --make DIR                 write DIR/hand16.png and DIR/hand16.dcm
//! decode [--iters N] DIR            time reading them; prints one JSON object
//! ```
//!
//! The test image is a smooth, hand-like radiograph (forearm, palm, five fingers, brighter
//! bones, a heel-effect gradient) with sensor-like noise (sigma about 115), so PNG compression
//! and decoding cost what they cost on real radiographs rather than on a flat or
//! synthetic-pattern image. The PNG is written like PIL writes one (zlib level 6, adaptive
//! filters); the DICOM is explicit VR little endian, MONOCHROME2, BitsStored 16, no rescale and
//! no window, so both readers map the full pixel range to `[0, 1]`.
//!
//! Timings are the median of N runs after one warm-up ([`boneage_bench::median_seconds`]),
//! each a whole `read_radiograph` call (file read included), plus the same from bytes already
//! in memory (`*_mem_s`) to separate file I/O from decoding. `*_mean` is the mean output pixel,
//! to check that the peers did the same work.

use anyhow::{Context, Result};
use boneage_bench::{median_seconds, parse_mode, Mode};
use boneage_imaging::io::{decode_radiograph, read_radiograph};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use std::path::Path;

const WIDTH: usize = 2000;
const HEIGHT: usize = 2500;
const PNG_NAME: &str = "hand16.png";
const DICOM_NAME: &str = "hand16.dcm";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_mode("decode", &args, 15)? {
        Mode::Make(dir) => make_files(&dir),
        Mode::Time { dir, iters } => run(&dir, iters),
        Mode::Help => Ok(()),
    }
}

/// Times our reader on the two files and prints one JSON object.
fn run(dir: &Path, iters: usize) -> Result<()> {
    let png = dir.join(PNG_NAME);
    let dcm = dir.join(DICOM_NAME);
    let png_bytes =
        std::fs::read(&png).with_context(|| format!("{} (run --make first)", png.display()))?;
    let dcm_bytes =
        std::fs::read(&dcm).with_context(|| format!("{} (run --make first)", dcm.display()))?;
    let png_mean = mean(&read_radiograph(&png)?.image.data);
    let dcm_mean = mean(&read_radiograph(&dcm)?.image.data);

    let png_s = median_seconds(iters, || {
        std::hint::black_box(read_radiograph(&png).expect("PNG read"));
    });
    let png_mem_s = median_seconds(iters, || {
        std::hint::black_box(decode_radiograph(&png, &png_bytes).expect("PNG decode"));
    });
    let dicom_s = median_seconds(iters, || {
        std::hint::black_box(read_radiograph(&dcm).expect("DICOM read"));
    });
    let dicom_mem_s = median_seconds(iters, || {
        std::hint::black_box(decode_radiograph(&dcm, &dcm_bytes).expect("DICOM decode"));
    });
    let out = serde_json::json!({
        "impl": "boneage (Rust, read_radiograph)",
        "iters": iters,
        "png_s": png_s,
        "png_mem_s": png_mem_s,
        "png_mean": png_mean,
        "dicom_s": dicom_s,
        "dicom_mem_s": dicom_mem_s,
        "dicom_mean": dcm_mean,
        "png_bytes": png_bytes.len(),
        "dicom_bytes": dcm_bytes.len(),
    });
    println!("{out}");
    Ok(())
}

fn mean(v: &[f32]) -> f64 {
    v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64
}

/// Writes the PNG and the DICOM of the same synthetic hand.
fn make_files(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let pixels = synthetic_hand(WIDTH, HEIGHT);

    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, WIDTH as u32, HEIGHT as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Sixteen);
        enc.set_compression(png::Compression::Default);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut w = enc.write_header()?;
        let be: Vec<u8> = pixels.iter().flat_map(|v| v.to_be_bytes()).collect();
        w.write_image_data(&be)?;
    }
    let png_path = dir.join(PNG_NAME);
    std::fs::write(&png_path, &png_bytes)
        .with_context(|| format!("writing {}", png_path.display()))?;

    let mut obj = InMemDicomObject::new_empty();
    let s = |obj: &mut InMemDicomObject, tag, vr, v: &str| {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
    };
    let us = |obj: &mut InMemDicomObject, tag, v: u16| {
        obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(v)));
    };
    s(
        &mut obj,
        tags::SOP_CLASS_UID,
        VR::UI,
        uids::DIGITAL_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION,
    );
    s(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, "2.25.1234567890");
    s(&mut obj, tags::MODALITY, VR::CS, "DX");
    s(&mut obj, tags::PATIENT_SEX, VR::CS, "F");
    s(&mut obj, tags::PATIENT_AGE, VR::AS, "010Y");
    s(&mut obj, tags::IMAGER_PIXEL_SPACING, VR::DS, "0.1\\0.1");
    us(&mut obj, tags::SAMPLES_PER_PIXEL, 1);
    s(
        &mut obj,
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        "MONOCHROME2",
    );
    us(&mut obj, tags::ROWS, HEIGHT as u16);
    us(&mut obj, tags::COLUMNS, WIDTH as u16);
    us(&mut obj, tags::BITS_ALLOCATED, 16);
    us(&mut obj, tags::BITS_STORED, 16);
    us(&mut obj, tags::HIGH_BIT, 15);
    us(&mut obj, tags::PIXEL_REPRESENTATION, 0);
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(pixels.iter().copied().collect()),
    ));
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .context("DICOM meta group")?;
    let dcm_path = dir.join(DICOM_NAME);
    file.write_to_file(&dcm_path)
        .with_context(|| format!("writing {}", dcm_path.display()))?;
    eprintln!(
        "wrote {} ({} bytes) and {} ({} bytes), {WIDTH}x{HEIGHT} 16-bit",
        png_path.display(),
        png_bytes.len(),
        dcm_path.display(),
        std::fs::metadata(&dcm_path).map(|m| m.len()).unwrap_or(0)
    );
    Ok(())
}

/// Distance from `p` to the segment `a`–`b`.
fn segment_distance(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sqrt()
}

fn smoothstep(edge0: f32, edge1: f32, x: f32) -> f32 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A capsule: segment plus radius, in pixels.
#[derive(Clone, Copy)]
struct Capsule {
    a: (f32, f32),
    b: (f32, f32),
    r: f32,
}

impl Capsule {
    fn sd(&self, p: (f32, f32)) -> f32 {
        segment_distance(p, self.a, self.b) - self.r
    }
}

/// A hand-like 16-bit radiograph: soft tissue over a dark, graded background, brighter bones
/// with joint gaps, and noise (sum of four uniforms, sigma about 115).
fn synthetic_hand(w: usize, h: usize) -> Vec<u16> {
    let (wf, hf) = (w as f32, h as f32);
    let s = wf / 2000.0; // shapes are laid out for 2000 px wide
    let pt = |x: f32, y: f32| (x * wf, y * hf);

    // Soft tissue: forearm, palm, four fingers, thumb.
    let mut tissue = vec![
        Capsule {
            a: pt(0.50, 1.10),
            b: pt(0.50, 0.78),
            r: 330.0 * s,
        },
        Capsule {
            a: pt(0.42, 0.66),
            b: pt(0.58, 0.66),
            r: 420.0 * s,
        },
    ];
    let mut bones = vec![
        // Radius and ulna.
        Capsule {
            a: pt(0.56, 1.05),
            b: pt(0.57, 0.80),
            r: 95.0 * s,
        },
        Capsule {
            a: pt(0.43, 1.05),
            b: pt(0.44, 0.81),
            r: 70.0 * s,
        },
    ];
    // Fingers: base x, tip (x, y), width.
    let fingers = [
        (0.36, (0.26, 0.16), 95.0),
        (0.46, (0.43, 0.07), 100.0),
        (0.56, (0.59, 0.09), 98.0),
        (0.65, (0.74, 0.20), 88.0),
    ];
    for (base_x, tip, width) in fingers {
        let base = pt(base_x, 0.60);
        let tip = pt(tip.0, tip.1);
        tissue.push(Capsule {
            a: base,
            b: tip,
            r: width * s,
        });
        // Metacarpal, then three phalanges separated by joint gaps.
        let lerp = |t: f32| (base.0 + t * (tip.0 - base.0), base.1 + t * (tip.1 - base.1));
        let bone_r = width * s * 0.45;
        bones.push(Capsule {
            a: pt(0.5 + (base_x - 0.5) * 0.7, 0.78),
            b: lerp(0.02),
            r: bone_r * 1.1,
        });
        for (t0, t1) in [(0.08, 0.42), (0.46, 0.70), (0.74, 0.93)] {
            bones.push(Capsule {
                a: lerp(t0),
                b: lerp(t1),
                r: bone_r,
            });
        }
    }
    // Thumb.
    let tb = pt(0.30, 0.72);
    let tt = pt(0.12, 0.45);
    tissue.push(Capsule {
        a: tb,
        b: tt,
        r: 115.0 * s,
    });
    let tl = |t: f32| (tb.0 + t * (tt.0 - tb.0), tb.1 + t * (tt.1 - tb.1));
    for (t0, t1) in [(0.0, 0.38), (0.44, 0.70), (0.75, 0.94)] {
        bones.push(Capsule {
            a: tl(t0),
            b: tl(t1),
            r: 52.0 * s,
        });
    }
    // Carpals: a cluster of small round bones.
    for (x, y) in [
        (0.44, 0.75),
        (0.50, 0.74),
        (0.56, 0.75),
        (0.47, 0.79),
        (0.53, 0.79),
        (0.59, 0.78),
    ] {
        let c = pt(x, y);
        bones.push(Capsule {
            a: c,
            b: c,
            r: 48.0 * s,
        });
    }

    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 40) as f32 / (1u64 << 24) as f32
    };
    let edge = 12.0 * s;
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let p = (x as f32 + 0.5, y as f32 + 0.5);
            let sd_tissue = tissue.iter().map(|c| c.sd(p)).fold(f32::INFINITY, f32::min);
            let mut v = 3000.0 + 2500.0 * (y as f32 / hf) + 800.0 * (x as f32 / wf);
            if sd_tissue < edge {
                // Thicker tissue (deeper inside) attenuates more.
                let depth = (-sd_tissue).max(0.0);
                v += 16000.0 * smoothstep(-edge, edge, -sd_tissue)
                    + 2500.0 * (depth / (200.0 * s)).min(1.0);
                let sd_bone = bones.iter().map(|c| c.sd(p)).fold(f32::INFINITY, f32::min);
                if sd_bone < edge {
                    // Cortex brighter than the medulla.
                    let inside = (-sd_bone).max(0.0);
                    let cortex = 1.0 - smoothstep(0.0, 18.0 * s, inside) * 0.35;
                    v += 24000.0 * smoothstep(-edge * 0.5, edge * 0.5, -sd_bone) * cortex;
                }
            }
            let noise = (uniform() + uniform() + uniform() + uniform() - 2.0) * 200.0;
            out.push((v + noise).clamp(0.0, 65535.0) as u16);
        }
    }
    out
}
