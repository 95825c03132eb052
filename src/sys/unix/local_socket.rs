//! `pipe://name` on Unix: a Unix stream socket in a private per-user runtime directory.
//!
//! The directory is `$XDG_RUNTIME_DIR/anyipc` when `XDG_RUNTIME_DIR` is an absolute path, else
//! `$TMPDIR/anyipc-<uid>` (`/tmp` without `TMPDIR`). Either way it must be a real directory (not
//! a symlink) owned by this user with no group or other permissions, or nothing is bound or
//! connected there: a directory someone else could have created or can write to is refused.
//!
//! Ownership of a name is a `flock` on `.<name>.lock` beside the socket, held for the
//! listener's life (names never start with `.`, so no name's socket can be another name's lock
//! file). The kernel drops the lock when its holder dies (even by `kill -9`), so a taken lock
//! means a live server (`AddrInUse`). A free one means the socket left at the name is stale,
//! unless its lock file was deleted under a live server: before removing it, a connection
//! attempt that does not wait checks that no server answers ([`clear_dead_socket`]).

use super::{probe_socket, LinkedSocket, OwnerLock, SocketProbe, MAX_SOCKET_PATH};
use crate::PeerCredentials;
use std::future::Future;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::task::{ready, Context, Poll};
use std::time::Duration;

/// The byte stream of a `pipe://` connection on this OS.
pub(crate) type PipeStream = tokio::net::UnixStream;

/// Whether `pipe://` connections report the peer's user id (they do on Unix).
pub(crate) const PIPE_PEER_UIDS: bool = true;

/// The private per-user directory holding `pipe://` sockets, `shm://` rendezvous sockets and
/// the index of file logs; created (0700, whatever the umask) when `create` is set, and then,
/// when it exists with owner bits missing (`0600`, left by a `mkdir` under umask 177), given
/// them back ([`restore_owner_access`](crate::sys::restore_owner_access)).
///
/// # Errors
/// `PermissionDenied` when it exists but is not a directory owned by this user with mode
/// `0700` or stricter; `NotFound` when it does not exist and `create` is false.
pub(crate) fn runtime_dir(create: bool) -> io::Result<PathBuf> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(xdg) if xdg.is_absolute() => xdg.join("anyipc"),
        _ => std::env::temp_dir().join(format!("anyipc-{uid}")),
    };
    if create {
        crate::sys::create_private_dir(&dir).map_err(|e| {
            crate::error::with_context(
                e.kind(),
                format!("creating the runtime directory {}: {e}", dir.display()),
                e,
            )
        })?;
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| {
        crate::error::with_context(
            e.kind(),
            format!("the runtime directory {}: {e}", dir.display()),
            e,
        )
    })?;
    if !meta.file_type().is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the runtime directory {} must be a directory owned by uid {uid} with mode 0700 \
                 (found uid {}, mode {:04o}{}); refusing to use it",
                dir.display(),
                meta.uid(),
                meta.mode() & 0o7777,
                if meta.file_type().is_symlink() {
                    ", a symlink"
                } else {
                    ""
                },
            ),
        ));
    }
    if create {
        crate::sys::restore_owner_access(&dir, &meta)?;
    }
    Ok(dir)
}

/// The socket path of `pipe://name`.
fn socket_path(dir: &Path, name: &str) -> io::Result<PathBuf> {
    let path = dir.join(name);
    if path.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "pipe://{name}: the socket path {} is longer than the {MAX_SOCKET_PATH} bytes a \
                 Unix socket address holds; use a shorter name or XDG_RUNTIME_DIR",
                path.display()
            ),
        ));
    }
    Ok(path)
}

/// Where `pipe://name` lives on this OS, for messages and `peer_addr`.
pub(crate) fn pipe_location(name: &str) -> String {
    match runtime_dir(false) {
        Ok(dir) => dir.join(name).display().to_string(),
        Err(_) => format!("pipe://{name}"),
    }
}

/// Peer credentials of a connected Unix socket.
pub(crate) fn unix_peer_credentials(stream: &tokio::net::UnixStream) -> Option<PeerCredentials> {
    let cred = stream.peer_cred().ok()?;
    Some(PeerCredentials {
        pid: cred.pid().and_then(|pid| u32::try_from(pid).ok()),
        uid: cred.uid(),
        gid: cred.gid(),
    })
}

/// The first pause before connecting again to a socket whose accept queue was full.
const FULL_QUEUE_FIRST_PAUSE: Duration = Duration::from_millis(1);
/// The longest pause between such attempts (the pause doubles up to this).
const FULL_QUEUE_MAX_PAUSE: Duration = Duration::from_millis(50);
/// How long a connect waits for room in a full accept queue when no `connect_timeout` says.
const FULL_QUEUE_DEFAULT_LIMIT: Duration = Duration::from_secs(10);

