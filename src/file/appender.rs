//! [`Appender`]: the async face of a file producer (one writer thread behind each, see
//! [`writer_thread`]).
//!
//! A send encodes its message, on the sending task, into the appender's own open block —
//! for the log the whole record, CRC32C included — with no lock and nothing shared per
//! message. The block goes to the writer thread when it holds [`BLOCK_TARGET`] bytes, when
//! the connection is flushed (`send` flushes; `feed` does not, as on the byte-stream
//! transports), before a segment break, and at once under `fsync=always`.
//!
//! | state | poll_append does |
//! |---|---|
//! | `fsync=always`, a send in flight | waits until `synced` covers it |
//! | a message of a batch (`append_many`) | as below for every policy; the batch ends with a flush (and, under `fsync=always`, a sync) |
//! | closed, failed, message too large | the error |
//! | open block full, or the message starts a segment | hands the block over (waits while the queue is full) |
//! | otherwise | encodes the message into the open block |

use super::record_encoder::RecordEncoder;
use super::writer_thread::{self, AppendTarget, Block, Shared, BLOCK_TARGET};
use super::FsyncPolicy;
use crate::codec::FrameError;
use crate::io::coop::budgeted;
use std::io;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// The sending side of a file producer.
#[derive(Debug)]
pub(crate) struct Appender {
    shared: Arc<Shared>,
    policy: FsyncPolicy,
    max_frame: usize,
    encoder: RecordEncoder,
    /// Encoded messages not handed to the writer yet.
    open: Block,
    /// Sequence number of the first message this appender accepts.
    first_seq: u64,
    /// Messages accepted (encoded) so far.
    accepted: u64,
    /// Messages handed to the writer so far.
    handed: u64,
    /// `fsync=always`: the count `synced` must reach before the current send returns.
    awaiting: Option<u64>,
    closed: bool,
}

