use super::deadline::{Deadline, RECV_TIMED_OUT, SEND_TIMED_OUT};
use super::{
    AnyChannel, AnyStream, MessageBatch, MessageFramed, PeerCredentials, StreamFramed, Typed,
};
use crate::codec::{Format, FrameCodec, Framing};
use crate::Endpoint;
use bytes::Bytes;
use futures::{Sink, SinkExt, Stream, StreamExt};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// Read buffer and write batch size of byte-stream connections. Writes are gathered up to this
/// many bytes before `poll_ready` waits for the stream (tokio-util's `Framed` uses 8 KiB).
const STREAM_BUFFER: usize = 64 * 1024;

/// Why [`Connection::typed`] refuses a connection with `framing=raw`.
const RAW_TYPED_REFUSED: &str = "typed values need message boundaries, which framing=raw \
                                 does not keep (values would be merged or split): use \
                                 framing=length or framing=lines";

/// Why [`Connection::typed`] refuses a binary format over `framing=lines`.
const LINES_BINARY_REFUSED: &str = "a binary format's values may hold a newline, which \
                                    framing=lines cannot carry (such a value could not be \
                                    sent): use framing=length, or a text format such as Json";

/// One connection over any transport: a [`Stream`] of received messages and a [`Sink`] of
/// messages to send.
///
/// Get one from [`connect`](crate::connect) or [`Listener::accept`](crate::Listener::accept).
///
/// # Errors
/// The same condition gives the same [`io::ErrorKind`] on every transport:
///
/// | condition | kind |
/// |---|---|
/// | peer closed | the stream ends (`None`); a later send fails with `BrokenPipe` (the first send after the close may still succeed on sockets and pipes: the OS reports the close to a writer only after it) |
/// | peer closed inside a frame | `UnexpectedEof` (with `framing=lines`, a last line without its newline is delivered, as a line reader would) |
/// | nothing listens at the endpoint | `NotFound` (named endpoints) or `ConnectionRefused` (sockets; for `udp://` on Linux, on the first receive or send after the host refused a datagram) |
/// | a `tcp://` or `udp://` host name that does not resolve | `NotFound`, naming the host |
/// | the endpoint is taken by a live listener | `AddrInUse` |
/// | no message for `recv_timeout`, a send or flush held up for `send_timeout`, connect over `connect_timeout` | `TimedOut` |
/// | a message over `max_frame` (or an `mq://` queue's `max_message_len`) to send, or, with `framing=lines`, one holding `\n` or ending with `\r` | `InvalidInput`, with a [`FrameError`](crate::codec::FrameError) inside |
/// | corrupt or oversized data from the peer | `InvalidData` (with a typed inner error; what follows it: below) |
/// | a scheme this platform does not have | `Unsupported` |
///
/// After `InvalidData` from the peer: on `udp://` and `mem://` only that message is lost and
/// the next one follows; with `framing=lines` the long line is dropped and the next line
/// follows; so does a `fifo` reader's frame over `max_frame` that a writer could send (at
/// most [`MAX_ATOMIC_FRAME`](crate::fifo::MAX_ATOMIC_FRAME) bytes, written whole by one
/// atomic write). On any other byte stream with length framing (`tcp`, `unix`, `pipe`, `shm`,
/// child pipes, a `fifo` reader given a longer length) the stream ends (`None` from then on,
/// while sending still works): the body of a length over `max_frame` is not read through to
/// find the next frame, since a length that large is more often a peer speaking another
/// protocol than a message. An `mq://` queue and a `file://` log keep what they could not
/// deliver and report it again at every receive. A message that does not deserialize on a
/// [typed](Connection::typed) connection loses only itself. [`Endpoint::drops_bad_message`]
/// answers it for an error at hand: whether to report it and receive again.
///
/// # Dropping
/// Dropping a connection sends nothing more: a message given to [`feed`](SinkExt::feed) (or
/// [`start_send`](Sink::start_send)) and not yet flushed may be lost. To be sure the peer can
/// read everything sent, [`flush`](SinkExt::flush) or [`close`](SinkExt::close) first; so
/// are the messages of sends that returned `TimedOut` and are still queued. (Some
/// transports deliver it anyway: a small message fed on `shm://` is in the ring already, and
/// a `file://` producer's writer thread writes what it accepted. On sockets and pipes a fed
/// message can wait in this side's buffer, and is lost with it.)
///
/// # Cooperative scheduling
/// Inside a tokio runtime every operation on the mechanism below takes a unit of the task's
/// cooperative budget, as tokio's own sockets and channels do: a read or write of a socket,
/// pipe or `shm://` ring, a message taken from or a batch put in an `mq://` queue, a message
/// sent on `mem://`, a read of a `file://` log on the task or a block handed to its writer.
/// So a loop that always finds data waiting or room to send (a busy `shm://` peer, a queue
/// or log full of messages) yields to the scheduler now and then, and the task's other
/// branches (a `select!`, a timeout around the loop) and the thread's other tasks still run.
/// Messages already read together (the frames of one read of a byte stream, the records of
/// one read of a log) are returned without taking more, as tokio-util's `Framed` does.
///
/// ```
/// # tokio_test::block_on(async {
/// use futures::{SinkExt, StreamExt};
///
/// let mut listener = anyipc::bind("mem://doc-connection").await?;
/// let mut client = anyipc::connect("mem://doc-connection").await?;
/// let mut server = listener.accept().await?;
///
/// client.send("ping").await?;
/// let msg = server.next().await.unwrap()?;
/// server.send(msg).await?;
/// assert_eq!(client.recv().await?.unwrap(), "ping");
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct Connection {
    inner: Inner,
    endpoint: Endpoint,
    peer: String,
    credentials: Option<PeerCredentials>,
    /// `recv_timeout`: armed while a receive waits.
    recv_deadline: Deadline,
    /// `send_timeout`: armed while a send, flush or close waits for the peer.
    send_deadline: Deadline,
    span: tracing::Span,
}

