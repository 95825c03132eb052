use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::unix::pipe;

/// One side of a parent–child pipe pair as a duplex byte stream: it reads one pipe and writes
/// the other. Shutting down closes the write pipe, so the other side's stream ends while this
/// side can still read.
#[derive(Debug)]
pub(crate) struct ChildPipe {
    receiver: pipe::Receiver,
    /// `None` after shutdown.
    sender: Option<pipe::Sender>,
}

impl ChildPipe {
    pub(crate) fn new(receiver: pipe::Receiver, sender: pipe::Sender) -> ChildPipe {
        ChildPipe {
            receiver,
            sender: Some(sender),
        }
    }

    fn sender(&mut self) -> io::Result<Pin<&mut pipe::Sender>> {
        match &mut self.sender {
            Some(sender) => Ok(Pin::new(sender)),
            None => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the sending side of this pipe was closed",
            )),
        }
    }
}

impl AsyncRead for ChildPipe {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().receiver).poll_read(cx, buf)
    }
}

impl AsyncWrite for ChildPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().sender() {
            Ok(sender) => sender.poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().sender() {
            Ok(sender) => sender.poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().sender = None;
        Poll::Ready(Ok(()))
    }
}
