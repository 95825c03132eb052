//! Queue tests on a real segment in the queue directory, through `MessageQueue` and
//! `QueueChannel`: Linux only, like `mq://`.

use super::within;
use crate::queue::geometry::word;
use crate::queue::waiting::{Backoff, Waiting};
use crate::queue::{MessageQueue, QueueChannel, QueueOptions};
use crate::transport::{RecvMessage, SendMessage};
use bytes::Bytes;
use std::io::ErrorKind;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

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
/// [`reserve_segment`]: crate::queue::message_queue::reserve_segment
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
    let result = crate::queue::message_queue::reserve_segment(&file, size, dir, "too-big");
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

/// `check` walks the queue under its lock: a length word past the capacity, or one that
/// disagrees with the lists, is `InvalidData`; `attributes`, which reads it without the
/// lock, clamps it. A sound queue checks out with its exact length.
#[test]
fn check_finds_what_attributes_cannot() {
    let q = TempQueue::new("check", 8);
    q.0.try_send_many(&["a", "b", "c"], 2).unwrap();
    assert_eq!(q.0.check().unwrap(), q.0.attributes());
    assert_eq!(q.0.check().unwrap().len, 3);
    q.word(word::LEN).store(u32::MAX, Ordering::SeqCst);
    assert_eq!(q.0.attributes().len, 8);
    assert!(is_invalid_data(q.0.check()));
    q.word(word::LEN).store(2, Ordering::SeqCst);
    let err = q.0.check().unwrap_err();
    assert!(err.to_string().contains("length disagrees"), "{err}");
    q.word(word::LEN).store(3, Ordering::SeqCst);
    assert_eq!(q.0.check().unwrap().len, 3);
}

/// Whether `result` is the queue's corruption error.
fn is_invalid_data<T: std::fmt::Debug>(result: std::io::Result<T>) -> bool {
    matches!(&result, Err(e) if e.kind() == ErrorKind::InvalidData)
}
