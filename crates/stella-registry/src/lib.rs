//! A blocking client for the OCI distribution API v2: how Stella pulls images from registries.
//!
//! [`RegistryClient::resolve`] turns an [`ImageReference`] (`alpine`, `quay.io/a/b:1`,
//! `localhost:5000/x@sha256:…`) into a [`ResolvedImage`]: the platform manifest (chosen from an
//! OCI image index or Docker manifest list by [`ClientOptions::platform`]), its config, and
//! the layer descriptors, each fetched with a size limit and checked against its digest.
//! [`RegistryClient::open_blob`] then streams one layer through a [`VerifyingReader`], which
//! fails at end of stream when the bytes do not hash to the digest asked for, so a scan never
//! reads a tampered layer to a successful end. OCI and Docker v2.2 media types are both
//! accepted; Docker schema 1 is refused.
//!
//! The client is blocking on purpose: the scan pipeline is synchronous (layers stream into tar
//! readers) and the service worker calls it from `spawn_blocking`. It speaks anonymous access,
//! HTTP Basic and bearer-token authentication (credentials from a docker `config.json` or a
//! containers `auth.json`), retries 429, 5xx and connection failures with backoff and jitter
//! while honouring `Retry-After`, and follows blob redirects without sending `Authorization`
//! to another origin. Plain HTTP is used only for loopback registries and those listed in
//! [`ClientOptions::insecure_registries`]. Debug logs go through `tracing` and never hold a
//! credential, a token or a signed URL's query.
//!
//! ```no_run
//! use stella_registry::{ClientOptions, ImageReference, RegistryClient};
//! let client = RegistryClient::new(ClientOptions {
//!     platform: "linux/arm64".parse()?,
//!     ..ClientOptions::default()
//! })?;
//! let image: ImageReference = "alpine:3.20".parse()?;
//! let resolved = client.resolve(&image)?;
//! for layer in &resolved.layers {
//!     let mut reader = client.open_blob(&image, &layer.digest, layer.size)?;
//!     std::io::copy(&mut reader, &mut std::io::sink())?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod client;
mod error;
mod manifest;
mod reference;
mod retry;
mod verify;

pub use auth::Credentials;
pub use client::{BlobDescriptor, ClientOptions, RegistryClient, ResolvedImage};
pub use error::{ImageLocation, RegistryError};
pub use manifest::media_types;
pub use reference::{DOCKER_HUB_REGISTRY, ImageReference, Platform};
pub use stella_model::Digest;
pub use verify::VerifyingReader;
