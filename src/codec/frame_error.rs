use std::fmt;
use std::io;

/// What was wrong with a frame. It travels inside an [`io::Error`] whose kind says which side
/// was at fault: `InvalidData` for what a peer sent, `InvalidInput` for what the caller tried
/// to send, `UnexpectedEof` for a peer gone mid-frame.
///
/// ```
/// use anyipc::codec::FrameError;
/// let err = std::io::Error::from(FrameError::TooLarge { len: 9, max: 8 });
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// A peer announced or sent a frame over the limit.
    TooLarge {
        /// Its length: the announced one (a length prefix, a datagram's or a queued
        /// message's size), or a line's. A line refused before its newline arrived
        /// (`framing=lines` drops a line as soon as it passes the limit, and the rest as it
        /// comes, rather than read it whole first) gives the bytes of it read by then: the
        /// line is at least that long.
        len: u64,
        /// The limit (`max_frame`).
        max: usize,
    },
    /// The caller tried to send a message over the limit: the endpoint's `max_frame`, or the
    /// `max_message_len` of an `mq://` queue (through a connection or
    /// [`MessageQueue`](crate::queue::MessageQueue)'s own sends).
    SendTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The caller tried to send a message holding `\n` with `framing=lines`.
    NewlineInLine,
    /// The caller tried to send a message ending in `\r` with `framing=lines`: the receiver
    /// takes `\r\n` as the line's end, so the `\r` would be lost.
    CarriageReturnAtLineEnd,
    /// The peer closed the stream inside a frame.
    Truncated {
        /// Bytes of the frame that arrived (including its header).
        got: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { len, max } => {
                write!(
                    f,
                    "peer sent a {len}-byte frame, over the {max}-byte limit (max_frame)"
                )
            }
            FrameError::SendTooLarge { len, max } => write!(
                f,
                "a {len}-byte message is over the {max}-byte limit (max_frame, or an mq \
                 queue's max_message_len)"
            ),
            FrameError::NewlineInLine => {
                write!(
                    f,
                    "a message sent with framing=lines may not hold a newline"
                )
            }
            FrameError::CarriageReturnAtLineEnd => write!(
                f,
                "a message sent with framing=lines may not end with \\r (the receiver takes \
                 \\r\\n as the line end and would drop it)"
            ),
            FrameError::Truncated { got } => {
                write!(
                    f,
                    "peer closed the stream inside a frame ({got} bytes of it arrived)"
                )
            }
        }
    }
}

impl std::error::Error for FrameError {}

impl From<FrameError> for io::Error {
    fn from(err: FrameError) -> Self {
        let kind = match err {
            FrameError::TooLarge { .. } => io::ErrorKind::InvalidData,
            FrameError::SendTooLarge { .. }
            | FrameError::NewlineInLine
            | FrameError::CarriageReturnAtLineEnd => io::ErrorKind::InvalidInput,
            FrameError::Truncated { .. } => io::ErrorKind::UnexpectedEof,
        };
        io::Error::new(kind, err)
    }
}
