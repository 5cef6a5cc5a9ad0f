//! rpm databases and header blobs: any bytes at `var/lib/rpm/{Packages,Packages.db,rpmdb.sqlite}`.
//!
//! Input: the whole file. Seeds: go-rpmdb's BDB, NDB and SQLite fixtures and its raw header blob.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_rpmdb::{RpmDbFormat, RpmPackage};

fn touch(p: &RpmPackage) {
    // The source-rpm name split is string slicing on hostile input too.
    let _ = p.source_name_version();
    let _ = p.source_nvr();
}

fuzz_target!(|data: &[u8]| {
    if let Ok(pkgs) = stella_rpmdb::read_packages(data) {
        pkgs.iter().for_each(touch);
    }
    // Also each backend on bytes whose magic says otherwise: the analyzer only ever goes through
    // detection, but the backends must not trust that their caller checked.
    for format in [
        RpmDbFormat::BerkeleyDb,
        RpmDbFormat::Ndb,
        RpmDbFormat::Sqlite,
    ] {
        if let Ok(pkgs) = stella_rpmdb::read_packages_as(format, data) {
            pkgs.iter().for_each(touch);
        }
    }
    if let Ok(p) = stella_rpmdb::parse_header(data) {
        touch(&p);
    }
});
