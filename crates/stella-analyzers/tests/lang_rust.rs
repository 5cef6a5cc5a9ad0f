//! Cargo.lock fixtures from trivy's parser tests (read in place), and this workspace's own
//! Cargo.lock (v4), cross-checked by counting `[[package]]` tables in the text. No binary built
//! with `cargo auditable` is available here: the `.dep-v0` reader is tested in `lang::rust` on
//! a synthesized ELF.

use stella_analyzers::Analyzer;
use stella_analyzers::lang::rust_cargo_lock::CargoLockAnalyzer;

const FIXTURES: &str =
    "../../../shared/data/fixtures-trivy-parsers/src/pkg/dependency/parser/rust/cargo/testdata";

fn fixture(name: &str) -> Option<Vec<u8>> {
    std::fs::read(format!("{}/{FIXTURES}/{name}", env!("CARGO_MANIFEST_DIR"))).ok()
}

#[test]
fn trivy_cargo_lock_fixtures() {
    let Some(normal) = fixture("cargo_normal.lock") else {
        eprintln!("fixtures absent; skipped");
        return;
    };
    for name in ["cargo_normal.lock", "cargo_v3.lock", "cargo_mixed.lock"] {
        let data = if name == "cargo_normal.lock" {
            normal.clone()
        } else {
            fixture(name).unwrap()
        };
        let facts = CargoLockAnalyzer.analyze("app/Cargo.lock", &data).unwrap();
        let text = String::from_utf8(data).unwrap();
        assert_eq!(
            facts.packages.len(),
            text.matches("[[package]]").count(),
            "{name}"
        );
        for p in &facts.packages {
            assert_eq!(p.purl, format!("pkg:cargo/{}@{}", p.name, p.version));
        }
    }
    let facts = CargoLockAnalyzer
        .analyze("Cargo.lock", &fixture("cargo_mixed.lock").unwrap())
        .unwrap();
    let url = facts.packages.iter().find(|p| p.name == "url").unwrap();
    assert_eq!(url.version, "1.7.2");
    let normal = facts.packages.iter().find(|p| p.name == "normal").unwrap();
    assert_eq!(normal.depends[0].name, "libc");
    let err = CargoLockAnalyzer
        .analyze("src/Cargo.lock", &fixture("cargo_invalid.lock").unwrap())
        .unwrap_err();
    assert_eq!(err.path, "src/Cargo.lock");
}

#[test]
fn this_workspace_lockfile() {
    let path = format!("{}/../../Cargo.lock", env!("CARGO_MANIFEST_DIR"));
    let data = std::fs::read(path).unwrap();
    let facts = CargoLockAnalyzer.analyze("Cargo.lock", &data).unwrap();
    let text = String::from_utf8(data).unwrap();
    assert_eq!(facts.packages.len(), text.matches("[[package]]").count());
    let serde = facts.packages.iter().find(|p| p.name == "serde").unwrap();
    assert_eq!(serde.properties["cargo.checksum"].len(), 64);
    assert_eq!(serde.properties["cargo.lock_version"], "4");
    let ours = facts
        .packages
        .iter()
        .find(|p| p.name == "stella-analyzers")
        .unwrap();
    assert!(ours.depends.iter().any(|d| d.name == "zip"));
    assert!(!ours.properties.contains_key("cargo.source"));
}
