//! Reading one layer: decompression by magic bytes, the tar walk, whiteouts and size limits.
//!
//! A layer is read in a single streaming pass. Every entry is recorded as a [`FileRecord`];
//! the content of the files an analyzer asked for is handed to a callback; whiteouts are
//! collected for the merge. Nothing is extracted to disk, so a hostile tar cannot write
//! outside anything, but its paths are still checked and rejected when they climb out of the
//! root, because such an entry means the layer is corrupt or malicious.

use serde::{Deserialize, Serialize};
use std::io::{self, BufReader, Read};

/// Limits that stop hostile layers (decompression bombs, giant files) early.
#[derive(Debug, Clone, Copy)]
pub struct LayerLimits {
    /// Most bytes one layer may decompress to.
    pub max_layer_bytes: u64,
    /// Largest file whose content an analyzer may ask for.
    pub max_file_bytes: u64,
    /// Most entries in one layer.
    pub max_entries: u64,
}

impl Default for LayerLimits {
    fn default() -> Self {
        LayerLimits {
            max_layer_bytes: 32 << 30,
            max_file_bytes: 512 << 20,
            max_entries: 5_000_000,
        }
    }
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Other,
}

/// One entry of a layer (or of a directory source). Paths are root-relative, `/`-separated,
/// without a leading slash or `.` and `..` components.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: String,
    pub kind: FileKind,
    pub size: u64,
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    #[serde(default)]
    pub mtime: i64,
    /// Symlink target as written, or hardlink target as a root-relative path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Everything a layer walk learned, apart from the file contents handed to the callback.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerContents {
    pub files: Vec<FileRecord>,
    /// Paths deleted by `.wh.NAME` entries (they and everything under them).
    pub whiteouts: Vec<String>,
    /// Directories made opaque by `.wh..wh..opq` (their lower-layer contents are hidden).
    pub opaque_dirs: Vec<String>,
    /// Uncompressed bytes read.
    pub bytes: u64,
    /// Wanted files left unread because they exceed [`LayerLimits::max_file_bytes`]:
    /// `(path, size)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_large: Vec<(String, u64)>,
}

/// Why a layer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("entry {path:?}: {message}")]
    BadEntry { path: String, message: String },
    #[error("decompressed size exceeds the limit of {limit} bytes (possible decompression bomb)")]
    TooLarge { limit: u64 },
    #[error("more than {limit} entries")]
    TooManyEntries { limit: u64 },
    #[error("{0}")]
    Read(String),
}

impl LayerError {
    fn from_io(e: io::Error) -> LayerError {
        if let Some(inner) = e.get_ref()
            && let Some(limit) = inner.downcast_ref::<LimitExceeded>()
        {
            return LayerError::TooLarge { limit: limit.0 };
        }
        match e.kind() {
            io::ErrorKind::UnexpectedEof => LayerError::Read(format!("truncated: {e}")),
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::Other => {
                LayerError::Read(format!("corrupt or unreadable: {e}"))
            }
            _ => LayerError::Read(e.to_string()),
        }
    }
}

#[derive(Debug)]
struct LimitExceeded(u64);
impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "decompressed size exceeds {} bytes", self.0)
    }
}
impl std::error::Error for LimitExceeded {}

/// Counts decompressed bytes and fails once the limit is passed.
struct LimitedReader<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::other(LimitExceeded(self.limit)));
        }
        Ok(n)
    }
}

/// Supplies the zero padding and end-of-archive blocks a layer's tar stream lacks.
///
/// Some writers (umoci 0.4.7, for one) end a layer right after the last file's data, without
/// the block padding and the two zero blocks. The bytes that are there are whole and, for
/// every image source, checked against the layer's digest, so completing the framing reads
/// such layers the way container runtimes do without accepting anything unverified. A
/// stream cut inside an entry's data still fails: the padding is at most 1.5 KiB of zeros.
struct TrailerPad<R> {
    inner: R,
    total: u64,
    pad_left: Option<u64>,
}

