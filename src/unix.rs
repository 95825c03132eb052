//! `unix:///path` and `unix://@name`: Unix stream sockets.
//!
//! A listener's socket file is created with `mode` (default 0600) without a umask race, and
//! removed when the listener is dropped. Binding over the socket of a dead server reclaims it;
//! binding where a live server listens is `AddrInUse`; a path holding anything other than a
//! socket (a regular file, a symlink) is refused with `AlreadyExists`. Liveness is asked the
//! only way that works for any server, anyipc or not: by connecting. So a bind that finds a
//! live server reaches it as one connection that closes at once, without a byte (a server
//! that counts or serves one client sees it; `peer()` names the binding process). `@name` is a Linux
//! abstract name: no file, no permissions (anyone on the machine may connect), gone with the
//! listener; its URL with `mode=` is refused when parsed (`InvalidInput` with an
//! [`EndpointParseError`] inside, on connect as on bind), as a mode
//! could restrict nothing. `allow_uids=` refuses clients of other users at accept, on a path or a name.
//! A name this process's own listener held until less than a second ago is bound again even
//! if a child process forked meanwhile still holds the old socket (it does until it execs): the
//! bind waits for it, for up to that second, rather than failing with `AddrInUse` (a child
//! slower than that to exec still makes it fail). The wait needs tokio's time driver.
//!
//! Binders of one path are serialised (a lock on its directory, held for the few system
//! calls of the check, the reclaim and the bind), so of two racing for the same path, one wins
//! and the other gets `AddrInUse`. Connecting to a server whose accept queue is full waits
//! for room (up to `connect_timeout`, 10 s without one; then `TimedOut`) rather than
//! failing with `WouldBlock`.
//!
//! ```
//! use std::io::ErrorKind;
//! # tokio_test::block_on(async {
//! # let pid = std::process::id();
//! # #[cfg(target_os = "linux")] {
//! // An abstract name (Linux): nothing in the file system.
//! let url = format!("unix://@anyipc-doc-unix-module-{pid}");
//! let mut listener = anyipc::bind(&url).await?;
//! let mut client = anyipc::connect(&url).await?;
//! client.send("hello").await?;
//! assert_eq!(listener.accept().await?.recv().await?.unwrap(), "hello");
//! # }
//!
//! // A path holding something other than a socket is left alone.
//! let file = std::env::temp_dir().join(format!("anyipc-doc-unix-module-{pid}.txt"));
//! std::fs::write(&file, "not a socket")?;
//! let err = anyipc::bind(format!("unix://{}", file.display())).await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::AlreadyExists);
//! # std::fs::remove_file(&file)?;
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```
//!
//! # Listening
//!
//! The [`Listener`](crate::Listener) that [`bind`](crate::bind) returns for `unix://` holds
//! a bound Unix socket: dropping it removes its socket file (if the file is still its own).
//!
//! ```
//! use anyipc::{Endpoint, Scheme};
//! use std::io::ErrorKind;
//! # tokio_test::block_on(async {
//! # let dir = std::env::temp_dir()
//! #     .join(format!("anyipc-doc-unix-listener-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! let path = dir.join("server.sock");
//! // From the path itself, escaped as a URL needs (a `?` or `%` in it stays in the path).
//! let url = Endpoint::from_path(Scheme::Unix, &path)?;
//! let listener = anyipc::bind(&url).await?;
//! assert!(path.exists());
//! // A live server keeps its path.
//! assert_eq!(anyipc::bind(&url).await.unwrap_err().kind(), ErrorKind::AddrInUse);
//! drop(listener);
//! assert!(!path.exists());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```

mod unix_listener;

pub(crate) use unix_listener::UnixListener;

use crate::endpoint::ParseErrorKind;
use crate::transport::{AnyStream, Connection, PeerCredentials};
use crate::{Address, Endpoint, EndpointParseError};
use std::io;
use std::path::{Path, PathBuf};

/// The path tokio connects or binds to for this endpoint.
///
/// # Errors
/// As [`check_path_len`]; `InvalidInput` for an endpoint of another shape.
fn socket_path(endpoint: &Endpoint) -> io::Result<PathBuf> {
    match endpoint.address() {
        Address::Path(path) => {
            check_path_len(endpoint, path)?;
            Ok(path.clone())
        }
        Address::Abstract(name) => crate::sys::abstract_socket_path(name),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{endpoint} has no socket path"),
        )),
    }
}

/// Refuses a path too long for a socket address as a bad URL (`InvalidInput` with an
/// [`EndpointParseError`] inside): no socket can be bound or reached there.
///
/// # Errors
/// That error, naming the limit.
fn check_path_len(endpoint: &Endpoint, path: &Path) -> io::Result<()> {
    let Some(reason) = crate::sys::socket_path_too_long(path) else {
        return Ok(());
    };
    let kind = ParseErrorKind::InvalidAddress {
        scheme: endpoint.scheme(),
        reason,
    };
    Err(EndpointParseError::new(&endpoint.to_string(), kind).into())
}

fn credentials(stream: &tokio::net::UnixStream) -> Option<PeerCredentials> {
    let cred = stream.peer_cred().ok()?;
    Some(PeerCredentials {
        pid: cred.pid().and_then(|pid| u32::try_from(pid).ok()),
        uid: cred.uid(),
        gid: cred.gid(),
    })
}

fn stream_connection(
    stream: tokio::net::UnixStream,
    endpoint: &Endpoint,
    peer: String,
    credentials: Option<PeerCredentials>,
) -> Connection {
    Connection::from_stream(AnyStream::Unix(stream), endpoint, peer, credentials)
}

/// Connects to a Unix socket.
pub(crate) async fn connect(endpoint: &Endpoint) -> io::Result<Connection> {
    let limit = endpoint.duration_option("connect_timeout");
    let stream = crate::sys::connect_unix_socket(&socket_path(endpoint)?, limit)
        .await
        .map_err(|e| {
            // An abstract name has no file: refused means nothing is bound to that name, which
            // every other named endpoint reports as NotFound.
            let abstract_name = matches!(endpoint.address(), Address::Abstract(_));
            let kind = match e.kind() {
                io::ErrorKind::ConnectionRefused if abstract_name => io::ErrorKind::NotFound,
                kind => kind,
            };
            crate::error::with_context(kind, format!("{endpoint}: {e}"), e)
        })?;
    let credentials = credentials(&stream);
    let peer = endpoint.address().to_string();
    Ok(stream_connection(stream, endpoint, peer, credentials))
}
