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
    /// Whole frames accepted and not yet written: at most `PIPE_BUF` bytes.
    batch: BytesMut,
    /// The endpoint's URL, which errors name.
    endpoint: String,
    /// A receive was told `Unsupported`: the stream has ended.
    recv_refused: bool,
}

impl FifoWriter {
    pub(crate) fn new(fd: OwnedFd, endpoint: &Endpoint) -> io::Result<FifoWriter> {
        Ok(FifoWriter {
            sender: Some(pipe::Sender::from_owned_fd(fd)?),
            codec: FrameCodec::new(endpoint.framing(), endpoint.max_frame()),
            batch: BytesMut::with_capacity(PIPE_BUF),
            endpoint: endpoint.to_string(),
            recv_refused: false,
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
    /// `Unsupported` once, then the end of the stream: a receive loop that goes on after an
    /// error would otherwise spin on it for ever, never yielding to other tasks.
    fn poll_recv(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        let this = self.get_mut();
        if std::mem::replace(&mut this.recv_refused, true) {
            return Poll::Ready(Ok(None));
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "{}: the side that connects to a FIFO only writes; bind it to read",
                this.endpoint
            ),
        )))
    }
}

impl SendMessage for FifoWriter {
    fn poll_send(self: Pin<&mut Self>, cx: &mut Context<'_>, msg: &Bytes) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.sender.is_none() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("{}: this writer was closed", this.endpoint),
            )));
        }
        // Checked (against `max_frame` first, so that a message over it is `SendTooLarge`
        // as on every transport, also when it is over PIPE_BUF too; a line is then scanned
        // for a newline), and encoded straight into the batch once there is room for the
        // whole frame: nothing is kept between a `Pending` and the retry.
        this.codec.check_send(msg)?;
        let frame_len = this.codec.frame_len(msg.len());
        if frame_len > PIPE_BUF {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: a frame of {frame_len} bytes (a {}-byte message and its framing) \
                     is over PIPE_BUF ({PIPE_BUF} bytes), the largest write that cannot \
                     interleave with other writers",
                    this.endpoint,
                    msg.len()
                ),
            )));
        }
        if this.batch.len() + frame_len > PIPE_BUF {
            ready!(this.poll_write_batch(cx))?;
        }
        this.codec.encode_checked(msg, &mut this.batch);
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
