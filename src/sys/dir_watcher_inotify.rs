//! Linux: [`DirWatcher`] on inotify (the `inotify` crate), registered with tokio's reactor (no
//! thread of its own, no polling), falling back to polling when inotify is unavailable.

use inotify::{Inotify, WatchMask};
use std::io;
use std::path::Path;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::Interval;

/// Wakes a task when something in a directory may have changed: a file in it was written,
/// created, moved in or closed after writing.
///
/// Readiness is level-style and may be spurious; the owner re-reads the files to see what
/// changed. Call [`drain`](DirWatcher::drain) *before* reading, then wait with
/// [`poll_changed`](DirWatcher::poll_changed): a change after the drain is never missed.
#[derive(Debug)]
pub(crate) enum DirWatcher {
    /// An inotify instance (non-blocking) watched by tokio's reactor.
    Inotify(AsyncFd<Inotify>),
    /// Checks on a timer (the fallback, and for tests of the fallback).
    Poll(Interval),
}

/// Room for many events at once; each is 16 bytes plus a name of at most 255.
const EVENT_BUFFER: usize = 4096;

impl DirWatcher {
    /// Watches `dir` with inotify; polls every `fallback` when inotify cannot be used (no
    /// more instances or watches, or a file system without it). Needs a tokio runtime.
    pub(crate) fn new(dir: &Path, fallback: Duration) -> DirWatcher {
        match inotify_watch(dir) {
            Ok(inotify) => DirWatcher::Inotify(inotify),
            Err(e) => {
                tracing::debug!(dir = %dir.display(), error = %e, "inotify unavailable; polling");
                DirWatcher::polling(fallback)
            }
        }
    }

    /// A watcher that reports a possible change every `period`.
    pub(crate) fn polling(period: Duration) -> DirWatcher {
        let mut interval = tokio::time::interval(period.max(Duration::from_millis(1)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        DirWatcher::Poll(interval)
    }

    /// Forgets the changes reported so far (without waiting).
    pub(crate) fn drain(&mut self) {
        if let DirWatcher::Inotify(inotify) = self {
            while read_events(inotify.get_mut()).unwrap_or(false) {}
        }
    }

    /// `Ready` when something may have changed since the last [`drain`](DirWatcher::drain).
    ///
    /// # Errors
    /// OS errors reading the inotify descriptor.
    pub(crate) fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            DirWatcher::Poll(interval) => {
                ready!(interval.poll_tick(cx));
                Poll::Ready(Ok(()))
            }
            DirWatcher::Inotify(inotify) => loop {
                let mut guard = ready!(inotify.poll_read_ready_mut(cx))?;
                match read_events(guard.get_inner_mut()) {
                    Ok(true) => return Poll::Ready(Ok(())),
                    Ok(false) => guard.clear_ready(),
                    Err(e) => return Poll::Ready(Err(e)),
                }
            },
        }
    }
}

fn inotify_watch(dir: &Path) -> io::Result<AsyncFd<Inotify>> {
    // `init` makes the descriptor non-blocking and close-on-exec.
    let inotify = Inotify::init()?;
    inotify.watches().add(
        dir,
        WatchMask::MODIFY
            | WatchMask::CREATE
            | WatchMask::MOVED_TO
            | WatchMask::CLOSE_WRITE
            | WatchMask::ATTRIB,
    )?;
    // SAFETY: the AsyncFd owns the `Inotify`, which keeps its descriptor open and the same
    // (it offers no way to close or replace it short of being dropped) until the AsyncFd
    // drops it.
    let registered = unsafe { AsyncFd::register_with_interest(inotify, Interest::READABLE) };
    Ok(registered?)
}

/// Reads and discards queued events; `Ok(true)` if there were any, `Ok(false)` if none.
fn read_events(inotify: &mut Inotify) -> io::Result<bool> {
    let mut buffer = [0u8; EVENT_BUFFER];
    let mut any = false;
    loop {
        match inotify.read_events(&mut buffer) {
            Ok(_) => any = true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(any),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
