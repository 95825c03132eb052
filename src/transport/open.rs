//! `connect` and `bind`: choosing the backend by scheme.

use super::listener::AnyListener;
use super::{unsupported, Connection, Listener};
use crate::{Endpoint, Scheme, ToEndpoint};
use std::future::Future;
use std::io;

/// Connects to an endpoint.
///
/// ```
/// # tokio_test::block_on(async {
/// let mut listener = anyipc::bind("tcp://127.0.0.1:0").await?;
/// let url = format!("{}?connect_timeout=2s", listener.endpoint());
/// let mut conn = anyipc::connect(&url).await?;
/// conn.send("hello").await?;
/// assert_eq!(listener.accept().await?.recv().await?.unwrap(), "hello");
///
/// let err = anyipc::connect("mem://doc-connect-nobody").await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// `InvalidInput` for a malformed URL or port 0 of `tcp://` or `udp://`, which only binding
/// takes (the [`EndpointParseError`](crate::EndpointParseError) inside); `NotFound` or
/// `ConnectionRefused` when nothing listens; `TimedOut` past `connect_timeout`, or when the
/// resolver cannot answer for a `tcp://` or `udp://` host name for now ("Temporary failure
/// in name resolution": a later try may succeed, while a name that does not exist is
/// `NotFound`); `Unsupported` for a scheme this platform lacks. An error the OS gave keeps
/// its code for [`raw_os_error`](crate::raw_os_error).
///
/// # Cancel safety
/// Cancel safe: dropping the future abandons the attempt.
pub async fn connect(endpoint: impl ToEndpoint) -> io::Result<Connection> {
    let endpoint = endpoint.to_endpoint()?;
    let conn = with_timeout(&endpoint, connect_endpoint(&endpoint)).await?;
    tracing::debug!(endpoint = %endpoint, peer = %conn.peer_addr(), "connected");
    Ok(conn)
}

/// Binds an endpoint, ready to [`accept`](Listener::accept) connections.
///
/// ```
/// # tokio_test::block_on(async {
/// let listener = anyipc::bind("udp://127.0.0.1:0").await?;
/// assert_ne!(listener.endpoint().to_string(), "udp://127.0.0.1:0");
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// `InvalidInput` for a malformed URL; `AddrInUse` when a live listener holds the endpoint;
/// `NotFound` or `TimedOut` for a host name, as [`connect`] says;
/// `Unsupported` for a scheme this platform lacks, and for `stdio://` (a child connects to
/// its parent; nothing is bound); other OS errors as they come.
///
/// # Cancel safety
/// Cancel safe.
pub async fn bind(endpoint: impl ToEndpoint) -> io::Result<Listener> {
    let endpoint = endpoint.to_endpoint()?;
    let (inner, bound) = match endpoint.scheme() {
        Scheme::Tcp => {
            let (l, bound) = crate::tcp::TcpListener::bind(&endpoint).await?;
            (AnyListener::Tcp(l), bound)
        }
        Scheme::Udp => {
            let (l, bound) = crate::udp::UdpListener::bind(&endpoint).await?;
            (AnyListener::Udp(l), bound)
        }
        #[cfg(unix)]
        Scheme::Unix => (
            AnyListener::Unix(crate::unix::UnixListener::bind(&endpoint).await?),
            endpoint.clone(),
        ),
        #[cfg(target_os = "linux")]
        Scheme::Shm => (
            AnyListener::Shm(crate::shm::ShmListener::bind(&endpoint).await?),
            endpoint.clone(),
        ),
        Scheme::Mem => (
            AnyListener::Mem(crate::mem::MemListener::bind(&endpoint)?),
            endpoint.clone(),
        ),
        Scheme::File => (
            AnyListener::File(crate::file::bind(&endpoint).await?),
            endpoint.clone(),
        ),
        // A queue has no connections: bind opens it like connect; see QueueListener.
        Scheme::Mq => (
            AnyListener::Mq(crate::queue::QueueListener::bind(&endpoint)?),
            endpoint.clone(),
        ),
        Scheme::Pipe => (
            AnyListener::Pipe(crate::pipe::PipeListener::bind(&endpoint)?),
            endpoint.clone(),
        ),
        #[cfg(unix)]
        Scheme::Fifo => (
            AnyListener::Fifo(crate::fifo::FifoListener::bind(&endpoint).await?),
            endpoint.clone(),
        ),
        Scheme::Stdio => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "stdio:// cannot be bound: a child process connects to its parent with \
                 connect(\"stdio://\") (anyipc::child::connect_parent), and the parent starts it \
                 with anyipc::child::spawn",
            ))
        }
        // Off Linux: a scheme this platform lacks (shm://; unix:// and fifo:// on Windows).
        #[cfg(not(target_os = "linux"))]
        scheme => return Err(unsupported(scheme, "bind")),
    };
    Ok(Listener::new(inner, bound))
}

async fn connect_endpoint(endpoint: &Endpoint) -> io::Result<Connection> {
    match endpoint.scheme() {
        Scheme::Tcp => crate::tcp::connect(endpoint).await,
        Scheme::Udp => crate::udp::connect(endpoint).await,
        #[cfg(unix)]
        Scheme::Unix => crate::unix::connect(endpoint).await,
        #[cfg(target_os = "linux")]
        Scheme::Shm => crate::shm::connect(endpoint).await,
        Scheme::Mem => crate::mem::connect(endpoint).await,
        Scheme::File => crate::file::connect(endpoint).await,
        Scheme::Mq => crate::queue::connect(endpoint).await,
        Scheme::Pipe => crate::pipe::connect(endpoint).await,
        #[cfg(unix)]
        Scheme::Fifo => crate::fifo::connect(endpoint).await,
        #[cfg(unix)]
        Scheme::Stdio => crate::child::connect(endpoint).await,
        // Every scheme has an arm on Linux; elsewhere some (shm, stdio, fifo) do not.
        #[allow(unreachable_patterns)]
        scheme => Err(unsupported(scheme, "connect")),
    }
}

async fn with_timeout<T>(
    endpoint: &Endpoint,
    attempt: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match endpoint.duration_option("connect_timeout") {
        None => attempt.await,
        Some(limit) => tokio::time::timeout(limit, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "connecting to {endpoint} took longer than connect_timeout ({limit:?})"
                    ),
                ))
            }),
    }
}
