//! Ruby gems installed in the image: the gem specifications RubyGems writes when it installs a
//! gem, `<GEM_HOME>/specifications/NAME-VERSION[-PLATFORM].gemspec` (and the interpreter's
//! default gems under `specifications/default/`). `GEM_HOME` is `/usr/local/lib/ruby/gems/X.Y.Z`,
//! `/var/lib/gems/X.Y.Z`, `/usr/local/bundle`, `vendor/bundle/ruby/X.Y.Z`, …
//!
//! An installed spec is Ruby code (`Gem::Specification#to_ruby`), but of a fixed, generated
//! shape: one assignment or call a line, with string literals, arrays of them and `.freeze`.
//! It is read as text, never evaluated: `s.name`, `s.version`, `s.license(s)`, `s.author(s)`,
//! `s.platform` and the runtime dependencies (`add_runtime_dependency`, `add_dependency`; never
//! `add_development_dependency`). A value that is not a literal (`Foo::VERSION`) is not
//! guessed at; the `# stub: NAME VERSION PLATFORM` comment RubyGems writes on top is the
//! fallback for the name and version.
//!
//! A `specifications` directory inside an installed gem (`gems/foo-1.0/test/specifications/`,
//! a test fixture) is not a gem home and is not read: at most one directory (the Ruby ABI
//! version) may sit between the last `gems` directory and `specifications`.
//!
//! The purl is `pkg:gem/NAME@VERSION`; a platform other than `ruby` is the `gem.platform`
//! property.

use super::npm::{EVIDENCE, EVIDENCE_INSTALLED};
use crate::{Analyzer, AnalyzerError, Facts};
use stella_model::{Dependency, Package, PackageKind};

/// Installed gem specifications.
pub struct GemspecAnalyzer;

impl Analyzer for GemspecAnalyzer {
    fn name(&self) -> &'static str {
        "ruby-gemspec"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        is_installed_gemspec(path)
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let mut p = parse_gemspec(path, content)?;
        p.properties
            .insert(EVIDENCE.to_string(), EVIDENCE_INSTALLED.to_string());
        Ok(Facts {
            packages: vec![p],
            ..Facts::default()
        })
    }
}

/// Whether `path` is `…/specifications/X.gemspec` or `…/specifications/default/X.gemspec` in a
/// gem home (not inside an installed gem's own files).
pub(crate) fn is_installed_gemspec(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    let Some((file, dirs)) = segments.split_last() else {
        return false;
    };
    if !file.ends_with(".gemspec") || file.len() == ".gemspec".len() {
        return false;
    }
    let spec_dir = match dirs {
        [.., "specifications"] => dirs.len() - 1,
        [.., "specifications", "default"] => dirs.len() - 2,
        _ => return false,
    };
    match dirs[..spec_dir].iter().rposition(|d| *d == "gems") {
        Some(g) => spec_dir - g - 1 <= 1,
        None => true,
    }
}

/// Whether `name` is a valid gem name.
pub(crate) fn is_valid_gem_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Whether `v` looks like a gem version (`1.2.3`, `1.0.0.pre`, `2.0.0-rc1`).
pub(crate) fn is_valid_gem_version(v: &str) -> bool {
    !v.is_empty()
        && v.as_bytes()[0].is_ascii_alphanumeric()
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'+'))
}

/// A gem package with its purl.
pub(crate) fn gem_package(path: &str, name: &str, version: &str) -> Result<Package, AnalyzerError> {
    if !is_valid_gem_name(name) {
        return Err(AnalyzerError::new(
            path,
            format!("invalid gem name {name:?}"),
        ));
    }
    if !is_valid_gem_version(version) {
        return Err(AnalyzerError::new(
            path,
            format!("gem {name:?} has an invalid version {version:?}"),
        ));
    }
    let err = |e: packageurl::Error| AnalyzerError::new(path, format!("gem {name:?}: {e}"));
    let mut purl = packageurl::PackageUrl::new("gem", name).map_err(err)?;
    purl.with_version(version).map_err(err)?;
    let mut p = Package::new(PackageKind::Gem, name, version, path);
    p.purl = purl.to_string();
    Ok(p)
}

