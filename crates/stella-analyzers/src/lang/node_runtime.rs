//! The Node.js runtime, from the `node_version.h` header that every Node.js install from
//! nodejs.org tarballs (the official `node` images, nvm, `make install` from source) and
//! Debian's `libnode-dev` put at `<prefix>/include/node/node_version.h`. The header is
//! install metadata written by the same build as the binary; nothing is executed.
//!
//! Header copies that do not belong to an installed runtime are ignored: node-gyp's download
//! cache (`~/.cache/node-gyp/<version>/include/node`, `~/.node-gyp/…`) and anything inside
//! `node_modules`. A Node.js installed from a distro package without its `-dev` headers is
//! reported by the distro's package database instead.

use crate::{Analyzer, AnalyzerError, Facts};
use stella_model::{Package, PackageKind};

pub struct NodeRuntimeAnalyzer;

const HEADER: &str = "include/node/node_version.h";

impl Analyzer for NodeRuntimeAnalyzer {
    fn name(&self) -> &'static str {
        "node-runtime"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        (path == HEADER || path.ends_with(&format!("/{HEADER}")))
            && !path.split('/').any(|s| {
                matches!(
                    s,
                    "node_modules" | ".cache" | ".node-gyp" | "node-gyp" | "node-gyp-cache"
                )
            })
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let text = crate::utf8_text(path, content)?;
        let version = header_version(text).ok_or_else(|| {
            AnalyzerError::new(
                path,
                "no NODE_MAJOR_VERSION, NODE_MINOR_VERSION and NODE_PATCH_VERSION defines",
            )
        })?;
        let mut pkg = Package::new(PackageKind::Binary, "node", version.as_str(), path);
        pkg.purl = node_purl(&version);
        Ok(Facts {
            packages: vec![pkg],
            ..Facts::default()
        })
    }
}

/// `MAJOR.MINOR.PATCH` from the header's defines, with `-pre` for a build that is not a
/// release (`NODE_VERSION_IS_RELEASE 0`), as `node --version` prints it.
pub fn header_version(text: &str) -> Option<String> {
    let define = |name: &str| -> Option<u64> {
        text.lines().find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "#define" && words.next()? == name)
                .then(|| words.next()?.parse().ok())?
        })
    };
    let (major, minor, patch) = (
        define("NODE_MAJOR_VERSION")?,
        define("NODE_MINOR_VERSION")?,
        define("NODE_PATCH_VERSION")?,
    );
    let pre = if define("NODE_VERSION_IS_RELEASE") == Some(0) {
        "-pre"
    } else {
        ""
    };
    Some(format!("{major}.{minor}.{patch}{pre}"))
}

/// `pkg:generic/node@VERSION`.
pub fn node_purl(version: &str) -> String {
    packageurl::PackageUrl::new("generic", "node")
        .and_then(|mut p| p.with_version(version).map(|p| p.to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER_20: &str = "#ifndef SRC_NODE_VERSION_H_\n#define SRC_NODE_VERSION_H_\n\n#define NODE_MAJOR_VERSION 20\n#define NODE_MINOR_VERSION 11\n#define NODE_PATCH_VERSION 1\n\n#define NODE_VERSION_IS_LTS 1\n#define NODE_VERSION_LTS_CODENAME \"Iron\"\n\n#define NODE_VERSION_IS_RELEASE 1\n";

    #[test]
    fn reads_the_version_defines() {
        let f = NodeRuntimeAnalyzer
            .analyze(
                "usr/local/include/node/node_version.h",
                HEADER_20.as_bytes(),
            )
            .unwrap();
        let p = &f.packages[0];
        assert_eq!(
            (p.kind, p.name.as_str(), p.version.as_str()),
            (PackageKind::Binary, "node", "20.11.1")
        );
        assert_eq!(p.purl, "pkg:generic/node@20.11.1");
        assert_eq!(p.found_in, "usr/local/include/node/node_version.h");
    }

    #[test]
    fn unreleased_builds_are_pre() {
        let h = HEADER_20.replace("IS_RELEASE 1", "IS_RELEASE 0");
        assert_eq!(header_version(&h).as_deref(), Some("20.11.1-pre"));
    }

    #[test]
    fn wants_install_headers_not_build_caches() {
        let a = NodeRuntimeAnalyzer;
        assert!(a.wants("usr/local/include/node/node_version.h"));
        assert!(a.wants("usr/include/node/node_version.h"));
        assert!(a.wants("root/.nvm/versions/node/v18.19.0/include/node/node_version.h"));
        assert!(!a.wants("root/.cache/node-gyp/20.11.1/include/node/node_version.h"));
        assert!(!a.wants("app/node_modules/x/include/node/node_version.h"));
        assert!(!a.wants("usr/include/node/v8-version.h"));
    }

    #[test]
    fn header_without_defines_is_an_error() {
        let err = NodeRuntimeAnalyzer
            .analyze(
                "usr/include/node/node_version.h",
                b"#define NODE_MAJOR_VERSION 20\n",
            )
            .unwrap_err();
        assert_eq!(err.path, "usr/include/node/node_version.h");
    }
}
