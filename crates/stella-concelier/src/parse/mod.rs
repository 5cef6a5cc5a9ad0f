//! The parse layer: upstream advisory documents in, normalized records out, with no I/O.
//!
//! Each feed Concelier reads publishes documents of its own shape: a single OSV record or
//! osv.dev's `all.zip` of them, the Debian security tracker's one big JSON, an Alpine secdb,
//! an NVD CVE API 2.0 response page, CVE JSON 5 records, CSAF advisories, the CISA KEV
//! catalog, FIRST EPSS's CSV. [`parse_document`] takes the bytes of one such document (plain,
//! gzip, zstd or zip, detected from the content first and the name second) and returns one
//! [`ParsedRecord`] per upstream record: the record exactly as upstream wrote it (as JSON,
//! which Concelier hashes into the observation's content id) beside what it means in
//! Stella's normalized shape ([`stella_model::Normalized`]).
//!
//! Feeds are untrusted input. Two rules keep a bad feed from hurting more than itself:
//! - One bad record never fails a document: it becomes a [`RecordError`] naming the place
//!   (`PyPI/all.zip!GHSA-….json`, `debian.json: CVE-… in package foo`) and the rest goes
//!   on. Only failures of the document as a whole (not JSON at all, truncated archive,
//!   decompression bomb, over the size limit) are a [`ParseError`].
//! - Everything that grows with the input is bounded by [`Limits`]: document and record
//!   size, archive entry count and expanded size (counted while reading, never taken from
//!   archive headers), and nesting depth (serde_json and serde_yaml_ng both refuse more than
//!   128 levels, so no input can overflow the stack). YAML whose flow brackets would make
//!   libyaml's scanner quadratic is refused before it is scanned.
//!
//! Output is deterministic: records come out sorted by upstream id, and when one document
//! holds the same id twice the last one wins and the earlier one is reported. Errors come
//! in the order they were met.
//!
//! One module per feed (`osv`, `debian`, `alpine`, `nvd`, `cve5`, `csaf`, `kev`, `epss`)
//! maps that feed's shape; `container` unwraps archives and compression; `fields` reads
//! JSON values with errors that name the field.

mod alpine;
mod container;
mod csaf;
mod cve5;
mod debian;
mod epss;
mod fields;
mod kev;
mod nvd;
mod osv;

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use stella_model::{FeedSource, Normalized};

/// Bounds that keep a hostile feed from exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest document accepted, compressed or not (and the largest a gzip or zstd document
    /// may expand to). Default 512 MiB: the Debian tracker JSON is about 70 MB.
    pub max_document_bytes: u64,
    /// Largest single record (a zip entry of record-per-file feeds, or one record inside a
    /// whole-document feed). Default 16 MiB.
    pub max_record_bytes: u64,
    /// Most entries a zip may have. Default 2 000 000.
    pub max_archive_entries: u64,
    /// Most bytes all entries of a zip may expand to, counted while reading. Default 8 GiB.
    pub max_archive_bytes: u64,
    /// Deepest nesting of arrays and objects. Default 128; serde_json and serde_yaml_ng
    /// never go deeper than 128 whatever this says.
    pub max_json_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_document_bytes: 512 * 1024 * 1024,
            max_record_bytes: 16 * 1024 * 1024,
            max_archive_entries: 2_000_000,
            max_archive_bytes: 8 * 1024 * 1024 * 1024,
            max_json_depth: 128,
        }
    }
}

/// One upstream record and what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRecord {
    /// Unique within the source: OSV id; Debian: the CVE (or TEMP-…) id; Alpine:
    /// `<distroversion>/<reponame>/<id>` (`<reponame>/<id>` when the secdb names no
    /// distroversion, as Wolfi's does); NVD/CVE5: the CVE id; CSAF: /document/tracking/id;
    /// KEV and EPSS: the CVE id.
    pub upstream_id: String,
    /// The record as upstream wrote it, as JSON (YAML and CSV rows converted to JSON).
    /// Concelier hashes its canonical JSON to get the observation's content hash, so it is
    /// exactly the upstream record; for whole-document feeds (the Debian tracker, an Alpine
    /// secdb) it is the slice of the document about this id.
    pub document: Value,
    pub normalized: Normalized,
}