impl<R: Read> Read for TrailerPad<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(left) = self.pad_left.as_mut() {
            let n = (*left).min(buf.len() as u64) as usize;
            buf[..n].fill(0);
            *left -= n as u64;
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.pad_left = Some((512 - self.total % 512) % 512 + 1024);
            return self.read(buf);
        }
        self.total += n as u64;
        Ok(n)
    }
}

/// Compression of a layer stream, told by its first bytes (media types lie often enough).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

pub fn sniff_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Normalises a tar path to the root-relative form; `None` for the root itself.
///
/// Absolute paths and `..` components are errors: a layer is applied relative to the image
/// root, and an entry that tries to leave it is hostile.
pub fn normalize_entry_path(raw: &str) -> Result<Option<String>, String> {
    if raw.starts_with('/') {
        return Err("absolute path in layer".to_string());
    }
    let mut parts: Vec<&str> = Vec::new();
    for comp in raw.split('/') {
        match comp {
            "" | "." => {}
            ".." => return Err("path climbs out of the image root with '..'".to_string()),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        Ok(None)
    } else {
        Ok(Some(parts.join("/")))
    }
}

/// Walks a raw (possibly compressed) layer stream.
///
/// `wants` is asked for every regular file; the content of each wanted one is passed to
/// `on_file`. Hard links whose own path is wanted are returned in `LayerWalk::hardlinks_wanted`
/// so the caller can fetch their targets (the target's bytes came earlier in the stream and
/// were not kept unless the target itself was wanted).
///
/// The stream is read to its end, even past the tar end-of-archive blocks, so a verifying reader
/// underneath sees every byte and checks the digest.
pub fn walk_layer(
    raw: &mut dyn Read,
    limits: &LayerLimits,
    wants: &dyn Fn(&str) -> bool,
    on_file: &mut dyn FnMut(&str, Vec<u8>),
) -> Result<LayerWalk, LayerError> {
    let walk = {
        // Sniff from the first 4 bytes, read until there or the end: a slow stream (a registry
        // over a poor link) can hand out a byte at a time, and one byte cannot tell gzip from tar.
        let mut head = [0u8; 4];
        let mut got = 0;
        while got < head.len() {
            match raw.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(LayerError::from_io(e)),
            }
        }
        let compression = sniff_compression(&head[..got]);
        let mut buffered =
            BufReader::with_capacity(256 * 1024, io::Cursor::new(&head[..got]).chain(&mut *raw));
        let decoded: Box<dyn Read + '_> = match compression {
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(&mut buffered)),
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::with_buffer(&mut buffered)
                    .map_err(LayerError::from_io)?,
            ),
            Compression::None => Box::new(&mut buffered),
        };
        let mut limited = LimitedReader {
            inner: decoded,
            read: 0,
            limit: limits.max_layer_bytes,
        };
        let mut padded = TrailerPad {
            inner: &mut limited,
            total: 0,
            pad_left: None,
        };
        let walk = walk_tar(&mut padded, limits, wants, on_file)?;
        // Drain what follows the end-of-archive marker (padding, or garbage that the digest
        // check must still see).
        io::copy(&mut padded, &mut io::sink()).map_err(LayerError::from_io)?;
        let mut walk = walk;
        walk.contents.bytes = limited.read;
        walk
    };
    io::copy(raw, &mut io::sink()).map_err(LayerError::from_io)?;
    Ok(walk)
}

/// Result of [`walk_layer`].
#[derive(Debug, Default)]
pub struct LayerWalk {
    pub contents: LayerContents,
    /// `(link path, target path)` for wanted hard links whose target content was not captured.
    pub hardlinks_wanted: Vec<(String, String)>,
}

