//! `pipe://name`: named local pipes that many clients reach by name, with an accept loop like
//! TCP's.
//!
//! ```
//! # #[cfg(unix)] {
//! use futures::{SinkExt, StreamExt};
//! # tokio_test::block_on(async {
//! # let pid = std::process::id();
//! # let url = format!("pipe://doc-pipe-module-{pid}");
//! # let me = {
//! #     // This process's uid: the owner of a file it creates.
//! #     let probe = std::env::temp_dir().join(format!("anyipc-doc-pipe-module-{pid}"));
//! #     std::fs::write(&probe, b"")?;
//! #     let uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&probe)?);
//! #     std::fs::remove_file(&probe)?;
//! #     uid
//! # };
//!
//! // Server (`url` is "pipe://<name>"): answer every client of this user.
//! let mut listener = anyipc::bind(format!("{url}?allow_uids={me}")).await?;
//! tokio::spawn(async move {
//!     while let Ok(mut conn) = listener.accept().await {
//!         tokio::spawn(async move {
//!             while let Some(Ok(msg)) = conn.next().await {
//!                 if conn.send(msg).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! });
//!
//! // Client, in this or another process.
//! let mut conn = anyipc::connect(&url).await?;
//! conn.send("hello").await?;
//! assert_eq!(conn.recv().await?.unwrap(), "hello");
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! # }
//! ```
//!
//! # Names
//! A name has 1 to 64 ASCII letters, digits, `.`, `_` or `-` and does not start with `.` or
//! `-` (the [endpoint name rules](crate::endpoint#names)); anything else is an
//! [`EndpointParseError`](crate::EndpointParseError) naming the rule. On Unix the socket path
//! must also fit a socket address (107 bytes), else binding or connecting is `InvalidInput`.
//!
//! # Peer credentials
//! [`Connection::peer_credentials`](crate::Connection::peer_credentials) gives the peer's
//! pid, uid and gid on Unix. The server option `allow_uids=1000,1001` drops clients of other
//! users as they are accepted, before a byte is read from them (the client sees end of stream).
//!
//! # One user's names
//! A `pipe://` name is reachable only by processes of the user who bound it. On Unix each
//! user's names live in that user's own runtime directory (below), which both sides refuse
//! unless it is theirs and 0700, and a client of another user looks for the name in its own
//! (`NotFound`); on Windows the pipe's default security descriptor admits that user, SYSTEM
//! and administrators only. So a `mode=` wider than 0600 lets no other user in, and
//! `allow_uids=` can only refuse, never admit, another user. For a server that other users
//! reach, bind `unix:///path` (with `mode=` and `allow_uids=`).
//!
//! # Errors
//! `AddrInUse` binding a name a live server holds; `NotFound` connecting to a name no server
//! holds; `PermissionDenied` when the runtime directory is not private (Unix); `AlreadyExists`
//! when something other than a socket sits at the name (Unix).
//!
//! # Platform-specific behavior
//! - **Unix**: a Unix stream socket `<dir>/<name>`, where `<dir>` is `$XDG_RUNTIME_DIR/anyipc`
//!   if `XDG_RUNTIME_DIR` is set, else `$TMPDIR/anyipc-<uid>` (`/tmp/anyipc-<uid>`). The
//!   directory is created 0700 and must be a real directory owned by the user with no group or
//!   other permissions, else it is refused; the socket is created 0600 (or `mode=`) whatever
//!   the umask. A live server holds a `flock` on `<dir>/.<name>.lock` (and writes its pid
//!   there, so that `anyipc ls` can say whose name a dead server left); a server killed with
//!   `kill -9` loses it, and the next bind reclaims the name. A live name is never taken
//!   over. Half-close works: closing a connection's sending side ends the peer's stream while
//!   it can still reply.
//! - **Windows**: the named pipe `\\.\pipe\<name>` (interprocess local sockets). Remote clients
//!   are rejected; the default security descriptor lets only the creating user, SYSTEM and
//!   administrators connect for reading and writing. Named pipes disappear with their last
//!   handle, so there is nothing stale to reclaim. Peer credentials are not reported, so
//!   `allow_uids` is refused at bind (`Unsupported`); `mode=` has no effect. A named pipe
//!   has no half-close: closing a connection closes it both ways (the peer's stream ends,
//!   and so does this side's; sends on either side then fail with `BrokenPipe`). Pipe names
//!   are one namespace for the whole machine: a process of another user that creates
//!   `\\.\pipe\<name>` first makes the bind fail (`AddrInUse`), and a client does not check
//!   whose server it reached, so clients would talk to that process. Where other users run
//!   untrusted code, choose names they cannot guess.
//!
//! On Unix, interprocess's local socket is a thin wrapper over the same tokio `UnixStream`,
//! but its shutdown is a no-op (no half-close) and its bind cannot create the socket
//! owner-only inside a checked directory, so Unix uses tokio's socket directly at the path
//! interprocess would have used.
//!
//! # Listening
//!
//! The [`Listener`](crate::Listener) that [`bind`](crate::bind) returns for `pipe://name`
//! holds the name: dropping it releases the name (on Unix, removes the socket file).
//!
//! ```
//! use std::io::ErrorKind;
//! # tokio_test::block_on(async {
//! let url = format!("pipe://doc-pipe-listener-{}", std::process::id());
//! let mut listener = anyipc::bind(&url).await?;
//! let mut client = anyipc::connect(&url).await?;
//! let mut server = listener.accept().await?;
//! client.send("hi").await?;
//! assert_eq!(server.recv().await?.unwrap(), "hi");
//! assert_eq!(anyipc::bind(&url).await.unwrap_err().kind(), ErrorKind::AddrInUse);
//! drop(listener);
//! assert_eq!(anyipc::connect(&url).await.unwrap_err().kind(), ErrorKind::NotFound);
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```

mod pipe_listener;

pub(crate) use pipe_listener::PipeListener;

use crate::transport::{AnyStream, Connection};
use crate::Endpoint;
use std::io;

/// The name of a `pipe://` endpoint.
fn pipe_name(endpoint: &Endpoint) -> io::Result<&str> {
    endpoint.name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{endpoint} has no pipe name"),
        )
    })
}

/// Connects to `pipe://name`.
pub(crate) async fn connect(endpoint: &Endpoint) -> io::Result<Connection> {
    let name = pipe_name(endpoint)?;
    let limit = endpoint.duration_option("connect_timeout");
    let (stream, credentials) = crate::sys::pipe_connect(name, limit).await?;
    let peer = crate::sys::pipe_location(name);
    Ok(Connection::from_stream(
        AnyStream::Pipe(stream),
        endpoint,
        peer,
        credentials,
    ))
}
