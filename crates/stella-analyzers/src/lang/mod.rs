//! Analyzers of application packages: what language package managers installed, read from
//! their own metadata (installed package manifests, lockfiles, build info inside binaries).
//!
//! One analyzer a file. Each writes its packages' purls itself (they need no distro) and puts
//! the file that proves the package in `found_in`.

pub mod dotnet;
pub mod dotnet_lock;
pub mod golang;
pub mod golang_mod;
pub mod java;
pub mod java_runtime;
pub mod node_runtime;
pub mod npm;
pub mod npm_lock;
pub mod npm_pnpm;
pub mod npm_yarn;
pub mod php;
pub mod php_lock;
pub mod python;
pub mod python_lock;
pub mod python_runtime;
pub mod ruby;
pub mod ruby_lock;
pub mod rust;
pub mod rust_cargo_lock;

use crate::Analyzer;
use stella_model::Package;

pub use npm::{EVIDENCE, EVIDENCE_LOCKFILE};

/// Marks packages read from a lockfile or a module manifest (`go.mod`, `Cargo.lock`): they
/// describe what a project asks for, not what is installed, and the scanner keeps them apart.
pub(crate) fn mark_lockfile(packages: &mut [Package]) {
    for p in packages {
        p.properties
            .insert(EVIDENCE.to_string(), EVIDENCE_LOCKFILE.to_string());
    }
}

/// Every language analyzer, in a fixed order.
pub fn lang_analyzers() -> Vec<Box<dyn Analyzer>> {
    vec![
        Box::new(golang::GoBinaryAnalyzer),
        Box::new(golang_mod::GoModAnalyzer),
        Box::new(java::JavaArchiveAnalyzer),
        Box::new(java_runtime::JavaRuntimeAnalyzer),
        Box::new(rust::RustBinaryAnalyzer),
        Box::new(rust_cargo_lock::CargoLockAnalyzer),
        Box::new(npm::NpmInstalledAnalyzer),
        Box::new(npm_lock::NpmLockAnalyzer),
        Box::new(npm_yarn::YarnLockAnalyzer),
        Box::new(npm_pnpm::PnpmLockAnalyzer),
        Box::new(node_runtime::NodeRuntimeAnalyzer),
        Box::new(python::PythonInstalledAnalyzer),
        Box::new(python_lock::PythonLockfileAnalyzer),
        Box::new(python_runtime::PythonRuntimeAnalyzer),
        Box::new(ruby::GemspecAnalyzer),
        Box::new(ruby_lock::GemfileLockAnalyzer),
        Box::new(php::ComposerInstalledAnalyzer),
        Box::new(php_lock::ComposerLockAnalyzer),
        Box::new(dotnet::DotnetDepsAnalyzer),
        Box::new(dotnet_lock::NugetLockAnalyzer),
    ]
}
