//! The service's DICOM node, driven by dcmtk: `echoscu` (C-ECHO), `storescu` of a DX film made
//! from a phantom (its answer and report written by SOP Instance UID, the bone age equal to
//! `boneage predict` on the same file to 0.01 month), and bad associations that are refused or
//! dropped without taking the node down: a wrong called AE title, an unsupported SOP class,
//! garbage bytes, a peer that connects and says nothing. With `--dicom-send`, each report goes
//! back to a `storescp` as an Encapsulated PDF in the same study, after a retry when the
//! destination is not up yet.
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

/// Whether the dcmtk tools are here; without them the test is skipped (or fails when
/// BONEAGE_REQUIRE_TOOLS is set).
fn have_dcmtk(tools: &[&str]) -> bool {
    if tools.iter().all(|t| found(t)) {
        return true;
    }
    let msg = "dcmtk not installed (Debian: apt install dcmtk)";
    if std::env::var("BONEAGE_REQUIRE_TOOLS").is_ok_and(|v| v != "0" && !v.is_empty()) {
        panic!("{msg}, and BONEAGE_REQUIRE_TOOLS is set");
    }
    eprintln!("SKIPPED: {msg}");
    false
}

/// A DX film of a phantom boy (SOP Instance UID 2.25.987654321).
fn dx_film(work: &std::path::Path) -> std::path::PathBuf {
    let spec = DatasetSpec {
        n: 1,
        seed: 2024,
        config: PhantomConfig::with_size(384, 480),
        ages: AgeSource::Rsna,
        bit16: false,
    };
    write_dataset(&work.join("set"), &spec, &|| {}).unwrap();
    let film = boneage_imaging::read_radiograph(work.join("set/images/1.png"))
        .unwrap()
        .image;
    let dcm = work.join("hand.dcm");
    common::write_dicom(&film, &dcm, "M", "20120601", "20200601");
    dcm
}

fn free_port() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string()
}

#[test]
fn the_dicom_node_answers_echo_and_store_and_survives_bad_peers() {
    if !have_dcmtk(&["echoscu", "storescu", "dcmodify"]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dcm = dx_film(work.path());
    let port = free_port();
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

/// The field `tag` of a DICOM file as dcmtk's dcmdump prints it (the value between brackets).
fn dump_field(dump: &str, tag: &str) -> Option<String> {
    let line = dump.lines().find(|l| l.trim_start().starts_with(tag))?;
    let (a, b) = (line.find('[')?, line.rfind(']')?);
    Some(line[a + 1..b].to_string())
}

#[test]
fn the_dicom_node_stores_the_report_back_as_encapsulated_pdf_in_the_same_study() {
    if !have_dcmtk(&["storescu", "storescp", "dcmodify", "dcmdump", "dcm2pdf"]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dcm = dx_film(work.path());
    let study = "1.2.826.0.1.3680043.2.1143.777";
    let o = dcmtk(
        "dcmodify",
        &[
            "-nb",
            "-i",
            "(0010,0020)=P-0042",
            "-i",
            "(0010,0010)=Doe^Jane",
            "-i",
            &format!("(0020,000D)={study}"),
            "-i",
            "(0020,000E)=1.2.826.0.1.3680043.2.1143.778",
            "-i",
            "(0008,0050)=ACC123",
            s(&dcm),
        ],
    );
    assert!(o.status.success(), "dcmodify: {}", stderr(&o));
    let (port, pacs_port) = (free_port(), free_port());
    let (out, pacs) = (work.path().join("received"), work.path().join("pacs"));
    std::fs::create_dir_all(&pacs).unwrap();
    let server = Server::start(&[
        "--dicom-port",
        &port,
        "--dicom-out",
        s(&out),
        "--dicom-send",
        &format!("PACS@127.0.0.1:{pacs_port}"),
    ]);
    // The destination is not up yet: the image is still taken, the first try fails.
    let o = dcmtk(
        "storescu",
        &["-aec", "BONEAGE", "127.0.0.1", &port, s(&dcm)],
    );
    assert!(o.status.success(), "C-STORE: {}", stderr(&o));
    let waited = Instant::now();
    while !server.log.lock().unwrap().contains("(try 1 of 3)") {
        assert!(waited.elapsed() < Duration::from_secs(60), "no first try");
        std::thread::sleep(Duration::from_millis(100));
    }
    let kept = out.join("2.25.987654321.report.dcm");
    assert!(kept.exists(), "the report's DICOM is kept in --dicom-out");
    // Now the destination comes up and the retry lands there.
    let mut storescp = Command::new("storescp")
        .args(["-aet", "PACS", "-od", s(&pacs), &pacs_port])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let waited = Instant::now();
    let received = loop {
        let files: Vec<_> = std::fs::read_dir(&pacs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        if !files.is_empty()
            && server
                .log
                .lock()
                .unwrap()
                .contains("report stored to PACS@")
        {
            break files;
        }
        if waited.elapsed() > Duration::from_secs(60) {
            let _ = storescp.kill();
            panic!("nothing stored: {}", server.log.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = storescp.kill();
    let _ = storescp.wait();
    assert_eq!(received.len(), 1, "{received:?}");
    let d = dcmtk("dcmdump", &["-Un", s(&received[0])]);
    assert!(d.status.success(), "dcmdump: {}", stderr(&d));
    let dump = String::from_utf8_lossy(&d.stdout).to_string();
    let field = |tag| dump_field(&dump, tag).unwrap_or_else(|| panic!("{tag} missing: {dump}"));
    assert_eq!(
        field("(0008,0016)"),
        "1.2.840.10008.5.1.4.1.1.104.1",
        "Encapsulated PDF"
    );
    assert_eq!(field("(0020,000d)"), study, "same study");
    assert_eq!(field("(0010,0020)"), "P-0042");
    assert_eq!(field("(0010,0010)"), "Doe^Jane");
    assert_eq!(field("(0008,0050)"), "ACC123");
    assert_eq!(field("(0010,0040)"), "M");
    assert_eq!(field("(0008,0060)"), "DOC");
    assert_eq!(field("(0042,0012)"), "application/pdf");
    let series = field("(0020,000e)");
    assert_ne!(series, "1.2.826.0.1.3680043.2.1143.778", "a new series");
    assert!(series.starts_with("2.25."), "{series}");
    let instance = field("(0008,0018)");
    assert!(instance.starts_with("2.25.") && instance != "2.25.987654321");
    assert!(
        dump.contains("2.25.987654321"),
        "the source image is referenced: {dump}"
    );
    // The document inside is the report's PDF, byte for byte.
    let pdf = work.path().join("back.pdf");
    let o = dcmtk("dcm2pdf", &[s(&received[0]), s(&pdf)]);
    assert!(o.status.success(), "dcm2pdf: {}", stderr(&o));
    let got = std::fs::read(&pdf).unwrap();
    let want = std::fs::read(out.join("2.25.987654321.pdf")).unwrap();
    assert_eq!(
        got.strip_suffix(&[0]).unwrap_or(&got),
        &want[..],
        "the PDF stored back is the report"
    );
    assert!(server.terminate().success());
}
