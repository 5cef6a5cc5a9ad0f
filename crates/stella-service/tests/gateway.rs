//! The gateway over real HTTP on 127.0.0.1: a real `stella_authority::Authority` (clients in a
//! `MemoryClientStore`, DPoP proofs signed by `stella_authority::DpopKey`) and a small API
//! router, served in-process behind the gateway (`Upstream::Local`) or on a second loopback
//! listener the gateway proxies to (`Upstream::Remote`).
//!
//! The rate-limit tests count requests exactly: a bucket holds `burst` (or one minute's worth)
//! of cells and refills one cell every `60 / per_minute` seconds, which is longer than each
//! test takes, so the counts below are deterministic.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use stella_authority::{
    Authority, AuthorityConfig, Authorized, ClientRecord, DpopConfig, DpopKey, DpopVerifier,
    MemoryClientStore, MemoryReplayCache, RequiredScope, ResourceGuard, SigningKey, SystemClock,
    new_client_credentials,
};
use stella_service::gateway::{self, GatewayConfig, RateLimits, TlsFiles, Upstream};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const AUDIENCE: &str = "stella-api";
const READ: &str = "scanner.scans.read";

struct Read;
impl RequiredScope for Read {
    const SCOPE: &'static str = READ;
}

#[derive(Clone)]
struct AppState {
    guard: Arc<ResourceGuard>,
    /// How many requests reached `/api/v1/echo`: a refused body must leave it at zero.
    echoes: Arc<AtomicUsize>,
}

impl FromRef<AppState> for Arc<ResourceGuard> {
    fn from_ref(s: &AppState) -> Self {
        s.guard.clone()
    }
}

/// The roles behind the gateway: the authority and a small scan API, one router.
struct Backend {
    clients: Arc<MemoryClientStore>,
    echoes: Arc<AtomicUsize>,
    router: Router,
}

/// `public_url` is the gateway's: tokens are issued for it and proofs name it in `htu`.
fn backend(public_url: &str) -> Backend {
    let clock = Arc::new(SystemClock);
    let clients = Arc::new(MemoryClientStore::new());
    let dpop = DpopVerifier::new(
        DpopConfig::default(),
        Arc::new(MemoryReplayCache::new(clock.clone())),
        clock.clone(),
    );
    let authority = Arc::new(Authority::new(
        AuthorityConfig::new(public_url, AUDIENCE),
        SigningKey::generate(),
        clients.clone(),
        dpop,
        clock,
    ));
    let echoes = Arc::new(AtomicUsize::new(0));
    let state = AppState {
        guard: Arc::new(authority.resource_guard(public_url)),
        echoes: echoes.clone(),
    };
    let api = Router::new()
        .route(
            "/api/v1/whoami",
            get(|a: Authorized<Read>| async move {
                axum::Json(
                    json!({"client_id": a.principal.client_id, "tenant": a.principal.tenant}),
                )
            }),
        )
        // axum's own 2 MiB limit is lifted, so only the gateway's limit can refuse a body.
        .route(
            "/api/v1/echo",
            post(echo).layer(DefaultBodyLimit::disable()),
        )
        .with_state(state);
    Backend {
        clients,
        echoes,
        router: authority.router().merge(api),
    }
}

/// Reports what reached the role: the body's length and the headers the proxy set or dropped.
async fn echo(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    s.echoes.fetch_add(1, Ordering::SeqCst);
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    (
        StatusCode::CREATED,
        [
            ("location", "/api/v1/scans/scan-1"),
            ("x-role", "scanner-web"),
        ],
        axum::Json(json!({
            "len": body.len(),
            "x-request-id": h("x-request-id"),
            "x-forwarded-for": h("x-forwarded-for"),
            "x-forwarded-proto": h("x-forwarded-proto"),
            "x-forwarded-host": h("x-forwarded-host"),
            "x-secret": h("x-secret"),
            "keep-alive": h("keep-alive"),
            "dpop": h("dpop"),
        })),
    )
}

