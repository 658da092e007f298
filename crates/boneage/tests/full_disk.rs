//! A full disk and kill -9 against every command that writes a folder: what a failed run leaves
//! is whole (every PNG decodes, every JSON parses, no temporary files), the error names the
//! file and says the disk is full, and what was in the folder before is not damaged.
//!
//! The full disk is a small tmpfs mounted in a user and mount namespace of its own
//! (`unshare -rm`), so no privileges are needed. Where the kernel does not allow that, the
//! full-disk test says it was skipped; `BONEAGE_REQUIRE_SMALL_DISK=1` (set by `.ci/run`) makes
//! that a failure.

mod common;

use common::{boneage, s, stderr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Six small phantoms with labels, made once per test.
fn phantoms(root: &Path) -> PathBuf {
    let p = root.join("ph");
    let o = boneage(&[
        "phantom",
        "--n",
        "6",
        "--size",
        "192x240",
        "--seed",
        "5",
        "--out",
        s(&p),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    p
}

/// The commands that write a folder, with `{out}` for the folder and `{ph}` for the phantoms.
/// `resumes`: a failed run keeps the images it finished (and a second run completes them).
const CASES: &[(&str, &str, bool)] = &[
    (
        "phantom",
        "phantom --n 6 --size 192x240 --seed 5 --out {out}",
        false,
    ),
    ("segment", "segment --data {ph} --out {out}", true),
    ("register", "register --data {ph} --out {out}", true),
    (
        "eda",
        "eda --labels {ph}/labels.csv --images {ph}/images --out {out}",
        false,
    ),
    ("evaluate", "evaluate --data {ph} --out {out}", false),
    (
        "stress",
        "stress --data {ph} --out {out} --only rotate,jpeg --limit 3",
        false,
    ),
    (
        "report",
        "report {ph}/images/1.png --sex F --out {out}",
        false,
    ),
    ("split", "split --data {ph}/labels.csv --out {out}", false),
    (
        "train",
        "train --data {ph} --config configs/tiny.json --epochs 2 --out {out}",
        true,
    ),
];

fn args(template: &str, out: &Path, ph: &Path) -> Vec<String> {
    template
        .replace("{out}", s(out))
        .replace("{ph}", s(ph))
        .split(' ')
        .map(String::from)
        .collect()
}

fn root_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file under `dir`: no temporaries, PNGs decode, JSON parses. Returns (path, bytes).
fn check_whole(dir: &Path, what: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                !name.contains(".tmp"),
                "{what}: a temporary file is left: {}",
                p.display()
            );
            let bytes = std::fs::read(&p).unwrap();
            match p.extension().and_then(|e| e.to_str()) {
                Some("png") => {
                    image::load_from_memory(&bytes)
                        .unwrap_or_else(|e| panic!("{what}: {} is not whole: {e}", p.display()));
                }
                Some("json") => {
                    serde_json::from_slice::<serde_json::Value>(&bytes)
                        .unwrap_or_else(|e| panic!("{what}: {} is not whole: {e}", p.display()));
                }
                Some("csv") | Some("html") => {
                    assert!(
                        bytes.ends_with(b"\n") || bytes.ends_with(b">"),
                        "{what}: {} is cut short",
                        p.display()
                    );
                }
                _ => {}
            }
            out.push((p, bytes));
        }
    }
    out.sort();
    out
}

fn small_disk_possible(dir: &Path) -> bool {
    Command::new("unshare")
        .args(["-rm", "sh", "-c"])
        .arg(format!("mount -t tmpfs -o size=64k tmpfs {}", s(dir)))
        .output()
        .is_ok_and(|o| o.status.success())
}

fn skip(why: &str) {
    if std::env::var("BONEAGE_REQUIRE_SMALL_DISK").is_ok_and(|v| v == "1") {
        panic!("BONEAGE_REQUIRE_SMALL_DISK=1 but {why}");
    }
    eprintln!("skipped: {why}");
}

