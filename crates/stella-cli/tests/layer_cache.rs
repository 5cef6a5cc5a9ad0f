//! The layer cache: a second scan of a known image reads no layer bytes, `--no-cache` skips
//! the cache, `--cache-dir` moves it, and cached and uncached scans give identical output.

mod common;

use common::*;

fn layout() -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    let layer = gzip(&tar_layer(&[
        Entry::Dir("etc/"),
        Entry::File("etc/os-release", OS_RELEASE),
        Entry::File("var/lib/dpkg/status", STATUS),
    ]));
    let digest = sha256_hex(&layer);
    oci_layout(d.path(), &[layer]);
    (d, digest)
}

#[test]
fn warm_rescan_reads_no_layer_bytes() {
    let (img, layer) = layout();
    let data = tempfile::tempdir().unwrap();
    let target = format!("oci:{}", img.path().display());
    let cold = run(data.path(), &["scan", &target, "--format", "cyclonedx"]);
    assert!(
        cold.status.success(),
        "{}",
        String::from_utf8_lossy(&cold.stderr)
    );
    // Remove the layer blob: only the cache can answer now.
    std::fs::remove_file(img.path().join("blobs/sha256").join(&layer)).unwrap();
    let warm = run(data.path(), &["scan", &target, "--format", "cyclonedx"]);
    assert!(
        warm.status.success(),
        "warm scan touched the layer: {}",
        String::from_utf8_lossy(&warm.stderr)
    );
    assert_eq!(cold.stdout, warm.stdout, "cached and uncached scans differ");
    // Without the cache the missing blob is noticed.
    let nocache = run(data.path(), &["scan", &target, "--no-cache", "-q"]);
    assert_eq!(nocache.status.code(), Some(3));
}

#[test]
fn cache_dir_moves_the_cache_alone() {
    let (img, _) = layout();
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let target = format!("oci:{}", img.path().display());
    let o = run(
        data.path(),
        &[
            "scan",
            &target,
            "--cache-dir",
            cache.path().to_str().unwrap(),
            "-q",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(cache.path().join("layers.sqlite").exists());
    assert!(
        !data.path().join("layer-cache").exists(),
        "--cache-dir must not use the data directory"
    );
}

#[test]
fn no_cache_writes_no_cache() {
    let (img, _) = layout();
    let data = tempfile::tempdir().unwrap();
    let o = run(
        data.path(),
        &[
            "scan",
            &format!("oci:{}", img.path().display()),
            "--no-cache",
            "-q",
        ],
    );
    assert!(o.status.success());
    assert!(!data.path().join("layer-cache").exists());
}
