//! Loading the advisory index from the embedded store, shared by `scan`, `explain` and
//! `advisory show`.

use crate::exit::{self, CliError};
use stella_match::{AdvisoryIndex, IndexedAdvisory};
use stella_store::SqliteAdvisoryStore;

/// The index of the current snapshot, or `None` when no feed was ever synced.
pub fn load_index(store: &SqliteAdvisoryStore) -> Result<Option<AdvisoryIndex>, CliError> {
    let current =
        stella_concelier::load_current(store).map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
    let Some(snapshot) = current.snapshot else {
        return Ok(None);
    };
    let advisories = current
        .advisories
        .into_iter()
        .map(|a| IndexedAdvisory {
            source: a.source,
            upstream_id: a.upstream_id,
            observation: a.observation,
            advisory: a.advisory,
        })
        .collect();
    Ok(Some(AdvisoryIndex::build(
        snapshot,
        advisories,
        current.kev,
        current.epss,
    )))
}

/// Like [`load_index`], but no snapshot is an error telling the user what to run.
pub fn require_index(store: &SqliteAdvisoryStore) -> Result<AdvisoryIndex, CliError> {
    load_index(store)?.ok_or_else(|| {
        CliError::new(
            exit::BAD_INPUT,
            anyhow::anyhow!(
                "no advisories in {}: run `stella feeds sync` (or `stella feeds import`) first",
                store.path().display()
            ),
        )
    })
}
