//! Helpers for the DICOM integration tests: building small DICOM files in memory, and the
//! encoders their compressed transfer syntaxes need (RLE Lossless, JPEG lossless process 14
//! SV1, JPEG 2000 through the `openjp2` port, JPEG baseline through the `image` crate).
//!
//! Nothing here reads fixtures from disk: every file a test decodes is made by these helpers.

#![allow(dead_code)]

use boneage_imaging::io::{decode_radiograph, Radiograph, ReadError};
use dicom_core::value::{InMemFragment, PixelFragmentSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use std::path::Path;

pub const EXPLICIT_LE: &str = uids::EXPLICIT_VR_LITTLE_ENDIAN;
pub const IMPLICIT_LE: &str = uids::IMPLICIT_VR_LITTLE_ENDIAN;
/// Explicit VR Big Endian (retired, still met in old archives).
pub const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
pub const DEFLATED_LE: &str = uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN;
pub const JPEG_BASELINE: &str = uids::JPEG_BASELINE8_BIT;
pub const JPEG_LOSSLESS_14: &str = uids::JPEG_LOSSLESS;
pub const JPEG_LOSSLESS_SV1: &str = uids::JPEG_LOSSLESS_SV1;
pub const RLE: &str = uids::RLE_LOSSLESS;
pub const J2K_LOSSLESS: &str = uids::JPEG2000_LOSSLESS;
pub const J2K: &str = uids::JPEG2000;
pub const JPEG_LS_LOSSLESS: &str = uids::JPEGLS_LOSSLESS;

/// The image pixel module of a test image.
#[derive(Debug, Clone)]
pub struct Pixels {
    pub rows: u16,
    pub cols: u16,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub signed: bool,
    pub photometric: &'static str,
    pub samples_per_pixel: u16,
}

impl Pixels {
    /// Grey, unsigned, HighBit = BitsStored - 1.
    pub fn grey(rows: u16, cols: u16, bits_allocated: u16, bits_stored: u16) -> Pixels {
        Pixels {
            rows,
            cols,
            bits_allocated,
            bits_stored,
            signed: false,
            photometric: "MONOCHROME2",
            samples_per_pixel: 1,
        }
    }

    /// A data set with the SOP, patient and image pixel attributes (no pixel data yet).
    pub fn object(&self) -> InMemDicomObject {
        let mut obj = InMemDicomObject::new_empty();
        put_str(
            &mut obj,
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::DIGITAL_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION,
        );
        put_str(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, "2.25.123456789");
        put_str(&mut obj, tags::MODALITY, VR::CS, "DX");
        put_us(&mut obj, tags::SAMPLES_PER_PIXEL, self.samples_per_pixel);
        put_str(
            &mut obj,
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            self.photometric,
        );
        put_us(&mut obj, tags::ROWS, self.rows);
        put_us(&mut obj, tags::COLUMNS, self.cols);
        put_us(&mut obj, tags::BITS_ALLOCATED, self.bits_allocated);
        put_us(&mut obj, tags::BITS_STORED, self.bits_stored);
        put_us(&mut obj, tags::HIGH_BIT, self.bits_stored.saturating_sub(1));
        put_us(&mut obj, tags::PIXEL_REPRESENTATION, self.signed as u16);
        if self.samples_per_pixel == 3 {
            put_us(&mut obj, tags::PLANAR_CONFIGURATION, 0);
        }
        obj
    }
}

pub fn put_str(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

pub fn put_us(obj: &mut InMemDicomObject, tag: Tag, value: u16) {
    obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
}

/// Native 16-bit pixel data (OW).
pub fn put_native_u16(obj: &mut InMemDicomObject, samples: &[u16]) {
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(samples.iter().copied().collect()),
    ));
}

/// Native 8-bit pixel data (OB), padded to even length.
pub fn put_native_u8(obj: &mut InMemDicomObject, samples: &[u8]) {
    let mut bytes = samples.to_vec();
    if bytes.len() % 2 == 1 {
        bytes.push(0);
    }
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::U8(bytes.into()),
    ));
}

/// Encapsulated pixel data: one fragment per frame, empty basic offset table. Fragments are
/// padded to even length as DICOM requires.
pub fn put_encapsulated(obj: &mut InMemDicomObject, frames: Vec<Vec<u8>>) {
    let fragments: Vec<InMemFragment> = frames
        .into_iter()
        .map(|mut f| {
            if f.len() % 2 == 1 {
                f.push(0);
            }
            f
        })
        .collect();
    let value: Value<InMemDicomObject, InMemFragment> =
        Value::from(PixelFragmentSequence::new(Vec::<u32>::new(), fragments));
    obj.put(DataElement::new(tags::PIXEL_DATA, VR::OB, value));
}

