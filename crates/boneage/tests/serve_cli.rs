//! `boneage serve` with the built-in bundle: the API answers what `boneage predict` prints (to
//! 0.01 month) for PNG and DICOM uploads, with the report behind its links; every error has its
//! status and a JSON message naming the problem (400, 401, 404, 413, 415, 503 with
//! Retry-After, 504); health, version, metrics and the OpenAPI description answer; SIGTERM
//! lets the request in flight finish. The web page is tested in headless Chromium
//! (tests/serve_page.rs).

mod common;
use common::http::{assess, request, Server};
use common::{boneage, s, stderr};

use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{AgeSource, PhantomConfig};
use std::path::{Path, PathBuf};

fn phantom(dir: &Path) -> PathBuf {
    let spec = DatasetSpec {
        n: 1,
        seed: 2024,
        config: PhantomConfig::with_size(384, 480),
        ages: AgeSource::Rsna,
        bit16: false,
    };
    write_dataset(dir, &spec, &|| {}).unwrap();
    dir.join("images/1.png")
}

fn predict(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["predict", "--one-at-a-time"];
    all.extend_from_slice(args);
    let o = boneage(&all);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn close(a: &serde_json::Value, b: &serde_json::Value, key: &str) {
    let (x, y) = (a[key].as_f64(), b[key].as_f64());
    match (x, y) {
        (Some(x), Some(y)) => assert!((x - y).abs() <= 0.01, "{key}: API {x} vs predict {y}"),
        _ => assert_eq!(a[key], b[key], "{key}"),
    }
}

#[test]
fn the_api_answers_what_predict_prints_with_the_report_behind_its_links() {
    let work = tempfile::tempdir().unwrap();
    let img = phantom(&work.path().join("set"));
    let png = std::fs::read(&img).unwrap();
    let film = boneage_imaging::read_radiograph(&img).unwrap().image;
    let dcm = work.path().join("hand.dcm");
    common::write_dicom(&film, &dcm, "M", "20120601", "20200601");
    let server = Server::start(&[]);

    let api = assess(
        &server.addr,
        &[
            ("image", Some("hand.png"), &png),
            ("sex", None, b"F"),
            ("chronological_age_months", None, b"100"),
        ],
        None,
    );
    assert_eq!(api.status, 200, "{}", api.text());
    let api = api.json();
    let cli = predict(&["--sex", "F", "--chronological-age-months", "100", s(&img)]);
    assert_eq!(api["status"], "ok");
    for key in [
        "status",
        "sex",
        "bone_age_months",
        "spread_months",
        "sds",
        "reading",
        "chronological_age_months",
        "bundle",
        "tta",
    ] {
        close(&api, &cli, key);
    }
    for k in 0..2 {
        let (a, c) = (&api["interval_months"][k], &cli["interval_months"][k]);
        assert!((a.as_f64().unwrap() - c.as_f64().unwrap()).abs() <= 0.01);
    }
    assert_eq!(
        api["image"], "hand.png",
        "the upload is named by its file name"
    );

    // The report behind the links.
    let links = &api["report"];
    let html = request(
        &server.addr,
        "GET",
        links["html"].as_str().unwrap(),
        &[],
        b"",
    );
    assert_eq!(html.status, 200);
    assert!(html
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let bone_age = format!("{:.1} months", api["bone_age_months"].as_f64().unwrap());
    assert!(html.text().contains(&bone_age), "report lacks {bone_age}");
    let pdf = request(
        &server.addr,
        "GET",
        links["pdf"].as_str().unwrap(),
        &[],
        b"",
    );
    assert_eq!(pdf.status, 200);
    assert!(pdf.body.starts_with(b"%PDF-"));
    let png_reply = request(
        &server.addr,
        "GET",
        links["overview"].as_str().unwrap(),
        &[],
        b"",
    );
    assert!(png_reply.body.starts_with(b"\x89PNG"));
    let svg = request(
        &server.addr,
        "GET",
        links["chart"].as_str().unwrap(),
        &[],
        b"",
    );
    assert!(svg.text().contains("<svg"));

    // DICOM: sex and dates from the header, as predict takes them.
    let dicom = std::fs::read(&dcm).unwrap();
    let api = assess(&server.addr, &[("image", Some("hand.dcm"), &dicom)], None);
    assert_eq!(api.status, 200, "{}", api.text());
    let api = api.json();
    let cli = predict(&[s(&dcm)]);
    for key in ["sex", "bone_age_months", "chronological_age_months", "sds"] {
        close(&api, &cli, key);
    }
    assert_eq!(api["sex"], "M");

    // A picture that is no hand: answered, rejected with reasons, no bone age (as predict).
    let blank = work.path().join("blank.png");
    boneage_imaging::io::write_png_gray8(&blank, &boneage_imaging::GrayImage::new(500, 600, 0.5))
        .unwrap();
    let api = assess(
        &server.addr,
        &[
            ("image", Some("blank.png"), &std::fs::read(&blank).unwrap()),
            ("sex", None, b"F"),
        ],
        None,
    );
    assert_eq!(api.status, 200);
    let api = api.json();
    assert_eq!(api["status"], "rejected");
    assert!(api["bone_age_months"].is_null());
    assert!(!api["reasons"].as_array().unwrap().is_empty());

    // Health, version, metrics, OpenAPI, the pages.
    let health = request(&server.addr, "GET", "/v1/health", &[], b"").json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["reports_kept"], 3);
    let version = request(&server.addr, "GET", "/v1/version", &[], b"").json();
    assert_eq!(version["bundle"], cli["bundle"]);
    assert!(version["notice"]
        .as_str()
        .unwrap()
        .contains("NOT for clinical use"));
    let metrics = request(&server.addr, "GET", "/metrics", &[], b"").text();
    assert!(metrics.contains("boneage_requests_total{route=\"/v1/assess\",status=\"200\"} 3"));
    assert!(metrics.contains("boneage_rejections_total 1"));
    assert!(metrics.contains("boneage_assess_duration_seconds_count 3"));
    assert!(metrics.contains("boneage_queue_depth 0"));
    let doc = request(&server.addr, "GET", "/openapi.json", &[], b"").json();
    assert!(doc["paths"]["/v1/assess"]["post"].is_object());
    for page in ["/", "/docs"] {
        let r = request(&server.addr, "GET", page, &[], b"");
        assert_eq!(r.status, 200);
        assert!(r.text().contains("<!DOCTYPE html>"));
    }
    // No CORS unless asked for.
    assert!(request(
        &server.addr,
        "GET",
        "/v1/health",
        &[("Origin", "http://elsewhere")],
        b""
    )
    .header("access-control-allow-origin")
    .is_none());
}

fn error_code(r: &common::http::Reply) -> String {
    r.json()["error"]["code"].as_str().unwrap_or("").to_string()
}

#[test]
fn every_error_has_its_status_and_a_message() {
    let work = tempfile::tempdir().unwrap();
    let img = phantom(&work.path().join("set"));
    let png = std::fs::read(&img).unwrap();
    let token_file = work.path().join("token");
    let token = "s3cret-token-for-the-test-0123456789";
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let server = Server::start(&["--max-upload-mb", "1", "--token-file", s(&token_file)]);
    let a = &server.addr;
    let t = Some(token);

    // 401 without or with a wrong token; metrics too.
    let r = assess(
        a,
        &[("image", Some("h.png"), &png), ("sex", None, b"F")],
        None,
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = assess(
        a,
        &[("image", Some("h.png"), &png)],
        Some("wrong-token-wrong-token-wrong"),
    );
    assert_eq!(r.status, 401);
    assert_eq!(request(a, "GET", "/metrics", &[], b"").status, 401);
    let auth = format!("Bearer {token}");
    assert_eq!(
        request(a, "GET", "/metrics", &[("Authorization", &auth)], b"").status,
        200
    );
    // 413: over the upload limit.
    let big = vec![7u8; 2 << 20];
    let r = assess(
        a,
        &[("image", Some("big.png"), &big), ("sex", None, b"F")],
        t,
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(error_code(&r), "too_large");
    // 415: not an image format we read.
    let r = assess(
        a,
        &[("image", Some("notes.txt"), b"hello"), ("sex", None, b"F")],
        t,
    );
    assert_eq!(r.status, 415);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("notes.txt"));
    // 400: a truncated PNG, a missing image, a bad field, no sex anywhere, a negative age.
    let r = assess(
        a,
        &[
            ("image", Some("cut.png"), &png[..png.len() / 3]),
            ("sex", None, b"F"),
        ],
        t,
    );
    assert_eq!(r.status, 400);
    let m = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(m.contains("cut.png") && m.contains("truncated"), "{m}");
    let r = assess(a, &[("sex", None, b"F")], t);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("`image`"));
    let r = assess(a, &[("image", Some("h.png"), &png), ("sex", None, b"Q")], t);
    assert_eq!(r.status, 400);
    let r = assess(a, &[("image", Some("h.png"), &png)], t);
    assert_eq!((r.status, error_code(&r).as_str()), (400, "no_sex"));
    let r = assess(
        a,
        &[
            ("image", Some("h.png"), &png),
            ("sex", None, b"F"),
            ("chronological_age_months", None, b"-4"),
        ],
        t,
    );
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("chronological_age_months"),
        "{}",
        r.text()
    );
    let r = assess(
        a,
        &[
            ("image", Some("h.png"), &png),
            ("sex", None, b"F"),
            ("tta", None, b"1000"),
        ],
        t,
    );
    assert_eq!(r.status, 400);
    let r = assess(
        a,
        &[("image", Some("h.png"), &png), ("colour", None, b"blue")],
        t,
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("unknown form field `colour`"));
    // A client's file name is a label only: a path in it does not reach the answer.
    let r = assess(
        a,
        &[
            ("image", Some("../../etc/passwd"), b"x"),
            ("sex", None, b"F"),
        ],
        t,
    );
    assert_eq!(r.status, 415);
    assert!(!r.text().contains("etc/"), "{}", r.text());
    // 404: unknown report, unknown route.
    let r = request(
        a,
        "GET",
        "/v1/reports/0123456789abcdef0123456789abcdef.pdf",
        &[],
        b"",
    );
    assert_eq!((r.status, error_code(&r).as_str()), (404, "not_found"));
    assert_eq!(request(a, "GET", "/v1/nothing", &[], b"").status, 404);
    // The service is still up and answers a good request.
    let r = assess(a, &[("image", Some("h.png"), &png), ("sex", None, b"F")], t);
    assert_eq!(r.status, 200, "{}", r.text());
    // Nothing written beside the service's working folder: uploads are decoded in memory.
    drop(server);
}

