//! Containers around feed documents: zip archives of records (osv.dev's `all.zip`, CVE 5
//! bundles), gzip (EPSS) and zstd.
//!
//! Archive headers are written by whoever made the archive, so no size in them is trusted:
//! every read is capped with `take(limit + 1)` and the expanded total is counted as it
//! grows. The entry count is checked from the end-of-central-directory record before the
//! zip reader builds its table of entries, since that table costs memory per entry.

use super::{CappedReadError, ParseError, Sink, record_per_file};
use std::io::{Cursor, Read};
use stella_model::FeedSource;

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// An empty zip is only its end-of-central-directory record.
const ZIP_EMPTY_MAGIC: &[u8] = b"PK\x05\x06";
const GZIP_MAGIC: &[u8] = b"\x1f\x8b";
const ZSTD_MAGIC: &[u8] = b"\x28\xb5\x2f\xfd";

/// Compression layers peeled before giving up (`x.json.gz` is one; `x.zip.gz` two).
const MAX_NESTING: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Zip,
    Gzip,
    Zstd,
    Plain,
}

fn sniff(bytes: &[u8]) -> Container {
    if bytes.starts_with(ZIP_MAGIC) || bytes.starts_with(ZIP_EMPTY_MAGIC) {
        Container::Zip
    } else if bytes.starts_with(GZIP_MAGIC) {
        Container::Gzip
    } else if bytes.starts_with(ZSTD_MAGIC) {
        Container::Zstd
    } else {
        Container::Plain
    }
}

/// The name without a compression suffix, for detecting the format inside.
fn strip_compression_suffix<'n>(name: &'n str, suffixes: &[&str]) -> &'n str {
    let lower = name.to_ascii_lowercase();
    for suffix in suffixes {
        if lower.ends_with(suffix) {
            return &name[..name.len() - suffix.len()];
        }
    }
    name
}

/// Parses `bytes`, unwrapping containers. `location` names the input in errors (the
/// original name, `x.csv.gz`); `format_name` is what the format is detected from (`x.csv`).
pub(super) fn parse(
    sink: &mut Sink,
    source: FeedSource,
    location: &str,
    format_name: &str,
    bytes: &[u8],
    nesting: u32,
) -> Result<(), ParseError> {
    let container = sniff(bytes);
    if container != Container::Plain && nesting >= MAX_NESTING {
        return Err(ParseError::Unsupported {
            name: location.to_string(),
            message: format!("{container:?} nested in {nesting} other containers"),
        });
    }
    match container {
        Container::Plain => super::parse_plain(sink, source, location, format_name, bytes),
        Container::Gzip => {
            let inner = decompress(
                location,
                "gzip",
                flate2::read::MultiGzDecoder::new(bytes),
                sink.limits().max_document_bytes,
            )?;
            let format_name = strip_compression_suffix(format_name, &[".gz", ".gzip"]);
            parse(sink, source, location, format_name, &inner, nesting + 1)
        }
        Container::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(bytes).map_err(|e| {
                ParseError::Decompress {
                    name: location.to_string(),
                    format: "zstd",
                    message: e.to_string(),
                }
            })?;
            let inner = decompress(location, "zstd", decoder, sink.limits().max_document_bytes)?;
            let format_name = strip_compression_suffix(format_name, &[".zst", ".zstd"]);
            parse(sink, source, location, format_name, &inner, nesting + 1)
        }
        Container::Zip => parse_zip(sink, source, location, bytes),
    }
}

/// Decompresses a whole stream of at most `limit` bytes; truncation and corruption are
/// document errors.
fn decompress(
    location: &str,
    format: &'static str,
    decoder: impl Read,
    limit: u64,
) -> Result<Vec<u8>, ParseError> {
    super::read_capped(decoder, limit).map_err(|e| match e {
        CappedReadError::TooLarge => ParseError::TooLarge {
            name: location.to_string(),
            limit,
        },
        CappedReadError::Io(e) => ParseError::Decompress {
            name: location.to_string(),
            format,
            message: e.to_string(),
        },
    })
}

