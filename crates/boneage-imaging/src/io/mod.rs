//! Reading radiographs (PNG, JPEG, DICOM) into a [`Radiograph`], and writing PNGs atomically.
//!
//! The format is found from the file's first bytes, not its name: a PNG signature, a JPEG SOI
//! marker, or a DICOM file (the `DICM` preamble, or a `.dcm` name for preamble-less files).
//! Whatever the source, the result is one grayscale `f32` image in `[0, 1]` with bone bright.

mod dicom;
mod jpeg_io;
mod png_io;

use boneage_core::Sex;
use serde::Serialize;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use jpeg_io::{encode_jpeg_gray8, jpeg_quality};
pub use png_io::{encode_png_gray16, encode_png_gray8, write_png_gray16, write_png_gray8};

use crate::gray::GrayImage;

/// The container a radiograph was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// PNG, 8 or 16 bits.
    Png,
    /// JPEG, 8 bits.
    Jpeg,
    /// DICOM (a Part 10 file).
    Dicom,
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceFormat::Png => "PNG",
            SourceFormat::Jpeg => "JPEG",
            SourceFormat::Dicom => "DICOM",
        })
    }
}

/// How the stored samples were to be displayed, as the file said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Photometric {
    /// Grey, 0 = black (PNG/JPEG grey, DICOM MONOCHROME2).
    Monochrome2,
    /// Grey, 0 = white (DICOM MONOCHROME1); inverted on reading.
    Monochrome1,
    /// Grey with an alpha channel (PNG); alpha is dropped.
    GrayAlpha,
    /// Palette (PNG); expanded, then reduced to grey.
    Palette,
    /// Colour (PNG/JPEG RGB, RGBA); reduced to grey.
    Rgb,
}

/// What is known about a radiograph besides its pixels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RadiographMeta {
    /// The file read.
    pub source: PathBuf,
    /// Its format.
    pub format: SourceFormat,
    /// Bits per stored sample (8 or 16 for PNG/JPEG; BitsStored for DICOM).
    pub bit_depth: u8,
    /// How its grey values were stored.
    pub photometric: Photometric,
    /// Physical pixel size `[row spacing, column spacing]` in millimetres, when known.
    pub pixel_spacing_mm: Option<[f64; 2]>,
    /// Patient sex from the file header (DICOM PatientSex), when present.
    pub sex: Option<Sex>,
    /// Patient age in months from the header (PatientAge, or birth date vs study date).
    pub age_months: Option<f64>,
    /// DICOM transfer syntax UID, for DICOM sources.
    pub transfer_syntax: Option<String>,
    /// For a JPEG, the quality (1–100, the IJG scale most encoders use) its luminance
    /// quantisation table was made with ([`jpeg_quality`]); `None` for other formats or a
    /// table unlike the IJG one.
    pub jpeg_quality: Option<u32>,
    /// Things the reader had to guess or change (e.g. colour reduced to grey).
    pub warnings: Vec<String>,
}

impl RadiographMeta {
    /// Metadata with only the source, format, depth and photometric known.
    pub fn new(
        source: &Path,
        format: SourceFormat,
        bit_depth: u8,
        photometric: Photometric,
    ) -> Self {
        RadiographMeta {
            source: source.to_path_buf(),
            format,
            bit_depth,
            photometric,
            pixel_spacing_mm: None,
            sex: None,
            age_months: None,
            transfer_syntax: None,
            jpeg_quality: None,
            warnings: Vec::new(),
        }
    }
}

/// A radiograph: pixels in `[0, 1]`, bone bright, plus what the file said about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Radiograph {
    /// The pixels.
    pub image: GrayImage,
    /// What the file said about them.
    pub meta: RadiographMeta,
}

/// Why a radiograph could not be read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file cannot be read.
    #[error("{path}: cannot read file: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The file has no bytes.
    #[error("{path}: file is empty")]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The first bytes are not those of a PNG, JPEG or DICOM file.
    #[error("{path}: not a PNG, JPEG or DICOM file (first bytes {magic})")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// Its first bytes, in hex.
        magic: String,
    },
    /// The file ends before its image does.
    #[error("{path}: {format} file is truncated: {detail}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: SourceFormat,
        /// What the decoder said.
        detail: String,
    },
    /// The decoder refused the file.
    #[error("{path}: cannot decode {format}: {detail}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: SourceFormat,
        /// What the decoder said.
        detail: String,
    },
    /// The image has no pixels.
    #[error("{path}: image has zero size ({width}x{height})")]
    ZeroSize {
        /// The file.
        path: PathBuf,
        /// Width from the header.
        width: usize,
        /// Height from the header.
        height: usize,
    },
    /// A DICOM file without the pixel data element.
    #[error("{path}: DICOM file has no pixel data (7FE0,0010)")]
    NoPixelData {
        /// The file.
        path: PathBuf,
    },
    /// A DICOM transfer syntax the reader cannot decode.
    #[error("{path}: unsupported DICOM transfer syntax {uid} ({name})")]
    UnsupportedTransferSyntax {
        /// The file.
        path: PathBuf,
        /// The transfer syntax UID.
        uid: String,
        /// Its name.
        name: String,
    },
    /// Pixels of a kind the reader does not handle (e.g. more than one frame's worth).
    #[error("{path}: unsupported pixel format: {detail}")]
    UnsupportedPixels {
        /// The file.
        path: PathBuf,
        /// What is unsupported.
        detail: String,
    },
    /// The file passes a limit of [`crate::limits`] (too many pixels, sequences nested too
    /// deep, too large a file), found from its header before anything was allocated for it.
    #[error("{path}: {format} file refused: {detail}")]
    OverLimit {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: SourceFormat,
        /// Which limit, and what the file claims.
        detail: String,
    },
    /// An output file cannot be written.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

