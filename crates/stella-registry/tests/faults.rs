//! Against small hand-made registries on loopback, for what a real registry will not do on
//! demand: 429 with `Retry-After`, endless 5xx, redirects to another host, lies about digests and
//! sizes, oversized manifests, unreachable and non-TLS servers.

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use stella_registry::{
    ClientOptions, Digest, ImageReference, RegistryClient, RegistryError, media_types,
};
use stella_testkit::{HttpServer, Reply, Request, write_auth_file};

/// A tiny single-layer OCI image, hand-made: manifest, config and layer bytes.
struct Image {
    manifest: Vec<u8>,
    config: Vec<u8>,
    layer: Vec<u8>,
}

impl Image {
    fn new() -> Image {
        let layer = b"not a real tarball, just layer bytes\n".repeat(50);
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [Digest::sha256_of(&layer).to_string()]}
        })
        .to_string()
        .into_bytes();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_types::OCI_MANIFEST,
            "config": {"mediaType": media_types::OCI_CONFIG, "size": config.len(),
                       "digest": Digest::sha256_of(&config).to_string()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "size": layer.len(), "digest": Digest::sha256_of(&layer).to_string()}]
        })
        .to_string()
        .into_bytes();
        Image {
            manifest,
            config,
            layer,
        }
    }

    fn layer_digest(&self) -> Digest {
        Digest::sha256_of(&self.layer)
    }

    /// Serves `stella/hello` (tag `v1` or the manifest digest) the way a registry would.
    fn serve(&self, req: &Request) -> Reply {
        let manifest_digest = Digest::sha256_of(&self.manifest).to_string();
        let path = req.path();
        if path == "/v2/stella/hello/manifests/v1"
            || path == format!("/v2/stella/hello/manifests/{manifest_digest}")
        {
            return Reply::new(200)
                .header("Content-Type", media_types::OCI_MANIFEST)
                .header("Docker-Content-Digest", &manifest_digest)
                .body(self.manifest.clone());
        }
        for blob in [&self.config, &self.layer] {
            if path == format!("/v2/stella/hello/blobs/{}", Digest::sha256_of(blob)) {
                return Reply::new(200)
                    .header("Content-Type", "application/octet-stream")
                    .body(blob.clone());
            }
        }
        Reply::new(404)
            .header("Content-Type", "application/json")
            .body(r#"{"errors":[{"code":"NOT_FOUND","message":"not here"}]}"#)
    }
}

fn quick_options() -> ClientOptions {
    ClientOptions {
        auth_file: Some("/nonexistent/stella-test-auth.json".into()),
        max_retries: 3,
        retry_base_delay: Duration::from_millis(10),
        max_retry_delay: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(10),
        ..ClientOptions::default()
    }
}

fn client() -> RegistryClient {
    RegistryClient::new(quick_options()).unwrap()
}

fn reference(host: &str) -> ImageReference {
    format!("{host}/stella/hello:v1").parse().unwrap()
}

fn read_all(
    client: &RegistryClient,
    r: &ImageReference,
    d: &Digest,
    size: u64,
) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    client
        .open_blob(r, d, size)
        .unwrap()
        .read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn retries_after_429_honouring_retry_after_then_succeeds() {
    let image = Arc::new(Image::new());
    let manifest_hits = Arc::new(AtomicUsize::new(0));
    let server = {
        let (image, hits) = (image.clone(), manifest_hits.clone());
        HttpServer::start(move |req| {
            if req.path().contains("/manifests/") && hits.fetch_add(1, Ordering::SeqCst) == 0 {
                return Reply::new(429).header("Retry-After", "1");
            }
            image.serve(req)
        })
    };
    let client = client();
    let r = reference(&server.host());
    let started = Instant::now();
    let resolved = client.resolve(&r).unwrap();
    // The client's own backoff here is 10 ms; waiting a second shows Retry-After was obeyed.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(manifest_hits.load(Ordering::SeqCst), 2);
    assert_eq!(resolved.manifest_digest, Digest::sha256_of(&image.manifest));
    assert_eq!(resolved.config_bytes, image.config);
    let layer = read_all(&client, &r, &image.layer_digest(), image.layer.len() as u64).unwrap();
    assert_eq!(layer, image.layer);
}

