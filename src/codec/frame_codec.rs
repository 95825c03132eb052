use super::line_codec::LINE_END;
use super::{Framing, LengthCodec, LineCodec, RawCodec, LENGTH_HEADER};
use bytes::{Bytes, BytesMut};
use std::io;
use tokio_util::codec::{Decoder, Encoder};

/// The codec a byte-stream connection uses: one of the [`Framing`]s, chosen at run time.
///
/// ```
/// use anyipc::codec::{FrameCodec, Framing};
/// let codec = FrameCodec::new(Framing::Lines, 8 << 20);
/// assert_eq!(codec.framing(), Framing::Lines);
/// ```
#[derive(Debug, Clone)]
pub enum FrameCodec {
    /// `framing=length`.
    Length(LengthCodec),
    /// `framing=lines`.
    Lines(LineCodec),
    /// `framing=raw`.
    Raw(RawCodec),
}

impl FrameCodec {
    /// The codec for `framing` with a `max_frame` limit.
    ///
    /// ```
    /// use anyipc::codec::{FrameCodec, Framing};
    /// use bytes::{Bytes, BytesMut};
    /// use tokio_util::codec::Encoder;
    ///
    /// let mut codec = FrameCodec::new(Framing::Lines, 16);
    /// let mut buf = BytesMut::new();
    /// codec.encode(Bytes::from_static(b"hi"), &mut buf)?;
    /// assert_eq!(&buf[..], b"hi\n");
    /// let err = codec.encode(Bytes::from(vec![b'x'; 17]), &mut buf).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(framing: Framing, max_frame: usize) -> FrameCodec {
        match framing {
            Framing::Length => FrameCodec::Length(LengthCodec::new(max_frame)),
            Framing::Lines => FrameCodec::Lines(LineCodec::new(max_frame)),
            Framing::Raw => FrameCodec::Raw(RawCodec::new(max_frame)),
        }
    }

    /// Frames `item` without copying it: writes what goes before it into `head` and returns
    /// what goes after it (`\n` for lines, nothing otherwise). The caller sends `head`'s
    /// bytes, then `item`, then the returned bytes.
    ///
    /// # Errors
    /// `InvalidInput` for an item that cannot be sent with this framing (see
    /// [`FrameError`](super::FrameError)); nothing is written then.
    pub(crate) fn encode_around(
        &self,
        item: &[u8],
        head: &mut BytesMut,
    ) -> io::Result<&'static [u8]> {
        self.check_send(item)?;
        Ok(self.write_head(item.len(), head))
    }

    /// Writes the head of a frame carrying `len` bytes into `head` and returns its trailer,
    /// checking nothing: for an item [`check_send`](Self::check_send) has accepted.
    pub(crate) fn write_head(&self, len: usize, head: &mut BytesMut) -> &'static [u8] {
        match self {
            FrameCodec::Length(_) => {
                head.extend_from_slice(&LengthCodec::header(len));
                b""
            }
            FrameCodec::Lines(_) => LINE_END,
            FrameCodec::Raw(_) => b"",
        }
    }

    /// Checks that `item` can be sent in this framing (`InvalidInput` if not), writing
    /// nothing.
    pub(crate) fn check_send(&self, item: &[u8]) -> io::Result<()> {
        match self {
            FrameCodec::Length(codec) => codec.check_send(item),
            FrameCodec::Lines(codec) => codec.check_send(item),
            FrameCodec::Raw(codec) => codec.check_send(item),
        }
    }

    /// The length of the frame that carries a message of `len` bytes.
    pub(crate) fn frame_len(&self, len: usize) -> usize {
        match self {
            FrameCodec::Length(_) => LENGTH_HEADER + len,
            FrameCodec::Lines(_) => len + LINE_END.len(),
            FrameCodec::Raw(_) => len,
        }
    }

    /// Appends the frame of `item` to `dst`.
    ///
    /// # Errors
    /// `InvalidInput` for an item this framing refuses; nothing is written then.
    pub(crate) fn encode_slice(&self, item: &[u8], dst: &mut BytesMut) -> io::Result<()> {
        self.check_send(item)?;
        self.encode_checked(item, dst);
        Ok(())
    }

    /// [`encode_slice`](Self::encode_slice) for an item [`check_send`](Self::check_send)
    /// has accepted: checks nothing again (a line is not scanned a second time).
    pub(crate) fn encode_checked(&self, item: &[u8], dst: &mut BytesMut) {
        dst.reserve(self.frame_len(item.len()));
        let after = self.write_head(item.len(), dst);
        dst.extend_from_slice(item);
        dst.extend_from_slice(after);
    }

    /// Whether decoding goes on after the error this codec reported last: a line codec
    /// drops the line it refused and finds the next one; a length codec cannot trust the
    /// bytes after a length it refused (they may not be frames at all), unless it was made
    /// to drop such frames ([`dropping_frames_up_to`](Self::dropping_frames_up_to)) and
    /// this one was small enough; a raw one never fails.
    ///
    /// ```
    /// use anyipc::codec::{FrameCodec, Framing};
    /// assert!(FrameCodec::new(Framing::Lines, 16).goes_on_after_error());
    /// assert!(!FrameCodec::new(Framing::Length, 16).goes_on_after_error());
    /// ```
    pub fn goes_on_after_error(&self) -> bool {
        match self {
            FrameCodec::Length(codec) => codec.goes_on_after_error(),
            FrameCodec::Lines(_) => true,
            FrameCodec::Raw(_) => false,
        }
    }

    /// Whether decoding goes on after this codec refuses a frame of `len` bytes (over
    /// `max_frame`): a line codec drops the line, a length codec the frames it was made to
    /// drop ([`dropping_frames_up_to`](Self::dropping_frames_up_to)).
    pub(crate) fn drops_refused(&self, len: u64) -> bool {
        match self {
            FrameCodec::Length(codec) => codec.drops_refused(len),
            FrameCodec::Lines(_) => true,
            FrameCodec::Raw(_) => false,
        }
    }

    /// With length framing, [`LengthCodec::dropping_frames_up_to`]: a length over
    /// `max_frame` whose frame is at most `frame_len` bytes loses only its frame. Other
    /// framings already go on after a frame they refuse (lines) or never refuse one (raw).
    ///
    /// ```
    /// use anyipc::codec::{FrameCodec, Framing};
    /// use bytes::BytesMut;
    /// use tokio_util::codec::Decoder;
    ///
    /// let mut codec = FrameCodec::new(Framing::Length, 2).dropping_frames_up_to(4096);
    /// let mut wire = BytesMut::from(&b"\0\0\0\x03abc\0\0\0\x02ok"[..]);
    /// assert!(codec.decode(&mut wire).is_err());
    /// assert!(codec.goes_on_after_error());
    /// assert_eq!(&codec.decode(&mut wire)?.unwrap()[..], b"ok");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dropping_frames_up_to(self, frame_len: usize) -> FrameCodec {
        match self {
            FrameCodec::Length(codec) => FrameCodec::Length(codec.dropping_frames_up_to(frame_len)),
            other => other,
        }
    }

    /// Forgets the decoding state kept about the buffer (how much of it a line codec has
    /// scanned): for a buffer cleared or replaced since the last decode.
    pub(crate) fn reset(&mut self) {
        match self {
            FrameCodec::Lines(codec) => codec.reset(),
            FrameCodec::Length(_) | FrameCodec::Raw(_) => {}
        }
    }

    /// Which framing this is.
    ///
    /// ```
    /// use anyipc::codec::{FrameCodec, Framing};
    ///
    /// let ep: anyipc::Endpoint = "unix:///tmp/app.sock?framing=raw".parse()?;
    /// let codec = FrameCodec::new(ep.framing(), ep.max_frame());
    /// assert_eq!(codec.framing(), Framing::Raw);
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub fn framing(&self) -> Framing {
        match self {
            FrameCodec::Length(_) => Framing::Length,
            FrameCodec::Lines(_) => Framing::Lines,
            FrameCodec::Raw(_) => Framing::Raw,
        }
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = io::Error;

    #[inline]
    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Bytes>> {
        match self {
            FrameCodec::Length(codec) => codec.decode(src),
            FrameCodec::Lines(codec) => codec.decode(src),
            FrameCodec::Raw(codec) => codec.decode(src),
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> io::Result<Option<Bytes>> {
        match self {
            FrameCodec::Length(codec) => codec.decode_eof(src),
            FrameCodec::Lines(codec) => codec.decode_eof(src),
            FrameCodec::Raw(codec) => codec.decode_eof(src),
        }
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = io::Error;

    #[inline]
    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> io::Result<()> {
        match self {
            FrameCodec::Length(codec) => codec.encode(item, dst),
            FrameCodec::Lines(codec) => codec.encode(item, dst),
            FrameCodec::Raw(codec) => codec.encode(item, dst),
        }
    }
}