/// What a gemspec states.
#[derive(Default, Debug)]
struct Spec {
    name: Option<String>,
    version: Option<String>,
    platform: Option<String>,
    licenses: Vec<String>,
    authors: Vec<String>,
    depends: Vec<String>,
}

/// Reads an installed gem specification without evaluating it.
pub fn parse_gemspec(path: &str, content: &[u8]) -> Result<Package, AnalyzerError> {
    // RubyGems' `# stub:` comment lines join require paths with NUL bytes (Debian's default
    // gemspecs have them), so a NUL is a separator here, not a sign of a binary file.
    // Specs are UTF-8; an author's name in another encoding must not lose the gem.
    let text = String::from_utf8_lossy(content).replace('\0', "\n");
    let mut spec = Spec::default();
    let mut stub: Option<(String, String, Option<String>)> = None;
    let mut var = "s".to_string();

    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# stub:") {
            let mut words = rest.split_whitespace();
            if let (Some(n), Some(v)) = (words.next(), words.next()) {
                stub = Some((
                    n.to_string(),
                    v.to_string(),
                    words.next().map(str::to_string),
                ));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if let Some(v) = block_variable(line) {
            var = v;
            continue;
        }
        let Some(rest) = line
            .strip_prefix(var.as_str())
            .and_then(|r| r.strip_prefix('.'))
        else {
            continue;
        };
        let ident_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let (method, args) = rest.split_at(ident_end);
        let args = args.trim_start();
        if let Some(value) = args.strip_prefix('=').filter(|a| !a.starts_with('=')) {
            let value = value.trim_start();
            match method {
                "name" => spec.name = string_value(value),
                "version" => {
                    let v = value.strip_prefix("Gem::Version.new(").unwrap_or(value);
                    spec.version = string_value(v);
                }
                "platform" => spec.platform = string_value(value),
                "license" => spec.licenses.extend(string_value(value)),
                "licenses" => spec.licenses.extend(strings_value(value)),
                "author" => spec.authors.extend(string_value(value)),
                "authors" => spec.authors.extend(strings_value(value)),
                _ => {}
            }
        } else if matches!(method, "add_runtime_dependency" | "add_dependency") {
            let a = args.strip_prefix('(').unwrap_or(args).trim_start();
            if let Some((name, _)) = string_literal(a) {
                spec.depends.push(name);
            }
        }
    }

    let (name, version) = match (spec.name.take(), spec.version.take(), &stub) {
        (Some(n), Some(v), _) => (n, v),
        (n, v, Some((sn, sv, _))) => (n.unwrap_or_else(|| sn.clone()), v.unwrap_or(sv.clone())),
        (None, _, None) => return Err(AnalyzerError::new(path, "no literal gem name")),
        (Some(n), None, None) => {
            return Err(AnalyzerError::new(
                path,
                format!("gem {n:?} has no literal version"),
            ));
        }
    };
    let mut p = gem_package(path, &name, &version)?;
    let platform = spec
        .platform
        .or_else(|| stub.and_then(|(_, _, platform)| platform));
    if let Some(platform) = platform.filter(|pl| pl != "ruby" && !pl.is_empty()) {
        p.properties.insert("gem.platform".to_string(), platform);
    }
    p.licenses = spec
        .licenses
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect();
    let authors: Vec<String> = spec
        .authors
        .into_iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    if !authors.is_empty() {
        p.supplier = Some(authors.join(", "));
    }
    p.depends = spec
        .depends
        .into_iter()
        .filter(|d| is_valid_gem_name(d))
        .map(|name| Dependency { name })
        .collect();
    p.normalize();
    Ok(p)
}