impl Backend {
    /// Registers a client of `tenant` and returns a logged-out [`Client`] for it.
    fn client(&self, gateway: &Gateway, tenant: &str) -> Client {
        let (client_id, secret, secret_hash) = new_client_credentials();
        self.clients.insert(ClientRecord {
            client_id: client_id.clone(),
            tenant: tenant.into(),
            secret_hash,
            scopes: vec![READ.into()],
        });
        Client {
            http: gateway.http.clone(),
            base: gateway.base.clone(),
            id: client_id,
            secret: secret.expose().to_owned(),
            key: DpopKey::generate(),
            token: None,
            nonce: None,
        }
    }
}

/// A gateway served by `gateway::serve` on 127.0.0.1.
struct Gateway {
    base: String,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Gateway {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    /// Stops the gateway and waits for `serve` to return.
    async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
    }
}

async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

fn start_gateway(listener: TcpListener, base: String, app: Router) -> Gateway {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(gateway::serve(listener, app, None, async {
        let _ = stopped.await;
    }));
    Gateway {
        base,
        http: reqwest::Client::new(),
        stop: Some(stop),
        task,
    }
}

/// Serves a backend's router on its own listener, as a role on another host would be.
async fn serve_remote(router: Router) -> url::Url {
    let (listener, base) = bind().await;
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url::Url::parse(&base).unwrap()
}

fn config(public_url: &str, limits: RateLimits) -> GatewayConfig {
    GatewayConfig {
        rate_limits: limits,
        ..GatewayConfig::new(public_url, AUDIENCE)
    }
}

fn limits(per_client: u32, per_tenant: u32, anonymous: u32, burst: u32) -> RateLimits {
    RateLimits {
        per_client_per_minute: per_client,
        per_tenant_per_minute: per_tenant,
        anonymous_per_minute: anonymous,
        burst,
    }
}

/// A gateway with every role in-process, over a fresh backend.
async fn local_gateway(limits: RateLimits) -> (Gateway, Backend) {
    let (listener, base) = bind().await;
    let backend = backend(&base);
    let app = gateway::router(config(&base, limits), backend.router.clone());
    (start_gateway(listener, base, app), backend)
}

/// A gateway proxying both roles to a backend on a second listener.
async fn remote_gateway(limits: RateLimits) -> (Gateway, Backend) {
    let (listener, base) = bind().await;
    let backend = backend(&base);
    let upstream = serve_remote(backend.router.clone()).await;
    let app = gateway::router(
        GatewayConfig {
            authority: Upstream::Remote(upstream.clone()),
            scanner_web: Upstream::Remote(upstream),
            ..config(&base, limits)
        },
        Router::new(),
    );
    (start_gateway(listener, base, app), backend)
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
    fn description(&self) -> &str {
        self.body["error_description"].as_str().unwrap_or_default()
    }
}

