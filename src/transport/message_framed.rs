use super::{RecvMessage, SendMessage};
use bytes::Bytes;
use futures::{Sink, Stream};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A `Stream` + `Sink` of messages over a [`RecvMessage`] + [`SendMessage`] backend: what
/// tokio-util's `Framed` is for byte streams.
///
/// The sink holds one message that the backend has not accepted yet: `poll_ready` is
/// `Pending` until the backend takes it. (A [`Connection`](crate::Connection) whose
/// `send_timeout` ran out while it waited for room queues its message past that one, so the
/// message goes out later instead of being lost; `poll_ready` then waits for those too.)
///
/// ```
/// use anyipc::{MessageFramed, RecvMessage, SendMessage};
/// use bytes::Bytes;
/// use futures::{SinkExt, StreamExt};
/// use std::collections::VecDeque;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
///
/// /// A loopback backend: what is sent comes back.
/// #[derive(Default)]
/// struct Loopback(VecDeque<Bytes>);
/// impl RecvMessage for Loopback {
///     fn poll_recv(self: Pin<&mut Self>, _: &mut Context<'_>)
///         -> Poll<std::io::Result<Option<Bytes>>> {
///         Poll::Ready(Ok(self.get_mut().0.pop_front()))
///     }
/// }
/// impl SendMessage for Loopback {
///     fn poll_send(self: Pin<&mut Self>, _: &mut Context<'_>, msg: &Bytes)
///         -> Poll<std::io::Result<()>> {
///         self.get_mut().0.push_back(msg.clone());
///         Poll::Ready(Ok(()))
///     }
/// }
///
/// # tokio_test::block_on(async {
/// let mut framed = MessageFramed::new(Loopback::default());
/// framed.send(Bytes::from_static(b"ping")).await?;
/// assert_eq!(framed.next().await.unwrap()?, "ping");
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct MessageFramed<T> {
    inner: T,
    unsent: Option<Bytes>,
    /// `unsent` came from `past_limit`: its send has already returned (`TimedOut`), so a
    /// refusal of it is nobody's to report.
    unsent_past_limit: bool,
    /// Messages queued after `unsent` without waiting for room ([`queue_past_limit`]),
    /// offered in order once it is taken.
    ///
    /// [`queue_past_limit`]: MessageFramed::queue_past_limit
    past_limit: VecDeque<Bytes>,
    /// Why the last message given to `start_send` was refused (`InvalidInput`) at a flush,
    /// kept while the messages accepted before it are flushed; forgotten when the next
    /// message is given.
    refused: Option<io::Error>,
    /// `poll_close` finished: the sink takes nothing more (`BrokenPipe`).
    closed: bool,
}

