use super::*;
use proptest::prelude::*;

/// A ring on the heap: both ends, and the memory they point into (dropped after them).
struct HeapRing {
    producer: Producer,
    consumer: Consumer,
    memory: TestMemory,
}

impl HeapRing {
    fn control(&self) -> &RingControl {
        self.memory.control()
    }
}

fn heap_ring(capacity: u32) -> HeapRing {
    let keys = RingKeys::derive(0x1234_5678_9abc_def0, 0);
    let memory = TestMemory::new(&keys, capacity);
    // SAFETY: `memory` is dropped after the ends (the last field); one producer and one
    // consumer.
    let (producer, consumer) = unsafe {
        (
            Producer::new(memory.ring(), keys),
            Consumer::new(memory.ring(), keys),
        )
    };
    HeapRing {
        producer,
        consumer,
        memory,
    }
}

fn read_vec(consumer: &mut Consumer, len: usize) -> Result<ReadOutcome, Corrupt> {
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` has room for `len` bytes.
    unsafe { consumer.read(buf.as_mut_ptr(), len) }
}

fn read_bytes(consumer: &mut Consumer, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` has room for `len` bytes.
    match unsafe { consumer.read(buf.as_mut_ptr(), len) }.unwrap() {
        ReadOutcome::Data(n) => buf.truncate(n),
        _ => buf.clear(),
    }
    buf
}

#[test]
fn write_then_read_wraps_around() {
    let mut r = heap_ring(16);
    for round in 0..50u8 {
        let msg: Vec<u8> = (0..11)
            .map(|i| round.wrapping_mul(7).wrapping_add(i))
            .collect();
        assert_eq!(r.producer.write(&msg).unwrap(), WriteOutcome::Wrote(11));
        assert_eq!(read_bytes(&mut r.consumer, 64), msg);
    }
}

#[test]
fn full_ring_refuses_then_frees_space() {
    let mut r = heap_ring(8);
    assert_eq!(r.producer.write(&[1; 12]).unwrap(), WriteOutcome::Wrote(8));
    assert_eq!(r.producer.write(&[2; 1]).unwrap(), WriteOutcome::Full);
    assert_eq!(read_bytes(&mut r.consumer, 3), vec![1; 3]);
    assert_eq!(r.producer.write(&[2; 5]).unwrap(), WriteOutcome::Wrote(3));
    assert_eq!(
        read_bytes(&mut r.consumer, 100),
        vec![1, 1, 1, 1, 1, 2, 2, 2]
    );
    assert_eq!(read_vec(&mut r.consumer, 1).unwrap(), ReadOutcome::Empty);
}

#[test]
fn vectored_writes_keep_order_wrap_and_stop_when_full() {
    let mut r = heap_ring(16);
    // Fill 10 of 16 bytes and drain them, so the next write wraps at the end of the data.
    r.producer.write(&[0; 10]).unwrap();
    assert_eq!(read_bytes(&mut r.consumer, 10), vec![0; 10]);
    let parts = [
        IoSlice::new(b"head"),
        IoSlice::new(b""),
        IoSlice::new(b"body-body"),
        IoSlice::new(b"tail"),
    ];
    // 17 bytes offered, 16 fit: the last byte of "tail" waits.
    assert_eq!(
        r.producer.write_vectored(&parts, usize::MAX).unwrap(),
        WriteOutcome::Wrote(16)
    );
    assert_eq!(
        r.producer.write_vectored(&parts, usize::MAX).unwrap(),
        WriteOutcome::Full
    );
    assert_eq!(read_bytes(&mut r.consumer, 64), b"headbody-bodytai");
    assert_eq!(
        r.producer.write_vectored(&[], usize::MAX).unwrap(),
        WriteOutcome::Wrote(0)
    );
}

#[test]
fn a_write_limit_publishes_a_prefix_and_the_rest_follows() {
    let mut r = heap_ring(64);
    let parts = [IoSlice::new(b"head"), IoSlice::new(b"body-body")];
    // 13 bytes offered with room for all: a limit of 6 copies and publishes "headbo" only.
    assert_eq!(
        r.producer.write_vectored(&parts, 6).unwrap(),
        WriteOutcome::Wrote(6)
    );
    assert_eq!(read_bytes(&mut r.consumer, 64), b"headbo");
    // The caller offers the rest, as an `AsyncWrite` user does after a short write.
    for (rest, wrote) in [(&b"dy-body"[..], 6), (b"y", 1)] {
        assert_eq!(
            r.producer.write_vectored(&[IoSlice::new(rest)], 6).unwrap(),
            WriteOutcome::Wrote(wrote)
        );
    }
    assert_eq!(read_bytes(&mut r.consumer, 64), b"dy-body");
}

