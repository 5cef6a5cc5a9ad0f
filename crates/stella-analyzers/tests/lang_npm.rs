//! npm, yarn and pnpm analyzers against Trivy's own parser fixtures (read in place from
//! `shared/data/fixtures-trivy-parsers`), asserting the package sets Trivy's tests expect
//! (`pkg/dependency/parser/nodejs/*/parse_testcase.go` at the fixtures' commit). Where Stella
//! differs on purpose, the test says so.

mod common;

use std::collections::BTreeSet;
use stella_analyzers::lang::{npm, npm_lock, npm_pnpm, npm_yarn};
use stella_analyzers::{Analyzer, Facts};

fn fixture(rel: &str) -> Vec<u8> {
    common::parser_fixture(&format!("nodejs/{rel}"))
}

fn run(a: &dyn Analyzer, rel: &str, as_path: &str) -> Facts {
    assert!(a.wants(as_path), "{} should want {as_path}", a.name());
    a.analyze(as_path, &fixture(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn ids(f: &Facts) -> BTreeSet<String> {
    f.packages
        .iter()
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect()
}

fn prod_ids(f: &Facts) -> BTreeSet<String> {
    f.packages
        .iter()
        .filter(|p| !p.dev)
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect()
}

fn dev_ids(f: &Facts) -> BTreeSet<String> {
    f.packages
        .iter()
        .filter(|p| p.dev)
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Trivy's `npmV1Pkgs` (and `npmV2Pkgs`, the same set, for the v2 and v3 files).
const NPM_PKGS: &[&str] = &[
    "@babel/helper-string-parser@7.19.4",
    "asap@2.0.6",
    "body-parser@1.18.3",
    "bytes@3.0.0",
    "content-type@1.0.5",
    "debug@2.5.2",
    "debug@2.6.9",
    "depd@1.1.2",
    "ee-first@1.1.1",
    "encodeurl@1.0.2",
    "escape-html@1.0.3",
    "finalhandler@1.1.1",
    "http-errors@1.6.3",
    "iconv-lite@0.4.23",
    "inherits@2.0.3",
    "media-typer@0.3.0",
    "mime-db@1.52.0",
    "mime-types@2.1.35",
    "ms@0.7.2",
    "ms@1.0.0",
    "ms@2.0.0",
    "on-finished@2.3.0",
    "parseurl@1.3.3",
    "promise@8.3.0",
    "qs@6.5.2",
    "raw-body@2.3.3",
    "safer-buffer@2.1.2",
    "setprototypeof@1.1.0",
    "statuses@1.4.0",
    "type-is@1.6.18",
    "unpipe@1.0.0",
];

#[test]
fn package_lock_v1_v2_v3_match_trivy() {
    for file in [
        "package-lock_v1.json",
        "package-lock_v2.json",
        "package-lock_v3.json",
    ] {
        let f = run(
            &npm_lock::NpmLockAnalyzer,
            &format!("npm/testdata/{file}"),
            "app/package-lock.json",
        );
        assert_eq!(ids(&f), set(NPM_PKGS), "{file}");
        // `npm install --save-dev debug@2.5.2` and its own ms.
        assert_eq!(dev_ids(&f), set(&["debug@2.5.2", "ms@0.7.2"]), "{file}");
        let body_parser = f.packages.iter().find(|p| p.name == "body-parser").unwrap();
        let deps: Vec<&str> = body_parser
            .depends
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(
            deps,
            [
                "bytes",
                "content-type",
                "debug",
                "depd",
                "http-errors",
                "iconv-lite",
                "on-finished",
                "qs",
                "raw-body",
                "type-is"
            ],
            "{file}"
        );
        for p in &f.packages {
            assert_eq!(p.found_in, "app/package-lock.json");
            assert_eq!(p.properties["stella:evidence"], "lockfile");
            assert!(p.purl.starts_with("pkg:npm/"), "{}", p.purl);
        }
        let babel = f
            .packages
            .iter()
            .find(|p| p.name == "@babel/helper-string-parser")
            .unwrap();
        assert_eq!(babel.purl, "pkg:npm/%40babel/helper-string-parser@7.19.4");
    }
}

#[test]
fn package_lock_v3_broken_link_yields_nothing() {
    let f = run(
        &npm_lock::NpmLockAnalyzer,
        "npm/testdata/package-lock_v3_broken_link.json",
        "npm-shrinkwrap.json",
    );
    assert!(f.packages.is_empty(), "{:?}", ids(&f));
}

#[test]
fn package_lock_v3_same_package_dev_and_prod_is_prod() {
    let f = run(
        &npm_lock::NpmLockAnalyzer,
        "npm/testdata/package-lock_v3_with-same-dev-and-non-dev.json",
        "package-lock.json",
    );
    // minimist@0.0.8 is both a dev (under fsevents) and a prod install: prod, listed once.
    assert_eq!(prod_ids(&f), set(&["minimist@0.0.8"]));
    assert_eq!(
        dev_ids(&f),
        set(&["fsevents@1.2.9", "mkdirp@0.5.1", "node-pre-gyp@0.12.0"])
    );
}

#[test]
fn package_lock_v3_workspaces_peers_and_links() {
    let cases: &[(&str, &[&str])] = &[
        // Links name the workspace member they point at; `function1` points at a member
        // without a version and is skipped (Trivy lists it without one).
        (
            "package-lock_v3_with_workspace.json",
            &[
                "debug@2.5.2",
                "debug@2.6.9",
                "ms@0.7.2",
                "ms@2.0.0",
                "nested_func@1.0.0",
            ],
        ),
        (
            "package-lock_v3_without_root_deps_field.json",
            &["debug@2.6.9", "func1@1.0.0", "ms@2.0.0"],
        ),
        (
            "package-lock_v3_with_peer.json",
            &[
                "lodash@4.17.21",
                "mustache@2.3.2",
                "triple-beam@1.4.1",
                "winston-mail@2.0.0",
                "winston@3.17.0",
            ],
        ),
    ];
    for (file, want) in cases {
        let f = run(
            &npm_lock::NpmLockAnalyzer,
            &format!("npm/testdata/{file}"),
            "package-lock.json",
        );
        assert_eq!(ids(&f), set(want), "{file}");
    }
}

#[test]
fn package_lock_v3_legacy_licenses() {
    let f = run(
        &npm_lock::NpmLockAnalyzer,
        "npm/testdata/package-lock_v3_with_legacy_licenses.json",
        "package-lock.json",
    );
    assert!(f.packages.iter().any(|p| !p.licenses.is_empty()));
}

#[test]
fn yarn_v1_locks_match_trivy() {
    let happy = run(
        &npm_yarn::YarnLockAnalyzer,
        "yarn/testdata/yarn_happy.lock",
        "app/yarn.lock",
    );
    assert_eq!(
        ids(&happy),
        set(&[
            "@babel/helper-regex@7.4.4",
            "ansi-regex@2.1.1",
            "ansi-regex@3.0.0",
            "asap@2.0.6",
            "inherits@2.0.3",
            "is-fullwidth-code-point@2.0.0",
            "jquery@3.4.1",
            "js-tokens@4.0.0",
            "lodash@4.17.11",
            "promise@8.0.3",
            "safe-buffer@5.1.2",
            "safer-buffer@2.1.2",
            "statuses@1.5.0",
            "string-width@2.1.1",
            "strip-ansi@3.0.1",
            "strip-ansi@4.0.0",
            "whatwg-fetch@3.0.0",
            "wide-align@1.1.3",
        ])
    );
    let string_width = happy
        .packages
        .iter()
        .find(|p| p.name == "string-width")
        .unwrap();
    let deps: Vec<&str> = string_width
        .depends
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(deps, ["is-fullwidth-code-point", "strip-ansi"]);

    let cases: &[(&str, &[&str])] = &[
        (
            "yarn_with_local.lock",
            &["asap@2.0.6", "jquery@3.4.1", "promise@8.0.3"],
        ),
        ("yarn_with_git.lock", &[]),
        ("yarn_with_npm.lock", &["jquery@3.6.0"]),
        ("yarn_with_bad_protocol.lock", &["jquery@3.4.1"]),
    ];
    for (file, want) in cases {
        let f = run(
            &npm_yarn::YarnLockAnalyzer,
            &format!("yarn/testdata/{file}"),
            "yarn.lock",
        );
        assert_eq!(ids(&f), set(want), "{file}");
    }
}

#[test]
fn yarn_berry_locks_match_trivy() {
    let happy = run(
        &npm_yarn::YarnLockAnalyzer,
        "yarn/testdata/yarn_v2_happy.lock",
        "app/yarn.lock",
    );
    assert_eq!(
        ids(&happy),
        set(&[
            "@types/color-name@1.1.1",
            "abbrev@1.1.1",
            "ansi-styles@3.2.1",
            "ansi-styles@4.2.1",
            "assert-plus@1.0.0",
            "async@3.2.0",
            "color-convert@1.9.3",
            "color-convert@2.0.1",
            "color-name@1.1.3",
            "color-name@1.1.4",
            "ipaddr.js@1.9.1",
            "js-tokens@4.0.0",
            "loose-envify@1.4.0",
            "node-gyp@7.1.0",
            "once@1.4.0",
            "wrappy@1.0.2",
        ])
    );
    let protocol = run(
        &npm_yarn::YarnLockAnalyzer,
        "yarn/testdata/yarn_v2_deps_with_protocol.lock",
        "yarn.lock",
    );
    assert_eq!(ids(&protocol), set(&["debug@4.3.4", "ms@2.1.2"]));
    let debug = &protocol.packages[0];
    assert_eq!(debug.depends[0].name, "ms");
}

#[test]
fn pnpm_v5_and_v6_match_trivy() {
    for file in ["pnpm-lock_normal.yaml", "pnpm-lock_v6.yaml"] {
        let f = run(
            &npm_pnpm::PnpmLockAnalyzer,
            &format!("pnpm/testdata/{file}"),
            "app/pnpm-lock.yaml",
        );
        assert_eq!(
            ids(&f),
            set(&["asap@2.0.6", "jquery@3.6.0", "promise@8.1.0"]),
            "{file}"
        );
        assert!(dev_ids(&f).is_empty());
    }
    // Trivy's expectations list the prod packages (`pnpm list --prod`); Stella also reports
    // the dev ones (mocha and its tree), marked dev.
    let cases: &[(&str, &[&str])] = &[
        (
            "pnpm-lock_with_dev.yaml",
            &[
                "@babel/runtime@7.18.3",
                "js-tokens@4.0.0",
                "loose-envify@1.4.0",
                "react@18.1.0",
                "redux@4.2.0",
                "regenerator-runtime@0.13.9",
            ],
        ),
        (
            "pnpm-lock_v6_with_dev.yaml",
            &[
                "@babel/runtime@7.22.3",
                "js-tokens@4.0.0",
                "loose-envify@1.4.0",
                "react@18.1.0",
                "redux@4.2.0",
                "regenerator-runtime@0.13.11",
            ],
        ),
    ];
    for (file, prod) in cases {
        let f = run(
            &npm_pnpm::PnpmLockAnalyzer,
            &format!("pnpm/testdata/{file}"),
            "pnpm-lock.yaml",
        );
        assert_eq!(prod_ids(&f), set(prod), "{file}");
        assert!(
            dev_ids(&f).iter().any(|id| id.starts_with("mocha@")),
            "{file}: {:?}",
            dev_ids(&f)
        );
    }
}

#[test]
fn pnpm_many_prod_set_matches_trivy() {
    let f = run(
        &npm_pnpm::PnpmLockAnalyzer,
        "pnpm/testdata/pnpm-lock_many.yaml",
        "pnpm-lock.yaml",
    );
    let want = set(&[
        "@babel/runtime@7.18.3",
        "ajv@6.12.6",
        "asn1@0.2.6",
        "assert-plus@1.0.0",
        "asynckit@0.4.0",
        "aws-sign2@0.7.0",
        "aws4@1.11.0",
        "bcrypt-pbkdf@1.0.2",
        "caseless@0.12.0",
        "chalk@5.0.1",
        "combined-stream@1.0.8",
        "commander@9.3.0",
        "core-util-is@1.0.2",
        "dashdash@1.14.1",
        "delayed-stream@1.0.0",
        "ecc-jsbn@0.1.2",
        "extend@3.0.2",
        "extsprintf@1.3.0",
        "fast-deep-equal@3.1.3",
        "fast-json-stable-stringify@2.1.0",
        "forever-agent@0.6.1",
        "form-data@2.3.3",
        "getpass@0.1.7",
        "har-schema@2.0.0",
        "har-validator@5.1.5",
        "http-signature@1.2.0",
        "is-typedarray@1.0.0",
        "isstream@0.1.2",
        "js-tokens@4.0.0",
        "jsbn@0.1.1",
        "json-schema-traverse@0.4.1",
        "json-schema@0.4.0",
        "json-stringify-safe@5.0.1",
        "jsprim@1.4.2",
        "lodash@4.17.21",
        "loose-envify@1.4.0",
        "mime-db@1.52.0",
        "mime-types@2.1.35",
        "oauth-sign@0.9.0",
        "performance-now@2.1.0",
        "psl@1.8.0",
        "punycode@2.1.1",
        "qs@6.5.3",
        "react@18.1.0",
        "redux@4.2.0",
        "regenerator-runtime@0.13.9",
        "request@2.88.2",
        "safe-buffer@5.2.1",
        "safer-buffer@2.1.2",
        "sshpk@1.17.0",
        "tough-cookie@2.5.0",
        "tunnel-agent@0.6.0",
        "tweetnacl@0.14.5",
        "uri-js@4.4.1",
        "uuid@3.4.0",
        "verror@1.10.0",
    ]);
    assert_eq!(prod_ids(&f), want);
}

#[test]
fn pnpm_v9_matches_trivy() {
    let f = run(
        &npm_pnpm::PnpmLockAnalyzer,
        "pnpm/testdata/pnpm-lock_v9.yaml",
        "app/pnpm-lock.yaml",
    );
    // Trivy's pnpmV9 less `package1`, a local directory (`file:package1`) without a version.
    assert_eq!(
        ids(&f),
        set(&[
            "@babel/helper-string-parser@7.24.1",
            "asap@2.0.6",
            "asynckit@0.4.0",
            "await-sleep@0.0.1",
            "debug@4.3.4",
            "debug@4.3.5",
            "ee-first@1.1.1",
            "encodeurl@1.0.2",
            "escape-html@1.0.3",
            "finalhandler@1.1.1",
            "is-negative@2.0.1",
            "jquery@3.6.0",
            "lodash@4.17.21",
            "ms@2.0.0",
            "ms@2.1.2",
            "on-finished@2.3.0",
            "parseurl@1.3.3",
            "promise@8.1.0",
            "sleep-utils@1.0.3",
            "statuses@1.4.0",
            "unpipe@1.0.0",
        ])
    );
    assert_eq!(
        dev_ids(&f),
        set(&["await-sleep@0.0.1", "jquery@3.6.0", "lodash@4.17.21"])
    );

    let cyclic = run(
        &npm_pnpm::PnpmLockAnalyzer,
        "pnpm/testdata/pnpm-lock_v9_cyclic_import.yaml",
        "pnpm-lock.yaml",
    );
    assert_eq!(
        ids(&cyclic),
        set(&[
            "browserslist@4.23.0",
            "caniuse-lite@1.0.30001627",
            "electron-to-chromium@1.4.789",
            "escalade@3.1.2",
            "node-releases@2.0.14",
            "picocolors@1.0.1",
            "update-browserslist-db@1.0.16",
        ])
    );
}

#[test]
fn pnpm_v9_multiple_documents_skip_pnpm_itself() {
    let f = run(
        &npm_pnpm::PnpmLockAnalyzer,
        "pnpm/testdata/pnpm-lock_v9_multiple_documents.yaml",
        "pnpm-lock.yaml",
    );
    assert!(!f.packages.is_empty());
    assert!(
        !f.packages.iter().any(|p| p.name.starts_with("@pnpm/")),
        "{:?}",
        ids(&f)
    );
}

#[test]
fn installed_manifests_from_trivy_packagejson_fixtures() {
    let a = npm::NpmInstalledAnalyzer;
    let f = run(
        &a,
        "packagejson/testdata/package.json",
        "app/node_modules/bootstrap/package.json",
    );
    assert_eq!(ids(&f), set(&["bootstrap@5.0.2"]));
    assert_eq!(f.packages[0].licenses, ["MIT"]);
    let f = run(
        &a,
        "packagejson/testdata/legacy_array_package.json",
        "node_modules/tv4/package.json",
    );
    assert_eq!(f.packages[0].licenses, ["Public Domain", "MIT"]);
    let f = run(
        &a,
        "packagejson/testdata/mixed_array_license_package.json",
        "node_modules/m/package.json",
    );
    assert_eq!(f.packages[0].licenses, ["MIT"]);
    for nothing in [
        "without_version_package.json",
        "without_name_and_version_package.json",
    ] {
        let f = run(
            &a,
            &format!("packagejson/testdata/{nothing}"),
            "node_modules/x/package.json",
        );
        assert!(f.packages.is_empty(), "{nothing}");
    }
    for bad in ["invalid_package.json", "invalid_name.json"] {
        let path = "srv/node_modules/x/package.json";
        let err = a
            .analyze(path, &fixture(&format!("packagejson/testdata/{bad}")))
            .unwrap_err();
        assert_eq!(err.path, path, "{bad}");
    }
}
