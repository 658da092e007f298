//! The routes, their limits and errors, and the OpenAPI description made from them.

use super::form::read_form;
use super::metrics::Metrics;
use super::store::{new_id, Store};
use super::worker::{Job, JobError, Pool, Refused};
use super::{page, Config};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use boneage_core::Sex;
use boneage_pipeline::Given;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use utoipa::OpenApi;

struct AppState {
    pool: Arc<Pool>,
    store: Mutex<Store>,
    metrics: Metrics,
    config: Config,
    version: serde_json::Value,
}

type Shared = Arc<AppState>;

/// An error answer: `{"status": 400, "error": {"code": "...", "message": "..."}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The HTTP status.
    status: u16,
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: bad_request, unsupported_format, unreadable_image, no_sex, too_large,
    /// busy, timeout, unauthorized, not_found, ...
    code: String,
    /// For people: what was wrong, naming the upload or field.
    message: String,
}

pub(super) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        status: status.as_u16(),
        error: ErrorDetail {
            code: code.into(),
            message: message.into(),
        },
    };
    (status, Json(body)).into_response()
}

/// The form of `POST /v1/assess` (multipart/form-data).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AssessForm {
    /// The radiograph: PNG, JPEG or DICOM.
    #[schema(value_type = String, format = Binary)]
    image: Vec<u8>,
    /// M or F; may be left out for a DICOM file with PatientSex.
    sex: Option<String>,
    /// Chronological age at the study, months (0-240).
    chronological_age_months: Option<f64>,
    /// YYYY-MM-DD, with study_date.
    birth_date: Option<String>,
    /// YYYY-MM-DD, with birth_date.
    study_date: Option<String>,
    /// Test-time augmentation views per region, 1-64 (default: the bundle's).
    tta: Option<u32>,
    /// true: occlusion maps in the answer and the report (slower).
    saliency: Option<bool>,
}

/// The answer of `POST /v1/assess`: `boneage predict`'s JSON for the upload plus `id` and
/// `report`. Only the main fields are listed here.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AssessAnswer {
    /// ok, or rejected (by the quality gate: `reasons`, no bone age).
    status: String,
    /// The ensemble's bone age.
    bone_age_months: Option<f64>,
    /// 95% interval of the bone age.
    interval_months: Option<Vec<f64>>,
    /// Standard deviation score against the Greulich-Pyle/Brush reference.
    sds: Option<f64>,
    /// delayed, normal or advanced.
    reading: Option<String>,
    /// Why the film was rejected.
    reasons: Option<Vec<String>>,
    /// Warnings about this film.
    warnings: Vec<String>,
    /// The report's id.
    id: String,
    /// Links: html, pdf, overview (PNG), chart (SVG).
    report: Option<ReportLinks>,
}

