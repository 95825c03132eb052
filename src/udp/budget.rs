//! The bytes a listener holds in datagrams that its connections have not taken yet, across all
//! of them. A queued datagram carries its cost, given back when its connection takes it or
//! drops it unread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What a listener may hold in queued datagrams, all its connections together: 64 MiB.
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

    /// Takes `bytes` from the budget; `false` (nothing taken) when that would go over it.
    pub(super) fn charge(&self, bytes: usize) -> bool {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                queued
                    .checked_add(bytes)
                    .filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    /// Gives back `bytes` that [`charge`](Self::charge) took.
    pub(super) fn release(&self, bytes: usize) {
        self.queued.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes charged and not yet released.
    pub(super) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}
