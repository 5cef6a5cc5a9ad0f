//! Every analyzer of `stella_analyzers::all_analyzers()` on the files it asks for: package
//! databases, lockfiles, manifests, archives and binaries.
//!
//! Input: one selector byte, then the file's content. The selector picks a path from
//! `os_analyzers.paths` (see there); every analyzer whose `wants(path)` is true gets
//! `analyze(path, content)`. Selector 255 fuzzes the path as well (`path NUL content`).
//! Analyzers added to `all_analyzers()` are covered without touching this file; give them a
//! path in `os_analyzers.paths` if none of the listed ones reaches them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use stella_analyzers::{Analyzer, all_analyzers};

static PATHS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    include_str!("../os_analyzers.paths")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

static ANALYZERS: LazyLock<Vec<Box<dyn Analyzer>>> = LazyLock::new(|| {
    let all = all_analyzers();
    // An analyzer that wants none of the listed paths is never fuzzed: say so (.ci/fuzz.sh
    // repeats this line as a warning).
    for a in &all {
        if !PATHS.iter().any(|p| a.wants(p)) {
            eprintln!(
                "os_analyzers: analyzer {} wants none of os_analyzers.paths; add a path for it",
                a.name()
            );
        }
    }
    all
});

fn run(path: &str, content: &[u8]) {
    for a in ANALYZERS.iter() {
        if a.wants(path) {
            let _ = a.analyze(path, content);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector == 255 {
        let (path, content) = match rest.iter().position(|&b| b == 0) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        run(&String::from_utf8_lossy(path), content);
    } else if let Some(path) = PATHS.get(selector as usize) {
        run(path, rest);
    }
});
