//! DICOM reading, end to end: small DICOM files are built in memory for each transfer syntax
//! and header variant, written to bytes, and read back through
//! `boneage_imaging::io::decode_radiograph` (or `read_radiograph` on a temporary file).

mod common;

use boneage_core::Sex;
use boneage_imaging::io::{read_radiograph, Photometric, SourceFormat};
use common::*;
use dicom_core::value::Value;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

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
