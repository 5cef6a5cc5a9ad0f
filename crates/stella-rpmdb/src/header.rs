//! The rpm header blob: the structure every rpmdb backend stores once per installed package.
//!
//! Layout (all integers big-endian):
//! ```text
//! il: u32        number of index entries
//! dl: u32        length of the data store
//! il × { tag: i32, type: u32, offset: i32, count: u32 }
//! dl bytes       data store; `offset` is relative to its start
//! ```
//! A v4 header opens with a *region* entry (tag 61/62/63, type BIN, count 16) whose data is a
//! trailer entry with a negative offset giving how many index entries belong to the immutable
//! region. Entries after the region ("dribbles", added at install time) replace region entries
//! with the same tag, as rpm's `headerImport` does.
//!
//! Validation follows rpm's own `hdrblobInit`/`hdrblobVerifyInfo` limits (at most 65535 entries,
//! data store under 16 MiB, known types, aligned offsets, extents inside the data store), so what
//! rpm would reject is rejected here with the entry and tag named. Fixed-size extents are checked
//! for every entry up front; string extents are checked when a string is decoded, which keeps the
//! work linear in the blob size even for a hostile index.

use crate::error::HeaderError;

// Tag numbers, from rpm's lib/rpmtag.h.
pub(crate) const TAG_HEADERIMAGE: u32 = 61;
pub(crate) const TAG_HEADERSIGNATURES: u32 = 62;
pub(crate) const TAG_HEADERIMMUTABLE: u32 = 63;
pub(crate) const TAG_HEADERI18NTABLE: u32 = 100;
pub(crate) const TAG_NAME: u32 = 1000;
pub(crate) const TAG_VERSION: u32 = 1001;
pub(crate) const TAG_RELEASE: u32 = 1002;
pub(crate) const TAG_EPOCH: u32 = 1003;
pub(crate) const TAG_SIZE: u32 = 1009;
pub(crate) const TAG_VENDOR: u32 = 1011;
pub(crate) const TAG_LICENSE: u32 = 1014;
pub(crate) const TAG_ARCH: u32 = 1022;
pub(crate) const TAG_OLDFILENAMES: u32 = 1027;
pub(crate) const TAG_SOURCERPM: u32 = 1044;
pub(crate) const TAG_PROVIDENAME: u32 = 1047;
pub(crate) const TAG_REQUIRENAME: u32 = 1049;
pub(crate) const TAG_DIRINDEXES: u32 = 1116;
pub(crate) const TAG_BASENAMES: u32 = 1117;
pub(crate) const TAG_DIRNAMES: u32 = 1118;
pub(crate) const TAG_LONGSIZE: u32 = 5009;
pub(crate) const TAG_MODULARITYLABEL: u32 = 5096;

/// Names for the tags this crate reads, used in error messages.
pub(crate) fn tag_name(tag: u32) -> Option<&'static str> {
    Some(match tag {
        TAG_HEADERIMAGE => "HEADERIMAGE",
        TAG_HEADERSIGNATURES => "HEADERSIGNATURES",
        TAG_HEADERIMMUTABLE => "HEADERIMMUTABLE",
        TAG_HEADERI18NTABLE => "HEADERI18NTABLE",
        TAG_NAME => "NAME",
        TAG_VERSION => "VERSION",
        TAG_RELEASE => "RELEASE",
        TAG_EPOCH => "EPOCH",
        TAG_SIZE => "SIZE",
        TAG_VENDOR => "VENDOR",
        TAG_LICENSE => "LICENSE",
        TAG_ARCH => "ARCH",
        TAG_OLDFILENAMES => "OLDFILENAMES",
        TAG_SOURCERPM => "SOURCERPM",
        TAG_PROVIDENAME => "PROVIDENAME",
        TAG_REQUIRENAME => "REQUIRENAME",
        TAG_DIRINDEXES => "DIRINDEXES",
        TAG_BASENAMES => "BASENAMES",
        TAG_DIRNAMES => "DIRNAMES",
        TAG_LONGSIZE => "LONGSIZE",
        TAG_MODULARITYLABEL => "MODULARITYLABEL",
        _ => return None,
    })
}

