use super::{FrameError, MAX_RESERVE_AHEAD};
use bytes::{Buf, Bytes, BytesMut};
use std::io;
use tokio_util::codec::{Decoder, Encoder};

/// Bytes of a frame's length prefix.
pub(crate) const HEADER_LEN: usize = 4;

/// Length-prefixed frames: a u32 big-endian length, then that many bytes.
///
/// Unlike tokio-util's `LengthDelimitedCodec` it does not reserve the announced length: it
/// asks for at most 256 KiB past the bytes that have arrived, and the buffer grows as a
/// `BytesMut` does (it may double), so it holds at most twice (what has arrived + 256 KiB).
/// A peer announcing a large frame and stalling costs about 512 KiB, not the announced
/// size; an announced length over `max_frame` is `InvalidData` at once.
///
/// Such an error is final, as is `UnexpectedEof` for data that ends inside a frame: only a
/// length prefix tells where the next frame starts, so the bad header stays at the front of
/// the buffer, every later decode reports the same error again, and no frame after it is
/// delivered. (A `Connection` ends its stream; a `file://` reader reports it once and ends.)
/// The exception is a stream whose frames are known to arrive whole, a FIFO's
/// ([`dropping_frames_up_to`](LengthCodec::dropping_frames_up_to)).
///
/// ```
/// use anyipc::codec::LengthCodec;
/// use bytes::{Bytes, BytesMut};
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = LengthCodec::new(1024);
/// let mut buf = BytesMut::new();
/// codec.encode(Bytes::from_static(b"hi"), &mut buf)?;
/// assert_eq!(&buf[..], b"\0\0\0\x02hi");
/// assert_eq!(codec.decode(&mut buf)?, Some(Bytes::from_static(b"hi")));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LengthCodec {
    max_frame: usize,
    /// Frames (header included) up to this many bytes are dropped after their length was
    /// refused; 0: none is.
    drop_max: usize,
    /// Bytes of a refused frame still to drop.
    dropping: usize,
}

impl LengthCodec {
    /// A codec accepting frames of at most `max_frame` bytes (`u32::MAX` at most, and on a
    /// 32-bit target 4 bytes less, so that a frame with its header fits in a `usize`).
    ///
    /// ```
    /// use anyipc::codec::LengthCodec;
    /// use bytes::BytesMut;
    /// use tokio_util::codec::Decoder;
    ///
    /// // A header announcing 9 bytes is refused before any of them arrives.
    /// let mut buf = BytesMut::from(&[0, 0, 0, 9][..]);
    /// let err = LengthCodec::new(8).decode(&mut buf).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    /// ```
    pub fn new(max_frame: usize) -> LengthCodec {
        LengthCodec {
            max_frame: max_frame
                .min(u32::MAX as usize)
                .min(usize::MAX - HEADER_LEN),
            drop_max: 0,
            dropping: 0,
        }
    }

    /// This codec, going on after a length over `max_frame` whose frame (its header
    /// included) is at most `frame_len` bytes: the length is reported as always
    /// (`InvalidData` with [`FrameError::TooLarge`]), then the frame is dropped as its bytes
    /// arrive and the next frame follows. Larger lengths stay final.
    ///
    /// Only for a stream whose frames are known to be whole and well-framed up to that size,
    /// so that the bytes after such a header are that frame: a FIFO, where every anyipc
    /// writer writes each frame in one atomic write of at most
    /// [`MAX_ATOMIC_FRAME`](crate::fifo::MAX_ATOMIC_FRAME) bytes, and a frame over the
    /// reader's `max_frame` comes from a writer with a larger one. (On a byte stream from
    /// one peer a length over `max_frame` is more often not a frame at all.)
    ///
    /// ```
    /// use anyipc::codec::LengthCodec;
    /// use bytes::{Bytes, BytesMut};
    /// use tokio_util::codec::{Decoder, Encoder};
    ///
    /// let mut wire = BytesMut::new();
    /// LengthCodec::new(64).encode(Bytes::from_static(b"far too long"), &mut wire)?;
    /// LengthCodec::new(64).encode(Bytes::from_static(b"next"), &mut wire)?;
    /// let mut codec = LengthCodec::new(8).dropping_frames_up_to(4096);
    /// assert!(codec.decode(&mut wire).is_err());
    /// assert_eq!(codec.decode(&mut wire)?, Some(Bytes::from_static(b"next")));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dropping_frames_up_to(mut self, frame_len: usize) -> LengthCodec {
        self.drop_max = frame_len;
        self
    }

    /// Whether a refused length `len` (over `max_frame`) is dropped with its frame, decoding
    /// going on after it ([`dropping_frames_up_to`](Self::dropping_frames_up_to)).
    pub(crate) fn drops_refused(&self, len: u64) -> bool {
        len.saturating_add(HEADER_LEN as u64) <= self.drop_max as u64
    }

    /// Whether the last error this codec reported was a length whose frame it drops, so
    /// that decoding goes on.
    pub(crate) fn goes_on_after_error(&self) -> bool {
        self.dropping > 0
    }

    /// Drops what has arrived of a refused frame; whether all of it is gone.
    #[inline]
    fn drop_refused(&mut self, src: &mut BytesMut) -> bool {
        if self.dropping > 0 {
            let n = self.dropping.min(src.len());
            src.advance(n);
            self.dropping -= n;
        }
        self.dropping == 0
    }

    /// The largest frame accepted.
    ///
    /// ```
    /// use anyipc::codec::LengthCodec;
    ///
    /// assert_eq!(LengthCodec::new(1024).max_frame(), 1024);
    /// // A u32 length prefix cannot announce more.
    /// # #[cfg(target_pointer_width = "64")]
    /// assert_eq!(LengthCodec::new(usize::MAX).max_frame(), u32::MAX as usize);
    /// ```
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }
}

