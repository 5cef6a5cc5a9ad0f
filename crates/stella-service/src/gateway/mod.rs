//! The gateway: the public entry point of `stella serve`, in front of the other roles.
//!
//! It owns what every public request goes through, whichever role answers it:
//! - **request ids** ([`crate::api::request_id`]): every answer, local or proxied, carries
//!   `x-request-id`, and the same id is forwarded upstream so the roles' logs line up;
//! - **rate limits** ([`RateLimits`], token buckets from `governor`): per client (`sub`) and per
//!   tenant (`tid`) when the request carries an access token whose signature, issuer, audience
//!   and lifetime check out against the authority's JWKS; otherwise per peer IP (the anonymous
//!   bucket, where `/token` falls). A forged token therefore never spends another tenant's
//!   quota. Over the limit: `429` with `Retry-After`;
//! - **body limits**: a body over [`GatewayConfig::body_limit`] is answered `413` before any
//!   role sees it (bodies are buffered here, so the limit holds for chunked uploads too);
//! - **routing**: `/token`, `/jwks` and `/.well-known/*` go to the authority; `/api/v1/*` and
//!   `/openapi.json` to the scanner web service. An [`Upstream::Local`] role is called
//!   in-process on the `local` router (no HTTP hop); an [`Upstream::Remote`] one is
//!   reverse-proxied over HTTP(S) (see `proxy`), answering `502`/`504` naming the role when it
//!   is down or slow. Anything else is `404`;
//! - **TLS** ([`serve`] with [`TlsFiles`]): rustls with PEM files; plain HTTP without them.
//!
//! ```text
//! let config = GatewayConfig::new(public_url, stella_service::AUDIENCE);  // every role Local
//! let app = gateway::router(config, local_roles_router);
//! gateway::serve(listener, app, tls.as_ref(), shutdown_signal()).await?;
//! ```
//!
//! DPoP proofs name the public URL in `htu`, and the roles check them against their configured
//! public URL, so the proxy forwards `Authorization`, `DPoP` and `DPoP-Nonce` untouched and
//! never rewrites paths. Errors made here are JSON `{"error", "error_description"}` (the OAuth
//! shape, which clients of `/token` already parse).

mod proxy;
mod ratelimit;
mod tls;

pub use tls::{TlsFiles, load_tls_config, serve};

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde_json::json;
use tower::ServiceExt as _;

use crate::api::request_id;

/// Where a role is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// In this process: the `local` router given to [`router`] answers.
    Local,
    /// On another host: the gateway proxies to this base URL (`http://scanner-web.internal:8081`). A path
    /// in the URL is a prefix put before the request's path.
    Remote(url::Url),
}

/// Token-bucket limits, in requests per minute; `0` turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Per client id (`sub` of a verified access token).
    pub per_client_per_minute: u32,
    /// Per tenant (`tid` of a verified access token), shared by all the tenant's clients.
    pub per_tenant_per_minute: u32,
    /// Per peer IP, for requests without a verifiable access token (`/token` included).
    pub anonymous_per_minute: u32,
    /// How many requests a bucket holds, that is how many may come at once before the
    /// per-minute pace applies. `0`: each bucket holds one minute's worth.
    pub burst: u32,
}

impl Default for RateLimits {
    /// Generous for a person or a CI job, tight enough to blunt a runaway loop: a tenant's
    /// clients share twice one client's pace, and a caller without a token (who can only ask
    /// for tokens) gets 120 a minute per IP.
    fn default() -> Self {
        RateLimits {
            per_client_per_minute: 600,
            per_tenant_per_minute: 1200,
            anonymous_per_minute: 120,
            burst: 0,
        }
    }
}

/// The gateway's settings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Serves `/token`, `/jwks`, `/.well-known/*`.
    pub authority: Upstream,
    /// Serves `/api/v1/*` and `/openapi.json`.
    pub scanner_web: Upstream,
    pub rate_limits: RateLimits,
    /// Request bodies above this many bytes are answered 413.
    pub body_limit: usize,
    /// The issuer (`iss`) and audience (`aud`) access tokens must carry to be keyed by client
    /// and tenant.
    pub issuer: String,
    pub audience: String,
}

impl GatewayConfig {
    /// Every role in this process, default limits and a 64 KiB body limit.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        GatewayConfig {
            authority: Upstream::Local,
            scanner_web: Upstream::Local,
            rate_limits: RateLimits::default(),
            body_limit: DEFAULT_BODY_LIMIT,
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            audience: audience.into(),
        }
    }
}

/// The default [`GatewayConfig::body_limit`]: a scan request is a few hundred bytes.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// How long a remote role may take to answer with its status and headers before the gateway
/// answers 504; a streamed body may then take longer, as long as it never stalls this long.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// The roles the gateway routes to, by the name used in logs and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Authority,
    ScannerWeb,
}

