//! Image references (`alpine`, `localhost:5000/foo/bar:1@sha256:…`) and platforms
//! (`linux/arm64/v8`), parsed the way the docker CLI parses them.

use crate::error::{ImageLocation, RegistryError};
use std::fmt;
use std::str::FromStr;
use stella_model::Digest;

/// The host that serves Docker Hub's registry API; `docker.io` names resolve to it.
pub const DOCKER_HUB_REGISTRY: &str = "registry-1.docker.io";

/// An image in a registry: `registry/repository[:tag][@digest]`.
///
/// Parsing follows the docker CLI: a first path component is a registry host only when it holds
/// a `.` or a `:` or is `localhost`; otherwise the image is on Docker Hub, whose one-component
/// names live under `library/`. Without a tag or digest the tag is `latest`. A leading
/// `docker://` (the containers-transports prefix) is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl ImageReference {
    /// What to ask the registry for: the digest when there is one (it pins the content), else
    /// the tag, else `latest`.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// Checks fields set by hand (they are public) against the grammar `from_str` enforces, so
    /// that nothing odd reaches a URL.
    pub fn validate(&self) -> Result<(), RegistryError> {
        let err = |reason: String| RegistryError::InvalidReference {
            input: self.to_string(),
            reason,
        };
        validate_registry(&self.registry).map_err(err)?;
        validate_repository(&self.repository).map_err(err)?;
        if let Some(tag) = &self.tag {
            validate_tag(tag).map_err(err)?;
        }
        Ok(())
    }

    /// Registry, repository and reference, as named in errors.
    pub fn location(&self) -> ImageLocation {
        ImageLocation {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            reference: self.reference(),
        }
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageReference {
    type Err = RegistryError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| RegistryError::InvalidReference {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let s = input.strip_prefix("docker://").unwrap_or(input);
        if s.is_empty() {
            return Err(err("empty reference"));
        }
        if s.len() > 4096 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("contains whitespace or is too long"));
        }
        let (rest, digest) = match s.rsplit_once('@') {
            Some((name, d)) => {
                let digest = d.parse::<Digest>().map_err(|e| err(&e.to_string()))?;
                (name, Some(digest))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(i) if last_slash.is_none_or(|sl| i > sl) => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), remainder.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        validate_registry(&registry).map_err(|r| err(&r))?;
        let registry = match registry.as_str() {
            "docker.io" | "index.docker.io" => DOCKER_HUB_REGISTRY.to_string(),
            _ => registry,
        };
        let repository = if registry == DOCKER_HUB_REGISTRY && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        validate_repository(&repository).map_err(|r| err(&r))?;
        if let Some(tag) = tag {
            validate_tag(tag).map_err(|r| err(&r))?;
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(ImageReference {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

fn validate_registry(host: &str) -> Result<(), String> {
    let (hostname, port) = if let Some(v6) = host.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("registry host {host:?} has an unclosed '['"))?;
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(format!(
                "registry host {host:?} is not a valid IPv6 address"
            ));
        }
        match after {
            "" => return Ok(()),
            p => (
                "",
                Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("unexpected {p:?} after IPv6 address"))?,
                ),
            ),
        }
    } else {
        match host.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host, None),
        }
    };
    if !host.starts_with('[') {
        if hostname.is_empty() || hostname.len() > 253 {
            return Err(format!("registry host {host:?} is empty or too long"));
        }
        for label in hostname.split('.') {
            if label.is_empty()
                || label.starts_with('-')
                || label.ends_with('-')
                || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(format!("registry host {host:?} is not a valid host name"));
            }
        }
    }
    if let Some(port) = port
        && (port.is_empty() || port.parse::<u16>().is_err())
    {
        return Err(format!(
            "registry port {port:?} is not a number below 65536"
        ));
    }
    Ok(())
}

/// The distribution spec's repository name grammar: lower-case components of `[a-z0-9]`
/// joined by `.`, `_`, `__` or runs of `-`, separated by `/`.
fn validate_repository(repo: &str) -> Result<(), String> {
    if repo.is_empty() {
        return Err("empty repository name".to_string());
    }
    if repo.len() > 255 {
        return Err("repository name longer than 255 characters".to_string());
    }
    for component in repo.split('/') {
        if !valid_path_component(component) {
            return Err(format!(
                "repository component {component:?} must be lower-case letters and digits, \
                 separated by '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator: '.', '_', '__' or one or more '-', followed by an alphanumeric.
        let sep_len = match b[i] {
            b'.' => 1,
            b'_' if b.get(i + 1) == Some(&b'_') => 2,
            b'_' => 1,
            b'-' => b[i..].iter().take_while(|&&x| x == b'-').count(),
            _ => return false,
        };
        i += sep_len;
        if !b.get(i).is_some_and(|&x| alnum(x)) {
            return false;
        }
    }
    true
}

fn validate_tag(tag: &str) -> Result<(), String> {
    let b = tag.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} must be 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'"
        ))
    }
}

/// A target platform, as in an image index: `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            os: "linux".to_string(),
            architecture: "amd64".to_string(),
            variant: None,
        }
    }
}