// Data types, from rpm's rpmtd.h.
const TYPE_NULL: u32 = 0;
const TYPE_CHAR: u32 = 1;
const TYPE_INT8: u32 = 2;
const TYPE_INT16: u32 = 3;
const TYPE_INT32: u32 = 4;
const TYPE_INT64: u32 = 5;
const TYPE_STRING: u32 = 6;
const TYPE_BIN: u32 = 7;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// rpm's `hdrchkTags`: an index of 65536 entries or more is refused.
const MAX_INDEX_COUNT: u32 = 0xffff;
/// rpm's `hdrchkData`: a data store of 16 MiB or more is refused.
const MAX_DATA_LEN: u32 = 0x00ff_ffff;
/// Most elements decoded from one array tag. Each element of a string array costs a 24-byte
/// `String` even when empty, so without a cap a 16 MiB data store of NULs would become 384 MiB of
/// empty strings per tag. A real header cannot come near it: with at least a basename, a digest
/// and a directory index per file, 16 MiB holds a few hundred thousand files.
const MAX_ARRAY_ELEMENTS: u32 = 1 << 20;
const ENTRY_SIZE: usize = 16;
const PREAMBLE: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Position in the index, for error messages.
    index: usize,
    tag: u32,
    ty: u32,
    /// Offset into the data store; validated to be within it.
    offset: usize,
    count: u32,
}

/// A validated header blob, borrowing its data store.
#[derive(Debug)]
pub(crate) struct Header<'a> {
    /// Entries in index order, without the region entry. Entries after the region come later, so
    /// a search from the back finds a dribble before the region entry it replaces.
    entries: Vec<Entry>,
    data: &'a [u8],
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Size of one element of a fixed-size type; `None` for the variable-length string types.
fn fixed_size(ty: u32) -> Option<usize> {
    match ty {
        TYPE_NULL => Some(0),
        TYPE_CHAR | TYPE_INT8 | TYPE_BIN => Some(1),
        TYPE_INT16 => Some(2),
        TYPE_INT32 => Some(4),
        TYPE_INT64 => Some(8),
        _ => None,
    }
}

fn alignment(ty: u32) -> usize {
    match ty {
        TYPE_INT16 => 2,
        TYPE_INT32 => 4,
        TYPE_INT64 => 8,
        _ => 1,
    }
}

fn raw_entry(index: &[u8], i: usize) -> (u32, u32, i32, u32) {
    let at = i * ENTRY_SIZE;
    (
        be_u32(index, at),
        be_u32(index, at + 4),
        be_u32(index, at + 8) as i32,
        be_u32(index, at + 12),
    )
}

impl<'a> Header<'a> {
    /// Validates and indexes a header blob. Trailing bytes after the data store are ignored
    /// (NDB and BDB store the blob exactly, but tolerating slack costs nothing).
    pub(crate) fn parse(blob: &'a [u8]) -> Result<Self, HeaderError> {
        if blob.len() < PREAMBLE {
            return Err(HeaderError::TooShort { len: blob.len() });
        }
        let il = be_u32(blob, 0);
        let dl = be_u32(blob, 4);
        if il == 0 || il > MAX_INDEX_COUNT {
            return Err(HeaderError::BadIndexCount { count: il });
        }
        if dl > MAX_DATA_LEN {
            return Err(HeaderError::DataTooLarge { length: dl });
        }
        let needed = PREAMBLE as u64 + il as u64 * ENTRY_SIZE as u64 + dl as u64;
        if (blob.len() as u64) < needed {
            return Err(HeaderError::Truncated {
                len: blob.len(),
                index_count: il,
                data_len: dl,
                needed,
            });
        }
        let il = il as usize;
        let dl = dl as usize;
        let index = &blob[PREAMBLE..PREAMBLE + il * ENTRY_SIZE];
        let data = &blob[PREAMBLE + il * ENTRY_SIZE..PREAMBLE + il * ENTRY_SIZE + dl];

        let (first_tag, ..) = raw_entry(index, 0);
        let has_region = matches!(
            first_tag,
            TAG_HEADERIMAGE | TAG_HEADERSIGNATURES | TAG_HEADERIMMUTABLE
        );
        if has_region {
            verify_region(index, data, il)?;
        }

        let start = usize::from(has_region);
        let mut entries = Vec::with_capacity(il - start);
        for i in start..il {
            let (tag, ty, offset, count) = raw_entry(index, i);
            let bad = |reason: String| HeaderError::BadEntry {
                entry: i,
                tag,
                reason,
            };
            // rpm's hdrchkTag: tags below HEADERI18NTABLE are reserved for regions.
            if tag < TAG_HEADERI18NTABLE {
                return Err(bad(format!(
                    "tag below {TAG_HEADERI18NTABLE} outside the region entry"
                )));
            }
            if ty > TYPE_I18NSTRING {
                return Err(bad(format!("unknown data type {ty}")));
            }
            if offset < 0 || offset as usize > dl {
                return Err(bad(format!(
                    "data offset {offset} is outside the {dl}-byte data store"
                )));
            }
            let offset = offset as usize;
            if !offset.is_multiple_of(alignment(ty)) {
                return Err(bad(format!(
                    "data offset {offset} is not aligned to {} bytes for type {ty}",
                    alignment(ty)
                )));
            }
            if count == 0 {
                return Err(bad("count is 0".to_string()));
            }
            let room = dl - offset;
            match fixed_size(ty) {
                Some(0) => return Err(bad("NULL data type".to_string())),
                Some(size) => {
                    let len = size as u64 * count as u64;
                    if len > room as u64 {
                        return Err(bad(format!(
                            "{count} elements of {size} bytes at data offset {offset} run past the {dl}-byte data store"
                        )));
                    }
                }
                None => {
                    if ty == TYPE_STRING && count != 1 {
                        return Err(bad(format!("STRING with count {count}, expected 1")));
                    }
                    // Each string needs at least its NUL, so a larger count cannot fit; this
                    // bounds every allocation made from `count` by the blob size.
                    if count as u64 > room as u64 {
                        return Err(bad(format!(
                            "{count} strings cannot fit in the {room} bytes after data offset {offset}"
                        )));
                    }
                }
            }
            entries.push(Entry {
                index: i,
                tag,
                ty,
                offset,
                count,
            });
        }
        Ok(Header { entries, data })
    }

