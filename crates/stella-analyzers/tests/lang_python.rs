//! Python analyzers on real files: Trivy's parser fixtures (`shared/data/fixtures-trivy-parsers`,
//! read in place), with the exact package sets each file declares.

mod common;

use stella_analyzers::lang::python::PythonInstalledAnalyzer;
use stella_analyzers::lang::python_lock::PythonLockfileAnalyzer;
use stella_analyzers::{Analyzer, Facts, all_analyzers};
use stella_model::PackageKind;

fn fixture(rel: &str) -> Vec<u8> {
    common::parser_fixture(&format!("python/{rel}"))
}

/// Runs the one analyzer of the whole set that wants `path` (it must be exactly one).
fn analyze(path: &str, content: &[u8]) -> Facts {
    let all = all_analyzers();
    let wanting: Vec<&str> = all
        .iter()
        .filter(|a| a.wants(path))
        .map(|a| a.name())
        .collect();
    assert_eq!(wanting.len(), 1, "{path}: wanted by {wanting:?}");
    let analyzer = all.iter().find(|a| a.wants(path)).unwrap();
    analyzer.analyze(path, content).unwrap()
}

/// `name@version`, with ` dev` for dev packages, sorted.
fn ids(facts: &Facts) -> Vec<String> {
    let mut v: Vec<String> = facts
        .packages
        .iter()
        .map(|p| {
            assert_eq!(p.kind, PackageKind::Python);
            assert_eq!(p.purl, format!("pkg:pypi/{}@{}", p.name, p.version));
            format!(
                "{}@{}{}",
                p.name,
                p.version,
                if p.dev { " dev" } else { "" }
            )
        })
        .collect();
    v.sort();
    v
}

fn lock(rel: &str, path: &str) -> Facts {
    let facts = analyze(path, &fixture(rel));
    for p in &facts.packages {
        assert_eq!(p.properties["stella:evidence"], "lockfile");
        assert_eq!(p.found_in, path);
    }
    facts
}

#[test]
fn requirements_fixtures() {
    let f = lock(
        "pip/testdata/requirements_flask.txt",
        "app/requirements.txt",
    );
    assert_eq!(
        ids(&f),
        [
            "click@8.0.0",
            "flask@2.0.0",
            "itsdangerous@2.0.0",
            "jinja2@3.0.0",
            "markupsafe@2.0.0",
            "werkzeug@2.0.0"
        ]
    );
    let f = lock(
        "pip/testdata/requirements_operator.txt",
        "app/requirements.txt",
    );
    assert_eq!(ids(&f), ["django@2.3.4", "someproject@5.4"]);
    let f = lock("pip/testdata/requirements_hash.txt", "app/requirements.txt");
    assert_eq!(ids(&f), ["fooproject@1.2", "jinja2@3.0.0"]);
    let f = lock(
        "pip/testdata/requirements_utf16le.txt",
        "app/requirements.txt",
    );
    assert_eq!(ids(&f), ["attrs@20.3.0"]);
    let f = lock(
        "pip/testdata/requirement_exstras.txt",
        "app/requirements.txt",
    );
    assert_eq!(ids(&f), ["celery@4.4.7", "pyjwt@2.1.0"]);
    let f = lock(
        "pip/testdata/requirements_comments.txt",
        "app/requirements.txt",
    );
    assert_eq!(
        ids(&f),
        [
            "click@8.0.0",
            "flask@2.0.0",
            "jinja2@3.0.0",
            "markupsafe@2.0.0"
        ]
    );
    let f = lock(
        "pip/testdata/requirements_hyphens.txt",
        "app/requirements.txt",
    );
    assert_eq!(ids(&f), ["oauth2-client@4.0.0", "python-gitlab@2.0.0"]);
    // Only exact pins: wildcards and ranges are not versions that were installed.
    for rel in [
        "pip/testdata/requirements_compatible.txt",
        "pip/testdata/requirements_with_templating_engine.txt",
    ] {
        assert!(ids(&lock(rel, "app/requirements.txt")).is_empty(), "{rel}");
    }
    let f = lock(
        "pip/testdata/requirements_no_version.txt",
        "app/requirements.txt",
    );
    assert_eq!(ids(&f), ["flask@2.0.0"]);
}

