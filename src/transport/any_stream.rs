//! [`AnyStream`]: every byte-stream backend behind one `AsyncRead + AsyncWrite`, with the error
//! kinds made the same on all of them.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A byte stream of any backend. One match per poll; no boxing.
#[derive(Debug)]
pub(crate) enum AnyStream {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
    #[cfg(target_os = "linux")]
    Shm(Box<crate::shm::ShmStream>),
    Pipe(crate::sys::PipeStream),
    #[cfg(unix)]
    Fifo(crate::fifo::FifoReader),
    #[cfg(unix)]
    Child(crate::child::ChildPipe),
}

impl AnyStream {
    /// Copies a frame (`head`, then `body`) straight into the stream's own memory, where
    /// the backend has such memory and room for it: only shared memory's ring
    /// ([`ShmStream`](crate::shm::ShmStream)). The next flush (or write) publishes it.
    /// `false`, with nothing done, elsewhere.
    #[inline]
    pub(crate) fn stage<const N: usize>(&mut self, head: [u8; N], body: &[u8]) -> bool {
        match self {
            #[cfg(target_os = "linux")]
            AnyStream::Shm(shm) => shm.stage(head, body),
            _ => {
                let _ = (head, body);
                false
            }
        }
    }
}

/// Calls `$body` with `$s` bound to the backend inside `$stream` (a `Pin<&mut AnyStream>`).
macro_rules! dispatch {
    ($stream:expr, $s:ident => $body:expr) => {
        match $stream.get_mut() {
            AnyStream::Tcp($s) => $body,
            #[cfg(unix)]
            AnyStream::Unix($s) => $body,
            #[cfg(target_os = "linux")]
            AnyStream::Shm($s) => $body,
            AnyStream::Pipe($s) => $body,
            #[cfg(unix)]
            AnyStream::Fifo($s) => $body,
            #[cfg(unix)]
            AnyStream::Child($s) => $body,
        }
    };
}

/// A reset from the peer means the peer is gone: reads see end of stream (the codec then
/// tells a clean end from one inside a frame).
fn read_result(result: Poll<io::Result<()>>) -> Poll<io::Result<()>> {
    match result {
        Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => Poll::Ready(Ok(())),
        other => other,
    }
}

/// Every way a write can find the peer gone, or the sending half already shut, is
/// `BrokenPipe`.
fn write_result<T>(result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
    match result {
        Poll::Ready(Err(e))
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::NotConnected
            ) || crate::sys::is_write_after_shutdown(&e) =>
        {
            Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, e)))
        }
        other => other,
    }
}

impl AsyncRead for AnyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        read_result(dispatch!(self, s => Pin::new(s).poll_read(cx, buf)))
    }
}

impl AsyncWrite for AnyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        write_result(dispatch!(self, s => Pin::new(s).poll_write(cx, buf)))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        write_result(dispatch!(self, s => Pin::new(s).poll_write_vectored(cx, bufs)))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            AnyStream::Tcp(s) => s.is_write_vectored(),
            #[cfg(unix)]
            AnyStream::Unix(s) => s.is_write_vectored(),
            #[cfg(target_os = "linux")]
            AnyStream::Shm(s) => s.is_write_vectored(),
            AnyStream::Pipe(s) => s.is_write_vectored(),
            #[cfg(unix)]
            AnyStream::Fifo(s) => s.is_write_vectored(),
            #[cfg(unix)]
            AnyStream::Child(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        write_result(dispatch!(self, s => Pin::new(s).poll_flush(cx)))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        write_result(dispatch!(self, s => Pin::new(s).poll_shutdown(cx)))
    }
}
