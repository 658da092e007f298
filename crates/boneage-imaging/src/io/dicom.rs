//! DICOM reading: one frame of a DICOM image into a [`Radiograph`] (`f32` in `[0, 1]`, bone
//! bright), with the header fields bone age needs (sex, age, pixel spacing).
//!
//! # Containers
//!
//! * The standard layout (128-byte preamble, `DICM`, file meta group, data set).
//! * The same without the preamble (`DICM` at offset 0).
//! * A bare data set with no file meta group at all (old ACR-NEMA style exports; only reached
//!   for `.dcm`/`.dicom` names). Its encoding is guessed: explicit VR little endian when the
//!   first element carries a VR, otherwise implicit VR little endian. A warning says so.
//!
//! # Transfer syntaxes
//!
//! Parsing is done by `dicom-object`; encapsulated pixel data is decoded by `dicom-pixeldata`
//! with the codecs this crate enables: uncompressed (implicit/explicit VR little endian,
//! explicit VR big endian, deflated, encapsulated uncompressed), JPEG baseline/extended,
//! JPEG lossless (process 14, any predictor, incl. SV1) and JPEG 2000 (lossless and lossy,
//! incl. HTJ2K as far as the `openjp2` port decodes it). RLE Lossless is decoded here
//! ([`decode_rle_frame`]), because the library's RLE reader panics on short segments instead
//! of reporting them. Anything else (JPEG-LS without the `charls` feature, JPEG XL, video, an
//! unknown UID) is refused with [`ReadError::UnsupportedTransferSyntax`].
//!
//! Native (uncompressed) pixel data does not go through `dicom-pixeldata`: in explicit or
//! implicit VR little endian files it is borrowed straight from the file's bytes when it is the
//! last element (the usual layout; see [`trailing_native_pixels`]), otherwise it is read from
//! the parsed element. Only encapsulated data goes through the library's decoders. Decoded
//! 16-bit buffers are taken as little endian, which is how the `dicom-rs` codecs hand them
//! over on every platform this project runs on.
//!
//! # From stored values to `[0, 1]`
//!
//! For grey images (MONOCHROME1/2), in the order of the DICOM grayscale pipeline:
//!
//! 1. **Stored value**: the `BitsStored` bits ending at `HighBit` (native data), sign-extended
//!    when `PixelRepresentation` is 1. Overlay bits above `HighBit` are dropped.
//! 2. **Modality LUT**: the Modality LUT Sequence (0028,3000) when present and valid, else
//!    `RescaleSlope * v + RescaleIntercept` (defaults 1 and 0).
//! 3. **VOI**: the first Window Center/Width pair when present (with the VOI LUT Function:
//!    `LINEAR` — the default, PS3.3 C.11.2.1.2.1 —, `LINEAR_EXACT` or `SIGMOID`); else the first
//!    item of the VOI LUT Sequence (0028,3010), scaled by its entry bit depth; else the full
//!    range: the **minimum and maximum of the modality values actually present in the frame**
//!    map to 0 and 1 (not the nominal `BitsStored` range, which would leave a 12-bit image in a
//!    16-bit container, or a detector that never saturates, dim and flat).
//! 4. **MONOCHROME1** is inverted (`1 - y`), so bone is bright as in MONOCHROME2.
//!
//! The common case (up to 16 stored bits, a linear rescale, full range or a linear window) is
//! affine in the stored value and runs as one vectorised pass. Otherwise, for up to 16 stored
//! bits, steps 1–4 are folded into one lookup table indexed by the stored value, so the
//! per-pixel cost is a table look-up whatever the LUTs are; wider samples are computed in `f64`.
//!
//! Colour images (RGB, and YBR_FULL in native or RLE data) are reduced to grey with
//! [`rgb_to_gray`] after scaling by the `BitsStored` range; no modality or VOI step applies to
//! colour, and a warning is recorded. Multi-frame images keep their first frame, with a
//! warning.
//!
//! # Header fields
//!
//! `bit_depth` = BitsStored; `pixel_spacing_mm` from PixelSpacing (0028,0030), else
//! ImagerPixelSpacing (0018,1164) (at the detector, not corrected for magnification);
//! `sex` from PatientSex (`M`/`F`; `O` or empty give none); `age_months` from the birth and
//! study dates when both are there (PatientBirthDate against StudyDate, AcquisitionDate or
//! ContentDate; days / 30.4375), else from PatientAge (`nnnD/W/M/Y`; days / 30.4375,
//! weeks × 7 / 30.4375, months, years × 12). A malformed age or date is a warning, never an
//! error.
//!
//! # Errors
//!
//! Every error names the file: no pixel data → [`ReadError::NoPixelData`]; a file or pixel
//! data element cut short → [`ReadError::Truncated`]; Rows or Columns 0 →
//! [`ReadError::ZeroSize`]; unknown or undecodable transfer syntax →
//! [`ReadError::UnsupportedTransferSyntax`]; pixel layouts this reader does not handle
//! (palette colour, 1-bit, float pixel data, …) → [`ReadError::UnsupportedPixels`]; anything
//! else the parser or a codec rejects → [`ReadError::Decode`]. Bad input never panics: the
//! decoding libraries have a few panicking paths (unchecked indexing when a codestream's size,
//! component count or sample width disagrees with the header), which are closed by checking
//! the codestream header first ([`check_codestream_size`]); as a last resort the whole decode
//! runs under `catch_unwind` and a panic becomes [`ReadError::Decode`].

use super::{rgb_to_gray, Photometric, Radiograph, RadiographMeta, ReadError, SourceFormat};
use crate::gray::GrayImage;
use boneage_core::Sex;
use dicom_core::{DataElement, Tag, VR};
use dicom_core::{DicomValue, PrimitiveValue};
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{
    FileDicomObject, FileMetaTable, FileMetaTableBuilder, InMemDicomObject, OpenFileOptions,
};
use dicom_pixeldata::PixelDecoder;
use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::path::Path;

type DicomFile = FileDicomObject<InMemDicomObject>;

/// Days per month used for every age conversion (365.25 / 12).
const DAYS_PER_MONTH: f64 = 30.4375;

const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// Decodes a DICOM file's first frame into a radiograph. See the module docs for the rules.
pub(super) fn decode_dicom(path: &Path, bytes: &[u8]) -> Result<Radiograph, ReadError> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| decode_inner(path, bytes))) {
        Ok(result) => result,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(decode_error(
                path,
                format!("the DICOM decoder failed on malformed data: {msg}"),
            ))
        }
    }
}

fn decode_inner(path: &Path, bytes: &[u8]) -> Result<Radiograph, ReadError> {
    let mut warnings = Vec::new();
    let (mut obj, native_pixels) = parse_object(path, bytes, &mut warnings)?;
    let ts_uid = clean_uid(obj.meta().transfer_syntax());

    let layout = PixelLayout::from_object(path, &obj, native_pixels, &mut warnings)?;
    let mut meta = RadiographMeta::new(
        path,
        SourceFormat::Dicom,
        layout.bit_depth_u8(),
        layout.photometric(),
    );
    meta.transfer_syntax = Some(ts_uid.clone());
    read_header_fields(path, &obj, &mut meta, &mut warnings);

    // Grey transforms are read before the pixel data is decoded: decoding an encapsulated
    // frame strips these attributes from the object (see `decode_encapsulated`).
    let transforms = if layout.samples_per_pixel == 1 {
        Some(GreyTransforms::from_object(path, &obj, &mut warnings))
    } else {
        None
    };

    let n = layout.rows * layout.cols * layout.samples_per_pixel;
    let encapsulated = matches!(
        obj.get(tags::PIXEL_DATA).map(|e| e.value()),
        Some(DicomValue::PixelSequence(_))
    );
    let (samples, shift) = if encapsulated {
        (
            decode_encapsulated(path, &mut obj, &layout, &ts_uid, &mut warnings)?,
            0,
        )
    } else {
        let shift = layout.native_shift(path, &mut warnings);
        (
            native_samples(path, &obj, native_pixels, &layout, n)?,
            shift,
        )
    };
    if samples.len() < n {
        return Err(ReadError::Truncated {
            path: path.to_path_buf(),
            format: SourceFormat::Dicom,
            detail: format!(
                "pixel data holds {} samples; one {}x{} frame with {} sample(s) per pixel \
                 needs {n}",
                samples.len(),
                layout.cols,
                layout.rows,
                layout.samples_per_pixel
            ),
        });
    }

    let data = match transforms {
        Some(t) => grey_pixels(path, &samples, n, &layout, shift, &t, &mut warnings),
        None => colour_pixels(
            path,
            &samples,
            n,
            &layout,
            encapsulated,
            &ts_uid,
            &mut warnings,
        )?,
    };
    meta.warnings = warnings;
    Ok(Radiograph {
        image: GrayImage::from_vec(layout.cols, layout.rows, data),
        meta,
    })
}

