//! Linux: [`DirWatcher`] on inotify (the `inotify` crate), registered with tokio's reactor (no
//! thread of its own, no polling), falling back to polling when inotify is unavailable.

use inotify::{EventMask, Inotify, WatchMask};
use std::io;
use std::path::Path;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::Interval;

/// Whether the OS wakes a [`DirWatcher`] when a file changes: inotify does (a watcher
/// polls only where inotify could not be set up).
pub(crate) const NOTIFIES: bool = true;

/// Wakes a task when something in a directory may have changed: a file in it was written,
/// created, moved in or closed after writing.
///
/// Readiness is level-style and may be spurious; the owner re-reads the files to see what
/// changed. Events stay queued until [`poll_changed`](DirWatcher::poll_changed),
/// [`drain_deferred`](DirWatcher::drain_deferred) or [`reset`](DirWatcher::reset) reads
/// them, so a change after a read of the files is never missed; draining before a read only
/// saves a spurious wake-up.
/// [`new_entry`](DirWatcher::new_entry) tells whether the changes seen may include a new
/// file (so the owner lists the directory only then).
#[derive(Debug)]
pub(crate) struct DirWatcher {
    kind: Kind,
    /// A file may have been created or moved in since [`reset`](Self::reset).
    new_entry: bool,
    /// The queue must be read before the next report: the last
    /// [`poll_changed`](Self::poll_changed) reported events it left queued, or
    /// [`reset`](Self::reset) read the queue and left tokio's readiness stale.
    undrained: bool,
    /// The polling period when inotify cannot be used, or its watch is gone.
    fallback: Duration,
}

#[derive(Debug)]
enum Kind {
    /// An inotify instance (non-blocking) watched by tokio's reactor.
    Inotify(AsyncFd<Inotify>),
    /// Checks on a timer (the fallback, and for tests of the fallback).
    Poll(Interval),
}

/// Room for many events at once; each is 16 bytes plus a name of at most 256.
const EVENT_BUFFER: usize = 4096;
/// The largest inotify event: the 16-byte header and a name padded to at most 256 bytes.
const MAX_EVENT: usize = 16 + 256;

impl DirWatcher {
    /// Watches `dir` with inotify; polls every `fallback` when inotify cannot be used (no
    /// more instances or watches, or a file system without it). Needs a tokio runtime.
    pub(crate) fn new(dir: &Path, fallback: Duration) -> DirWatcher {
        match inotify_watch(dir) {
            Ok(inotify) => DirWatcher {
                kind: Kind::Inotify(inotify),
                new_entry: true,
                undrained: false,
                fallback,
            },
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
        DirWatcher {
            kind: Kind::Poll(interval),
            new_entry: true,
            undrained: false,
            fallback: period,
        }
    }

    /// Notes what a read of the queue found; once the watch is gone (the directory
    /// deleted, or its file system unmounted) or follows the directory elsewhere (moved
    /// away: the watch stays on it under its new name), polls instead: a directory created
    /// again at the path is not the one watched, and no event would ever come.
    fn note(&mut self, read: Read) {
        self.new_entry |= read.new_entry;
        if read.watch_gone {
            tracing::debug!("the watched directory is gone; polling");
            *self = DirWatcher::polling(self.fallback);
        }
    }

    /// Forgets the changes reported so far and the new entries seen, without waiting: call
    /// it just before listing the directory.
    pub(crate) fn reset(&mut self) {
        let mut gone = false;
        if let Kind::Inotify(inotify) = &mut self.kind {
            while let Ok(read) = read_events(inotify.get_mut()) {
                gone |= read.watch_gone;
                if read.drained {
                    break;
                }
            }
        }
        if gone {
            *self = DirWatcher::polling(self.fallback);
        }
        self.new_entry = false;
        // Readiness stays set (clearing it needs the task's context): the next wait reads
        // the queue before it reports, instead of a needless read of the files.
        self.undrained = true;
    }

    /// Whether a file may have been created or moved into the directory since
    /// [`reset`](Self::reset), among the changes waited
    /// for. Always `true` when polling (which cannot tell).
    pub(crate) fn new_entry(&self) -> bool {
        self.new_entry || matches!(self.kind, Kind::Poll(_))
    }

    /// Notes a possible new entry again (a listing that was planned did not happen).
    pub(crate) fn mark_new_entry(&mut self) {
        self.new_entry = true;
    }

    /// `Ready` when something may have changed since the last [`reset`](DirWatcher::reset).
    ///
    /// The events that make it `Ready` are left queued: the owner reads its files first,
    /// so the data it waits for is one `read` away from the wake-up, not two, and calls
    /// [`drain_deferred`](Self::drain_deferred) before its next read. (Polled again before
    /// that, it reads them itself.) No change is missed either way: a change after the
    /// drain queues a new event, and one before it is seen by the read after it.
    ///
    /// # Errors
    /// OS errors reading the inotify descriptor.
    pub(crate) fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.kind {
            Kind::Poll(interval) => {
                ready!(interval.poll_tick(cx));
                Poll::Ready(Ok(()))
            }
            Kind::Inotify(inotify) => loop {
                let mut guard = ready!(inotify.poll_read_ready_mut(cx))?;
                if !std::mem::take(&mut self.undrained) {
                    self.undrained = true;
                    return Poll::Ready(Ok(()));
                }
                let read = read_events(guard.get_inner_mut())?;
                if read.drained {
                    // Nothing left queued: the next event is a new edge (tokio's readiness
                    // tick keeps one that arrived meanwhile), so no `read` just to see
                    // EAGAIN before the next wait.
                    guard.clear_ready();
                }
                if read.any {
                    drop(guard);
                    self.note(read);
                    return Poll::Ready(Ok(()));
                }
            },
        }
    }

