//! A progress bar on stderr for long work, shown only to a person watching a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Files up to this size are done before a bar would be worth drawing.
pub const THRESHOLD: u64 = 256 * 1024 * 1024;

/// Whether to show a bar for `total` bytes of work: only over [`THRESHOLD`], and only when
/// stderr is a terminal, so pipes, logs and tests never see one.
pub fn wanted(total: u64, stderr_is_terminal: bool) -> bool {
    stderr_is_terminal && total > THRESHOLD
}

/// A byte-count progress bar that may be switched off; it clears itself when dropped, so an
/// error message printed afterwards starts on a clean line.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar for work over a file of `file_size` bytes, `total` bytes of it to go.
    pub fn new(file_size: u64, total: u64, label: &str) -> Self {
        Self::shown_if(
            wanted(file_size, std::io::stderr().is_terminal()),
            total,
            label,
        )
    }

    fn shown_if(show: bool, total: u64, label: &str) -> Self {
        let bar = show.then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:>9} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.to_string());
            // A regex scan reports progress only at matches; the steady tick keeps the
            // elapsed time and spinner moving in between.
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self { bar }
    }

    /// Whether a bar is drawn: without one, work need not be shaped to report progress.
    pub fn shown(&self) -> bool {
        self.bar.is_some()
    }

    /// Sets how many bytes are done.
    pub fn set(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// Moves the bar forward to `done` bytes, never back: for reports from several threads,
    /// which may arrive out of order.
    pub fn advance_to(&self, done: u64) {
        if let Some(bar) = &self.bar {
            if done > bar.position() {
                bar.set_position(done);
            }
        }
    }

    /// Starts a new phase of `total` bytes under another label.
    pub fn restart(&self, total: u64, label: &str) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(0);
            bar.set_message(label.to_string());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_only_for_big_files_on_a_terminal() {
        assert!(wanted(THRESHOLD + 1, true));
        assert!(
            !wanted(THRESHOLD, true),
            "256 MiB itself is not over the threshold"
        );
        assert!(
            !wanted(THRESHOLD + 1, false),
            "never when stderr is not a terminal"
        );
        assert!(!wanted(0, true));
    }

    #[test]
    fn a_bar_follows_the_decision_and_takes_updates() {
        let off = Progress::shown_if(false, 100, "testing");
        assert!(off.bar.is_none() && !off.shown());
        off.set(10);
        off.restart(5, "again");
        let on = Progress::shown_if(true, 100, "testing");
        let bar = on.bar.as_ref().expect("a bar");
        assert!(on.shown());
        on.set(40);
        assert_eq!(bar.position(), 40);
        on.advance_to(30);
        assert_eq!(bar.position(), 40, "never back");
        on.advance_to(50);
        assert_eq!(bar.position(), 50);
        on.restart(5, "again");
        assert_eq!((bar.position(), bar.length()), (0, Some(5)));
    }
}
