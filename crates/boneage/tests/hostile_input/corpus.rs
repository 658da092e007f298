//! The hostile corpus: small writers of PNG, JPEG and DICOM bytes (chunks with their CRCs,
//! headers that claim huge images, nested sequences) and the corpus itself, each file with
//! what its error must say.

use std::path::{Path, PathBuf};

pub fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    v.extend_from_slice(&body);
    v.extend_from_slice(&crc32(&body).to_be_bytes());
    v
}

pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A PNG whose header says `w` x `h` grey 8-bit, with `idat` as its data.
pub fn png_header_says(w: u32, h: u32, depth: u8, colour: u8, idat: &[u8]) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend(chunk(b"IHDR", &ihdr));
    v.extend(chunk(b"IDAT", idat));
    v.extend(chunk(b"IEND", b""));
    v
}

pub fn jpeg_of(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 7 + y * 3) % 256) as u8]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

/// The JPEG with its frame header (SOF0) saying `w` x `h`.
pub fn jpeg_says(mut j: Vec<u8>, w: u16, h: u16) -> Vec<u8> {
    let at = j.windows(2).position(|p| p == [0xFF, 0xC0]).unwrap();
    j[at + 5..at + 7].copy_from_slice(&h.to_be_bytes());
    j[at + 7..at + 9].copy_from_slice(&w.to_be_bytes());
    j
}

/// Explicit VR little endian element.
pub fn el(g: u16, e: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut v = g.to_le_bytes().to_vec();
    v.extend_from_slice(&e.to_le_bytes());
    v.extend_from_slice(vr);
    if [b"OB", b"OW", b"SQ", b"UN", b"UT"].contains(&vr) {
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&(value.len() as u32).to_le_bytes());
    } else {
        v.extend_from_slice(&(value.len() as u16).to_le_bytes());
    }
    v.extend_from_slice(value);
    v
}

pub fn dicom_with(ts: &str, data_set: &[u8]) -> Vec<u8> {
    let mut uid = ts.as_bytes().to_vec();
    if uid.len() % 2 == 1 {
        uid.push(0);
    }
    let body = el(2, 0x10, b"UI", &uid);
    let mut v = vec![0u8; 128];
    v.extend_from_slice(b"DICM");
    v.extend(el(2, 0, b"UL", &(body.len() as u32).to_le_bytes()));
    v.extend(body);
    v.extend_from_slice(data_set);
    v
}

pub const EVRLE: &str = "1.2.840.10008.1.2.1";

/// An image header: rows, columns, 8 bits, MONOCHROME2, then `pixels` as Pixel Data.
pub fn image_header(rows: u16, cols: u16, bits: u16, samples: u16) -> Vec<u8> {
    let mut v = el(0x0028, 0x0002, b"US", &samples.to_le_bytes());
    v.extend(el(0x0028, 0x0004, b"CS", b"MONOCHROME2 "));
    v.extend(el(0x0028, 0x0010, b"US", &rows.to_le_bytes()));
    v.extend(el(0x0028, 0x0011, b"US", &cols.to_le_bytes()));
    v.extend(el(0x0028, 0x0100, b"US", &bits.to_le_bytes()));
    v.extend(el(0x0028, 0x0101, b"US", &bits.to_le_bytes()));
    v.extend(el(0x0028, 0x0102, b"US", &(bits - 1).to_le_bytes()));
    v.extend(el(0x0028, 0x0103, b"US", &0u16.to_le_bytes()));
    v
}