enum Inner {
    Stream(StreamFramed<AnyStream>),
    Message(MessageFramed<AnyChannel>),
}

macro_rules! dispatch {
    ($inner:expr, $i:ident => $body:expr) => {
        match $inner {
            Inner::Stream($i) => $body,
            Inner::Message($i) => $body,
        }
    };
}

impl Connection {
    pub(crate) fn from_stream(
        stream: AnyStream,
        endpoint: &Endpoint,
        peer: String,
        credentials: Option<PeerCredentials>,
    ) -> Connection {
        let codec = FrameCodec::new(endpoint.framing(), endpoint.max_frame());
        Connection::from_stream_with(stream, codec, endpoint, peer, credentials)
    }

    /// [`from_stream`](Self::from_stream) with a codec of the caller's.
    pub(crate) fn from_stream_with(
        stream: AnyStream,
        codec: FrameCodec,
        endpoint: &Endpoint,
        peer: String,
        credentials: Option<PeerCredentials>,
    ) -> Connection {
        let framed = StreamFramed::new(stream, codec, STREAM_BUFFER);
        Connection::new(Inner::Stream(framed), endpoint, peer, credentials)
    }

    pub(crate) fn from_channel(
        channel: AnyChannel,
        endpoint: &Endpoint,
        peer: String,
    ) -> Connection {
        Connection::new(
            Inner::Message(MessageFramed::new(channel)),
            endpoint,
            peer,
            None,
        )
    }

    fn new(
        inner: Inner,
        endpoint: &Endpoint,
        peer: String,
        credentials: Option<PeerCredentials>,
    ) -> Connection {
        let span = tracing::debug_span!("connection", endpoint = %endpoint, peer = %peer);
        tracing::debug!(parent: &span, "connection open");
        Connection {
            inner,
            endpoint: endpoint.clone(),
            peer,
            credentials,
            recv_deadline: Deadline::new(endpoint.duration_option("recv_timeout"), RECV_TIMED_OUT),
            send_deadline: Deadline::new(endpoint.duration_option("send_timeout"), SEND_TIMED_OUT),
            span,
        }
    }

