//! Which distribution an image is: `etc/os-release` (or `usr/lib/os-release`), with the older
//! release files as fallbacks for images that lack it.

use stella_model::Distro;

/// Files read for distro detection, in order of preference.
pub const FILES: &[&str] = &[
    "etc/os-release",
    "usr/lib/os-release",
    "etc/lsb-release",
    "etc/debian_version",
    "etc/alpine-release",
    "etc/redhat-release",
    "etc/centos-release",
    "etc/fedora-release",
    "etc/system-release",
];

/// Whether `path` is (or may be the target of) a release file. Any path the release files may
/// point to through a symlink is covered by the `usr/lib/os-release` entry, which is where
/// every distro that symlinks `etc/os-release` keeps it.
pub fn wants(path: &str) -> bool {
    FILES.contains(&path)
}

/// Detects the distro from release files; `read` returns a file's content after resolving
/// symlinks inside the image.
pub fn detect(read: &dyn Fn(&str) -> Option<Vec<u8>>) -> Option<Distro> {
    for file in ["etc/os-release", "usr/lib/os-release"] {
        if let Some(bytes) = read(file)
            && let Some(mut d) = parse_os_release(&String::from_utf8_lossy(&bytes))
        {
            d.source_file = file.to_string();
            // Debian testing and sid omit VERSION_ID; debian_version says which it is.
            if d.id == "debian"
                && d.version_id.is_none()
                && let Some(v) = read("etc/debian_version")
            {
                let v = String::from_utf8_lossy(&v).trim().to_string();
                if v.starts_with(|c: char| c.is_ascii_digit()) {
                    d.version_id = v.split('.').next().map(String::from);
                }
            }
            return Some(d);
        }
    }
    if let Some(bytes) = read("etc/lsb-release") {
        let text = String::from_utf8_lossy(&bytes);
        let kv = key_values(&text);
        if let Some(id) = kv
            .iter()
            .find(|(k, _)| k == "DISTRIB_ID")
            .map(|(_, v)| v.to_lowercase())
        {
            return Some(Distro {
                id,
                version_id: kv
                    .iter()
                    .find(|(k, _)| k == "DISTRIB_RELEASE")
                    .map(|(_, v)| v.clone()),
                codename: kv
                    .iter()
                    .find(|(k, _)| k == "DISTRIB_CODENAME")
                    .map(|(_, v)| v.clone()),
                pretty_name: kv
                    .iter()
                    .find(|(k, _)| k == "DISTRIB_DESCRIPTION")
                    .map(|(_, v)| v.clone()),
                id_like: Vec::new(),
                source_file: "etc/lsb-release".into(),
            });
        }
    }
    if let Some(v) = read("etc/debian_version") {
        let v = String::from_utf8_lossy(&v).trim().to_string();
        return Some(Distro {
            id: "debian".into(),
            version_id: v
                .starts_with(|c: char| c.is_ascii_digit())
                .then(|| v.split('.').next().unwrap_or("").to_string()),
            source_file: "etc/debian_version".into(),
            ..Default::default()
        });
    }
    if let Some(v) = read("etc/alpine-release") {
        return Some(Distro {
            id: "alpine".into(),
            version_id: Some(String::from_utf8_lossy(&v).trim().to_string()),
            source_file: "etc/alpine-release".into(),
            ..Default::default()
        });
    }
    for file in [
        "etc/redhat-release",
        "etc/centos-release",
        "etc/fedora-release",
        "etc/system-release",
    ] {
        if let Some(v) = read(file)
            && let Some(d) = parse_redhat_release(&String::from_utf8_lossy(&v), file)
        {
            return Some(d);
        }
    }
    None
}

fn key_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.replace("\\\"", "\"")))
        })
        .collect()
}

/// Parses os-release (freedesktop.org format). `None` when it names no `ID`.
pub fn parse_os_release(text: &str) -> Option<Distro> {
    let kv = key_values(text);
    let get = |k: &str| {
        kv.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    Some(Distro {
        id: get("ID")?.to_lowercase(),
        version_id: get("VERSION_ID"),
        codename: get("VERSION_CODENAME"),
        pretty_name: get("PRETTY_NAME"),
        id_like: get("ID_LIKE")
            .map(|v| v.split_whitespace().map(String::from).collect())
            .unwrap_or_default(),
        source_file: String::new(),
    })
}

/// `Red Hat Enterprise Linux release 9.4 (Plow)`, `CentOS Linux release 7.9.2009 (Core)`.
fn parse_redhat_release(text: &str, file: &str) -> Option<Distro> {
    let line = text.lines().next()?.trim();
    let (name, rest) = line.split_once(" release ")?;
    let version = rest.split_whitespace().next()?.to_string();
    let lower = name.to_lowercase();
    let id = if lower.contains("red hat") {
        "rhel"
    } else if lower.contains("centos") {
        "centos"
    } else if lower.contains("fedora") {
        "fedora"
    } else if lower.contains("rocky") {
        "rocky"
    } else if lower.contains("alma") {
        "almalinux"
    } else if lower.contains("oracle") {
        "ol"
    } else if lower.contains("amazon") {
        "amzn"
    } else {
        return None;
    };
    Some(Distro {
        id: id.into(),
        version_id: Some(version),
        pretty_name: Some(line.to_string()),
        source_file: file.into(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn detect_from(files: &[(&str, &str)]) -> Option<Distro> {
        let m: HashMap<String, Vec<u8>> = files
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        detect(&|p| m.get(p).cloned())
    }

    #[test]
    fn debian_bookworm_os_release() {
        let d = detect_from(&[(
            "etc/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
        )])
        .unwrap();
        assert_eq!(d.id, "debian");
        assert_eq!(d.version_id.as_deref(), Some("12"));
        assert_eq!(d.codename.as_deref(), Some("bookworm"));
        assert_eq!(d.purl_qualifier(), "debian-12");
    }

    #[test]
    fn falls_back_to_release_files() {
        assert_eq!(
            detect_from(&[("etc/alpine-release", "3.20.3\n")])
                .unwrap()
                .purl_qualifier(),
            "alpine-3.20.3"
        );
        assert_eq!(
            detect_from(&[("etc/debian_version", "12.7\n")])
                .unwrap()
                .purl_qualifier(),
            "debian-12"
        );
        let rh = detect_from(&[(
            "etc/redhat-release",
            "Red Hat Enterprise Linux release 9.4 (Plow)\n",
        )])
        .unwrap();
        assert_eq!(rh.purl_qualifier(), "rhel-9.4");
        assert!(detect_from(&[]).is_none());
    }

    #[test]
    fn real_os_release_fixtures_from_trivy_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/fixtures-trivy-parsers/src/pkg/fanal/analyzer/os/release/testdata");
        let mut ids = Vec::new();
        for e in std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
        {
            if let Ok(text) = std::fs::read_to_string(e.path())
                && let Some(d) = parse_os_release(&text)
            {
                ids.push(d.id);
            }
        }
        assert!(ids.len() >= 3, "parsed {ids:?}");
    }
}
