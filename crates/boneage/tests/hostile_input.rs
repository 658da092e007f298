//! A corpus of 62 hostile and broken inputs, made here by code: decompression bombs (PNG, JPEG,
//! DICOM headers claiming huge images), DICOM with ten thousand nested sequences or lengths
//! beyond the file, truncations at every stage of each format, devices and folders in place
//! of files, and broken label tables. Each must end in a clear error that names the file and
//! the problem, with a non-zero exit status: no panic, no abort, no hang, and never more than a
//! memory cap (the commands run under `ulimit -v`), and `eda` leaves no output behind.

mod common;
use common::s;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Virtual memory cap for each run, KiB (the binary with libtorch mapped needs about 1 GB).
const MEMORY_CAP_KB: u64 = 3_000_000;

struct Run {
    code: Option<i32>,
    stderr: String,
    seconds: f64,
}

/// Runs boneage under the memory cap, killed after 60 s. `BONEAGE_HOSTILE_BIN` runs another
/// build on the same corpus (to count what an older one gets wrong).
fn capped(args: &[&str]) -> Run {
    let bin = std::env::var("BONEAGE_HOSTILE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_boneage").to_string());
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_CAP_KB}; exec \"$0\" \"$@\""))
        .arg(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            return Run {
                code: None,
                stderr: "hung: killed after 60 s".into(),
                seconds: t.elapsed().as_secs_f64(),
            };
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stderr: reader.join().unwrap(),
        seconds: t.elapsed().as_secs_f64(),
    }
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    v.extend_from_slice(&body);
    v.extend_from_slice(&crc32(&body).to_be_bytes());
    v
}

fn crc32(bytes: &[u8]) -> u32 {
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
fn png_header_says(w: u32, h: u32, depth: u8, colour: u8, idat: &[u8]) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend(chunk(b"IHDR", &ihdr));
    v.extend(chunk(b"IDAT", idat));
    v.extend(chunk(b"IEND", b""));
    v
}

fn jpeg_of(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 7 + y * 3) % 256) as u8]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

/// The JPEG with its frame header (SOF0) saying `w` x `h`.
fn jpeg_says(mut j: Vec<u8>, w: u16, h: u16) -> Vec<u8> {
    let at = j.windows(2).position(|p| p == [0xFF, 0xC0]).unwrap();
    j[at + 5..at + 7].copy_from_slice(&h.to_be_bytes());
    j[at + 7..at + 9].copy_from_slice(&w.to_be_bytes());
    j
}

