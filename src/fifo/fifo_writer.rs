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

/// The writing end of a FIFO: every message is framed and written by one atomic `write(2)`.
///
/// A message backend rather than a byte stream, because the frame boundaries must coincide
/// with the writes: a byte stream would gather frames and let the OS split them anywhere.
#[derive(Debug)]
pub(crate) struct FifoWriter {
    /// `None` once closed.
    sender: Option<pipe::Sender>,
    codec: FrameCodec,
    /// The encoded frame of the message being sent; empty between messages.
    frame: BytesMut,
}

impl FifoWriter {
    pub(crate) fn new(fd: OwnedFd, endpoint: &Endpoint) -> io::Result<FifoWriter> {
        Ok(FifoWriter {
            sender: Some(pipe::Sender::from_owned_fd(fd)?),
            codec: FrameCodec::new(endpoint.framing(), endpoint.max_frame()),
            frame: BytesMut::new(),
        })
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
        let Some(sender) = &this.sender else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "fifo://: this writer was closed",
            )));
        };
        // A non-empty frame is the encoding of this same message, retried after `Pending`.
        if this.frame.is_empty() {
            this.codec.encode(msg.clone(), &mut this.frame)?;
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
        loop {
            ready!(sender.poll_write_ready(cx))?;
            // At most PIPE_BUF bytes to a pipe: written whole or not at all (WouldBlock).
            match sender.try_write(&this.frame) {
                Ok(n) if n == this.frame.len() => {
                    this.frame.clear();
                    return Poll::Ready(Ok(()));
                }
                Ok(n) => {
                    // Not expected of a pipe; keep the rest rather than lose it.
                    let _ = this.frame.split_to(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    this.frame.clear();
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().sender = None;
        Poll::Ready(Ok(()))
    }
}
