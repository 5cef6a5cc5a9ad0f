//! Ruby analyzers on real files: Trivy's Bundler parser fixtures
//! (`shared/data/fixtures-trivy-parsers`, read in place), with the exact package sets each
//! lockfile declares.

mod common;

use stella_analyzers::Facts;
use stella_analyzers::lang::ruby::parse_gemspec;
use stella_model::PackageKind;

use common::analyzer_for;

fn fixture(rel: &str) -> Vec<u8> {
    common::parser_fixture(&format!("ruby/{rel}"))
}

fn ids(facts: &Facts) -> Vec<String> {
    facts
        .packages
        .iter()
        .map(|p| {
            assert_eq!(p.kind, PackageKind::Gem);
            assert_eq!(p.purl, format!("pkg:gem/{}@{}", p.name, p.version));
            assert_eq!(p.properties["stella:evidence"], "lockfile");
            format!("{}@{}", p.name, p.version)
        })
        .collect()
}

fn deps(facts: &Facts, name: &str) -> Vec<String> {
    let p = facts.packages.iter().find(|p| p.name == name).unwrap();
    p.depends.iter().map(|d| d.name.clone()).collect()
}

#[test]
fn gemfile_lock_bundler_1() {
    let path = "app/Gemfile.lock";
    let facts = analyzer_for(path)
        .analyze(path, &fixture("bundler/testdata/Gemfile_normal.lock"))
        .unwrap();
    assert_eq!(
        ids(&facts),
        [
            "coderay@1.1.2",
            "concurrent-ruby@1.1.5",
            "dotenv@2.7.2",
            "faker@1.9.3",
            "i18n@1.6.0",
            "method_source@0.9.2",
            "pry@0.12.2",
        ]
    );
    assert_eq!(deps(&facts, "pry"), ["coderay", "method_source"]);
    assert_eq!(deps(&facts, "faker"), ["i18n"]);
    assert!(deps(&facts, "dotenv").is_empty());
    assert!(facts.packages.iter().all(|p| p.found_in == path));
}

#[test]
fn gemfile_lock_bundler_2() {
    let path = "srv/app/Gemfile.lock";
    let facts = analyzer_for(path)
        .analyze(path, &fixture("bundler/testdata/Gemfile_bundler2.lock"))
        .unwrap();
    assert_eq!(
        ids(&facts),
        [
            "coderay@1.1.3",
            "concurrent-ruby@1.1.10",
            "dotenv@2.7.6",
            "faker@2.21.0",
            "i18n@1.10.0",
            "json@2.6.2",
            "method_source@1.0.0",
            "pry@0.14.1",
        ]
    );
    assert_eq!(deps(&facts, "i18n"), ["concurrent-ruby"]);
}

#[test]
fn malformed_gemfile_lock_is_an_error_naming_the_file() {
    let path = "app/Gemfile.lock";
    let e = analyzer_for(path)
        .analyze(path, &fixture("bundler/testdata/Gemfile_malformed.lock"))
        .unwrap_err();
    assert_eq!(e.path, path);
}

#[test]
fn installed_gemspec_through_the_analyzer_set() {
    let path = "usr/local/lib/ruby/gems/3.2.0/specifications/default/json-2.6.3.gemspec";
    let spec = b"# -*- encoding: utf-8 -*-\n# stub: json 2.6.3 ruby lib\n\n\
Gem::Specification.new do |s|\n  s.name = \"json\".freeze\n  s.version = \"2.6.3\"\n  \
s.authors = [\"Florian Frank\".freeze]\n  s.licenses = [\"Ruby\".freeze, \"BSD-2-Clause\".freeze]\nend\n";
    let facts = analyzer_for(path).analyze(path, spec).unwrap();
    let p = &facts.packages[0];
    assert_eq!((p.name.as_str(), p.version.as_str()), ("json", "2.6.3"));
    assert_eq!(p.purl, "pkg:gem/json@2.6.3");
    assert_eq!(p.licenses, ["BSD-2-Clause", "Ruby"]);
    assert_eq!(p.properties["stella:evidence"], "installed");
    assert_eq!(parse_gemspec(path, spec).unwrap().name, "json");
}

#[test]
fn truncated_input_never_panics() {
    let path = "app/Gemfile.lock";
    let a = analyzer_for(path);
    let data = fixture("bundler/testdata/Gemfile_bundler2.lock");
    for end in 0..data.len() {
        if let Err(e) = a.analyze(path, &data[..end]) {
            assert_eq!(e.path, path);
        }
    }
    let spec_path = "usr/local/bundle/specifications/x-1.gemspec";
    let spec = b"# stub: x 1 ruby lib\nGem::Specification.new do |s|\n  s.name = %q<x>.freeze\n  \
s.version = \"1\\u{41}\\x4\"\n  s.authors = [\"a\".freeze, 'b\\'\n  s.add_dependency(%q<y>.freeze)\nend\n";
    let a = analyzer_for(spec_path);
    for end in 0..spec.len() {
        if let Err(e) = a.analyze(spec_path, &spec[..end]) {
            assert_eq!(e.path, spec_path);
        }
    }
}
