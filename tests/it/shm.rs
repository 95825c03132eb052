//! `shm://` beyond the conformance suite: a hostile peer scribbling over the control words,
//! truncation, SIGKILL at random points, name reclaim, cleanup, split halves, busy-poll.
//!
//! Cross-process cases start this test binary again with a role (`shm_helper_entry`), so the
//! peer is a real process that can be killed with SIGKILL at any moment.

use crate::bounded::RunBounded;
use crate::util::{example, run_example, unique_name, watchdog, HelperChild, Names};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::io;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const ROLE_VAR: &str = "ANYIPC_SHM_ROLE";
const ARG_VAR: &str = "ANYIPC_SHM_ARG";
const READY: &str = "shm-helper-ready";

fn url(name: &str) -> String {
    format!("shm://{name}")
}

/// Message `seq` of a deterministic stream: its length and every byte follow from `seq`.
fn pattern(seq: u64) -> Bytes {
    let len = 8 + (seq.wrapping_mul(2_654_435_761) % 9000) as usize;
    let mut msg = seq.to_be_bytes().to_vec();
    msg.extend((8..len).map(|i| (seq as usize).wrapping_mul(31).wrapping_add(i) as u8));
    Bytes::from(msg)
}

/// A small xorshift generator: the tests need no crate for randomness.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng(nanos ^ u64::from(std::process::id()) << 32 | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Starts this binary again in `role`, and waits until it says it is ready. Killed when
/// dropped; then the `echo_server`'s name is reclaimed and removed ([`Names`]).
pub(crate) async fn spawn_helper(role: &str, arg: &str) -> HelperChild {
    let exe = std::env::current_exe().expect("test binary path");
    let child = Command::new(exe)
        .args([
            "shm::shm_helper_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE_VAR, role)
        .env(ARG_VAR, arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn helper");
    let bound = match role {
        "echo_server" => Names::of([arg]),
        _ => Names::none(),
    };
    let pid = child.id().expect("a helper just started has a pid");
    let mut child = HelperChild::new(child, bound);
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let ready = async {
        loop {
            match lines.next_line().await.expect("helper stderr") {
                Some(line) if line == READY => break,
                Some(line) => eprintln!("helper {role}: {line}"),
                None => panic!("helper {role} exited before it was ready"),
            }
        }
    };
    let limit = crate::bounded::ready_limit();
    if tokio::time::timeout(limit, ready).await.is_err() {
        panic!(
            "helper {role} not ready within {limit:?}; it is {}",
            crate::bounded::process_state(pid)
        );
    }
    let role = role.to_owned();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("helper {role}: {line}");
        }
    });
    child
}

/// The helpers' body; a no-op in an ordinary test run.
#[test]
fn shm_helper_entry() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let arg = std::env::var(ARG_VAR).unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let work = async {
            match role.as_str() {
                "echo_server" => echo_server(&arg).await,
                "echo_client" => echo_client(&arg).await,
                "pattern_client" => pattern_client(&arg).await,
                "mixed_sender" => mixed_sender(&arg).await,
                "chaos" => chaos(&arg).await,
                "region_owner" => region_owner(&arg).await,
                "sigbus_outside_a_region" => sigbus_outside_a_region(&arg),
                other => panic!("unknown role {other}"),
            }
        };
        // A helper whose parent died without killing it still goes away.
        let _ = tokio::time::timeout(Duration::from_secs(60), work).await;
    });
    std::process::exit(0);
}

