//! [`skippable`]: which receive errors the server commands report and move past.

use anyipc::codec::{FrameError, Framing};
use anyipc::{Connection, Endpoint, Scheme};
use std::io;

/// Whether `err`, received on `conn`, is a bad message that the stream moves past, so that
/// the next receive brings the next message: on `udp://`, any message that failed its
/// checks (a datagram over `max_frame`): each is a message of its own (`mem://` would be the
/// same, but the commands refuse it); with `framing=lines`, a line over `max_frame`, which
/// the line codec drops to go on with the next line.
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

/// [`skippable`] for a connection of `endpoint`.
pub(crate) fn skippable_on(endpoint: &Endpoint, err: &io::Error) -> bool {
    if err.kind() != io::ErrorKind::InvalidData {
        return false;
    }
    match endpoint.scheme() {
        Scheme::Udp => true,
        Scheme::Mq => false,
        _ => {
            let too_long = err.get_ref().and_then(|e| e.downcast_ref::<FrameError>());
            endpoint.framing() == Framing::Lines
                && matches!(too_long, Some(FrameError::TooLarge { .. }))
        }
    }
}
