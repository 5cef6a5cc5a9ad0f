//! The authority's HTTP endpoints: `POST /token` (client credentials + DPoP), `/jwks` and
//! `/.well-known/openid-configuration`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use crate::clients::{ClientStore, verify_secret};
use crate::clock::Clock;
use crate::dpop::{DpopError, DpopVerifier, ProofContext, SUPPORTED_ALGS};
use crate::jose::SigningKey;
use crate::resource::ResourceGuard;
use crate::token::{self, AccessTokenClaims, Confirmation};

/// Authority settings.
#[derive(Debug, Clone)]
pub struct AuthorityConfig {
    /// The issuer URL (`iss`), also the public base URL of the endpoints: the token endpoint is
    /// `{issuer}/token`, which is what DPoP proofs must name in `htu`.
    pub issuer: String,
    /// The audience (`aud`) put in every token: the API the tokens are for.
    pub audience: String,
    /// Access token lifetime.
    pub token_lifetime_minutes: u64,
}

impl AuthorityConfig {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        AuthorityConfig {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            audience: audience.into(),
            token_lifetime_minutes: 5,
        }
    }
}

/// A token endpoint error (RFC 6749 §5.2, RFC 9449 §5.1 for DPoP).
#[derive(Debug, thiserror::Error)]
pub enum TokenEndpointError {
    #[error("{0}")]
    InvalidRequest(&'static str),
    #[error("client authentication failed")]
    InvalidClient,
    /// Reserved for grants that are recognised but refused; client credentials has no such
    /// case today.
    #[error("the grant is invalid")]
    InvalidGrant,
    #[error("only client_credentials is supported")]
    UnsupportedGrantType,
    #[error("requested scope exceeds the client's scopes")]
    InvalidScope,
    #[error(transparent)]
    Dpop(#[from] DpopError),
    /// The client store (the database) failed: a passing outage, answered 503 so clients
    /// retry, as RFC 6749's `temporarily_unavailable` says.
    #[error("the client store is unavailable; retry later")]
    StoreUnavailable,
}

impl TokenEndpointError {
    pub fn error_code(&self) -> &'static str {
        match self {
            TokenEndpointError::InvalidRequest(_) => "invalid_request",
            TokenEndpointError::InvalidClient => "invalid_client",
            TokenEndpointError::InvalidGrant => "invalid_grant",
            TokenEndpointError::UnsupportedGrantType => "unsupported_grant_type",
            TokenEndpointError::InvalidScope => "invalid_scope",
            TokenEndpointError::Dpop(e) => e.error_code(),
            TokenEndpointError::StoreUnavailable => "temporarily_unavailable",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            TokenEndpointError::InvalidClient => StatusCode::UNAUTHORIZED,
            TokenEndpointError::Dpop(DpopError::ReplayCache(_)) => StatusCode::SERVICE_UNAVAILABLE,
            TokenEndpointError::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// The authority: issues DPoP-bound access tokens to registered clients.
pub struct Authority {
    config: AuthorityConfig,
    key: SigningKey,
    clients: Arc<dyn ClientStore>,
    dpop: DpopVerifier,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("config", &self.config)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Authority {
    pub fn new(
        config: AuthorityConfig,
        key: SigningKey,
        clients: Arc<dyn ClientStore>,
        dpop: DpopVerifier,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Authority {
            config,
            key,
            clients,
            dpop,
            clock,
        }
    }

    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.config.issuer)
    }

    /// The JWK Set with the issuer's public key.
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.key.public_jwk()]})
    }

    /// The discovery document (RFC 8414 fields, served at the OpenID path).
    pub fn openid_configuration(&self) -> Value {
        json!({
            "issuer": self.config.issuer,
            "token_endpoint": self.token_endpoint(),
            "jwks_uri": format!("{}/jwks", self.config.issuer),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "dpop_signing_alg_values_supported": SUPPORTED_ALGS,
        })
    }

    /// A guard for resource routes in the same process, sharing this authority's key, clock and
    /// DPoP verifier (and so its replay cache and nonce key).
    pub fn resource_guard(&self, public_base_url: impl Into<String>) -> ResourceGuard {
        ResourceGuard::new(
            self.config.issuer.clone(),
            self.config.audience.clone(),
            vec![(self.key.kid().to_owned(), self.key.public_key())],
            self.dpop.clone(),
            self.clock.clone(),
            public_base_url,
        )
    }

    /// `/token`, `/jwks` and `/.well-known/openid-configuration`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/token", post(token_handler))
            .route(
                "/jwks",
                get(|State(a): State<Arc<Authority>>| async move { axum::Json(a.jwks()) }),
            )
            .route(
                "/.well-known/openid-configuration",
                get(|State(a): State<Arc<Authority>>| async move {
                    axum::Json(a.openid_configuration())
                }),
            )
            .with_state(self)
    }

    /// Handles a token request; returns the JSON token response.
    pub async fn issue_token(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value, TokenEndpointError> {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(TokenEndpointError::InvalidRequest(
                "body must be application/x-www-form-urlencoded",
            ));
        }
        let mut params: Vec<(String, String)> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            // RFC 6749 §3.2: parameters must not be repeated.
            if params.iter().any(|(seen, _)| *seen == k) {
                return Err(TokenEndpointError::InvalidRequest("repeated parameter"));
            }
            params.push((k.into_owned(), v.into_owned()));
        }
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };

        match param("grant_type") {
            None => return Err(TokenEndpointError::InvalidRequest("grant_type missing")),
            Some("client_credentials") => {}
            Some(_) => return Err(TokenEndpointError::UnsupportedGrantType),
        }

        // Client authentication: Basic or form, never both (RFC 6749 §2.3).
        let (client_id, secret) = match (basic_credentials(headers)?, param("client_secret")) {
            (Some(_), Some(_)) => {
                return Err(TokenEndpointError::InvalidRequest(
                    "more than one client authentication method",
                ));
            }
            (Some(creds), None) => creds,
            (None, Some(secret)) => {
                let id = param("client_id").ok_or(TokenEndpointError::InvalidClient)?;
                (id.to_owned(), secret.to_owned())
            }
            (None, None) => return Err(TokenEndpointError::InvalidClient),
        };
        let record = self.clients.get_client(&client_id).await.map_err(|e| {
            tracing::error!(error = %e, "client store failed");
            TokenEndpointError::StoreUnavailable
        })?;
        let Some(record) = record.filter(|r| verify_secret(&secret, &r.secret_hash)) else {
            // Unknown client and wrong secret answer alike, so ids cannot be probed.
            tracing::info!(client_id = %client_id, "client authentication failed");
            return Err(TokenEndpointError::InvalidClient);
        };

        // Scopes: absent means all the client's scopes (RFC 6749 §3.3 default).
        let scopes: Vec<String> = match param("scope") {
            None => record.scopes.clone(),
            Some(s) => {
                let mut requested: Vec<String> = s
                    .split(' ')
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect();
                requested.sort();
                requested.dedup();
                if requested.is_empty()
                    || !requested
                        .iter()
                        .all(|t| valid_scope_token(t) && record.scopes.contains(t))
                {
                    return Err(TokenEndpointError::InvalidScope);
                }
                requested
            }
        };

        let proofs: Vec<&str> = headers
            .get_all("dpop")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let endpoint = self.token_endpoint();
        let proof = self
            .dpop
            .verify(ProofContext {
                proofs: &proofs,
                method: "POST",
                uri: &endpoint,
                access_token: None,
            })
            .await?;

        let now = self.clock.now();
        let lifetime = self.config.token_lifetime_minutes * 60;
        let claims = AccessTokenClaims {
            iss: self.config.issuer.clone(),
            sub: record.client_id.clone(),
            aud: self.config.audience.clone(),
            tid: record.tenant.clone(),
            scope: scopes.join(" "),
            client_id: record.client_id.clone(),
            iat: now,
            nbf: now,
            exp: now + lifetime,
            jti: token::new_jti(),
            cnf: Confirmation { jkt: proof.jkt },
        };
        tracing::info!(client_id = %claims.client_id, tenant = %claims.tid, scope = %claims.scope, "token issued");
        Ok(json!({
            "access_token": token::sign(&self.key, &claims),
            "token_type": "DPoP",
            "expires_in": lifetime,
            "scope": claims.scope,
        }))
    }
}

