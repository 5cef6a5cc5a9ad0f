//! The OpenAPI document of `stella serve` against the official schema and the real router.
//!
//! Each test runs the whole service (`stella_service::run_roles` with every role: the gateway in
//! front, embedded backends in a temporary directory) on a loopback port and talks HTTP to it:
//! - the served `/openapi.json` is the module's document, OpenAPI 3.1.0, and valid against the
//!   official OpenAPI 3.1 JSON Schema, checked by the `openapi-spec-validator` Python package
//!   (which ships that schema). Without Python or the package the check is skipped, except under
//!   `CI`, where it fails;
//! - the document and the router agree both ways: the route paths are read from the `.route("…")`
//!   literals of the service's and the authority's sources, every method of every such path is
//!   sent to the live server, and the set of (method, path) it serves (anything but a 405 or the
//!   fallback's "no such route" 404) must equal the set the document lists;
//! - structural promises a validator cannot see: every `$ref` resolves, every path template
//!   variable is a declared parameter, every operation lists 429, 502 and 504, scan routes require
//!   the DPoP scheme plus an oauth2 scope the scheme defines, and the document is deterministic.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use stella_service::config::Overrides;
use stella_service::{StellaConfig, openapi};

/// A running service; stops when dropped.
struct Service {
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn start() -> Service {
    let dir = tempfile::tempdir().unwrap();
    // A free port for the gateway; the roles behind it run in-process.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let overrides = Overrides {
        roles: None,
        settings: vec![
            ("server.listen", format!("127.0.0.1:{port}")),
            (
                "server.data_dir",
                dir.path().join("data").display().to_string(),
            ),
            // This test sends dozens of anonymous requests in a second.
            ("gateway.rate_limit.anonymous", "0".into()),
        ],
    };
    // No environment: the caller's STELLA_* variables must not move the backends.
    let config =
        StellaConfig::load(None, |_| None, &overrides, || Ok(dir.path().join("data"))).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        if let Err(e) = stella_service::run_roles(config, async {
            let _ = stopped.await;
        })
        .await
        {
            panic!("the service failed: {e:#}");
        }
    });
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{base}/openapi.json")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the service did not come up on {base}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Service {
        base,
        _stop: stop,
        _dir: dir,
    }
}

/// Sends `method path`, waiting out a rate limit (429) if a gateway gives one.
async fn send(base: &str, method: &str, path: &str) -> (u16, Value) {
    let http = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    for _ in 0..20 {
        let r = http
            .request(method.clone(), format!("{base}{path}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = r.status().as_u16();
        if status == 429 {
            let wait = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait.clamp(1, 5))).await;
            continue;
        }
        let text = r.text().await.unwrap_or_default();
        return (status, serde_json::from_str(&text).unwrap_or(Value::Null));
    }
    panic!("{method} {path}: still rate limited after 20 tries");
}

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The (METHOD, path) pairs the document lists.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if METHODS.contains(&method.to_uppercase().as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The path literals of every `.route("…"` in the service's and the authority's sources
/// (unit-test modules excluded: their routers are not served).
fn routes_in_sources() -> BTreeSet<String> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&here.join("src"), &mut files);
    rust_files(&here.join("../stella-authority/src"), &mut files);
    let mut out = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        // Code only: comments may quote `.route("…")` too.
        let text: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let text = text.as_str();
        for marker in [".route(", ".route_service("] {
            for (i, _) in text.match_indices(marker) {
                let rest = text[i + marker.len()..].trim_start();
                let Some(rest) = rest.strip_prefix('"') else {
                    panic!(
                        "{}: a route whose path is not a string literal; write the literal so \
                         this test can compare it with the OpenAPI document",
                        file.display()
                    );
                };
                let end = rest.find('"').expect("closing quote");
                out.insert(rest[..end].to_owned());
            }
        }
        assert!(
            !text.contains(".nest(") && !text.contains(".nest_service("),
            "{}: nested routers are not followed by this test; list their routes in full",
            file.display()
        );
    }
    out
}

