//! The image's final filesystem: layers applied in order, with whiteouts, and path resolution
//! through symlinks and hard links that never leaves the image root.

use crate::layer::{FileKind, FileRecord, LayerContents};
use std::collections::BTreeMap;

/// Most symlinks followed while resolving one path, as Linux's `MAXSYMLINKS`.
const MAX_SYMLINK_HOPS: usize = 40;

/// One file of the final view and the layer that last wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewEntry {
    pub layer: u32,
    pub record: FileRecord,
}

/// The merged filesystem of an image.
#[derive(Debug, Default, Clone)]
pub struct MergedView {
    entries: BTreeMap<String, ViewEntry>,
}

/// Why a path could not be resolved.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error("symlink {link:?} -> {target:?} escapes the image root")]
    Escape { link: String, target: String },
    #[error("too many levels of symlinks resolving {path:?} (a symlink loop)")]
    Loop { path: String },
}

impl MergedView {
    /// Applies one layer on top of the view: its whiteouts and opaque directories hide lower
    /// layers' files, then its own entries are added (the OCI image spec's order).
    pub fn apply_layer(&mut self, layer: u32, contents: &LayerContents) {
        for dir in &contents.opaque_dirs {
            self.remove_under(dir, false);
        }
        for path in &contents.whiteouts {
            self.remove_under(path, true);
        }
        for rec in &contents.files {
            // A file replacing a directory hides what the directory held.
            if rec.kind != FileKind::Dir
                && let Some(old) = self.entries.get(&rec.path)
                && old.record.kind == FileKind::Dir
            {
                self.remove_under(&rec.path.clone(), false);
            }
            self.entries.insert(
                rec.path.clone(),
                ViewEntry {
                    layer,
                    record: rec.clone(),
                },
            );
        }
    }

