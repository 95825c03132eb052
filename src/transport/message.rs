use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Receiving whole messages: the message-backend counterpart of `AsyncRead`.
///
/// A message backend (udp, mq, mem) keeps message boundaries by itself. Implement this and
/// [`SendMessage`], and [`MessageFramed`](crate::MessageFramed) makes the `Stream` + `Sink`.
///
/// ```
/// use anyipc::{MessageFramed, RecvMessage};
/// use bytes::Bytes;
/// use futures::StreamExt;
/// # use std::pin::Pin;
/// # use std::task::{Context, Poll};
/// use tokio::sync::mpsc;
///
/// /// The messages of an in-process channel; closed once every sender is gone.
/// struct FromChannel(mpsc::Receiver<Bytes>);
///
/// impl RecvMessage for FromChannel {
///     fn poll_recv(self: Pin<&mut Self>, cx: &mut Context<'_>)
///         -> Poll<std::io::Result<Option<Bytes>>> {
///         self.get_mut().0.poll_recv(cx).map(Ok)
///     }
/// }
///
/// # tokio_test::block_on(async {
/// let (tx, rx) = mpsc::channel(8);
/// tx.send(Bytes::from_static(b"hello")).await.unwrap();
/// drop(tx);
/// let mut messages = MessageFramed::new(FromChannel(rx));
/// assert_eq!(messages.next().await.unwrap()?, "hello");
/// assert!(messages.next().await.is_none());
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub trait RecvMessage {
    /// Polls for the next message.
    ///
    /// `Ready(Ok(None))` means the peer closed and no more messages will come.
    ///
    /// An error is one item of the [`MessageFramed`](crate::MessageFramed) stream, which goes
    /// on with the next message:
    ///
    /// ```
    /// # use anyipc::{MessageFramed, RecvMessage};
    /// # use bytes::Bytes;
    /// # use futures::StreamExt;
    /// # use std::collections::VecDeque;
    /// # use std::io;
    /// # use std::pin::Pin;
    /// # use std::task::{Context, Poll};
    /// /// Received messages, refusing any over 4 bytes.
    /// struct Limited(VecDeque<Bytes>);
    ///
    /// impl RecvMessage for Limited {
    ///     fn poll_recv(self: Pin<&mut Self>, _: &mut Context<'_>)
    ///         -> Poll<io::Result<Option<Bytes>>> {
    ///         Poll::Ready(match self.get_mut().0.pop_front() {
    ///             Some(msg) if msg.len() > 4 => Err(io::ErrorKind::InvalidData.into()),
    ///             msg => Ok(msg),
    ///         })
    ///     }
    /// }
    /// # tokio_test::block_on(async {
    /// let queued = ["too long", "ok"].map(Bytes::from);
    /// let mut messages = MessageFramed::new(Limited(queued.into()));
    /// let err = messages.next().await.unwrap().unwrap_err();
    /// assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    /// assert_eq!(messages.next().await.unwrap()?, "ok");
    /// assert!(messages.next().await.is_none());
    /// # Ok::<(), io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `InvalidData` for a message the backend could not accept (too large, corrupt); other
    /// kinds as the table in the crate docs says.
    fn poll_recv(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>>;
}

/// Sending whole messages: the message-backend counterpart of `AsyncWrite`.
///
/// ```
/// use anyipc::{MessageFramed, SendMessage};
/// use bytes::Bytes;
/// use futures::SinkExt;
/// # use std::io;
/// # use std::pin::Pin;
/// # use std::task::{Context, Poll};
/// use tokio::sync::mpsc;
///
/// /// Sends into an in-process channel; `BrokenPipe` once its receiver is gone.
/// struct ToChannel(mpsc::UnboundedSender<Bytes>);
///
/// impl SendMessage for ToChannel {
///     fn poll_send(self: Pin<&mut Self>, _: &mut Context<'_>, msg: &Bytes)
///         -> Poll<io::Result<()>> {
///         let sent = self.0.send(msg.clone());
///         Poll::Ready(sent.map_err(|_| io::ErrorKind::BrokenPipe.into()))
///     }
/// }
///
/// # tokio_test::block_on(async {
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// let mut sink = MessageFramed::new(ToChannel(tx));
/// sink.send(Bytes::from_static(b"hello")).await?;
/// assert_eq!(rx.recv().await.unwrap(), "hello");
/// drop(rx);
/// let err = sink.send(Bytes::from_static(b"anyone?")).await.unwrap_err();
/// assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
/// # Ok::<(), io::Error>(()) }).unwrap();
/// ```
pub trait SendMessage {
    /// Tries to hand `msg` to the backend. `Ready(Ok(()))` means it was accepted;
    /// `Pending` means there is no room yet and the task will be woken.
    ///
    /// A refused message is reported by the send that offered it and not offered again:
    ///
    /// ```
    /// # use anyipc::{MessageFramed, SendMessage};
    /// # use bytes::Bytes;
    /// # use futures::SinkExt;
    /// # use std::io;
    /// # use std::pin::Pin;
    /// # use std::task::{Context, Poll};
    /// /// Keeps what it is sent, refusing any message over 4 bytes.
    /// #[derive(Default)]
    /// struct Limited(Vec<Bytes>);
    ///
    /// impl SendMessage for Limited {
    ///     fn poll_send(self: Pin<&mut Self>, _: &mut Context<'_>, msg: &Bytes)
    ///         -> Poll<io::Result<()>> {
    ///         if msg.len() > 4 {
    ///             return Poll::Ready(Err(io::ErrorKind::InvalidInput.into()));
    ///         }
    ///         self.get_mut().0.push(msg.clone());
    ///         Poll::Ready(Ok(()))
    ///     }
    /// }
    /// # tokio_test::block_on(async {
    /// let mut sink = MessageFramed::new(Limited::default());
    /// let err = sink.send(Bytes::from_static(b"too long")).await.unwrap_err();
    /// assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    /// sink.send(Bytes::from_static(b"ok")).await?;
    /// assert_eq!(sink.get_ref().0, ["ok"]);
    /// # Ok::<(), io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` for a message over the limit, `BrokenPipe` once the peer has gone.
    fn poll_send(self: Pin<&mut Self>, cx: &mut Context<'_>, msg: &Bytes) -> Poll<io::Result<()>>;

    /// Hands on whatever the backend gathered from earlier [`poll_send`]s (a backend may batch
    /// several messages into one write). Backends that pass each message on at once, the
    /// default, have nothing to flush.
    ///
    /// ```
    /// # use anyipc::{MessageFramed, SendMessage};
    /// # use bytes::Bytes;
    /// # use futures::SinkExt;
    /// # use std::io;
    /// # use std::pin::Pin;
    /// # use std::task::{Context, Poll};
    /// /// Gathers messages and writes them out together, one `Vec` per write.
    /// #[derive(Default)]
    /// struct Gathering { gathered: Vec<Bytes>, writes: Vec<Vec<Bytes>> }
    ///
    /// impl SendMessage for Gathering {
    ///     fn poll_send(self: Pin<&mut Self>, _: &mut Context<'_>, msg: &Bytes)
    ///         -> Poll<io::Result<()>> {
    ///         self.get_mut().gathered.push(msg.clone());
    ///         Poll::Ready(Ok(()))
    ///     }
    ///     fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
    ///         let this = self.get_mut();
    ///         if !this.gathered.is_empty() {
    ///             this.writes.push(std::mem::take(&mut this.gathered));
    ///         }
    ///         Poll::Ready(Ok(()))
    ///     }
    /// }
    /// # tokio_test::block_on(async {
    /// let mut sink = MessageFramed::new(Gathering::default());
    /// sink.feed(Bytes::from_static(b"a")).await?;
    /// sink.feed(Bytes::from_static(b"b")).await?;
    /// assert!(sink.get_ref().writes.is_empty());
    /// sink.flush().await?;
    /// assert_eq!(sink.get_ref().writes, [["a", "b"]]);
    /// # Ok::<(), io::Error>(()) }).unwrap();
    /// ```
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
    /// [`MessageFramed`](crate::MessageFramed) sends and flushes what it holds first:
    ///
    /// ```
    /// # use anyipc::{MessageFramed, SendMessage};
    /// # use bytes::Bytes;
    /// # use futures::SinkExt;
    /// # use std::io;
    /// # use std::pin::Pin;
    /// # use std::task::{Context, Poll};
    /// /// Records what happens to it.
    /// #[derive(Default)]
    /// struct Recorder(Vec<String>);
    ///
    /// impl SendMessage for Recorder {
    ///     fn poll_send(self: Pin<&mut Self>, _: &mut Context<'_>, msg: &Bytes)
    ///         -> Poll<io::Result<()>> {
    ///         self.get_mut().0.push(format!("send {}", String::from_utf8_lossy(msg)));
    ///         Poll::Ready(Ok(()))
    ///     }
    ///     fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
    ///         self.get_mut().0.push("close".to_owned());
    ///         Poll::Ready(Ok(()))
    ///     }
    /// }
    /// # tokio_test::block_on(async {
    /// let mut sink = MessageFramed::new(Recorder::default());
    /// sink.feed(Bytes::from_static(b"bye")).await?;
    /// sink.close().await?;
    /// assert_eq!(sink.get_ref().0, ["send bye", "close"]);
    /// # Ok::<(), io::Error>(()) }).unwrap();
    /// ```
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
    ///
    /// ```
    /// # use anyipc::{MessageFramed, SendMessage};
    /// # use bytes::Bytes;
    /// # use futures::SinkExt;
    /// # use std::io;
    /// # use std::pin::Pin;
    /// # use std::task::{Context, Poll};
    /// /// Gathers messages and passes them on when flushed, counting them.
    /// #[derive(Default)]
    /// struct Gathering { gathered: Vec<Bytes>, passed_on: u64 }
    ///
    /// impl SendMessage for Gathering {
    ///     fn poll_send(self: Pin<&mut Self>, _: &mut Context<'_>, msg: &Bytes)
    ///         -> Poll<io::Result<()>> {
    ///         self.get_mut().gathered.push(msg.clone());
    ///         Poll::Ready(Ok(()))
    ///     }
    ///     fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
    ///         let this = self.get_mut();
    ///         this.passed_on += this.gathered.drain(..).count() as u64;
    ///         Poll::Ready(Ok(()))
    ///     }
    ///     fn passed_on(&self) -> u64 {
    ///         self.passed_on
    ///     }
    /// }
    /// # tokio_test::block_on(async {
    /// let mut sink = MessageFramed::new(Gathering::default());
    /// sink.feed(Bytes::from_static(b"a")).await?;
    /// sink.feed(Bytes::from_static(b"b")).await?;
    /// assert_eq!(sink.get_ref().passed_on(), 0);
    /// sink.flush().await?;
    /// assert_eq!(sink.get_ref().passed_on(), 2);
    /// # Ok::<(), io::Error>(()) }).unwrap();
    /// ```
    fn passed_on(&self) -> u64 {
        0
    }
}