    fn find(&self, tag: u32) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.tag == tag)
    }

    fn check_array_len(e: &Entry) -> Result<usize, HeaderError> {
        if e.count > MAX_ARRAY_ELEMENTS {
            return Err(HeaderError::BadEntry {
                entry: e.index,
                tag: e.tag,
                reason: format!(
                    "{} elements exceed the limit of {MAX_ARRAY_ELEMENTS}",
                    e.count
                ),
            });
        }
        Ok(e.count as usize)
    }

    /// Reads the NUL-terminated string starting at data offset `at`; returns it and the offset
    /// just past its NUL.
    fn c_string(&self, tag: u32, element: u32, at: usize) -> Result<(String, usize), HeaderError> {
        let rest = self.data.get(at..).unwrap_or(&[]);
        match rest.iter().position(|&b| b == 0) {
            // rpm headers are UTF-8 in practice, but old packages carry Latin-1 in
            // descriptions and vendor names; a lossy decode keeps the package rather than
            // failing the whole database over one byte.
            Some(nul) => Ok((
                String::from_utf8_lossy(&rest[..nul]).into_owned(),
                at + nul + 1,
            )),
            None => Err(HeaderError::UnterminatedString {
                tag,
                element,
                offset: at as u64,
            }),
        }
    }

    /// A STRING (or the first element of an I18NSTRING) tag; `None` when absent.
    pub(crate) fn string(&self, tag: u32) -> Result<Option<String>, HeaderError> {
        let Some(e) = self.find(tag) else {
            return Ok(None);
        };
        if e.ty != TYPE_STRING && e.ty != TYPE_I18NSTRING {
            return Err(HeaderError::WrongType {
                tag,
                found: e.ty,
                expected: "STRING or I18NSTRING",
            });
        }
        Ok(Some(self.c_string(tag, 0, e.offset)?.0))
    }

    pub(crate) fn required_string(&self, tag: u32) -> Result<String, HeaderError> {
        self.string(tag)?.ok_or(HeaderError::MissingTag { tag })
    }

    /// A STRING_ARRAY tag; empty when absent.
    pub(crate) fn string_array(&self, tag: u32) -> Result<Vec<String>, HeaderError> {
        let Some(e) = self.find(tag) else {
            return Ok(Vec::new());
        };
        if e.ty != TYPE_STRING_ARRAY {
            return Err(HeaderError::WrongType {
                tag,
                found: e.ty,
                expected: "STRING_ARRAY",
            });
        }
        let mut out = Vec::with_capacity(Self::check_array_len(e)?);
        let mut at = e.offset;
        for element in 0..e.count {
            let (s, next) = self.c_string(tag, element, at)?;
            out.push(s);
            at = next;
        }
        Ok(out)
    }

    /// An INT32 array tag; empty when absent.
    pub(crate) fn u32_array(&self, tag: u32) -> Result<Vec<u32>, HeaderError> {
        let Some(e) = self.find(tag) else {
            return Ok(Vec::new());
        };
        if e.ty != TYPE_INT32 {
            return Err(HeaderError::WrongType {
                tag,
                found: e.ty,
                expected: "INT32",
            });
        }
        // Extent validated in `parse`.
        let bytes = &self.data[e.offset..e.offset + 4 * Self::check_array_len(e)?];
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// The first element of an INT32 tag; `None` when absent.
    pub(crate) fn u32(&self, tag: u32) -> Result<Option<u32>, HeaderError> {
        let Some(e) = self.find(tag) else {
            return Ok(None);
        };
        if e.ty != TYPE_INT32 {
            return Err(HeaderError::WrongType {
                tag,
                found: e.ty,
                expected: "INT32",
            });
        }
        Ok(Some(be_u32(self.data, e.offset)))
    }

    /// The first element of an INT64 tag; `None` when absent.
    pub(crate) fn u64(&self, tag: u32) -> Result<Option<u64>, HeaderError> {
        let Some(e) = self.find(tag) else {
            return Ok(None);
        };
        if e.ty != TYPE_INT64 {
            return Err(HeaderError::WrongType {
                tag,
                found: e.ty,
                expected: "INT64",
            });
        }
        let b = &self.data[e.offset..e.offset + 8];
        Ok(Some(u64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ])))
    }
}