// ---------------------------------------------------------------------------------------------
// Parsing the container
// ---------------------------------------------------------------------------------------------

/// Parses the bytes into a DICOM object, whichever of the three containers they are in. The
/// second value is the native pixel data, borrowed from `bytes`, when it was found without
/// parsing it (see [`trailing_native_pixels`]); the object then has no Pixel Data element.
fn parse_object<'a>(
    path: &Path,
    bytes: &'a [u8],
    warnings: &mut Vec<String>,
) -> Result<(DicomFile, Option<&'a [u8]>), ReadError> {
    let start = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        Some(128)
    } else if bytes.starts_with(b"DICM") {
        Some(0)
    } else {
        None
    };
    match start {
        Some(offset) => parse_with_meta(path, &bytes[offset..]),
        None => Ok((parse_bare_dataset(path, bytes, warnings)?, None)),
    }
}

/// Parses `DICM` + file meta group + data set. The meta group is read on its own first, so an
/// unknown transfer syntax can be named even though the data set cannot be parsed.
///
/// In the two plain little-endian syntaxes the data set is first parsed only up to Pixel Data,
/// and the pixel values are borrowed from `body` when they are where they must be (see
/// [`trailing_native_pixels`]): this saves copying them (10 MB for a 2000x2500 16-bit image),
/// and the allocation and page faults that come with it. Anything unusual falls back to a
/// full parse.
fn parse_with_meta<'a>(
    path: &Path,
    body: &'a [u8],
) -> Result<(DicomFile, Option<&'a [u8]>), ReadError> {
    let meta =
        FileMetaTable::from_reader(body).map_err(|e| parse_error(path, "file meta group", &e))?;
    let uid = clean_uid(meta.transfer_syntax());
    let open = |until_pixels: bool| {
        let mut options = OpenFileOptions::new().read_preamble(ReadPreamble::Never);
        if until_pixels {
            options = options.read_until(tags::PIXEL_DATA);
        }
        options.from_reader(body).map_err(|e| match e {
            dicom_object::ReadError::ReadUnrecognizedTransferSyntax { .. }
            | dicom_object::ReadError::ReadUnsupportedTransferSyntax { .. }
            | dicom_object::ReadError::ReadUnsupportedTransferSyntaxWithSuggestion { .. } => {
                unsupported_ts(path, &uid)
            }
            other => parse_error(path, "data set", &other),
        })
    };
    let explicit = uid == EXPLICIT_VR_LE;
    if explicit || uid == IMPLICIT_VR_LE {
        let obj = open(true)?;
        if let Some(pixels) = trailing_native_pixels(&obj, body, explicit) {
            return Ok((obj, Some(pixels)));
        }
    }
    Ok((open(false)?, None))
}

/// The native Pixel Data value, when it is the last element of `body` and has exactly the
/// length the image attributes give (Rows × Columns × SamplesPerPixel × BitsAllocated/8 ×
/// NumberOfFrames, padded to even). The element header is checked byte for byte (tag, VR and
/// length), so a match cannot be a coincidence; anything else (trailing padding elements,
/// extra bytes, odd sizes, missing attributes) returns `None` and the caller parses in full.
fn trailing_native_pixels<'a>(
    obj: &InMemDicomObject,
    body: &'a [u8],
    explicit: bool,
) -> Option<&'a [u8]> {
    let dim = |tag: Tag, default: Option<i64>| -> Option<usize> {
        let v = int_attr(obj, tag).or(default)?;
        usize::try_from(v).ok().filter(|&v| v > 0)
    };
    let bits_allocated = dim(tags::BITS_ALLOCATED, None)?;
    if bits_allocated % 8 != 0 {
        return None;
    }
    let expected = dim(tags::ROWS, None)?
        .checked_mul(dim(tags::COLUMNS, None)?)?
        .checked_mul(dim(tags::SAMPLES_PER_PIXEL, Some(1))?)?
        .checked_mul(bits_allocated / 8)?
        .checked_mul(dim(tags::NUMBER_OF_FRAMES, Some(1))?)?;
    let padded = expected.checked_add(expected % 2)?;
    let header_len = if explicit { 12 } else { 8 };
    let start = body.len().checked_sub(padded.checked_add(header_len)?)?;
    let header = &body[start..start + header_len];
    if header[..4] != [0xE0, 0x7F, 0x10, 0x00] {
        return None;
    }
    let len_at = if explicit {
        let vr_ok = header[4] == b'O' && (header[5] == b'W' || header[5] == b'B');
        if !vr_ok || header[6..8] != [0, 0] {
            return None;
        }
        8
    } else {
        4
    };
    let len = u32::from_le_bytes([
        header[len_at],
        header[len_at + 1],
        header[len_at + 2],
        header[len_at + 3],
    ]);
    (usize::try_from(len).ok()? == padded)
        .then(|| &body[start + header_len..start + header_len + expected])
}

/// Reads a data set that has no `DICM` marker and no file meta group, by putting a
/// synthesised meta group in front of it.
fn parse_bare_dataset(
    path: &Path,
    bytes: &[u8],
    warnings: &mut Vec<String>,
) -> Result<DicomFile, ReadError> {
    // Explicit VR puts two upper-case letters right after the first tag; implicit VR puts the
    // low bytes of a 32-bit length there.
    let explicit = bytes.len() >= 6 && VR::from_binary([bytes[4], bytes[5]]).is_some();
    let (uid, name) = if explicit {
        (EXPLICIT_VR_LE, "explicit VR little endian")
    } else {
        (IMPLICIT_VR_LE, "implicit VR little endian")
    };
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(uid)
        .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.7")
        .media_storage_sop_instance_uid("2.25.0")
        .build()
        .map_err(|e| {
            decode_error(
                path,
                format!("cannot build a file meta group: {}", error_chain(&e)),
            )
        })?;
    let mut framed = Vec::with_capacity(bytes.len() + 256);
    framed.extend_from_slice(b"DICM");
    meta.write(&mut framed).map_err(|e| {
        decode_error(
            path,
            format!("cannot build a file meta group: {}", error_chain(&e)),
        )
    })?;
    framed.extend_from_slice(bytes);
    let obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .from_reader(&framed[..])
        .map_err(|e| match parse_error(path, "data set", &e) {
            ReadError::Decode {
                path,
                format,
                detail,
            } => ReadError::Decode {
                path,
                format,
                detail: format!(
                    "no DICM marker, and not readable as a bare {name} data set: {detail}"
                ),
            },
            other => other,
        })?;
    warnings.push(format!(
        "{}: no DICOM file meta header (no DICM marker); read as a bare {name} data set",
        path.display()
    ));
    Ok(obj)
}