    /// The endpoint this connection was made to or accepted on.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("tcp://127.0.0.1:0").await?;
    /// let client = anyipc::connect(listener.endpoint()).await?;
    /// let server = listener.accept().await?;
    /// // Both sides name the listener's endpoint, with the port it got for port 0.
    /// assert_eq!(client.endpoint(), listener.endpoint());
    /// assert_eq!(server.endpoint(), listener.endpoint());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The peer's address as text (`127.0.0.1:50312`, a socket path, `mem client 3`, …).
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("tcp://127.0.0.1:0").await?;
    /// let client = anyipc::connect(listener.endpoint()).await?;
    /// let server = listener.accept().await?;
    /// let anyipc::Address::HostPort { port, .. } = listener.endpoint().address() else {
    ///     unreachable!("a tcp endpoint has a host and port")
    /// };
    /// assert_eq!(client.peer_addr(), format!("127.0.0.1:{port}"));
    /// assert!(server.peer_addr().starts_with("127.0.0.1:"));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> &str {
        &self.peer
    }

    /// The peer's pid, uid and gid on local transports where the OS reports them (`unix`, and
    /// `pipe` on Unix).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// # tokio_test::block_on(async {
    /// # let pid = std::process::id();
    /// # let path = std::env::temp_dir().join(format!("anyipc-doc-conn-cred-{pid}.sock"));
    /// # let url = format!("unix://{}", path.display());
    /// let mut listener = anyipc::bind(&url).await?;
    /// let _client = anyipc::connect(&url).await?;
    /// let server = listener.accept().await?;
    /// // The client is this very process.
    /// let peer = server.peer_credentials().expect("unix:// reports its peer");
    /// assert_eq!(peer.pid, Some(std::process::id()));
    ///
    /// let mut listener = anyipc::bind("mem://doc-conn-cred").await?;
    /// let _client = anyipc::connect("mem://doc-conn-cred").await?;
    /// assert_eq!(listener.accept().await?.peer_credentials(), None);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    pub fn peer_credentials(&self) -> Option<PeerCredentials> {
        self.credentials
    }

    /// Receives the next message; `Ok(None)` once the peer has closed.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("mem://doc-conn-recv").await?;
    /// let mut client = anyipc::connect("mem://doc-conn-recv").await?;
    /// let mut server = listener.accept().await?;
    /// client.send("last words").await?;
    /// drop(client);
    /// // What was sent before the close still arrives, then the end.
    /// assert_eq!(server.recv().await?.unwrap(), "last words");
    /// assert_eq!(server.recv().await?, None);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As in the table on [`Connection`].
    ///
    /// # Cancel safety
    /// Cancel safe: a message is never lost when the future is dropped before it completes.
    pub async fn recv(&mut self) -> io::Result<Option<Bytes>> {
        NextMessage(self).await.transpose()
    }

    /// Sends one message and flushes it.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("mem://doc-conn-send").await?;
    /// let mut client = anyipc::connect("mem://doc-conn-send?max_frame=4").await?;
    /// let server = listener.accept().await?;
    /// client.send("four").await?;
    /// assert_eq!(client.send("fives").await.unwrap_err().kind(), ErrorKind::InvalidInput);
    /// drop((server, listener));
    /// assert_eq!(client.send("four").await.unwrap_err().kind(), ErrorKind::BrokenPipe);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` for a message over `max_frame` (nothing is sent), `BrokenPipe` when
    /// the peer has gone (a send right after the peer closed may still succeed: see the
    /// table on [`Connection`]). `TimedOut` when `send_timeout` ran out while the peer held
    /// the message up, or held up the ones before it so that there was no room: the message
    /// stays queued, whole, and goes out with the next send or flush, so do not send it
    /// again. Each such send queues its message past the connection's buffer limit, so a
    /// sender that goes on sending to a peer that never reads grows that queue by one
    /// message per `send_timeout`: stop, or drop the connection. (Through the `Sink` trait,
    /// `SinkExt::send` and `feed` lose a message whose wait for room timed out, as that
    /// trait's contract has it: see `poll_ready` under `impl Sink`.)
    ///
    /// ```
    /// use futures::SinkExt;
    /// use std::io::ErrorKind;
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("mem://doc-conn-send-timeout").await?;
    /// let url = "mem://doc-conn-send-timeout?capacity=1&send_timeout=20ms";
    /// let mut client = anyipc::connect(url).await?;
    /// let mut server = listener.accept().await?; // not reading yet
    /// client.send("one").await?;
    /// assert_eq!(client.send("two").await.unwrap_err().kind(), ErrorKind::TimedOut);
    /// assert_eq!(client.send("three").await.unwrap_err().kind(), ErrorKind::TimedOut);
    /// // Nothing is lost: the queued messages go out once the peer reads.
    /// let reader = tokio::spawn(async move {
    ///     let mut got = Vec::new();
    ///     while let Some(msg) = server.recv().await? {
    ///         got.push(msg);
    ///     }
    ///     Ok::<_, std::io::Error>(got)
    /// });
    /// client.flush().await?;
    /// drop(client);
    /// assert_eq!(reader.await.unwrap()?, ["one", "two", "three"]);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped before completion, the message may or may not have been sent.
    pub async fn send(&mut self, msg: impl Into<Bytes>) -> io::Result<()> {
        let msg = msg.into();
        if let Err(e) = std::future::poll_fn(|cx| self.poll_ready_bounded(cx)).await {
            if e.kind() == io::ErrorKind::TimedOut {
                // As a flush that timed out leaves its messages queued, so this one.
                self.queue_past_limit(msg)?;
            }
            return Err(e);
        }
        Pin::new(&mut *self).start_send(msg)?;
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Receives every message that has arrived, as one [`MessageBatch`]; `Ok(None)` once the
    /// peer has closed. Waits (up to `recv_timeout`, when set) for at least one.
    ///
    /// The batch form of [`recv`](Connection::recv) for many small messages: on byte-stream
    /// transports with length or line framing one call returns all the whole frames that
    /// have been read (usually one read's worth), without a `Bytes` per message. Elsewhere
    /// (message transports, raw framing) a batch holds one message. It can be mixed freely
    /// with `recv` and the `Stream`.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("mem://doc-recv-batch").await?;
    /// let mut client = anyipc::connect("mem://doc-recv-batch").await?;
    /// let mut server = listener.accept().await?;
    /// client.send("hello").await?;
    /// drop(client);
    /// let batch = server.recv_batch().await?.unwrap();
    /// assert_eq!(batch.iter().collect::<Vec<_>>(), [&b"hello"[..]]);
    /// assert!(server.recv_batch().await?.is_none());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As in the table on [`Connection`]. A frame over `max_frame` ends a batch before it;
    /// the next call reports it.
    ///
    /// # Cancel safety
    /// Cancel safe: a message is never lost when the future is dropped before it completes.
    pub async fn recv_batch(&mut self) -> io::Result<Option<MessageBatch>> {
        std::future::poll_fn(|cx| self.poll_recv_batch(cx))
            .await
            .transpose()
    }

    /// Sends `msgs` in order and flushes them: the batch form of [`send`](Connection::send)
    /// for many small messages.
    ///
    /// - Byte-stream transports (`tcp`, `unix`, `pipe`, `shm`, child pipes): every message is
    ///   checked first, and one over `max_frame` (or, with line framing, one with a newline)
    ///   fails the call and sends nothing. Messages are encoded straight from the slices into
    ///   the write buffer, which goes to the stream each time it holds 64 KiB or more; a
    ///   message of 32 KiB or more is written from its own memory instead.
    /// - Message transports (`udp`, `mem`, `mq`, `file`, a `fifo` writer): each message is
    ///   copied into a `Bytes` and fed to the sink, then all are flushed. A message the
    ///   transport refuses fails the call there: the messages before it are still flushed,
    ///   the ones after it are not sent.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("mem://doc-send-many").await?;
    /// let mut client = anyipc::connect("mem://doc-send-many").await?;
    /// let mut server = listener.accept().await?;
    /// client.send_many(&[b"one".as_slice(), b"two"]).await?;
    /// assert_eq!(server.recv().await?.unwrap(), "one");
    /// assert_eq!(server.recv().await?.unwrap(), "two");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` for a message the transport refuses, `BrokenPipe` when the peer has
    /// gone. `TimedOut` when `send_timeout` ran out: as with [`send`](Connection::send),
    /// every message of the batch stays queued, whole, and goes out with the next send or
    /// flush, so do not send them again.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped before completion, some of the messages may have been sent.
    /// The connection stays usable: on a byte stream the rest of a large message under way
    /// is kept in the write buffer and goes out with the next send or flush, so the peer
    /// never sees a torn frame; the messages after it are not sent.
    pub async fn send_many<M: AsRef<[u8]>>(&mut self, msgs: &[M]) -> io::Result<()> {
        if let Inner::Stream(framed) = &mut self.inner {
            return framed.send_many(msgs, &mut self.send_deadline).await;
        }
        // Through this connection's own sink, so that `send_timeout` applies.
        for (i, msg) in msgs.iter().enumerate() {
            match std::future::poll_fn(|cx| self.poll_ready_bounded(cx)).await {
                Ok(()) => Pin::new(&mut *self).start_send(Bytes::copy_from_slice(msg.as_ref()))?,
                // What was accepted goes out even when a later message was refused; a failed
                // flush (the peer gone) says more than the refusal.
                Err(refused) if refused.kind() == io::ErrorKind::InvalidInput => {
                    return match self.flush().await {
                        // The peer is gone: that says more than the refusal.
                        Err(e) if e.kind() != io::ErrorKind::TimedOut => Err(e),
                        // Sent, or queued if the flush timed out: the refusal says that the
                        // messages from it on were not, which `TimedOut` would deny.
                        _ => Err(refused),
                    };
                }
                // `send_timeout` ran out (a flush would wait that long again): the rest of
                // the batch is queued behind what was, as `send` queues its message.
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    for msg in &msgs[i..] {
                        self.queue_past_limit(Bytes::copy_from_slice(msg.as_ref()))?;
                    }
                    return Err(e);
                }
                // The peer is gone.
                Err(e) => return Err(e),
            }
        }
        self.flush().await
    }

    /// Polls for room for one more message, bounded by `send_timeout`.
    #[inline]
    fn poll_ready_bounded(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_sending(
            cx,
            |inner, cx| dispatch!(inner, i => i.poll_ready_unpin(cx)),
        )
    }

    /// Queues `msg` without waiting for room, after everything queued before it: for a send
    /// that ran out of `send_timeout` while it waited for room, so that its message goes out
    /// with the next send or flush, as the ones before it do. `InvalidInput` for a message
    /// over `max_frame` on a byte stream (message transports refuse it when they get to it).
    fn queue_past_limit(&mut self, msg: Bytes) -> io::Result<()> {
        match &mut self.inner {
            // The write buffer's limit is where sends start to wait, not a hard cap.
            Inner::Stream(framed) => Pin::new(framed).start_send(msg),
            Inner::Message(framed) => framed.queue_past_limit(msg),
        }
    }

    fn poll_recv_batch(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<MessageBatch>>> {
        let polled = match &mut self.inner {
            Inner::Stream(framed) => framed.poll_next_batch(cx),
            Inner::Message(framed) => framed
                .poll_next_unpin(cx)
                .map(|item| item.map(|msg| msg.map(MessageBatch::one))),
        };
        match polled {
            Poll::Ready(item) => Poll::Ready(self.received(item)),
            Poll::Pending => self.poll_recv_deadline(cx).map(|e| Some(Err(e))),
        }
    }

    /// Bookkeeping for a receive that returned `item`.
    #[inline]
    fn received<T>(&mut self, item: Option<T>) -> Option<T> {
        self.recv_deadline.disarm();
        if item.is_none() {
            tracing::debug!(parent: &self.span, "peer closed");
        }
        item
    }

    /// Typed messages over this connection: receives `In`, sends `Out`, serialized by `format`.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::codec::Json;
    /// use futures::{SinkExt, StreamExt};
    ///
    /// let mut listener = anyipc::bind("mem://doc-typed").await?;
    /// let mut client = anyipc::connect("mem://doc-typed").await?.typed::<u64, String>(Json);
    /// let mut server = listener.accept().await?.typed::<String, u64>(Json);
    /// client.send("forty-two".to_owned()).await?;
    /// let text = server.next().await.unwrap()?;
    /// server.send(text.len() as u64).await?;
    /// assert_eq!(client.next().await.unwrap()?, 9);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// To name the type (say, in a struct field), build it with [`Typed::new`] instead:
    /// `Typed<Connection, Request, Reply, Json>`.
    ///
    /// On a connection with `framing=raw` every send of the result is `Unsupported` (nothing
    /// is sent), and its stream yields `Unsupported` once, then ends: raw reads are not
    /// messages, so values would be merged or split (the JSON values `1` and `2` received
    /// as `12`). So it is with a [binary](Format::binary) format (`Postcard`) over
    /// `framing=lines`, whose values may hold the newline that ends a line.
    ///
    /// ```
    /// # #[cfg(feature = "postcard")] {
    /// # tokio_test::block_on(async {
    /// use anyipc::codec::Postcard;
    /// use futures::SinkExt;
    ///
    /// let listener = anyipc::bind("tcp://127.0.0.1:0?framing=lines").await?;
    /// let conn = anyipc::connect(listener.endpoint()).await?;
    /// let mut typed = conn.typed::<u32, u32>(Postcard);
    /// // 10 would be the one byte b'\n': no value is sent over lines.
    /// let err = typed.send(7).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    pub fn typed<In, Out>(
        self,
        format: impl Format + fmt::Debug,
    ) -> Typed<Connection, In, Out, impl Format + fmt::Debug> {
        match self.endpoint.framing() {
            Framing::Raw => Typed::refusing(self, format, RAW_TYPED_REFUSED),
            Framing::Lines if format.binary() => {
                Typed::refusing(self, format, LINES_BINARY_REFUSED)
            }
            _ => Typed::new(self, format),
        }
    }

    /// `TimedOut` once a receive has waited `recv_timeout`; pending without one.
    fn poll_recv_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        self.recv_deadline.poll_expired(cx, 0)
    }

    /// Polls a sending step (ready, flush, close): while the peer holds it up, `TimedOut`
    /// once it has taken nothing for `send_timeout`. What was queued stays queued, whole: a
    /// later flush sends it.
    #[inline]
    fn poll_sending(
        &mut self,
        cx: &mut Context<'_>,
        step: impl FnOnce(&mut Inner, &mut Context<'_>) -> Poll<io::Result<()>>,
    ) -> Poll<io::Result<()>> {
        let step = step(&mut self.inner, cx);
        let inner = &self.inner;
        self.send_deadline.bound(cx, step, || sent_progress(inner))
    }
}

