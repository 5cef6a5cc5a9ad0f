//! Helpers shared by the integration tests: schema validation with local files only (the
//! `jsonschema` crate in-process, and the `check-jsonschema` tool that CI installs).

// Each test binary uses only some of these.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("output is JSON")
}

pub fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

pub fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Resolves `$ref`s to documents read from disk beforehand, by `$id`; anything else is an
/// error, so a validator can never reach for the network.
pub struct LocalSchemas(BTreeMap<String, Value>);

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        self.0
            .get(uri.as_str())
            .cloned()
            .ok_or_else(|| format!("schema {uri} is not available locally").into())
    }
}

pub fn validator(schema_path: &Path, extra: &[&Path]) -> jsonschema::Validator {
    let schema = read_json(schema_path);
    let mut local = BTreeMap::new();
    for p in extra {
        let doc = read_json(p);
        let id = doc["$id"]
            .as_str()
            .expect("referenced schema has an $id")
            .to_string();
        local.insert(id, doc);
    }
    jsonschema::options()
        .should_validate_formats(true)
        .with_retriever(LocalSchemas(local))
        .build(&schema)
        .unwrap_or_else(|e| panic!("compile {}: {e}", schema_path.display()))
}

pub fn schema_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

pub fn cyclonedx_validator() -> jsonschema::Validator {
    let dir = shared_data().join("schemas-cyclonedx/schema");
    validator(
        &dir.join("bom-1.6.schema.json"),
        &[
            &dir.join("spdx.schema.json"),
            &dir.join("jsf-0.82.schema.json"),
        ],
    )
}

pub fn spdx_validator() -> jsonschema::Validator {
    validator(
        &shared_data().join("schemas-spdx/2.3/schemas/spdx-schema.json"),
        &[],
    )
}

pub fn report_validator() -> jsonschema::Validator {
    validator(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json"),
        &[],
    )
}

/// The SARIF 2.1.0 schema: the TC's current errata 01 text (draft-04), whose `id` is the
/// `$schema` the SARIF encoder writes. (The copy embedded with the prose, `prose/`, is not a
/// valid schema: its `run.language` pattern has an unbalanced `]`, which both validators
/// reject; the errata text fixed it.)
pub fn sarif_schema() -> PathBuf {
    shared_data().join("schemas-sarif/sarif-2.1/schema/sarif-schema-2.1.0.json")
}

pub fn sarif_validator() -> jsonschema::Validator {
    validator(&sarif_schema(), &[])
}

pub fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Validates `doc` with the `check-jsonschema` tool (PyPI `check-jsonschema`, which `.ci/run`
/// installs) against `schema`, resolving `$ref`s to files beside it, as
/// `stella-cli`'s tests validate SBOMs. Without the tool the check is skipped with a message,
/// unless `CI` is set: there it must run.
pub fn check_jsonschema(schema: &Path, doc: &[u8], name: &str) {
    let Some(tool) = find_on_path("check-jsonschema") else {
        if std::env::var_os("CI").is_some() {
            panic!("check-jsonschema (PyPI check-jsonschema) is not installed, and CI is set");
        }
        eprintln!("skipping check-jsonschema validation of {name}: the tool is not on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, doc).unwrap();
    // `file://` URIs are resolved lexically: `..` must be gone before the schema's directory
    // becomes the base of its `$ref`s.
    let schema = std::fs::canonicalize(schema)
        .unwrap_or_else(|e| panic!("schema {}: {e}", schema.display()));
    let schema_dir = schema.parent().unwrap();
    let out = Command::new(tool)
        .arg("--base-uri")
        .arg(format!("file://{}/", schema_dir.display()))
        .arg("--schemafile")
        .arg(&schema)
        .arg(&path)
        .output()
        .expect("run check-jsonschema");
    assert!(
        out.status.success(),
        "check-jsonschema rejected {name} against {}:\n{}{}",
        schema.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
