//! The bytes a listener holds in datagrams that its connections have not taken yet, across all
//! of them. A queued datagram carries its cost as a [`Charge`], given back when the datagram
//! is dropped: taken by its connection, or dropped unread wherever that happens (refused by a
//! full queue, or left in a channel that goes).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What a listener may hold in queued datagrams, all its connections together, unless
/// `max_queued=` says otherwise: 64 MiB.
pub(super) const LISTENER_BYTE_BUDGET: usize = 64 << 20;

/// Bytes counted for each queued datagram beyond its payload (its allocation and queue slot),
/// so that a flood of empty datagrams is bounded too.
pub(super) const DATAGRAM_OVERHEAD: usize = 64;

/// The bytes a datagram of `len` payload bytes costs while queued.
pub(super) fn cost(len: usize) -> usize {
    len.saturating_add(DATAGRAM_OVERHEAD)
}

/// A listener's budget for queued datagrams.
#[derive(Debug)]
pub(super) struct ByteBudget {
    limit: usize,
    queued: AtomicUsize,
}

impl ByteBudget {
    /// A budget of `limit` bytes, none of them used.
    pub(super) fn new(limit: usize) -> Arc<ByteBudget> {
        Arc::new(ByteBudget {
            limit,
            queued: AtomicUsize::new(0),
        })
    }

    /// Takes `bytes` from the budget until the returned [`Charge`] is dropped; `None`
    /// (nothing taken) when that would go over it.
    pub(super) fn charge(self: &Arc<Self>, bytes: usize) -> Option<Charge> {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                queued
                    .checked_add(bytes)
                    .filter(|total| *total <= self.limit)
            })
            .ok()?;
        Some(Charge {
            budget: Arc::clone(self),
            bytes,
        })
    }

    /// Bytes charged and not yet given back.
    pub(super) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

/// Bytes taken from a [`ByteBudget`] for one queued datagram: given back, once, when dropped.
#[derive(Debug)]
pub(super) struct Charge {
    budget: Arc<ByteBudget>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.queued.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}
