//! `boneage serve`: the pipeline behind an HTTP API (axum) with a web page.
//!
//! The pipeline is loaded once per worker; requests wait in one bounded queue for the worker
//! pool (`worker`). An upload is decoded in memory and never written to disk; its report is kept
//! in memory for a bounded time and count (`store`). Routes:
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/assess` | multipart: `image` (PNG, JPEG or DICOM), optional `sex`, `chronological_age_months` or `birth_date` + `study_date`, `tta`, `saliency`; answers `boneage predict`'s JSON plus `id` and `report` links |
//! | `GET /v1/reports/{id}.html`, `.pdf`, `.png`, `.svg` | the report page, its PDF, the overview picture, the growth chart |
//! | `GET /v1/health`, `GET /v1/version` | liveness and queue; bundle id, notice, versions |
//! | `GET /metrics` | Prometheus text |
//! | `GET /openapi.json`, `GET /docs` | the API description (generated from this code by utoipa) and a page that shows it |
//! | `GET /` | the web page |

mod api;
pub mod dicom_node;
pub mod dicom_send;
mod form;
mod metrics;
mod page;
pub mod store;
pub mod worker;

use std::net::SocketAddr;
use std::time::Duration;

/// How the service runs.
pub struct Config {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Assessments that may wait beyond those running (more: 503).
    pub queue: usize,
    /// Largest upload in bytes (more: 413).
    pub max_upload_bytes: usize,
    /// Longest an assessment request may take, waiting included (more: 504).
    pub timeout: Duration,
    /// Bearer token the API asks for (none: open).
    pub token: Option<String>,
    /// Origin allowed to call the API from a browser (none: no CORS headers).
    pub cors_origin: Option<String>,
    /// Reports kept (0: none are kept).
    pub keep_reports: usize,
    /// How long a report is kept.
    pub report_ttl: Duration,
    /// The DICOM node, when asked for.
    pub dicom: Option<dicom_node::DicomConfig>,
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight. `pipelines`: one per
/// worker thread. Prints `serve: listening on http://ADDR` on stderr once it takes requests.
pub fn serve(config: Config, pipelines: Vec<boneage_pipeline::Pipeline>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the service's runtime: {e}"))?;
    runtime.block_on(api::run(config, pipelines))
}
