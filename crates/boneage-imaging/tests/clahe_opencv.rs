//! boneage's CLAHE against OpenCV's `cv2.createCLAHE(clip, (tx, ty)).apply`, on outputs stored
//! by `bench/clahe_fixtures.py` (OpenCV itself is not needed to run this test):
//! a 160x200 8-bit crop of a real radiograph and a 97x61 16-bit synthetic image (both sizes not
//! divisible by the tile grids, so OpenCV's reflect-101 padding path is exercised), each with
//! clip 2.0 / 8x8 tiles and clip 3.0 / 4x6 tiles.

use boneage_imaging::clahe::{clahe_u16, clahe_u8, ClaheConfig};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/clahe")
        .join(name)
}

/// Reads a grey PNG: (width, height, samples widened to u16, bit depth).
fn read_png(name: &str) -> (usize, usize, Vec<u16>, u8) {
    let file = std::fs::File::open(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale, "{name}");
    let (w, h) = (info.width as usize, info.height as usize);
    match info.bit_depth {
        png::BitDepth::Eight => (w, h, buf[..w * h].iter().map(|&v| v as u16).collect(), 8),
        png::BitDepth::Sixteen => (
            w,
            h,
            buf[..w * h * 2]
                .chunks_exact(2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .collect(),
            16,
        ),
        d => panic!("{name}: unexpected bit depth {d:?}"),
    }
}

const SETTINGS: [(f64, usize, usize, &str); 2] =
    [(2.0, 8, 8, "clip2_8x8"), (3.0, 4, 6, "clip3_4x6")];

/// (max |ours - OpenCV|, number of differing pixels).
fn compare(ours: &[u16], cv: &[u16]) -> (u16, usize) {
    assert_eq!(ours.len(), cv.len());
    let max = ours
        .iter()
        .zip(cv)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap_or(0);
    let n = ours.iter().zip(cv).filter(|(a, b)| a != b).count();
    (max, n)
}

#[test]
fn clahe_u8_matches_opencv_on_radiograph() {
    let (w, h, input, depth) = read_png("rad8.png");
    assert_eq!((w, h, depth), (160, 200, 8));
    let input: Vec<u8> = input.iter().map(|&v| v as u8).collect();
    for (clip, tx, ty, tag) in SETTINGS {
        let cfg = ClaheConfig {
            clip_limit: clip,
            tiles_x: tx,
            tiles_y: ty,
        };
        let ours: Vec<u16> = clahe_u8(&input, w, h, &cfg)
            .iter()
            .map(|&v| v as u16)
            .collect();
        let (_, _, cv, _) = read_png(&format!("rad8_{tag}.png"));
        let (max, n) = compare(&ours, &cv);
        println!(
            "8-bit {tag}: max |ours - OpenCV| = {max}, {n} of {} pixels differ",
            w * h
        );
        assert!(
            max <= 1,
            "8-bit {tag}: max diff {max} > 1 ({n} pixels differ)"
        );
    }
}

#[test]
fn clahe_u16_matches_opencv_on_synthetic() {
    let (w, h, input, depth) = read_png("syn16.png");
    assert_eq!((w, h, depth), (97, 61, 16));
    for (clip, tx, ty, tag) in SETTINGS {
        let cfg = ClaheConfig {
            clip_limit: clip,
            tiles_x: tx,
            tiles_y: ty,
        };
        let ours = clahe_u16(&input, w, h, &cfg);
        let (_, _, cv, _) = read_png(&format!("syn16_{tag}.png"));
        let (max, n) = compare(&ours, &cv);
        println!(
            "16-bit {tag}: max |ours - OpenCV| = {max} of 65535, {n} of {} pixels differ",
            w * h
        );
        assert!(
            max <= 1,
            "16-bit {tag}: max diff {max} > 1 ({n} pixels differ)"
        );
    }
}
