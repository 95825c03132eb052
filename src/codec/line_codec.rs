use super::FrameError;
use bytes::{Buf, Bytes, BytesMut};
use std::io;
use tokio_util::codec::{Decoder, Encoder};

/// Newline-terminated messages, as bytes (no UTF-8 requirement).
///
/// A received line loses its `\n` and a `\r` before it; a last line without a newline is still
/// delivered at end of stream. A line longer than `max_frame` is `InvalidData`, reported
/// once: the codec drops the line (the rest of it too, as it arrives, when it is reported
/// before its newline) and decodes on from the next line, and so does a `Connection` or a
/// plain `file://` reader with `framing=lines`. Sending a message that holds `\n`
/// is `InvalidInput`, since it would arrive as two, and so is one that ends with `\r`, which
/// would arrive without it.
///
/// ```
/// use anyipc::codec::LineCodec;
/// use bytes::BytesMut;
/// use tokio_util::codec::Decoder;
///
/// let mut codec = LineCodec::new(1024);
/// let mut buf = BytesMut::from(&b"one\r\ntwo"[..]);
/// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"one"[..]));
/// assert_eq!(codec.decode(&mut buf)?, None);
/// assert_eq!(codec.decode_eof(&mut buf)?.as_deref(), Some(&b"two"[..]));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LineCodec {
    max_frame: usize,
    /// Bytes of the buffer already searched for `\n`, so each byte is scanned once.
    scanned: usize,
    /// Dropping the rest of a line over `max_frame`, reported before its newline arrived.
    discarding: bool,
}

impl LineCodec {
    /// A codec accepting lines of at most `max_frame` bytes (without the newline).
    ///
    /// ```
    /// use anyipc::codec::LineCodec;
    /// use bytes::BytesMut;
    /// use tokio_util::codec::Decoder;
    ///
    /// let mut codec = LineCodec::new(3);
    /// let mut buf = BytesMut::from(&b"abc\r\nabcd\n"[..]);
    /// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"abc"[..]));
    /// let err = codec.decode(&mut buf).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(max_frame: usize) -> LineCodec {
        LineCodec {
            // Room for the newline after the longest line: `max_frame + 1` never overflows.
            max_frame: max_frame.min(usize::MAX - 1),
            scanned: 0,
            discarding: false,
        }
    }

    /// Forgets what was scanned of the buffer (and a long line being dropped): for a buffer
    /// cleared or replaced since the last [`decode`](Decoder::decode), whose bytes it has
    /// not seen.
    pub(crate) fn reset(&mut self) {
        self.scanned = 0;
        self.discarding = false;
    }

    /// While dropping a line over `max_frame`: drops its bytes at the front of `src`, up to
    /// and including its newline. Returns whether the line is still being dropped (no
    /// newline yet, `src` is empty).
    fn discard_long_line(&mut self, src: &mut BytesMut) -> bool {
        if self.discarding {
            match src.iter().position(|b| *b == NEWLINE) {
                Some(newline) => {
                    src.advance(newline + 1);
                    self.discarding = false;
                }
                None => src.clear(),
            }
            self.scanned = 0;
        }
        self.discarding
    }
}

fn strip_cr(mut line: BytesMut) -> Bytes {
    if line.last() == Some(&b'\r') {
        line.truncate(line.len() - 1);
    }
    line.freeze()
}

