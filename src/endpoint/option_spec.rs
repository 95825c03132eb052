//! The one table of query options: which scheme takes which key, and what values it accepts.
//!
//! The README's option table is this table written out; `tests::option_table_matches_readme`
//! keeps the two in step.

use super::Scheme;
use std::time::Duration;

/// The kind of value an option takes, which is also how it is parsed and displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// A byte or item count in `min..=max`: `4096`, `64KiB`, `8MiB`, `1GiB` (also `k`,
    /// `KB`, … as powers of 1024).
    Size { min: u64, max: u64 },
    /// `250ms`, `5s`, `2m`; a bare number is seconds.
    Duration,
    /// A [`Duration`](ValueKind::Duration) of at least 1 ms: a limit on a wait, where 0
    /// would fail every wait at once (and reads to many as "no limit", as `SO_RCVTIMEO=0`
    /// does), so it is refused; no limit is the option left out.
    Timeout,
    /// `true|false` (also `1|0`, `yes|no`, `on|off`).
    Bool,
    /// One of a fixed list of words.
    Choice(&'static [&'static str]),
    /// An octal permission mode of at most `0777`.
    Mode,
    /// A whole number in `min..=max`.
    Uint { min: u64, max: u64 },
    /// A whole number of `unit`s (`messages`) in `min..=max`: digits only, like
    /// [`Uint`](ValueKind::Uint), described as a count so that a size (`64KiB`) reads as the
    /// mistake it is.
    Count {
        min: u64,
        max: u64,
        unit: &'static str,
    },
    /// A comma-separated list of user ids.
    UidList,
    /// A name under the endpoint name rules.
    Name,
}

impl ValueKind {
    /// The accepted values, as written in errors and in the README's table.
    pub(crate) fn describe(self) -> String {
        match self {
            ValueKind::Size {
                min: 0,
                max: u64::MAX,
            } => "a size such as 4096, 64KiB, 8MiB".to_owned(),
            ValueKind::Size { min, max: u64::MAX } => {
                format!("a size of at least {}", OptionValue::Size(min))
            }
            ValueKind::Size { min: 0, max } => {
                format!(
                    "a size such as 4096 or 64KiB, up to {}",
                    OptionValue::Size(max)
                )
            }
            ValueKind::Size { min, max } => format!(
                "a size from {} to {}",
                OptionValue::Size(min),
                OptionValue::Size(max)
            ),
            ValueKind::Duration => "a duration such as 250ms, 1.5s, 2m".to_owned(),
            ValueKind::Timeout => {
                "a duration of at least 1ms, such as 250ms, 1.5s, 2m (none: leave it out)"
                    .to_owned()
            }
            ValueKind::Bool => "true or false".to_owned(),
            ValueKind::Choice(words) => format!("one of {}", words.join("|")),
            ValueKind::Mode => "an octal mode such as 0600".to_owned(),
            ValueKind::Uint { min, max } => format!("a whole number from {min} to {max}"),
            ValueKind::Count { min, max, unit } => {
                format!("a number of {unit} from {min} to {max} (a count, not a size in bytes)")
            }
            ValueKind::UidList => "user ids separated by commas, such as 1000,1001".to_owned(),
            ValueKind::Name => "a name of letters, digits, '.', '_' and '-'".to_owned(),
        }
    }
}

/// One row of the option table.
#[derive(Debug)]
pub(crate) struct OptionSpec {
    pub(crate) key: &'static str,
    pub(crate) schemes: &'static [Scheme],
    pub(crate) kind: ValueKind,
    pub(crate) default: &'static str,
    pub(crate) meaning: &'static str,
}

use Scheme::*;

const STREAMS: &[Scheme] = &[Tcp, Unix, Pipe, Fifo, Stdio, Shm, File];
const EVERY: &[Scheme] = &[Tcp, Udp, Unix, Pipe, Fifo, Stdio, Shm, Mq, Mem, File];
const CONNECTING: &[Scheme] = &[Tcp, Udp, Unix, Pipe, Shm, Mq, Mem];
const NAMED_FILES: &[Scheme] = &[Unix, Pipe, Fifo, Shm, Mq, File];

