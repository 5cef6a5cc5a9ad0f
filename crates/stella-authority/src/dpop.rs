//! DPoP proof verification (RFC 9449 §4.3), server nonces (§8) and the `jti` replay cache (§11.1).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::clients::BoxFuture;
use crate::clock::Clock;
use crate::jose::{CompactJws, JoseError, PublicKey, b64, b64_decode, random_bytes, sha256_b64};

/// Algorithms accepted for proofs (advertised as `dpop_signing_alg_values_supported`).
pub const SUPPORTED_ALGS: [&str; 2] = ["ES256", "EdDSA"];

/// Why a DPoP proof was refused. Every variant maps to `invalid_dpop_proof` except
/// [`DpopError::UseNonce`] (`use_dpop_nonce`) and [`DpopError::ReplayCache`] (a server fault).
#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    #[error("DPoP proof missing")]
    Missing,
    #[error("more than one DPoP header")]
    MultipleHeaders,
    #[error("DPoP proof is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("DPoP proof typ must be dpop+jwt")]
    WrongType,
    #[error("DPoP proof alg {0:?} is not an accepted asymmetric algorithm")]
    UnsupportedAlg(String),
    #[error("DPoP proof jwk missing or invalid: {0}")]
    InvalidJwk(&'static str),
    #[error("DPoP proof jwk contains a private key")]
    PrivateKey,
    #[error("DPoP proof signature does not verify with its jwk")]
    BadSignature,
    #[error("DPoP proof claim {0} missing or of the wrong type")]
    MissingClaim(&'static str),
    #[error("DPoP proof htm does not match the request method")]
    MethodMismatch,
    #[error("DPoP proof htu does not match the request URI")]
    UriMismatch,
    #[error("DPoP proof iat is outside the accepted window")]
    IatOutOfWindow,
    #[error("DPoP proof jti was already used")]
    Replay,
    #[error("DPoP proof ath does not match the access token")]
    AthMismatch,
    #[error("DPoP proof key does not match the access token's cnf.jkt")]
    KeyMismatch,
    #[error("a fresh DPoP nonce is required")]
    UseNonce,
    #[error(transparent)]
    ReplayCache(#[from] ReplayCacheError),
}

impl DpopError {
    /// The RFC 9449 error code.
    pub fn error_code(&self) -> &'static str {
        match self {
            DpopError::UseNonce => "use_dpop_nonce",
            DpopError::ReplayCache(_) => "temporarily_unavailable",
            _ => "invalid_dpop_proof",
        }
    }
}

impl From<JoseError> for DpopError {
    fn from(e: JoseError) -> Self {
        match e {
            JoseError::PrivateKey => DpopError::PrivateKey,
            JoseError::InvalidJwk(what) => DpopError::InvalidJwk(what),
            other => DpopError::Malformed(other.to_string()),
        }
    }
}

/// A replay cache backend failed (e.g. Redis unreachable). Requests fail closed.
#[derive(Debug, thiserror::Error)]
#[error("replay cache: {0}")]
pub struct ReplayCacheError(pub String);

/// Remembers proof `jti`s for as long as their proofs could be accepted.
pub trait ReplayCache: Send + Sync + 'static {
    /// Stores `key` for `ttl_secs`; `true` if it was new, `false` if it is a replay.
    fn check_and_store<'a>(
        &'a self,
        key: &'a str,
        ttl_secs: u64,
    ) -> BoxFuture<'a, Result<bool, ReplayCacheError>>;
}

/// A replay cache for one process. Expired entries are swept on insert, at most once per
/// clock second: a sweep walks every entry, and at a thousand requests a second the cache
/// holds hundreds of thousands of them, so sweeping on every request made each proof check
/// cost more as the load grew.
#[derive(Debug)]
pub struct MemoryReplayCache {
    clock: Arc<dyn Clock>,
    seen: Mutex<SeenProofs>,
}

#[derive(Debug, Default)]
struct SeenProofs {
    /// Key to the second it may be forgotten.
    expires: HashMap<String, u64>,
    /// The clock second of the last sweep.
    swept_at: u64,
}

