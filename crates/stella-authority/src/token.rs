//! JWT access tokens (RFC 9068 `at+jwt`) bound to a DPoP key through `cnf.jkt`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::jose::{CompactJws, PublicKey, SigningKey, b64, random_bytes};

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The client id.
    pub sub: String,
    pub aud: String,
    /// The tenant the client belongs to.
    pub tid: String,
    /// Space-separated scopes.
    pub scope: String,
    pub client_id: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: String,
    pub cnf: Confirmation,
}

/// RFC 7800 confirmation: the thumbprint of the DPoP key the token is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

/// Why an access token was refused (all `invalid_token`).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("malformed access token")]
    Malformed,
    #[error("access token header is not ES256 at+jwt from a known key")]
    BadHeader,
    #[error("access token signature is invalid")]
    BadSignature,
    #[error("access token claims are malformed")]
    BadClaims,
    #[error("access token issuer does not match")]
    WrongIssuer,
    #[error("access token audience does not match")]
    WrongAudience,
    #[error("access token is not yet valid")]
    NotYetValid,
    #[error("access token has expired")]
    Expired,
}

/// Signs access tokens.
pub(crate) fn sign(key: &SigningKey, claims: &AccessTokenClaims) -> String {
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": key.kid()});
    key.sign_compact(
        &header,
        &serde_json::to_value(claims).expect("claims serialize"),
    )
}

pub(crate) fn new_jti() -> String {
    b64(random_bytes::<16>())
}

/// Verifies an access token: an `at+jwt` (so a DPoP proof or an ID token cannot pass for one),
/// signed ES256 by one of `keys` (`(kid, key)`), with matching `iss` and `aud`, within
/// `nbf..exp` at `now`.
pub fn verify_access_token(
    token: &str,
    keys: &[(String, PublicKey)],
    issuer: &str,
    audience: &str,
    now: u64,
) -> Result<AccessTokenClaims, TokenError> {
    let jws = CompactJws::parse(token).map_err(|_| TokenError::Malformed)?;
    let header_str = |n: &str| jws.header.get(n).and_then(|v| v.as_str());
    if header_str("alg") != Some("ES256") || header_str("typ") != Some("at+jwt") {
        return Err(TokenError::BadHeader);
    }
    let kid = header_str("kid").ok_or(TokenError::BadHeader)?;
    let (_, key) = keys
        .iter()
        .find(|(k, _)| k == kid)
        .ok_or(TokenError::BadHeader)?;
    if !key.verify("ES256", jws.signing_input.as_bytes(), &jws.signature) {
        return Err(TokenError::BadSignature);
    }
    let claims: AccessTokenClaims = serde_json::from_value(serde_json::Value::Object(jws.payload))
        .map_err(|_| TokenError::BadClaims)?;
    check_claims(&claims, issuer, audience, now)?;
    Ok(claims)
}

/// The checks of [`verify_access_token`] after the signature.
fn check_claims(
    claims: &AccessTokenClaims,
    issuer: &str,
    audience: &str,
    now: u64,
) -> Result<(), TokenError> {
    if claims.iss != issuer {
        return Err(TokenError::WrongIssuer);
    }
    if claims.aud != audience {
        return Err(TokenError::WrongAudience);
    }
    if now < claims.nbf {
        return Err(TokenError::NotYetValid);
    }
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    Ok(())
}

/// Access tokens whose ES256 signature this process has already checked, by the SHA-256 of
/// the whole token, with the key id that signed them and their claims. A client sends the same
/// token with every request for its lifetime (minutes), and a signature check costs more than
/// the rest of a status request; the gateway and the scan API each checked it again. Only the
/// signature check is saved: the issuer, audience, `nbf` and `exp` are checked on every use, a
/// token whose key is no longer among `keys` is verified afresh (and fails), and a token that
/// differs in one byte has another hash. Bounded: when full, expired entries go, and if that
/// is not enough, all of them.
#[derive(Default)]
pub struct VerifiedTokens {
    seen: std::sync::Mutex<std::collections::HashMap<[u8; 32], (String, AccessTokenClaims)>>,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens").finish_non_exhaustive()
    }
}