async fn reply(r: reqwest::RequestBuilder) -> Reply {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

/// A client speaking client credentials and DPoP to the gateway's public URL.
struct Client {
    http: reqwest::Client,
    base: String,
    id: String,
    secret: String,
    key: DpopKey,
    token: Option<String>,
    nonce: Option<String>,
}

impl Client {
    fn remember_nonce(&mut self, r: &Reply) {
        if !r.header("dpop-nonce").is_empty() {
            self.nonce = Some(r.header("dpop-nonce").to_owned());
        }
    }

    async fn token_request(&mut self) -> Reply {
        let url = format!("{}/token", self.base);
        let mut req = self
            .http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!(
                    "Basic {}",
                    STANDARD.encode(format!("{}:{}", self.id, self.secret))
                ),
            )
            .body("grant_type=client_credentials");
        if let Some(nonce) = &self.nonce {
            req = req.header("dpop", self.key.proof("POST", &url, Some(nonce), None));
        }
        let r = reply(req).await;
        self.remember_nonce(&r);
        r
    }

    /// Two requests through the gateway (both in the anonymous bucket): one that only earns
    /// a DPoP nonce, then the token request.
    async fn login(&mut self) {
        let first = self.token_request().await;
        assert_eq!(first.status, 400, "{:?}", first.body);
        assert!(
            self.nonce.is_some(),
            "the token endpoint's DPoP-Nonce came through"
        );
        let r = self.token_request().await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["token_type"], "DPoP");
        self.token = Some(r.body["access_token"].as_str().unwrap().to_owned());
    }

    /// One GET with the token and a fresh proof (with the last nonce seen, if any).
    async fn get(&mut self, path: &str) -> Reply {
        let url = format!("{}{path}", self.base);
        let token = self.token.clone().expect("logged in");
        let proof = self
            .key
            .proof("GET", &url, self.nonce.as_deref(), Some(&token));
        let r = reply(
            self.http
                .get(&url)
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof),
        )
        .await;
        self.remember_nonce(&r);
        r
    }

    /// A GET sending `token` as is, with no proof (the rate limiter looks at the token only).
    async fn get_with_token(&self, path: &str, token: &str) -> Reply {
        reply(
            self.http
                .get(format!("{}{path}", self.base))
                .header("authorization", format!("DPoP {token}")),
        )
        .await
    }
}

fn assert_rate_limited(r: &Reply, who: &str) {
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert_eq!(r.error(), "rate_limited", "{:?}", r.body);
    assert!(r.description().contains(who), "{:?}", r.body);
    let retry: u64 = r
        .header("retry-after")
        .parse()
        .expect("Retry-After in whole seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert!(!r.header("x-request-id").is_empty());
}

#[tokio::test]
async fn local_roles_full_dpop_flow_request_ids_and_unknown_paths() {
    let (gw, backend) = local_gateway(RateLimits::default()).await;
    let mut client = backend.client(&gw, "tenant-a");
    client.login().await;
    let r = client.get("/api/v1/whoami").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["tenant"], "tenant-a");
    assert_eq!(r.body["client_id"], client.id.as_str());
    assert!(!r.header("x-request-id").is_empty());

    // The authority's other routes are served in-process too.
    let r = reply(gw.http.get(gw.url("/jwks"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["keys"][0]["kty"], "EC");
    let r = reply(gw.http.get(gw.url("/.well-known/openid-configuration"))).await;
    assert_eq!(r.body["issuer"], gw.base.as_str());

    // A sane client id is kept and echoed; a malformed one is replaced.
    let r = reply(
        gw.http
            .get(gw.url("/jwks"))
            .header("x-request-id", "req-42.a:b"),
    )
    .await;
    assert_eq!(r.header("x-request-id"), "req-42.a:b");
    let r = reply(
        gw.http
            .get(gw.url("/jwks"))
            .header("x-request-id", "bad id!"),
    )
    .await;
    assert_ne!(r.header("x-request-id"), "bad id!");
    assert!(!r.header("x-request-id").is_empty());

    // Paths of no role: 404 JSON, with a request id, even where `local` would answer.
    for path in ["/", "/api/v2/scans", "/tokens", "/metrics"] {
        let r = reply(gw.http.get(gw.url(path))).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.error(), "not_found", "{path}");
        assert!(!r.header("x-request-id").is_empty(), "{path}");
    }
    gw.shutdown().await.unwrap();
}

#[tokio::test]
async fn remote_roles_full_dpop_flow_through_the_proxy() {
    let (gw, backend) = remote_gateway(limits(4, 0, 0, 0)).await;
    let mut client = backend.client(&gw, "tenant-a");
    // The token endpoint's `use_dpop_nonce` answer and its DPoP-Nonce come back through the
    // proxy; the proof for `{public}/token` verifies at the remote authority.
    client.login().await;

    // A resource call without a nonce: the remote role's challenge and nonce come through.
    client.nonce = None;
    let r = client.get("/api/v1/whoami").await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert!(
        r.header("www-authenticate").starts_with("DPoP ")
            && r.header("www-authenticate").contains("use_dpop_nonce"),
        "{}",
        r.header("www-authenticate")
    );
    assert!(client.nonce.is_some(), "DPoP-Nonce came through");
    let r = client.get("/api/v1/whoami").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["tenant"], "tenant-a");
    assert!(!r.header("x-request-id").is_empty());

    // What the role sees and what comes back: the gateway's request id (the same it answers
    // with), X-Forwarded-*, no hop-by-hop fields, DPoP untouched, and the role's status,
    // Location and own headers.
    let r = reply(
        gw.http
            .post(gw.url("/api/v1/echo?x=1"))
            .header("x-request-id", "trace-7")
            .header("x-forwarded-for", "203.0.113.9")
            .header("connection", "x-secret")
            .header("x-secret", "hop")
            .header("dpop", "opaque-proof")
            .body("hello"),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.header("location"), "/api/v1/scans/scan-1");
    assert_eq!(r.header("x-role"), "scanner-web");
    assert_eq!(r.header("x-request-id"), "trace-7");
    assert_eq!(r.body["x-request-id"], "trace-7");
    assert_eq!(r.body["len"], 5);
    assert_eq!(r.body["x-forwarded-for"], "127.0.0.1");
    assert_eq!(r.body["x-forwarded-proto"], "http");
    assert_eq!(
        r.body["x-forwarded-host"],
        gw.base.trim_start_matches("http://")
    );
    assert_eq!(r.body["x-secret"], Value::Null);
    assert_eq!(r.body["dpop"], "opaque-proof");

    // The gateway fetched the remote authority's JWKS over HTTP to key this client: its 4
    // cells went on the 401, the 200 and two more calls; the next is refused.
    for _ in 0..2 {
        assert_eq!(client.get("/api/v1/whoami").await.status, 200);
    }
    assert_rate_limited(&client.get("/api/v1/whoami").await, "this client");
    assert_eq!(backend.echoes.load(Ordering::SeqCst), 1);
    gw.shutdown().await.unwrap();
}