impl MemoryReplayCache {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MemoryReplayCache {
            clock,
            seen: Mutex::default(),
        }
    }

    /// How many proofs are remembered (expired ones included until the next sweep).
    pub fn len(&self) -> usize {
        self.seen.lock().expect("lock").expires.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ReplayCache for MemoryReplayCache {
    fn check_and_store<'a>(
        &'a self,
        key: &'a str,
        ttl_secs: u64,
    ) -> BoxFuture<'a, Result<bool, ReplayCacheError>> {
        let now = self.clock.now();
        let mut seen = self.seen.lock().expect("lock");
        if now != seen.swept_at {
            seen.expires.retain(|_, expires| *expires > now);
            seen.swept_at = now;
        }
        // An entry past its time but not yet swept still counts as seen: its proof is outside
        // the `iat` window by then, so it would be refused anyway.
        let fresh = !seen.expires.contains_key(key);
        if fresh {
            seen.expires.insert(key.to_owned(), now + ttl_secs);
        }
        Box::pin(async move { Ok(fresh) })
    }
}

/// A replay cache in Redis/Valkey (`SET key 1 NX EX ttl`), shared by every instance so a proof
/// replayed against another instance is caught too.
#[derive(Clone)]
pub struct RedisReplayCache {
    conn: redis::aio::ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayCache")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisReplayCache {
    /// Connects to `url` (`redis://host:port/db`); keys are `{prefix}{key}`.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, ReplayCacheError> {
        let client = redis::Client::open(url).map_err(|e| ReplayCacheError(e.to_string()))?;
        let conn = redis::aio::ConnectionManager::new(client)
            .await
            .map_err(|e| ReplayCacheError(e.to_string()))?;
        Ok(RedisReplayCache {
            conn,
            prefix: prefix.into(),
        })
    }
}

impl ReplayCache for RedisReplayCache {
    fn check_and_store<'a>(
        &'a self,
        key: &'a str,
        ttl_secs: u64,
    ) -> BoxFuture<'a, Result<bool, ReplayCacheError>> {
        let mut conn = self.conn.clone();
        Box::pin(async move {
            // SET NX answers OK when the key was absent and nil when it exists: one atomic round
            // trip, so two instances racing on the same proof cannot both accept it.
            let reply: Option<String> = redis::cmd("SET")
                .arg(format!("{}{key}", self.prefix))
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(ttl_secs.max(1))
                .query_async(&mut conn)
                .await
                .map_err(|e| ReplayCacheError(e.to_string()))?;
            Ok(reply.is_some())
        })
    }
}

/// Verifier settings.
#[derive(Clone)]
pub struct DpopConfig {
    /// How old a proof's `iat` may be.
    pub max_age_secs: u64,
    /// How far in the future a proof's `iat` may be (clock skew).
    pub max_future_secs: u64,
    /// Require server-issued nonces (RFC 9449 §8). On by default: it bounds the use of proofs
    /// pre-generated by an attacker who briefly had the client's key.
    pub require_nonce: bool,
    /// How long a nonce is accepted after it was issued.
    pub nonce_lifetime_secs: u64,
    /// HMAC key for stateless nonces. Every instance that must accept another's nonces needs
    /// the same key; the default is random per process.
    pub nonce_key: [u8; 32],
}

impl std::fmt::Debug for DpopConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopConfig")
            .field("max_age_secs", &self.max_age_secs)
            .field("max_future_secs", &self.max_future_secs)
            .field("require_nonce", &self.require_nonce)
            .field("nonce_lifetime_secs", &self.nonce_lifetime_secs)
            .field("nonce_key", &"<redacted>")
            .finish()
    }
}

impl Default for DpopConfig {
    fn default() -> Self {
        DpopConfig {
            max_age_secs: 60,
            max_future_secs: 5,
            require_nonce: true,
            nonce_lifetime_secs: 120,
            nonce_key: random_bytes(),
        }
    }
}

