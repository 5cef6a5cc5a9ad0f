//! Rate limits at the gateway: token buckets per client, per tenant and per anonymous peer.
//!
//! A request's bucket depends on who it provably comes from. When it carries an access token
//! (`Authorization: DPoP …`, or `Bearer …`, which the roles then refuse) whose ES256
//! signature verifies against the authority's JWKS and whose issuer, audience and lifetime
//! are right, it spends one cell of its client's bucket (`sub`) and then one of its tenant's
//! (`tid`). Anything else (no token, a forged or expired one) spends one cell of its peer IP's
//! anonymous bucket: the claims of an unverified token are never trusted, so a caller cannot
//! drain a victim tenant's bucket by writing its `tid` into a token. The DPoP proof is left to
//! the roles: checking it here would spend its `jti` before the role sees it.
//!
//! The JWKS is fetched through the authority's route (in-process for a local authority, over
//! HTTP for a remote one), cached, and refetched when a token names an unknown `kid` (a key
//! rotation), at most once every [`stella_authority::keys::REFETCH_INTERVAL`] so that tokens
//! with made-up kids cannot turn the gateway into a JWKS flood ([`IssuerKeys`]).
//!
//! The client bucket is checked first: a client hammering past its own limit is refused
//! without spending its tenant's cells, so it cannot starve its tenant's other clients.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota};
use stella_authority::{AccessTokenClaims, FetchKeys, IssuerKeys, PublicKey, VerifiedTokens};
use tower::ServiceExt as _;

use super::{RateLimits, Route, error};

/// A JWKS larger than this is not a JWKS.
const JWKS_MAX_BYTES: usize = 1024 * 1024;
/// Idle buckets are dropped every this many requests, bounding memory by recent callers.
const HOUSEKEEPING_EVERY: u64 = 4096;

/// The authority's signing keys, fetched through `route` on first use and again on rotation.
pub(crate) fn jwks_source(route: Route) -> IssuerKeys {
    let fetch: FetchKeys = Arc::new(move || {
        let route = route.clone();
        Box::pin(async move { fetch_jwks(&route).await.map_err(|e| format!("{e:#}")) })
    });
    IssuerKeys::fetched(Vec::new(), fetch)
}

async fn fetch_jwks(route: &Route) -> anyhow::Result<Vec<(String, PublicKey)>> {
    let body = match route {
        Route::Local(router) => {
            let req = Request::get("/jwks").body(Body::empty())?;
            let response = router.clone().oneshot(req).await?;
            anyhow::ensure!(
                response.status().is_success(),
                "GET /jwks on the local authority answered {}",
                response.status()
            );
            axum::body::to_bytes(response.into_body(), JWKS_MAX_BYTES).await?
        }
        Route::Remote(proxy) => proxy.get("/jwks", JWKS_MAX_BYTES).await?,
    };
    crate::authority::parse_jwks(&body)
}

/// The access token of a request, when it has exactly one `Authorization` header of the
/// `DPoP` or `Bearer` scheme.
fn access_token(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return None;
    };
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("dpop") || scheme.eq_ignore_ascii_case("bearer"))
        .then(|| token.trim())
}

fn quota(per_minute: u32, burst: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(per_minute)?;
    let capacity = NonZeroU32::new(burst).unwrap_or(rate);
    Some(Quota::per_minute(rate).allow_burst(capacity))
}

/// The gateway's buckets and the keys to tell who a request comes from.
pub(crate) struct Limiter {
    limits: RateLimits,
    clients: Option<DefaultKeyedRateLimiter<String>>,
    tenants: Option<DefaultKeyedRateLimiter<String>>,
    anonymous: Option<DefaultKeyedRateLimiter<IpAddr>>,
    jwks: IssuerKeys,
    issuer: String,
    audience: String,
    requests: AtomicU64,
    /// Tokens whose signature was checked already: one ES256 check per token, not per request.
    verified: VerifiedTokens,
}

impl Limiter {
    pub(crate) fn new(
        limits: RateLimits,
        jwks: IssuerKeys,
        issuer: String,
        audience: String,
    ) -> Self {
        Limiter {
            clients: quota(limits.per_client_per_minute, limits.burst)
                .map(DefaultKeyedRateLimiter::keyed),
            tenants: quota(limits.per_tenant_per_minute, limits.burst)
                .map(DefaultKeyedRateLimiter::keyed),
            anonymous: quota(limits.anonymous_per_minute, limits.burst)
                .map(DefaultKeyedRateLimiter::keyed),
            limits,
            jwks,
            issuer,
            audience,
            requests: AtomicU64::new(0),
            verified: VerifiedTokens::default(),
        }
    }

