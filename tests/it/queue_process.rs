//! `mq://` across real processes: 4 producers × 4 consumers with checksummed,
//! sequence-numbered messages, and SIGKILL rounds against senders and receivers.
//!
//! Helpers are this test binary started again: it runs only `queue_process::mq_helper_entry`,
//! which does its role when `ANYIPC_MQ_ROLE` is set and nothing otherwise.

use crate::bounded::{wait_bounded, RunBounded};
use crate::queue::Name;
use crate::util::watchdog;
use anyipc::queue::{MessageQueue, QueueOptions};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ROLE_VAR: &str = "ANYIPC_MQ_ROLE";
const NAME_VAR: &str = "ANYIPC_MQ_NAME";

/// A helper process, killed when dropped (a failing test leaves none behind).
struct Helper(Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_helper(role: &str, name: &str) -> Helper {
    let child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "queue_process::mq_helper_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE_VAR, role)
        .env(NAME_VAR, name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn helper");
    Helper(child)
}

/// Lines the helper prints, read on a thread so the parent never blocks on the pipe.
fn lines(helper: &mut Helper) -> mpsc::Receiver<String> {
    let stdout = helper.0.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for helper process `pid` to print "ready", failing the test with its state if it
/// has not within [`ready_limit`](crate::bounded::ready_limit).
fn wait_ready(rx: &mpsc::Receiver<String>, pid: u32) {
    loop {
        match rx.recv_timeout(crate::bounded::ready_limit()) {
            Ok(line) if line == "ready" => return,
            Ok(_) => {}
            Err(err) => panic!(
                "helper never got ready: {err}; it is {}",
                crate::bounded::process_state(pid)
            ),
        }
    }
}

/// FNV-1a: a checksum the consumer verifies on every message.
fn fnv(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// `[producer u32][seq u32][payload][fnv of the rest u32]`, payload 0–199 bytes.
fn message(producer: u32, seq: u32) -> Vec<u8> {
    let mut msg = Vec::new();
    msg.extend_from_slice(&producer.to_le_bytes());
    msg.extend_from_slice(&seq.to_le_bytes());
    let payload_len = (seq.wrapping_mul(2_654_435_761) >> 24) % 200;
    msg.extend((0..payload_len).map(|i| (i as u8) ^ (seq as u8)));
    let sum = fnv(&msg);
    msg.extend_from_slice(&sum.to_le_bytes());
    msg
}

fn check_message(msg: &[u8]) -> Option<(u32, u32)> {
    let (body, sum) = msg.split_at(msg.len().checked_sub(4)?);
    if body.len() < 8 || fnv(body).to_le_bytes() != sum {
        return None;
    }
    let id = u32::from_le_bytes(body[..4].try_into().ok()?);
    let seq = u32::from_le_bytes(body[4..8].try_into().ok()?);
    Some((id, seq))
}

/// A kill-test body: the sequence number, then filler up to `len` (a 64 KiB copy keeps the
/// lock held long enough for kills to land inside critical sections).
fn numbered(seq: u32, len: usize) -> Vec<u8> {
    let mut msg = vec![seq as u8; len.max(4)];
    msg[..4].copy_from_slice(&seq.to_le_bytes());
    msg
}

fn seq_of(msg: &[u8]) -> u32 {
    u32::from_le_bytes(msg[..4].try_into().expect("numbered message"))
}

/// What a helper process does, by `ANYIPC_MQ_ROLE`.
#[test]
fn mq_helper_entry() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let name = std::env::var(NAME_VAR).expect("queue name");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let queue = MessageQueue::open(&name).expect("open queue");
    let mut out = std::io::stdout().lock();
    // On a line of its own: the test harness has printed "test … ... " without a newline.
    writeln!(out, "\nready").unwrap();
    out.flush().unwrap();
    let mut parts = role.split(':');
    match parts.next().unwrap() {
        "producer" => {
            let id: u32 = parts.next().unwrap().parse().unwrap();
            let count: u32 = parts.next().unwrap().parse().unwrap();
            rt.block_on(async {
                for seq in 0..count {
                    queue
                        .send(&message(id, seq), 1 + (seq % 31) as u8)
                        .await
                        .unwrap();
                }
            });
        }
        "producer-many" => {
            let id: u32 = parts.next().unwrap().parse().unwrap();
            let count: u32 = parts.next().unwrap().parse().unwrap();
            rt.block_on(async {
                let mut seq = 0;
                while seq < count {
                    // Batches of 1–7 at one priority each.
                    let size = (1 + seq % 7).min(count - seq);
                    let priority = 1 + (seq % 31) as u8;
                    let batch: Vec<Vec<u8>> = (seq..seq + size).map(|s| message(id, s)).collect();
                    let mut rest = &batch[..];
                    while !rest.is_empty() {
                        let sent = queue.send_many(rest, priority).await.unwrap();
                        rest = &rest[sent..];
                    }
                    seq += size;
                }
            });
        }
        "consumer" => rt.block_on(async {
            loop {
                let (msg, priority) = queue.recv().await.unwrap();
                if priority == 0 {
                    break;
                }
                let (id, seq) = check_message(&msg).expect("corrupted message");
                writeln!(out, "got {id} {seq}").unwrap();
            }
            out.flush().unwrap();
        }),
        "consumer-many" => rt.block_on(async {
            let mut got = Vec::new();
            'recv: loop {
                got.clear();
                queue.recv_many(&mut got, 5).await.unwrap();
                for (k, (msg, priority)) in got.iter().enumerate() {
                    if *priority == 0 {
                        // Stop markers come last: those beyond our own go back for others.
                        for _ in k + 1..got.len() {
                            queue.send(b"stop", 0).await.unwrap();
                        }
                        break 'recv;
                    }
                    let (id, seq) = check_message(msg).expect("corrupted message");
                    writeln!(out, "got {id} {seq}").unwrap();
                }
            }
            out.flush().unwrap();
        }),
        "kill-sender" => rt.block_on(async {
            for seq in 0.. {
                let len = [8, 4096, 65536][seq as usize % 3];
                queue
                    .send(&numbered(seq, len), (seq % 32) as u8)
                    .await
                    .unwrap();
                writeln!(out, "S {seq}").unwrap();
                out.flush().unwrap();
            }
        }),
        "kill-sender-many" => rt.block_on(async {
            let mut seq = 0u32;
            loop {
                // Batches of 1–4 at one priority; at most 64 KiB goes per lock hold.
                let batch: Vec<Vec<u8>> = (seq..seq + 1 + seq % 4)
                    .map(|s| numbered(s, [8, 4096, 65536][s as usize % 3]))
                    .collect();
                let mut rest = &batch[..];
                while !rest.is_empty() {
                    let sent = queue.send_many(rest, (seq % 32) as u8).await.unwrap();
                    for msg in &rest[..sent] {
                        writeln!(out, "S {}", seq_of(msg)).unwrap();
                    }
                    out.flush().unwrap();
                    rest = &rest[sent..];
                }
                seq += batch.len() as u32;
            }
        }),
        "kill-receiver-many" => rt.block_on(async {
            let mut got = Vec::new();
            loop {
                got.clear();
                queue.recv_many(&mut got, KILL_BATCH).await.unwrap();
                for (msg, _) in &got {
                    writeln!(out, "R {}", seq_of(msg)).unwrap();
                }
                out.flush().unwrap();
            }
        }),
        "kill-receiver" => rt.block_on(async {
            loop {
                let (msg, _) = queue.recv().await.unwrap();
                writeln!(out, "R {}", seq_of(&msg)).unwrap();
                out.flush().unwrap();
            }
        }),
        // Parked in a receive on the empty queue; prints how it ended.
        "park" => {
            let ended = rt.block_on(queue.recv());
            writeln!(out, "recv {}", outcome(&ended)).unwrap();
        }
        // One receive that does not wait; prints how it ended.
        "try-recv" => {
            let got = queue.try_recv();
            writeln!(out, "try_recv {}", outcome(&got)).unwrap();
        }
        // Waits for a line on stdin, then sends a message too long for a shrunk queue's
        // header page and prints how that ended and how long it took.
        "send-on-line" => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).unwrap();
            let started = Instant::now();
            let sent = queue.try_send(&[7; 8000], 1);
            let ms = started.elapsed().as_millis();
            writeln!(out, "send {} {ms}", outcome(&sent)).unwrap();
        }
        // Attached (its liveness lock held) and doing nothing until killed.
        "idle" => loop {
            std::thread::sleep(Duration::from_secs(60));
        },
        other => panic!("unknown role {other}"),
    }
}

