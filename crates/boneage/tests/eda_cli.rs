//! `boneage eda` end to end: the seed's figures on the real RSNA training table, the image
//! analysis on the real sample radiographs, and clear errors on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn boneage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_boneage"))
        .args(args)
        .output()
        .expect("the boneage binary runs")
}

/// `sub` of the real-data folder, or `None` (the check is skipped, and says so).
fn real(sub: &str, what: &str) -> Option<PathBuf> {
    boneage_core::real_data::for_test(sub, what)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn train_table_gives_the_seeds_figures() {
    let out = tempfile::tempdir().unwrap();
    let labels = repo().join("data/rsna/train.csv");
    let o = boneage(&["eda", "--labels", s(&labels), "--out", s(out.path())]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = summary(out.path());
    let f = |k: &str| {
        j[k].as_f64()
            .unwrap_or_else(|| panic!("summary.json lacks {k}"))
    };
    assert_eq!(f("n"), 12611.0);
    assert!(
        (f("male_fraction") - 0.5418).abs() < 0.00005,
        "{}",
        f("male_fraction")
    );
    assert!((f("divisible_by_6_fraction") - 0.8063).abs() < 0.00005);
    let d12 = f("divisible_by_12_fraction");
    assert!(d12 > 0.0 && d12 < f("divisible_by_6_fraction"));
    assert_eq!((f("min_months"), f("max_months")), (1.0, 228.0));
    assert!((f("mean_months") - 127.32).abs() < 0.005);
    assert!((f("sd_months") - 41.18).abs() < 0.005);
    assert!((f("baseline_mae_months") - 33.60).abs() < 0.005);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("54.18%") && stdout.contains("33.60"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Bone age by sex"));
    // The shipped copy is the shared table.
    if let Some(shared) = real(
        "rsna-labels/train.csv",
        "shipped table equals the shared one",
    ) {
        assert_eq!(
            std::fs::read(&labels).unwrap(),
            std::fs::read(shared).unwrap()
        );
    }
}

#[test]
fn validation_and_test_tables_read() {
    for (t, n) in [("validation.csv", 1425), ("test.csv", 200)] {
        let out = tempfile::tempdir().unwrap();
        let labels = repo().join("data/rsna").join(t);
        let o = boneage(&["eda", "--labels", s(&labels), "--out", s(out.path())]);
        assert!(o.status.success(), "{t}: {}", stderr(&o));
        assert_eq!(summary(out.path())["n"], n, "{t}");
    }
}

#[test]
fn real_sample_images_are_analysed() {
    let Some(sample) = real("rsna-sample", "EDA of the real sample images") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = boneage(&[
        "eda",
        "--labels",
        s(&sample.join("labels.csv")),
        "--images",
        s(&sample.join("images")),
        "--out",
        s(out.path()),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.path().join("quality.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 21, "header + 20 images");
    assert!(
        lines[1..].iter().all(|l| l.contains(",500,625,8,rgb,")),
        "{csv}"
    );
    assert!(lines[1..].iter().filter(|l| l.contains("markers")).count() >= 18);
    assert!(!csv.contains("likely_inverted") && !csv.contains("unreadable"));
    let png = std::fs::read(out.path().join("flagged.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let j = summary(out.path());
    assert_eq!(j["images"]["n"], 20);
    assert_eq!(j["images"]["sizes"]["500x625"], 20);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bad_tables_fail_with_file_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cases = [
        (
            "cols.csv",
            "id,age,sex\n1,12,M\n",
            "not a known label table",
        ),
        (
            "neg.csv",
            "id,boneage,male\n1,12,True\n2,-5,False\n",
            "neg.csv:3",
        ),
        ("num.csv", "id,boneage,male\n1,abc,True\n", "not a number"),
        ("sex.csv", "id,boneage,male\n1,12,X\n", "unknown sex"),
        (
            "dup.csv",
            "id,boneage,male\n1,12,True\n1,13,True\n",
            "duplicate id",
        ),
    ];
    for (name, text, needle) in cases {
        let p = write(dir.path(), name, text);
        let o = boneage(&["eda", "--labels", s(&p), "--out", s(&out)]);
        assert_eq!(o.status.code(), Some(2), "{name}");
        let e = stderr(&o);
        assert!(e.contains(name) && e.contains(needle), "{name}: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
    let o = boneage(&[
        "eda",
        "--labels",
        s(&dir.path().join("nope.csv")),
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.csv"));
}

#[test]
fn missing_and_broken_images() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    // A noisy grey image: its pixel data fills most of the file, so cutting it truncates them.
    let mut noise = boneage_imaging::GrayImage::new(200, 250, 0.0);
    let mut x = 12345u32;
    for v in &mut noise.data {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        *v = (x >> 16) as f32 / 65_536.0;
    }
    boneage_imaging::io::write_png_gray8(&images.join("a.png"), &noise).unwrap();
    let good = std::fs::read(images.join("a.png")).unwrap();
    std::fs::write(images.join("b.png"), &good[..good.len() / 3]).unwrap();
    let out = dir.path().join("out");
    let (img, o_) = (s(&images), s(&out));

    let labels = write(
        dir.path(),
        "l.csv",
        "id,boneage,male\na,55,False\nc,12,True\n",
    );
    let o = boneage(&["eda", "--labels", s(&labels), "--images", img, "--out", o_]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("l.csv:3") && e.contains("\"c\"") && e.contains("not found"),
        "{e}"
    );

    let labels = write(
        dir.path(),
        "m.csv",
        "id,boneage,male\na,55,False\nb,12,True\n",
    );
    let o = boneage(&["eda", "--labels", s(&labels), "--images", img, "--out", o_]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("b.png") && e.contains("truncated"), "{e}");

    let o = boneage(&[
        "eda",
        "--labels",
        s(&labels),
        "--images",
        img,
        "--out",
        o_,
        "--keep-going",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.join("quality.csv")).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.starts_with("b,") && l.contains("unreadable") && l.contains("truncated")),
        "{csv}"
    );
    assert_eq!(summary(&out)["images"]["unreadable"], 1);
}

#[test]
fn inspect_prints_json_per_image_and_fails_on_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let junk = write(dir.path(), "junk.png", "not an image");
    let o = boneage(&["inspect", s(&junk)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("junk.png"));
    let Some(img) = real(
        "rsna-sample/images/wandb_2ad03ad3c05db0255a86.png",
        "inspect of a real radiograph",
    ) else {
        return;
    };
    let o = boneage(&["inspect", s(&img)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["width"], 500);
    assert_eq!(j["meta"]["format"], "png");
}