/// What has gone out of `inner` so far (bytes written to a byte stream; messages a
/// gathering backend passed on): progress that keeps `send_timeout` from running out.
fn sent_progress(inner: &Inner) -> u64 {
    match inner {
        Inner::Stream(framed) => framed.written(),
        Inner::Message(framed) => super::SendMessage::passed_on(framed.get_ref()),
    }
}

impl Stream for Connection {
    type Item = io::Result<Bytes>;

    // A message already taken in (a whole frame in the read buffer, a log record read
    // ahead) is handed out right here, inlined into the caller's loop, so that it reaches
    // the caller in registers: returned through the layers below, each message was stored
    // in 8-byte words and reloaded in 16-byte ones, a store-forwarding stall (BENCHMARKS.md,
    // issue 4). Everything else goes through those layers.
    #[inline(always)]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let ready = match &mut this.inner {
            Inner::Stream(framed) => framed.next_buffered(),
            Inner::Message(framed) => framed.get_mut().next_ready(),
        };
        if let Some(msg) = ready {
            return Poll::Ready(this.received(Some(Ok(msg))));
        }
        this.poll_next_layered(cx)
    }
}

/// [`Connection::recv`]'s wait: [`Stream::poll_next`] itself, inlined into the caller with
/// its fast path (a message already taken in), where `StreamExt::next` and `poll_fn` stayed
/// calls that return the message through memory.
struct NextMessage<'a>(&'a mut Connection);

