//! What an endpoint can carry, checked before a bench run starts: the largest message (a
//! default size over it is lowered to it, an explicit `--size` over it is a usage error, as
//! `anyipc tour` adjusts its sizes to each transport), and whether a queue the run does not
//! create exists.

use crate::size_arg::parse_size;
use crate::CliError;
use anyipc::bench::Target;
#[cfg(unix)]
use anyipc::codec::Framing;
use anyipc::endpoint::MAX_UDP_PAYLOAD;
use anyipc::queue::{MessageQueue, QueueOptions};
use anyipc::{Endpoint, Scheme};
use std::io;

/// The largest message a target carries, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limit {
    /// Bytes.
    pub(crate) max: usize,
    /// `fifo:///tmp/b.fifo carries at most 4092 B (…)`.
    pub(crate) why: String,
}

/// The largest message both ways of `target` carry (the smaller one for a pair).
pub(crate) fn largest_message(target: &Target) -> Limit {
    // The raw baselines, with no endpoint, are never a target of `anyipc bench`.
    target
        .endpoints()
        .into_iter()
        .map(endpoint_limit)
        .min_by_key(|limit| limit.max)
        .unwrap_or(Limit {
            max: usize::MAX,
            why: String::new(),
        })
}

/// The largest message of one endpoint.
fn endpoint_limit(endpoint: &Endpoint) -> Limit {
    let max_frame = endpoint.max_frame();
    let by_max_frame = Limit {
        max: max_frame,
        why: format!("{endpoint} carries at most {max_frame} B (max_frame)"),
    };
    let own = match endpoint.scheme() {
        #[cfg(unix)]
        Scheme::Fifo => {
            let (framing, overhead) = match endpoint.framing() {
                Framing::Length => ("its 4-byte length prefix", 4),
                Framing::Lines => ("its newline", 1),
                Framing::Raw => ("no framing", 0),
            };
            let pipe_buf = anyipc::fifo::MAX_ATOMIC_FRAME;
            let max = pipe_buf - overhead;
            Limit {
                max,
                why: format!(
                    "{endpoint} carries at most {max} B (a frame, {framing} included, is one \
                     atomic write of at most PIPE_BUF, {pipe_buf} B)"
                ),
            }
        }
        Scheme::Udp => Limit {
            max: MAX_UDP_PAYLOAD,
            why: format!("{endpoint} carries at most {MAX_UDP_PAYLOAD} B (a UDP datagram)"),
        },
        Scheme::Mq => {
            let (max, whose) = queue_max_message(endpoint);
            Limit {
                max,
                why: format!("{endpoint} carries at most {max} B ({whose})"),
            }
        }
        _ => return by_max_frame,
    };
    if own.max <= max_frame {
        own
    } else {
        by_max_frame
    }
}

/// The largest message of the queue `endpoint` names: the queue's own when it exists, else
/// the one it will be created with.
fn queue_max_message(endpoint: &Endpoint) -> (usize, &'static str) {
    if let Some(Ok(queue)) = endpoint.name().map(MessageQueue::open) {
        return (
            queue.attributes().max_message_len as usize,
            "the queue's max_message_len",
        );
    }
    match endpoint.option("max_message_len").map(|v| parse_size(&v)) {
        Some(Ok(max)) => (max, "max_message_len"),
        // A bad value is the run's to report, with the option's own message.
        _ => (
            QueueOptions::default().max_message_len as usize,
            "the default max_message_len of a created queue",
        ),
    }
}

/// The message size of a workload: `asked` (from `--size`), refused when over the limit, or
/// `default` lowered to the limit; with a note to print when it was lowered.
///
/// # Errors
/// `Usage` when `asked` is over the limit.
pub(crate) fn message_size(
    mode: &str,
    asked: Option<usize>,
    default: usize,
    limit: &Limit,
) -> Result<(usize, Option<String>), CliError> {
    match asked {
        Some(size) if size > limit.max => Err(CliError::Usage(format!(
            "--size {size} is over the largest message: {}",
            limit.why
        ))),
        Some(size) => Ok((size, None)),
        None if default > limit.max => Ok((
            limit.max,
            Some(format!(
                "{mode} messages are {} B, not the default {default} B: {}",
                limit.max, limit.why
            )),
        )),
        None => Ok((default, None)),
    }
}