/// `Gem::Specification.new do |VAR|` → `VAR`.
fn block_variable(line: &str) -> Option<String> {
    let rest = line.strip_prefix("Gem::Specification.new")?;
    let (_, after) = rest.split_once('|')?;
    let (var, _) = after.split_once('|')?;
    let var = var.trim();
    (!var.is_empty() && var.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'))
        .then(|| var.to_string())
}

/// A string literal (with an optional `.freeze`) at the start of `s`.
fn string_value(s: &str) -> Option<String> {
    string_literal(s).map(|(v, _)| v)
}

/// An array of string literals, or one string literal.
fn strings_value(s: &str) -> Vec<String> {
    let Some(mut rest) = s.trim_start().strip_prefix('[') else {
        return string_value(s).into_iter().collect();
    };
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.starts_with(']') {
            return out;
        }
        let Some((v, after)) = string_literal(rest) else {
            return out;
        };
        out.push(v);
        rest = after.trim_start();
        match rest.strip_prefix(',') {
            Some(r) => rest = r,
            None => return out,
        }
    }
}

/// Parses one Ruby string literal at the start of `s`: `"…"`, `'…'`, `%q<…>`, `%Q{…}`, `%(…)`,
/// followed by an optional `.freeze`. Returns the value and the text after it. A double-quoted
/// string with interpolation (`#{…}`) is not a literal and yields `None`.
pub(crate) fn string_literal(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    let (value, rest) = if let Some(r) = s.strip_prefix('"') {
        double_quoted(r, '"', None)?
    } else if let Some(r) = s.strip_prefix('\'') {
        single_quoted(r, '\'', None)?
    } else if let Some(r) = s.strip_prefix('%') {
        let (interpolating, r) = match r.as_bytes().first()? {
            b'q' => (false, &r[1..]),
            b'Q' => (true, &r[1..]),
            _ => (true, r),
        };
        let open = r.chars().next()?;
        let (close, nest) = match open {
            '<' => ('>', Some('<')),
            '{' => ('}', Some('{')),
            '(' => (')', Some('(')),
            '[' => (']', Some('[')),
            c if c.is_ascii_punctuation() => (c, None),
            _ => return None,
        };
        let body = &r[open.len_utf8()..];
        if interpolating {
            double_quoted(body, close, nest)?
        } else {
            single_quoted(body, close, nest)?
        }
    } else {
        return None;
    };
    let rest = rest.strip_prefix(".freeze").unwrap_or(rest);
    Some((value, rest))
}

/// Body of a non-interpolating literal up to `close`: only `\\` and `\<delimiter>` are escapes.
fn single_quoted(s: &str, close: char, open: Option<char>) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, n) = chars.next()?;
                if n == '\\' || n == close || Some(n) == open {
                    out.push(n);
                } else {
                    out.push('\\');
                    out.push(n);
                }
            }
            c if Some(c) == open => {
                depth += 1;
                out.push(c);
            }
            c if c == close => {
                if depth == 0 {
                    return Some((out, &s[i + c.len_utf8()..]));
                }
                depth -= 1;
                out.push(c);
            }
            c => out.push(c),
        }
    }
    None
}

/// Body of an interpolating literal up to `close`, with Ruby's escapes. `#{`, `#@`, `#$`
/// (interpolation) make it not a literal.
fn double_quoted(s: &str, close: char, open: Option<char>) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, n) = chars.next()?;
                match n {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'e' => out.push('\u{1b}'),
                    's' => out.push(' '),
                    '0' => out.push('\0'),
                    'u' => {
                        let code = if chars.peek().map(|&(_, c)| c) == Some('{') {
                            chars.next();
                            let mut hex = String::new();
                            loop {
                                let (_, h) = chars.next()?;
                                if h == '}' {
                                    break;
                                }
                                hex.push(h);
                            }
                            u32::from_str_radix(hex.trim(), 16).ok()?
                        } else {
                            let hex: String = (0..4)
                                .filter_map(|_| chars.next())
                                .map(|(_, h)| h)
                                .collect();
                            u32::from_str_radix(&hex, 16).ok()?
                        };
                        out.push(char::from_u32(code)?);
                    }
                    'x' => {
                        let mut hex = String::new();
                        while hex.len() < 2 {
                            match chars.peek() {
                                Some(&(_, h)) if h.is_ascii_hexdigit() => {
                                    hex.push(h);
                                    chars.next();
                                }
                                _ => break,
                            }
                        }
                        let b = u8::from_str_radix(&hex, 16).ok()?;
                        out.push(char::from(b));
                    }
                    other => out.push(other),
                }
            }
            '#' if matches!(chars.peek(), Some(&(_, '{' | '@' | '$'))) => return None,
            c if Some(c) == open => {
                depth += 1;
                out.push(c);
            }
            c if c == close => {
                if depth == 0 {
                    return Some((out, &s[i + c.len_utf8()..]));
                }
                depth -= 1;
                out.push(c);
            }
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: GemspecAnalyzer = GemspecAnalyzer;

    const RAKE: &str = r#"# -*- encoding: utf-8 -*-
