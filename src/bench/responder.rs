//! The peer's half of the bench protocol as a state machine over received messages, shared by
//! every way a peer is reached (one connection, or a pair of one-way endpoints).

use super::workload::{ack, check_payload, invalid, is_control, READY};
use super::Workload;
use bytes::Bytes;
use std::io;

/// What the peer does with one received message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A run starts: answer [`READY`] (a peer on a pair opens its return path first).
    Ready,
    /// Send this back: an echo, or a throughput acknowledgement.
    Reply(Bytes),
    /// Nothing to send.
    Nothing,
}

impl Answer {
    /// The message to send, if any.
    pub(crate) fn message(self) -> Option<Bytes> {
        match self {
            Answer::Ready => Some(Bytes::from_static(READY)),
            Answer::Reply(msg) => Some(msg),
            Answer::Nothing => None,
        }
    }
}

/// The run in progress.
#[derive(Debug)]
enum Run {
    /// Echo every message.
    Latency,
    /// Check and count messages; answer each end marker with the count so far.
    Throughput {
        size: usize,
        /// Messages per call (1: one at a time).
        batch: usize,
        received: u64,
        error: Option<String>,
    },
}

/// The peer's protocol state: which run is in progress, and its counts.
///
/// Every run starts with a control message ([`Workload::control_message`]), and a control
/// message can arrive at any time: over a channel that outlives runs (a FIFO, a queue, a log,
/// a child's pipes) the runs follow one another on the same stream. No payload can be taken
/// for a control message: payloads start with a variant byte followed by a zero byte (or are
/// one or two bytes long, the second `first ^ 0xA5`), never with the protocol tag.
#[derive(Debug, Default)]
pub(crate) struct Responder {
    run: Option<Run>,
}

impl Responder {
    /// Takes one received message and says what to send back.
    ///
    /// # Errors
    /// `InvalidData` for a malformed control message, or for a message before any run.
    pub(crate) fn answer(&mut self, msg: Bytes) -> io::Result<Answer> {
        if matches!(self.run, Some(Run::Latency)) && !is_control(&msg) {
            return Ok(Answer::Reply(msg));
        }
        self.answer_slice(&msg)
    }

    /// Whether the run under way is a batch throughput run, whose messages are best
    /// received with `recv_batch` and answered with [`answer_slice`](Self::answer_slice).
    pub(crate) fn batched(&self) -> bool {
        matches!(self.run, Some(Run::Throughput { batch, .. }) if batch > 1)
    }

    /// Checks and counts `msg` if it is a payload of the throughput run under way, and says
    /// whether it was: the per-message step of a run, which the peer loops take before
    /// [`answer`](Self::answer) (needed for anything else) as the raw baseline's loop does.
    #[inline]
    pub(crate) fn count_payload(&mut self, msg: &[u8]) -> bool {
        let Some(Run::Throughput {
            size,
            received,
            error,
            ..
        }) = &mut self.run
        else {
            return false;
        };
        if msg.is_empty() || is_control(msg) {
            return false;
        }
        if error.is_none() {
            if let Err(e) = check_payload(msg, *size) {
                *error = Some(format!("message {received}: {e}"));
            }
        }
        *received += 1;
        true
    }

    /// [`answer`](Self::answer) for a message seen as bytes (a latency echo copies it).
    pub(crate) fn answer_slice(&mut self, msg: &[u8]) -> io::Result<Answer> {
        if self.count_payload(msg) {
            return Ok(Answer::Nothing);
        }
        if is_control(msg) {
            self.run = Some(match Workload::parse_control(msg)? {
                Workload::Latency { .. } => Run::Latency,
                Workload::Throughput { size, batch, .. } => Run::Throughput {
                    size,
                    batch,
                    received: 0,
                    error: None,
                },
            });
            return Ok(Answer::Ready);
        }
        match &mut self.run {
            None => Err(invalid(format!(
                "not a bench control message: {:?}",
                String::from_utf8_lossy(&msg[..msg.len().min(64)])
            ))),
            Some(Run::Latency) => Ok(Answer::Reply(Bytes::copy_from_slice(msg))),
            // Payloads were counted above. Counts are cumulative: a repeated end marker (the
            // client sends it again when an acknowledgement is slow or lost) is answered with
            // the same total.
            Some(Run::Throughput {
                received, error, ..
            }) => Ok(Answer::Reply(ack(*received, error.as_deref()))),
        }
    }
}