#[test]
fn close_is_seen_after_the_data() {
    let mut r = heap_ring(8);
    r.producer.write(b"abc").unwrap();
    r.producer.close();
    assert_eq!(read_bytes(&mut r.consumer, 100), b"abc");
    assert_eq!(read_vec(&mut r.consumer, 1).unwrap(), ReadOutcome::Closed);
    r.consumer.close();
    let mut r = heap_ring(8);
    r.consumer.close();
    assert_eq!(r.producer.write(b"x").unwrap(), WriteOutcome::Closed);
}

#[test]
fn parking_protocol() {
    let mut r = heap_ring(8);
    // Empty ring: the consumer may sleep; the next write must wake it, once.
    assert!(r.consumer.park().unwrap());
    r.producer.write(b"a").unwrap();
    assert!(r.producer.take_reader_parked());
    assert!(!r.producer.take_reader_parked());
    // Data present: parking is refused.
    assert!(!r.consumer.park().unwrap());
    assert!(!r.producer.take_reader_parked());
    // Full ring: the producer may sleep; a read must wake it.
    r.producer.write(&[0; 7]).unwrap();
    assert!(r.producer.park().unwrap());
    read_bytes(&mut r.consumer, 1);
    assert!(r.consumer.take_writer_parked());
    assert!(!r.producer.park().unwrap());
}

#[test]
fn garbage_indices_are_corrupt_not_out_of_bounds() {
    let mut r = heap_ring(8);
    r.producer.write(b"abcd").unwrap();
    r.control().producer.0[TAIL].store(0xdead_beef_0000_0001, Ordering::Relaxed);
    assert!(read_vec(&mut r.consumer, 100).is_err());
    r.control().consumer.0[HEAD].store(u64::MAX, Ordering::Relaxed);
    assert!(r.producer.write(b"x").is_err());
}

#[test]
fn a_validly_tagged_index_out_of_range_is_corrupt() {
    let keys = RingKeys::derive(0x1234_5678_9abc_def0, 0);
    let mut r = heap_ring(8);
    // Claims 9 bytes in an 8-byte ring: a hostile peer with the key.
    r.control().producer.0[TAIL].store(keys.tail.word(9, false), Ordering::Relaxed);
    assert_eq!(
        read_vec(&mut r.consumer, 100),
        Err(Corrupt("write index (out of range)"))
    );
}

#[test]
fn staged_frames_reach_the_consumer_when_published_in_order() {
    let mut r = heap_ring(16);
    assert_eq!(r.producer.stage([0, 3], b"abc"), Ok(true));
    assert_eq!(r.producer.stage([0, 1], b"d"), Ok(true));
    assert!(r.producer.has_staged());
    // Not published yet: the consumer sees nothing.
    assert_eq!(read_vec(&mut r.consumer, 64).unwrap(), ReadOutcome::Empty);
    assert_eq!(r.producer.publish_staged(), Ok(true));
    assert!(!r.producer.has_staged());
    assert_eq!(read_bytes(&mut r.consumer, 64), b"\0\x03abc\0\x01d");
}

#[test]
fn a_write_publishes_the_staged_frames_before_its_bytes() {
    let mut r = heap_ring(16);
    assert_eq!(r.producer.stage([7], b"ab"), Ok(true));
    assert_eq!(r.producer.write(b"xy").unwrap(), WriteOutcome::Wrote(2));
    assert!(!r.producer.has_staged());
    assert_eq!(read_bytes(&mut r.consumer, 64), b"\x07abxy");
}

#[test]
fn a_frame_without_room_is_refused_whole_until_the_consumer_reads() {
    let mut r = heap_ring(8);
    assert_eq!(r.producer.stage([1], b"2345"), Ok(true));
    // 5 of 8 bytes staged: a 4-byte frame does not fit, and nothing of it is copied.
    assert_eq!(r.producer.stage([6], b"789"), Ok(false));
    assert_eq!(r.producer.stage([6], b"78"), Ok(true));
    assert_eq!(r.producer.publish_staged(), Ok(true));
    assert_eq!(read_bytes(&mut r.consumer, 3), b"\x0123");
    // The consumer freed 3 bytes: the producer finds them when its known room runs out.
    assert_eq!(r.producer.stage([9], b"ab"), Ok(true));
    assert_eq!(r.producer.stage([0], b""), Ok(false));
    assert_eq!(r.producer.publish_staged(), Ok(true));
    assert_eq!(read_bytes(&mut r.consumer, 64), b"45\x0678\x09ab");
}

