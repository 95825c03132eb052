//! The queue algorithm on heap memory: against a model, under simulated crashes at every
//! write, and on garbage.

use super::geometry::{word, Geometry, NIL, UNDO_CAPACITY};
use super::priority_index::{self, Refused};
use super::region::Region;
use super::QueueError;
use proptest::prelude::*;
use std::collections::VecDeque;
use std::io::ErrorKind;
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

/// The tests on a real queue segment (`mq://` is Linux-only).
#[cfg(target_os = "linux")]
mod on_segments;

fn region(capacity: u32, max_len: u32) -> Region {
    let region = Region::heap(Geometry::new(capacity, max_len).unwrap());
    region.initialize(1);
    region.publish();
    region
}

fn pop(region: &Region) -> Result<Result<(Vec<u8>, u8), Refused>, QueueError> {
    priority_index::pop(region, usize::MAX, |slot, len| {
        let mut out = vec![0; len];
        region.read_body(slot, &mut out);
        out
    })
}

/// `pop_many` into owned bodies.
fn pop_many(region: &Region, limit: usize, budget: usize) -> (Vec<Vec<u8>>, u8) {
    let mut bodies = Vec::new();
    let (count, p) = priority_index::pop_many(region, limit, budget, |slot, len| {
        let mut out = vec![0; len];
        region.read_body(slot, &mut out);
        bodies.push(out);
        true
    })
    .unwrap();
    assert_eq!(count, bodies.len());
    (bodies, p)
}

/// Every index word and undo-log word, to compare states.
fn snapshot(region: &Region) -> Vec<u32> {
    (0..region.geometry().word_count())
        .map(|i| region.known_word(i).load(Ordering::Relaxed))
        .collect()
}

/// The reference: 32 FIFOs, highest priority first.
#[derive(Default)]
struct Model(Vec<VecDeque<Vec<u8>>>);

impl Model {
    fn push(&mut self, data: Vec<u8>, p: u8) {
        if self.0.is_empty() {
            self.0 = vec![VecDeque::new(); 32];
        }
        self.0[p as usize].push_back(data);
    }
    fn pop(&mut self) -> Option<(Vec<u8>, u8)> {
        (0..self.0.len())
            .rev()
            .find_map(|p| self.0[p].pop_front().map(|d| (d, p as u8)))
    }
    fn len(&self) -> usize {
        self.0.iter().map(VecDeque::len).sum()
    }
    /// Up to `limit` of the highest priority present, stopping once `budget` bytes are
    /// taken (at least one message).
    fn pop_run(&mut self, limit: usize, budget: usize) -> (Vec<Vec<u8>>, u8) {
        let Some(p) = (0..self.0.len()).rev().find(|&p| !self.0[p].is_empty()) else {
            return (Vec::new(), 0);
        };
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some(d) = self.0[p].pop_front() {
            bytes += d.len();
            out.push(d);
            if out.len() == limit || bytes >= budget {
                break;
            }
        }
        (out, p as u8)
    }
}

#[derive(Debug, Clone)]
enum Op {
    Push(Vec<u8>, u8),
    Pop,
    PushMany(Vec<Vec<u8>>, u8, usize),
    PopMany(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let body = || proptest::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        (body(), 0u8..32).prop_map(|(d, p)| Op::Push(d, p)),
        Just(Op::Pop),
        (
            proptest::collection::vec(body(), 0..8),
            0u8..32,
            1usize..100
        )
            .prop_map(|(ds, p, budget)| Op::PushMany(ds, p, budget)),
        (1usize..8, 1usize..100).prop_map(|(limit, budget)| Op::PopMany(limit, budget)),
    ]
}

/// Applies `op` to `region`, ignoring the outcome.
fn apply(region: &Region, op: Op) -> Result<(), QueueError> {
    match op {
        Op::Push(d, p) => priority_index::push(region, &d, p).map(drop),
        Op::Pop => pop(region).map(drop),
        Op::PushMany(ds, p, budget) => priority_index::push_many(region, &ds, p, budget).map(drop),
        Op::PopMany(limit, budget) => {
            priority_index::pop_many(region, limit, budget, |_, _| true).map(drop)
        }
    }
}

