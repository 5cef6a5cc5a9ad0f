//! Real databases from container images, as collected by go-rpmdb (shared/data/fixtures-go-rpmdb,
//! read in place). Expected values come from the upstream expectations:
//! - cbl-mariner-2.0/rpmdb.sqlite: go-rpmdb `pkg/testdata/cbl-mariner-2.0/curl.json` (curl), and
//!   `rpm -qa` from Debian's rpm 4.18 for the count and `ca-certificates-base`;
//! - sle15-bci/Packages.db: go-rpmdb's `SLE15WithNDB` list (rpm -qa inside
//!   registry.suse.com/bci/bci-minimal:15.3, as quoted from go-rpmdb d637bcc
//!   `pkg/rpmdb_testcase_test.go`), and `packages.csv` for the fields of builds it shares;
//! - libuuid/Packages: `rpm -qa` / `rpm -ql` with Debian's rpm (backend bdb_ro).
//!
//! tests/rpm_tool.rs additionally compares every package of the SQLite and BDB fixtures with
//! Debian's rpm field by field.

use stella_rpmdb::{
    HeaderError, RpmDbFormat, RpmPackage, detect_format, parse_header, read_packages,
};

fn fixture(rel: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../../shared/data/fixtures-go-rpmdb/src/pkg/testdata/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {path}: {e}"))
}

fn find<'a>(packages: &'a [RpmPackage], name: &str) -> &'a RpmPackage {
    packages
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("package {name} not found"))
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn sqlite_fixture_cbl_mariner_lists_129_packages_with_exact_fields() {
    let bytes = fixture("cbl-mariner-2.0/rpmdb.sqlite");
    assert_eq!(detect_format(&bytes), Some(RpmDbFormat::Sqlite));
    let packages = read_packages(&bytes).unwrap();
    assert_eq!(packages.len(), 129);
    assert_eq!(packages[0].name, "mariner-release", "hnum order");

    let curl = find(&packages, "curl");
    assert_eq!(
        curl,
        &RpmPackage {
            name: "curl".into(),
            epoch: None,
            version: "7.76.0".into(),
            release: "6.cm2".into(),
            arch: s("x86_64"),
            source_rpm: s("curl-7.76.0-6.cm2.src.rpm"),
            license: s("MIT"),
            vendor: s("Microsoft Corporation"),
            size: 326023,
            modularity_label: None,
            files: vec![
                "/usr/bin/curl".into(),
                "/usr/bin/curl-config".into(),
                "/usr/share/licenses/curl".into(),
                "/usr/share/licenses/curl/COPYING".into(),
                "/usr/share/man/man1/curl-config.1.gz".into(),
                "/usr/share/man/man1/curl.1.gz".into(),
            ],
            requires: [
                "/bin/sh",
                "/sbin/ldconfig",
                "/sbin/ldconfig",
                "curl-libs",
                "krb5",
                "libc.so.6()(64bit)",
                "libc.so.6(GLIBC_2.14)(64bit)",
                "libc.so.6(GLIBC_2.2.5)(64bit)",
                "libc.so.6(GLIBC_2.3)(64bit)",
                "libc.so.6(GLIBC_2.3.4)(64bit)",
                "libc.so.6(GLIBC_2.33)(64bit)",
                "libc.so.6(GLIBC_2.34)(64bit)",
                "libc.so.6(GLIBC_2.4)(64bit)",
                "libc.so.6(GLIBC_2.7)(64bit)",
                "libcurl.so.4()(64bit)",
                "libssh2",
                "libz.so.1()(64bit)",
                "openssl",
                "rpmlib(CompressedFileNames)",
                "rpmlib(FileDigests)",
                "rpmlib(PayloadFilesHavePrefix)",
            ]
            .map(String::from)
            .to_vec(),
            provides: vec!["curl".into(), "curl(x86-64)".into()],
        }
    );
    assert_eq!(
        curl.source_name_version(),
        Some(("curl".into(), "7.76.0".into()))
    );

    let ca = find(&packages, "ca-certificates-base");
    assert_eq!(
        (
            ca.epoch,
            ca.version.as_str(),
            ca.release.as_str(),
            ca.arch.as_deref(),
            ca.source_rpm.as_deref(),
            ca.license.as_deref(),
            ca.vendor.as_deref(),
            ca.size
        ),
        (
            Some(1),
            "2.0.0",
            "1.cm2",
            Some("noarch"),
            Some("ca-certificates-2.0.0-1.cm2.src.rpm"),
            Some("MPLv2.0"),
            Some("Microsoft Corporation"),
            50019
        )
    );
    assert_eq!(
        ca.source_name_version(),
        Some(("ca-certificates".into(), "2.0.0".into())),
        "source name differs from the binary name"
    );
    let with_epoch = packages.iter().filter(|p| p.epoch.is_some()).count();
    assert_eq!(with_epoch, 3, "ca-certificates-{{base,shared,tools}}");
}

