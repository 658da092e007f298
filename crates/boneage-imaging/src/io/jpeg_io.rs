//! JPEG reading (8-bit grey or RGB) with the quality it was saved at, and writing.

use super::{rgb_to_gray, Photometric, Radiograph, RadiographMeta, ReadError, SourceFormat};
use crate::gray::GrayImage;
use std::path::Path;

pub(super) fn decode_jpeg(path: &Path, bytes: &[u8]) -> Result<Radiograph, ReadError> {
    use image::ImageDecoder;
    let decode_err = |e: image::ImageError| {
        let detail = e.to_string();
        let lower = detail.to_ascii_lowercase();
        if lower.contains("eof")
            || lower.contains("end of")
            || lower.contains("exhausted")
            || lower.contains("truncat")
        {
            ReadError::Truncated {
                path: path.to_path_buf(),
                format: SourceFormat::Jpeg,
                detail,
            }
        } else {
            ReadError::Decode {
                path: path.to_path_buf(),
                format: SourceFormat::Jpeg,
                detail,
            }
        }
    };
    // A JPEG must end with an EOI marker; decoders pad a cut-off stream with grey, which
    // would silently hide a broken file.
    let trimmed = {
        let mut end = bytes.len();
        while end > 0 && bytes[end - 1] == 0 {
            end -= 1;
        }
        &bytes[..end]
    };
    if !trimmed.ends_with(&[0xFF, 0xD9]) {
        return Err(ReadError::Truncated {
            path: path.to_path_buf(),
            format: SourceFormat::Jpeg,
            detail: "no end-of-image marker (FFD9)".to_string(),
        });
    }
    let decoder =
        image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(bytes)).map_err(decode_err)?;
    let (w, h) = decoder.dimensions();
    let (width, height) = (w as usize, h as usize);
    if width == 0 || height == 0 {
        return Err(ReadError::ZeroSize {
            path: path.to_path_buf(),
            width,
            height,
        });
    }
    let color = decoder.color_type();
    crate::limits::check_image_size(w as u64, h as u64, color.channel_count() as u64).map_err(
        |detail| ReadError::OverLimit {
            path: path.to_path_buf(),
            format: SourceFormat::Jpeg,
            detail,
        },
    )?;
    let mut buf = vec![0u8; decoder.total_bytes() as usize];
    decoder.read_image(&mut buf).map_err(decode_err)?;
    let mut meta = RadiographMeta::new(path, SourceFormat::Jpeg, 8, Photometric::Monochrome2);
    meta.jpeg_quality = jpeg_quality(bytes);
    let data = match color {
        image::ColorType::L8 => buf.iter().map(|&v| v as f32 / 255.0).collect(),
        image::ColorType::Rgb8 => {
            meta.photometric = Photometric::Rgb;
            rgb_to_gray(path, &buf, 3, 255.0, &mut meta.warnings, |c| c as f32)
        }
        other => {
            return Err(ReadError::UnsupportedPixels {
                path: path.to_path_buf(),
                detail: format!("JPEG colour type {other:?}"),
            })
        }
    };
    Ok(Radiograph {
        image: GrayImage::from_vec(width, height, data),
        meta,
    })
}

/// Encodes a grey image as an 8-bit baseline JPEG of the given quality (1–100, IJG scale):
/// what a viewer's "save as JPEG" makes of a radiograph, for tests and the stress test.
pub fn encode_jpeg_gray8(img: &GrayImage, quality: u8) -> Result<Vec<u8>, image::ImageError> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality.clamp(1, 100)).encode(
        &img.to_u8(),
        img.width as u32,
        img.height as u32,
        image::ExtendedColorType::L8,
    )?;
    Ok(bytes)
}