proptest! {
    #[test]
    fn behaves_like_a_priority_queue(ops in proptest::collection::vec(op(), 1..300), cap in 1u32..12) {
        let region = region(cap, 40);
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Push(data, p) => {
                    let got = priority_index::push(&region, &data, p).unwrap();
                    if model.len() < cap as usize {
                        prop_assert_eq!(got, Ok(()));
                        model.push(data, p);
                    } else {
                        prop_assert_eq!(got, Err(Refused::Full));
                    }
                }
                Op::Pop => {
                    let got = pop(&region).unwrap().ok();
                    prop_assert_eq!(got, model.pop());
                }
                Op::PushMany(ds, p, budget) => {
                    let sent = priority_index::push_many(&region, &ds, p, budget).unwrap();
                    // As many as fit, stopping once the budget is reached.
                    let room = cap as usize - model.len();
                    let mut want = 0;
                    let mut bytes = 0;
                    for d in ds.iter().take(room) {
                        want += 1;
                        bytes += d.len();
                        if bytes >= budget {
                            break;
                        }
                    }
                    prop_assert_eq!(sent, want);
                    for d in ds.into_iter().take(sent) {
                        model.push(d, p);
                    }
                }
                Op::PopMany(limit, budget) => {
                    let got = pop_many(&region, limit, budget);
                    prop_assert_eq!(got, model.pop_run(limit, budget));
                }
            }
            priority_index::check_structure(&region).unwrap();
            prop_assert_eq!(region.known_word(word::LEN).load(Ordering::Relaxed) as usize, model.len());
        }
    }

    /// A crash after any number of an operation's logged writes is undone exactly.
    #[test]
    fn rollback_undoes_a_crash_at_every_write(
        setup in proptest::collection::vec(op(), 0..40),
        last in op(),
        crash_after in 0u32..=UNDO_CAPACITY,
    ) {
        let region = region(6, 40);
        for op in setup {
            apply(&region, op).unwrap();
        }
        let before = snapshot(&region);
        // Clear the log so that the entries the last operation writes are its own.
        clear_log(&region);
        apply(&region, last).unwrap();
        let written = logged_writes(&region) as u32;
        let k = crash_after.min(written);
        // The state at the crash: the first k writes done (and logged), the rest not.
        for i in (k..written).rev() {
            let (index, old) = region.undo_entry(i);
            region
                .known_word(index.load(Ordering::Relaxed))
                .store(old.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        region.undo_count().store(k, Ordering::Relaxed);
        priority_index::rollback(&region).unwrap();
        prop_assert_eq!(snapshot(&region), before);
    }

    /// Garbage in the index words never panics or reads out of bounds: operations either
    /// work or say `Corrupt`.
    #[test]
    fn garbage_is_invalid_data_never_a_panic(
        garbage in proptest::collection::vec((0u32..80, any::<u32>()), 1..20),
        ops in proptest::collection::vec(op(), 0..30),
    ) {
        let region = region(8, 40);
        for (index, value) in garbage {
            region.known_word(index.min(region.geometry().word_count() - 1)).store(value, Ordering::Relaxed);
        }
        region.undo_count().store(garbage_count(&region), Ordering::Relaxed);
        let _ = priority_index::rollback(&region);
        for op in ops {
            let _ = apply(&region, op);
        }
    }
}

fn garbage_count(region: &Region) -> u32 {
    region.known_word(word::LEN).load(Ordering::Relaxed) % 12
}

#[test]
fn fifo_within_a_priority_and_highest_first() {
    let region = region(8, 16);
    for (data, p) in [(&b"a"[..], 3), (b"b", 7), (b"c", 3), (b"d", 0), (b"e", 7)] {
        priority_index::push(&region, data, p).unwrap().unwrap();
    }
    let order: Vec<_> = std::iter::from_fn(|| pop(&region).unwrap().ok())
        .map(|(d, p)| (String::from_utf8(d).unwrap(), p))
        .collect();
    let want = [("b", 7), ("e", 7), ("a", 3), ("c", 3), ("d", 0)];
    assert_eq!(order, want.map(|(d, p)| (d.to_owned(), p)));
}

/// A pop with a length limit leaves a longer head message where it is, index untouched.
#[test]
fn a_message_over_the_pop_limit_stays_in_the_queue() {
    let region = region(4, 16);
    priority_index::push(&region, b"twelve bytes", 3)
        .unwrap()
        .unwrap();
    priority_index::push(&region, b"short", 3).unwrap().unwrap();
    clear_log(&region);
    let before = snapshot(&region);
    let refused = priority_index::pop(&region, 4, |_, _| unreachable!("nothing is taken"));
    assert_eq!(refused.unwrap().unwrap_err(), Refused::TooLarge { len: 12 });
    assert_eq!(snapshot(&region), before);
    assert_eq!(logged_writes(&region), 0);
    assert_eq!(
        pop(&region).unwrap().unwrap(),
        (b"twelve bytes".to_vec(), 3)
    );
}

#[test]
fn a_batch_takes_one_logged_operation_whatever_its_size() {
    let region = region(64, 8);
    let bodies: Vec<[u8; 8]> = (0..50u8).map(|i| [i; 8]).collect();
    clear_log(&region);
    assert_eq!(
        priority_index::push_many(&region, &bodies, 4, usize::MAX).unwrap(),
        50
    );
    assert_eq!(logged_writes(&region), 6);
    // The budget stops a batch early, never before its first message.
    assert_eq!(
        priority_index::push_many(&region, &bodies, 2, 1).unwrap(),
        1
    );
    assert_eq!(
        priority_index::push_many(&region, &bodies, 2, 17).unwrap(),
        3
    );
    // Room for 10 more: the longest prefix that fits.
    assert_eq!(
        priority_index::push_many(&region, &bodies, 9, usize::MAX).unwrap(),
        10
    );
    clear_log(&region);
    let (got, p) = pop_many(&region, 64, usize::MAX);
    assert_eq!((got.len(), p), (10, 9));
    assert_eq!(logged_writes(&region), 6);
    let (got, p) = pop_many(&region, 30, usize::MAX);
    assert_eq!((got.len(), p), (30, 4));
    assert_eq!(got[29], [29; 8]);
    let (got, _) = pop_many(&region, 64, 9);
    assert_eq!(got, [[30; 8], [31; 8]]);
    priority_index::check_structure(&region).unwrap();
}

/// Marks every undo-log entry unused, so that those an operation writes can be counted.
fn clear_log(region: &Region) {
    for i in 0..UNDO_CAPACITY {
        region.undo_entry(i).0.store(u32::MAX, Ordering::Relaxed);
    }
}

/// Undo-log entries written since [`clear_log`] (the log keeps them after commit).
fn logged_writes(region: &Region) -> usize {
    (0..UNDO_CAPACITY)
        .take_while(|&i| region.undo_entry(i).0.load(Ordering::Relaxed) != u32::MAX)
        .count()
}

#[test]
fn a_slot_on_two_lists_is_corrupt() {
    let region = region(4, 16);
    priority_index::push(&region, b"x", 1).unwrap().unwrap();
    // Point the free list at the queued slot.
    let queued = region.known_word(word::HEADS + 1).load(Ordering::Relaxed);
    region
        .known_word(word::FREE_HEAD)
        .store(queued, Ordering::Relaxed);
    assert!(priority_index::check_structure(&region).is_err());
    region
        .known_word(word::FREE_HEAD)
        .store(NIL - 1, Ordering::Relaxed);
    assert_eq!(
        priority_index::push(&region, b"y", 0),
        Err(QueueError::Corrupt("free-list head out of range"))
    );
}

#[test]
fn geometry_limits() {
    assert!(Geometry::new(0, 10).is_err());
    assert!(Geometry::new(10, 0).is_err());
    assert!(Geometry::new(super::MAX_CAPACITY + 1, 10).is_err());
    assert!(Geometry::new(super::MAX_CAPACITY, super::MAX_MESSAGE_LEN).is_err());
    let g = Geometry::new(3, 1).unwrap();
    assert_eq!(g.slot_stride, 64);
    assert_eq!(g.word_offset(g.word_count()), None);
}

/// Runs `f` on a thread of its own and fails the test if it gives no result within `secs`:
/// a hang (a loop that never yields cannot be cancelled) fails instead of stalling the run.
/// A hung thread is left behind; the test binary ends it when it exits.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(out) => out,
        Err(RecvTimeoutError::Timeout) => panic!("no result within {secs} s: a hang"),
        Err(RecvTimeoutError::Disconnected) => panic!("the checked code panicked"),
    }
}