# stub: rake 13.0.6 ruby lib

Gem::Specification.new do |s|
  s.name = "rake".freeze
  s.version = "13.0.6"

  s.required_rubygems_version = Gem::Requirement.new(">= 1.3.5".freeze) if s.respond_to? :required_rubygems_version=
  s.metadata = { "bug_tracker_uri" => "https://github.com/ruby/rake/issues" } if s.respond_to? :metadata=
  s.require_paths = ["lib".freeze]
  s.authors = ["Hiroshi SHIBATA".freeze, "Eric Hodel".freeze, "Jim Weirich".freeze]
  s.licenses = ["MIT".freeze]
  s.summary = "Rake is a Make-like program implemented in Ruby".freeze

  s.installed_by_version = "3.3.5" if s.respond_to? :installed_by_version

  if s.respond_to? :specification_version then
    s.specification_version = 4
  end

  if s.respond_to? :add_runtime_dependency then
    s.add_runtime_dependency(%q<concurrent-ruby>.freeze, ["~> 1.0"])
    s.add_development_dependency(%q<minitest>.freeze, [">= 0"])
  else
    s.add_dependency(%q<concurrent-ruby>.freeze, ["~> 1.0"])
    s.add_dependency(%q<i18n>.freeze, [">= 0.7"])
  end
