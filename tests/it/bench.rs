//! `anyipc::bench` over every kind of target, each peer a real second process (the `anyipc`
//! binary's `bench-peer`): pairs of one-way endpoints (fifo, file, mq), a child on pipes,
//! several runs in a row on one peer, and the queues a run creates removed afterwards; the
//! raw twins of child and fifo, a child per run, each reaped and its FIFOs removed.

use crate::bounded::RunBounded;
use crate::util::{anyipc_bin, unique_name, watchdog, TempDir};
use anyipc::bench::{measure, PeerProcess, Report, RunResources, Target, Workload};
use anyipc::queue::{MessageQueue, QueueOptions};
use std::io;

fn peer_command(target: &str) -> tokio::process::Command {
    let mut cmd = twin_command();
    cmd.arg(target);
    cmd
}

/// Throughput, latency, throughput again (leftover acknowledgements of the first must not
/// confuse the others), each checked, through `peer`.
async fn three_runs(peer: &mut PeerProcess, throughput_size: usize) {
    let runs = [
        Workload::throughput(throughput_size, (64 << 20) / throughput_size),
        Workload::latency(64, 300).with_warmup(30),
        Workload::throughput(64, 20_000),
    ];
    for w in runs {
        let report = peer
            .measure(&w)
            .await
            .unwrap_or_else(|e| panic!("{w} over {}: {e}", peer.target()));
        match report {
            Report::Throughput(t) => {
                let count = w.count() as u64;
                assert_eq!(
                    (t.size, t.sent, t.received),
                    (w.size(), count, count),
                    "{w}"
                );
            }
            Report::Latency(l) => {
                assert_eq!((l.size, l.count), (64, 300), "{w}");
                assert!(l.p50 > std::time::Duration::ZERO && l.p50 <= l.p99);
            }
        }
    }
}

async fn pair_runs(target: &str, throughput_size: usize) {
    let target: Target = target.parse().unwrap();
    assert!(matches!(target, Target::Pair { .. }));
    let _queues = RunResources::new(&target);
    let mut peer = PeerProcess::spawn(peer_command(&target.to_string()))
        .await
        .unwrap();
    assert_ne!(peer.id(), Some(std::process::id()));
    assert_eq!(peer.target(), &target);
    three_runs(&mut peer, throughput_size).await;
    // The free function reaches a pair the same way.
    let report = measure(&target, &Workload::latency(100, 50)).await.unwrap();
    assert_eq!(report.latency().unwrap().count, 50);
}

#[tokio::test]
async fn measure_over_a_pair_of_fifos() {
    watchdog(60, async {
        let dir = TempDir::new("bench-fifo");
        let target = format!(
            "fifo://{} + fifo://{}",
            dir.join("to-peer"),
            dir.join("from-peer")
        );
        // 4,092 B: the largest message a FIFO frame carries.
        pair_runs(&target, 4092).await;
    })
    .await;
}

#[tokio::test]
async fn measure_over_a_pair_of_logs() {
    watchdog(60, async {
        let dir = TempDir::new("bench-file");
        let target = format!(
            "file://{}?fsync=never&from=end + file://{}?fsync=never&from=end",
            dir.join("to-peer"),
            dir.join("from-peer")
        );
        pair_runs(&target, 4096).await;
    })
    .await;
}

#[tokio::test]
async fn measure_over_a_pair_of_queues_and_remove_them() {
    watchdog(60, async {
        let (a, b) = (unique_name("bench-to"), unique_name("bench-from"));
        let options = "create=true&capacity=64&max_message_len=64KiB";
        pair_runs(&format!("mq://{a}?{options} + mq://{b}?{options}"), 65_536).await;
        // Both were created by the runs, and removed when `RunResources` dropped.
        for name in [&a, &b] {
            let err = MessageQueue::open(name).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound, "{name} is left behind");
        }
    })
    .await;
}

