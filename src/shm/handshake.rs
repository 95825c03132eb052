//! The rendezvous message: a new client hands the listener its segment.
//!
//! One message on the rendezvous socket, client → server: 24 bytes
//! (`"anyipcH1"`, layout version u32, ring capacity u32, connection key u64, little-endian) with
//! one descriptor attached (SCM_RIGHTS): the sealed memfd. After it, the socket is each side's
//! doorbell: a byte from the peer says "look at the rings" (the byte's value means nothing),
//! and its end of stream says the peer is gone. (Until 2026-12-03 a client also passed two
//! eventfds as doorbells; an eventfd's blocking flag belongs to the open file description
//! both processes share, so a hostile peer could make the other side's next ring or drain
//! block its thread. Each end of a socket is its own.)

use super::segment::VERSION;
use crate::sys;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use tokio::io::Interest;
use tokio::net::UnixStream;

const MAGIC: &[u8; 8] = b"anyipcH1";
const LEN: usize = 24;
const FDS: usize = 1;

/// What a new client tells the listener besides the descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hello {
    pub(crate) capacity: u32,
    /// The secret that tags this connection's ring indices; never stored in shared memory.
    pub(crate) key: u64,
}

impl Hello {
    fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&self.capacity.to_le_bytes());
        out[16..24].copy_from_slice(&self.key.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> io::Result<Hello> {
        let invalid = |msg: String| {
            io::Error::new(io::ErrorKind::InvalidData, format!("shm handshake: {msg}"))
        };
        if bytes.len() != LEN || &bytes[..8] != MAGIC {
            return Err(invalid("not an anyipc shm listener".to_owned()));
        }
        let field = |range: std::ops::Range<usize>| -> [u8; 4] {
            bytes[range].try_into().expect("4 bytes")
        };
        let version = u32::from_le_bytes(field(8..12));
        if version != VERSION {
            return Err(invalid(format!(
                "layout version {version}, this build speaks {VERSION}"
            )));
        }
        Ok(Hello {
            capacity: u32::from_le_bytes(field(12..16)),
            key: u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")),
        })
    }
}

/// Sends `hello` with `fds` (`[memfd]`) on a freshly
/// connected socket: its buffer is empty, so the small message goes whole.
pub(crate) async fn send(
    socket: &UnixStream,
    hello: &Hello,
    fds: &[BorrowedFd<'_>],
) -> io::Result<()> {
    let bytes = hello.encode();
    let sent = socket
        .async_io(Interest::WRITABLE, || {
            sys::shm::send_with_fds(socket.as_fd(), &bytes, fds)
        })
        .await?;
    if sent != LEN {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "shm handshake: short send",
        ));
    }
    Ok(())
}

/// Waits for a client's hello and its descriptor: `[memfd]`.
pub(crate) async fn receive(socket: &UnixStream) -> io::Result<(Hello, [OwnedFd; FDS])> {
    let mut buf = [0u8; LEN + 1];
    let (n, fds) = socket
        .async_io(Interest::READABLE, || {
            sys::shm::recv_with_fds(socket.as_fd(), &mut buf)
        })
        .await?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "shm handshake: the client closed the connection",
        ));
    }
    let hello = Hello::decode(&buf[..n])?;
    let count = fds.len();
    let fds: [OwnedFd; FDS] = fds.try_into().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("shm handshake: {count} descriptors, expected {FDS}"),
        )
    })?;
    Ok((hello, fds))
}
