//! PNG reading (8/16-bit grey, grey+alpha, palette, RGB/RGBA, low bit depths) and writing.

use super::{
    rgb_to_gray, write_atomic, Photometric, Radiograph, RadiographMeta, ReadError, SourceFormat,
};
use crate::gray::GrayImage;
use std::path::Path;

pub(super) fn decode_png(path: &Path, bytes: &[u8]) -> Result<Radiograph, ReadError> {
    let err = |e: png::DecodingError| {
        let truncated = match &e {
            png::DecodingError::IoError(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
            png::DecodingError::Format(f) => {
                let s = f.to_string().to_ascii_lowercase();
                s.contains("eof")
                    || s.contains("end of")
                    || s.contains("truncat")
                    || s.contains("premature")
            }
            _ => false,
        };
        if truncated {
            ReadError::Truncated {
                path: path.to_path_buf(),
                format: SourceFormat::Png,
                detail: e.to_string(),
            }
        } else {
            ReadError::Decode {
                path: path.to_path_buf(),
                format: SourceFormat::Png,
                detail: e.to_string(),
            }
        }
    };
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(err)?;
    let info = reader.info();
    let (width, height) = (info.width as usize, info.height as usize);
    if width == 0 || height == 0 {
        return Err(ReadError::ZeroSize {
            path: path.to_path_buf(),
            width,
            height,
        });
    }
    let src_color = info.color_type;
    let src_depth = info.bit_depth as u8;
    crate::limits::check_image_size(width as u64, height as u64, src_color.samples() as u64)
        .map_err(|detail| ReadError::OverLimit {
            path: path.to_path_buf(),
            format: SourceFormat::Png,
            detail,
        })?;
    let mut buf = vec![0u8; reader.output_buffer_size()];
    reader.next_frame(&mut buf).map_err(err)?;
    let (color, depth) = reader.output_color_type();
    let photometric = match src_color {
        png::ColorType::Grayscale => Photometric::Monochrome2,
        png::ColorType::GrayscaleAlpha => Photometric::GrayAlpha,
        png::ColorType::Indexed => Photometric::Palette,
        png::ColorType::Rgb | png::ColorType::Rgba => Photometric::Rgb,
    };
    let bit_depth = if src_color == png::ColorType::Indexed {
        8
    } else {
        src_depth.max(8)
    };
    let mut meta = RadiographMeta::new(path, SourceFormat::Png, bit_depth, photometric);
    let channels = color.samples();
    let data: Vec<f32> = match depth {
        // Plain 16-bit grey, the common radiograph case: big-endian pairs straight to f32,
        // without an intermediate buffer.
        png::BitDepth::Sixteen if channels == 1 => buf
            .chunks_exact(2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as f32 * (1.0 / 65535.0))
            .collect(),
        png::BitDepth::Sixteen => {
            let samples: Vec<u16> = buf
                .chunks_exact(2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .collect();
            gray_from_samples(path, &samples, channels, 65535.0, &mut meta.warnings)
        }
        _ if channels == 1 => buf.iter().map(|&v| v as f32 * (1.0 / 255.0)).collect(),
        _ => gray_from_samples(path, &buf, channels, 255.0, &mut meta.warnings),
    };
    if data.len() != width * height {
        return Err(ReadError::Decode {
            path: path.to_path_buf(),
            format: SourceFormat::Png,
            detail: format!("decoded {} pixels, expected {}", data.len(), width * height),
        });
    }
    Ok(Radiograph {
        image: GrayImage::from_vec(width, height, data),
        meta,
    })
}

fn gray_from_samples<T: Copy + Into<f32>>(
    path: &Path,
    samples: &[T],
    channels: usize,
    max: f32,
    warnings: &mut Vec<String>,
) -> Vec<f32> {
    match channels {
        // Grey, or grey + alpha: the alpha channel carries no attenuation; drop it.
        1 | 2 => samples
            .iter()
            .step_by(channels)
            .map(|&v| v.into() / max)
            .collect(),
        _ => rgb_to_gray(path, samples, channels, max, warnings, |v| v.into()),
    }
}

fn encode(width: usize, height: usize, depth: png::BitDepth, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width as u32, height as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(depth);
        enc.set_compression(png::Compression::Fast);
        let mut w = enc.write_header().expect("writing to a Vec cannot fail");
        w.write_image_data(data)
            .expect("sizes checked by the caller");
    }
    out
}

/// Encodes 8-bit grey samples (row-major, `width * height`) as a PNG.
pub fn encode_png_gray8(width: usize, height: usize, data: &[u8]) -> Vec<u8> {
    assert_eq!(
        data.len(),
        width * height,
        "encode_png_gray8: size mismatch"
    );
    encode(width, height, png::BitDepth::Eight, data)
}

/// Encodes 16-bit grey samples (row-major, `width * height`) as a PNG.
pub fn encode_png_gray16(width: usize, height: usize, data: &[u16]) -> Vec<u8> {
    assert_eq!(
        data.len(),
        width * height,
        "encode_png_gray16: size mismatch"
    );
    let be: Vec<u8> = data.iter().flat_map(|v| v.to_be_bytes()).collect();
    encode(width, height, png::BitDepth::Sixteen, &be)
}

/// Writes an image as an 8-bit grey PNG, atomically.
pub fn write_png_gray8(path: &Path, img: &GrayImage) -> Result<(), ReadError> {
    write_atomic(path, &encode_png_gray8(img.width, img.height, &img.to_u8())).map_err(|source| {
        ReadError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Writes an image as a 16-bit grey PNG, atomically.
pub fn write_png_gray16(path: &Path, img: &GrayImage) -> Result<(), ReadError> {
    write_atomic(
        path,
        &encode_png_gray16(img.width, img.height, &img.to_u16()),
    )
    .map_err(|source| ReadError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::super::decode_radiograph;
    use super::*;

    fn png_with(
        color: png::ColorType,
        depth: png::BitDepth,
        w: u32,
        h: u32,
        data: &[u8],
        palette: Option<Vec<u8>>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(color);
            enc.set_depth(depth);
            if let Some(p) = palette {
                enc.set_palette(p);
            }
            let mut wr = enc.write_header().unwrap();
            wr.write_image_data(data).unwrap();
        }
        out
    }

    #[test]
    fn reads_gray8_and_gray16() {
        let bytes = encode_png_gray8(3, 2, &[0, 51, 255, 10, 20, 30]);
        let r = decode_radiograph(Path::new("a.png"), &bytes).unwrap();
        assert_eq!((r.image.width, r.image.height, r.meta.bit_depth), (3, 2, 8));
        assert!((r.image.get(1, 0) - 0.2).abs() < 1e-6);
        let bytes = encode_png_gray16(2, 1, &[0, 65535]);
        let r = decode_radiograph(Path::new("b.png"), &bytes).unwrap();
        assert_eq!(r.meta.bit_depth, 16);
        assert_eq!(r.image.data, vec![0.0, 1.0]);
    }

    #[test]
    fn reads_gray_alpha_palette_and_rgb() {
        let ga = png_with(
            png::ColorType::GrayscaleAlpha,
            png::BitDepth::Eight,
            2,
            1,
            &[100, 255, 200, 0],
            None,
        );
        let r = decode_radiograph(Path::new("ga.png"), &ga).unwrap();
        assert_eq!(r.meta.photometric, Photometric::GrayAlpha);
        assert!((r.image.get(1, 0) - 200.0 / 255.0).abs() < 1e-6);

        let pal = png_with(
            png::ColorType::Indexed,
            png::BitDepth::Eight,
            2,
            1,
            &[0, 1],
            Some(vec![10, 10, 10, 240, 240, 240]),
        );
        let r = decode_radiograph(Path::new("p.png"), &pal).unwrap();
        assert_eq!(r.meta.photometric, Photometric::Palette);
        assert!((r.image.get(1, 0) - 240.0 / 255.0).abs() < 1e-6);
        assert!(r.meta.warnings.is_empty());

        let rgb_equal = png_with(
            png::ColorType::Rgb,
            png::BitDepth::Eight,
            1,
            1,
            &[77, 77, 77],
            None,
        );
        let r = decode_radiograph(Path::new("e.png"), &rgb_equal).unwrap();
        assert!(r.meta.warnings.is_empty());
        assert!((r.image.get(0, 0) - 77.0 / 255.0).abs() < 1e-6);

        let rgb = png_with(
            png::ColorType::Rgb,
            png::BitDepth::Eight,
            1,
            1,
            &[255, 0, 0],
            None,
        );
        let r = decode_radiograph(Path::new("c.png"), &rgb).unwrap();
        assert_eq!(r.meta.warnings.len(), 1, "unequal channels warn");
        assert!(r.meta.warnings[0].contains("c.png"));
        assert!((r.image.get(0, 0) - 0.299).abs() < 1e-3);

        let g4 = png_with(
            png::ColorType::Grayscale,
            png::BitDepth::Four,
            2,
            1,
            &[0x0F],
            None,
        );
        let r = decode_radiograph(Path::new("g4.png"), &g4).unwrap();
        assert_eq!(r.image.data, vec![0.0, 1.0]);
    }

    #[test]
    fn truncated_png_is_a_clear_error() {
        let data: Vec<u8> = (0..64 * 64).map(|i| (i * 7 % 251) as u8).collect();
        let bytes = encode_png_gray8(64, 64, &data);
        for cut in [bytes.len() / 2, 40, bytes.len() - 13] {
            let e = decode_radiograph(Path::new("cut.png"), &bytes[..cut]).unwrap_err();
            assert!(matches!(e, ReadError::Truncated { .. }), "cut {cut}: {e}");
            assert!(
                e.to_string().contains("cut.png") && e.to_string().contains("truncated"),
                "{e}"
            );
        }
    }

    #[test]
    fn zero_size_png_is_refused() {
        // A hand-made IHDR with width 0 (the encoder refuses to write one).
        let mut bytes = encode_png_gray8(1, 1, &[0]);
        bytes[16..20].copy_from_slice(&0u32.to_be_bytes());
        let e = decode_radiograph(Path::new("z.png"), &bytes).unwrap_err();
        assert!(e.to_string().contains("z.png"), "{e}");
    }
}
