//! Helpers shared by the CLI's integration tests: running the real `stella` binary, and
//! building small OCI layouts from hand-made layers (for the hostile-input tests; the real
//! images come from tests/images/build-test-images.sh).

#![allow(dead_code)]

use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn stella() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stella"));
    c.env_remove("SOURCE_DATE_EPOCH").env_remove("RUST_LOG");
    c
}

/// Runs `stella` with its data directory in `data`.
pub fn run(data: &Path, args: &[&str]) -> Output {
    stella()
        .env("STELLA_DATA_DIR", data)
        .args(args)
        .output()
        .expect("run stella")
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One tar entry of a hand-made layer. Paths are written into the header raw, so hostile
/// names (`../x`, `/etc/x`) that the `tar` crate's builder refuses can be made.
pub enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    Dir(&'a str),
}

pub fn tar_layer(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_old();
        let (name, data, kind, link): (&str, &[u8], tar::EntryType, &str) = match e {
            Entry::File(n, d) => (n, d, tar::EntryType::Regular, ""),
            Entry::Symlink(n, t) => (n, b"", tar::EntryType::Symlink, t),
            Entry::Dir(n) => (n, b"", tar::EntryType::Directory, ""),
        };
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(kind);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out.extend(std::iter::repeat_n(0u8, 1024));
    out
}

pub fn gzip(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Writes an OCI layout at `dir` with one image (tag `latest`) made of `layers` (raw blob
/// bytes, as stored). `diff_ids` are computed from the uncompressed tars given in `tars`.
pub fn oci_layout(dir: &Path, layers: &[Vec<u8>]) -> PathBuf {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |b: &[u8]| {
        let h = sha256_hex(b);
        std::fs::write(blobs.join(&h), b).unwrap();
        (format!("sha256:{h}"), b.len())
    };
    let layer_descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| {
            let (d, n) = put(l);
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n})
        })
        .collect();
    let config = serde_json::json!({
        "created": "2024-01-02T03:04:05Z", "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| format!("sha256:{}", sha256_hex(l))).collect::<Vec<_>>()},
    });
    let (cd, cn) = put(serde_json::to_vec(&config).unwrap().as_slice());
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
        "layers": layer_descs,
    });
    let (md, mn) = put(serde_json::to_vec(&manifest).unwrap().as_slice());
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    dir.to_path_buf()
}

pub const OS_RELEASE: &[u8] = b"ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
pub const STATUS: &[u8] = b"Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u5\n\n";

/// Paths of the real test images built by `tests/images/build-test-images.sh` (debootstrap +
/// umoci + skopeo), built on first use and cached outside the clone. `None` (with the reason
/// printed) when they cannot be built outside CI; in CI a failure to build them fails the test.
pub fn test_images() -> Option<&'static std::collections::BTreeMap<String, String>> {
    use std::sync::OnceLock;
    static IMAGES: OnceLock<Result<std::collections::BTreeMap<String, String>, String>> =
        OnceLock::new();
    let r = IMAGES.get_or_init(|| {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/images/build-test-images.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed:\n{}\n{}",
                script.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let dir = std::env::var("STELLA_TEST_IMAGES")
            .ok()
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let cache = std::env::var("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|_| {
                        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache")
                    });
                cache.join("stella/test-images")
            });
        let env = std::fs::read_to_string(dir.join("manifest.env"))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(env
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.trim_matches('"').trim_matches('\'').to_string(),
                )
            })
            .collect())
    });
    match r {
        Ok(m) => Some(m),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping: the test images could not be built outside CI: {e}");
            None
        }
        Err(e) => panic!("the test images could not be built: {e}"),
    }
}

/// `name\tversion\tarch` lines of a JSON report's packages, sorted as `LC_ALL=C sort` would.
pub fn inventory_tsv(report: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(report).expect("JSON report");
    let mut lines: Vec<String> = v["packages"]
        .as_array()
        .expect("packages array")
        .iter()
        .map(|p| {
            format!(
                "{}\t{}\t{}",
                p["name"].as_str().unwrap_or(""),
                p["version"].as_str().unwrap_or(""),
                p["arch"].as_str().unwrap_or("")
            )
        })
        .collect();
    lines.sort();
    lines
}

pub fn read_tsv(path: &str) -> Vec<String> {
    let mut l: Vec<String> = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    l.sort();
    l
}

/// Validates an SBOM file with its ecosystem's own validator: `pyspdxtools -i` for SPDX, the
/// official CycloneDX 1.6 JSON schema (check-jsonschema, its `$ref`s resolved from the local
/// copy in shared/data) otherwise. A missing validator skips outside CI and fails in CI.
pub fn validate_sbom(format: &str, path: &Path) {
    let schemas =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/schemas-cyclonedx/schema");
    let check = match format {
        "spdx" => Command::new("pyspdxtools").arg("-i").arg(path).output(),
        _ => Command::new("check-jsonschema")
            .arg("--base-uri")
            .arg(format!("file://{}/", schemas.display()))
            .arg("--schemafile")
            .arg(schemas.join("bom-1.6.schema.json"))
            .arg(path)
            .output(),
    };
    match check {
        Ok(o) => assert!(
            o.status.success(),
            "{format} validation of {} failed:\n{}\n{}",
            path.display(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping {format} validation: {e}")
        }
        Err(e) => panic!("{format} validator missing in CI: {e}"),
    }
}

/// Validates a JSON file against a JSON Schema with `check-jsonschema` (skipped with a message
/// outside CI when the tool is missing; a failure in CI).
pub fn check_jsonschema(schema: &Path, path: &Path) {
    match Command::new("check-jsonschema")
        .arg("--schemafile")
        .arg(schema)
        .arg(path)
        .output()
    {
        Ok(o) => assert!(
            o.status.success(),
            "validation of {} against {} failed:\n{}\n{}",
            path.display(),
            schema.display(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping validation of {}: {e}", path.display())
        }
        Err(e) => panic!("check-jsonschema missing in CI: {e}"),
    }
}

/// `../shared/data/REL`: the real public data sets the tests read.
pub fn shared_data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel)
}

/// Writes an OSV `all.zip` (one JSON record per entry, as osv.dev publishes them) from a
/// shared `osv.ndjson.zst` data set.
pub fn write_osv_zip(path: &Path, ndjson_zst: &str) {
    use std::io::{BufRead, Write};
    let src = shared_data(ndjson_zst);
    let f = std::fs::File::open(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let r = std::io::BufReader::new(zstd::Decoder::new(f).unwrap());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    for line in r.lines() {
        let rec =
            serde_json::from_str::<serde_json::Value>(&line.unwrap()).unwrap()["record"].clone();
        z.start_file(format!("{}.json", rec["id"].as_str().unwrap()), opts)
            .unwrap();
        z.write_all(&serde_json::to_vec(&rec).unwrap()).unwrap();
    }
    z.finish().unwrap();
}