impl ReadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::EmptyFile { path }
            | ReadError::UnknownFormat { path, .. }
            | ReadError::Truncated { path, .. }
            | ReadError::Decode { path, .. }
            | ReadError::ZeroSize { path, .. }
            | ReadError::NoPixelData { path }
            | ReadError::UnsupportedTransferSyntax { path, .. }
            | ReadError::UnsupportedPixels { path, .. }
            | ReadError::OverLimit { path, .. }
            | ReadError::Write { path, .. } => path,
        }
    }
}

/// Reads a radiograph from a PNG, JPEG or DICOM file (at most
/// [`MAX_FILE_BYTES`](crate::limits::MAX_FILE_BYTES) of it: a longer file, or a device that
/// never ends, is refused).
pub fn read_radiograph(path: impl AsRef<Path>) -> Result<Radiograph, ReadError> {
    let path = path.as_ref();
    let bytes = read_bounded(path)?;
    decode_radiograph(path, &bytes)
}

/// A file's bytes, refused beyond [`MAX_FILE_BYTES`](crate::limits::MAX_FILE_BYTES) or when
/// it is not a regular file.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, ReadError> {
    crate::limits::read_bounded(path, crate::limits::MAX_FILE_BYTES).map_err(|source| {
        ReadError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Decodes radiograph bytes; `path` names the source in metadata and errors.
pub fn decode_radiograph(path: &Path, bytes: &[u8]) -> Result<Radiograph, ReadError> {
    if bytes.is_empty() {
        return Err(ReadError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let radiograph = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png_io::decode_png(path, bytes)?
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        jpeg_io::decode_jpeg(path, bytes)?
    } else if is_dicom(path, bytes) {
        dicom::decode_dicom(path, bytes)?
    } else {
        let magic = bytes
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        return Err(ReadError::UnknownFormat {
            path: path.to_path_buf(),
            magic,
        });
    };
    let img = &radiograph.image;
    if img.width == 0 || img.height == 0 {
        return Err(ReadError::ZeroSize {
            path: path.to_path_buf(),
            width: img.width,
            height: img.height,
        });
    }
    Ok(radiograph)
}

/// Checks the structure of a DICOM data set that comes without a file around it (as a DICOM
/// node receives it) before it is parsed: sequences nested deeper than
/// [`MAX_DICOM_DEPTH`](crate::limits::MAX_DICOM_DEPTH), lengths beyond the bytes there are,
/// misplaced delimiters. `transfer_syntax`: the UID it was sent in (deflated data sets are not
/// taken).
pub fn check_dicom_data_set(bytes: &[u8], transfer_syntax: &str) -> Result<(), String> {
    let encoding = dicom::structure::Encoding::of_transfer_syntax(transfer_syntax)
        .ok_or_else(|| format!("transfer syntax {transfer_syntax} is not taken"))?;
    dicom::structure::check(bytes, 0, false, encoding).map_err(|p| p.to_string())
}

fn is_dicom(path: &Path, bytes: &[u8]) -> bool {
    if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        return true;
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    ext == "dcm" || ext == "dicom"
}

/// Reduces interleaved colour samples to grey. Equal channels (grey stored as RGB, as many
/// exported radiographs are) are taken as they are; unequal ones are mixed with the ITU-R
/// BT.601 luma weights and a warning is recorded. Channels beyond the third (alpha) are ignored.
pub(crate) fn rgb_to_gray<T: Copy>(
    path: &Path,
    samples: &[T],
    channels: usize,
    max: f32,
    warnings: &mut Vec<String>,
    to_f32: impl Fn(T) -> f32,
) -> Vec<f32> {
    let mut unequal = 0usize;
    let out: Vec<f32> = samples
        .chunks_exact(channels)
        .map(|px| {
            let (r, g, b) = (to_f32(px[0]), to_f32(px[1]), to_f32(px[2]));
            if r != g || g != b {
                unequal += 1;
                (0.299 * r + 0.587 * g + 0.114 * b) / max
            } else {
                r / max
            }
        })
        .collect();
    if unequal > 0 {
        warnings.push(format!(
            "{}: colour image with unequal channels in {:.1}% of pixels; converted to grey \
             with BT.601 luma weights",
            path.display(),
            100.0 * unequal as f64 / out.len().max(1) as f64
        ));
    }
    out
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename, so
/// a killed run never leaves a half-written file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_empty_files_are_named() {
        let e = decode_radiograph(Path::new("x.bin"), b"hello world").unwrap_err();
        assert!(
            e.to_string().contains("x.bin") && e.to_string().contains("not a PNG"),
            "{e}"
        );
        let e = decode_radiograph(Path::new("e.png"), b"").unwrap_err();
        assert!(e.to_string().contains("e.png: file is empty"), "{e}");
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
