//! The queue algorithm on heap memory: against a model, under simulated crashes at every
//! write, and on garbage.

use super::geometry::{word, Geometry, NIL, UNDO_CAPACITY};
use super::priority_index::{self, Refused};
use super::region::Region;
use super::waiting::{Backoff, Waiting};
use super::{MessageQueue, QueueChannel, QueueError, QueueOptions};
use crate::transport::{RecvMessage, SendMessage};
use bytes::Bytes;
use proptest::prelude::*;
use std::collections::VecDeque;
use std::io::ErrorKind;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

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

/// `f`'s future on a runtime of its own, within `secs` (see [`within`]).
fn within_async<F, Fut, T>(secs: u64, f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
    T: Send + 'static,
{
    within(secs, move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f())
    })
}

/// A queue in the queue directory (real shared memory), removed when dropped.
struct TempQueue(MessageQueue);

impl TempQueue {
    fn new(tag: &str, capacity: u32) -> TempQueue {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "unit-mq-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let options = QueueOptions {
            capacity,
            max_message_len: 16,
            ..QueueOptions::default()
        };
        TempQueue(MessageQueue::create(&name, &options).unwrap())
    }

    /// Index word `index` of the shared segment, as another process sees it.
    fn word(&self, index: u32) -> &std::sync::atomic::AtomicU32 {
        self.0.attachment().region().known_word(index)
    }
}

impl Drop for TempQueue {
    fn drop(&mut self) {
        let _ = MessageQueue::remove(self.0.name());
    }
}