/// A 405, or the "no such route" 404 of the gateway (`error_description`) or of a role's
/// fallback (`message`).
fn is_route_miss(status: u16, body: &Value) -> bool {
    status == 405
        || (status == 404
            && (body["message"] == "no such route" || body["error_description"] == "no such route"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_document_is_valid_openapi_3_1() {
    let service = start().await;
    let r = reqwest::get(format!("{}/openapi.json", service.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "application/json",
        "the document's media type"
    );
    let bytes = r.bytes().await.unwrap();
    let served: Value = serde_json::from_slice(&bytes).expect("the document is JSON");
    assert_eq!(served, openapi::document(&service.base));
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(served["servers"][0]["url"], service.base.as_str());

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &bytes).unwrap();
    // The validator picks the 3.1 schema explicitly, so a 3.0-looking document cannot pass as
    // valid under the older rules.
    let script = "import json, sys\n\
        from openapi_spec_validator import validate\n\
        from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator\n\
        validate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator)\n\
        print('valid OpenAPI 3.1')\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&file)
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => return missing_validator(&format!("python3: {e}")),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("No module named 'openapi_spec_validator'") {
        return missing_validator("the Python package openapi-spec-validator is not installed");
    }
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{stderr}"
    );
}

fn missing_validator(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!(
            "{why}: CI must run the OpenAPI 3.1 validation (pip install openapi-spec-validator)"
        );
    }
    eprintln!("skipping the OpenAPI 3.1 schema validation: {why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_lists_exactly_the_routes_the_router_serves() {
    let service = start().await;
    let doc = openapi::document(&service.base);
    let documented = documented(&doc);

    let in_sources = routes_in_sources();
    let documented_paths: BTreeSet<String> = documented.iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(
        in_sources, documented_paths,
        "the route paths of the sources (left) and of the OpenAPI document (right) differ"
    );

    // The detection itself: an unknown path is a miss, and so is an unrouted method.
    let (status, body) = send(&service.base, "GET", "/no/such/route").await;
    assert!(is_route_miss(status, &body), "{status} {body}");

    let mut served = BTreeSet::new();
    for path in &in_sources {
        let concrete = path.replace("{id}", "scan-0123456789abcdef");
        assert!(
            !concrete.contains('{'),
            "{path}: give this test a value for the path variable"
        );
        for method in METHODS {
            let (status, body) = send(&service.base, method, &concrete).await;
            if !is_route_miss(status, &body) {
                served.insert((method.to_owned(), path.clone()));
            }
        }
    }
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not documented: {undocumented:?}; documented but not served: {unserved:?}"
    );
}

fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("{reference}: only local references are expected"));
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("{reference} does not resolve"))
}

fn all_refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().expect("$ref is a string"));
                } else {
                    all_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| all_refs(v, out)),
        _ => {}
    }
}

#[test]
fn document_is_deterministic_and_states_what_a_validator_cannot_see() {
    let base = "https://stella.example.test";
    let doc = openapi::document(base);
    assert_eq!(
        serde_json::to_string(&doc).unwrap(),
        serde_json::to_string(&openapi::document(&format!("{base}/"))).unwrap(),
        "the document is the same for the same public URL, trailing slash or not"
    );

    let mut refs = Vec::new();
    all_refs(&doc, &mut refs);
    for r in refs {
        resolve(&doc, r);
    }

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["DPoP"]["type"], "http");
    assert_eq!(schemes["DPoP"]["scheme"], "DPoP");
    let flow = &schemes["oauth2"]["flows"]["clientCredentials"];
    assert_eq!(flow["tokenUrl"], format!("{base}/token"));
    let scopes: BTreeSet<&str> = flow["scopes"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        scopes,
        BTreeSet::from([openapi::SCOPE_ENQUEUE, openapi::SCOPE_READ])
    );

    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let what = format!("{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            for code in ["429", "502", "504"] {
                assert!(responses.contains_key(code), "{what} lacks {code}");
            }
            let params: Vec<&Value> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| match p["$ref"].as_str() {
                            Some(r) => resolve(&doc, r),
                            None => p,
                        })
                        .collect()
                })
                .unwrap_or_default();
            for var in path.split('{').skip(1).filter_map(|s| s.split('}').next()) {
                assert!(
                    params
                        .iter()
                        .any(|p| p["in"] == "path" && p["name"] == var && p["required"] == true),
                    "{what}: path variable {var} is not a required path parameter"
                );
            }
            if path.starts_with("/api/") {
                let requirement = &op["security"][0];
                assert!(requirement.get("DPoP").is_some(), "{what}: no DPoP scheme");
                let scope = requirement["oauth2"][0].as_str().unwrap_or_default();
                assert!(scopes.contains(scope), "{what}: scope {scope:?} undefined");
                for code in ["401", "403"] {
                    assert!(responses.contains_key(code), "{what} lacks {code}");
                }
                assert!(
                    params
                        .iter()
                        .any(|p| p["in"] == "header" && p["name"] == "DPoP"),
                    "{what}: no DPoP proof header"
                );
            }
        }
    }
    let post = &doc["paths"]["/api/v1/scans"]["post"];
    assert_eq!(post["security"][0]["oauth2"][0], openapi::SCOPE_ENQUEUE);
    assert!(post["responses"]["202"]["headers"]["Location"]["required"] == true);
    assert_eq!(
        doc["paths"]["/api/v1/scans/{id}"]["get"]["security"][0]["oauth2"][0],
        openapi::SCOPE_READ
    );
}