impl Appender {
    /// Starts the writer thread for `target`; messages are encoded with `encoder`, and the
    /// first one gets sequence number `first_seq`.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub(crate) fn start<T: AppendTarget>(
        target: T,
        encoder: RecordEncoder,
        policy: FsyncPolicy,
        max_frame: usize,
        first_seq: u64,
    ) -> io::Result<Appender> {
        let shared = Arc::new(Shared::default());
        writer_thread::start(target, shared.clone(), policy)?;
        Ok(Appender {
            shared,
            policy,
            // A record's (or a length frame's) length field holds 32 bits: a larger message
            // would be written with its length cut and never read back (and a reopened log
            // would cut it off with everything after it).
            max_frame: max_frame.min(u32::MAX as usize),
            encoder,
            open: Block::default(),
            first_seq,
            accepted: 0,
            handed: 0,
            awaiting: None,
            closed: false,
        })
    }

    /// Polls to append `msg`. `Ready(Ok(seq))` once accepted — under `fsync=always`, once on
    /// disk; otherwise it may wait in the open block until [`poll_flush`](Self::poll_flush).
    /// After `Pending`, poll again with the same message.
    ///
    /// # Errors
    /// `InvalidInput` over `max_frame` (or refused by a plain file's framing); `BrokenPipe`
    /// after close; after a write or sync error, that error (fail-stop) for this and every
    /// later send.
    pub(crate) fn poll_append(
        &mut self,
        cx: &mut Context<'_>,
        msg: &[u8],
    ) -> Poll<io::Result<u64>> {
        if let Some(target) = self.awaiting {
            let reached = ready!(self.shared.synced.poll_reached(cx, target));
            self.awaiting = None;
            return Poll::Ready(if reached {
                Ok(self.first_seq + target - 1)
            } else {
                Err(self.shared.failure())
            });
        }
        let always = self.policy == FsyncPolicy::Always;
        let seq = ready!(self.poll_accept(cx, msg, always))?;
        if always {
            self.hand_over();
            self.awaiting = Some(self.accepted);
            return self.poll_append(cx, msg);
        }
        Poll::Ready(Ok(seq))
    }

    /// Polls to append `msg` as one record of a batch: it is encoded into the open block
    /// whatever the fsync policy, and the caller ends the batch with
    /// [`poll_flush`](Self::poll_flush) and, for durability, [`sync`](Self::sync). After
    /// `Pending`, poll again with the same message.
    ///
    /// # Errors
    /// As [`poll_append`](Self::poll_append).
    pub(crate) fn poll_append_batched(
        &mut self,
        cx: &mut Context<'_>,
        msg: &[u8],
    ) -> Poll<io::Result<u64>> {
        self.poll_accept(cx, msg, false)
    }

    /// Encodes the longest prefix of `msgs` that fits into the open block without handing
    /// it over or starting a segment, and returns its length: the loop of a batch between
    /// the checks [`poll_append_batched`](Self::poll_append_batched) makes. The caller has
    /// checked every message against `max_frame`; a message the encoder refuses ends the
    /// prefix (polled alone, it gets its error).
    pub(crate) fn encode_fitting<M: AsRef<[u8]>>(&mut self, msgs: &[M]) -> usize {
        let mut taken = 0;
        for msg in msgs {
            let msg = msg.as_ref();
            if self.open.data.len() >= BLOCK_TARGET
                || self.encoder.needs_new_segment(msg.len())
                || self.encoder.encode(msg, &mut self.open.data).is_err()
            {
                break;
            }
            taken += 1;
        }
        self.open.messages += taken as u64;
        self.accepted += taken as u64;
        taken
    }

    /// Encodes `msg` into the open block, first handing the block over when it is full or
    /// the message starts a segment; with `room_first`, also waits until the queue has room
    /// for the block this message is in (it is to be handed over at once).
    fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
        msg: &[u8],
        room_first: bool,
    ) -> Poll<io::Result<u64>> {
        if self.closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "this file producer is closed",
            )));
        }
        if msg.len() > self.max_frame {
            return Poll::Ready(Err(FrameError::SendTooLarge {
                len: msg.len(),
                max: self.max_frame,
            }
            .into()));
        }
        if self.shared.failed() {
            return Poll::Ready(Err(self.shared.failure()));
        }
        let new_segment = self.encoder.needs_new_segment(msg.len());
        if self.open.messages > 0 && (new_segment || self.open.data.len() >= BLOCK_TARGET) {
            ready!(self.poll_hand_over(cx))?;
        }
        if room_first {
            ready!(self.poll_room(cx))?;
        }
        if new_segment {
            self.open.new_segment = self.encoder.start_segment();
        }
        self.encoder.encode(msg, &mut self.open.data)?;
        self.open.messages += 1;
        self.accepted += 1;
        Poll::Ready(Ok(self.first_seq + self.accepted - 1))
    }

    /// Polls to hand the open block to the writer thread: then every message accepted so
    /// far is acknowledged (`fsync=batch|never`).
    ///
    /// # Errors
    /// The writer's error if it stopped.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.open.messages > 0 {
            ready!(self.poll_hand_over(cx))?;
        }
        if self.shared.failed() {
            return Poll::Ready(Err(self.shared.failure()));
        }
        Poll::Ready(Ok(()))
    }

    /// The fsync policy.
    pub(crate) fn policy(&self) -> FsyncPolicy {
        self.policy
    }

    /// The largest message a send accepts.
    pub(crate) fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// The sequence number the next accepted message gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.first_seq + self.accepted
    }

    /// Waits until every message handed to the writer so far is durable
    /// (`fsync=always|batch`) or written to the OS (`fsync=never`).
    ///
    /// # Errors
    /// The writer's error if it stopped.
    pub(crate) async fn sync(&self) -> io::Result<()> {
        let progress = match self.policy {
            FsyncPolicy::Never => &self.shared.written,
            _ => &self.shared.synced,
        };
        if progress.reached(self.handed).await {
            Ok(())
        } else {
            Err(self.shared.failure())
        }
    }

    /// Polls to close: the writer thread finishes the queue (writing and, unless
    /// `fsync=never`, syncing it), closes the file and releases the log's lock.
    ///
    /// # Errors
    /// The writer's error if it stopped.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.closed {
            if self.open.messages > 0 {
                match self.poll_room(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => self.hand_over(),
                    // The writer stopped: nothing more is written; its error comes below.
                    Poll::Ready(Err(_)) => {}
                }
            }
            self.closed = true;
            self.shared.close();
        }
        match self.shared.finished.poll_reached(cx, 1) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(true) if !self.shared.failed() => Poll::Ready(Ok(())),
            Poll::Ready(_) => Poll::Ready(Err(self.shared.failure())),
        }
    }

    /// `Ready` once the queue has room for another block.
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.shared.failed() {
                return Poll::Ready(Err(self.shared.failure()));
            }
            let Some(target) = self.shared.full() else {
                return Poll::Ready(Ok(()));
            };
            if !ready!(self.shared.taken.poll_reached(cx, target)) {
                return Poll::Ready(Err(self.shared.failure()));
            }
        }
    }

    /// Hands the open block over once the queue has room (checked and queued in one lock
    /// hold: this runs on every `send`): one operation of the task's budget, as a socket's
    /// write.
    fn poll_hand_over(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        budgeted(cx, |cx| self.poll_hand_over_now(cx))
    }

    /// [`poll_hand_over`](Self::poll_hand_over) without the budget.
    fn poll_hand_over_now(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.shared.failed() {
                return Poll::Ready(Err(self.shared.failure()));
            }
            let block = std::mem::take(&mut self.open);
            let messages = block.messages;
            match self.shared.push_if_room(block) {
                Ok(spare) => {
                    self.handed += messages;
                    self.open.data = spare;
                    return Poll::Ready(Ok(()));
                }
                Err((block, target)) => {
                    self.open = block;
                    if !ready!(self.shared.taken.poll_reached(cx, target)) {
                        return Poll::Ready(Err(self.shared.failure()));
                    }
                }
            }
        }
    }

    /// Queues the open block, whatever the queue holds.
    fn hand_over(&mut self) {
        let block = std::mem::take(&mut self.open);
        self.handed += block.messages;
        self.open.data = self.shared.push(block);
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        // The thread writes what was accepted, then exits; nobody waits for it.
        if self.open.messages > 0 && !self.closed {
            self.hand_over();
        }
        self.shared.close();
    }
}
