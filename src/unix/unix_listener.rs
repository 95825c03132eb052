use super::{credentials, socket_path, stream_connection};
use crate::released::{self, Released};
use crate::sys::{self, FileIdentity, SocketProbe};
use crate::transport::Connection;
use crate::{Address, Endpoint};
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::task::{ready, Context, Poll};

/// The `unix://` listener inside the [`Listener`](crate::Listener) that [`bind`](crate::bind)
/// returns; the module documentation says how it behaves.
#[derive(Debug)]
pub(crate) struct UnixListener {
    /// With its socket file, removed on drop (none for abstract names).
    listener: sys::LinkedSocket,
    allow_uids: Option<Vec<u32>>,
    /// The socket path of an abstract name, recorded as released on drop.
    abstract_path: Option<PathBuf>,
}

impl Drop for UnixListener {
    /// A bind of the same name right after this may find it still held by a forked child's
    /// copy of the socket: it waits for that ([`released`]).
    fn drop(&mut self) {
        if let Some(path) = self.abstract_path.take() {
            released::record_release(Released::UnixName(path));
        }
    }
}

impl UnixListener {
    /// Binds, reclaiming the socket file of a dead server.
    pub(crate) async fn bind(endpoint: &Endpoint) -> io::Result<UnixListener> {
        let allow_uids = endpoint.uid_list_option("allow_uids").map(<[u32]>::to_vec);
        let mut abstract_path = None;
        let listener = match endpoint.address() {
            Address::Path(path) => {
                // Another binder of this path must not see a dead server's socket between our
                // check and our bind (it would remove our new socket as the dead one, bind its
                // own, and both binds would succeed, ours unreachable): binders of a path take
                // turns, on the lock of its directory, from the check until the socket is in
                // place. A live server's socket cannot look dead meanwhile: it listens from
                // before its file is linked.
                super::check_path_len(endpoint, path)?;
                let _lock = sys::lock_parent_dir_async(path).await;
                reclaim_if_stale(endpoint, path)?;
                sys::LinkedSocket::bind(path, endpoint.mode_option()).map_err(|e| {
                    if e.kind() == io::ErrorKind::AlreadyExists {
                        crate::error::with_context(
                            io::ErrorKind::AddrInUse,
                            format!("{endpoint}: another server bound it first"),
                            e,
                        )
                    } else {
                        endpoint.error(e)
                    }
                })?
            }
            _ => {
                let path = socket_path(endpoint)?;
                let listener = bind_abstract(endpoint, &path).await?;
                abstract_path = Some(path);
                listener
            }
        };
        Ok(UnixListener {
            listener,
            allow_uids,
            abstract_path,
        })
    }

    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
        endpoint: &Endpoint,
    ) -> Poll<io::Result<Connection>> {
        loop {
            let accepted = ready!(self.listener.poll_accept(cx));
            let Some((stream, _)) = sys::skip_one_clients_failure(accepted)? else {
                continue;
            };
            let credentials = credentials(&stream);
            if let Some(allowed) = &self.allow_uids {
                let uid = credentials.map(|c| c.uid);
                if !uid.is_some_and(|uid| allowed.contains(&uid)) {
                    tracing::warn!(endpoint = %endpoint, uid = %uid.map_or_else(|| "unknown".to_owned(), |u| u.to_string()), "refused a client not in allow_uids");
                    continue;
                }
            }
            let peer = match credentials.and_then(|c| c.pid) {
                Some(pid) => format!("unix client pid {pid}"),
                None => "unix client".to_owned(),
            };
            return Poll::Ready(Ok(stream_connection(stream, endpoint, peer, credentials)));
        }
    }
}

/// Binds a Linux abstract name (`unix://@name`, at socket path `path`). It has no file, so
/// no permissions: an endpoint with `mode=` was refused when its URL was parsed.
///
/// A name this process released just now may still be held by a forked child's copy of the
/// old socket: refused, it is tried again (pauses of 1 ms doubling to 10 ms) until the
/// release's grace ends ([`released`]).
async fn bind_abstract(endpoint: &Endpoint, path: &Path) -> io::Result<sys::LinkedSocket> {
    let name = Released::UnixName(path.to_owned());
    match released::bind_retrying(&name, || tokio::net::UnixListener::bind(path)).await {
        Ok(listener) => Ok(sys::LinkedSocket::unlinked(listener)),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(crate::error::with_context(
            e.kind(),
            format!("{endpoint}: a live server holds this abstract name"),
            e,
        )),
        Err(e) => Err(endpoint.error(e)),
    }
}

/// Removes the socket file at `path` if no server answers on it; refuses anything that is not
/// a socket and any socket a live server holds. Called under the directory lock.
fn reclaim_if_stale(endpoint: &Endpoint, path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{endpoint}: the path exists and is not a socket; refusing to replace it"),
        ));
    }
    let live = || {
        io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{endpoint}: a live server is listening there"),
        )
    };
    match sys::probe_socket(path) {
        SocketProbe::Live => Err(live()),
        SocketProbe::Dead => {
            tracing::debug!(endpoint = %endpoint, "reclaiming the socket of a dead server");
            // Only the socket just probed: whatever replaced it since is left alone, and
            // refused as someone else's.
            let removed = sys::remove_if_identical(path, FileIdentity::of(&meta))
                .map_err(|e| not_ours(endpoint, "cannot be removed", e))?;
            if removed {
                return Ok(());
            }
            match std::fs::symlink_metadata(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                _ => Err(live()),
            }
        }
        // Removed between the look and the probe: nothing to reclaim.
        SocketProbe::Gone => Ok(()),
        // Another user's socket (0600): whether its server lives cannot be told, and it is
        // not ours to replace.
        SocketProbe::Failed(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            Err(not_ours(endpoint, "is a socket we may not connect to", e))
        }
        SocketProbe::Failed(e) => Err(endpoint.error(e)),
    }
}

/// `AlreadyExists` for a socket at the endpoint's path that this process may not take over
/// (another user's), saying `why`, with the OS's error `e` inside.
fn not_ours(endpoint: &Endpoint, why: &str, e: io::Error) -> io::Error {
    if e.kind() != io::ErrorKind::PermissionDenied {
        return endpoint.error(e);
    }
    crate::error::with_context(
        io::ErrorKind::AlreadyExists,
        format!("{endpoint}: the socket there {why} (another user's?): {e}"),
        e,
    )
}
