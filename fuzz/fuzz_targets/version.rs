//! Version ordering and range checks of every ecosystem: malformed versions and ranges must be
//! errors, never panics.
//!
//! Input: one byte picking the ecosystem (`Ecosystem::ALL[byte % 11]`), then text split on the
//! first newline into a version and a second version / range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_version::{Ecosystem, compare, satisfies};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let eco = Ecosystem::ALL[selector as usize % Ecosystem::ALL.len()];
    let text = String::from_utf8_lossy(rest);
    let (a, b) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = compare(eco, a, b);
    let _ = satisfies(eco, a, b);
    let _ = a.parse::<Ecosystem>();
});