/// Maps a parser error to [`ReadError::Truncated`] when the input ran out, else to
/// [`ReadError::Decode`], with the whole cause chain in the detail.
fn parse_error(path: &Path, what: &str, e: &(dyn std::error::Error + 'static)) -> ReadError {
    let detail = format!("cannot parse the {what}: {}", error_chain(e));
    if is_eof(e) {
        ReadError::Truncated {
            path: path.to_path_buf(),
            format: SourceFormat::Dicom,
            detail,
        }
    } else {
        decode_error(path, detail)
    }
}

/// Whether an error (or any of its causes) says the input ended early.
fn is_eof(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::UnexpectedEof {
                return true;
            }
        }
        cur = err.source();
    }
    let text = error_chain(e).to_ascii_lowercase();
    text.contains("end of file")
        || text.contains("unexpected eof")
        || text.contains("fill whole buffer")
}

/// `outer: cause: cause …`, skipping repeated messages.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let msg = err.to_string();
        if !parts.iter().any(|p| p == &msg) {
            parts.push(msg);
        }
        cur = err.source();
    }
    parts.join(": ")
}

fn decode_error(path: &Path, detail: String) -> ReadError {
    ReadError::Decode {
        path: path.to_path_buf(),
        format: SourceFormat::Dicom,
        detail,
    }
}

fn unsupported_pixels(path: &Path, detail: String) -> ReadError {
    ReadError::UnsupportedPixels {
        path: path.to_path_buf(),
        detail,
    }
}

fn unsupported_ts(path: &Path, uid: &str) -> ReadError {
    ReadError::UnsupportedTransferSyntax {
        path: path.to_path_buf(),
        uid: uid.to_string(),
        name: transfer_syntax_name(uid)
            .unwrap_or("not a known transfer syntax")
            .to_string(),
    }
}

/// A UID without the NUL/space padding DICOM allows.
fn clean_uid(uid: &str) -> String {
    uid.trim_end_matches(['\0', ' ']).trim().to_string()
}

