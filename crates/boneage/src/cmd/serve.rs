//! `boneage serve`: the pipeline as an HTTP service with a web page.
//!
//! ```text
//! boneage serve [--host 127.0.0.1] [--port 8080] [--model BUNDLE] [--device cpu|cuda|auto]
//!               [--workers 2] [--queue 8] [--max-upload-mb 64] [--timeout-secs 120]
//!               [--token-file FILE] [--cors-origin ORIGIN] [--keep-reports 100]
//!               [--report-minutes 60] [--tta N]
//!               [--dicom-port 11112 --dicom-out DIR [--ae-title BONEAGE]
//!                [--dicom-send AE@HOST:PORT]]
//! ```
//!
//! The bundle is loaded once per worker; see `app::service` for the routes and limits.

use crate::app::flags::{DeviceFlag, TtaFlag};
use crate::app::models::load_bundle;
use crate::app::service::{self, Config};
use anyhow::Context;
use boneage_pipeline::Pipeline;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (0.0.0.0: every interface; put a reverse proxy with TLS in front).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Model bundle folder. Default: the built-in bundle.
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceFlag,
    #[command(flatten)]
    pub tta: TtaFlag,
    /// Worker threads, each with its own copy of the pipeline; libtorch's threads are shared
    /// out among them. Default: 2 (1 on a single core): one film's nets run while the next
    /// film is segmented, about 1.9x the films per second of one worker on 2 cores.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Assessments that may wait for a worker; more are answered 503 with Retry-After.
    #[arg(long, default_value_t = 8)]
    pub queue: usize,
    /// Largest upload, MB (more: 413).
    #[arg(long, default_value_t = 64)]
    pub max_upload_mb: usize,
    /// Longest an assessment request may take, waiting included (more: 504).
    #[arg(long, default_value_t = 120.0)]
    pub timeout_secs: f64,
    /// File holding the bearer token the API asks for (`Authorization: Bearer <token>`).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Origin allowed to call the API from a browser page served elsewhere (CORS). None by
    /// default.
    #[arg(long)]
    pub cors_origin: Option<String>,
    /// Reports kept in memory for `GET /v1/reports/...` (0: none).
    #[arg(long, default_value_t = 100)]
    pub keep_reports: usize,
    /// Minutes a report is kept.
    #[arg(long, default_value_t = 60.0)]
    pub report_minutes: f64,
    /// Also run a DICOM node on this port (C-ECHO; C-STORE of CR, DX and Secondary Capture
    /// images, each assessed): needs --dicom-out.
    #[arg(long, requires = "dicom_out")]
    pub dicom_port: Option<u16>,
    /// The DICOM node's AE title.
    #[arg(long, default_value = "BONEAGE")]
    pub ae_title: String,
    /// Folder for what the DICOM node receives: <SOPInstanceUID>.json (the answer, as predict
    /// prints it), .html and .pdf (the report).
    #[arg(long)]
    pub dicom_out: Option<PathBuf>,
    /// DICOM associations served at once (more are closed).
    #[arg(long, default_value_t = 4)]
    pub dicom_associations: usize,
    /// Store each report back to PACS: AE@host:port (an Encapsulated PDF in the image's study,
    /// new series; also kept as <SOPInstanceUID>.report.dcm in --dicom-out).
    #[arg(long, requires = "dicom_port", value_name = "AE@HOST:PORT")]
    pub dicom_send: Option<service::dicom_send::Destination>,
    /// A DICOM peer silent this long is dropped, seconds.
    #[arg(long, default_value_t = 30.0)]
    pub dicom_idle_secs: f64,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = args.workers.unwrap_or(cores.min(2));
    anyhow::ensure!(
        (1..=64).contains(&workers),
        "--workers {workers}: give 1 to 64"
    );
    anyhow::ensure!(
        (1..=4096).contains(&args.max_upload_mb),
        "--max-upload-mb {}: give 1 to 4096",
        args.max_upload_mb
    );
    anyhow::ensure!(
        args.timeout_secs > 0.0 && args.timeout_secs <= 86400.0,
        "--timeout-secs {}: give more than 0 and at most a day",
        args.timeout_secs
    );
    anyhow::ensure!(
        args.report_minutes >= 0.0 && args.report_minutes <= 7.0 * 24.0 * 60.0,
        "--report-minutes {}: give 0 to a week",
        args.report_minutes
    );
    let token = match &args.token_file {
        Some(f) => {
            let t = std::fs::read_to_string(f)
                .with_context(|| format!("{}: cannot read the token file", f.display()))?;
            let t = t.trim().to_string();
            anyhow::ensure!(
                t.len() >= 16 && t.chars().all(|c| c.is_ascii_graphic()),
                "{}: the token must be at least 16 printable characters without spaces",
                f.display()
            );
            Some(t)
        }
        None => None,
    };
    let addr = format!("{}:{}", args.host, args.port);
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&addr)
        .with_context(|| format!("--host {} --port {}: not an address", args.host, args.port))?
        .next()
        .with_context(|| format!("--host {}: no address", args.host))?;
    let dicom = match (args.dicom_port, &args.dicom_out) {
        (Some(port), Some(out)) => {
            let t = &args.ae_title;
            anyhow::ensure!(
                !t.is_empty() && t.len() <= 16 && t.chars().all(|c| c.is_ascii_graphic()),
                "--ae-title {t}: 1 to 16 printable characters without spaces"
            );
            anyhow::ensure!(
                args.dicom_idle_secs > 0.0 && args.dicom_idle_secs <= 3600.0,
                "--dicom-idle-secs {}: give more than 0 and at most an hour",
                args.dicom_idle_secs
            );
            Some(service::dicom_node::DicomConfig {
                addr: std::net::SocketAddr::new(addr.ip(), port),
                ae_title: t.clone(),
                out: out.clone(),
                max_associations: args.dicom_associations.max(1),
                read_timeout: Duration::from_secs_f64(args.dicom_idle_secs),
                timeout: Duration::from_secs_f64(args.timeout_secs),
                send: args.dicom_send.clone(),
            })
        }
        _ => None,
    };
    let device = args.device.resolve()?;
    if std::env::var_os("OMP_NUM_THREADS").is_none() {
        boneage_nn::set_cpu_threads((cores / workers).max(1));
    }
    let mut pipelines = Vec::with_capacity(workers);
    for _ in 0..workers {
        let bundle = load_bundle(args.model.as_deref(), device)?;
        let tta = args.tta.views(bundle.manifest.tta.views)?;
        pipelines.push(Pipeline::new(bundle).with_tta(tta));
    }
    let b = &pipelines[0].bundle;
    eprintln!(
        "serve: bundle {} ({}): {}",
        b.manifest.id, b.origin, b.manifest.notice
    );
    service::serve(
        Config {
            addr,
            queue: args.queue,
            max_upload_bytes: args.max_upload_mb << 20,
            timeout: Duration::from_secs_f64(args.timeout_secs),
            token,
            cors_origin: args.cors_origin,
            keep_reports: args.keep_reports,
            report_ttl: Duration::from_secs_f64(args.report_minutes * 60.0),
            dicom,
        },
        pipelines,
    )
}
