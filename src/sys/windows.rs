//! Windows: `pipe://name` is the named pipe `\\.\pipe\<name>`, through interprocess.
//!
//! interprocess creates the first instance with `FILE_FLAG_FIRST_PIPE_INSTANCE` (so a live
//! server's name is never shared or stolen) and rejects remote clients. The pipe has the
//! default security descriptor: full control for SYSTEM, administrators and the creating user,
//! read-only for everyone else, so other users cannot open it for reading and writing. Named
//! pipes vanish with the last handle: a dead server leaves nothing to reclaim.

use super::PipeStream;
use crate::PeerCredentials;
use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::local_socket::traits::tokio::{Listener as _, Stream as _};
use interprocess::local_socket::{GenericNamespaced, ListenerOptions, ToNsName};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// Whether `pipe://` connections report the peer's user id (they do not on Windows).
pub(crate) const PIPE_PEER_UIDS: bool = false;

/// Records a `file://` log for `anyipc ls`: Unix keeps that index in its private runtime
/// directory; there is none here.
pub(crate) fn register_log(_dir: &std::path::Path) {}

/// Drops a removed log from the index `anyipc ls` reads: there is none here.
pub(crate) fn unregister_log(_canonical: &std::path::Path) {}

/// Nothing to do before a TCP listener is closed: children do not inherit its socket (std
/// creates sockets not inheritable), so no copy of it can keep its port listening.
pub(crate) fn stop_listening(_listener: &tokio::net::TcpListener) {}

/// Whether a failed `accept` was one waiting client's failure, not the listener's: the
/// client reset its connection before it was accepted (`WSAECONNRESET`). A `pipe://` client
/// that left before it was accepted (`ERROR_NO_DATA`) never fails the accept: mio (1.2) counts
/// the pipe instance as connected, so it is handed out as a connection that ends at once.
pub(crate) fn is_one_clients_failure(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Whether a write failed because this side had already shut its sending half down
/// (`WSAESHUTDOWN`, 10058, which std does not map to an `ErrorKind`): a send after the
/// connection's own close, which anyipc reports as `BrokenPipe` as on Unix (`EPIPE`).
pub(crate) fn is_write_after_shutdown(error: &io::Error) -> bool {
    const WSAESHUTDOWN: i32 = 10058;
    error.raw_os_error() == Some(WSAESHUTDOWN)
}

/// Where `pipe://name` lives on this OS.
pub(crate) fn pipe_location(name: &str) -> String {
    format!(r"\\.\pipe\{name}")
}

fn ns_name(name: &str) -> io::Result<interprocess::local_socket::Name<'_>> {
    name.to_ns_name::<GenericNamespaced>()
}

/// Connects to `pipe://name`. `_limit` (the endpoint's `connect_timeout`) bounds the wait
/// for a full accept queue on Unix; `connect` puts it around the whole attempt here.
///
/// # Errors
/// `NotFound` when no server holds the name.
pub(crate) async fn pipe_connect(
    name: &str,
    _limit: Option<std::time::Duration>,
) -> io::Result<(PipeStream, Option<PeerCredentials>)> {
    let stream = Stream::connect(ns_name(name)?)
        .await
        .map_err(|e| crate::error::with_context(e.kind(), format!("pipe://{name}: {e}"), e))?;
    Ok((PipeStream::new(stream), None))
}

type Accepting = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

/// A bound `pipe://` name.
pub(crate) struct PipeServer {
    listener: Arc<Listener>,
    accepting: Option<Accepting>,
}

impl PipeServer {
    /// Creates the named pipe. `mode` has no meaning on Windows.
    ///
    /// # Errors
    /// `AddrInUse` when a live server holds the name.
    pub(crate) fn bind(name: &str, _mode: u32) -> io::Result<PipeServer> {
        let listener = ListenerOptions::new()
            .name(ns_name(name)?)
            .create_tokio()
            .map_err(|e| {
                let kind = match e.kind() {
                    io::ErrorKind::PermissionDenied | io::ErrorKind::AddrInUse => {
                        io::ErrorKind::AddrInUse
                    }
                    other => other,
                };
                crate::error::with_context(kind, format!("pipe://{name}: {e}"), e)
            })?;
        Ok(PipeServer {
            listener: Arc::new(listener),
            accepting: None,
        })
    }

    /// Polls for the next client (credentials are not available).
    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(PipeStream, Option<PeerCredentials>)>> {
        let listener = &self.listener;
        let accepting = self.accepting.get_or_insert_with(|| {
            let listener = Arc::clone(listener);
            Box::pin(async move { listener.accept().await })
        });
        let result = ready!(accepting.as_mut().poll(cx));
        self.accepting = None;
        Poll::Ready(result.map(|stream| (PipeStream::new(stream), None)))
    }
}

impl fmt::Debug for PipeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeServer").finish_non_exhaustive()
    }
}

/// Interface names as IPv6 zones are not looked up here (`Unsupported`): give the
/// interface's index instead (`[fe80::1%2512]`).
pub(crate) fn interface_index(name: &str) -> io::Result<u32> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "the IPv6 zone `{name}` names an interface, which anyipc looks up on Unix only; \
             on Windows give the interface's index (`netsh interface ipv6 show interfaces`), \
             e.g. [fe80::1%2512]"
        ),
    ))
}

/// The addresses `host` resolves to, with `port` (tokio's `lookup_host`, which keeps
/// Windows' error code).
///
/// # Errors
/// `TimedOut` for `WSATRY_AGAIN` (11002: no name server answered, or one failed
/// temporarily), `NotFound` otherwise; the OS error stays inside.
pub(crate) async fn lookup_host(host: &str, port: u16) -> io::Result<Vec<std::net::SocketAddr>> {
    const WSATRY_AGAIN: i32 = 11002;
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => Ok(addrs.collect()),
        Err(e) => {
            let kind = match e.raw_os_error() {
                Some(WSATRY_AGAIN) => io::ErrorKind::TimedOut,
                _ => io::ErrorKind::NotFound,
            };
            Err(crate::error::with_context(kind, e.to_string(), e))
        }
    }
}