async fn echo_server(url: &str) {
    let mut listener = anyipc::bind(url).await.expect("helper bind");
    eprintln!("{READY}");
    loop {
        let mut conn = listener.accept().await.expect("helper accept");
        tokio::spawn(async move {
            while let Some(Ok(msg)) = conn.next().await {
                if conn.send(msg).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Ping-pong with checked echoes and, now and then, a pause long enough to park.
async fn echo_client(url: &str) {
    let mut conn = anyipc::connect(url).await.expect("helper connect");
    eprintln!("{READY}");
    let mut rng = Rng::seeded();
    for seq in 0.. {
        let msg = pattern(seq);
        conn.send(msg.clone()).await.expect("helper send");
        let echo = conn.next().await.expect("echo").expect("echo");
        assert_eq!(echo, msg, "helper: wrong echo");
        if rng.below(8) == 0 {
            tokio::time::sleep(Duration::from_micros(rng.below(2000))).await;
        }
    }
}

async fn pattern_client(url: &str) {
    let mut conn = anyipc::connect(url).await.expect("helper connect");
    eprintln!("{READY}");
    for seq in 0.. {
        if conn.send(pattern(seq)).await.is_err() {
            return;
        }
    }
}

/// Message `seq` of [`mixed_sender`]'s stream: mostly small (copied straight into the
/// ring), now and then one of 32 KiB or more (written from its own memory) or one about the
/// size of the test's 8 KiB ring.
fn mixed(seq: u64) -> Bytes {
    let len = match seq % 97 {
        0 => 32 * 1024 + (seq % 3000) as usize,
        1 => 8192 - 4 - (seq % 2) as usize,
        _ => 8 + (seq.wrapping_mul(2_654_435_761) % 300) as usize,
    };
    let mut msg = seq.to_be_bytes().to_vec();
    msg.extend((8..len).map(|i| (seq as usize).wrapping_mul(31).wrapping_add(i) as u8));
    Bytes::from(msg)
}

const MIXED_COUNT: u64 = 20_000;

/// Sends `MIXED_COUNT` messages of [`mixed`] with every way of sending mixed: runs of
/// `feed` without a flush (longer than the ring and the 64 KiB write batch), single
/// `send`s, and `send_many` batches; then closes.
async fn mixed_sender(url: &str) {
    let mut conn = anyipc::connect(url).await.expect("helper connect");
    eprintln!("{READY}");
    let mut seq = 0;
    while seq < MIXED_COUNT {
        let run = (1 + seq % 700).min(MIXED_COUNT - seq);
        match seq % 3 {
            0 => {
                for s in seq..seq + run {
                    conn.feed(mixed(s)).await.expect("helper feed");
                }
                conn.flush().await.expect("helper flush");
            }
            1 => {
                for s in seq..seq + run {
                    conn.send(mixed(s)).await.expect("helper send");
                }
            }
            _ => {
                let batch: Vec<Bytes> = (seq..seq + run).map(mixed).collect();
                conn.send_many(&batch).await.expect("helper send_many");
            }
        }
        seq += run;
    }
    conn.close().await.expect("helper close");
}

/// Writes random values over the header and control words of every shm segment of process
/// `pid`, found under /proc/<pid>/fd, until killed.
async fn chaos(pid: &str) {
    use std::os::unix::fs::FileExt;
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let path = entry.unwrap().path();
        let Ok(target) = std::fs::read_link(&path) else {
            continue;
        };
        if target.to_string_lossy().contains("memfd:anyipc-shm") {
            segments.push(
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .unwrap(),
            );
        }
    }
    assert!(!segments.is_empty(), "no shm segment in process {pid}");
    eprintln!("{READY}");
    // The header, and the index and parked words of both rings (layout in src/shm.rs).
    const WORDS: &[u64] = &[0, 8, 16, 24, 32, 64, 72, 128, 136, 192, 200, 256, 264];
    let mut rng = Rng::seeded();
    loop {
        for file in &segments {
            let offset = if rng.below(4) == 0 {
                rng.below(4096 - 8)
            } else {
                WORDS[rng.below(WORDS.len() as u64) as usize]
            };
            // pwrite into the shared memory: the same bytes a store through a mapping makes.
            let _ = file.write_at(&rng.next().to_le_bytes(), offset);
        }
        tokio::time::sleep(Duration::from_micros(200 + rng.below(800))).await;
    }
}

/// Creates region `name`, writes a message into it, and waits for a signal before it exits
/// (dropping, so removing, the region).
async fn region_owner(name: &str) {
    let region = anyipc::shm::Region::create(name, 4096).expect("helper create region");
    region.write(0, b"hello from the owner").unwrap();
    let seen = region.signals();
    eprintln!("{READY}");
    region
        .wait_after(seen, Duration::from_secs(30))
        .await
        .expect("helper: no signal");
    region.write(100, b"bye").unwrap();
}

/// Uses a region (which installs its SIGBUS handler), then touches a page of another mapping
/// whose file it shrank: that fault is not the region's, so the process must die of it.
fn sigbus_outside_a_region(name: &str) {
    let region = anyipc::shm::Region::create(name, 4096).expect("helper create region");
    region.write(0, b"handler installed").unwrap();
    let path = std::env::temp_dir().join(format!("anyipc-sigbus-{}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.set_len(4096).unwrap();
    let map = memmap2::MmapOptions::new()
        .len(4096)
        .map_raw(&file)
        .unwrap();
    file.set_len(0).unwrap();
    std::fs::remove_file(&path).unwrap();
    eprintln!("{READY}");
    // SAFETY: the pointer is inside a live mapping; reading it faults (the file is empty),
    // which is what this helper is for.
    let byte = unsafe { std::ptr::read_volatile(map.as_ptr()) };
    eprintln!("read {byte} from a page the file no longer has");
}

/// Kills `child` and waits until it is gone.
async fn kill(child: &mut HelperChild) {
    child.kill().await.expect("kill helper");
}

fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
    )
}

#[tokio::test]
async fn many_clients_at_once() {
    watchdog(60, async {
        let url = url(&unique_name("shm-many"));
        let mut listener = anyipc::bind(&url).await.unwrap();
        tokio::spawn(async move {
            while let Ok(mut conn) = listener.accept().await {
                tokio::spawn(async move {
                    while let Some(Ok(msg)) = conn.next().await {
                        let _ = conn.send(msg).await;
                    }
                });
            }
        });
        let clients: Vec<_> = (0..40)
            .map(|c| {
                let url = url.clone();
                tokio::spawn(async move {
                    let mut conn = anyipc::connect(&url).await.unwrap();
                    for seq in 0..50u64 {
                        let msg = pattern(seq * 40 + c);
                        conn.send(msg.clone()).await.unwrap();
                        assert_eq!(conn.next().await.unwrap().unwrap(), msg);
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
    })
    .await;
}

/// Both halves of a split connection in different tasks, with rings so small that every
/// side parks for space and for data over and over: no wake-up may be lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_park_and_wake() {
    watchdog(60, async {
        let url = url(&unique_name("shm-split")) + "?capacity=4KiB";
        let mut listener = anyipc::bind(&url).await.unwrap();
        let client = anyipc::connect(&url).await.unwrap();
        let server = listener.accept().await.unwrap();
        let (mut server_tx, mut server_rx) = server.split();
        let (mut client_tx, mut client_rx) = client.split();
        const N: u64 = 400;
        let tasks = vec![
            tokio::spawn(async move {
                for seq in 0..N {
                    client_tx.send(pattern(seq)).await.unwrap();
                }
            }),
            tokio::spawn(async move {
                for seq in 0..N {
                    server_tx.send(pattern(seq + N)).await.unwrap();
                }
            }),
            tokio::spawn(async move {
                for seq in 0..N {
                    assert_eq!(server_rx.next().await.unwrap().unwrap(), pattern(seq));
                }
            }),
            tokio::spawn(async move {
                for seq in 0..N {
                    assert_eq!(client_rx.next().await.unwrap().unwrap(), pattern(seq + N));
                }
            }),
        ];
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;
}

/// Busy-polling sides never park; with both in one process they need two worker threads
/// (a spinning poll yields between spins, but on one thread each round trip would cost a
/// spin slice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_poll_round_trips() {
    watchdog(60, async {
        let url = url(&unique_name("shm-busy")) + "?busy_poll=true";
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut client = anyipc::connect(&url).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        let echo = tokio::spawn(async move {
            while let Some(Ok(msg)) = server.next().await {
                server.send(msg).await.unwrap();
            }
        });
        for seq in 0..300 {
            client.send(pattern(seq)).await.unwrap();
            assert_eq!(client.next().await.unwrap().unwrap(), pattern(seq));
        }
        drop(client);
        echo.await.unwrap();
    })
    .await;
}

/// The memory of a connection is sealed: resizing it fails, and traffic goes on.
#[tokio::test]
async fn truncation_is_refused() {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    watchdog(30, async {
        let url = url(&unique_name("shm-trunc"));
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut client = anyipc::connect(&url).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        let mut found = 0;
        for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
            let path = entry.unwrap().path();
            let Ok(target) = std::fs::read_link(&path) else {
                continue;
            };
            if !target.to_string_lossy().contains("memfd:anyipc-shm") {
                continue;
            }
            // Tests running beside this one open and close descriptors meanwhile: one seen
            // here may be closed (NotFound) or its number taken by another file before the
            // open, so the opened file is checked again (non-blocking: never wait on a FIFO).
            let Ok(file) = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
            else {
                continue;
            };
            let opened = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()));
            if !opened.is_ok_and(|t| t.to_string_lossy().contains("memfd:anyipc-shm")) {
                continue;
            }
            let len = file.metadata().unwrap().len();
            for new_len in [0, len / 2, len + 4096] {
                let err = file.set_len(new_len).unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
            }
            found += 1;
        }
        assert!(found >= 2, "expected both ends' segments, found {found}");
        client
            .send(Bytes::from_static(b"still fine"))
            .await
            .unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), "still fine");
    })
    .await;
}

/// A live listener's name is never taken; a killed one's is reclaimed; nothing is left in
/// /dev/shm either way.
#[tokio::test]
async fn name_is_reclaimed_after_the_owner_is_killed() {
    watchdog(60, async {
        let name = unique_name("shm-reclaim");
        let mut server = spawn_helper("echo_server", &url(&name)).await;
        let err = anyipc::bind(url(&name)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        let mut conn = anyipc::connect(url(&name)).await.unwrap();
        conn.send(Bytes::from_static(b"hi")).await.unwrap();
        assert_eq!(conn.next().await.unwrap().unwrap(), "hi");
        kill(&mut server).await;
        let mut listener = anyipc::bind(url(&name))
            .await
            .expect("reclaim a dead owner's name");
        let mut client = anyipc::connect(url(&name)).await.unwrap();
        let mut accepted = listener.accept().await.unwrap();
        client.send(Bytes::from_static(b"again")).await.unwrap();
        assert_eq!(accepted.next().await.unwrap().unwrap(), "again");
        drop((listener, client, accepted));
        let err = anyipc::connect(url(&name)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        assert_nothing_in_dev_shm(&name);
    })
    .await;
}

fn assert_nothing_in_dev_shm(name: &str) {
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return;
    };
    for entry in entries {
        let file_name = entry.unwrap().file_name();
        let file_name = file_name.to_string_lossy();
        assert!(
            !file_name.contains(name) && !file_name.contains("anyipc-shm"),
            "left in /dev/shm: {file_name}"
        );
    }
}

/// How many kill rounds: 200 by default, `ANYIPC_SHM_KILL_ROUNDS` for more.
fn kill_rounds() -> u64 {
    std::env::var("ANYIPC_SHM_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// SIGKILL a peer at a random point of checked traffic (busy spinning, parked, mid-frame,
/// inside the wake-up path): the survivor sees the end within 1 s, and every message it got
/// before was whole and right. Rounds alternate which side dies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_killed_at_random_points() {
    let rounds = kill_rounds();
    watchdog(60 + rounds, async {
        let mut rng = Rng::seeded();
        let name = unique_name("shm-kill");
        for round in 0..rounds {
            let capacity = [4096, 65536][rng.below(2) as usize];
            let url = format!("shm://{name}?capacity={capacity}");
            let delay = Duration::from_micros(rng.below(20_000));
            if round % 2 == 0 {
                kill_server_round(&url, delay).await;
            } else {
                kill_client_round(&url, delay).await;
            }
        }
        assert_nothing_in_dev_shm(&name);
    })
    .await;
}

/// The child is the echo server; this process checks the echoes until the child dies.
async fn kill_server_round(url: &str, delay: Duration) {
    let mut child = spawn_helper("echo_server", url).await;
    let mut conn = anyipc::connect(url).await.unwrap();
    let traffic = tokio::spawn(async move {
        for seq in 0.. {
            let msg = pattern(seq);
            if let Err(e) = conn.send(msg.clone()).await {
                assert!(is_peer_gone(&e), "send: {e}");
                return;
            }
            match conn.next().await {
                Some(Ok(echo)) => assert_eq!(echo, msg, "torn or wrong echo"),
                Some(Err(e)) => {
                    assert!(is_peer_gone(&e), "recv: {e}");
                    return;
                }
                None => return,
            }
        }
    });
    tokio::time::sleep(delay).await;
    kill(&mut child).await;
    tokio::time::timeout(Duration::from_secs(1), traffic)
        .await
        .unwrap_or_else(|_| panic!("no end of stream within 1 s of the kill ({url})"))
        .unwrap();
}

/// The child is the client; this process echoes until the child dies.
async fn kill_client_round(url: &str, delay: Duration) {
    let mut listener = anyipc::bind(url).await.unwrap();
    let mut child = spawn_helper("echo_client", url).await;
    let mut conn = listener.accept().await.unwrap();
    let echo = tokio::spawn(async move {
        loop {
            match conn.next().await {
                Some(Ok(msg)) => {
                    let seq = u64::from_be_bytes(msg[..8].try_into().unwrap());
                    assert_eq!(msg, pattern(seq), "torn or wrong message");
                    if let Err(e) = conn.send(msg).await {
                        assert!(is_peer_gone(&e), "send: {e}");
                        return;
                    }
                }
                Some(Err(e)) => {
                    assert!(is_peer_gone(&e), "recv: {e}");
                    return;
                }
                None => return,
            }
        }
    });
    tokio::time::sleep(delay).await;
    kill(&mut child).await;
    tokio::time::timeout(Duration::from_secs(1), echo)
        .await
        .unwrap_or_else(|_| panic!("no end of stream within 1 s of the kill ({url})"))
        .unwrap();
}

/// A send after this side's own `close` is `BrokenPipe` that says so, not one that blames
/// the peer ("the peer closed or went away", as it said); the peer still reads the end.
#[tokio::test]
async fn a_send_after_closing_says_this_side_closed() {
    watchdog(30, async {
        let url = url(&unique_name("shm-own-close"));
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut client = anyipc::connect(&url).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        client.send("last").await.unwrap();
        client.close().await.unwrap();
        // Small (staged straight into the ring when it has room), then large (40 KiB,
        // written from its own memory).
        for msg in [
            Bytes::from_static(b"small"),
            Bytes::from(vec![7u8; 40 << 10]),
        ] {
            let err = client.send(msg).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
            assert!(err.to_string().contains("this side"), "{err}");
        }
        assert_eq!(server.recv().await.unwrap().unwrap(), "last");
        assert!(server.recv().await.unwrap().is_none());
    })
    .await;
}

/// A side that only writes learns that its killed peer is gone at its next write, with its
/// ring far from full (it used to be told only once the ring had filled up: minutes or hours
/// for a slow writer).
#[tokio::test]
async fn a_write_only_survivor_gets_broken_pipe_within_a_second() {
    watchdog(30, async {
        let url = url(&unique_name("shm-write-only"));
        let mut child = spawn_helper("echo_server", &url).await;
        let mut conn = anyipc::connect(&url).await.unwrap();
        // Traffic first, so the connection is surely up before the kill.
        conn.send(pattern(0)).await.unwrap();
        let echo = conn.next().await.unwrap().unwrap();
        assert_eq!(echo, pattern(0));
        kill(&mut child).await;
        let killed = std::time::Instant::now();
        let msg = Bytes::from_static(&[7; 100]);
        let err = loop {
            // 100 bytes every 10 ms: 10 KB/s fill a 1 MiB ring in about 100 s.
            match conn.send(msg.clone()).await {
                Ok(()) => {
                    assert!(
                        killed.elapsed() < Duration::from_secs(1),
                        "writes still succeed 1 s after the peer was killed"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
    })
    .await;
}

/// A third process writes random values over the header, indices and parked words (found
/// through the writer's /proc/<pid>/fd) while a client streams checked messages: this process
/// gets right messages, then `InvalidData` or the end of the stream, never wrong bytes, a
/// crash or a hang.
#[tokio::test]
async fn chaos_over_the_control_words() {
    watchdog(90, async {
        let mut outcomes = Vec::new();
        // Which side notices the damage first is a race: go on until this side has caught it
        // at least once (and at least 4 rounds), at most 20 rounds.
        while outcomes.len() < 20
            && (outcomes.len() < 4
                || !outcomes
                    .iter()
                    .any(|(_, kind)| *kind == io::ErrorKind::InvalidData))
        {
            let url = url(&unique_name("shm-chaos"));
            let mut listener = anyipc::bind(&url).await.unwrap();
            let writer = spawn_helper("pattern_client", &url).await;
            let mut conn = listener.accept().await.unwrap();
            // The writer process holds exactly this connection's segment (it created it); attacking
            // it there leaves the other tests of this process alone.
            let writer_pid = writer.id().expect("writer pid").to_string();
            let chaos = spawn_helper("chaos", &writer_pid).await;
            let mut seq = 0u64;
            let outcome = loop {
                match conn.next().await {
                    Some(Ok(msg)) => {
                        assert_eq!(msg, pattern(seq), "message {seq} is not what was sent");
                        seq += 1;
                    }
                    Some(Err(e)) => break e.kind(),
                    None => break io::ErrorKind::UnexpectedEof,
                }
            };
            assert!(
                matches!(
                    outcome,
                    io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
                ),
                "{outcome:?}"
            );
            outcomes.push((seq, outcome));
            drop(chaos);
        }
        eprintln!("chaos outcomes (messages checked, end): {outcomes:?}");
        assert!(
            outcomes
                .iter()
                .any(|(_, kind)| *kind == io::ErrorKind::InvalidData),
            "chaos never caught on this side: {outcomes:?}"
        );
    })
    .await;
}

/// Small messages go straight into the ring, large ones from their own memory, and a full
/// ring sends the rest through the write buffer: however a peer process mixes them (runs of
/// `feed`, single sends, batches, over a ring smaller than some messages), every message
/// arrives once, whole and in order, and the end of the stream follows the last. The
/// receiver pauses now and then, so the ring fills and the sender waits.
#[tokio::test]
async fn mixed_sends_from_another_process_arrive_whole_and_in_order() {
    watchdog(120, async {
        let url = format!("{}?capacity=8192", url(&unique_name("shm-mixed")));
        let mut listener = anyipc::bind(&url).await.unwrap();
        let _sender = spawn_helper("mixed_sender", &url).await;
        let mut conn = listener.accept().await.unwrap();
        let mut rng = Rng::seeded();
        for seq in 0..MIXED_COUNT {
            let msg = conn.next().await.expect("stream ended early").unwrap();
            let first = msg
                .get(..8)
                .map(|seq| u64::from_be_bytes(seq.try_into().unwrap()));
            assert!(
                msg == mixed(seq),
                "message {seq}: {} bytes, numbered {first:?}",
                msg.len()
            );
            if rng.below(500) == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        assert!(conn.next().await.is_none(), "more than was sent");
    })
    .await;
}

/// A ring filled exactly by staged messages (64 frames of 64 bytes in a 4 KiB ring), then
/// one more that must wait for room: the sender hands over what it staged before it waits,
/// or each side would wait for the other for ever.
#[tokio::test]
async fn a_ring_full_of_staged_messages_is_handed_over_before_the_sender_waits() {
    watchdog(30, async {
        let url = format!("{}?capacity=4096", url(&unique_name("shm-staged-full")));
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut client = anyipc::connect(&url).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        let reader = tokio::spawn(async move {
            for i in 0..65u8 {
                let msg = server.next().await.expect("stream ended early").unwrap();
                assert_eq!(msg, vec![i; 60], "message {i}");
            }
        });
        for i in 0..65u8 {
            client.feed(Bytes::from(vec![i; 60])).await.unwrap();
        }
        tokio::time::timeout(Duration::from_secs(5), client.flush())
            .await
            .expect("the flush waited for room that only its own staged messages held")
            .unwrap();
        reader.await.unwrap();
    })
    .await;
}

pub(crate) fn region_file(name: &str) -> std::path::PathBuf {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    std::path::PathBuf::from(format!("/dev/shm/anyipc-region-{uid}-{name}"))
}

/// Removes these regions' files from /dev/shm when dropped, even when the test fails: for a
/// region kept past its creator (`keep`) or a file the test put there itself, which nothing
/// else would ever remove.
pub(crate) struct RegionFiles(pub(crate) Vec<String>);

impl Drop for RegionFiles {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = std::fs::remove_file(region_file(name));
        }
    }
}

/// The classic pair: one process creates and writes, another opens by name, reads, signals.
#[tokio::test]
async fn region_between_processes() {
    watchdog(30, async {
        let name = unique_name("region-pair");
        let mut owner = spawn_helper("region_owner", &name).await;
        let err = anyipc::shm::Region::create(&name, 4096).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
        let region = anyipc::shm::Region::open(&name).unwrap();
        assert_eq!(region.len(), 4096);
        let mut buf = [0u8; 20];
        region.read(0, &mut buf).unwrap();
        assert_eq!(&buf, b"hello from the owner");
        let seen = region.signals();
        region.signal();
        // The owner answers by writing, then exits and removes the region.
        assert!(owner.wait().await.unwrap().success());
        assert_ne!(region.signals(), seen);
        let mut bye = [0u8; 3];
        region.read(100, &mut bye).unwrap();
        assert_eq!(&bye, b"bye");
        assert!(!region_file(&name).exists());
        let err = anyipc::shm::Region::open(&name).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    })
    .await;
}

/// A killed creator's region is gone from /dev/shm after the next create anywhere, and its
/// name is free; a kept one stays until its name is created again.
#[tokio::test]
async fn region_of_a_killed_creator_is_reclaimed() {
    watchdog(30, async {
        let name = unique_name("region-killed");
        let mut owner = spawn_helper("region_owner", &name).await;
        kill(&mut owner).await;
        // The killed creator left its region, unless a create in another test (or test
        // process) has swept it already: not asserted, as that would be a race.
        let other = anyipc::shm::Region::create(&unique_name("region-other"), 64).unwrap();
        assert!(
            !region_file(&name).exists(),
            "a dead creator's region was left"
        );
        drop(other);
        let mut kept = anyipc::shm::Region::create(&name, 64).unwrap();
        kept.write(0, b"kept").unwrap();
        let _kept_file = RegionFiles(vec![name.clone()]);
        kept.keep();
        drop(kept);
        let _sweeper = anyipc::shm::Region::create(&unique_name("region-other"), 64).unwrap();
        let reopened = anyipc::shm::Region::open(&name).unwrap();
        let mut buf = [0u8; 4];
        reopened.read(0, &mut buf).unwrap();
        assert_eq!(&buf, b"kept");
        let replaced = anyipc::shm::Region::create(&name, 128).unwrap();
        assert_eq!(replaced.len(), 128);
    })
    .await;
}

#[tokio::test]
async fn region_errors() {
    watchdog(30, async {
        use anyipc::shm::Region;
        let name = unique_name("region-errors");
        assert_eq!(
            Region::open(&name).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            Region::create("../x", 64).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            Region::create(&name, 0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let region = Region::create(&name, 64).unwrap();
        let err = region.write(60, b"12345").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            Region::open_sized(&name, 65).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let err = region.wait(Duration::from_millis(20)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // A signal that came before `wait_after` is not missed.
        let seen = region.signals();
        region.signal();
        region
            .wait_after(seen, Duration::from_secs(5))
            .await
            .unwrap();
        // Another layout version; then a file whose size disagrees with its header.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(region_file(&name))
            .unwrap();
        use std::os::unix::fs::FileExt;
        file.write_all_at(&99u32.to_le_bytes(), 8).unwrap();
        assert_eq!(
            Region::open(&name).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        file.write_all_at(&1u32.to_le_bytes(), 8).unwrap();
        Region::open(&name).unwrap();
        file.set_len(64 + 32).unwrap();
        assert_eq!(
            Region::open(&name).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        file.set_len(64 + 64).unwrap();
        // A symlink in its place is refused.
        let link_name = unique_name("region-link");
        let _link = RegionFiles(vec![link_name.clone()]);
        std::os::unix::fs::symlink(region_file(&name), region_file(&link_name)).unwrap();
        let err = Region::open(&link_name).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    })
    .await;
}

/// A kept region's creator dropped just after one of its waits was cancelled (whose blocking
/// thread holds the mapping for up to 100 ms more) is gone at once: the listing says kept, and
/// the name can be created again. (The lock stayed with the mapping: `AlreadyExists`, "a live
/// process created it", from a process whose creator was dropped.)
#[tokio::test]
async fn a_kept_region_is_free_at_once_when_its_creator_drops_after_a_cancelled_wait() {
    use anyipc::shm::{Region, RegionState};
    watchdog(30, async {
        let name = unique_name("region-kept-cancelled");
        let _files = RegionFiles(vec![name.clone()]);
        let mut creator = Region::create(&name, 8).unwrap();
        creator.keep();
        {
            let wait = creator.wait(Duration::from_secs(30));
            tokio::pin!(wait);
            assert!(futures::poll!(&mut wait).is_pending());
            // Long enough for the blocking thread to be asleep in its 100 ms slice.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(creator);
        let listed = Region::list()
            .unwrap()
            .into_iter()
            .find(|r| r.name() == name);
        assert_eq!(listed.map(|r| r.state()), Some(RegionState::Kept));
        let again = Region::create(&name, 16).unwrap();
        assert_eq!(again.len(), 16);
    })
    .await;
}

/// `keep` on a region that was opened, not created, does not keep it: when its creator (another
/// process) is killed, the region is dead and the next create sweeps it. (The opener's `keep`
/// marked the shared header: the region was listed as kept and left in /dev/shm for good.)
#[tokio::test]
async fn keep_by_an_opener_does_not_keep_a_killed_creators_region() {
    use anyipc::shm::{Region, RegionState};
    watchdog(30, async {
        let name = unique_name("region-opener-keep");
        let _files = RegionFiles(vec![name.clone()]);
        let mut owner = spawn_helper("region_owner", &name).await;
        let mut opened = Region::open(&name).unwrap();
        opened.keep();
        kill(&mut owner).await;
        drop(opened);
        let state = |name: &str| {
            let listed = Region::list()
                .unwrap()
                .into_iter()
                .find(|r| r.name() == name);
            listed.map(|r| r.state())
        };
        // A create elsewhere may have swept it already: gone or dead, never kept.
        assert_ne!(state(&name), Some(RegionState::Kept));
        let _sweeper = Region::create(&unique_name("region-sweeper"), 8).unwrap();
        assert!(
            !region_file(&name).exists(),
            "the dead creator's region was left"
        );
    })
    .await;
}

/// Starts an example and reads its stdout until a line starting with `marker`. Killed when
/// dropped, and then `bound` reclaimed.
async fn start_example(
    name: &str,
    args: &[&str],
    marker: &str,
    bound: Names,
) -> (
    HelperChild,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) {
    let child = Command::new(example(name))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut child = HelperChild::new(child, bound);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        match lines.next_line().await.unwrap() {
            Some(line) if line.starts_with(marker) => break,
            Some(_) => {}
            None => panic!("{name} ended before printing {marker:?}"),
        }
    }
    (child, lines)
}

#[tokio::test]
async fn example_pairs_run() {
    watchdog(60, async {
        let name = unique_name("shm-example");
        let bound = Names::of([format!("shm://{name}")]);
        let (mut server, mut server_out) =
            start_example("shm_server", &[&name, "--once"], "server: listening", bound).await;
        // Keep reading the server's output, or its prints would fail.
        let server_out = tokio::spawn(async move {
            let mut all = String::new();
            while let Ok(Some(line)) = server_out.next_line().await {
                all += &line;
                all.push('\n');
            }
            all
        });
        let client = run_example("shm_client", &[&name, "ping"]).await;
        assert!(client.contains("client: reply \"echo: ping\""), "{client}");
        assert!(server.wait().await.unwrap().success());
        let server_out = server_out.await.unwrap();
        assert!(server_out.contains("server: got \"ping\""), "{server_out}");

        let (mut process1, mut lines) = start_example(
            "shm_process1",
            &[&name, "the message"],
            "process1: run shm_process2",
            Names::none(), // a region: the next region created removes a dead creator's
        )
        .await;
        let process2 = run_example("shm_process2", &[&name]).await;
        assert!(process2.contains("process2: the message"), "{process2}");
        let mut rest = String::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            rest += &line;
        }
        assert!(process1.wait().await.unwrap().success());
        assert!(rest.contains("process2 read the message"), "{rest}");
        assert!(!region_file(&name).exists());
    })
    .await;
}

/// The runtime directory an `shm://` name lives in is 0700 whatever the umask (under umask
/// 177 a plain `mkdir 0700` makes it 0600, which no one but root can enter), so is the
/// directory a socket is staged in while it is bound, and a directory that cannot be made is
/// named in the error. The listener and the sender run as an ordinary user (`nobody` when
/// the tests run as root, whom a 0600 directory does not stop).
#[tokio::test]
async fn the_runtime_dir_is_usable_under_any_umask_and_named_when_it_cannot_be_made() {
    use std::os::unix::fs::PermissionsExt;
    watchdog(60, async {
        let anyipc = crate::util::SharedAnyipc::new("shm-umask");
        let runtime = anyipc.dir().join("run");
        let mut listen = Command::new("sh");
        listen
            .arg("-c")
            .arg("umask 177; exec \"$0\" listen shm://umask-probe --count 1")
            .arg(anyipc.bin())
            .env("XDG_RUNTIME_DIR", &runtime)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let uid = crate::util::unprivileged(&mut listen);
        crate::util::private_dir_of(&runtime, uid);
        let mut listen = listen.spawn().unwrap();
        let dir = runtime.join("anyipc");
        let socket = dir.join("shm-umask-probe.sock");
        while !socket.exists() {
            if listen.try_wait().unwrap().is_some() {
                let out = listen.wait_with_output().await.unwrap();
                panic!("the listener ended before it was bound: {out:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o700, "{}", dir.display());
        let mut send = Command::new(anyipc.bin());
        send.args(["send", "shm://umask-probe", "through"])
            .env("XDG_RUNTIME_DIR", &runtime);
        crate::util::unprivileged(&mut send);
        let sent = send.output().await.unwrap();
        assert!(sent.status.success(), "{sent:?}");
        let listened = listen.wait_with_output().await.unwrap();
        assert!(listened.status.success(), "{listened:?}");
        assert_eq!(String::from_utf8_lossy(&listened.stdout), "through\n");

        let missing = runtime.join("missing");
        let refused = Command::new(crate::util::anyipc_bin())
            .args(["listen", "shm://umask-probe"])
            .env("XDG_RUNTIME_DIR", &missing)
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap();
        assert_eq!(refused.status.code(), Some(1), "{refused:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        let named = format!("runtime directory {}", missing.join("anyipc").display());
        assert!(stderr.contains(&named), "{stderr}");
    })
    .await;
}

/// A region whose file another process shrinks (here `truncate -s 0`) gives `InvalidData`
/// from then on, never a SIGBUS that kills the process.
#[test]
fn a_region_file_shrunk_by_another_process_is_an_error_not_a_crash() {
    use anyipc::shm::Region;
    let name = unique_name("region-shrunk");
    let creator = Region::create(&name, 256 * 1024).unwrap();
    let reader = Region::open(&name).unwrap();
    creator.write(200 * 1024, b"before").unwrap();
    creator.signal();
    // Taken before the shrink: a `wait_after` with it must not mistake the lost count for a
    // signal.
    let seen_before = reader.signals();
    assert_ne!(seen_before, 0);
    let mut buf = [0u8; 6];
    reader.read(200 * 1024, &mut buf).unwrap();
    assert_eq!(&buf, b"before");
    let info = Region::list()
        .unwrap()
        .into_iter()
        .find(|info| info.name() == name)
        .expect("the region is listed");
    let status = std::process::Command::new("truncate")
        .args(["-s", "0"])
        .arg(info.path())
        .status_bounded();
    assert!(status.success());

    let err = reader.read(200 * 1024, &mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("shrank"), "{err}");
    let err = creator.write(0, b"after").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    // Once found, every later access says so too, and a wait ends at once with it.
    assert_eq!(
        reader.read(0, &mut buf).unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
    creator.signal();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let waited = runtime.block_on(reader.wait(Duration::from_secs(30)));
    assert_eq!(waited.unwrap_err().kind(), io::ErrorKind::InvalidData);
    let waited = runtime.block_on(reader.wait_after(seen_before, Duration::from_secs(30)));
    assert_eq!(waited.unwrap_err().kind(), io::ErrorKind::InvalidData);
    let opened = Region::open(&name).unwrap_err();
    assert_eq!(opened.kind(), io::ErrorKind::InvalidData, "{opened}");
}

/// The region's SIGBUS handler takes only faults inside a region: any other still ends the
/// process with SIGBUS, as it would without anyipc.
#[tokio::test]
async fn a_sigbus_outside_a_region_still_ends_the_process() {
    use std::os::unix::process::ExitStatusExt;
    watchdog(60, async {
        let name = unique_name("region-sigbus");
        let mut helper = spawn_helper("sigbus_outside_a_region", &name).await;
        let status = helper.wait().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGBUS), "{status:?}");
        // Its region was left behind by the crash: the next create sweeps it.
        drop(anyipc::shm::Region::create(&name, 64).unwrap());
    })
    .await;
}

/// The path of region `name`'s file.
fn region_path(name: &str) -> std::path::PathBuf {
    anyipc::shm::Region::list()
        .unwrap()
        .into_iter()
        .find(|info| info.name() == name)
        .expect("the region is listed")
        .path()
        .to_owned()
}

/// Shrinks the file at `path` to nothing from another process (`truncate -s 0`).
fn truncate_from_another_process(path: &std::path::Path) {
    let status = std::process::Command::new("truncate")
        .args(["-s", "0"])
        .arg(path)
        .status_bounded();
    assert!(status.success());
}

/// One thread's fault replaces the pages every thread reads: a read on another thread that
/// overlapped it must fail too, never return the zeros as data.
#[test]
fn a_thread_reading_while_another_faults_gets_the_error_not_zeros() {
    // Three rounds: the overlap is a matter of timing (one round caught the flag set only at
    // the end of the faulting access about one time in two).
    for round in 0..3 {
        readers_overlapping_a_fault(round);
    }
}

fn readers_overlapping_a_fault(round: u32) {
    use anyipc::shm::Region;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let name = unique_name("region-race");
    let size = 16 << 20;
    let creator = Region::create(&name, size).unwrap();
    creator.write(0, &[0x55; 4096]).unwrap();
    let reader = Arc::new(Region::open(&name).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let zeros_as_data = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = [size, 4096]
        .into_iter()
        .map(|len| {
            let (reader, stop, zeros) = (reader.clone(), stop.clone(), zeros_as_data.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; len];
                while !stop.load(Ordering::Relaxed) {
                    match reader.read(0, &mut buf) {
                        Ok(()) if buf[0] == 0 => drop(zeros.fetch_add(1, Ordering::Relaxed)),
                        Ok(()) => {}
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    truncate_from_another_process(&region_path(&name));
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.join().unwrap();
    }
    assert_eq!(
        zeros_as_data.load(Ordering::Relaxed),
        0,
        "round {round}: reads returned zeros as data"
    );
    let mut buf = [0u8; 1];
    assert_eq!(
        reader.read(0, &mut buf).unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
}

/// A region larger than memory and swap together (it is sparse until written): the zero pages
/// put in place of its lost ones reserve no swap, so the fault still becomes an error.
#[test]
fn a_region_larger_than_memory_shrunk_is_an_error_not_a_crash() {
    use anyipc::shm::Region;
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib = |key: &str| -> u64 {
        let line = meminfo.lines().find(|l| l.starts_with(key)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let memory = (kib("MemTotal:") + kib("SwapTotal:")) * 1024;
    // At most the largest region, 1 TiB. A 32-bit process cannot map more than memory (its
    // regions hold at most 1 GiB): 256 MiB there, mapped twice (creator and reader) beside
    // the other tests' mappings in 4 GiB of address space; not larger than memory, but
    // still lost pages read after a shrink.
    let largest: u64 = if cfg!(target_pointer_width = "64") {
        1 << 40
    } else {
        256 << 20
    };
    let size = (memory * 2).min(largest) as usize;
    let name = unique_name("region-huge");
    let creator = Region::create(&name, size).unwrap();
    let reader = Region::open(&name).unwrap();
    truncate_from_another_process(&region_path(&name));
    let mut buf = [0u8; 8];
    let err = reader.read(size - 8, &mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    drop(creator);
}

/// A listener whose accept queue is full is busy, not gone: connecting waits for room (up to
/// `connect_timeout`, then `TimedOut`), as `unix://` and `pipe://` do, rather than failing at
/// once with `WouldBlock`.
#[tokio::test]
async fn a_full_accept_queue_is_waited_out() {
    watchdog(60, async {
        let name = unique_name("shm-backlog");
        let _names = Names::of([url(&name)]);
        // The runtime directory, made as the library makes it.
        drop(
            anyipc::bind(url(&unique_name("shm-backlog-dir")))
                .await
                .unwrap(),
        );
        let path = crate::util::runtime_dir().join(format!("shm-{name}.sock"));
        let (listener, _fillers) = crate::pipe::full_accept_queue(&path).await;

        let err = anyipc::connect(format!("{}?connect_timeout=300ms", url(&name)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");

        // Once the listener takes a connection, a waiting connect gets in.
        let waiting = tokio::spawn(anyipc::connect(url(&name)));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished(), "the connect did not wait for room");
        let (first, _) = listener.accept().unwrap();
        let conn = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("connect still waiting after the queue had room")
            .unwrap();
        conn.expect("connect once the queue had room");
        drop((first, listener));
        let _ = std::fs::remove_file(&path);
    })
    .await;
}

/// A name whose socket path is too long for a socket address (here under a long
/// `XDG_RUNTIME_DIR`) is refused by `connect` as by `bind`: `InvalidInput` naming the path and
/// the limit. (`connect` said only "path must be shorter than SUN_LEN".)
#[tokio::test]
async fn connect_names_a_socket_path_too_long_as_bind_does() {
    use std::os::unix::fs::PermissionsExt;
    watchdog(60, async {
        let runtime_dir = crate::util::TempDir::new("long-runtime-dir");
        let dir = runtime_dir.path();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let url = url(&"n".repeat(64));
        let socket = dir
            .join("anyipc")
            .join(format!("shm-{}.sock", "n".repeat(64)));
        assert!(socket.as_os_str().len() > 107, "{}", socket.display());
        for args in [vec!["listen", &url], vec!["send", &url, "hi"]] {
            let out = Command::new(crate::util::anyipc_bin())
                .args(&args)
                .env("XDG_RUNTIME_DIR", dir)
                .stdin(Stdio::null())
                .output()
                .await
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?}: {stderr}");
            assert!(
                stderr.contains("a socket path must be at most 107 bytes"),
                "{args:?}: {stderr}"
            );
        }
    })
    .await;
}

/// An `ShmStream` used directly, as a byte stream, takes a unit of tokio's budget per read
/// and write as a tokio socket does: 300 small writes into a ring with room, and 300 small
/// reads of bytes already in it, each let the other tasks on the thread run.
#[tokio::test]
async fn busy_stream_loops_yield() {
    use anyipc::shm::{ShmListener, ShmStream};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const N: usize = 300;
    watchdog(30, async {
        let url = format!("shm://{}", unique_name("shm-yield"));
        let mut listener = ShmListener::bind(url.as_str()).await.unwrap();
        let (client, server) = tokio::join!(ShmStream::connect(url.as_str()), listener.accept());
        let (mut client, mut server) = (client.unwrap(), server.unwrap());
        let (yielded, ()) = crate::util::yields_during(async {
            for i in 0..N {
                client.write_all(&[i as u8]).await.unwrap();
            }
        })
        .await;
        assert!(yielded, "{N} writes into a ring with room never yielded");
        let (yielded, ()) = crate::util::yields_during(async {
            for i in 0..N {
                let mut byte = [0u8; 1];
                server.read_exact(&mut byte).await.unwrap();
                assert_eq!(byte[0], i as u8);
            }
        })
        .await;
        assert!(yielded, "{N} reads of bytes in the ring never yielded");
    })
    .await
}

/// A live listener keeps its name when its lock file is deleted under it (a tmp cleaner, a
/// user's `rm`), and a `pipe://` server whose socket sits where an `shm://` name's goes
/// (`pipe://shm-NAME.sock`) keeps it too: a bind finding a socket that answers is refused
/// with `AddrInUse`, and the first server still serves.
#[tokio::test]
async fn a_live_socket_at_the_name_is_never_removed() {
    watchdog(60, async {
        let name = unique_name("shm-lock-removed");
        let mut first = anyipc::bind(url(&name)).await.unwrap();
        let dir = crate::util::runtime_dir();
        std::fs::remove_file(dir.join(format!("shm-{name}.lock"))).unwrap();
        let err = anyipc::bind(url(&name)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        // The refused bind's probe connected (and hung up: no handshake); a client still
        // reaches the first listener.
        let mut client = anyipc::connect(url(&name)).await.unwrap();
        let mut server = first.accept().await.unwrap();
        client.send("still here").await.unwrap();
        assert_eq!(server.recv().await.unwrap().unwrap(), "still here");
        drop((client, server, first));

        let name = unique_name("shm-collide");
        let mut pipe = anyipc::bind(format!("pipe://shm-{name}.sock"))
            .await
            .unwrap();
        let err = anyipc::bind(url(&name)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        let mut client = anyipc::connect(format!("pipe://shm-{name}.sock"))
            .await
            .unwrap();
        client.send("pipe").await.unwrap();
        // The refused bind's probe was accepted first: its connection ends at once.
        loop {
            let mut server = pipe.accept().await.unwrap();
            if let Some(msg) = server.recv().await.unwrap() {
                assert_eq!(msg, "pipe");
                break;
            }
        }
    })
    .await;
}
