//! [`StreamFramed`]: messages over a byte stream, cut and framed by a [`FrameCodec`] — the
//! byte-stream shape of a [`Connection`](super::Connection).
//!
//! Reading works as tokio-util's `Framed` does (the same states, below). Writing differs in
//! one way that matters for large messages: a message of [`DIRECT_MIN`] bytes or more is not
//! copied into the write buffer. Its frame header is, and the message is queued by reference
//! ([`WriteQueue`]) and handed to the stream with the bytes around it in one vectored write,
//! so a 1 MiB message costs one copy (into the kernel, or into the shared-memory ring) instead
//! of two. Small messages are gathered into the buffer as before, up to the backpressure
//! boundary, so a burst of them goes out in few writes.
//!
//! A connection's stream can take small frames in place: over shared memory
//! ([`StreamFramed::stage`], used by `Connection::start_send`) a length-framed message under
//! [`DIRECT_MIN`] bytes is copied straight into the ring, unpublished, and the flush (or
//! `poll_ready` at the boundary, or the next write) publishes what was staged: one copy of it
//! instead of two.

use super::any_stream::AnyStream;
use super::deadline::Deadline;
use super::write_queue::WriteQueue;
use super::MessageBatch;
use crate::codec::{FrameCodec, LengthCodec};
use bytes::{Buf, Bytes, BytesMut};
use futures::{Sink, Stream};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Decoder, Encoder};

/// Messages at least this large are written from their own memory instead of being copied
/// into the write buffer (below it, gathering small messages into one write is cheaper).
pub(crate) const DIRECT_MIN: usize = 32 * 1024;

/// A `Stream` + `Sink` of messages over a byte stream (`AsyncRead` + `AsyncWrite`), cut and
/// framed by a [`FrameCodec`]: what every byte-stream [`Connection`](crate::Connection) is
/// made of, usable over a stream of your own.
///
/// It works as tokio-util's `Framed` does, except that a message of 32 KiB or more is not
/// copied into the write buffer but written from its own memory, together with
/// the bytes around it, in one vectored write where the stream supports it.
///
/// ```
/// use anyipc::codec::{FrameCodec, Framing};
/// use anyipc::StreamFramed;
/// use bytes::Bytes;
/// use futures::{SinkExt, StreamExt};
///
/// # tokio_test::block_on(async {
/// let (a, b) = tokio::io::duplex(1 << 20);
/// let mut a = StreamFramed::new(a, FrameCodec::new(Framing::Length, 8 << 20), 64 * 1024);
/// let mut b = StreamFramed::new(b, FrameCodec::new(Framing::Length, 8 << 20), 64 * 1024);
/// let big = Bytes::from(vec![7u8; 100_000]);
/// a.feed(Bytes::from_static(b"small")).await?;
/// a.feed(big.clone()).await?;
/// a.flush().await?;
/// assert_eq!(b.next().await.unwrap()?, "small");
/// assert_eq!(b.next().await.unwrap()?, big);
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// Receiving: the codec's errors (`InvalidData` for a frame over `max_frame`,
/// `UnexpectedEof` for a stream that ends inside a frame) and the stream's. After a line over
/// `max_frame` the next line follows (the line codec drops the long one), as does the next
/// frame after one a length codec was made to drop
/// ([`FrameCodec::dropping_frames_up_to`], a FIFO reader's); after any other error nothing
/// after it can be framed, and the stream yields `None` from then on. Sending:
/// `InvalidInput` for a message the codec refuses,
/// `WriteZero` if the stream accepts no bytes, and the stream's errors.
///
/// Read states (as in tokio-util's `FramedImpl`, but for errors):
///
/// | state   | `eof` | `readable` | `failed` | next step |
/// |---------|-------|------------|----------|-----------|
/// | reading | false | false      | false    | read; n > 0 → framing, 0 → pausing |
/// | framing | false | true       | false    | `decode`: a frame is returned; none → reading |
/// | pausing | true  | true       | false    | `decode_eof`: a frame is returned; none → paused (`None`) |
/// | paused  | true  | false      | false    | read again: n > 0 → framing, 0 → `None` |
/// | failed  | any   | any        | true     | `None`, for good |
///
/// A decode error of a codec that [goes on after it](FrameCodec::goes_on_after_error) leaves
/// the state as it was; any other error, of the codec or of the stream, is `failed`. (tokio-util's
/// `FramedImpl` yields `None` once after an error and then reads again, which here gave a
/// length-framed stream a false end, then the same error again once more bytes came.)
#[derive(Debug)]
pub struct StreamFramed<S> {
    stream: S,
    codec: FrameCodec,
    read_buf: BytesMut,
    eof: bool,
    readable: bool,
    /// An error ended the stream: it yields `None` from now on.
    failed: bool,
    write: WriteQueue,
    /// `poll_ready` writes out the queue once it holds this many bytes.
    boundary: usize,
    /// Bytes written to the stream so far.
    written: u64,
    /// Bytes of frames [`stage`](StreamFramed::stage)d in the stream since it was last
    /// flushed or written: `poll_ready` flushes them once they reach `boundary`, as it
    /// writes out the queue.
    staged: usize,
}