/// Names of the standard transfer syntaxes, for error messages.
fn transfer_syntax_name(uid: &str) -> Option<&'static str> {
    Some(match uid {
        "1.2.840.10008.1.2" => "Implicit VR Little Endian",
        "1.2.840.10008.1.2.1" => "Explicit VR Little Endian",
        "1.2.840.10008.1.2.1.98" => "Encapsulated Uncompressed Explicit VR Little Endian",
        "1.2.840.10008.1.2.1.99" => "Deflated Explicit VR Little Endian",
        "1.2.840.10008.1.2.2" => "Explicit VR Big Endian",
        "1.2.840.10008.1.2.4.50" => "JPEG Baseline (Process 1)",
        "1.2.840.10008.1.2.4.51" => "JPEG Extended (Process 2 & 4)",
        "1.2.840.10008.1.2.4.57" => "JPEG Lossless, Non-Hierarchical (Process 14)",
        "1.2.840.10008.1.2.4.70" => "JPEG Lossless, Non-Hierarchical, First-Order Prediction (SV1)",
        "1.2.840.10008.1.2.4.80" => "JPEG-LS Lossless",
        "1.2.840.10008.1.2.4.81" => "JPEG-LS Lossy (Near-Lossless)",
        "1.2.840.10008.1.2.4.90" => "JPEG 2000 (Lossless Only)",
        "1.2.840.10008.1.2.4.91" => "JPEG 2000",
        "1.2.840.10008.1.2.4.92" => "JPEG 2000 Part 2 Multi-component (Lossless Only)",
        "1.2.840.10008.1.2.4.93" => "JPEG 2000 Part 2 Multi-component",
        "1.2.840.10008.1.2.4.94" => "JPIP Referenced",
        "1.2.840.10008.1.2.4.95" => "JPIP Referenced Deflate",
        "1.2.840.10008.1.2.4.100" | "1.2.840.10008.1.2.4.100.1" => {
            "MPEG2 Main Profile / Main Level"
        }
        "1.2.840.10008.1.2.4.101" | "1.2.840.10008.1.2.4.101.1" => {
            "MPEG2 Main Profile / High Level"
        }
        "1.2.840.10008.1.2.4.102" | "1.2.840.10008.1.2.4.102.1" => "MPEG-4 AVC/H.264 High Profile",
        "1.2.840.10008.1.2.4.103" | "1.2.840.10008.1.2.4.103.1" => "MPEG-4 AVC/H.264 BD-compatible",
        "1.2.840.10008.1.2.4.104" | "1.2.840.10008.1.2.4.104.1" => "MPEG-4 AVC/H.264 for 2D Video",
        "1.2.840.10008.1.2.4.105" | "1.2.840.10008.1.2.4.105.1" => "MPEG-4 AVC/H.264 for 3D Video",
        "1.2.840.10008.1.2.4.106" | "1.2.840.10008.1.2.4.106.1" => "MPEG-4 AVC/H.264 Stereo",
        "1.2.840.10008.1.2.4.107" => "HEVC/H.265 Main Profile",
        "1.2.840.10008.1.2.4.108" => "HEVC/H.265 Main 10 Profile",
        "1.2.840.10008.1.2.4.110" => "JPEG XL Lossless",
        "1.2.840.10008.1.2.4.111" => "JPEG XL JPEG Recompression",
        "1.2.840.10008.1.2.4.112" => "JPEG XL",
        "1.2.840.10008.1.2.4.201" => "High-Throughput JPEG 2000 (Lossless Only)",
        "1.2.840.10008.1.2.4.202" => "High-Throughput JPEG 2000 with RPCL Options (Lossless Only)",
        "1.2.840.10008.1.2.4.203" => "High-Throughput JPEG 2000",
        "1.2.840.10008.1.2.5" => "RLE Lossless",
        "1.2.840.10008.1.2.6.1" => "RFC 2557 MIME Encapsulation",
        "1.2.840.10008.1.2.6.2" => "XML Encoding",
        "1.2.840.10008.1.2.8.1" => "Deflated Image Frame Compression",
        u if u.starts_with("1.2.840.10008.1.2.4.") => "JPEG (retired process)",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Attribute helpers
// ---------------------------------------------------------------------------------------------

/// First value of an integer attribute (binary or IS), if present and readable.
fn int_attr(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.get(tag)?.to_int::<i64>().ok()
}

/// A string attribute, trimmed; `None` when absent or empty.
fn str_attr(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let s = obj.get(tag)?.to_str().ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_string())
}

/// All values of a decimal attribute (DS/FD/…); `None` when absent, empty or unreadable.
fn floats_attr(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    let v = obj.get(tag)?.to_multi_float64().ok()?;
    (!v.is_empty()).then_some(v)
}

// ---------------------------------------------------------------------------------------------
// Pixel layout
// ---------------------------------------------------------------------------------------------

/// The image pixel module, validated.
#[derive(Debug, Clone)]
struct PixelLayout {
    rows: usize,
    cols: usize,
    samples_per_pixel: usize,
    bits_allocated: u32,
    bits_stored: u32,
    high_bit: u32,
    signed: bool,
    planar: bool,
    /// PhotometricInterpretation, upper case, trimmed.
    photometric: String,
}

impl PixelLayout {
    fn from_object(
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

    fn bit_depth_u8(&self) -> u8 {
        self.bits_stored.min(u8::MAX as u32) as u8
    }

    fn photometric(&self) -> Photometric {
        match self.photometric.as_str() {
            "MONOCHROME1" => Photometric::Monochrome1,
            "MONOCHROME2" => Photometric::Monochrome2,
            _ => Photometric::Rgb,
        }
    }

    /// Right shift that brings the stored bits of a native sample down to bit 0.
    fn native_shift(&self, path: &Path, warnings: &mut Vec<String>) -> u32 {
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
enum Samples<'a> {
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
fn le16_blocks(bytes: &[u8], n: usize, mut f: impl FnMut(&[u16])) {
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
    fn len(&self) -> usize {
        match self {
            Samples::U8(s) => s.len(),
            Samples::U16(s) => s.len(),
            Samples::U32(s) => s.len(),
            Samples::Le16(b) => b.len() / 2,
        }
    }

    /// Sample `i` as an unsigned bit pattern.
    fn get(&self, i: usize) -> u32 {
        match self {
            Samples::U8(s) => s[i] as u32,
            Samples::U16(s) => s[i] as u32,
            Samples::U32(s) => s[i],
            Samples::Le16(b) => u16::from_le_bytes([b[2 * i], b[2 * i + 1]]) as u32,
        }
    }
}

/// Samples from little-endian bytes, `bits_allocated` wide.
fn samples_from_le_bytes(bytes: &[u8], bits_allocated: u32) -> Samples<'static> {
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
fn native_samples<'a>(
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

/// Decodes the first frame of encapsulated pixel data with `dicom-pixeldata`.
///
/// `dicom-pixeldata` re-reads the image attributes and refuses files whose window or rescale
/// attributes have mismatched multiplicities, or that lack attributes this reader defaults.
/// Those attributes have already been read (see [`GreyTransforms`]), so they are removed and
/// the validated layout is written back before decoding.
fn decode_encapsulated(
    path: &Path,
    obj: &mut DicomFile,
    layout: &PixelLayout,
    ts_uid: &str,
    warnings: &mut Vec<String>,
) -> Result<Samples<'static>, ReadError> {
    for tag in [
        tags::RESCALE_INTERCEPT,
        tags::RESCALE_SLOPE,
        tags::WINDOW_CENTER,
        tags::WINDOW_WIDTH,
        tags::VOILUT_FUNCTION,
        tags::VOILUT_SEQUENCE,
    ] {
        obj.remove_element(tag);
    }
    let us = |tag: Tag, v: u32| {
        DataElement::new(
            tag,
            VR::US,
            PrimitiveValue::from(v.min(u16::MAX as u32) as u16),
        )
    };
    obj.put(us(tags::SAMPLES_PER_PIXEL, layout.samples_per_pixel as u32));
    obj.put(us(tags::BITS_ALLOCATED, layout.bits_allocated));
    obj.put(us(tags::BITS_STORED, layout.bits_stored));
    obj.put(us(tags::HIGH_BIT, layout.high_bit));
    obj.put(us(tags::PIXEL_REPRESENTATION, layout.signed as u32));
    obj.put(us(tags::PLANAR_CONFIGURATION, layout.planar as u32));
    obj.put(DataElement::new(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        PrimitiveValue::from(layout.photometric.as_str()),
    ));
    if obj.get(tags::NUMBER_OF_FRAMES).is_some()
        && int_attr(obj, tags::NUMBER_OF_FRAMES).is_none_or(|f| f < 1)
    {
        obj.remove_element(tags::NUMBER_OF_FRAMES);
    }
    check_codestream_size(path, obj, layout)?;
    check_stream_end(path, obj, warnings)?;
    if ts_uid == RLE_LOSSLESS {
        // Decoded here rather than by dicom-pixeldata, whose RLE reader indexes past the end
        // of short segments instead of reporting them.
        return match obj.get(tags::PIXEL_DATA).map(|e| e.value()) {
            Some(DicomValue::PixelSequence(seq)) => match seq.fragments().first() {
                Some(fragment) => decode_rle_frame(path, fragment, layout),
                None => Err(ReadError::NoPixelData {
                    path: path.to_path_buf(),
                }),
            },
            _ => Err(ReadError::NoPixelData {
                path: path.to_path_buf(),
            }),
        };
    }

    let decoded = obj.decode_pixel_data_frame(0).map_err(|e| {
        let detail = error_chain(&e);
        let lower = detail.to_ascii_lowercase();
        if lower.contains("unsupported transfersyntax")
            || lower.contains("unsupported transfer syntax")
            || lower.contains("unknown transfer syntax")
        {
            unsupported_ts(path, ts_uid)
        } else if is_eof(&e) {
            ReadError::Truncated {
                path: path.to_path_buf(),
                format: SourceFormat::Dicom,
                detail,
            }
        } else {
            decode_error(
                path,
                format!(
                    "{} pixel data: {detail}",
                    transfer_syntax_name(ts_uid).unwrap_or(ts_uid)
                ),
            )
        }
    })?;
    let width = (layout.bits_allocated / 8) as usize;
    let n = layout.rows * layout.cols * layout.samples_per_pixel;
    let data = decoded.data();
    let end = data.len().min(n * width);
    Ok(samples_from_le_bytes(&data[..end], layout.bits_allocated))
}

/// What a codestream header says about the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CodestreamInfo {
    width: usize,
    height: usize,
    components: usize,
    /// Bits per sample (JPEG `P`; JPEG 2000 first component's precision).
    precision: u32,
}

/// Checks an encapsulated first fragment against the header before a codec sees it.
///
/// The `dicom-rs` codecs write the decoded image into a buffer sized from Rows × Columns ×
/// SamplesPerPixel × BitsAllocated and index into it without checks, so a codestream whose
/// size or component count disagrees with the header would make them panic (or silently
/// leave zeros). Such files are refused here with a clear message; an RLE header whose
/// segment table does not fit is refused for the same reason.
fn check_codestream_size(
    path: &Path,
    obj: &InMemDicomObject,
    layout: &PixelLayout,
) -> Result<(), ReadError> {
    let Some(DicomValue::PixelSequence(seq)) = obj.get(tags::PIXEL_DATA).map(|e| e.value()) else {
        return Ok(());
    };
    let Some(first) = seq.fragments().iter().find(|f| !f.is_empty()) else {
        return Ok(());
    };
    let info = if first.starts_with(&[0xFF, 0xD8]) {
        jpeg_frame_size(first)
    } else if first.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        j2k_frame_size(first)
    } else {
        None
    };
    let Some(info) = info else { return Ok(()) };
    let bytes_needed = if info.precision > 8 { 2 } else { 1 };
    if (info.width, info.height) != (layout.cols, layout.rows) {
        return Err(decode_error(
            path,
            format!(
                "the compressed image is {}x{} but the header says Columns {} x Rows {}",
                info.width, info.height, layout.cols, layout.rows
            ),
        ));
    }
    if info.components != layout.samples_per_pixel {
        return Err(decode_error(
            path,
            format!(
                "the compressed image has {} component(s) but SamplesPerPixel is {}",
                info.components, layout.samples_per_pixel
            ),
        ));
    }
    if bytes_needed * 8 > layout.bits_allocated {
        return Err(decode_error(
            path,
            format!(
                "the compressed image has {}-bit samples but BitsAllocated is {}",
                info.precision, layout.bits_allocated
            ),
        ));
    }
    Ok(())
}

/// Checks that the first frame's JPEG or JPEG 2000 stream ends with its end marker (`FFD9`
/// for both, after DICOM's zero padding). JPEG decoders fill a cut-off stream with grey, which
/// would hide missing rows of the hand, so a JPEG without it is refused as truncated, as plain
/// JPEG files are. OpenJPEG decodes a cut-off JPEG 2000 stream at lower quality and some
/// writers omit the EOC marker, so for JPEG 2000 this is only a warning.
fn check_stream_end(
    path: &Path,
    obj: &InMemDicomObject,
    warnings: &mut Vec<String>,
) -> Result<(), ReadError> {
    let Some(DicomValue::PixelSequence(seq)) = obj.get(tags::PIXEL_DATA).map(|e| e.value()) else {
        return Ok(());
    };
    let fragments = seq.fragments();
    let frames = int_attr(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as usize;
    // The fragment that ends frame 0: the only one, the first of one-per-frame, or the last
    // of a single frame split over several.
    let last = if fragments.len() == frames {
        fragments.first()
    } else if frames == 1 {
        fragments.last()
    } else {
        None
    };
    let (Some(first), Some(last)) = (fragments.first(), last) else {
        return Ok(());
    };
    let mut end = last.len();
    while end > 0 && last[end - 1] == 0 {
        end -= 1;
    }
    if last[..end].ends_with(&[0xFF, 0xD9]) {
        return Ok(());
    }
    if first.starts_with(&[0xFF, 0xD8]) {
        return Err(ReadError::Truncated {
            path: path.to_path_buf(),
            format: SourceFormat::Dicom,
            detail: "the JPEG stream of the first frame has no end-of-image marker (FFD9)"
                .to_string(),
        });
    }
    if first.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        warnings.push(format!(
            "{}: the JPEG 2000 codestream has no end-of-codestream marker (FFD9); it may be cut \
             short",
            path.display()
        ));
    }
    Ok(())
}

/// Size, components and precision from a JPEG stream's SOFn marker.
fn jpeg_frame_size(data: &[u8]) -> Option<CodestreamInfo> {
    let mut i = 2;
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            return None;
        }
        let marker = data[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = u16::from_be_bytes([data[i + 2], data[i + 3]]) as usize;
        let is_sof = (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker);
        if is_sof {
            // P(1) Y(2) X(2) Nf(1)
            let seg = data.get(i + 4..i + 10)?;
            let height = u16::from_be_bytes([seg[1], seg[2]]) as usize;
            let width = u16::from_be_bytes([seg[3], seg[4]]) as usize;
            // A height of 0 means "given by a DNL marker later"; not checked.
            return (height > 0).then_some(CodestreamInfo {
                width,
                height,
                components: seg[5] as usize,
                precision: seg[0] as u32,
            });
        }
        if marker == 0xDA {
            return None;
        }
        i += 2 + len;
    }
    None
}

