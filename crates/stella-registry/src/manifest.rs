//! Manifest media types, and choosing a platform's manifest from an index.

use crate::reference::Platform;
use oci_spec::image::{Descriptor, ImageIndex};
use serde::Deserialize;

/// The manifest and config media types this client understands.
pub mod media_types {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    /// Docker schema 1, signed or not: obsolete, refused with a clear error.
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";

    /// The `Accept` header for manifest requests, preferred types first.
    pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
        application/vnd.docker.distribution.manifest.list.v2+json, \
        application/vnd.oci.image.manifest.v1+json, \
        application/vnd.docker.distribution.manifest.v2+json";
}

use media_types::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ManifestKind {
    Image,
    Index,
    Unsupported,
}

pub(crate) fn kind_of(media_type: &str) -> ManifestKind {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => ManifestKind::Image,
        OCI_INDEX | DOCKER_MANIFEST_LIST => ManifestKind::Index,
        _ => ManifestKind::Unsupported,
    }
}

pub(crate) fn is_image_config(media_type: &str) -> bool {
    matches!(media_type, OCI_CONFIG | DOCKER_CONFIG)
}

#[derive(Deserialize)]
struct Sniff {
    #[serde(default, rename = "mediaType")]
    media_type: Option<String>,
    #[serde(default, rename = "schemaVersion")]
    schema_version: Option<u32>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

/// The media type of a manifest document: its own `mediaType` field when present (it is what
/// the digest covers), else the response's `Content-Type` when that is a manifest type, else
/// its shape (OCI allows omitting `mediaType`).
pub(crate) fn media_type_of(bytes: &[u8], content_type: Option<&str>) -> Option<String> {
    let sniff: Option<Sniff> = serde_json::from_slice(bytes).ok();
    if let Some(mt) = sniff
        .as_ref()
        .and_then(|s| s.media_type.clone())
        .filter(|m| !m.is_empty())
    {
        return Some(mt);
    }
    if let Some(ct) = content_type
        && (kind_of(ct) != ManifestKind::Unsupported
            || ct == DOCKER_SCHEMA1
            || ct == DOCKER_SCHEMA1_SIGNED)
    {
        return Some(ct.to_string());
    }
    let s = sniff?;
    match (s.schema_version, &s.manifests, &s.config) {
        (Some(1), _, _) => Some(DOCKER_SCHEMA1.to_string()),
        (_, Some(_), _) => Some(OCI_INDEX.to_string()),
        (_, _, Some(_)) => Some(OCI_MANIFEST.to_string()),
        _ => content_type.map(str::to_string),
    }
}

/// The platform of an index entry, if it declares one.
pub(crate) fn descriptor_platform(d: &Descriptor) -> Option<Platform> {
    d.platform().as_ref().map(|p| {
        Platform::new(
            &p.os().to_string(),
            &p.architecture().to_string(),
            p.variant().as_deref(),
        )
    })
}

/// The index entry to use for `wanted`: an entry with the exact variant first, then one that
/// the request accepts, in index order. On failure, the platforms the index offers (sorted,
/// without attestation entries such as `unknown/unknown`).
pub(crate) fn select_manifest<'a>(
    index: &'a ImageIndex,
    wanted: &Platform,
) -> Result<&'a Descriptor, Vec<Platform>> {
    let candidates: Vec<(&Descriptor, Platform)> = index
        .manifests()
        .iter()
        .filter(|d| kind_of(d.media_type().as_ref()) != ManifestKind::Unsupported)
        .filter_map(|d| descriptor_platform(d).map(|p| (d, p)))
        .collect();
    if let Some((d, _)) = candidates.iter().find(|(_, p)| {
        p.os == wanted.os && p.architecture == wanted.architecture && p.variant == wanted.variant
    }) {
        return Ok(d);
    }
    if let Some((d, _)) = candidates.iter().find(|(_, p)| wanted.accepts(p)) {
        return Ok(d);
    }
    let mut available: Vec<Platform> = candidates
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p.os != "unknown" && p.architecture != "unknown")
        .collect();
    available.sort();
    available.dedup();
    Err(available)
}

/// The platform fields of an image config (OCI or Docker); everything else is ignored here.
#[derive(Deserialize)]
pub(crate) struct ConfigPlatform {
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub architecture: Option<String>,
    #[serde(default)]
    pub variant: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[
      {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":1,"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","platform":{"architecture":"amd64","os":"linux"}},
      {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":2,"digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","platform":{"architecture":"arm","os":"linux","variant":"v6"}},
      {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":3,"digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","platform":{"architecture":"arm","os":"linux","variant":"v7"}},
      {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":4,"digest":"sha256:4444444444444444444444444444444444444444444444444444444444444444","platform":{"architecture":"arm64","os":"linux","variant":"v8","features":["x"]}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":5,"digest":"sha256:5555555555555555555555555555555555555555555555555555555555555555","platform":{"architecture":"unknown","os":"unknown"}}
    ]}"#;

    fn pick(wanted: &str) -> Result<u64, Vec<String>> {
        let index: ImageIndex = serde_json::from_str(INDEX).unwrap();
        select_manifest(&index, &wanted.parse().unwrap())
            .map(|d| d.size())
            .map_err(|ps| ps.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn docker_manifest_list_parses_and_platforms_are_chosen() {
        assert_eq!(pick("linux/amd64"), Ok(1));
        assert_eq!(pick("linux/arm/v7"), Ok(3));
        assert_eq!(pick("linux/arm/v6"), Ok(2));
        assert_eq!(pick("linux/arm64"), Ok(4));
        assert_eq!(pick("linux/arm64/v8"), Ok(4));
        assert_eq!(
            pick("linux/s390x"),
            Err(vec![
                "linux/amd64".to_string(),
                "linux/arm/v6".to_string(),
                "linux/arm/v7".to_string(),
                "linux/arm64/v8".to_string()
            ])
        );
    }

    #[test]
    fn media_type_prefers_the_document_then_content_type_then_shape() {
        let oci = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{}}"#;
        assert_eq!(
            media_type_of(oci, Some("application/json")).as_deref(),
            Some(OCI_MANIFEST)
        );
        let bare_index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(
            media_type_of(bare_index, Some("application/json")).as_deref(),
            Some(OCI_INDEX)
        );
        assert_eq!(
            media_type_of(bare_index, Some(DOCKER_MANIFEST_LIST)).as_deref(),
            Some(DOCKER_MANIFEST_LIST)
        );
        let v1 = br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        assert_eq!(media_type_of(v1, None).as_deref(), Some(DOCKER_SCHEMA1));
        assert_eq!(kind_of(DOCKER_SCHEMA1_SIGNED), ManifestKind::Unsupported);
        assert_eq!(
            media_type_of(b"garbage", Some("text/html")).as_deref(),
            None
        );
    }

    #[test]
    fn docker_v2_2_manifest_parses_with_oci_types() {
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":296,"digest":"sha256:5c9ae9beb83d8a9651763f39ae97b6ebc3b89aa36a6621c99ad7ef9009c1be49"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":253,"digest":"sha256:7a6b9ef03ec75691605dc86545de9c04ded44c88ed05c3b31f74d3baf385505f"}]}"#;
        let parsed: oci_spec::image::ImageManifest = serde_json::from_slice(m).unwrap();
        assert!(is_image_config(parsed.config().media_type().as_ref()));
        assert_eq!(parsed.layers()[0].size(), 253);
        assert_eq!(
            parsed.layers()[0].media_type().to_string(),
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
    }
}
