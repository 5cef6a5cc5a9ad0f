//! Berkeley DB hash database: rpm's `Packages` file before rpm 4.16 (RHEL/CentOS ≤ 8, Amazon
//! Linux 2, SLES ≤ 15 SP2 and many others).
//!
//! Only what rpm's Packages database uses is read: a hash metadata page (page 0), hash pages
//! holding key/data pairs, and overflow pages chaining values too large for a hash page. Each
//! record maps a 4-byte header number to a header blob. Pages are scanned in file order rather
//! than by walking hash buckets, as go-rpmdb and Trivy do: freed pages are marked invalid by
//! Berkeley DB, so a scan sees exactly the live pages.
//!
//! Field layouts are from Berkeley DB's `dbinc/db_page.h`. Integers are in the byte order the file
//! was written in, told apart by the metadata page's magic; rpm on s390x writes big-endian files.

use std::borrow::Cow;

use crate::{BlobVisitor, Location, RpmDbError};

const HASH_MAGIC: u32 = 0x0006_1561;
/// Size of the generic page header (`SIZEOF_PAGE`): lsn, pgno, prev, next, entries, hf_offset,
/// level, type.
const PAGE_HEADER: usize = 26;
const HOFFPAGE_SIZE: usize = 12;

// Page types (`P_*`).
const P_HASH_UNSORTED: u8 = 2; // hash pages written before Berkeley DB 4.6 (RHEL/CentOS 5)
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;

// Hash item types (`H_*`), the first byte of every item on a hash page.
const H_KEYDATA: u8 = 1;
const H_DUPLICATE: u8 = 2;
const H_OFFPAGE: u8 = 3;
const H_OFFDUP: u8 = 4;

/// `DBMETA_CHKSUM` in the metadata page's `metaflags`: pages carry a checksum that moves the
/// page header; rpm never enables it for Packages, so such a file is refused, not misread.
const DBMETA_CHKSUM: u8 = 0x01;

#[derive(Clone, Copy)]
struct Endian {
    big: bool,
}

impl Endian {
    fn u16(self, b: &[u8], at: usize) -> u16 {
        let v = [b[at], b[at + 1]];
        if self.big {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        }
    }
    fn u32(self, b: &[u8], at: usize) -> u32 {
        let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    }
}

/// True when the bytes start with a Berkeley DB hash metadata page in either byte order.
pub(crate) fn has_magic(bytes: &[u8]) -> bool {
    bytes.len() >= 16 && {
        let m = [bytes[12], bytes[13], bytes[14], bytes[15]];
        u32::from_le_bytes(m) == HASH_MAGIC || u32::from_be_bytes(m) == HASH_MAGIC
    }
}

fn err(page: u32, offset: u64, reason: impl Into<String>) -> RpmDbError {
    RpmDbError::BerkeleyDb {
        page,
        offset,
        reason: reason.into(),
    }
}

struct Db<'a> {
    bytes: &'a [u8],
    e: Endian,
    page_size: usize,
    last_page: u32,
    /// Overflow pages already consumed. Each belongs to exactly one value in a sound file;
    /// refusing reuse keeps a hostile file from making us copy one chain many times over.
    overflow_seen: Vec<bool>,
}

impl<'a> Db<'a> {
    fn page(&self, pgno: u32) -> &'a [u8] {
        let start = pgno as usize * self.page_size;
        &self.bytes[start..start + self.page_size]
    }

    fn page_offset(&self, pgno: u32) -> u64 {
        pgno as u64 * self.page_size as u64
    }

    /// Concatenates the overflow chain starting at `pgno`, expecting `total` bytes.
    fn overflow_value(
        &mut self,
        from_page: u32,
        mut pgno: u32,
        total: u32,
    ) -> Result<Vec<u8>, RpmDbError> {
        let mut value = Vec::with_capacity((total as usize).min(self.bytes.len()));
        let mut prev = from_page;
        loop {
            if pgno == 0 || pgno > self.last_page {
                return Err(err(
                    prev,
                    self.page_offset(prev),
                    format!(
                        "overflow chain points to page {pgno}, outside 1..={}",
                        self.last_page
                    ),
                ));
            }
            let seen = &mut self.overflow_seen[pgno as usize];
            if *seen {
                return Err(err(
                    pgno,
                    self.page_offset(pgno),
                    "overflow page is reached a second time (cycle or shared chain)",
                ));
            }
            *seen = true;
            let page = self.page(pgno);
            let at = self.page_offset(pgno);
            if page[25] != P_OVERFLOW {
                return Err(err(
                    pgno,
                    at,
                    format!(
                        "expected an overflow page (type 7), found type {}",
                        page[25]
                    ),
                ));
            }
            // On overflow pages `hf_offset` holds the number of value bytes on the page.
            let len = self.e.u16(page, 22) as usize;
            if len > self.page_size - PAGE_HEADER {
                return Err(err(
                    pgno,
                    at,
                    format!(
                        "overflow page holds {len} bytes, more than fit in a {}-byte page",
                        self.page_size
                    ),
                ));
            }
            if value.len() + len > total as usize {
                return Err(err(
                    pgno,
                    at,
                    format!("overflow chain holds more than the {total} bytes its item announces"),
                ));
            }
            value.extend_from_slice(&page[PAGE_HEADER..PAGE_HEADER + len]);
            prev = pgno;
            pgno = self.e.u32(page, 16);
            if pgno == 0 {
                break;
            }
        }
        if value.len() != total as usize {
            return Err(err(
                prev,
                self.page_offset(prev),
                format!(
                    "overflow chain ends after {} bytes, its item announces {total}",
                    value.len()
                ),
            ));
        }
        Ok(value)
    }
}

