//! `mem://name`: the in-process twin of the connection transports.
//!
//! Same API, same semantics (ordered, duplex, back-pressure at `capacity` messages, the peer
//! closing ends the stream, oversize messages refused), no system call: a test can swap
//! `shm://x` for `mem://x` and keep the rest of its code. Names live in a registry in this
//! process; other processes cannot see them.
//!
//! ```
//! use std::io::ErrorKind;
//! # tokio_test::block_on(async {
//! let mut listener = anyipc::bind("mem://doc-mem-module").await?;
//! let mut client = anyipc::connect("mem://doc-mem-module").await?;
//! let mut server = listener.accept().await?;
//! client.send("in process").await?;
//! assert_eq!(server.recv().await?.unwrap(), "in process");
//! // One listener per name in this process.
//! let err = anyipc::bind("mem://doc-mem-module").await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::AddrInUse);
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```
//!
//! # Listening
//!
//! The [`Listener`](crate::Listener) that [`bind`](crate::bind) returns for `mem://name`
//! holds the name: dropping it frees the name; connections already made live on.
//!
//! ```
//! use std::io::ErrorKind;
//! # tokio_test::block_on(async {
//! let mut listener = anyipc::bind("mem://doc-mem-listener").await?;
//! let mut client = anyipc::connect("mem://doc-mem-listener").await?;
//! let mut server = listener.accept().await?;
//! drop(listener);
//! client.send("still connected").await?;
//! assert_eq!(server.recv().await?.unwrap(), "still connected");
//! let err = anyipc::connect("mem://doc-mem-listener").await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::NotFound);
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```

mod mem_channel;
mod mem_listener;
mod registry;

pub(crate) use mem_channel::MemChannel;
pub(crate) use mem_listener::MemListener;

use crate::transport::{AnyChannel, Connection};
use crate::Endpoint;
use std::io;

/// Messages a direction holds before the sender waits, unless `capacity=` says otherwise.
const DEFAULT_CAPACITY: usize = 1024;

/// The largest `capacity=` (messages per direction): within what tokio's channel takes on
/// every platform (`Semaphore::MAX_PERMITS`, 2^29 - 1 on 32-bit systems).
pub(crate) const MAX_CAPACITY: usize = 1 << 28;

/// The `capacity=` option (messages per direction).
///
/// The URL refuses 0 (a direction that holds no message could never send) and more than
/// tokio's channel takes.
fn capacity(endpoint: &Endpoint) -> usize {
    endpoint
        .usize_option("capacity")
        .unwrap_or(DEFAULT_CAPACITY)
}

/// Connects to the `mem://` listener of that name in this process.
pub(crate) async fn connect(endpoint: &Endpoint) -> io::Result<Connection> {
    let name = endpoint.name().unwrap_or_default();
    let (client, server) = MemChannel::pair(capacity(endpoint), endpoint.max_frame());
    let id = registry::deliver(name, server).await?;
    Ok(Connection::from_channel(
        AnyChannel::Mem(client),
        endpoint,
        format!("mem listener {name} (connection {id})"),
    ))
}

#[cfg(test)]
mod tests {
    /// `capacity` counts messages: at least one (a direction that holds none could never
    /// send), and not a size.
    #[tokio::test]
    async fn a_capacity_of_zero_or_a_size_is_refused() {
        let _listener = crate::bind("mem://unit-capacity-zero").await.unwrap();
        for bad in ["0", "2k", "64KiB"] {
            let url = format!("mem://unit-capacity-zero?capacity={bad}");
            let err = crate::connect(url.as_str()).await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad}: {err}");
        }
        assert!(crate::connect("mem://unit-capacity-zero?capacity=1")
            .await
            .is_ok());
    }
}