fn walk_tar(
    reader: &mut dyn Read,
    limits: &LayerLimits,
    wants: &dyn Fn(&str) -> bool,
    on_file: &mut dyn FnMut(&str, Vec<u8>),
) -> Result<LayerWalk, LayerError> {
    let mut archive = tar::Archive::new(reader);
    let mut walk = LayerWalk::default();
    let mut captured: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut count: u64 = 0;
    let entries = archive.entries().map_err(LayerError::from_io)?;
    for entry in entries {
        let mut entry = entry.map_err(LayerError::from_io)?;
        count += 1;
        if count > limits.max_entries {
            return Err(LayerError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let header = entry.header();
        let entry_type = header.entry_type();
        if matches!(
            entry_type,
            tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink
        ) {
            continue;
        }
        let path = match normalize_entry_path(&raw_path) {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(message) => {
                return Err(LayerError::BadEntry {
                    path: raw_path,
                    message,
                });
            }
        };
        let size = entry.size();
        if size > limits.max_layer_bytes {
            return Err(LayerError::TooLarge {
                limit: limits.max_layer_bytes,
            });
        }
        let mode = header.mode().unwrap_or(0);
        let mtime = header.mtime().unwrap_or(0) as i64;
        let (parent, base) = match path.rsplit_once('/') {
            Some((p, b)) => (p, b),
            None => ("", path.as_str()),
        };
        if let Some(hidden) = base.strip_prefix(".wh.") {
            if hidden == ".wh..opq" {
                walk.contents.opaque_dirs.push(parent.to_string());
            } else if !hidden.starts_with(".wh.") && !hidden.is_empty() {
                let deleted = if parent.is_empty() {
                    hidden.to_string()
                } else {
                    format!("{parent}/{hidden}")
                };
                walk.contents.whiteouts.push(deleted);
            }
            continue;
        }
        let (kind, link) = match entry_type {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                (FileKind::File, None)
            }
            tar::EntryType::Directory => (FileKind::Dir, None),
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                (FileKind::Symlink, Some(target))
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let target = match normalize_entry_path(&target) {
                    Ok(Some(t)) => t,
                    Ok(None) => {
                        return Err(LayerError::BadEntry {
                            path,
                            message: "hard link to the image root".into(),
                        });
                    }
                    Err(m) => {
                        return Err(LayerError::BadEntry {
                            path,
                            message: format!("hard link target {target:?}: {m}"),
                        });
                    }
                };
                (FileKind::Hardlink, Some(target))
            }
            _ => (FileKind::Other, None),
        };
        if kind == FileKind::File && wants(&path) && size > limits.max_file_bytes {
            // Too big to analyze (a giant archive): reported, not fatal.
            walk.contents.skipped_large.push((path.clone(), size));
        } else if kind == FileKind::File && wants(&path) {
            let mut content = Vec::with_capacity(size as usize);
            entry
                .read_to_end(&mut content)
                .map_err(LayerError::from_io)?;
            if content.len() as u64 != size {
                return Err(LayerError::Read(format!("truncated entry {path:?}")));
            }
            on_file(&path, content);
            captured.insert(path.clone());
        } else if kind == FileKind::Hardlink
            && wants(&path)
            && let Some(target) = &link
        {
            walk.hardlinks_wanted.push((path.clone(), target.clone()));
        }
        walk.contents.files.push(FileRecord {
            path,
            kind,
            size,
            mode,
            mtime,
            link,
        });
    }
    walk.hardlinks_wanted.retain(|(_, t)| !captured.contains(t));
    Ok(walk)
}

