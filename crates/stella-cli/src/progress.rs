//! Progress bars on stderr, drawn only when stderr is a terminal (indicatif hides them
//! otherwise) and never with `-q`.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;
use stella_model::Digest;
use stella_scanner::Progress;

pub struct BarProgress {
    multi: MultiProgress,
    bars: Mutex<Vec<Option<ProgressBar>>>,
    overall: ProgressBar,
}

impl BarProgress {
    pub fn new(quiet: bool) -> BarProgress {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template("{spinner} layers {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        BarProgress {
            multi,
            bars: Mutex::new(Vec::new()),
            overall,
        }
    }

    pub fn finish(&self) {
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }
}

impl Progress for BarProgress {
    fn image_resolved(&self, layers: usize) {
        self.overall.set_length(layers as u64);
        self.bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .resize(layers.max(1), None);
    }
    fn layer_started(&self, index: usize, digest: Option<&Digest>, size: u64) {
        let bar = self.multi.add(ProgressBar::new(size));
        match digest {
            Some(d) => {
                bar.set_style(
                    ProgressStyle::with_template(
                        "  {prefix} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_prefix(d.hex()[..12].to_string());
            }
            None => {
                // A directory has no size known up front: a spinner with the time spent.
                self.overall.finish_and_clear();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} walking the directory {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
            }
        }
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        if index >= bars.len() {
            bars.resize(index + 1, None);
        }
        bars[index] = Some(bar);
    }
    fn layer_bytes(&self, index: usize, bytes: u64) {
        if let Some(Some(bar)) = self
            .bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(index)
        {
            bar.inc(bytes);
        }
    }
    fn layer_finished(&self, index: usize, from_cache: bool) {
        if let Some(Some(bar)) = self
            .bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(index)
            .map(Option::take)
        {
            bar.finish_and_clear();
        }
        self.overall.inc(1);
        if from_cache {
            self.overall.set_message("(cached)");
        }
    }
}
