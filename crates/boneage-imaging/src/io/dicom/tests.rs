use super::*;

#[test]
fn age_strings() {
    assert_eq!(parse_age_string("010Y"), Some(120.0));
    assert_eq!(parse_age_string("018M"), Some(18.0));
    assert!((parse_age_string("004W").unwrap() - 28.0 / DAYS_PER_MONTH).abs() < 1e-12);
    assert!((parse_age_string("045D").unwrap() - 45.0 / DAYS_PER_MONTH).abs() < 1e-12);
    for bad in ["", "Y", "12", "1234Y", "1.5Y", "01X", "ten Y"] {
        assert_eq!(parse_age_string(bad), None, "{bad}");
    }
}

#[test]
fn dates() {
    assert_eq!(parse_da("20200229"), Some((2020, 2, 29)));
    assert_eq!(parse_da("2019.02.29"), None);
    assert_eq!(parse_da("2019.03.01"), Some((2019, 3, 1)));
    assert_eq!(days_from_civil((1970, 1, 1)), 0);
    assert_eq!(
        days_from_civil((2000, 3, 1)) - days_from_civil((2000, 2, 28)),
        2
    );
    assert_eq!(
        days_from_civil((2024, 1, 1)) - days_from_civil((2023, 1, 1)),
        365
    );
}

#[test]
fn linear_window_matches_the_standard() {
    let w = Voi::Window {
        center: 100.0,
        width: 51.0,
        function: VoiFunction::Linear,
    };
    // Edges at c - 0.5 -/+ (w - 1) / 2 = 74.5 and 124.5.
    assert_eq!(w.apply(74.5, 0.0, 0.0), 0.0);
    assert_eq!(w.apply(125.0, 0.0, 0.0), 1.0);
    assert!((w.apply(99.5, 0.0, 0.0) - 0.5).abs() < 1e-12);
}

/// The affine fast path and the table path agree wherever both apply.
#[test]
fn affine_path_matches_lut_path() {
    let layout = |bits_stored: u32, high_bit: u32, signed: bool, photometric: &str| PixelLayout {
        rows: 40,
        cols: 50,
        samples_per_pixel: 1,
        bits_allocated: 16,
        bits_stored,
        high_bit,
        signed,
        planar: false,
        photometric: photometric.to_string(),
    };
    let raw: Vec<u16> = (0..2000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 7) as u16)
        .collect();
    let samples = Samples::U16(Cow::Borrowed(&raw));
    let window = |center, width, function| Voi::Window {
        center,
        width,
        function,
    };
    let cases = [
        (
            layout(12, 11, false, "MONOCHROME2"),
            1.0,
            0.0,
            Voi::FullRange,
        ),
        (
            layout(12, 13, false, "MONOCHROME1"),
            -2.5,
            300.0,
            Voi::FullRange,
        ),
        (
            layout(16, 15, true, "MONOCHROME2"),
            0.5,
            -1024.0,
            Voi::FullRange,
        ),
        (
            layout(10, 9, true, "MONOCHROME1"),
            1.0,
            0.0,
            window(0.0, 300.0, VoiFunction::Linear),
        ),
        (
            layout(12, 11, false, "MONOCHROME2"),
            2.0,
            -1000.0,
            window(2000.0, 2001.0, VoiFunction::Linear),
        ),
        (
            layout(14, 15, false, "MONOCHROME2"),
            1.0,
            0.0,
            window(8000.0, 4000.0, VoiFunction::LinearExact),
        ),
    ];
    for (i, (layout, slope, intercept, voi)) in cases.into_iter().enumerate() {
        let shift = layout.high_bit + 1 - layout.bits_stored;
        let t = GreyTransforms {
            modality: Modality::Rescale { slope, intercept },
            voi,
        };
        let mut w = Vec::new();
        let fast = affine_grey_pixels(
            Path::new("t"),
            &samples,
            raw.len(),
            &layout,
            shift,
            &t,
            &mut w,
        )
        .expect("affine case");
        let slow = lut_grey_pixels(
            Path::new("t"),
            &samples,
            raw.len(),
            &layout,
            shift,
            &t,
            &mut w,
        );
        let err = fast
            .iter()
            .zip(&slow)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 2e-6, "case {i}: max difference {err}");
        assert!(w.is_empty(), "{w:?}");
    }
}

