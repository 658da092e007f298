//! `boneage mine` and `boneage segment` end to end on tiny phantom sets (a tiny U-Net, a few
//! epochs), hand corrections joining the next round, and clear errors on bad input.

mod common;
use common::{boneage, s, stderr};

use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{AgeSource, PhantomConfig};
use std::path::{Path, PathBuf};

fn phantoms(dir: &Path, n: usize, seed: u64) -> PathBuf {
    let spec = DatasetSpec {
        n,
        seed,
        config: PhantomConfig::with_size(128, 160),
        ages: AgeSource::Uniform,
        bit16: false,
    };
    write_dataset(dir, &spec, &|| {}).unwrap();
    dir.to_path_buf()
}

const TINY: &str = r#"{
  "model": {"input_width": 64, "input_height": 80, "base_channels": 6, "depth": 3},
  "epochs": 4, "batch_size": 8, "lr": 0.003
}"#;

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn mine_rounds_corrections_and_segment() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let labelled = phantoms(&w.join("labelled"), 64, 1);
    let unlabelled = phantoms(&w.join("unlabelled"), 8, 2);
    let cfg = w.join("tiny.json");
    std::fs::write(&cfg, TINY).unwrap();
    let mine = w.join("mine");
    let o = boneage(&[
        "mine",
        "--labelled",
        s(&labelled),
        "--unlabelled",
        s(&unlabelled.join("images")),
        "--bootstrap",
        "--rounds",
        "2",
        "--config",
        s(&cfg),
        "--out",
        s(&mine),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for r in 0..=2 {
        let d = mine.join(format!("round-{r}"));
        assert!(d.join("contact.png").is_file(), "{}", d.display());
        assert_eq!(csv_rows(&d.join("scores.csv")).len(), 8);
    }
    let rounds = csv_rows(&mine.join("rounds.csv"));
    assert_eq!(rounds.len(), 2);
    let iou: f64 = rounds[1][7].parse().unwrap();
    assert!(iou > 0.7, "held-out IoU after two rounds: {iou}");
    assert!(mine.join("model/model.safetensors").is_file());

    // A hand correction (here: the true mask) for one image joins the next round and is never
    // scored away.
    let id = "3";
    std::fs::copy(
        unlabelled.join(format!("masks/{id}.png")),
        mine.join(format!("corrections/{id}.png")),
    )
    .unwrap();
    let o = boneage(&[
        "mine",
        "--labelled",
        s(&labelled),
        "--unlabelled",
        s(&unlabelled.join("images")),
        "--rounds",
        "1",
        "--epochs",
        "1",
        "--init",
        s(&mine.join("model")),
        "--out",
        s(&mine),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = csv_rows(&mine.join("round-1/scores.csv"));
    let row = rows
        .iter()
        .find(|r| r[0] == id)
        .expect("corrected image scored");
    assert_eq!((row[1].as_str(), row[2].as_str()), ("true", "true"));
    assert_eq!(csv_rows(&mine.join("rounds.csv"))[0][4], "1");

    // segment with the mined model: masks and images at the input's size, IoU against truth.
    let out = w.join("seg");
    let o = boneage(&[
        "segment",
        "--model",
        s(&mine.join("model")),
        "--out",
        s(&out),
        "--truth",
        s(&unlabelled.join("masks")),
        s(&unlabelled.join("images")),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for k in 1..=8 {
        let id = k.to_string();
        for sub in ["masks", "images"] {
            let r = boneage_imaging::read_radiograph(&out.join(format!("{sub}/{id}.png"))).unwrap();
            assert_eq!((r.image.width, r.image.height), (128, 160));
        }
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["images"], 8);
    assert!(summary["iou_mean"].as_f64().unwrap() > 0.7, "{summary}");
    assert!(out.join("contact.png").is_file());
    // Outside the mask the written image is black.
    let m = boneage_imaging::read_radiograph(&out.join("masks/1.png")).unwrap();
    let i = boneage_imaging::read_radiograph(&out.join("images/1.png")).unwrap();
    assert!(m
        .image
        .data
        .iter()
        .zip(&i.image.data)
        .all(|(m, v)| *m > 0.5 || *v == 0.0));
}

#[test]
fn segment_and_mine_reject_bad_input() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let set = phantoms(&w.join("set"), 3, 4);
    // A truncated PNG among good ones: stop with its name, or go on with --keep-going.
    let imgs = w.join("imgs");
    std::fs::create_dir_all(&imgs).unwrap();
    for k in 1..=2 {
        let id = format!("{k}.png");
        std::fs::copy(set.join("images").join(&id), imgs.join(&id)).unwrap();
    }
    let bytes = std::fs::read(set.join("images/3.png")).unwrap();
    std::fs::write(imgs.join("broken.png"), &bytes[..bytes.len() / 2]).unwrap();
    let out = w.join("out");
    let o = boneage(&["segment", "--bootstrap", "--out", s(&out), s(&imgs)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("broken.png"), "{}", stderr(&o));
    // Stopped: every mask written has its row in the table, and the error says so.
    assert!(
        stderr(&o).contains("images segmented so far"),
        "{}",
        stderr(&o)
    );
    let csv = std::fs::read_to_string(out.join("segment.csv")).unwrap();
    for k in 1..=2 {
        let written = out.join(format!("masks/{k}.png")).is_file();
        assert_eq!(written, csv.contains(&format!("\n{k},")), "{k}: {csv}");
    }
    assert!(
        csv.contains("broken,") && csv.contains("unreadable"),
        "{csv}"
    );
    let o = boneage(&[
        "segment",
        "--bootstrap",
        "--keep-going",
        "--out",
        s(&out),
        s(&imgs),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.join("segment.csv")).unwrap();
    assert!(
        csv.contains("broken,") && csv.contains("unreadable"),
        "{csv}"
    );
    assert!(out.join("masks/1.png").is_file());
    assert!(!out.join("masks/broken.png").exists());
    // No image at all, a missing file.
    let o = boneage(&["segment", "--bootstrap", "--out", s(&out)]);
    assert!(!o.status.success() && stderr(&o).contains("nothing to segment"));
    let o = boneage(&["segment", "--bootstrap", "--out", s(&out), "/no/such.png"]);
    assert!(!o.status.success() && stderr(&o).contains("/no/such.png"));

    // mine: a labelled folder without masks/, a correction for an unknown image.
    let o = boneage(&["mine", "--labelled", s(&imgs), "--out", s(&w.join("m"))]);
    assert!(
        !o.status.success() && stderr(&o).contains("masks/"),
        "{}",
        stderr(&o)
    );
    let m = w.join("m2");
    std::fs::create_dir_all(m.join("corrections")).unwrap();
    std::fs::copy(set.join("masks/1.png"), m.join("corrections/nobody.png")).unwrap();
    let o = boneage(&[
        "mine",
        "--labelled",
        s(&set),
        "--unlabelled",
        s(&imgs.join("1.png")),
        "--out",
        s(&m),
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("nobody.png"),
        "{}",
        stderr(&o)
    );
}
