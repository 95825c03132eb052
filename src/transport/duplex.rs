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
    pub fn new(receiver: R, sender: S) -> Duplex<R, S> {
        Duplex { receiver, sender }
    }

    /// The receiving half.
    pub fn receiver(&self) -> &R {
        &self.receiver
    }

    /// The receiving half, mutably.
    pub fn receiver_mut(&mut self) -> &mut R {
        &mut self.receiver
    }

    /// The sending half.
    pub fn sender(&self) -> &S {
        &self.sender
    }

    /// The sending half, mutably.
    pub fn sender_mut(&mut self) -> &mut S {
        &mut self.sender
    }

    /// The two halves back: `(receiver, sender)`.
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