impl Future for NextMessage<'_> {
    type Output = Option<io::Result<Bytes>>;

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut *self.0).poll_next(cx)
    }
}

impl Connection {
    /// [`Stream::poll_next`] through the transport's layers.
    #[inline(never)]
    fn poll_next_layered(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        let polled = dispatch!(&mut self.inner, i => i.poll_next_unpin(cx));
        match polled {
            Poll::Ready(item) => Poll::Ready(self.received(item)),
            Poll::Pending => self.poll_recv_deadline(cx).map(|e| Some(Err(e))),
        }
    }
}

impl Sink<Bytes> for Connection {
    type Error = io::Error;

    /// Ready for one more message. `TimedOut` when `send_timeout` ran out first, in which
    /// case, as the `Sink` contract has it, the caller still holds its message and nothing
    /// of it was queued: `SinkExt::send` and `feed` drop it, so send it again. (The
    /// inherent [`Connection::send`] and [`send_many`](Connection::send_many) queue their
    /// messages then instead.)
    #[inline]
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_ready_bounded(cx).map_err(|e| {
            if e.kind() != io::ErrorKind::TimedOut {
                return e;
            }
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{e}; this message was not taken: send it again"),
            )
        })
    }

    #[inline]
    fn start_send(self: Pin<&mut Self>, item: Bytes) -> io::Result<()> {
        let this = self.get_mut();
        // A small message over shared memory goes straight into the ring: one copy, not two.
        if let Inner::Stream(framed) = &mut this.inner {
            if framed.stage(&item) {
                return Ok(());
            }
        }
        dispatch!(&mut this.inner, i => i.start_send_unpin(item))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_sending(
            cx,
            |inner, cx| dispatch!(inner, i => i.poll_flush_unpin(cx)),
        )
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = ready!(this.poll_sending(
            cx,
            |inner, cx| dispatch!(inner, i => i.poll_close_unpin(cx))
        ));
        tracing::debug!(parent: &this.span, "sending side closed");
        Poll::Ready(result)
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("endpoint", &self.endpoint.to_string())
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        tracing::debug!(parent: &self.span, "connection closed");
    }
}
