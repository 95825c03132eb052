//! One waker that wakes both the reading and the writing task of a stream.
//!
//! A stream has one rendezvous socket (its doorbell), but its read half and write half may be
//! polled by different tasks (a split connection). tokio keeps one read-readiness waker per
//! registration, so the last poller would win and the other task could sleep through its
//! wake-up. Both halves therefore register this fan-out waker, which wakes whichever tasks
//! wait; a spurious wake-up only makes a task look at its ring again.

use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Wake, Waker};

/// The waiting tasks of one stream.
#[derive(Debug, Default)]
pub(crate) struct Wakers {
    read: Mutex<Option<Waker>>,
    write: Mutex<Option<Waker>>,
}

/// Which half of a stream waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Half {
    Read,
    Write,
}

impl Wakers {
    /// A fan-out waker over fresh, empty slots.
    pub(crate) fn new() -> (Arc<Wakers>, Waker) {
        let wakers = Arc::new(Wakers::default());
        let waker = Waker::from(Arc::clone(&wakers));
        (wakers, waker)
    }

    /// Records the task waiting on `half`.
    pub(crate) fn register(&self, half: Half, waker: &Waker) {
        let slot = match half {
            Half::Read => &self.read,
            Half::Write => &self.write,
        };
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some(current) if current.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for slot in [&self.read, &self.write] {
            let waker = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}