/// Size, components and precision from a JPEG 2000 codestream's SIZ marker.
fn j2k_frame_size(data: &[u8]) -> Option<CodestreamInfo> {
    // FF4F FF51 Lsiz(2) Rsiz(2) Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz Csiz(2) Ssiz…
    let siz = data.get(4..43)?;
    let rd = |o: usize| u32::from_be_bytes([siz[o], siz[o + 1], siz[o + 2], siz[o + 3]]) as usize;
    let (x, y, xo, yo) = (rd(4), rd(8), rd(12), rd(16));
    Some(CodestreamInfo {
        width: x.checked_sub(xo)?,
        height: y.checked_sub(yo)?,
        components: u16::from_be_bytes([siz[36], siz[37]]) as usize,
        precision: (siz[38] & 0x7F) as u32 + 1,
    })
}

/// Decodes one RLE Lossless frame (PS3.5 Annex G): a 64-byte header with the segment count
/// and offsets, then one PackBits segment per byte plane (most significant byte first, sample
/// by sample). Samples come back interleaved, like every other decoder's output.
fn decode_rle_frame(
    path: &Path,
    fragment: &[u8],
    layout: &PixelLayout,
) -> Result<Samples<'static>, ReadError> {
    let bad = |what: String| decode_error(path, format!("bad RLE Lossless data: {what}"));
    if fragment.len() < 64 {
        return Err(bad(format!(
            "the frame is {} bytes, shorter than the 64-byte header",
            fragment.len()
        )));
    }
    let word = |i: usize| {
        u32::from_le_bytes([
            fragment[4 * i],
            fragment[4 * i + 1],
            fragment[4 * i + 2],
            fragment[4 * i + 3],
        ]) as usize
    };
    let segments = word(0);
    let bytes_per_sample = layout.bits_allocated as usize / 8;
    let expected = layout.samples_per_pixel * bytes_per_sample;
    if segments != expected {
        return Err(bad(format!(
            "{segments} segments, but {} sample(s) of {} bits need {expected}",
            layout.samples_per_pixel, layout.bits_allocated
        )));
    }
    let mut bounds = Vec::with_capacity(segments + 1);
    for i in 1..=segments {
        let off = word(i);
        let prev = bounds.last().copied().unwrap_or(64);
        if off < prev || off > fragment.len() {
            return Err(bad(format!(
                "segment {i} starts at byte {off}, outside {prev}..={}",
                fragment.len()
            )));
        }
        bounds.push(off);
    }
    bounds.push(fragment.len());

    let pixels = layout.rows * layout.cols;
    let mut planes: Vec<Vec<u8>> = Vec::with_capacity(segments);
    for i in 0..segments {
        let plane = unpack_bits(&fragment[bounds[i]..bounds[i + 1]], pixels);
        if plane.len() < pixels {
            return Err(ReadError::Truncated {
                path: path.to_path_buf(),
                format: SourceFormat::Dicom,
                detail: format!(
                    "RLE segment {} decodes to {} bytes; {}x{} pixels need {pixels}",
                    i + 1,
                    plane.len(),
                    layout.cols,
                    layout.rows
                ),
            });
        }
        planes.push(plane);
    }
    let spp = layout.samples_per_pixel;
    let n = pixels * spp;
    // Plane index of sample s, byte b (0 = most significant).
    let plane = |s: usize, b: usize| &planes[s * bytes_per_sample + b];
    Ok(match bytes_per_sample {
        1 => Samples::U8(Cow::Owned(
            (0..n).map(|i| plane(i % spp, 0)[i / spp]).collect(),
        )),
        2 => Samples::U16(Cow::Owned(
            (0..n)
                .map(|i| {
                    let (s, p) = (i % spp, i / spp);
                    u16::from_be_bytes([plane(s, 0)[p], plane(s, 1)[p]])
                })
                .collect(),
        )),
        _ => Samples::U32(Cow::Owned(
            (0..n)
                .map(|i| {
                    let (s, p) = (i % spp, i / spp);
                    u32::from_be_bytes([
                        plane(s, 0)[p],
                        plane(s, 1)[p],
                        plane(s, 2)[p],
                        plane(s, 3)[p],
                    ])
                })
                .collect(),
        )),
    })
}

/// PackBits decoding of one segment, stopping after `limit` bytes (a short result means the
/// segment ran out).
fn unpack_bits(segment: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(limit);
    let mut i = 0;
    while i < segment.len() && out.len() < limit {
        let header = segment[i] as i8;
        i += 1;
        if header >= 0 {
            let end = (i + header as usize + 1).min(segment.len());
            out.extend_from_slice(&segment[i..end]);
            i = end;
        } else if header != -128 {
            let Some(&byte) = segment.get(i) else { break };
            i += 1;
            let run = (1 - header as isize) as usize;
            out.resize(out.len() + run, byte);
        }
    }
    out.truncate(limit);
    out
}

// ---------------------------------------------------------------------------------------------
// Grey pipeline
// ---------------------------------------------------------------------------------------------

/// A lookup table from a LUT sequence item (modality or VOI).
#[derive(Debug, Clone)]
struct Lut {
    first_mapped: i64,
    entries: Vec<f64>,
    /// Bits per entry from the descriptor (for scaling VOI output).
    bits: u32,
}