/// `ok`, or the [`QueueError`](anyipc::queue::QueueError) inside an error (its debug form),
/// or the error itself.
fn outcome<T>(result: &std::io::Result<T>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(err) => match err
            .get_ref()
            .and_then(|e| e.downcast_ref::<anyipc::queue::QueueError>())
        {
            Some(inner) => format!("{inner:?}"),
            None => format!("{err}"),
        },
    }
}

/// File size limit of the `create-over-fsize` helper: a quarter of the queue it creates.
const FSIZE_LIMIT: libc::rlim_t = 1 << 20;

/// The `create-over-fsize` helper: creates a 4 MiB queue under a 1 MiB `RLIMIT_FSIZE` (set
/// by the parent) and prints what `create` returned.
#[test]
fn mq_create_helper_entry() {
    if std::env::var(ROLE_VAR).as_deref() != Ok("create-over-fsize") {
        return;
    }
    let name = std::env::var(NAME_VAR).expect("queue name");
    let options = QueueOptions {
        capacity: 16,
        max_message_len: 256 << 10,
        ..QueueOptions::default()
    };
    let line = match MessageQueue::create(&name, &options) {
        Ok(_) => "created".to_owned(),
        Err(e) => format!("error {:?}: {e}", e.kind()),
    };
    println!("\n{line}");
}

