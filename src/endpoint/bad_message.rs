//! [`Endpoint::drops_bad_message`]: what follows a bad message on each transport.

use super::Endpoint;
use crate::codec::{FormatError, FrameCodec, FrameError};
use crate::Scheme;
use std::io;

impl Endpoint {
    /// Whether a connection of this endpoint that returned `err` from a receive has dropped
    /// the bad message `err` reports and goes on with the next: a server can report it and
    /// receive again. True for an `InvalidData` error that cost only its message:
    ///
    /// - any message on `udp://` and `mem://` (each message arrives on its own);
    /// - with `framing=lines`, a line over `max_frame` (dropped up to its newline);
    /// - on a `fifo://` reader, a frame over `max_frame` that a writer could send (at most
    ///   [`MAX_ATOMIC_FRAME`](crate::fifo::MAX_ATOMIC_FRAME) bytes, arrived whole);
    /// - on a [typed](crate::Connection::typed) connection, a message that does not
    ///   deserialize ([`FormatError`] inside).
    ///
    /// False otherwise: a length-framed byte stream has ended (`None` from then on), and an
    /// `mq://` queue or a `file://` log keeps what it could not deliver and reports it again
    /// at every receive (receiving on would return the same error for ever). False for
    /// errors that are not `InvalidData` (a timeout, a peer gone).
    ///
    /// ```
    /// use anyipc::codec::FrameError;
    /// use anyipc::Endpoint;
    ///
    /// let too_long = std::io::Error::from(FrameError::TooLarge { len: 100, max: 8 });
    /// let lines = Endpoint::parse("tcp://127.0.0.1:7000?framing=lines")?;
    /// let length = Endpoint::parse("tcp://127.0.0.1:7000")?;
    /// let udp = Endpoint::parse("udp://127.0.0.1:7000")?;
    /// assert!(lines.drops_bad_message(&too_long));
    /// assert!(!length.drops_bad_message(&too_long));
    /// assert!(udp.drops_bad_message(&too_long));
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub fn drops_bad_message(&self, err: &io::Error) -> bool {
        if err.kind() != io::ErrorKind::InvalidData {
            return false;
        }
        let inner = err.get_ref();
        if inner.is_some_and(|e| e.is::<FormatError>()) {
            return true;
        }
        let too_long = match inner.and_then(|e| e.downcast_ref::<FrameError>()) {
            Some(FrameError::TooLarge { len, .. }) => Some(*len),
            _ => None,
        };
        match (self.scheme(), too_long) {
            (Scheme::Udp | Scheme::Mem, _) => true,
            (Scheme::Mq, _) => false,
            // What the receiving codec does with a frame it refuses.
            (_, Some(len)) => self.receiving_codec().drops_refused(len),
            (_, None) => false,
        }
    }

    /// The codec that frames what a connection of this endpoint receives.
    fn receiving_codec(&self) -> FrameCodec {
        #[cfg(unix)]
        if self.scheme() == Scheme::Fifo {
            return crate::fifo::reader_codec(self);
        }
        FrameCodec::new(self.framing(), self.max_frame())
    }
}