impl<S> StreamFramed<S> {
    /// Frames `stream` with `codec`, reading into a buffer of `capacity` bytes and gathering
    /// up to `capacity` bytes of writes before `poll_ready` waits for the stream.
    ///
    /// ```
    /// use anyipc::codec::{FrameCodec, Framing};
    /// use anyipc::StreamFramed;
    /// use futures::{SinkExt, StreamExt};
    /// # tokio_test::block_on(async {
    /// let (a, b) = tokio::io::duplex(4096);
    /// let mut a = StreamFramed::new(a, FrameCodec::new(Framing::Lines, 1024), 4096);
    /// let mut b = StreamFramed::new(b, FrameCodec::new(Framing::Lines, 1024), 4096);
    /// a.send("hello".into()).await?;
    /// assert_eq!(b.next().await.unwrap()?, "hello");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn new(stream: S, codec: FrameCodec, capacity: usize) -> StreamFramed<S> {
        StreamFramed {
            stream,
            codec,
            read_buf: BytesMut::with_capacity(capacity),
            eof: false,
            readable: false,
            failed: false,
            write: WriteQueue::with_capacity(capacity),
            boundary: capacity,
            written: 0,
            staged: 0,
        }
    }

    /// The stream.
    ///
    /// ```
    /// # use anyipc::codec::{FrameCodec, Framing};
    /// # use anyipc::StreamFramed;
    /// # use futures::{SinkExt, StreamExt};
    /// # tokio_test::block_on(async {
    /// let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = server.local_addr()?;
    /// let stream = tokio::net::TcpStream::connect(addr).await?;
    /// let framed = StreamFramed::new(stream, FrameCodec::new(Framing::Length, 1024), 4096);
    /// // The stream's own methods, through the framing.
    /// assert_eq!(framed.get_ref().peer_addr()?, addr);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream. Reading or writing it directly breaks the framing.
    ///
    /// ```
    /// # use anyipc::codec::{FrameCodec, Framing};
    /// # use anyipc::StreamFramed;
    /// # use futures::{SinkExt, StreamExt};
    /// # tokio_test::block_on(async {
    /// use tokio::io::AsyncWriteExt;
    ///
    /// let (a, b) = tokio::io::duplex(4096);
    /// let mut a = StreamFramed::new(a, FrameCodec::new(Framing::Lines, 1024), 4096);
    /// let mut b = StreamFramed::new(b, FrameCodec::new(Framing::Lines, 1024), 4096);
    /// // Raw bytes that happen to be whole lines are fine; anything else breaks the framing.
    /// a.get_mut().write_all(b"raw line\n").await?;
    /// assert_eq!(b.next().await.unwrap()?, "raw line");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Bytes received and not yet returned as messages.
    ///
    /// ```
    /// # use anyipc::codec::{FrameCodec, Framing};
    /// # use anyipc::StreamFramed;
    /// # use futures::{SinkExt, StreamExt};
    /// # tokio_test::block_on(async {
    /// let (a, b) = tokio::io::duplex(4096);
    /// let mut a = StreamFramed::new(a, FrameCodec::new(Framing::Length, 1024), 4096);
    /// let mut b = StreamFramed::new(b, FrameCodec::new(Framing::Length, 1024), 4096);
    /// a.feed("one".into()).await?;
    /// a.feed("two".into()).await?;
    /// a.flush().await?;
    /// assert_eq!(b.next().await.unwrap()?, "one");
    /// // The second frame arrived with the first: its 4-byte length header and body wait.
    /// assert_eq!(&b.read_buffer()[..], b"\0\0\0\x03two");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn read_buffer(&self) -> &BytesMut {
        &self.read_buf
    }

    /// Bytes written to the stream so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }
}

