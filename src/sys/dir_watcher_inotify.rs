//! Linux: [`DirWatcher`] on inotify, registered with tokio's reactor (no thread of its own,
//! no polling), falling back to polling when inotify is unavailable.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::time::Interval;

/// Wakes a task when something in a directory may have changed: a file in it was written,
/// created, moved in or closed after writing.
///
/// Readiness is level-style and may be spurious; the owner re-reads the files to see what
/// changed. Call [`drain`](DirWatcher::drain) *before* reading, then wait with
/// [`poll_changed`](DirWatcher::poll_changed): a change after the drain is never missed.
#[derive(Debug)]
pub(crate) enum DirWatcher {
    /// inotify descriptor watched by tokio's reactor.
    Inotify(AsyncFd<OwnedFd>),
    /// Checks on a timer (the fallback, and for tests of the fallback).
    Poll(Interval),
}

const EVENTS: u32 =
    libc::IN_MODIFY | libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE | libc::IN_ATTRIB;

impl DirWatcher {
    /// Watches `dir` with inotify; polls every `fallback` when inotify cannot be used (no
    /// more instances or watches, or a file system without it). Needs a tokio runtime.
    pub(crate) fn new(dir: &Path, fallback: Duration) -> DirWatcher {
        match inotify_watch(dir) {
            Ok(fd) => DirWatcher::Inotify(fd),
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
        if let DirWatcher::Inotify(fd) = self {
            while read_events(fd.get_ref()).unwrap_or(false) {}
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
            DirWatcher::Inotify(fd) => loop {
                let mut guard = ready!(fd.poll_read_ready(cx))?;
                match read_events(fd.get_ref()) {
                    Ok(true) => return Poll::Ready(Ok(())),
                    Ok(false) => guard.clear_ready(),
                    Err(e) => return Poll::Ready(Err(e)),
                }
            },
        }
    }
}

fn inotify_watch(dir: &Path) -> io::Result<AsyncFd<OwnedFd>> {
    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
    // SAFETY: inotify_init1 takes flags only and returns a new descriptor or -1.
    let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a descriptor we just opened and own exclusively.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: `fd` is a valid inotify descriptor and `path` a NUL-terminated string that
    // outlives the call.
    let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), EVENTS) };
    if wd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the AsyncFd owns `fd`, an open inotify descriptor that stays open and the
    // same until the AsyncFd drops it.
    let registered = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) };
    Ok(registered?)
}

/// Reads and discards queued events; `Ok(true)` if there were any, `Ok(false)` if none.
fn read_events(fd: &OwnedFd) -> io::Result<bool> {
    // Room for many events; each is 16 bytes plus a name.
    let mut buf = [0u8; 4096];
    let mut any = false;
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            any = true;
            continue;
        }
        if n == 0 {
            return Ok(any);
        }
        let err = io::Error::last_os_error();
        return match err.kind() {
            io::ErrorKind::WouldBlock => Ok(any),
            io::ErrorKind::Interrupted => continue,
            _ => Err(err),
        };
    }
}