/// The object as a complete DICOM file (preamble, `DICM`, meta group, data set).
pub fn file_bytes(obj: InMemDicomObject, transfer_syntax: &str) -> Vec<u8> {
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(transfer_syntax))
        .expect("meta group");
    let mut out = Vec::new();
    file.write_all(&mut out)
        .expect("writing a DICOM file to memory");
    out
}

/// Where the data set starts in a file made by [`file_bytes`] (after the meta group).
pub fn dataset_offset(file: &[u8]) -> usize {
    // (0002,0000) UL, explicit VR LE: tag(4) VR(2) len(2) value(4) at 132.
    let group_len = u32::from_le_bytes([file[140], file[141], file[142], file[143]]) as usize;
    144 + group_len
}

/// Replaces the transfer syntax UID in a file's meta group by another of the same padded
/// length (the writer refuses UIDs it does not know).
pub fn patch_transfer_syntax(file: &mut [u8], from: &str, to: &str) {
    let pad = |s: &str| {
        let mut b = s.as_bytes().to_vec();
        if b.len() % 2 == 1 {
            b.push(0);
        }
        b
    };
    let (from, to) = (pad(from), pad(to));
    assert_eq!(from.len(), to.len(), "same padded length");
    let end = dataset_offset(file);
    let pos = file[..end]
        .windows(from.len())
        .position(|w| w == from.as_slice())
        .expect("transfer syntax in meta group");
    file[pos..pos + to.len()].copy_from_slice(&to);
}

/// Decodes bytes as if read from `name`.
pub fn decode(name: &str, bytes: &[u8]) -> Result<Radiograph, ReadError> {
    decode_radiograph(Path::new(name), bytes)
}

/// A smooth 2-D gradient with values in `0..=max`.
pub fn gradient(rows: usize, cols: usize, max: u32) -> Vec<u16> {
    let span = (rows + cols - 2).max(1) as u32;
    (0..rows)
        .flat_map(|y| (0..cols).map(move |x| ((x + y) as u32 * max / span) as u16))
        .collect()
}

/// Largest absolute difference between two images' pixels.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "image sizes");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

// ---------------------------------------------------------------------------------------------
// RLE Lossless (PS3.5 Annex G)
// ---------------------------------------------------------------------------------------------

/// PackBits of one row: replicate runs of 2..=128 equal bytes, literal runs of up to 128.
fn packbits_row(row: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < row.len() {
        let mut run = 1;
        while i + run < row.len() && row[i + run] == row[i] && run < 128 {
            run += 1;
        }
        if run >= 2 {
            out.push((257 - run) as u8);
            out.push(row[i]);
            i += run;
            continue;
        }
        let start = i;
        while i < row.len() && i - start < 128 {
            if i + 1 < row.len() && row[i + 1] == row[i] {
                break;
            }
            i += 1;
        }
        out.push((i - start - 1) as u8);
        out.extend_from_slice(&row[start..i]);
    }
}

/// One RLE Lossless frame from byte planes (each `width * height`, in segment order: most
/// significant byte first, sample by sample). Rows are encoded separately, as DICOM requires.
pub fn encode_rle(width: usize, planes: &[Vec<u8>]) -> Vec<u8> {
    assert!(planes.len() <= 15);
    let mut segments: Vec<Vec<u8>> = Vec::new();
    for plane in planes {
        let mut seg = Vec::new();
        for row in plane.chunks(width) {
            packbits_row(row, &mut seg);
        }
        if seg.len() % 2 == 1 {
            seg.push(0x80); // PackBits no-op
        }
        segments.push(seg);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&(segments.len() as u32).to_le_bytes());
    let mut offset = 64u32;
    for i in 0..15 {
        if i < segments.len() {
            out.extend_from_slice(&offset.to_le_bytes());
            offset += segments[i].len() as u32;
        } else {
            out.extend_from_slice(&0u32.to_le_bytes());
        }
    }
    for seg in segments {
        out.extend_from_slice(&seg);
    }
    out
}

/// The two byte planes (high, low) of 16-bit samples.
pub fn planes_u16(samples: &[u16]) -> Vec<Vec<u8>> {
    vec![
        samples.iter().map(|v| (v >> 8) as u8).collect(),
        samples.iter().map(|v| (v & 0xFF) as u8).collect(),
    ]
}