/// A segment the creator may not allocate is a clean `create` error naming the size it
/// needed, with no staging file left behind (it used to be found only when a write to the
/// sparse mapping hit SIGBUS). `RLIMIT_FSIZE` stands in for a full `/dev/shm`: the same
/// reservation refuses both.
#[test]
fn a_segment_that_cannot_be_allocated_fails_create_cleanly() {
    use std::os::unix::process::CommandExt;
    let name = Name::new();
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([
            "queue_process::mq_create_helper_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE_VAR, "create-over-fsize")
        .env(NAME_VAR, &name.0);
    // SAFETY: setrlimit and signal are async-signal-safe, and the closure touches nothing
    // but its own locals.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: FSIZE_LIMIT,
                rlim_max: FSIZE_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Over the limit, the kernel also sends SIGXFSZ, which would kill the helper.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let out = command.output_bounded();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "helper failed: {:?}\n{stdout}",
        out.status
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("error") || l.starts_with("created"))
        .unwrap_or_else(|| panic!("no result from the helper:\n{stdout}"));
    // The header, then 16 slots of 16 + 256 KiB rounded up to 64 bytes.
    let size = 1024 + 16 * (16 + (256 << 10) as u64).next_multiple_of(64);
    assert!(line.starts_with("error FileTooLarge"), "{line}");
    assert!(line.contains(&format!("needs {size} bytes")), "{line}");
    assert!(line.contains("/dev/shm"), "{line}");
    let staging = format!(".anyipc-mq-{}~", name.0);
    let left: Vec<_> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.starts_with(&staging) || f.ends_with(&format!("anyipc-mq-{}", name.0)))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_producers_four_consumers_single_and_batched_nothing_lost_duplicated_or_corrupted() {
    watchdog(120, async {
        tokio::task::spawn_blocking(|| {
            const PER_PRODUCER: u32 = 2000;
            let name = Name::new();
            let options = QueueOptions {
                capacity: 64,
                max_message_len: 256,
                ..Default::default()
            };
            let queue = MessageQueue::create(&name.0, &options).unwrap();
            // Half of each side moves one message per call, half uses the batch calls.
            let mut consumers: Vec<_> = ["consumer", "consumer", "consumer-many", "consumer-many"]
                .iter()
                .map(|role| spawn_helper(role, &name.0))
                .collect();
            let consumer_lines: Vec<_> = consumers.iter_mut().map(lines).collect();
            let mut producers: Vec<_> = ["producer", "producer", "producer-many", "producer-many"]
                .iter()
                .enumerate()
                .map(|(id, role)| spawn_helper(&format!("{role}:{id}:{PER_PRODUCER}"), &name.0))
                .collect();
            for p in &mut producers {
                assert!(
                    wait_bounded(&mut p.0, "a producer").success(),
                    "a producer failed"
                );
            }
            let stop = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            stop.block_on(async {
                for _ in 0..4 {
                    queue.send(b"stop", 0).await.unwrap();
                }
            });
            let mut seen: HashMap<(u32, u32), u32> = HashMap::new();
            let mut per_consumer = Vec::new();
            for (c, rx) in consumers.iter_mut().zip(consumer_lines) {
                assert!(
                    wait_bounded(&mut c.0, "a consumer").success(),
                    "a consumer failed (corrupt message?)"
                );
                let mut n = 0;
                for line in rx.iter() {
                    let Some(rest) = line.strip_prefix("got ") else {
                        continue;
                    };
                    let mut it = rest.split(' ').map(|x| x.parse::<u32>().unwrap());
                    *seen
                        .entry((it.next().unwrap(), it.next().unwrap()))
                        .or_default() += 1;
                    n += 1;
                }
                per_consumer.push(n);
            }
            let duplicated = seen.values().filter(|&&n| n > 1).count();
            assert_eq!(duplicated, 0, "messages delivered twice");
            for id in 0..4 {
                for seq in 0..PER_PRODUCER {
                    assert!(seen.contains_key(&(id, seq)), "message {id}/{seq} lost");
                }
            }
            assert_eq!(seen.len(), 4 * PER_PRODUCER as usize);
            assert_eq!(queue.attributes().len, 0);
            eprintln!("4x4: messages per consumer {per_consumer:?}");
        })
        .await
        .unwrap();
    })
    .await;
}

/// The lock word, read from the segment file: non-zero after a kill means the killed process
/// died holding the lock.
fn lock_word(name: &Name) -> u32 {
    let file = std::fs::File::open(name.path()).unwrap();
    let mut word = [0u8; 4];
    file.read_exact_at(&mut word, LOCK_WORD_AT).unwrap();
    u32::from_le_bytes(word)
}

/// Where the lock word is in the segment file.
const LOCK_WORD_AT: u64 = 64;

/// The segment file of queue `name`, open for writing its words as another process would.
fn segment_for_writing(name: &Name) -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap()
}

