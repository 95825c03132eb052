//! [`skippable`]: which receive errors the server commands report and move past.

use anyipc::codec::FrameError;
use anyipc::{Connection, Scheme};
use std::io;

/// Whether `err`, received on `conn`, is a bad message that the stream moves past, so that
/// the next receive brings the next message:
/// - on `udp://`, any message that failed its checks (a datagram over `max_frame`): each is
///   a message of its own (`mem://` would be the same, but the commands refuse it);
/// - on `mq://`, a message over `max_frame`: it was taken off the queue to find out.
///
/// Elsewhere, and for other errors, no: a byte stream ends after a bad frame, and a log or
/// a queue whose memory is corrupt gives the same error on every receive (corruption stays
/// where it is), so skipping it would spin for ever.
///
/// ```ignore
/// match conn.next().await {
///     Some(Err(err)) if skippable(&conn, &err) => eprintln!("skipped: {err}"),
///     ...
/// }
/// ```
pub(crate) fn skippable(conn: &Connection, err: &io::Error) -> bool {
    skippable_on(conn.endpoint().scheme(), err)
}

/// [`skippable`] for a connection of `scheme`.
pub(crate) fn skippable_on(scheme: Scheme, err: &io::Error) -> bool {
    if err.kind() != io::ErrorKind::InvalidData {
        return false;
    }
    match scheme {
        Scheme::Udp => true,
        Scheme::Mq => matches!(
            err.get_ref()
                .and_then(|inner| inner.downcast_ref::<FrameError>()),
            Some(FrameError::TooLarge { .. })
        ),
        _ => false,
    }
}
