//! DICOM reading, compressed transfer syntaxes (JPEG baseline and lossless, RLE, JPEG 2000)
//! and broken files: every failure is an error naming the file and the problem, never a panic.
//! The files are made in memory by `common`.

mod common;

use boneage_imaging::io::ReadError;
use common::*;
use dicom_core::VR;
use dicom_dictionary_std::tags;

#[test]
fn jpeg_baseline_8bit() {
    let px = Pixels::grey(ROWS as u16, COLS as u16, 8, 8);
    let samples: Vec<u8> = gradient(ROWS, COLS, 255).iter().map(|&v| v as u8).collect();
    let mut obj = px.object();
    put_encapsulated(
        &mut obj,
        vec![encode_jpeg_baseline(COLS, ROWS, &samples, 95)],
    );
    let r = decode("jb.dcm", &file_bytes(obj, JPEG_BASELINE)).unwrap();
    assert_eq!((r.image.width, r.image.height), (COLS, ROWS));
    assert_eq!(r.meta.transfer_syntax.as_deref(), Some(JPEG_BASELINE));
    // Lossy: compare with the stored values over their own range, loosely.
    let expected = full_range(&samples.iter().map(|&v| v as f64).collect::<Vec<_>>());
    let err = max_abs_diff(&r.image.data, &expected);
    assert!(err < 0.05, "JPEG baseline error {err}");
}

#[test]
fn jpeg_lossless_16bit_is_exact() {
    let px = Pixels::grey(ROWS as u16, COLS as u16, 16, 16);
    // Steep enough that differences use most categories.
    let samples: Vec<u16> = gradient(ROWS, COLS, 60000)
        .iter()
        .enumerate()
        .map(|(i, &v)| v.saturating_add(((i * 7919) % 1000) as u16))
        .collect();
    let expected = full_range(&as_f64(&samples));
    for ts in [JPEG_LOSSLESS_SV1, JPEG_LOSSLESS_14] {
        let mut obj = px.object();
        put_encapsulated(
            &mut obj,
            vec![encode_jpeg_lossless(COLS, ROWS, 16, &samples)],
        );
        let r = decode("jl.dcm", &file_bytes(obj, ts)).unwrap_or_else(|e| panic!("{ts}: {e}"));
        assert_eq!(r.meta.bit_depth, 16);
        assert!(max_abs_diff(&r.image.data, &expected) < 1e-6, "{ts}");
    }
    // 12-bit precision with MONOCHROME1 and a window.
    let mut px12 = Pixels::grey(ROWS as u16, COLS as u16, 16, 12);
    px12.photometric = "MONOCHROME1";
    let s12 = gradient(ROWS, COLS, 4095);
    let mut obj = px12.object();
    put_str(&mut obj, tags::WINDOW_CENTER, VR::DS, "2048");
    put_str(&mut obj, tags::WINDOW_WIDTH, VR::DS, "4096");
    put_encapsulated(&mut obj, vec![encode_jpeg_lossless(COLS, ROWS, 12, &s12)]);
    let r = decode("jl12.dcm", &file_bytes(obj, JPEG_LOSSLESS_SV1)).unwrap();
    let expected: Vec<f32> = s12
        .iter()
        .map(|&v| (1.0 - ((v as f64 - 2047.5) / 4095.0 + 0.5).clamp(0.0, 1.0)) as f32)
        .collect();
    assert!(max_abs_diff(&r.image.data, &expected) < 1e-5);
}

