//! The scanner web service: `/api/v1/scans…`, merged with the authority's routes into one app.
//!
//! Every route takes the tenant from the DPoP-bound access token, never from the request, and
//! every Db call is scoped by it: another tenant's job answers 404, like a missing one.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRef, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use stella_authority::{Authority, Authorized, RequiredScope, ResourceGuard};
use stella_store::db::{Job, JobStatus, NewJob};

use crate::Ports;

/// Request bodies above this are refused (413): a scan request is a few hundred bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

pub struct ScansEnqueue;
impl RequiredScope for ScansEnqueue {
    const SCOPE: &'static str = "scanner.scans.enqueue";
}
pub struct ScansRead;
impl RequiredScope for ScansRead {
    const SCOPE: &'static str = "scanner.scans.read";
}

#[derive(Clone)]
pub struct ApiState {
    pub guard: Arc<ResourceGuard>,
    pub ports: Ports,
    pub allow_local_targets: bool,
    /// Wakes `GET /api/v1/scans/{id}?wait=` when the job finishes.
    pub watch: crate::watch::JobWatch,
}

/// The longest `?wait=` a status request may ask for, in seconds: well inside the gateway's
/// upstream timeout, so a long poll through a remote gateway never turns into a 504.
pub const MAX_WAIT_SECS: u64 = 20;

impl FromRef<ApiState> for Arc<ResourceGuard> {
    fn from_ref(s: &ApiState) -> Self {
        s.guard.clone()
    }
}

/// The whole app of one process serving both the authority and the scan API: the two route
/// sets under [`finish`].
pub fn router(authority: Arc<Authority>, state: ApiState) -> Router {
    finish(authority.router().merge(scan_routes(state)))
}

/// The scanner web service's routes (`/api/v1/scans…`, and `/openapi.json` describing every
/// route of the service), without layers.
pub fn scan_routes(state: ApiState) -> Router {
    // The document names the origin clients use, the one DPoP proofs name in `htu`.
    let docs = crate::openapi::router(state.guard.public_base_url());
    Router::new()
        .route("/api/v1/scans", get(list_scans).post(create_scan))
        .route("/api/v1/scans/{id}", get(get_scan))
        .route("/api/v1/scans/{id}/sbom", get(get_sbom))
        .route("/api/v1/scans/{id}/findings", get(get_findings))
        .route("/api/v1/scans/{id}/result", get(get_result))
        .with_state(state)
        .merge(docs)
}

/// A role's app when it listens on its own: [`behind_gateway`] plus request ids.
pub fn finish(routes: Router) -> Router {
    behind_gateway(routes).layer(middleware::from_fn(request_id))
}

/// A role's routes as the in-process gateway calls them: a JSON 404 for unknown routes and the
/// body limit (413). Request ids are the gateway's job there, so each request logs one line.
pub fn behind_gateway(routes: Router) -> Router {
    routes
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// Gives every request an id (the client's `x-request-id` when it is sane, else a new one),
/// echoes it on the response and names it in the access log line.
pub(crate) async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let value = HeaderValue::from_str(&id).expect("checked characters");
    req.headers_mut().insert("x-request-id", value.clone());
    let method = req.method().clone();
    // The path only: query strings may carry cursors, never tokens, but keep the log lean.
    let path = req.uri().path().to_owned();
    let started = std::time::Instant::now();
    let mut response = next.run(req).await;
    response.headers_mut().insert("x-request-id", value);
    tracing::info!(
        request_id = %id,
        %method,
        %path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

/// An API error: `{"error": code, "error_description": text}` with its status, the same shape
/// as the authority's and the gateway's errors, so a client parses one error object.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such scan")
    }
    /// A backend failure: logged in full, answered without internals.
    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "request failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "a backend is unavailable; retry later",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"error": self.code, "error_description": self.message})),
        )
            .into_response()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateScan {
    image: String,
    #[serde(default)]
    sbom_format: Option<String>,
}

fn parse_body(body: &[u8]) -> Result<CreateScan, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

/// Transports that read the server's own file system.
const LOCAL_TRANSPORTS: [&str; 4] = ["dir:", "oci:", "oci-archive:", "docker-archive:"];

