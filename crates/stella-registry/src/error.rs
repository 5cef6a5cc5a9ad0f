//! The one error type of this crate.

use crate::reference::Platform;
use std::fmt;
use std::path::PathBuf;
use stella_model::Digest;

/// Where a request was aimed: registry host, repository and the tag or digest asked for.
///
/// Every error about a request carries one, so that its message names all three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLocation {
    pub registry: String,
    pub repository: String,
    /// A tag, or a digest (`sha256:…`).
    pub reference: String,
}

impl fmt::Display for ImageLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if self.reference.contains(':') {
            '@'
        } else {
            ':'
        };
        write!(
            f,
            "{}/{}{}{}",
            self.registry, self.repository, sep, self.reference
        )
    }
}

fn platform_list(platforms: &[Platform]) -> String {
    if platforms.is_empty() {
        return "none".to_string();
    }
    platforms
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything that can go wrong talking to a registry. (The location is boxed to keep
/// `Result<_, RegistryError>` small.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error("invalid image reference {input:?}: {reason}")]
    InvalidReference { input: String, reason: String },

    #[error(
        "invalid platform {input:?}: {reason} (expected os/architecture[/variant], e.g. linux/arm64/v8)"
    )]
    InvalidPlatform { input: String, reason: String },

    #[error("registry credentials file {}: {reason}", path.display())]
    AuthFile { path: PathBuf, reason: String },

    #[error("could not set up the HTTP client: {0}")]
    Client(String),

    /// The registry (or its token service) refused us. `challenge` is the registry's
    /// `WWW-Authenticate` header as sent (it holds no secret).
    #[error("unauthorized to pull {image}: {detail} (registry challenge: {challenge})")]
    Unauthorized {
        image: Box<ImageLocation>,
        challenge: String,
        detail: String,
    },

    /// A manifest (by tag or digest) or a blob (by digest) that the registry does not have.
    #[error("{what} not found in {image}")]
    NotFound {
        image: Box<ImageLocation>,
        what: String,
    },

    #[error("digest mismatch for {what} from {image}: expected {expected}, got {actual}")]
    DigestMismatch {
        image: Box<ImageLocation>,
        what: String,
        expected: Digest,
        actual: Digest,
    },

    #[error("size mismatch for {what} from {image}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        image: Box<ImageLocation>,
        what: String,
        expected: u64,
        actual: u64,
    },

    #[error(
        "no manifest for platform {wanted} in {image}; available platforms: {}",
        platform_list(available)
    )]
    NoManifestForPlatform {
        image: Box<ImageLocation>,
        wanted: Platform,
        available: Vec<Platform>,
    },

    #[error("gave up on {image} after {attempts} attempts; last answer: {last}")]
    TooManyRetries {
        image: Box<ImageLocation>,
        attempts: u32,
        last: String,
    },

    #[error("unsupported media type {media_type:?} for {what} of {image}")]
    UnsupportedMediaType {
        image: Box<ImageLocation>,
        what: String,
        media_type: String,
    },

    #[error("{what} of {image} is larger than the {limit}-byte limit")]
    TooLarge {
        image: Box<ImageLocation>,
        what: String,
        limit: u64,
    },

    #[error("invalid {what} from {image}: {reason}")]
    InvalidManifest {
        image: Box<ImageLocation>,
        what: String,
        reason: String,
    },

    #[error("unexpected HTTP status {status} for {what} of {image}: {detail}")]
    UnexpectedStatus {
        image: Box<ImageLocation>,
        what: String,
        status: u16,
        detail: String,
    },

    /// The token service named by a `Bearer` challenge failed other than by refusing us.
    #[error("token service {realm} for {image} failed: {detail}")]
    TokenService {
        image: Box<ImageLocation>,
        realm: String,
        detail: String,
    },

    /// The connection could not be made or broke, including TLS failures (`tls` is true when
    /// the cause looks like a certificate or handshake problem).
    #[error("{} {url} (for {image}): {detail}", if *tls { "TLS error talking to" } else { "cannot reach" })]
    Connection {
        image: Box<ImageLocation>,
        url: String,
        tls: bool,
        detail: String,
    },
}

impl RegistryError {
    /// The image location the error is about, when it is about a request.
    pub fn image(&self) -> Option<&ImageLocation> {
        match self {
            RegistryError::InvalidReference { .. }
            | RegistryError::InvalidPlatform { .. }
            | RegistryError::AuthFile { .. }
            | RegistryError::Client(_) => None,
            RegistryError::Unauthorized { image, .. }
            | RegistryError::NotFound { image, .. }
            | RegistryError::DigestMismatch { image, .. }
            | RegistryError::SizeMismatch { image, .. }
            | RegistryError::NoManifestForPlatform { image, .. }
            | RegistryError::TooManyRetries { image, .. }
            | RegistryError::UnsupportedMediaType { image, .. }
            | RegistryError::TooLarge { image, .. }
            | RegistryError::InvalidManifest { image, .. }
            | RegistryError::UnexpectedStatus { image, .. }
            | RegistryError::TokenService { image, .. }
            | RegistryError::Connection { image, .. } => Some(&**image),
        }
    }
}