#[tokio::test]
async fn unreachable_role_is_502_and_a_silent_one_504() {
    // A port nobody listens on: bind, note it, close.
    let (closed, closed_base) = bind().await;
    drop(closed);
    let down = url::Url::parse(&closed_base).unwrap();
    // A role that accepts connections and never answers.
    let (silent, silent_base) = bind().await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            held.push(conn);
        }
    });

    let (listener, base) = bind().await;
    let app = gateway::router_with_timeout(
        GatewayConfig {
            authority: Upstream::Remote(down),
            scanner_web: Upstream::Remote(url::Url::parse(&silent_base).unwrap()),
            ..config(&base, RateLimits::default())
        },
        Router::new(),
        Duration::from_millis(500),
    );
    let gw = start_gateway(listener, base, app);

    let r = reply(gw.http.post(gw.url("/token")).body("grant_type=x")).await;
    assert_eq!(r.status, 502, "{:?}", r.body);
    assert_eq!(r.error(), "bad_gateway");
    assert!(r.description().contains("authority"), "{:?}", r.body);
    assert!(!r.header("x-request-id").is_empty());

    let r = reply(gw.http.get(gw.url("/api/v1/scans"))).await;
    assert_eq!(r.status, 504, "{:?}", r.body);
    assert_eq!(r.error(), "gateway_timeout");
    assert!(r.description().contains("scanner-web"), "{:?}", r.body);
    gw.shutdown().await.unwrap();
}

