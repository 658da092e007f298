//! The image pixel module (rows, columns, bits, photometric) and native pixel samples.

use super::*;

/// The image pixel module, validated.
#[derive(Debug, Clone)]
pub(super) struct PixelLayout {
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) samples_per_pixel: usize,
    pub(super) bits_allocated: u32,
    pub(super) bits_stored: u32,
    pub(super) high_bit: u32,
    pub(super) signed: bool,
    pub(super) planar: bool,
    /// PhotometricInterpretation, upper case, trimmed.
    pub(super) photometric: String,
}

impl PixelLayout {
    pub(super) fn from_object(
        path: &Path,
        obj: &InMemDicomObject,
        borrowed_pixels: Option<&[u8]>,
        warnings: &mut Vec<String>,
    ) -> Result<Self, ReadError> {
        let pixel = obj.get(tags::PIXEL_DATA);
        if pixel.is_none() && borrowed_pixels.is_none() {
            {
                if obj.get(tags::FLOAT_PIXEL_DATA).is_some()
                    || obj.get(tags::DOUBLE_FLOAT_PIXEL_DATA).is_some()
                {
                    return Err(unsupported_pixels(
                        path,
                        "float pixel data (7FE0,0008/0009) is not supported".to_string(),
                    ));
                }
                return Err(ReadError::NoPixelData {
                    path: path.to_path_buf(),
                });
            }
        }
        let required = |tag: Tag, name: &str| -> Result<i64, ReadError> {
            int_attr(obj, tag)
                .ok_or_else(|| decode_error(path, format!("missing or unreadable {name}")))
        };
        let rows = required(tags::ROWS, "Rows (0028,0010)")?;
        let cols = required(tags::COLUMNS, "Columns (0028,0011)")?;
        if rows <= 0 || cols <= 0 {
            return Err(ReadError::ZeroSize {
                path: path.to_path_buf(),
                width: cols.max(0) as usize,
                height: rows.max(0) as usize,
            });
        }
        let empty = match (borrowed_pixels, pixel.map(|p| p.value())) {
            (Some(bytes), _) => bytes.is_empty(),
            (None, Some(DicomValue::Primitive(p))) => p.to_bytes().is_empty(),
            (None, Some(DicomValue::PixelSequence(seq))) => {
                seq.fragments().iter().all(|f| f.is_empty())
            }
            (None, _) => true,
        };
        if empty {
            return Err(ReadError::NoPixelData {
                path: path.to_path_buf(),
            });
        }
        let (rows, cols) = (rows as usize, cols as usize);
        let samples_per_pixel = int_attr(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
        if samples_per_pixel != 1 && samples_per_pixel != 3 {
            return Err(unsupported_pixels(
                path,
                format!("SamplesPerPixel {samples_per_pixel} (only 1 or 3 are read)"),
            ));
        }
        // One frame is decoded; its size is checked before any pixel buffer is made.
        crate::limits::check_image_size(cols as u64, rows as u64, samples_per_pixel as u64)
            .map_err(|detail| ReadError::OverLimit {
                path: path.to_path_buf(),
                format: SourceFormat::Dicom,
                detail,
            })?;
        let bits_allocated = required(tags::BITS_ALLOCATED, "BitsAllocated (0028,0100)")?;
        if ![8, 16, 32].contains(&bits_allocated) {
            return Err(unsupported_pixels(
                path,
                format!("BitsAllocated {bits_allocated} (only 8, 16 or 32 are read)"),
            ));
        }
        let bits_stored = match int_attr(obj, tags::BITS_STORED) {
            Some(b) if (1..=bits_allocated).contains(&b) => b,
            other => {
                if let Some(b) = other {
                    warnings.push(format!(
                        "{}: BitsStored {b} is impossible with BitsAllocated {bits_allocated}; \
                         using {bits_allocated}",
                        path.display()
                    ));
                }
                bits_allocated
            }
        };
        let high_bit = match int_attr(obj, tags::HIGH_BIT) {
            Some(h) if h + 1 >= bits_stored && h < bits_allocated => h,
            other => {
                if let Some(h) = other {
                    warnings.push(format!(
                        "{}: HighBit {h} does not fit BitsStored {bits_stored} / BitsAllocated \
                         {bits_allocated}; using {}",
                        path.display(),
                        bits_stored - 1
                    ));
                }
                bits_stored - 1
            }
        };
        let signed = int_attr(obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1;
        let planar =
            samples_per_pixel == 3 && int_attr(obj, tags::PLANAR_CONFIGURATION).unwrap_or(0) == 1;
        let photometric = match str_attr(obj, tags::PHOTOMETRIC_INTERPRETATION) {
            Some(p) => p.to_ascii_uppercase(),
            None => {
                let guess = if samples_per_pixel == 3 {
                    "RGB"
                } else {
                    "MONOCHROME2"
                };
                warnings.push(format!(
                    "{}: no PhotometricInterpretation; assuming {guess}",
                    path.display()
                ));
                guess.to_string()
            }
        };
        match (samples_per_pixel, photometric.as_str()) {
            (1, "MONOCHROME1" | "MONOCHROME2") => {}
            (1, other) => {
                return Err(unsupported_pixels(
                    path,
                    format!("PhotometricInterpretation {other} with one sample per pixel"),
                ))
            }
            (_, p) if p == "RGB" || p.starts_with("YBR_") => {}
            (_, other) => {
                return Err(unsupported_pixels(
                    path,
                    format!("PhotometricInterpretation {other} with three samples per pixel"),
                ))
            }
        }
        if let Some(frames) = int_attr(obj, tags::NUMBER_OF_FRAMES) {
            if frames > 1 {
                warnings.push(format!(
                    "{}: multi-frame image ({frames} frames); only the first frame is used",
                    path.display()
                ));
            }
        }
        Ok(PixelLayout {
            rows,
            cols,
            samples_per_pixel: samples_per_pixel as usize,
            bits_allocated: bits_allocated as u32,
            bits_stored: bits_stored as u32,
            high_bit: high_bit as u32,
            signed,
            planar,
            photometric,
        })
    }

    pub(super) fn bit_depth_u8(&self) -> u8 {
        self.bits_stored.min(u8::MAX as u32) as u8
    }

    pub(super) fn photometric(&self) -> Photometric {
        match self.photometric.as_str() {
            "MONOCHROME1" => Photometric::Monochrome1,
            "MONOCHROME2" => Photometric::Monochrome2,
            _ => Photometric::Rgb,
        }
    }

    /// Right shift that brings the stored bits of a native sample down to bit 0.
    pub(super) fn native_shift(&self, path: &Path, warnings: &mut Vec<String>) -> u32 {
        let shift = self.high_bit + 1 - self.bits_stored;
        if shift > 0 {
            warnings.push(format!(
                "{}: stored bits are {}..={} of each sample (HighBit {}, BitsStored {}); \
                 shifted down",
                path.display(),
                shift,
                self.high_bit,
                self.high_bit,
                self.bits_stored
            ));
        }
        shift
    }
}

// ---------------------------------------------------------------------------------------------
// Getting the samples
// ---------------------------------------------------------------------------------------------

/// The samples of the first frame, one element per sample (not per byte).
pub(super) enum Samples<'a> {
    U8(Cow<'a, [u8]>),
    U16(Cow<'a, [u16]>),
    U32(Cow<'a, [u32]>),
    /// 16-bit samples as little-endian byte pairs, borrowed from the file's bytes.
    Le16(&'a [u8]),
}

/// Runs `$body` with `$it` bound to an iterator over the first `$n` samples as `u32`, one
/// monomorphised loop per sample type; for [`Samples::Le16`] runs `$le` with `$b` bound to the
/// bytes (see [`le16_blocks`]).
macro_rules! with_raw {
    ($samples:expr, $n:expr, |$it:ident| $body:expr, le16 |$b:ident| $le:expr) => {
        match $samples {
            Samples::U8(s) => {
                let $it = s[..$n].iter().map(|&v| v as u32);
                $body
            }
            Samples::U16(s) => {
                let $it = s[..$n].iter().map(|&v| v as u32);
                $body
            }
            Samples::U32(s) => {
                let $it = s[..$n].iter().copied();
                $body
            }
            Samples::Le16($b) => $le,
        }
    };
}

/// Calls `f` on consecutive blocks of the first `n` little-endian 16-bit samples in `bytes`,
/// decoded into a stack buffer. Per-pixel loops over the blocks vectorise; the same loops over
/// an iterator of byte pairs did not.
pub(super) fn le16_blocks(bytes: &[u8], n: usize, mut f: impl FnMut(&[u16])) {
    let mut buf = [0u16; 2048];
    for chunk in bytes[..2 * n].chunks(2 * buf.len()) {
        let m = chunk.len() / 2;
        for (d, c) in buf[..m].iter_mut().zip(chunk.chunks_exact(2)) {
            *d = u16::from_le_bytes([c[0], c[1]]);
        }
        f(&buf[..m]);
    }
}

impl Samples<'_> {
    pub(super) fn len(&self) -> usize {
        match self {
            Samples::U8(s) => s.len(),
            Samples::U16(s) => s.len(),
            Samples::U32(s) => s.len(),
            Samples::Le16(b) => b.len() / 2,
        }
    }

    /// Sample `i` as an unsigned bit pattern.
    pub(super) fn get(&self, i: usize) -> u32 {
        match self {
            Samples::U8(s) => s[i] as u32,
            Samples::U16(s) => s[i] as u32,
            Samples::U32(s) => s[i],
            Samples::Le16(b) => u16::from_le_bytes([b[2 * i], b[2 * i + 1]]) as u32,
        }
    }
}

/// Samples from little-endian bytes, `bits_allocated` wide.
pub(super) fn samples_from_le_bytes(bytes: &[u8], bits_allocated: u32) -> Samples<'static> {
    match bits_allocated {
        8 => Samples::U8(Cow::Owned(bytes.to_vec())),
        16 => Samples::U16(Cow::Owned(
            bytes
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect(),
        )),
        _ => Samples::U32(Cow::Owned(
            bytes
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        )),
    }
}

/// The first frame's samples from native (uncompressed) pixel data: borrowed from the file's
/// bytes when [`trailing_native_pixels`] found them there, else from the parsed element
/// (borrowed when the parser holds them as values of the right width).
pub(super) fn native_samples<'a>(
    path: &Path,
    obj: &'a InMemDicomObject,
    borrowed: Option<&'a [u8]>,
    layout: &PixelLayout,
    n: usize,
) -> Result<Samples<'a>, ReadError> {
    if let Some(bytes) = borrowed {
        let width = (layout.bits_allocated / 8) as usize;
        let end = bytes.len().min(n * width);
        return Ok(match layout.bits_allocated {
            8 => Samples::U8(Cow::Borrowed(&bytes[..end])),
            16 => Samples::Le16(&bytes[..end - end % 2]),
            bits => samples_from_le_bytes(&bytes[..end], bits),
        });
    }
    let value = match obj.get(tags::PIXEL_DATA).map(|e| e.value()) {
        Some(DicomValue::Primitive(p)) => p,
        _ => {
            return Err(ReadError::NoPixelData {
                path: path.to_path_buf(),
            })
        }
    };
    let take = |len: usize| len.min(n);
    Ok(match (layout.bits_allocated, value) {
        (16, PrimitiveValue::U16(v)) => Samples::U16(Cow::Borrowed(&v[..take(v.len())])),
        (16, PrimitiveValue::I16(v)) => Samples::U16(Cow::Owned(
            v[..take(v.len())].iter().map(|&x| x as u16).collect(),
        )),
        (32, PrimitiveValue::U32(v)) => Samples::U32(Cow::Borrowed(&v[..take(v.len())])),
        (32, PrimitiveValue::I32(v)) => Samples::U32(Cow::Owned(
            v[..take(v.len())].iter().map(|&x| x as u32).collect(),
        )),
        (8, PrimitiveValue::U8(v)) => Samples::U8(Cow::Borrowed(&v[..take(v.len())])),
        (bits, other) => {
            // Bytes in the order the parser keeps them (little endian for OB/OW read from any
            // little endian syntax; other value types are converted to bytes natively).
            let bytes = other.to_bytes();
            let width = (bits / 8) as usize;
            let end = bytes.len().min(n * width);
            samples_from_le_bytes(&bytes[..end], bits)
        }
    })
}