#[test]
fn rle_lossless_8_and_16_bit_is_exact() {
    // 16-bit, with flat stretches (replicate runs) and noise (literal runs).
    let px = Pixels::grey(ROWS as u16, COLS as u16, 16, 16);
    let samples: Vec<u16> = gradient(ROWS, COLS, 50000)
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let band = (i / COLS) % 3;
            if band == 0 {
                1234
            } else {
                v ^ ((i * 31) % 17) as u16
            }
        })
        .collect();
    let mut obj = px.object();
    put_encapsulated(&mut obj, vec![encode_rle(COLS, &planes_u16(&samples))]);
    let r = decode("rle16.dcm", &file_bytes(obj, RLE)).unwrap();
    assert!(max_abs_diff(&r.image.data, &full_range(&as_f64(&samples))) < 1e-6);

    // 8-bit.
    let px = Pixels::grey(ROWS as u16, COLS as u16, 8, 8);
    let s8: Vec<u8> = samples.iter().map(|&v| (v >> 8) as u8).collect();
    let mut obj = px.object();
    put_encapsulated(&mut obj, vec![encode_rle(COLS, std::slice::from_ref(&s8))]);
    let r = decode("rle8.dcm", &file_bytes(obj, RLE)).unwrap();
    let expected = full_range(&s8.iter().map(|&v| v as f64).collect::<Vec<_>>());
    assert!(max_abs_diff(&r.image.data, &expected) < 1e-6);

    // RGB, 8-bit: three segments.
    let px = Pixels {
        photometric: "RGB",
        samples_per_pixel: 3,
        ..Pixels::grey(ROWS as u16, COLS as u16, 8, 8)
    };
    let mut obj = px.object();
    put_encapsulated(
        &mut obj,
        vec![encode_rle(COLS, &[s8.clone(), s8.clone(), s8.clone()])],
    );
    let r = decode("rlergb.dcm", &file_bytes(obj, RLE)).unwrap();
    let expected: Vec<f32> = s8.iter().map(|&v| v as f32 / 255.0).collect();
    assert!(max_abs_diff(&r.image.data, &expected) < 1e-6);
}

