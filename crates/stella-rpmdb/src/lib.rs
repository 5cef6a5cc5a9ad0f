//! Reads the list of installed packages from an RPM database held in memory, in pure Rust.
//!
//! Red Hat, Fedora, SUSE, Amazon Linux, CBL-Mariner and the other rpm-based images record what
//! is installed in one of three database formats, depending on the rpm version that built them:
//!
//! | format | file | used by |
//! |---|---|---|
//! | [`RpmDbFormat::BerkeleyDb`] | `/var/lib/rpm/Packages` | rpm < 4.16: RHEL/CentOS ≤ 8, Amazon Linux 2 |
//! | [`RpmDbFormat::Ndb`] | `/var/lib/rpm/Packages.db` | SUSE (SLES ≥ 15 SP3, openSUSE) |
//! | [`RpmDbFormat::Sqlite`] | `/var/lib/rpm/rpmdb.sqlite` (or `/usr/lib/sysimage/rpm/`) | rpm ≥ 4.16: Fedora, RHEL 9 |
//!
//! Each stores one rpm *header blob* per package; this crate finds the blobs ([`read_packages`]
//! detects the format from the magic bytes) and decodes the tags a scanner needs into
//! [`RpmPackage`]. It does no I/O: the OS analyzer hands it the file's bytes from the image layer.
//!
//! Why hand-written: scanning must not link librpm (a C library, absent on non-rpm hosts, and it
//! wants a database directory on disk). On crates.io, `rpm` reads `.rpm` package files, not
//! databases; the one crate that reads rpmdb files (`rpmdb` 0.1.1, a young port of go-rpmdb)
//! only opens filesystem paths (and `flock`s them), and pins rusqlite 0.37, whose
//! `libsqlite3-sys` cannot be linked alongside the one sqlx uses (Cargo allows one crate linking
//! `sqlite3`). The formats are small and stable, so they are read here, from bytes, with rpm's own
//! validation rules.
//!
//! Hostile input — a layer can hold anything at `/var/lib/rpm/Packages` — yields an
//! [`RpmDbError`] naming the byte offset, page, slot or header index, never a panic. Every offset
//! and count is checked against the bytes before use, and every allocation is bounded by a small
//! multiple of the input size.
//!
//! Packages come back in database order (BDB page order, NDB slot order, SQLite `hnum` order),
//! which is deterministic for a given file; callers that emit them sort as their output needs.
//! `gpg-pubkey` pseudo-packages (imported signing keys) are included, as `rpm -qa` lists them.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bytes = std::fs::read("rootfs/var/lib/rpm/rpmdb.sqlite")?;
//! for p in stella_rpmdb::read_packages(&bytes)? {
//!     let epoch = p.epoch.map(|e| format!("{e}:")).unwrap_or_default();
//!     println!("{}-{epoch}{}-{} from {:?}", p.name, p.version, p.release, p.source_name_version());
//! }
//! # Ok(())
//! # }
//! ```

mod bdb;
mod error;
mod header;
mod ndb;
mod package;
mod sqlite;

use std::fmt;

pub use error::{HeaderError, RpmDbError};
pub use package::RpmPackage;

/// The three on-disk formats rpm has used for its package database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RpmDbFormat {
    /// Berkeley DB hash database (`Packages`).
    BerkeleyDb,
    /// rpm's native "ndb" format (`Packages.db`).
    Ndb,
    /// SQLite (`rpmdb.sqlite`).
    Sqlite,
}

/// Detects the format from the file's magic bytes: `SQLite format 3\0` at the start, `RpmP` at
/// the start (NDB), or the Berkeley DB hash magic `0x061561` at byte 12 in either byte order.
pub fn detect_format(bytes: &[u8]) -> Option<RpmDbFormat> {
    if sqlite::has_magic(bytes) {
        Some(RpmDbFormat::Sqlite)
    } else if ndb::has_magic(bytes) {
        Some(RpmDbFormat::Ndb)
    } else if bdb::has_magic(bytes) {
        Some(RpmDbFormat::BerkeleyDb)
    } else {
        None
    }
}

/// Reads every installed package from a whole database file held in memory.
///
/// Fails on the first malformed structure rather than returning a partial list: a scanner that
/// silently drops packages would silently drop their vulnerabilities.
pub fn read_packages(bytes: &[u8]) -> Result<Vec<RpmPackage>, RpmDbError> {
    let format = detect_format(bytes).ok_or(RpmDbError::UnknownFormat { len: bytes.len() })?;
    read_packages_as(format, bytes)
}

/// Like [`read_packages`], with the format given instead of detected.
pub fn read_packages_as(format: RpmDbFormat, bytes: &[u8]) -> Result<Vec<RpmPackage>, RpmDbError> {
    let mut packages = Vec::new();
    let mut visit = |blob: &[u8], location: Location| -> Result<(), RpmDbError> {
        let index = packages.len();
        let package = parse_header(blob).map_err(|source| RpmDbError::Header {
            index,
            location: location.to_string(),
            source,
        })?;
        packages.push(package);
        Ok(())
    };
    match format {
        RpmDbFormat::BerkeleyDb => bdb::for_each_blob(bytes, &mut visit)?,
        RpmDbFormat::Ndb => ndb::for_each_blob(bytes, &mut visit)?,
        RpmDbFormat::Sqlite => sqlite::for_each_blob(bytes, &mut visit)?,
    }
    Ok(packages)
}

/// Decodes one rpm header blob as stored in the database (index count, data length, index
/// entries, data store; no leading `8e ad e8` magic).
pub fn parse_header(blob: &[u8]) -> Result<RpmPackage, HeaderError> {
    let header = header::Header::parse(blob)?;
    package::package_from_header(&header, blob.len())
}

/// What each backend calls with every header blob it finds, in database order. A visitor rather
/// than a returned list, so blobs borrowed from the input (NDB, on-page BDB, SQLite rows) are
/// decoded in place instead of being copied out first.
pub(crate) type BlobVisitor<'a> = dyn FnMut(&[u8], Location) -> Result<(), RpmDbError> + 'a;

/// Where a header blob was found, for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Location {
    Bdb {
        page: u32,
        item: u16,
    },
    Ndb {
        slot: u32,
        pkg_index: u32,
        offset: u64,
    },
    Sqlite {
        hnum: i64,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Location::Bdb { page, item } => write!(f, "Berkeley DB page {page}, item {item}"),
            Location::Ndb {
                slot,
                pkg_index,
                offset,
            } => write!(
                f,
                "NDB slot {slot}, package index {pkg_index}, blob at byte offset {offset}"
            ),
            Location::Sqlite { hnum } => write!(f, "SQLite Packages row hnum {hnum}"),
        }
    }
}
