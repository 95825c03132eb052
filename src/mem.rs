//! `mem://name`: the in-process twin of the connection transports.
//!
//! Same API, same semantics (ordered, duplex, back-pressure at `capacity` messages, the peer
//! closing ends the stream, oversize messages refused), no system call: a test can swap
//! `shm://x` for `mem://x` and keep the rest of its code. Names live in a registry in this
//! process; other processes cannot see them.

mod mem_channel;
mod mem_listener;
mod registry;

pub(crate) use mem_channel::MemChannel;
pub use mem_listener::MemListener;

use crate::transport::{AnyChannel, Connection};
use crate::Endpoint;
use std::io;

/// Messages a direction holds before the sender waits, unless `capacity=` says otherwise.
const DEFAULT_CAPACITY: usize = 1024;

fn capacity(endpoint: &Endpoint) -> usize {
    endpoint
        .size_option("capacity")
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
        .unwrap_or(DEFAULT_CAPACITY)
        .clamp(1, tokio::sync::Semaphore::MAX_PERMITS)
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
