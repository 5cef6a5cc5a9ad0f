//! Merging per-layer analyses into the image's inventory.

use crate::analysis::LayerAnalysis;
use std::collections::{BTreeMap, HashMap};
use stella_analyzers::os_release;
use stella_image::{FileKind, MergedView, ResolveError};
use stella_model::{Digest, Distro, Package, PackageKind, os_package_purl};

/// Kind, name, version, arch, and (for language packages) the evidence path.
type PackageIdentity = (PackageKind, String, String, Option<String>, String);

pub(crate) struct Merged {
    pub distro: Option<Distro>,
    pub packages: Vec<Package>,
    pub warnings: Vec<String>,
    /// Latest modification time among the package databases the packages came from.
    pub newest_db_mtime: Option<i64>,
}

/// Merges layer analyses (in layer order; `layer_digests[i]` names layer `i`, empty for a
/// directory source).
pub(crate) fn merge(
    layers: &[LayerAnalysis],
    layer_digests: &[Digest],
) -> Result<Merged, ResolveError> {
    let mut view = MergedView::default();
    for (i, l) in layers.iter().enumerate() {
        view.apply_layer(i as u32, &l.contents);
    }
    let live = |layer: usize, path: &str| {
        view.get(path).is_some_and(|e| {
            e.layer as usize == layer
                && matches!(e.record.kind, FileKind::File | FileKind::Hardlink)
        })
    };

    // Distro: release files resolved through symlinks inside the root.
    let resolve_error: std::cell::RefCell<Option<ResolveError>> = std::cell::RefCell::new(None);
    let read = |p: &str| -> Option<Vec<u8>> {
        match view.resolve(p) {
            Ok(Some((real, entry))) => layers[entry.layer as usize]
                .release_files
                .iter()
                .find(|(path, _)| *path == real)
                .map(|(_, c)| c.clone()),
            Ok(None) => None,
            Err(e) => {
                resolve_error.borrow_mut().get_or_insert(e);
                None
            }
        }
    };
    let distro = os_release::detect(&read);
    if let Some(e) = resolve_error.into_inner() {
        return Err(e);
    }

    let mut warnings = Vec::new();
    let mut packages: Vec<Package> = Vec::new();
    // Owned-file hints by (kind, name, scope): the scope is empty for OS packages (one
    // database per image) and the hint file's directory for language packages, so two installs
    // of one package (two virtualenvs) keep their own files.
    let mut owned: HashMap<(PackageKind, String, String), Vec<String>> = HashMap::new();
    let mut licenses: HashMap<(PackageKind, String), Vec<String>> = HashMap::new();
    let mut newest_db_mtime: Option<i64> = None;
    for (i, l) in layers.iter().enumerate() {
        for (path, size) in &l.contents.skipped_large {
            if view.get(path).is_none_or(|e| e.layer as usize == i) {
                warnings.push(format!(
                    "{path}: {size} bytes, larger than the analysis limit; not analyzed"
                ));
            }
        }
        for r in &l.results {
            if !live(i, &r.path) {
                continue;
            }
            if let Some(e) = &r.error {
                warnings.push(format!("{} analyzer: {e}", r.analyzer));
            }
            let Some(f) = &r.facts else { continue };
            if !f.packages.is_empty() {
                let mtime = view.get(&r.path).map(|e| e.record.mtime).unwrap_or(0);
                newest_db_mtime = Some(newest_db_mtime.map_or(mtime, |m| m.max(mtime)));
            }
            packages.extend(f.packages.iter().cloned());
            for h in &f.owned_files {
                let scope = if h.kind.is_os() {
                    ""
                } else {
                    parent_dir(&r.path)
                };
                owned
                    .entry((h.kind, h.package.clone(), scope.to_string()))
                    .or_default()
                    .extend(h.values.iter().cloned());
            }
            for h in &f.licenses {
                licenses
                    .entry((h.kind, h.package.clone()))
                    .or_default()
                    .extend(h.values.iter().cloned());
            }
        }
    }

    // The layer that introduced each package: the first layer whose databases list it (for a
    // language package, at the same place).
    let identity = |p: &Package| {
        let place = if p.kind.is_os() {
            String::new()
        } else {
            p.found_in.clone()
        };
        (
            p.kind,
            p.name.clone(),
            p.version.clone(),
            p.arch.clone(),
            place,
        )
    };
    let mut first_seen: BTreeMap<PackageIdentity, usize> = BTreeMap::new();
    for (i, l) in layers.iter().enumerate() {
        for r in &l.results {
            for p in r.facts.iter().flat_map(|f| &f.packages) {
                first_seen.entry(identity(p)).or_insert(i);
            }
        }
    }

    // One entry per installed package. An OS database lists a package once however many
    // databases name it; a language package installed at two places is two packages.
    let mut seen = std::collections::HashSet::new();
    packages.retain(|p| seen.insert(identity(p)));
    // Stella reports what is installed. Lockfiles only lend installed npm packages their dev
    // flag; a lockfile's own entries (code that may not be installed here) are dropped, as
    // Trivy and Syft do for images.
    let mut packages = stella_analyzers::lang::npm::reconcile(packages, false);
    packages
        .retain(|p| p.properties.get("stella:evidence").map(String::as_str) != Some("lockfile"));
    for p in &mut packages {
        let with_arch = p.arch.as_ref().map(|a| format!("{}:{a}", p.name));
        let hint_keys = [Some(p.name.clone()), with_arch];
        let scope = if p.kind.is_os() {
            ""
        } else {
            parent_dir(&p.found_in)
        };
        for key in hint_keys.iter().flatten() {
            if let Some(files) = owned.get(&(p.kind, key.clone(), scope.to_string())) {
                p.files.extend(files.iter().cloned());
            }
            if p.licenses.is_empty()
                && let Some(l) = licenses.get(&(p.kind, key.clone()))
            {
                p.licenses = l.clone();
            }
        }
        if let Some(&i) = first_seen.get(&identity(p)) {
            p.layer = layer_digests.get(i).cloned();
        }
        if !p.kind.is_os() {
            // Language analyzers write their own purls: they need no distro.
            p.normalize();
            continue;
        }
        let bare_version = match p.epoch {
            Some(_) => p
                .version
                .split_once(':')
                .map(|(_, v)| v)
                .unwrap_or(&p.version),
            None => &p.version,
        };
        // The source (Debian) or origin (Alpine, rpm) package goes into the `upstream`
        // qualifier when it differs, as Syft writes it (`upstream=glibc`, or
        // `upstream=gcc-12@12.2.0-14` when the source version differs too): advisories name
        // source packages, so a purl alone is enough to replay a match.
        let upstream = p
            .source_name
            .as_deref()
            .filter(|s| !s.is_empty() && *s != p.name)
            .map(|s| match p.source_version.as_deref() {
                Some(v) if !v.is_empty() && v != p.version => format!("{s}@{v}"),
                _ => s.to_string(),
            });
        match os_package_purl(
            p.kind,
            &p.name,
            bare_version,
            p.epoch,
            p.arch.as_deref(),
            distro.as_ref(),
            upstream.as_deref(),
        ) {
            Ok(purl) => p.purl = purl,
            Err(e) => warnings.push(e.to_string()),
        }
        p.normalize();
    }
    packages.retain(|p| !p.purl.is_empty());
    Ok(Merged {
        distro,
        packages,
        warnings,
        newest_db_mtime,
    })
}

/// `a/b` of `a/b/c`; empty for a top-level path.
fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}
