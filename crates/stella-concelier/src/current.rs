//! Reading the live observation set back out of the store, for matching and for
//! `stella advisory show`.

use stella_model::{Advisory, EpssScore, FeedSource, KevEntry, Normalized};
use stella_store::{AdvisoryStore, StoreError};

/// One live advisory with where it came from.
#[derive(Debug, Clone)]
pub struct CurrentAdvisory {
    pub source: FeedSource,
    pub upstream_id: String,
    /// `sha256:…` of the observation.
    pub observation: String,
    pub advisory: Advisory,
}

/// Everything the current snapshot holds, normalized.
#[derive(Debug, Clone, Default)]
pub struct CurrentRecords {
    /// `None` before the first sync.
    pub snapshot: Option<String>,
    pub advisories: Vec<CurrentAdvisory>,
    pub kev: Vec<KevEntry>,
    pub epss: Vec<EpssScore>,
}

/// Reads every live observation's normalized record.
///
/// A record whose stored normalized JSON no longer reads (written by a newer Stella) is an
/// error naming it, not a silent gap in matching.
pub fn load_current(store: &dyn AdvisoryStore) -> Result<CurrentRecords, StoreError> {
    let snapshot = store.current_snapshot()?.map(|s| s.id);
    let mut out = CurrentRecords {
        snapshot,
        ..Default::default()
    };
    store.for_each_current(&mut |obs| {
        let normalized: Normalized =
            serde_json::from_slice(&obs.normalized).map_err(|e| StoreError::Encode {
                path: format!("{} {}", obs.source, obs.upstream_id).into(),
                message: format!("stored record does not read: {e}"),
            })?;
        match normalized {
            Normalized::Advisory(a) => out.advisories.push(CurrentAdvisory {
                source: obs.source,
                upstream_id: obs.upstream_id,
                observation: obs.content_hash,
                advisory: *a,
            }),
            Normalized::Kev(k) => out.kev.push(k),
            Normalized::Epss(e) => out.epss.push(e),
        }
        Ok(())
    })?;
    Ok(out)
}
