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

// `with_raw!` (pixels.rs) is used by grey.rs: pixels comes first.
#[macro_use]
mod pixels;
mod encapsulated;
mod grey;
mod header;
pub(crate) mod structure;
#[cfg(test)]
mod tests;

use encapsulated::*;
use grey::*;
use header::*;
use pixels::*;

type DicomFile = FileDicomObject<InMemDicomObject>;

pub(crate) use boneage_core::age::DAYS_PER_MONTH;

const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
const DEFLATED_EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1.99";
/// JPIP referenced deflate: its data set is deflated too.
const JPIP_REFERENCED_DEFLATE: &str = "1.2.840.10008.1.2.4.95";
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
    structure::check_meta(body, 4).map_err(|p| structure_error(path, p))?;
    let meta =
        FileMetaTable::from_reader(body).map_err(|e| parse_error(path, "file meta group", &e))?;
    let uid = clean_uid(meta.transfer_syntax());
    check_structure(path, body, &uid)?;
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

/// Walks the element headers of `body` (`DICM`, file meta group, data set) before the parser
/// sees them: sequences nested too deep, or lengths beyond the file, are refused here (see
/// [`structure`]). A deflated data set is inflated first, to at most
/// [`MAX_FILE_BYTES`](crate::limits::MAX_FILE_BYTES).
fn check_structure(path: &Path, body: &[u8], uid: &str) -> Result<(), ReadError> {
    match structure::Encoding::of_transfer_syntax(uid) {
        Some(encoding) => {
            structure::check(body, 4, true, encoding).map_err(|p| structure_error(path, p))
        }
        None if [DEFLATED_EXPLICIT_VR_LE, JPIP_REFERENCED_DEFLATE]
            .contains(&uid.trim_end_matches(['\0', ' '])) =>
        {
            let start = structure::meta_end(body, 4);
            let max = crate::limits::MAX_FILE_BYTES as usize;
            let inflated = miniz_oxide::inflate::decompress_to_vec_with_limit(&body[start..], max)
                .map_err(|e| match e.status {
                    miniz_oxide::inflate::TINFLStatus::HasMoreOutput => ReadError::OverLimit {
                        path: path.to_path_buf(),
                        format: SourceFormat::Dicom,
                        detail: format!("the deflated data set inflates to more than {max} bytes"),
                    },
                    status => decode_error(
                        path,
                        format!("the deflated data set cannot be inflated ({status:?})"),
                    ),
                })?;
            structure::check(&inflated, 0, false, structure::Encoding::ExplicitLe)
                .map_err(|p| structure_error(path, p))
        }
        // Unknown syntaxes are refused by the parser.
        None => Ok(()),
    }
}

fn structure_error(path: &Path, problem: structure::Problem) -> ReadError {
    let (path, format) = (path.to_path_buf(), SourceFormat::Dicom);
    match problem {
        structure::Problem::OverLimit(detail) => ReadError::OverLimit {
            path,
            format,
            detail,
        },
        structure::Problem::Truncated(detail) => ReadError::Truncated {
            path,
            format,
            detail,
        },
        structure::Problem::Malformed(detail) => ReadError::Decode {
            path,
            format,
            detail,
        },
    }
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
    // A bare data set starts with its lowest group: the file meta group (0002) or the
    // identifying group (0008). Anything else (all zeros, text) is no DICOM at all.
    let first = (bytes.len() >= 4).then(|| {
        Tag(
            u16::from_le_bytes([bytes[0], bytes[1]]),
            u16::from_le_bytes([bytes[2], bytes[3]]),
        )
    });
    if !first.is_some_and(|t| t.0 == 0x0002 || t.0 == 0x0008) {
        return Err(decode_error(
            path,
            format!(
                "not a DICOM file: no DICM marker, and the bytes do not start like a DICOM data \
                 set (first tag {}, where (0002,xxxx) or (0008,xxxx) must be)",
                first.map_or("missing".to_string(), |t| t.to_string())
            ),
        ));
    }
    let explicit = bytes.len() >= 6 && VR::from_binary([bytes[4], bytes[5]]).is_some();
    let (uid, name) = if explicit {
        (EXPLICIT_VR_LE, "explicit VR little endian")
    } else {
        (IMPLICIT_VR_LE, "implicit VR little endian")
    };
    let encoding = if explicit {
        structure::Encoding::ExplicitLe
    } else {
        structure::Encoding::ImplicitLe
    };
    structure::check(bytes, 0, false, encoding).map_err(|p| structure_error(path, p))?;
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