pub fn nested_sequences(levels: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..levels {
        v.extend_from_slice(&[
            0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        v.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    v
}

/// The corpus: (file name, bytes, words the error must contain).
pub fn corpus(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let mut files: Vec<(String, Vec<u8>, &'static str)> = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>, says: &'static str| {
        files.push((name.to_string(), bytes, says));
    };
    // --- PNG ---
    let grey: Vec<u8> = (0..64 * 80).map(|i| (i % 251) as u8).collect();
    let good = boneage_imaging::io::encode_png_gray8(64, 80, &grey);
    add("empty.png", Vec::new(), "empty");
    add("signature-only.png", good[..8].to_vec(), "truncated");
    for (k, cut) in [12, 20, 33, 40, 60, good.len() / 2, good.len() - 13]
        .into_iter()
        .enumerate()
    {
        add(&format!("png-cut-{k}.png"), good[..cut].to_vec(), "PNG");
    }
    let mut bad_crc = good.clone();
    bad_crc[29] ^= 0xFF;
    add("png-bad-ihdr-crc.png", bad_crc, "PNG");
    let zeros = {
        // Rows of zeros, deflated (as a bomb would be): 200 rows of a 60000-wide image.
        let raw = vec![0u8; 60_001 * 200];
        miniz_oxide::deflate::compress_to_vec_zlib(&raw, 9)
    };
    add(
        "png-bomb-60000.png",
        png_header_says(60_000, 60_000, 8, 0, &zeros),
        "16384",
    );
    add(
        "png-bomb-16000.png",
        png_header_says(16_000, 16_000, 8, 0, &zeros),
        "64000000",
    );
    add(
        "png-bomb-rgba.png",
        png_header_says(10_000, 7_000, 16, 6, &zeros),
        "64000000",
    );
    add(
        "png-zero-size.png",
        png_header_says(0, 0, 8, 0, &zeros),
        "PNG",
    );
    add(
        "png-bad-depth.png",
        png_header_says(64, 64, 7, 0, &zeros),
        "PNG",
    );
    add(
        "png-bad-colour.png",
        png_header_says(64, 64, 8, 5, &zeros),
        "PNG",
    );
    add(
        "png-palette-no-plte.png",
        png_header_says(64, 64, 8, 3, &zeros),
        "PNG",
    );
    add(
        "png-garbage-idat.png",
        png_header_says(64, 64, 8, 0, &[0x42; 300]),
        "PNG",
    );
    add("png-no-idat.png", png_header_says(64, 64, 8, 0, &[]), "PNG");
    let wide: Vec<u16> = (0..64 * 80).map(|i| (i * 13 % 65_536) as u16).collect();
    let good16 = boneage_imaging::io::encode_png_gray16(64, 80, &wide);
    add(
        "png16-cut.png",
        good16[..good16.len() * 2 / 3].to_vec(),
        "PNG",
    );
    // --- JPEG ---
    let jpeg = jpeg_of(64, 80);
    add("soi-only.jpg", vec![0xFF, 0xD8], "JPEG");
    for (k, cut) in [4, 30, 200, jpeg.len() / 2, jpeg.len() - 2]
        .into_iter()
        .enumerate()
    {
        add(&format!("jpeg-cut-{k}.jpg"), jpeg[..cut].to_vec(), "JPEG");
    }
    add(
        "jpeg-bomb-65000.jpg",
        jpeg_says(jpeg.clone(), 65_000, 65_000),
        "16384",
    );
    add(
        "jpeg-bomb-9000.jpg",
        jpeg_says(jpeg.clone(), 9_000, 9_000),
        "64000000",
    );
    add("jpeg-zero-size.jpg", jpeg_says(jpeg.clone(), 0, 80), "JPEG");
    add("jpeg-no-frame.jpg", vec![0xFF, 0xD8, 0xFF, 0xD9], "JPEG");
    // --- DICOM ---
    add(
        "dicm-only.dcm",
        [vec![0; 128], b"DICM".to_vec()].concat(),
        "DICOM",
    );
    add("meta-only.dcm", dicom_with(EVRLE, &[]), "DICOM");
    add(
        "nested-10000.dcm",
        dicom_with(EVRLE, &nested_sequences(10_000)),
        "nested more than 32",
    );
    add(
        "nested-33.dcm",
        dicom_with(EVRLE, &nested_sequences(33)),
        "nested more than 32",
    );
    add(
        "nested-10000-implicit.dcm",
        dicom_with("1.2.840.10008.1.2", &{
            let mut v = Vec::new();
            for _ in 0..10_000 {
                v.extend_from_slice(&[0x08, 0x00, 0x40, 0x11, 0xFF, 0xFF, 0xFF, 0xFF]);
                v.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
            }
            v
        }),
        "nested more than 32",
    );
    let mut huge = el(0x0010, 0x0010, b"OB", b"ab");
    huge[8..12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    add(
        "length-fffffff0.dcm",
        dicom_with(EVRLE, &huge),
        "4294967280 bytes",
    );
    let mut pixels_huge = image_header(64, 64, 8, 1);
    let mut px = el(0x7FE0, 0x0010, b"OB", &[0; 16]);
    px[8..12].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
    pixels_huge.extend(px);
    add(
        "pixel-length-2g.dcm",
        dicom_with(EVRLE, &pixels_huge),
        "remain",
    );
    let mut no_pixels = el(0x0010, 0x0040, b"CS", b"M ");
    no_pixels.extend(image_header(64, 64, 8, 1));
    add(
        "no-pixel-data.dcm",
        dicom_with(EVRLE, &no_pixels),
        "pixel data",
    );
    let mut bomb = image_header(60_000, 60_000, 16, 1);
    bomb.extend(el(0x7FE0, 0x0010, b"OW", &[0; 64]));
    add("dicom-bomb-60000.dcm", dicom_with(EVRLE, &bomb), "16384");
    let mut bomb = image_header(9_000, 9_000, 16, 3);
    bomb.extend(el(0x7FE0, 0x0010, b"OW", &[0; 64]));
    add("dicom-bomb-rgb.dcm", dicom_with(EVRLE, &bomb), "64000000");
    let mut short = image_header(64, 64, 8, 1);
    short.extend(el(0x7FE0, 0x0010, b"OB", &[7; 100]));
    add("pixels-short.dcm", dicom_with(EVRLE, &short), "truncated");
    let mut zero = image_header(0, 64, 8, 1);
    zero.extend(el(0x7FE0, 0x0010, b"OB", &[7; 100]));
    add("rows-zero.dcm", dicom_with(EVRLE, &zero), "zero size");
    let mut four = image_header(8, 8, 8, 4);
    four.extend(el(0x7FE0, 0x0010, b"OB", &[7; 256]));
    add("samples-4.dcm", dicom_with(EVRLE, &four), "SamplesPerPixel");
    let mut bits = image_header(8, 8, 8, 1);
    bits.extend(el(0x7FE0, 0x0010, b"OB", &[7; 64]));
    add(
        "unknown-syntax.dcm",
        dicom_with("1.2.3.4.5.6", &bits),
        "transfer syntax",
    );
    let mut frag = image_header(8, 8, 8, 1);
    frag.extend_from_slice(&[
        0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
    ]);
    frag.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
    frag.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xF0, 0xFF, 0xFF, 0x7F, 1, 2]);
    add(
        "fragment-length.dcm",
        dicom_with("1.2.840.10008.1.2.4.50", &frag),
        "remain",
    );
    let mut garbage_jpeg = image_header(8, 8, 8, 1);
    garbage_jpeg.extend_from_slice(&[
        0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
    ]);
    garbage_jpeg.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
    garbage_jpeg.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 8, 0, 0, 0]);
    garbage_jpeg.extend_from_slice(&[0xFF, 0xD8, 0x42, 0x42, 0x42, 0x42, 0xFF, 0xD9]);
    garbage_jpeg.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    add(
        "jpeg-in-dicom-garbage.dcm",
        dicom_with("1.2.840.10008.1.2.4.50", &garbage_jpeg),
        "DICOM",
    );
    add(
        "jpeg-ls.dcm",
        dicom_with("1.2.840.10008.1.2.4.80", &garbage_jpeg),
        "transfer syntax",
    );
    add(
        "jpeg-xl.dcm",
        dicom_with("1.2.840.10008.1.2.4.110", &garbage_jpeg),
        "transfer syntax",
    );
    let mut stray = image_header(8, 8, 8, 1);
    stray.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
    add(
        "stray-item-end.dcm",
        dicom_with(EVRLE, &stray),
        "outside an item",
    );
    let mut one_bit = image_header(8, 8, 8, 1);
    one_bit.extend(el(0x7FE0, 0x0010, b"OB", &[7; 64]));
    let at = one_bit
        .windows(4)
        .position(|w| w == [0x28, 0x00, 0x00, 0x01])
        .unwrap();
    one_bit[at + 8..at + 10].copy_from_slice(&1u16.to_le_bytes());
    add(
        "bits-allocated-1.dcm",
        dicom_with(EVRLE, &one_bit),
        "BitsAllocated",
    );
    let nested_be: Vec<u8> = (0..10_000)
        .flat_map(|_| {
            [
                0x00, 0x08, 0x11, 0x40, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xE0,
                0x00, 0xFF, 0xFF, 0xFF, 0xFF,
            ]
        })
        .collect();
    add(
        "nested-big-endian.dcm",
        dicom_with("1.2.840.10008.1.2.2", &nested_be),
        "nested more than 32",
    );
    add("zeros-64.dcm", vec![0; 64], "not a DICOM file");
    add("zeros-200.dcm", vec![0; 200], "not a DICOM file");
    add(
        "text.dcm",
        b"this is not a radiograph\n".repeat(20),
        "not a DICOM file",
    );
    let deflated = {
        // A deflated data set that inflates to 2 GB of zeros.
        let mut d = miniz_oxide::deflate::core::CompressorOxide::new(
            miniz_oxide::deflate::core::create_comp_flags_from_zip_params(9, -15, 0),
        );
        let block = vec![0u8; 1 << 20];
        let mut out = vec![0u8; 1 << 16];
        let mut all = Vec::new();
        for k in 0..2048 {
            let flush = if k == 2047 {
                miniz_oxide::deflate::core::TDEFLFlush::Finish
            } else {
                miniz_oxide::deflate::core::TDEFLFlush::None
            };
            let mut input = &block[..];
            loop {
                let (status, used, made) =
                    miniz_oxide::deflate::core::compress(&mut d, input, &mut out, flush);
                all.extend_from_slice(&out[..made]);
                input = &input[used..];
                if input.is_empty()
                    && (made < out.len() || status == miniz_oxide::deflate::core::TDEFLStatus::Done)
                {
                    break;
                }
            }
        }
        all
    };
    add(
        "deflate-bomb.dcm",
        dicom_with("1.2.840.10008.1.2.1.99", &deflated),
        "inflates to more than",
    );
    // --- Neither ---
    add(
        "elf.png",
        b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec(),
        "not a PNG, JPEG or DICOM",
    );
    add(
        "zip.jpg",
        b"PK\x03\x04\x14\0\0\0".to_vec(),
        "not a PNG, JPEG or DICOM",
    );
    add(
        "html.png",
        b"<!doctype html><p>hi".to_vec(),
        "not a PNG, JPEG or DICOM",
    );
    add(
        "gif.png",
        b"GIF89a\x01\0\x01\0\0\0\0;".to_vec(),
        "not a PNG, JPEG or DICOM",
    );

    let mut out = Vec::new();
    for (name, bytes, says) in files {
        let p = dir.join(&name);
        std::fs::write(&p, bytes).unwrap();
        out.push((p, says));
    }
    // Not files at all.
    let folder = dir.join("folder.png");
    std::fs::create_dir_all(&folder).unwrap();
    out.push((folder, "not a regular file"));
    let zero = dir.join("dev-zero.dcm");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    out.push((zero, "not a regular file"));
    out.push((dir.join("missing.png"), "No such file"));
    out
}
