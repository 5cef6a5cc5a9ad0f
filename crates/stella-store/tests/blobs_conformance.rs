//! The Blobs port's conformance suite: every test below runs against the filesystem adapter
//! (a temporary directory) and the S3 adapter talking to a real S3 server, `s3s-fs`, served
//! in-process on a loopback port with a temporary directory as its storage.

mod common;

use bytes::Bytes;
use std::future::Future;
use std::sync::Arc;
use stella_store::blobs::{Blobs, S3Credentials, open_blobs, open_s3, validate_key};

#[derive(Clone, Copy)]
enum Backend {
    Fs,
    S3,
}

const ACCESS_KEY: &str = "stella-test";
const SECRET_KEY: &str = "stella-test-secret";

/// Starts an S3 server over `root` on an ephemeral loopback port; returns its endpoint. The
/// server task ends with the test's runtime.
async fn start_s3_server(root: &std::path::Path) -> String {
    let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs over a temp dir");
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            });
        }
    });
    format!("http://{addr}")
}

async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Arc<dyn Blobs>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let blobs = match backend {
        Backend::Fs => open_blobs(
            &format!("file://{}", dir.path().join("blobs").display()),
            None,
            None,
        )
        .unwrap(),
        Backend::S3 => {
            let bucket = common::unique("stella-test-");
            // s3s-fs keeps a bucket as a directory of its root.
            std::fs::create_dir_all(dir.path().join(&bucket)).unwrap();
            let endpoint = start_s3_server(dir.path()).await;
            open_s3(
                &bucket,
                Some(&endpoint),
                Some("us-east-1"),
                Some(S3Credentials {
                    access_key_id: ACCESS_KEY.to_string(),
                    secret_access_key: SECRET_KEY.to_string(),
                }),
            )
            .unwrap()
        }
    };
    test(blobs).await;
}

async fn a_put_object_reads_back(blobs: Arc<dyn Blobs>) {
    let body = Bytes::from_static(b"{\"spdxVersion\": \"SPDX-2.3\"}");
    blobs
        .put("artifacts/scan-1/sbom.spdx.json", body.clone())
        .await
        .unwrap();
    assert_eq!(
        blobs.get("artifacts/scan-1/sbom.spdx.json").await.unwrap(),
        Some(body)
    );
    // Binary and empty objects survive too.
    let binary = Bytes::from((0..=255u8).collect::<Vec<_>>());
    blobs.put("bin/all-bytes", binary.clone()).await.unwrap();
    assert_eq!(blobs.get("bin/all-bytes").await.unwrap(), Some(binary));
    blobs.put("bin/empty", Bytes::new()).await.unwrap();
    assert_eq!(blobs.get("bin/empty").await.unwrap(), Some(Bytes::new()));
}

async fn a_put_replaces_the_previous_object(blobs: Arc<dyn Blobs>) {
    blobs
        .put("a/key", Bytes::from_static(b"first version, longer"))
        .await
        .unwrap();
    blobs
        .put("a/key", Bytes::from_static(b"second"))
        .await
        .unwrap();
    assert_eq!(
        blobs.get("a/key").await.unwrap(),
        Some(Bytes::from_static(b"second"))
    );
}

async fn list_returns_the_keys_under_a_prefix_sorted(blobs: Arc<dyn Blobs>) {
    for key in [
        "artifacts/scan-2/sbom.spdx.json",
        "artifacts/scan-1/sbom.spdx.json",
        "artifacts/scan-1/findings.json",
        "artifacts/scan-10/sbom.spdx.json",
        "other/x",
    ] {
        blobs.put(key, Bytes::from_static(b"x")).await.unwrap();
    }
    assert_eq!(
        blobs.list("artifacts/scan-1").await.unwrap(),
        vec![
            "artifacts/scan-1/findings.json".to_string(),
            "artifacts/scan-1/sbom.spdx.json".to_string(),
        ]
    );
    assert_eq!(blobs.list("artifacts/").await.unwrap().len(), 4);
    assert_eq!(blobs.list("").await.unwrap().len(), 5);
    assert!(blobs.list("nothing-here").await.unwrap().is_empty());
}

async fn delete_removes_an_object_and_tolerates_a_missing_one(blobs: Arc<dyn Blobs>) {
    blobs.put("d/one", Bytes::from_static(b"1")).await.unwrap();
    blobs.put("d/two", Bytes::from_static(b"2")).await.unwrap();
    blobs.delete("d/one").await.unwrap();
    assert_eq!(blobs.get("d/one").await.unwrap(), None);
    assert_eq!(blobs.list("d").await.unwrap(), vec!["d/two".to_string()]);
    blobs.delete("d/one").await.unwrap();
}

async fn a_missing_key_is_none(blobs: Arc<dyn Blobs>) {
    assert_eq!(blobs.get("never/written").await.unwrap(), None);
}

async fn traversal_keys_are_refused(blobs: Arc<dyn Blobs>) {
    let bad = [
        "",
        "/etc/passwd",
        "../outside",
        "a/../../outside",
        "a/..",
        "./a",
        "a//b",
        "a/",
        "a\\..\\b",
        "a/\0b",
    ];
    for key in bad {
        assert!(validate_key(key).is_err(), "{key:?} passed validation");
        assert!(
            blobs.put(key, Bytes::from_static(b"x")).await.is_err(),
            "put {key:?}"
        );
        assert!(blobs.get(key).await.is_err(), "get {key:?}");
        assert!(blobs.delete(key).await.is_err(), "delete {key:?}");
    }
    assert!(blobs.list("../").await.is_err());
    // Nothing was written anywhere by the refused calls.
    assert!(blobs.list("").await.unwrap().is_empty());
}

async fn concurrent_readers_never_see_a_partial_object(blobs: Arc<dyn Blobs>) {
    let a = Bytes::from(vec![b'a'; 256 * 1024]);
    let b = Bytes::from(vec![b'b'; 256 * 1024]);
    blobs.put("big", a.clone()).await.unwrap();
    let writer = {
        let (blobs, a, b) = (blobs.clone(), a.clone(), b.clone());
        tokio::spawn(async move {
            for i in 0..10 {
                let body = if i % 2 == 0 { b.clone() } else { a.clone() };
                blobs.put("big", body).await.unwrap();
            }
        })
    };
    for _ in 0..20 {
        let got = blobs.get("big").await.unwrap().unwrap();
        assert!(
            got == a || got == b,
            "read a torn object of {} bytes",
            got.len()
        );
    }
    writer.await.unwrap();
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod fs {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::run(crate::Backend::Fs, super::$test).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::run(crate::Backend::S3, super::$test).await;
                }
            )*
        }
    };
}

conformance!(
    a_put_object_reads_back,
    a_put_replaces_the_previous_object,
    list_returns_the_keys_under_a_prefix_sorted,
    delete_removes_an_object_and_tolerates_a_missing_one,
    a_missing_key_is_none,
    traversal_keys_are_refused,
    concurrent_readers_never_see_a_partial_object,
);

#[test]
fn unsupported_urls_are_refused() {
    assert!(open_blobs("ftp://x", None, None).is_err());
    assert!(open_blobs("s3://", None, None).is_err());
    assert!(open_blobs("file://", None, None).is_err());
}
