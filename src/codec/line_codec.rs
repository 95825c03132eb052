use super::FrameError;
use bytes::{Bytes, BytesMut};
use std::io;
use tokio_util::codec::{Decoder, Encoder};

/// Newline-terminated messages, as bytes (no UTF-8 requirement).
///
/// A received line loses its `\n` and a `\r` before it; a last line without a newline is still
/// delivered at end of stream. A line longer than `max_frame` is `InvalidData`; sending a
/// message that holds `\n` is `InvalidInput`, since it would arrive as two, and so is one
/// that ends with `\r`, which would arrive without it.
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
        }
    }

    /// Forgets what was scanned of the buffer: for a buffer cleared or replaced since the
    /// last [`decode`](Decoder::decode), whose bytes it has not seen.
    pub(crate) fn reset(&mut self) {
        self.scanned = 0;
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
                    return Err(FrameError::TooLarge {
                        len: src.len() as u64,
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
            None if src.is_empty() => Ok(None),
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
}
