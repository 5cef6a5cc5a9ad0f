//! Distro detection: os-release, lsb-release and the `*-release`/`debian_version` fallbacks.
//!
//! Input: the file's text. Seeds: trivy's os-release fixtures and this machine's release files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_analyzers::os_release;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = os_release::parse_os_release(&text);
    // `detect` reads every release file through the closure; answering each with the same bytes
    // runs the lsb-release, debian_version and redhat-release parsers on them in turn.
    let _ = os_release::detect(&|_| Some(data.to_vec()));
    let _ = os_release::wants(&text);
});
