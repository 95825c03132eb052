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
/// changed. Events stay queued until [`poll_changed`](DirWatcher::poll_changed) or
/// [`drain`](DirWatcher::drain) reads them, so a change after a read of the files is never
/// missed; draining before a read only saves a spurious wake-up.
/// [`new_entry`](DirWatcher::new_entry) tells whether the changes seen may include a new
/// file (so the owner lists the directory only then).
#[derive(Debug)]
pub(crate) struct DirWatcher {
    kind: Kind,
    /// A file may have been created or moved in since [`clear_new_entry`](Self::clear_new_entry).
    new_entry: bool,
}

#[derive(Debug)]
enum Kind {
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
            Ok(fd) => DirWatcher {
                kind: Kind::Inotify(fd),
                new_entry: true,
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
        }
    }

    /// Forgets the changes reported so far (without waiting), noting any new entry.
    pub(crate) fn drain(&mut self) {
        if let Kind::Inotify(fd) = &self.kind {
            // A short read takes everything queued; a full one may have left more.
            while let Ok(Some(events)) = read_events(fd.get_ref()) {
                self.new_entry |= events.new_entry;
                if events.all {
                    break;
                }
            }
        }
    }

    /// Whether a file may have been created or moved into the directory since
    /// [`clear_new_entry`](Self::clear_new_entry), among the changes drained or waited
    /// for. Always `true` when polling (which cannot tell).
    pub(crate) fn new_entry(&self) -> bool {
        self.new_entry || matches!(self.kind, Kind::Poll(_))
    }

    /// Forgets the new entries seen: call it just before listing the directory.
    pub(crate) fn clear_new_entry(&mut self) {
        self.new_entry = false;
    }

    /// Notes a possible new entry again (a listing that was planned did not happen).
    pub(crate) fn mark_new_entry(&mut self) {
        self.new_entry = true;
    }

    /// `Ready` when something may have changed since the last [`drain`](DirWatcher::drain).
    ///
    /// # Errors
    /// OS errors reading the inotify descriptor.
    pub(crate) fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.kind {
            Kind::Poll(interval) => {
                ready!(interval.poll_tick(cx));
                Poll::Ready(Ok(()))
            }
            Kind::Inotify(fd) => loop {
                let mut guard = ready!(fd.poll_read_ready(cx))?;
                match read_events(fd.get_ref()) {
                    Ok(Some(Events { new_entry, all })) => {
                        self.new_entry |= new_entry;
                        if all {
                            // A short read emptied the queue: the next event is a new edge
                            // (as tokio's own sockets do after a short read), so the next
                            // wait needs no `read` that would only say EAGAIN.
                            guard.clear_ready();
                        }
                        return Poll::Ready(Ok(()));
                    }
                    Ok(None) => guard.clear_ready(),
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

/// What one `read` of the inotify descriptor returned.
struct Events {
    /// One of them may be a new file.
    new_entry: bool,
    /// The read did not fill the buffer: the queue was empty after it.
    all: bool,
}

/// Reads one buffer of queued events; `Ok(None)` if there were none.
fn read_events(fd: &OwnedFd) -> io::Result<Option<Events>> {
    // Room for many events; each is 16 bytes plus a name (at most NAME_MAX + 1).
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if let Ok(n) = usize::try_from(n) {
            // Another event would have fitted unless fewer bytes than the longest one remain.
            let longest = 16 + 256;
            return Ok((n > 0).then(|| Events {
                new_entry: has_new_entry(&buf[..n]),
                all: n + longest <= buf.len(),
            }));
        }
        let err = io::Error::last_os_error();
        return match err.kind() {
            io::ErrorKind::WouldBlock => Ok(None),
            io::ErrorKind::Interrupted => continue,
            _ => Err(err),
        };
    }
}

/// Whether any event in `events` (as `read` returned them) may be a new file: created or
/// moved in, or events lost to an overflow. Stops (saying yes) at anything malformed.
fn has_new_entry(mut events: &[u8]) -> bool {
    const NEW: u32 = libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_Q_OVERFLOW;
    // struct inotify_event: i32 wd, u32 mask, u32 cookie, u32 len, then `len` name bytes.
    while !events.is_empty() {
        let word = |at: usize| {
            events
                .get(at..at + 4)
                .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        };
        let (Some(mask), Some(len)) = (word(4), word(12)) else {
            return true;
        };
        if mask & NEW != 0 {
            return true;
        }
        let Some(rest) = events.get(16 + len as usize..) else {
            return true;
        };
        events = rest;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(mask: u32, name: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend_from_slice(&1i32.to_ne_bytes());
        e.extend_from_slice(&mask.to_ne_bytes());
        e.extend_from_slice(&0u32.to_ne_bytes());
        e.extend_from_slice(&(name.len() as u32).to_ne_bytes());
        e.extend_from_slice(name);
        e
    }

    #[test]
    fn only_creations_moves_and_overflows_are_new_entries() {
        let mut modified = event(libc::IN_MODIFY, b"a.log\0\0\0");
        modified.extend(event(libc::IN_CLOSE_WRITE, b""));
        assert!(!has_new_entry(&modified));
        for mask in [libc::IN_CREATE, libc::IN_MOVED_TO, libc::IN_Q_OVERFLOW] {
            let mut events = modified.clone();
            events.extend(event(mask, b"b.log\0\0\0"));
            assert!(has_new_entry(&events), "mask {mask:#x}");
        }
        // A truncated event is not trusted.
        assert!(has_new_entry(&modified[..modified.len() - 3]));
    }

    #[tokio::test]
    async fn a_created_file_is_a_new_entry_and_a_write_is_not() {
        let dir = std::env::temp_dir().join(format!("anyipc-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a"), b"1").unwrap();
        let mut watcher = DirWatcher::new(&dir, Duration::from_secs(3600));
        assert!(matches!(watcher.kind, Kind::Inotify(_)));
        watcher.drain();
        watcher.clear_new_entry();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("a"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"2"))
            .unwrap();
        std::future::poll_fn(|cx| watcher.poll_changed(cx))
            .await
            .unwrap();
        assert!(!watcher.new_entry());
        std::fs::write(dir.join("b"), b"3").unwrap();
        std::future::poll_fn(|cx| watcher.poll_changed(cx))
            .await
            .unwrap();
        assert!(watcher.new_entry());
        watcher.clear_new_entry();
        assert!(!watcher.new_entry());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
