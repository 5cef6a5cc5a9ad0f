//! The resource-server side: checks `Authorization: DPoP <token>` plus the request's proof and
//! a required scope, answering with RFC 6750 / RFC 9449 `WWW-Authenticate` challenges.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::clock::Clock;
use crate::dpop::{DpopError, DpopVerifier, ProofContext, SUPPORTED_ALGS};
use crate::jose::PublicKey;
use crate::keys::{IssuerKeys, key_id};
use crate::token::{TokenError, VerifiedTokens};

/// Who is calling, once authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub client_id: String,
    pub tenant: String,
    pub scopes: Vec<String>,
}

/// Why a resource request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials at all: a bare challenge without an error code (RFC 6750 §3.1).
    #[error("no access token")]
    MissingToken,
    #[error("malformed Authorization header")]
    MalformedAuthorization,
    /// Every token here is DPoP-bound; presenting one as a bearer token is refused
    /// (RFC 9449 §7.2), else a stolen token would work without the key.
    #[error("DPoP-bound token presented with the Bearer scheme")]
    BearerNotAllowed,
    #[error(transparent)]
    InvalidToken(#[from] TokenError),
    #[error("the token lacks scope {0}")]
    InsufficientScope(String),
    #[error("a fresh DPoP nonce is required")]
    UseDpopNonce { nonce: String },
    #[error(transparent)]
    InvalidProof(DpopError),
}

impl AuthError {
    /// The error code for `WWW-Authenticate`, if any.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            AuthError::MissingToken => None,
            AuthError::MalformedAuthorization => Some("invalid_request"),
            AuthError::BearerNotAllowed | AuthError::InvalidToken(_) => Some("invalid_token"),
            AuthError::InsufficientScope(_) => Some("insufficient_scope"),
            AuthError::UseDpopNonce { .. } => Some("use_dpop_nonce"),
            AuthError::InvalidProof(e) => Some(e.error_code()),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::MalformedAuthorization => StatusCode::BAD_REQUEST,
            AuthError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            AuthError::InvalidProof(DpopError::ReplayCache(_)) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The `WWW-Authenticate` value: `DPoP algs="ES256 EdDSA"[, error="…", error_description="…"]`.
    pub fn challenge(&self) -> String {
        let mut c = format!("DPoP algs=\"{}\"", SUPPORTED_ALGS.join(" "));
        if let Some(code) = self.error_code() {
            // error_description is a quoted-string without `"` or `\` (RFC 6750 §3): messages
            // may quote attacker-chosen values (an `alg`), so those characters are replaced.
            let description = self.to_string().replace(['"', '\\'], "'");
            c.push_str(&format!(
                ", error=\"{code}\", error_description=\"{description}\""
            ));
        }
        if let AuthError::InsufficientScope(scope) = self {
            c.push_str(&format!(", scope=\"{scope}\""));
        }
        c
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        tracing::info!(error = self.error_code().unwrap_or("none"), reason = %self, "request refused");
        // RFC 6750 §3.1 keeps the error code out of the challenge when the request carried no
        // credentials at all; the JSON body still names the condition, so clients and the
        // OpenAPI schema always see a string.
        let body = json!({
            "error": self.error_code().unwrap_or("unauthorized"),
            "error_description": self.to_string(),
        });
        let mut response = (self.status(), axum::Json(body)).into_response();
        let h = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&self.challenge()) {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        if let AuthError::UseDpopNonce { nonce } = &self
            && let Ok(v) = HeaderValue::from_str(nonce)
        {
            h.insert("dpop-nonce", v);
        }
        response
    }
}

/// Checks access tokens and their DPoP proofs on resource routes.
#[derive(Clone)]
pub struct ResourceGuard {
    issuer: String,
    audience: String,
    keys: Arc<IssuerKeys>,
    dpop: DpopVerifier,
    clock: Arc<dyn Clock>,
    public_base_url: String,
    verified: Arc<VerifiedTokens>,
}

impl std::fmt::Debug for ResourceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceGuard")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
}