/// The request a proof must match.
#[derive(Debug, Clone, Copy)]
pub struct ProofContext<'a> {
    /// Every `DPoP` header value on the request (more than one is an error).
    pub proofs: &'a [&'a str],
    /// The HTTP method.
    pub method: &'a str,
    /// The absolute request URI as the client addressed it (query and fragment are ignored).
    pub uri: &'a str,
    /// On resource requests: the access token and its `cnf.jkt`.
    pub access_token: Option<(&'a str, &'a str)>,
}

/// A verified proof.
#[derive(Debug, Clone)]
pub struct VerifiedProof {
    /// RFC 7638 thumbprint of the proof's key (the token's `cnf.jkt`).
    pub jkt: String,
    pub jti: String,
    pub iat: u64,
}

/// Checks DPoP proofs and issues nonces.
#[derive(Clone)]
pub struct DpopVerifier {
    config: DpopConfig,
    replay: Arc<dyn ReplayCache>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DpopVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl DpopVerifier {
    pub fn new(config: DpopConfig, replay: Arc<dyn ReplayCache>, clock: Arc<dyn Clock>) -> Self {
        DpopVerifier {
            config,
            replay,
            clock,
        }
    }

    pub fn config(&self) -> &DpopConfig {
        &self.config
    }

    /// A fresh nonce: `base64url(issued_at_be8 || HMAC-SHA256(key, issued_at_be8)[..16])`.
    /// Stateless, so any instance with the same key accepts it without shared storage.
    pub fn new_nonce(&self) -> String {
        let issued = self.clock.now().to_be_bytes();
        let mut out = issued.to_vec();
        out.extend_from_slice(&self.nonce_mac(&issued)[..16]);
        b64(out)
    }

    fn nonce_mac(&self, data: &[u8]) -> [u8; 32] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.config.nonce_key).expect("any key length");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    fn nonce_is_fresh(&self, nonce: &str) -> bool {
        let Some(bytes) = b64_decode(nonce) else {
            return false;
        };
        if bytes.len() != 24 {
            return false;
        }
        let (issued, tag) = bytes.split_at(8);
        if !bool::from(self.nonce_mac(issued)[..16].ct_eq(tag)) {
            return false;
        }
        let issued = u64::from_be_bytes(issued.try_into().expect("8 bytes"));
        let now = self.clock.now();
        issued <= now + self.config.max_future_secs
            && now.saturating_sub(issued) <= self.config.nonce_lifetime_secs
    }

