//! The service's DICOM node, driven by dcmtk: `echoscu` (C-ECHO), `storescu` of a DX film made
//! from a phantom (its answer and report written by SOP Instance UID, the bone age equal to
//! `boneage predict` on the same file to 0.01 month), and bad associations that are refused or
//! dropped without taking the node down: a wrong called AE title, an unsupported SOP class,
//! garbage bytes, a peer that connects and says nothing.
//!
//! Needs dcmtk (Debian: dcmtk). Without it the test says it was skipped; with
//! BONEAGE_REQUIRE_TOOLS=1 (as .ci/run sets) it fails.

mod common;
use common::http::Server;
use common::{boneage, s, stderr};

use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{AgeSource, PhantomConfig};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn found(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn dcmtk(tool: &str, args: &[&str]) -> std::process::Output {
    Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

#[test]
fn the_dicom_node_answers_echo_and_store_and_survives_bad_peers() {
    if !["echoscu", "storescu", "dcmodify"].iter().all(|t| found(t)) {
        let msg = "dcmtk not installed (Debian: apt install dcmtk)";
        if std::env::var("BONEAGE_REQUIRE_TOOLS").is_ok_and(|v| v != "0" && !v.is_empty()) {
            panic!("{msg}, and BONEAGE_REQUIRE_TOOLS is set");
        }
        eprintln!("SKIPPED: {msg}");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let spec = DatasetSpec {
        n: 1,
        seed: 2024,
        config: PhantomConfig::with_size(384, 480),
        ages: AgeSource::Rsna,
        bit16: false,
    };
    write_dataset(&work.path().join("set"), &spec, &|| {}).unwrap();
    let film = boneage_imaging::read_radiograph(work.path().join("set/images/1.png"))
        .unwrap()
        .image;
    let dcm = work.path().join("hand.dcm");
    common::write_dicom(&film, &dcm, "M", "20120601", "20200601");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let out = work.path().join("received");
    let server = Server::start(&[
        "--dicom-port",
        &port,
        "--dicom-out",
        s(&out),
        "--dicom-idle-secs",
        "2",
    ]);
    let node = format!("127.0.0.1:{port}");
    let echo = || dcmtk("echoscu", &["-aec", "BONEAGE", "127.0.0.1", &port]);

    let o = echo();
    assert!(o.status.success(), "C-ECHO: {}", stderr(&o));

    // C-STORE: assessed, answer and report written by SOP Instance UID.
    let o = dcmtk(
        "storescu",
        &["-aec", "BONEAGE", "127.0.0.1", &port, s(&dcm)],
    );
    assert!(o.status.success(), "C-STORE: {}", stderr(&o));
    let answer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("2.25.987654321.json")).unwrap()).unwrap();
    let p = boneage(&["predict", "--one-at-a-time", s(&dcm)]);
    assert!(p.status.success(), "{}", stderr(&p));
    let cli: serde_json::Value = serde_json::from_slice(&p.stdout).unwrap();
    for key in ["bone_age_months", "sds", "chronological_age_months"] {
        let (a, c) = (answer[key].as_f64().unwrap(), cli[key].as_f64().unwrap());
        assert!((a - c).abs() <= 0.01, "{key}: node {a} vs predict {c}");
    }
    assert_eq!(answer["sex"], "M");
    assert!(std::fs::read(out.join("2.25.987654321.pdf"))
        .unwrap()
        .starts_with(b"%PDF-"));
    assert!(std::fs::read_to_string(out.join("2.25.987654321.html"))
        .unwrap()
        .contains("Bone age"));

    // A wrong called AE title: rejected.
    let o = dcmtk("echoscu", &["-aec", "SOMEONE", "127.0.0.1", &port]);
    assert!(!o.status.success());
    // An unsupported SOP class (CT): no presentation context, nothing stored.
    let ct = work.path().join("ct.dcm");
    std::fs::copy(&dcm, &ct).unwrap();
    let o = dcmtk(
        "dcmodify",
        &[
            "-nb",
            "-i",
            "(0008,0016)=1.2.840.10008.5.1.4.1.1.2",
            "-i",
            "(0008,0018)=2.25.55555",
            s(&ct),
        ],
    );
    assert!(o.status.success(), "dcmodify: {}", stderr(&o));
    let o = dcmtk("storescu", &["-aec", "BONEAGE", "127.0.0.1", &port, s(&ct)]);
    assert!(!o.status.success(), "a CT image was accepted");
    assert!(!out.join("2.25.55555.json").exists());
    // Garbage bytes: the association is dropped.
    let mut g = std::net::TcpStream::connect(&node).unwrap();
    g.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = g.write_all(&[0x42; 300]);
    let mut buf = Vec::new();
    let _ = g.read_to_end(&mut buf);
    // A peer that says nothing: served beside the others, dropped after the idle time.
    let mut stall = std::net::TcpStream::connect(&node).unwrap();
    stall
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let o = echo();
    assert!(
        o.status.success(),
        "C-ECHO beside a stalled peer: {}",
        stderr(&o)
    );
    let t = Instant::now();
    let n = stall.read(&mut [0u8; 16]).unwrap_or(0);
    assert_eq!(n, 0, "the stalled peer got data");
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "the stalled peer was kept"
    );
    // Still up.
    let o = echo();
    assert!(o.status.success(), "C-ECHO after bad peers: {}", stderr(&o));
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("dicom: 2.25.987654321 from STORESCU: bone age"),
        "{log}"
    );
}
