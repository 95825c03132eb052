//! `fifo:///path`: one-way, many writers, atomic frames, refusals, writers coming and going.
#![cfg(unix)]

use crate::bounded::RunBounded;
use crate::util::{watchdog, TempDir};
use anyipc::codec::FrameError;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::time::Duration;

fn fifo_url(dir: &TempDir) -> String {
    format!("fifo://{}", dir.join("f"))
}

fn kind<T>(result: io::Result<T>) -> io::ErrorKind {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.kind(),
    }
}

/// Writer `w`'s message `seq`: its identity, its number, and a length that varies.
fn tagged(w: u32, seq: u32) -> Bytes {
    let mut msg = [w.to_be_bytes(), seq.to_be_bytes()].concat();
    msg.resize(8 + ((seq * 37 + w * 11) % 4000) as usize, (w ^ seq) as u8);
    Bytes::from(msg)
}

#[tokio::test]
async fn many_writers_never_interleave() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let url = fifo_url(&dir);
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        const WRITERS: u32 = 8;
        const EACH: u32 = 2000;
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let mut writer = anyipc::connect(&url).await.unwrap();
                // Fed in runs, so the writer batches several frames per write.
                for seq in 0..EACH {
                    writer.feed(tagged(w, seq)).await.unwrap();
                    if seq % 16 == 15 {
                        writer.flush().await.unwrap();
                    }
                }
                writer.flush().await.unwrap();
            }));
        }
        let mut next: HashMap<u32, u32> = HashMap::new();
        for _ in 0..WRITERS * EACH {
            let msg = reader.next().await.unwrap().unwrap();
            let w = u32::from_be_bytes(msg[0..4].try_into().unwrap());
            let seq = u32::from_be_bytes(msg[4..8].try_into().unwrap());
            let expected = next.entry(w).or_default();
            assert_eq!(seq, *expected, "writer {w}: out of order");
            assert_eq!(msg, tagged(w, seq), "writer {w} message {seq} corrupt");
            *expected += 1;
        }
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn frames_over_pipe_buf_are_refused_before_writing() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let mut listener = anyipc::bind(fifo_url(&dir)).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        let mut writer = anyipc::connect(fifo_url(&dir)).await.unwrap();
        let max = anyipc::fifo::MAX_ATOMIC_FRAME - 4;
        let err = writer.send(vec![7u8; max + 1]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("PIPE_BUF"), "{err}");
        // Nothing was written, and the writer still works.
        writer.send(vec![8u8; max]).await.unwrap();
        assert_eq!(reader.next().await.unwrap().unwrap(), vec![8u8; max]);
        writer.send(Bytes::new()).await.unwrap();
        assert_eq!(reader.next().await.unwrap().unwrap(), Bytes::new());
    })
    .await;
}

/// A message over the writer's `max_frame` is `InvalidInput` with `FrameError::SendTooLarge`
/// inside, as on every transport, also when it is over PIPE_BUF too: such a message used to
/// get the PIPE_BUF refusal, with no `FrameError` inside, unlike one of the same writer just
/// over `max_frame`.
#[tokio::test]
async fn a_message_over_max_frame_is_send_too_large_also_over_pipe_buf() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let mut listener = anyipc::bind(fifo_url(&dir)).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        let url = format!("{}?max_frame=100", fifo_url(&dir));
        let mut writer = anyipc::connect(url).await.unwrap();
        for len in [101, anyipc::fifo::MAX_ATOMIC_FRAME + 1] {
            let err = writer.send(vec![7u8; len]).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            let inner = err.get_ref().and_then(|e| e.downcast_ref::<FrameError>());
            let too_large = FrameError::SendTooLarge { len, max: 100 };
            assert_eq!(inner, Some(&too_large), "{err}");
        }
        // Nothing was written, and the writer still works.
        writer.send(vec![8u8; 100]).await.unwrap();
        assert_eq!(reader.next().await.unwrap().unwrap(), vec![8u8; 100]);
    })
    .await;
}

#[tokio::test]
async fn writers_come_and_go_without_ending_the_reader() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let mut listener = anyipc::bind(fifo_url(&dir)).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        for round in 0..3 {
            let mut writer = anyipc::connect(fifo_url(&dir)).await.unwrap();
            writer.send(format!("round {round}")).await.unwrap();
            writer.close().await.unwrap();
            drop(writer);
            assert_eq!(
                reader.next().await.unwrap().unwrap(),
                format!("round {round}")
            );
        }
        // No writer now: the reader waits rather than ending.
        let waited = tokio::time::timeout(Duration::from_millis(200), reader.next()).await;
        assert!(waited.is_err(), "the reader ended or got data: {waited:?}");
        // A FIFO has one reading connection; a second accept waits.
        let second = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(second.is_err(), "a second accept returned");
    })
    .await;
}

