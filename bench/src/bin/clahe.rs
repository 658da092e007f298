//! CLAHE benchmark: `boneage_imaging::clahe::clahe_u8` (clip 2.0, 8x8 tiles, OpenCV's
//! defaults in the Python docs) on a 2000x2500 8-bit radiograph-like image.
//! `bench/clahe_peer.py` times OpenCV's `createCLAHE(2.0, (8, 8)).apply` on the same image;
//! `bench/clahe.sh` runs both and prints the comparison.
//!
//! ```text
//! clahe --make DIR            write DIR/clahe8.png (the input)
//! clahe [--iters N] DIR       time clahe_u8 on it; write DIR/clahe8_ours.png; print JSON
//! ```
//!
//! Timings are the median of N runs after one warm-up ([`boneage_bench::median_seconds`]),
//! on rayon's pool (RAYON_NUM_THREADS sets its size), input already decoded in memory, output allocation included (as in
//! OpenCV's `apply`, which allocates `dst`).

use anyhow::{bail, Context, Result};
use boneage_bench::{median_seconds, parse_mode, Mode};
use boneage_imaging::clahe::{clahe_u8, ClaheConfig};
use std::path::Path;

const WIDTH: usize = 2000;
const HEIGHT: usize = 2500;
const INPUT: &str = "clahe8.png";
const OURS: &str = "clahe8_ours.png";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, iters) = match parse_mode("clahe", &args, 15)? {
        Mode::Make(d) => {
            std::fs::create_dir_all(&d)?;
            return write_png(&d.join(INPUT), WIDTH, HEIGHT, &make_image());
        }
        Mode::Time { dir, iters } => (dir, iters),
        Mode::Help => return Ok(()),
    };
    let (w, h, input) = read_png(&dir.join(INPUT))?;
    let cfg = ClaheConfig::default();
    let mut out = Vec::new();
    let secs = median_seconds(iters, || out = clahe_u8(&input, w, h, &cfg));
    write_png(&dir.join(OURS), w, h, &out)?;
    let mean = out.iter().map(|&v| v as f64).sum::<f64>() / out.len() as f64;
    println!(
        "{{\"impl\": \"boneage clahe_u8\", \"iters\": {iters}, \"width\": {w}, \"height\": {h}, \
         \"s\": {secs}, \"mean\": {mean}}}"
    );
    Ok(())
}

/// A smooth hand-like exposure (bright bones on a mid background, heel-effect gradient) with
/// deterministic noise, so histograms look like a radiograph's rather than flat.
fn make_image() -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let mut img = vec![0u8; WIDTH * HEIGHT];
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let (fx, fy) = (x as f32 / WIDTH as f32, y as f32 / HEIGHT as f32);
            let mut v = 40.0 + 30.0 * fy;
            // palm and forearm
            let palm = ((fx - 0.5) / 0.28).powi(2) + ((fy - 0.62) / 0.2).powi(2);
            if palm < 1.0 || ((fx - 0.5).abs() < 0.16 && fy > 0.7) {
                v += 70.0;
            }
            // fingers
            for k in 0..5 {
                let cx = 0.3 + 0.1 * k as f32;
                if (fx - cx).abs() < 0.035 && fy > 0.12 + 0.03 * (k as f32 - 2.0).abs() && fy < 0.5
                {
                    v += 60.0 + 50.0 * (1.0 - ((fx - cx) / 0.035).abs());
                }
            }
            v += 24.0 * noise();
            img[y * WIDTH + x] = v.clamp(0.0, 255.0).round() as u8;
        }
    }
    img
}

fn write_png(path: &Path, w: usize, h: usize, data: &[u8]) -> Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = png::Encoder::new(file, w as u32, h as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()?.write_image_data(data)?;
    Ok(())
}

fn read_png(path: &Path) -> Result<(usize, usize, Vec<u8>)> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut reader = png::Decoder::new(file).read_info()?;
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    if info.color_type != png::ColorType::Grayscale || info.bit_depth != png::BitDepth::Eight {
        bail!("{}: not an 8-bit grey PNG", path.display());
    }
    let (w, h) = (info.width as usize, info.height as usize);
    buf.truncate(w * h);
    Ok((w, h, buf))
}
