//! Against real registries (Debian's `docker-registry`, distribution v2) on loopback, started by
//! `tests/registry/start-registries.sh`: anonymous, HTTP Basic and bearer-token auth, platform
//! selection, Docker v2.2 media types, not-found and tampered blobs.
//!
//! Each test starts its own registries (and token issuer) on free ports with state in a temporary
//! directory, and stops them on drop. Without the tools the tests are skipped with a printed
//! reason, unless `CI` is set, where that fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;
use stella_registry::{
    ClientOptions, Digest, ImageReference, Platform, RegistryClient, RegistryError, media_types,
};
use stella_testkit::{
    IssuerConfig, Registries, build_multi_platform_layout, layout_blob, layout_manifest_digest,
    output_within, registry_tools_available, run, write_auth_file,
};

struct Fixture {
    regs: Registries,
    layout: PathBuf,
    dir: tempfile::TempDir,
}

impl Fixture {
    /// Registries with the test images pushed: `stella/hello:multi` (OCI index of amd64 and
    /// arm64) and `stella/hello:amd64`.
    fn start() -> Option<Fixture> {
        if !registry_tools_available() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let regs = Registries::start();
        let layout = build_multi_platform_layout(dir.path());
        regs.push(&layout, "multi", "stella/hello:multi", &[]);
        regs.push(&layout, "amd64", "stella/hello:amd64", &[]);
        Some(Fixture { regs, layout, dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Options with a given auth file (a missing one means no credentials), quick retries.
    fn options(&self, auth_file: &Path, platform: &str) -> ClientOptions {
        ClientOptions {
            platform: platform.parse().unwrap(),
            auth_file: Some(auth_file.to_path_buf()),
            max_retries: 2,
            retry_base_delay: Duration::from_millis(20),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(20),
            ..ClientOptions::default()
        }
    }

    fn anonymous_client(&self, platform: &str) -> RegistryClient {
        RegistryClient::new(self.options(&self.path("no-such-auth.json"), platform)).unwrap()
    }

    fn client_with_creds(&self, host: &str, user: &str, password: &str) -> RegistryClient {
        let auth = self.path(&format!("auth-{}.json", host.replace(':', "_")));
        write_auth_file(&auth, &[host], user, password);
        RegistryClient::new(self.options(&auth, "linux/amd64")).unwrap()
    }
}

fn reference(host: &str, tag: &str) -> ImageReference {
    format!("{host}/stella/hello:{tag}").parse().unwrap()
}

fn read_blob(
    client: &RegistryClient,
    r: &ImageReference,
    d: &Digest,
    size: u64,
) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    client
        .open_blob(r, d, size)
        .expect("open blob")
        .read_to_end(&mut out)?;
    Ok(out)
}

/// Resolves and checks the image against the OCI layout it was pushed from, reading every layer.
fn assert_resolves_to(client: &RegistryClient, r: &ImageReference, layout: &Path, tag: &str) {
    let resolved = client
        .resolve(r)
        .unwrap_or_else(|e| panic!("resolve {r}: {e}"));
    assert_eq!(
        resolved.manifest_digest.to_string(),
        layout_manifest_digest(layout, tag)
    );
    assert_eq!(
        resolved.manifest_digest,
        Digest::sha256_of(&resolved.manifest_bytes)
    );
    assert_eq!(
        resolved.config_digest,
        Digest::sha256_of(&resolved.config_bytes)
    );
    assert_eq!(resolved.layers.len(), 1);
    for layer in &resolved.layers {
        let bytes = read_blob(client, r, &layer.digest, layer.size).unwrap();
        assert_eq!(bytes, layout_blob(layout, &layer.digest.to_string()));
    }
}

#[test]
fn anonymous_registry_resolves_an_index_to_the_default_platform_and_streams_layers() {
    let Some(fx) = Fixture::start() else { return };
    let client = fx.anonymous_client("linux/amd64");
    let r = reference(fx.regs.anon(), "multi");
    let resolved = client.resolve(&r).unwrap();
    assert_eq!(resolved.manifest_media_type, media_types::OCI_MANIFEST);
    assert_eq!(
        resolved.index_digest.as_ref().unwrap().to_string(),
        layout_manifest_digest(&fx.layout, "multi")
    );
    assert_eq!(resolved.platform, Platform::default());
    assert_eq!(
        resolved.layers[0].media_type,
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(
        resolved.config_bytes,
        layout_blob(&fx.layout, &resolved.config_digest.to_string())
    );
    assert_resolves_to(&client, &r, &fx.layout, "amd64");

    // The same manifest by digest, and the single-platform tag.
    let by_digest: ImageReference = format!(
        "{}/stella/hello@{}",
        fx.regs.anon(),
        resolved.manifest_digest
    )
    .parse()
    .unwrap();
    assert_eq!(
        client.resolve(&by_digest).unwrap().manifest_digest,
        resolved.manifest_digest
    );
    let single = client.resolve(&reference(fx.regs.anon(), "amd64")).unwrap();
    assert_eq!(single.manifest_digest, resolved.manifest_digest);
    assert_eq!(single.index_digest, None);
}

#[test]
fn platform_selection_picks_arm64_and_lists_platforms_when_none_matches() {
    let Some(fx) = Fixture::start() else { return };
    let r = reference(fx.regs.anon(), "multi");

    let arm = fx.anonymous_client("linux/arm64");
    assert_resolves_to(&arm, &r, &fx.layout, "arm64");
    assert_eq!(arm.resolve(&r).unwrap().platform.to_string(), "linux/arm64");
    let arm_v8 = fx.anonymous_client("linux/arm64/v8");
    assert_resolves_to(&arm_v8, &r, &fx.layout, "arm64");

    let s390x = fx.anonymous_client("linux/s390x");
    let err = s390x.resolve(&r).unwrap_err();
    match &err {
        RegistryError::NoManifestForPlatform {
            wanted, available, ..
        } => {
            assert_eq!(wanted.to_string(), "linux/s390x");
            let names: Vec<String> = available.iter().map(|p| p.to_string()).collect();
            assert_eq!(names, ["linux/amd64", "linux/arm64/v8"]);
        }
        other => panic!("expected NoManifestForPlatform, got {other:?}"),
    }
    let msg = err.to_string();
    for needle in [
        fx.regs.anon(),
        "stella/hello:multi",
        "linux/s390x",
        "linux/amd64, linux/arm64/v8",
    ] {
        assert!(msg.contains(needle), "{msg:?} should name {needle}");
    }
}

#[test]
fn docker_v2_2_manifest_list_and_manifests_are_accepted() {
    let Some(fx) = Fixture::start() else { return };
    fx.regs.push(
        &fx.layout,
        "multi",
        "stella/hello:v2list",
        &["--format", "v2s2"],
    );
    let r = reference(fx.regs.anon(), "v2list");
    let client = fx.anonymous_client("linux/arm64");
    let resolved = client.resolve(&r).unwrap();
    assert_eq!(resolved.manifest_media_type, media_types::DOCKER_MANIFEST);
    assert_eq!(resolved.platform.architecture, "arm64");
    assert_eq!(
        resolved.layers[0].media_type,
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    let layer = &resolved.layers[0];
    let bytes = read_blob(&client, &r, &layer.digest, layer.size).unwrap();
    assert_eq!(Digest::sha256_of(&bytes), layer.digest);
}

#[test]
fn basic_auth_uses_credentials_from_the_auth_file() {
    let Some(fx) = Fixture::start() else { return };
    let (user, password) = fx.regs.credentials();
    let r = reference(fx.regs.basic(), "multi");
    let client = fx.client_with_creds(fx.regs.basic(), user, password);
    assert_resolves_to(&client, &r, &fx.layout, "amd64");

    // Without credentials: Unauthorized, naming the challenge and where credentials were sought.
    let err = fx.anonymous_client("linux/amd64").resolve(&r).unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(r#"Basic realm="stella-test""#), "{msg}");
    assert!(msg.contains("no-such-auth.json (not found)"), "{msg}");
    assert!(
        msg.contains(&format!("{}/stella/hello:multi", fx.regs.basic())),
        "{msg}"
    );
}

#[test]
fn wrong_password_is_unauthorized_without_leaking_it() {
    let Some(fx) = Fixture::start() else { return };
    let (user, _) = fx.regs.credentials();
    let client = fx.client_with_creds(fx.regs.basic(), user, "wrong-password-xyzzy");
    let err = client
        .resolve(&reference(fx.regs.basic(), "amd64"))
        .unwrap_err();
    match &err {
        RegistryError::Unauthorized {
            image, challenge, ..
        } => {
            assert_eq!(image.registry, fx.regs.basic());
            assert_eq!(image.repository, "stella/hello");
            assert_eq!(image.reference, "amd64");
            assert!(challenge.starts_with("Basic"), "{challenge}");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("rejected the credentials"), "{msg}");
    assert!(
        !msg.contains("xyzzy") && !format!("{err:?}").contains("xyzzy"),
        "{msg}"
    );
}

#[test]
fn bearer_token_flow_caches_the_token_per_scope() {
    let Some(mut fx) = Fixture::start() else {
        return;
    };
    let issuer = fx.regs.start_token_issuer(IssuerConfig::default());
    let (user, password) = fx.regs.credentials();
    let r = reference(fx.regs.token(), "multi");

    let client = fx.client_with_creds(fx.regs.token(), user, password);
    assert_resolves_to(&client, &r, &fx.layout, "amd64");
    // Index, manifest, config and layer all went out on one token for repository:stella/hello:pull.
    assert_eq!(issuer.issued(), 1);
    let token_requests = issuer.server.requests();
    assert!(
        token_requests[0]
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic "))
    );
    assert_eq!(
        token_requests[0].query("scope"),
        ["repository:stella/hello:pull"]
    );
    assert_eq!(
        token_requests[0].query("service"),
        [fx.regs.var("STELLA_REGISTRY_TOKEN_SERVICE")]
    );

    // Anonymous: the issuer grants nothing, and the registry says no.
    let err = fx.anonymous_client("linux/amd64").resolve(&r).unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("does not grant pull access"), "{msg}");
    assert!(msg.contains("Bearer realm="), "{msg}");

    // A wrong password is refused by the token service.
    let wrong = fx.client_with_creds(fx.regs.token(), user, "not-the-password");
    let err = wrong.resolve(&r).unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("token service"), "{err}");
    assert!(!err.to_string().contains("not-the-password"), "{err}");
}

#[test]
fn bearer_token_from_an_access_token_field_for_anonymous_pull() {
    let Some(mut fx) = Fixture::start() else {
        return;
    };
    let issuer = fx.regs.start_token_issuer(IssuerConfig {
        anonymous_pull: true,
        oauth_field: true,
    });
    let client = fx.anonymous_client("linux/arm64");
    assert_resolves_to(
        &client,
        &reference(fx.regs.token(), "multi"),
        &fx.layout,
        "arm64",
    );
    assert_eq!(issuer.issued(), 1);
    assert!(
        issuer.server.requests()[0]
            .header("authorization")
            .is_none()
    );
}

#[test]
fn unknown_tag_repository_and_blob_are_not_found() {
    let Some(fx) = Fixture::start() else { return };
    let client = fx.anonymous_client("linux/amd64");
    let err = client
        .resolve(&reference(fx.regs.anon(), "no-such-tag"))
        .unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("manifest no-such-tag"), "{msg}");
    assert!(
        msg.contains(&format!("{}/stella/hello:no-such-tag", fx.regs.anon())),
        "{msg}"
    );

    let other: ImageReference = format!("{}/stella/nothing-here:1", fx.regs.anon())
        .parse()
        .unwrap();
    assert!(matches!(
        client.resolve(&other),
        Err(RegistryError::NotFound { .. })
    ));

    let missing = Digest::sha256_of(b"no such blob");
    let err = client
        .open_blob(&reference(fx.regs.anon(), "amd64"), &missing, 12)
        .err()
        .expect("missing blob");
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("blob {missing}")),
        "{err}"
    );
}

/// The registry serves stored bytes as they are, so a blob corrupted on its disk reaches the
/// client: the layer stream must fail at its end and the config must be refused.
#[test]
fn corrupted_blobs_in_registry_storage_are_detected() {
    let Some(fx) = Fixture::start() else { return };
    let client = fx.anonymous_client("linux/amd64");
    let r = reference(fx.regs.anon(), "amd64");
    let resolved = client.resolve(&r).unwrap();
    let layer = resolved.layers[0].clone();

    corrupt(&fx.regs, &layer.digest);
    let err = read_blob(&client, &r, &layer.digest, layer.size).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let msg = err.to_string();
    assert!(msg.contains(&format!("expected {}", layer.digest)), "{msg}");
    assert!(msg.contains("got sha256:"), "{msg}");

    corrupt(&fx.regs, &resolved.config_digest);
    let err = client.resolve(&r).unwrap_err();
    match &err {
        RegistryError::DigestMismatch { what, expected, .. } => {
            assert!(what.contains("config"), "{what}");
            assert_eq!(expected, &resolved.config_digest);
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
}

/// Flips one byte of a blob in the registry's filesystem storage, keeping its size.
fn corrupt(regs: &Registries, digest: &Digest) {
    let path = regs.blob_data(&digest.to_string());
    let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
}

/// `ClientOptions::auth_file: None` reads `$REGISTRY_AUTH_FILE`. The environment is process-wide,
/// so the check runs in a child process of this test binary with the variable set there.
#[test]
fn registry_auth_file_env_var_is_the_default_auth_file() {
    if let Ok(image) = std::env::var("STELLA_TEST_AUTH_ENV_IMAGE") {
        let r: ImageReference = image.parse().unwrap();
        let client = RegistryClient::new(ClientOptions {
            auth_file: None,
            max_retries: 1,
            ..ClientOptions::default()
        })
        .unwrap();
        let resolved = client
            .resolve(&r)
            .unwrap_or_else(|e| panic!("resolve {r}: {e}"));
        let layer = &resolved.layers[0];
        read_blob(&client, &r, &layer.digest, layer.size).unwrap();
        return;
    }
    let Some(fx) = Fixture::start() else { return };
    let auth = fx.path("env-auth.json");
    fx.regs.write_auth_file(&auth);
    let image = reference(fx.regs.basic(), "multi").to_string();
    run(
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "registry_auth_file_env_var_is_the_default_auth_file",
                "--exact",
                "--test-threads=1",
            ])
            .env("STELLA_TEST_AUTH_ENV_IMAGE", &image)
            .env("REGISTRY_AUTH_FILE", &auth)
            .env_remove("DOCKER_CONFIG"),
        Duration::from_secs(60),
    );
    // And the same child without the variable (and no other auth file) is refused.
    let out = output_within(
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "registry_auth_file_env_var_is_the_default_auth_file",
                "--exact",
                "--test-threads=1",
            ])
            .env("STELLA_TEST_AUTH_ENV_IMAGE", &image)
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("DOCKER_CONFIG")
            .env("HOME", fx.path("empty-home")),
        Duration::from_secs(60),
    );
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("unauthorized to pull"), "{text}");
}
