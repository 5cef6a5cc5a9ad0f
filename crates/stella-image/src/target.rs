//! Scan targets in the containers-transports spelling that skopeo uses.

use crate::ImageError;
use std::path::{Path, PathBuf};

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `docker://REF`: a registry, over the OCI distribution API.
    Registry(String),
    /// `docker-archive:PATH[:REF]`: a `docker save` tarball.
    DockerArchive {
        path: PathBuf,
        reference: Option<String>,
    },
    /// `oci:DIR[:TAG]`: an OCI image layout directory.
    OciLayout { dir: PathBuf, tag: Option<String> },
    /// `oci-archive:PATH[:TAG]`: a tarball of an OCI image layout.
    OciArchive { path: PathBuf, tag: Option<String> },
    /// `dir:PATH`: a root filesystem on disk (`dir:/` scans the running system).
    Dir(PathBuf),
}

impl Target {
    /// Parses a target. A bare path is recognised by what it holds: a directory with an
    /// `oci-layout` file is an OCI layout, any other directory a root filesystem; a tar file with
    /// `oci-layout` is an OCI archive and one with `manifest.json` a docker archive.
    pub fn parse(input: &str) -> Result<Target, ImageError> {
        let bad = |m: &str| ImageError::BadTarget {
            target: input.to_string(),
            message: m.to_string(),
        };
        if let Some(rest) = input.strip_prefix("docker://") {
            if rest.is_empty() {
                return Err(bad("empty image reference after docker://"));
            }
            return Ok(Target::Registry(rest.to_string()));
        }
        if let Some(rest) = input.strip_prefix("docker-archive:") {
            let (path, reference) = split_path_suffix(rest);
            return Ok(Target::DockerArchive { path, reference });
        }
        if let Some(rest) = input.strip_prefix("oci-archive:") {
            let (path, tag) = split_path_suffix(rest);
            return Ok(Target::OciArchive { path, tag });
        }
        if let Some(rest) = input.strip_prefix("oci:") {
            let (dir, tag) = split_path_suffix(rest);
            return Ok(Target::OciLayout { dir, tag });
        }
        if let Some(rest) = input.strip_prefix("dir:") {
            if rest.is_empty() {
                return Err(bad("empty path after dir:"));
            }
            return Ok(Target::Dir(PathBuf::from(rest)));
        }
        let path = Path::new(input);
        let meta = std::fs::metadata(path).map_err(|e| {
            bad(&format!(
                "{e}; to pull from a registry write docker://{input}, or name the transport (docker-archive:, oci:, oci-archive:, dir:)"
            ))
        })?;
        if meta.is_dir() {
            if path.join("oci-layout").is_file() {
                return Ok(Target::OciLayout {
                    dir: path.to_path_buf(),
                    tag: None,
                });
            }
            return Ok(Target::Dir(path.to_path_buf()));
        }
        match crate::archive::sniff_archive(path)? {
            ArchiveKind::Oci => Ok(Target::OciArchive {
                path: path.to_path_buf(),
                tag: None,
            }),
            ArchiveKind::Docker => Ok(Target::DockerArchive {
                path: path.to_path_buf(),
                reference: None,
            }),
        }
    }

    /// The transport name, as in the report.
    pub fn transport(&self) -> &'static str {
        match self {
            Target::Registry(_) => "docker",
            Target::DockerArchive { .. } => "docker-archive",
            Target::OciLayout { .. } => "oci",
            Target::OciArchive { .. } => "oci-archive",
            Target::Dir(_) => "dir",
        }
    }
}

/// What a tar file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Oci,
    Docker,
}

/// `PATH[:SUFFIX]`: the whole string is the path when it exists; otherwise the part after the
/// last `:` is the tag or reference (skopeo's rule, which keeps paths with colons working).
fn split_path_suffix(s: &str) -> (PathBuf, Option<String>) {
    if Path::new(s).exists() {
        return (PathBuf::from(s), None);
    }
    match s.rsplit_once(':') {
        Some((p, suffix)) if !p.is_empty() && !suffix.contains('/') && Path::new(p).exists() => {
            (PathBuf::from(p), Some(suffix.to_string()))
        }
        _ => (PathBuf::from(s), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_explicit_transports() {
        assert_eq!(
            Target::parse("docker://alpine:3.20").unwrap(),
            Target::Registry("alpine:3.20".into())
        );
        assert_eq!(Target::parse("dir:/").unwrap(), Target::Dir("/".into()));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().to_str().unwrap();
        assert_eq!(
            Target::parse(&format!("oci:{p}:v1")).unwrap(),
            Target::OciLayout {
                dir: dir.path().into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            Target::parse(&format!("oci:{p}")).unwrap(),
            Target::OciLayout {
                dir: dir.path().into(),
                tag: None
            }
        );
    }

    #[test]
    fn bare_directory_is_a_rootfs_unless_it_holds_an_oci_layout() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().to_str().unwrap();
        assert_eq!(Target::parse(p).unwrap(), Target::Dir(dir.path().into()));
        std::fs::write(
            dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        assert!(matches!(
            Target::parse(p).unwrap(),
            Target::OciLayout { .. }
        ));
    }

    #[test]
    fn missing_bare_path_is_a_clear_error() {
        let e = Target::parse("/no/such/thing").unwrap_err().to_string();
        assert!(
            e.contains("/no/such/thing") && e.contains("docker://"),
            "{e}"
        );
    }
}