/// (arch, name, version-release) in slot order, from go-rpmdb's SLE15WithNDB expectations.
const SLE15_BCI: &[(&str, &str, &str)] = &[
    ("noarch", "system-user-root", "20190513-3.3.1"),
    ("x86_64", "filesystem", "15.0-11.3.2"),
    ("x86_64", "glibc", "2.31-9.3.2"),
    ("x86_64", "libpcre1", "8.45-20.10.1"),
    ("x86_64", "libgmp10", "6.1.2-4.6.1"),
    ("x86_64", "libgcc_s1", "11.2.1+git610-1.3.9"),
    ("x86_64", "libcap2", "2.26-4.6.1"),
    ("x86_64", "libstdc++6", "11.2.1+git610-1.3.9"),
    ("x86_64", "libncurses6", "6.1-5.9.1"),
    ("x86_64", "terminfo-base", "6.1-5.9.1"),
    ("x86_64", "libattr1", "2.4.47-2.19"),
    ("x86_64", "libselinux1", "3.0-1.31"),
    ("x86_64", "libreadline7", "7.0-19.6.1"),
    ("x86_64", "bash", "4.4-19.6.1"),
    ("x86_64", "libacl1", "2.2.52-4.3.1"),
    ("x86_64", "coreutils", "8.32-3.2.1"),
    ("x86_64", "sles-release", "15.3-55.4.1"),
    ("noarch", "ca-certificates-mozilla-prebuilt", "2.44-21.1"),
    ("x86_64", "libgpg-error0", "1.29-1.8"),
    ("x86_64", "libpopt0", "1.16-3.22"),
    ("noarch", "file-magic", "5.32-7.14.1"),
    ("x86_64", "libbz2-1", "1.0.6-5.11.1"),
    ("x86_64", "liblua5_3-5", "5.3.6-3.6.1"),
    ("x86_64", "liblzma5", "5.2.3-4.3.1"),
    ("x86_64", "libz1", "1.2.11-3.21.1"),
    ("x86_64", "libzstd1", "1.4.4-1.6.1"),
    ("x86_64", "libmagic1", "5.32-7.14.1"),
    ("x86_64", "libdw1", "0.168-4.5.3"),
    ("x86_64", "libebl-plugins", "0.168-4.5.3"),
    ("x86_64", "libelf1", "0.168-4.5.3"),
    ("x86_64", "libcrypt1", "4.4.15-2.51"),
    ("x86_64", "perl-base", "5.26.1-15.87"),
    ("x86_64", "libgcrypt20", "1.8.2-8.39.1"),
    ("noarch", "rpm-config-SUSE", "1-5.6.1"),
    ("x86_64", "rpm-ndb", "4.14.3-40.1"),
];