#[test]
fn pipfile_lock_fixtures() {
    let f = lock("pipenv/testdata/Pipfile_normal.lock", "app/Pipfile.lock");
    assert_eq!(
        ids(&f),
        [
            "certifi@2019.3.9",
            "chardet@3.0.4",
            "idna@2.8",
            "pyyaml@5.1",
            "requests@2.21.0",
            "urllib3@1.24.2"
        ]
    );
    let f = lock("pipenv/testdata/Pipfile_django.lock", "app/Pipfile.lock");
    assert_eq!(
        ids(&f),
        [
            "certifi@2019.3.9",
            "chardet@3.0.4",
            "django@2.2",
            "djangorestframework@3.9.3",
            "idna@2.8",
            "pytz@2019.1",
            "pyyaml@5.1",
            "requests@2.21.0",
            "sqlparse@0.3.0",
            "urllib3@1.24.2"
        ]
    );
    let f = lock("pipenv/testdata/Pipfile_many.lock", "app/Pipfile.lock");
    assert_eq!(f.packages.len(), 24);
    assert!(ids(&f).contains(&"python-dateutil@2.8.0".to_string()));
}

#[test]
fn poetry_lock_fixtures() {
    let f = lock("poetry/testdata/poetry_normal.lock", "app/poetry.lock");
    assert_eq!(ids(&f), ["pypi@2.1"]);
    let flask = [
        "atomicwrites@1.4.1 dev",
        "attrs@25.1.0 dev",
        "click@8.1.8",
        "colorama@0.4.6",
        "flask@1.0.3",
        "itsdangerous@2.2.0",
        "jinja2@3.1.5",
        "markupsafe@3.0.2",
        "more-itertools@10.6.0 dev",
        "packaging@24.2 dev",
        "pluggy@0.13.1",
        "py@1.11.0 dev",
        "pytest@5.4.3 dev",
        "wcwidth@0.2.13 dev",
        "werkzeug@3.1.3",
    ];
    // Lock format 1 (`category`) and 2 (`groups`) of the same project agree.
    let v1 = lock("poetry/testdata/poetry_flask.lock", "app/poetry.lock");
    let v2 = lock("poetry/testdata/poetry_v2_flask.lock", "app/poetry.lock");
    assert_eq!(ids(&v1), flask);
    assert_eq!(ids(&v2), flask);
    let flask_pkg = v2.packages.iter().find(|p| p.name == "flask").unwrap();
    let deps: Vec<&str> = flask_pkg.depends.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(deps, ["click", "itsdangerous", "jinja2", "werkzeug"]);
}

#[test]
fn uv_lock_fixtures() {
    // The expected set and dev flags of Trivy's own test (from `uv pip list` in the project),
    // less the project itself (`normal`, a virtual workspace member).
    let f = lock("uv/testdata/uv_normal.lock", "app/uv.lock");
    assert_eq!(
        ids(&f),
        [
            "anyio@4.7.0",
            "certifi@2024.12.14",
            "charset-normalizer@3.4.0",
            "colorama@0.4.6 dev",
            "exceptiongroup@1.2.2",
            "h11@0.14.0",
            "httpcore@1.0.7",
            "httpx@0.28.1",
            "idna@3.10",
            "iniconfig@2.0.0 dev",
            "orjson@3.10.12",
            "packaging@24.2 dev",
            "pluggy@1.5.0 dev",
            "pytest@8.3.4 dev",
            "requests@2.32.0",
            "sniffio@1.3.1",
            "socksio@1.0.0",
            "tomli@2.2.1 dev",
            "typing-extensions@4.12.2",
            "urllib3@2.2.3"
        ]
    );
    let httpx = f.packages.iter().find(|p| p.name == "httpx").unwrap();
    let deps: Vec<&str> = httpx.depends.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(deps, ["anyio", "certifi", "httpcore", "idna"]);
    for rel in [
        "uv/testdata/uv_without_root.lock",
        "uv/testdata/uv_multiple_roots.lock",
    ] {
        assert_eq!(ids(&lock(rel, "app/uv.lock")), ["asyncio@3.4.3"], "{rel}");
    }
}

