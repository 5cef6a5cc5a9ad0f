//! Random access into tar archives (`docker save` output and OCI archives) without unpacking
//! them: one pass over the headers records where each member's bytes are, and members are then
//! read by seeking. Nothing is written to disk.

use crate::ImageError;
use crate::layer::normalize_entry_path;
use crate::target::ArchiveKind;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Where each regular member of a tar file lies.
#[derive(Debug, Clone)]
pub struct TarIndex {
    path: PathBuf,
    members: BTreeMap<String, (u64, u64)>,
}

impl TarIndex {
    pub fn open(path: &Path) -> Result<TarIndex, ImageError> {
        let file = File::open(path).map_err(|e| ImageError::io(path, "cannot open archive", e))?;
        let mut archive = tar::Archive::new(file);
        let mut members = BTreeMap::new();
        let not_image = |m: String| ImageError::bad_image(path.display().to_string(), m);
        let entries = archive
            .entries_with_seek()
            .map_err(|e| not_image(format!("not a tar archive: {e}")))?;
        for entry in entries {
            let entry = entry.map_err(|e| not_image(format!("not a readable tar archive: {e}")))?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let name = match normalize_entry_path(&raw) {
                Ok(Some(n)) => n,
                Ok(None) => continue,
                Err(m) => return Err(not_image(format!("member {raw:?}: {m}"))),
            };
            if entry.header().entry_type().is_file() {
                members.insert(name, (entry.raw_file_position(), entry.size()));
            }
        }
        if members.is_empty() {
            return Err(not_image(
                "not an image: the file is not a tar archive or is empty".into(),
            ));
        }
        Ok(TarIndex {
            path: path.to_path_buf(),
            members,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn contains(&self, member: &str) -> bool {
        self.members.contains_key(member)
    }

    pub fn size(&self, member: &str) -> Option<u64> {
        self.members.get(member).map(|m| m.1)
    }

    /// A reader over one member's bytes.
    pub fn open_member(&self, member: &str) -> Result<Box<dyn Read + Send>, ImageError> {
        let (offset, size) = *self.members.get(member).ok_or_else(|| {
            ImageError::bad_image(
                self.path.display().to_string(),
                format!("the archive has no member {member:?}"),
            )
        })?;
        let mut file = File::open(&self.path)
            .map_err(|e| ImageError::io(&self.path, "cannot open archive", e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| ImageError::io(&self.path, "cannot seek in archive", e))?;
        Ok(Box::new(file.take(size)))
    }

    /// A small member read whole, bounded by `limit`.
    pub fn read_member(&self, member: &str, limit: u64) -> Result<Vec<u8>, ImageError> {
        let size = self.size(member).unwrap_or(0);
        if size > limit {
            return Err(ImageError::bad_image(
                self.path.display().to_string(),
                format!("member {member:?} is {size} bytes, more than the {limit} allowed"),
            ));
        }
        let mut out = Vec::with_capacity(size as usize);
        self.open_member(member)?
            .read_to_end(&mut out)
            .map_err(|e| ImageError::io(&self.path, format!("cannot read member {member:?}"), e))?;
        Ok(out)
    }
}

/// Tells an OCI archive from a docker archive by its members; anything else is not an image.
pub fn sniff_archive(path: &Path) -> Result<ArchiveKind, ImageError> {
    let index = TarIndex::open(path)?;
    if index.contains("oci-layout")
        && index.contains("index.json")
        && !index.contains("manifest.json")
    {
        Ok(ArchiveKind::Oci)
    } else if index.contains("manifest.json") {
        Ok(ArchiveKind::Docker)
    } else if index.contains("oci-layout") {
        Ok(ArchiveKind::Oci)
    } else {
        Err(ImageError::bad_image(
            path.display().to_string(),
            "not an image: the archive has neither oci-layout nor manifest.json",
        ))
    }
}