/// Waits until the service's worker has taken a request.
fn wait_until_assessing(addr: &str) {
    for _ in 0..600 {
        if request(addr, "GET", "/v1/health", &[], b"").json()["assessing"] == 1 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the service never started the first assessment");
}

#[test]
fn a_full_queue_is_503_a_slow_assessment_504_and_sigterm_finishes_the_request_in_flight() {
    let work = tempfile::tempdir().unwrap();
    let img = phantom(&work.path().join("set"));
    let png = std::fs::read(&img).unwrap();
    // No waiting room, one second per request: a 64-view assessment takes longer.
    let server = Server::start(&["--workers", "1", "--queue", "0", "--timeout-secs", "1"]);
    let addr = server.addr.clone();
    let slow_png = png.clone();
    let slow = std::thread::spawn(move || {
        assess(
            &addr,
            &[
                ("image", Some("h.png"), &slow_png),
                ("sex", None, b"F"),
                ("tta", None, b"64"),
            ],
            None,
        )
    });
    wait_until_assessing(&server.addr);
    let busy = assess(
        &server.addr,
        &[("image", Some("h.png"), &png), ("sex", None, b"F")],
        None,
    );
    assert_eq!(busy.status, 503, "{}", busy.text());
    assert_eq!(busy.header("retry-after"), Some("5"));
    assert_eq!(error_code(&busy), "busy");
    let slow = slow.join().unwrap();
    assert_eq!(slow.status, 504, "{}", slow.text());
    assert_eq!(error_code(&slow), "timeout");
    drop(server);

    // SIGTERM while a request is being assessed: it is answered, then the service exits 0.
    let server = Server::start(&[]);
    let addr = server.addr.clone();
    let in_flight = std::thread::spawn(move || {
        assess(
            &addr,
            &[
                ("image", Some("h.png"), &png),
                ("sex", None, b"F"),
                ("tta", None, b"16"),
            ],
            None,
        )
    });
    wait_until_assessing(&server.addr);
    let log = server.log.clone();
    let status = server.terminate();
    let r = in_flight.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(status.success(), "{}", log.lock().unwrap());
    assert!(log
        .lock()
        .unwrap()
        .contains("finishing the requests in flight"));
}

#[test]
fn serve_refuses_bad_settings_with_a_clear_error() {
    let work = tempfile::tempdir().unwrap();
    let short = work.path().join("token");
    std::fs::write(&short, "abc").unwrap();
    let o = boneage(&["serve", "--token-file", s(&short)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("at least 16"), "{}", stderr(&o));
    let o = boneage(&["serve", "--token-file", s(&work.path().join("none"))]);
    assert!(stderr(&o).contains("cannot read the token file"));
    let o = boneage(&["serve", "--workers", "0"]);
    assert!(stderr(&o).contains("--workers 0"));
}
