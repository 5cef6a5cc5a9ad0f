//! Hostile and broken inputs: each must give a clear error naming the input, exit code 3, no
//! panic, no output file, and nothing written anywhere but the cache.

mod common;

use common::*;
use std::path::Path;

struct Outcome {
    code: i32,
    stderr: String,
}

/// Scans `target` from an empty working directory with `-o`, then checks the invariants every
/// failure must keep.
fn scan_fails(target: &str, extra: &[&str]) -> Outcome {
    let work = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = work.path().join("out.spdx.json");
    let mut args = vec![
        "scan",
        target,
        "--format",
        "spdx",
        "-o",
        out.to_str().unwrap(),
        "-q",
    ];
    args.extend_from_slice(extra);
    let o = stella()
        .current_dir(work.path())
        .env("STELLA_DATA_DIR", data.path())
        .args(&args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "panic on {target}: {stderr}");
    assert!(!out.exists(), "{target}: a failed scan left an output file");
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        0,
        "{target}: files were written to the working directory"
    );
    for e in walk(data.path()) {
        assert!(
            e.starts_with(data.path().join("layer-cache")),
            "{target}: wrote {} outside the cache",
            e.display()
        );
    }
    Outcome {
        code: o.status.code().unwrap_or(-1),
        stderr,
    }
}

fn walk(p: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            out.push(e.path());
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            }
        }
    }
    out
}

fn layout_with(layers: Vec<Vec<u8>>) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    oci_layout(d.path(), &layers);
    d
}

fn assert_error(o: &Outcome, needles: &[&str]) {
    assert_eq!(o.code, 3, "exit code; stderr: {}", o.stderr);
    for n in needles {
        assert!(
            o.stderr.contains(n),
            "stderr should mention {n:?}: {}",
            o.stderr
        );
    }
}

fn good_layer() -> Vec<u8> {
    tar_layer(&[
        Entry::Dir("etc/"),
        Entry::File("etc/os-release", OS_RELEASE),
        Entry::File("var/lib/dpkg/status", STATUS),
    ])
}

#[test]
fn a_well_formed_hand_made_layout_scans() {
    let d = layout_with(vec![gzip(&good_layer())]);
    let data = tempfile::tempdir().unwrap();
    let o = run(
        data.path(),
        &[
            "scan",
            &format!("oci:{}", d.path().display()),
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = v.to_string();
    assert!(
        text.contains("pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12"),
        "{text}"
    );
}

#[test]
fn truncated_layer() {
    let gz = gzip(&good_layer());
    let d = layout_with(vec![gz[..gz.len() / 2].to_vec()]);
    let o = scan_fails(&format!("oci:{}", d.path().display()), &[]);
    assert_error(&o, &["layer 0", "truncated"]);
}

#[test]
fn corrupt_gzip() {
    let mut gz = gzip(&good_layer());
    for b in gz.iter_mut().skip(20).take(40) {
        *b ^= 0x5a;
    }
    let d = layout_with(vec![gz]);
    let o = scan_fails(&format!("oci:{}", d.path().display()), &[]);
    assert_error(&o, &["layer 0", "corrupt"]);
}

#[test]
fn blob_digest_mismatch() {
    let d = layout_with(vec![gzip(&good_layer())]);
    // Replace the layer blob's bytes, keeping its name (the digest the manifest states) and size.
    let blobs = d.path().join("blobs/sha256");
    let layer_digest = sha256_hex(&gzip(&good_layer()));
    let path = blobs.join(&layer_digest);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 9] ^= 0xff; // inside the gzip trailer's CRC: decompression still succeeds
    std::fs::write(&path, &bytes).unwrap();
    let o = scan_fails(&format!("oci:{}", d.path().display()), &[]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(
        o.stderr.contains("digest mismatch") || o.stderr.contains("corrupt"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains(&layer_digest[..12]),
        "names the blob: {}",
        o.stderr
    );
}

#[test]
fn parent_directory_path_in_layer() {
    let d = layout_with(vec![tar_layer(&[Entry::File("../../etc/evil", b"x")])]);
    let o = scan_fails(&format!("oci:{}", d.path().display()), &[]);
    assert_error(&o, &["../../etc/evil", "climbs out of the image root"]);
}

#[test]
fn absolute_path_in_layer() {
    let d = layout_with(vec![tar_layer(&[Entry::File("/etc/evil", b"x")])]);
    let o = scan_fails(&format!("oci:{}", d.path().display()), &[]);
    assert_error(&o, &["/etc/evil", "absolute path"]);
}

#[test]
fn symlink_out_of_the_root() {
    let d = layout_with(vec![tar_layer(&[
        Entry::Dir("etc/"),
        Entry::Symlink("etc/os-release", "../../../../host/etc/os-release"),
    ])]);
    let o = scan_fails(&format!("oci:{}", d.path().display()), &[]);
    assert_error(&o, &["etc/os-release", "escapes the image root"]);
}

#[test]
fn symlink_loop() {
    let d = layout_with(vec![tar_layer(&[
        Entry::Dir("etc/"),
        Entry::Symlink("etc/os-release", "os-release2"),
        Entry::Symlink("etc/os-release2", "os-release"),
    ])]);
    let o = scan_fails(&format!("oci:{}", d.path().display()), &[]);
    assert_error(&o, &["etc/os-release", "symlink loop"]);
}

#[test]
fn decompression_bomb_is_stopped_by_the_size_limit() {
    // 64 MiB of zeros gzips to ~64 KiB; the limit is 8 MiB.
    let zeros = vec![0u8; 64 << 20];
    let bomb = gzip(&tar_layer(&[Entry::File("zeros", &zeros)]));
    assert!(bomb.len() < 1 << 20);
    let d = layout_with(vec![bomb]);
    let o = scan_fails(
        &format!("oci:{}", d.path().display()),
        &["--max-layer-size", "8M"],
    );
    assert_error(&o, &["layer 0", "exceeds the limit", "decompression bomb"]);
}

#[test]
fn manifest_naming_a_missing_blob() {
    let d = layout_with(vec![gzip(&good_layer())]);
    let layer_digest = sha256_hex(&gzip(&good_layer()));
    std::fs::remove_file(d.path().join("blobs/sha256").join(&layer_digest)).unwrap();
    let o = scan_fails(&format!("oci:{}", d.path().display()), &["--no-cache"]);
    assert_error(&o, &[&layer_digest, "missing"]);
}

#[test]
fn a_file_that_is_no_image() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.txt");
    std::fs::write(&f, "just some text, not a tar archive\n".repeat(40)).unwrap();
    let o = scan_fails(f.to_str().unwrap(), &[]);
    assert_error(&o, &["notes.txt", "not"]);
    let o = scan_fails(&format!("docker-archive:{}", f.display()), &[]);
    assert_error(&o, &["notes.txt"]);
    let o = scan_fails(&format!("oci:{}", dir.path().display()), &[]);
    assert_error(&o, &["oci-layout"]);
}

#[test]
fn a_missing_target() {
    let o = scan_fails("/no/such/image.tar", &[]);
    assert_error(&o, &["/no/such/image.tar", "docker://"]);
}