/// Explicit VR little endian element.
fn el(g: u16, e: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
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

fn dicom_with(ts: &str, data_set: &[u8]) -> Vec<u8> {
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

const EVRLE: &str = "1.2.840.10008.1.2.1";

/// An image header: rows, columns, 8 bits, MONOCHROME2, then `pixels` as Pixel Data.
fn image_header(rows: u16, cols: u16, bits: u16, samples: u16) -> Vec<u8> {
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

fn nested_sequences(levels: usize) -> Vec<u8> {
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
fn corpus(dir: &Path) -> Vec<(PathBuf, &'static str)> {
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

#[test]
fn every_hostile_image_gets_a_clear_error_under_a_memory_cap() {
    let dir = tempfile::tempdir().unwrap();
    let files = corpus(dir.path());
    assert!(files.len() >= 60, "{} files", files.len());
    let mut failures = Vec::new();
    let mut slowest = (0.0f64, String::new());
    for (file, says) in &files {
        let r = capped(&["inspect", s(file)]);
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if r.seconds > slowest.0 {
            slowest = (r.seconds, name.clone());
        }
        let ok = r.code.is_some_and(|c| c != 0)
            && r.stderr.contains(&name)
            && r.stderr.contains(says)
            && !r.stderr.contains("panicked")
            && !r.stderr.contains("memory allocation");
        if !ok {
            failures.push(format!(
                "{name}: exit {:?}, want an error saying {says:?}; stderr: {}",
                r.code,
                r.stderr.trim()
            ));
        }
    }
    eprintln!(
        "{} hostile files, each a clear error; slowest {:.2} s ({})",
        files.len(),
        slowest.0,
        slowest.1
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn broken_label_tables_get_clear_errors_and_eda_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let tables: [(&str, &[u8], &str); 8] = [
        ("columns.csv", b"name,age,sex\n1,100,M\n", "column"),
        ("negative.csv", b"id,boneage,male\n1,-5,True\n", "-5"),
        ("not-a-number.csv", b"id,boneage,male\n1,abc,True\n", "abc"),
        ("sex.csv", b"id,boneage,male\n1,100,maybe\n", "maybe"),
        ("empty.csv", b"", "empty"),
        ("header-only.csv", b"id,boneage,male\n", "no"),
        (
            "binary.csv",
            &[0xFF, 0xFE, 0x00, 0x42, 0x00, 0x00, 0x13],
            "binary.csv",
        ),
        (
            "crlf-bad-row.csv",
            b"id,boneage,male\r\n1,100,True\r\n2,x,False\r\n",
            "crlf-bad-row.csv:3:",
        ),
    ];
    let mut failures = Vec::new();
    for (name, bytes, says) in tables {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let r = capped(&["eda", "--labels", s(&p), "--out", s(&out)]);
        let ok = r.code.is_some_and(|c| c != 0)
            && r.stderr.contains(name)
            && r.stderr.contains(says)
            && !r.stderr.contains("panicked");
        if !ok {
            failures.push(format!("{name}: exit {:?}: {}", r.code, r.stderr.trim()));
        }
        if out.exists() && std::fs::read_dir(&out).unwrap().next().is_some() {
            failures.push(format!("{name}: eda left files in {}", out.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The seed corpora of the fuzz targets (`scripts/fuzz.sh`): valid files of every format the
/// readers take, then the hostile corpus above, by format. Every valid seed must decode (else
/// the fuzzer would start from nothing readable). With `BONEAGE_FUZZ_SEEDS=DIR` the seeds are
/// written to `DIR/<target>/`.
#[test]
fn fuzz_seeds_start_from_readable_files() {
    let work = tempfile::tempdir().unwrap();
    let out = std::env::var_os("BONEAGE_FUZZ_SEEDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| work.path().join("seeds"));
    let grey: Vec<u8> = (0..48 * 60).map(|i| (i * 7 % 251) as u8).collect();
    let grey16: Vec<u16> = (0..48 * 60).map(|i| (i * 977 % 65_521) as u16).collect();
    let pixels8 = el(0x7FE0, 0x0010, b"OB", &grey[..8 * 8]);
    let mut dicom8 = image_header(8, 8, 8, 1);
    dicom8.extend(el(0x0010, 0x0040, b"CS", b"F "));
    dicom8.extend(pixels8);
    let mut dicom16 = image_header(8, 8, 16, 1);
    let bytes16: Vec<u8> = grey16[..64].iter().flat_map(|v| v.to_le_bytes()).collect();
    dicom16.extend(el(0x7FE0, 0x0010, b"OW", &bytes16));
    let valid: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "png",
            "grey8.png",
            boneage_imaging::io::encode_png_gray8(48, 60, &grey),
        ),
        (
            "png",
            "grey16.png",
            boneage_imaging::io::encode_png_gray16(48, 60, &grey16),
        ),
        ("jpeg", "grey.jpg", jpeg_of(48, 60)),
        ("jpeg", "tiny.jpg", jpeg_of(8, 8)),
        ("dicom", "mono8.dcm", dicom_with(EVRLE, &dicom8)),
        ("dicom", "mono16.dcm", dicom_with(EVRLE, &dicom16)),
    ];
    for (target, name, bytes) in &valid {
        let r = boneage_imaging::io::decode_radiograph(Path::new(name), bytes);
        assert!(r.is_ok(), "{name}: {:?}", r.err());
        let d = out.join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), bytes).unwrap();
    }
    // The DICOM node's data sets: the same images without file meta, first byte = syntax 1
    // (explicit VR little endian) in the target's encoding.
    let d = out.join("dicom_data_set");
    std::fs::create_dir_all(&d).unwrap();
    for (k, ds) in [&dicom8, &dicom16].iter().enumerate() {
        let mut v = vec![1u8];
        v.extend_from_slice(ds);
        std::fs::write(d.join(format!("data-set-{k}")), v).unwrap();
    }
    let d = out.join("label_table");
    std::fs::create_dir_all(&d).unwrap();
    for (k, t) in [
        "id,boneage,male\n1377,180,False\n1378,12,True\n",
        "id,boneage,male\r\n1,100.5,True\r\n",
        "Case ID,Sex,Ground truth bone age (months)\n4360,M,168.93\n",
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(d.join(format!("table-{k}.csv")), t).unwrap();
    }
    // The hostile corpus too, by format.
    let hostile = work.path().join("hostile");
    std::fs::create_dir_all(&hostile).unwrap();
    for (file, _) in corpus(&hostile) {
        // Regular files of up to 1 MB (not the folder, the link to /dev/zero, or the large
        // files whose size is the attack).
        let small =
            std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_file() && m.len() <= 1 << 20);
        let Some(bytes) = small.then(|| std::fs::read(&file).ok()).flatten() else {
            continue;
        };
        let ext = file.extension().map(|e| e.to_string_lossy().to_string());
        let target = match ext.as_deref() {
            Some("png") => "png",
            Some("jpg") | Some("jpeg") => "jpeg",
            Some("dcm") => "dicom",
            _ => continue,
        };
        if bytes.len() <= 1 << 20 {
            std::fs::write(out.join(target).join(file.file_name().unwrap()), bytes).unwrap();
        }
    }
    for target in ["png", "jpeg", "dicom", "dicom_data_set", "label_table"] {
        let n = std::fs::read_dir(out.join(target)).unwrap().count();
        assert!(n >= 2, "{target}: {n} seeds");
    }
}
