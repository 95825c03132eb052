//! Physical limits printed beside the bench tables: what no transport can beat on this
//! machine.
//!
//! - [`memcpy_gib_per_sec`]: single-thread copy bandwidth for a message size (every byte
//!   stream transport copies each message at least twice: into the kernel and out).
//! - [`SpinPingPong`]: a round trip between two processes through one shared cache line with
//!   busy spinning, no system call and no sleeping: the floor of any cross-process round trip.

mod memcpy;
mod spin_ping_pong;

pub use memcpy::memcpy_gib_per_sec;
pub use spin_ping_pong::{spin_peer, SpinPingPong};