#[test]
fn a_length_without_messages_is_corrupt() {
    let region = region(4, 16);
    region.known_word(word::LEN).store(1, Ordering::Relaxed);
    assert!(matches!(pop(&region), Err(QueueError::Corrupt(_))));
    assert!(matches!(
        priority_index::pop_many(&region, 8, usize::MAX, |_, _| true),
        Err(QueueError::Corrupt(_))
    ));
}

#[test]
fn room_without_a_free_slot_is_corrupt() {
    let region = region(4, 16);
    for _ in 0..4 {
        priority_index::push(&region, b"x", 0).unwrap().unwrap();
    }
    assert_eq!(
        priority_index::push(&region, b"x", 0).unwrap(),
        Err(Refused::Full)
    );
    region.known_word(word::LEN).store(0, Ordering::Relaxed);
    assert!(matches!(
        priority_index::push(&region, b"x", 0),
        Err(QueueError::Corrupt(_))
    ));
    assert!(matches!(
        priority_index::push_many(&region, &[b"x"; 3], 0, usize::MAX),
        Err(QueueError::Corrupt(_))
    ));
}

#[test]
fn a_looping_list_is_never_taken_twice() {
    let region = region(4, 16);
    priority_index::push(&region, b"x", 1).unwrap().unwrap();
    let slot = region.known_word(word::HEADS + 1).load(Ordering::Relaxed);
    region
        .known_word(word::SLOT_NEXT + slot)
        .store(slot, Ordering::Relaxed);
    region.known_word(word::LEN).store(2, Ordering::Relaxed);
    let mut taken = Vec::new();
    let got = priority_index::pop_many(&region, 2, usize::MAX, |slot, _| {
        taken.push(slot);
        true
    });
    assert!(
        matches!(got, Err(QueueError::Corrupt(_))),
        "{got:?} of {taken:?}"
    );
}