    fn remove_under(&mut self, path: &str, including_self: bool) {
        if path.is_empty() {
            // The root made opaque: nothing from below survives.
            self.entries.clear();
            return;
        }
        if including_self {
            self.entries.remove(path);
        }
        let prefix = format!("{path}/");
        let doomed: Vec<String> = self
            .entries
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.entries.remove(&k);
        }
    }

    pub fn get(&self, path: &str) -> Option<&ViewEntry> {
        self.entries.get(path)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &ViewEntry)> {
        self.entries.iter()
    }

    /// Resolves `path` through symlinks in any component and hard links at the end, inside
    /// the root. Absolute symlink targets are taken relative to the image root. A target that
    /// climbs above the root is an error, as is a loop. Returns the real path and its entry,
    /// or `None` when nothing exists there.
    pub fn resolve(&self, path: &str) -> Result<Option<(String, &ViewEntry)>, ResolveError> {
        let mut pending: Vec<String> = path
            .split('/')
            .rev()
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        let mut current: Vec<String> = Vec::new();
        let mut hops = 0usize;
        while let Some(comp) = pending.pop() {
            match comp.as_str() {
                "." => continue,
                ".." => {
                    if current.pop().is_none() {
                        return Err(ResolveError::Escape {
                            link: path.to_string(),
                            target: path.to_string(),
                        });
                    }
                    continue;
                }
                _ => {}
            }
            current.push(comp);
            let joined = current.join("/");
            let Some(entry) = self.entries.get(&joined) else {
                // Not recorded: a plain directory that layers (and directory scans) need not
                // list. Only symlinks change the path, so go on.
                continue;
            };
            match entry.record.kind {
                FileKind::Symlink => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(ResolveError::Loop {
                            path: path.to_string(),
                        });
                    }
                    let target = entry.record.link.clone().unwrap_or_default();
                    current.pop();
                    if target.starts_with('/') {
                        current.clear();
                    }
                    // Check the climb against the depth now, so the error names this link.
                    let mut depth = current.len() as i64;
                    for c in target.split('/') {
                        match c {
                            "" | "." => {}
                            ".." => {
                                depth -= 1;
                                if depth < 0 {
                                    return Err(ResolveError::Escape {
                                        link: joined,
                                        target,
                                    });
                                }
                            }
                            _ => depth += 1,
                        }
                    }
                    for c in target.split('/').rev().filter(|c| !c.is_empty()) {
                        pending.push(c.to_string());
                    }
                }
                FileKind::Hardlink if pending.is_empty() => {
                    let target = entry.record.link.clone().unwrap_or_default();
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(ResolveError::Loop {
                            path: path.to_string(),
                        });
                    }
                    current = target.split('/').map(String::from).collect();
                    let joined = current.join("/");
                    return match self.entries.get(&joined) {
                        Some(e) => Ok(Some((joined, e))),
                        None => Ok(None),
                    };
                }
                _ => {}
            }
        }
        let joined = current.join("/");
        Ok(self.entries.get(&joined).map(|e| (joined, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> FileRecord {
        FileRecord {
            path: path.into(),
            kind: FileKind::File,
            size: 1,
            mode: 0o644,
            mtime: 0,
            link: None,
        }
    }
    fn dir(path: &str) -> FileRecord {
        FileRecord {
            kind: FileKind::Dir,
            ..file(path)
        }
    }
    fn symlink(path: &str, target: &str) -> FileRecord {
        FileRecord {
            kind: FileKind::Symlink,
            link: Some(target.into()),
            ..file(path)
        }
    }

    #[test]
    fn whiteouts_and_opaque_dirs_hide_lower_layers() {
        let mut v = MergedView::default();
        v.apply_layer(
            0,
            &LayerContents {
                files: vec![
                    dir("etc"),
                    file("etc/motd"),
                    dir("opt"),
                    file("opt/a"),
                    file("opt/b"),
                    file("keep"),
                ],
                ..Default::default()
            },
        );
        v.apply_layer(
            1,
            &LayerContents {
                files: vec![file("opt/c"), file("keep")],
                whiteouts: vec!["etc/motd".into()],
                opaque_dirs: vec!["opt".into()],
                ..Default::default()
            },
        );
        assert!(v.get("etc/motd").is_none());
        assert!(v.get("opt/a").is_none());
        assert!(v.get("opt/b").is_none());
        assert_eq!(v.get("opt/c").unwrap().layer, 1);
        assert_eq!(
            v.get("keep").unwrap().layer,
            1,
            "the layer that last wrote a file wins"
        );
        assert_eq!(v.get("etc").unwrap().layer, 0);
    }

    #[test]
    fn resolves_relative_and_absolute_symlinks_inside_the_root() {
        let mut v = MergedView::default();
        v.apply_layer(
            0,
            &LayerContents {
                files: vec![
                    dir("usr"),
                    dir("usr/lib"),
                    file("usr/lib/os-release"),
                    dir("etc"),
                    symlink("etc/os-release", "../usr/lib/os-release"),
                    symlink("lib", "usr/lib"),
                    symlink("abs", "/usr/lib/os-release"),
                ],
                ..Default::default()
            },
        );
        assert_eq!(
            v.resolve("etc/os-release").unwrap().unwrap().0,
            "usr/lib/os-release"
        );
        assert_eq!(
            v.resolve("lib/os-release").unwrap().unwrap().0,
            "usr/lib/os-release"
        );
        assert_eq!(v.resolve("abs").unwrap().unwrap().0, "usr/lib/os-release");
        assert!(v.resolve("nope/x").unwrap().is_none());
    }

    #[test]
    fn symlink_escaping_the_root_is_an_error() {
        let mut v = MergedView::default();
        v.apply_layer(
            0,
            &LayerContents {
                files: vec![
                    dir("etc"),
                    symlink("etc/os-release", "../../../host/etc/passwd"),
                ],
                ..Default::default()
            },
        );
        assert!(matches!(
            v.resolve("etc/os-release"),
            Err(ResolveError::Escape { .. })
        ));
    }

    #[test]
    fn symlink_loop_is_an_error() {
        let mut v = MergedView::default();
        v.apply_layer(
            0,
            &LayerContents {
                files: vec![symlink("a", "b"), symlink("b", "a")],
                ..Default::default()
            },
        );
        assert!(matches!(v.resolve("a"), Err(ResolveError::Loop { .. })));
    }
}
