//! Loading the advisory index from the embedded store, shared by `scan`, `explain` and
//! `advisory show`.

use crate::exit::{self, CliError};
use stella_match::{AdvisoryIndex, IndexedAdvisory};
use stella_store::SqliteAdvisoryStore;

/// The index of the current snapshot, or `None` when no feed was ever synced.
pub fn load_index(store: &SqliteAdvisoryStore) -> Result<Option<AdvisoryIndex>, CliError> {
    let started = std::time::Instant::now();
    let current =
        stella_concelier::load_current(store).map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
    let loaded = started.elapsed();
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
    let index = AdvisoryIndex::build(snapshot, advisories, current.kev, current.epss);
    tracing::info!(
        records = index.len(),
        load_ms = loaded.as_millis() as u64,
        build_ms = (started.elapsed() - loaded).as_millis() as u64,
        "advisory index ready"
    );
    Ok(Some(index))
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
