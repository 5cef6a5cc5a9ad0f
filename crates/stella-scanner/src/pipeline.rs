//! [`scan`]: target in, inventory out.

use crate::analysis::{Collector, LayerAnalysis, analyzer_cache_key, decode, encode, wanted};
use crate::merge::merge;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use stella_analyzers::{Analyzer, all_analyzers};
use stella_image::{
    ImageError, ImageSource, LayerError, LayerLimits, Platform, ResolveError, SourceOptions,
    Target, open_source, read_paths, walk_dir, walk_layer,
};
use stella_model::{Digest, Inventory};
use stella_store::LayerCache;

/// How to scan.
#[derive(Clone)]
pub struct ScanOptions {
    pub platform: Platform,
    pub insecure_registries: Vec<String>,
    pub limits: LayerLimits,
    /// The layer cache; `None` for `--no-cache`.
    pub cache: Option<Arc<LayerCache>>,
    /// Layers read at once.
    pub parallelism: usize,
    /// `SOURCE_DATE_EPOCH`, when the user set it: the time written into outputs.
    pub source_date_epoch: Option<i64>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            platform: Platform::default(),
            insecure_registries: Vec::new(),
            limits: LayerLimits::default(),
            cache: None,
            parallelism: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            source_date_epoch: None,
        }
    }
}

/// Progress callbacks (the CLI draws bars with them; the worker logs).
pub trait Progress: Send + Sync {
    fn image_resolved(&self, _layers: usize) {}
    fn layer_started(&self, _index: usize, _digest: Option<&Digest>, _size: u64) {}
    fn layer_bytes(&self, _index: usize, _bytes: u64) {}
    fn layer_finished(&self, _index: usize, _from_cache: bool) {}
}

/// Progress that reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Counters of one scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    pub layers: usize,
    pub layers_read: usize,
    pub layers_from_cache: usize,
    /// Raw (as stored) layer bytes read.
    pub bytes_read: u64,
}

/// The result of [`scan`].
#[derive(Debug, Clone)]
pub struct ScanOutcome {
    pub inventory: Inventory,
    pub stats: ScanStats,
    /// The time written into outputs: `SOURCE_DATE_EPOCH`, else the image's `created`, else
    /// (for a directory) the newest package database's modification time. RFC 3339, UTC, whole
    /// seconds.
    pub timestamp: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("{source_name}: layer {index} ({digest}): {error}")]
    Layer {
        source_name: String,
        index: usize,
        digest: String,
        #[source]
        error: LayerError,
    },
    #[error("{source_name}: {error}")]
    Resolve {
        source_name: String,
        #[source]
        error: ResolveError,
    },
}

/// Scans `target` (any form [`Target::parse`] accepts).
pub fn scan(
    target: &str,
    opts: &ScanOptions,
    progress: &dyn Progress,
) -> Result<ScanOutcome, ScanError> {
    let parsed = Target::parse(target)?;
    let source_opts = SourceOptions {
        platform: opts.platform.clone(),
        insecure_registries: opts.insecure_registries.clone(),
    };
    let source = open_source(&parsed, target, &source_opts)?;
    let analyzers = all_analyzers();
    let info = source.info().clone();
    progress.image_resolved(info.layers.len());
    let mut stats = ScanStats {
        layers: info.layers.len(),
        ..Default::default()
    };

    let analyses: Vec<LayerAnalysis> = match source.root_dir() {
        Some(root) => {
            progress.layer_started(0, None, 0);
            let mut collector = Collector::default();
            let (contents, unreadable) = walk_dir(
                root,
                &opts.limits,
                &|p| wanted(&analyzers, p),
                &mut |p, c| collector.file(&analyzers, p, &c),
            )?;
            if unreadable > 0 {
                tracing::debug!(unreadable, "entries skipped because they could not be read");
            }
            progress.layer_finished(0, false);
            vec![collector.finish(contents)]
        }
        None => read_layers(source.as_ref(), &analyzers, opts, progress, &mut stats)?,
    };

    let digests: Vec<Digest> = info.layers.iter().map(|l| l.digest.clone()).collect();
    let merged = merge(&analyses, &digests).map_err(|error| ScanError::Resolve {
        source_name: target.to_string(),
        error,
    })?;
    let timestamp = output_timestamp(
        opts.source_date_epoch,
        info.created.as_deref(),
        merged.newest_db_mtime,
    );
    let mut inventory = Inventory {
        image: info,
        distro: merged.distro,
        packages: merged.packages,
        analyzers: analyzers.iter().map(|a| a.info()).collect(),
        warnings: merged.warnings,
    };
    inventory.normalize();
    Ok(ScanOutcome {
        inventory,
        stats,
        timestamp,
    })
}