impl Lut {
    /// Reads LUTDescriptor (0028,3002) and LUTData (0028,3006) from a sequence item.
    fn from_item(item: &InMemDicomObject) -> Result<Lut, String> {
        let desc_el = item.get(tags::LUT_DESCRIPTOR).ok_or("no LUTDescriptor")?;
        let desc: Vec<i64> = desc_el
            .to_multi_int::<i64>()
            .map_err(|e| format!("unreadable LUTDescriptor: {e}"))?;
        if desc.len() != 3 {
            return Err(format!("LUTDescriptor has {} values, not 3", desc.len()));
        }
        if !(0..=65535).contains(&desc[0]) {
            return Err(format!(
                "LUTDescriptor entry count {} is out of range",
                desc[0]
            ));
        }
        let count = if desc[0] == 0 {
            65536
        } else {
            desc[0] as usize
        };
        let bits = desc[2].clamp(1, 16) as u32;
        let data_el = item.get(tags::LUT_DATA).ok_or("no LUTData")?;
        let entries: Vec<f64> = match data_el.value() {
            DicomValue::Primitive(PrimitiveValue::U16(v)) => v.iter().map(|&x| x as f64).collect(),
            DicomValue::Primitive(PrimitiveValue::I16(v)) => {
                v.iter().map(|&x| x as u16 as f64).collect()
            }
            DicomValue::Primitive(PrimitiveValue::U8(v)) => {
                if v.len() >= 2 * count {
                    v.chunks_exact(2)
                        .map(|b| u16::from_le_bytes([b[0], b[1]]) as f64)
                        .collect()
                } else {
                    v.iter().map(|&x| x as f64).collect()
                }
            }
            DicomValue::Primitive(p) => p
                .to_multi_int::<i64>()
                .map_err(|e| format!("unreadable LUTData: {e}"))?
                .into_iter()
                .map(|x| x as f64)
                .collect(),
            _ => return Err("LUTData is not a value".to_string()),
        };
        if entries.len() < count {
            return Err(format!(
                "LUTData has {} entries, the descriptor says {count}",
                entries.len()
            ));
        }
        let mut entries = entries;
        entries.truncate(count);
        Ok(Lut {
            first_mapped: desc[1],
            entries,
            bits,
        })
    }

    /// LUT output for input `x` (clamped to the first/last entry outside the table).
    fn apply(&self, x: f64) -> f64 {
        let idx = (x.round() as i64).saturating_sub(self.first_mapped);
        let idx = idx.clamp(0, self.entries.len() as i64 - 1) as usize;
        self.entries[idx]
    }

    /// The first mapped value, read as signed when it was stored in a US field but the LUT's
    /// input can be negative (DICOM allows US or SS for it).
    fn reinterpret_first_as_signed(&mut self) {
        if (32768..65536).contains(&self.first_mapped) {
            self.first_mapped -= 65536;
        }
    }
}

#[derive(Debug, Clone)]
enum Modality {
    Rescale { slope: f64, intercept: f64 },
    Lut(Lut),
}