#[test]
fn jpeg2000_lossless_is_exact_and_lossy_is_close() {
    let px = Pixels::grey(ROWS as u16, COLS as u16, 16, 16);
    let samples: Vec<u16> = gradient(ROWS, COLS, 60000)
        .iter()
        .enumerate()
        .map(|(i, &v)| v.saturating_add(((i * 7919) % 500) as u16))
        .collect();
    let ints: Vec<i32> = samples.iter().map(|&v| v as i32).collect();
    let expected = full_range(&as_f64(&samples));

    let mut obj = px.object();
    put_encapsulated(
        &mut obj,
        vec![encode_j2k(COLS, ROWS, 16, false, &ints, true, 0.0)],
    );
    let r = decode("j2kl.dcm", &file_bytes(obj, J2K_LOSSLESS)).unwrap();
    assert_eq!(r.meta.transfer_syntax.as_deref(), Some(J2K_LOSSLESS));
    assert!(
        max_abs_diff(&r.image.data, &expected) < 1e-6,
        "lossless J2K must be exact"
    );

    let mut obj = px.object();
    put_encapsulated(
        &mut obj,
        vec![encode_j2k(COLS, ROWS, 16, false, &ints, false, 8.0)],
    );
    let r = decode("j2k.dcm", &file_bytes(obj, J2K)).unwrap();
    let err = max_abs_diff(&r.image.data, &expected);
    let mean: f32 = r
        .image
        .data
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / expected.len() as f32;
    assert!(
        err < 0.1 && mean < 0.01,
        "lossy J2K error max {err}, mean {mean}"
    );

    // Signed 16-bit.
    let mut spx = px.clone();
    spx.signed = true;
    let signed: Vec<i32> = ints.iter().map(|&v| v - 30000).collect();
    let mut obj = spx.object();
    put_encapsulated(
        &mut obj,
        vec![encode_j2k(COLS, ROWS, 16, true, &signed, true, 0.0)],
    );
    let r = decode("j2ks.dcm", &file_bytes(obj, J2K_LOSSLESS)).unwrap();
    assert!(
        max_abs_diff(&r.image.data, &expected) < 1e-6,
        "signed lossless J2K"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

fn gradient_file(ts: &str) -> Vec<u8> {
    let (px, samples) = grey12();
    let mut obj = px.object();
    put_native_u16(&mut obj, &samples);
    file_bytes(obj, ts)
}

#[test]
fn no_pixel_data_is_named() {
    let (px, _) = grey12();
    let e = decode("empty.dcm", &file_bytes(px.object(), EXPLICIT_LE)).unwrap_err();
    assert!(matches!(e, ReadError::NoPixelData { .. }), "{e}");
    assert!(
        e.to_string().contains("empty.dcm") && e.to_string().contains("no pixel data"),
        "{e}"
    );
}

#[test]
fn truncated_files_are_named() {
    for ts in [EXPLICIT_LE, IMPLICIT_LE] {
        let bytes = gradient_file(ts);
        let data_start = dataset_offset(&bytes);
        for cut in [
            140,
            data_start - 3,
            data_start + 5,
            bytes.len() / 2,
            bytes.len() - 1,
        ] {
            let e = decode("cut.dcm", &bytes[..cut]).unwrap_err();
            assert!(e.to_string().contains("cut.dcm"), "{ts} cut {cut}: {e}");
            assert!(
                matches!(e, ReadError::Truncated { .. }),
                "{ts} cut {cut}: {e}"
            );
        }
    }
    // An RLE frame whose last segment is cut short.
    let (px, samples) = grey12();
    let mut frame = encode_rle(COLS, &planes_u16(&samples));
    frame.truncate(frame.len() - 40);
    let mut obj = px.object();
    put_encapsulated(&mut obj, vec![frame]);
    let e = decode("rlecut.dcm", &file_bytes(obj, RLE)).unwrap_err();
    assert!(matches!(e, ReadError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("rlecut.dcm"), "{e}");
}

#[test]
fn zero_rows_is_zero_size() {
    let (px, samples) = grey12();
    let mut obj = px.object();
    put_us(&mut obj, tags::ROWS, 0);
    put_native_u16(&mut obj, &samples);
    let e = decode("z.dcm", &file_bytes(obj, EXPLICIT_LE)).unwrap_err();
    assert!(
        matches!(
            e,
            ReadError::ZeroSize {
                width: 64,
                height: 0,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("z.dcm"), "{e}");
}

#[test]
fn unsupported_transfer_syntaxes_are_named() {
    // A made-up UID of the same length as Explicit VR Little Endian's.
    let mut bytes = gradient_file(EXPLICIT_LE);
    patch_transfer_syntax(&mut bytes, EXPLICIT_LE, "1.2.3.4.5.6.7.8.9.10");
    let e = decode("made_up.dcm", &bytes).unwrap_err();
    match &e {
        ReadError::UnsupportedTransferSyntax { uid, .. } => assert_eq!(uid, "1.2.3.4.5.6.7.8.9.10"),
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("made_up.dcm"), "{e}");

    // JPEG-LS: parsed, but no decoder without the charls feature.
    let (px, _) = grey12();
    let mut obj = px.object();
    put_encapsulated(
        &mut obj,
        vec![vec![0xFF, 0xD8, 0xFF, 0xF7, 0, 0, 0xFF, 0xD9]],
    );
    let e = decode("ls.dcm", &file_bytes(obj, JPEG_LS_LOSSLESS)).unwrap_err();
    match &e {
        ReadError::UnsupportedTransferSyntax { uid, name, .. } => {
            assert_eq!(uid, JPEG_LS_LOSSLESS);
            assert!(name.contains("JPEG-LS"), "{name}");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("ls.dcm"), "{e}");
}

#[test]
fn mismatched_or_broken_codestreams_are_errors() {
    // A JPEG larger than Rows x Columns says (the codec would write past its buffer).
    let px = Pixels::grey(24, 32, 8, 8);
    let big: Vec<u8> = vec![128; ROWS * COLS];
    let mut obj = px.object();
    put_encapsulated(&mut obj, vec![encode_jpeg_baseline(COLS, ROWS, &big, 90)]);
    let e = decode("big.dcm", &file_bytes(obj, JPEG_BASELINE)).unwrap_err();
    assert!(matches!(e, ReadError::Decode { .. }), "{e}");
    assert!(e.to_string().contains("64x48"), "{e}");

    // A JPEG frame cut before its end-of-image marker (the DICOM structure intact).
    let px8 = Pixels::grey(ROWS as u16, COLS as u16, 8, 8);
    let mut cut = encode_jpeg_baseline(COLS, ROWS, &vec![100; ROWS * COLS], 90);
    cut.truncate(cut.len() - 20);
    let mut obj = px8.object();
    put_encapsulated(&mut obj, vec![cut]);
    let e = decode("noeoi.dcm", &file_bytes(obj, JPEG_BASELINE)).unwrap_err();
    assert!(
        matches!(e, ReadError::Truncated { .. }) && e.to_string().contains("FFD9"),
        "{e}"
    );

    // 16-bit JPEG 2000 samples in an 8-bit header.
    let px8 = Pixels::grey(ROWS as u16, COLS as u16, 8, 8);
    let ints: Vec<i32> = gradient(ROWS, COLS, 60000)
        .iter()
        .map(|&v| v as i32)
        .collect();
    let mut obj = px8.object();
    put_encapsulated(
        &mut obj,
        vec![encode_j2k(COLS, ROWS, 16, false, &ints, true, 0.0)],
    );
    let e = decode("j2k8.dcm", &file_bytes(obj, J2K_LOSSLESS)).unwrap_err();
    assert!(matches!(e, ReadError::Decode { .. }), "{e}");

    // RLE header with an impossible segment count.
    let (px, samples) = grey12();
    let mut frame = encode_rle(COLS, &planes_u16(&samples));
    frame[0] = 9;
    let mut obj = px.object();
    put_encapsulated(&mut obj, vec![frame]);
    let e = decode("rlebad.dcm", &file_bytes(obj, RLE)).unwrap_err();
    assert!(
        matches!(e, ReadError::Decode { .. }) && e.to_string().contains("segments"),
        "{e}"
    );

    // Garbage after a valid DICM marker.
    let mut junk = vec![0u8; 128];
    junk.extend_from_slice(b"DICM");
    junk.extend((0..500u32).map(|i| (i * 37 % 251) as u8));
    let e = decode("junk.dcm", &junk).unwrap_err();
    assert!(e.to_string().contains("junk.dcm"), "{e}");
}

/// Corrupting bytes of compressed frames must give an image or an error, never a panic out
/// of the reader.
#[test]
fn corrupted_compressed_frames_never_panic() {
    let (px, samples) = grey12();
    let ints: Vec<i32> = samples.iter().map(|&v| v as i32).collect();
    let px8 = Pixels::grey(ROWS as u16, COLS as u16, 8, 8);
    let s8: Vec<u8> = samples.iter().map(|&v| (v >> 4) as u8).collect();
    let cases: Vec<(&Pixels, &str, Vec<u8>)> = vec![
        (&px, RLE, encode_rle(COLS, &planes_u16(&samples))),
        (
            &px,
            JPEG_LOSSLESS_SV1,
            encode_jpeg_lossless(COLS, ROWS, 12, &samples),
        ),
        (
            &px,
            J2K_LOSSLESS,
            encode_j2k(COLS, ROWS, 12, false, &ints, true, 0.0),
        ),
        (
            &px8,
            JPEG_BASELINE,
            encode_jpeg_baseline(COLS, ROWS, &s8, 90),
        ),
    ];
    for (pixels, ts, frame) in cases {
        let mut seed = 12345u64;
        for round in 0..40 {
            let mut bad = frame.clone();
            for _ in 0..(1 + round % 4) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let pos = (seed >> 33) as usize % bad.len();
                bad[pos] ^= (seed >> 20) as u8 | 1;
            }
            if round % 5 == 4 {
                bad.truncate(bad.len() * 2 / 3);
            }
            let mut obj = pixels.object();
            put_encapsulated(&mut obj, vec![bad]);
            let bytes = file_bytes(obj, ts);
            let outcome =
                std::panic::catch_unwind(|| decode("fuzz.dcm", &bytes).map(|r| r.image.data.len()));
            let result =
                outcome.unwrap_or_else(|_| panic!("{ts} round {round}: the reader panicked"));
            if let Err(e) = result {
                assert!(e.to_string().contains("fuzz.dcm"), "{e}");
            }
        }
    }
}
