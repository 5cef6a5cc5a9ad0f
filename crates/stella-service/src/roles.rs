//! Runs the roles a [`StellaConfig`] names in this process, and wires them to the ones elsewhere.
//!
//! With every role (the default) one process serves the gateway on `server.listen`, with the
//! authority and the scanner web service behind it in-process, and runs the worker. With
//! `--role`, each role runs where the operator puts it:
//! - **gateway** listens on `server.listen` (TLS when `[tls]` is set) and routes `/token`,
//!   `/jwks`, `/.well-known/*` to the authority and `/api/*`, `/openapi.json` to the scanner
//!   web service: in-process when that role runs here, else over HTTP to `authority.url` /
//!   `scanner_web.url`;
//! - **authority** listens on `authority.listen` when no gateway runs in this process;
//! - **scanner-web** listens on `scanner_web.listen` likewise. When the authority runs
//!   elsewhere it verifies tokens against the authority's `/jwks`, fetched at start (retried
//!   until the authority answers);
//! - **scanner-worker** needs no listener: it talks to the queue, the database and the blobs.
//!
//! What several instances must share, and how: the issuer key stays with the authority (others
//! only need its public half, from `/jwks`); the DPoP nonce key is a file every instance reads
//! (`authority.nonce_key_file`), so a nonce one instance issued is accepted by another; and the
//! DPoP `jti` replay cache is Redis/Valkey (`authority.replay_url`, by default the queue's Redis),
//! so a proof replayed against another instance is refused too.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use stella_authority::{
    Authority, AuthorityConfig, Clock, DpopConfig, DpopVerifier, FetchKeys, IssuerKeys,
    MemoryReplayCache, PublicKey, RedisReplayCache, ReplayCache, ResourceGuard, SystemClock,
};
use tokio::sync::watch;

use crate::config::{Role, StellaConfig};
use crate::{AUDIENCE, Ports, api, gateway, worker};