/// Every option any scheme accepts. A key has at most one row per scheme: `capacity` has two,
/// as `mq://` counts messages where `mem://` and `shm://` take a size.
pub(crate) const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        key: "framing",
        schemes: STREAMS,
        kind: ValueKind::Choice(&["length", "lines", "raw"]),
        default: "length (file: the durable log)",
        meaning: "how messages are cut out of the byte stream: a u32 big-endian length prefix, \
                  newline-terminated lines, or whatever each read returns",
    },
    OptionSpec {
        key: "max_frame",
        schemes: EVERY,
        kind: ValueKind::Size {
            min: 0,
            max: u64::MAX,
        },
        default: "8MiB (udp: 65507)",
        meaning: "largest message accepted either way (at least 1; udp: at most 65507); larger \
                  is InvalidInput on send, InvalidData on receive (mq: the message stays in \
                  the queue for another receiver; framing=raw, which has no messages, hands \
                  bytes out in pieces of at most max_frame instead)",
    },
    OptionSpec {
        key: "connect_timeout",
        schemes: CONNECTING,
        kind: ValueKind::Timeout,
        default: "none",
        meaning: "give up connecting after this long (TimedOut)",
    },
    OptionSpec {
        key: "recv_timeout",
        schemes: EVERY,
        kind: ValueKind::Timeout,
        default: "none",
        meaning: "fail a receive (TimedOut) when no whole message arrives for this long; \
                  also bounds a stalled partial frame. The clock measures the peer's \
                  silence: a receive cancelled while it waits (by select!) does not restart it",
    },
    OptionSpec {
        key: "send_timeout",
        schemes: EVERY,
        kind: ValueKind::Timeout,
        default: "none",
        meaning: "fail a send, flush or close (TimedOut) that the peer holds up for this long \
                  (it reads nothing, or its queue stays full); the message, and what was \
                  queued before it, stays whole and goes out with a later send or flush \
                  (Connection::send; the Sink trait's poll_ready leaves it with the caller). \
                  A send cancelled while it waits does not restart the clock",
    },
    OptionSpec {
        key: "nodelay",
        schemes: &[Tcp],
        kind: ValueKind::Bool,
        default: "true",
        meaning: "TCP_NODELAY: send small messages at once",
    },
    OptionSpec {
        key: "max_peers",
        schemes: &[Udp],
        kind: ValueKind::Uint {
            min: 1,
            max: 1_048_576,
        },
        default: "1024",
        meaning: "a listener's live sender connections; datagrams from a new sender are \
                  dropped while this many are live",
    },
    OptionSpec {
        key: "idle_timeout",
        schemes: &[Udp],
        kind: ValueKind::Duration,
        default: "5m",
        meaning: "a listener ends a sender's connection (its stream ends after what was \
                  queued) when no datagram has come from the sender or gone to it for this \
                  long; 0 never does",
    },
    OptionSpec {
        key: "max_queued",
        schemes: &[Udp],
        kind: ValueKind::Size {
            min: crate::endpoint::MIN_UDP_MAX_QUEUED,
            max: u64::MAX,
        },
        default: "64MiB",
        meaning: "bytes of unread datagrams a listener holds, all its connections together \
                  (each counts 64 more than its length); datagrams beyond it are dropped",
    },
    OptionSpec {
        key: "broadcast",
        schemes: &[Udp],
        kind: ValueKind::Bool,
        default: "false",
        meaning: "SO_BROADCAST: a client may send to a broadcast address (255.255.255.255, a \
                  subnet's), which the OS refuses (PermissionDenied) without it; a listener \
                  takes it and ignores it",
    },
    OptionSpec {
        key: "mode",
        schemes: NAMED_FILES,
        kind: ValueKind::Mode,
        default: "0600",
        meaning: "permissions of the created socket, FIFO, segment or file (a bad URL with a \
                  unix:// abstract name, which has no file, and on a FIFO without the owner's \
                  read and write; a pipe:// name is its user's only, whatever its mode: see \
                  anyipc::pipe)",
    },
    OptionSpec {
        key: "capacity",
        schemes: &[Mem],
        kind: ValueKind::Count {
            min: 1,
            max: crate::mem::MAX_CAPACITY as u64,
            unit: "messages",
        },
        default: "1024",
        meaning: "messages each direction holds before a sender waits, set by the connecting side",
    },
    OptionSpec {
        key: "capacity",
        schemes: &[Shm],
        // The largest ring (`shm::ring::MAX_CAPACITY`; a test keeps the two the same).
        kind: ValueKind::Size { min: 0, max: 1 << 30 },
        default: "1MiB per ring",
        meaning: "bytes each direction's ring holds before a sender waits, set by the \
                  connecting side",
    },
    OptionSpec {
        key: "capacity",
        schemes: &[Mq],
        kind: ValueKind::Count {
            min: 1,
            max: crate::queue::MAX_CAPACITY as u64,
            unit: "messages",
        },
        default: "1024",
        meaning: "messages the created queue holds before a sender waits, set by the side \
                  that creates the queue (`anyipc mq create --capacity` takes the same \
                  count; max_message_len sets how large each may be)",
    },
    OptionSpec {
        key: "busy_poll",
        schemes: &[Shm],
        kind: ValueKind::Bool,
        default: "false",
        meaning: "spin instead of parking while waiting (lowest latency, one busy core)",
    },
    OptionSpec {
        key: "create",
        schemes: &[Mq],
        kind: ValueKind::Bool,
        default: "false",
        meaning: "create the queue when it does not exist",
    },
    OptionSpec {
        key: "max_message_len",
        schemes: &[Mq],
        kind: ValueKind::Size {
            min: 1,
            max: crate::queue::MAX_MESSAGE_LEN as u64,
        },
        default: "8KiB",
        meaning: "largest message the created queue holds; creating reserves about \
                  capacity × max_message_len of memory in /dev/shm (StorageFull if it has no \
                  room; a container's is 64 MiB unless `docker run --shm-size` says more)",
    },
    OptionSpec {
        key: "priority",
        schemes: &[Mq],
        kind: ValueKind::Uint { min: 0, max: 31 },
        default: "0",
        meaning: "priority of messages sent through this connection",
    },
    OptionSpec {
        key: "fsync",
        schemes: &[File],
        kind: ValueKind::Choice(&["always", "batch", "never"]),
        default: "batch",
        meaning: "when an append reaches the disk before the send returns",
    },
    OptionSpec {
        key: "consumer",
        schemes: &[File],
        kind: ValueKind::Name,
        default: "none",
        meaning: "name of a consumer whose cursor is kept beside the log (the log only: \
                  refused with framing=, as a plain file keeps no cursor)",
    },
    OptionSpec {
        key: "from",
        schemes: &[File],
        kind: ValueKind::Choice(&["start", "end"]),
        default: "start",
        meaning: "where a consumer without a cursor begins (a named consumer starting at the \
                  end stores its cursor there at once); a plain file is read from its start",
    },
    OptionSpec {
        key: "follow",
        schemes: &[File],
        kind: ValueKind::Bool,
        default: "true",
        meaning: "keep waiting for new data at the end of the file; a plain file's path is followed across rotation (like tail -F)",
    },
    OptionSpec {
        key: "segment_size",
        schemes: &[File],
        kind: ValueKind::Size {
            min: 0,
            max: u64::MAX,
        },
        default: "64MiB",
        meaning: "size at which the log starts a new segment",
    },
    OptionSpec {
        key: "retention",
        schemes: &[File],
        kind: ValueKind::Size {
            min: 0,
            max: u64::MAX,
        },
        default: "none (keep all)",
        meaning: "the log deletes its oldest closed segments while all segments together \
                  exceed this size; a consumer behind them skips to the oldest record kept (a \
                  logged warning, no error)",
    },
    OptionSpec {
        key: "allow_uids",
        schemes: &[Unix, Pipe],
        kind: ValueKind::UidList,
        default: "any",
        meaning: "a server refuses clients of other users before reading anything (a \
                  pipe:// name is reachable by its own user only, so there it can only \
                  refuse)",
    },
];

/// The row for `key` if `scheme` accepts it.
pub(crate) fn find(scheme: Scheme, key: &str) -> Option<&'static OptionSpec> {
    OPTIONS
        .iter()
        .find(|spec| spec.key == key && spec.schemes.contains(&scheme))
}

/// The keys `scheme` accepts, in table order.
pub(crate) fn keys_for(scheme: Scheme) -> Vec<&'static str> {
    OPTIONS
        .iter()
        .filter(|spec| spec.schemes.contains(&scheme))
        .map(|spec| spec.key)
        .collect()
}

/// A parsed option value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum OptionValue {
    Size(u64),
    Duration(Duration),
    Bool(bool),
    Choice(&'static str),
    Mode(u32),
    Uint(u64),
    UidList(Vec<u32>),
    Name(String),
}