async fn token_handler(
    State(authority): State<Arc<Authority>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, body) = match authority.issue_token(&headers, &body).await {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => {
            tracing::info!(error = e.error_code(), reason = %e, "token request refused");
            (
                e.status(),
                json!({"error": e.error_code(), "error_description": e.to_string()}),
            )
        }
    };
    let mut response = (status, axum::Json(body.clone())).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Every answer carries a fresh nonce, so a client can use it on its next proof (RFC 9449 §8).
    if let Ok(nonce) = HeaderValue::from_str(&authority.dpop.new_nonce()) {
        h.insert("dpop-nonce", nonce);
    }
    if status == StatusCode::UNAUTHORIZED {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"stella\""),
        );
    }
    response
}

/// `Authorization: Basic base64(urlencode(id) ':' urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, TokenEndpointError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| TokenEndpointError::InvalidClient)?;
    let Some((scheme, rest)) = value.split_once(' ') else {
        return Err(TokenEndpointError::InvalidClient);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenEndpointError::InvalidClient);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(TokenEndpointError::InvalidClient)?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or(TokenEndpointError::InvalidClient)?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

fn form_decode(s: &str) -> String {
    // form_urlencoded decodes a bare key; escaping a literal `=` or `&` keeps it in the key.
    url::form_urlencoded::parse(s.replace('=', "%3D").replace('&', "%26").as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// RFC 6749 §3.3 scope-token characters.
fn valid_scope_token(t: &str) -> bool {
    t.bytes()
        .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}
