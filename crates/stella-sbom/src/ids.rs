//! Identifiers derived from content: SPDX id strings, short hashes, document UUIDs and the
//! image's package URL.

use sha2::{Digest as _, Sha256};
use stella_model::ImageInfo;
use uuid::Uuid;

/// Stella's UUIDv5 namespace for document identifiers (a fixed random UUID, so that no other
/// tool deriving v5 UUIDs from the same bytes lands on ours).
const STELLA_UUID_NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_3e0c_58d4_4b8e_9c2a_7d1b_0e5f_4c33);

/// Replaces every character SPDX does not allow in an `SPDXRef-`/`LicenseRef-` id string
/// (`[A-Za-z0-9.-]`) with `-`. An empty input gives `-` so the result is never empty.
pub(crate) fn sanitize_spdx_idstring(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if out.is_empty() { "-".to_string() } else { out }
}

/// Lower-case hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The first `n` hex digits of sha256 of `s`.
pub(crate) fn short_hash(s: &str, n: usize) -> String {
    let mut h = sha256_hex(s.as_bytes());
    h.truncate(n);
    h
}

/// A UUIDv5 in Stella's namespace for a document of `format` whose content hashes to
/// `content_hex`. Different formats of the same inventory get different UUIDs.
pub(crate) fn document_uuid(format: &str, content_hex: &str) -> Uuid {
    Uuid::new_v5(
        &STELLA_UUID_NAMESPACE,
        format!("{format}:{content_hex}").as_bytes(),
    )
}

/// Registry repository of an image named by a `docker://` reference, in the form the purl `oci`
/// type wants for `repository_url`: `docker.io/library/debian`, `ghcr.io/org/app`.
fn docker_repository(reference: &str) -> Option<String> {
    let r = reference.strip_prefix("docker://").unwrap_or(reference);
    let r = r.split_once('@').map_or(r, |(name, _)| name);
    // A tag follows the last ':' that comes after the last '/'.
    let last_slash = r.rfind('/').map_or(0, |i| i + 1);
    let r = match r[last_slash..].rfind(':') {
        Some(i) => &r[..last_slash + i],
        None => r,
    };
    if r.is_empty() {
        return None;
    }
    let (registry, path) = match r.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), r.to_string()),
    };
    let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
        "docker.io".to_string()
    } else {
        registry
    };
    let path = if registry == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    Some(format!("{registry}/{path}").to_lowercase())
}

/// The image's package URL, `pkg:oci/NAME@sha256:…?arch=…&repository_url=…&tag=…`, when the
/// manifest digest is known (the purl `oci` type identifies an image by that digest).
///
/// `repository_url` is given only for registry (`docker://`) references, where it is known; for
/// archives and layouts the name is the last segment of the image name.
pub(crate) fn image_purl(image: &ImageInfo) -> Option<String> {
    let digest = image.manifest_digest.as_ref()?;
    let repository = (image.transport == "docker")
        .then(|| docker_repository(&image.reference))
        .flatten();
    let source = repository.as_deref().unwrap_or(&image.name);
    let name = source
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("image")
        .to_lowercase();
    let mut purl = packageurl::PackageUrl::new("oci", name).ok()?;
    purl.with_version(digest.to_string()).ok()?;
    if !image.architecture.is_empty() {
        purl.add_qualifier("arch", image.architecture.clone())
            .ok()?;
    }
    if let Some(repo) = repository {
        purl.add_qualifier("repository_url", repo).ok()?;
    }
    if let Some(tag) = image.tag.as_deref().filter(|t| !t.is_empty()) {
        purl.add_qualifier("tag", tag.to_string()).ok()?;
    }
    Some(purl.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_allowed_characters_and_replaces_the_rest() {
        assert_eq!(sanitize_spdx_idstring("libc6"), "libc6");
        assert_eq!(
            sanitize_spdx_idstring("python3.11-minimal"),
            "python3.11-minimal"
        );
        assert_eq!(sanitize_spdx_idstring("libstdc++6"), "libstdc--6");
        assert_eq!(sanitize_spdx_idstring("a b/c:d@e_f"), "a-b-c-d-e-f");
        assert_eq!(sanitize_spdx_idstring("émoji✓"), "-moji-");
        assert_eq!(sanitize_spdx_idstring(""), "-");
        for s in ["x y", "ü", "a+b", "pkg:deb/debian/libc6@2.36?arch=amd64"] {
            let id = sanitize_spdx_idstring(s);
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
                "{id}"
            );
        }
    }

    #[test]
    fn docker_references_give_registry_repositories() {
        assert_eq!(
            docker_repository("docker://debian:12").unwrap(),
            "docker.io/library/debian"
        );
        assert_eq!(
            docker_repository("docker://ghcr.io/Org/App:1.0@sha256:abcd").unwrap(),
            "ghcr.io/org/app"
        );
        assert_eq!(
            docker_repository("docker://localhost:5000/team/img").unwrap(),
            "localhost:5000/team/img"
        );
        assert_eq!(
            docker_repository("bitnami/redis").unwrap(),
            "docker.io/bitnami/redis"
        );
    }

    #[test]
    fn document_uuid_depends_on_format_and_content() {
        let a = document_uuid("cyclonedx", "00");
        assert_eq!(a, document_uuid("cyclonedx", "00"));
        assert_ne!(a, document_uuid("spdx", "00"));
        assert_ne!(a, document_uuid("cyclonedx", "01"));
        assert_eq!(a.get_version_num(), 5);
    }
}
