//! The operating system an image is built on.

use serde::{Deserialize, Serialize};

/// The distribution found in an image, from `etc/os-release` (or a fallback such as
/// `etc/debian_version`, `etc/alpine-release`, `etc/redhat-release`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    /// `ID` from os-release, lower case: `debian`, `alpine`, `rhel`, `fedora`, …
    pub id: String,
    /// `VERSION_ID`: `12`, `3.20.3`, `9.4`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `VERSION_CODENAME`: `bookworm`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// `PRETTY_NAME`: `Debian GNU/Linux 12 (bookworm)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// `ID_LIKE`, split on spaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
    /// The file the facts came from, e.g. `etc/os-release`.
    pub source_file: String,
}

impl Distro {
    /// The `distro` qualifier of a package URL: `debian-12`, `alpine-3.20.3`, `rhel-9.4`.
    pub fn purl_qualifier(&self) -> String {
        match &self.version_id {
            Some(v) => format!("{}-{}", self.id, v),
            None => self.id.clone(),
        }
    }
}
