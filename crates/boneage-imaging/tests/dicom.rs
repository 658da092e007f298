//! DICOM reading, end to end: small DICOM files are built in memory for each transfer syntax
//! and header variant, written to bytes, and read back through
//! `boneage_imaging::io::decode_radiograph` (or `read_radiograph` on a temporary file).

mod common;

use boneage_core::Sex;
use boneage_imaging::io::{read_radiograph, Photometric, ReadError, SourceFormat};
use common::*;
use dicom_core::value::Value;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

const ROWS: usize = 48;
const COLS: usize = 64;

/// The expected full-range output for `samples`: min..max to 0..1.
fn full_range(samples: &[f64]) -> Vec<f32> {
    let lo = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    samples
        .iter()
        .map(|&v| ((v - lo) / (hi - lo)) as f32)
        .collect()
}

fn as_f64(samples: &[u16]) -> Vec<f64> {
    samples.iter().map(|&v| v as f64).collect()
}

/// A 12-bit gradient in a 16-bit container, with a few overlay bits above HighBit.
fn grey12() -> (Pixels, Vec<u16>) {
    (
        Pixels::grey(ROWS as u16, COLS as u16, 16, 12),
        gradient(ROWS, COLS, 4095),
    )
}

#[test]
fn uncompressed_syntaxes_read_the_same_pixels() {
    let (px, samples) = grey12();
    let expected = full_range(&as_f64(&samples));
    for ts in [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE, DEFLATED_LE] {
        let mut obj = px.object();
        put_native_u16(&mut obj, &samples);
        let bytes = file_bytes(obj, ts);
        let r = decode("g.dcm", &bytes).unwrap_or_else(|e| panic!("{ts}: {e}"));
        assert_eq!((r.image.width, r.image.height), (COLS, ROWS), "{ts}");
        assert_eq!(r.meta.format, SourceFormat::Dicom);
        assert_eq!(r.meta.bit_depth, 12, "BitsStored");
        assert_eq!(r.meta.photometric, Photometric::Monochrome2);
        assert_eq!(r.meta.transfer_syntax.as_deref(), Some(ts));
        assert!(max_abs_diff(&r.image.data, &expected) < 1e-6, "{ts}");
        assert_eq!(r.image.get(0, 0), 0.0);
        assert_eq!(r.image.get(COLS - 1, ROWS - 1), 1.0);
        assert!(r.meta.warnings.is_empty(), "{ts}: {:?}", r.meta.warnings);
    }
}

#[test]
fn bits_above_high_bit_are_ignored() {
    let (px, samples) = grey12();
    let mut dirty = samples.clone();
    for v in dirty.iter_mut().step_by(7) {
        *v |= 0x8000; // an overlay bit in the unused high bits
    }
    let mut obj = px.object();
    put_native_u16(&mut obj, &dirty);
    let r = decode("o.dcm", &file_bytes(obj, EXPLICIT_LE)).unwrap();
    assert!(max_abs_diff(&r.image.data, &full_range(&as_f64(&samples))) < 1e-6);
}

#[test]
fn file_without_preamble_and_bare_data_set() {
    let (px, samples) = grey12();
    let expected = full_range(&as_f64(&samples));
    for ts in [EXPLICIT_LE, IMPLICIT_LE] {
        let mut obj = px.object();
        put_native_u16(&mut obj, &samples);
        let bytes = file_bytes(obj, ts);

        // "DICM" + meta group + data set, no 128-byte preamble.
        let r = decode("np.dcm", &bytes[128..]).unwrap_or_else(|e| panic!("{ts}: {e}"));
        assert!(max_abs_diff(&r.image.data, &expected) < 1e-6);
        assert!(r.meta.warnings.is_empty());

        // The data set alone, as old exports write it.
        let bare = &bytes[dataset_offset(&bytes)..];
        let r = decode("bare.dcm", bare).unwrap_or_else(|e| panic!("{ts} bare: {e}"));
        assert!(max_abs_diff(&r.image.data, &expected) < 1e-6, "{ts} bare");
        assert!(
            r.meta
                .warnings
                .iter()
                .any(|w| w.contains("bare") && w.contains("bare.dcm")),
            "{:?}",
            r.meta.warnings
        );
    }
}