#[test]
fn ndb_fixture_sle15_bci_lists_35_packages_in_slot_order() {
    let bytes = fixture("sle15-bci/Packages.db");
    assert_eq!(detect_format(&bytes), Some(RpmDbFormat::Ndb));
    let packages = read_packages(&bytes).unwrap();
    let got: Vec<(String, String, String)> = packages
        .iter()
        .map(|p| {
            (
                p.arch.clone().unwrap_or_default(),
                p.name.clone(),
                format!("{}-{}", p.version, p.release),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = SLE15_BCI
        .iter()
        .map(|&(a, n, vr)| (a.into(), n.into(), vr.into()))
        .collect();
    assert_eq!(got, want);
    assert!(packages.iter().all(|p| p.epoch.is_none()));
    assert!(
        packages
            .iter()
            .all(|p| p.vendor.as_deref() == Some("SUSE LLC <https://www.suse.com/>"))
    );

    // Same builds as in go-rpmdb's packages.csv, so their fields are known exactly.
    let fields = |p: &RpmPackage| {
        (
            p.source_rpm.clone(),
            p.license.clone(),
            p.size,
            p.source_name_version(),
        )
    };
    assert_eq!(
        fields(find(&packages, "system-user-root")),
        (
            s("system-user-root-20190513-3.3.1.src.rpm"),
            s("MIT"),
            186,
            Some(("system-user-root".into(), "20190513".into()))
        )
    );
    assert_eq!(
        fields(find(&packages, "bash")),
        (
            s("bash-4.4-19.6.1.src.rpm"),
            s("GPL-3.0-or-later"),
            1114706,
            Some(("bash".into(), "4.4".into()))
        )
    );
    assert_eq!(
        fields(find(&packages, "libpopt0")),
        (
            s("popt-1.16-3.22.src.rpm"),
            s("MIT"),
            124686,
            Some(("popt".into(), "1.16".into()))
        )
    );
    // libreadline7 is built from bash's source package.
    assert_eq!(
        find(&packages, "libreadline7").source_name_version(),
        Some(("bash".into(), "4.4".into()))
    );
    assert!(
        find(&packages, "bash")
            .files
            .contains(&"/usr/bin/bash".to_string())
    );
}

#[test]
fn bdb_fixture_libuuid_lists_one_package_spread_over_overflow_pages() {
    let bytes = fixture("libuuid/Packages");
    assert_eq!(detect_format(&bytes), Some(RpmDbFormat::BerkeleyDb));
    let packages = read_packages(&bytes).unwrap();
    assert_eq!(packages.len(), 1);
    let p = &packages[0];
    assert_eq!(
        (
            p.name.as_str(),
            p.epoch,
            p.version.as_str(),
            p.release.as_str(),
            p.arch.as_deref(),
            p.source_rpm.as_deref(),
            p.license.as_deref(),
            p.vendor.as_deref(),
            p.size,
            p.modularity_label.as_deref()
        ),
        (
            "libuuid",
            None,
            "2.32.1",
            "42.el8_8",
            Some("x86_64"),
            Some("util-linux-2.32.1-42.el8_8.src.rpm"),
            Some("BSD"),
            Some("Red Hat, Inc."),
            35104,
            None
        )
    );
    assert_eq!(
        p.files,
        [
            "/usr/lib/.build-id",
            "/usr/lib/.build-id/df/ef6a880adac817216ab9866779a0725e017647",
            "/usr/lib64/libuuid.so.1",
            "/usr/lib64/libuuid.so.1.3.0",
            "/usr/share/licenses/libuuid",
            "/usr/share/licenses/libuuid/COPYING",
            "/usr/share/licenses/libuuid/COPYING.BSD-3",
        ]
    );
    assert_eq!(p.requires.len(), 17);
    assert_eq!(p.provides.len(), 7);
    assert!(
        p.provides
            .contains(&"libuuid.so.1(UUID_2.31)(64bit)".to_string())
    );
    assert_eq!(
        p.source_name_version(),
        Some(("util-linux".into(), "2.32.1".into()))
    );
}

/// blob.bin is go-rpmdb's fuzz seed: a Fedora 35 header of publicsuffix-list-dafsa whose
/// DIRINDEXES were altered (rpm itself rejects it: its header digests fail). Its index and data
/// store are sound, so everything up to the file list decodes; the out-of-range directory index
/// must be reported, not indexed.
#[test]
fn blob_bin_with_out_of_range_dirindex_is_an_error_naming_it() {
    let blob = fixture("blob.bin");
    let err = parse_header(&blob).unwrap_err();
    assert_eq!(
        err,
        HeaderError::BadFileList {
            reason: "DIRINDEXES[3] = 4 but there are only 4 DIRNAMES".into()
        }
    );
    assert!(
        detect_format(&blob).is_none(),
        "a bare header is no database"
    );
}
