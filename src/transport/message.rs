use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Receiving whole messages: the message-backend counterpart of `AsyncRead`.
///
/// A message backend (udp, mq, mem) keeps message boundaries by itself. Implement this and
/// [`SendMessage`], and [`MessageFramed`](crate::MessageFramed) makes the `Stream` + `Sink`.
pub trait RecvMessage {
    /// Polls for the next message.
    ///
    /// `Ready(Ok(None))` means the peer closed and no more messages will come.
    ///
    /// # Errors
    /// `InvalidData` for a message the backend could not accept (too large, corrupt); other
    /// kinds as the table in the crate docs says.
    fn poll_recv(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>>;
}

/// Sending whole messages: the message-backend counterpart of `AsyncWrite`.
pub trait SendMessage {
    /// Tries to hand `msg` to the backend. `Ready(Ok(()))` means it was accepted;
    /// `Pending` means there is no room yet and the task will be woken.
    ///
    /// # Errors
    /// `InvalidInput` for a message over the limit, `BrokenPipe` once the peer has gone.
    fn poll_send(self: Pin<&mut Self>, cx: &mut Context<'_>, msg: &Bytes) -> Poll<io::Result<()>>;

    /// Hands on whatever the backend gathered from earlier [`poll_send`]s (a backend may batch
    /// several messages into one write). Backends that pass each message on at once, the
    /// default, have nothing to flush.
    ///
    /// # Errors
    /// As for [`poll_send`](SendMessage::poll_send).
    ///
    /// [`poll_send`]: SendMessage::poll_send
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Closes the sending side, so that the peer's receive ends.
    ///
    /// # Errors
    /// As for [`poll_send`](SendMessage::poll_send).
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Messages passed on so far by [`poll_flush`](SendMessage::poll_flush) (or a full
    /// [`poll_send`](SendMessage::poll_send)) of a backend that gathers them: a connection's
    /// `send_timeout` counts a flush that moves this as making progress, however long it
    /// waits in all. Backends that pass each message on in its `poll_send`, the default,
    /// report 0.
    fn passed_on(&self) -> u64 {
        0
    }
}