end
"#;

    #[test]
    fn stub_lines_with_nul_separated_require_paths_parse() {
        let spec = b"# -*- encoding: utf-8 -*-\n# stub: digest 3.1.0 ruby lib\n# stub: ext/a/extconf.rb\0ext/b/extconf.rb\n\nGem::Specification.new do |s|\n  s.name = \"digest\".freeze\n  s.version = \"3.1.0\"\nend\n";
        let p = parse_gemspec(
            "usr/lib/ruby/gems/3.1.0/specifications/default/digest-3.1.0.gemspec",
            spec,
        )
        .unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("digest", "3.1.0"));
    }

    #[test]
    fn wants_installed_specs_only() {
        for p in [
            "usr/local/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec",
            "usr/local/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec",
            "var/lib/gems/3.1.0/specifications/nokogiri-1.13.6-x86_64-linux.gemspec",
            "usr/local/bundle/specifications/rails-7.0.4.gemspec",
            "app/vendor/bundle/ruby/3.2.0/specifications/puma-6.0.0.gemspec",
            "usr/share/rubygems-integration/all/specifications/rack-2.2.4.gemspec",
        ] {
            assert!(A.wants(p), "{p}");
        }
        for p in [
            "app/rails.gemspec",
            "usr/local/lib/ruby/gems/3.1.0/gems/rake-13.0.6/rake.gemspec",
            "usr/local/lib/ruby/gems/3.1.0/gems/foo-1.0/test/specifications/bar-1.0.gemspec",
            "usr/local/lib/ruby/gems/3.1.0/specifications/.gemspec",
            "usr/local/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec.bak",
            "usr/local/lib/ruby/gems/3.1.0/specifications/x/y.gemspec",
        ] {
            assert!(!A.wants(p), "{p}");
        }
    }

    #[test]
    fn reads_a_generated_spec() {
        let path = "usr/local/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec";
        let facts = A.analyze(path, RAKE.as_bytes()).unwrap();
        let p = &facts.packages[0];
        assert_eq!(
            (p.kind, p.name.as_str(), p.version.as_str()),
            (PackageKind::Gem, "rake", "13.0.6")
        );
        assert_eq!(p.purl, "pkg:gem/rake@13.0.6");
        assert_eq!(p.found_in, path);
        assert_eq!(p.licenses, ["MIT"]);
        assert_eq!(
            p.supplier.as_deref(),
            Some("Hiroshi SHIBATA, Eric Hodel, Jim Weirich")
        );
        let deps: Vec<&str> = p.depends.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(deps, ["concurrent-ruby", "i18n"]);
        assert_eq!(p.properties[EVIDENCE], EVIDENCE_INSTALLED);
        assert!(!p.properties.contains_key("gem.platform"));
    }

    #[test]
    fn platform_gems_and_other_literal_forms() {
        let text = "Gem::Specification.new do |spec|\n  spec.name = 'nokogiri'\n  \
spec.version = Gem::Version.new(\"1.13.6\")\n  spec.platform = %q{x86_64-linux}\n  \
spec.license = \"MIT\"\n  spec.author = \"Mike \\\"D\\\" \\u00e9\"\n  \
spec.add_dependency \"racc\", \"~> 1.4\"\nend\n";
        let p = parse_gemspec(
            "x/specifications/nokogiri-1.13.6-x86_64-linux.gemspec",
            text.as_bytes(),
        )
        .unwrap();
        assert_eq!(
            (p.name.as_str(), p.version.as_str()),
            ("nokogiri", "1.13.6")
        );
        assert_eq!(p.properties["gem.platform"], "x86_64-linux");
        assert_eq!(p.supplier.as_deref(), Some("Mike \"D\" é"));
        assert_eq!(p.depends[0].name, "racc");
    }

    #[test]
    fn never_evaluates_and_falls_back_to_the_stub_line() {
        let text = "# stub: mygem 2.0.0 java lib\nGem::Specification.new do |s|\n  \
s.name = \"mygem\"\n  s.version = MyGem::VERSION\n  s.authors = [\"#{`id`}\"]\nend\n";
        let p =
            parse_gemspec("x/specifications/mygem-2.0.0-java.gemspec", text.as_bytes()).unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("mygem", "2.0.0"));
        assert_eq!(p.properties["gem.platform"], "java");
        assert_eq!(p.supplier, None);
    }

    #[test]
    fn literals() {
        assert_eq!(
            string_literal("%q<a<b>c>.freeze, x"),
            Some(("a<b>c".into(), ", x"))
        );
        assert_eq!(string_literal("'it\\'s\\n'"), Some(("it's\\n".into(), "")));
        assert_eq!(
            string_literal("\"a\\x41\\u{1F600}\""),
            Some(("aA😀".into(), ""))
        );
        assert_eq!(string_literal("\"#{x}\""), None);
        assert_eq!(string_literal("\"unterminated"), None);
        assert_eq!(string_literal("Foo::BAR"), None);
        assert_eq!(strings_value("[\"a\".freeze, 'b']"), ["a", "b"]);
        assert_eq!(strings_value("\"a\""), ["a"]);
    }

    #[test]
    fn malformed_specs_are_errors_naming_the_file() {
        let path = "usr/local/bundle/specifications/x-1.gemspec";
        for bad in [
            &b""[..],
            b"\x00\x01\x02",
            b"Gem::Specification.new do |s|\n  s.version = \"1.0\"\nend\n",
            b"Gem::Specification.new do |s|\n  s.name = \"x\"\nend\n",
            b"Gem::Specification.new do |s|\n  s.name = \"x y\"\n  s.version = \"1\"\nend\n",
            b"Gem::Specification.new do |s|\n  s.name = \"x\"\n  s.version = \"1 2\"\nend\n",
        ] {
            let e = A.analyze(path, bad).unwrap_err();
            assert_eq!(e.path, path);
        }
    }
}
