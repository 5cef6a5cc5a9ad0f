//! A zip bomb is refused while it is being read, without allocating what it expands to.
//!
//! This binary counts allocations with its own global allocator, so it holds only tests
//! that measure memory and they run one at a time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Cursor, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use stella_concelier::parse::{Limits, ParseError, parse_document};
use stella_model::FeedSource;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static SERIAL: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1024 * 1024;

/// A zip whose one entry is `size` zero bytes, written a megabyte at a time.
fn bomb(name: &str, size: usize) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(size >= 4 * 1024 * MIB);
    w.start_file(name, options).unwrap();
    let chunk = vec![0u8; MIB];
    for _ in 0..size / MIB {
        w.write_all(&chunk).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Peak bytes allocated above what was live when `f` started.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    (out, PEAK.load(Ordering::SeqCst) - base)
}

#[test]
fn a_64_mib_entry_is_refused_at_the_8_mib_archive_limit() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let archive = bomb("GHSA-bomb.json", 64 * MIB);
    assert!(
        archive.len() < MIB,
        "the bomb compresses to {} bytes",
        archive.len()
    );
    let limits = Limits {
        max_archive_bytes: 8 * MIB as u64,
        ..Limits::default()
    };
    let (result, peak) =
        peak_during(|| parse_document(FeedSource::Osv, "PyPI/all.zip", &archive, &limits));
    let e = result.unwrap_err();
    assert!(matches!(e, ParseError::ArchiveTooLarge { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "PyPI/all.zip: zip archive expands past the limit of 8388608 bytes (at entry \"GHSA-bomb.json\"); \
         refusing a possible decompression bomb"
    );
    // Reading stops one byte past the limit: the buffer (its last growth holds the old and
    // the new one at once, about 12 MiB) and the inflater, never the 64 MiB of the entry.
    assert!(peak < 16 * MIB, "peak {} KiB", peak / 1024);
}

#[test]
fn an_entry_over_the_record_limit_is_skipped_without_reading_it_all() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let archive = bomb("GHSA-big.json", 64 * MIB);
    let limits = Limits {
        max_record_bytes: MIB as u64,
        ..Limits::default()
    };
    let (result, peak) =
        peak_during(|| parse_document(FeedSource::Osv, "all.zip", &archive, &limits));
    let outcome = result.unwrap();
    assert!(outcome.records.is_empty());
    assert_eq!(outcome.errors.len(), 1);
    assert_eq!(outcome.errors[0].location, "all.zip!GHSA-big.json");
    assert!(peak < 4 * MIB, "peak {} KiB", peak / 1024);
}