    /// Reads the events the last [`poll_changed`](Self::poll_changed) reported and left
    /// queued, if it has not been polled since: call it before every read of the files
    /// except the first after that wake-up. New entries among them count for
    /// [`new_entry`](Self::new_entry).
    ///
    /// # Errors
    /// OS errors reading the inotify descriptor.
    pub(crate) fn drain_deferred(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if !std::mem::take(&mut self.undrained) {
            return Ok(());
        }
        let Kind::Inotify(inotify) = &mut self.kind else {
            return Ok(());
        };
        // Not ready: tokio has seen no event since readiness was last cleared.
        if let Poll::Ready(guard) = inotify.poll_read_ready_mut(cx) {
            let mut guard = guard?;
            let read = read_events(guard.get_inner_mut())?;
            if read.drained {
                guard.clear_ready();
            }
            drop(guard);
            self.note(read);
        }
        Ok(())
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
            | WatchMask::ATTRIB
            | WatchMask::DELETE
            | WatchMask::MOVED_FROM
            | WatchMask::DELETE_SELF
            | WatchMask::MOVE_SELF,
    )?;
    // SAFETY: the AsyncFd owns the `Inotify`, which keeps its descriptor open and the same
    // (it offers no way to close or replace it short of being dropped) until the AsyncFd
    // drops it.
    let registered = unsafe { AsyncFd::register_with_interest(inotify, Interest::READABLE) };
    Ok(registered?)
}

/// What one read of the inotify descriptor found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Read {
    /// At least one event.
    any: bool,
    /// One of them may be a new file.
    new_entry: bool,
    /// The watch was removed (`IN_IGNORED`), or the directory moved away (`IN_MOVE_SELF`,
    /// after which the watch reports on it at its new name): no event about the path will
    /// come any more.
    watch_gone: bool,
    /// The queue was empty after this read: the kernel stops a read early only when the
    /// next event does not fit, and the room left fitted the largest one (or the read
    /// found nothing).
    drained: bool,
}

