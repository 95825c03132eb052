use crate::codec::FrameCodec;
use crate::sys::PIPE_BUF;
use crate::transport::{RecvMessage, SendMessage};
use crate::Endpoint;
use bytes::{Bytes, BytesMut};
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::net::unix::pipe;
use tokio_util::codec::Encoder;

/// The writing end of a FIFO: frames are gathered into batches of whole frames of at most
/// `PIPE_BUF` bytes, and each batch is one atomic `write(2)`.
///
/// A message backend rather than a byte stream, because the write boundaries must fall
/// between frames: a byte stream would gather frames past `PIPE_BUF` and let the OS split them
/// anywhere, interleaving them with other writers' frames.
///
/// | state | `poll_send(msg)` | `poll_flush` |
/// |---|---|---|
/// | frame fits beside the batch | append it; `Ready` | write the batch |
/// | frame does not fit | write the batch first (`Pending` while the FIFO is full) | — |
/// | closed | `BrokenPipe` | `Ready` (nothing to write) |
#[derive(Debug)]
pub(crate) struct FifoWriter {
    /// `None` once closed.
    sender: Option<pipe::Sender>,
    codec: FrameCodec,
    /// The encoded frame of the message being sent; empty between messages.
    frame: BytesMut,
    /// Whole frames accepted and not yet written: at most `PIPE_BUF` bytes.
    batch: BytesMut,
}

impl FifoWriter {
    pub(crate) fn new(fd: OwnedFd, endpoint: &Endpoint) -> io::Result<FifoWriter> {
        Ok(FifoWriter {
            sender: Some(pipe::Sender::from_owned_fd(fd)?),
            codec: FrameCodec::new(endpoint.framing(), endpoint.max_frame()),
            frame: BytesMut::new(),
            batch: BytesMut::with_capacity(PIPE_BUF),
        })
    }

    /// Writes the batch out, whole.
    fn poll_write_batch(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(sender) = &self.sender else {
            return Poll::Ready(Ok(()));
        };
        while !self.batch.is_empty() {
            ready!(sender.poll_write_ready(cx))?;
            // At most PIPE_BUF bytes to a pipe: written whole or not at all (WouldBlock).
            match sender.try_write(&self.batch) {
                Ok(n) if n == self.batch.len() => self.batch.clear(),
                Ok(n) => {
                    // Not expected of a pipe; keep the rest rather than lose it.
                    let _ = self.batch.split_to(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    self.batch.clear();
                    return Poll::Ready(Err(e));
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl RecvMessage for FifoWriter {
    fn poll_recv(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "fifo://: the side that connects to a FIFO only writes; bind it to read",
        )))
    }
}

impl SendMessage for FifoWriter {
    fn poll_send(self: Pin<&mut Self>, cx: &mut Context<'_>, msg: &Bytes) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.sender.is_none() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "fifo://: this writer was closed",
            )));
        }
        // A non-empty frame is the encoding of this same message, retried after `Pending`.
        if this.frame.is_empty() {
            if let Err(e) = this.codec.encode(msg.clone(), &mut this.frame) {
                this.frame.clear();
                return Poll::Ready(Err(e));
            }
            if this.frame.len() > PIPE_BUF {
                let len = this.frame.len();
                this.frame.clear();
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "fifo://: a frame of {len} bytes (a {}-byte message and its framing) \
                         is over PIPE_BUF ({PIPE_BUF} bytes), the largest write that cannot \
                         interleave with other writers",
                        msg.len()
                    ),
                )));
            }
        }
        if this.batch.len() + this.frame.len() > PIPE_BUF {
            if let Err(e) = ready!(this.poll_write_batch(cx)) {
                this.frame.clear();
                return Poll::Ready(Err(e));
            }
        }
        this.batch.extend_from_slice(&this.frame);
        this.frame.clear();
        Poll::Ready(Ok(()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_write_batch(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flushed = ready!(this.poll_write_batch(cx));
        this.sender = None;
        Poll::Ready(flushed)
    }
}