async fn create_scan(
    State(state): State<ApiState>,
    auth: Authorized<ScansEnqueue>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let tenant = auth.principal.tenant;
    // axum answers an oversized body in plain text; keep the API's JSON error shape.
    let body = body.map_err(|e| {
        let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "invalid_request"
        };
        ApiError::new(e.status(), code, e.body_text())
    })?;
    let req = parse_body(&body)?;
    let image = req.image.trim();
    if image.is_empty() || image.len() > 2048 || image.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "image must be a non-empty reference of at most 2048 characters",
        ));
    }
    // Without --allow-local-targets only registry images may be scanned. Anything but
    // `docker://` would reach the worker's target parser, which reads a bare string as a path
    // on the server (`/etc`, `./data`): an allow-list, not a deny-list of transports.
    if !state.allow_local_targets && !image.starts_with("docker://") {
        let message = if LOCAL_TRANSPORTS.iter().any(|t| image.starts_with(t)) {
            "local targets (dir:, oci:, archives) are disabled on this server".to_owned()
        } else {
            format!("image {image:?}: this server scans registry images only; write docker://REF")
        };
        return Err(ApiError::bad_request(message));
    }
    let sbom_format = match req.sbom_format.as_deref().unwrap_or("cyclonedx") {
        f @ ("spdx" | "cyclonedx") => f.to_owned(),
        other => {
            return Err(ApiError::bad_request(format!(
                "sbom_format {other:?}: expected \"spdx\" or \"cyclonedx\""
            )));
        }
    };
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if !k.is_empty() && k.len() <= 255 => Some(k.to_owned()),
            _ => {
                return Err(ApiError::bad_request(
                    "Idempotency-Key must be 1 to 255 visible ASCII characters",
                ));
            }
        },
    };
    let new = NewJob {
        id: format!("scan-{}", uuid::Uuid::new_v4().simple()),
        image: image.to_owned(),
        sbom_format,
        idempotency_key,
    };
    let db = &state.ports.db;
    // No create_tenant here: tokens are only issued to clients of the Db, whose tenant
    // `stella auth client create` made, so the hot path stays one write.
    // Published while the insert's disk sync runs, so the worker can start at once; the
    // client hears of the job only once it is on disk.
    let (job, durable) = db
        .insert_job_visible(&tenant, &new)
        .await
        .map_err(ApiError::internal)?;
    // A replayed Idempotency-Key returns the first job. It is re-published while still queued,
    // so a client retrying after a failed publish is not left with a job nobody will run
    // (the worker drops duplicate deliveries of a finished job).
    if job.id == new.id || job.status == JobStatus::Queued {
        let message = json!({"job_id": job.id, "tenant": tenant});
        state
            .ports
            .bus
            .publish(crate::JOBS_STREAM, message.to_string().as_bytes())
            .await
            .map_err(ApiError::internal)?;
    }
    durable.wait().await.map_err(ApiError::internal)?;
    tracing::info!(job_id = %job.id, %tenant, "scan enqueued");
    let location = format!("/api/v1/scans/{}", job.id);
    let mut response = (
        StatusCode::ACCEPTED,
        axum::Json(json!({"job_id": job.id, "status": job.status.as_str()})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

fn rfc3339(t: Option<time::OffsetDateTime>) -> Value {
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .map_or(Value::Null, Value::String)
}

/// The public view of a job (no worker name or lease: those are internal).
fn job_json(job: &Job) -> Value {
    json!({
        "job_id": job.id,
        "image": job.image,
        "sbom_format": job.sbom_format,
        "status": job.status.as_str(),
        "created_at": rfc3339(Some(job.created_at)),
        "started_at": rfc3339(job.started_at),
        "finished_at": rfc3339(job.finished_at),
        "attempts": job.attempts,
        "error": job.error,
        "summary": job.summary,
    })
}

async fn load_job(state: &ApiState, tenant: &str, id: &str) -> Result<Job, ApiError> {
    state
        .ports
        .db
        .get_job(tenant, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)
}

#[derive(Debug, Deserialize)]
struct StatusQuery {
    wait: Option<String>,
}

/// The job's status. With `?wait=SECONDS` (0 to [`MAX_WAIT_SECS`]) a long poll: the answer
/// comes as soon as the job is completed or failed, or when the wait is over, whichever is
/// first, so a client sees the end of a scan at once without polling.
async fn get_scan(
    State(state): State<ApiState>,
    auth: Authorized<ScansRead>,
    Path(id): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Result<Response, ApiError> {
    let tenant = auth.principal.tenant;
    let wait = match q.wait.as_deref() {
        None => 0,
        Some(w) => match w.parse::<u64>() {
            Ok(secs) if secs <= MAX_WAIT_SECS => secs,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "wait={w:?}: expected whole seconds from 0 to {MAX_WAIT_SECS}"
                )));
            }
        },
    };
    let job = if wait == 0 {
        load_job(&state, &tenant, &id).await?
    } else {
        state
            .watch
            .wait_finished(&tenant, &id, Duration::from_secs(wait), || {
                state.ports.db.get_job(&tenant, &id)
            })
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(ApiError::not_found)?
    };
    Ok(axum::Json(job_json(&job)).into_response())
}