#[test]
fn lut_only_cases() {
    let layout = PixelLayout {
        rows: 1,
        cols: 5,
        samples_per_pixel: 1,
        bits_allocated: 16,
        bits_stored: 12,
        high_bit: 11,
        signed: false,
        planar: false,
        photometric: "MONOCHROME2".to_string(),
    };
    let raw: Vec<u16> = vec![0, 1, 2, 3, 4];
    let samples = Samples::U16(Cow::Borrowed(&raw));
    let run = |t: GreyTransforms| {
        assert!(
            affine_grey_pixels(Path::new("t"), &samples, 5, &layout, 0, &t, &mut Vec::new())
                .is_none()
        );
        grey_pixels(Path::new("t"), &samples, 5, &layout, 0, &t, &mut Vec::new())
    };
    // A modality LUT (reversed), then full range.
    let lut = Lut {
        first_mapped: 1,
        entries: vec![30.0, 20.0, 10.0],
        bits: 16,
    };
    let out = run(GreyTransforms {
        modality: Modality::Lut(lut),
        voi: Voi::FullRange,
    });
    assert_eq!(out, vec![1.0, 1.0, 0.5, 0.0, 0.0]);
    // A window of width 1 is a threshold at c - 0.5.
    let out = run(GreyTransforms {
        modality: Modality::Rescale {
            slope: 1.0,
            intercept: 0.0,
        },
        voi: Voi::Window {
            center: 2.0,
            width: 1.0,
            function: VoiFunction::Linear,
        },
    });
    assert_eq!(out, vec![0.0, 0.0, 1.0, 1.0, 1.0]);
    // Sigmoid: 0.5 at the centre.
    let out = run(GreyTransforms {
        modality: Modality::Rescale {
            slope: 1.0,
            intercept: 0.0,
        },
        voi: Voi::Window {
            center: 2.0,
            width: 4.0,
            function: VoiFunction::Sigmoid,
        },
    });
    assert!(
        (out[2] - 0.5).abs() < 1e-6 && out[0] < out[1] && out[3] < out[4],
        "{out:?}"
    );
}

fn file_bytes(obj: InMemDicomObject, ts: &str) -> Vec<u8> {
    let mut out = Vec::new();
    obj.with_meta(FileMetaTableBuilder::new().transfer_syntax(ts))
        .unwrap()
        .write_all(&mut out)
        .unwrap();
    out
}

fn image(rows: u16, cols: u16, pixels: &[u8]) -> InMemDicomObject {
    let mut obj = InMemDicomObject::new_empty();
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    obj.put(DataElement::new(
        tags::SOP_CLASS_UID,
        VR::UI,
        PrimitiveValue::from("1.2.840.10008.5.1.4.1.1.7"),
    ));
    obj.put(DataElement::new(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        PrimitiveValue::from("2.25.1"),
    ));
    obj.put(us(tags::ROWS, rows));
    obj.put(us(tags::COLUMNS, cols));
    obj.put(us(tags::BITS_ALLOCATED, 8));
    obj.put(us(tags::BITS_STORED, 8));
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::U8(pixels.iter().copied().collect()),
    ));
    obj
}

/// Pixel data that ends the file is borrowed; anything after it means a full parse.
#[test]
fn native_pixels_are_borrowed_only_when_they_end_the_file() {
    let pixels: Vec<u8> = (0..15).collect(); // 5x3, padded to 16 by the writer
    let mut padded = pixels.clone();
    padded.push(0);
    for ts in [EXPLICIT_VR_LE, IMPLICIT_VR_LE] {
        let bytes = file_bytes(image(3, 5, &padded), ts);
        let (obj, native) = parse_object(Path::new("a.dcm"), &bytes, &mut Vec::new()).unwrap();
        assert_eq!(native, Some(&pixels[..]), "{ts}");
        assert!(obj.get(tags::PIXEL_DATA).is_none());

        let mut obj = image(3, 5, &padded);
        obj.put(DataElement::new(
            Tag(0xFFFC, 0xFFFC),
            VR::OB,
            PrimitiveValue::U8([0u8; 4].into_iter().collect()),
        ));
        let bytes = file_bytes(obj, ts);
        let (obj, native) = parse_object(Path::new("b.dcm"), &bytes, &mut Vec::new()).unwrap();
        assert_eq!(native, None, "{ts}");
        assert!(obj.get(tags::PIXEL_DATA).is_some());
    }
}

#[test]
fn codestream_sizes() {
    // SOI, APP0 (len 4), SOF0 with height 3 and width 5.
    let jpeg = [
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x0B, 8, 0, 3, 0, 5, 1,
        1, 0x11, 0,
    ];
    let info = |width, height, components, precision| CodestreamInfo {
        width,
        height,
        components,
        precision,
    };
    assert_eq!(jpeg_frame_size(&jpeg), Some(info(5, 3, 1, 8)));
    assert_eq!(jpeg_frame_size(&jpeg[..10]), None);
    let mut j2k = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
    for v in [7u32, 9, 2, 1, 7, 9, 0, 0] {
        j2k.extend_from_slice(&v.to_be_bytes());
    }
    j2k.extend_from_slice(&[0, 1, 15, 1, 1]);
    assert_eq!(j2k_frame_size(&j2k), Some(info(5, 8, 1, 16)));
}