/// Odd-sized 8-bit pixel data (padded), and elements after Pixel Data (which make the reader
/// parse the whole file instead of borrowing the pixel bytes).
#[test]
fn odd_sizes_and_elements_after_pixel_data() {
    let (rows, cols) = (7usize, 5usize);
    let px = Pixels::grey(rows as u16, cols as u16, 8, 8);
    let samples: Vec<u8> = (0..rows * cols).map(|i| (i * 7) as u8).collect();
    let expected = full_range(&samples.iter().map(|&v| v as f64).collect::<Vec<_>>());
    for trailing in [false, true] {
        for ts in [EXPLICIT_LE, IMPLICIT_LE] {
            let mut obj = px.object();
            put_native_u8(&mut obj, &samples);
            if trailing {
                // Data Set Trailing Padding.
                obj.put(DataElement::new(
                    dicom_core::Tag(0xFFFC, 0xFFFC),
                    VR::OB,
                    PrimitiveValue::U8([0u8; 6].into_iter().collect()),
                ));
            }
            let r = decode("odd.dcm", &file_bytes(obj, ts)).unwrap();
            assert_eq!((r.image.width, r.image.height), (cols, rows));
            assert!(
                max_abs_diff(&r.image.data, &expected) < 1e-6,
                "{ts} trailing {trailing}"
            );
        }
    }
}

#[test]
fn read_radiograph_reads_a_file_on_disk() {
    let (px, samples) = grey12();
    let mut obj = px.object();
    put_native_u16(&mut obj, &samples);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hand.dcm");
    std::fs::write(&path, file_bytes(obj, EXPLICIT_LE)).unwrap();
    let r = read_radiograph(&path).unwrap();
    assert_eq!(r.meta.source, path);
    assert_eq!(r.image.get(COLS - 1, ROWS - 1), 1.0);
}

#[test]
fn monochrome1_is_inverted() {
    let (mut px, samples) = grey12();
    px.photometric = "MONOCHROME1";
    let mut obj = px.object();
    put_native_u16(&mut obj, &samples);
    let r = decode("m1.dcm", &file_bytes(obj, EXPLICIT_LE)).unwrap();
    assert_eq!(r.meta.photometric, Photometric::Monochrome1);
    let expected: Vec<f32> = full_range(&as_f64(&samples))
        .iter()
        .map(|v| 1.0 - v)
        .collect();
    assert!(max_abs_diff(&r.image.data, &expected) < 1e-6);
    assert_eq!(
        r.image.get(0, 0),
        1.0,
        "lowest stored value is white in MONOCHROME1"
    );
}

#[test]
fn rescale_then_first_window_is_applied() {
    let (px, samples) = grey12();
    let mut obj = px.object();
    put_str(&mut obj, tags::RESCALE_SLOPE, VR::DS, "2");
    put_str(&mut obj, tags::RESCALE_INTERCEPT, VR::DS, "-1000");
    // Two windows; the first is used.
    put_str(&mut obj, tags::WINDOW_CENTER, VR::DS, "2000\\500");
    put_str(&mut obj, tags::WINDOW_WIDTH, VR::DS, "2001\\100");
    put_native_u16(&mut obj, &samples);
    let r = decode("w.dcm", &file_bytes(obj, EXPLICIT_LE)).unwrap();
    // DICOM linear window, c = 2000, w = 2001: 0 at or below 999.5, 1 above 2999.5.
    let expected: Vec<f32> = samples
        .iter()
        .map(|&v| {
            let m = 2.0 * v as f64 - 1000.0;
            let y = if m <= 999.5 {
                0.0
            } else if m > 2999.5 {
                1.0
            } else {
                (m - 1999.5) / 2000.0 + 0.5
            };
            y as f32
        })
        .collect();
    assert!(max_abs_diff(&r.image.data, &expected) < 1e-5);
    assert_eq!(r.image.get(0, 0), 0.0);
    assert_eq!(r.image.get(COLS - 1, ROWS - 1), 1.0);
    assert!(
        r.image.data.iter().any(|&v| v > 0.2 && v < 0.8),
        "window has a ramp"
    );
}