#[tokio::test]
async fn per_client_and_per_tenant_limits() {
    // Client buckets hold 3, tenant buckets 5; token requests are anonymous and plenty.
    let (gw, backend) = local_gateway(limits(3, 5, 1000, 0)).await;
    let mut a1 = backend.client(&gw, "tenant-a");
    let mut a2 = backend.client(&gw, "tenant-a");
    let mut b1 = backend.client(&gw, "tenant-b");
    for c in [&mut a1, &mut a2, &mut b1] {
        c.login().await;
    }

    for _ in 0..3 {
        let r = a1.get("/api/v1/whoami").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    // Refused by its own bucket, which spends none of its tenant's cells ...
    assert_rate_limited(&a1.get("/api/v1/whoami").await, "this client");
    assert_rate_limited(&a1.get("/api/v1/whoami").await, "this client");
    // ... so the tenant has 2 of 5 left for its other client, which then hits the tenant's
    // limit with cells of its own to spare.
    for _ in 0..2 {
        let r = a2.get("/api/v1/whoami").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    assert_rate_limited(&a2.get("/api/v1/whoami").await, "this tenant");
    // Another tenant is unaffected.
    for _ in 0..3 {
        let r = b1.get("/api/v1/whoami").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["tenant"], "tenant-b");
    }
    assert_rate_limited(&b1.get("/api/v1/whoami").await, "this client");
    gw.shutdown().await.unwrap();
}

/// A token whose payload was edited (`tid`, `sub` of the victim) keeps a real `kid` but fails
/// the signature check, so it is keyed by the caller's IP and spends none of the victim's
/// cells.
#[tokio::test]
async fn forged_tenant_claims_fall_into_the_anonymous_bucket() {
    // Every bucket holds 6 and refills one cell a minute.
    let (gw, backend) = local_gateway(limits(1, 1, 1, 6)).await;
    let mut victim = backend.client(&gw, "tenant-victim");
    let mut attacker = backend.client(&gw, "tenant-attacker");
    victim.login().await; // anonymous cells 1-2
    attacker.login().await; // anonymous cells 3-4

    let real = attacker.token.clone().unwrap();
    let mut parts: Vec<String> = real.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["tid"] = json!("tenant-victim");
    claims["sub"] = json!(victim.id);
    claims["client_id"] = json!(victim.id);
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = parts.join(".");

    for _ in 0..2 {
        // Anonymous cells 5-6: passed on, and refused by the role itself.
        let r = attacker.get_with_token("/api/v1/whoami", &forged).await;
        assert_eq!(r.status, 401, "{:?}", r.body);
    }
    assert_rate_limited(
        &attacker.get_with_token("/api/v1/whoami", &forged).await,
        "without a valid access token",
    );
    // The victim's client and tenant buckets are whole.
    for i in 0..6 {
        let r = victim.get("/api/v1/whoami").await;
        assert_eq!(r.status, 200, "call {i}: {:?}", r.body);
    }
    assert_rate_limited(&victim.get("/api/v1/whoami").await, "this client");
    gw.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_any_role() {
    for remote in [false, true] {
        let (gw, backend) = if remote {
            remote_gateway(RateLimits::default()).await
        } else {
            local_gateway(RateLimits::default()).await
        };
        let limit = gateway::DEFAULT_BODY_LIMIT;

        let r = reply(gw.http.post(gw.url("/api/v1/echo")).body(vec![b'x'; limit])).await;
        assert_eq!(r.status, 201, "remote={remote}: {:?}", r.body);
        assert_eq!(r.body["len"], limit);

        let r = reply(
            gw.http
                .post(gw.url("/api/v1/echo"))
                .body(vec![b'x'; limit + 1]),
        )
        .await;
        assert_eq!(r.status, 413, "remote={remote}: {:?}", r.body);
        assert_eq!(r.error(), "payload_too_large");
        assert!(!r.header("x-request-id").is_empty());

        // Chunked, with no Content-Length to refuse up front.
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            (0..20).map(|_| Ok(vec![b'y'; 4096])).collect();
        let r = reply(
            gw.http
                .post(gw.url("/api/v1/echo"))
                .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                    chunks,
                ))),
        )
        .await;
        assert_eq!(r.status, 413, "remote={remote}: {:?}", r.body);

        // The authority's routes are under the same limit.
        let r = reply(gw.http.post(gw.url("/token")).body(vec![b'z'; limit + 1])).await;
        assert_eq!(r.status, 413, "remote={remote}: {:?}", r.body);

        assert_eq!(
            backend.echoes.load(Ordering::SeqCst),
            1,
            "remote={remote}: only the body within the limit reached the role"
        );
        gw.shutdown().await.unwrap();
    }
}