impl<T> MessageFramed<T> {
    /// Wraps a message backend.
    ///
    /// ```
    /// # use anyipc::{MessageFramed, RecvMessage, SendMessage};
    /// # use bytes::Bytes;
    /// # use futures::{SinkExt, StreamExt};
    /// # use std::collections::VecDeque;
    /// # use std::pin::Pin;
    /// # use std::task::{Context, Poll};
    /// # /// A loopback backend: what is sent comes back.
    /// # #[derive(Default)]
    /// # struct Loopback(VecDeque<Bytes>);
    /// # impl RecvMessage for Loopback {
    /// #     fn poll_recv(self: Pin<&mut Self>, _: &mut Context<'_>)
    /// #         -> Poll<std::io::Result<Option<Bytes>>> {
    /// #         Poll::Ready(Ok(self.get_mut().0.pop_front()))
    /// #     }
    /// # }
    /// # impl SendMessage for Loopback {
    /// #     fn poll_send(self: Pin<&mut Self>, _: &mut Context<'_>, msg: &Bytes)
    /// #         -> Poll<std::io::Result<()>> {
    /// #         self.get_mut().0.push_back(msg.clone());
    /// #         Poll::Ready(Ok(()))
    /// #     }
    /// # }
    /// # tokio_test::block_on(async {
    /// // `Loopback` (hidden here) is the backend of the `MessageFramed` example.
    /// let mut framed = MessageFramed::new(Loopback::default());
    /// framed.send(Bytes::from_static(b"echo")).await?;
    /// assert_eq!(framed.next().await.unwrap()?, "echo");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn new(inner: T) -> Self {
        MessageFramed {
            inner,
            unsent: None,
            unsent_past_limit: false,
            past_limit: VecDeque::new(),
            refused: None,
            closed: false,
        }
    }

    /// The backend.
    ///
    /// ```
    /// # use anyipc::{MessageFramed, RecvMessage, SendMessage};
    /// # use bytes::Bytes;
    /// # use futures::{SinkExt, StreamExt};
    /// # use std::collections::VecDeque;
    /// # use std::pin::Pin;
    /// # use std::task::{Context, Poll};
    /// # /// A loopback backend: what is sent comes back.
    /// # #[derive(Default)]
    /// # struct Loopback(VecDeque<Bytes>);
    /// # impl RecvMessage for Loopback {
    /// #     fn poll_recv(self: Pin<&mut Self>, _: &mut Context<'_>)
    /// #         -> Poll<std::io::Result<Option<Bytes>>> {
    /// #         Poll::Ready(Ok(self.get_mut().0.pop_front()))
    /// #     }
    /// # }
    /// # impl SendMessage for Loopback {
    /// #     fn poll_send(self: Pin<&mut Self>, _: &mut Context<'_>, msg: &Bytes)
    /// #         -> Poll<std::io::Result<()>> {
    /// #         self.get_mut().0.push_back(msg.clone());
    /// #         Poll::Ready(Ok(()))
    /// #     }
    /// # }
    /// # tokio_test::block_on(async {
    /// let mut framed = MessageFramed::new(Loopback::default());
    /// framed.send(Bytes::from_static(b"queued")).await?;
    /// assert_eq!(framed.get_ref().0, ["queued"]);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The backend, mutably.
    ///
    /// ```
    /// # use anyipc::{MessageFramed, RecvMessage, SendMessage};
    /// # use bytes::Bytes;
    /// # use futures::{SinkExt, StreamExt};
    /// # use std::collections::VecDeque;
    /// # use std::pin::Pin;
    /// # use std::task::{Context, Poll};
    /// # /// A loopback backend: what is sent comes back.
    /// # #[derive(Default)]
    /// # struct Loopback(VecDeque<Bytes>);
    /// # impl RecvMessage for Loopback {
    /// #     fn poll_recv(self: Pin<&mut Self>, _: &mut Context<'_>)
    /// #         -> Poll<std::io::Result<Option<Bytes>>> {
    /// #         Poll::Ready(Ok(self.get_mut().0.pop_front()))
    /// #     }
    /// # }
    /// # impl SendMessage for Loopback {
    /// #     fn poll_send(self: Pin<&mut Self>, _: &mut Context<'_>, msg: &Bytes)
    /// #         -> Poll<std::io::Result<()>> {
    /// #         self.get_mut().0.push_back(msg.clone());
    /// #         Poll::Ready(Ok(()))
    /// #     }
    /// # }
    /// # tokio_test::block_on(async {
    /// let mut framed = MessageFramed::new(Loopback::default());
    /// framed.get_mut().0.push_back(Bytes::from_static(b"injected"));
    /// assert_eq!(framed.next().await.unwrap()?, "injected");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The backend, dropping the messages it has not accepted yet.
    ///
    /// ```
    /// # use anyipc::{MessageFramed, RecvMessage, SendMessage};
    /// # use bytes::Bytes;
    /// # use futures::{SinkExt, StreamExt};
    /// # use std::collections::VecDeque;
    /// # use std::pin::Pin;
    /// # use std::task::{Context, Poll};
    /// # /// A loopback backend: what is sent comes back.
    /// # #[derive(Default)]
    /// # struct Loopback(VecDeque<Bytes>);
    /// # impl RecvMessage for Loopback {
    /// #     fn poll_recv(self: Pin<&mut Self>, _: &mut Context<'_>)
    /// #         -> Poll<std::io::Result<Option<Bytes>>> {
    /// #         Poll::Ready(Ok(self.get_mut().0.pop_front()))
    /// #     }
    /// # }
    /// # impl SendMessage for Loopback {
    /// #     fn poll_send(self: Pin<&mut Self>, _: &mut Context<'_>, msg: &Bytes)
    /// #         -> Poll<std::io::Result<()>> {
    /// #         self.get_mut().0.push_back(msg.clone());
    /// #         Poll::Ready(Ok(()))
    /// #     }
    /// # }
    /// # tokio_test::block_on(async {
    /// let mut framed = MessageFramed::new(Loopback::default());
    /// framed.feed(Bytes::from_static(b"taken")).await?;
    /// // Fed but not flushed: still held by `framed`, so it goes with it.
    /// framed.feed(Bytes::from_static(b"dropped")).await?;
    /// assert_eq!(framed.into_inner().0, ["taken"]);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: SendMessage + Unpin> MessageFramed<T> {
    /// Offers the messages not taken yet, in order, until the backend has them all. The
    /// refusal of the message `start_send` took is returned as soon as it comes (the
    /// messages after it are offered by the next call); one queued past the limit, whose
    /// send has returned already, is dropped with a warning, so that it neither fails nor
    /// takes down a later send.
    #[inline]
    fn poll_send_unsent(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(msg) = &self.unsent {
                let result = ready!(Pin::new(&mut self.inner).poll_send(cx, msg));
                // Accepted or refused, the message is done with: a refused one (too large,
                // say) must not be offered again by every later send.
                self.unsent = None;
                match result {
                    Err(e) if self.unsent_past_limit && e.kind() == io::ErrorKind::InvalidInput => {
                        tracing::warn!("a message queued when its send timed out was refused: {e}");
                    }
                    result => result?,
                }
            }
            match self.past_limit.pop_front() {
                Some(next) => {
                    self.unsent = Some(next);
                    self.unsent_past_limit = true;
                }
                None => return Poll::Ready(Ok(())),
            }
        }
    }

    /// Queues `msg` after the messages not taken yet without waiting for room: for a send
    /// whose `send_timeout` ran out while it waited, so that its message goes out with the
    /// next send or flush as the ones before it do. `BrokenPipe` once closed.
    pub(crate) fn queue_past_limit(&mut self, msg: Bytes) -> io::Result<()> {
        if self.closed {
            return Err(sending_after_close());
        }
        if self.unsent.is_none() && self.past_limit.is_empty() {
            self.unsent = Some(msg);
            self.unsent_past_limit = true;
        } else {
            self.past_limit.push_back(msg);
        }
        Ok(())
    }
}

