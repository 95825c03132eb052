//! Waiting for room or for a message without blocking a tokio worker: spin briefly on the
//! queue length (a message often arrives within microseconds, and a kernel wake-up costs
//! tens of them on these machines; `Waiting::spin` says when the spin yields the CPU),
//! then park a blocking-pool thread on a futex word that the other side bumps and wakes
//! only when its waiter count says someone is parked. The length is only a hint: a waiter
//! whose attempts keep failing though it looks ready parks anyway ([`Backoff`]).
//!
//! Everything here that touches the segment runs guarded ([`Region::guarded`]): a file that
//! another process shrank ends a spin or a park at once (a park that was already asleep
//! wakes within [`PARK_MAX`]), and the attempt after it reports the error.
//!
//! Parking uses `tokio::task::spawn_blocking` directly: the crate's `io/blocking.rs` bridge
//! was not part of the crate when this was written; move the park there once it is.

use super::attachment::Attachment;
use super::geometry::{self, word};
use super::region::Region;
use super::QueueError;
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long to spin on the length before parking.
pub(crate) const SPIN: Duration = Duration::from_micros(50);
/// Checks before the spin starts yielding the CPU (a message from a process on another CPU
/// often lands within them).
const QUICK_CHECKS: u32 = 8;
/// Longest single park: bounds how long a cancelled wait keeps a blocking thread.
const PARK_MAX: Duration = Duration::from_millis(50);
/// Spins in a row that may end "looks ready" while the attempt after each still finds
/// nothing, before the waiter parks anyway (see [`Backoff`]).
const FUTILE_SPINS: u32 = 16;
/// Longest park that does not trust the length hint (see [`Backoff`]): it cannot tell a
/// wake-up that came before it registered, so it only pauses.
const DISTRUSTING_PARK_MAX: Duration = Duration::from_millis(1);

/// What a waiter waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// A message (receivers).
    NotEmpty,
    /// A free slot (senders).
    NotFull,
}

impl Waiting {
    fn words(self, region: &Region) -> (&AtomicU32, &AtomicU32) {
        match self {
            Waiting::NotEmpty => (
                region.header_word(geometry::OFF_NOT_EMPTY_SEQ),
                region.header_word(geometry::OFF_RECV_WAITERS),
            ),
            Waiting::NotFull => (
                region.header_word(geometry::OFF_NOT_FULL_SEQ),
                region.header_word(geometry::OFF_SEND_WAITERS),
            ),
        }
    }

    /// Where the process this waiter waits for last ran (the last sender for receivers, the
    /// last receiver for senders): a hint, any value is harmless.
    fn peer_cpu(self, region: &Region) -> &AtomicU32 {
        match self {
            Waiting::NotEmpty => region.header_word(geometry::OFF_SENDER_CPU),
            Waiting::NotFull => region.header_word(geometry::OFF_RECEIVER_CPU),
        }
    }

    /// After an operation that moved `count` messages and so may have made the queue ready
    /// for that many waiters of this kind (a send, for `NotEmpty`): wakes parked ones and
    /// records where this process runs, for spinners to read.
    pub(crate) fn done(self, attachment: &Attachment, count: usize) {
        self.notify(attachment, count);
        self.record_cpu(attachment);
    }

    /// Records the CPU of a process that just did what waiters of this kind wait for (sent,
    /// for `NotEmpty`). Written only when it changes, so the line stays shared. A file found
    /// shrunk is left for the next operation to report.
    pub(crate) fn record_cpu(self, attachment: &Attachment) {
        let region = attachment.region();
        let _ = region.guarded(|| {
            let word = self.peer_cpu(region);
            let cpu = crate::sys::queue::current_cpu();
            if word.load(Ordering::Relaxed) != cpu {
                word.store(cpu, Ordering::Relaxed);
            }
        });
    }

    /// Whether the queue looks ready (a hint read without the lock), for callers inside a
    /// guarded access (spins and parks).
    fn len_ready(self, region: &Region) -> bool {
        let len = region.known_word(word::LEN).load(Ordering::SeqCst);
        match self {
            Waiting::NotEmpty => len > 0,
            Waiting::NotFull => len < region.geometry().capacity,
        }
    }

    /// Spins until the queue looks ready or `SPIN` passes; returns whether it looks ready.
    ///
    /// After a few quick checks it yields the CPU whenever the process it waits for last ran
    /// on this CPU (spinning would only delay it), and every 16th check otherwise (with more
    /// runnable processes than CPUs, one that would make progress may be waiting for this
    /// CPU). Between other checks it pauses: yielding to unrelated work on this CPU could
    /// cost a whole time slice.
    ///
    /// A file found shrunk ends the spin "ready", so that the attempt after it reports the
    /// error (a spin reading the zeros left in its place ends when `SPIN` passes).
    pub(crate) fn spin(self, attachment: &Attachment) -> bool {
        let region = attachment.region();
        region
            .guarded(|| self.spin_unguarded(region))
            .unwrap_or(true)
    }

