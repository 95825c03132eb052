//! Platforms without inotify: [`DirWatcher`] checks on a timer.

use std::io;
use std::path::Path;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::Interval;

/// Whether the OS wakes a [`DirWatcher`] when a file changes: not here, it checks on a timer.
pub(crate) const NOTIFIES: bool = false;

/// Reports a possible change in a directory every polling period (no OS notification is
/// used on this platform). The owner re-reads the files to see what changed.
#[derive(Debug)]
pub(crate) struct DirWatcher {
    interval: Interval,
}

impl DirWatcher {
    /// Polls every `fallback`. Needs a tokio runtime.
    pub(crate) fn new(_dir: &Path, fallback: Duration) -> DirWatcher {
        DirWatcher::polling(fallback)
    }

    /// A watcher that reports a possible change every `period`.
    pub(crate) fn polling(period: Duration) -> DirWatcher {
        let mut interval = tokio::time::interval(period.max(Duration::from_millis(1)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        DirWatcher { interval }
    }

    /// Nothing to forget when polling.
    pub(crate) fn reset(&mut self) {}

    /// Always `true`: polling cannot tell what changed.
    pub(crate) fn new_entry(&self) -> bool {
        true
    }

    /// Nothing to note when polling.
    pub(crate) fn mark_new_entry(&mut self) {}

    /// `Ready` once per polling period.
    ///
    /// # Errors
    /// None.
    pub(crate) fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.interval.poll_tick(cx));
        Poll::Ready(Ok(()))
    }

    /// Nothing is queued when polling.
    ///
    /// # Errors
    /// None.
    pub(crate) fn drain_deferred(&mut self, _cx: &mut Context<'_>) -> io::Result<()> {
        Ok(())
    }
}
