//! Walking a root filesystem on disk as if it were one layer.
//!
//! Symlinks are recorded, never followed on the host, so nothing outside the root is read;
//! they are resolved later inside the root by [`crate::MergedView::resolve`].

use crate::ImageError;
use crate::layer::{FileKind, FileRecord, LayerContents, LayerLimits};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Virtual filesystems skipped when scanning a live system (`dir:/`).
const SKIPPED_WHEN_ROOT: &[&str] = &["proc", "sys", "dev", "run"];

/// Walks `root`, recording symlinks and wanted files (the only entries a directory scan needs:
/// everything on disk is "live", and symlinks are needed to resolve paths) and handing wanted
/// files' content to `on_file`.
/// Unreadable entries are counted in `unreadable` and skipped, as a scan of a live system meets
/// them (sockets, permission-protected files) and they carry no package data.
pub fn walk_dir(
    root: &Path,
    limits: &LayerLimits,
    wants: &dyn Fn(&str) -> bool,
    on_file: &mut dyn FnMut(&str, Vec<u8>),
) -> Result<(LayerContents, u64), ImageError> {
    let mut contents = LayerContents::default();
    let mut unreadable = 0u64;
    let is_system_root = root
        .canonicalize()
        .map(|p| p == Path::new("/"))
        .unwrap_or(false);
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    let it = walker.filter_entry(|e| {
        !(is_system_root && e.depth() == 1 && SKIPPED_WHEN_ROOT.iter().any(|s| e.file_name() == *s))
    });
    for entry in it {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                if e.depth() == 0 {
                    return Err(ImageError::io(root, "cannot read directory", e.into()));
                }
                unreadable += 1;
                continue;
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let Some(rel) = rel.to_str() else {
            unreadable += 1;
            continue;
        };
        let rel = rel.replace(std::path::MAIN_SEPARATOR, "/");
        // The directory entry's type comes from readdir; only files we keep are stat'ed, which
        // is what makes `dir:/` on a large host fast.
        let ft = entry.file_type();
        if ft.is_symlink() {
            let target = std::fs::read_link(entry.path())
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            contents.files.push(FileRecord {
                path: rel,
                kind: FileKind::Symlink,
                size: 0,
                mode: 0o777,
                mtime: 0,
                link: Some(target),
            });
            continue;
        }
        if !ft.is_file() || !wants(&rel) {
            continue;
        }
        let meta = match entry.path().symlink_metadata() {
            Ok(m) => m,
            Err(_) => {
                unreadable += 1;
                continue;
            }
        };
        if meta.len() > limits.max_file_bytes {
            contents.skipped_large.push((rel, meta.len()));
            continue;
        }
        let mut buf = Vec::with_capacity(meta.len() as usize);
        match std::fs::File::open(entry.path())
            .and_then(|f| f.take(limits.max_file_bytes).read_to_end(&mut buf))
        {
            Ok(_) => on_file(&rel, buf),
            Err(_) => {
                unreadable += 1;
                continue;
            }
        }
        contents.bytes += meta.len();
        contents.files.push(FileRecord {
            path: rel,
            kind: FileKind::File,
            size: meta.len(),
            mode: meta.permissions().mode(),
            mtime: std::os::unix::fs::MetadataExt::mtime(&meta),
            link: None,
        });
    }
    Ok((contents, unreadable))
}
