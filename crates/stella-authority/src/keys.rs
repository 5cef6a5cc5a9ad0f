//! The issuer's signing keys as a resource server knows them, refetched on rotation.
//!
//! A resource server in the authority's own process reads the keys once ([`IssuerKeys::fixed`]).
//! One in another process fetched the authority's JWKS at start; when the authority's key is
//! rotated, tokens start naming a `kid` it has never seen, so [`IssuerKeys::for_kid`] fetches
//! the JWKS again on an unknown `kid`, at most once every [`REFETCH_INTERVAL`], so that tokens
//! with made-up kids cannot turn the server into a JWKS flood. Requests with an unknown kid
//! that arrive during a fetch wait for it instead of each starting their own.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::clients::BoxFuture;
use crate::jose::{CompactJws, PublicKey};

/// The least time between two fetches triggered by unknown key ids.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// How long a fetch may take before the request goes on with the keys it had.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// `(kid, key)` pairs, shared by every request reading them.
pub type Keys = Arc<Vec<(String, PublicKey)>>;

/// Reads the issuer's current keys (its JWKS); the error is for the log.
pub type FetchKeys =
    Arc<dyn Fn() -> BoxFuture<'static, Result<Vec<(String, PublicKey)>, String>> + Send + Sync>;

/// The issuer's keys, and how to read them again.
pub struct IssuerKeys {
    keys: RwLock<Keys>,
    fetch: Option<FetchKeys>,
    /// When the last fetch was attempted; the async lock makes concurrent requests with an
    /// unknown kid wait for one fetch.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for IssuerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<String> = self.current().iter().map(|(k, _)| k.clone()).collect();
        f.debug_struct("IssuerKeys")
            .field("kids", &kids)
            .field("refetches", &self.fetch.is_some())
            .finish()
    }
}

impl IssuerKeys {
    /// Keys that never change (the authority in this process).
    pub fn fixed(keys: Vec<(String, PublicKey)>) -> Self {
        IssuerKeys {
            keys: RwLock::new(Arc::new(keys)),
            fetch: None,
            last_fetch: tokio::sync::Mutex::new(None),
        }
    }

    /// `initial` keys, fetched again with `fetch` when a token names a kid not among them.
    pub fn fetched(initial: Vec<(String, PublicKey)>, fetch: FetchKeys) -> Self {
        IssuerKeys {
            fetch: Some(fetch),
            ..Self::fixed(initial)
        }
    }

    /// The keys as last read.
    pub fn current(&self) -> Keys {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The keys, fetched again first when `kid` is not among them and the last fetch is old
    /// enough. On a failed fetch, the keys already known.
    pub async fn for_kid(&self, kid: &str) -> Keys {
        let has = |keys: &Keys| keys.iter().any(|(k, _)| k == kid);
        let keys = self.current();
        let Some(fetch) = &self.fetch else {
            return keys;
        };
        if has(&keys) {
            return keys;
        }
        let mut last = self.last_fetch.lock().await;
        // Another request may have fetched while this one waited for the lock.
        let keys = self.current();
        if has(&keys) || last.is_some_and(|t| t.elapsed() < REFETCH_INTERVAL) {
            return keys;
        }
        *last = Some(Instant::now());
        match tokio::time::timeout(FETCH_TIMEOUT, fetch()).await {
            Ok(Ok(fresh)) if !fresh.is_empty() => {
                let fresh = Arc::new(fresh);
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
                tracing::info!(kids = fresh.len(), "the issuer's keys were fetched again");
                fresh
            }
            Ok(Ok(_)) => {
                tracing::warn!("the issuer's JWKS has no usable key; keeping the known keys");
                keys
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "fetching the issuer's JWKS failed");
                keys
            }
            Err(_) => {
                tracing::warn!("fetching the issuer's JWKS timed out");
                keys
            }
        }
    }
}

/// The `kid` of a compact JWS's protected header, if it has one.
pub fn key_id(token: &str) -> Option<String> {
    CompactJws::parse(token)
        .ok()?
        .header
        .get("kid")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SigningKey;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn pair(key: &SigningKey) -> (String, PublicKey) {
        (key.kid().to_owned(), key.public_key())
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_kid_fetches_again_at_most_once_per_interval() {
        let (old, new) = (SigningKey::generate(), SigningKey::generate());
        let fetches = Arc::new(AtomicUsize::new(0));
        let published = Arc::new(RwLock::new(vec![pair(&old)]));
        let fetch: FetchKeys = {
            let (fetches, published) = (fetches.clone(), published.clone());
            Arc::new(move || {
                fetches.fetch_add(1, Ordering::SeqCst);
                let keys = published.read().unwrap().clone();
                Box::pin(async move { Ok(keys) })
            })
        };
        let keys = IssuerKeys::fetched(vec![pair(&old)], fetch);
        // A known kid: no fetch.
        assert_eq!(keys.for_kid(old.kid()).await.len(), 1);
        assert_eq!(fetches.load(Ordering::SeqCst), 0);
        // The authority rotates; the first token with the new kid fetches and finds it.
        *published.write().unwrap() = vec![pair(&new), pair(&old)];
        assert!(
            keys.for_kid(new.kid())
                .await
                .iter()
                .any(|(k, _)| k == new.kid())
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        // Made-up kids within the interval of that fetch fetch nothing more; after it, one
        // more fetch, and then again nothing for an interval.
        for _ in 0..50 {
            keys.for_kid("made-up").await;
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "inside the interval");
        tokio::time::advance(REFETCH_INTERVAL).await;
        for _ in 0..50 {
            keys.for_kid("made-up").await;
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 2, "one fetch per interval");
        // A kid that is known never fetches.
        keys.for_kid(old.kid()).await;
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_or_empty_fetch_keeps_the_known_keys() {
        let old = SigningKey::generate();
        let empty: FetchKeys = Arc::new(|| Box::pin(async { Ok(Vec::new()) }));
        let keys = IssuerKeys::fetched(vec![pair(&old)], empty);
        assert_eq!(keys.for_kid("other").await.len(), 1);
        let failing: FetchKeys = Arc::new(|| Box::pin(async { Err("connection refused".into()) }));
        let keys = IssuerKeys::fetched(vec![pair(&old)], failing);
        assert_eq!(keys.for_kid("other").await[0].0, old.kid());
        // Fixed keys never fetch.
        assert_eq!(
            IssuerKeys::fixed(vec![pair(&old)]).for_kid("x").await.len(),
            1
        );
    }
}
