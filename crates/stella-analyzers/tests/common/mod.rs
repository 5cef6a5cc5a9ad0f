//! Helpers shared by the analyzers' fixture tests.

#![allow(dead_code)]

use std::path::PathBuf;
use stella_analyzers::{Analyzer, all_analyzers};

/// A file of Trivy's parser fixtures, read in place from `shared/data` (never copied):
/// `rel` is relative to `pkg/dependency/parser`, e.g. `php/composer/testdata/composer_happy.lock`.
pub fn parser_fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/fixtures-trivy-parsers/src/pkg/dependency/parser")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The one analyzer of the whole set that wants `path` (it must be exactly one).
pub fn analyzer_for(path: &str) -> Box<dyn Analyzer> {
    let mut wanting: Vec<Box<dyn Analyzer>> = all_analyzers()
        .into_iter()
        .filter(|a| a.wants(path))
        .collect();
    assert_eq!(
        wanting.len(),
        1,
        "{path}: wanted by {} analyzers",
        wanting.len()
    );
    wanting.pop().unwrap()
}