#[test]
fn rescale_without_window_maps_the_modality_range() {
    let (px, samples) = grey12();
    let mut obj = px.object();
    put_str(&mut obj, tags::RESCALE_SLOPE, VR::DS, "-1.5");
    put_str(&mut obj, tags::RESCALE_INTERCEPT, VR::DS, "100");
    put_native_u16(&mut obj, &samples);
    let r = decode("s.dcm", &file_bytes(obj, EXPLICIT_LE)).unwrap();
    let modality: Vec<f64> = samples.iter().map(|&v| -1.5 * v as f64 + 100.0).collect();
    assert!(max_abs_diff(&r.image.data, &full_range(&modality)) < 1e-6);
    assert_eq!(r.image.get(0, 0), 1.0, "negative slope flips the ramp");
}

#[test]
fn voi_lut_sequence_is_applied() {
    let (px, samples) = grey12();
    let mut obj = px.object();
    let lut: Vec<u16> = (0..4096u32)
        .map(|i| ((i * i) / 256).min(65535) as u16)
        .collect();
    let mut item = InMemDicomObject::new_empty();
    item.put(DataElement::new(
        tags::LUT_DESCRIPTOR,
        VR::US,
        PrimitiveValue::U16([4096u16, 0, 16].into_iter().collect()),
    ));
    item.put(DataElement::new(
        tags::LUT_DATA,
        VR::OW,
        PrimitiveValue::U16(lut.iter().copied().collect()),
    ));
    obj.put(DataElement::new(
        tags::VOILUT_SEQUENCE,
        VR::SQ,
        Value::new_sequence(vec![item], dicom_core::Length::UNDEFINED),
    ));
    put_native_u16(&mut obj, &samples);
    let r = decode("lut.dcm", &file_bytes(obj, EXPLICIT_LE)).unwrap();
    let expected: Vec<f32> = samples
        .iter()
        .map(|&v| lut[v as usize] as f32 / 65535.0)
        .collect();
    assert!(max_abs_diff(&r.image.data, &expected) < 1e-6);
}

#[test]
fn signed_samples_are_sign_extended() {
    // 12 bits stored, signed, written without sign extension in the container's top bits.
    let mut px = Pixels::grey(ROWS as u16, COLS as u16, 16, 12);
    px.signed = true;
    let values: Vec<i32> = gradient(ROWS, COLS, 4000)
        .iter()
        .map(|&v| v as i32 - 2048)
        .collect();
    let stored: Vec<u16> = values.iter().map(|&v| (v as u16) & 0x0FFF).collect();
    let mut obj = px.object();
    put_native_u16(&mut obj, &stored);
    let r = decode("s12.dcm", &file_bytes(obj, EXPLICIT_LE)).unwrap();
    let expected = full_range(&values.iter().map(|&v| v as f64).collect::<Vec<_>>());
    assert!(max_abs_diff(&r.image.data, &expected) < 1e-6);
    assert_eq!(r.image.get(0, 0), 0.0, "-2048 is the darkest");

    // 16 bits stored, signed.
    let mut px = Pixels::grey(ROWS as u16, COLS as u16, 16, 16);
    px.signed = true;
    let values: Vec<i32> = gradient(ROWS, COLS, 40000)
        .iter()
        .map(|&v| v as i32 - 30000)
        .collect();
    let stored: Vec<u16> = values.iter().map(|&v| v as i16 as u16).collect();
    let mut obj = px.object();
    put_native_u16(&mut obj, &stored);
    let r = decode("s16.dcm", &file_bytes(obj, EXPLICIT_LE)).unwrap();
    assert_eq!(r.meta.bit_depth, 16);
    let expected = full_range(&values.iter().map(|&v| v as f64).collect::<Vec<_>>());
    assert!(max_abs_diff(&r.image.data, &expected) < 1e-6);
}

