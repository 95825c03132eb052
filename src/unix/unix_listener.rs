use super::{credentials, socket_path, stream_connection};
use crate::sys::{self, FileIdentity};
use crate::transport::Connection;
use crate::{Address, Endpoint};
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::task::{ready, Context, Poll};

/// A bound Unix socket. Dropping it removes its socket file (if the file is still its own).
#[derive(Debug)]
pub struct UnixListener {
    listener: tokio::net::UnixListener,
    /// The socket file and its identity, for removal on drop (none for abstract names).
    file: Option<(PathBuf, FileIdentity)>,
    allow_uids: Option<Vec<u32>>,
}

impl UnixListener {
    /// Binds, reclaiming the socket file of a dead server.
    pub(crate) async fn bind(endpoint: &Endpoint) -> io::Result<UnixListener> {
        let allow_uids = endpoint.uid_list_option("allow_uids").map(<[u32]>::to_vec);
        let (listener, file) = match endpoint.address() {
            Address::Path(path) => {
                reclaim_if_stale(endpoint, path).await?;
                let std_listener =
                    sys::bind_owner_only(path, endpoint.mode_option()).map_err(|e| {
                        if e.kind() == io::ErrorKind::AlreadyExists {
                            io::Error::new(
                                io::ErrorKind::AddrInUse,
                                format!("{endpoint}: another server bound it first"),
                            )
                        } else {
                            io::Error::new(e.kind(), format!("{endpoint}: {e}"))
                        }
                    })?;
                std_listener.set_nonblocking(true)?;
                let identity = sys::file_identity(path)?;
                (
                    tokio::net::UnixListener::from_std(std_listener)?,
                    Some((path.clone(), identity)),
                )
            }
            _ => (
                tokio::net::UnixListener::bind(socket_path(endpoint)?)?,
                None,
            ),
        };
        Ok(UnixListener {
            listener,
            file,
            allow_uids,
        })
    }

    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
        endpoint: &Endpoint,
    ) -> Poll<io::Result<Connection>> {
        loop {
            let (stream, _) = ready!(self.listener.poll_accept(cx))?;
            let credentials = credentials(&stream);
            if let Some(allowed) = &self.allow_uids {
                let uid = credentials.map(|c| c.uid);
                if !uid.is_some_and(|uid| allowed.contains(&uid)) {
                    tracing::warn!(endpoint = %endpoint, ?uid, "refused a client not in allow_uids");
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

/// Removes the socket file at `path` if no server answers on it; refuses anything that is not
/// a socket and any socket a live server holds.
async fn reclaim_if_stale(endpoint: &Endpoint, path: &Path) -> io::Result<()> {
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
    match tokio::net::UnixStream::connect(path).await {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{endpoint}: a live server is listening there"),
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::debug!(endpoint = %endpoint, "reclaiming the socket of a dead server");
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        }
        Err(e) => Err(io::Error::new(e.kind(), format!("{endpoint}: {e}"))),
    }
}

impl Drop for UnixListener {
    fn drop(&mut self) {
        if let Some((path, identity)) = &self.file {
            if sys::file_identity(path).ok() == Some(*identity) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}