/// Checks the region entry and its trailer the way rpm's `hdrblobVerifyRegion` does.
fn verify_region(index: &[u8], data: &[u8], il: usize) -> Result<(), HeaderError> {
    let (tag, ty, offset, count) = raw_entry(index, 0);
    let bad = |reason: String| HeaderError::BadRegion { reason };
    if ty != TYPE_BIN || count != ENTRY_SIZE as u32 {
        return Err(bad(format!(
            "region tag {tag} has type {ty} and count {count}, expected BIN (7) and 16"
        )));
    }
    if offset < 0 || offset as u64 + ENTRY_SIZE as u64 > data.len() as u64 {
        return Err(bad(format!(
            "region trailer at data offset {offset} is outside the {}-byte data store",
            data.len()
        )));
    }
    let trailer = &data[offset as usize..offset as usize + ENTRY_SIZE];
    let t_tag = be_u32(trailer, 0);
    let t_ty = be_u32(trailer, 4);
    let t_off = be_u32(trailer, 8) as i32;
    let t_count = be_u32(trailer, 12);
    // Legacy signature headers carry HEADERIMAGE in the trailer of a HEADERSIGNATURES region;
    // rpm accepts any region tag there, and so do we.
    if !matches!(
        t_tag,
        TAG_HEADERIMAGE | TAG_HEADERSIGNATURES | TAG_HEADERIMMUTABLE
    ) || t_ty != TYPE_BIN
        || t_count != ENTRY_SIZE as u32
    {
        return Err(bad(format!(
            "trailer at data offset {offset} is tag {t_tag} type {t_ty} count {t_count}, not a region trailer"
        )));
    }
    // The trailer's offset is minus the size of the region's index entries.
    let region_bytes = -(t_off as i64);
    if region_bytes <= 0 || region_bytes % ENTRY_SIZE as i64 != 0 {
        return Err(bad(format!(
            "trailer offset {t_off} is not a negative multiple of 16"
        )));
    }
    let ril = region_bytes / ENTRY_SIZE as i64;
    if ril > il as i64 {
        return Err(bad(format!(
            "region claims {ril} index entries but the header has {il}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a blob from (tag, type, data offset, count) entries and a data store.
    pub(crate) fn blob(entries: &[(u32, u32, i32, u32)], data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        b.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for &(tag, ty, off, count) in entries {
            b.extend_from_slice(&tag.to_be_bytes());
            b.extend_from_slice(&ty.to_be_bytes());
            b.extend_from_slice(&off.to_be_bytes());
            b.extend_from_slice(&count.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn reads_strings_arrays_and_ints() {
        let mut data = b"bash\0a\0bc\0".to_vec();
        data.extend_from_slice(&[0, 0]); // pad to 12 for INT32 alignment
        data.extend_from_slice(&7u32.to_be_bytes());
        let b = blob(
            &[
                (TAG_NAME, TYPE_STRING, 0, 1),
                (TAG_REQUIRENAME, TYPE_STRING_ARRAY, 5, 2),
                (TAG_EPOCH, TYPE_INT32, 12, 1),
            ],
            &data,
        );
        let h = Header::parse(&b).unwrap();
        assert_eq!(h.string(TAG_NAME).unwrap().as_deref(), Some("bash"));
        assert_eq!(h.string_array(TAG_REQUIRENAME).unwrap(), vec!["a", "bc"]);
        assert_eq!(h.u32(TAG_EPOCH).unwrap(), Some(7));
        assert_eq!(h.string(TAG_VERSION).unwrap(), None);
    }

    #[test]
    fn dribble_entry_replaces_region_entry_with_same_tag() {
        // Region of 2 entries (the region tag itself and NAME), then a dribble NAME.
        let mut data = b"old\0new\0".to_vec();
        let trailer_off = data.len() as i32;
        for v in [TAG_HEADERIMMUTABLE, TYPE_BIN, (-32i32) as u32, 16] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        let b = blob(
            &[
                (TAG_HEADERIMMUTABLE, TYPE_BIN, trailer_off, 16),
                (TAG_NAME, TYPE_STRING, 0, 1),
                (TAG_NAME, TYPE_STRING, 4, 1),
            ],
            &data,
        );
        let h = Header::parse(&b).unwrap();
        assert_eq!(h.string(TAG_NAME).unwrap().as_deref(), Some("new"));
    }

    #[test]
    fn rejects_region_trailer_claiming_more_entries_than_exist() {
        let mut data = Vec::new();
        for v in [TAG_HEADERIMMUTABLE, TYPE_BIN, (-48i32) as u32, 16] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        let b = blob(&[(TAG_HEADERIMMUTABLE, TYPE_BIN, 0, 16)], &data);
        let err = Header::parse(&b).unwrap_err();
        assert!(matches!(err, HeaderError::BadRegion { .. }), "{err}");
    }

    #[test]
    fn rejects_offsets_and_counts_past_the_data_store() {
        let data = b"abc\0".to_vec();
        let past = blob(&[(TAG_NAME, TYPE_STRING, 9, 1)], &data);
        assert!(matches!(
            Header::parse(&past),
            Err(HeaderError::BadEntry { entry: 0, .. })
        ));
        let too_many_ints = blob(&[(TAG_DIRINDEXES, TYPE_INT32, 0, 2)], &data);
        assert!(matches!(
            Header::parse(&too_many_ints),
            Err(HeaderError::BadEntry { .. })
        ));
        let too_many_strings = blob(&[(TAG_BASENAMES, TYPE_STRING_ARRAY, 0, 5)], &data);
        assert!(matches!(
            Header::parse(&too_many_strings),
            Err(HeaderError::BadEntry { .. })
        ));
        let misaligned = blob(&[(TAG_EPOCH, TYPE_INT32, 1, 1)], b"\0\0\0\0\0\0\0\0");
        assert!(matches!(
            Header::parse(&misaligned),
            Err(HeaderError::BadEntry { .. })
        ));
    }

    #[test]
    fn rejects_preamble_that_promises_more_than_the_blob_holds() {
        let mut b = blob(&[(TAG_NAME, TYPE_STRING, 0, 1)], b"abc\0");
        b.truncate(b.len() - 1);
        assert!(matches!(
            Header::parse(&b),
            Err(HeaderError::Truncated { needed: 28, .. })
        ));
        let huge = [0u8, 1, 0, 0, 0, 0, 0, 0]; // il = 65536
        assert!(matches!(
            Header::parse(&huge),
            Err(HeaderError::BadIndexCount { count: 65536 })
        ));
        assert!(matches!(
            Header::parse(&[0, 0, 0]),
            Err(HeaderError::TooShort { len: 3 })
        ));
    }

    #[test]
    fn string_array_over_the_element_limit_is_refused() {
        let n = MAX_ARRAY_ELEMENTS + 1;
        let b = blob(
            &[(TAG_BASENAMES, TYPE_STRING_ARRAY, 0, n)],
            &vec![0u8; n as usize],
        );
        let h = Header::parse(&b).unwrap();
        let err = h.string_array(TAG_BASENAMES).unwrap_err();
        assert!(err.to_string().contains("exceed the limit"), "{err}");
    }

    #[test]
    fn unterminated_string_is_an_error_naming_the_tag() {
        let b = blob(&[(TAG_NAME, TYPE_STRING, 0, 1)], b"abc");
        let h = Header::parse(&b).unwrap();
        let err = h.string(TAG_NAME).unwrap_err();
        assert!(err.to_string().contains("NAME"), "{err}");
    }
}
