//! Error types. Every variant names the place in the input where things went wrong (byte offset,
//! page number, slot, header index) so a report about a broken image can be acted on.

use std::fmt;

/// Why a database file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpmDbError {
    /// The bytes carry none of the three magics (BDB hash, NDB `RpmP`, `SQLite format 3\0`).
    #[error(
        "not an RPM database: {len} bytes with no Berkeley DB hash, NDB or SQLite magic at the start"
    )]
    UnknownFormat {
        /// Length of the input.
        len: usize,
    },

    /// The Berkeley DB `Packages` file is malformed.
    #[error("Berkeley DB Packages: {reason} (page {page}, byte offset {offset})")]
    BerkeleyDb {
        /// Page number (0 is the metadata page).
        page: u32,
        /// Byte offset from the start of the file.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// The NDB `Packages.db` file is malformed.
    #[error("NDB Packages.db: {reason} (byte offset {offset})")]
    Ndb {
        /// Byte offset from the start of the file.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// SQLite refused the file or the query on it.
    #[error("SQLite rpmdb: {context}: {source}")]
    Sqlite {
        /// The step that failed.
        context: &'static str,
        /// The error SQLite reported.
        #[source]
        source: rusqlite::Error,
    },

    /// The SQLite file opened but does not hold rpm's `Packages(hnum, blob)` table as expected.
    #[error("SQLite rpmdb: {reason}")]
    SqliteLayout {
        /// What is wrong.
        reason: String,
    },

    /// One package header blob inside an otherwise readable database is malformed.
    #[error("package header #{index} ({location}): {source}")]
    Header {
        /// 0-based position of the header in database order.
        index: usize,
        /// Where the header came from, e.g. `NDB slot 3 (package index 7) at byte offset 16384`.
        location: String,
        /// What is wrong inside the header.
        #[source]
        source: HeaderError,
    },
}

/// Why one rpm header blob (the `il`/`dl` index + data store structure) could not be decoded.
/// Offsets are relative to the start of the blob unless they say "data offset", which is relative
/// to the start of the data store (right after the index entries), as rpm stores them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// Fewer than the 8 bytes holding the index count and data length.
    #[error("blob is {len} bytes, shorter than the 8-byte index count/data length preamble")]
    TooShort {
        /// Blob length.
        len: usize,
    },
    /// Index entry count outside what rpm accepts (1..=65535).
    #[error("index entry count {count} is outside 1..=65535")]
    BadIndexCount {
        /// The count read from the blob.
        count: u32,
    },
    /// Data store length at or over rpm's 16 MiB limit.
    #[error("data store length {length} is at or over rpm's 16 MiB limit")]
    DataTooLarge {
        /// The length read from the blob.
        length: u32,
    },
    /// The blob ends before the index and data store it announces.
    #[error(
        "blob is {len} bytes but its {index_count} index entries and {data_len}-byte data store need {needed}"
    )]
    Truncated {
        /// Blob length.
        len: usize,
        /// Index entry count from the preamble.
        index_count: u32,
        /// Data length from the preamble.
        data_len: u32,
        /// Bytes needed.
        needed: u64,
    },
    /// An index entry is malformed (bad type, offset, count or alignment).
    #[error("index entry {entry} (tag {tag}{}): {reason}", TagName(*tag))]
    BadEntry {
        /// 0-based entry number in the index.
        entry: usize,
        /// The entry's tag.
        tag: u32,
        /// What is wrong.
        reason: String,
    },
    /// The immutable region tag or its trailer is malformed.
    #[error("header region: {reason}")]
    BadRegion {
        /// What is wrong.
        reason: String,
    },
    /// A tag every package has is absent.
    #[error("required tag {tag}{} is missing", TagName(*tag))]
    MissingTag {
        /// The tag.
        tag: u32,
    },
    /// A tag has a data type other than the one its meaning requires.
    #[error("tag {tag}{} has data type {found}, expected {expected}", TagName(*tag))]
    WrongType {
        /// The tag.
        tag: u32,
        /// Type found in the index entry.
        found: u32,
        /// Type(s) accepted.
        expected: &'static str,
    },
    /// A string runs to the end of the data store without its NUL terminator.
    #[error("tag {tag}{}: string {element} at data offset {offset} has no NUL before the end of the data store", TagName(*tag))]
    UnterminatedString {
        /// The tag.
        tag: u32,
        /// 0-based element of a string array (0 for plain strings).
        element: u32,
        /// Data offset where the string starts.
        offset: u64,
    },
    /// BASENAMES/DIRNAMES/DIRINDEXES do not fit together.
    #[error("file list: {reason}")]
    BadFileList {
        /// What is wrong.
        reason: String,
    },
}

/// Formats ` NAME` after a tag number for the tags this crate knows, so messages read
/// "tag 1117 BASENAMES" rather than a bare number.
struct TagName(u32);

impl fmt::Display for TagName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match crate::header::tag_name(self.0) {
            Some(name) => write!(f, " {name}"),
            None => Ok(()),
        }
    }
}
