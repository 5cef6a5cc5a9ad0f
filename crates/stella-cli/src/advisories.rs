//! Loading the advisory index from the embedded store, shared by `scan`, `explain` and
//! `advisory show`.

use crate::exit::{self, CliError};
use stella_match::AdvisoryIndex;
use stella_store::SqliteAdvisoryStore;

/// The index of the current snapshot, or `None` when no feed was ever synced.
pub fn load_index(store: &SqliteAdvisoryStore) -> Result<Option<AdvisoryIndex>, CliError> {
    stella_concelier::load_index(store).map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))
}

/// Like [`load_index`], but no snapshot is an error telling the user what to run.
pub fn require_index(store: &SqliteAdvisoryStore) -> Result<AdvisoryIndex, CliError> {
    // A snapshot whose every record was withdrawn matches nothing: as good as none for a gate.
    load_index(store)?.filter(|i| !i.is_empty()).ok_or_else(|| {
        CliError::new(
            exit::BAD_INPUT,
            anyhow::anyhow!(
                "no advisories in {}: run `stella feeds sync` (or `stella feeds import`) first",
                store.path().display()
            ),
        )
    })
}