/// The IJG's luminance quantisation table at quality 50 (JPEG standard, Annex K), row by row.
const IJG_LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// Where the `i`-th value of a DQT segment (zigzag order) lies in the 8x8 block, row by row.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The quality a JPEG was saved at, read from its first luminance quantisation table (table 0
/// of the DQT segments before the first scan): the mean scale of that table against the IJG
/// table, over the entries the encoder did not clamp to 1 or 255, turned back into the IJG's
/// 1–100 quality. `None` when the stream has no such table. A radiograph saved at a very low
/// quality has lost the fine edges of its bones (the quality gate's limit).
pub fn jpeg_quality(bytes: &[u8]) -> Option<u32> {
    let mut i = 2; // after SOI
    if bytes.get(..2) != Some(&[0xFF, 0xD8][..]) {
        return None;
    }
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            i += 2;
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        let end = (i + 2 + len).min(bytes.len());
        if marker == 0xDB {
            let mut j = i + 4;
            while j < end {
                let (precision, table) = (bytes[j] >> 4, bytes[j] & 0x0F);
                let n = if precision == 0 { 64 } else { 128 };
                let values = bytes.get(j + 1..j + 1 + n)?;
                if table == 0 {
                    let mut q = [0u16; 64];
                    for (k, &at) in ZIGZAG.iter().enumerate() {
                        q[at] = if precision == 0 {
                            values[k] as u16
                        } else {
                            u16::from_be_bytes([values[2 * k], values[2 * k + 1]])
                        };
                    }
                    return quality_of_table(&q);
                }
                j += 1 + n;
            }
        }
        i += 2 + len;
    }
    None
}

/// The IJG quality whose scaling of [`IJG_LUMA`] gives `q` (natural order).
fn quality_of_table(q: &[u16; 64]) -> Option<u32> {
    let ratios: Vec<f64> = q
        .iter()
        .zip(&IJG_LUMA)
        .filter(|(&v, _)| v > 1 && v < 255)
        .map(|(&v, &base)| v as f64 * 100.0 / base as f64)
        .collect();
    let scale = if ratios.is_empty() {
        // Every entry clamped: all 1 (quality near 100) or all 255 (near 1).
        if q.iter().all(|&v| v <= 1) {
            return Some(100);
        }
        return Some(1);
    } else {
        ratios.iter().sum::<f64>() / ratios.len() as f64
    };
    let quality = if scale <= 100.0 {
        (200.0 - scale) / 2.0
    } else {
        5000.0 / scale
    };
    Some(quality.round().clamp(1.0, 100.0) as u32)
}

#[cfg(test)]
mod tests {
    use super::super::decode_radiograph;
    use super::*;

    #[test]
    fn jpeg_grey_and_truncated() {
        let mut img = image::GrayImage::new(32, 24);
        for (x, y, p) in img.enumerate_pixels_mut() {
            p.0[0] = (x * 7 + y) as u8;
        }
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95)
            .encode_image(&img)
            .unwrap();
        let r = decode_radiograph(Path::new("a.jpg"), &bytes).unwrap();
        assert_eq!((r.image.width, r.image.height), (32, 24));
        assert_eq!(r.meta.format, SourceFormat::Jpeg);
        let v = r.image.get(16, 10) * 255.0;
        assert!((v - (16.0 * 7.0 + 10.0)).abs() < 6.0, "{v}");
        let cut = &bytes[..bytes.len() / 2];
        let e = decode_radiograph(Path::new("cut.jpg"), cut).unwrap_err();
        assert!(matches!(e, ReadError::Truncated { .. }), "{e}");
        assert!(e.to_string().contains("cut.jpg"), "{e}");
    }

    #[test]
    fn a_jpegs_quality_is_read_from_its_quantisation_table() {
        let mut img = image::GrayImage::new(64, 48);
        for (x, y, p) in img.enumerate_pixels_mut() {
            p.0[0] = ((x * 13 + y * 7) % 251) as u8;
        }
        for quality in [3u8, 8, 15, 30, 50, 75, 90] {
            let mut bytes = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
                .encode_image(&img)
                .unwrap();
            let read = jpeg_quality(&bytes).expect("a table");
            assert!(read.abs_diff(quality as u32) <= 1, "{quality}: {read}");
            let r = decode_radiograph(Path::new("q.jpg"), &bytes).unwrap();
            assert_eq!(r.meta.jpeg_quality, Some(read));
        }
        assert_eq!(jpeg_quality(b"not a jpeg"), None);
        assert_eq!(jpeg_quality(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]), None);
    }
}
