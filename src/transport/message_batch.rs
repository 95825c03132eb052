//! [`MessageBatch`]: the messages one receive brought in, returned whole by
//! [`Connection::recv_batch`](super::Connection::recv_batch).

use crate::codec::{LENGTH_HEADER, NEWLINE};
use bytes::Bytes;
use std::fmt;
use std::iter::FusedIterator;

/// Messages received together, in order, sharing one buffer: the batch counterpart of
/// [`Connection::recv`](super::Connection::recv) without a `Bytes` (and its reference
/// count) per message. Iterating yields each message as `&[u8]`.
///
/// On byte-stream transports (`tcp`, `unix`, `pipe`, `shm`, child pipes, a `fifo` reader)
/// with length or line framing, a batch holds every whole frame in the connection's read
/// buffer (usually what one read of up to 64 KiB brought in), or one message when a frame
/// is larger than what was buffered. Elsewhere (datagram and message transports, raw
/// framing) it holds one message. Every frame was checked against `max_frame` when the
/// batch was cut.
///
/// A batch shares the read buffer's allocation and keeps it alive while it lives: drop it
/// (or take what you keep with [`iter_bytes`](MessageBatch::iter_bytes) or a copy) before
/// the next receive, and the connection reuses that memory.
///
/// ```
/// # tokio_test::block_on(async {
/// let mut listener = anyipc::bind("mem://doc-message-batch").await?;
/// let mut client = anyipc::connect("mem://doc-message-batch").await?;
/// let mut server = listener.accept().await?;
/// client.send_many(&["a", "bb"]).await?;
/// let mut seen = Vec::new();
/// while seen.len() < 2 {
///     let batch = server.recv_batch().await?.expect("the client is still open");
///     seen.extend(batch.iter().map(<[u8]>::to_vec));
/// }
/// assert_eq!(seen, [b"a".to_vec(), b"bb".to_vec()]);
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct MessageBatch {
    /// The messages laid end to end, cut as `cut` says.
    buf: Bytes,
    count: usize,
    cut: Cut,
}

impl MessageBatch {
    /// A batch of one message.
    pub(crate) fn one(msg: Bytes) -> MessageBatch {
        MessageBatch {
            buf: msg,
            count: 1,
            cut: Cut::Whole,
        }
    }

    /// A batch of `count` whole length-prefixed frames; the caller has checked every header
    /// (the iterator still stops, rather than panics, at a frame that does not fit).
    pub(crate) fn length_frames(frames: Bytes, count: usize) -> MessageBatch {
        MessageBatch {
            buf: frames,
            count,
            cut: Cut::Length,
        }
    }

    /// A batch of `count` whole lines, each ending with a newline (a `\r` before it is not
    /// part of the message); the caller has checked every length.
    pub(crate) fn lines(text: Bytes, count: usize) -> MessageBatch {
        MessageBatch {
            buf: text,
            count,
            cut: Cut::Lines,
        }
    }

    /// How many messages the batch holds (at least one).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// # tokio_test::block_on(async {
    /// # let pid = std::process::id();
    /// # let path = std::env::temp_dir().join(format!("anyipc-doc-batch-len-{pid}.sock"));
    /// # let url = format!("unix://{}", path.display());
    /// // A byte stream: what one write brought in is one batch.
    /// let mut listener = anyipc::bind(&url).await?;
    /// let mut client = anyipc::connect(&url).await?;
    /// let mut server = listener.accept().await?;
    /// client.send_many(&["a", "b", "c"]).await?;
    /// assert_eq!(server.recv_batch().await?.unwrap().len(), 3);
    ///
    /// // A message transport: one message per batch.
    /// let mut listener = anyipc::bind("mem://doc-batch-len").await?;
    /// let mut client = anyipc::connect("mem://doc-batch-len").await?;
    /// let mut server = listener.accept().await?;
    /// client.send_many(&["a", "b", "c"]).await?;
    /// assert_eq!(server.recv_batch().await?.unwrap().len(), 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the batch holds no message (a received batch never does).
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("mem://doc-batch-is-empty").await?;
    /// let mut client = anyipc::connect("mem://doc-batch-is-empty").await?;
    /// let mut server = listener.accept().await?;
    /// client.send("").await?;
    /// // Even a batch of one empty message is not empty.
    /// let batch = server.recv_batch().await?.unwrap();
    /// assert!(!batch.is_empty());
    /// assert_eq!(batch.iter().next(), Some(&b""[..]));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The messages, in the order they were sent.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("tcp://127.0.0.1:0?framing=lines").await?;
    /// let mut client = anyipc::connect(listener.endpoint()).await?;
    /// let mut server = listener.accept().await?;
    /// client.send_many(&["one", "two"]).await?;
    /// let mut lines = Vec::new();
    /// while lines.len() < 2 {
    ///     let batch = server.recv_batch().await?.unwrap();
    ///     // Each message without its framing (here, its newline).
    ///     lines.extend(batch.iter().map(|line| String::from_utf8_lossy(line).into_owned()));
    /// }
    /// assert_eq!(lines, ["one", "two"]);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn iter(&self) -> MessageBatchIter<'_> {
        MessageBatchIter {
            rest: &self.buf,
            left: self.count,
            cut: self.cut,
        }
    }

    /// The messages as `Bytes` sharing the batch's buffer (a reference count each, no copy):
    /// for messages kept beyond the batch.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("mem://doc-iter-bytes").await?;
    /// let mut client = anyipc::connect("mem://doc-iter-bytes").await?;
    /// let mut server = listener.accept().await?;
    /// client.send("keep me").await?;
    /// let kept: Vec<bytes::Bytes> = server.recv_batch().await?.unwrap().iter_bytes().collect();
    /// assert_eq!(kept, ["keep me"]);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn iter_bytes(&self) -> impl Iterator<Item = Bytes> + '_ {
        self.iter().map(|msg| self.buf.slice_ref(msg))
    }
}