#[tokio::test]
async fn the_wrong_direction_is_unsupported() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let mut listener = anyipc::bind(fifo_url(&dir)).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        let mut writer = anyipc::connect(fifo_url(&dir)).await.unwrap();
        assert_eq!(kind(reader.send("no").await), io::ErrorKind::Unsupported);
        assert_eq!(kind(writer.recv().await), io::ErrorKind::Unsupported);
        // Once: then the writer's stream ends, so a loop that logs errors and goes on
        // stops instead of spinning on the refusal for ever.
        assert!(writer.recv().await.unwrap().is_none());
        assert!(writer.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn reader_gone_is_broken_pipe() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let mut listener = anyipc::bind(fifo_url(&dir)).await.unwrap();
        let reader = listener.accept().await.unwrap();
        let mut writer = anyipc::connect(fifo_url(&dir)).await.unwrap();
        writer.send("first").await.unwrap();
        drop(reader);
        drop(listener);
        assert_eq!(kind(writer.send("second").await), io::ErrorKind::BrokenPipe);
        // And the FIFO is gone with its listener.
        assert!(!dir.path().join("f").exists());
    })
    .await;
}

#[tokio::test]
async fn connecting_without_a_reader_is_not_found() {
    let dir = TempDir::new("fifo");
    assert_eq!(
        kind(anyipc::connect(fifo_url(&dir)).await),
        io::ErrorKind::NotFound
    );
    // A FIFO no one reads.
    let path = dir.path().join("f");
    std::process::Command::new("mkfifo")
        .arg(&path)
        .status_bounded();
    assert_eq!(
        kind(anyipc::connect(fifo_url(&dir)).await),
        io::ErrorKind::NotFound
    );
    // Not a FIFO at all.
    std::fs::write(dir.path().join("plain"), b"x").unwrap();
    let url = format!("fifo://{}", dir.join("plain"));
    assert_eq!(
        kind(anyipc::connect(&url).await),
        io::ErrorKind::InvalidInput
    );
}

#[tokio::test]
async fn bind_refuses_files_symlinks_and_live_readers() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let path = dir.path().join("f");
        // A regular file.
        std::fs::write(&path, b"precious").unwrap();
        assert_eq!(
            kind(anyipc::bind(fifo_url(&dir)).await),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        std::fs::remove_file(&path).unwrap();
        // A symlink, even to a FIFO of ours.
        let target = dir.path().join("target");
        std::process::Command::new("mkfifo")
            .arg(&target)
            .status_bounded();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert_eq!(
            kind(anyipc::bind(fifo_url(&dir)).await),
            io::ErrorKind::AlreadyExists
        );
        assert!(std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());
        std::fs::remove_file(&path).unwrap();
        // A live reader.
        let live = anyipc::bind(fifo_url(&dir)).await.unwrap();
        assert_eq!(
            kind(anyipc::bind(fifo_url(&dir)).await),
            io::ErrorKind::AddrInUse
        );
        drop(live);
        // A stale FIFO of ours (no reader) is reclaimed.
        std::process::Command::new("mkfifo")
            .arg(&path)
            .status_bounded();
        let mut listener = anyipc::bind(fifo_url(&dir)).await.unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_fifo());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let mut reader = listener.accept().await.unwrap();
        let mut writer = anyipc::connect(fifo_url(&dir)).await.unwrap();
        writer.send("after reclaim").await.unwrap();
        assert_eq!(reader.next().await.unwrap().unwrap(), "after reclaim");
    })
    .await;
}