/// A length past the capacity is refused before it can bound a walk of a looping list.
#[test]
fn a_length_over_the_capacity_is_corrupt() {
    let region = region(4, 16);
    priority_index::push(&region, b"", 1).unwrap().unwrap();
    let slot = region.known_word(word::HEADS + 1).load(Ordering::Relaxed);
    region
        .known_word(word::SLOT_NEXT + slot)
        .store(slot, Ordering::Relaxed);
    region
        .known_word(word::LEN)
        .store(u32::MAX, Ordering::Relaxed);
    let got = within(10, move || {
        let mut walked = 0u64;
        priority_index::pop_many(&region, usize::MAX, usize::MAX, |_, _| {
            walked += 1;
            true
        })
    });
    assert!(matches!(got, Err(QueueError::Corrupt(_))), "{got:?}");
}

#[test]
fn a_looping_free_list_is_corrupt() {
    let region = region(4, 16);
    let free = region.known_word(word::FREE_HEAD).load(Ordering::Relaxed);
    region
        .known_word(word::SLOT_NEXT + free)
        .store(free, Ordering::Relaxed);
    assert!(matches!(
        priority_index::push_many(&region, &[b"a", b"b"], 0, usize::MAX),
        Err(QueueError::Corrupt(_))
    ));
    // However many messages are offered, the walk stops within the capacity.
    let many = vec![[0u8; 0]; 100_000];
    assert!(matches!(
        priority_index::push_many(&region, &many, 0, usize::MAX),
        Err(QueueError::Corrupt(_))
    ));
    assert_eq!(region.known_word(word::LEN).load(Ordering::Relaxed), 0);
}

#[test]
fn a_region_found_shrunk_refuses_every_access_and_fails_an_outer_one() {
    let region = region(4, 16);
    assert_eq!(region.guarded(|| 7), Ok(7));
    // A nested access that finds the file shrunk (here: marked so) fails the outer one too,
    // whatever the outer one's body returned.
    let outer = region.guarded(|| {
        region.mark_truncated();
        region.guarded(|| ())
    });
    assert_eq!(outer, Err(QueueError::Truncated));
    let mut ran = false;
    assert_eq!(region.guarded(|| ran = true), Err(QueueError::Truncated));
    assert!(!ran, "a region found shrunk runs no access");
    let err = std::io::Error::from(QueueError::Truncated);
    assert_eq!(err.kind(), ErrorKind::InvalidData);
}