#[test]
fn endless_503_gives_too_many_retries_with_the_last_status() {
    let server = HttpServer::start(|_| Reply::new(503).body("down for maintenance"));
    let err = client().resolve(&reference(&server.host())).unwrap_err();
    match &err {
        RegistryError::TooManyRetries { attempts, last, .. } => {
            assert_eq!(*attempts, 4);
            assert!(last.contains("503"), "{last}");
        }
        other => panic!("expected TooManyRetries, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 4);
    assert!(
        err.to_string()
            .contains(&format!("{}/stella/hello:v1", server.host())),
        "{err}"
    );
}

#[test]
fn blob_redirect_to_another_host_does_not_carry_the_authorization_header() {
    let image = Arc::new(Image::new());
    // The blob store: another origin (other port), which must never see the registry's credentials.
    let store = {
        let image = image.clone();
        HttpServer::start(move |_| Reply::new(200).body(image.layer.clone()))
    };
    let store_url = format!(
        "http://localhost:{}/blob?X-Signature=opaque",
        store.addr.port()
    );
    let expected_auth = "Basic dXNlcjpwYXNz"; // user:pass
    let registry = {
        let image = image.clone();
        let layer_path = format!("/v2/stella/hello/blobs/{}", image.layer_digest());
        HttpServer::start(move |req| {
            if req.header("authorization") != Some(expected_auth) {
                return Reply::new(401).header("WWW-Authenticate", r#"Basic realm="fake""#);
            }
            if req.path() == layer_path {
                return Reply::new(307).header("Location", &store_url);
            }
            image.serve(req)
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("auth.json");
    write_auth_file(&auth, &[&registry.host()], "user", "pass");
    let client = RegistryClient::new(ClientOptions {
        auth_file: Some(auth),
        ..quick_options()
    })
    .unwrap();
    let r = reference(&registry.host());
    client.resolve(&r).unwrap();
    let layer = read_all(&client, &r, &image.layer_digest(), image.layer.len() as u64).unwrap();
    assert_eq!(layer, image.layer);

    let store_requests = store.requests();
    assert_eq!(store_requests.len(), 1);
    assert_eq!(store_requests[0].target, "/blob?X-Signature=opaque");
    assert!(
        store_requests[0].header("authorization").is_none(),
        "{store_requests:?}"
    );
    // After the first 401 the registry got credentials up front.
    let registry_requests = registry.requests();
    assert!(
        registry_requests[1..]
            .iter()
            .all(|r| r.header("authorization") == Some(expected_auth))
    );
}

#[test]
fn redirect_to_plain_http_on_a_remote_host_is_refused() {
    let image = Image::new();
    let layer_path = format!("/v2/stella/hello/blobs/{}", image.layer_digest());
    // Refused before any connection is attempted: nothing leaves the machine.
    let server = HttpServer::start(move |req| {
        if req.path() == layer_path {
            return Reply::new(302).header("Location", "http://blobs.example.invalid/layer");
        }
        Reply::new(404)
    });
    let d = Image::new().layer_digest();
    let err = client()
        .open_blob(&reference(&server.host()), &d, 10)
        .err()
        .unwrap();
    assert!(matches!(err, RegistryError::Connection { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("refusing a redirect to http://blobs.example.invalid/layer"),
        "{err}"
    );
}

#[test]
fn manifest_that_does_not_match_its_digest_is_refused() {
    let image = Arc::new(Image::new());
    let wanted = Digest::sha256_of(b"some other manifest");
    let server = {
        let image = image.clone();
        let wanted = wanted.clone();
        HttpServer::start(move |req| {
            if req.path().ends_with(&format!("/manifests/{wanted}")) {
                return Reply::new(200)
                    .header("Content-Type", media_types::OCI_MANIFEST)
                    .body(image.manifest.clone());
            }
            if req.path().ends_with("/manifests/v1") {
                // A lying Docker-Content-Digest header.
                return Reply::new(200)
                    .header("Content-Type", media_types::OCI_MANIFEST)
                    .header("Docker-Content-Digest", &wanted.to_string())
                    .body(image.manifest.clone());
            }
            Reply::new(404)
        })
    };
    let client = client();
    let by_digest: ImageReference = format!("{}/stella/hello@{wanted}", server.host())
        .parse()
        .unwrap();
    let err = client.resolve(&by_digest).unwrap_err();
    match &err {
        RegistryError::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, &wanted);
            assert_eq!(actual, &Digest::sha256_of(&image.manifest));
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    assert!(
        err.to_string().contains(&format!("expected {wanted}")),
        "{err}"
    );
    let err = client.resolve(&reference(&server.host())).unwrap_err();
    assert!(
        matches!(err, RegistryError::DigestMismatch { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("Docker-Content-Digest"), "{err}");
}

#[test]
fn oversized_manifests_and_blobs_are_refused() {
    let image = Arc::new(Image::new());
    let huge = vec![b' '; 64 * 1024];
    let server = {
        let image = image.clone();
        let layer_path = format!("/v2/stella/hello/blobs/{}", image.layer_digest());
        HttpServer::start(move |req| {
            if req.path().ends_with("/manifests/huge") {
                // Without Content-Length, so the limit must hold while reading.
                let mut r = Reply::new(200)
                    .header("Content-Type", media_types::OCI_MANIFEST)
                    .body(huge.clone());
                r.close_delimited = true;
                return r;
            }
            if req.path() == layer_path {
                // More bytes than the descriptor says, and no Content-Length to warn of it.
                let mut body = image.layer.clone();
                body.extend_from_slice(b"trailing junk");
                let mut r = Reply::new(200).body(body);
                r.close_delimited = true;
                return r;
            }
            image.serve(req)
        })
    };
    let client = RegistryClient::new(ClientOptions {
        max_manifest_bytes: 16 * 1024,
        ..quick_options()
    })
    .unwrap();
    let huge_ref: ImageReference = format!("{}/stella/hello:huge", server.host())
        .parse()
        .unwrap();
    let err = client.resolve(&huge_ref).unwrap_err();
    assert!(
        matches!(err, RegistryError::TooLarge { limit: 16384, .. }),
        "{err:?}"
    );

    let r = reference(&server.host());
    let err = read_all(&client, &r, &image.layer_digest(), image.layer.len() as u64).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("larger than"), "{err}");

    // With a Content-Length that disagrees with the descriptor, open_blob refuses up front.
    let err = client
        .open_blob(
            &r,
            &Digest::sha256_of(&image.config),
            image.config.len() as u64 + 1,
        )
        .err()
        .unwrap();
    assert!(matches!(err, RegistryError::SizeMismatch { .. }), "{err:?}");
}

#[test]
fn unreachable_registry_is_a_connection_error_after_retries() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = client()
        .resolve(&reference(&format!("127.0.0.1:{port}")))
        .unwrap_err();
    match &err {
        RegistryError::Connection { tls, detail, .. } => {
            assert!(!tls);
            assert!(detail.contains("after 4 attempts"), "{detail}");
        }
        other => panic!("expected Connection, got {other:?}"),
    }
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn https_to_a_plain_http_server_is_a_tls_error() {
    // 127.0.0.2 is loopback, but only localhost, 127.0.0.1 and ::1 get plain HTTP by default.
    let Ok(listener) = TcpListener::bind("127.0.0.2:0") else {
        eprintln!("skipping: cannot bind 127.0.0.2");
        return;
    };
    let server = HttpServer::start_on(listener, |_| Reply::new(400).body("this is plain HTTP"));
    let err = client().resolve(&reference(&server.host())).unwrap_err();
    match &err {
        RegistryError::Connection { tls, url, .. } => {
            assert!(*tls, "{err}");
            assert!(url.starts_with("https://127.0.0.2:"), "{url}");
        }
        other => panic!("expected a TLS Connection error, got {other:?}"),
    }
    // Listed as insecure, the same server is spoken to over HTTP (and answers 400).
    let insecure = RegistryClient::new(ClientOptions {
        insecure_registries: vec![server.host()],
        ..quick_options()
    })
    .unwrap();
    let err = insecure.resolve(&reference(&server.host())).unwrap_err();
    assert!(
        matches!(err, RegistryError::UnexpectedStatus { status: 400, .. }),
        "{err:?}"
    );
}

#[test]
fn schema1_and_artifact_manifests_are_unsupported_media_types() {
    let artifact_config = b"{}".to_vec();
    let artifact = serde_json::json!({
        "schemaVersion": 2, "mediaType": media_types::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json",
                   "size": 2, "digest": Digest::sha256_of(&artifact_config).to_string()},
        "layers": []
    })
    .to_string();
    let server = HttpServer::start(move |req| {
        if req.path().ends_with("/manifests/v1") {
            return Reply::new(200)
                .header("Content-Type", media_types::DOCKER_SCHEMA1_SIGNED)
                .body(r#"{"schemaVersion":1,"name":"stella/hello","tag":"v1","fsLayers":[]}"#);
        }
        if req.path().ends_with("/manifests/chart") {
            return Reply::new(200)
                .header("Content-Type", media_types::OCI_MANIFEST)
                .body(artifact.clone());
        }
        Reply::new(404)
    });
    let client = client();
    let err = client.resolve(&reference(&server.host())).unwrap_err();
    assert!(
        matches!(&err, RegistryError::UnsupportedMediaType { media_type, .. } if media_type == media_types::DOCKER_SCHEMA1_SIGNED),
        "{err:?}"
    );
    let chart: ImageReference = format!("{}/stella/hello:chart", server.host())
        .parse()
        .unwrap();
    let err = client.resolve(&chart).unwrap_err();
    assert!(
        matches!(&err, RegistryError::UnsupportedMediaType { media_type, .. } if media_type.contains("helm")),
        "{err:?}"
    );
}