impl Role {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Authority => "authority",
            Role::ScannerWeb => "scanner-web",
        }
    }

    /// The role serving `path`, if any.
    fn for_path(path: &str) -> Option<Role> {
        match path {
            "/token" | "/jwks" => Some(Role::Authority),
            p if p.starts_with("/.well-known/") => Some(Role::Authority),
            "/api/v1" | "/openapi.json" => Some(Role::ScannerWeb),
            p if p.starts_with("/api/v1/") => Some(Role::ScannerWeb),
            _ => None,
        }
    }
}

/// How one role is reached, ready to use.
#[derive(Clone)]
pub(crate) enum Route {
    Local(Router),
    Remote(Arc<proxy::Proxy>),
}

impl Route {
    fn new(upstream: &Upstream, role: Role, local: &Router, timeout: Duration) -> Route {
        match upstream {
            Upstream::Local => Route::Local(local.clone()),
            Upstream::Remote(base) => {
                Route::Remote(Arc::new(proxy::Proxy::new(role, base.clone(), timeout)))
            }
        }
    }
}

#[derive(Clone)]
struct Gateway {
    authority: Route,
    scanner_web: Route,
}

/// The public app: routing, rate limits, body limits and request ids around `local`, which
/// must serve the routes of every [`Upstream::Local`] role (the authority's router, the scan
/// API's, or both merged). Serve it with [`serve`], or with axum's
/// `into_make_service_with_connect_info::<SocketAddr>()`: without the peer address, every
/// anonymous caller shares one bucket.
pub fn router(config: GatewayConfig, local: Router) -> Router {
    router_with_timeout(config, local, DEFAULT_UPSTREAM_TIMEOUT)
}

/// [`router`] with another timeout for remote roles than [`DEFAULT_UPSTREAM_TIMEOUT`].
pub fn router_with_timeout(
    config: GatewayConfig,
    local: Router,
    upstream_timeout: Duration,
) -> Router {
    let authority = Route::new(&config.authority, Role::Authority, &local, upstream_timeout);
    let scanner_web = Route::new(
        &config.scanner_web,
        Role::ScannerWeb,
        &local,
        upstream_timeout,
    );
    let limiter = Arc::new(ratelimit::Limiter::new(
        config.rate_limits,
        ratelimit::jwks_source(authority.clone()),
        config.issuer.clone(),
        config.audience.clone(),
    ));
    let body_limit = config.body_limit;
    Router::new()
        .fallback(dispatch)
        .with_state(Gateway {
            authority,
            scanner_web,
        })
        // Layers run outside-in from the last: request ids wrap everything, so a 429 or a 413
        // carries one too; the rate limit comes before the body is read.
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            limit_body(body_limit, req, next)
        }))
        .layer(middleware::from_fn_with_state(limiter, ratelimit::limit))
        .layer(middleware::from_fn(request_id))
}

async fn dispatch(State(gateway): State<Gateway>, req: Request) -> Response {
    let route = match Role::for_path(req.uri().path()) {
        Some(Role::Authority) => &gateway.authority,
        Some(Role::ScannerWeb) => &gateway.scanner_web,
        None => {
            return error(StatusCode::NOT_FOUND, "not_found", "no such route");
        }
    };
    match route {
        Route::Local(local) => match local.clone().oneshot(req).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        Route::Remote(proxy) => proxy.forward(req).await,
    }
}

/// Buffers the body up to `limit` bytes, so that no role (local or remote) ever sees an
/// oversized one: a declared `Content-Length` over the limit is refused without reading, a
/// chunked body as soon as it crosses the limit.
async fn limit_body(limit: usize, req: Request, next: Next) -> Response {
    // The rest of the body stays unread, so the connection cannot carry another request:
    // `Connection: close` tells the client not to reuse it (a pooled client would otherwise
    // send its next request into a socket the server is closing).
    let too_large = || {
        let mut response = error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body exceeds {limit} bytes"),
        );
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        response
    };
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let mut buffered = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(chunk) if buffered.len() + chunk.len() > limit => return too_large(),
            Ok(chunk) => buffered.extend_from_slice(&chunk),
            Err(e) => {
                // The client went away or sent a malformed chunked body.
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("reading the request body: {e}"),
                );
            }
        }
    }
    next.run(Request::from_parts(parts, Body::from(buffered)))
        .await
}

/// A gateway error: `{"error": code, "error_description": text}` with its status.
pub(crate) fn error(
    status: StatusCode,
    code: &'static str,
    description: impl Into<String>,
) -> Response {
    (
        status,
        axum::Json(json!({"error": code, "error_description": description.into()})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_roles() {
        assert_eq!(Role::for_path("/token"), Some(Role::Authority));
        assert_eq!(Role::for_path("/jwks"), Some(Role::Authority));
        assert_eq!(
            Role::for_path("/.well-known/openid-configuration"),
            Some(Role::Authority)
        );
        assert_eq!(Role::for_path("/api/v1/scans"), Some(Role::ScannerWeb));
        assert_eq!(Role::for_path("/openapi.json"), Some(Role::ScannerWeb));
        assert_eq!(Role::for_path("/api/v10/scans"), None);
        assert_eq!(Role::for_path("/tokens"), None);
        assert_eq!(Role::for_path("/"), None);
    }
}