/// Runs `attempt` until it returns anything but `WouldBlock`, pausing 1 ms, doubling to 50 ms,
/// between attempts; after `limit` it gives up with `TimedOut`.
async fn retry_while_would_block<T, F, Fut>(limit: Duration, mut attempt: F) -> io::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    use tokio::time::Instant;
    let deadline = Instant::now() + limit;
    let mut pause = FULL_QUEUE_FIRST_PAUSE;
    loop {
        let err = match attempt().await {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => e,
            done => return done,
        };
        if Instant::now() >= deadline {
            return Err(crate::error::with_context(
                io::ErrorKind::TimedOut,
                format!("the server's accept queue stayed full for {limit:?} ({err})"),
                err,
            ));
        }
        // One last attempt at the deadline rather than a pause past it.
        tokio::time::sleep_until((Instant::now() + pause).min(deadline)).await;
        pause = (pause * 2).min(FULL_QUEUE_MAX_PAUSE);
    }
}

/// Connects to the Unix socket at `path` (`unix://` and `pipe://`).
///
/// A full accept queue is a live server slow to accept, not a failure: a non-blocking connect
/// then fails with `EAGAIN` (`WouldBlock`; Linux), where a blocking one would wait. So does
/// this, retrying after 1 ms, doubling to 50 ms, until the server makes room or `limit` (by
/// default [`FULL_QUEUE_DEFAULT_LIMIT`]) passes (`TimedOut`): a server that stopped
/// accepting must not keep a connect waiting for ever. `connect`'s `connect_timeout` bounds
/// the wait in any case.
///
/// # Errors
/// `InvalidInput` for a path too long for a socket address (the message names it and the
/// limit, as binding's does); the OS's (`NotFound`, `ConnectionRefused`, …); `TimedOut` past
/// `limit`.
pub(crate) async fn connect_unix_socket(
    path: &Path,
    limit: Option<Duration>,
) -> io::Result<tokio::net::UnixStream> {
    super::check_socket_path_len(path)?;
    let limit = limit.unwrap_or(FULL_QUEUE_DEFAULT_LIMIT);
    retry_while_would_block(limit, || tokio::net::UnixStream::connect(path)).await
}

/// Connects to `pipe://name`.
///
/// # Errors
/// `NotFound` when no server holds the name; `PermissionDenied` for an unsafe directory.
pub(crate) async fn pipe_connect(
    name: &str,
    limit: Option<Duration>,
) -> io::Result<(PipeStream, Option<PeerCredentials>)> {
    let path = socket_path(&runtime_dir(false)?, name)?;
    // `limit` is the endpoint's connect_timeout (which `connect` also puts around the whole
    // attempt): it, or the default, bounds the wait for room in a full accept queue.
    match connect_unix_socket(&path, limit).await {
        Ok(stream) => {
            let credentials = unix_peer_credentials(&stream);
            Ok((stream, credentials))
        }
        // A socket file without a server behind it: nothing listens there.
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Err(crate::error::with_context(
            io::ErrorKind::NotFound,
            format!("pipe://{name}: no server is listening ({e})"),
            e,
        )),
        Err(e) => Err(crate::error::with_context(
            e.kind(),
            format!("pipe://{name}: {e}"),
            e,
        )),
    }
}

/// Removes the socket file a dead server left at `path`, for a binder of `endpoint` that
/// holds the name's lock at `lock_path`. Holding the lock proves the last owner gone, unless
/// the lock file was deleted under a live one (a tmp cleaner, a user's `rm`), or another
/// kind of name shares the path (`pipe://shm-x.sock` and `shm://x`): a server that answers
/// keeps its socket.
///
/// # Errors
/// `AddrInUse` when a server answers there; `AlreadyExists` when something other than a
/// socket is there.
pub(crate) fn clear_dead_socket(path: &Path, endpoint: &str, lock_path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(meta) if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) => {
            match probe_socket(path) {
                SocketProbe::Live => Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "{endpoint}: a live server answers at {} (its lock file {} is not \
                         held: removed, or the path is another name's)",
                        path.display(),
                        lock_path.display()
                    ),
                )),
                SocketProbe::Dead => {
                    tracing::debug!(endpoint, "reclaiming the socket of a dead server");
                    match std::fs::remove_file(path) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                        _ => Ok(()),
                    }
                }
                SocketProbe::Gone => Ok(()),
                SocketProbe::Failed(e) => Err(e),
            }
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{endpoint}: {} exists and is not a socket; refusing to replace it",
                path.display()
            ),
        )),
    }
}