/// Where the report of an assessment is, while it is kept.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReportLinks {
    html: String,
    pdf: String,
    overview: String,
    chart: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "boneage",
        description = "Pediatric bone age assessment from a left-hand radiograph. A research \
                       tool, not a medical device: not for clinical use."
    ),
    paths(assess, report_file, health, version, metrics),
    components(schemas(AssessForm, AssessAnswer, ReportLinks, ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI description of the service (what `GET /openapi.json` answers).
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

pub(super) async fn run(
    config: Config,
    pipelines: Vec<boneage_pipeline::Pipeline>,
) -> anyhow::Result<()> {
    let first = pipelines
        .first()
        .ok_or_else(|| anyhow::anyhow!("serve: no worker"))?;
    let m = &first.bundle.manifest;
    let version = serde_json::json!({
        "boneage": env!("CARGO_PKG_VERSION"),
        "bundle": m.id,
        "notice": m.notice,
        "trained_on": m.trained_on,
        "bundle_valid_mae_months": m.ensemble.valid_mae_months,
        "bundle_test_mae_months": m.test.as_ref().map(|t| t.ensemble.overall.mae_months),
        "tta_default": first.tta,
        "libtorch": boneage_nn::engine::LIBTORCH_VERSION,
    });
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| anyhow::anyhow!("serve: cannot listen on {}: {e}", config.addr))?;
    let addr = listener.local_addr()?;
    let pool = Arc::new(Pool::start(pipelines, config.queue));
    if let Some(dicom) = &config.dicom {
        let at = super::dicom_node::start(dicom.clone(), pool.clone())?;
        eprintln!(
            "serve: DICOM node {} listening on {at} (C-ECHO; C-STORE of CR, DX, Secondary \
             Capture); answers and reports to {}{}",
            dicom.ae_title,
            dicom.out.display(),
            dicom
                .send
                .as_ref()
                .map_or(String::new(), |to| format!("; reports stored back to {to}"))
        );
    }
    let state = Arc::new(AppState {
        pool,
        store: Mutex::new(Store::new(config.keep_reports, config.report_ttl)),
        metrics: Metrics::new(),
        version,
        config,
    });
    let app = router(state.clone());
    eprintln!(
        "serve: listening on http://{addr} ({} worker(s), queue {}, uploads up to {} MB)",
        state.pool.workers,
        state.pool.capacity,
        state.config.max_upload_bytes / (1 << 20)
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| anyhow::anyhow!("serve: {e}"))?;
    eprintln!("serve: stopped (requests in flight were answered)");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!("serve: shutting down, finishing the requests in flight");
}

fn router(state: Shared) -> Router {
    let limit = state.config.max_upload_bytes;
    let mut app = Router::new()
        .route("/", get(|| async { page::index() }))
        .route("/docs", get(|| async { page::docs() }))
        .route("/openapi.json", get(openapi))
        .route("/v1/assess", post(assess))
        .route("/v1/reports/{file}", get(report_file))
        .route("/v1/health", get(health))
        .route("/v1/version", get(version))
        .route("/metrics", get(metrics))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such route") })
        // A little room above the image for the other form fields.
        .layer(DefaultBodyLimit::max(limit.saturating_add(64 * 1024)));
    if let Some(origin) = &state.config.cors_origin {
        if let Ok(origin) = origin.parse::<HeaderValue>() {
            app = app.layer(
                tower_http::cors::CorsLayer::new()
                    .allow_origin(origin)
                    .allow_methods([Method::GET, Method::POST])
                    .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
            );
        }
    }
    app.with_state(state)
}

/// Checks the bearer token when the service has one.
#[allow(clippy::result_large_err)]
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let Some(token) = &state.config.token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Compared in constant time, so the answer's timing says nothing about the token.
    let ok = given.is_some_and(|g| {
        g.len() == token.len()
            && g.bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if ok {
        Ok(())
    } else {
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this service needs `Authorization: Bearer <token>`",
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        Err(r)
    }
}

/// Assess one radiograph.
#[utoipa::path(
    post,
    path = "/v1/assess",
    request_body(content = AssessForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Assessed (status ok), or rejected by the quality gate (status rejected, with reasons)", body = AssessAnswer),
        (status = 400, description = "A broken image or form field", body = ErrorBody),
        (status = 401, description = "Token missing or wrong", body = ErrorBody),
        (status = 413, description = "Upload over the size limit", body = ErrorBody),
        (status = 415, description = "Not a PNG, JPEG or DICOM file", body = ErrorBody),
        (status = 503, description = "Queue full: try again after Retry-After seconds", body = ErrorBody),
        (status = 504, description = "The assessment took longer than the service's timeout", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
async fn assess(State(state): State<Shared>, headers: HeaderMap, multipart: Multipart) -> Response {
    let t0 = Instant::now();
    let response = assess_inner(&state, &headers, multipart).await;
    let status = response.status().as_u16();
    state.metrics.count("/v1/assess", status);
    if status == 200 {
        state.metrics.latency.observe(t0.elapsed().as_secs_f64());
    }
    response
}

async fn assess_inner(state: &Shared, headers: &HeaderMap, multipart: Multipart) -> Response {
    if let Err(r) = authorize(state, headers) {
        return r;
    }
    let form = match read_form(multipart, state.config.max_upload_bytes).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let bad = |m: String| error(StatusCode::BAD_REQUEST, "bad_request", m);
    let Some((name, bytes)) = form.image else {
        return bad("no radiograph: send it in the form field `image`".into());
    };
    let sex: Option<Sex> = match &form.sex {
        Some(s) => match s.parse() {
            Ok(x) => Some(x),
            Err(e) => return bad(format!("sex: {e}")),
        },
        None => None,
    };
    if form.age.chronological_age_months.is_some()
        && (form.age.birth_date.is_some() || form.age.study_date.is_some())
    {
        return bad("give chronological_age_months or birth_date and study_date, not both".into());
    }
    if form.age.birth_date.is_some() != form.age.study_date.is_some() {
        return bad("birth_date and study_date go together".into());
    }
    let chronological_age_months = match form.age.months() {
        Ok(m) => m,
        Err(e) => {
            return bad(format!("{e:#}")
                .replace("--chronological-age-months", "chronological_age_months")
                .replace("--birth-date / --study-date", "birth_date / study_date"))
        }
    };
    let tta = match &form.tta {
        None => None,
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=64).contains(&n) => Some(n),
            _ => return bad(format!("tta: `{t}`: give 1 (no augmentation) to 64 views")),
        },
    };
    let saliency = match form.saliency.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => return bad(format!("saliency: `{other}`: give true or false")),
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = Job {
        name,
        bytes,
        given: Given {
            sex,
            chronological_age_months,
        },
        tta,
        saliency,
        report: state.config.keep_reports > 0,
        reply,
    };
    match state.pool.submit(job) {
        Ok(()) => {}
        Err(Refused::Full) => {
            let mut r = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!(
                    "all {} worker(s) are busy and {} assessment(s) wait: try again shortly",
                    state.pool.workers, state.pool.capacity
                ),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            return r;
        }
        Err(Refused::Closed) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the service is shutting down",
            )
        }
    }
    state.metrics.queue_depth.set(state.pool.depth() as i64);
    let done = match tokio::time::timeout(state.config.timeout, answer).await {
        Err(_) => {
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!(
                    "the assessment took longer than {} s",
                    state.config.timeout.as_secs_f64()
                ),
            )
        }
        Ok(Err(_)) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the worker stopped before answering",
            )
        }
        Ok(Ok(Err(JobError {
            status,
            code,
            message,
        }))) => {
            return error(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                code,
                message,
            )
        }
        Ok(Ok(Ok(done))) => done,
    };
    state.metrics.queue_depth.set(state.pool.depth() as i64);
    if done.rejected {
        state.metrics.rejections.inc();
    }
    let mut json = done.json;
    let id = match new_id() {
        Ok(id) => id,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("cannot draw a report id: {e}"),
            )
        }
    };
    let links = done.report.and_then(|report| {
        let links = serde_json::json!({
            "html": format!("/v1/reports/{id}.html"),
            "pdf": format!("/v1/reports/{id}.pdf"),
            "overview": format!("/v1/reports/{id}.png"),
            "chart": report.chart_svg.as_ref().map(|_| format!("/v1/reports/{id}.svg")),
        });
        let kept = state
            .store
            .lock()
            .map(|mut s| s.put(id.clone(), report))
            .unwrap_or(false);
        kept.then_some(links)
    });
    if let Some(o) = json.as_object_mut() {
        o.insert("id".into(), id.into());
        o.insert("report".into(), links.unwrap_or(serde_json::Value::Null));
    }
    (StatusCode::OK, Json(json)).into_response()
}

