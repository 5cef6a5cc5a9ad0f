//! `stella feeds sync|status|import` and `stella advisory show` on the real public data sets in
//! ../shared/data, served from a real HTTP server on 127.0.0.1 with each upstream's own layout.

mod common;

use common::{run, sha256_hex};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel)
}

/// OSV records from an `.ndjson.zst` of `{"path", "record"}` lines (the shared data layout).
fn ndjson_records(rel: &str) -> Vec<Value> {
    let f = std::fs::File::open(shared(rel)).unwrap();
    let r = std::io::BufReader::new(zstd::Decoder::new(f).unwrap());
    r.lines()
        .map(|l| serde_json::from_str::<Value>(&l.unwrap()).unwrap()["record"].clone())
        .collect()
}

/// osv.dev's `<Ecosystem>/all.zip`: one `<ID>.json` per record.
fn write_all_zip(path: &Path, records: &[Value]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for r in records {
        z.start_file(format!("{}.json", r["id"].as_str().unwrap()), opts)
            .unwrap();
        z.write_all(&serde_json::to_vec(r).unwrap()).unwrap();
    }
    z.finish().unwrap();
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
}

fn gzip_file(from: &Path, to: &Path) {
    let bytes = std::fs::read(from).unwrap();
    std::fs::write(to, common::gzip(&bytes)).unwrap();
}

/// Maven records of the GHSA set: real advisories (not the synthetic test ones).
fn maven_records() -> Vec<Value> {
    let text = std::fs::read_to_string(shared(
        "osv-records-from-scanner-testdata/osv-records.ndjson",
    ))
    .unwrap();
    let mut seen = BTreeSet::new();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["record"].clone())
        .filter(|r| {
            let id = r["id"].as_str().unwrap_or("");
            id.starts_with("GHSA-")
                && r["affected"]
                    .as_array()
                    .is_some_and(|a| a.iter().all(|x| x["package"]["ecosystem"] == "Maven"))
                && seen.insert(id.to_string())
        })
        .collect()
}

/// A mirror of every feed with its upstream layout, built from ../shared/data.
struct Mirror {
    dir: tempfile::TempDir,
    pypi: Vec<Value>,
    go: Vec<Value>,
    crates: Vec<Value>,
    maven: Vec<Value>,
}

