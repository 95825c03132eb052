use futures::{Sink, Stream};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Two one-way connections joined into one duplex [`Transport`](crate::Transport): messages
/// are received from `receiver` and sent into `sender`.
///
/// Some transports carry messages one way only — `fifo://` (the side that binds reads, the
/// sides that connect write), a `file://` log (`connect` appends, `bind` tails) — and an
/// `mq://` connection sends into and receives from the *same* queue. Two of them, one each
/// way, make a duplex channel: the classic pair of FIFOs. `Duplex` is that pair as one
/// `Stream` + `Sink`, so code written for a [`Connection`](crate::Connection) (request/reply,
/// [`Typed`](crate::Typed) via [`Typed::new`](crate::Typed::new), `anyipc::bench`) runs over
/// it unchanged.
///
/// Only the receiver is ever polled for messages and only the sender is ever sent into;
/// closing the `Duplex` flushes and closes the sender and leaves the receiver open, like a
/// half-close. Whether the peer's receive then ends depends on the transport: it does not
/// for `fifo://` (the reader keeps a write end of its own), a following `file://` consumer
/// or an `mq://` queue, which outlive their senders.
///
/// ```
/// # #[cfg(unix)] {
/// use anyipc::Duplex;
/// use futures::{SinkExt, StreamExt};
/// # tokio_test::block_on(async {
/// let dir = std::env::temp_dir().join(format!("anyipc-doc-duplex-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let (a, b) = (dir.join("a.fifo"), dir.join("b.fifo"));
/// let (a, b) = (format!("fifo://{}", a.display()), format!("fifo://{}", b.display()));
///
/// // Each side binds the FIFO it reads; a FIFO can be written once its reader exists.
/// let mut a_reader = anyipc::bind(&a).await?;
/// let mut b_reader = anyipc::bind(&b).await?;
/// let mut left = Duplex::new(a_reader.accept().await?, anyipc::connect(&b).await?);
/// let mut right = Duplex::new(b_reader.accept().await?, anyipc::connect(&a).await?);
///
/// left.send("ping".into()).await?;
/// let msg = right.next().await.unwrap()?;
/// right.send(msg).await?;
/// assert_eq!(left.next().await.unwrap()?, "ping");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// # }
/// ```
///
/// # Errors
/// Those of the two halves: receiving gives the receiver's errors and its end of stream,
/// sending the sender's.
///
/// # Cancel safety
/// As cancel safe as the halves: `StreamExt::next` on a [`Connection`](crate::Connection)
/// receiver never loses a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Duplex<R, S> {
    receiver: R,
    sender: S,
}

impl<R, S> Duplex<R, S> {
    /// Joins `receiver` (a `Stream` of messages) and `sender` (a `Sink` of messages).
    ///
    /// ```
    /// use anyipc::Duplex;
    /// use futures::{SinkExt, StreamExt};
    /// # tokio_test::block_on(async {
    /// // Two links, each used one way (mem:// stands in for one-way transports here).
    /// let mut to_left = anyipc::bind("mem://doc-duplex-new-l").await?;
    /// let mut to_right = anyipc::bind("mem://doc-duplex-new-r").await?;
    /// let left_out = anyipc::connect("mem://doc-duplex-new-r").await?;
    /// let right_out = anyipc::connect("mem://doc-duplex-new-l").await?;
    /// let mut left = Duplex::new(to_left.accept().await?, left_out);
    /// let mut right = Duplex::new(to_right.accept().await?, right_out);
    /// left.send("ping".into()).await?;
    /// assert_eq!(right.next().await.unwrap()?, "ping");
    /// right.send("pong".into()).await?;
    /// assert_eq!(left.next().await.unwrap()?, "pong");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn new(receiver: R, sender: S) -> Duplex<R, S> {
        Duplex { receiver, sender }
    }

    /// The receiving half.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// let mut inbox = anyipc::bind("mem://doc-duplex-receiver").await?;
    /// let _writer = anyipc::connect("mem://doc-duplex-receiver").await?;
    /// let duplex = anyipc::Duplex::new(inbox.accept().await?, Vec::<bytes::Bytes>::new());
    /// assert!(duplex.receiver().peer_addr().starts_with("mem client"));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn receiver(&self) -> &R {
        &self.receiver
    }

    /// The receiving half, mutably: to use the receiver's own methods, such as
    /// [`Connection::recv_batch`](crate::Connection::recv_batch).
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// let mut inbox = anyipc::bind("mem://doc-duplex-receiver-mut").await?;
    /// let mut writer = anyipc::connect("mem://doc-duplex-receiver-mut").await?;
    /// let mut duplex = anyipc::Duplex::new(inbox.accept().await?, Vec::<bytes::Bytes>::new());
    /// writer.send("hello").await?;
    /// assert_eq!(duplex.receiver_mut().recv().await?.unwrap(), "hello");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn receiver_mut(&mut self) -> &mut R {
        &mut self.receiver
    }

    /// The sending half.
    ///
    /// ```
    /// use futures::SinkExt;
    /// # tokio_test::block_on(async {
    /// // Any `Sink` will do: here a `Vec` collects what is sent.
    /// let mut duplex = anyipc::Duplex::new(futures::stream::empty::<u32>(), Vec::new());
    /// duplex.send(1).await.unwrap();
    /// duplex.send(2).await.unwrap();
    /// assert_eq!(duplex.sender(), &[1, 2]);
    /// # });
    /// ```
    pub fn sender(&self) -> &S {
        &self.sender
    }

    /// The sending half, mutably: to use the sender's own methods, such as
    /// [`Connection::send_many`](crate::Connection::send_many).
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// let mut outbox = anyipc::bind("mem://doc-duplex-sender-mut").await?;
    /// let writer = anyipc::connect("mem://doc-duplex-sender-mut").await?;
    /// let mut duplex = anyipc::Duplex::new(futures::stream::empty::<()>(), writer);
    /// duplex.sender_mut().send_many(&["a", "b"]).await?;
    /// let mut peer = outbox.accept().await?;
    /// assert_eq!(peer.recv().await?.unwrap(), "a");
    /// assert_eq!(peer.recv().await?.unwrap(), "b");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn sender_mut(&mut self) -> &mut S {
        &mut self.sender
    }

    /// The two halves back: `(receiver, sender)`.
    ///
    /// ```
    /// use futures::{SinkExt, StreamExt};
    /// # tokio_test::block_on(async {
    /// let mut duplex = anyipc::Duplex::new(futures::stream::iter(["in"]), Vec::new());
    /// duplex.send("out").await.unwrap();
    /// let (receiver, sender) = duplex.into_parts();
    /// assert_eq!(receiver.collect::<Vec<_>>().await, ["in"]);
    /// assert_eq!(sender, ["out"]);
    /// # });
    /// ```
    pub fn into_parts(self) -> (R, S) {
        (self.receiver, self.sender)
    }
}

impl<R: Stream + Unpin, S: Unpin> Stream for Duplex<R, S> {
    type Item = R::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<R::Item>> {
        Pin::new(&mut self.get_mut().receiver).poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.receiver.size_hint()
    }
}

impl<R: Unpin, S: Sink<Item> + Unpin, Item> Sink<Item> for Duplex<R, S> {
    type Error = S::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Pin::new(&mut self.get_mut().sender).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Item) -> Result<(), S::Error> {
        Pin::new(&mut self.get_mut().sender).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Pin::new(&mut self.get_mut().sender).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Pin::new(&mut self.get_mut().sender).poll_close(cx)
    }
}
