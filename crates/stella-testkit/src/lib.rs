//! Support code for Stella's integration tests, shared by the crates that talk to real
//! registries: loopback OCI registries (Debian's `docker-registry`, started by
//! `tests/registry/start-registries.sh`) that stop when dropped, an in-process ES256 token
//! issuer for the token-auth registry, pushing OCI layouts with skopeo, docker `config.json`
//! auth files, a tiny scriptable HTTP server for faults a real registry will not produce, and
//! subprocesses that are killed when they overrun.
//!
//! Tests that need external tools call [`registry_tools_available`] first: without the tools a
//! test is skipped with a printed reason, unless `CI` is set, where that is a failure.

mod auth;
mod http;
mod oci;
mod process;
mod registry;
mod token;

pub use auth::write_auth_file;
pub use http::{HttpServer, Reply, Request};
pub use oci::{layout_blob, layout_manifest_digest};
pub use process::{output_within, run};
pub use registry::{
    Registries, build_multi_platform_layout, registry_tools_available, scripts_dir,
};
pub use token::{IssuerConfig, TokenIssuer};