/// A stale FIFO is reused, not replaced: a shell writer already blocked opening it while no
/// reader ran is let through by the new reader, and its line arrives. (A replaced FIFO left
/// that writer waiting for ever on a file no reader could reach.)
#[tokio::test]
async fn a_writer_waiting_on_a_stale_fifo_reaches_the_next_reader() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let path = dir.path().join("f");
        assert!(std::process::Command::new("mkfifo")
            .arg(&path)
            .status_bounded()
            .success());
        let mut shell = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!("echo waited > '{}'", path.display()))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = shell.id().unwrap();
        // Until the shell sits in `open`, waiting for a reader (Linux tells where).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
            if wchan.contains("wait_for_partner") || wchan.contains("fifo_open") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the shell never blocked opening the FIFO (wchan {wchan:?})"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let url = format!("{}?framing=lines&recv_timeout=5s", fifo_url(&dir));
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        assert_eq!(reader.next().await.unwrap().unwrap(), "waited");
        let status = tokio::time::timeout(Duration::from_secs(5), shell.wait())
            .await
            .expect("the shell writer still waits")
            .unwrap();
        assert!(status.success());
        let mode = std::fs::symlink_metadata(&path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    })
    .await;
}

/// `mode=` on a FIFO must let its owner read and write: the reader opens it both ways.
#[test]
fn a_fifo_mode_without_owner_read_and_write_is_a_bad_url() {
    for mode in ["0400", "0200", "0444", "0077"] {
        let err = anyipc::Endpoint::parse(&format!("fifo:///tmp/f?mode={mode}")).unwrap_err();
        assert!(
            err.to_string().contains("owner read and write"),
            "{mode}: {err}"
        );
    }
    anyipc::Endpoint::parse("fifo:///tmp/f?mode=0640").unwrap();
}

#[tokio::test]
async fn bind_refuses_a_fifo_of_another_user() {
    let dir = TempDir::new("fifo");
    let path = dir.path().join("f");
    std::process::Command::new("mkfifo")
        .arg(&path)
        .status_bounded();
    if let Err(e) = std::os::unix::fs::chown(&path, Some(65534), Some(65534)) {
        // Only root can give a file away; as another user there is no such FIFO to make.
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        eprintln!("skipped: cannot chown as this user ({e})");
        return;
    }
    assert_eq!(
        kind(anyipc::bind(fifo_url(&dir)).await),
        io::ErrorKind::PermissionDenied
    );
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_fifo());
}

#[tokio::test]
async fn mode_option_and_lines_framing() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let url = format!("{}?mode=0620&framing=lines", fifo_url(&dir));
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mode = std::fs::metadata(dir.path().join("f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o620);
        let mut reader = listener.accept().await.unwrap();
        let mut writer = anyipc::connect(&url).await.unwrap();
        writer.send("one line").await.unwrap();
        assert_eq!(reader.next().await.unwrap().unwrap(), "one line");
    })
    .await;
}

#[tokio::test]
async fn a_writer_in_another_process() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let url = fifo_url(&dir);
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        // The CLI's `send` is a real second process writing length-prefixed frames.
        let status = tokio::process::Command::new(crate::util::anyipc_bin())
            .args(["send", &url, "from another process"])
            .status()
            .await
            .unwrap();
        assert!(status.success());
        assert_eq!(
            reader.next().await.unwrap().unwrap(),
            "from another process"
        );
    })
    .await;
}

/// A frame over the reader's `max_frame`, from a writer in another process whose own limit
/// is larger, costs only itself: the reader reports it once (`InvalidData`, `TooLarge`) and
/// reads on, that writer's next frame and another writer's included.
#[tokio::test]
async fn a_frame_over_the_readers_max_frame_loses_only_itself() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let url = fifo_url(&dir);
        let mut listener = anyipc::bind(&format!("{url}?max_frame=16")).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        let send = |msgs: [&'static str; 2]| {
            let url = url.clone();
            async move {
                let status = tokio::process::Command::new(crate::util::anyipc_bin())
                    .arg("send")
                    .arg(&url)
                    .args(msgs)
                    .status()
                    .await
                    .unwrap();
                assert!(status.success(), "anyipc send {msgs:?}: {status}");
            }
        };
        const LONG: &str = "over sixteen bytes, from a writer allowed more";
        send([LONG, "a: next"]).await;
        send(["b: after", "b: last"]).await;
        let err = reader.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        let inner = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<anyipc::codec::FrameError>());
        assert_eq!(
            inner,
            Some(&anyipc::codec::FrameError::TooLarge {
                len: LONG.len() as u64,
                max: 16
            })
        );
        assert_eq!(reader.next().await.unwrap().unwrap(), "a: next");
        assert_eq!(reader.next().await.unwrap().unwrap(), "b: after");
        assert_eq!(reader.next().await.unwrap().unwrap(), "b: last");
        // A length no writer can send (over PIPE_BUF) is not a frame: the stream ends.
        let mut raw = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("f"))
            .unwrap();
        std::io::Write::write_all(&mut raw, &[0, 1, 0, 0, b'x']).unwrap();
        let err = reader.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(
            reader.next().await.is_none(),
            "read on after a length over PIPE_BUF"
        );
    })
    .await;
}

