//! [`skippable`]: which receive errors the server commands report and move past.

use anyipc::codec::{FrameError, Framing};
use anyipc::{Connection, Endpoint, Scheme};
use std::io;

/// Whether `err`, received on `conn`, is a bad message that the stream moves past, so that
/// the next receive brings the next message: on `udp://`, any message that failed its
/// checks (a datagram over `max_frame`): each is a message of its own (`mem://` would be the
/// same, but the commands refuse it); with `framing=lines`, a line over `max_frame`, which
/// the line codec drops to go on with the next line; on a `fifo://` reader, a frame over
/// `max_frame` that an anyipc writer can send (one atomic write, at most
/// `fifo::MAX_ATOMIC_FRAME` bytes), which the reader drops whole.
///
/// Elsewhere, and for other errors, no: a length-framed byte stream ends after a bad frame,
/// and a log or a queue whose memory is corrupt gives the same error on every receive
/// (corruption stays where it is), so skipping it would spin for ever. So does an `mq://`
/// message over `max_frame`: it stays at the head of the queue for a receiver that takes it.
///
/// ```ignore
/// match conn.next().await {
///     Some(Err(err)) if skippable(&conn, &err) => eprintln!("skipped: {err}"),
///     ...
/// }
/// ```
pub(crate) fn skippable(conn: &Connection, err: &io::Error) -> bool {
    skippable_on(conn.endpoint(), err)
}

/// Bytes of the length prefix of a length-framed frame (`anyipc::codec::LengthCodec`).
#[cfg(unix)]
const LENGTH_HEADER: u64 = 4;

/// [`skippable`] for a connection of `endpoint`.
pub(crate) fn skippable_on(endpoint: &Endpoint, err: &io::Error) -> bool {
    if err.kind() != io::ErrorKind::InvalidData {
        return false;
    }
    let too_long = match err.get_ref().and_then(|e| e.downcast_ref::<FrameError>()) {
        Some(FrameError::TooLarge { len, .. }) => Some(*len),
        _ => None,
    };
    match (endpoint.scheme(), endpoint.framing(), too_long) {
        (Scheme::Udp, ..) => true,
        (Scheme::Mq, ..) => false,
        (_, Framing::Lines, Some(_)) => true,
        // A FIFO's reader drops a whole frame over its max_frame that a writer could send.
        #[cfg(unix)]
        (Scheme::Fifo, Framing::Length, Some(len)) => {
            len.saturating_add(LENGTH_HEADER) <= anyipc::fifo::MAX_ATOMIC_FRAME as u64
        }
        _ => false,
    }
}
