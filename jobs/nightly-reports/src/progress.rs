//! Progress of long CLI runs: a bar over the export's bytes on a terminal (`indicatif`), plain
//! log lines otherwise (Lambda, CI, a pipe).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress over `total` bytes (0: unknown, e.g. a pipe).
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
    logged: u64,
}

/// Bytes between two plain log lines when there is no terminal.
const LOG_EVERY: u64 = 256 << 20;

impl Progress {
    /// A bar drawn on stderr when it is a terminal, hidden otherwise.
    pub fn bytes(total: u64) -> Self {
        let bar = ProgressBar::with_draw_target((total > 0).then_some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Progress { bar, logged: 0 }
    }

    /// `n` more bytes read.
    pub fn advance(&mut self, n: u64) {
        self.bar.inc(n);
        let read = self.bar.position();
        if self.bar.is_hidden() && read >= self.logged + LOG_EVERY {
            self.logged = read;
            tracing::info!(read_mib = read >> 20, total_mib = self.bar.length().unwrap_or(0) >> 20, "export read");
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