#[test]
fn eight_bit_native() {
    let px = Pixels::grey(ROWS as u16, COLS as u16, 8, 8);
    let samples: Vec<u8> = gradient(ROWS, COLS, 200)
        .iter()
        .map(|&v| v as u8 + 20)
        .collect();
    let mut obj = px.object();
    put_native_u8(&mut obj, &samples);
    let r = decode("e.dcm", &file_bytes(obj, EXPLICIT_LE)).unwrap();
    assert_eq!(r.meta.bit_depth, 8);
    let expected = full_range(&samples.iter().map(|&v| v as f64).collect::<Vec<_>>());
    assert!(max_abs_diff(&r.image.data, &expected) < 1e-6);
}

#[test]
fn multi_frame_keeps_the_first_frame() {
    let (px, samples) = grey12();
    let mut obj = px.object();
    put_str(&mut obj, tags::NUMBER_OF_FRAMES, VR::IS, "2");
    let mut both = samples.clone();
    both.extend(std::iter::repeat_n(4095u16, samples.len()));
    put_native_u16(&mut obj, &both);
    let r = decode("mf.dcm", &file_bytes(obj, EXPLICIT_LE)).unwrap();
    assert!(max_abs_diff(&r.image.data, &full_range(&as_f64(&samples))) < 1e-6);
    assert!(
        r.meta
            .warnings
            .iter()
            .any(|w| w.contains("2 frames") && w.contains("first frame")),
        "{:?}",
        r.meta.warnings
    );
}

#[test]
fn rgb_is_reduced_to_grey_with_a_warning() {
    let px = Pixels {
        photometric: "RGB",
        samples_per_pixel: 3,
        ..Pixels::grey(2, 2, 8, 8)
    };
    let rgb: [[u8; 3]; 4] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [100, 100, 100]];
    let expected: Vec<f32> = rgb
        .iter()
        .map(|p| (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0)
        .collect();
    // Interleaved (PlanarConfiguration 0) and planar (1).
    for planar in [false, true] {
        let mut obj = px.object();
        let samples: Vec<u8> = if planar {
            put_us(&mut obj, tags::PLANAR_CONFIGURATION, 1);
            (0..3).flat_map(|c| rgb.iter().map(move |p| p[c])).collect()
        } else {
            rgb.iter().flatten().copied().collect()
        };
        put_native_u8(&mut obj, &samples);
        let r = decode("rgb.dcm", &file_bytes(obj, EXPLICIT_LE)).unwrap();
        assert_eq!(r.meta.photometric, Photometric::Rgb);
        assert!(
            max_abs_diff(&r.image.data, &expected) < 1e-5,
            "planar {planar}: {:?}",
            r.image.data
        );
        assert!(
            r.meta
                .warnings
                .iter()
                .any(|w| w.contains("rgb.dcm") && w.contains("grey")),
            "{:?}",
            r.meta.warnings
        );
    }
}

