//! Hostile and broken input: truncations, random bytes, bit flips and hand-made structures whose
//! counts and offsets point past the end. Every case must return (no panic, no runaway
//! allocation), and a read that succeeds must not silently drop packages.

use stella_rpmdb::{HeaderError, RpmDbError, detect_format, parse_header, read_packages};

fn fixture(rel: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../../shared/data/fixtures-go-rpmdb/src/pkg/testdata/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {path}: {e}"))
}

/// Deterministic xorshift, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Cut points: every byte of the first 600, then a stride through the file, then the last 64.
fn cut_points(len: usize, stride: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..len.min(600)).collect();
    cuts.extend((600..len).step_by(stride));
    cuts.extend(len.saturating_sub(64)..len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// A truncated database either fails, or (SQLite, when only pages the query never reads were
/// cut) returns exactly the full list; it never returns a shorter list.
fn assert_truncations_fail_or_are_complete(rel: &str, stride: usize) -> (usize, usize) {
    let bytes = fixture(rel);
    let full = read_packages(&bytes).unwrap();
    let (mut errors, mut complete) = (0, 0);
    for cut in cut_points(bytes.len(), stride) {
        match read_packages(&bytes[..cut]) {
            Err(_) => errors += 1,
            Ok(got) => {
                assert_eq!(got, full, "{rel} cut at {cut} returned a different list");
                complete += 1;
            }
        }
    }
    eprintln!("{rel}: {errors} truncations failed, {complete} returned the full list");
    (errors, complete)
}

#[test]
fn truncated_bdb_fixture_always_fails() {
    let (errors, complete) = assert_truncations_fail_or_are_complete("libuuid/Packages", 97);
    assert_eq!(
        complete, 0,
        "every cut loses pages the metadata page announces"
    );
    assert!(errors > 600);
}

#[test]
fn truncated_ndb_fixture_fails_or_is_complete() {
    let (errors, _) = assert_truncations_fail_or_are_complete("sle15-bci/Packages.db", 1009);
    assert!(errors > 1500, "{errors}");
}

#[test]
fn truncated_sqlite_fixture_fails_or_is_complete() {
    let (errors, _) =
        assert_truncations_fail_or_are_complete("cbl-mariner-2.0/rpmdb.sqlite", 65_537);
    assert!(errors > 600, "{errors}");
}

#[test]
fn truncated_header_blob_always_fails() {
    let blob = fixture("blob.bin");
    for cut in 0..blob.len() {
        assert!(parse_header(&blob[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn random_bytes_are_rejected() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for len in [0usize, 1, 15, 16, 31, 32, 100, 511, 512, 4096, 70_000] {
        for _ in 0..20 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            assert!(read_packages(&bytes).is_err());
            let _ = parse_header(&bytes);
        }
    }
    assert!(matches!(
        read_packages(b"hello"),
        Err(RpmDbError::UnknownFormat { len: 5 })
    ));
}

/// Random magics followed by random bytes: each backend's structure parser, not just the
/// detector, sees garbage.
#[test]
fn garbage_after_each_magic_is_rejected_without_panic() {
    let mut rng = Rng(42);
    for round in 0..300 {
        let len = [64, 600, 4096, 9000, 20_000][round % 5];
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        match round % 3 {
            0 => bytes[..16].copy_from_slice(b"SQLite format 3\0"),
            1 => bytes[..4].copy_from_slice(b"RpmP"),
            _ => {
                bytes[12..16].copy_from_slice(&0x0006_1561u32.to_le_bytes());
                bytes[20..24].copy_from_slice(&512u32.to_le_bytes());
                bytes[24] = 0;
                bytes[25] = 8;
                bytes[26] = 0;
            }
        }
        let _ = read_packages(&bytes);
    }
}

/// Flips bytes all over each fixture; any outcome but a panic is acceptable.
#[test]
fn bit_flipped_fixtures_never_panic() {
    let mut rng = Rng(7);
    for (rel, rounds) in [
        ("libuuid/Packages", 400),
        ("sle15-bci/Packages.db", 150),
        ("blob.bin", 2000),
        ("cbl-mariner-2.0/rpmdb.sqlite", 25),
    ] {
        let original = fixture(rel);
        for _ in 0..rounds {
            let mut bytes = original.clone();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(bytes.len());
                bytes[at] ^= 1 << rng.below(8);
            }
            if rel == "blob.bin" {
                let _ = parse_header(&bytes);
            } else {
                let _ = read_packages(&bytes);
            }
        }
    }
}

// ---- hand-made header blobs -------------------------------------------------------------------

const STRING: u32 = 6;
const INT32: u32 = 4;
const STRING_ARRAY: u32 = 8;

/// (tag, type, data offset, count) of one index entry.
type Entry = (u32, u32, i32, u32);

fn header(entries: &[Entry], data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    b.extend_from_slice(&(data.len() as u32).to_be_bytes());
    for &(tag, ty, off, count) in entries {
        for v in [tag, ty, off as u32, count] {
            b.extend_from_slice(&v.to_be_bytes());
        }
    }
    b.extend_from_slice(data);
    b
}

fn minimal_header() -> Vec<u8> {
    header(
        &[
            (1000, STRING, 0, 1),
            (1001, STRING, 4, 1),
            (1002, STRING, 8, 1),
        ],
        b"foo\x001.0\x001\0",
    )
}

#[test]
fn minimal_valid_header_decodes() {
    let p = parse_header(&minimal_header()).unwrap();
    assert_eq!(
        (p.name.as_str(), p.version.as_str(), p.release.as_str()),
        ("foo", "1.0", "1")
    );
    assert_eq!(p.arch, None);
    assert!(p.files.is_empty());
}

#[test]
fn header_counts_and_offsets_past_the_end_are_errors() {
    // Index count far beyond the blob: must not allocate for it.
    let mut b = minimal_header();
    b[..4].copy_from_slice(&0xffffu32.to_be_bytes());
    assert!(matches!(
        parse_header(&b),
        Err(HeaderError::Truncated { .. })
    ));
    b[..4].copy_from_slice(&0xffff_ffffu32.to_be_bytes());
    assert!(matches!(
        parse_header(&b),
        Err(HeaderError::BadIndexCount { .. })
    ));

    // Data length beyond the blob, and beyond rpm's 16 MiB limit.
    let mut b = minimal_header();
    b[4..8].copy_from_slice(&1000u32.to_be_bytes());
    assert!(matches!(
        parse_header(&b),
        Err(HeaderError::Truncated { .. })
    ));
    b[4..8].copy_from_slice(&0x0100_0000u32.to_be_bytes());
    assert!(matches!(
        parse_header(&b),
        Err(HeaderError::DataTooLarge { .. })
    ));

    let data = b"foo\x001.0\x001\0";
    let cases: [(&str, Vec<Entry>); 5] = [
        ("offset past end", vec![(1000, STRING, 99, 1)]),
        ("negative offset", vec![(1000, STRING, -4, 1)]),
        ("int32 array past end", vec![(1116, INT32, 4, 1000)]),
        (
            "string array count past end",
            vec![(1117, STRING_ARRAY, 0, 4_000_000_000)],
        ),
        ("unknown type", vec![(1000, 42, 0, 1)]),
    ];
    for (what, entries) in cases {
        let err = parse_header(&header(&entries, data)).unwrap_err();
        assert!(
            matches!(err, HeaderError::BadEntry { entry: 0, .. }),
            "{what}: {err}"
        );
    }

    // A string array whose count fits the bytes but whose strings are not terminated.
    let b = header(
        &[
            (1000, STRING, 0, 1),
            (1001, STRING, 4, 1),
            (1002, STRING, 8, 1),
            (1047, STRING_ARRAY, 10, 3),
        ],
        b"foo\x001.0\x001\0abc",
    );
    assert!(matches!(
        parse_header(&b),
        Err(HeaderError::UnterminatedString { tag: 1047, .. })
    ));
}

#[test]
fn file_list_mismatches_are_errors() {
    // 2 basenames, 1 dirindex.
    let mut data = b"foo\x001.0\x001\0/d/\0a\0b\0".to_vec();
    data.resize(20, 0);
    data.extend_from_slice(&0u32.to_be_bytes());
    let b = header(
        &[
            (1000, STRING, 0, 1),
            (1001, STRING, 4, 1),
            (1002, STRING, 8, 1),
            (1118, STRING_ARRAY, 10, 1),
            (1117, STRING_ARRAY, 14, 2),
            (1116, INT32, 20, 1),
        ],
        &data,
    );
    assert!(matches!(
        parse_header(&b),
        Err(HeaderError::BadFileList { .. })
    ));
}

/// Many basenames all pointing at one long directory name would join into far more bytes than
/// the header holds; the reader refuses rather than allocating gigabytes.
#[test]
fn file_path_amplification_is_refused() {
    let dir = "/".to_string() + &"d".repeat(60_000) + "/";
    let n = 200_000u32; // 200k × 60 KB = 12 GB if joined
    let mut data = b"foo\x001.0\x001\0".to_vec(); // 10 bytes
    let dir_off = data.len();
    data.extend_from_slice(dir.as_bytes());
    data.push(0);
    let base_off = data.len();
    for _ in 0..n {
        data.extend_from_slice(b"x\0");
    }
    while !data.len().is_multiple_of(4) {
        data.push(0);
    }
    let idx_off = data.len();
    data.extend(std::iter::repeat_n(0u8, 4 * n as usize));
    let b = header(
        &[
            (1000, STRING, 0, 1),
            (1001, STRING, 4, 1),
            (1002, STRING, 8, 1),
            (1118, STRING_ARRAY, dir_off as i32, 1),
            (1117, STRING_ARRAY, base_off as i32, n),
            (1116, INT32, idx_off as i32, n),
        ],
        &data,
    );
    let err = parse_header(&b).unwrap_err();
    assert!(
        matches!(&err, HeaderError::BadFileList { reason } if reason.contains("exceed")),
        "{err}"
    );
}

// ---- hand-made database structures ------------------------------------------------------------

/// Offsets of the overflow pages (type 7) of a little-endian BDB file with 4 KiB pages.
fn overflow_pages(bytes: &[u8]) -> Vec<usize> {
    (1..bytes.len() / 4096)
        .filter(|p| bytes[p * 4096 + 25] == 7)
        .collect()
}

#[test]
fn bdb_overflow_cycle_is_detected() {
    let mut bytes = fixture("libuuid/Packages");
    let pages = overflow_pages(&bytes);
    assert!(pages.len() > 2, "fixture has a multi-page chain");
    // Point the second page of the chain back at the first.
    let first = pages[0];
    let at = pages[1] * 4096 + 16;
    bytes[at..at + 4].copy_from_slice(&(first as u32).to_le_bytes());
    let err = read_packages(&bytes).unwrap_err();
    assert!(
        matches!(&err, RpmDbError::BerkeleyDb { reason, .. } if reason.contains("second time")),
        "{err}"
    );
}

#[test]
fn bdb_last_page_beyond_the_file_is_reported_with_its_offset() {
    let mut bytes = fixture("libuuid/Packages");
    bytes[32..36].copy_from_slice(&1_000_000u32.to_le_bytes());
    let err = read_packages(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            RpmDbError::BerkeleyDb {
                page: 0,
                offset: 32,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("last page is 1000000"), "{err}");
}

#[test]
fn bdb_header_damage_names_the_page_and_header_index() {
    let mut bytes = fixture("libuuid/Packages");
    // The first overflow page starts with the header blob's index count; make it 0.
    let first = overflow_pages(&bytes)[0];
    bytes[first * 4096 + 26..first * 4096 + 30].copy_from_slice(&[0, 0, 0, 0]);
    let err = read_packages(&bytes).unwrap_err();
    match &err {
        RpmDbError::Header {
            index: 0,
            location,
            source: HeaderError::BadIndexCount { count: 0 },
        } => assert!(location.starts_with("Berkeley DB page "), "{location}"),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn ndb_slot_pointing_past_the_end_is_reported() {
    let mut bytes = fixture("sle15-bci/Packages.db");
    // First slot (byte 32): block offset at +8.
    bytes[40..44].copy_from_slice(&0x0fff_ffffu32.to_le_bytes());
    let err = read_packages(&bytes).unwrap_err();
    assert!(
        matches!(&err, RpmDbError::Ndb { offset: 32, reason } if reason.contains("past the end")),
        "{err}"
    );
    let mut bytes = fixture("sle15-bci/Packages.db");
    bytes[48..52].copy_from_slice(b"Slut");
    assert!(matches!(
        read_packages(&bytes),
        Err(RpmDbError::Ndb { offset: 48, .. })
    ));
}

#[test]
fn ndb_slot_page_count_beyond_the_file_is_reported() {
    let mut bytes = fixture("sle15-bci/Packages.db");
    bytes[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        read_packages(&bytes),
        Err(RpmDbError::Ndb { offset: 12, .. })
    ));
}

fn sqlite_image(sql: &str) -> Vec<u8> {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(sql).unwrap();
    conn.serialize(rusqlite::MAIN_DB).unwrap().to_vec()
}

#[test]
fn sqlite_without_a_packages_table_or_with_bad_rows_is_rejected() {
    let no_table = sqlite_image("CREATE TABLE other (x);");
    assert!(matches!(
        read_packages(&no_table),
        Err(RpmDbError::SqliteLayout { .. })
    ));

    // A view could run arbitrary SQL on every read; it is refused before any query.
    let view = sqlite_image(
        "CREATE TABLE t (hnum INTEGER PRIMARY KEY, blob BLOB);
         CREATE VIEW Packages AS SELECT hnum, blob FROM t;",
    );
    let err = read_packages(&view).unwrap_err();
    assert!(err.to_string().contains("view"), "{err}");

    let text_blob = sqlite_image(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB);
         INSERT INTO Packages VALUES (1, 'not a blob');",
    );
    assert!(matches!(
        read_packages(&text_blob),
        Err(RpmDbError::SqliteLayout { .. })
    ));

    let garbage = sqlite_image(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB);
         INSERT INTO Packages VALUES (7, x'0000000100000010');",
    );
    match read_packages(&garbage).unwrap_err() {
        RpmDbError::Header {
            index: 0, location, ..
        } => assert_eq!(location, "SQLite Packages row hnum 7"),
        other => panic!("unexpected {other}"),
    }

    let empty = sqlite_image("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB);");
    assert_eq!(read_packages(&empty).unwrap(), vec![]);
    assert!(detect_format(&empty).is_some());
}