/// Writes the lock word of `segment`, as a hostile peer (or a holder stopped inside its
/// critical section) leaves it.
fn write_lock_word(segment: &std::fs::File, value: u32) {
    segment
        .write_all_at(&value.to_le_bytes(), LOCK_WORD_AT)
        .unwrap();
}

/// [`write_lock_word`] on queue `name`'s segment.
fn set_lock_word(name: &Name, value: u32) {
    write_lock_word(&segment_for_writing(name), value);
}

/// A queue file shrunk to its header page by another process: a process parked on the
/// header's words (which the file kept) learns of it and ends its receive with `Truncated`;
/// and when this process's send then faults in a slot while it holds the queue lock, the lock
/// is released all the same, so another process's next call fails at once with `Truncated`
/// rather than after a second's wait for a lock no operation holds (`LockStuck`).
#[test]
fn a_queue_shrunk_past_its_header_releases_the_lock_and_wakes_parked_processes() {
    let name = Name::new();
    let options = QueueOptions {
        capacity: 4,
        max_message_len: 8192,
        ..QueueOptions::default()
    };
    let queue = MessageQueue::create(&name.0, &options).unwrap();
    let mut parked = spawn_helper("park", &name.0);
    let parked_lines = lines(&mut parked);
    wait_ready(&parked_lines, parked.0.id());
    let mut sender = spawn_helper("send-on-line", &name.0);
    let sender_lines = lines(&mut sender);
    wait_ready(&sender_lines, sender.0.id());
    std::thread::sleep(Duration::from_millis(200));

    // The header (lock word, index) is in the first page; every slot reaches past it.
    let full_len = std::fs::metadata(name.path()).unwrap().len();
    segment_for_writing(&name).set_len(4096).unwrap();
    let line = parked_lines
        .recv_timeout(Duration::from_secs(5))
        .expect("the parked receive did not end within 5 s");
    assert_eq!(line, "recv Truncated");

    let err = queue.try_send(&[1; 8000], 1).unwrap_err();
    assert_eq!(
        err.get_ref()
            .and_then(|e| e.downcast_ref::<anyipc::queue::QueueError>()),
        Some(&anyipc::queue::QueueError::Truncated),
        "{err}"
    );
    assert_eq!(lock_word(&name), 0, "the lock was left held");

    let mut stdin = sender.0.stdin.take().unwrap();
    writeln!(stdin, "go").unwrap();
    let line = sender_lines
        .recv_timeout(Duration::from_secs(10))
        .expect("the other process's send did not end");
    let (what, ms) = line.rsplit_once(' ').unwrap();
    assert_eq!(what, "send Truncated", "{line}");
    // Without the release, `LockStuck` after a second.
    assert!(ms.parse::<u64>().unwrap() < 900, "{line}");

    // Both sends that failed were undone: with the file grown back, a process attaching
    // now finds the queue empty, not a message that was never whole.
    segment_for_writing(&name).set_len(full_len).unwrap();
    let mut reader = spawn_helper("try-recv", &name.0);
    let reader_lines = lines(&mut reader);
    wait_ready(&reader_lines, reader.0.id());
    let line = reader_lines
        .recv_timeout(Duration::from_secs(10))
        .expect("the receive in a fresh process did not end");
    assert_eq!(line, "try_recv the queue is empty", "{line}");
}

