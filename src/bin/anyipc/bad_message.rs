//! [`skippable`]: which receive errors the server commands report and move past.

use anyipc::{Connection, Scheme};
use std::io;

/// Whether `err`, received on `conn`, is a bad message that the stream moves past: a
/// datagram (or in-process message) that failed its checks, such as one over `max_frame`.
/// Only there does the next receive bring the next message. A byte stream ends after such
/// an error, and a log or a queue gives the same error again on every receive (corruption
/// stays where it is), so skipping it there would spin for ever.
///
/// ```ignore
/// match conn.next().await {
///     Some(Err(err)) if skippable(&conn, &err) => eprintln!("skipped: {err}"),
///     ...
/// }
/// ```
pub(crate) fn skippable(conn: &Connection, err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::InvalidData && moves_past_bad_messages(conn)
}

/// Whether `conn`'s stream goes on after a bad message (see [`skippable`]).
pub(crate) fn moves_past_bad_messages(conn: &Connection) -> bool {
    matches!(conn.endpoint().scheme(), Scheme::Udp | Scheme::Mem)
}
