//! Reading an OCI image layout, to check what a registry served against what was pushed.

use std::path::Path;

/// Reads a blob of an OCI layout by its `sha256:` digest.
pub fn layout_blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    let path = layout.join("blobs/sha256").join(hex);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The manifest (or index) digest an OCI layout's `index.json` gives for a tag.
pub fn layout_manifest_digest(layout: &Path, tag: &str) -> String {
    let path = layout.join("index.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let index: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("tag {tag} not in {}", layout.display()))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}
