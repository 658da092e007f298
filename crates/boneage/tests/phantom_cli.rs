//! `boneage phantom` end to end: a tiny set on disk, and clear failures.

use std::path::Path;
use std::process::Command;

fn boneage() -> Command {
    Command::new(env!("CARGO_BIN_EXE_boneage"))
}

fn png_size(path: &Path) -> (u32, u32, u8) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h, bytes[24])
}

#[test]
fn writes_a_tiny_rsna_layout_set() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("set");
    let status = boneage()
        .args([
            "phantom", "--n", "6", "--size", "128x160", "--seed", "5", "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );

    let labels = std::fs::read_to_string(out.join("labels.csv")).unwrap();
    let lines: Vec<&str> = labels.lines().collect();
    assert_eq!(lines[0], "id,boneage,male,chronological_age");
    assert_eq!(lines.len(), 7);
    for (i, line) in lines[1..].iter().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 4, "{line}");
        assert_eq!(f[0], (i + 1).to_string());
        let age: f64 = f[1].parse().unwrap();
        assert!((0.0..=228.0).contains(&age), "{line}");
        assert!(f[2] == "True" || f[2] == "False", "{line}");
        assert!(f[3].parse::<f64>().unwrap() >= 0.0, "{line}");
    }

    let kp = std::fs::read_to_string(out.join("keypoints.csv")).unwrap();
    let kl: Vec<&str> = kp.lines().collect();
    assert_eq!(kl[0], "id,x1,y1,x2,y2,x3,y3");
    assert_eq!(kl.len(), 7);
    for line in &kl[1..] {
        let v: Vec<f64> = line
            .split(',')
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(v.len(), 6);
        for (k, c) in v.iter().enumerate() {
            let limit = if k % 2 == 0 { 128.0 } else { 160.0 };
            assert!(*c >= 0.0 && *c < limit, "{line}");
        }
        assert!(v[1] < v[5], "middle fingertip above the capitate: {line}");
    }

    for id in 1..=6 {
        assert_eq!(
            png_size(&out.join(format!("images/{id}.png"))),
            (128, 160, 8)
        );
        assert_eq!(
            png_size(&out.join(format!("masks/{id}.png"))),
            (128, 160, 8)
        );
    }
    // No temporary files left behind.
    for dir in [out.clone(), out.join("images"), out.join("masks")] {
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".tmp"), "{name}");
        }
    }

    // The same seed with one worker gives the same bytes; 16-bit output when asked.
    let again = tmp.path().join("again");
    let st = boneage()
        .args([
            "phantom", "--n", "6", "--size", "128x160", "--seed", "5", "--jobs", "1", "--bit16",
            "--out",
        ])
        .arg(&again)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        std::fs::read(out.join("labels.csv")).unwrap(),
        std::fs::read(again.join("labels.csv")).unwrap()
    );
    assert_eq!(
        std::fs::read(out.join("masks/3.png")).unwrap(),
        std::fs::read(again.join("masks/3.png")).unwrap()
    );
    assert_eq!(png_size(&again.join("images/1.png")), (128, 160, 16));
}

#[test]
fn zero_images_fails_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = boneage()
        .args(["phantom", "--n", "0", "--out"])
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("number of images must be at least 1"), "{err}");
}

#[test]
fn bad_size_and_missing_ages_file_fail_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = boneage()
        .args(["phantom", "--n", "2", "--size", "40x50", "--out"])
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("too small to draw a hand"));

    let out = boneage()
        .args([
            "phantom",
            "--n",
            "2",
            "--ages",
            "no-such-table.csv",
            "--out",
        ])
        .arg(tmp.path().join("y"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-table.csv"));
}

#[test]
fn contact_sheet_is_a_png() {
    let tmp = tempfile::tempdir().unwrap();
    let sheet = tmp.path().join("sheet.png");
    let st = boneage()
        .args(["phantom", "--contact-sheet"])
        .arg(&sheet)
        .args(["--size", "64x80", "--clean"])
        .status()
        .unwrap();
    assert!(st.success());
    let (w, h, depth) = png_size(&sheet);
    assert_eq!(depth, 8);
    assert!(w > 640 && h > 320, "{w}x{h}");
}
