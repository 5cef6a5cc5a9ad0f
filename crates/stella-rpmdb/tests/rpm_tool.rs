//! Compares this crate with the real rpm tool (Debian's rpm 4.18) on databases rpm wrote or
//! reads: packages built with rpmbuild and installed by tests/make-rpmdbs.sh, and the go-rpmdb
//! SQLite and Berkeley DB fixtures.
//!
//! Without rpm these tests print why and pass, unless the CI environment variable is set: on CI
//! a missing rpm is a broken machine, not a reason to skip.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use stella_rpmdb::{RpmDbFormat, RpmPackage, detect_format, read_packages};

/// The query the brief fixes for the NEVRA comparison.
const NEVRA_QF: &str = "%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n";
/// Everything else RpmPackage carries, one package per line (arrays joined with `|`).
const DETAIL_QF: &str = "%{NAME}-%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\t%{SOURCERPM}\t%{LICENSE}\t%{VENDOR}\t%{LONGSIZE}\t%{MODULARITYLABEL}\t[%{FILENAMES}|]\t[%{REQUIRENAME}|]\t[%{PROVIDENAME}|]\n";

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// True when rpm and rpmbuild can be used; panics on CI when they cannot.
fn rpm_tools_present() -> bool {
    if have("rpm") && have("rpmbuild") {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("rpm/rpmbuild are not installed but CI is set; install Debian's `rpm` package");
    }
    eprintln!("SKIPPED: rpm/rpmbuild not installed (apt-get install rpm); CI unset");
    false
}

fn none(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("(none)")
}

fn nevra_line(p: &RpmPackage) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\n",
        p.name,
        p.epoch.unwrap_or(0),
        p.version,
        p.release,
        none(&p.arch)
    )
}

fn detail_line(p: &RpmPackage) -> String {
    let join = |v: &[String]| v.iter().map(|s| format!("{s}|")).collect::<String>();
    format!(
        "{}-{}:{}-{}.{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
        p.name,
        p.epoch.unwrap_or(0),
        p.version,
        p.release,
        none(&p.arch),
        none(&p.source_rpm),
        none(&p.license),
        none(&p.vendor),
        p.size,
        none(&p.modularity_label),
        join(&p.files),
        join(&p.requires),
        join(&p.provides),
    )
}

fn rpm_query(dbpath: &Path, backend: &str, qf: &str) -> Vec<String> {
    let out = Command::new("rpm")
        .arg("--dbpath")
        .arg(dbpath)
        .args([
            "--define",
            &format!("_db_backend {backend}"),
            "-qa",
            "--qf",
            qf,
        ])
        .output()
        .expect("running rpm -qa");
    assert!(
        out.status.success(),
        "rpm -qa --dbpath {} failed: {}",
        dbpath.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .expect("rpm output is UTF-8")
        .split_inclusive('\n')
        .map(String::from)
        .collect();
    lines.sort();
    lines
}

/// Reads `dir/file` with this crate and with `rpm -qa`, asserts both agree on every field, and
/// returns the number of packages.
fn assert_matches_rpm(dir: &Path, file: &str, backend: &str, format: RpmDbFormat) -> usize {
    // Read before rpm touches the directory (rpm may checkpoint a SQLite WAL).
    let bytes = std::fs::read(dir.join(file)).unwrap();
    assert_eq!(detect_format(&bytes), Some(format), "{}", dir.display());
    let packages = read_packages(&bytes).unwrap();

    let mut ours: Vec<String> = packages.iter().map(nevra_line).collect();
    ours.sort();
    assert_eq!(
        ours,
        rpm_query(dir, backend, NEVRA_QF),
        "NEVRA of {}",
        dir.display()
    );

    let mut ours: Vec<String> = packages.iter().map(detail_line).collect();
    ours.sort();
    let theirs = rpm_query(dir, backend, DETAIL_QF);
    // Compare line by line so a failure names the package rather than dumping 100 lines.
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a, b, "details in {}", dir.display());
    }
    packages.len()
}

#[test]
fn packages_built_and_installed_by_rpm_read_the_same_as_rpm_qa() {
    if !rpm_tools_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/make-rpmdbs.sh");
    let out = Command::new("sh")
        .arg(&script)
        .arg(tmp.path())
        .output()
        .expect("running make-rpmdbs.sh");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "make-rpmdbs.sh failed:\n{log}");
    eprintln!("{log}");

    let listing = std::fs::read_to_string(tmp.path().join("backends.txt")).unwrap();
    let mut checked = BTreeMap::new();
    for line in listing.lines() {
        let [name, dir, file, backend] = line.split(' ').collect::<Vec<_>>()[..] else {
            panic!("bad backends.txt line {line:?}");
        };
        let format = match backend {
            "sqlite" => RpmDbFormat::Sqlite,
            "ndb" => RpmDbFormat::Ndb,
            "bdb_ro" | "bdb" => RpmDbFormat::BerkeleyDb,
            other => panic!("unknown backend {other}"),
        };
        let n = assert_matches_rpm(Path::new(dir), file, backend, format);
        checked.insert(name.to_string(), n);
    }
    eprintln!("packages read per generated database: {checked:?}");
    assert_eq!(checked.get("sqlite"), Some(&3));
    // The BDB files need Perl's DB_File, which Debian's perl ships; on CI they must be there.
    if std::env::var_os("CI").is_some() || checked.contains_key("bdb-le") {
        for name in ["bdb-le", "bdb-be", "bdb-64k"] {
            assert_eq!(checked.get(name), Some(&3), "{name}");
        }
    }

    // Spot-check what the specs declare, so a broken script cannot pass by agreeing with rpm on
    // an empty database.
    let bytes = std::fs::read(tmp.path().join("sqlite/rpmdb.sqlite")).unwrap();
    let packages = read_packages(&bytes).unwrap();
    let base = packages.iter().find(|p| p.name == "stella-base").unwrap();
    assert_eq!(base.epoch, Some(3));
    assert_eq!(base.license.as_deref(), Some("Apache-2.0"));
    assert_eq!(base.vendor.as_deref(), Some("Stella Test Vendor"));
    assert!(
        base.provides
            .contains(&"stella-base-capability".to_string())
    );
    assert!(
        base.files
            .contains(&"/usr/lib/stella-base/two.txt".to_string())
    );
    let hello = packages.iter().find(|p| p.name == "stella-hello").unwrap();
    assert!(hello.requires.contains(&"stella-base".to_string()));
    assert_eq!(hello.files, ["/usr/share/stella-hello/hello.txt"]);
    let noarch = packages.iter().find(|p| p.name == "stella-noarch").unwrap();
    assert_eq!(noarch.vendor, None);
    assert_eq!(noarch.arch.as_deref(), Some("noarch"));
}

#[test]
fn go_rpmdb_sqlite_and_bdb_fixtures_read_the_same_as_rpm_qa() {
    if !rpm_tools_present() {
        return;
    }
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/fixtures-go-rpmdb/src/pkg/testdata");
    // rpm wants a writable database directory; copy each file into a scratch one.
    for (rel, file, backend, format, count) in [
        (
            "cbl-mariner-2.0",
            "rpmdb.sqlite",
            "sqlite",
            RpmDbFormat::Sqlite,
            129,
        ),
        ("libuuid", "Packages", "bdb_ro", RpmDbFormat::BerkeleyDb, 1),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::copy(testdata.join(rel).join(file), tmp.path().join(file)).unwrap();
        assert_eq!(
            assert_matches_rpm(tmp.path(), file, backend, format),
            count,
            "{rel}"
        );
    }
}
