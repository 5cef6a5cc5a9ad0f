//! Installed packages.

use crate::Digest;
use serde::{Deserialize, Serialize};

/// The packaging system a package belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageKind {
    /// Debian packages, from the dpkg database.
    Deb,
    /// Alpine packages, from the apk database.
    Apk,
    /// RPM packages, from the rpm database.
    Rpm,
}

impl PackageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageKind::Deb => "deb",
            PackageKind::Apk => "apk",
            PackageKind::Rpm => "rpm",
        }
    }
}

/// A dependency as the package database states it: the name of another package (or of a
/// virtual name it provides). The SBOM writers resolve these to packages in the same image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dependency {
    pub name: String,
}

/// One installed package, as its package database describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub kind: PackageKind,
    pub name: String,
    /// The version exactly as the ecosystem's own tool prints it: dpkg `1:2.36-9+deb12u4`,
    /// rpm `[EPOCH:]VERSION-RELEASE`, apk `3.3.2-r0`.
    pub version: String,
    /// Epoch when the version has one (dpkg `N:` prefix, rpm EPOCH tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The source package it was built from (dpkg `Source`, apk origin, rpm SOURCERPM name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Maintainer (dpkg, apk) or vendor (rpm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    /// Declared licenses as the database writes them (SPDX expressions where the distro uses them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    /// Files the database says the package owns, image-root relative without a leading slash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Dependencies as the database states them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends: Vec<Dependency>,
    /// Virtual names this package provides (dpkg `Provides`, apk `p:`, rpm PROVIDENAME).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provides: Vec<String>,
    /// The package URL.
    pub purl: String,
    /// The file that is the evidence for this package (the database it was read from).
    pub found_in: String,
    /// Digest of the layer that introduced this package (its first appearance), when the
    /// source has layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<Digest>,
}

impl Package {
    /// Sort order of packages in every output: kind, name, version, arch, purl.
    pub fn sort_key(&self) -> (PackageKind, &str, &str, Option<&str>, &str) {
        (
            self.kind,
            &self.name,
            &self.version,
            self.arch.as_deref(),
            &self.purl,
        )
    }

    /// Sorts the package's own collections.
    pub fn normalize(&mut self) {
        self.licenses.sort();
        self.licenses.dedup();
        self.files.sort();
        self.files.dedup();
        self.depends.sort();
        self.depends.dedup();
        self.provides.sort();
        self.provides.dedup();
    }
}