/// Reads the content of specific paths from a layer (a second pass, used for hard links).
pub fn read_paths(
    raw: &mut dyn Read,
    limits: &LayerLimits,
    paths: &[String],
) -> Result<Vec<(String, Vec<u8>)>, LayerError> {
    let mut out = Vec::new();
    let wants = |p: &str| paths.iter().any(|w| w == p);
    walk_layer(raw, limits, &wants, &mut |p, c| {
        out.push((p.to_string(), c))
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn normalizes_paths_and_rejects_escapes() {
        assert_eq!(
            normalize_entry_path("./etc/os-release").unwrap().as_deref(),
            Some("etc/os-release")
        );
        assert_eq!(
            normalize_entry_path("usr//lib/./x/").unwrap().as_deref(),
            Some("usr/lib/x")
        );
        assert_eq!(normalize_entry_path("./").unwrap(), None);
        assert!(normalize_entry_path("../etc/passwd").is_err());
        assert!(normalize_entry_path("a/../../b").is_err());
        assert!(normalize_entry_path("/etc/passwd").is_err());
    }

    #[test]
    fn collects_wanted_files_and_whiteouts() {
        let data = tar_with(&[
            ("etc/os-release", b"ID=debian\n"),
            ("usr/bin/ls", b"\x7fELF"),
            ("etc/.wh.motd", b""),
            ("opt/app/.wh..wh..opq", b""),
        ]);
        let mut got = Vec::new();
        let walk = walk_layer(
            &mut &data[..],
            &LayerLimits::default(),
            &|p| p == "etc/os-release",
            &mut |p, c| got.push((p.to_string(), c)),
        )
        .unwrap();
        assert_eq!(
            got,
            vec![("etc/os-release".to_string(), b"ID=debian\n".to_vec())]
        );
        assert_eq!(walk.contents.whiteouts, vec!["etc/motd"]);
        assert_eq!(walk.contents.opaque_dirs, vec!["opt/app"]);
        assert_eq!(walk.contents.files.len(), 2);
    }

    #[test]
    fn gzip_and_zstd_layers_read_the_same() {
        use std::io::Write;
        let data = tar_with(&[("a/b", b"hello")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::encode_all(&data[..], 1).unwrap();
        for raw in [data.clone(), gz, zs] {
            let mut got = Vec::new();
            walk_layer(
                &mut &raw[..],
                &LayerLimits::default(),
                &|_| true,
                &mut |p, c| got.push((p.to_string(), c)),
            )
            .unwrap();
            assert_eq!(got, vec![("a/b".to_string(), b"hello".to_vec())]);
        }
    }

    #[test]
    fn decompression_bomb_is_stopped_by_the_size_limit() {
        use std::io::Write;
        let zeros = vec![0u8; 8 << 20];
        let data = tar_with(&[("big", &zeros)]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        assert!(gz.len() < 64 * 1024, "the test bomb should compress well");
        let limits = LayerLimits {
            max_layer_bytes: 1 << 20,
            ..Default::default()
        };
        let err = walk_layer(&mut &gz[..], &limits, &|_| false, &mut |_, _| {}).unwrap_err();
        assert!(matches!(err, LayerError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let mut bad = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        bad.extend_from_slice(&[0xff; 64]);
        let err = walk_layer(
            &mut &bad[..],
            &LayerLimits::default(),
            &|_| true,
            &mut |_, _| {},
        )
        .unwrap_err();
        assert!(matches!(err, LayerError::Read(_)), "{err}");
    }

    #[test]
    fn layer_without_padding_and_end_blocks_reads() {
        let data = tar_with(&[("etc/skel/README", b"hello")]);
        // Cut right after the file's data: no padding, no end-of-archive blocks.
        let cut = &data[..512 + 5];
        let mut got = Vec::new();
        walk_layer(
            &mut &cut[..],
            &LayerLimits::default(),
            &|_| true,
            &mut |p, c| got.push((p.to_string(), c)),
        )
        .unwrap();
        assert_eq!(
            got,
            vec![("etc/skel/README".to_string(), b"hello".to_vec())]
        );
    }

    #[test]
    fn truncated_layer_is_an_error() {
        let data = tar_with(&[("etc/os-release", &[b'x'; 4000])]);
        let cut = &data[..1500];
        let err = walk_layer(
            &mut &cut[..],
            &LayerLimits::default(),
            &|_| true,
            &mut |_, _| {},
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("truncated") || err.to_string().contains("corrupt"),
            "{err}"
        );
    }
}