    fn spin_unguarded(self, region: &Region) -> bool {
        let start = Instant::now();
        let peer = self.peer_cpu(region);
        for round in 0u32.. {
            if self.len_ready(region) {
                return true;
            }
            if round < QUICK_CHECKS {
                // Few pauses: one costs up to ~140 cycles on some CPUs, and every one adds
                // to the latency of a message that has just arrived.
                std::hint::spin_loop();
                continue;
            }
            if start.elapsed() >= SPIN {
                return false;
            }
            if round % 16 == 0 || crate::sys::queue::current_cpu() == peer.load(Ordering::Relaxed) {
                std::thread::yield_now();
            } else {
                for _ in 0..4 {
                    std::hint::spin_loop();
                }
            }
        }
        false
    }

    /// Wakes up to `count` parked waiters of this kind, if the waiter count says there are
    /// any. A file found shrunk is left for the next operation to report.
    pub(crate) fn notify(self, attachment: &Attachment, count: usize) {
        let region = attachment.region();
        let _ = region.guarded(|| {
            let (seq, waiters) = self.words(region);
            // Pairs with the fence in `park`: either the waiter sees our change to the
            // length, or we see its count.
            fence(Ordering::SeqCst);
            if waiters.load(Ordering::Relaxed) != 0 {
                seq.fetch_add(1, Ordering::SeqCst);
                // One per message or slot: waking them all would send every parked receiver
                // after one message. A woken waiter whose future was dropped meanwhile
                // wastes its wake-up; the others re-check within `PARK_MAX` anyway.
                crate::sys::queue::futex_wake(seq, u32::try_from(count).unwrap_or(u32::MAX));
            }
        });
    }

    /// Starts a park on the blocking pool, for at most `limit` (and at most `PARK_MAX`, or
    /// `DISTRUSTING_PARK_MAX` without `trust_hint`).
    /// It returns early when woken or, if `trust_hint`, when the queue already looks ready.
    ///
    /// The whole park is one guarded access: on a file another process shrank, the futex
    /// wait fails at once (`EFAULT`) or sleeps out its slice, and the access after it
    /// faults, so the park ends within `PARK_MAX` with `Truncated`. A file shrunk only past
    /// the header, whose words the park touches, is found by the length check after it.
    fn park(
        self,
        attachment: &Arc<Attachment>,
        limit: Option<Duration>,
        trust_hint: bool,
    ) -> tokio::task::JoinHandle<Result<(), QueueError>> {
        let attachment = attachment.clone();
        // A park that distrusts the hint also skips the check that guards against a wake-up
        // missed before it registered: it sleeps briefly instead.
        let most = if trust_hint {
            PARK_MAX
        } else {
            DISTRUSTING_PARK_MAX
        };
        let limit = limit.map_or(most, |l| l.min(most));
        tokio::task::spawn_blocking(move || {
            let region = attachment.region();
            region.guarded(|| {
                let (seq, waiters) = self.words(region);
                waiters.fetch_add(1, Ordering::SeqCst);
                let seen = seq.load(Ordering::SeqCst);
                fence(Ordering::SeqCst);
                if !trust_hint || !self.len_ready(region) {
                    crate::sys::queue::futex_wait(seq, seen, limit);
                }
                waiters.fetch_sub(1, Ordering::SeqCst);
            })?;
            attachment.check_file_length()
        })
    }
}

/// One wait's choice, after each failed attempt, between spinning and parking.
///
/// The length word that spinning watches is only a hint: it can look ready while attempts
/// under the lock keep finding nothing (other waiters keep winning, or a peer keeps writing
/// it). Trusting it without limit would retry forever without yielding or reaching a
/// deadline check. So after [`FUTILE_SPINS`] such spins in a row the waiter parks anyway,
/// and that park sleeps until woken, or at most [`DISTRUSTING_PARK_MAX`], whatever the hint
/// says. Progress resets the count ([`progressed`](Backoff::progressed)).
#[derive(Debug)]
pub(crate) struct Backoff {
    waiting: Waiting,
    /// Spins since the last park that said "looks ready", each followed by a failed attempt.
    futile: u32,
}

impl Backoff {
    /// A wait for `waiting`, before its first attempt.
    pub(crate) fn new(waiting: Waiting) -> Backoff {
        Backoff { waiting, futile: 0 }
    }

    /// After a failed attempt: spins as [`Waiting::spin`] does, unless too many spins in a
    /// row were futile; `true` to attempt again at once, `false` to park.
    pub(crate) fn spin(&mut self, attachment: &Attachment) -> bool {
        if self.futile >= FUTILE_SPINS || !self.waiting.spin(attachment) {
            return false;
        }
        self.futile += 1;
        true
    }

    /// After an attempt that made progress (a part of a batch sent): the spins before it
    /// were not futile.
    pub(crate) fn progressed(&mut self) {
        self.futile = 0;
    }

    /// Starts a park for at most `limit` (see [`Waiting::park`]), which distrusts the hint
    /// if the spins before it were all futile; the next spins start afresh.
    pub(crate) fn park(
        &mut self,
        attachment: &Arc<Attachment>,
        limit: Option<Duration>,
    ) -> tokio::task::JoinHandle<Result<(), QueueError>> {
        let trust_hint = self.futile < FUTILE_SPINS;
        self.futile = 0;
        self.waiting.park(attachment, limit, trust_hint)
    }
}
