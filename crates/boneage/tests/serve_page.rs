//! The service's web page in headless Chromium, driven over WebDriver (chromedriver): a
//! radiograph is chosen, sex and age filled in, the form sent; the numbers the page shows are
//! the API's for the same input, the overview and growth chart load, the PDF link works. A
//! screenshot is written (to $BONEAGE_SCREENSHOTS when set, for looking at).
//!
//! Needs `chromium` and `chromedriver` (Debian: chromium, chromium-driver). Without them the
//! test says it was skipped; with BONEAGE_REQUIRE_TOOLS=1 (as .ci/run sets) it fails.

mod common;
use common::http::{assess, request, Reply, Server};

use boneage_phantom::dataset::{write_dataset, DatasetSpec};
use boneage_phantom::{AgeSource, PhantomConfig};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn found(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

struct Driver {
    child: Child,
    addr: String,
    session: String,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr = format!("127.0.0.1:{port}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut d = Driver {
            child,
            addr,
            session: String::new(),
        };
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1200,1500",
        ];
        let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let mut options = json!({ "args": args.drain(..).collect::<Vec<_>>() });
        if let Some(b) = binary {
            options["binary"] = json!(b);
        }
        let r = d.call(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}}),
        );
        d.session = r["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_string();
        d
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let body = if method == "GET" {
            Vec::new()
        } else {
            serde_json::to_vec(&body).unwrap()
        };
        let r: Reply = request(
            &self.addr,
            method,
            path,
            &[("Content-Type", "application/json")],
            &body,
        );
        let v = r.json();
        assert!(r.status < 300, "WebDriver {method} {path}: {v}");
        v["value"].clone()
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn element(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            &self.s("/element"),
            json!({"using": "css selector", "value": css}),
        );
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(|x| x.as_str())
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let el = self.element(css);
        self.call(
            "POST",
            &self.s(&format!("/element/{el}/value")),
            json!({ "text": text }),
        );
    }

    fn click(&self, css: &str) {
        let el = self.element(css);
        self.call("POST", &self.s(&format!("/element/{el}/click")), json!({}));
    }

    fn script(&self, js: &str) -> Value {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            json!({"script": js, "args": []}),
        )
    }

    fn text(&self, id: &str) -> String {
        self.script(&format!(
            "return document.getElementById('{id}').textContent"
        ))
        .as_str()
        .unwrap_or("")
        .to_string()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = request(&self.addr, "DELETE", &self.s(""), &[], b"");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (k, c) in chunk.iter().enumerate() {
            n |= (value(*c) as u32) << (18 - 6 * k);
        }
        for k in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * k)) as u8);
        }
    }
    out
}

#[test]
fn the_web_page_shows_what_the_api_answers() {
    if !found("chromedriver") {
        let msg = "chromedriver not installed (Debian: apt install chromium chromium-driver)";
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
    let img = work.path().join("set/images/1.png");
    let server = Server::start(&[]);
    let api = assess(
        &server.addr,
        &[
            ("image", Some("1.png"), &std::fs::read(&img).unwrap()),
            ("sex", None, b"F"),
            ("chronological_age_months", None, b"100"),
        ],
        None,
    );
    assert_eq!(api.status, 200, "{}", api.text());
    let api = api.json();

    let d = Driver::start();
    d.call(
        "POST",
        &d.s("/url"),
        json!({ "url": format!("http://{}/", server.addr) }),
    );
    d.type_into("#image", img.to_str().unwrap());
    d.click("#sex option[value=F]");
    d.type_into("#age", "100");
    d.click("#go");
    let mut done = false;
    for _ in 0..600 {
        if d.script("return document.getElementById('result').dataset.done === '1'") == json!(true)
        {
            done = true;
            break;
        }
        let err = d.text("error");
        assert!(err.is_empty(), "the page shows an error: {err}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(done, "no result on the page");
    let f1 = |k: &str| format!("{:.1}", api[k].as_f64().unwrap());
    assert_eq!(d.text("bone-age"), f1("bone_age_months"));
    assert_eq!(d.text("chrono"), "100.0");
    assert_eq!(
        d.text("sds"),
        format!("{:.2}", api["sds"].as_f64().unwrap())
    );
    assert_eq!(d.text("reading"), api["reading"].as_str().unwrap());
    assert_eq!(d.text("status"), "ok");
    let iv = &api["interval_months"];
    assert_eq!(
        d.text("interval"),
        format!(
            "{:.1} – {:.1}",
            iv[0].as_f64().unwrap(),
            iv[1].as_f64().unwrap()
        )
    );
    // The pictures loaded (decoded by the browser) and the PDF link leads to a PDF.
    for id in ["overview", "chart"] {
        let ok = (0..100).any(|_| {
            let w = d.script(&format!(
                "const i = document.getElementById('{id}'); return i.complete ? i.naturalWidth : 0"
            ));
            if w.as_u64().unwrap_or(0) > 100 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
            false
        });
        assert!(ok, "the {id} picture did not load");
    }
    let pdf = d.script("return document.getElementById('pdf').getAttribute('href')");
    let pdf = request(&server.addr, "GET", pdf.as_str().unwrap(), &[], b"");
    assert!(pdf.body.starts_with(b"%PDF-"));

    let shot = d.call("GET", &d.s("/screenshot"), json!({}));
    let png = base64_decode(shot.as_str().unwrap());
    assert!(png.starts_with(b"\x89PNG"));
    let dir = std::env::var("BONEAGE_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| work.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("service-page.png"), &png).unwrap();
}