/// Runs `script` (sh) in a namespace where `mnt` is a fresh tmpfs of `kib` KiB.
fn on_small_disk(mnt: &Path, kib: u64, script: &str) {
    let o = Command::new("unshare")
        .args(["-rm", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs -o size={kib}k tmpfs {} && {script}",
            s(mnt)
        ))
        .current_dir(root_dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn quote(a: &[String]) -> String {
    a.iter()
        .map(|x| format!("'{x}'"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_full_disk_leaves_whole_files_a_clear_error_and_what_was_there() {
    let root = tempfile::tempdir().unwrap();
    let mnt = root.path().join("disk");
    std::fs::create_dir_all(&mnt).unwrap();
    if !small_disk_possible(&mnt) {
        skip("no small tmpfs can be mounted here (unshare -rm, mount -t tmpfs)");
        return;
    }
    let ph = phantoms(root.path());
    let bin = env!("CARGO_BIN_EXE_boneage");
    for (name, template, resumes) in CASES {
        // A normal run first: it must succeed, and it gives the size of the output.
        let normal = root.path().join(format!("normal-{name}"));
        let a = args(template, &normal, &ph);
        let o = Command::new(bin)
            .args(&a)
            .current_dir(root_dir())
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        // tmpfs gives each file whole 4 KiB pages: half of what the output takes.
        let pages: u64 = check_whole(&normal, name)
            .iter()
            .map(|(_, b)| (b.len() as u64).div_ceil(4096).max(1))
            .sum();
        let kib = 4 * (pages / 2).max(1);
        // 1. Too small a disk from the start. 2. A whole run, the disk filled up, the run again.
        let out = mnt.join("out");
        let a = quote(&args(template, &out, &ph));
        let keep = root.path().join(format!("kept-{name}"));
        let script = format!(
            "B='{bin}'; K='{k}'; mkdir -p \"$K/small\" \"$K/before\" \"$K/after\"
             \"$B\" {a} >/dev/null 2>\"$K/err1\"; echo $? >\"$K/rc1\"
             cp -r '{m}/.' \"$K/small/\"
             umount '{m}' && mount -t tmpfs -o size=65536k tmpfs '{m}'
             \"$B\" {a} >/dev/null 2>\"$K/err2\"; echo $? >\"$K/rc2\"
             cp -r '{o}/.' \"$K/before/\"
             dd if=/dev/zero of='{m}/fill' bs=4096 2>/dev/null
             \"$B\" {a} >/dev/null 2>\"$K/err3\"; echo $? >\"$K/rc3\"
             rm '{m}/fill'; cp -r '{o}/.' \"$K/after/\"",
            k = s(&keep),
            m = s(&mnt),
            o = s(&out),
        );
        on_small_disk(&mnt, kib, &script);
        let read = |f: &str| std::fs::read_to_string(keep.join(f)).unwrap();
        // 1: a clear error naming a file in the output folder; only whole files left, and
        // none at all for a command that is not resumed.
        assert_ne!(
            read("rc1").trim(),
            "0",
            "{name} on {kib} KiB: {}",
            read("err1")
        );
        let err = read("err1");
        assert!(
            err.contains("No space left on device") && err.contains(s(&out)),
            "{name}: {err}"
        );
        let left = check_whole(&keep.join("small"), name);
        if !resumes {
            assert!(
                left.is_empty(),
                "{name}: a failed run left {:?}",
                left.iter().map(|(p, _)| p).collect::<Vec<_>>()
            );
        }
        // 2: the whole run succeeded; the run on the full disk failed clearly or had nothing
        // to do, and every file that was there is still there, whole and unchanged.
        assert_eq!(read("rc2").trim(), "0", "{name}: {}", read("err2"));
        let rc3 = read("rc3");
        let err3 = read("err3");
        assert!(
            rc3.trim() == "0" || err3.contains("No space left on device"),
            "{name} on a full disk: {err3}"
        );
        let before = check_whole(&keep.join("before"), name);
        let after = check_whole(&keep.join("after"), name);
        assert!(!before.is_empty(), "{name}: nothing written");
        for (p, bytes) in &before {
            let rel = p.strip_prefix(keep.join("before")).unwrap();
            let q = keep.join("after").join(rel);
            let now = std::fs::read(&q)
                .unwrap_or_else(|_| panic!("{name}: {} was lost on a full disk", rel.display()));
            // Timings and dates may differ between runs; whole files of the same kind do not.
            if !matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("json" | "html" | "csv")
            ) {
                assert_eq!(
                    &now,
                    bytes,
                    "{name}: {} changed on a full disk",
                    rel.display()
                );
            }
        }
        assert!(after.len() >= before.len());
    }
}

#[test]
fn kill_9_leaves_whole_files_and_the_next_run_finishes() {
    let root = tempfile::tempdir().unwrap();
    let ph = phantoms(root.path());
    let bin = env!("CARGO_BIN_EXE_boneage");
    for (name, template, _) in CASES {
        for delay_ms in [150u64, 600] {
            let out = root.path().join(format!("{name}-{delay_ms}"));
            let a = args(template, &out, &ph);
            let mut child = Command::new(bin)
                .args(&a)
                .current_dir(root_dir())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(delay_ms));
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            // Whatever it left is whole, apart from the temporaries of the file it was writing
            // (hidden, and removed by the next run).
            if out.is_dir() {
                check_whole_but_temporaries(&out, name);
            }
            // The same command again (a training run with a checkpoint goes on with --resume)
            // finishes, and leaves only whole files.
            let mut again = a.clone();
            if out.join("state.json").is_file() {
                again.push("--resume".into());
            }
            let o = Command::new(bin)
                .args(&again)
                .current_dir(root_dir())
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{name} after kill -9 at {delay_ms} ms: {}",
                stderr(&o)
            );
            check_whole(&out, name);
        }
    }
}

fn check_whole_but_temporaries(dir: &Path, what: &str) {
    let copy = tempfile::tempdir().unwrap();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap();
            if p.is_dir() {
                std::fs::create_dir_all(copy.path().join(rel)).unwrap();
                todo.push(p);
            } else if !p.file_name().unwrap().to_string_lossy().contains(".tmp") {
                std::fs::copy(&p, copy.path().join(rel)).unwrap();
            }
        }
    }
    check_whole(copy.path(), what);
}