impl Decoder for LengthCodec {
    type Item = Bytes;
    type Error = io::Error;

    #[inline]
    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Bytes>> {
        if let Some(frame) = self.decode_whole(src) {
            return Ok(Some(frame));
        }
        // The header stays in `src` until the whole frame has arrived: a frame is cut off
        // whole or not at all, so batch cutting (`split_whole_frames`) can always take over.
        if !self.drop_refused(src) {
            return Ok(None);
        }
        let Some(header) = src.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        if len as u64 > self.max_frame as u64 {
            if self.drops_refused(len.into()) {
                // Dropped by the next decodes, header and all.
                self.dropping = HEADER_LEN + len as usize;
            }
            return Err(FrameError::TooLarge {
                len: len.into(),
                max: self.max_frame,
            }
            .into());
        }
        let frame_len = HEADER_LEN + len as usize;
        if src.len() < frame_len {
            src.reserve((frame_len - src.len()).min(MAX_RESERVE_AHEAD));
            return Ok(None);
        }
        src.advance(HEADER_LEN);
        Ok(Some(src.split_to(len as usize).freeze()))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> io::Result<Option<Bytes>> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(FrameError::Truncated { got: src.len() }.into()),
        }
    }
}

impl LengthCodec {
    /// The frame at the front of `src` when all of it has arrived and none of
    /// [`decode`](Decoder::decode)'s other cases applies (the rest of a refused frame to
    /// drop, a partial header or frame, a length over `max_frame`); `None` leaves `src` as
    /// it was, for `decode`. Its hot path, kept small so that it inlines into a caller's
    /// receive loop and the frame stays in registers (a `Bytes` returned through memory
    /// and moved on at once stalls on store forwarding: BENCHMARKS.md, issue 4).
    #[inline(always)]
    pub(crate) fn decode_whole(&mut self, src: &mut BytesMut) -> Option<Bytes> {
        if self.dropping > 0 {
            return None;
        }
        let header = src.get(..HEADER_LEN)?;
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as u64;
        if len > self.max_frame as u64 || len > (src.len() - HEADER_LEN) as u64 {
            return None;
        }
        src.advance(HEADER_LEN);
        Some(src.split_to(len as usize).freeze())
    }

    /// Splits every whole frame at the front of `src` off as one buffer, headers included,
    /// and returns it with the number of frames; `None` when no whole frame is there (then
    /// [`decode`](Decoder::decode) reserves room for the rest, or reports a bad header).
    ///
    /// Stops before a header announcing more than `max_frame`, so that `decode` reports it
    /// after the frames before it have been delivered.
    pub(crate) fn split_whole_frames(&self, src: &mut BytesMut) -> Option<(Bytes, usize)> {
        if self.dropping > 0 {
            // `decode` drops the rest of a refused frame first.
            return None;
        }
        let (mut end, mut count) = (0, 0);
        while let Some(header) = src.get(end..end + HEADER_LEN) {
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as u64;
            let frame_end = end as u64 + HEADER_LEN as u64 + len;
            if len > self.max_frame as u64 || frame_end > src.len() as u64 {
                break;
            }
            end = frame_end as usize;
            count += 1;
        }
        (count > 0).then(|| (src.split_to(end).freeze(), count))
    }

    /// `InvalidInput` ([`FrameError::SendTooLarge`]) for an item over `max_frame`.
    pub(crate) fn check_send(&self, item: &[u8]) -> io::Result<()> {
        if !self.accepts(item.len()) {
            return Err(FrameError::SendTooLarge {
                len: item.len(),
                max: self.max_frame,
            }
            .into());
        }
        Ok(())
    }
}

impl LengthCodec {
    /// Whether an item of `len` bytes may be sent (it is not over `max_frame`).
    #[inline]
    pub(crate) fn accepts(&self, len: usize) -> bool {
        len <= self.max_frame
    }

    /// The header of a frame carrying `len` bytes, for an item [`accepts`](Self::accepts)
    /// took (so `len` fits in it): the length, big-endian.
    #[inline]
    pub(crate) fn header(len: usize) -> [u8; HEADER_LEN] {
        (len as u32).to_be_bytes()
    }
}

impl Encoder<Bytes> for LengthCodec {
    type Error = io::Error;

    #[inline]
    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> io::Result<()> {
        // Checked before anything is reserved: an oversized message allocates nothing.
        self.check_send(&item)?;
        dst.extend_from_slice(&Self::header(item.len()));
        dst.extend_from_slice(&item);
        Ok(())
    }
}
