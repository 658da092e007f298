//! Weights trained in PyTorch load into boneage's nets by name and give the same outputs:
//! `python/boneage_nets.py selftest` builds the VGG-style and Inception-v3 nets in PyTorch with
//! random weights (BatchNorm statistics included), saves them as boneage run folders
//! (config.json + best.safetensors) with an input and PyTorch's output; here the runs are
//! loaded as any trained run and run on the same input.

use boneage_nn::run::TrainedRun;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

fn python() -> String {
    std::env::var("BONEAGE_PYTHON").unwrap_or_else(|_| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
        if venv.is_file() {
            venv.display().to_string()
        } else {
            "python3".into()
        }
    })
}

fn read_f32(p: &Path) -> Vec<f32> {
    std::fs::read(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn shape(dir: &Path, key: &str) -> Vec<i64> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("shape.json")).unwrap()).unwrap();
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

#[test]
fn pytorch_weights_give_pytorch_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let script: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/boneage_nets.py");
    let out = std::process::Command::new(python())
        .arg(&script)
        .args(["selftest", "--out"])
        .arg(tmp.path())
        .output()
        .expect("a Python with torch (set BONEAGE_PYTHON)");
    assert!(
        out.status.success(),
        "selftest failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, tol) in [("vgg", 1e-4), ("inception", 1e-3)] {
        let dir = tmp.path().join(name);
        let run = TrainedRun::load(&dir, Device::Cpu).unwrap();
        let x = Tensor::from_slice(&read_f32(&dir.join("input.f32")))
            .view(shape(&dir, "input").as_slice());
        let s = Tensor::from_slice(&read_f32(&dir.join("sex.f32"))).view([-1, 1]);
        let want = read_f32(&dir.join("output.f32"));
        let got: Vec<f32> = tch::no_grad(|| run.model.net.forward(&x, &s, false))
            .to_kind(Kind::Float)
            .flatten(0, -1)
            .try_into()
            .unwrap();
        assert_eq!(got.len(), want.len(), "{name}: output size");
        let scale = want.iter().map(|v| v.abs()).fold(1e-6f32, f32::max);
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        println!(
            "{name}: {} outputs, max |rust - pytorch| = {worst:.2e} (largest output {scale:.2})",
            got.len()
        );
        assert!(
            worst <= tol * scale.max(1.0),
            "{name}: differs from PyTorch by {worst}"
        );
        // Outputs vary between the three inputs: a net that ignored its input would pass the
        // comparison only by accident.
        assert!(
            want[0] != want[want.len() / 3],
            "{name}: degenerate selftest"
        );
    }
}
