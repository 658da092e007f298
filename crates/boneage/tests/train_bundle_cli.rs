//! `scripts/train-bundle.sh` end to end on a small subset of the real radiographs (tiny nets,
//! one epoch): split, segmentation mining, registration, members, bundle with test figures,
//! evaluation on the raw test films; a second run redoes nothing; a stage killed mid-way picks
//! up where it stopped; ids without an image and an image that fails to decode stop the run
//! with a message naming them, leaving nothing half-written.

mod common;

use common::s;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn script(work: &Path, labels: &Path, images: &Path) -> Command {
    let r = repo();
    let mut c = Command::new("bash");
    c.arg(r.join("scripts/train-bundle.sh"))
        .args([
            "--labels",
            s(labels),
            "--images",
            s(images),
            "--work",
            s(work),
        ])
        .args(["--recipe", s(&r.join("configs/smoke/ensemble.json"))])
        .args(["--epochs", "1", "--device", "cpu", "--seed", "5"])
        .args(["--mine", "--mine-rounds", "1", "--mine-epochs", "1"])
        .args(["--mine-phantoms", "12"])
        .args([
            "--mine-config",
            s(&r.join("configs/smoke/segmentation.json")),
        ])
        .env("BONEAGE_BIN", env!("CARGO_BIN_EXE_boneage"))
        .stdin(Stdio::null());
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The first `n` rows of the real table as a table of their own.
fn subset(real: &Path, n: usize, extra: &str, out: &Path) {
    let t = std::fs::read_to_string(real.join("labels.csv")).unwrap();
    let mut lines: Vec<&str> = t.lines().take(n + 1).collect();
    if !extra.is_empty() {
        lines.push(extra);
    }
    std::fs::write(out, lines.join("\n") + "\n").unwrap();
}

#[test]
fn train_bundle_end_to_end_on_real_films() {
    let Some(real) = boneage_core::real_data::for_test(
        "rsna-900",
        "scripts/train-bundle.sh on real radiographs",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let labels = tmp.path().join("labels.csv");
    subset(&real, 40, "", &labels);
    let work = tmp.path().join("w");
    let images = real.join("images");

    // Killed mid-way (during mining or registration): the next run picks up from there.
    let mut child = script(&work, &labels, &images)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !work.join(".done-split").exists() && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    // The whole process group: the script and the boneage command it runs.
    unsafe_kill_group(child.id());
    let _ = child.wait();

    let o = script(&work, &labels, &images).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("done before"), "{}", text(&o));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("bundle/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["members"].as_array().unwrap().len(), 2, "{m}");
    assert_eq!(m["phantom_only"], false);
    assert!(m["segmentation"]["dir"].is_string());
    let test = &m["test"]["ensemble"];
    assert!(test["n"].as_u64().unwrap() >= 3, "{m}");
    assert!(test["mae_months"].as_f64().unwrap().is_finite());
    assert!(m["trained_on"]
        .as_str()
        .unwrap()
        .contains("training radiographs"));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("results/results.json")).unwrap())
            .unwrap();
    assert_eq!(r["n"], test["n"], "results on the raw test films: {r}");

    // Again: nothing is redone.
    let metrics = std::fs::read(work.join("runs/A-regression/metrics.csv")).unwrap();
    let o = script(&work, &labels, &images).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("epoch   1"), "{}", text(&o));
    assert_eq!(
        std::fs::read(work.join("runs/A-regression/metrics.csv")).unwrap(),
        metrics
    );

    // Ids with no image: the split stage passes them on, registration names them.
    let bad = tmp.path().join("bad.csv");
    subset(&real, 12, "99999999,100,True", &bad);
    let o = script(&tmp.path().join("w2"), &bad, &images)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("99999999"), "{}", text(&o));

    // An image that fails to decode mid-run: a clear error naming it, no record for it, and
    // once it is mended the same command finishes.
    let imgs = tmp.path().join("imgs");
    std::fs::create_dir_all(&imgs).unwrap();
    let few = tmp.path().join("few.csv");
    subset(&real, 30, "", &few);
    let ids: Vec<String> = std::fs::read_to_string(&few)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    for id in &ids {
        std::fs::copy(
            images.join(format!("{id}.png")),
            imgs.join(format!("{id}.png")),
        )
        .unwrap();
    }
    let victim = imgs.join(format!("{}.png", ids[7]));
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() / 3]).unwrap();
    let w3 = tmp.path().join("w3");
    let mut c = script(&w3, &few, &imgs);
    let o = c.output().unwrap();
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!("{}.png", ids[7])),
        "{}",
        text(&o)
    );
    for d in ["reg-train", "reg-valid", "reg-test"] {
        assert!(!w3.join(d).join(format!("{}.json", ids[7])).exists());
    }
    std::fs::write(&victim, &bytes).unwrap();
    let o = script(&w3, &few, &imgs).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(w3.join("bundle/manifest.json").is_file());
}

/// SIGKILL to a process group (the script and what it runs).
fn unsafe_kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
}