/// Reads one buffer of queued events.
fn read_events(inotify: &mut Inotify) -> io::Result<Read> {
    let mut buffer = [0u8; EVENT_BUFFER];
    loop {
        match inotify.read_events(&mut buffer) {
            Ok(events) => {
                let (mut count, mut new_entry, mut watch_gone) = (0, false, false);
                for event in events {
                    count += 1;
                    new_entry |= is_new_entry(event.mask);
                    watch_gone |= event
                        .mask
                        .intersects(EventMask::IGNORED | EventMask::MOVE_SELF);
                }
                return Ok(Read {
                    any: count > 0,
                    new_entry,
                    watch_gone,
                    drained: (count + 1) * MAX_EVENT <= EVENT_BUFFER,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Ok(Read {
                    any: false,
                    new_entry: false,
                    watch_gone: false,
                    drained: true,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Whether an event may be a new file, or a file read gone for good: created or moved in,
/// events lost to an overflow, a file deleted or moved out (maybe the one being read, with
/// the directory next: a file held open keeps the directory's own deletion unreported), or
/// the watched directory itself deleted or moved away (its path may name another one now,
/// and this watch reports nothing more).
fn is_new_entry(mask: EventMask) -> bool {
    mask.intersects(
        EventMask::CREATE
            | EventMask::MOVED_TO
            | EventMask::Q_OVERFLOW
            | EventMask::DELETE
            | EventMask::MOVED_FROM
            | EventMask::DELETE_SELF
            | EventMask::MOVE_SELF
            | EventMask::IGNORED,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_creations_moves_overflows_and_the_dir_going_are_new_entries() {
        for mask in [EventMask::MODIFY, EventMask::CLOSE_WRITE, EventMask::ATTRIB] {
            assert!(!is_new_entry(mask), "{mask:?}");
        }
        for mask in [
            EventMask::CREATE,
            EventMask::MOVED_TO,
            EventMask::Q_OVERFLOW,
            EventMask::DELETE,
            EventMask::MOVED_FROM,
            EventMask::DELETE_SELF,
            EventMask::MOVE_SELF,
            EventMask::IGNORED,
            EventMask::CREATE | EventMask::MODIFY,
        ] {
            assert!(is_new_entry(mask), "{mask:?}");
        }
    }

    #[tokio::test]
    async fn a_created_file_is_a_new_entry_and_a_write_is_not() {
        let dir = std::env::temp_dir().join(format!("anyipc-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a"), b"1").unwrap();
        let mut watcher = DirWatcher::new(&dir, Duration::from_secs(3600));
        assert!(matches!(watcher.kind, Kind::Inotify(_)));
        watcher.reset();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("a"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"2"))
            .unwrap();
        std::future::poll_fn(|cx| watcher.poll_changed(cx))
            .await
            .unwrap();
        std::future::poll_fn(|cx| Poll::Ready(watcher.drain_deferred(cx)))
            .await
            .unwrap();
        assert!(!watcher.new_entry());
        std::fs::write(dir.join("b"), b"3").unwrap();
        std::future::poll_fn(|cx| watcher.poll_changed(cx))
            .await
            .unwrap();
        std::future::poll_fn(|cx| Poll::Ready(watcher.drain_deferred(cx)))
            .await
            .unwrap();
        assert!(watcher.new_entry());
        watcher.reset();
        assert!(!watcher.new_entry());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_wake_up_leaves_its_events_queued_and_no_change_is_missed() {
        use tokio::time::timeout;
        let dir = std::env::temp_dir().join(format!("anyipc-defer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut watcher = DirWatcher::new(&dir, Duration::from_secs(3600));
        watcher.reset();
        let quiet = Duration::from_millis(100);
        fn changed(w: &mut DirWatcher) -> impl std::future::Future<Output = io::Result<()>> + '_ {
            std::future::poll_fn(move |cx| w.poll_changed(cx))
        }
        fn drain(w: &mut DirWatcher) -> impl std::future::Future<Output = io::Result<()>> + '_ {
            std::future::poll_fn(move |cx| Poll::Ready(w.drain_deferred(cx)))
        }

        // After a reset the first report reads the queue first: the creation is known.
        std::fs::write(dir.join("a"), b"1").unwrap();
        changed(&mut watcher).await.unwrap();
        assert!(watcher.new_entry());
        assert!(!watcher.undrained);
        assert!(
            timeout(quiet, changed(&mut watcher)).await.is_err(),
            "nothing queued"
        );

        // Otherwise it reports at once and leaves the events queued until the drain.
        std::fs::write(dir.join("a"), b"2").unwrap();
        changed(&mut watcher).await.unwrap();
        assert!(watcher.undrained, "left queued");
        drain(&mut watcher).await.unwrap();
        assert!(!watcher.undrained);
        assert!(
            timeout(quiet, changed(&mut watcher)).await.is_err(),
            "drained: nothing to report"
        );

        // A change after the drain wakes the next wait.
        std::fs::write(dir.join("a"), b"2").unwrap();
        timeout(Duration::from_secs(5), changed(&mut watcher))
            .await
            .unwrap()
            .unwrap();

        // Polled again without a drain, it reads the events itself (one more report), then
        // waits.
        timeout(Duration::from_secs(5), changed(&mut watcher))
            .await
            .unwrap()
            .unwrap();
        assert!(timeout(quiet, changed(&mut watcher)).await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