#[tokio::test]
async fn a_reader_that_does_not_read_holds_writers_back() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let mut listener = anyipc::bind(fifo_url(&dir)).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        let mut writer = anyipc::connect(fifo_url(&dir)).await.unwrap();
        let msg = Bytes::from(vec![3u8; 4000]);
        let mut sent = 0u32;
        loop {
            match tokio::time::timeout(Duration::from_millis(300), writer.send(msg.clone())).await {
                Ok(result) => result.unwrap(),
                Err(_) => break,
            }
            sent += 1;
            assert!(sent < 100_000, "400 MB went into a FIFO no one reads");
        }
        // Once the reader reads, everything accepted arrives whole.
        for _ in 0..sent {
            assert_eq!(reader.next().await.unwrap().unwrap(), msg);
        }
    })
    .await;
}

#[tokio::test]
async fn recv_timeout_on_the_reader() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let url = format!("{}?recv_timeout=100ms", fifo_url(&dir));
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        let started = std::time::Instant::now();
        assert_eq!(kind(reader.recv().await), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(100));
    })
    .await;
}

#[tokio::test]
async fn fifo_example_pair() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let path = dir.join("example.fifo");
        let mut reader =
            crate::pipe::start_example_server("fifo_reader", &[&path, "--count", "2"]).await;
        let writer = crate::util::run_example("fifo_writer", &[&path, "first", "second"]).await;
        assert!(writer.contains("client: done"), "{writer}");
        assert!(reader.wait().await.unwrap().success());
    })
    .await;
}

#[tokio::test]
async fn fed_frames_are_batched_until_flush() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let mut listener = anyipc::bind(fifo_url(&dir)).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        let mut writer = anyipc::connect(fifo_url(&dir)).await.unwrap();
        for i in 0..3 {
            writer
                .feed(Bytes::from(format!("batched {i}")))
                .await
                .unwrap();
        }
        let early = tokio::time::timeout(Duration::from_millis(200), reader.next()).await;
        assert!(
            early.is_err(),
            "a fed frame was written before flush: {early:?}"
        );
        writer.flush().await.unwrap();
        for i in 0..3 {
            assert_eq!(
                reader.next().await.unwrap().unwrap(),
                format!("batched {i}")
            );
        }
        // Closing flushes too.
        writer.feed(Bytes::from_static(b"last")).await.unwrap();
        writer.close().await.unwrap();
        assert_eq!(reader.next().await.unwrap().unwrap(), "last");
        assert_eq!(
            kind(writer.send("after close").await),
            io::ErrorKind::BrokenPipe
        );
    })
    .await;
}

/// What one of two racing binders got in one round: `Ok` or the error's kind.
type BindOutcome = Result<(), io::ErrorKind>;