/// Runs `config.roles` until `shutdown` resolves.
pub async fn run_roles(
    config: StellaConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let service = config.service_config();
    let needs_ports = config.has(Role::Authority)
        || config.has(Role::ScannerWeb)
        || config.has(Role::ScannerWorker);
    let ports = if needs_ports {
        Some(Ports::open(&service).await?)
    } else {
        None
    };
    let (stop_tx, stop_rx) = watch::channel(false);

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let dpop = if config.has(Role::Authority) || config.has(Role::ScannerWeb) {
        let dpop_config = DpopConfig {
            nonce_key: crate::authority::load_or_create_nonce_key(&config.nonce_key_file)?,
            ..DpopConfig::default()
        };
        let replay: Arc<dyn ReplayCache> = if config.replay_url == "memory" {
            if !config.has(Role::Authority) || !config.has(Role::ScannerWeb) {
                tracing::warn!(
                    "the DPoP replay cache is in memory while roles run in several processes: \
                     set authority.replay_url to a Redis/Valkey URL so every instance refuses \
                     replayed proofs"
                );
            }
            Arc::new(MemoryReplayCache::new(clock.clone()))
        } else {
            Arc::new(
                RedisReplayCache::connect(&config.replay_url, "stella:dpop:jti:")
                    .await
                    .map_err(|e| anyhow::anyhow!("authority.replay_url: {}", e.0))?,
            )
        };
        Some(DpopVerifier::new(dpop_config, replay, clock.clone()))
    } else {
        None
    };

    let authority = match (&dpop, &ports) {
        (Some(dpop), Some(ports)) if config.has(Role::Authority) => {
            let key =
                crate::load_or_create_signing_key(&config.data_dir.join("authority-key.pem"))?;
            Some(Arc::new(Authority::new(
                AuthorityConfig::new(config.public_url.clone(), AUDIENCE),
                key,
                Arc::new(crate::DbClientStore::new(ports.db.clone())),
                dpop.clone(),
                clock.clone(),
            )))
        }
        _ => None,
    };

    // The long polls of this process's scanner-web; a worker here tells it of finished jobs
    // directly.
    let job_watch = match &ports {
        Some(ports) if config.has(Role::ScannerWeb) => {
            Some(crate::watch::JobWatch::start(ports.bus.clone()))
        }
        _ => None,
    };
    let scan_routes = match (&dpop, &ports, &job_watch) {
        (Some(dpop), Some(ports), Some(job_watch)) => {
            let guard = match &authority {
                Some(a) => a.resource_guard(config.public_url.clone()),
                None => {
                    let keys = fetch_issuer_keys(&config.authority_url, stop_rx.clone()).await?;
                    // Fetched again when tokens name a key rotated in after this start.
                    let url = jwks_url(&config.authority_url);
                    let refetch: FetchKeys = Arc::new(move || {
                        let url = url.clone();
                        Box::pin(async move { read_jwks(&url).await.map_err(|e| format!("{e:#}")) })
                    });
                    ResourceGuard::new(
                        config.public_url.clone(),
                        AUDIENCE.into(),
                        Vec::new(),
                        dpop.clone(),
                        clock.clone(),
                        config.public_url.clone(),
                    )
                    .with_issuer_keys(Arc::new(IssuerKeys::fetched(keys, refetch)))
                }
            };
            Some(api::scan_routes(api::ApiState {
                guard: Arc::new(guard),
                ports: ports.clone(),
                allow_local_targets: config.allow_local_targets,
                watch: job_watch.clone(),
            }))
        }
        _ => None,
    };

    // The HTTP apps of this process, by the address each listens on.
    let mut apps: BTreeMap<SocketAddr, (Router, bool)> = BTreeMap::new();
    let authority_routes = authority.clone().map(|a| a.router());
    if config.has(Role::Gateway) {
        let mut local = Router::new();
        if let Some(r) = authority_routes {
            local = local.merge(r);
        }
        if let Some(r) = scan_routes.clone() {
            local = local.merge(r);
        }
        let upstream = |here: bool, url: &str| -> anyhow::Result<gateway::Upstream> {
            Ok(if here {
                gateway::Upstream::Local
            } else {
                gateway::Upstream::Remote(url::Url::parse(url)?)
            })
        };
        let gateway_config = gateway::GatewayConfig {
            authority: upstream(config.has(Role::Authority), &config.authority_url)?,
            scanner_web: upstream(config.has(Role::ScannerWeb), &config.scanner_web_url)?,
            rate_limits: gateway::RateLimits {
                per_client_per_minute: config.rate_per_client,
                per_tenant_per_minute: config.rate_per_tenant,
                anonymous_per_minute: config.rate_anonymous,
                burst: config.rate_burst,
            },
            body_limit: config.body_limit,
            issuer: config.public_url.clone(),
            audience: AUDIENCE.into(),
        };
        apps.insert(
            config.listen,
            (
                gateway::router(gateway_config, api::behind_gateway(local)),
                true,
            ),
        );
    } else {
        if let Some(r) = authority_routes {
            add_app(&mut apps, config.authority_listen, r);
        }
        if let Some(r) = scan_routes {
            add_app(&mut apps, config.scanner_web_listen, r);
        }
    }

    let worker_task = match &ports {
        Some(ports) if config.has(Role::ScannerWorker) => {
            let mut w = worker::Worker::new(ports.clone(), config.data_dir.clone(), service.worker);
            if let Some(watch) = &job_watch {
                w = w.with_local_watch(watch.clone());
            }
            Some(tokio::spawn(w.run(stop_rx.clone())))
        }
        _ => None,
    };

    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(gateway::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    let roles: Vec<&str> = config.roles.iter().map(|r| r.name()).collect();
    let mut servers = tokio::task::JoinSet::new();
    for (addr, (app, public)) in apps {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let bound = listener.local_addr()?;
        let scheme = if public && tls.is_some() {
            "https"
        } else {
            "http"
        };
        eprintln!(
            "stella serve: {} on {scheme}://{bound} (data in {})",
            roles.join(","),
            config.data_dir.display()
        );
        let mut stop = stop_rx.clone();
        let tls = if public { tls.clone() } else { None };
        servers.spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            gateway::serve(listener, app, tls.as_ref(), stopped).await
        });
    }
    if servers.is_empty() {
        eprintln!(
            "stella serve: {} (no listener; data in {})",
            roles.join(","),
            config.data_dir.display()
        );
    }
    tracing::info!(roles = %roles.join(","), "stella service started");

    // Stop on the signal, or when a server fails (a port taken, a TLS file gone).
    let mut failure = None;
    tokio::select! {
        _ = shutdown => tracing::info!("shutting down"),
        Some(done) = servers.join_next(), if !servers.is_empty() => {
            failure = Some(match done {
                Ok(Ok(())) => anyhow::anyhow!("a listener stopped unexpectedly"),
                Ok(Err(e)) => e,
                Err(e) => anyhow::anyhow!("a listener task ended abnormally: {e}"),
            });
        }
    }
    let _ = stop_tx.send(true);
    while let Some(done) = servers.join_next().await {
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "listener ended with an error");
        }
    }
    if let Some(task) = worker_task {
        match task.await {
            Ok(result) => result?,
            Err(e) => tracing::error!(error = %e, "worker task ended abnormally"),
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Adds `routes` to the app on `addr`, merging roles that share an address.
fn add_app(apps: &mut BTreeMap<SocketAddr, (Router, bool)>, addr: SocketAddr, routes: Router) {
    let merged = match apps.remove(&addr) {
        Some((existing, _)) => existing.merge(api::finish(routes)),
        None => api::finish(routes),
    };
    apps.insert(addr, (merged, false));
}

/// The authority's public keys from `{authority_url}/jwks`, retried with backoff until the
/// authority answers (roles may start in any order) or the process is told to stop.
async fn fetch_issuer_keys(
    authority_url: &str,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Vec<(String, PublicKey)>> {
    let url = jwks_url(authority_url);
    let mut backoff = Duration::from_millis(200);
    loop {
        match read_jwks(&url).await {
            Ok(keys) if !keys.is_empty() => return Ok(keys),
            Ok(_) => tracing::warn!(%url, "the authority's JWKS has no usable key; retrying"),
            Err(e) => {
                tracing::warn!(%url, error = %e, "cannot read the authority's JWKS; retrying")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => anyhow::bail!("stopped while waiting for {url}"),
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

fn jwks_url(authority_url: &str) -> String {
    format!("{}/jwks", authority_url.trim_end_matches('/'))
}

/// One read of the authority's JWKS.
async fn read_jwks(url: &str) -> anyhow::Result<Vec<(String, PublicKey)>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let body = http
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    crate::authority::parse_jwks(&body)
}