/// A live process that keeps the queue lock (its id in the lock word while it holds its
/// liveness lock: a stopped holder, or a hostile one) makes calls fail with `TimedOut`
/// after a second instead of blocking their thread for as long as it likes; once that
/// process is dead its lock is taken over and the queue works again.
#[test]
fn a_lock_kept_by_a_live_process_times_out_instead_of_blocking_for_ever() {
    let name = Name::new();
    let queue =
        std::sync::Arc::new(MessageQueue::create(&name.0, &QueueOptions::default()).unwrap());
    let mut child = spawn_helper("idle", &name.0);
    wait_ready(&lines(&mut child), child.0.id());
    let holder = child.0.id();
    set_lock_word(&name, holder);

    let (done, outcome) = mpsc::channel();
    let sending = queue.clone();
    let name_ = name.0.clone();
    std::thread::spawn(move || {
        let sync = sending.try_send(b"one", 0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let not_full = rt.block_on(sending.send(b"two", 0));
        // Through a connection: its sink keeps the message it could not pass on.
        let (conn, sink, full_sink) = rt.block_on(async {
            use futures::SinkExt;
            let mut conn = anyipc::connect(format!("mq://{name_}")).await.unwrap();
            let sink = conn.send(bytes::Bytes::from_static(b"four")).await;
            // 64 more fill the sink's 64 (the last of them waits in the connection); the
            // next feed passes that one on, which flushes the 64 first: the flush meets the
            // stuck lock, and the message is kept with the others. "last" is not taken.
            for i in 0..64u8 {
                conn.feed(bytes::Bytes::from(vec![i])).await.unwrap();
            }
            let full_sink = conn.feed(bytes::Bytes::from_static(b"last")).await;
            (conn, sink, full_sink)
        });
        let _ = done.send((sync, not_full, sink, full_sink, conn, rt));
    });
    let (sync, not_full, sink, full_sink, mut conn, rt) = outcome
        .recv_timeout(Duration::from_secs(20))
        .expect("a call blocked on the kept lock");
    for result in [sync, not_full, sink, full_sink] {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
        assert!(err.to_string().contains(&holder.to_string()), "{err}");
    }
    assert_eq!(queue.attributes().len, 0, "nothing was sent");

    drop(child);
    queue.try_send(b"three", 0).unwrap();
    assert_eq!(&queue.try_recv().unwrap().0[..], b"three");
    rt.block_on(futures::SinkExt::flush(&mut conn)).unwrap();
    assert_eq!(
        &queue.try_recv().unwrap().0[..],
        b"four",
        "kept for the flush"
    );
    for i in 0..64u8 {
        assert_eq!(queue.try_recv().unwrap().0[..], [i], "message {i}");
    }
    assert!(
        queue.try_recv().is_err(),
        "\"last\" was refused, not queued"
    );
}

/// Threads of one process queue for a lock kept by a live process one at a time: each
/// would wait its own second after the ones before it (eight threads, eight seconds). Once
/// one has given up on that owner, the others give up at once, all within the promised
/// 1–10 s.
#[test]
fn threads_waiting_on_a_kept_lock_give_up_together_not_one_after_another() {
    let name = Name::new();
    let queue =
        std::sync::Arc::new(MessageQueue::create(&name.0, &QueueOptions::default()).unwrap());
    let mut child = spawn_helper("idle", &name.0);
    wait_ready(&lines(&mut child), child.0.id());
    set_lock_word(&name, child.0.id());
    let started = std::time::Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let queue = queue.clone();
            std::thread::spawn(move || queue.try_recv().map(drop))
        })
        .collect();
    for thread in threads {
        let err = thread.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?} for eight threads");
    drop(child);
    set_lock_word(&name, 0);
}