impl Modality {
    fn apply(&self, v: f64) -> f64 {
        match self {
            Modality::Rescale { slope, intercept } => v * slope + intercept,
            Modality::Lut(lut) => lut.apply(v),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum VoiFunction {
    Linear,
    LinearExact,
    Sigmoid,
}

#[derive(Debug, Clone)]
enum Voi {
    Window {
        center: f64,
        width: f64,
        function: VoiFunction,
    },
    Lut(Lut),
    /// Min..max of the frame's modality values to 0..1.
    FullRange,
}

impl Voi {
    /// VOI output in `[0, 1]` for a modality value. `lo`/`hi` are the frame's extremes (used
    /// by [`Voi::FullRange`] only).
    fn apply(&self, x: f64, lo: f64, hi: f64) -> f64 {
        let y = match self {
            Voi::Window {
                center: c,
                width: w,
                function,
            } => match function {
                VoiFunction::Linear => {
                    // PS3.3 C.11.2.1.2.1; w >= 1 is checked when the window is read.
                    let below = c - 0.5 - (w - 1.0) / 2.0;
                    let above = c - 0.5 + (w - 1.0) / 2.0;
                    if x <= below {
                        0.0
                    } else if x > above {
                        1.0
                    } else {
                        (x - (c - 0.5)) / (w - 1.0) + 0.5
                    }
                }
                VoiFunction::LinearExact => (x - c) / w + 0.5,
                VoiFunction::Sigmoid => 1.0 / (1.0 + (-4.0 * (x - c) / w).exp()),
            },
            Voi::Lut(lut) => {
                let max = ((1u64 << lut.bits) - 1) as f64;
                let out = lut.apply(x);
                // Some writers put 16-bit values in a LUT that says 8 bits per entry.
                let max = if out > max { 65535.0 } else { max };
                out / max
            }
            Voi::FullRange => {
                if hi > lo {
                    (x - lo) / (hi - lo)
                } else {
                    0.0
                }
            }
        };
        y.clamp(0.0, 1.0)
    }
}

/// Modality and VOI transforms of a grey image, read from the header.
#[derive(Debug, Clone)]
struct GreyTransforms {
    modality: Modality,
    voi: Voi,
}

impl GreyTransforms {
    fn from_object(
        path: &Path,
        obj: &InMemDicomObject,
        warnings: &mut Vec<String>,
    ) -> GreyTransforms {
        let modality = Self::read_modality(path, obj, warnings);
        let voi = Self::read_voi(path, obj, warnings);
        GreyTransforms { modality, voi }
    }

    fn read_modality(path: &Path, obj: &InMemDicomObject, warnings: &mut Vec<String>) -> Modality {
        if let Some(items) = obj.get(tags::MODALITY_LUT_SEQUENCE).and_then(|e| e.items()) {
            match items.first().map(Lut::from_item) {
                Some(Ok(lut)) => return Modality::Lut(lut),
                Some(Err(e)) => warnings.push(format!(
                    "{}: Modality LUT Sequence ignored ({e}); using RescaleSlope/Intercept",
                    path.display()
                )),
                None => {}
            }
        }
        let slope = floats_attr(obj, tags::RESCALE_SLOPE).map(|v| v[0]);
        let intercept = floats_attr(obj, tags::RESCALE_INTERCEPT).map(|v| v[0]);
        let slope = match slope {
            Some(s) if s.is_finite() && s != 0.0 => s,
            Some(s) => {
                warnings.push(format!(
                    "{}: RescaleSlope {s} ignored; using 1",
                    path.display()
                ));
                1.0
            }
            None => 1.0,
        };
        let intercept = match intercept {
            Some(i) if i.is_finite() => i,
            Some(i) => {
                warnings.push(format!(
                    "{}: RescaleIntercept {i} ignored; using 0",
                    path.display()
                ));
                0.0
            }
            None => 0.0,
        };
        Modality::Rescale { slope, intercept }
    }

    fn read_voi(path: &Path, obj: &InMemDicomObject, warnings: &mut Vec<String>) -> Voi {
        let centers = floats_attr(obj, tags::WINDOW_CENTER);
        let widths = floats_attr(obj, tags::WINDOW_WIDTH);
        if let (Some(c), Some(w)) = (&centers, &widths) {
            let (center, width) = (c[0], w[0]);
            let function =
                match str_attr(obj, tags::VOILUT_FUNCTION).map(|s| s.to_ascii_uppercase()) {
                    None => VoiFunction::Linear,
                    Some(f) if f == "LINEAR" => VoiFunction::Linear,
                    Some(f) if f == "LINEAR_EXACT" => VoiFunction::LinearExact,
                    Some(f) if f == "SIGMOID" => VoiFunction::Sigmoid,
                    Some(f) => {
                        warnings.push(format!(
                            "{}: unknown VOI LUT Function {f}; using LINEAR",
                            path.display()
                        ));
                        VoiFunction::Linear
                    }
                };
            let min_width = if function == VoiFunction::Linear {
                1.0
            } else {
                f64::MIN_POSITIVE
            };
            if center.is_finite() && width.is_finite() && width >= min_width {
                return Voi::Window {
                    center,
                    width,
                    function,
                };
            }
            warnings.push(format!(
                "{}: window center {center} / width {width} is unusable; ignored",
                path.display()
            ));
        } else if centers.is_some() != widths.is_some() {
            warnings.push(format!(
                "{}: WindowCenter and WindowWidth must come together; window ignored",
                path.display()
            ));
        }
        if let Some(items) = obj.get(tags::VOILUT_SEQUENCE).and_then(|e| e.items()) {
            match items.first().map(Lut::from_item) {
                Some(Ok(lut)) => return Voi::Lut(lut),
                Some(Err(e)) => warnings.push(format!(
                    "{}: VOI LUT Sequence ignored ({e})",
                    path.display()
                )),
                None => {}
            }
        }
        Voi::FullRange
    }
}

/// Runs the grey pipeline over the first `n` samples: the affine fast path when it applies,
/// else the general one.
fn grey_pixels(
    path: &Path,
    samples: &Samples<'_>,
    n: usize,
    layout: &PixelLayout,
    shift: u32,
    transforms: &GreyTransforms,
    warnings: &mut Vec<String>,
) -> Vec<f32> {
    affine_grey_pixels(path, samples, n, layout, shift, transforms, warnings)
        .unwrap_or_else(|| lut_grey_pixels(path, samples, n, layout, shift, transforms, warnings))
}

/// The general grey pipeline: any modality LUT, VOI function or LUT. Up to 16 stored bits,
/// every step is folded into one table indexed by the stored value; above that, each pixel is
/// computed in `f64`.
fn lut_grey_pixels(
    path: &Path,
    samples: &Samples<'_>,
    n: usize,
    layout: &PixelLayout,
    shift: u32,
    transforms: &GreyTransforms,
    warnings: &mut Vec<String>,
) -> Vec<f32> {
    let bits = layout.bits_stored;
    let mask: u32 = if bits >= 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    };
    let signed = layout.signed;
    let stored = move |raw: u32| -> i64 {
        let v = (raw >> shift) & mask;
        if signed && bits < 64 && (v >> (bits - 1)) & 1 == 1 {
            v as i64 - (1i64 << bits)
        } else {
            v as i64
        }
    };
    let invert = layout.photometric == "MONOCHROME1";
    let mut modality = transforms.modality.clone();
    let mut voi = transforms.voi.clone();

    if bits <= 16 {
        // One table over every possible stored value: modality first, then (after the frame's
        // extremes are known) VOI and inversion.
        let size = 1usize << bits;
        let stored_of = |idx: usize| stored(((idx as u32) & mask) << shift);
        if signed {
            if let Modality::Lut(lut) = &mut modality {
                lut.reinterpret_first_as_signed();
            }
        }
        let mod_lut: Vec<f64> = (0..size)
            .map(|i| modality.apply(stored_of(i) as f64))
            .collect();
        if let Voi::Lut(lut) = &mut voi {
            if mod_lut.iter().any(|&m| m < 0.0) {
                lut.reinterpret_first_as_signed();
            }
        }
        let index = |raw: u32| ((raw >> shift) & mask) as usize;
        let (lo, hi) = if matches!(voi, Voi::FullRange) {
            frame_extremes(samples, n, |raw| mod_lut[index(raw)])
        } else {
            (0.0, 0.0)
        };
        if matches!(voi, Voi::FullRange) && hi <= lo {
            warnings.push(format!(
                "{}: every pixel has the same value; the image is uniform",
                path.display()
            ));
        }
        let lut: Vec<f32> = mod_lut
            .iter()
            .map(|&m| {
                let y = voi.apply(m, lo, hi);
                (if invert { 1.0 - y } else { y }) as f32
            })
            .collect();
        map_samples(samples, n, |raw| lut[index(raw)])
    } else {
        let value = |raw: u32| modality.apply(stored(raw) as f64);
        let (lo, hi) = if matches!(voi, Voi::FullRange) {
            frame_extremes(samples, n, value)
        } else {
            (0.0, 0.0)
        };
        if matches!(voi, Voi::FullRange) && hi <= lo {
            warnings.push(format!(
                "{}: every pixel has the same value; the image is uniform",
                path.display()
            ));
        }
        map_samples(samples, n, |raw| {
            let y = voi.apply(value(raw), lo, hi);
            (if invert { 1.0 - y } else { y }) as f32
        })
    }
}

/// The common case without tables: up to 16 stored bits, a linear rescale, and a full-range
/// or linear window VOI. The whole chain is then affine in the stored value (clamped to
/// `[0, 1]`), which the compiler vectorises; [`lut_grey_pixels`]' table look-ups cannot be.
/// Returns `None` when the case does not apply. Full range is computed on stored values
/// (`(v - min) / (max - min)`, flipped for a negative slope), which equals the range of the
/// rescaled values because the rescale is affine, and gives exactly 0 and 1 at the extremes.
fn affine_grey_pixels(
    path: &Path,
    samples: &Samples<'_>,
    n: usize,
    layout: &PixelLayout,
    shift: u32,
    transforms: &GreyTransforms,
    warnings: &mut Vec<String>,
) -> Option<Vec<f32>> {
    let bits = layout.bits_stored;
    let Modality::Rescale { slope, intercept } = transforms.modality else {
        return None;
    };
    if bits > 16 {
        return None;
    }
    let mask = (1u32 << bits) - 1;
    let sext = 32 - bits;
    let signed = layout.signed;
    let stored = move |raw: u32| -> i32 {
        let v = ((raw >> shift) & mask) as i32;
        if signed {
            (v << sext) >> sext
        } else {
            v
        }
    };
    let invert = layout.photometric == "MONOCHROME1";
    let finish = move |y: f32| if invert { 1.0 - y } else { y };
    match transforms.voi {
        Voi::FullRange => {
            let (lo, hi) = stored_extremes(samples, n, stored);
            if hi <= lo {
                warnings.push(format!(
                    "{}: every pixel has the same value; the image is uniform",
                    path.display()
                ));
            }
            let span = (hi - lo).max(1) as f32;
            let (base, dir) = if slope > 0.0 { (lo, 1) } else { (hi, -1) };
            Some(map_samples(samples, n, move |raw| {
                finish((dir * (stored(raw) - base)) as f32 / span)
            }))
        }
        Voi::Window {
            center,
            width,
            function,
        } => {
            // y = (m - c') / w' + 0.5 with m = slope * v + intercept.
            let (c, w) = match function {
                VoiFunction::Linear if width > 1.0 => (center - 0.5, width - 1.0),
                VoiFunction::LinearExact => (center, width),
                _ => return None,
            };
            let a = (slope / w) as f32;
            let b = ((intercept - c) / w + 0.5) as f32;
            Some(map_samples(samples, n, move |raw| {
                finish((stored(raw) as f32 * a + b).clamp(0.0, 1.0))
            }))
        }
        Voi::Lut(_) => None,
    }
}

/// Minimum and maximum stored value over the first `n` samples.
fn stored_extremes(
    samples: &Samples<'_>,
    n: usize,
    stored: impl Fn(u32) -> i32 + Copy,
) -> (i32, i32) {
    let fold = move |(lo, hi): (i32, i32), v: u32| {
        let x = stored(v);
        (lo.min(x), hi.max(x))
    };
    let init = (i32::MAX, i32::MIN);
    with_raw!(
        samples,
        n,
        |it| it.fold(init, fold),
        le16 | b | {
            let mut acc = init;
            le16_blocks(b, n, |blk| {
                acc = blk.iter().map(|&v| v as u32).fold(acc, fold)
            });
            acc
        }
    )
}

/// Minimum and maximum of `f(sample)` over the first `n` samples.
fn frame_extremes(samples: &Samples<'_>, n: usize, f: impl Fn(u32) -> f64 + Copy) -> (f64, f64) {
    let fold = move |(lo, hi): (f64, f64), v: u32| {
        let m = f(v);
        (lo.min(m), hi.max(m))
    };
    let init = (f64::INFINITY, f64::NEG_INFINITY);
    with_raw!(
        samples,
        n,
        |it| it.fold(init, fold),
        le16 | b | {
            let mut acc = init;
            le16_blocks(b, n, |blk| {
                acc = blk.iter().map(|&v| v as u32).fold(acc, fold)
            });
            acc
        }
    )
}

/// `f(sample)` for the first `n` samples. `f` is taken by value into each loop (it is `Copy`)
/// so that its captures stay in registers and the loop vectorises.
fn map_samples(samples: &Samples<'_>, n: usize, f: impl Fn(u32) -> f32 + Copy) -> Vec<f32> {
    with_raw!(
        samples,
        n,
        |it| it.map(f).collect(),
        le16 | b | {
            let mut out = Vec::with_capacity(n);
            le16_blocks(b, n, |blk| out.extend(blk.iter().map(|&v| f(v as u32))));
            out
        }
    )
}

// ---------------------------------------------------------------------------------------------
// Colour
// ---------------------------------------------------------------------------------------------

/// Reduces a three-sample frame to grey. The JPEG family decoders hand back RGB whatever the
/// stored photometric interpretation; native and RLE YBR_FULL data is converted here.
fn colour_pixels(
    path: &Path,
    samples: &Samples<'_>,
    n: usize,
    layout: &PixelLayout,
    encapsulated: bool,
    ts_uid: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<f32>, ReadError> {
    let max = if layout.bits_stored >= 32 {
        u32::MAX as f32
    } else {
        ((1u64 << layout.bits_stored) - 1) as f32
    };
    let mask = if layout.bits_stored >= 32 {
        u32::MAX
    } else {
        (1u32 << layout.bits_stored) - 1
    };
    let pixels = layout.rows * layout.cols;
    // Interleave (R, G, B) per pixel, keeping the stored bits only.
    let mut rgb: Vec<f32> = Vec::with_capacity(n);
    for p in 0..pixels {
        for c in 0..3 {
            let i = if layout.planar && !encapsulated {
                c * pixels + p
            } else {
                3 * p + c
            };
            rgb.push((samples.get(i) & mask) as f32);
        }
    }
    let converted_by_codec = encapsulated && ts_uid != RLE_LOSSLESS;
    match layout.photometric.as_str() {
        "RGB" => {}
        "YBR_FULL" if !converted_by_codec => {
            let mid = (max + 1.0) / 2.0;
            for px in rgb.chunks_exact_mut(3) {
                let (y, cb, cr) = (px[0], px[1] - mid, px[2] - mid);
                px[0] = (y + 1.402 * cr).clamp(0.0, max);
                px[1] = (y - 0.344136 * cb - 0.714136 * cr).clamp(0.0, max);
                px[2] = (y + 1.772 * cb).clamp(0.0, max);
            }
        }
        _ if converted_by_codec => {}
        other => {
            return Err(unsupported_pixels(
                path,
                format!(
                    "{other} colour data in this transfer syntax (only RGB and YBR_FULL are read)"
                ),
            ))
        }
    }
    warnings.push(format!(
        "{}: colour DICOM ({}); reduced to grey",
        path.display(),
        layout.photometric
    ));
    Ok(rgb_to_gray(path, &rgb, 3, max, warnings, |v| v))
}

// ---------------------------------------------------------------------------------------------
// Header fields: spacing, sex, age
// ---------------------------------------------------------------------------------------------

fn read_header_fields(
    path: &Path,
    obj: &InMemDicomObject,
    meta: &mut RadiographMeta,
    warnings: &mut Vec<String>,
) {
    meta.pixel_spacing_mm = read_spacing(path, obj, warnings);
    meta.sex = match str_attr(obj, tags::PATIENT_SEX).map(|s| s.to_ascii_uppercase()) {
        Some(s) if s == "M" => Some(Sex::Male),
        Some(s) if s == "F" => Some(Sex::Female),
        Some(s) if s == "O" => None,
        None => None,
        Some(other) => {
            warnings.push(format!(
                "{}: PatientSex {other:?} is not M, F or O; sex unknown",
                path.display()
            ));
            None
        }
    };
    meta.age_months = read_age(path, obj, warnings);
}

fn read_spacing(
    path: &Path,
    obj: &InMemDicomObject,
    warnings: &mut Vec<String>,
) -> Option<[f64; 2]> {
    for (tag, name) in [
        (tags::PIXEL_SPACING, "PixelSpacing"),
        (tags::IMAGER_PIXEL_SPACING, "ImagerPixelSpacing"),
    ] {
        if obj.get(tag).is_none() {
            continue;
        }
        match floats_attr(obj, tag) {
            Some(v) if v.len() >= 2 && v[..2].iter().all(|x| x.is_finite() && *x > 0.0) => {
                return Some([v[0], v[1]]);
            }
            _ => warnings.push(format!("{}: {name} is malformed; ignored", path.display())),
        }
    }
    None
}

/// Age in months from the birth date and the first study date found (day-exact), else from
/// PatientAge (whole years for children over two, too coarse for an SDS when the dates exist).
fn read_age(path: &Path, obj: &InMemDicomObject, warnings: &mut Vec<String>) -> Option<f64> {
    let from_age = str_attr(obj, tags::PATIENT_AGE).and_then(|age| {
        let m = parse_age_string(&age);
        if m.is_none() {
            warnings.push(format!(
                "{}: PatientAge {age:?} is not nnnD/W/M/Y; ignored",
                path.display()
            ));
        }
        m
    });
    age_from_dates(path, obj, warnings).or(from_age)
}

/// Age in months from PatientBirthDate and StudyDate (or AcquisitionDate, ContentDate).
fn age_from_dates(path: &Path, obj: &InMemDicomObject, warnings: &mut Vec<String>) -> Option<f64> {
    let birth_raw = str_attr(obj, tags::PATIENT_BIRTH_DATE)?;
    let Some(birth) = parse_da(&birth_raw) else {
        warnings.push(format!(
            "{}: PatientBirthDate {birth_raw:?} is not a date; age unknown",
            path.display()
        ));
        return None;
    };
    for (tag, name) in [
        (tags::STUDY_DATE, "StudyDate"),
        (tags::ACQUISITION_DATE, "AcquisitionDate"),
        (tags::CONTENT_DATE, "ContentDate"),
    ] {
        let Some(raw) = str_attr(obj, tag) else {
            continue;
        };
        let Some(date) = parse_da(&raw) else {
            warnings.push(format!(
                "{}: {name} {raw:?} is not a date; ignored",
                path.display()
            ));
            continue;
        };
        let days = days_from_civil(date) - days_from_civil(birth);
        if days < 0 {
            warnings.push(format!(
                "{}: PatientBirthDate {birth_raw} is after {name} {raw}; age unknown",
                path.display()
            ));
            return None;
        }
        return Some(days as f64 / DAYS_PER_MONTH);
    }
    None
}

/// `nnnD`, `nnnW`, `nnnM`, `nnnY` (DICOM AS; 1–3 digits accepted) to months.
fn parse_age_string(s: &str) -> Option<f64> {
    let s = s.trim();
    let unit = s.chars().last()?.to_ascii_uppercase();
    let digits = &s[..s.len() - 1];
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: f64 = digits.parse().ok()?;
    match unit {
        'D' => Some(n / DAYS_PER_MONTH),
        'W' => Some(n * 7.0 / DAYS_PER_MONTH),
        'M' => Some(n),
        'Y' => Some(n * 12.0),
        _ => None,
    }
}

/// A DICOM DA value (`YYYYMMDD`, or the old `YYYY.MM.DD`) as (year, month, day).
fn parse_da(s: &str) -> Option<(i64, u32, u32)> {
    let digits: String = s
        .trim()
        .chars()
        .filter(|c| *c != '.' && *c != '-')
        .collect();
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i64 = digits[0..4].parse().ok()?;
    let m: u32 = digits[4..6].parse().ok()?;
    let d: u32 = digits[6..8].parse().ok()?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d == 0 || d > month_days[(m - 1) as usize] {
        return None;
    }
    Some((y, m, d))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil((y, m, d): (i64, u32, u32)) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
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
        let layout =
            |bits_stored: u32, high_bit: u32, signed: bool, photometric: &str| PixelLayout {
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
            assert!(affine_grey_pixels(
                Path::new("t"),
                &samples,
                5,
                &layout,
                0,
                &t,
                &mut Vec::new()
            )
            .is_none());
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
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x0B, 8, 0, 3, 0, 5,
            1, 1, 0x11, 0,
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
}
