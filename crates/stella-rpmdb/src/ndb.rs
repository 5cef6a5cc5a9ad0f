//! rpm's own "ndb" backend: `Packages.db` (SUSE since SLES 15 SP3 / openSUSE).
//!
//! Layout, from rpm's `lib/backend/ndb/rpmpkg.c` (all integers little-endian):
//! ```text
//! 0      header (32 bytes): "RpmP", version 0, generation, slot page count, next package index
//! 32     slots to the end of the slot pages (4096 bytes each), 16 bytes per slot:
//!        "Slot", package index, block offset, block count      (block offset 0 = free slot)
//! blocks 16-byte blocks; a package occupies `block count` blocks from `block offset`:
//!        "BlbS", package index, timestamp, blob length, blob, padding,
//!        adler32, blob length, "BlbE"
//! ```
//! The checks mirror rpm's `rpmpkgReadSlots`/`rpmpkgReadBlob`: slot magic on every slot, blocks
//! after the slot pages and inside the file, matching package index, block count that fits the
//! blob length, and the tail's length and magic. Like rpm when it reads a blob, the adler32 is
//! not verified.

use crate::{BlobVisitor, Location, RpmDbError};

const HEADER_MAGIC: &[u8; 4] = b"RpmP";
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const BLOB_HEAD_MAGIC: &[u8; 4] = b"BlbS";
const BLOB_TAIL_MAGIC: &[u8; 4] = b"BlbE";
const HEADER_SIZE: usize = 32;
const SLOT_PAGE_SIZE: usize = 4096;
const SLOT_SIZE: usize = 16;
const BLOCK_SIZE: u64 = 16;
const BLOB_HEAD_SIZE: u64 = 16;
const BLOB_TAIL_SIZE: u64 = 12;

pub(crate) fn has_magic(bytes: &[u8]) -> bool {
    bytes.starts_with(HEADER_MAGIC)
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn err(offset: u64, reason: impl Into<String>) -> RpmDbError {
    RpmDbError::Ndb {
        offset,
        reason: reason.into(),
    }
}

/// Calls `f` with every package header blob, in slot order.
pub(crate) fn for_each_blob(bytes: &[u8], f: &mut BlobVisitor<'_>) -> Result<(), RpmDbError> {
    if bytes.len() < HEADER_SIZE {
        return Err(err(
            0,
            format!(
                "file is {} bytes, shorter than the 32-byte header",
                bytes.len()
            ),
        ));
    }
    if !has_magic(bytes) {
        return Err(err(0, "no \"RpmP\" magic"));
    }
    let version = le_u32(bytes, 4);
    if version != 0 {
        return Err(err(4, format!("unsupported NDB version {version}")));
    }
    let slot_pages = le_u32(bytes, 12) as u64;
    if slot_pages == 0 {
        return Err(err(12, "slot page count is 0"));
    }
    let slots_end = slot_pages * SLOT_PAGE_SIZE as u64;
    if slots_end > bytes.len() as u64 {
        return Err(err(
            12,
            format!(
                "{slot_pages} slot pages need {slots_end} bytes but the file has {} (truncated?)",
                bytes.len()
            ),
        ));
    }
    let file_blocks = bytes.len() as u64 / BLOCK_SIZE;
    // Blobs live after the slot pages.
    let min_block = slots_end / BLOCK_SIZE;

    // Slots are numbered as rpm numbers them: byte offset / 16, so the first is slot 2.
    for at in (HEADER_SIZE..slots_end as usize).step_by(SLOT_SIZE) {
        let slot = at / SLOT_SIZE;
        let at64 = at as u64;
        if &bytes[at..at + 4] != SLOT_MAGIC {
            return Err(err(at64, format!("slot {slot} has no \"Slot\" magic")));
        }
        let pkg_index = le_u32(bytes, at + 4);
        let block_off = le_u32(bytes, at + 8) as u64;
        let block_count = le_u32(bytes, at + 12) as u64;
        if block_off == 0 {
            continue; // free slot
        }
        if pkg_index == 0 || block_count == 0 || block_off < min_block {
            return Err(err(
                at64,
                format!(
                    "slot {slot} is malformed: package index {pkg_index}, block offset {block_off}, block count {block_count} (blocks start at {min_block})"
                ),
            ));
        }
        if block_off + block_count > file_blocks {
            return Err(err(
                at64,
                format!(
                    "slot {slot} (package index {pkg_index}) points to blocks {block_off}..{} past the end of the file ({file_blocks} blocks; truncated?)",
                    block_off + block_count
                ),
            ));
        }
        let start = block_off * BLOCK_SIZE;
        let end = (block_off + block_count) * BLOCK_SIZE;
        let area = &bytes[start as usize..end as usize];
        let blob_err = |reason: String| {
            err(
                start,
                format!("blob of slot {slot} (package index {pkg_index}): {reason}"),
            )
        };
        if (area.len() as u64) < BLOB_HEAD_SIZE + BLOB_TAIL_SIZE {
            return Err(blob_err(format!(
                "{} bytes cannot hold the blob head and tail",
                area.len()
            )));
        }
        if &area[..4] != BLOB_HEAD_MAGIC {
            return Err(blob_err("no \"BlbS\" magic".to_string()));
        }
        let head_index = le_u32(area, 4);
        if head_index != pkg_index {
            return Err(blob_err(format!(
                "blob head names package index {head_index}"
            )));
        }
        let blob_len = le_u32(area, 12) as u64;
        let expected_blocks = (BLOB_HEAD_SIZE + blob_len + BLOB_TAIL_SIZE).div_ceil(BLOCK_SIZE);
        if expected_blocks != block_count {
            return Err(blob_err(format!(
                "blob length {blob_len} needs {expected_blocks} blocks but the slot has {block_count}"
            )));
        }
        let tail = &area[area.len() - BLOB_TAIL_SIZE as usize..];
        if le_u32(tail, 4) as u64 != blob_len || &tail[8..12] != BLOB_TAIL_MAGIC {
            return Err(blob_err(format!(
                "blob tail at byte offset {} does not repeat the length and \"BlbE\" magic",
                end - BLOB_TAIL_SIZE
            )));
        }
        let blob = &area[BLOB_HEAD_SIZE as usize..(BLOB_HEAD_SIZE + blob_len) as usize];
        f(
            blob,
            Location::Ndb {
                slot: slot as u32,
                pkg_index,
                offset: start + BLOB_HEAD_SIZE,
            },
        )?;
    }
    Ok(())
}
