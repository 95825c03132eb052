use crate::sys::BoundFifo;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::unix::pipe;

/// The reading end of a bound FIFO, as a byte stream. Writing is `Unsupported`.
#[derive(Debug)]
pub(crate) struct FifoReader {
    receiver: pipe::Receiver,
    /// A write end held by the reader itself, so that reads never see end of file when the
    /// last writer closes.
    _keep_open: OwnedFd,
}

impl FifoReader {
    pub(crate) fn new(bound: BoundFifo) -> io::Result<FifoReader> {
        Ok(FifoReader {
            receiver: pipe::Receiver::from_owned_fd(bound.reader)?,
            _keep_open: bound.keep_open,
        })
    }
}

fn write_unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "fifo://: the side that binds a FIFO only reads; connect to it to write",
    )
}

impl AsyncRead for FifoReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().receiver).poll_read(cx, buf)
    }
}

impl AsyncWrite for FifoReader {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(write_unsupported()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
