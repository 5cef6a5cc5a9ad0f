//! Image sources and layer reading.
//!
//! A scan target (`docker://REF`, `docker-archive:PATH`, `oci:DIR[:TAG]`, `oci-archive:PATH`,
//! `dir:PATH`, or a bare path) is parsed into a [`Target`] and opened with [`open_source`] into an
//! [`ImageSource`]: the image's description ([`stella_model::ImageInfo`]) and its layers as
//! digest-verified byte streams. [`walk_layer`] reads one layer in a single streaming pass
//! (gzip, zstd or plain tar, told by magic bytes) under [`LayerLimits`], recording every entry
//! and whiteout and handing the files an analyzer wants to a callback; [`walk_dir`] does the same
//! for a directory. [`MergedView`] applies layers in order, honouring whiteouts, and resolves
//! paths through symlinks without ever leaving the image root.
//!
//! Nothing here extracts files to disk, analyses content, or caches: those belong to the
//! scanner pipeline.

mod archive;
mod dir;
mod docker_archive;
mod error;
mod fsview;
mod layer;
mod manifest;
mod registry_source;
mod source;
mod target;

pub use archive::{TarIndex, sniff_archive};
pub use dir::walk_dir;
pub use error::ImageError;
pub use fsview::{MergedView, ResolveError, ViewEntry};
pub use layer::{
    Compression, FileKind, FileRecord, LayerContents, LayerError, LayerLimits, LayerWalk,
    normalize_entry_path, read_paths, sniff_compression, walk_layer,
};
pub use manifest::Platform;
pub use source::{ImageSource, SourceOptions, open_source};
pub use stella_registry::VerifyingReader;
pub use target::{ArchiveKind, Target};