impl Mirror {
    fn build() -> Mirror {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let pypi = ndjson_records("osv-pypa/osv.ndjson.zst");
        let go = ndjson_records("osv-golang-vulndb/osv.ndjson.zst");
        let crates = ndjson_records("osv-rustsec/osv.ndjson.zst");
        let maven = maven_records();
        write_all_zip(&root.join("PyPI/all.zip"), &pypi);
        write_all_zip(&root.join("Go/all.zip"), &go);
        write_all_zip(&root.join("crates.io/all.zip"), &crates);
        write_all_zip(&root.join("Maven/all.zip"), &maven);
        copy(
            &shared(
                "vunnel-provider-fixtures/tests/unit/providers/debian/test-fixtures/input/debian.json",
            ),
            &root.join("tracker/data/json"),
        );
        for entry in std::fs::read_dir(shared("alpine-secdb")).unwrap() {
            let e = entry.unwrap();
            if e.path().is_dir() {
                for repo in ["main.yaml", "community.yaml"] {
                    copy(&e.path().join(repo), &root.join(e.file_name()).join(repo));
                }
            }
        }
        copy(
            &shared("cisa-kev/known_exploited_vulnerabilities.json"),
            &root.join("sites/default/files/feeds/known_exploited_vulnerabilities.json"),
        );
        gzip_file(
            &shared(
                "vunnel-provider-fixtures/tests/unit/providers/epss/test-fixtures/example-1.csv",
            ),
            &root.join("epss_scores-current.csv.gz"),
        );
        // A CSAF provider directory: index.txt lists the advisories.
        let mut index = String::new();
        for name in [
            "rhsa-2019_1862.json",
            "rhsa-2021_5186.json",
            "rhsa-2022_0011.json",
        ] {
            copy(
                &shared(&format!("csaf-vex-examples/csaf_2.0/examples/csaf/{name}")),
                &root.join("2021").join(name),
            );
            index.push_str(&format!("2021/{name}\n"));
        }
        std::fs::write(root.join("index.txt"), index).unwrap();
        // cvelistV5's branch archive: cves/<year>/<bucket>/CVE-….json under a top folder.
        let mut z = zip::ZipWriter::new(
            std::fs::File::create({
                let p = root.join("archive/refs/heads/main.zip");
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                p
            })
            .unwrap(),
        );
        let opts =
            zip::write::SimpleFileOptions::default().last_modified_time(zip::DateTime::default());
        for (year, bucket, id) in [
            ("2023", "38xxx", "CVE-2023-38545"),
            ("2023", "44xxx", "CVE-2023-44487"),
            ("2024", "3xxx", "CVE-2024-3094"),
            ("2024", "3xxx", "CVE-2024-3400"),
            ("2024", "6xxx", "CVE-2024-6387"),
        ] {
            let bytes = std::fs::read(shared(&format!(
                "cve5-vulnrichment/sample/{year}/{bucket}/{id}.json"
            )))
            .unwrap();
            z.start_file(
                format!("cvelistV5-main/cves/{year}/{bucket}/{id}.json"),
                opts,
            )
            .unwrap();
            z.write_all(&bytes).unwrap();
        }
        z.finish().unwrap();
        // NVD's API path as one static page (the server ignores the query string).
        copy(
            &shared(
                "nvd-api2-samples/vunnel/tests/unit/providers/nvd/test-fixtures/full-page.json",
            ),
            &root.join("rest/json/cves/2.0"),
        );
        Mirror {
            dir,
            pypi,
            go,
            crates,
            maven,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// CPython's `http.server` serving a folder on 127.0.0.1: a real HTTP server, stopped on drop.
struct StaticServer {
    child: Child,
    port: u16,
}

impl StaticServer {
    fn start(dir: &Path) -> Option<StaticServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = match Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!("skipping: python3 not available: {e}");
                return None;
            }
            Err(e) => panic!("python3 is needed for the HTTP mirror in CI: {e}"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "http.server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(StaticServer { child, port })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn sync_args(url: &str) -> Vec<String> {
    let mut a: Vec<String> = ["feeds", "sync", "--format", "json", "--mirror", url]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for e in ["PyPI", "Go", "crates.io", "Maven"] {
        a.push("--osv-ecosystem".into());
        a.push(e.into());
    }
    for b in [
        "v3.3", "v3.4", "v3.5", "v3.6", "v3.7", "v3.8", "v3.9", "v3.10", "v3.11",
    ] {
        a.push("--alpine-branch".into());
        a.push(b.into());
    }
    a
}

fn source<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

fn unique_ids(records: &[Value]) -> usize {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect::<BTreeSet<_>>()
        .len()
}

#[test]
fn every_feed_syncs_from_an_http_mirror_and_a_resync_writes_nothing() {
    let mirror = Mirror::build();
    let Some(server) = StaticServer::start(mirror.path()) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let args = sync_args(&server.url());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let out = run(data.path(), &args);
    let report = json(&out);
    assert!(
        out.status.success(),
        "{}\n{report:#}",
        String::from_utf8_lossy(&out.stderr)
    );
    // OSV: every record of every all.zip, counted from the inputs.
    let osv = source(&report, "osv");
    let expected_osv = unique_ids(&mirror.pypi)
        + unique_ids(&mirror.go)
        + unique_ids(&mirror.crates)
        + unique_ids(&mirror.maven);
    assert_eq!(osv["documents"], 4);
    assert_eq!(osv["records"].as_u64().unwrap() as usize, expected_osv);
    // KEV: the catalog's own count.
    let kev: Value = serde_json::from_slice(
        &std::fs::read(shared("cisa-kev/known_exploited_vulnerabilities.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(source(&report, "kev")["records"], kev["count"]);
    // Debian: one record per vulnerability id across packages.
    let tracker: Value =
        serde_json::from_slice(&std::fs::read(mirror.path().join("tracker/data/json")).unwrap())
            .unwrap();
    let debian_ids: BTreeSet<&str> = tracker
        .as_object()
        .unwrap()
        .values()
        .flat_map(|p| p.as_object().unwrap().keys().map(String::as_str))
        .collect();
    assert_eq!(
        source(&report, "debian")["records"].as_u64().unwrap() as usize,
        debian_ids.len()
    );
    assert_eq!(source(&report, "nvd")["records"], 38);
    assert_eq!(source(&report, "cve5")["records"], 5);
    assert_eq!(source(&report, "csaf")["records"], 3);
    assert_eq!(source(&report, "epss")["documents"], 1);
    // Alpine: 9 branches, main and community each.
    assert_eq!(source(&report, "alpine")["documents"], 18);
    assert!(source(&report, "alpine")["records"].as_u64().unwrap() > 1000);
    for s in report["sources"].as_array().unwrap() {
        assert_eq!(s["errors"], Value::Array(vec![]), "{s}");
        assert_eq!(s["new"], s["records"], "{s}");
    }
    let snapshot = report["snapshot"].as_str().unwrap().to_string();
    assert!(snapshot.starts_with("sha256:"));

    // Status agrees with what was synced.
    let status = json(&run(data.path(), &["feeds", "status", "--format", "json"]));
    assert_eq!(status["snapshot"]["id"], snapshot.as_str());
    let status_osv = status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "osv")
        .unwrap();
    assert_eq!(
        status_osv["records"].as_u64().unwrap() as usize,
        expected_osv
    );

    // The raw upstream documents are kept byte for byte.
    let store = stella_store::SqliteAdvisoryStore::open(data.path()).unwrap();
    let zip_bytes = std::fs::read(mirror.path().join("PyPI/all.zip")).unwrap();
    let raw = stella_store::AdvisoryStore::raw_document(
        &store,
        &format!("sha256:{}", sha256_hex(&zip_bytes)),
    )
    .unwrap()
    .expect("the PyPI all.zip is stored");
    assert_eq!(raw.bytes, zip_bytes);
    assert!(raw.locator.ends_with("/PyPI/all.zip"));
    drop(store);
    let db = data.path().join("advisories.sqlite");
    let size_before = std::fs::metadata(&db).unwrap().len();

    // A second sync of unchanged data: zero delta, same snapshot, no rows written.
    let again = json(&run(data.path(), &args));
    assert_eq!(again["snapshot"], snapshot.as_str());
    assert_eq!(again["previous"], snapshot.as_str());
    assert_eq!(again["rows_written"], 0);
    for s in again["sources"].as_array().unwrap() {
        assert_eq!(
            (&s["new"], &s["changed"], &s["withdrawn"]),
            (&0.into(), &0.into(), &0.into()),
            "{s}"
        );
    }
    assert_eq!(std::fs::metadata(&db).unwrap().len(), size_before);

    // One modified record: exactly one change. One record gone: exactly one withdrawal.
    let mut pypi = mirror.pypi.clone();
    let changed_id = pypi[0]["id"].as_str().unwrap().to_string();
    pypi[0]["modified"] = "2030-01-01T00:00:00Z".into();
    let gone = pypi.pop().unwrap();
    write_all_zip(&mirror.path().join("PyPI/all.zip"), &pypi);
    let third = json(&run(data.path(), &args));
    let osv = source(&third, "osv");
    assert_eq!(osv["changed"], 1, "{osv}");
    assert_eq!(osv["withdrawn"], 1, "{osv}");
    assert_eq!(osv["new"], 0, "{osv}");
    assert_ne!(third["snapshot"], snapshot.as_str());
    // Both observations of the changed record are kept; the linkset still shows it.
    let shown = json(&run(
        data.path(),
        &["advisory", "show", &changed_id, "--format", "json", "--raw"],
    ));
    let rec = shown["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["upstreamId"] == changed_id.as_str())
        .unwrap();
    assert_eq!(rec["document"], pypi[0], "the upstream record exactly");
    let withdrawn = run(
        data.path(),
        &["advisory", "show", gone["id"].as_str().unwrap()],
    );
    // Its aliases may still be known from other feeds; the record itself is no longer live.
    assert!(
        !String::from_utf8_lossy(&withdrawn.stdout)
            .contains(&format!("[osv] {} ", gone["id"].as_str().unwrap())),
        "{}",
        String::from_utf8_lossy(&withdrawn.stdout)
    );
}

#[test]
fn aliases_join_records_of_different_feeds_into_one_linkset() {
    let data = tempfile::tempdir().unwrap();
    let mirror = tempfile::tempdir().unwrap();
    let pypi = ndjson_records("osv-pypa/osv.ndjson.zst");
    // A PYSEC record with both a CVE and a GHSA alias.
    let rec = pypi
        .iter()
        .find(|r| {
            let a = r["aliases"].as_array();
            a.is_some_and(|a| {
                a.iter().any(|x| x.as_str().unwrap().starts_with("CVE-"))
                    && a.iter().any(|x| x.as_str().unwrap().starts_with("GHSA-"))
            })
        })
        .unwrap();
    let zip = mirror.path().join("PyPI/all.zip");
    write_all_zip(&zip, std::slice::from_ref(rec));
    let out = run(
        data.path(),
        &["feeds", "import", "osv", zip.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let aliases: Vec<&str> = rec["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let cve = aliases.iter().find(|a| a.starts_with("CVE-")).unwrap();
    let ghsa = aliases.iter().find(|a| a.starts_with("GHSA-")).unwrap();
    for id in [*cve, *ghsa, rec["id"].as_str().unwrap()] {
        let shown = json(&run(
            data.path(),
            &["advisory", "show", id, "--format", "json"],
        ));
        assert_eq!(shown["linkset"]["id"], *cve, "the CVE is the preferred id");
        let ids: Vec<&str> = shown["linkset"]["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(ids.contains(ghsa) && ids.contains(cve), "{ids:?}");
    }
    let missing = run(data.path(), &["advisory", "show", "CVE-1900-0001"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("CVE-1900-0001"));
}

#[test]
fn nvd_pages_are_followed_by_start_index() {
    let page: Value = serde_json::from_slice(
        &std::fs::read(shared(
            "nvd-api2-samples/vunnel/tests/unit/providers/nvd/test-fixtures/full-page.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let all = page["vulnerabilities"].as_array().unwrap().clone();
    let total = all.len();
    let server = stella_testkit::HttpServer::start(move |req| {
        if req.path() != "/rest/json/cves/2.0" {
            return stella_testkit::Reply::new(404);
        }
        let start: usize = req
            .query("startIndex")
            .first()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        // Pages of 10, whatever the client asks: the client must follow totalResults.
        let chunk: Vec<Value> = all.iter().skip(start).take(10).cloned().collect();
        let body = serde_json::json!({
            "resultsPerPage": chunk.len(), "startIndex": start, "totalResults": total,
            "format": "NVD_CVE", "version": "2.0", "timestamp": "2024-01-01T00:00:00.000",
            "vulnerabilities": chunk,
        });
        stella_testkit::Reply::new(200)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&body).unwrap())
    });
    let data = tempfile::tempdir().unwrap();
    let url = format!("http://{}", server.host());
    let report = json(&run(
        data.path(),
        &[
            "feeds", "sync", "--source", "nvd", "--mirror", &url, "--format", "json",
        ],
    ));
    let nvd = source(&report, "nvd");
    assert_eq!(nvd["records"].as_u64().unwrap() as usize, total);
    assert_eq!(
        nvd["documents"].as_u64().unwrap() as usize,
        total.div_ceil(10)
    );
    let starts: Vec<String> = server
        .requests()
        .iter()
        .flat_map(|r| r.query("startIndex"))
        .collect();
    assert_eq!(starts, ["0", "10", "20", "30"]);
}

#[test]
fn hostile_feed_documents_are_reported_and_the_rest_of_the_sync_goes_on() {
    let mirror = tempfile::tempdir().unwrap();
    let root = mirror.path();
    let rustsec = ndjson_records("osv-rustsec/osv.ndjson.zst");
    write_all_zip(&root.join("crates.io/all.zip"), &rustsec);
    // Malformed JSON where the Debian tracker should be.
    std::fs::create_dir_all(root.join("tracker/data")).unwrap();
    std::fs::write(root.join("tracker/data/json"), b"{\"glibc\": {\"CVE-1\": [").unwrap();
    // A 1 GiB record (spaces after nothing): a zip entry of 1 GiB, about 1 MiB on the wire.
    let bomb = root.join("PyPI/all.zip");
    std::fs::create_dir_all(bomb.parent().unwrap()).unwrap();
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        z.start_file("PYSEC-0000-0.json", opts).unwrap();
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..1024 {
            z.write_all(&zeros).unwrap();
        }
        z.finish().unwrap();
    }
    // Wrong types and an unknown ecosystem in an otherwise fine zip.
    let mut npm = vec![
        serde_json::json!({"id": "GHSA-bad1", "modified": "2024-01-01T00:00:00Z", "affected": "everything"}),
        serde_json::json!({"id": "GHSA-odd1", "modified": "2024-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "NoSuchEcosystem", "name": "x"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}),
    ];
    npm.extend(rustsec.iter().take(3).cloned());
    write_all_zip(&root.join("npm/all.zip"), &npm);
    // A kev document that is not even JSON.
    let kev = root.join("sites/default/files/feeds/known_exploited_vulnerabilities.json");
    std::fs::create_dir_all(kev.parent().unwrap()).unwrap();
    std::fs::write(&kev, b"\x00\x01 not json").unwrap();

    let data = tempfile::tempdir().unwrap();
    let out = run(
        data.path(),
        &[
            "feeds",
            "sync",
            "--format",
            "json",
            "--mirror",
            root.to_str().unwrap(),
            "--source",
            "osv",
            "--source",
            "debian",
            "--source",
            "kev",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "errors give exit code 3");
    let report = json(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let osv = source(&report, "osv");
    // crates.io whole, npm minus its broken record, PyPI's bomb refused.
    assert_eq!(
        osv["records"].as_u64().unwrap() as usize,
        unique_ids(&rustsec) + 4,
        "{osv}"
    );
    let errors: Vec<&str> = osv["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(errors.iter().any(|e| e.contains("GHSA-bad1")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("PyPI/all.zip")),
        "{errors:?}"
    );
    assert!(
        source(&report, "debian")["errors"][0]
            .as_str()
            .unwrap()
            .contains("tracker/data/json"),
        "{report:#}"
    );
    assert!(
        source(&report, "kev")["errors"][0]
            .as_str()
            .unwrap()
            .contains("known_exploited_vulnerabilities.json")
    );
    assert!(stderr.contains("error:"), "{stderr}");
    // The good parts are committed as one snapshot; the unknown ecosystem is kept.
    assert!(report["snapshot"].as_str().unwrap().starts_with("sha256:"));
    let odd = run(data.path(), &["advisory", "show", "GHSA-odd1"]);
    assert!(odd.status.success());
    assert!(String::from_utf8_lossy(&odd.stdout).contains("NoSuchEcosystem"));
}

#[test]
fn an_oversized_document_is_refused_by_its_declared_length() {
    // Claims a gigabyte; the client refuses before reading a byte of it.
    let server = stella_testkit::HttpServer::start(|_req| {
        stella_testkit::Reply::new(200)
            .header("Content-Length", "1073741824")
            .body(Vec::new())
    });
    let data = tempfile::tempdir().unwrap();
    let url = format!("http://{}", server.host());
    let out = run(
        data.path(),
        &[
            "feeds",
            "sync",
            "--source",
            "kev",
            "--mirror",
            &url,
            "--max-document-size",
            "64M",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("larger than the limit"), "{stderr}");
    assert!(
        stderr.contains("known_exploited_vulnerabilities.json"),
        "{stderr}"
    );
}

#[test]
fn import_reads_files_and_folders_without_network() {
    let data = tempfile::tempdir().unwrap();
    // A folder of OSV YAML records, as the R advisory database publishes them.
    let out = run(
        data.path(),
        &[
            "feeds",
            "import",
            "osv",
            shared("osv-cran-r/vulns").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    let yaml_files = walkdir_count(&shared("osv-cran-r/vulns"), "yaml");
    assert_eq!(
        source(&report, "osv")["records"].as_u64().unwrap() as usize,
        yaml_files
    );
    // An EPSS file and a KEV catalog, then a missing path.
    let epss =
        shared("vunnel-provider-fixtures/tests/unit/providers/epss/test-fixtures/example-1.csv");
    let out = run(
        data.path(),
        &["feeds", "import", "epss", epss.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        data.path(),
        &["feeds", "import", "kev", "/nonexistent/kev.json"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/kev.json"));
    let out = run(data.path(), &["feeds", "import", "nosuchfeed", "x"]);
    assert_eq!(out.status.code(), Some(2));
}

fn walkdir_count(dir: &Path, ext: &str) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            n += walkdir_count(&p, ext);
        } else if p.extension().is_some_and(|x| x == ext) {
            n += 1;
        }
    }
    n
}

#[test]
fn a_sync_that_reads_nothing_leaves_no_snapshot_to_gate_on() {
    let mirror = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = run(
        data.path(),
        &[
            "feeds",
            "sync",
            "--source",
            "kev",
            "--mirror",
            mirror.path().to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    let status = json(&run(data.path(), &["feeds", "status", "--format", "json"]));
    assert_eq!(status["snapshot"], Value::Null);
    // A gate on that store is an error, not a pass on nothing.
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        data.path(),
        &[
            "scan",
            &format!("dir:{}", dir.path().display()),
            "--fail-on",
            "low",
            "-q",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
