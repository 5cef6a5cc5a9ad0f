//! Concelier: Stella's advisory ingestion.
//!
//! Connectors read eight upstream feeds in their own formats — OSV (per-ecosystem `all.zip`
//! and single records), the Debian security tracker JSON, Alpine secdb, the NVD CVE API 2.0,
//! CVE JSON 5 records, CSAF 2.0 advisories, the CISA KEV catalog and FIRST EPSS scores — from
//! their public URLs, from a mirror with the upstream layout (a folder or an HTTP base), or
//! from files given on the command line ([`import`]). [`parse`] turns each upstream document
//! into records: the record exactly as upstream wrote it plus its normalized (OSV-shaped)
//! form. [`sync`] stores them through the `stella-store` [`AdvisoryStore`] port:
//!
//! - every fetched document is kept byte for byte, addressed by its sha256;
//! - every record becomes an immutable observation keyed by the sha256 of its canonical JSON,
//!   with its source, upstream id and first fetch time;
//! - nothing is merged or ranked at ingest: two feeds that disagree on a severity or a range
//!   both stay, and linksets ([`stella_model::Linksets`]) only say which ids name the same
//!   vulnerability;
//! - each sync commits in one transaction and yields a snapshot id (a digest over the live
//!   observation set) and a delta (new, changed, withdrawn); a sync of unchanged data writes
//!   nothing.
//!
//! [`load_index`] reads the live set back as the matcher's index.
//!
//! [`AdvisoryStore`]: stella_store::AdvisoryStore

mod current;
pub mod fetch;
pub mod parse;
mod sync;

pub use current::load_index;
pub use fetch::{Base, FetchError};
pub use sync::{
    DEFAULT_ALPINE_BRANCHES, DEFAULT_OSV_ECOSYSTEMS, NoProgress, SourceReport, SyncError,
    SyncOptions, SyncProgress, SyncReport, default_base, import, sync,
};