/// What a send after `poll_close` says.
fn sending_after_close() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "sending after close")
}

impl<T: SendMessage + Unpin> MessageFramed<T> {
    /// Offers the last message, then flushes the transport. A message the transport refuses
    /// (too large, say) does not hold back the ones accepted before it: they are flushed,
    /// and then the refusal is returned, unless the flush failed (the peer gone), whose error
    /// says more.
    fn poll_flush_accepted(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match ready!(self.poll_send_unsent(cx)) {
                // Kept while the messages after it are offered too.
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => self.refused = Some(e),
                // Anything else (a timeout, a dead peer) is the flush's own outcome.
                Err(e) => return Poll::Ready(Err(e)),
                Ok(()) => break,
            }
        }
        let flushed = ready!(Pin::new(&mut self.inner).poll_flush(cx));
        let refused = self.refused.take();
        Poll::Ready(match (flushed, refused) {
            (Err(failed), _) => Err(failed),
            (Ok(()), Some(refused)) => Err(refused),
            (Ok(()), None) => Ok(()),
        })
    }
}

impl<T: RecvMessage + Unpin> Stream for MessageFramed<T> {
    type Item = io::Result<Bytes>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // Spelled out rather than `map(Result::transpose)`: that compiled to a 16-byte reload
        // of the message just stored in 8-byte halves (a store-forwarding stall, measured at
        // about 10% of a small-message consumer's time in benches/file_log.rs).
        match Pin::new(&mut this.inner).poll_recv(cx) {
            Poll::Ready(Ok(Some(msg))) => Poll::Ready(Some(Ok(msg))),
            Poll::Ready(Ok(None)) => Poll::Ready(None),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: SendMessage + Unpin> Sink<Bytes> for MessageFramed<T> {
    type Error = io::Error;

    /// Ready to take a message; `BrokenPipe` once closed, as a byte stream's is.
    ///
    /// ```
    /// # use anyipc::{MessageFramed, SendMessage};
    /// # use bytes::Bytes;
    /// # use futures::SinkExt;
    /// # use std::pin::Pin;
    /// # use std::task::{Context, Poll};
    /// # struct Discard;
    /// # impl SendMessage for Discard {
    /// #     fn poll_send(self: Pin<&mut Self>, _: &mut Context<'_>, _: &Bytes)
    /// #         -> Poll<std::io::Result<()>> {
    /// #         Poll::Ready(Ok(()))
    /// #     }
    /// # }
    /// # tokio_test::block_on(async {
    /// let mut sink = MessageFramed::new(Discard);
    /// sink.close().await?;
    /// let late = sink.send(Bytes::from_static(b"late")).await.unwrap_err();
    /// assert_eq!(late.kind(), std::io::ErrorKind::BrokenPipe);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    #[inline]
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.closed {
            return Poll::Ready(Err(sending_after_close()));
        }
        this.poll_send_unsent(cx)
    }

    #[inline]
    fn start_send(self: Pin<&mut Self>, item: Bytes) -> io::Result<()> {
        let this = self.get_mut();
        debug_assert!(
            this.unsent.is_none() && this.past_limit.is_empty(),
            "start_send without poll_ready"
        );
        // A refusal that a flush cut short (`send_timeout`, a dropped future) never
        // reported belongs to that message, not to this one.
        this.refused = None;
        this.unsent = Some(item);
        this.unsent_past_limit = false;
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_accepted(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.closed {
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_flush_accepted(cx))?;
        ready!(Pin::new(&mut this.inner).poll_close(cx))?;
        this.closed = true;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::SinkExt;

    /// Keeps what it is sent, refusing any message over 4 bytes.
    #[derive(Default)]
    struct Limited(Vec<Bytes>);

    impl SendMessage for Limited {
        fn poll_send(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            msg: &Bytes,
        ) -> Poll<io::Result<()>> {
            if msg.len() > 4 {
                return Poll::Ready(Err(io::ErrorKind::InvalidInput.into()));
            }
            self.get_mut().0.push(msg.clone());
            Poll::Ready(Ok(()))
        }
    }

    /// Messages queued past the limit go out in order; one the backend refuses is dropped
    /// (its send returned already) and costs neither the others nor a later send, whose
    /// message the refusal used to fail and drop.
    #[tokio::test]
    async fn messages_queued_past_the_limit_go_out_in_order_past_a_refused_one() {
        let mut framed = MessageFramed::new(Limited::default());
        for msg in ["a", "too long", "b"] {
            framed.queue_past_limit(Bytes::from(msg)).unwrap();
        }
        framed.send(Bytes::from_static(b"c")).await.unwrap();
        assert_eq!(framed.get_ref().0, ["a", "b", "c"]);
        framed
            .queue_past_limit(Bytes::from_static(b"also too long"))
            .unwrap();
        framed.flush().await.unwrap();
        // The message `start_send` took is still refused by its own send.
        let err = framed
            .send(Bytes::from_static(b"too long"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        framed.close().await.unwrap();
        let late = framed
            .queue_past_limit(Bytes::from_static(b"d"))
            .unwrap_err();
        assert_eq!(late.kind(), io::ErrorKind::BrokenPipe);
    }
}
