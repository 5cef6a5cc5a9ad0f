//! Installed packages.

use crate::Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// npm packages (installed `node_modules`, lockfiles).
    Npm,
    /// Python distributions (`*.dist-info`, `*.egg-info`, lockfiles).
    Python,
    /// Java archives (Maven coordinates).
    Maven,
    /// Go modules (build info in binaries, `go.mod`).
    Go,
    /// Rust crates (cargo-auditable data, `Cargo.lock`).
    Cargo,
    /// Ruby gems.
    Gem,
    /// PHP Composer packages.
    Composer,
    /// .NET NuGet packages.
    Nuget,
    /// Language runtimes and other binaries known by their own version (Python, Node.js, a JVM).
    Binary,
}

impl PackageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageKind::Deb => "deb",
            PackageKind::Apk => "apk",
            PackageKind::Rpm => "rpm",
            PackageKind::Npm => "npm",
            PackageKind::Python => "python",
            PackageKind::Maven => "maven",
            PackageKind::Go => "go",
            PackageKind::Cargo => "cargo",
            PackageKind::Gem => "gem",
            PackageKind::Composer => "composer",
            PackageKind::Nuget => "nuget",
            PackageKind::Binary => "binary",
        }
    }

    /// Whether the package comes from an operating system's package database (its purl then
    /// depends on the distro and is computed after the layers are merged).
    pub fn is_os(self) -> bool {
        matches!(self, PackageKind::Deb | PackageKind::Apk | PackageKind::Rpm)
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
    /// A development-only dependency (npm `dev`, Poetry `develop` groups), still installed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dev: bool,
    /// Further facts with stable names (`sha1` of a jar, `go.toolchain`, …), sorted by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

impl Package {
    /// A package with only its identity and evidence; the other fields empty.
    pub fn new(
        kind: PackageKind,
        name: impl Into<String>,
        version: impl Into<String>,
        found_in: impl Into<String>,
    ) -> Package {
        Package {
            kind,
            name: name.into(),
            version: version.into(),
            epoch: None,
            arch: None,
            source_name: None,
            source_version: None,
            supplier: None,
            licenses: Vec::new(),
            files: Vec::new(),
            depends: Vec::new(),
            provides: Vec::new(),
            purl: String::new(),
            found_in: found_in.into(),
            layer: None,
            dev: false,
            properties: BTreeMap::new(),
        }
    }

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