// ---------------------------------------------------------------------------------------------
// JPEG lossless, process 14, selection value 1
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    nbits: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, n: u32) {
        for i in (0..n).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.nbits += 1;
            if self.nbits == 8 {
                self.flush_byte();
            }
        }
    }

    fn flush_byte(&mut self) {
        let byte = self.acc as u8;
        self.out.push(byte);
        if byte == 0xFF {
            self.out.push(0x00); // byte stuffing
        }
        self.acc = 0;
        self.nbits = 0;
    }

    fn finish(mut self) -> Vec<u8> {
        while self.nbits != 0 {
            self.put(1, 1); // pad with ones
        }
        self.out
    }
}

/// A single-component lossless JPEG (SOF3, predictor 1, point transform 0) of `precision`
/// bits. The Huffman table gives every difference category 0..=16 a 5-bit code, which is
/// valid (no all-ones code) if not compact.
pub fn encode_jpeg_lossless(
    width: usize,
    height: usize,
    precision: u8,
    samples: &[u16],
) -> Vec<u8> {
    assert_eq!(samples.len(), width * height);
    let mut out = vec![0xFF, 0xD8];
    // SOF3: Lf, P, Y, X, Nf, (C, H/V, Tq)
    out.extend_from_slice(&[0xFF, 0xC3, 0, 11, precision]);
    out.extend_from_slice(&(height as u16).to_be_bytes());
    out.extend_from_slice(&(width as u16).to_be_bytes());
    out.extend_from_slice(&[1, 1, 0x11, 0]);
    // DHT: class 0, id 0; 17 codes of length 5 for categories 0..=16.
    let mut bits = [0u8; 16];
    bits[4] = 17;
    out.extend_from_slice(&[0xFF, 0xC4]);
    out.extend_from_slice(&((2 + 1 + 16 + 17) as u16).to_be_bytes());
    out.push(0x00);
    out.extend_from_slice(&bits);
    out.extend(0u8..17);
    // SOS: Ns = 1, (Cs = 1, Td/Ta = 0), Ss = predictor 1, Se = 0, Ah/Al = 0.
    out.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0x00, 1, 0, 0]);
    let mut w = BitWriter::default();
    for y in 0..height {
        for x in 0..width {
            let px = samples[y * width + x] as i32;
            let pred = if x == 0 && y == 0 {
                1 << (precision - 1)
            } else if y == 0 {
                samples[x - 1] as i32
            } else if x == 0 {
                samples[(y - 1) * width] as i32
            } else {
                samples[y * width + x - 1] as i32
            };
            let mut d = (px - pred).rem_euclid(65536);
            if d > 32768 {
                d -= 65536;
            }
            let ssss = if d == 0 {
                0
            } else {
                32 - d.unsigned_abs().leading_zeros()
            };
            w.put(ssss, 5); // canonical codes: symbol k has code k
            if ssss > 0 && ssss < 16 {
                let extra = if d > 0 { d } else { d - 1 };
                w.put((extra as u32) & ((1 << ssss) - 1), ssss);
            }
        }
    }
    out.extend_from_slice(&w.finish());
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

// ---------------------------------------------------------------------------------------------
// JPEG baseline (8-bit grey) through the image crate
// ---------------------------------------------------------------------------------------------

pub fn encode_jpeg_baseline(width: usize, height: usize, samples: &[u8], quality: u8) -> Vec<u8> {
    let img =
        image::GrayImage::from_raw(width as u32, height as u32, samples.to_vec()).expect("size");
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&img)
        .expect("JPEG encoding");
    out
}

// ---------------------------------------------------------------------------------------------
// JPEG 2000 through openjp2 (a Rust port of OpenJPEG, encoder included)
// ---------------------------------------------------------------------------------------------

mod j2k_sink {
    use std::ffi::c_void;
    use std::io::{Cursor, Seek, SeekFrom, Write};

    pub unsafe extern "C" fn write(buf: *mut c_void, len: usize, user: *mut c_void) -> usize {
        let sink = &mut *(user as *mut Cursor<Vec<u8>>);
        let data = std::slice::from_raw_parts(buf as *const u8, len);
        match sink.write_all(data) {
            Ok(()) => len,
            Err(_) => usize::MAX,
        }
    }

