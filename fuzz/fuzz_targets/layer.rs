//! Layer streams: gzip/zstd/plain sniffing, the tar walk, path normalisation, whiteouts, limits.
//!
//! Input: the raw layer blob. Seeds: small tar, tar.gz and tar.zst archives made by .ci/fuzz.sh
//! from real fixture files (whiteouts, links, long names included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_image::LayerLimits;

// Small limits, so a decompression bomb or an entry storm ends quickly and shows up as an
// error rather than as a slow input.
const LIMITS: LayerLimits = LayerLimits {
    max_layer_bytes: 4 << 20,
    max_file_bytes: 64 << 10,
    max_entries: 512,
};

fuzz_target!(|data: &[u8]| {
    let _ = stella_image::walk_layer(&mut &data[..], &LIMITS, &|_| true, &mut |_, _| {});
});
