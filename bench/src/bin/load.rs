//! Load test of `boneage serve` on loopback: N clients, each sending radiographs one after the
//! other (`POST /v1/assess`) for a fixed time, then stop. Prints one JSON object: requests,
//! answers by status, latency p50/p99 of the answered (200) ones, images/s, and the service's
//! resident memory (from /proc/PID/status) at the start, its peak, and over the last quarter of
//! the run.
//!
//! ```text
//! load --addr HOST:PORT --pid PID --clients N --seconds S --sex F IMAGE...
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn rss_mb(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn multipart(name: &str, bytes: &[u8], sex: &str) -> (String, Vec<u8>) {
    let b = "----boneage-load-7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"sex\"\r\n\r\n{sex}\r\n--{b}\r\n\
         Content-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opt = BTreeMap::new();
    let mut files = Vec::new();
    let mut k = 0;
    while k < args.len() {
        if let Some(key) = args[k].strip_prefix("--") {
            let v = args
                .get(k + 1)
                .ok_or_else(|| anyhow::anyhow!("--{key} needs a value"))?;
            opt.insert(key.to_string(), v.clone());
            k += 2;
        } else {
            files.push(args[k].clone());
            k += 1;
        }
    }
    let get = |k: &str| {
        opt.get(k)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("--{k} is needed"))
    };
    let (addr, pid) = (get("addr")?, get("pid")?);
    let clients: usize = get("clients")?.parse()?;
    let seconds: f64 = get("seconds")?.parse()?;
    let sex = opt.get("sex").cloned().unwrap_or_else(|| "F".into());
    anyhow::ensure!(!files.is_empty(), "give radiographs to send");
    let bodies: Arc<Vec<(String, Vec<u8>)>> = Arc::new(
        files
            .iter()
            .map(|f| {
                let bytes = std::fs::read(f)?;
                let name = std::path::Path::new(f)
                    .file_name()
                    .map_or("film".into(), |n| n.to_string_lossy().into_owned());
                Ok(multipart(&name, &bytes, &sex))
            })
            .collect::<anyhow::Result<_>>()?,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let results: Arc<Mutex<Vec<(u16, f64)>>> = Arc::default();
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(600))
        .build();
    let url = format!("http://{addr}/v1/assess");
    let rss_start = rss_mb(&pid);
    let t0 = Instant::now();
    let mut threads = Vec::new();
    for c in 0..clients {
        let (bodies, stop, results, agent, url) = (
            bodies.clone(),
            stop.clone(),
            results.clone(),
            agent.clone(),
            url.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let mut n = c;
            while !stop.load(Ordering::SeqCst) {
                let (kind, body) = &bodies[n % bodies.len()];
                n += 1;
                let t = Instant::now();
                let status = match agent.post(&url).set("Content-Type", kind).send_bytes(body) {
                    Ok(r) => {
                        let _ = r.into_string();
                        200
                    }
                    Err(ureq::Error::Status(code, r)) => {
                        let _ = r.into_string();
                        if code == 503 {
                            // Back off as Retry-After asks, shortened for the test.
                            std::thread::sleep(Duration::from_millis(200));
                        }
                        code
                    }
                    Err(_) => 0,
                };
                results
                    .lock()
                    .unwrap()
                    .push((status, t.elapsed().as_secs_f64()));
            }
        }));
    }
    let mut rss = Vec::new();
    while t0.elapsed().as_secs_f64() < seconds {
        std::thread::sleep(Duration::from_millis(250));
        rss.push((t0.elapsed().as_secs_f64(), rss_mb(&pid)));
    }
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    let wall = t0.elapsed().as_secs_f64();
    let results = results.lock().unwrap();
    let mut by_status = BTreeMap::new();
    for (s, _) in results.iter() {
        *by_status.entry(s.to_string()).or_insert(0usize) += 1;
    }
    let mut ok: Vec<f64> = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|r| r.1)
        .collect();
    ok.sort_by(f64::total_cmp);
    let q = |p: f64| {
        if ok.is_empty() {
            0.0
        } else {
            ok[((ok.len() - 1) as f64 * p).round() as usize]
        }
    };
    let peak = rss.iter().map(|r| r.1).fold(0.0, f64::max);
    let last: Vec<f64> = rss
        .iter()
        .filter(|r| r.0 >= seconds * 0.75)
        .map(|r| r.1)
        .collect();
    let first: Vec<f64> = rss
        .iter()
        .filter(|r| r.0 <= seconds * 0.25)
        .map(|r| r.1)
        .collect();
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    println!(
        "{}",
        serde_json::json!({
            "clients": clients,
            "seconds": wall,
            "requests": results.len(),
            "by_status": by_status,
            "images_per_second": ok.len() as f64 / wall,
            "latency_p50_s": q(0.5),
            "latency_p99_s": q(0.99),
            "rss_start_mb": rss_start,
            "rss_peak_mb": peak,
            "rss_first_quarter_max_mb": max(&first),
            "rss_last_quarter_max_mb": max(&last),
        })
    );
    Ok(())
}
