//! The queue lock: a futex word in the segment holding the owner's token (its process id)
//! and a waiters bit, with crash recovery that needs no cooperation from the dead.
//!
//! Why not a robust pthread mutex in the segment: glibc reads its own fields of the mutex
//! (kind, owner, counters) from memory any process can scribble on, and asserts on them;
//! a hostile writer could make every user abort. This lock's only shared state is one word
//! whose every value is valid.
//!
//! Liveness: every process attached to the queue holds an open-file-description lock on
//! its token's byte of the segment file (far past its end). The kernel drops that lock
//! when the process dies, however it dies, and reusing the process id does not bring it
//! back (a new process holds its own lock only once it attaches). A waiter that has slept
//! [`LIVENESS_POLL`] on an unchanged owner asks the kernel whether the owner's byte is
//! still locked; if not, the owner is dead, and the waiter takes the lock over with a
//! compare-and-swap (exactly one waiter wins) and rolls the dead owner's operation back.
//!
//! A waiter gives up after [`PATIENCE`]: critical sections take microseconds, so a lock
//! still held by a live process after that belongs to one that is stopped (SIGSTOP, a
//! debugger), hung, or hostile (writing its own token into the word and keeping its
//! liveness lock). Waiting for it would block the calling thread, a tokio worker among
//! them, for as long as that process likes. A lock that changes hands is busy, not stuck,
//! so the clock restarts with each new owner; but a waiter also gives up after
//! [`PATIENCE_IN_ALL`], so that a lock word flipped between live owners cannot keep it
//! either.
//!
//! Inside one process, handles of one queue share an [`Attachment`](super::attachment)
//! whose mutex lets one thread at a time contend for the shared lock. So a holder whose
//! token is our own process id while we hold that mutex can only be a dead process that
//! had our id: it is taken over at once.

use crate::sys::queue as os;
use std::fs::File;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const WAITERS: u32 = 1 << 31;
const TOKEN: u32 = !WAITERS;
/// Compare-and-swap attempts before sleeping on the futex.
const SPINS: u32 = 200;
/// How long a waiter sleeps before it checks whether the owner is still alive.
const LIVENESS_POLL: Duration = Duration::from_millis(2);
/// How long a waiter sleeps on one live owner before it gives up ([`Stuck`]).
pub(crate) const PATIENCE: Duration = Duration::from_secs(1);
/// How long a waiter sleeps in all, whoever holds the lock, before it gives up: a lock word
/// that keeps changing hands between live processes without this waiter ever getting it
/// (one written by a hostile process, say) must not keep it waiting for ever either.
pub(crate) const PATIENCE_IN_ALL: Duration = Duration::from_secs(10);

/// How the lock was acquired.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Acquired {
    /// From a live owner (or free): the index is consistent.
    Clean,
    /// From a dead owner: its half-done operation must be rolled back first.
    FromDead,
}

/// The lock stayed with live process `owner` for [`PATIENCE`], or with live processes for
/// [`PATIENCE_IN_ALL`] (`owner` held it last).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Stuck {
    pub(crate) owner: u32,
}

/// Takes the lock in `word` for `token` (this process's id, < 2^31). The caller holds the
/// attachment's in-process mutex.
///
/// # Errors
/// [`Stuck`] after sleeping [`PATIENCE`] on one live owner, or [`PATIENCE_IN_ALL`] in all.
pub(crate) fn acquire(word: &AtomicU32, token: u32, file: &File) -> Result<Acquired, Stuck> {
    debug_assert!(token & WAITERS == 0 && token != 0);
    for _ in 0..SPINS {
        // Test before test-and-set: a failed compare-and-swap would pull the line away from
        // the holder, who needs it back to release.
        let current = word.load(Ordering::Relaxed);
        if current == 0 {
            if word
                .compare_exchange_weak(0, token, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Ok(Acquired::Clean);
            }
        } else if current & TOKEN == token && take_over(word, current, token | WAITERS) {
            return Ok(Acquired::FromDead);
        }
        std::hint::spin_loop();
    }
    // The owner seen before the last sleep: only one that stays put across a whole sleep
    // costs a liveness system call.
    let mut slept_on = None;
    let mut first_sleep = None;
    let mut waiting_since = None;
    loop {
        let current = word.load(Ordering::Relaxed);
        if current == 0 {
            // Others may be asleep: keep the bit so that our release wakes one.
            if word
                .compare_exchange(0, token | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Ok(Acquired::Clean);
            }
            continue;
        }
        let owner = current & TOKEN;
        if owner == token || (slept_on == Some(owner) && !owner_alive(file, owner)) {
            if take_over(word, current, token | WAITERS) {
                return Ok(Acquired::FromDead);
            }
            continue;
        }
        if current & WAITERS == 0
            && word
                .compare_exchange(
                    current,
                    current | WAITERS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            continue;
        }
        // The clock runs while one owner keeps the lock: a lock changing hands is busy, not
        // stuck, however long a waiter keeps losing it.
        if slept_on != Some(owner) {
            first_sleep = None;
        }
        let on_this_owner = first_sleep.get_or_insert_with(Instant::now).elapsed();
        let in_all = waiting_since.get_or_insert_with(Instant::now).elapsed();
        if on_this_owner >= PATIENCE || in_all >= PATIENCE_IN_ALL {
            return Err(Stuck { owner });
        }
        slept_on = Some(owner);
        os::futex_wait(word, current | WAITERS, LIVENESS_POLL);
    }
}

fn owner_alive(file: &File, owner: u32) -> bool {
    // If the kernel cannot answer, assume alive: waiting longer is safe, stealing is not.
    os::liveness_held(file, owner).unwrap_or(true)
}

fn take_over(word: &AtomicU32, seen: u32, new: u32) -> bool {
    let won = word
        .compare_exchange(seen, new, Ordering::Acquire, Ordering::Relaxed)
        .is_ok();
    if won {
        tracing::warn!(
            dead_owner = seen & TOKEN,
            "queue lock taken over from a dead process"
        );
    }
    won
}

/// Whether live process `owner` holds the lock in `word` (whose segment is open in `file`).
pub(crate) fn held_by_live(word: &AtomicU32, file: &File, owner: u32) -> bool {
    word.load(Ordering::Relaxed) & TOKEN == owner && owner_alive(file, owner)
}

/// Releases the lock, waking one sleeper if any is marked.
pub(crate) fn release(word: &AtomicU32) {
    if word.swap(0, Ordering::Release) & WAITERS != 0 {
        os::futex_wake(word, 1);
    }
}