/// A record that could not be used; the rest of its document was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Where: `PyPI/all.zip!GHSA-xxxx.json`, `debian.json: CVE-2020-1234 in package foo`.
    pub location: String,
    pub message: String,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Everything one document yielded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParseOutcome {
    /// Sorted by `upstream_id`, unique.
    pub records: Vec<ParsedRecord>,
    /// In the order met.
    pub errors: Vec<RecordError>,
}

/// A failure of a document as a whole. Every message starts with the document's name.
#[derive(thiserror::Error, Debug)]
pub enum ParseError {
    #[error("{name}: document is larger than the limit of {limit} bytes")]
    TooLarge { name: String, limit: u64 },
    #[error("{name}: cannot read: {source}")]
    Read {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{name}: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{name}: invalid YAML{at}: {message}")]
    Yaml {
        name: String,
        /// ` at line L, column C` when the YAML parser knows the place.
        at: String,
        message: String,
    },
    #[error("{name}: invalid CSV at line {line}: {message}")]
    Csv {
        name: String,
        line: u64,
        message: String,
    },
    #[error("{name}: nesting deeper than {limit} levels{at}")]
    TooDeep {
        name: String,
        limit: usize,
        /// ` at line L, column C` when known.
        at: String,
    },
    #[error("{name}: unexpected {feed} document shape: {message}")]
    Shape {
        name: String,
        feed: FeedSource,
        message: String,
    },
    #[error("{name}: {message}")]
    Unsupported { name: String, message: String },
    #[error("{name}: corrupt or truncated {format} stream: {message}")]
    Decompress {
        name: String,
        format: &'static str,
        message: String,
    },
    #[error("{name}: invalid zip archive: {message}")]
    Zip { name: String, message: String },
    #[error("{name}: zip archive has {entries} entries, more than the limit of {limit}")]
    TooManyEntries {
        name: String,
        entries: u64,
        limit: u64,
    },
    #[error(
        "{name}: zip archive expands past the limit of {limit} bytes (at entry {entry:?}); \
         refusing a possible decompression bomb"
    )]
    ArchiveTooLarge {
        name: String,
        entry: String,
        limit: u64,
    },
}

impl ParseError {
    /// The document (or archive entry) the error is about.
    pub fn name(&self) -> &str {
        match self {
            ParseError::TooLarge { name, .. }
            | ParseError::Read { name, .. }
            | ParseError::Json { name, .. }
            | ParseError::Yaml { name, .. }
            | ParseError::Csv { name, .. }
            | ParseError::TooDeep { name, .. }
            | ParseError::Shape { name, .. }
            | ParseError::Unsupported { name, .. }
            | ParseError::Decompress { name, .. }
            | ParseError::Zip { name, .. }
            | ParseError::TooManyEntries { name, .. }
            | ParseError::ArchiveTooLarge { name, .. } => name,
        }
    }

    /// The message without the leading name, for a [`RecordError`] that carries the name as
    /// its location.
    fn detail(&self) -> String {
        let full = self.to_string();
        match full
            .strip_prefix(self.name())
            .and_then(|s| s.strip_prefix(": "))
        {
            Some(rest) => rest.to_string(),
            None => full,
        }
    }
}

