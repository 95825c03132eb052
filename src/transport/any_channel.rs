//! [`AnyChannel`]: every message backend behind one [`RecvMessage`] + [`SendMessage`].

use super::{RecvMessage, SendMessage};
use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A message channel of any backend. One match per poll; no boxing.
#[derive(Debug)]
pub(crate) enum AnyChannel {
    Udp(crate::udp::UdpChannel),
    Mem(crate::mem::MemChannel),
    #[cfg(unix)]
    Fifo(crate::fifo::FifoWriter),
    File(crate::file::FileChannel),
    Mq(crate::queue::QueueChannel),
}

macro_rules! dispatch {
    ($channel:expr, $c:ident => $body:expr) => {
        match $channel.get_mut() {
            AnyChannel::Udp($c) => $body,
            AnyChannel::Mem($c) => $body,
            #[cfg(unix)]
            AnyChannel::Fifo($c) => $body,
            AnyChannel::File($c) => $body,
            AnyChannel::Mq($c) => $body,
        }
    };
}

impl AnyChannel {
    /// A message that has arrived and been taken in already (a `file://` consumer's
    /// records read ahead), without any I/O; `None` when receiving needs the channel
    /// itself. The fast path of `Connection`'s stream, inlined into the caller's loop.
    #[inline(always)]
    pub(crate) fn next_ready(&mut self) -> Option<Bytes> {
        match self {
            AnyChannel::File(c) => c.next_ready(),
            _ => None,
        }
    }
}

impl RecvMessage for AnyChannel {
    #[inline]
    fn poll_recv(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        dispatch!(self, c => Pin::new(c).poll_recv(cx))
    }
}

impl SendMessage for AnyChannel {
    #[inline]
    fn poll_send(self: Pin<&mut Self>, cx: &mut Context<'_>, msg: &Bytes) -> Poll<io::Result<()>> {
        dispatch!(self, c => Pin::new(c).poll_send(cx, msg))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        dispatch!(self, c => Pin::new(c).poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        dispatch!(self, c => Pin::new(c).poll_close(cx))
    }

    fn passed_on(&self) -> u64 {
        match self {
            AnyChannel::Udp(c) => c.passed_on(),
            AnyChannel::Mem(c) => c.passed_on(),
            #[cfg(unix)]
            AnyChannel::Fifo(c) => c.passed_on(),
            AnyChannel::File(c) => c.passed_on(),
            AnyChannel::Mq(c) => c.passed_on(),
        }
    }
}
