//! Analyzers: pure functions from the bytes of one image file to facts about what is installed.
//!
//! Each analyzer lives in its own file, declares the paths it wants ([`Analyzer::wants`]) and
//! turns one file's content into [`Facts`]: packages, or hints that complete packages found
//! elsewhere (the files a dpkg package owns, the licenses in its copyright file). The scanner
//! calls every analyzer during its single pass over each layer, so an analyzer never sees a file
//! it did not ask for and never does I/O. Package URLs are left empty here: they need the
//! distro, which is known only once all layers are merged.
//!
//! OS analyzers (in `os/`): dpkg, apk, rpm, and the distro detection of [`os_release`].
//! Language analyzers (in `lang/`): see [`lang::lang_analyzers`].

pub mod lang;
pub mod os;

pub use os::os_release;

use serde::{Deserialize, Serialize};
use stella_model::{AnalyzerInfo, Package, PackageKind};

/// What an analyzer learned from one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Packages listed by a package database.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<Package>,
    /// Files owned by a package, from a file list beside the database.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owned_files: Vec<PackageHint>,
    /// Declared licenses of a package, from its copyright file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<PackageHint>,
}

/// A fact about a package known by name (`name` or `name:arch`), found outside its database
/// entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageHint {
    pub kind: PackageKind,
    pub package: String,
    pub values: Vec<String>,
}

/// Why a file could not be analyzed. The scan goes on and reports it as a warning.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{path}: {message}")]
pub struct AnalyzerError {
    pub path: String,
    pub message: String,
}

impl AnalyzerError {
    pub fn new(path: &str, message: impl Into<String>) -> Self {
        AnalyzerError {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// A text file's content, or an error naming the file: the one check every text-format
/// analyzer starts with.
pub(crate) fn utf8_text<'a>(path: &str, content: &'a [u8]) -> Result<&'a str, AnalyzerError> {
    std::str::from_utf8(content)
        .map_err(|e| AnalyzerError::new(path, format!("not UTF-8 text: {e}")))
}

/// One analyzer.
pub trait Analyzer: Send + Sync {
    /// A stable name (`dpkg`, `apk`, `rpm`, …).
    fn name(&self) -> &'static str;
    /// Bumped whenever the output for the same input changes; part of the layer cache key.
    fn version(&self) -> u32;
    /// Whether this analyzer wants the file at `path` (root-relative, no leading slash).
    fn wants(&self, path: &str) -> bool;
    /// Reads one wanted file.
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError>;
    fn info(&self) -> AnalyzerInfo {
        AnalyzerInfo {
            name: self.name().to_string(),
            version: self.version(),
        }
    }
}

/// Every analyzer, in a fixed order: OS databases, then language packages.
pub fn all_analyzers() -> Vec<Box<dyn Analyzer>> {
    let mut all: Vec<Box<dyn Analyzer>> = vec![
        Box::new(os::dpkg::DpkgAnalyzer),
        Box::new(os::apk::ApkAnalyzer),
        Box::new(os::rpm::RpmAnalyzer),
    ];
    all.extend(lang::lang_analyzers());
    all
}