#[test]
fn header_fields_sex_age_spacing() {
    let (px, samples) = grey12();
    let read = |edit: &dyn Fn(&mut InMemDicomObject)| {
        let mut obj = px.object();
        edit(&mut obj);
        put_native_u16(&mut obj, &samples);
        decode("h.dcm", &file_bytes(obj, EXPLICIT_LE)).unwrap()
    };

    let r = read(&|o| {
        put_str(o, tags::PATIENT_SEX, VR::CS, "M");
        put_str(o, tags::PATIENT_AGE, VR::AS, "010Y");
        put_str(o, tags::PIXEL_SPACING, VR::DS, "0.1\\0.125");
        put_str(o, tags::IMAGER_PIXEL_SPACING, VR::DS, "0.2\\0.2");
    });
    assert_eq!(r.meta.sex, Some(Sex::Male));
    assert_eq!(r.meta.age_months, Some(120.0));
    assert_eq!(
        r.meta.pixel_spacing_mm,
        Some([0.1, 0.125]),
        "PixelSpacing wins"
    );
    assert!(r.meta.warnings.is_empty(), "{:?}", r.meta.warnings);

    let r = read(&|o| {
        put_str(o, tags::PATIENT_SEX, VR::CS, "F");
        put_str(o, tags::PATIENT_AGE, VR::AS, "018M");
        put_str(o, tags::IMAGER_PIXEL_SPACING, VR::DS, "0.139\\0.139");
    });
    assert_eq!(r.meta.sex, Some(Sex::Female));
    assert_eq!(r.meta.age_months, Some(18.0));
    assert_eq!(r.meta.pixel_spacing_mm, Some([0.139, 0.139]));

    let r = read(&|o| {
        put_str(o, tags::PATIENT_AGE, VR::AS, "004W");
        put_str(o, tags::PATIENT_SEX, VR::CS, "O");
    });
    assert_eq!(r.meta.sex, None);
    assert!((r.meta.age_months.unwrap() - 28.0 / 30.4375).abs() < 1e-9);

    let r = read(&|o| put_str(o, tags::PATIENT_AGE, VR::AS, "045D"));
    assert!((r.meta.age_months.unwrap() - 45.0 / 30.4375).abs() < 1e-9);
    assert_eq!((r.meta.sex, r.meta.pixel_spacing_mm), (None, None));

    // Birth and study dates are day-exact and win over the whole years of PatientAge.
    let r = read(&|o| {
        put_str(o, tags::PATIENT_AGE, VR::AS, "010Y");
        put_str(o, tags::PATIENT_BIRTH_DATE, VR::DA, "20100115");
        put_str(o, tags::STUDY_DATE, VR::DA, "20200715");
    });
    assert!(
        (r.meta.age_months.unwrap() - 3834.0 / 30.4375).abs() < 1e-9,
        "{:?}",
        r.meta.age_months
    );

    // A malformed PatientAge is a warning; the dates give the age.
    let r = read(&|o| {
        put_str(o, tags::PATIENT_AGE, VR::AS, "ten");
        put_str(o, tags::PATIENT_BIRTH_DATE, VR::DA, "20100115");
        put_str(o, tags::STUDY_DATE, VR::DA, "20200115");
    });
    let days = 3652.0; // 2010-01-15 .. 2020-01-15 (three leap days)
    assert!((r.meta.age_months.unwrap() - days / 30.4375).abs() < 1e-9);
    assert!(
        r.meta
            .warnings
            .iter()
            .any(|w| w.contains("PatientAge") && w.contains("h.dcm")),
        "{:?}",
        r.meta.warnings
    );

    // No StudyDate: AcquisitionDate, then ContentDate.
    let r = read(&|o| {
        put_str(o, tags::PATIENT_BIRTH_DATE, VR::DA, "20200101");
        put_str(o, tags::CONTENT_DATE, VR::DA, "20200131");
    });
    assert!((r.meta.age_months.unwrap() - 30.0 / 30.4375).abs() < 1e-9);

    // Garbage everywhere: warnings, no error.
    let r = read(&|o| {
        put_str(o, tags::PATIENT_SEX, VR::CS, "X");
        put_str(o, tags::PATIENT_BIRTH_DATE, VR::DA, "2010-13-45");
        put_str(o, tags::STUDY_DATE, VR::DA, "20200115");
        put_str(o, tags::PIXEL_SPACING, VR::DS, "0\\0");
    });
    assert_eq!(
        (r.meta.sex, r.meta.age_months, r.meta.pixel_spacing_mm),
        (None, None, None)
    );
    assert_eq!(r.meta.warnings.len(), 3, "{:?}", r.meta.warnings);
}

// ---------------------------------------------------------------------------------------------
// Compressed transfer syntaxes
// ---------------------------------------------------------------------------------------------

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
