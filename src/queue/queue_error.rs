use std::fmt;
use std::io;

/// Why a queue segment was refused or an operation on it failed: the inner error of an
/// `io::Error` of kind `InvalidData` (or `AlreadyExists` for [`AttributesDiffer`],
/// `TimedOut` for [`LockStuck`]).
///
/// [`AttributesDiffer`]: QueueError::AttributesDiffer
/// [`LockStuck`]: QueueError::LockStuck
///
/// ```
/// use anyipc::queue::QueueError;
/// let err: std::io::Error = QueueError::Corrupt("bitmap without a head").into();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueError {
    /// The header is not that of a queue this build can use.
    BadHeader {
        /// What was wrong.
        detail: String,
    },
    /// The creator died (or is still working) before finishing the header.
    HalfCreated {
        /// The process that created the segment, as it recorded itself (0 if unknown).
        creator_pid: u32,
    },
    /// The index (links, lengths, priorities, undo log) is inconsistent: another process wrote
    /// garbage into the segment.
    Corrupt(&'static str),
    /// `open_or_create` found the queue with other attributes.
    AttributesDiffer {
        /// The queue's capacity and max message length.
        found: (u32, u32),
        /// What the options asked for (an attribute the caller left to the queue, as a URL
        /// without `capacity=` does, is the queue's own).
        wanted: (u32, u32),
    },
    /// The queue lock stayed with one live process for a second (or with live processes for
    /// ten seconds in all, changing hands but never to this caller), where its holds take
    /// microseconds: the holder is stopped, hung or hostile. The call that returned it did
    /// nothing and may be tried again; through a connection, though, the messages its sink
    /// gathered (the one being sent included) stay there for a later flush, so a send
    /// that got this error must not be repeated (as after `send_timeout`).
    LockStuck {
        /// The process holding it last, as the lock word says.
        owner_pid: u32,
    },
    /// Another process shrank the segment's file (`truncate`, `ftruncate`): the messages and
    /// the index are gone. Every later operation on the queue through this process's
    /// handles fails with this too; the queue has to be removed and created again.
    Truncated,
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::BadHeader { detail } => write!(f, "not a usable queue segment: {detail}"),
            QueueError::HalfCreated { creator_pid } => write!(
                f,
                "the queue was left half-created (creator process {creator_pid}); remove it \
                 and create it again"
            ),
            QueueError::Corrupt(what) => write!(f, "queue segment is corrupt: {what}"),
            QueueError::AttributesDiffer { found, wanted } => {
                write_attributes_differ(f, *found, *wanted)
            }
            QueueError::LockStuck { owner_pid } => write!(
                f,
                "the queue lock has been held by live process {owner_pid} for over a second \
                 (or by live processes for over ten; stopped, hung, or writing the lock \
                 word); not waiting longer"
            ),
            QueueError::Truncated => write!(
                f,
                "another process shrank the queue's file: its messages are gone; remove the \
                 queue and create it again"
            ),
        }
    }
}

impl std::error::Error for QueueError {}

impl From<QueueError> for io::Error {
    fn from(err: QueueError) -> io::Error {
        let kind = match err {
            QueueError::AttributesDiffer { .. } => io::ErrorKind::AlreadyExists,
            QueueError::LockStuck { .. } => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, err)
    }
}

/// The text of [`QueueError::AttributesDiffer`]: names only the attributes that differ, so
/// that it never claims a value the caller did not ask for.
fn write_attributes_differ(
    f: &mut fmt::Formatter<'_>,
    found: (u32, u32),
    wanted: (u32, u32),
) -> fmt::Result {
    let (capacity, max_len) = (found.0 != wanted.0, found.1 != wanted.1);
    match (capacity, max_len) {
        (true, false) => write!(
            f,
            "the queue exists with capacity {}, not the asked-for {}",
            found.0, wanted.0
        ),
        (false, true) => write!(
            f,
            "the queue exists with max_message_len {}, not the asked-for {}",
            found.1, wanted.1
        ),
        _ => write!(
            f,
            "the queue exists with capacity {} and max_message_len {}, not the asked-for \
             capacity {} and max_message_len {}",
            found.0, found.1, wanted.0, wanted.1
        ),
    }
}