impl<S: AsyncRead + Unpin> Stream for StreamFramed<S> {
    type Item = io::Result<Bytes>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_decoded(cx, |codec, buf, eof| {
            if eof {
                codec.decode_eof(buf)
            } else {
                codec.decode(buf)
            }
        })
    }
}

impl<S> StreamFramed<S> {
    /// A whole frame that has been read already, cut off without touching the stream: the
    /// common case of [`poll_next`](Stream::poll_next), small enough to inline into a
    /// caller's receive loop. `None` when anything else is due (a read, an error, the end
    /// of the stream, a partial frame, a codec other than the length prefix); the state is
    /// then as it was.
    #[inline(always)]
    pub(crate) fn next_buffered(&mut self) -> Option<Bytes> {
        if self.failed || !self.readable {
            return None;
        }
        match &mut self.codec {
            FrameCodec::Length(codec) => codec.decode_whole(&mut self.read_buf),
            _ => None,
        }
    }
}

impl<S: AsyncRead + Unpin> StreamFramed<S> {
    /// Every whole message that has arrived, as one batch: with length or line framing, all
    /// the whole frames in the read buffer (usually one read's worth); with raw framing one
    /// chunk. The same states and errors as [`poll_next`](Stream::poll_next).
    pub(crate) fn poll_next_batch(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<MessageBatch>>> {
        self.poll_decoded(cx, |codec, buf, eof| {
            match codec {
                FrameCodec::Length(length) => {
                    if let Some((frames, count)) = length.split_whole_frames(buf) {
                        return Ok(Some(MessageBatch::length_frames(frames, count)));
                    }
                }
                FrameCodec::Lines(lines) => {
                    if let Some((text, count)) = lines.split_whole_lines(buf) {
                        return Ok(Some(MessageBatch::lines(text, count)));
                    }
                }
                FrameCodec::Raw(_) => {}
            }
            let one = if eof {
                codec.decode_eof(buf)
            } else {
                codec.decode(buf)
            };
            Ok(one?.map(MessageBatch::one))
        })
    }

    /// The read state machine (table on [`StreamFramed`]), cutting what arrived with
    /// `decode(codec, buffer, eof)`.
    #[inline(always)]
    fn poll_decoded<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut decode: impl FnMut(&mut FrameCodec, &mut BytesMut, bool) -> io::Result<Option<T>>,
    ) -> Poll<Option<io::Result<T>>> {
        loop {
            if self.failed {
                return Poll::Ready(None);
            }
            if self.readable {
                match decode(&mut self.codec, &mut self.read_buf, self.eof) {
                    Ok(Some(frame)) => return Poll::Ready(Some(Ok(frame))),
                    Ok(None) if self.eof => {
                        self.readable = false;
                        return Poll::Ready(None);
                    }
                    Ok(None) => self.readable = false,
                    Err(e) => {
                        self.failed = !self.codec.goes_on_after_error();
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            // Room for at least one byte, so that a read of 0 means end of stream.
            self.read_buf.reserve(1);
            let read =
                tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.read_buf);
            match ready!(read) {
                Ok(0) if self.eof => return Poll::Ready(None),
                Ok(0) => self.eof = true,
                Ok(_) => self.eof = false,
                Err(e) => {
                    self.failed = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            self.readable = true;
        }
    }
}

impl<S: AsyncWrite + Unpin> StreamFramed<S> {
    /// Sends `msgs` in order, then flushes. Small messages are copied into the write buffer,
    /// written out each time it reaches the backpressure boundary; one of [`DIRECT_MIN`]
    /// bytes or more is written from its own memory after the buffer (its header included).
    /// Every message is checked before any is queued: one the codec refuses fails the whole
    /// call (`InvalidInput`) and sends nothing.
    ///
    /// Dropped part-way, it leaves only whole frames behind: the rest of a large message
    /// under way is copied into the write buffer ([`DirectBody`]), and later messages are
    /// not sent. Each wait for the stream is bounded by `deadline` (`send_timeout`),
    /// re-armed by every write; running out leaves the same whole frames.
    pub(crate) async fn send_many<M: AsRef<[u8]>>(
        &mut self,
        msgs: &[M],
        deadline: &mut Deadline,
    ) -> io::Result<()> {
        for msg in msgs {
            self.codec.check_send(msg.as_ref())?;
        }
        for (i, msg) in msgs.iter().enumerate() {
            let msg = msg.as_ref();
            if msg.len() >= DIRECT_MIN {
                // Checked above.
                let after = self.codec.write_head(msg.len(), self.write.tail_mut());
                let mut body = DirectBody {
                    framed: self,
                    rest: msg,
                    after,
                };
                let written = body.write(deadline).await;
                // Queues what is left of the body.
                drop(body);
                if let Err(e) = written {
                    return Err(self.queue_rest_on_timeout(e, &msgs[i + 1..]));
                }
                continue;
            }
            if self.write.len() >= self.boundary {
                let room = std::future::poll_fn(|cx| {
                    let step = self.poll_write_queue(cx);
                    deadline.bound(cx, step, || self.written)
                })
                .await;
                if let Err(e) = room {
                    return Err(self.queue_rest_on_timeout(e, &msgs[i..]));
                }
            }
            // Checked above.
            self.codec.encode_checked(msg, self.write.tail_mut());
        }
        std::future::poll_fn(|cx| {
            let step = Pin::new(&mut *self).poll_flush(cx);
            deadline.bound(cx, step, || self.written)
        })
        .await
    }

    /// `error`, what ended a wait of [`send_many`](Self::send_many); when it is
    /// `send_timeout`'s, `rest` of the batch (checked) is queued first, so that the whole
    /// batch goes out with the next send or flush, as a timed-out send's message does.
    fn queue_rest_on_timeout<M: AsRef<[u8]>>(&mut self, error: io::Error, rest: &[M]) -> io::Error {
        if error.kind() == io::ErrorKind::TimedOut {
            for msg in rest {
                self.codec
                    .encode_checked(msg.as_ref(), self.write.tail_mut());
            }
        }
        error
    }

    /// Writes a slice to the stream, with no `Pending` in between, or `WriteZero`.
    fn poll_write_slice(&mut self, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        let written = ready!(Pin::new(&mut self.stream).poll_write(cx, bytes))?;
        self.wrote(written)?;
        Poll::Ready(Ok(written))
    }

    /// Counts `n` bytes the stream took (`WriteZero` for none: it will take no more). A
    /// write also publishes what was staged before it.
    fn wrote(&mut self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Err(write_zero());
        }
        self.written += n as u64;
        self.staged = 0;
        Ok(())
    }

    /// Writes until the queue is empty (or the stream is not ready).
    fn poll_write_queue(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.write.has_remaining() {
            // Vectored when the stream takes it (every chunk and the tail in one call).
            let written = ready!(tokio_util::io::poll_write_buf(
                Pin::new(&mut self.stream),
                cx,
                &mut self.write
            ))?;
            self.wrote(written)?;
        }
        Poll::Ready(Ok(()))
    }
}

/// A stream that took no bytes of a frame: it will take no more.
fn write_zero() -> io::Error {
    io::Error::new(
        io::ErrorKind::WriteZero,
        "the stream accepted no bytes of a frame",
    )
}

impl<S: AsyncWrite + Unpin> Sink<Bytes> for StreamFramed<S> {
    type Error = io::Error;

    #[inline]
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.staged >= this.boundary {
            ready!(Pin::new(&mut this.stream).poll_flush(cx))?;
            this.staged = 0;
        }
        if this.write.len() >= this.boundary {
            ready!(this.poll_write_queue(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn start_send(self: Pin<&mut Self>, item: Bytes) -> io::Result<()> {
        let this = self.get_mut();
        if item.len() < DIRECT_MIN {
            return this.codec.encode(item, this.write.tail_mut());
        }
        let after = this.codec.encode_around(&item, this.write.tail_mut())?;
        this.write.push_shared(item);
        this.write.tail_mut().extend_from_slice(after);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_queue(cx))?;
        ready!(Pin::new(&mut this.stream).poll_flush(cx))?;
        this.staged = 0;
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The body of a large message that [`StreamFramed::send_many`] writes from the caller's
/// memory, after the write queue, which ends with the frame's header. Whatever is left of it
/// when this is dropped (the send was cancelled or failed) is copied into the queue, with the
/// frame's trailer, so the stream never carries a torn frame.
struct DirectBody<'a, S> {
    framed: &'a mut StreamFramed<S>,
    /// Bytes of the body not written yet.
    rest: &'a [u8],
    /// The framing after the body (a line end), queued once the body is out.
    after: &'static [u8],
}

impl<S: AsyncWrite + Unpin> DirectBody<'_, S> {
    /// Writes out the queue (the header included), then the body; each wait bounded by
    /// `deadline`.
    async fn write(&mut self, deadline: &mut Deadline) -> io::Result<()> {
        std::future::poll_fn(|cx| {
            let step = self.framed.poll_write_queue(cx);
            deadline.bound(cx, step, || self.framed.written)
        })
        .await?;
        while !self.rest.is_empty() {
            let written = std::future::poll_fn(|cx| {
                let step = self.framed.poll_write_slice(cx, self.rest);
                deadline.bound(cx, step, || self.framed.written)
            })
            .await?;
            self.rest = &self.rest[written..];
        }
        Ok(())
    }
}

impl<S> Drop for DirectBody<'_, S> {
    fn drop(&mut self) {
        let tail = self.framed.write.tail_mut();
        tail.extend_from_slice(self.rest);
        tail.extend_from_slice(self.after);
    }
}

impl StreamFramed<AnyStream> {
    /// [`start_send`](Sink::start_send)'s shortcut for a stream that can take a frame in
    /// place (shared memory's ring, [`AnyStream::stage`]): a length-framed message under
    /// [`DIRECT_MIN`] bytes, with nothing queued before it, is copied straight into the
    /// stream instead of into the write buffer and from there into the stream. `false`, with
    /// nothing done, when the shortcut does not apply (another stream or framing, a large
    /// message, bytes queued, a ring without room, an error to report): the message then
    /// goes the usual way, which orders it after the staged ones.
    #[inline]
    pub(crate) fn stage(&mut self, item: &[u8]) -> bool {
        let FrameCodec::Length(codec) = &self.codec else {
            return false;
        };
        if !self.write.is_empty() || item.len() >= DIRECT_MIN || !codec.accepts(item.len()) {
            return false;
        }
        let head = LengthCodec::header(item.len());
        if !self.stream.stage(head, item) {
            return false;
        }
        let frame = head.len() + item.len();
        self.staged += frame;
        self.written += frame as u64;
        true
    }
}
