//! Turning a validated header into an [`RpmPackage`].

use crate::error::HeaderError;
use crate::header::*;

/// One installed package as recorded in the rpm database.
///
/// Optional string fields are `None` when the tag is absent, empty, or holds rpm's `(none)`
/// placeholder, so callers need not know that convention.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RpmPackage {
    /// `NAME`.
    pub name: String,
    /// `EPOCH`; `None` when the package has no epoch (rpm then compares as epoch 0).
    pub epoch: Option<u64>,
    /// `VERSION`.
    pub version: String,
    /// `RELEASE`.
    pub release: String,
    /// `ARCH`; absent on `gpg-pubkey` pseudo-packages.
    pub arch: Option<String>,
    /// `SOURCERPM`, e.g. `util-linux-2.32.1-42.el8_8.src.rpm`.
    pub source_rpm: Option<String>,
    /// `LICENSE`.
    pub license: Option<String>,
    /// `VENDOR`.
    pub vendor: Option<String>,
    /// Installed size in bytes: `LONGSIZE` when present (packages over 4 GiB), else `SIZE`.
    pub size: u64,
    /// `MODULARITYLABEL` (RHEL/Fedora modules), e.g. `nodejs:10:8020020200707141642:6a468ee4`.
    pub modularity_label: Option<String>,
    /// Absolute paths of the files the package owns, in header order:
    /// `DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]`, or the pre-rpm-4 `OLDFILENAMES` list.
    pub files: Vec<String>,
    /// `REQUIRENAME`: capability names only (no versions or flags), including `rpmlib(...)`.
    pub requires: Vec<String>,
    /// `PROVIDENAME`: capability names only.
    pub provides: Vec<String>,
}

impl RpmPackage {
    /// Source package name and version from `SOURCERPM` (`name-ver-rel.src.rpm`), e.g.
    /// `("util-linux", "2.32.1")` from `util-linux-2.32.1-42.el8_8.src.rpm`. The release is
    /// dropped; [`RpmPackage::source_nvr`] keeps it. `SOURCERPM` carries no epoch: rpm-based
    /// distributions give a source package the epoch of its binaries.
    pub fn source_name_version(&self) -> Option<(String, String)> {
        self.source_nvr().map(|(name, version, _)| (name, version))
    }

    /// Source package name, version and release from `SOURCERPM`.
    pub fn source_nvr(&self) -> Option<(String, String, String)> {
        let file = self.source_rpm.as_deref()?;
        let stem = file.strip_suffix(".rpm")?;
        // ".nosrc.rpm" marks a source package built without (some of) its sources.
        let nvr = stem
            .strip_suffix(".src")
            .or_else(|| stem.strip_suffix(".nosrc"))
            .unwrap_or(stem);
        let (nv, release) = nvr.rsplit_once('-')?;
        let (name, version) = nv.rsplit_once('-')?;
        if name.is_empty() || version.is_empty() || release.is_empty() {
            return None;
        }
        Some((name.to_string(), version.to_string(), release.to_string()))
    }
}

fn optional(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty() && s != "(none)")
}

/// Builds the package from a validated header. `blob_len` bounds the file-path output (see
/// [`files`]).
pub(crate) fn package_from_header(
    h: &Header<'_>,
    blob_len: usize,
) -> Result<RpmPackage, HeaderError> {
    let size = match h.u64(TAG_LONGSIZE)? {
        Some(s) => s,
        None => h.u32(TAG_SIZE)?.map_or(0, u64::from),
    };
    Ok(RpmPackage {
        name: h.required_string(TAG_NAME)?,
        epoch: h.u32(TAG_EPOCH)?.map(u64::from),
        version: h.required_string(TAG_VERSION)?,
        release: h.required_string(TAG_RELEASE)?,
        arch: optional(h.string(TAG_ARCH)?),
        source_rpm: optional(h.string(TAG_SOURCERPM)?),
        license: optional(h.string(TAG_LICENSE)?),
        vendor: optional(h.string(TAG_VENDOR)?),
        size,
        modularity_label: optional(h.string(TAG_MODULARITYLABEL)?),
        files: files(h, blob_len)?,
        requires: h.string_array(TAG_REQUIRENAME)?,
        provides: h.string_array(TAG_PROVIDENAME)?,
    })
}

/// Joins the compressed file list. A hostile header can point a million basenames at one long
/// directory name and make the joined paths far larger than the blob; real packages stay well
/// under a few times their header size, so the output is capped at 16 × the blob plus 1 MiB.
fn files(h: &Header<'_>, blob_len: usize) -> Result<Vec<String>, HeaderError> {
    let basenames = h.string_array(TAG_BASENAMES)?;
    if basenames.is_empty() {
        return h.string_array(TAG_OLDFILENAMES);
    }
    let dirnames = h.string_array(TAG_DIRNAMES)?;
    let dirindexes = h.u32_array(TAG_DIRINDEXES)?;
    if dirindexes.len() != basenames.len() {
        return Err(HeaderError::BadFileList {
            reason: format!(
                "{} BASENAMES but {} DIRINDEXES",
                basenames.len(),
                dirindexes.len()
            ),
        });
    }
    let budget = blob_len.saturating_mul(16).saturating_add(1 << 20);
    let mut used = 0usize;
    let mut out = Vec::with_capacity(basenames.len());
    for (i, (base, &di)) in basenames.iter().zip(&dirindexes).enumerate() {
        let dir = dirnames
            .get(di as usize)
            .ok_or_else(|| HeaderError::BadFileList {
                reason: format!(
                    "DIRINDEXES[{i}] = {di} but there are only {} DIRNAMES",
                    dirnames.len()
                ),
            })?;
        used = used.saturating_add(dir.len() + base.len());
        if used > budget {
            return Err(HeaderError::BadFileList {
                reason: format!(
                    "joined file paths exceed {budget} bytes (16 × the {blob_len}-byte header + 1 MiB)"
                ),
            });
        }
        let mut path = String::with_capacity(dir.len() + base.len());
        path.push_str(dir);
        path.push_str(base);
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_source(src: &str) -> RpmPackage {
        RpmPackage {
            source_rpm: Some(src.to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn source_name_version_splits_on_the_last_two_dashes() {
        let p = with_source("util-linux-2.32.1-42.el8_8.src.rpm");
        assert_eq!(
            p.source_name_version(),
            Some(("util-linux".to_string(), "2.32.1".to_string()))
        );
        assert_eq!(
            p.source_nvr().unwrap().2,
            "42.el8_8",
            "release is kept by source_nvr"
        );
        assert_eq!(
            with_source("skelcd-bci-2021.05.14-150300.4.8.1.src.rpm").source_name_version(),
            Some(("skelcd-bci".to_string(), "2021.05.14".to_string()))
        );
        assert_eq!(
            with_source("foo-1.0-1.nosrc.rpm").source_name_version(),
            Some(("foo".to_string(), "1.0".to_string()))
        );
    }

    #[test]
    fn source_name_version_is_none_for_malformed_names() {
        assert_eq!(with_source("nodashes.src.rpm").source_name_version(), None);
        assert_eq!(with_source("one-dash.src.rpm").source_name_version(), None);
        assert_eq!(with_source("-1-2.src.rpm").source_name_version(), None);
        assert_eq!(with_source("a-1-2.src.tar").source_name_version(), None);
        assert_eq!(RpmPackage::default().source_name_version(), None);
    }
}
