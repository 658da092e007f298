//! `boneage train`, `evaluate` and `predict` end to end on a tiny phantom set, and their
//! errors on bad input.

mod common;
use common::{boneage, s, stderr};

use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{AgeSource, PhantomConfig};
use std::path::PathBuf;
use std::sync::OnceLock;

/// A tiny phantom set shared by the tests of this file.
fn phantoms() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("boneage-train-cli-{}", std::process::id()));
        let spec = DatasetSpec {
            n: 48,
            seed: 5,
            config: PhantomConfig::with_size(96, 120),
            ages: AgeSource::Uniform,
            bit16: false,
        };
        write_dataset(&dir, &spec, &|| {}).unwrap();
        dir
    })
}

const TINY: &str = r#"{
  "model": {"input_width": 48, "input_height": 60, "base_channels": 4, "max_channels": 16,
            "convs_per_block": [1, 1, 1], "dense": 16, "head": "classification"},
  "epochs": 2, "batch_size": 8, "validation_fraction": 0.25, "seed": 3
}"#;

#[test]
fn train_evaluate_predict() {
    let work = tempfile::tempdir().unwrap();
    let cfg = work.path().join("tiny.json");
    std::fs::write(&cfg, TINY).unwrap();
    let run = work.path().join("run");
    let o = boneage(&[
        "train",
        "--data",
        s(phantoms()),
        "--config",
        s(&cfg),
        "--out",
        s(&run),
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "config.json",
        "split.json",
        "metrics.csv",
        "best.safetensors",
        "last.safetensors",
        "state.json",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["epochs_run"], 2);

    // Resume with more epochs continues the same run.
    let o = boneage(&[
        "train",
        "--data",
        s(phantoms()),
        "--out",
        s(&run),
        "--resume",
        "--epochs",
        "3",
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 4, "{metrics}");

    let eval = work.path().join("eval");
    let o = boneage(&[
        "evaluate",
        "--run",
        s(&run),
        "--data",
        s(phantoms()),
        "--out",
        s(&eval),
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(eval.join("evaluation.json")).unwrap()).unwrap();
    for k in [
        "n",
        "mae_months",
        "rmse_months",
        "within_12_months_fraction",
        "baseline_mae_months",
    ] {
        assert!(j[k].is_number(), "evaluation.json lacks {k}: {j}");
    }
    assert_eq!(j["n"], 48);
    assert!(
        j["by_sex"]["male"]["mae_months"].is_number()
            || j["by_sex"]["female"]["mae_months"].is_number()
    );
    assert!(j["by_stage"].as_object().is_some_and(|m| !m.is_empty()));
    let html = std::fs::read_to_string(eval.join("report.html")).unwrap();
    assert!(html.contains("Bland-Altman") && html.contains("<svg"));

    let img = phantoms().join("images/1.png");
    let o = boneage(&[
        "predict",
        "--run",
        s(&run),
        "--sex",
        "F",
        "--device",
        "cpu",
        s(&img),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let age = p["bone_age_months"].as_f64().unwrap();
    assert!((0.0..=240.0).contains(&age), "{p}");

    let o = boneage(&["predict", "--run", s(&run), "--device", "cpu", s(&img)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no sex given"), "{}", stderr(&o));
}

#[test]
fn bad_configs_and_runs_are_clear_errors() {
    let work = tempfile::tempdir().unwrap();
    let cfg = work.path().join("bad.json");
    std::fs::write(&cfg, r#"{"epochs": 2, "lerning_rate": 0.1}"#).unwrap();
    let out = work.path().join("run");
    let o = boneage(&[
        "train",
        "--data",
        s(phantoms()),
        "--config",
        s(&cfg),
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("bad.json") && e.contains("unknown field"), "{e}");

    std::fs::write(&cfg, r#"{"batch_size": 0}"#).unwrap();
    let o = boneage(&[
        "train",
        "--data",
        s(phantoms()),
        "--config",
        s(&cfg),
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("batch_size"), "{}", stderr(&o));

    let empty = work.path().join("empty-run");
    std::fs::create_dir_all(&empty).unwrap();
    for args in [
        vec![
            "evaluate",
            "--run",
            s(&empty),
            "--data",
            s(phantoms()),
            "--out",
            s(&out),
        ],
        vec!["predict", "--run", s(&empty), "--sex", "M", "x.png"],
    ] {
        let o = boneage(&args);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("no checkpoint"), "{}", stderr(&o));
    }
    let o = boneage(&[
        "train",
        "--data",
        s(phantoms()),
        "--out",
        s(&empty),
        "--resume",
    ]);
    assert_eq!(o.status.code(), Some(2));
}