impl ResourceGuard {
    /// `keys` are the issuer's `(kid, key)` pairs (from its JWKS); `public_base_url` is this
    /// service's external origin, which proofs name in `htu` (behind a gateway the service
    /// cannot see it in the request).
    pub fn new(
        issuer: String,
        audience: String,
        keys: Vec<(String, PublicKey)>,
        dpop: DpopVerifier,
        clock: Arc<dyn Clock>,
        public_base_url: impl Into<String>,
    ) -> Self {
        let public_base_url = public_base_url.into().trim_end_matches('/').to_owned();
        ResourceGuard {
            issuer,
            audience,
            keys: Arc::new(IssuerKeys::fixed(keys)),
            dpop,
            clock,
            public_base_url,
            verified: Arc::default(),
        }
    }

    /// Checks tokens against `keys` instead of the fixed list given to [`ResourceGuard::new`]:
    /// for a service in another process than the authority, which must see its key rotations.
    pub fn with_issuer_keys(mut self, keys: Arc<IssuerKeys>) -> Self {
        self.keys = keys;
        self
    }

    /// This service's external origin, the one proofs name in `htu`.
    pub fn public_base_url(&self) -> &str {
        &self.public_base_url
    }

    /// Authorizes one request for `required_scope`.
    pub async fn authorize(
        &self,
        parts: &Parts,
        required_scope: &str,
    ) -> Result<Principal, AuthError> {
        let mut auth = parts.headers.get_all(header::AUTHORIZATION).iter();
        let value = match (auth.next(), auth.next()) {
            (None, _) => return Err(AuthError::MissingToken),
            (Some(v), None) => v.to_str().map_err(|_| AuthError::MalformedAuthorization)?,
            (Some(_), Some(_)) => return Err(AuthError::MalformedAuthorization),
        };
        let (scheme, token) = value
            .split_once(' ')
            .ok_or(AuthError::MalformedAuthorization)?;
        let token = token.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::BearerNotAllowed);
        }
        if !scheme.eq_ignore_ascii_case("dpop") {
            return Err(AuthError::MissingToken);
        }
        let now = self.clock.now();
        let keys = self.keys.current();
        let claims = match self
            .verified
            .verify(token, &keys, &self.issuer, &self.audience, now)
        {
            // Signed by a key not known here: perhaps one the issuer rotated in since.
            Err(TokenError::BadHeader) => match key_id(token) {
                Some(kid) if !keys.iter().any(|(k, _)| *k == kid) => {
                    let keys = self.keys.for_kid(&kid).await;
                    self.verified
                        .verify(token, &keys, &self.issuer, &self.audience, now)?
                }
                _ => return Err(TokenError::BadHeader.into()),
            },
            other => other?,
        };

        let proofs: Vec<&str> = parts
            .headers
            .get_all("dpop")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let uri = format!("{}{}", self.public_base_url, parts.uri.path());
        self.dpop
            .verify(ProofContext {
                proofs: &proofs,
                method: parts.method.as_str(),
                uri: &uri,
                access_token: Some((token, &claims.cnf.jkt)),
            })
            .await
            .map_err(|e| match e {
                DpopError::UseNonce => AuthError::UseDpopNonce {
                    nonce: self.dpop.new_nonce(),
                },
                other => AuthError::InvalidProof(other),
            })?;

        let scopes: Vec<String> = claims
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if !scopes.iter().any(|s| s == required_scope) {
            return Err(AuthError::InsufficientScope(required_scope.to_owned()));
        }
        Ok(Principal {
            client_id: claims.client_id,
            tenant: claims.tid,
            scopes,
        })
    }
}

/// A scope a route requires, as a type, so `Authorized<ScansRead>` reads as the route's rule.
pub trait RequiredScope: Send + Sync + 'static {
    const SCOPE: &'static str;
}

/// An axum extractor: the request is authorized for `S::SCOPE`, or the handler never runs and
/// the client gets the `WWW-Authenticate` challenge. The router state must give an
/// `Arc<ResourceGuard>` (`FromRef`).
#[derive(Debug)]
pub struct Authorized<S: RequiredScope> {
    pub principal: Principal,
    _scope: PhantomData<fn() -> S>,
}

impl<S, St> FromRequestParts<St> for Authorized<S>
where
    S: RequiredScope,
    Arc<ResourceGuard>: FromRef<St>,
    St: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let guard = Arc::<ResourceGuard>::from_ref(state);
        let principal = guard.authorize(parts, S::SCOPE).await?;
        Ok(Authorized {
            principal,
            _scope: PhantomData,
        })
    }
}