fn write_self_signed(dir: &std::path::Path) -> (TlsFiles, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, ck.cert.pem()).unwrap();
    std::fs::write(&files.key, ck.signing_key.serialize_pem()).unwrap();
    (files, ck.cert.pem())
}

#[tokio::test]
async fn tls_with_pem_files_and_graceful_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let (files, cert_pem) = write_self_signed(dir.path());

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let base = format!("https://{addr}");
    let backend = backend(&base);
    let upstream = serve_remote(backend.router.clone()).await;
    let app = gateway::router(
        GatewayConfig {
            scanner_web: Upstream::Remote(upstream),
            ..config(&base, RateLimits::default())
        },
        backend.router.clone(),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        gateway::serve(listener, app, Some(&files), async {
            let _ = stopped.await;
        })
        .await
    });

    let https = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let r = reply(https.get(format!("{base}/jwks"))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(!r.header("x-request-id").is_empty());
    let r = reply(https.get(format!("https://localhost:{}/jwks", addr.port()))).await;
    assert_eq!(r.status, 200, "the certificate names localhost too");
    // The proxied role learns the client came over TLS.
    let r = reply(https.post(format!("{base}/api/v1/echo")).body("{}")).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["x-forwarded-proto"], "https");

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{addr}/jwks"))
        .timeout(Duration::from_secs(15))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");
    // A client that does not trust the certificate is refused at the handshake.
    let untrusting = reqwest::Client::new();
    assert!(untrusting.get(format!("{base}/jwks")).send().await.is_err());

    // And the server still serves after those failed handshakes, then stops on request.
    assert_eq!(reply(https.get(format!("{base}/jwks"))).await.status, 200);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("serve returns after shutdown")
        .unwrap()
        .unwrap();
    // The listener is closed with the server (its accept task is aborted, which the runtime
    // completes shortly after).
    let mut released = false;
    for _ in 0..50 {
        if TcpListener::bind(addr).await.is_ok() {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(released, "the port is released");
}

#[tokio::test]
async fn tls_file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _) = write_self_signed(dir.path());
    let missing = dir.path().join("missing.pem");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "this is not PEM\n").unwrap();

    let err = |files: TlsFiles| async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let e = gateway::serve(listener, Router::new(), Some(&files), async {})
            .await
            .expect_err("bad TLS files must fail");
        format!("{e:#}")
    };

    let e = err(TlsFiles {
        cert: missing.clone(),
        key: good.key.clone(),
    })
    .await;
    assert!(
        e.contains(&missing.display().to_string()) && e.contains("certificate"),
        "{e}"
    );
    let e = err(TlsFiles {
        cert: good.cert.clone(),
        key: missing.clone(),
    })
    .await;
    assert!(
        e.contains(&missing.display().to_string()) && e.contains("key"),
        "{e}"
    );
    let e = err(TlsFiles {
        cert: not_pem.clone(),
        key: good.key.clone(),
    })
    .await;
    assert!(
        e.contains(&not_pem.display().to_string()) && e.contains("no PEM CERTIFICATE"),
        "{e}"
    );
    // A key file holding only a certificate.
    let e = err(TlsFiles {
        cert: good.cert.clone(),
        key: good.cert.clone(),
    })
    .await;
    assert!(
        e.contains(&good.cert.display().to_string()) && e.contains("no PEM private key"),
        "{e}"
    );
    // Both files fine, but not a pair.
    let (other, _) = write_self_signed(&{
        let d = dir.path().join("other");
        std::fs::create_dir(&d).unwrap();
        d
    });
    let e = err(TlsFiles {
        cert: good.cert.clone(),
        key: other.key.clone(),
    })
    .await;
    assert!(e.contains("cannot be used together"), "{e}");
}