/// Parses one upstream document of `source`.
///
/// `name` is the document's file name or URL path (used to detect the container/format:
/// `.zip`, `.gz`, `.zst`, `.yaml`/`.yml`, `.json`, `.csv`) and in every error; content
/// sniffing (zip magic `PK\x03\x04`, gzip `1f 8b`, zstd `28 b5 2f fd`) takes precedence over
/// the name.
pub fn parse_document(
    source: FeedSource,
    name: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<ParseOutcome, ParseError> {
    if bytes.len() as u64 > limits.max_document_bytes {
        return Err(ParseError::TooLarge {
            name: name.to_string(),
            limit: limits.max_document_bytes,
        });
    }
    let mut sink = Sink::new(limits);
    container::parse(&mut sink, source, name, name, bytes, 0)?;
    Ok(sink.finish())
}

/// [`parse_document`] for a reader: reads at most `limits.max_document_bytes` (a longer
/// input is a [`ParseError::TooLarge`] naming it) and parses what it read.
pub fn parse_reader(
    source: FeedSource,
    name: &str,
    reader: impl Read,
    limits: &Limits,
) -> Result<ParseOutcome, ParseError> {
    let bytes = read_capped(reader, limits.max_document_bytes).map_err(|e| match e {
        CappedReadError::TooLarge => ParseError::TooLarge {
            name: name.to_string(),
            limit: limits.max_document_bytes,
        },
        CappedReadError::Io(source) => ParseError::Read {
            name: name.to_string(),
            source,
        },
    })?;
    parse_document(source, name, &bytes, limits)
}

enum CappedReadError {
    TooLarge,
    Io(std::io::Error),
}

/// Reads everything up to `limit` bytes; one byte more means the input is too large.
fn read_capped(reader: impl Read, limit: u64) -> Result<Vec<u8>, CappedReadError> {
    let mut bytes = Vec::new();
    read_at_most(reader, limit.saturating_add(1), &mut bytes).map_err(CappedReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(CappedReadError::TooLarge);
    }
    Ok(bytes)
}

/// Appends to `bytes` until the end of `reader` or `max` bytes, whichever comes first; on
/// an error, `bytes` keeps what was read. The buffer grows with what was actually read,
/// never with what a header claims, and never past `max`: doubling is clamped so that
/// refusing an oversized input costs at most about 1.5 × `max`.
fn read_at_most(mut reader: impl Read, max: u64, bytes: &mut Vec<u8>) -> std::io::Result<()> {
    const CHUNK: usize = 64 * 1024;
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let mut chunk = vec![0u8; CHUNK.min(max)];
    while bytes.len() < max {
        let want = (max - bytes.len()).min(chunk.len());
        let n = match reader.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if bytes.len() + n > bytes.capacity() {
            let mut target = (bytes.capacity() * 2).max(bytes.len() + n).max(CHUNK);
            // Limits are often powers of two and `max` is one past one: a doubling that
            // lands within a chunk of `max` goes straight to it, sparing a last copy.
            if target.saturating_add(CHUNK) >= max {
                target = max;
            }
            bytes.reserve_exact(target - bytes.len());
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

/// Collects the records and record errors of one `parse_document` call.
pub(crate) struct Sink<'l> {
    limits: &'l Limits,
    records: BTreeMap<String, ParsedRecord>,
    errors: Vec<RecordError>,
}

impl<'l> Sink<'l> {
    fn new(limits: &'l Limits) -> Self {
        Sink {
            limits,
            records: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        self.limits
    }

    /// Adds a record; an id already seen in this document is replaced (the last one wins,
    /// as in a JSON object with a repeated key) and reported.
    pub(crate) fn record(&mut self, location: &str, record: ParsedRecord) {
        let id = record.upstream_id.clone();
        if self.records.insert(id.clone(), record).is_some() {
            self.error(
                location,
                format!("duplicate record {id:?} in this document; keeping the last one"),
            );
        }
    }

    pub(crate) fn error(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.errors.push(RecordError {
            location: location.into(),
            message: message.into(),
        });
    }

    /// Reports a record larger than `max_record_bytes`; true when it is.
    pub(crate) fn oversized(&mut self, location: &str, len: usize) -> bool {
        let limit = self.limits.max_record_bytes;
        if len as u64 > limit {
            self.error(
                location,
                format!("record is {len} bytes, more than the limit of {limit} bytes; skipped"),
            );
            return true;
        }
        false
    }

    fn finish(self) -> ParseOutcome {
        ParseOutcome {
            records: self.records.into_values().collect(),
            errors: self.errors,
        }
    }
}

/// The text format of a plain (not archived, not compressed) document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Yaml,
    Csv,
}

impl Format {
    /// From the name's extension, else from the first significant byte. YAML is assumed only
    /// for the feeds that publish it (OSV databases such as PyPA's, the legacy Alpine
    /// secdb), so that a garbled JSON feed gets a JSON error rather than a YAML one.
    fn detect(source: FeedSource, name: &str, bytes: &[u8]) -> Format {
        if source == FeedSource::Epss {
            return Format::Csv;
        }
        let lower = name.to_ascii_lowercase();
        let lower = lower.split(['?', '#']).next().unwrap_or_default();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            return Format::Yaml;
        }
        if lower.ends_with(".json") {
            return Format::Json;
        }
        if lower.ends_with(".csv") {
            return Format::Csv;
        }
        let first = strip_bom(bytes)
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .copied();
        match first {
            Some(b'{' | b'[') => Format::Json,
            _ if matches!(source, FeedSource::Osv | FeedSource::Alpine) => Format::Yaml,
            _ => Format::Json,
        }
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Parses the plain document `bytes` of `source`, reporting records to `sink`.
fn parse_plain(
    sink: &mut Sink,
    source: FeedSource,
    location: &str,
    format_name: &str,
    bytes: &[u8],
) -> Result<(), ParseError> {
    let format = Format::detect(source, format_name, bytes);
    let bytes = strip_bom(bytes);
    match source {
        FeedSource::Osv => osv::parse(sink, location, format, bytes),
        FeedSource::Debian => debian::parse(sink, location, format, bytes),
        FeedSource::Alpine => alpine::parse(sink, location, format, bytes),
        FeedSource::Nvd => nvd::parse(sink, location, format, bytes),
        FeedSource::Cve5 => cve5::parse(sink, location, format, bytes),
        FeedSource::Csaf => csaf::parse(sink, location, format, bytes),
        FeedSource::Kev => kev::parse(sink, location, format, bytes),
        FeedSource::Epss => epss::parse(sink, location, format, bytes),
    }
}

/// Whether a source publishes one record per file (so that a zip entry of it is one
/// record, bounded by `max_record_bytes`) rather than whole documents of many records.
fn record_per_file(source: FeedSource) -> bool {
    matches!(
        source,
        FeedSource::Osv | FeedSource::Cve5 | FeedSource::Csaf
    )
}

/// Refuses formats a feed is never published in.
fn require_json(feed: FeedSource, location: &str, format: Format) -> Result<(), ParseError> {
    if format == Format::Json {
        return Ok(());
    }
    Err(ParseError::Unsupported {
        name: location.to_string(),
        message: format!("{feed} documents are JSON, not {format:?}"),
    })
}

/// Checks nesting depth before serde sees the bytes. Documents parsed straight into values
/// need it only for a limit below the 128 levels serde_json enforces itself; documents read
/// as raw slices need it always, since skipping over a raw value has no depth limit and the
/// slice may only be parsed much later, as a record error rather than a document error.
fn check_json_depth(location: &str, bytes: &[u8], limit: usize) -> Result<(), ParseError> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        column += 1;
        if b == b'\n' {
            line += 1;
            column = 0;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Err(ParseError::TooDeep {
                        name: location.to_string(),
                        limit,
                        at: format!(" at line {line}, column {column}"),
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Turns a serde_json error into a [`ParseError`] naming the document and place.
fn json_error(location: &str, limit: usize, e: serde_json::Error) -> ParseError {
    let (line, column) = (e.line(), e.column());
    let message = e.to_string();
    if message.starts_with("recursion limit exceeded") {
        return ParseError::TooDeep {
            name: location.to_string(),
            limit: limit.min(128),
            at: format!(" at line {line}, column {column}"),
        };
    }
    // serde_json appends " at line L column C"; the variant carries those separately.
    let suffix = format!(" at line {line} column {column}");
    let message = message
        .strip_suffix(&suffix)
        .map(str::to_string)
        .unwrap_or(message);
    ParseError::Json {
        name: location.to_string(),
        line,
        column,
        message,
    }
}

/// A JSON object read as its entries in document order, values left as raw JSON.
pub(crate) struct RawEntries<'a>(pub(crate) Vec<(String, &'a serde_json::value::RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for RawEntries<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = RawEntries<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) =
                    map.next_entry::<String, &'a serde_json::value::RawValue>()?
                {
                    entries.push(entry);
                }
                Ok(RawEntries(entries))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<'a> RawEntries<'a> {
    /// The value of `key` (the last one, as a JSON object with a repeated key reads).
    pub(crate) fn get(&self, key: &str) -> Option<&'a serde_json::value::RawValue> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// Reads a document's top-level object as raw entries; a document that is JSON but not an
/// object is a shape error of `feed`.
fn raw_entries<'a>(
    feed: FeedSource,
    location: &str,
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<RawEntries<'a>, ParseError> {
    let limit = limits.max_json_depth.min(128);
    check_json_depth(location, bytes, limit)?;
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ParseError::Shape {
                name: location.to_string(),
                feed,
                message: "expected a JSON object".to_string(),
            }
        } else {
            json_error(location, limit, e)
        }
    })
}

/// Parses a whole JSON or YAML document into a value, within the depth limit.
fn load_value(
    location: &str,
    format: Format,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Value, ParseError> {
    let limit = limits.max_json_depth;
    match format {
        Format::Json => {
            if limit < 128 {
                check_json_depth(location, bytes, limit)?;
            }
            serde_json::from_slice(bytes).map_err(|e| json_error(location, limit, e))
        }
        Format::Yaml => {
            check_yaml_flow_work(location, bytes)?;
            // serde_yaml_ng stops at 128 levels and at alias expansion bombs on its own;
            // a lower configured limit is checked on the result.
            let value: Value = serde_yaml_ng::from_slice(bytes).map_err(|e| {
                let mut message = e.to_string();
                let at = match e.location() {
                    Some(l) => {
                        // The message ends in the place too; the variant carries it apart.
                        let suffix = format!(" at line {} column {}", l.line(), l.column());
                        if let Some(stripped) = message.strip_suffix(&suffix) {
                            message = stripped.to_string();
                        }
                        format!(" at line {}, column {}", l.line(), l.column())
                    }
                    None => String::new(),
                };
                if message.contains("recursion limit exceeded") {
                    ParseError::TooDeep {
                        name: location.to_string(),
                        limit: limit.min(128),
                        at: at.clone(),
                    }
                } else {
                    ParseError::Yaml {
                        name: location.to_string(),
                        at,
                        message,
                    }
                }
            })?;
            if value_depth(&value) > limit {
                return Err(ParseError::TooDeep {
                    name: location.to_string(),
                    limit,
                    at: String::new(),
                });
            }
            Ok(value)
        }
        Format::Csv => Err(ParseError::Unsupported {
            name: location.to_string(),
            message: "CSV is not a format of this feed".to_string(),
        }),
    }
}

/// Refuses YAML that libyaml could only scan in quadratic time.
///
/// libyaml's scanner walks its stack of flow levels (one per open `[` or `{`) for every
/// token, so 100 000 nested `[` take seconds and a few megabytes take hours, all before
/// serde_yaml_ng's depth limit sees the first event. Telling real flow brackets from
/// brackets in quoted or plain text would take a YAML tokenizer, so this bounds the work
/// instead: the flow depth at any byte is at most the number of `[` and `{` before it, and
/// the scanner's total walk is at most the sum of those counts over the document. Real
/// feeds stay far below the budget (the largest legacy Alpine secdb sums to 6·10⁵, about
/// 12 per byte); the budget allows 64 per byte, and never less than 2·10⁸ (well under a
/// second of scanning).
fn check_yaml_flow_work(location: &str, bytes: &[u8]) -> Result<(), ParseError> {
    let budget = (bytes.len() as u64).saturating_mul(64).max(200_000_000);
    let (mut open, mut work) = (0u64, 0u64);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'[' || b == b'{' {
            open += 1;
        }
        work += open;
        if work > budget {
            let line = bytes[..i].iter().filter(|&&c| c == b'\n').count() + 1;
            return Err(ParseError::Yaml {
                name: location.to_string(),
                at: format!(" at line {line}"),
                message: format!(
                    "{open} flow collection openings (`[`, `{{`) before this point would make \
                     parsing the rest take unbounded time; refused"
                ),
            });
        }
    }
    Ok(())
}

/// Nesting depth of a value, without recursion.
fn value_depth(value: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Array(items) => {
                max = max.max(depth);
                stack.extend(items.iter().map(|i| (i, depth + 1)));
            }
            Value::Object(map) => {
                max = max.max(depth);
                stack.extend(map.values().map(|i| (i, depth + 1)));
            }
            _ => {}
        }
    }
    max
}

/// Keeps the first occurrence of each string, in order.
fn dedup_in_order(items: &mut Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    items.retain(|i| seen.insert(i.clone()));
}

/// Sorts, dedups and removes `id` itself: the normalized form of alias and related lists.
fn id_list(mut ids: Vec<String>, id: &str) -> Vec<String> {
    ids.retain(|a| !a.is_empty() && a != id);
    ids.sort();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_check_ignores_brackets_inside_strings() {
        let doc = br#"{"a": "[[[[[[[[\"[[[[", "b": [[1]]}"#;
        assert!(check_json_depth("x.json", doc, 3).is_ok());
        assert!(check_json_depth("x.json", doc, 2).is_err());
    }

    #[test]
    fn yaml_flow_work_is_bounded() {
        assert!(check_yaml_flow_work("a.yaml", b"a: [1, {b: 2}]\n").is_ok());
        let deep = "[".repeat(100_000);
        let e = check_yaml_flow_work("a.yaml", deep.as_bytes()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("a.yaml: invalid YAML at line 1: "),
            "{e}"
        );
    }

    #[test]
    fn format_detection_prefers_the_extension_then_the_content() {
        assert_eq!(
            Format::detect(FeedSource::Osv, "a.yaml", b"{}"),
            Format::Yaml
        );
        assert_eq!(
            Format::detect(FeedSource::Osv, "a", b"  {\"id\":1}"),
            Format::Json
        );
        assert_eq!(Format::detect(FeedSource::Osv, "a", b"id: X"), Format::Yaml);
        assert_eq!(Format::detect(FeedSource::Nvd, "a", b"id: X"), Format::Json);
        assert_eq!(
            Format::detect(FeedSource::Epss, "a.json", b"{}"),
            Format::Csv
        );
    }

    #[test]
    fn parse_error_detail_drops_the_name() {
        let e = ParseError::Unsupported {
            name: "a.json".into(),
            message: "nope".into(),
        };
        assert_eq!(e.to_string(), "a.json: nope");
        assert_eq!(e.detail(), "nope");
    }

    #[test]
    fn id_lists_are_sorted_unique_and_without_the_id() {
        let ids = vec![
            "b".into(),
            "X".into(),
            "a".into(),
            "b".into(),
            String::new(),
        ];
        assert_eq!(id_list(ids, "X"), vec!["a".to_string(), "b".to_string()]);
    }
}
