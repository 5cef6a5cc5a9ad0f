//! `stella-authority`: the OAuth 2.0 authority of Stella and the checks its resource servers run.
//!
//! Clients authenticate with the client credentials grant (RFC 6749 §4.4; secret by HTTP Basic
//! or in the form) at `POST /token` and must send a DPoP proof (RFC 9449); the answer is a
//! short-lived ES256 JWT access token (`at+jwt`, RFC 9068) carrying the tenant (`tid`), the
//! granted `scope` and `cnf.jkt`, the RFC 7638 thumbprint of the client's DPoP key. A stolen
//! token is useless without that key: every API call needs `Authorization: DPoP <token>` plus a
//! fresh proof for that method and URL, whose `jti` is remembered in a [`ReplayCache`] (Redis
//! when several instances run) and whose `nonce` comes from the server ([`DpopVerifier`]
//! issues stateless HMAC nonces). [`Authority::router`] serves `/token`, `/jwks` and
//! `/.well-known/openid-configuration`; resource services use [`ResourceGuard::authorize`] or
//! the [`Authorized`] extractor. Clients live behind the [`ClientStore`] port with secrets
//! stored hashed; time comes from an injected [`Clock`].

pub mod client;
pub mod clients;
pub mod clock;
pub mod dpop;
pub mod jose;
pub mod keys;
pub mod resource;
pub mod server;
pub mod token;

pub use client::DpopKey;
pub use clients::{
    ClientRecord, ClientSecret, ClientStore, ClientStoreError, MemoryClientStore, hash_secret,
    new_client_credentials, verify_secret,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use dpop::{
    DpopConfig, DpopError, DpopVerifier, MemoryReplayCache, ProofContext, RedisReplayCache,
    ReplayCache, ReplayCacheError, VerifiedProof,
};
pub use jose::{JoseError, PublicKey, SigningKey};
pub use keys::{FetchKeys, IssuerKeys, Keys};
pub use resource::{AuthError, Authorized, Principal, RequiredScope, ResourceGuard};
pub use server::{Authority, AuthorityConfig, TokenEndpointError};
pub use token::{AccessTokenClaims, Confirmation, TokenError, VerifiedTokens, verify_access_token};
