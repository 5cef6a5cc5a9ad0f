//! Analyzers of application packages: what language package managers installed, read from
//! their own metadata (installed package manifests, lockfiles, build info inside binaries).
//!
//! One analyzer a file. Each writes its packages' purls itself (they need no distro) and puts
//! the file that proves the package in `found_in`.

use crate::Analyzer;

/// Every language analyzer, in a fixed order.
pub fn lang_analyzers() -> Vec<Box<dyn Analyzer>> {
    vec![]
}
