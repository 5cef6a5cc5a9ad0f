//! Go module files present in an image: `go.mod` (the main module and its `require`d modules,
//! `// indirect` marked, `replace` directives applied) and `go.sum` (modules whose source was
//! downloaded, that is lines with a module hash and not only a `/go.mod` hash; the highest
//! version of each module).
//!
//! These describe source code, not a binary: the packages say so with `go.source = go.mod` /
//! `go.sum`. Wants: files named `go.mod` or `go.sum` anywhere, except under a Go module cache
//! (`pkg/mod/`), which holds every downloaded module's own go.mod.

use super::golang::go_package;
use crate::{Analyzer, AnalyzerError, Facts};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use stella_model::{Dependency, Package};

pub struct GoModAnalyzer;

impl Analyzer for GoModAnalyzer {
    fn name(&self) -> &'static str {
        "go-mod"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path);
        (name == "go.mod" || name == "go.sum")
            && !path.contains("pkg/mod/")
            && !path.starts_with("pkg/mod/")
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let text = crate::utf8_text(path, content)?;
        let mut packages = if path.ends_with("go.sum") {
            parse_go_sum(path, text)?
        } else {
            parse_go_mod(path, text)?
        };
        super::mark_lockfile(&mut packages);
        Ok(Facts {
            packages,
            ..Facts::default()
        })
    }
}

#[derive(Debug, Clone)]
struct Require {
    path: String,
    version: String,
    indirect: bool,
}

#[derive(Debug, Clone)]
struct Replace {
    from: String,
    from_version: Option<String>,
    to: String,
    to_version: Option<String>,
}

/// Splits a go.mod line into its words, removing the comment; returns whether the comment
/// says `indirect`.
fn words(line: &str) -> (Vec<String>, bool) {
    let (code, comment) = match line.find("//") {
        Some(i) => (&line[..i], Some(&line[i + 2..])),
        None => (line, None),
    };
    let indirect =
        comment.is_some_and(|c| c.trim() == "indirect" || c.trim_start().starts_with("indirect;"));
    let words = code
        .split_whitespace()
        .map(|w| w.trim_matches('"').to_string())
        .collect();
    (words, indirect)
}

