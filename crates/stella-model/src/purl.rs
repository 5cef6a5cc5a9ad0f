//! Package URLs for OS packages, built with the `packageurl` crate so that encoding and
//! qualifier order follow the purl specification.

use crate::{Distro, PackageKind};
use packageurl::PackageUrl;

#[derive(Debug, thiserror::Error)]
#[error("cannot build a package URL for {name:?} {version:?}: {reason}")]
pub struct PurlError {
    pub name: String,
    pub version: String,
    pub reason: String,
}

/// The purl of an OS package.
///
/// `version` is written without an epoch; the epoch, when there is one, goes in the `epoch`
/// qualifier (as Trivy and the purl spec's rpm examples do). The namespace is the vendor as the
/// purl type registry spells it: `debian`, `ubuntu`, `alpine`, `redhat` for RHEL, `fedora`, ….
///
/// `pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12`
pub fn os_package_purl(
    kind: PackageKind,
    name: &str,
    version: &str,
    epoch: Option<u64>,
    arch: Option<&str>,
    distro: Option<&Distro>,
    upstream: Option<&str>,
) -> Result<String, PurlError> {
    let err = |reason: String| PurlError {
        name: name.to_string(),
        version: version.to_string(),
        reason,
    };
    let ty = match kind {
        PackageKind::Deb => "deb",
        PackageKind::Apk => "apk",
        PackageKind::Rpm => "rpm",
        other => {
            return Err(err(format!(
                "{} packages are not OS packages",
                other.as_str()
            )));
        }
    };
    let namespace = distro
        .map(|d| purl_namespace(kind, d))
        .unwrap_or_else(|| match kind {
            PackageKind::Deb => "debian".to_string(),
            PackageKind::Apk => "alpine".to_string(),
            _ => "redhat".to_string(),
        });
    let mut purl = PackageUrl::new(ty, name).map_err(|e| err(e.to_string()))?;
    purl.with_namespace(namespace)
        .map_err(|e| err(e.to_string()))?;
    purl.with_version(version).map_err(|e| err(e.to_string()))?;
    if let Some(arch) = arch.filter(|a| !a.is_empty()) {
        purl.add_qualifier("arch", arch)
            .map_err(|e| err(e.to_string()))?;
    }
    if let Some(e) = epoch.filter(|e| *e > 0) {
        purl.add_qualifier("epoch", e.to_string())
            .map_err(|e| err(e.to_string()))?;
    }
    if let Some(d) = distro {
        purl.add_qualifier("distro", d.purl_qualifier())
            .map_err(|e| err(e.to_string()))?;
    }
    if let Some(up) = upstream.filter(|u| !u.is_empty()) {
        purl.add_qualifier("upstream", up)
            .map_err(|e| err(e.to_string()))?;
    }
    Ok(purl.to_string())
}

fn purl_namespace(kind: PackageKind, distro: &Distro) -> String {
    match (kind, distro.id.as_str()) {
        (PackageKind::Rpm, "rhel") => "redhat".to_string(),
        (PackageKind::Rpm, "ol") => "oracle".to_string(),
        (PackageKind::Rpm, "amzn") => "amazon".to_string(),
        (PackageKind::Rpm, "sles" | "sle-micro" | "opensuse-leap" | "opensuse-tumbleweed") => {
            "opensuse".to_string()
        }
        (_, id) if !id.is_empty() => id.to_string(),
        (PackageKind::Deb, _) => "debian".to_string(),
        (PackageKind::Apk, _) => "alpine".to_string(),
        _ => "redhat".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debian12() -> Distro {
        Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
            source_file: "etc/os-release".into(),
            ..Default::default()
        }
    }

    #[test]
    fn deb_purl_matches_the_documented_example() {
        let p = os_package_purl(
            PackageKind::Deb,
            "openssl",
            "3.0.11-1~deb12u2",
            None,
            Some("amd64"),
            Some(&debian12()),
            None,
        )
        .unwrap();
        assert_eq!(
            p,
            "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"
        );
    }

    #[test]
    fn rpm_purl_carries_epoch_and_vendor_namespace() {
        let rhel = Distro {
            id: "rhel".into(),
            version_id: Some("9.4".into()),
            source_file: "etc/os-release".into(),
            ..Default::default()
        };
        let p = os_package_purl(
            PackageKind::Rpm,
            "openssl-libs",
            "3.0.7-27.el9",
            Some(1),
            Some("x86_64"),
            Some(&rhel),
            None,
        )
        .unwrap();
        assert_eq!(
            p,
            "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1"
        );
    }
}
