//! The client side of DPoP (RFC 9449 §4): a client's proof key and the proofs it signs.
//!
//! `stella auth login`, `stella scan --server` and the load generator use this, so every Stella
//! client proves possession the same way the authority checks it. The key is a P-256 key
//! (ES256), kept by the caller as PKCS#8 PEM; [`DpopKey::thumbprint`] is what the authority
//! binds the token to (`cnf.jkt`).

use serde_json::{Value, json};

use crate::jose::{JoseError, SigningKey, b64, random_bytes, sha256_b64};

/// A client's DPoP key. `Debug` shows only the thumbprint.
#[derive(Clone)]
pub struct DpopKey {
    key: SigningKey,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        DpopKey {
            key: SigningKey::generate(),
        }
    }

    /// PKCS#8 PEM, for the caller to keep (mode 0600).
    pub fn to_pem(&self) -> Result<String, JoseError> {
        self.key.to_pem()
    }

    /// Reads a PKCS#8 PEM P-256 key.
    pub fn from_pem(pem: &str) -> Result<Self, JoseError> {
        SigningKey::from_pem(pem).map(|key| DpopKey { key })
    }

    /// The RFC 7638 thumbprint of the public key: the token's `cnf.jkt`.
    pub fn thumbprint(&self) -> String {
        self.key.kid().to_owned()
    }

    /// The public JWK carried in every proof's header.
    pub fn public_jwk(&self) -> Value {
        self.key.public_key().to_jwk()
    }

    /// A proof for one request at `iat` (seconds since the epoch): `htm` = `method`, `htu` =
    /// `url` without query or fragment, a random `jti`, the server's `nonce` when it gave one,
    /// and `ath` (the hash of the access token) on resource requests.
    pub fn proof_at(
        &self,
        method: &str,
        url: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
        iat: u64,
    ) -> String {
        let htu = url.split(['?', '#']).next().unwrap_or(url);
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk()});
        let mut claims = json!({
            "jti": b64(random_bytes::<16>()),
            "htm": method,
            "htu": htu,
            "iat": iat,
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(t) = access_token {
            claims["ath"] = json!(sha256_b64(t.as_bytes()));
        }
        self.key.sign_compact(&header, &claims)
    }

    /// [`DpopKey::proof_at`] at the current system time.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.proof_at(method, url, nonce, access_token, now)
    }
}