    /// The verified claims of the request's access token, if it has a valid one.
    async fn verified_claims(&self, headers: &HeaderMap) -> Option<AccessTokenClaims> {
        let token = access_token(headers)?;
        let kid = stella_authority::keys::key_id(token)?;
        let keys = self.jwks.for_kid(&kid).await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        match self
            .verified
            .verify(token, &keys, &self.issuer, &self.audience, now)
        {
            Ok(claims) => Some(claims),
            Err(e) => {
                tracing::debug!(error = %e, "access token not verified; rate limited as anonymous");
                None
            }
        }
    }

    /// `Err(response)` when the request is over one of its limits.
    async fn check(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Result<(), Response> {
        if self.requests.fetch_add(1, Ordering::Relaxed) % HOUSEKEEPING_EVERY
            == HOUSEKEEPING_EVERY - 1
        {
            self.housekeeping();
        }
        // Verify only when a keyed limit is on: otherwise the answer would not change.
        let keyed = self.clients.is_some() || self.tenants.is_some();
        let claims = if keyed {
            self.verified_claims(headers).await
        } else {
            None
        };
        match claims {
            Some(claims) => {
                if let Some(clients) = &self.clients
                    && let Err(not_until) = clients.check_key(&claims.sub)
                {
                    let wait = not_until.wait_time_from(clients.clock().now());
                    tracing::info!(client_id = %claims.sub, tenant = %claims.tid, "client rate limited");
                    return Err(too_many(
                        "this client",
                        self.limits.per_client_per_minute,
                        wait,
                    ));
                }
                if let Some(tenants) = &self.tenants
                    && let Err(not_until) = tenants.check_key(&claims.tid)
                {
                    let wait = not_until.wait_time_from(tenants.clock().now());
                    tracing::info!(client_id = %claims.sub, tenant = %claims.tid, "tenant rate limited");
                    return Err(too_many(
                        "this tenant",
                        self.limits.per_tenant_per_minute,
                        wait,
                    ));
                }
                Ok(())
            }
            None => {
                let Some(anonymous) = &self.anonymous else {
                    return Ok(());
                };
                // The TCP peer, never X-Forwarded-For: the gateway is the edge, and a header
                // would let each request pick a fresh bucket. Without connection info (a
                // router served without it) every anonymous caller shares one bucket.
                let peer = peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                if let Err(not_until) = anonymous.check_key(&peer) {
                    let wait = not_until.wait_time_from(anonymous.clock().now());
                    tracing::info!(%peer, "anonymous caller rate limited");
                    return Err(too_many(
                        "callers without a valid access token from this address",
                        self.limits.anonymous_per_minute,
                        wait,
                    ));
                }
                Ok(())
            }
        }
    }

    fn housekeeping(&self) {
        if let Some(l) = &self.clients {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.tenants {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.anonymous {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// 429 with `Retry-After` in whole seconds, rounded up and at least 1 (a client told 0 would
/// retry at once and be refused again).
fn too_many(who: &str, per_minute: u32, wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "rate limit of {per_minute} requests per minute for {who} exceeded; retry in {secs} s"
        ),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// The middleware: refuses requests over their limit, passes the others on.
pub(crate) async fn limit(
    State(limiter): State<Arc<Limiter>>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    // Headers only: the request's body is not `Sync`, so a borrow of the whole request could
    // not be held across the JWKS fetch.
    match limiter.check(req.headers(), peer).await {
        Ok(()) => next.run(req).await,
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_whole_seconds_at_least_one() {
        let secs = |d| {
            too_many("x", 1, d).headers()[header::RETRY_AFTER]
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(secs(Duration::ZERO), "1");
        assert_eq!(secs(Duration::from_millis(10)), "1");
        assert_eq!(secs(Duration::from_millis(19_001)), "20");
        assert_eq!(secs(Duration::from_secs(20)), "20");
    }

    #[test]
    fn zero_turns_a_limit_off_and_burst_defaults_to_the_rate() {
        assert!(quota(0, 5).is_none());
        let q = quota(60, 0).unwrap();
        assert_eq!(q.burst_size().get(), 60);
        let q = quota(60, 5).unwrap();
        assert_eq!(q.burst_size().get(), 5);
        assert_eq!(q.replenish_interval(), Duration::from_secs(1));
    }

    #[test]
    fn token_extraction() {
        let mut h = HeaderMap::new();
        assert_eq!(access_token(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("DPoP abc"));
        assert_eq!(access_token(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(access_token(&h), None);
        h.append(header::AUTHORIZATION, HeaderValue::from_static("DPoP abc"));
        assert_eq!(access_token(&h), None, "two Authorization headers");
    }
}