/// Calls `f` with every package header blob, in page order.
pub(crate) fn for_each_blob(bytes: &[u8], f: &mut BlobVisitor<'_>) -> Result<(), RpmDbError> {
    // Every metadata field read lies in the first 36 bytes, but nothing shorter than the smallest
    // page size can be a database.
    if bytes.len() < 512 {
        return Err(err(
            0,
            0,
            format!(
                "file is {} bytes, shorter than the smallest (512-byte) page",
                bytes.len()
            ),
        ));
    }
    let magic = [bytes[12], bytes[13], bytes[14], bytes[15]];
    let e = if u32::from_le_bytes(magic) == HASH_MAGIC {
        Endian { big: false }
    } else if u32::from_be_bytes(magic) == HASH_MAGIC {
        Endian { big: true }
    } else {
        return Err(err(0, 12, "no Berkeley DB hash magic 0x061561"));
    };
    let page_size = e.u32(bytes, 20);
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(err(0, 20, format!("invalid page size {page_size}")));
    }
    if bytes[24] != 0 {
        return Err(err(
            0,
            24,
            format!("database is encrypted (algorithm {})", bytes[24]),
        ));
    }
    if bytes[25] != P_HASHMETA {
        return Err(err(
            0,
            25,
            format!(
                "metadata page has type {}, expected the hash metadata type 8",
                bytes[25]
            ),
        ));
    }
    if bytes[26] & DBMETA_CHKSUM != 0 {
        return Err(err(0, 26, "page checksums are enabled; not supported"));
    }
    let page_size = page_size as usize;
    let last_page = e.u32(bytes, 32);
    let pages_in_file = bytes.len() / page_size;
    if last_page as u64 >= pages_in_file as u64 {
        return Err(err(
            0,
            32,
            format!(
                "metadata says the last page is {last_page} but the {}-byte file holds {pages_in_file} pages of {page_size} bytes (truncated?)",
                bytes.len()
            ),
        ));
    }

    let mut db = Db {
        bytes,
        e,
        page_size,
        last_page,
        overflow_seen: vec![false; last_page as usize + 1],
    };
    for pgno in 1..=last_page {
        let page = db.page(pgno);
        if page[25] != P_HASH && page[25] != P_HASH_UNSORTED {
            continue;
        }
        let at = db.page_offset(pgno);
        let entries = e.u16(page, 20) as usize;
        if !entries.is_multiple_of(2) {
            return Err(err(
                pgno,
                at + 20,
                format!(
                    "hash page has an odd number of items ({entries}); keys and values come in pairs"
                ),
            ));
        }
        let index_end = PAGE_HEADER + 2 * entries;
        if index_end > page_size {
            return Err(err(
                pgno,
                at + 20,
                format!("{entries} item offsets do not fit in a {page_size}-byte page"),
            ));
        }
        let inp = |i: usize| e.u16(page, PAGE_HEADER + 2 * i) as usize;
        // Items are packed from the end of the page downward, so item i ends where item i-1
        // starts (Berkeley DB's LEN_HITEM).
        let item = |i: usize| -> Result<&[u8], RpmDbError> {
            let start = inp(i);
            let end = if i == 0 { page_size } else { inp(i - 1) };
            if start < index_end || start >= end || end > page_size {
                return Err(err(
                    pgno,
                    at + (PAGE_HEADER + 2 * i) as u64,
                    format!(
                        "item {i} spans bytes {start}..{end}, outside the item area {index_end}..{page_size}"
                    ),
                ));
            }
            Ok(&page[start..end])
        };
        for pair in 0..entries / 2 {
            let key = item(2 * pair)?;
            let data = item(2 * pair + 1)?;
            let data_at = at + inp(2 * pair + 1) as u64;
            // rpm keeps its header-number counter under key 0; it is not a package.
            if key[0] == H_KEYDATA && key[1..].iter().all(|&b| b == 0) {
                continue;
            }
            let location = Location::Bdb {
                page: pgno,
                item: (2 * pair + 1) as u16,
            };
            let value: Cow<'_, [u8]> = match data[0] {
                H_KEYDATA => Cow::Borrowed(&data[1..]),
                H_OFFPAGE => {
                    if data.len() < HOFFPAGE_SIZE {
                        return Err(err(
                            pgno,
                            data_at,
                            "off-page item is shorter than its 12 bytes",
                        ));
                    }
                    let first = e.u32(data, 4);
                    let total = e.u32(data, 8);
                    Cow::Owned(db.overflow_value(pgno, first, total)?)
                }
                H_DUPLICATE | H_OFFDUP => {
                    return Err(err(
                        pgno,
                        data_at,
                        "duplicate-key items are not used by rpm's Packages database",
                    ));
                }
                other => {
                    return Err(err(
                        pgno,
                        data_at,
                        format!("unknown hash item type {other}"),
                    ));
                }
            };
            f(&value, location)?;
        }
    }
    Ok(())
}