/// Two threads bind the same path (`url_of(round)`, a fresh one each round) at the same
/// moment, `rounds` times; in each round exactly one must win and the other get `AddrInUse`,
/// and a message sent to the URL afterwards must reach the winner's first accepted
/// connection. `setup(round)` prepares the path before the round (for example leaves a stale
/// FIFO or a dead server's socket there). Shared with `pipe.rs`'s `unix://` races.
///
/// Returns the first round that went wrong, described, or `None`.
pub(crate) fn race_two_binders(
    rounds: u32,
    url_of: impl Fn(u32) -> String + Send + Sync + 'static,
    setup: impl Fn(u32) + Send + Sync + 'static,
) -> Option<String> {
    use std::sync::{Arc, Barrier, Mutex};
    struct Shared {
        start: Barrier,
        bound: Barrier,
        checked: Barrier,
        outcomes: Mutex<Vec<[Option<BindOutcome>; 2]>>,
        failure: Mutex<Option<String>>,
    }
    let shared = Arc::new(Shared {
        start: Barrier::new(2),
        bound: Barrier::new(2),
        checked: Barrier::new(2),
        outcomes: Mutex::new(vec![[None, None]; rounds as usize]),
        failure: Mutex::new(None),
    });
    let url_of = Arc::new(url_of);
    let setup = Arc::new(setup);
    let threads: Vec<_> = (0..2usize)
        .map(|me| {
            let shared = Arc::clone(&shared);
            let url_of = Arc::clone(&url_of);
            let setup = Arc::clone(&setup);
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                for round in 0..rounds {
                    let url = url_of(round);
                    if me == 0 {
                        setup(round);
                    }
                    shared.start.wait();
                    let result = runtime.block_on(anyipc::bind(&url));
                    shared.outcomes.lock().unwrap()[round as usize][me] =
                        Some(result.as_ref().map(|_| ()).map_err(io::Error::kind));
                    shared.bound.wait();
                    let both = shared.outcomes.lock().unwrap()[round as usize];
                    let oks = both.iter().filter(|o| matches!(o, Some(Ok(())))).count();
                    let in_use = both
                        .iter()
                        .filter(|o| matches!(o, Some(Err(io::ErrorKind::AddrInUse))))
                        .count();
                    if (oks, in_use) != (1, 1) {
                        // Both threads see the same outcomes and stop together.
                        if me == 0 {
                            *shared.failure.lock().unwrap() = Some(format!(
                                "round {round}: the two binds returned {both:?}, not one Ok \
                                 and one AddrInUse"
                            ));
                        }
                        return;
                    }
                    if let Ok(mut listener) = result {
                        let delivered = runtime.block_on(async {
                            tokio::time::timeout(Duration::from_secs(5), async {
                                // Connect first: a socket's accept waits for it, while a
                                // FIFO's reader (the first accept) is open from the bind.
                                let mut writer = anyipc::connect(&url).await?;
                                writer.send(format!("round {round}")).await?;
                                loop {
                                    let mut reader = listener.accept().await?;
                                    // A socket's loser probed the winner with a connection
                                    // of its own, which ends at once: skip it.
                                    if let Some(msg) = reader.next().await {
                                        break Ok::<_, io::Error>(msg?);
                                    }
                                }
                            })
                            .await
                        });
                        let wanted = format!("round {round}");
                        let problem = match delivered {
                            Ok(Ok(msg)) if msg == wanted.as_bytes() => None,
                            other => Some(format!(
                                "round {round}: the winner's reader did not get the message \
                                 written to the path: {other:?}"
                            )),
                        };
                        if problem.is_some() {
                            *shared.failure.lock().unwrap() = problem;
                        }
                    }
                    shared.checked.wait();
                    if shared.failure.lock().unwrap().is_some() {
                        return;
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a racing binder panicked");
    }
    let failure = shared.failure.lock().unwrap().take();
    failure
}

#[test]
fn two_binders_racing_for_one_path_give_one_reader() {
    let dir = std::sync::Arc::new(TempDir::new("fifo-race"));
    let urls = std::sync::Arc::clone(&dir);
    // Before binds were serialised, one round in a few hundred went wrong (both Ok, or both
    // NotFound after each removed the other's FIFO).
    let failure = race_two_binders(
        2000,
        move |round| format!("fifo://{}", urls.join(&format!("f{round}"))),
        |_| {},
    );
    assert!(failure.is_none(), "{}", failure.unwrap());
}

#[test]
fn two_binders_racing_for_a_stale_fifo_give_one_reader() {
    let dir = std::sync::Arc::new(TempDir::new("fifo-race"));
    let urls = std::sync::Arc::clone(&dir);
    let stale = std::sync::Arc::clone(&dir);
    let failure = race_two_binders(
        500,
        move |round| format!("fifo://{}", urls.join(&format!("f{round}"))),
        move |round| {
            // A FIFO of ours that no one reads: both binders may reclaim it, one may win.
            let status = std::process::Command::new("mkfifo")
                .arg(stale.path().join(format!("f{round}")))
                .status_bounded();
            assert!(status.success());
        },
    );
    assert!(failure.is_none(), "{}", failure.unwrap());
}

#[tokio::test]
async fn dropping_a_listener_leaves_a_fifo_that_replaced_its_own() {
    watchdog(60, async {
        let dir = TempDir::new("fifo");
        let path = dir.path().join("f");
        let mut listener = anyipc::bind(fifo_url(&dir)).await.unwrap();
        let reader = listener.accept().await.unwrap();
        // Our FIFO moves away and another takes the path (as a later binder's would).
        std::fs::rename(&path, dir.path().join("moved")).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status_bounded();
        assert!(status.success());
        drop(reader);
        drop(listener);
        assert!(std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_fifo());
        // Its own FIFO, wherever it is now, is not followed there.
        assert!(dir.path().join("moved").exists());
    })
    .await;
}
