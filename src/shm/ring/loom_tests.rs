//! The ring under loom: every interleaving (up to loom's preemption bound) of one producer and
//! one consumer moving a message through a tiny ring that wraps around, with the parking
//! protocol in between, must deliver the bytes in order and never lose a wake-up (a lost
//! wake-up leaves both threads asleep: loom reports the deadlock). Each deliberate mutation
//! of the protocol must make the model fail.
//!
//! ```text
//! RUSTFLAGS="--cfg anyipc_loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test --release --lib shm::ring::loom_tests -- --test-threads=1
//! ```

use super::*;
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

/// A doorbell: `ring` sets it, `wait` sleeps until it is set and resets it (a byte on the
/// connection's socket, drained whole).
#[derive(Default)]
struct Bell {
    rung: Mutex<bool>,
    cond: Condvar,
}

impl Bell {
    fn ring(&self) {
        *self.rung.lock().unwrap() = true;
        self.cond.notify_one();
    }

    fn wait(&self) {
        let mut rung = self.rung.lock().unwrap();
        while !*rung {
            rung = self.cond.wait(rung).unwrap();
        }
        *rung = false;
    }
}

const CAPACITY: u32 = 4;
const MESSAGE: &[u8] = &[1, 2, 3, 4, 5, 6];

/// Hands the consumer what was staged, waking it if it sleeps.
fn publish(producer: &mut Producer, reader_bell: &Bell) {
    assert!(producer.publish_staged().unwrap(), "closed");
    if producer.take_reader_parked() {
        reader_bell.ring();
    }
}

/// Writes `bytes` whole, parking while the ring is full, as `ShmStream` does: staged bytes
/// that fill the ring are published before it parks.
fn write_all(producer: &mut Producer, bytes: &[u8], reader_bell: &Bell, writer_bell: &Bell) {
    let mut sent = 0;
    while sent < bytes.len() {
        match producer.write(&bytes[sent..]).unwrap() {
            WriteOutcome::Wrote(n) => {
                sent += n;
                if producer.take_reader_parked() {
                    reader_bell.ring();
                }
            }
            WriteOutcome::Full
                if producer.has_staged() && !mutation::is(mutation::WAIT_WITH_FRAMES_STAGED) =>
            {
                publish(producer, reader_bell)
            }
            WriteOutcome::Full => {
                if producer.park().unwrap() {
                    writer_bell.wait();
                }
                producer.unpark();
            }
            WriteOutcome::Closed => panic!("closed"),
        }
    }
}

/// Sends `MESSAGE` as 2-byte frames (a 1-byte head and a 1-byte body) staged in the ring, as
/// a `shm://` connection does: a frame that finds no room is written the usual way (which
/// publishes the staged ones with it, or before it waits for room); the last staged ones
/// are published at the end (a flush).
fn stage_all(producer: &mut Producer, reader_bell: &Bell, writer_bell: &Bell) {
    for frame in MESSAGE.chunks(2) {
        if !producer.stage([frame[0]], &frame[1..]).unwrap() {
            write_all(producer, frame, reader_bell, writer_bell);
        }
    }
    publish(producer, reader_bell);
}

/// One producer and one consumer move `MESSAGE` through the ring, written (`staged` false)
/// or staged in frames; the consumer must get the bytes in order, and neither may sleep
/// through the other's progress.
fn model(staged: bool) {
    loom::model(move || {
        let keys = RingKeys::derive(7, 0);
        let memory = Arc::new(TestMemory::new(&keys, CAPACITY));
        let mem = memory.ring();
        // SAFETY: `memory` outlives both ends (each thread holds an Arc); one producer, one
        // consumer.
        let (mut producer, mut consumer) =
            unsafe { (Producer::new(mem, keys), Consumer::new(mem, keys)) };
        let reader_bell = Arc::new(Bell::default());
        let writer_bell = Arc::new(Bell::default());

        let writer = {
            let (memory, reader_bell, writer_bell) = (
                Arc::clone(&memory),
                Arc::clone(&reader_bell),
                Arc::clone(&writer_bell),
            );
            thread::spawn(move || {
                let _keep = memory;
                if staged {
                    stage_all(&mut producer, &reader_bell, &writer_bell);
                } else {
                    write_all(&mut producer, MESSAGE, &reader_bell, &writer_bell);
                }
                producer.close();
                if producer.take_reader_parked() {
                    reader_bell.ring();
                }
            })
        };

        let mut received = Vec::new();
        let mut buf = [0u8; CAPACITY as usize];
        loop {
            // SAFETY: `buf` has room for CAPACITY bytes.
            match unsafe { consumer.read(buf.as_mut_ptr(), buf.len()) }.unwrap() {
                ReadOutcome::Data(n) => {
                    received.extend_from_slice(&buf[..n]);
                    if consumer.take_writer_parked() {
                        writer_bell.ring();
                    }
                }
                ReadOutcome::Empty => {
                    if consumer.park().unwrap() {
                        reader_bell.wait();
                    }
                    consumer.unpark();
                }
                ReadOutcome::Closed => break,
            }
        }
        assert_eq!(
            received, MESSAGE,
            "bytes lost, reordered or read before written"
        );
        writer.join().unwrap();
    });
}

#[test]
fn ring_delivers_in_order_and_never_loses_a_wakeup() {
    mutation::set(0);
    model(false);
}

#[test]
fn staged_frames_arrive_in_order_and_never_lose_a_wakeup() {
    mutation::set(0);
    model(true);
}

const MUTATION_VAR: &str = "ANYIPC_LOOM_MUTATION";

/// Runs the model with one mutation, in a child process: loom reports a failing model with a
/// panic it cannot unwind from (the process aborts), so each mutant gets its own process.
fn model_fails_with(m: u8) -> bool {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "shm::ring::loom_tests::mutant_entry",
            "--exact",
            "--test-threads=1",
        ])
        .env(MUTATION_VAR, m.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    !status.success()
}

/// The mutant's body, run by `model_fails_with` in a child process; a no-op otherwise.
#[test]
fn mutant_entry() {
    if let Ok(m) = std::env::var(MUTATION_VAR) {
        let m = m.parse().unwrap();
        mutation::set(m);
        let staged = [
            mutation::STAGE_IGNORING_THE_HEAD,
            mutation::WAIT_WITH_FRAMES_STAGED,
        ];
        model(staged.contains(&m));
    }
}

#[test]
fn model_catches_publishing_before_copying() {
    assert!(model_fails_with(mutation::PUBLISH_BEFORE_COPY));
}

#[test]
fn model_catches_sleeping_without_a_recheck() {
    assert!(model_fails_with(mutation::NO_RECHECK_AFTER_PARK));
}

#[test]
fn model_catches_publishing_with_a_plain_store() {
    assert!(model_fails_with(mutation::PLAIN_STORE_PUBLISH));
}

#[test]
fn model_catches_staging_over_unread_bytes() {
    assert!(model_fails_with(mutation::STAGE_IGNORING_THE_HEAD));
}

#[test]
fn model_catches_waiting_for_room_with_frames_staged() {
    assert!(model_fails_with(mutation::WAIT_WITH_FRAMES_STAGED));
}