/// A lock word that keeps changing hands between live processes (as a hostile writer can
/// make it: each owner only ever holds it for less than the one-owner patience of a second)
/// still makes a call fail with `TimedOut`, after about 10 s in all, instead of keeping it
/// waiting for ever; the queue works again once the word is left alone.
#[test]
fn a_lock_flipped_between_live_processes_times_out_after_ten_seconds() {
    let name = Name::new();
    let queue =
        std::sync::Arc::new(MessageQueue::create(&name.0, &QueueOptions::default()).unwrap());
    let mut one = spawn_helper("idle", &name.0);
    let mut two = spawn_helper("idle", &name.0);
    wait_ready(&lines(&mut one), one.0.id());
    wait_ready(&lines(&mut two), two.0.id());
    let owners = [one.0.id(), two.0.id()];

    let (stop, stopped) = mpsc::channel::<()>();
    let segment = segment_for_writing(&name);
    write_lock_word(&segment, owners[0]);
    let flipper = std::thread::spawn(move || {
        for owner in owners.iter().cycle().skip(1) {
            // Well under the one-owner patience of a second, even on a loaded machine.
            match stopped.recv_timeout(Duration::from_millis(50)) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => break,
            }
            write_lock_word(&segment, *owner);
        }
    });

    let started = Instant::now();
    let (done, outcome) = mpsc::channel();
    let sending = queue.clone();
    std::thread::spawn(move || {
        let _ = done.send(sending.try_send(b"one", 0));
    });
    let result = outcome
        .recv_timeout(Duration::from_secs(40))
        .expect("a call blocked on a lock flipped between live owners");
    let waited = started.elapsed();
    let err = result.expect_err("the flipped lock was taken");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    assert!(
        owners
            .iter()
            .any(|pid| err.to_string().contains(&pid.to_string())),
        "{err}"
    );
    // Not the one-owner patience of a second (the clock restarts with each new owner), and
    // the cap of about 10 s in all.
    assert!(
        waited >= Duration::from_secs(8) && waited <= Duration::from_secs(15),
        "gave up after {waited:?}"
    );

    let _ = stop.send(());
    flipper.join().unwrap();
    set_lock_word(&name, 0);
    queue.try_send(b"two", 0).unwrap();
    assert_eq!(&queue.try_recv().unwrap().0[..], b"two");
}

/// A tiny deterministic generator for kill times.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const KILL_ROUNDS: u32 = 200;
/// Most messages a `kill-receiver-many` helper takes per call, and so may lose when killed.
const KILL_BATCH: usize = 4;

/// SIGKILL a sender or a receiver at a random moment, 200 times. After each kill the queue
/// works at once for the survivor (never wedged), its index checks out, every send that
/// returned Ok is received exactly once, and a killed receiver loses at most the one message
/// it had taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_rounds_never_wedge_lose_or_duplicate() {
    watchdog(240, async {
        tokio::task::spawn_blocking(|| kill_rounds(KILL_ROUNDS, false))
            .await
            .unwrap();
    })
    .await;
}

/// The same with `send_many`/`recv_many` on both sides, 100 rounds: a killed batch sender
/// sent a prefix of its batch at most, a killed batch receiver loses at most one batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_rounds_during_batch_calls_never_wedge_lose_or_duplicate() {
    watchdog(240, async {
        tokio::task::spawn_blocking(|| kill_rounds(KILL_ROUNDS / 2, true))
            .await
            .unwrap();
    })
    .await;
}

/// The survivor's side of a kill round: one call moving one message or (batched) a few.
fn survivor_recv(queue: &MessageQueue, batched: bool, taken: &mut Vec<u32>) -> std::io::Result<()> {
    if batched {
        let mut got = Vec::new();
        queue.try_recv_many(&mut got, 3)?;
        taken.extend(got.iter().map(|(msg, _)| seq_of(msg)));
    } else {
        taken.push(seq_of(&queue.try_recv()?.0));
    }
    Ok(())
}