impl Decoder for LineCodec {
    type Item = Bytes;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Bytes>> {
        // Never past the end: a buffer shorter than what was scanned is not the one scanned
        // (its owner should have called `reset`), so all of it is searched.
        if self.scanned > src.len() {
            self.scanned = 0;
        }
        if self.discard_long_line(src) {
            return Ok(None);
        }
        match src[self.scanned..].iter().position(|b| *b == NEWLINE) {
            Some(offset) => {
                let end = self.scanned + offset;
                self.scanned = 0;
                let mut line = src.split_to(end + 1);
                line.truncate(end);
                let line = strip_cr(line);
                if line.len() > self.max_frame {
                    return Err(FrameError::TooLarge {
                        len: line.len() as u64,
                        max: self.max_frame,
                    }
                    .into());
                }
                Ok(Some(line))
            }
            None => {
                self.scanned = src.len();
                // One byte of slack for a `\r` that may precede the newline.
                if src.len() > self.max_frame + 1 {
                    // Dropped, as a long line with its newline is: reported once, and the
                    // rest of it is dropped as it arrives.
                    let len = src.len();
                    src.clear();
                    self.scanned = 0;
                    self.discarding = true;
                    return Err(FrameError::TooLarge {
                        len: len as u64,
                        max: self.max_frame,
                    }
                    .into());
                }
                Ok(None)
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> io::Result<Option<Bytes>> {
        match self.decode(src)? {
            Some(line) => Ok(Some(line)),
            None if src.is_empty() => {
                // The end of the data ends a long line being dropped.
                self.discarding = false;
                Ok(None)
            }
            None => {
                self.scanned = 0;
                let line = strip_cr(src.split());
                if line.len() > self.max_frame {
                    return Err(FrameError::TooLarge {
                        len: line.len() as u64,
                        max: self.max_frame,
                    }
                    .into());
                }
                Ok(Some(line))
            }
        }
    }
}

impl LineCodec {
    /// Checks that `item` can be sent as one line; the caller writes it followed by `\n`.
    ///
    /// # Errors
    /// `InvalidInput` for an item over `max_frame`, holding a newline, or ending with `\r`.
    pub(crate) fn check_send(&self, item: &[u8]) -> io::Result<()> {
        if item.len() > self.max_frame {
            return Err(FrameError::SendTooLarge {
                len: item.len(),
                max: self.max_frame,
            }
            .into());
        }
        if item.contains(&NEWLINE) {
            return Err(FrameError::NewlineInLine.into());
        }
        if item.last() == Some(&b'\r') {
            return Err(FrameError::CarriageReturnAtLineEnd.into());
        }
        Ok(())
    }
}

impl LineCodec {
    /// Splits every whole line at the front of `src` off as one buffer, newlines (and any
    /// `\r` before them) included, and returns it with the number of lines; `None` when no
    /// whole line is there, or the first one is over `max_frame` (then
    /// [`decode`](Decoder::decode) takes it on).
    ///
    /// Stops before a line over `max_frame`, so that `decode` reports it after the lines
    /// before it have been delivered. Bytes scanned without finding a newline are not
    /// scanned again (by this or by `decode`).
    pub(crate) fn split_whole_lines(&mut self, src: &mut BytesMut) -> Option<(Bytes, usize)> {
        // The front of a long line being dropped is not a line.
        if self.discard_long_line(src) {
            return None;
        }
        let (mut end, mut count) = (0, 0);
        // The first line's newline is not among the bytes `decode` already scanned.
        let mut from = self.scanned.min(src.len());
        let mut stopped = false;
        while let Some(offset) = src[from..].iter().position(|b| *b == NEWLINE) {
            let newline = from + offset;
            let line = &src[end..newline];
            let len = line.len() - usize::from(line.last() == Some(&b'\r'));
            if len > self.max_frame {
                stopped = true;
                break;
            }
            (end, from) = (newline + 1, newline + 1);
            count += 1;
        }
        // Unless stopped at a long line (which `decode` then scans to report it), nothing
        // after `end` holds a newline.
        self.scanned = if stopped { 0 } else { src.len() - end };
        (count > 0).then(|| (src.split_to(end).freeze(), count))
    }
}

/// The byte [`LineCodec`] cuts received lines at and refuses inside a line sent.
pub(crate) const NEWLINE: u8 = b'\n';
/// What ends every line sent.
pub(crate) const LINE_END: &[u8] = &[NEWLINE];

impl Encoder<Bytes> for LineCodec {
    type Error = io::Error;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> io::Result<()> {
        self.check_send(&item)?;
        dst.reserve(item.len() + LINE_END.len());
        dst.extend_from_slice(&item);
        dst.extend_from_slice(LINE_END);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A codec that scanned a longer buffer, then handed a new, shorter one (its owner
    /// started over), reads the new one instead of indexing past its end.
    #[test]
    fn a_scan_position_past_a_new_shorter_buffer_does_not_panic() {
        let mut codec = LineCodec::new(1024);
        let mut old = BytesMut::from(&b"abcdefghij"[..]);
        assert_eq!(codec.decode(&mut old).unwrap(), None);
        let mut new = BytesMut::from(&b"x\n"[..]);
        assert_eq!(codec.decode(&mut new).unwrap().as_deref(), Some(&b"x"[..]));
        assert!(new.is_empty());
    }

    /// The largest `max_frame` there is (a URL's `max_frame=18446744073709551615`) takes a
    /// partial line as any other, without overflowing when it adds the newline's byte.
    #[test]
    fn an_unlimited_max_frame_waits_for_the_rest_of_a_line() {
        let mut codec = LineCodec::new(usize::MAX);
        let mut partial = BytesMut::from(&b"no newline yet"[..]);
        assert_eq!(codec.decode(&mut partial).unwrap(), None);
        partial.extend_from_slice(b"\n");
        assert_eq!(
            codec.decode(&mut partial).unwrap().as_deref(),
            Some(&b"no newline yet"[..])
        );
    }

    /// After `reset` no newline of a new buffer is skipped as already scanned.
    #[test]
    fn reset_forgets_the_scan_position() {
        let mut codec = LineCodec::new(1024);
        let mut old = BytesMut::from(&b"abcdefghij"[..]);
        assert_eq!(codec.decode(&mut old).unwrap(), None);
        codec.reset();
        let mut new = BytesMut::from(&b"a\nb\nc\nd\ne\nf\n"[..]);
        assert_eq!(codec.decode(&mut new).unwrap().as_deref(), Some(&b"a"[..]));
        assert_eq!(codec.decode(&mut new).unwrap().as_deref(), Some(&b"b"[..]));
    }

    /// A line over `max_frame` reported before its newline arrived is dropped, up to that
    /// newline, as a long line reported with its newline is: one error, then the next line
    /// (it used to be reported again at every decode, and again at end of stream).
    #[test]
    fn a_long_line_reported_before_its_newline_is_dropped_up_to_it() {
        let mut codec = LineCodec::new(3);
        let mut buf = BytesMut::from(&b"abcdefg"[..]);
        let err = codec.decode(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        buf.extend_from_slice(b"hij");
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"kl\nok\n");
        assert_eq!(codec.decode(&mut buf).unwrap().as_deref(), Some(&b"ok"[..]));

        // At end of stream: reported once, then the end.
        let mut buf = BytesMut::from(&b"abcdefg"[..]);
        let err = codec.decode_eof(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
    }
}