fn require_completed(job: &Job) -> Result<(), ApiError> {
    if job.status == JobStatus::Completed {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_completed",
            format!("scan is {}", job.status.as_str()),
        ))
    }
}

#[derive(Debug, Deserialize)]
struct SbomQuery {
    format: Option<String>,
}

async fn get_sbom(
    State(state): State<ApiState>,
    auth: Authorized<ScansRead>,
    Path(id): Path<String>,
    Query(q): Query<SbomQuery>,
) -> Result<Response, ApiError> {
    let tenant = auth.principal.tenant;
    let job = load_job(&state, &tenant, &id).await?;
    require_completed(&job)?;
    let format = q.format.unwrap_or_else(|| job.sbom_format.clone());
    let content_type = match format.as_str() {
        "spdx" => "application/spdx+json",
        "cyclonedx" => "application/vnd.cyclonedx+json; version=1.6",
        other => {
            return Err(ApiError::bad_request(format!(
                "format {other:?}: expected \"spdx\" or \"cyclonedx\""
            )));
        }
    };
    let doc = state
        .ports
        .db
        .get_sbom_document(&tenant, &id, &format)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("this scan produced no {format} SBOM"),
            )
        })?;
    let bytes = state
        .ports
        .blobs
        .get(&doc.blob_key)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("blob {} is missing", doc.blob_key)))?;
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", doc.digest)) {
        h.insert(header::ETAG, v);
    }
    Ok(response)
}

/// The scan result (`stella.scan-result/v1`: timestamp, inventory, findings), from which
/// `stella scan --server` renders its outputs exactly as a local scan does.
async fn get_result(
    State(state): State<ApiState>,
    auth: Authorized<ScansRead>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = auth.principal.tenant;
    let job = load_job(&state, &tenant, &id).await?;
    require_completed(&job)?;
    let key = crate::worker::result_key(&job.id);
    let bytes = state
        .ports
        .blobs
        .get(&key)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("blob {key} is missing")))?;
    let mut response = Response::new(Body::from(bytes));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

async fn get_findings(
    State(state): State<ApiState>,
    auth: Authorized<ScansRead>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = auth.principal.tenant;
    let job = load_job(&state, &tenant, &id).await?;
    require_completed(&job)?;
    let rows = state
        .ports
        .db
        .get_findings(&tenant, &id)
        .await
        .map_err(ApiError::internal)?;
    let findings: Vec<Value> = rows.into_iter().map(|r| r.payload).collect();
    Ok(axum::Json(json!({"job_id": id, "findings": findings})).into_response())
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn list_scans(
    State(state): State<ApiState>,
    auth: Authorized<ScansRead>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let (jobs, next) = state
        .ports
        .db
        .list_jobs(&auth.principal.tenant, q.cursor.as_deref(), limit)
        .await
        .map_err(|e| match e {
            stella_store::db::DbError::InvalidCursor => ApiError::bad_request("invalid cursor"),
            e => ApiError::internal(e),
        })?;
    let items: Vec<Value> = jobs.iter().map(job_json).collect();
    Ok(axum::Json(json!({"items": items, "next_cursor": next})).into_response())
}