fn kill_rounds(rounds: u32, batched: bool) {
    let name = Name::new();
    let options = QueueOptions {
        capacity: 16,
        max_message_len: 65536,
        ..Default::default()
    };
    let queue = MessageQueue::create(&name.0, &options).unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut died_holding_lock = 0;
    let mut next_seq = 1_000_000u32;
    // On one CPU (`taskset -c 0`) the child never holds the lock while this thread looks,
    // unless this thread lets it run first.
    let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    for round in 0..rounds {
        let sender_round = round % 2 == 0;
        let role = match (sender_round, batched) {
            (true, false) => "kill-sender",
            (false, false) => "kill-receiver",
            (true, true) => "kill-sender-many",
            (false, true) => "kill-receiver-many",
        };
        let mut child = spawn_helper(role, &name.0);
        let rx = lines(&mut child);
        wait_ready(&rx, child.0.id());
        // Three rounds in four aim at the lock: the kill is sent the moment the child is
        // seen holding it; the others kill at a random time.
        let aimed = round % 4 != 0;
        let child_pid = child.0.id();
        let kill_at = Instant::now()
            + if aimed {
                Duration::from_millis(50)
            } else {
                Duration::from_micros(200 + rng.below(4000))
            };
        let mut taken: Vec<u32> = Vec::new();
        let mut sent: Vec<u32> = Vec::new();
        // The survivor works the queue until the kill, so the child never idles.
        'work: while Instant::now() < kill_at {
            if aimed {
                if one_cpu {
                    // The child runs only while this thread waits: wake up at a random
                    // point of its work (a wake-up preempts it), then look.
                    std::thread::sleep(Duration::from_micros(20 + rng.below(200)));
                }
                for _ in 0..20 {
                    if lock_word(&name) & 0x7fff_ffff == child_pid {
                        break 'work;
                    }
                }
            }
            if sender_round {
                let _ = survivor_recv(&queue, batched, &mut taken);
            } else if batched {
                let batch: Vec<Vec<u8>> = (0..1 + rng.below(3) as u32)
                    .map(|i| numbered(next_seq + i, [8, 4096, 65536][rng.below(3) as usize]))
                    .collect();
                if let Ok(n) = queue.try_send_many(&batch, rng.below(32) as u8) {
                    sent.extend(next_seq..next_seq + n as u32);
                    next_seq += batch.len() as u32;
                }
            } else {
                let len = [8, 4096, 65536][rng.below(3) as usize];
                if queue
                    .try_send(&numbered(next_seq, len), rng.below(32) as u8)
                    .is_ok()
                {
                    sent.push(next_seq);
                    next_seq += 1;
                }
            }
        }
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        if lock_word(&name) != 0 {
            died_holding_lock += 1;
        }
        // Never wedged: drain everything (this takes the lock over if need be).
        let drain_started = Instant::now();
        loop {
            match survivor_recv(&queue, batched, &mut taken) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("round {round}: queue broken after a kill: {e}"),
            }
        }
        assert!(
            drain_started.elapsed() < Duration::from_secs(5),
            "round {round}: slow drain"
        );
        assert_eq!(queue.attributes().len, 0);
        // Everything the child printed: its stdout is closed now, so this ends.
        let printed: Vec<u32> = rx
            .iter()
            .filter_map(|l| l.get(2..).and_then(|n| n.parse().ok()))
            .collect();
        if sender_round {
            let got: HashSet<u32> = taken.iter().copied().collect();
            assert_eq!(
                got.len(),
                taken.len(),
                "round {round}: a message came twice"
            );
            for seq in &printed {
                assert!(
                    got.contains(seq),
                    "round {round}: acknowledged send {seq} lost"
                );
            }
            // Beyond the acknowledged ones, only the send in flight may have landed: one
            // message, or a prefix of the batch in flight (at most 4).
            let acked = printed.len() as u32;
            let in_flight = if batched { 4 } else { 1 };
            assert!(
                taken.iter().all(|&s| s < acked + in_flight),
                "round {round}: unknown message"
            );
        } else {
            let mut all: Vec<u32> = printed.iter().chain(&taken).copied().collect();
            all.sort();
            let before = all.len();
            all.dedup();
            assert_eq!(all.len(), before, "round {round}: a message came twice");
            let missing = sent
                .iter()
                .filter(|s| all.binary_search(s).is_err())
                .count();
            // A killed receiver loses at most what its last call took.
            let may_lose = if batched { KILL_BATCH } else { 1 };
            assert!(
                missing <= may_lose,
                "round {round}: {missing} messages lost"
            );
            assert!(
                all.iter().all(|s| sent.contains(s)),
                "round {round}: unknown message"
            );
        }
    }
    eprintln!("kill rounds: {rounds}, died holding the lock: {died_holding_lock}");
    assert!(
        died_holding_lock > 0,
        "no kill landed inside a critical section"
    );
}
