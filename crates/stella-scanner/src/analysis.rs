//! Analysing one layer (or a directory) into a cacheable [`LayerAnalysis`].

use serde::{Deserialize, Serialize};
use stella_analyzers::{Analyzer, Facts, os_release};
use stella_image::LayerContents;

/// Everything learned from one layer: its entries and whiteouts, what each analyzer made of
/// the files it wanted, and the release files used for distro detection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerAnalysis {
    pub contents: LayerContents,
    /// Sorted by path, then analyzer.
    pub results: Vec<FileResult>,
    /// `(path, content)` of release files (`etc/os-release`, …), sorted by path.
    pub release_files: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileResult {
    pub path: String,
    pub analyzer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<Facts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The cache key part that names the analyzers (and the format of [`LayerAnalysis`]): a result
/// cached by other analyzer versions is never reused.
pub fn analyzer_cache_key(analyzers: &[Box<dyn Analyzer>]) -> String {
    let mut parts: Vec<String> = analyzers
        .iter()
        .map(|a| format!("{}@{}", a.name(), a.version()))
        .collect();
    parts.sort();
    format!("layer-analysis/v2;os-release@1;{}", parts.join(","))
}

/// Whether any analyzer (or distro detection) wants `path`.
pub(crate) fn wanted(analyzers: &[Box<dyn Analyzer>], path: &str) -> bool {
    os_release::wants(path) || analyzers.iter().any(|a| a.wants(path))
}

/// Collects analyzer results while a layer streams by.
#[derive(Default)]
pub(crate) struct Collector {
    pub results: Vec<FileResult>,
    pub release_files: Vec<(String, Vec<u8>)>,
}

impl Collector {
    pub fn file(&mut self, analyzers: &[Box<dyn Analyzer>], path: &str, content: &[u8]) {
        if os_release::wants(path) {
            self.release_files
                .push((path.to_string(), content.to_vec()));
        }
        for a in analyzers.iter().filter(|a| a.wants(path)) {
            let (facts, error) = match a.analyze(path, content) {
                Ok(f) => (Some(f), None),
                Err(e) => (None, Some(e.to_string())),
            };
            self.results.push(FileResult {
                path: path.to_string(),
                analyzer: a.name().to_string(),
                facts,
                error,
            });
        }
    }

    pub fn finish(mut self, contents: LayerContents) -> LayerAnalysis {
        self.results
            .sort_by(|a, b| (&a.path, &a.analyzer).cmp(&(&b.path, &b.analyzer)));
        self.release_files.sort();
        LayerAnalysis {
            contents,
            results: self.results,
            release_files: self.release_files,
        }
    }
}

/// Serialised form kept in the layer cache: zstd-compressed JSON.
pub(crate) fn encode(a: &LayerAnalysis) -> Vec<u8> {
    let json = serde_json::to_vec(a).expect("layer analysis serialises");
    zstd::encode_all(&json[..], 3).expect("in-memory zstd cannot fail")
}

pub(crate) fn decode(bytes: &[u8]) -> Option<LayerAnalysis> {
    let json = zstd::decode_all(bytes).ok()?;
    serde_json::from_slice(&json).ok()
}