/// `(fixture, image path, name, version, licenses)`.
const INSTALLED: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "asyncssh-2.14.2.METADATA",
        "usr/local/lib/python3.11/site-packages/asyncssh-2.14.2.dist-info/METADATA",
        "asyncssh",
        "2.14.2",
        &["Eclipse Public License v2.0"],
    ),
    (
        "distlib-0.3.1.METADATA",
        "usr/local/lib/python3.11/site-packages/distlib-0.3.1.dist-info/METADATA",
        "distlib",
        "0.3.1",
        &["PSF-2.0"],
    ),
    (
        "iniconfig-2.0.0.METADATA",
        "usr/local/lib/python3.11/site-packages/iniconfig-2.0.0.dist-info/METADATA",
        "iniconfig",
        "2.0.0",
        &["MIT"],
    ),
    (
        "networkx-3.0.METADATA",
        "usr/local/lib/python3.11/site-packages/networkx-3.0.dist-info/METADATA",
        "networkx",
        "3.0",
        &[],
    ),
    (
        "pyphen-0.14.0.METADATA",
        "usr/local/lib/python3.11/site-packages/pyphen-0.14.0.dist-info/METADATA",
        "pyphen",
        "0.14.0",
        &["GPL-2.0-or-later", "LGPL-2.0-or-later", "MPL-1.1"],
    ),
    (
        "simple-0.1.0.METADATA",
        "usr/local/lib/python3.11/site-packages/simple-0.1.0.dist-info/METADATA",
        "simple",
        "0.1.0",
        &[],
    ),
    (
        "zipp-3.12.1.METADATA",
        "usr/local/lib/python3.11/site-packages/zipp-3.12.1.dist-info/METADATA",
        "zipp",
        "3.12.1",
        &["MIT"],
    ),
    (
        "setuptools-51.3.3-py3.8.egg-info.PKG-INFO",
        "usr/lib/python3.8/site-packages/setuptools-51.3.3-py3.8.egg-info/PKG-INFO",
        "setuptools",
        "51.3.3",
        &["MIT"],
    ),
    (
        "unidecode-egg-info.PKG-INFO",
        "usr/lib/python3/dist-packages/Unidecode-0.4.1.egg-info/PKG-INFO",
        "unidecode",
        "0.4.1",
        &[],
    ),
    (
        "distlib-0.3.1-py3.9.egg-info",
        "usr/lib/python3.9/site-packages/distlib-0.3.1-py3.9.egg-info",
        "distlib",
        "0.3.1",
        &["PSF-2.0"],
    ),
];

#[test]
fn installed_metadata_fixtures() {
    for (rel, path, name, version, licenses) in INSTALLED {
        let facts = analyze(path, &fixture(&format!("packaging/testdata/{rel}")));
        assert_eq!(facts.packages.len(), 1, "{rel}");
        let p = &facts.packages[0];
        assert_eq!(p.kind, PackageKind::Python, "{rel}");
        assert_eq!(
            (p.name.as_str(), p.version.as_str()),
            (*name, *version),
            "{rel}"
        );
        assert_eq!(p.purl, format!("pkg:pypi/{name}@{version}"), "{rel}");
        assert_eq!(p.licenses, *licenses, "{rel}");
        assert_eq!(p.found_in, *path, "{rel}");
        assert!(p.properties.is_empty(), "{rel}: installed, not lockfile");
    }
}

#[test]
fn installed_metadata_details() {
    let path = "usr/local/lib/python3.11/site-packages/asyncssh-2.14.2.dist-info/METADATA";
    let facts = PythonInstalledAnalyzer
        .analyze(
            path,
            &fixture("packaging/testdata/asyncssh-2.14.2.METADATA"),
        )
        .unwrap();
    let p = &facts.packages[0];
    assert_eq!(
        p.supplier.as_deref(),
        Some("Ron Frederick <ronf@timeheart.net>")
    );
    // Extras-only requirements (bcrypt, fido2, …) are not dependencies of the installation.
    let deps: Vec<&str> = p.depends.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(deps, ["cryptography", "typing-extensions"]);

    let path = "usr/local/lib/python3.11/site-packages/networkx-3.0.dist-info/METADATA";
    let facts = PythonInstalledAnalyzer
        .analyze(path, &fixture("packaging/testdata/networkx-3.0.METADATA"))
        .unwrap();
    assert!(facts.packages[0].depends.is_empty());
}

#[test]
fn malformed_fixture_is_an_error_naming_the_file() {
    let path = "usr/local/lib/python3.11/site-packages/bad-1.0.dist-info/METADATA";
    let err = PythonInstalledAnalyzer
        .analyze(path, &fixture("packaging/testdata/invalid.json"))
        .unwrap_err();
    assert_eq!(err.path, path);
    for rel in ["pylock/testdata/sad.toml", "pyproject/testdata/sad.toml"] {
        let err = PythonLockfileAnalyzer
            .analyze("app/poetry.lock", &fixture(rel))
            .unwrap_err();
        assert_eq!(err.path, "app/poetry.lock", "{rel}");
    }
}