/// Whether `result` is the queue's corruption error.
fn is_invalid_data<T: std::fmt::Debug>(result: std::io::Result<T>) -> bool {
    matches!(&result, Err(e) if e.kind() == ErrorKind::InvalidData)
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

/// A peer's length word that disagrees with the lists fails every wait with `InvalidData`
/// instead of retrying it forever without yielding (past every timeout).
#[test]
fn waits_end_on_a_length_that_disagrees_with_the_lists() {
    within_async(20, || async {
        // Nothing queued, yet the length says one message.
        let q = TempQueue::new("phantom", 4);
        q.word(word::LEN).store(1, Ordering::SeqCst);
        assert!(is_invalid_data(
            q.0.recv_timeout(Duration::from_millis(10)).await
        ));
        assert!(is_invalid_data(q.0.recv().await));
        assert!(is_invalid_data(q.0.recv_many(&mut Vec::new(), 4).await));
        assert!(is_invalid_data(q.0.try_recv()));

        // Full, yet the length says there is room.
        let q = TempQueue::new("no-room", 4);
        assert_eq!(q.0.try_send_many(&[b"x"; 4], 0).unwrap(), 4);
        q.word(word::LEN).store(0, Ordering::SeqCst);
        assert!(is_invalid_data(
            q.0.send_timeout(b"y", 0, Duration::from_millis(10)).await
        ));
        assert!(is_invalid_data(q.0.send(b"y", 0).await));
        assert!(is_invalid_data(q.0.send_many(&[b"y"], 0).await));
        assert!(is_invalid_data(q.0.try_send(b"y", 0)));
    });
}

/// As [`waits_end_on_a_length_that_disagrees_with_the_lists`], for `mq://` connections,
/// whose polls retry inside one call.
#[test]
fn a_channel_fails_on_a_length_that_disagrees_with_the_lists() {
    within_async(20, || async {
        let q = TempQueue::new("channel-phantom", 4);
        q.word(word::LEN).store(1, Ordering::SeqCst);
        let mut channel = QueueChannel::new(q.0.clone(), 0, usize::MAX);
        let got = std::future::poll_fn(|cx| Pin::new(&mut channel).poll_recv(cx)).await;
        assert!(is_invalid_data(got));

        let q = TempQueue::new("channel-no-room", 4);
        assert_eq!(q.0.try_send_many(&[b"x"; 4], 0).unwrap(), 4);
        q.word(word::LEN).store(0, Ordering::SeqCst);
        let mut channel = QueueChannel::new(q.0.clone(), 0, usize::MAX);
        std::future::poll_fn(|cx| Pin::new(&mut channel).poll_send(cx, &Bytes::from("y")))
            .await
            .unwrap();
        let flushed = std::future::poll_fn(|cx| Pin::new(&mut channel).poll_flush(cx)).await;
        assert!(is_invalid_data(flushed));
    });
}

/// A connection whose `max_frame` is under a message refuses it (`InvalidData`) and leaves
/// it in the queue: its send returned `Ok`, so some receive must still return it.
#[test]
fn a_message_over_a_channels_max_frame_stays_in_the_queue() {
    within_async(20, || async {
        let q = TempQueue::new("channel-max-frame", 4);
        q.0.try_send(b"sixteen bytes!!!", 2).unwrap();
        let mut small = QueueChannel::new(q.0.clone(), 0, 10);
        let got = std::future::poll_fn(|cx| Pin::new(&mut small).poll_recv(cx)).await;
        let err = got.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(err.to_string().contains("16-byte"), "{err}");
        assert_eq!(q.0.attributes().len, 1);
        assert_eq!(
            q.0.try_recv().unwrap(),
            (Bytes::from("sixteen bytes!!!"), 2)
        );
    });
}

/// `create` reserves the segment's memory through [`reserve_segment`]: a size no
/// filesystem of `/dev/shm`'s size can hold is a clean `StorageFull` that says how much
/// was needed and where (on tmpfs the kernel refuses it up front, allocating nothing).
///
/// [`reserve_segment`]: super::message_queue::reserve_segment
#[cfg(target_os = "linux")]
#[test]
fn a_segment_the_queue_directory_cannot_hold_is_storage_full() {
    let dir = std::path::Path::new("/dev/shm");
    let c_dir = std::ffi::CString::new("/dev/shm").unwrap();
    // SAFETY: all-zero is a valid `statvfs64`; the call only writes into it.
    let mut stats: libc::statvfs64 = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a pointer to a `statvfs64` that outlives the call.
    assert_eq!(unsafe { libc::statvfs64(c_dir.as_ptr(), &mut stats) }, 0);
    // `f_frsize` is a `c_ulong`: 32 bits on 32-bit targets.
    #[allow(clippy::useless_conversion)]
    let total: u64 = stats.f_blocks * u64::from(stats.f_frsize);
    if total == 0 {
        // An unlimited tmpfs: the kernel would allocate memory until it ran out.
        eprintln!("skipped: /dev/shm has no size limit");
        return;
    }
    let size = total + (1 << 30);
    let path = dir.join(format!(".anyipc-unit-reserve-{}", std::process::id()));
    let file = crate::sys::queue::create_exclusive(&path, 0o600).unwrap();
    let result = super::message_queue::reserve_segment(&file, size, dir, "too-big");
    let len = file.metadata().unwrap().len();
    std::fs::remove_file(&path).unwrap();
    let err = result.unwrap_err();
    assert_eq!(
        err.kind(),
        std::io::Error::from_raw_os_error(libc::ENOSPC).kind(),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("needs {size} bytes")),
        "{message}"
    );
    assert!(message.contains("/dev/shm"), "{message}");
    assert!(len < size, "a failed reservation left a {len}-byte file");
}

