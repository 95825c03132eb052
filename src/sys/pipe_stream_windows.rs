//! Windows: a `pipe://` connection whose close the peer sees.
//!
//! A named pipe has no half-close, and interprocess's `poll_shutdown` does nothing there,
//! so a closed connection stayed open for its peer, which waited for an end that came only
//! when the connection was dropped. [`PipeStream`] closes the pipe handle at shutdown: the
//! peer's reads end, its writes fail with `BrokenPipe`. This side's own reads end too (no
//! reply can come after its close), and its writes fail with `BrokenPipe`.

use interprocess::local_socket::tokio::Stream;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The byte stream of a `pipe://` connection on Windows: the named pipe until it is shut
/// down, then nothing.
#[derive(Debug)]
pub(crate) struct PipeStream {
    /// `None` once shut down: the handle is closed.
    open: Option<Stream>,
}

impl PipeStream {
    /// Wraps an open named pipe.
    pub(crate) fn new(stream: Stream) -> PipeStream {
        PipeStream { open: Some(stream) }
    }
}

fn shut_down() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "pipe:// connection closed by this side (a named pipe has no half-close)",
    )
}

impl AsyncRead for PipeStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.open.as_mut() {
            Some(stream) => Pin::new(stream).poll_read(cx, buf),
            // End of stream: the pipe is closed.
            None => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for PipeStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.open.as_mut() {
            Some(stream) => Pin::new(stream).poll_write(cx, buf),
            None => Poll::Ready(Err(shut_down())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.open.as_mut() {
            Some(stream) => Pin::new(stream).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Flushes, then closes the handle. Writes already taken are not lost: tokio's named
    /// pipe (mio) lets its pending write finish after the handle is dropped.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(stream) = self.open.as_mut() {
            ready!(Pin::new(stream).poll_flush(cx))?;
            self.open = None;
        }
        Poll::Ready(Ok(()))
    }
}
