//! The scan pipeline: one function, [`scan`], that both `stella scan` and the service worker call.
//!
//! It opens the target ([`stella_image::open_source`]), then for each layer either loads the
//! layer's analysis from the [`stella_store::LayerCache`] (keyed by layer digest and analyzer
//! versions) or reads the layer once, streaming, handing wanted files to every analyzer. Layers
//! are read in parallel. The per-layer results are merged in layer order: whiteouts decide which
//! package databases survive, symlinks are resolved inside the image root to find the
//! distro, and each package is tagged with the layer that introduced it and its package URL.
//! The result is an [`stella_model::Inventory`] with every collection sorted.

mod analysis;
mod merge;
mod pipeline;

pub use analysis::{LayerAnalysis, analyzer_cache_key};
pub use pipeline::{NoProgress, Progress, ScanError, ScanOptions, ScanOutcome, ScanStats, scan};
