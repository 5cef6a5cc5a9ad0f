//! The Python interpreter as a runtime package (`pkg:generic/python@3.11.2`), from its
//! installed `patchlevel.h`.
//!
//! Evidence: `PREFIX/include/pythonX.Y[abiflags]/patchlevel.h`, whose
//! `#define PY_VERSION "3.11.2"` is the exact version the interpreter was built from (it is
//! the string `sys.version` starts with). `make install` writes it with every CPython build, so
//! the official `python:*` images (`usr/local/include/python3.11/patchlevel.h`), pyenv, conda
//! and `/opt` builds all have it. Other candidates prove less: the config `Makefile`, the
//! pkg-config file and `_sysconfigdata` hold only `X.Y`, and a `pythonX.Y` directory or its
//! `os.py` says nothing of the micro version. Nothing is executed.
//!
//! Headers under `usr/include/` belong to the distribution's own Python package (Debian's
//! `libpython3.11-dev`, Alpine's `python3-dev`), which the OS analyzers already report with
//! the distro's version and backports; reporting it again as upstream Python would match
//! advisories the distro has fixed. So only interpreters outside the distro's prefix are
//! reported here. An interpreter installed without its headers is not found (a later version
//! may read the version string inside `libpython`/the `python` binary).

use crate::{Analyzer, AnalyzerError, Facts};
use packageurl::PackageUrl;
use stella_model::{Package, PackageKind};

/// The Python interpreter, from `include/pythonX.Y/patchlevel.h`.
pub struct PythonRuntimeAnalyzer;

impl Analyzer for PythonRuntimeAnalyzer {
    fn name(&self) -> &'static str {
        "python-runtime"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        if path.starts_with("usr/include/") {
            return false;
        }
        let Some(dir) = path.strip_suffix("/patchlevel.h") else {
            return false;
        };
        let mut parts = dir.rsplit('/');
        let (Some(py), Some("include")) = (parts.next(), parts.next()) else {
            return false;
        };
        py.strip_prefix("python").is_some_and(|v| {
            let v = v.trim_end_matches(|c: char| c.is_ascii_lowercase());
            v.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            })
        })
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let text = crate::utf8_text(path, content)?;
        let version = py_version(text)
            .ok_or_else(|| AnalyzerError::new(path, "no #define PY_VERSION \"X.Y.Z\""))?;
        let mut p = Package::new(PackageKind::Binary, "python", version, path);
        let mut purl = PackageUrl::new("generic", "python")
            .map_err(|e| AnalyzerError::new(path, e.to_string()))?;
        purl.with_version(version)
            .map_err(|e| AnalyzerError::new(path, e.to_string()))?;
        p.purl = purl.to_string();
        Ok(Facts {
            packages: vec![p],
            ..Facts::default()
        })
    }
}

/// The value of `#define PY_VERSION "…"`, when it is a version (`3.11.2`, `3.13.0rc1`,
/// `3.14.0a1+`).
fn py_version(text: &str) -> Option<&str> {
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix('#')?.trim_start();
        let rest = rest.strip_prefix("define")?.trim_start();
        let rest = rest.strip_prefix("PY_VERSION")?;
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        let v = rest.trim().strip_prefix('"')?.split('"').next()?;
        let valid = v.as_bytes().first().is_some_and(u8::is_ascii_digit)
            && v.contains('.')
            && v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+'));
        valid.then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PythonRuntimeAnalyzer = PythonRuntimeAnalyzer;

    const PATCHLEVEL: &str = r#"
/* Version as a string */
#define PY_MAJOR_VERSION        3
#define PY_MINOR_VERSION        11
#define PY_MICRO_VERSION        2
#define PY_RELEASE_LEVEL        PY_RELEASE_LEVEL_FINAL
#define PY_VERSION              "3.11.2"
/*--end constants--*/
#define PY_VERSION_HEX ((PY_MAJOR_VERSION << 24) | 0)
"#;

    #[test]
    fn wants_patchlevel_outside_the_distro_prefix() {
        for p in [
            "usr/local/include/python3.11/patchlevel.h",
            "opt/conda/include/python3.12/patchlevel.h",
            "root/.pyenv/versions/3.9.18/include/python3.9/patchlevel.h",
            "usr/local/include/python3.13t/patchlevel.h",
            "usr/local/include/python3.7m/patchlevel.h",
        ] {
            assert!(A.wants(p), "{p}");
        }
        for p in [
            "usr/include/python3.11/patchlevel.h",
            "usr/local/include/python3.11/Python.h",
            "usr/local/include/python3/patchlevel.h",
            "usr/local/lib/python3.11/patchlevel.h",
            "usr/local/include/foo/patchlevel.h",
        ] {
            assert!(!A.wants(p), "{p}");
        }
    }

    #[test]
    fn reads_py_version() {
        let path = "usr/local/include/python3.11/patchlevel.h";
        let f = A.analyze(path, PATCHLEVEL.as_bytes()).unwrap();
        let p = &f.packages[0];
        assert_eq!(p.kind, PackageKind::Binary);
        assert_eq!(p.name, "python");
        assert_eq!(p.version, "3.11.2");
        assert_eq!(p.purl, "pkg:generic/python@3.11.2");
        assert_eq!(p.found_in, path);
        assert_eq!(
            py_version("#define PY_VERSION \"3.13.0rc1\"\n"),
            Some("3.13.0rc1")
        );
        assert_eq!(
            py_version("#  define PY_VERSION \"3.14.0a1+\""),
            Some("3.14.0a1+")
        );
    }

    #[test]
    fn missing_version_is_an_error_naming_the_file() {
        let path = "usr/local/include/python3.11/patchlevel.h";
        for bad in [
            &b"#define PY_VERSION_HEX 0x030b02f0\n"[..],
            b"#define PY_VERSION \"{{v}}\"\n",
            b"\xff\xfe",
        ] {
            assert_eq!(A.analyze(path, bad).unwrap_err().path, path);
        }
    }
}