/// Batches are equal when they hold the same messages in the same order.
impl PartialEq for MessageBatch {
    fn eq(&self, other: &MessageBatch) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for MessageBatch {}

/// The messages, each as a byte string (as `Bytes` prints it).
impl fmt::Debug for MessageBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter_bytes()).finish()
    }
}

impl<'a> IntoIterator for &'a MessageBatch {
    type Item = &'a [u8];
    type IntoIter = MessageBatchIter<'a>;

    fn into_iter(self) -> MessageBatchIter<'a> {
        self.iter()
    }
}

/// The messages of a [`MessageBatch`], as `&[u8]` over its buffer.
///
/// It knows how many messages are left ([`ExactSizeIterator`]).
///
/// ```
/// # tokio_test::block_on(async {
/// let mut listener = anyipc::bind("mem://doc-batch-iter").await?;
/// let mut client = anyipc::connect("mem://doc-batch-iter").await?;
/// let mut server = listener.accept().await?;
/// client.send("only").await?;
/// let batch = server.recv_batch().await?.unwrap();
/// let mut iter = batch.iter();
/// assert_eq!(iter.len(), 1);
/// assert_eq!(iter.next(), Some(&b"only"[..]));
/// assert_eq!((iter.len(), iter.next()), (0, None));
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct MessageBatchIter<'a> {
    rest: &'a [u8],
    left: usize,
    cut: Cut,
}

/// How a [`MessageBatchIter`] cuts its buffer into messages.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// Length-prefixed frames.
    Length,
    /// Newline-terminated lines.
    Lines,
    /// The buffer is the one message.
    Whole,
}

impl<'a> Iterator for MessageBatchIter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let cut = match self.cut {
            Cut::Whole => Some((self.rest, &[][..])),
            Cut::Length => {
                self.rest
                    .split_first_chunk::<LENGTH_HEADER>()
                    .and_then(|(header, body)| {
                        let len = u32::from_be_bytes(*header) as usize;
                        (body.len() >= len).then(|| body.split_at(len))
                    })
            }
            Cut::Lines => self.rest.iter().position(|b| *b == NEWLINE).map(|newline| {
                let line = &self.rest[..newline];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                (line, &self.rest[newline + 1..])
            }),
        };
        // A buffer that does not hold what the batch counted ends the iteration early.
        let Some((msg, rest)) = cut else {
            self.left = 0;
            return None;
        };
        self.rest = rest;
        self.left -= 1;
        Some(msg)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for MessageBatchIter<'_> {}

impl FusedIterator for MessageBatchIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(msgs: &[&[u8]]) -> Bytes {
        let mut buf = Vec::new();
        for msg in msgs {
            buf.extend_from_slice(&(msg.len() as u32).to_be_bytes());
            buf.extend_from_slice(msg);
        }
        buf.into()
    }

    #[test]
    fn length_frames_iterate_in_order_with_empty_messages() {
        let batch = MessageBatch::length_frames(frames(&[b"a", b"", b"ccc"]), 3);
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.iter().len(), 3);
        let got: Vec<&[u8]> = batch.iter().collect();
        assert_eq!(got, [&b"a"[..], b"", b"ccc"]);
    }

    #[test]
    fn equality_and_debug_are_about_the_messages() {
        let framed = MessageBatch::length_frames(frames(&[b"a\n"]), 1);
        let one = MessageBatch::one(Bytes::from_static(b"a\n"));
        assert_eq!(framed, one);
        assert_ne!(framed, MessageBatch::one(Bytes::from_static(b"a")));
        assert_eq!(format!("{framed:?}"), r#"[b"a\n"]"#);
        let kept: Vec<Bytes> = framed.iter_bytes().collect();
        assert_eq!(kept, [Bytes::from_static(b"a\n")]);
    }

    #[test]
    fn lines_iterate_without_their_line_ends() {
        let batch = MessageBatch::lines(Bytes::from_static(b"a\r\n\nccc\n"), 3);
        let got: Vec<&[u8]> = batch.iter().collect();
        assert_eq!(got, [&b"a"[..], b"", b"ccc"]);
        let short = MessageBatch::lines(Bytes::from_static(b"a\nno end"), 2);
        assert_eq!(short.iter().collect::<Vec<_>>(), [&b"a"[..]]);
    }

    #[test]
    fn one_message_batch_yields_it_even_when_empty() {
        let batch = MessageBatch::one(Bytes::new());
        assert_eq!(batch.len(), 1);
        assert!(!batch.is_empty());
        assert_eq!(batch.iter().collect::<Vec<_>>(), [&b""[..]]);
    }

    #[test]
    fn a_frame_running_past_the_buffer_ends_the_iteration_without_panicking() {
        let mut bytes = frames(&[b"ok"]).to_vec();
        bytes.extend_from_slice(&100u32.to_be_bytes());
        bytes.extend_from_slice(b"short");
        let batch = MessageBatch::length_frames(bytes.into(), 3);
        let mut iter = batch.iter();
        assert_eq!(iter.next(), Some(&b"ok"[..]));
        assert_eq!(iter.next(), None);
        assert_eq!(iter.next(), None);
        assert_eq!(iter.len(), 0);
    }
}