    /// Runs the RFC 9449 §4.3 checks, in the RFC's order, then records the `jti`.
    pub async fn verify(&self, ctx: ProofContext<'_>) -> Result<VerifiedProof, DpopError> {
        // 1. Exactly one DPoP header.
        let proof = match ctx.proofs {
            [] => return Err(DpopError::Missing),
            [one] => *one,
            _ => return Err(DpopError::MultipleHeaders),
        };
        // 2. A well-formed JWS.
        let jws = CompactJws::parse(proof.trim())?;
        // 3-4. typ.
        if jws.header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
            return Err(DpopError::WrongType);
        }
        // 5. alg: asymmetric and supported; `none` and HS* never are.
        let alg = jws
            .header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !SUPPORTED_ALGS.contains(&alg) {
            return Err(DpopError::UnsupportedAlg(alg.to_owned()));
        }
        // 6-7. jwk: public only; signature verifies with it.
        let jwk = jws
            .header
            .get("jwk")
            .ok_or(DpopError::InvalidJwk("missing"))?;
        let key = PublicKey::from_jwk(jwk)?;
        if !key.verify(alg, jws.signing_input.as_bytes(), &jws.signature) {
            return Err(DpopError::BadSignature);
        }
        let claim = |name: &'static str| {
            jws.payload
                .get(name)
                .and_then(Value::as_str)
                .ok_or(DpopError::MissingClaim(name))
        };
        let jti = claim("jti")?;
        if jti.is_empty() || jti.len() > 256 {
            return Err(DpopError::MissingClaim("jti"));
        }
        // 8. htm.
        if claim("htm")? != ctx.method {
            return Err(DpopError::MethodMismatch);
        }
        // 9. htu, compared after syntax- and scheme-based normalization.
        match (normalize_htu(claim("htu")?), normalize_htu(ctx.uri)) {
            (Some(got), Some(want)) if got == want => {}
            _ => return Err(DpopError::UriMismatch),
        }
        // 10. nonce.
        if self.config.require_nonce {
            match jws.payload.get("nonce").and_then(Value::as_str) {
                Some(n) if self.nonce_is_fresh(n) => {}
                _ => return Err(DpopError::UseNonce),
            }
        }
        // 11. iat window.
        let iat = jws
            .payload
            .get("iat")
            .and_then(Value::as_u64)
            .ok_or(DpopError::MissingClaim("iat"))?;
        let now = self.clock.now();
        if iat > now + self.config.max_future_secs
            || now.saturating_sub(iat) > self.config.max_age_secs
        {
            return Err(DpopError::IatOutOfWindow);
        }
        let jkt = key.thumbprint();
        // 12. ath and key binding on resource requests.
        if let Some((token, cnf_jkt)) = ctx.access_token {
            let ath = claim("ath").map_err(|_| DpopError::AthMismatch)?;
            if !bool::from(ath.as_bytes().ct_eq(sha256_b64(token).as_bytes())) {
                return Err(DpopError::AthMismatch);
            }
            if jkt != cnf_jkt {
                return Err(DpopError::KeyMismatch);
            }
        }
        // jti last, so proofs refused above do not fill the cache. Keyed by the proof key too:
        // jtis are only unique per key. The TTL covers the whole acceptance window.
        let replay_key = sha256_b64(format!("{jkt}:{jti}"));
        let ttl = self.config.max_age_secs + self.config.max_future_secs + 1;
        if !self.replay.check_and_store(&replay_key, ttl).await? {
            return Err(DpopError::Replay);
        }
        Ok(VerifiedProof {
            jkt,
            jti: jti.to_owned(),
            iat,
        })
    }
}

/// Normalizes an `htu` (scheme and host lowercased, default port dropped, dot segments
/// resolved, query and fragment removed); `None` if it is not an absolute http(s) URI.
pub fn normalize_htu(uri: &str) -> Option<String> {
    let mut url = url::Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_normalization_ignores_case_default_port_and_query() {
        assert_eq!(
            normalize_htu("HTTPS://Auth.Example.COM:443/token?x=1#f"),
            normalize_htu("https://auth.example.com/token")
        );
        assert_ne!(
            normalize_htu("https://auth.example.com:8443/token"),
            normalize_htu("https://auth.example.com/token")
        );
        assert_eq!(normalize_htu("/token"), None);
    }

    #[test]
    fn nonces_expire_and_are_tamper_evident() {
        let clock = Arc::new(crate::clock::ManualClock::new(1_000_000));
        let v = DpopVerifier::new(
            DpopConfig::default(),
            Arc::new(MemoryReplayCache::new(clock.clone())),
            clock.clone(),
        );
        let nonce = v.new_nonce();
        assert!(v.nonce_is_fresh(&nonce));
        let mut bytes = b64_decode(&nonce).unwrap();
        bytes[3] ^= 1;
        assert!(!v.nonce_is_fresh(&b64(bytes)));
        clock.advance(121);
        assert!(!v.nonce_is_fresh(&nonce));
    }

    #[test]
    fn memory_replay_cache_refuses_repeats_and_forgets_after_the_ttl() {
        let clock = Arc::new(crate::clock::ManualClock::new(1_000_000));
        let cache = MemoryReplayCache::new(clock.clone());
        let check = |key: &str| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(cache.check_and_store(key, 10))
                .unwrap()
        };
        assert!(check("a"));
        assert!(!check("a"), "a repeat in the same second");
        clock.advance(5);
        assert!(check("b"));
        assert!(!check("a"), "a repeat inside the ttl");
        assert_eq!(cache.len(), 2);
        // Past a's ttl: the next insert sweeps it, and a is new again.
        clock.advance(6);
        assert!(check("c"));
        assert_eq!(cache.len(), 2, "a was swept, b and c stay");
        assert!(check("a"));
        assert!(!check("b"), "b is still inside its ttl");
    }
}
