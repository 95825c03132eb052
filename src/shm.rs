//! Shared memory: named [`Region`]s, and `shm://name`, a duplex byte stream over shared
//! memory, the fastest way between two processes on one machine.
//!
//! A [`ShmListener`] binds the name: a Unix socket in a private per-user directory, used only
//! for each new client to hand over the connection's memory (a sealed memfd it created); the
//! connection's socket then serves as both sides' doorbell (a byte says "look at the rings")
//! and says when either side goes away. The bytes themselves never touch the socket: each
//! direction is a single-producer single-consumer ring in the shared mapping.
//!
//! # Shared-memory layout (one connection, one sealed memfd)
//!
//! ```text
//! offset        size  field                                  written by
//! 0             8     magic "anyipcS1"                       the client, which creates it
//! 8             4     layout version (1)                     the client
//! 12            4     data offset (4096)                     the client
//! 16            8     ring capacity C (power of two)         the client
//! 24            8     total length (4096 + 2C)               the client
//! 32            4     initialized = 1 (stored last, Release) the client
//! 64            128   ring 0 control: client → server        ┐ one cache line each:
//!                       [ 64.. 72) tail word                 │  tail, writer_parked: producer
//!                       [ 72.. 80) writer_parked             │  head, reader_parked: consumer
//!                       [128..136) head word                 │
//!                       [136..144) reader_parked             ┘
//! 192           128   ring 1 control: server → client        (same shape)
//! 4096          C     ring 0 data
//! 4096 + C      C     ring 1 data
//! ```
//!
//! An index word is `index << 32 | tag`: a wrapping 32-bit byte index and a keyed 32-bit tag
//! (the key travels over the socket, never through shared memory), so garbage over a control
//! word is detected; every index is read once and checked against the process-private
//! capacity before use. The memfd is sealed against shrinking and growing before the
//! listener sees it, and the listener checks the seals, size and header before mapping it:
//! no peer can make the other fault (SIGBUS) by truncating the memory.
//!
//! # Waiting
//!
//! The ring indices are the truth; a doorbell is rung only when the other side has said, in
//! its parked word, that it sleeps. A side with nothing to do spins for
//! [`DEFAULT_SPIN`] and then parks on the connection's socket through tokio's reactor (no
//! thread, no blocked worker); a side that its parked recheck wakes and that still finds
//! nothing to do parks again at once, without spinning, so an idle connection costs next
//! to no CPU (polled earlier, for its task's other business, it spins as usual: a reply
//! to a request just sent comes sooner than its doorbell). A ring is
//! one byte sent with `MSG_DONTWAIT` on the ringer's own end of the socket, so no peer can
//! make it block (a full socket buffer means the bell already rings). With `busy_poll=true` it never parks, yielding to other tasks between
//! spins. In both modes a side that has spun 10 µs calls `sched_yield` every 64 checks, so a
//! peer waiting for its CPU (more runnable processes than CPUs) is not kept off it. While
//! both sides are busy no system call is made per message; a wait of more than 10 µs makes
//! a few. Peer death is seen on the same socket (end of stream), independently of the
//! rings.
//!
//! Linux only; elsewhere `shm://` is `Unsupported`.

mod handshake;
mod region;
mod region_files;
mod region_info;
mod ring;
mod segment;
mod shm_listener;
mod shm_stream;
mod wakers;

#[cfg(test)]
mod tests;

pub use region::Region;
pub use region_info::{RegionInfo, RegionState};
/// The largest ring, for the option table's bound on `capacity=` (checked by a test).
#[cfg(test)]
pub(crate) use ring::MAX_CAPACITY as MAX_RING_CAPACITY;
pub use shm_listener::ShmListener;
pub use shm_stream::{ShmStream, DEFAULT_SPIN};

use crate::transport::{AnyStream, Connection};
use crate::Endpoint;
use std::io;
use std::path::PathBuf;

/// The rendezvous socket of `shm://name`.
fn socket_path(endpoint: &Endpoint) -> io::Result<PathBuf> {
    let name = shm_listener::shm_name(endpoint)?;
    Ok(crate::sys::shm::private_dir()?.join(format!("shm-{name}.sock")))
}

/// Connects to `shm://name` as a [`Connection`].
pub(crate) async fn connect(endpoint: &Endpoint) -> io::Result<Connection> {
    let stream = ShmStream::connect(endpoint).await?;
    let credentials = stream.peer_credentials();
    let peer = match credentials.and_then(|c| c.pid) {
        Some(pid) => format!("shm server pid {pid}"),
        None => "shm server".to_owned(),
    };
    Ok(Connection::from_stream(
        AnyStream::Shm(Box::new(stream)),
        endpoint,
        peer,
        credentials,
    ))
}
