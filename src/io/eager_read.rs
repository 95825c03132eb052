//! Reading a pipe without tokio's guess that a short read emptied it.
//!
//! tokio's `poll_read` on a socket or pipe gives up the resource's readiness whenever a read
//! fills less than the buffer, taking it as drained: the next read then waits for the
//! reactor (an `epoll_wait` and a trip through the scheduler) even when more bytes came
//! meanwhile. A [`Connection`](crate::Connection) reads into a 64 KiB buffer, so on a pipe
//! that a writer keeps filling almost every read is short. [`poll_read_eagerly`] gives the
//! readiness up only when a read finds nothing (`WouldBlock`): one more read, that comes back
//! empty, when the pipe does go quiet.
//!
//! Measured on a `fifo://` reader (5 million 4 KiB messages, AMD host, 2026-12-06): 0.43
//! `epoll_wait`s and 0.03 context switches per message with tokio's `poll_read`, 0.03 and
//! 0.007 with this; throughput 0.83× its raw twin (median of nine runs) against 1.02×, round
//! trips level. Sockets (`tcp`, `unix`) and `child` pipes showed no difference either way
//! and keep tokio's `poll_read`.

use std::io;
use std::task::{ready, Context, Poll};
use tokio::io::ReadBuf;

/// Reads what is there into `buf`: waits with `poll_ready` until the resource is readable,
/// then reads with `try_read` (a tokio type's `try_read_buf`, which gives the readiness up
/// only when the read would block), again until a read does not block.
pub(crate) fn poll_read_eagerly(
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
    mut poll_ready: impl FnMut(&mut Context<'_>) -> Poll<io::Result<()>>,
    mut try_read: impl FnMut(&mut ReadBuf<'_>) -> io::Result<usize>,
) -> Poll<io::Result<()>> {
    loop {
        ready!(poll_ready(cx))?;
        match try_read(buf) {
            Ok(_) => return Poll::Ready(Ok(())),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}
