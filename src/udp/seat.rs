//! Counting a listener's live senders for `max_peers=`, without walking its peer map.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// How many of a listener's senders hold a seat: their connection is open and the listener
/// has not ended it.
#[derive(Debug, Default)]
pub(super) struct PeerCount(AtomicUsize);

impl PeerCount {
    /// Senders holding a seat now.
    pub(super) fn live(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// One sender's seat in a [`PeerCount`]. It is given up once, by whichever comes first: its
/// connection is dropped ([`SeatGuard`]) or the router ends the connection ([`Seat::leave`]).
#[derive(Debug)]
pub(super) struct Seat {
    held: AtomicBool,
    /// The connection sent a datagram to its sender since the router last looked: the
    /// exchange is alive, whichever side talks.
    sent: AtomicBool,
    count: Arc<PeerCount>,
}

impl Seat {
    /// Takes a seat in `count`.
    pub(super) fn take(count: &Arc<PeerCount>) -> Arc<Seat> {
        count.0.fetch_add(1, Ordering::AcqRel);
        Arc::new(Seat {
            held: AtomicBool::new(true),
            sent: AtomicBool::new(false),
            count: Arc::clone(count),
        })
    }

    /// Notes that the connection sent a datagram (a plain store per send).
    pub(super) fn mark_sent(&self) {
        self.sent.store(true, Ordering::Relaxed);
    }

    /// Whether the connection sent since the last call.
    pub(super) fn take_sent(&self) -> bool {
        self.sent.swap(false, Ordering::Relaxed)
    }

    /// Gives the seat up; later calls do nothing.
    pub(super) fn leave(&self) {
        if self.held.swap(false, Ordering::AcqRel) {
            self.count.0.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A connection's hold on its sender's seat: gives it up when dropped.
#[derive(Debug)]
pub(super) struct SeatGuard(pub(super) Arc<Seat>);

impl Drop for SeatGuard {
    fn drop(&mut self) {
        self.0.leave();
    }
}
