use super::FrameError;
use bytes::{Bytes, BytesMut};
use std::io;
use tokio_util::codec::{Decoder, Encoder};

/// No framing: whatever has arrived is one message (at most `max_frame` bytes of it), and a
/// message is written as it is. Message boundaries are not kept; use it to talk to programs
/// that know nothing of anyipc.
///
/// ```
/// use anyipc::codec::RawCodec;
/// use bytes::BytesMut;
/// use tokio_util::codec::Decoder;
///
/// let mut buf = BytesMut::from(&b"hello"[..]);
/// assert_eq!(RawCodec::new(1024).decode(&mut buf)?.as_deref(), Some(&b"hello"[..]));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RawCodec {
    max_frame: usize,
}

impl RawCodec {
    /// A codec delivering chunks of at most `max_frame` bytes (a `max_frame` of 0 is taken
    /// as 1).
    ///
    /// ```
    /// use anyipc::codec::RawCodec;
    /// use bytes::BytesMut;
    /// use tokio_util::codec::Decoder;
    ///
    /// let mut codec = RawCodec::new(4);
    /// let mut buf = BytesMut::from(&b"abcdef"[..]);
    /// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"abcd"[..]));
    /// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"ef"[..]));
    /// assert_eq!(codec.decode(&mut buf)?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(max_frame: usize) -> RawCodec {
        RawCodec {
            max_frame: max_frame.max(1),
        }
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Bytes>> {
        if src.is_empty() {
            return Ok(None);
        }
        let len = src.len().min(self.max_frame);
        Ok(Some(src.split_to(len).freeze()))
    }
}

impl RawCodec {
    /// Checks that `item` can be sent; the caller writes it as it is.
    ///
    /// # Errors
    /// `InvalidInput` for an item over `max_frame`.
    pub(crate) fn check_send(&self, item: &[u8]) -> io::Result<()> {
        if item.len() > self.max_frame {
            return Err(FrameError::SendTooLarge {
                len: item.len(),
                max: self.max_frame,
            }
            .into());
        }
        Ok(())
    }
}

impl Encoder<Bytes> for RawCodec {
    type Error = io::Error;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> io::Result<()> {
        self.check_send(&item)?;
        dst.extend_from_slice(&item);
        Ok(())
    }
}