impl Platform {
    /// A platform from parts, with the usual architecture aliases normalised
    /// (`x86_64` → `amd64`, `aarch64` → `arm64`).
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        let os = os.to_ascii_lowercase();
        let (architecture, variant) = match (architecture.to_ascii_lowercase().as_str(), variant) {
            ("x86_64" | "x86-64", v) => ("amd64".to_string(), v.map(str::to_string)),
            ("aarch64", v) => ("arm64".to_string(), v.map(str::to_string)),
            ("armhf", None) => ("arm".to_string(), Some("v7".to_string())),
            ("armel", None) => ("arm".to_string(), Some("v6".to_string())),
            ("i386" | "i686", v) => ("386".to_string(), v.map(str::to_string)),
            (a, v) => (a.to_string(), v.map(str::to_string)),
        };
        let variant = variant
            .map(|v| v.to_ascii_lowercase())
            .filter(|v| !v.is_empty());
        Platform {
            os,
            architecture,
            variant,
        }
    }

    /// The variant, with the defaults the ecosystem assumes when none is written:
    /// `arm64` means `v8`; `amd64` means `v1`.
    fn effective_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            (_, Some(v)) => Some(v),
            ("arm64", None) => Some("v8"),
            ("amd64", None) => Some("v1"),
            _ => None,
        }
    }

    /// Whether an image for `candidate` can serve a request for `self`. A request without a
    /// variant accepts any variant of the architecture.
    pub fn accepts(&self, candidate: &Platform) -> bool {
        self.os == candidate.os
            && self.architecture == candidate.architecture
            && (self.variant.is_none() || self.effective_variant() == candidate.effective_variant())
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = RegistryError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| RegistryError::InvalidPlatform {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = input.split('/').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(err("wrong number of '/'-separated parts"));
        }
        for p in &parts {
            if p.is_empty()
                || p.len() > 64
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return Err(err(
                    "each part must be non-empty letters, digits, '_', '-' or '.'",
                ));
            }
        }
        Ok(Platform::new(parts[0], parts[1], parts.get(2).copied()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ImageReference {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn bare_name_is_docker_hub_library_latest() {
        let r = parse("alpine");
        assert_eq!(r.registry, "registry-1.docker.io");
        assert_eq!(r.repository, "library/alpine");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.digest, None);
        assert_eq!(r.to_string(), "registry-1.docker.io/library/alpine:latest");
    }

    #[test]
    fn docker_io_aliases_and_namespaced_names() {
        assert_eq!(parse("docker.io/alpine:3.20").repository, "library/alpine");
        let r = parse("index.docker.io/bitnami/redis:7");
        assert_eq!(r.registry, DOCKER_HUB_REGISTRY);
        assert_eq!(r.repository, "bitnami/redis");
        assert_eq!(parse("bitnami/redis").repository, "bitnami/redis");
        assert_eq!(parse("docker://alpine").repository, "library/alpine");
    }

    #[test]
    fn registry_with_port_tag_and_digest() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let r = parse(&format!("localhost:5000/foo/bar:1@{d}"));
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "foo/bar");
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.digest.as_ref().unwrap().to_string(), d);
        assert_eq!(r.reference(), d);
        assert_eq!(r.to_string(), format!("localhost:5000/foo/bar:1@{d}"));

        let r = parse(&format!("quay.io/a/b@{d}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.location().to_string(), format!("quay.io/a/b@{d}"));

        let r = parse("localhost/foo");
        assert_eq!(r.registry, "localhost");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        let r = parse("[::1]:5000/foo:v2");
        assert_eq!(r.registry, "[::1]:5000");
        assert_eq!(r.tag.as_deref(), Some("v2"));
    }

    #[test]
    fn hand_built_references_are_validated() {
        let mut r = parse("localhost:5000/foo/bar:1");
        assert!(r.validate().is_ok());
        r.repository = "../../etc".to_string();
        assert!(matches!(
            r.validate(),
            Err(RegistryError::InvalidReference { .. })
        ));
        let mut r = parse("localhost:5000/foo/bar:1");
        r.registry = "evil.example/path?".to_string();
        assert!(r.validate().is_err());
        let mut r = parse("localhost:5000/foo/bar:1");
        r.tag = Some("a/b".to_string());
        assert!(r.validate().is_err());
    }

    #[test]
    fn invalid_references_name_the_input() {
        for bad in [
            "",
            "Alpine",
            "foo/Bar",
            "foo//bar",
            "foo:",
            "foo:-x",
            "foo@sha256:abc",
            "foo@md5:d41d8cd98f00b204e9800998ecf8427e",
            "registry.example:99999/foo",
            "foo bar",
            "a-/b",
            "reg.example/a..b",
        ] {
            let e = bad.parse::<ImageReference>().unwrap_err();
            assert!(
                matches!(e, RegistryError::InvalidReference { ref input, .. } if input == bad),
                "{bad}: {e}"
            );
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn repository_component_separators() {
        for ok in ["a", "a.b", "a_b", "a__b", "a---b", "a1-b2.c3"] {
            assert!(valid_path_component(ok), "{ok}");
        }
        for bad in ["", ".a", "a.", "a___b", "a..b", "a._b", "A"] {
            assert!(!valid_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn platform_parse_display_and_default() {
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.os, "linux");
        assert_eq!(p.architecture, "arm64");
        assert_eq!(p.variant.as_deref(), Some("v8"));
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert_eq!(Platform::default().to_string(), "linux/amd64");
        assert_eq!(
            "linux/x86_64".parse::<Platform>().unwrap(),
            Platform::default()
        );
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            let e = bad.parse::<Platform>().unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn platform_matching_uses_default_variants() {
        let arm64: Platform = "linux/arm64".parse().unwrap();
        let arm64v8: Platform = "linux/arm64/v8".parse().unwrap();
        assert!(arm64.accepts(&arm64v8));
        assert!(arm64v8.accepts(&arm64));
        let armv7: Platform = "linux/arm/v7".parse().unwrap();
        let armv6: Platform = "linux/arm/v6".parse().unwrap();
        assert!(!armv7.accepts(&armv6));
        assert!("linux/arm".parse::<Platform>().unwrap().accepts(&armv6));
        assert!(!Platform::default().accepts(&arm64));
        assert!(
            !"windows/amd64"
                .parse::<Platform>()
                .unwrap()
                .accepts(&Platform::default())
        );
    }
}