/// A wait whose attempts keep failing while the length looks ready (the hint is only a
/// hint) still parks, yields and reaches its deadline.
#[test]
fn a_wait_whose_attempts_keep_failing_still_times_out() {
    within_async(20, || async {
        let q = TempQueue::new("futile", 4);
        q.0.try_send(b"x", 0).unwrap();
        // The length, the hint waiters read, says a message is there.
        assert!(q.0.attributes().len > 0);
        let started = Instant::now();
        let waited = q.0.wait_until(
            Waiting::NotEmpty,
            Some(Instant::now() + Duration::from_millis(30)),
            || Ok(None::<()>),
        );
        // Only a wait that yields lets the runtime's timer fire.
        let waited = tokio::time::timeout(Duration::from_secs(5), waited)
            .await
            .expect("the wait yields and ends by its deadline");
        assert_eq!(waited.unwrap_err().kind(), ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
    });
}

/// The spin-or-park choice both wait loops (`wait_until` and the channel's polls) make:
/// spins that look ready while the attempts after them fail are bounded, and the park after
/// them sleeps rather than trusting the hint again.
#[test]
fn futile_spins_end_in_a_park_that_sleeps() {
    within_async(20, || async {
        let q = TempQueue::new("backoff", 4);
        q.0.try_send(b"x", 0).unwrap();
        let attachment = q.0.attachment();
        let mut backoff = Backoff::new(Waiting::NotEmpty);
        let spins = (0..1000).take_while(|_| backoff.spin(attachment)).count();
        assert!((1..1000).contains(&spins), "{spins} spins");
        // Progress starts the count afresh.
        backoff.progressed();
        let again = (0..1000).take_while(|_| backoff.spin(attachment)).count();
        assert_eq!(again, spins);
        // The park after futile spins pauses though the queue looks ready (its hint is not
        // trusted), but only briefly: it cannot tell a wake-up it missed.
        let started = Instant::now();
        backoff
            .park(attachment, Some(Duration::from_secs(10)))
            .await
            .unwrap()
            .unwrap();
        let paused = started.elapsed();
        assert!(paused >= Duration::from_micros(500), "{paused:?}");
        assert!(paused < Duration::from_secs(5), "{paused:?}");
        // The park starts a fresh round, whose park trusts the hint again.
        assert!(backoff.spin(attachment));
        let started = Instant::now();
        backoff
            .park(attachment, Some(Duration::from_secs(10)))
            .await
            .unwrap()
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
    });
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

/// Through the public API on shared memory: a looping list with a huge length is
/// `InvalidData` at once (not billions of steps under the lock and a buffer without bound),
/// and a length of two over a one-slot loop never gives the message twice.
#[test]
fn receiving_a_looping_list_is_invalid_data() {
    let q = TempQueue::new("loop", 8);
    q.0.try_send(b"", 0).unwrap();
    let slot = q.word(word::HEADS).load(Ordering::SeqCst);
    q.word(word::SLOT_NEXT + slot).store(slot, Ordering::SeqCst);
    q.word(word::LEN).store(u32::MAX, Ordering::SeqCst);
    let queue = q.0.clone();
    let (got, buffer) = within(10, move || {
        let mut buffer = Vec::new();
        (queue.try_recv_many(&mut buffer, usize::MAX), buffer)
    });
    assert!(is_invalid_data(got) && buffer.is_empty(), "{buffer:?}");

    q.word(word::LEN).store(2, Ordering::SeqCst);
    let mut buffer = Vec::new();
    assert!(is_invalid_data(q.0.try_recv_many(&mut buffer, 2)));
    assert!(buffer.is_empty(), "{buffer:?}");
}

/// `Duration::MAX`, the usual "no timeout", waits (it panicked: the deadline overflowed an
/// `Instant`): a receive waits until a message comes, and a send to a queue with room goes.
#[tokio::test]
async fn timeouts_of_duration_max_wait_without_end() {
    let queue = TempQueue::new("max-timeout", 4);
    let waiting = queue.0.recv_timeout(std::time::Duration::MAX);
    tokio::pin!(waiting);
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(50), &mut waiting).await;
    assert!(
        quiet.is_err(),
        "a receive on an empty queue ended: {quiet:?}"
    );
    queue
        .0
        .send_timeout(b"x", 0, std::time::Duration::MAX)
        .await
        .unwrap();
    let (msg, _) = waiting.await.unwrap();
    assert_eq!(&msg[..], b"x");
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
