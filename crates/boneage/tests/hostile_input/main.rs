//! A corpus of 62 hostile and broken inputs, made here by code: decompression bombs (PNG, JPEG,
//! DICOM headers claiming huge images), DICOM with ten thousand nested sequences or lengths
//! beyond the file, truncations at every stage of each format, devices and folders in place
//! of files, and broken label tables. Each must end in a clear error that names the file and
//! the problem, with a non-zero exit status: no panic, no abort, no hang, and never more than a
//! memory cap (the commands run under `ulimit -v`), and `eda` leaves no output behind.

#[path = "../common/mod.rs"]
mod common;
mod corpus;
use common::s;
use corpus::*;

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