/// Refuses a target naming a queue that does not exist and that the run would not create
/// (no `create=true`), with what to do about it, and one that holds messages already: the
/// run would take them (as stray messages, dropped) from whoever they were for. Any other
/// failure to open a queue is left to the run, which reports it in its own words.
///
/// # Errors
/// `Runtime` for a queue that does not exist or is not empty.
pub(crate) fn check_queues(target: &Target) -> Result<(), CliError> {
    for endpoint in target.endpoints() {
        if endpoint.scheme() != Scheme::Mq {
            continue;
        }
        let Some(name) = endpoint.name() else {
            continue;
        };
        let created = endpoint.option("create").as_deref() == Some("true");
        match MessageQueue::open(name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && !created => {
                return Err(CliError::Runtime(format!(
                    "no queue named {name:?}: create it first (anyipc mq create {name}), or \
                     add ?create=true to the URL (the run then creates it and removes it \
                     afterwards)"
                )))
            }
            Ok(queue) => {
                let held = queue.attributes().len;
                if held > 0 {
                    let messages = if held == 1 { "message" } else { "messages" };
                    return Err(CliError::Runtime(format!(
                        "mq://{name} holds {held} {messages}, which the run would take and \
                         drop: empty it (anyipc listen mq://{name}), remove it (anyipc mq rm \
                         {name}) or measure another queue"
                    )));
                }
            }
            Err(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(url: &str) -> Limit {
        largest_message(&url.parse().unwrap())
    }

    #[test]
    fn limits_of_endpoints_and_pairs() {
        assert_eq!(limit("udp://127.0.0.1:0").max, 65_507);
        assert_eq!(limit("udp://127.0.0.1:0?max_frame=1KiB").max, 1024);
        assert_eq!(limit("tcp://127.0.0.1:0").max, 8 << 20);
        assert_eq!(limit("tcp://127.0.0.1:0?max_frame=1KiB").max, 1024);
        let mq = limit("mq://bench-limits-nonexistent?create=true&max_message_len=1KiB");
        assert_eq!(mq.max, 1024);
        assert!(limit("udp://127.0.0.1:0 + tcp://127.0.0.1:0")
            .why
            .starts_with("udp://127.0.0.1:0 carries at most 65507 B"));
    }

    /// FIFOs are Unix only: elsewhere `fifo://` is refused before any limit matters.
    #[cfg(unix)]
    #[test]
    fn a_fifo_carries_one_atomic_write() {
        let largest = anyipc::fifo::MAX_ATOMIC_FRAME - 4;
        assert_eq!(limit("fifo:///tmp/a").max, largest);
        assert_eq!(limit("fifo:///tmp/a?framing=lines").max, largest + 3);
        assert_eq!(limit("fifo:///tmp/a?max_frame=1KiB").max, 1024);
        assert_eq!(limit("tcp://127.0.0.1:0 + fifo:///tmp/b").max, largest);
        assert!(limit("fifo:///tmp/a + tcp://127.0.0.1:0")
            .why
            .starts_with(&format!("fifo:///tmp/a carries at most {largest} B")));
    }

    #[cfg(unix)]
    #[test]
    fn default_sizes_are_lowered_and_explicit_ones_refused() {
        let fifo = limit("fifo:///tmp/a");
        let largest = anyipc::fifo::MAX_ATOMIC_FRAME - 4;
        let (size, note) = message_size("throughput", None, largest + 4, &fifo).unwrap();
        assert_eq!(size, largest);
        assert!(note
            .unwrap()
            .contains(&format!("not the default {} B", largest + 4)));
        assert_eq!(
            message_size("throughput", Some(largest), largest + 4, &fifo).unwrap(),
            (largest, None)
        );
        assert!(matches!(
            message_size("throughput", Some(largest + 4), 64, &fifo),
            Err(CliError::Usage(_))
        ));
        assert_eq!(
            message_size("latency", None, 64, &fifo).unwrap(),
            (64, None)
        );
    }
}
