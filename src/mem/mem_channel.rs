use crate::codec::FrameError;
use crate::io::coop::budgeted;
use crate::transport::{RecvMessage, SendMessage};
use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

/// One end of an in-process connection: a bounded channel each way.
#[derive(Debug)]
pub(crate) struct MemChannel {
    tx: PollSender<Bytes>,
    rx: mpsc::Receiver<Bytes>,
    /// This end's limit, both ways: each end checks what it receives against its own
    /// endpoint's `max_frame`, as a byte-stream decoder would.
    max_frame: usize,
}

impl MemChannel {
    /// Two connected ends, each direction holding up to `capacity` messages.
    pub(crate) fn pair(capacity: usize, max_frame: usize) -> (MemChannel, MemChannel) {
        let (a_tx, b_rx) = mpsc::channel(capacity);
        let (b_tx, a_rx) = mpsc::channel(capacity);
        let end = |tx, rx| MemChannel {
            tx: PollSender::new(tx),
            rx,
            max_frame,
        };
        (end(a_tx, a_rx), end(b_tx, b_rx))
    }

    /// Sets this end's limit (the accepting side's comes from the listener's endpoint).
    pub(crate) fn set_max_frame(&mut self, max_frame: usize) {
        self.max_frame = max_frame;
    }
}

fn peer_gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "mem:// peer has closed")
}

impl RecvMessage for MemChannel {
    fn poll_recv(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        let this = self.get_mut();
        match ready!(this.rx.poll_recv(cx)) {
            Some(msg) if msg.len() > this.max_frame => Poll::Ready(Err(FrameError::TooLarge {
                len: msg.len() as u64,
                max: this.max_frame,
            }
            .into())),
            msg => Poll::Ready(Ok(msg)),
        }
    }
}

impl SendMessage for MemChannel {
    fn poll_send(self: Pin<&mut Self>, cx: &mut Context<'_>, msg: &Bytes) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if msg.len() > this.max_frame {
            return Poll::Ready(Err(FrameError::SendTooLarge {
                len: msg.len(),
                max: this.max_frame,
            }
            .into()));
        }
        // The common case, room now, without `PollSender`'s reservation future; under the
        // task's budget as the reservation (tokio's) would be.
        let mut refused = None;
        if let Some(sender) = this.tx.get_ref() {
            match ready!(budgeted(cx, |_| Poll::Ready(sender.try_send(msg.clone())))) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(mpsc::error::TrySendError::Closed(_)) => return Poll::Ready(Err(peer_gone())),
                // Full, or a reservation of ours holds the last permit: wait as usual.
                Err(mpsc::error::TrySendError::Full(msg)) => refused = Some(msg),
            }
        }
        ready!(this.tx.poll_reserve(cx)).map_err(|_| peer_gone())?;
        let item = refused.unwrap_or_else(|| msg.clone());
        this.tx.send_item(item).map_err(|_| peer_gone())?;
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().tx.close();
        Poll::Ready(Ok(()))
    }
}
