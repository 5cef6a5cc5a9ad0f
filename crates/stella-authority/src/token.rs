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
    Ok(claims)
}