/// A kept report: `{id}.html`, `{id}.pdf`, `{id}.png` (overview picture), `{id}.svg` (growth
/// chart). The id itself is the key (128 random bits): no token is asked for, so a browser can
/// open the links.
#[utoipa::path(
    get,
    path = "/v1/reports/{file}",
    params(("file" = String, Path, description = "{id}.html, {id}.pdf, {id}.png or {id}.svg")),
    responses(
        (status = 200, description = "The report file"),
        (status = 404, description = "No such report (never made, or no longer kept)", body = ErrorBody),
    )
)]
async fn report_file(State(state): State<Shared>, UrlPath(file): UrlPath<String>) -> Response {
    let response = report_inner(&state, &file);
    state
        .metrics
        .count("/v1/reports", response.status().as_u16());
    response
}

fn report_inner(state: &AppState, file: &str) -> Response {
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such report: never made, or no longer kept",
        )
    };
    let Some((id, ext)) = file.rsplit_once('.') else {
        return not_found();
    };
    let Ok(mut store) = state.store.lock() else {
        return not_found();
    };
    let Some(r) = store.get(id) else {
        return not_found();
    };
    let (kind, body): (&str, Vec<u8>) = match ext {
        "html" => ("text/html; charset=utf-8", r.html.clone().into_bytes()),
        "pdf" => ("application/pdf", r.pdf.clone()),
        "png" => ("image/png", r.overview_png.clone()),
        "svg" => match &r.chart_svg {
            Some(s) => ("image/svg+xml", s.clone().into_bytes()),
            None => return not_found(),
        },
        _ => return not_found(),
    };
    let mut resp = Response::new(Body::from(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if ext == "pdf" {
        if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"boneage-{id}.pdf\"")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    resp
}

/// Liveness: the workers, the queue, the reports kept.
#[utoipa::path(get, path = "/v1/health", responses((status = 200, description = "Serving")))]
async fn health(State(state): State<Shared>) -> Response {
    state.metrics.count("/v1/health", 200);
    let kept = state.store.lock().map(|s| s.len()).unwrap_or(0);
    Json(serde_json::json!({
        "status": "ok",
        "workers": state.pool.workers,
        "assessing": state.pool.running(),
        "queue_depth": state.pool.depth(),
        "queue_capacity": state.pool.capacity,
        "reports_kept": kept,
    }))
    .into_response()
}

/// The model bundle (id, notice, what it was trained on, its validation and test MAE) and the
/// versions of boneage and libtorch.
#[utoipa::path(get, path = "/v1/version", responses((status = 200, description = "Versions")))]
async fn version(State(state): State<Shared>) -> Response {
    state.metrics.count("/v1/version", 200);
    Json(state.version.clone()).into_response()
}

/// Prometheus metrics (text format).
#[utoipa::path(
    get,
    path = "/metrics",
    responses((status = 200, description = "Prometheus text"), (status = 401, description = "Token missing or wrong", body = ErrorBody)),
    security((), ("bearer" = []))
)]
async fn metrics(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        state.metrics.count("/metrics", 401);
        return r;
    }
    state.metrics.queue_depth.set(state.pool.depth() as i64);
    state.metrics.count("/metrics", 200);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.text(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_description_lists_every_route() {
        let doc: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        for route in [
            "/v1/assess",
            "/v1/reports/{file}",
            "/v1/health",
            "/v1/version",
            "/metrics",
        ] {
            assert!(doc["paths"][route].is_object(), "{route} missing");
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
