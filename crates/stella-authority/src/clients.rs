//! OAuth clients: records, storage port, and secret hashing.
//!
//! Secrets are 32 random bytes (256 bits) encoded base64url. With that much entropy a guessing
//! attack on a leaked hash is hopeless whatever the hash speed, so a salted SHA-256 is adequate;
//! slow password hashes (argon2) exist to protect low-entropy human passwords, which these are
//! not, and would cost every token request tens of milliseconds. The salt keeps equal hashes from
//! revealing equal secrets; the comparison is constant-time (`subtle`).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::RwLock;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::jose::{b64, b64_decode, random_bytes};

/// A boxed `Send` future, so the storage traits can be used as `dyn` objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A registered client. `Debug` redacts the secret hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    pub tenant: String,
    /// `sha256$<salt>$<digest>`, both base64url; see [`hash_secret`].
    pub secret_hash: String,
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for ClientRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRecord")
            .field("client_id", &self.client_id)
            .field("tenant", &self.tenant)
            .field("secret_hash", &"<redacted>")
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A client secret in the clear: shown once at creation, never logged. `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// The secret itself, for printing once to the operator.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// Errors from a client store backend.
#[derive(Debug, thiserror::Error)]
#[error("client store: {0}")]
pub struct ClientStoreError(pub String);

/// Where clients live (memory here; the database adapter implements the same trait).
pub trait ClientStore: Send + Sync + 'static {
    fn get_client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ClientRecord>, ClientStoreError>>;
}

/// An in-memory client store.
#[derive(Debug, Default)]
pub struct MemoryClientStore {
    clients: RwLock<BTreeMap<String, ClientRecord>>,
}

impl MemoryClientStore {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn insert(&self, record: ClientRecord) {
        self.clients
            .write()
            .expect("lock")
            .insert(record.client_id.clone(), record);
    }
}

impl ClientStore for MemoryClientStore {
    fn get_client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ClientRecord>, ClientStoreError>> {
        let found = self.clients.read().expect("lock").get(client_id).cloned();
        Box::pin(async move { Ok(found) })
    }
}

/// New client credentials for `stella auth client create`: `(client_id, secret, secret_hash)`.
/// Store the hash; print the secret once.
pub fn new_client_credentials() -> (String, ClientSecret, String) {
    let id: [u8; 12] = random_bytes();
    let client_id = format!("stella-{}", b64(id));
    let secret = ClientSecret(b64(random_bytes::<32>()));
    let hash = hash_secret(secret.expose());
    (client_id, secret, hash)
}

/// `sha256$<salt>$<sha256(salt || secret)>`.
pub fn hash_secret(secret: &str) -> String {
    let salt: [u8; 16] = random_bytes();
    format!("sha256${}${}", b64(salt), b64(salted_digest(&salt, secret)))
}

fn salted_digest(salt: &[u8], secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret.as_bytes());
    h.finalize().into()
}

/// Checks a presented secret against a stored hash in constant time.
pub fn verify_secret(secret: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("sha256"), Some(salt), Some(digest), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(salt), Some(digest)) = (b64_decode(salt), b64_decode(digest)) else {
        return false;
    };
    salted_digest(&salt, secret).ct_eq(digest.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_verifies_against_its_hash_only() {
        let (_, secret, hash) = new_client_credentials();
        assert!(verify_secret(secret.expose(), &hash));
        assert!(!verify_secret("wrong", &hash));
        assert!(!verify_secret(secret.expose(), "plain"));
    }

    #[test]
    fn debug_output_never_shows_secret_or_hash() {
        let (client_id, secret, secret_hash) = new_client_credentials();
        let record = ClientRecord {
            client_id,
            tenant: "t1".into(),
            secret_hash: secret_hash.clone(),
            scopes: vec!["a".into()],
        };
        for shown in [
            format!("{record:?}"),
            format!("{secret:?}"),
            format!("{record:#?}"),
        ] {
            assert!(!shown.contains(secret.expose()));
            assert!(!shown.contains(&secret_hash));
        }
    }
}