/// A bound `pipe://` name: the listening socket, the lock that proves ownership, and the
/// paths to remove when it is dropped.
#[derive(Debug)]
pub(crate) struct PipeServer {
    /// With its socket file, removed on drop.
    listener: LinkedSocket,
    /// Held for the server's life; dropped last, after the socket file is gone.
    _lock: OwnerLock,
}

impl PipeServer {
    /// Binds `pipe://name` with socket permissions `mode`, reclaiming a dead server's name.
    ///
    /// # Errors
    /// `AddrInUse` when a live server holds the name; `PermissionDenied` for an unsafe
    /// directory; `AlreadyExists` when something other than a socket sits at the name.
    pub(crate) fn bind(name: &str, mode: u32) -> io::Result<PipeServer> {
        let dir = runtime_dir(true)?;
        let path = socket_path(&dir, name)?;
        let lock_path = dir.join(format!(".{name}.lock"));
        let lock = OwnerLock::acquire(&lock_path).map_err(|e| match e.kind() {
            io::ErrorKind::AddrInUse => io::Error::new(
                e.kind(),
                format!("pipe://{name}: a live server holds this name"),
            ),
            _ => e,
        })?;
        clear_dead_socket(&path, &format!("pipe://{name}"), &lock_path)?;
        let listener = LinkedSocket::bind(&path, mode).map_err(|e| {
            crate::error::with_context(
                e.kind(),
                format!("pipe://{name}: binding {}: {e}", path.display()),
                e,
            )
        })?;
        Ok(PipeServer {
            listener,
            _lock: lock,
        })
    }

    /// Polls for the next client and its credentials.
    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(PipeStream, Option<PeerCredentials>)>> {
        loop {
            let accepted = ready!(self.listener.poll_accept(cx));
            if let Some((stream, _)) = crate::sys::skip_one_clients_failure(accepted)? {
                let credentials = unix_peer_credentials(&stream);
                return Poll::Ready(Ok((stream, credentials)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn would_block() -> io::Error {
        io::Error::from(io::ErrorKind::WouldBlock)
    }

    /// Retries attempts that fail with `WouldBlock` `fails` times, then succeed with the
    /// attempt's number; returns that and the time taken (on tokio's paused clock, where the
    /// pauses are exact whatever the host's load).
    async fn retried_after(fails: u32) -> (u32, Duration) {
        let attempts = Cell::new(0u32);
        let started = tokio::time::Instant::now();
        let result = retry_while_would_block(FULL_QUEUE_DEFAULT_LIMIT, || {
            attempts.set(attempts.get() + 1);
            let n = attempts.get();
            async move {
                if n <= fails {
                    Err(would_block())
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        (result.unwrap(), started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn would_block_is_retried_with_a_growing_pause() {
        let (attempt, elapsed) = retried_after(5).await;
        assert_eq!(attempt, 6);
        // Pauses of 1, 2, 4, 8 and 16 ms between the six attempts.
        assert!(elapsed >= Duration::from_millis(31));
    }

    #[tokio::test(start_paused = true)]
    async fn the_pause_stops_doubling_at_50_ms() {
        // 1 + 2 + 4 + 8 + 16 + 32 + 50 + 50 ms: eight pauses before the ninth attempt.
        let (attempt, elapsed) = retried_after(8).await;
        assert_eq!(attempt, 9);
        assert!(elapsed >= Duration::from_millis(163), "{elapsed:?}");
        // Not 64 + 128 ms for the last two, as doubling without a cap would wait.
        assert!(elapsed < Duration::from_millis(163 + 140), "{elapsed:?}");
    }

    // On tokio's paused clock: the pauses are exact, whatever the host's load.
    #[tokio::test(start_paused = true)]
    async fn would_block_past_the_limit_is_timed_out() {
        let attempts = Cell::new(0u32);
        let started = tokio::time::Instant::now();
        let err = retry_while_would_block(Duration::from_millis(40), || {
            attempts.set(attempts.get() + 1);
            async { Err::<(), _>(would_block()) }
        })
        .await
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(started.elapsed() >= Duration::from_millis(40));
        assert!(attempts.get() >= 3, "only {} attempts", attempts.get());
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        for kind in [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::NotFound,
            io::ErrorKind::PermissionDenied,
        ] {
            let attempts = Cell::new(0u32);
            let err = retry_while_would_block(Duration::from_secs(5), || {
                attempts.set(attempts.get() + 1);
                async move { Err::<(), _>(io::Error::from(kind)) }
            })
            .await
            .unwrap_err();
            assert_eq!(err.kind(), kind);
            assert_eq!(attempts.get(), 1);
        }
    }
}
