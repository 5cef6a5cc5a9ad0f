//! The few fields of OCI and Docker v2.2 manifests, indexes and configs that a scan needs.
//!
//! Own serde structs rather than `oci-spec` types: the same structs must read OCI and Docker
//! media types alike and tolerate the optional fields real images omit, and only a handful of
//! fields matter here.

use crate::ImageError;
use serde::Deserialize;
use stella_model::Digest;

pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Largest manifest, index or config accepted (a hostile one could be any size).
pub const MAX_METADATA_BYTES: u64 = 8 << 20;

#[derive(Debug, Clone, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: Digest,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub platform: Option<DescriptorPlatform>,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DescriptorPlatform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// An index, manifest list, or manifest: told apart by which fields are present.
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestOrIndex {
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
}

impl Descriptor {
    pub fn is_index(&self) -> bool {
        self.media_type == MEDIA_OCI_INDEX || self.media_type == MEDIA_DOCKER_LIST
    }
}

/// The image configuration fields a scan uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub rootfs: Option<RootFs>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

pub fn parse_json<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    what: &str,
    source: &str,
) -> Result<T, ImageError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ImageError::bad_image(source, format!("{what} is not valid: {e}")))
}

pub use stella_registry::Platform;

impl DescriptorPlatform {
    fn to_platform(&self) -> Platform {
        Platform::new(&self.os, &self.architecture, self.variant.as_deref())
    }
}

/// Picks the manifest for `platform` from an index's entries, or says which platforms exist.
pub fn select_platform<'a>(
    manifests: &'a [Descriptor],
    platform: &Platform,
    source: &str,
) -> Result<&'a Descriptor, ImageError> {
    manifests
        .iter()
        .filter(|d| !d.is_index())
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| platform.accepts(&p.to_platform()))
        })
        .ok_or_else(|| ImageError::NoMatchingPlatform {
            source_name: source.to_string(),
            platform: platform.to_string(),
            available: manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| p.to_platform().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}