/// How many verified tokens a [`VerifiedTokens`] keeps.
const VERIFIED_TOKENS_MAX: usize = 16_384;

impl VerifiedTokens {
    /// [`verify_access_token`], skipping the signature check for a token already verified.
    pub fn verify(
        &self,
        token: &str,
        keys: &[(String, PublicKey)],
        issuer: &str,
        audience: &str,
        now: u64,
    ) -> Result<AccessTokenClaims, TokenError> {
        use sha2::Digest as _;
        let hash: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let known = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&hash)
            .filter(|(kid, _)| keys.iter().any(|(k, _)| k == kid))
            .map(|(_, claims)| claims.clone());
        let Some(claims) = known else {
            let claims = verify_access_token(token, keys, issuer, audience, now)?;
            let kid = CompactJws::parse(token)
                .ok()
                .and_then(|j| {
                    j.header
                        .get("kid")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.len() >= VERIFIED_TOKENS_MAX {
                seen.retain(|_, (_, c)| c.exp > now);
                if seen.len() >= VERIFIED_TOKENS_MAX {
                    seen.clear();
                }
            }
            seen.insert(hash, (kid, claims.clone()));
            return Ok(claims);
        };
        check_claims(&claims, issuer, audience, now)?;
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: u64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://issuer".into(),
            sub: "c1".into(),
            aud: "stella".into(),
            tid: "acme".into(),
            scope: "scanner.scans.read".into(),
            client_id: "c1".into(),
            iat: now,
            nbf: now,
            exp: now + 300,
            jti: new_jti(),
            cnf: Confirmation {
                jkt: "thumb".into(),
            },
        }
    }

    #[test]
    fn a_cached_token_is_still_checked_for_expiry_issuer_audience_and_key() {
        let key = SigningKey::generate();
        let keys = vec![(key.kid().to_owned(), key.public_key())];
        let now = 1_800_000_000;
        let token = sign(&key, &claims(now));
        let cache = VerifiedTokens::default();
        let ok = cache
            .verify(&token, &keys, "https://issuer", "stella", now)
            .unwrap();
        assert_eq!(ok.tid, "acme");
        // The second use comes from the cache, with the same claims.
        assert_eq!(
            cache
                .verify(&token, &keys, "https://issuer", "stella", now + 10)
                .unwrap(),
            ok
        );
        assert!(matches!(
            cache.verify(&token, &keys, "https://issuer", "stella", now + 300),
            Err(TokenError::Expired)
        ));
        assert!(matches!(
            cache.verify(&token, &keys, "https://other", "stella", now),
            Err(TokenError::WrongIssuer)
        ));
        assert!(matches!(
            cache.verify(&token, &keys, "https://issuer", "other", now),
            Err(TokenError::WrongAudience)
        ));
        // Its key rotated out: verified afresh, and refused.
        let other = SigningKey::generate();
        let rotated = vec![(other.kid().to_owned(), other.public_key())];
        assert!(
            cache
                .verify(&token, &rotated, "https://issuer", "stella", now)
                .is_err()
        );
    }

    #[test]
    fn a_token_differing_from_a_cached_one_is_verified_afresh() {
        let key = SigningKey::generate();
        let keys = vec![(key.kid().to_owned(), key.public_key())];
        let now = 1_800_000_000;
        let token = sign(&key, &claims(now));
        let cache = VerifiedTokens::default();
        cache
            .verify(&token, &keys, "https://issuer", "stella", now)
            .unwrap();
        // The same claims with another tenant, under the cached token's signature.
        let (head, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let mut forged = claims(now);
        forged.tid = "globex".into();
        let payload = b64(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{head}.{payload}.{signature}");
        assert!(matches!(
            cache.verify(&tampered, &keys, "https://issuer", "stella", now),
            Err(TokenError::BadSignature)
        ));
    }
}
