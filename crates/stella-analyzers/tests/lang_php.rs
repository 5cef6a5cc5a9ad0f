//! PHP analyzers on real files: Trivy's Composer parser fixture
//! (`shared/data/fixtures-trivy-parsers`, read in place), with the exact package set it declares.

mod common;

use stella_analyzers::Facts;
use stella_model::PackageKind;

use common::analyzer_for;

fn fixture(rel: &str) -> Vec<u8> {
    common::parser_fixture(&format!("php/{rel}"))
}

fn ids(facts: &Facts) -> Vec<String> {
    facts
        .packages
        .iter()
        .map(|p| {
            assert_eq!(p.kind, PackageKind::Composer);
            assert_eq!(p.purl, format!("pkg:composer/{}@{}", p.name, p.version));
            format!(
                "{}@{}{}",
                p.name,
                p.version,
                if p.dev { " dev" } else { "" }
            )
        })
        .collect()
}

#[test]
fn composer_lock_packages_and_dev_packages() {
    let path = "var/www/html/composer.lock";
    let facts = analyzer_for(path)
        .analyze(path, &fixture("composer/testdata/composer_happy.lock"))
        .unwrap();
    assert_eq!(
        ids(&facts),
        [
            "guzzlehttp/guzzle@6.5.8",
            "guzzlehttp/promises@1.5.2",
            "guzzlehttp/psr7@1.9.0",
            "pear/log@1.13.3 dev",
            "pear/pear_exception@v1.0.2 dev",
            "psr/http-message@1.0.1",
            "ralouphie/getallheaders@3.0.3",
            "symfony/polyfill-intl-idn@v1.27.0",
            "symfony/polyfill-intl-normalizer@v1.27.0",
            "symfony/polyfill-php72@v1.27.0",
        ]
    );
    for p in &facts.packages {
        assert_eq!(p.properties["stella:evidence"], "lockfile");
        assert_eq!(p.found_in, path);
    }
    let guzzle = &facts.packages[0];
    let deps: Vec<&str> = guzzle.depends.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        deps,
        [
            "guzzlehttp/promises",
            "guzzlehttp/psr7",
            "symfony/polyfill-intl-idn"
        ]
    );
    assert_eq!(guzzle.licenses, ["MIT"]);
    let php72 = facts
        .packages
        .iter()
        .find(|p| p.name == "symfony/polyfill-php72")
        .unwrap();
    assert_eq!(php72.licenses, ["MIT or BSD-2-Clause"]);
}

#[test]
fn installed_json_through_the_analyzer_set() {
    let path = "var/www/html/vendor/composer/installed.json";
    let json = br#"{"packages": [
        {"name": "monolog/monolog", "version": "3.5.0", "version_normalized": "3.5.0.0",
         "require": {"php": ">=8.1", "psr/log": "^2.0 || ^3.0"}, "license": ["MIT"],
         "install-path": "../monolog/monolog"},
        {"name": "psr/log", "version": "3.0.0", "license": ["MIT"]},
        {"name": "phpunit/phpunit", "version": "10.5.5", "license": ["BSD-3-Clause"]}],
        "dev": true, "dev-package-names": ["phpunit/phpunit"]}"#;
    let facts = analyzer_for(path).analyze(path, json).unwrap();
    assert_eq!(
        ids(&facts),
        [
            "monolog/monolog@3.5.0",
            "phpunit/phpunit@10.5.5 dev",
            "psr/log@3.0.0"
        ]
    );
    for p in &facts.packages {
        assert_eq!(p.properties["stella:evidence"], "installed");
    }
}

#[test]
fn malformed_composer_files_are_errors_naming_the_file() {
    for path in ["app/composer.lock", "app/vendor/composer/installed.json"] {
        let e = analyzer_for(path)
            .analyze(path, b"{\"packages\": [{\"name\": ")
            .unwrap_err();
        assert_eq!(e.path, path);
        assert!(e.to_string().starts_with(path));
    }
}

#[test]
fn truncated_input_never_panics() {
    let path = "app/composer.lock";
    let a = analyzer_for(path);
    let data = fixture("composer/testdata/composer_happy.lock");
    for end in (0..data.len()).step_by(7) {
        let e = a.analyze(path, &data[..end]).unwrap_err();
        assert_eq!(e.path, path);
    }
}