#[tokio::test]
async fn run_resources_leaves_queues_that_existed_before() {
    watchdog(30, async {
        let (old, new) = (unique_name("bench-old"), unique_name("bench-new"));
        let existing = MessageQueue::create(&old, &QueueOptions::default()).unwrap();
        let target: Target = format!("mq://{old}?create=true + mq://{new}?create=true")
            .parse()
            .unwrap();
        let queues = RunResources::new(&target);
        assert_eq!(queues.queues(), std::slice::from_ref(&new));
        MessageQueue::create(&new, &QueueOptions::default()).unwrap();
        drop(queues);
        assert_eq!(
            MessageQueue::open(&new).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(MessageQueue::open(&old).is_ok());
        drop(existing);
        MessageQueue::remove(&old).unwrap();
    })
    .await;
}

/// A batch run (`send_many` here, `recv_batch` in the peer process) counts every message and
/// leaves the peer serving runs one message at a time after it.
async fn batch_runs(peer: &mut PeerProcess) {
    for w in [
        Workload::throughput(64, 200_000).with_batch(1_000),
        Workload::throughput(4096, 5_000).with_batch(7),
        Workload::throughput(64, 20_000),
    ] {
        let report = peer
            .measure(&w)
            .await
            .unwrap_or_else(|e| panic!("{w} over {}: {e}", peer.target()));
        let t = report.throughput().unwrap();
        let count = w.count() as u64;
        assert_eq!(
            (t.size, t.sent, t.received),
            (w.size(), count, count),
            "{w}"
        );
    }
    // A latency run after them is echoed, message by message.
    let report = peer
        .measure(&Workload::latency(64, 200).with_warmup(20))
        .await
        .unwrap();
    assert_eq!(report.latency().unwrap().count, 200);
}

#[tokio::test]
async fn batch_runs_over_shm_unix_and_a_child() {
    watchdog(60, async {
        let dir = TempDir::new("bench-batch");
        for target in [
            format!("shm://{}", unique_name("bench-batch")),
            format!("unix://{}", dir.join("batch.sock")),
        ] {
            let mut peer = PeerProcess::spawn(peer_command(&target)).await.unwrap();
            batch_runs(&mut peer).await;
            peer.stop().await.unwrap();
        }
        let mut child = PeerProcess::spawn_child(peer_command("stdio://"))
            .await
            .unwrap();
        batch_runs(&mut child).await;
        child.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn batch_runs_need_a_connection() {
    watchdog(60, async {
        let dir = TempDir::new("bench-batch-raw");
        let batch = Workload::throughput(64, 100).with_batch(10);
        let raw = format!("raw+unix://{}", dir.join("raw.sock"));
        let pair = format!(
            "fifo://{} + fifo://{}",
            dir.join("to-peer"),
            dir.join("from-peer")
        );
        for target in [raw, pair] {
            let mut peer = PeerProcess::spawn(peer_command(&target)).await.unwrap();
            let err = peer.measure(&batch).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{target}: {err}");
            // The peer was not left in a half-started run.
            let report = peer
                .measure(&Workload::throughput(64, 1_000))
                .await
                .unwrap();
            assert_eq!(report.throughput().unwrap().received, 1_000, "{target}");
            peer.stop().await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn measure_a_child_over_its_pipes() {
    watchdog(60, async {
        let mut peer = PeerProcess::spawn_child(peer_command("stdio://"))
            .await
            .unwrap();
        assert!(peer.target().is_child());
        assert!(peer.pipes().is_some());
        three_runs(&mut peer, 1 << 20).await;
        // Only the process that started the child has its pipes.
        let err = measure(peer.target(), &Workload::latency(64, 10))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    })
    .await;
}

/// The command a raw twin's children run: `anyipc bench-peer`, the target added per run.
fn twin_command() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(anyipc_bin());
    cmd.arg("bench-peer");
    cmd
}

/// Whether process `pid` is gone and reaped (a zombie would still answer signal 0).
fn reaped(pid: u32) -> bool {
    let pid = libc::pid_t::try_from(pid).expect("a pid");
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// Three runs over a raw twin, each on a child of its own that is reaped after it.
async fn twin_runs(target: &str, throughput_size: usize) -> PeerProcess {
    let target: Target = target.parse().unwrap();
    assert!(target.is_raw() && target.is_raw_child() && !target.is_child());
    let mut twin = PeerProcess::spawn_raw_child(twin_command, &target)
        .await
        .unwrap();
    assert_eq!(twin.target(), &target);
    let first = twin.id().expect("the first child is running");
    assert_ne!(first, std::process::id());
    three_runs(&mut twin, throughput_size).await;
    // Every run's child is reaped once its run is over.
    assert_eq!(twin.id(), None);
    assert!(
        reaped(first),
        "the first run's child {first} is still there"
    );
    // Only the process that starts the children can reach them.
    let err = measure(&target, &Workload::latency(64, 10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    twin
}

#[tokio::test]
async fn measure_the_raw_twin_of_child_a_child_per_run() {
    watchdog(60, async {
        let twin = twin_runs("raw+child://", 1 << 20).await;
        twin.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn measure_the_raw_twin_of_fifo_and_leave_no_fifo_behind() {
    watchdog(60, async {
        let dir = TempDir::new("bench-fifo-twin");
        let target = format!("raw+fifo://{}", dir.join("twin"));
        let is_empty = || std::fs::read_dir(dir.path()).unwrap().next().is_none();
        // 4,092 B, as fifo's largest message (the twin itself has no such limit).
        let twin = twin_runs(&target, 4092).await;
        // The FIFOs go as soon as both sides have opened them.
        assert!(is_empty(), "FIFOs left behind after the runs");
        twin.stop().await.unwrap();
        assert!(is_empty(), "FIFOs left behind after stop");
    })
    .await;
}

#[tokio::test]
async fn a_raw_fifo_twin_takes_over_stale_fifos_but_nothing_else() {
    watchdog(60, async {
        let dir = TempDir::new("bench-fifo-twin-stale");
        let path = dir.path().join("twin");
        let target: Target = format!("raw+fifo://{}", path.display()).parse().unwrap();
        // A FIFO an earlier run left behind is replaced.
        let status = std::process::Command::new("mkfifo")
            .arg(dir.join("twin.reply"))
            .status_bounded();
        assert!(status.success());
        let mut twin = PeerProcess::spawn_raw_child(twin_command, &target)
            .await
            .unwrap();
        let report = twin.measure(&Workload::latency(64, 50)).await.unwrap();
        assert_eq!(report.latency().unwrap().count, 50);
        twin.stop().await.unwrap();
        // A file that is not a FIFO is left alone, and the twin does not start.
        std::fs::write(&path, b"not a fifo").unwrap();
        let err = PeerProcess::spawn_raw_child(twin_command, &target)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"not a fifo");
        assert!(!dir.path().join("twin.reply").exists());
    })
    .await;
}

#[tokio::test]
async fn only_raw_twins_start_a_child_per_run() {
    let err = PeerProcess::spawn_raw_child(twin_command, &"raw+tcp://127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    // A raw+child:// peer started without its pipes says so and does not start.
    let err = PeerProcess::spawn(peer_command("raw+child://"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
}

/// A peer that fails during a run says why on its stdout: the run's error ends with that line.
#[cfg(unix)]
#[tokio::test]
async fn a_run_fails_with_what_its_peer_said_last() {
    watchdog(60, async {
        let dir = TempDir::new("bench-peer-said");
        let target = format!(
            "file://{0}/to?from=end + file://{0}/back?from=end",
            dir.path().display()
        );
        // A stand-in peer: ready, then it fails as a real one does after its ready line.
        let script = format!(
            "echo '{}{target}'; sleep 0.3; echo 'noise'; echo 'bench peer: disk full'; exit 3",
            anyipc::bench::READY_PREFIX
        );
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", &script]);
        let mut peer = PeerProcess::spawn(cmd).await.unwrap();
        let _logs = RunResources::new(peer.target());
        let err = peer
            .measure(&Workload::latency(64, 1_000_000_000))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
        assert_eq!(
            err.to_string(),
            "the peer process exited during the run (exit status: 3): bench peer: disk full"
        );
    })
    .await;
}

/// A peer killed during a run fails the run with `BrokenPipe` naming how it ended, where the
/// way back (a log) would otherwise be waited on for ever.
#[cfg(unix)]
#[tokio::test]
async fn a_run_fails_when_its_peer_process_is_killed() {
    watchdog(60, async {
        let dir = TempDir::new("bench-peer-killed");
        let target: Target = format!(
            "file://{0}/to?from=end + file://{0}/back?from=end",
            dir.path().display()
        )
        .parse()
        .unwrap();
        let _logs = RunResources::new(&target);
        let mut peer = PeerProcess::spawn(peer_command(&target.to_string()))
            .await
            .unwrap();
        let pid = libc::pid_t::try_from(peer.id().unwrap()).unwrap();
        let killer = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            // SAFETY: kill(2) with a valid signal number touches no memory.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        });
        let err = peer
            .measure(&Workload::latency(64, 1_000_000_000))
            .await
            .unwrap_err();
        killer.await.unwrap();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
        assert_eq!(
            err.to_string(),
            "the peer process exited during the run (signal: 9 (SIGKILL))"
        );
    })
    .await;
}