/// Parses a go.mod: the main module (`go.main`), then each required module.
pub fn parse_go_mod(path: &str, text: &str) -> Result<Vec<Package>, AnalyzerError> {
    let mut module = None;
    let mut go_version = None;
    let mut toolchain = None;
    let mut requires: Vec<Require> = Vec::new();
    let mut replaces: Vec<Replace> = Vec::new();
    let mut block: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let (w, indirect) = words(line);
        if w.is_empty() {
            continue;
        }
        let bad = |what: &str| AnalyzerError::new(path, format!("line {}: {what}", n + 1));
        let (verb, args): (String, &[String]) = match &block {
            Some(_) if w[0] == ")" => {
                block = None;
                continue;
            }
            Some(b) => (b.clone(), &w[..]),
            None if w.len() == 2 && w[1] == "(" => {
                block = Some(w[0].clone());
                continue;
            }
            None => (w[0].clone(), &w[1..]),
        };
        match verb.as_str() {
            "module" => module = args.first().cloned(),
            "go" => go_version = args.first().cloned(),
            "toolchain" => toolchain = args.first().cloned(),
            "require" => {
                let [p, v, ..] = args else {
                    return Err(bad("require needs a module path and a version"));
                };
                requires.push(Require {
                    path: p.clone(),
                    version: v.clone(),
                    indirect,
                });
            }
            "replace" => {
                let Some(arrow) = args.iter().position(|a| a == "=>") else {
                    return Err(bad("replace without =>"));
                };
                let (from, to) = (&args[..arrow], &args[arrow + 1..]);
                let (Some(f), Some(t)) = (from.first(), to.first()) else {
                    return Err(bad("replace needs a module on each side"));
                };
                replaces.push(Replace {
                    from: f.clone(),
                    from_version: from.get(1).cloned(),
                    to: t.clone(),
                    to_version: to.get(1).cloned(),
                });
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let mut direct = Vec::new();
    for r in &requires {
        let replace = replaces
            .iter()
            .rev()
            .find(|x| x.from == r.path && x.from_version.as_ref().is_none_or(|v| *v == r.version));
        let mut p = match replace {
            Some(x) if x.to_version.is_some() => {
                let mut p = go_package(path, &x.to, x.to_version.as_deref().unwrap_or_default());
                p.properties.insert(
                    "go.replaces".to_string(),
                    format!("{}@{}", r.path, r.version),
                );
                p
            }
            Some(x) => {
                let mut p = go_package(path, &r.path, &r.version);
                p.properties
                    .insert("go.replace.dir".to_string(), x.to.clone());
                p
            }
            None => go_package(path, &r.path, &r.version),
        };
        p.properties
            .insert("go.source".to_string(), "go.mod".to_string());
        if r.indirect {
            p.properties
                .insert("go.indirect".to_string(), "true".to_string());
        } else {
            direct.push(Dependency {
                name: p.name.clone(),
            });
        }
        out.push(p);
    }
    if let Some(m) = module {
        let mut p = go_package(path, &m, "");
        p.properties
            .insert("go.main".to_string(), "true".to_string());
        p.properties
            .insert("go.source".to_string(), "go.mod".to_string());
        if let Some(v) = go_version {
            p.properties.insert("go.version".to_string(), v);
        }
        if let Some(t) = toolchain {
            p.properties.insert("go.toolchain".to_string(), t);
        }
        p.depends = direct;
        p.normalize();
        out.push(p);
    }
    Ok(out)
}

/// Parses a go.sum: the highest version of each module with a module (not only go.mod) hash.
pub fn parse_go_sum(path: &str, text: &str) -> Result<Vec<Package>, AnalyzerError> {
    let mut best: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        let [module, version, hash] = f[..] else {
            return Err(AnalyzerError::new(
                path,
                format!("line {}: expected module, version and hash", n + 1),
            ));
        };
        if version.ends_with("/go.mod") {
            continue;
        }
        match best.get(module) {
            Some((v, _)) if compare_versions(v, version) != Ordering::Less => {}
            _ => {
                best.insert(module, (version, hash));
            }
        }
    }
    Ok(best
        .into_iter()
        .map(|(m, (v, h))| {
            let mut p = go_package(path, m, v);
            p.properties
                .insert("go.source".to_string(), "go.sum".to_string());
            p.properties.insert("go.sum".to_string(), h.to_string());
            p
        })
        .collect())
}

/// Semantic version order of Go module versions (`v1.2.3`, `v0.0.0-2020…-hash`,
/// `v2.0.0+incompatible`): numbers, then a release above its pre-releases, pre-release
/// identifiers compared numerically or lexically; build metadata ignored.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (Vec<u64>, Option<&str>) {
        let v = v.trim_start_matches('v');
        let v = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (v, None),
        };
        (
            core.split('.').map(|n| n.parse().unwrap_or(0)).collect(),
            pre,
        )
    }
    let (ca, pa) = split(a);
    let (cb, pb) = split(b);
    ca.cmp(&cb).then_with(|| match (pa, pb) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let mut xi = x.split('.');
            let mut yi = y.split('.');
            loop {
                match (xi.next(), yi.next()) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some(p), Some(q)) => {
                        let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                            (Ok(m), Ok(n)) => m.cmp(&n),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            _ => p.cmp(q),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_mod_blocks_indirect_and_replace() {
        let text = "module example.com/app\n\ngo 1.21\ntoolchain go1.21.5\n\nrequire (\n\tgithub.com/a/b v1.0.0\n\tgithub.com/c/d v0.2.0 // indirect\n\tgithub.com/e/f v1.1.0\n)\n\nrequire golang.org/x/text v0.3.0\n\nreplace github.com/a/b v1.0.0 => github.com/fork/b v1.0.1\nreplace (\n\tgithub.com/e/f => ../f\n)\n";
        let p = parse_go_mod("src/go.mod", text).unwrap();
        let names: Vec<_> = p
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("github.com/fork/b", "v1.0.1"),
                ("github.com/c/d", "v0.2.0"),
                ("github.com/e/f", "v1.1.0"),
                ("golang.org/x/text", "v0.3.0"),
                ("example.com/app", ""),
            ]
        );
        assert_eq!(p[0].properties["go.replaces"], "github.com/a/b@v1.0.0");
        assert_eq!(p[1].properties["go.indirect"], "true");
        assert_eq!(p[2].properties["go.replace.dir"], "../f");
        assert_eq!(p[4].properties["go.toolchain"], "go1.21.5");
        assert_eq!(p[4].depends.len(), 3);
        assert_eq!(p[4].purl, "pkg:golang/example.com/app");
        assert!(parse_go_mod("go.mod", "require x\n").is_err());
        assert!(parse_go_mod("go.mod", "replace a b\n").is_err());
    }

    #[test]
    fn go_sum_highest_module_version() {
        let text = "github.com/x/y v1.2.0 h1:a=\ngithub.com/x/y v1.2.0/go.mod h1:b=\ngithub.com/x/y v1.10.0 h1:c=\ngithub.com/x/y v1.10.0-rc.1 h1:d=\ngithub.com/only/gomod v1.0.0/go.mod h1:e=\n\n";
        let p = parse_go_sum("go.sum", text).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].version, "v1.10.0");
        assert_eq!(p[0].properties["go.sum"], "h1:c=");
        assert!(parse_go_sum("go.sum", "just two\n").is_err());
    }

    #[test]
    fn version_order() {
        use Ordering::*;
        assert_eq!(compare_versions("v1.10.0", "v1.9.0"), Greater);
        assert_eq!(compare_versions("v1.0.0-rc.1", "v1.0.0"), Less);
        assert_eq!(compare_versions("v1.0.0-rc.2", "v1.0.0-rc.10"), Less);
        assert_eq!(compare_versions("v2.0.0+incompatible", "v2.0.0"), Equal);
        assert_eq!(
            compare_versions(
                "v0.0.0-20200804184101-5ec99f83aff1",
                "v0.0.0-20211110174639-8257534ffed3"
            ),
            Less
        );
    }

    #[test]
    fn wants() {
        assert!(GoModAnalyzer.wants("src/app/go.mod"));
        assert!(GoModAnalyzer.wants("go.sum"));
        assert!(!GoModAnalyzer.wants("root/go/pkg/mod/github.com/x/y@v1/go.mod"));
        assert!(!GoModAnalyzer.wants("src/app/go.mod.bak"));
    }
}