fn read_layers(
    source: &dyn ImageSource,
    analyzers: &[Box<dyn Analyzer>],
    opts: &ScanOptions,
    progress: &dyn Progress,
    stats: &mut ScanStats,
) -> Result<Vec<LayerAnalysis>, ScanError> {
    let layers = &source.info().layers;
    let key = analyzer_cache_key(analyzers);
    let mut slots: Vec<Option<LayerAnalysis>> = vec![None; layers.len()];
    let mut todo = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let cached = opts
            .cache
            .as_ref()
            .and_then(|c| match c.get(&layer.digest, &key) {
                Ok(Some(bytes)) => decode(&bytes),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!("layer cache unavailable: {e}");
                    None
                }
            });
        match cached {
            Some(a) => {
                progress.layer_finished(i, true);
                stats.layers_from_cache += 1;
                slots[i] = Some(a);
            }
            None => todo.push(i),
        }
    }

    let next = AtomicUsize::new(0);
    let workers = opts.parallelism.clamp(1, todo.len().max(1));
    let results: Vec<(usize, LayerOutcome)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&i) = todo.get(n) else { break };
                        let r = read_one_layer(source, i, analyzers, &opts.limits, progress);
                        let failed = r.is_err();
                        out.push((i, r));
                        if failed {
                            // Stop taking work; other workers finish their current layer.
                            next.store(todo.len(), Ordering::SeqCst);
                            break;
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("layer worker panicked"))
            .collect()
    });
    let mut first_error: Option<(usize, ScanError)> = None;
    for (i, r) in results {
        match r {
            Ok((analysis, bytes)) => {
                stats.layers_read += 1;
                stats.bytes_read += bytes;
                if let Some(cache) = &opts.cache
                    && let Err(e) = cache.put(&layers[i].digest, &key, &encode(&analysis))
                {
                    tracing::warn!("layer cache not updated: {e}");
                }
                slots[i] = Some(analysis);
            }
            Err(e) => {
                if first_error.as_ref().is_none_or(|(j, _)| i < *j) {
                    first_error = Some((i, e));
                }
            }
        }
    }
    if let Some((_, e)) = first_error {
        return Err(e);
    }
    Ok(slots
        .into_iter()
        .map(|s| s.expect("every layer analysed"))
        .collect())
}

/// A layer's analysis and the raw bytes read for it, or why it failed.
type LayerOutcome = Result<(LayerAnalysis, u64), ScanError>;

/// Counts raw bytes for progress.
struct CountingReader<'a, R> {
    inner: R,
    index: usize,
    count: u64,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        self.progress.layer_bytes(self.index, n as u64);
        Ok(n)
    }
}

fn read_one_layer(
    source: &dyn ImageSource,
    index: usize,
    analyzers: &[Box<dyn Analyzer>],
    limits: &LayerLimits,
    progress: &dyn Progress,
) -> Result<(LayerAnalysis, u64), ScanError> {
    let layer = &source.info().layers[index];
    let layer_err = |error: LayerError| ScanError::Layer {
        source_name: source.info().reference.clone(),
        index,
        digest: layer.digest.to_string(),
        error,
    };
    progress.layer_started(index, Some(&layer.digest), layer.size);
    let mut raw = CountingReader {
        inner: source.open_layer(index)?,
        index,
        count: 0,
        progress,
    };
    let mut collector = Collector::default();
    let walk = walk_layer(&mut raw, limits, &|p| wanted(analyzers, p), &mut |p, c| {
        collector.file(analyzers, p, &c)
    })
    .map_err(layer_err)?;
    let bytes = raw.count;
    if !walk.hardlinks_wanted.is_empty() {
        // Wanted hard links whose targets were not kept: read the targets in a second pass.
        let targets: Vec<String> = walk
            .hardlinks_wanted
            .iter()
            .map(|(_, t)| t.clone())
            .collect();
        let mut raw = source.open_layer(index)?;
        let found = read_paths(&mut raw, limits, &targets).map_err(layer_err)?;
        for (link, target) in &walk.hardlinks_wanted {
            if let Some((_, content)) = found.iter().find(|(p, _)| p == target) {
                collector.file(analyzers, link, content);
            }
        }
    }
    progress.layer_finished(index, false);
    Ok((collector.finish(walk.contents), bytes))
}

/// See [`ScanOutcome::timestamp`].
fn output_timestamp(
    source_date_epoch: Option<i64>,
    created: Option<&str>,
    db_mtime: Option<i64>,
) -> String {
    use time::format_description::well_known::Rfc3339;
    let fmt = |t: time::OffsetDateTime| {
        let t = t.to_offset(time::UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    };
    if let Some(s) = source_date_epoch
        && let Ok(t) = time::OffsetDateTime::from_unix_timestamp(s)
    {
        return fmt(t);
    }
    if let Some(c) = created
        && let Ok(t) = time::OffsetDateTime::parse(c, &Rfc3339)
    {
        return fmt(t);
    }
    let t = time::OffsetDateTime::from_unix_timestamp(db_mtime.unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    fmt(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_prefer_source_date_epoch_then_created_then_db_mtime() {
        assert_eq!(
            output_timestamp(Some(0), Some("2024-05-01T10:00:00.5Z"), Some(5)),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            output_timestamp(None, Some("2024-05-01T12:00:00.123+02:00"), Some(5)),
            "2024-05-01T10:00:00Z"
        );
        assert_eq!(
            output_timestamp(None, None, Some(86400)),
            "1970-01-02T00:00:00Z"
        );
    }
}