    pub unsafe extern "C" fn skip(offset: i64, user: *mut c_void) -> i64 {
        let sink = &mut *(user as *mut Cursor<Vec<u8>>);
        match sink.seek(SeekFrom::Current(offset)) {
            Ok(_) => offset,
            Err(_) => -1,
        }
    }

    pub unsafe extern "C" fn seek(offset: i64, user: *mut c_void) -> i32 {
        let sink = &mut *(user as *mut Cursor<Vec<u8>>);
        sink.seek(SeekFrom::Start(offset as u64)).is_ok() as i32
    }
}

/// A single-component JPEG 2000 codestream (J2K, not JP2). `lossless` uses the reversible 5/3
/// wavelet with no rate limit; otherwise the irreversible 9/7 wavelet at `ratio`:1.
pub fn encode_j2k(
    width: usize,
    height: usize,
    precision: u32,
    signed: bool,
    samples: &[i32],
    lossless: bool,
    ratio: f32,
) -> Vec<u8> {
    use openjp2::image::{opj_image_comptparm, opj_image_create, opj_image_destroy};
    use openjp2::openjpeg::*;
    use openjp2::{opj_cparameters_t, OPJ_CLRSPC_GRAY, OPJ_CODEC_J2K};
    assert_eq!(samples.len(), width * height);
    let mut cmpt = opj_image_comptparm {
        dx: 1,
        dy: 1,
        w: width as u32,
        h: height as u32,
        x0: 0,
        y0: 0,
        prec: precision,
        bpp: precision,
        sgnd: signed as u32,
    };
    let mut sink = std::io::Cursor::new(Vec::<u8>::new());
    // SAFETY: the openjp2 C-style API; every pointer is checked or created just above its use,
    // the image data buffer holds width*height i32 (allocated by opj_image_create), and the
    // sink outlives the stream that writes into it.
    unsafe {
        let image = opj_image_create(1, &mut cmpt, OPJ_CLRSPC_GRAY);
        assert!(!image.is_null());
        (*image).x0 = 0;
        (*image).y0 = 0;
        (*image).x1 = width as u32;
        (*image).y1 = height as u32;
        let comp = &mut *(*image).comps;
        assert!(!comp.data.is_null());
        std::ptr::copy_nonoverlapping(samples.as_ptr(), comp.data, samples.len());

        let mut params: opj_cparameters_t = std::mem::zeroed();
        opj_set_default_encoder_parameters(&mut params);
        params.tcp_numlayers = 1;
        params.cp_disto_alloc = 1;
        params.tcp_rates[0] = if lossless { 0.0 } else { ratio };
        params.irreversible = (!lossless) as i32;
        params.numresolution = 4;

        let codec = opj_create_compress(OPJ_CODEC_J2K);
        assert!(!codec.is_null());
        assert_ne!(
            opj_setup_encoder(codec, &mut params, image),
            0,
            "setup encoder"
        );
        let stream = opj_stream_create(1 << 16, 0);
        assert!(!stream.is_null());
        opj_stream_set_user_data(stream, &mut sink as *mut _ as *mut std::ffi::c_void, None);
        opj_stream_set_write_function(stream, Some(j2k_sink::write));
        opj_stream_set_skip_function(stream, Some(j2k_sink::skip));
        opj_stream_set_seek_function(stream, Some(j2k_sink::seek));
        assert_ne!(
            opj_start_compress(codec, image, stream),
            0,
            "start compress"
        );
        assert_ne!(opj_encode(codec, stream), 0, "encode");
        assert_ne!(opj_end_compress(codec, stream), 0, "end compress");
        opj_stream_destroy(stream);
        opj_destroy_codec(codec);
        opj_image_destroy(image);
    }
    sink.into_inner()
}

/// Rows and columns of the test images.
pub const ROWS: usize = 48;
pub const COLS: usize = 64;

/// The expected full-range output for `samples`: min..max to 0..1.
pub fn full_range(samples: &[f64]) -> Vec<f32> {
    let lo = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    samples
        .iter()
        .map(|&v| ((v - lo) / (hi - lo)) as f32)
        .collect()
}

pub fn as_f64(samples: &[u16]) -> Vec<f64> {
    samples.iter().map(|&v| v as f64).collect()
}

/// A 12-bit gradient in a 16-bit container, with a few overlay bits above HighBit.
pub fn grey12() -> (Pixels, Vec<u16>) {
    (
        Pixels::grey(ROWS as u16, COLS as u16, 16, 12),
        gradient(ROWS, COLS, 4095),
    )
}
