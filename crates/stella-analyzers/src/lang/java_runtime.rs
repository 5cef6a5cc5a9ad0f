//! The JVM as a package: the `release` file every JDK and JRE image has at its root
//! (`usr/lib/jvm/java-17-openjdk-amd64/release`, `opt/java/openjdk/release`), whose
//! `JAVA_VERSION` is the runtime's version. Reported as `pkg:generic/openjdk@<JAVA_VERSION>`
//! with the implementor and full runtime version in properties.
//!
//! Wants: a file named `release` whose directory path has a component containing `jdk`, `jre`,
//! `jvm` or `java` (any case). Files without a `JAVA_VERSION` line yield nothing.

use crate::{Analyzer, AnalyzerError, Facts};
use stella_model::{Package, PackageKind};

pub struct JavaRuntimeAnalyzer;

impl Analyzer for JavaRuntimeAnalyzer {
    fn name(&self) -> &'static str {
        "java-runtime"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self, path: &str) -> bool {
        let Some(dir) = path.strip_suffix("/release") else {
            return false;
        };
        dir.split('/').any(|c| {
            let c = c.to_ascii_lowercase();
            ["jdk", "jre", "jvm", "java"].iter().any(|k| c.contains(k))
        })
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        let text = crate::utf8_text(path, content)?;
        let fields = parse_release(text);
        let get = |k: &str| {
            fields
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let Some(version) = get("JAVA_VERSION") else {
            return Ok(Facts::default());
        };
        let mut p = Package::new(PackageKind::Binary, "openjdk", version, path);
        p.purl = packageurl::PackageUrl::new("generic", "openjdk")
            .and_then(|mut u| u.with_version(version).map(|u| u.to_string()))
            .map_err(|e| AnalyzerError::new(path, format!("bad JAVA_VERSION {version:?}: {e}")))?;
        for (key, prop) in [
            ("IMPLEMENTOR", "java.implementor"),
            ("IMPLEMENTOR_VERSION", "java.implementor_version"),
            ("JAVA_RUNTIME_VERSION", "java.runtime_version"),
            ("IMAGE_TYPE", "java.image_type"),
            ("JVM_VARIANT", "java.jvm_variant"),
        ] {
            if let Some(v) = get(key) {
                p.properties.insert(prop.to_string(), v.to_string());
            }
        }
        Ok(Facts {
            packages: vec![p],
            ..Facts::default()
        })
    }
}

/// `KEY="value"` lines of a JDK `release` file.
pub fn parse_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wants_release_files_of_jdks() {
        let a = JavaRuntimeAnalyzer;
        assert!(a.wants("usr/lib/jvm/java-17-openjdk-amd64/release"));
        assert!(a.wants("opt/java/openjdk/release"));
        assert!(a.wants("usr/local/openjdk-11/release"));
        assert!(!a.wants("etc/release"));
        assert!(!a.wants("usr/lib/jvm/x/releases"));
    }

    #[test]
    fn debian_and_temurin() {
        let text = "IMPLEMENTOR=\"Debian\"\nJAVA_RUNTIME_VERSION=\"17.0.15+6-Debian-1deb12u1\"\nJAVA_VERSION=\"17.0.15\"\n";
        let f = JavaRuntimeAnalyzer
            .analyze("usr/lib/jvm/java-17-openjdk-amd64/release", text.as_bytes())
            .unwrap();
        let p = &f.packages[0];
        assert_eq!(p.purl, "pkg:generic/openjdk@17.0.15");
        assert_eq!(p.kind, PackageKind::Binary);
        assert_eq!(p.properties["java.implementor"], "Debian");
        assert_eq!(
            p.properties["java.runtime_version"],
            "17.0.15+6-Debian-1deb12u1"
        );
        let f = JavaRuntimeAnalyzer
            .analyze(
                "opt/java/openjdk/release",
                b"IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"25.0.3\"\nIMAGE_TYPE=\"JDK\"\n",
            )
            .unwrap();
        assert_eq!(f.packages[0].purl, "pkg:generic/openjdk@25.0.3");
        assert!(
            JavaRuntimeAnalyzer
                .analyze("opt/java/release", b"X=1\n")
                .unwrap()
                .packages
                .is_empty()
        );
        assert!(
            JavaRuntimeAnalyzer
                .analyze("opt/java/release", b"\xff\xfe")
                .is_err()
        );
    }
}
