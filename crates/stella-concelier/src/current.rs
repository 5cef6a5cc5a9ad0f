//! Reading the live observation set back out of the store as the matcher's index, for
//! `stella scan`, `stella explain`, `stella advisory show` and the scan worker.

use stella_match::{AdvisoryIndex, IndexedAdvisory};
use stella_model::Normalized;
use stella_store::{AdvisoryStore, StoreError};

/// The index of the current snapshot, or `None` before the first sync that yielded records.
///
/// A record whose stored normalized JSON no longer reads (written by a newer Stella) is an
/// error naming it, not a silent gap in matching.
pub fn load_index(store: &dyn AdvisoryStore) -> Result<Option<AdvisoryIndex>, StoreError> {
    let Some(snapshot) = store.current_snapshot()?.map(|s| s.id) else {
        return Ok(None);
    };
    let started = std::time::Instant::now();
    let (mut advisories, mut kev, mut epss) = (Vec::new(), Vec::new(), Vec::new());
    store.for_each_current(&mut |obs| {
        let normalized: Normalized =
            serde_json::from_slice(&obs.normalized).map_err(|e| StoreError::Encode {
                path: format!("{} {}", obs.source, obs.upstream_id).into(),
                message: format!("stored record does not read: {e}"),
            })?;
        match normalized {
            Normalized::Advisory(a) => advisories.push(IndexedAdvisory {
                source: obs.source,
                upstream_id: obs.upstream_id,
                observation: obs.content_hash,
                advisory: *a,
            }),
            Normalized::Kev(k) => kev.push(k),
            Normalized::Epss(e) => epss.push(e),
        }
        Ok(())
    })?;
    let loaded = started.elapsed();
    let index = AdvisoryIndex::build(snapshot, advisories, kev, epss);
    tracing::info!(
        records = index.len(),
        load_ms = loaded.as_millis() as u64,
        build_ms = (started.elapsed() - loaded).as_millis() as u64,
        "advisory index ready"
    );
    Ok(Some(index))
}