/// Reads every entry of a zip and parses it as a document of `source`. A bad entry is a
/// record error naming `location!entry`; only the archive itself, its entry count and its
/// expanded total can fail the document.
fn parse_zip(
    sink: &mut Sink,
    source: FeedSource,
    location: &str,
    bytes: &[u8],
) -> Result<(), ParseError> {
    let limits = *sink.limits();
    let zip_error = |message: String| ParseError::Zip {
        name: location.to_string(),
        message,
    };
    if let Some(declared) = declared_entry_count(bytes)
        && declared > limits.max_archive_entries
    {
        return Err(ParseError::TooManyEntries {
            name: location.to_string(),
            entries: declared,
            limit: limits.max_archive_entries,
        });
    }
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_error(e.to_string()))?;
    let entries = archive.len() as u64;
    if entries > limits.max_archive_entries {
        return Err(ParseError::TooManyEntries {
            name: location.to_string(),
            entries,
            limit: limits.max_archive_entries,
        });
    }
    // One entry of a record-per-file feed is one record; of other feeds, a whole document.
    let entry_limit = if record_per_file(source) {
        limits.max_record_bytes
    } else {
        limits.max_document_bytes
    };
    let mut expanded: u64 = 0;
    for index in 0..archive.len() {
        let mut file = match archive.by_index(index) {
            Ok(file) => file,
            Err(e) => {
                sink.error(
                    format!("{location}!#{index}"),
                    format!("unreadable zip entry: {e}"),
                );
                continue;
            }
        };
        let entry_name = match file.name() {
            Ok(name) => name.into_owned(),
            Err(e) => {
                sink.error(
                    format!("{location}!#{index}"),
                    format!("unreadable entry name: {e}"),
                );
                continue;
            }
        };
        let entry_location = format!("{location}!{entry_name}");
        if file.is_dir() {
            continue;
        }
        // Nothing is written to disk, but a name that climbs out of the archive says the
        // archive was not made by the feed; such an entry is reported, not read.
        if escapes_archive(&entry_name) {
            sink.error(
                entry_location,
                "entry name is absolute or climbs out of the archive (`..`); skipped",
            );
            continue;
        }
        if file.encrypted() {
            sink.error(entry_location, "entry is encrypted; skipped");
            continue;
        }
        let remaining = limits.max_archive_bytes.saturating_sub(expanded);
        let cap = entry_limit.min(remaining);
        let mut data = Vec::new();
        let read = super::read_at_most(&mut file, cap.saturating_add(1), &mut data);
        // What was read before a failure counts against the archive total too.
        expanded = expanded.saturating_add(data.len() as u64);
        if expanded > limits.max_archive_bytes {
            return Err(ParseError::ArchiveTooLarge {
                name: location.to_string(),
                entry: entry_name,
                limit: limits.max_archive_bytes,
            });
        }
        if let Err(e) = read {
            sink.error(entry_location, format!("cannot decompress entry: {e}"));
            continue;
        }
        if data.len() as u64 > entry_limit {
            sink.error(
                entry_location,
                format!("entry expands past the limit of {entry_limit} bytes; skipped"),
            );
            continue;
        }
        if sniff(&data) != Container::Plain {
            sink.error(
                entry_location,
                "archives inside zip entries are not read; skipped",
            );
            continue;
        }
        if let Err(e) = super::parse_plain(sink, source, &entry_location, &entry_name, &data) {
            sink.error(entry_location, e.detail());
        }
    }
    Ok(())
}

/// Whether an entry name is absolute (`/etc/x`, `\\server\x`, `C:\x`) or climbs with `..`.
fn escapes_archive(name: &str) -> bool {
    let absolute = name.starts_with(['/', '\\'])
        || name.as_bytes().get(1) == Some(&b':') && name.as_bytes()[0].is_ascii_alphabetic();
    absolute || name.split(['/', '\\']).any(|part| part == "..") || name.contains('\0')
}

/// The entry count the end-of-central-directory record declares (zip64 aware), or `None`
/// when it cannot be found (the zip reader then reports the archive as invalid).
fn declared_entry_count(bytes: &[u8]) -> Option<u64> {
    const EOCD: &[u8] = b"PK\x05\x06";
    const EOCD_LEN: usize = 22;
    const ZIP64_LOCATOR: &[u8] = b"PK\x06\x07";
    const ZIP64_LOCATOR_LEN: usize = 20;
    const ZIP64_EOCD: &[u8] = b"PK\x06\x06";
    // The record sits at the end, after at most a 65535-byte comment.
    let search_from = bytes.len().saturating_sub(EOCD_LEN + 0xFFFF);
    let eocd = (search_from..=bytes.len().checked_sub(EOCD_LEN)?)
        .rev()
        .find(|&i| bytes[i..].starts_with(EOCD))?;
    let le16 = |at: usize| -> Option<u64> {
        let b = bytes.get(at..at + 2)?;
        Some(u64::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let le64 = |at: usize| -> Option<u64> {
        let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_le_bytes(b))
    };
    let total = le16(eocd + 10)?;
    if total != 0xFFFF {
        return Some(total);
    }
    let locator = eocd.checked_sub(ZIP64_LOCATOR_LEN)?;
    if !bytes[locator..].starts_with(ZIP64_LOCATOR) {
        return Some(total);
    }
    let zip64_eocd = usize::try_from(le64(locator + 8)?).ok()?;
    if !bytes.get(zip64_eocd..)?.starts_with(ZIP64_EOCD) {
        return None;
    }
    le64(zip64_eocd + 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn entry_count_is_read_from_the_end_record() {
        let bytes = zip_of(&[("a.json", b"{}"), ("b.json", b"{}"), ("c.json", b"{}")]);
        assert_eq!(declared_entry_count(&bytes), Some(3));
        assert_eq!(declared_entry_count(b"not a zip"), None);
    }

    #[test]
    fn names_that_leave_the_archive_are_recognised() {
        for name in [
            "../x.json",
            "a/../../x.json",
            "/etc/x.json",
            "\\\\host\\x",
            "C:\\x.json",
            "a\\..\\x",
        ] {
            assert!(escapes_archive(name), "{name}");
        }
        for name in ["x.json", "PyPI/GHSA-1.json", "a/..b/x.json", "a..json"] {
            assert!(!escapes_archive(name), "{name}");
        }
    }

    #[test]
    fn compression_suffix_is_stripped_case_insensitively() {
        assert_eq!(
            strip_compression_suffix("epss.csv.GZ", &[".gz"]),
            "epss.csv"
        );
        assert_eq!(strip_compression_suffix("epss.csv", &[".gz"]), "epss.csv");
    }
}