#[test]
fn staged_frames_wrap_around_the_end_head_and_body_alike() {
    let mut r = heap_ring(16);
    let mut at = 0usize; // bytes through the ring so far
    for start in 0..16u8 {
        // Move both indices on to offset `start` (a full turn more, so the write wraps).
        let filler = vec![0xEE; (usize::from(start) + 16 - at % 16) % 16 + 16];
        for chunk in filler.chunks(16) {
            r.producer.write(chunk).unwrap();
            read_bytes(&mut r.consumer, 64);
        }
        at += filler.len();
        let body: Vec<u8> = (0..9)
            .map(|i| start.wrapping_mul(31).wrapping_add(i))
            .collect();
        assert_eq!(r.producer.stage([start, 0xA5, 0x5A], &body), Ok(true));
        assert_eq!(r.producer.publish_staged(), Ok(true));
        let mut want = vec![start, 0xA5, 0x5A];
        want.extend(&body);
        assert_eq!(
            read_bytes(&mut r.consumer, 64),
            want,
            "frame at offset {start}"
        );
        at += want.len();
    }
}

#[test]
fn staging_stops_at_a_close_and_publishing_sees_the_consumer_gone() {
    let mut r = heap_ring(16);
    assert_eq!(r.producer.stage([1], b"a"), Ok(true));
    r.consumer.close();
    // The room seen before lets this one in; publishing says no one will read it.
    assert_eq!(r.producer.stage([2], b"b"), Ok(true));
    assert_eq!(r.producer.publish_staged(), Ok(false));
    // Once the known room is used up the producer looks, and sees the close.
    assert_eq!(r.producer.stage([3], &[0; 15]), Ok(false));
    r.producer.close();
    assert_eq!(r.producer.stage([4], b""), Ok(false));
}

#[test]
fn staging_checks_the_consumers_index_when_it_looks() {
    let mut r = heap_ring(8);
    r.control().consumer.0[HEAD].store(u64::MAX, Ordering::Relaxed);
    // A fresh producer knows of no room, so it looks at the garbage index.
    assert!(r.producer.stage([1], b"x").is_err());
    assert!(!r.producer.has_staged());
}

proptest! {
    /// Any interleaving of writes and reads of any sizes delivers the bytes in order, whole.
    #[test]
    fn stream_survives_any_chunking(ops in proptest::collection::vec((any::<bool>(), 0usize..40), 1..200)) {
        let mut r = heap_ring(32);
        let mut sent: u64 = 0;
        let mut received = Vec::new();
        for (write, len) in ops {
            if write {
                let chunk: Vec<u8> = (0..len as u64).map(|i| ((sent + i) % 251) as u8).collect();
                if let WriteOutcome::Wrote(n) = r.producer.write(&chunk).unwrap() {
                    sent += n as u64;
                }
            } else {
                received.extend(read_bytes(&mut r.consumer, len));
            }
        }
        received.extend(read_bytes(&mut r.consumer, 64));
        prop_assert_eq!(received.len() as u64, sent);
        for (i, b) in received.iter().enumerate() {
            prop_assert_eq!(*b, (i as u64 % 251) as u8);
        }
    }

    /// Staged frames, publishes, writes and reads in any order and of any sizes deliver
    /// the bytes in order, whole, once published; nothing staged is read before.
    #[test]
    fn staging_mixed_with_writes_survives_any_chunking(
        ops in proptest::collection::vec((0u8..4, 0usize..20), 1..300),
    ) {
        let mut r = heap_ring(32);
        let mut sent: u64 = 0;
        let mut published: u64 = 0;
        let mut received = Vec::new();
        let next = |at: u64, len: usize| -> Vec<u8> {
            (0..len as u64).map(|i| ((at + i) % 251) as u8).collect()
        };
        for (op, len) in ops {
            match op {
                0 => {
                    let frame = next(sent, len + 1);
                    if r.producer.stage([frame[0]], &frame[1..]).unwrap() {
                        sent += frame.len() as u64;
                    }
                }
                1 => {
                    prop_assert!(r.producer.publish_staged().unwrap());
                    published = sent;
                }
                2 => {
                    if let WriteOutcome::Wrote(n) = r.producer.write(&next(sent, len)).unwrap() {
                        sent += n as u64;
                        published = sent;
                    }
                }
                _ => received.extend(read_bytes(&mut r.consumer, len)),
            }
            prop_assert!(received.len() as u64 <= published, "read bytes not yet published");
        }
        prop_assert!(r.producer.publish_staged().unwrap());
        received.extend(read_bytes(&mut r.consumer, 64));
        prop_assert_eq!(received.len() as u64, sent);
        for (i, b) in received.iter().enumerate() {
            prop_assert_eq!(*b, (i as u64 % 251) as u8);
        }
    }

    /// Random words over the control block never make a read go out of bounds or panic.
    #[test]
    fn random_control_words_are_caught(tail in any::<u64>(), head in any::<u64>()) {
        let mut r = heap_ring(16);
        r.producer.write(b"hello").unwrap();
        r.control().producer.0[TAIL].store(tail, Ordering::Relaxed);
        r.control().consumer.0[HEAD].store(head, Ordering::Relaxed);
        let _ = read_vec(&mut r.consumer, 64);
        let _ = r.producer.write(b"world");
    }
}
