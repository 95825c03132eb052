//! `file://`: the durable log (producer, consumers, cursors, rotation, retention, recovery,
//! crash and full-disk behaviour) and plain files.
//!
//! Crash and full-disk tests run a helper process: this test binary started again with
//! `ANYIPC_FILE_HELPER` set, running only `file::file_helper_entry`, which is a no-op in an
//! ordinary test run.

use crate::bounded::RunBounded;
use crate::util::{frame_error, run_example, watchdog, TempDir};
use anyipc::file::{
    scan_segment, CursorMismatch, FileConsumer, FileOptions, FileProducer, FsyncPolicy, StartFrom,
    Tail, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::io::{self, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const HELPER_VAR: &str = "ANYIPC_FILE_HELPER";
const DIR_VAR: &str = "ANYIPC_FILE_HELPER_DIR";

/// The payload of record `seq` in the crash tests: its length and bytes follow from `seq`,
/// so a reader can check every record on its own.
fn payload(seq: u64) -> Bytes {
    let len = (seq.wrapping_mul(7919) % 3000) as usize;
    (0..len)
        .map(|i| (seq as usize).wrapping_add(i * 31) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn opts(fsync: FsyncPolicy) -> FileOptions {
    FileOptions {
        fsync,
        follow: false,
        ..FileOptions::default()
    }
}

fn url(dir: &Path, query: &str) -> String {
    format!("file://{}{query}", dir.display())
}

/// Every record of the log, from the start, without following.
async fn read_all(dir: &Path) -> io::Result<Vec<(u64, Bytes)>> {
    let mut consumer = FileConsumer::open(dir, None, opts(FsyncPolicy::Never)).await?;
    let mut out = Vec::new();
    while let Some(r) = consumer.recv().await? {
        out.push((r.seq, r.payload));
    }
    Ok(out)
}

fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn urls_carry_10k_messages_in_order_with_empty_and_max_size_ones() {
    watchdog(60, async {
        let dir = TempDir::new("file-urls");
        let log = dir.path().join("log");
        let max = 256 * 1024;
        let mut producer = anyipc::connect(url(&log, &format!("?fsync=never&max_frame={max}")))
            .await
            .unwrap();
        // A producer receives nothing: its stream ends at once.
        assert!(producer.next().await.is_none());
        let big = crate::util::pattern(max);
        producer.send(Bytes::new()).await.unwrap();
        producer.send(big.clone()).await.unwrap();
        for i in 0..10_000u32 {
            producer
                .feed(Bytes::from(i.to_le_bytes().to_vec()))
                .await
                .unwrap();
        }
        let too_big = producer
            .send(crate::util::pattern(max + 1))
            .await
            .unwrap_err();
        assert_eq!(too_big.kind(), io::ErrorKind::InvalidInput);
        producer.close().await.unwrap();

        let mut listener = anyipc::bind(url(&log, &format!("?follow=false&max_frame={max}")))
            .await
            .unwrap();
        let mut consumer = listener.accept().await.unwrap();
        assert_eq!(consumer.next().await.unwrap().unwrap(), Bytes::new());
        assert_eq!(consumer.next().await.unwrap().unwrap(), big);
        for i in 0..10_000u32 {
            let msg = consumer.next().await.unwrap().unwrap();
            assert_eq!(msg, Bytes::from(i.to_le_bytes().to_vec()));
        }
        assert!(
            consumer.next().await.is_none(),
            "follow=false ends at the end"
        );
        let err = consumer.send(Bytes::from_static(b"x")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    })
    .await
}

/// A commit cut short (its future dropped while the store runs) and the commit right after
/// it never share the cursor's temporary file: every later commit succeeds, and the cursor
/// ends where the last one put it. (They raced: one store removed the other's temporary
/// file, and a rename failed or left an empty cursor.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_cut_short_does_not_race_the_next() {
    watchdog(60, async {
        let dir = TempDir::new("file-commit-cut");
        let mut log = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        let records: Vec<[u8; 8]> = (0..300u64).map(u64::to_le_bytes).collect();
        log.append_many(&records).await.unwrap();
        log.close().await.unwrap();
        let mut consumer = FileConsumer::open(dir.path(), Some("cut"), opts(FsyncPolicy::Always))
            .await
            .unwrap();
        let mut cut_short = 0;
        for round in 0..300u64 {
            consumer.recv().await.unwrap().expect("a record");
            // Polled once: the store starts on the blocking pool, then the future is dropped.
            // (A test thread descheduled right after the spawn can find the store done.)
            if futures::FutureExt::now_or_never(consumer.commit()).is_none() {
                cut_short += 1;
            }
            consumer
                .commit()
                .await
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        let reopened = FileConsumer::open(dir.path(), Some("cut"), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        assert_eq!(reopened.position(), 300);
        assert!(
            cut_short >= 100,
            "only {cut_short} of 300 commits were cut short"
        );
    })
    .await;
}

/// Two consumers of the same name committing at once (two processes, or a restarted one
/// whose old instance still runs) each store a whole cursor: neither commit fails and the
/// cursor is never left damaged. (They shared one temporary file: one store removed the
/// other's, whose rename then failed, or the other's create found it there.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_of_one_name_commit_at_once_without_failing() {
    watchdog(120, async {
        let dir = TempDir::new("file-commit-same-name");
        let mut log = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        let records: Vec<[u8; 8]> = (0..400u64).map(u64::to_le_bytes).collect();
        log.append_many(&records).await.unwrap();
        log.close().await.unwrap();
        // Both open before either commits, so both start at the first record.
        let open = || FileConsumer::open(dir.path(), Some("twin"), opts(FsyncPolicy::Never));
        let (a, b) = (open().await.unwrap(), open().await.unwrap());
        let run = |mut consumer: FileConsumer| async move {
            for round in 0..400u64 {
                consumer.recv().await.unwrap().expect("a record");
                consumer
                    .commit()
                    .await
                    .unwrap_or_else(|e| panic!("round {round}: {e}"));
            }
        };
        let (a, b) = tokio::join!(tokio::spawn(run(a)), tokio::spawn(run(b)));
        a.unwrap();
        b.unwrap();
        let reopened = FileConsumer::open(dir.path(), Some("twin"), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        assert_eq!(reopened.position(), 400);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(names.is_empty(), "temporary files left: {names:?}");
    })
    .await;
}

/// A commit writes a temporary file and renames it over the cursor; a consumer killed in
/// between leaves that file. The next consumer of that name to open removes the ones old
/// enough to be a crash's (the other consumer's, and a young one, which may be a store
/// under way in another process, stay), so a consumer in a crash loop does not fill the
/// directory.
#[tokio::test]
async fn a_named_consumer_removes_what_crashed_commits_of_its_name_left() {
    watchdog(30, async {
        let dir = TempDir::new("file-stale-temps");
        let log = dir.path();
        let mut producer = FileProducer::open(log, opts(FsyncPolicy::Never))
            .await
            .unwrap();
        producer.append("one").await.unwrap();
        producer.close().await.unwrap();
        let long_ago = std::time::SystemTime::now() - Duration::from_secs(11 * 60);
        let place = |name: &str, written: Option<std::time::SystemTime>| {
            let path = log.join(name);
            let file = std::fs::File::create(&path).unwrap();
            if let Some(at) = written {
                file.set_modified(at).unwrap();
            }
            path
        };
        let crashed = place(".c.cursor.4000001-0.tmp", Some(long_ago));
        let crashed_old_style = place(".c.cursor.tmp", Some(long_ago));
        let under_way = place(".c.cursor.4000002-7.tmp", None);
        let other_consumers = place(".d.cursor.4000001-1.tmp", Some(long_ago));

        let mut consumer = FileConsumer::open(log, Some("c"), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        assert!(!crashed.exists(), "a crashed store's file is removed");
        assert!(!crashed_old_style.exists(), "also under the older name");
        assert!(under_way.exists(), "a young one may be a store under way");
        assert!(
            other_consumers.exists(),
            "another consumer's is its own to tidy"
        );
        assert_eq!(consumer.recv().await.unwrap().unwrap().payload, "one");
    })
    .await;
}

#[tokio::test]
async fn a_consumer_tails_appends_as_they_happen() {
    watchdog(60, async {
        let dir = TempDir::new("file-tail");
        let log = dir.path().join("log");
        // The consumer starts first, on a log that does not exist yet.
        let mut listener = anyipc::bind(url(&log, "")).await.unwrap();
        let mut consumer = listener.accept().await.unwrap();
        let mut producer = anyipc::connect(url(&log, "?fsync=never")).await.unwrap();
        for i in 0..50u32 {
            let msg = Bytes::from(format!("tick {i}"));
            producer.send(msg.clone()).await.unwrap();
            assert_eq!(consumer.next().await.unwrap().unwrap(), msg);
        }
    })
    .await
}

#[tokio::test]
async fn the_polling_fallback_tails_too() {
    watchdog(60, async {
        let dir = TempDir::new("file-poll");
        let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        let poll = FileOptions {
            follow: true,
            poll_interval: Some(Duration::from_millis(5)),
            ..FileOptions::default()
        };
        let mut consumer = FileConsumer::open(dir.path(), None, poll).await.unwrap();
        for i in 0..20u64 {
            assert_eq!(producer.append(format!("p{i}")).await.unwrap(), i);
            let rec = consumer.recv().await.unwrap().unwrap();
            assert_eq!((rec.seq, rec.payload), (i, Bytes::from(format!("p{i}"))));
        }
    })
    .await
}

/// A log directory deleted (and created again by a new producer) under a consumer that
/// has caught up and waits: the consumer gets `InvalidData`, with inotify and when polling,
/// instead of waiting for ever on the deleted segment it still holds open. One waiting on an
/// empty log gets `NotFound`, or, when the directory is created again at once, its records
/// (inotify's watch of the deleted directory is gone: it polls).
#[tokio::test]
async fn a_log_directory_deleted_under_a_waiting_consumer_is_noticed() {
    watchdog(120, async {
        for poll_interval in [None, Some(Duration::from_millis(5))] {
            let dir = TempDir::new("file-dir-replaced");
            let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
                .await
                .unwrap();
            producer.append_many(&["a", "b"]).await.unwrap();
            producer.close().await.unwrap();
            let tail = FileOptions {
                follow: true,
                poll_interval,
                ..FileOptions::default()
            };
            let mut consumer = FileConsumer::open(dir.path(), Some("c"), tail.clone())
                .await
                .unwrap();
            for payload in ["a", "b"] {
                assert_eq!(consumer.recv().await.unwrap().unwrap().payload, payload);
            }
            std::fs::remove_dir_all(dir.path()).unwrap();
            let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
                .await
                .unwrap();
            producer.append_many(&["x", "y", "z"]).await.unwrap();
            producer.close().await.unwrap();
            let got = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
                .await
                .unwrap_or_else(|_| panic!("{poll_interval:?}: the consumer waits for ever"));
            let err = got.expect_err("a replaced log is an error, not new records");
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");

            // A consumer waiting for the first record of an empty log: `NotFound`, naming
            // the directory.
            let dir = TempDir::new("file-dir-deleted-empty");
            let mut consumer = FileConsumer::open(dir.path(), None, tail.clone())
                .await
                .unwrap();
            let waiting = tokio::spawn(async move { consumer.recv().await });
            tokio::time::sleep(Duration::from_millis(100)).await;
            std::fs::remove_dir_all(dir.path()).unwrap();
            let got = tokio::time::timeout(Duration::from_secs(30), waiting)
                .await
                .unwrap_or_else(|_| panic!("{poll_interval:?}: the consumer waits for ever"))
                .unwrap();
            let err = got.expect_err("a deleted log is an error");
            assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
            assert!(
                err.to_string().contains(&*dir.path().to_string_lossy()),
                "{err}"
            );

            // Replaced by a new directory in one step, the old one then deleted: the new
            // log's records come, also after the watch of the old directory is gone. (Not
            // deleted and created again: a consumer that looks in between finds no log
            // directory, `NotFound`, as the case above.)
            let dir = TempDir::new("file-dir-recreated-empty");
            let mut consumer = FileConsumer::open(dir.path(), None, tail).await.unwrap();
            let (tx, mut rx) = tokio::sync::mpsc::channel(4);
            let reading = tokio::spawn(async move {
                while let Some(record) = consumer.recv().await.transpose() {
                    let _ = tx.send(record.map(|r| r.payload)).await;
                }
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
            replace_with_empty_dir(dir.path());
            let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
                .await
                .unwrap();
            for payload in ["one", "two"] {
                producer.append(payload).await.unwrap();
                let got = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                    .await
                    .unwrap_or_else(|_| panic!("{poll_interval:?}: {payload} never came"));
                assert_eq!(got.unwrap().unwrap(), payload);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            reading.abort();
            producer.close().await.unwrap();
        }
    })
    .await
}

/// Replaces directory `dir` with a new empty one in one step where the OS can (Linux:
/// `renameat2` with `RENAME_EXCHANGE`), so that nothing looking at the path finds it
/// missing, then deletes the old one.
fn replace_with_empty_dir(dir: &Path) {
    let fresh = dir.with_extension("new");
    std::fs::create_dir(&fresh).unwrap();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::ffi::OsStrExt;
        let a = std::ffi::CString::new(dir.as_os_str().as_bytes()).unwrap();
        let b = std::ffi::CString::new(fresh.as_os_str().as_bytes()).unwrap();
        // SAFETY: two NUL-terminated paths that outlive the call.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        assert_eq!(rc, 0, "renameat2: {}", io::Error::last_os_error());
        // The old directory, now at `fresh`.
        std::fs::remove_dir_all(&fresh).unwrap();
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::rename(&fresh, dir).unwrap();
    }
}

#[tokio::test]
async fn a_log_directory_deleted_for_good_under_a_consumer_that_read_records_is_noticed() {
    // The directory is deleted and not created again: the consumer, waiting at the end of
    // the open segment, gets `InvalidData` (a resumed one with a `CursorMismatch` inside),
    // not a bare `NotFound` from listing the missing directory.
    watchdog(120, async {
        for poll_interval in [None, Some(Duration::from_millis(5))] {
            for resumed in [false, true] {
                let dir = TempDir::new("file-dir-deleted-for-good");
                let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
                    .await
                    .unwrap();
                producer.append_many(&["a", "b"]).await.unwrap();
                producer.close().await.unwrap();
                let tail = FileOptions {
                    follow: true,
                    poll_interval,
                    ..FileOptions::default()
                };
                let name = resumed.then_some("c");
                if resumed {
                    let mut first = FileConsumer::open(dir.path(), name, tail.clone())
                        .await
                        .unwrap();
                    assert_eq!(first.recv().await.unwrap().unwrap().payload, "a");
                    first.commit().await.unwrap();
                }
                let mut consumer = FileConsumer::open(dir.path(), name, tail).await.unwrap();
                let rest: &[&str] = if resumed { &["b"] } else { &["a", "b"] };
                for payload in rest {
                    assert_eq!(consumer.recv().await.unwrap().unwrap().payload, *payload);
                }
                std::fs::remove_dir_all(dir.path()).unwrap();
                let got = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
                    .await
                    .unwrap_or_else(|_| {
                        panic!("{poll_interval:?} {resumed}: the consumer waits for ever")
                    });
                let err = got.expect_err("a deleted log is an error, not the end");
                assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
                assert_eq!(
                    cursor_mismatch(&err).is_some(),
                    resumed,
                    "{poll_interval:?}: {err}"
                );
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_log_directory_moved_away_under_a_consumer_of_an_empty_log_is_noticed() {
    // `mv dir dir.old && mkdir dir`: a watch follows the directory it watches to its new
    // name, so a consumer waiting on an empty log must stop trusting it, or it waits on
    // `dir.old` for ever while the records come into the new `dir`.
    watchdog(120, async {
        let dir = TempDir::new("file-dir-moved-empty");
        let old = std::path::PathBuf::from(format!("{}.old", dir.path().display()));
        let tail = FileOptions {
            follow: true,
            ..FileOptions::default()
        };
        let mut consumer = FileConsumer::open(dir.path(), None, tail).await.unwrap();
        let waiting = tokio::spawn(async move { consumer.recv().await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        std::fs::rename(dir.path(), &old).unwrap();
        std::fs::create_dir(dir.path()).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        producer.append("new").await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(30), waiting)
            .await
            .unwrap_or_else(|_| panic!("the consumer waits for ever on the moved directory"))
            .unwrap();
        match got {
            Ok(record) => assert_eq!(record.unwrap().payload, "new"),
            // Had it looked between the move and the `mkdir`.
            Err(err) => assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}"),
        }
        producer.close().await.unwrap();
        std::fs::remove_dir_all(&old).unwrap();
    })
    .await
}

#[tokio::test]
async fn a_second_writer_gets_addr_in_use_until_the_first_closes() {
    watchdog(60, async {
        let dir = TempDir::new("file-lock");
        let first = FileProducer::open(dir.path(), opts(FsyncPolicy::Batch))
            .await
            .unwrap();
        let err = FileProducer::open(dir.path(), opts(FsyncPolicy::Batch))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        let err = anyipc::connect(url(dir.path(), "")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        first.close().await.unwrap();
        // The lock is free once `close` returns; a child another test forks at that moment
        // holds a copy of the lock file's descriptor (the flock goes with it) until its
        // `exec` closes it, so a reopen may wait a few milliseconds for it.
        let reopened = async {
            loop {
                match FileProducer::open(dir.path(), opts(FsyncPolicy::Batch)).await {
                    Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    other => return other,
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), reopened)
            .await
            .expect("the lock was not free within 5 s of close")
            .unwrap()
            .close()
            .await
            .unwrap();
    })
    .await
}

/// A producer closed and opened again at once while another thread of the process starts
/// child processes, as a service does: never refused. Each child shares the open lock file
/// from its fork until it execs, and closing it alone left the lock held through that copy:
/// about a third of the reopens here got `AddrInUse`.
#[cfg(unix)] // fork and posix_spawn
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_reopened_while_children_are_started_is_not_refused() {
    watchdog(60, async {
        let dir = TempDir::new("file-reopen-fork");
        let starter = crate::util::ChildStarter::start();
        let mut refused = Vec::new();
        for round in 0..300 {
            match FileProducer::open(dir.path(), opts(FsyncPolicy::Never)).await {
                Ok(mut log) => {
                    log.append(&b"x"[..]).await.unwrap();
                    log.close().await.unwrap();
                }
                Err(e) => refused.push(format!("round {round}: {e}")),
            }
        }
        starter.stop();
        crate::util::assert_none_refused(&refused, 300);
        assert_eq!(read_all(dir.path()).await.unwrap().len(), 300);
        anyipc::file::remove(dir.path()).unwrap();
    })
    .await
}

/// A producer connection closed but not dropped (a service keeps it in a struct) holds no
/// file of the log open, whatever the fsync policy: the log can be removed whole at once.
/// The sync thread's handle on the last segment used to stay open until the connection
/// was dropped: on Windows `remove` then left the segment and the directory behind.
#[tokio::test]
async fn a_closed_producer_holds_no_file_of_the_log_open() {
    watchdog(60, async {
        for fsync in ["never", "batch", "always"] {
            let dir = TempDir::new(&format!("file-closed-{fsync}"));
            let mut producer = anyipc::connect(url(dir.path(), &format!("?fsync={fsync}")))
                .await
                .unwrap();
            producer.send(Bytes::from_static(b"record")).await.unwrap();
            producer.close().await.unwrap();
            #[cfg(target_os = "linux")]
            {
                let log_dir = dir.path().canonicalize().unwrap();
                let open: Vec<_> = std::fs::read_dir("/proc/self/fd")
                    .unwrap()
                    .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
                    .filter(|target| target.starts_with(&log_dir))
                    .collect();
                assert!(open.is_empty(), "fsync={fsync}: still open: {open:?}");
            }
            anyipc::file::remove(dir.path()).unwrap();
            assert!(
                !dir.path().exists(),
                "fsync={fsync}: the log directory is left"
            );
            drop(producer);
        }
    })
    .await
}

#[tokio::test]
async fn a_writer_in_another_process_holds_the_lock_until_it_is_killed() {
    watchdog(60, async {
        let dir = TempDir::new("file-lock-xproc");
        let mut helper = spawn_helper("hold", dir.path());
        let mut lines = HelperLines::new(&mut helper);
        lines.wait_ready().await;
        let err = FileProducer::open(dir.path(), opts(FsyncPolicy::Batch))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        helper.kill().await.unwrap();
        // The OS released the dead writer's flock.
        FileProducer::open(dir.path(), opts(FsyncPolicy::Batch))
            .await
            .unwrap()
            .close()
            .await
            .unwrap();
    })
    .await
}

#[tokio::test]
async fn remove_refuses_a_live_writer_and_deletes_only_the_logs_files() {
    watchdog(60, async {
        let dir = TempDir::new("file-remove");
        let mut helper = spawn_helper("hold", dir.path());
        let mut lines = HelperLines::new(&mut helper);
        lines.wait_ready().await;
        let err = anyipc::file::remove(dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert_eq!(
            segments(dir.path()).len(),
            1,
            "a refused remove deletes nothing"
        );
        helper.kill().await.unwrap();
        helper.wait().await.unwrap();

        // A consumer's cursor is the log's; a file someone else put there is not.
        let mut consumer = FileConsumer::open(dir.path(), Some("reader"), opts(FsyncPolicy::Batch))
            .await
            .unwrap();
        consumer.commit().await.unwrap();
        drop(consumer);
        std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        // Named like a cursor, but a directory: not the log's, and no reason to stop.
        std::fs::create_dir(dir.path().join("other.cursor")).unwrap();
        anyipc::file::remove(dir.path()).unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["notes.txt", "other.cursor"]);
        let err = anyipc::file::remove(dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        // A directory that does not exist: the same error, naming it.
        let missing = dir.path().join("missing");
        let err = anyipc::file::remove(&missing).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        assert!(err.to_string().contains("missing: no log here"), "{err}");

        // Forced: a live writer's log goes too, and the emptied directory with it. Not on
        // Windows, where the writer's lock file is open with no sharing and cannot be
        // deleted: refused there as by `remove`, with nothing removed.
        let log = dir.path().join("forced");
        let mut producer = FileProducer::open(&log, opts(FsyncPolicy::Batch))
            .await
            .unwrap();
        producer.append("kept").await.unwrap();
        producer.sync().await.unwrap();
        let forced = anyipc::file::remove_forced(&log);
        if cfg!(windows) {
            let err = forced.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
            assert!(err.to_string().contains("stop the producer"), "{err}");
            assert_eq!(segments(&log).len(), 1, "a refused remove deletes nothing");
            producer.close().await.unwrap();
            anyipc::file::remove_forced(&log).unwrap();
        } else {
            forced.unwrap();
            drop(producer);
        }
        assert!(!log.exists());
    })
    .await
}

#[tokio::test]
async fn a_named_consumer_resumes_at_its_committed_cursor() {
    watchdog(60, async {
        let dir = TempDir::new("file-cursor");
        let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Batch))
            .await
            .unwrap();
        for i in 0..10u64 {
            producer.append(format!("m{i}")).await.unwrap();
        }
        producer.sync().await.unwrap();
        let mut c = FileConsumer::open(dir.path(), Some("billing"), opts(FsyncPolicy::Batch))
            .await
            .unwrap();
        for i in 0..4u64 {
            assert_eq!(c.recv().await.unwrap().unwrap().seq, i);
        }
        c.commit().await.unwrap();
        // Received but not committed: delivered again after a restart (at-least-once).
        assert_eq!(c.recv().await.unwrap().unwrap().seq, 4);
        drop(c);
        let mut c = FileConsumer::open(dir.path(), Some("billing"), opts(FsyncPolicy::Batch))
            .await
            .unwrap();
        assert_eq!(c.recv().await.unwrap().unwrap().seq, 4);
        // Another name has its own cursor; `from=end` starts after the last record.
        let end = FileOptions {
            from: StartFrom::End,
            ..opts(FsyncPolicy::Batch)
        };
        let mut late = FileConsumer::open(dir.path(), Some("audit"), end)
            .await
            .unwrap();
        assert!(late.recv().await.unwrap().is_none());
        assert_eq!(late.position(), 10);
        // An unnamed consumer has nothing to commit.
        let mut anon = FileConsumer::open(dir.path(), None, opts(FsyncPolicy::Batch))
            .await
            .unwrap();
        assert_eq!(
            anon.commit().await.unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        producer.close().await.unwrap();
    })
    .await
}

/// A crash that loses records a named consumer had read and committed (written but not
/// synced; here the segment is cut as such a crash leaves it): the consumer is told, once
/// the log ends before its cursor and once new records took the lost sequence numbers,
/// instead of waiting at, or skipping past, the new records.
#[tokio::test]
async fn a_consumer_whose_read_records_the_log_lost_is_told_not_made_to_skip() {
    watchdog(60, async {
        let dir = TempDir::new("file-cursor-lost");
        let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        for i in 0..10u64 {
            producer.append(format!("m{i}")).await.unwrap();
        }
        producer.close().await.unwrap();
        let open = || FileConsumer::open(dir.path(), Some("billing"), opts(FsyncPolicy::Never));
        let mut c = open().await.unwrap();
        while c.recv().await.unwrap().is_some() {}
        c.commit().await.unwrap();
        drop(c);
        // Records 6..9 lost (each 2-byte payload is a 10-byte record).
        let seg = &segments(dir.path())[0];
        let keep = SEGMENT_HEADER_LEN + 6 * (RECORD_HEADER_LEN + 2);
        let file = std::fs::OpenOptions::new().write(true).open(seg).unwrap();
        file.set_len(keep as u64).unwrap();
        drop(file);

        let err = open().await.unwrap().recv().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains("billing.cursor"), "{err}");
        assert!(err.to_string().contains("resumes at record 10"), "{err}");
        let mismatch = cursor_mismatch(&err).expect("a CursorMismatch inside");
        assert_eq!((mismatch.committed_next_seq, mismatch.next_seq), (10, 10));
        assert_eq!(mismatch.cursor_path, dir.path().join("billing.cursor"));

        // The producer goes on: records 6..10 are new ones.
        let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        for i in 6..11u64 {
            producer.append(format!("n{i}")).await.unwrap();
        }
        producer.close().await.unwrap();
        let err = open().await.unwrap().recv().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains("record 9"), "{err}");
        let mismatch = cursor_mismatch(&err).expect("a CursorMismatch inside");
        assert_eq!(mismatch.consumer, "billing");
        assert_eq!(mismatch.committed_next_seq, 10);
        // The same through a connection with that consumer name.
        let mut listener = anyipc::bind(url(dir.path(), "?consumer=billing&follow=false"))
            .await
            .unwrap();
        let mut conn = listener.accept().await.unwrap();
        let err = conn.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert_eq!(cursor_mismatch(&err).map(|m| m.next_seq), Some(10));
        // Another consumer reads the log as it is now.
        let all = read_all(dir.path()).await.unwrap();
        assert_eq!(all.len(), 11);
        assert_eq!(all[10].1, "n10");
    })
    .await
}

/// The [`CursorMismatch`] inside an `io::Error`, if any.
fn cursor_mismatch(err: &io::Error) -> Option<&CursorMismatch> {
    err.get_ref()?.downcast_ref()
}

/// A log whose segments were removed under a committed consumer, and started again: the
/// consumer's receive is `InvalidData` with a typed [`CursorMismatch`] inside (no text to
/// match), whether the log holds no segment yet or fewer records than the cursor; corruption
/// is not one. `remove_cursor` resets the consumer, which then reads the new log from the
/// start, through the typed API and a connection alike.
#[tokio::test]
async fn a_cursor_ahead_of_a_replaced_log_is_a_typed_mismatch_and_can_be_removed() {
    watchdog(60, async {
        let dir = TempDir::new("file-cursor-ahead");
        let log = dir.path();
        let mut producer = FileProducer::open(log, opts(FsyncPolicy::Never))
            .await
            .unwrap();
        for i in 0..10u64 {
            producer.append(format!("old {i}")).await.unwrap();
        }
        producer.close().await.unwrap();
        let open = |name| FileConsumer::open(log, Some(name), opts(FsyncPolicy::Never));
        for name in ["billing", "audit"] {
            let mut c = open(name).await.unwrap();
            for seq in 0..6 {
                assert_eq!(c.recv().await.unwrap().unwrap().seq, seq);
            }
            c.commit().await.unwrap();
        }
        for seg in segments(log) {
            std::fs::remove_file(seg).unwrap();
        }
        let expect_mismatch = |err: io::Error, name: &str, what: &str| {
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
            let mismatch = cursor_mismatch(&err).unwrap_or_else(|| panic!("untyped: {err}"));
            assert_eq!(mismatch.log, log);
            assert_eq!(mismatch.consumer, name);
            assert_eq!(mismatch.cursor_path, log.join(format!("{name}.cursor")));
            assert_eq!(
                (mismatch.committed_next_seq, mismatch.next_seq),
                (6, 6),
                "{err}"
            );
            // The message is the one users read: what happened and what to remove.
            let text = err.to_string();
            assert_eq!(text, mismatch.to_string());
            assert!(text.contains(what), "{text}");
            assert!(text.contains(&format!("consumer `{name}`")), "{text}");
            assert!(text.contains(&format!("{name}.cursor")), "{text}");
            assert!(text.contains("remove_cursor"), "{text}");
        };
        // No segment at all.
        let err = open("billing").await.unwrap().recv().await.unwrap_err();
        expect_mismatch(err, "billing", "holds no segment");
        // Three new records: the log ends before the cursor.
        let mut producer = FileProducer::open(log, opts(FsyncPolicy::Never))
            .await
            .unwrap();
        for i in 0..3u64 {
            producer.append(format!("new {i}")).await.unwrap();
        }
        producer.close().await.unwrap();
        let mut billing = open("billing").await.unwrap();
        for _ in 0..2 {
            // Reported again at every receive, never skipped past.
            let err = billing.recv().await.unwrap_err();
            expect_mismatch(err, "billing", "ends at record 3");
        }
        let mut listener = anyipc::bind(url(log, "?consumer=audit&follow=false"))
            .await
            .unwrap();
        let mut conn = listener.accept().await.unwrap();
        let err = conn.next().await.unwrap().unwrap_err();
        expect_mismatch(err, "audit", "ends at record 3");
        drop((billing, conn, listener));

        // Reset: the cursor (and a commit's leftover temporary file) go, the log stays.
        std::fs::write(log.join(".billing.cursor.tmp"), b"half-written").unwrap();
        anyipc::file::remove_cursor(log, "billing").unwrap();
        assert!(!log.join("billing.cursor").exists());
        assert!(!log.join(".billing.cursor.tmp").exists());
        assert!(log.join("audit.cursor").exists());
        // Nothing to remove is not an error.
        anyipc::file::remove_cursor(log, "billing").unwrap();
        anyipc::file::remove_cursor(log.join("no-such-log"), "billing").unwrap();
        let mut billing = open("billing").await.unwrap();
        let mut got = Vec::new();
        while let Some(record) = billing.recv().await.unwrap() {
            got.push(record.payload);
        }
        assert_eq!(got, ["new 0", "new 1", "new 2"]);
        anyipc::file::remove_cursor(log, "audit").unwrap();
        let mut listener = anyipc::bind(url(log, "?consumer=audit&follow=false"))
            .await
            .unwrap();
        let conn = listener.accept().await.unwrap();
        let got: Vec<Bytes> = conn.map(Result::unwrap).collect().await;
        assert_eq!(got, ["new 0", "new 1", "new 2"]);

        // A bad name is refused before anything is touched; a directory is not removed.
        for bad in ["../billing", "a/b", ""] {
            let err = anyipc::file::remove_cursor(log, bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}: {err}");
        }
        std::fs::create_dir(log.join("odd.cursor")).unwrap();
        assert!(anyipc::file::remove_cursor(log, "odd").is_err());
        assert!(log.join("odd.cursor").is_dir());

        // Corruption is not a mismatch: a damaged cursor is InvalidData without one inside.
        std::fs::write(log.join("broken.cursor"), b"not a cursor").unwrap();
        let err = open("broken").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(cursor_mismatch(&err).is_none(), "{err}");
    })
    .await
}

#[tokio::test]
async fn a_consumer_connection_commits_when_closed() {
    watchdog(60, async {
        let dir = TempDir::new("file-autocommit");
        let mut producer = anyipc::connect(url(dir.path(), "?fsync=never"))
            .await
            .unwrap();
        for i in 0..6u32 {
            producer.send(Bytes::from(vec![i as u8])).await.unwrap();
        }
        producer.close().await.unwrap();
        let consumer_url = url(dir.path(), "?consumer=cli&follow=false");
        let mut listener = anyipc::bind(&consumer_url).await.unwrap();
        let mut conn = listener.accept().await.unwrap();
        for i in 0..3u8 {
            assert_eq!(conn.next().await.unwrap().unwrap()[..], [i]);
        }
        conn.close().await.unwrap();
        let mut listener = anyipc::bind(&consumer_url).await.unwrap();
        let conn = listener.accept().await.unwrap();
        let rest: Vec<Bytes> = conn.map(Result::unwrap).collect().await;
        assert_eq!(
            rest,
            vec![
                Bytes::from(vec![3]),
                Bytes::from(vec![4]),
                Bytes::from(vec![5])
            ]
        );
    })
    .await
}

/// A named consumer that joins at the end (`from=end`, no cursor yet) and returns nothing
/// before it is closed or dropped still resumes there: the records appended while it was
/// away are delivered, not skipped by a second start at the (new) end.
#[tokio::test]
async fn a_consumer_starting_at_the_end_resumes_there_though_it_returned_nothing() {
    watchdog(60, async {
        let dir = TempDir::new("file-from-end-resume");
        let mut producer = anyipc::connect(url(dir.path(), "?fsync=never"))
            .await
            .unwrap();
        producer.send(Bytes::from_static(b"before")).await.unwrap();
        producer.flush().await.unwrap();
        for (name, close) in [("closed", true), ("dropped", false)] {
            let consumer_url = url(
                dir.path(),
                &format!("?consumer={name}&from=end&follow=false"),
            );
            let mut listener = anyipc::bind(&consumer_url).await.unwrap();
            let mut conn = listener.accept().await.unwrap();
            assert!(
                conn.next().await.is_none(),
                "{name}: nothing after the end yet"
            );
            if close {
                conn.close().await.unwrap();
            }
            drop((conn, listener));
            let missed = Bytes::from(format!("while {name} was away"));
            producer.send(missed.clone()).await.unwrap();
            producer.flush().await.unwrap();
            let mut listener = anyipc::bind(&consumer_url).await.unwrap();
            let conn = listener.accept().await.unwrap();
            let got: Vec<Bytes> = conn.map(Result::unwrap).collect().await;
            assert_eq!(got, vec![missed], "{name}");
        }
        // The typed consumer, without a commit, and `anyipc listen` in another process.
        let end = FileOptions {
            from: StartFrom::End,
            ..opts(FsyncPolicy::Never)
        };
        let typed = FileConsumer::open(dir.path(), Some("typed"), end)
            .await
            .unwrap();
        drop(typed);
        let listen_url = url(dir.path(), "?consumer=cli&from=end&follow=false");
        let listen = || {
            std::process::Command::new(env!("CARGO_BIN_EXE_anyipc"))
                .args(["listen", &listen_url])
                .output_bounded()
        };
        assert_eq!(listen().stdout, b"");
        producer.send(Bytes::from_static(b"later")).await.unwrap();
        producer.flush().await.unwrap();
        assert_eq!(listen().stdout, b"later\n");
        let mut typed = FileConsumer::open(dir.path(), Some("typed"), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        let first = typed.recv().await.unwrap().unwrap();
        assert_eq!(
            (first.seq, first.payload),
            (3, Bytes::from_static(b"later"))
        );
        producer.close().await.unwrap();
    })
    .await
}

/// A named consumer that has caught up commits what it returned within about a second, with
/// no new record and no close: `anyipc listen` killed with SIGKILL while idle loses nothing.
#[tokio::test]
async fn an_idle_consumer_commits_what_it_returned_without_being_closed() {
    watchdog(60, async {
        let dir = TempDir::new("file-idle-commit");
        let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        for i in 0..3u8 {
            producer.append(vec![b'a' + i]).await.unwrap();
        }
        let mut listen = Command::new(crate::util::anyipc_bin())
            .args(["listen", &url(dir.path(), "?consumer=idle")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(listen.stdout.take().unwrap()).lines();
        for expected in ["a", "b", "c"] {
            assert_eq!(lines.next_line().await.unwrap().unwrap(), expected);
        }
        // The consumer waits for more; its cursor reaches the disk on its own.
        let cursor = dir.path().join("idle.cursor");
        while !cursor.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        listen.start_kill().unwrap();
        listen.wait().await.unwrap();
        producer.append(&b"d"[..]).await.unwrap();
        let mut resumed = FileConsumer::open(dir.path(), Some("idle"), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        assert_eq!(resumed.recv().await.unwrap().unwrap().payload, "d");
    })
    .await
}

/// An idle consumer's commit follows tokio's clock: with the clock paused (as a service's
/// tests may run it), the cursor is committed once a second has passed on that clock. It
/// used to wait for a real second, re-running a read on the pool at every poll meanwhile.
#[tokio::test(start_paused = true)]
async fn an_idle_consumers_commit_follows_a_paused_clock() {
    let dir = TempDir::new("file-paused-commit");
    let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
        .await
        .unwrap();
    for i in 0..3u8 {
        producer.append(vec![b'a' + i]).await.unwrap();
    }
    // Real time, from the consumer's start: a commit by the real clock comes a second later.
    let opened = std::time::Instant::now();
    let mut listener = anyipc::bind(url(dir.path(), "?consumer=paused"))
        .await
        .unwrap();
    let mut conn = listener.accept().await.unwrap();
    for expected in ["a", "b", "c"] {
        assert_eq!(conn.next().await.unwrap().unwrap(), expected);
    }
    // Two seconds of waiting for more, on the paused clock: no real time passes.
    tokio::select! {
        msg = conn.next() => panic!("nothing more was appended, yet {msg:?}"),
        () = tokio::time::sleep(Duration::from_secs(2)) => {}
    }
    // The commit is written on the blocking pool: real time for it to land, but not the
    // real second after which the real clock would have made it due.
    let cursor = dir.path().join("paused.cursor");
    while !cursor.exists() && opened.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        cursor.exists() && opened.elapsed() < Duration::from_millis(900),
        "committed by the paused clock's second, not a real one: {:?}",
        opened.elapsed()
    );
    drop(conn);
    producer.append(&b"d"[..]).await.unwrap();
    let mut resumed = FileConsumer::open(dir.path(), Some("paused"), opts(FsyncPolicy::Never))
        .await
        .unwrap();
    assert_eq!(resumed.recv().await.unwrap().unwrap().payload, "d");
}

#[tokio::test]
async fn segments_rotate_and_retention_deletes_the_oldest() {
    watchdog(60, async {
        let dir = TempDir::new("file-rotate");
        let rotating = FileOptions {
            segment_size: 1024,
            retention: Some(4096),
            ..opts(FsyncPolicy::Never)
        };
        let mut producer = FileProducer::open(dir.path(), rotating.clone())
            .await
            .unwrap();
        for i in 0..500u64 {
            producer.append(vec![i as u8; 100]).await.unwrap();
        }
        producer.close().await.unwrap();
        let segs = segments(dir.path());
        assert!(segs.len() >= 3, "rotated into {} segments", segs.len());
        let total: u64 = segs.iter().map(|p| p.metadata().unwrap().len()).sum();
        // Retention applies at each rotation, so the active segment may add up to one more.
        assert!(total <= 4096 + 1024, "retention kept {total} bytes");
        // What is left is a contiguous run ending at the last record.
        let records = read_all(dir.path()).await.unwrap();
        assert_eq!(records.last().unwrap().0, 499);
        for pair in records.windows(2) {
            assert_eq!(pair[1].0, pair[0].0 + 1);
        }
        for (seq, payload) in &records {
            assert_eq!(payload[..], vec![*seq as u8; 100][..]);
        }
        // Reopening continues the numbering in the last segment.
        let mut producer = FileProducer::open(dir.path(), rotating).await.unwrap();
        assert_eq!(producer.append("after").await.unwrap(), 500);
        producer.close().await.unwrap();
    })
    .await
}

/// A slow consumer, caught up with the first segment and not polled while the producer
/// writes on, reads that segment to its end through its open descriptor after retention
/// deleted it and the next ones: the records in between are skipped (with a warning), as
/// for a consumer opened after retention, and reading goes on at the oldest kept segment
/// (it used to fail with `InvalidData`, "the next segment starts at …").
#[tokio::test]
async fn a_slow_consumer_skips_the_segments_retention_deleted_under_it() {
    watchdog(60, async {
        let dir = TempDir::new("file-retention-slow");
        let rotating = FileOptions {
            segment_size: 1024,
            retention: Some(2048),
            ..opts(FsyncPolicy::Never)
        };
        let mut producer = FileProducer::open(dir.path(), rotating).await.unwrap();
        for i in 0..5u64 {
            producer.append(vec![i as u8; 100]).await.unwrap();
        }
        let mut consumer = FileConsumer::open(dir.path(), None, opts(FsyncPolicy::Never))
            .await
            .unwrap();
        for i in 0..5u64 {
            assert_eq!(consumer.recv().await.unwrap().unwrap().seq, i);
        }
        for i in 5..200u64 {
            producer.append(vec![i as u8; 100]).await.unwrap();
        }
        producer.close().await.unwrap();
        let kept: Vec<u64> = read_all(dir.path())
            .await
            .unwrap()
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert!(kept[0] > 20, "retention kept records from {}", kept[0]);
        let mut seqs = Vec::new();
        while let Some(record) = consumer.recv().await.unwrap() {
            assert_eq!(record.payload[..], vec![record.seq as u8; 100][..]);
            seqs.push(record.seq);
        }
        // The rest of the first segment, then what retention kept.
        let skip_at = seqs
            .iter()
            .position(|&s| s >= kept[0])
            .unwrap_or(seqs.len());
        let (first_segment, after) = seqs.split_at(skip_at);
        assert!(first_segment
            .iter()
            .copied()
            .eq(5..5 + first_segment.len() as u64));
        assert_eq!(after, kept);
    })
    .await
}

#[tokio::test]
async fn batches_keep_order_across_blocks_and_segments_and_are_read_in_batches() {
    watchdog(60, async {
        let dir = TempDir::new("file-batch");
        let rotating = FileOptions {
            segment_size: 64 * 1024,
            max_frame: 4096,
            ..opts(FsyncPolicy::Always)
        };
        let mut producer = FileProducer::open(dir.path(), rotating.clone())
            .await
            .unwrap();
        // 3,000 records of up to 3,000 bytes: several 256 KiB blocks and segments per batch.
        let batch: Vec<Bytes> = (0..3000).map(payload).collect();
        assert_eq!(producer.append_many(&batch).await.unwrap(), 0..3000);
        // One message over max_frame: nothing of its batch is appended.
        let err = producer
            .append_many(&[vec![1u8; 10], vec![2u8; 5000]])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            producer.append_many(&[payload(3000)]).await.unwrap(),
            3000..3001
        );
        assert_eq!(
            producer.append_many::<Bytes>(&[]).await.unwrap(),
            3001..3001
        );
        producer.close().await.unwrap();
        assert!(segments(dir.path()).len() > 10);

        // A named consumer takes one record alone, then the rest in batches, commits and
        // resumes after the last batch it took.
        let mut consumer = FileConsumer::open(dir.path(), Some("b"), rotating.clone())
            .await
            .unwrap();
        assert_eq!(consumer.recv().await.unwrap().unwrap().seq, 0);
        let (mut next, mut batches) = (1u64, 0);
        while let Some(got) = consumer.recv_batch().await.unwrap() {
            assert_eq!(got.first_seq(), next);
            for (seq, bytes) in &got {
                assert_eq!((seq, bytes), (next, &payload(next)[..]));
                next += 1;
            }
            assert_eq!(
                (got.end_seq(), got.len() as u64),
                (next, next - got.first_seq())
            );
            assert_eq!(consumer.position(), next);
            batches += 1;
            if next > 2000 {
                break;
            }
        }
        assert!(batches > 1, "the log was read in {batches} batches");
        consumer.commit().await.unwrap();
        drop(consumer);
        let mut consumer = FileConsumer::open(dir.path(), Some("b"), rotating)
            .await
            .unwrap();
        while let Some(got) = consumer.recv_batch().await.unwrap() {
            for (seq, bytes) in &got {
                assert_eq!((seq, bytes), (next, &payload(next)[..]));
                next += 1;
            }
        }
        assert_eq!(next, 3001, "every record once, in order");
    })
    .await
}

#[tokio::test]
async fn an_append_after_an_abandoned_durable_append_is_appended_itself() {
    use futures::FutureExt;
    watchdog(30, async {
        let dir = TempDir::new("file-abandoned");
        let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Always))
            .await
            .unwrap();
        // Polled once (encoded, handed over, waiting for its fdatasync), then dropped.
        let _ = producer.append("abandoned").now_or_never();
        assert_eq!(producer.append("kept").await.unwrap(), 1);
        producer.close().await.unwrap();
        let records = read_all(dir.path()).await.unwrap();
        let payloads: Vec<&[u8]> = records.iter().map(|(_, p)| &p[..]).collect();
        assert_eq!(payloads, [&b"abandoned"[..], b"kept"]);
    })
    .await
}

#[tokio::test]
async fn a_consumer_follows_across_rotation() {
    watchdog(60, async {
        let dir = TempDir::new("file-rotate-tail");
        let small = FileOptions {
            segment_size: 256,
            ..opts(FsyncPolicy::Never)
        };
        let mut producer = FileProducer::open(dir.path(), small).await.unwrap();
        let follow = FileOptions {
            follow: true,
            ..FileOptions::default()
        };
        let mut consumer = FileConsumer::open(dir.path(), None, follow).await.unwrap();
        for i in 0..100u64 {
            producer.append(vec![7u8; 50]).await.unwrap();
            assert_eq!(consumer.recv().await.unwrap().unwrap().seq, i);
        }
        assert!(segments(dir.path()).len() > 10);
    })
    .await
}

#[tokio::test]
async fn a_torn_tail_is_cut_off_on_reopen() {
    watchdog(60, async {
        let dir = TempDir::new("file-torn");
        let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Always))
            .await
            .unwrap();
        for i in 0..5u64 {
            producer.append(payload(i)).await.unwrap();
        }
        producer.close().await.unwrap();
        // Half a record: a header promising 1000 bytes, 10 of them written.
        let seg = segments(dir.path()).pop().unwrap();
        let clean_len = seg.metadata().unwrap().len();
        let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&1000u32.to_le_bytes()).unwrap();
        f.write_all(&[0xAB; 14]).unwrap();
        drop(f);
        assert_eq!(
            scan_segment(&std::fs::read(&seg).unwrap(), 1 << 20).tail,
            Tail::Torn
        );
        // Readers stop before it.
        assert_eq!(read_all(dir.path()).await.unwrap().len(), 5);
        let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Always))
            .await
            .unwrap();
        assert_eq!(
            seg.metadata().unwrap().len(),
            clean_len,
            "torn tail cut off"
        );
        assert_eq!(producer.append(payload(5)).await.unwrap(), 5);
        producer.close().await.unwrap();
        let records = read_all(dir.path()).await.unwrap();
        assert_eq!(records.len(), 6);
        for (seq, p) in records {
            assert_eq!(p, payload(seq));
        }
    })
    .await
}

#[tokio::test]
async fn corruption_in_the_middle_is_an_explicit_error_never_a_bad_payload() {
    watchdog(60, async {
        let dir = TempDir::new("file-corrupt");
        let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        for i in 0..10u64 {
            producer.append(vec![i as u8; 64]).await.unwrap();
        }
        producer.close().await.unwrap();
        let seg = segments(dir.path()).pop().unwrap();
        let mut bytes = std::fs::read(&seg).unwrap();
        // Inside the payload of record 4: 32-byte header, 72 bytes per record.
        bytes[32 + 4 * 72 + 8 + 20] ^= 0x01;
        std::fs::write(&seg, &bytes).unwrap();

        let mut consumer = FileConsumer::open(dir.path(), None, opts(FsyncPolicy::Never))
            .await
            .unwrap();
        for i in 0..4u64 {
            let rec = consumer.recv().await.unwrap().unwrap();
            assert_eq!((rec.seq, &rec.payload[..]), (i, &vec![i as u8; 64][..]));
        }
        for _ in 0..2 {
            let err = consumer.recv().await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        }
        // The writer will not cut valid records off either.
        let err = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    })
    .await
}

#[tokio::test]
async fn a_record_over_the_consumers_max_frame_is_invalid_data() {
    watchdog(60, async {
        let dir = TempDir::new("file-maxframe");
        let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        producer.append(vec![1u8; 2000]).await.unwrap();
        producer.close().await.unwrap();
        let mut listener = anyipc::bind(url(dir.path(), "?follow=false&max_frame=1000"))
            .await
            .unwrap();
        let mut conn = listener.accept().await.unwrap();
        let err = conn.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(frame_error(&err).is_some(), "{err}");
    })
    .await
}

#[tokio::test]
async fn plain_files_are_written_and_read_as_lines() {
    watchdog(60, async {
        let dir = TempDir::new("file-plain");
        let path = dir.path().join("data.txt");
        let mut writer = anyipc::connect(url(&path, "?framing=lines")).await.unwrap();
        writer.send(Bytes::from_static(b"alpha")).await.unwrap();
        writer.send(Bytes::from_static(b"beta")).await.unwrap();
        writer.close().await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "alpha\nbeta\n");
        // An ordinary program appends, ending without a newline.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"gamma\ndelta").unwrap();
        drop(f);
        let mut listener = anyipc::bind(url(&path, "?framing=lines&follow=false"))
            .await
            .unwrap();
        let lines: Vec<Bytes> = listener
            .accept()
            .await
            .unwrap()
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(
            lines,
            ["alpha", "beta", "gamma", "delta"].map(|s| Bytes::from_static(s.as_bytes()))
        );
    })
    .await
}

#[tokio::test]
async fn a_line_holding_a_newline_fails_its_send_only() {
    watchdog(60, async {
        let dir = TempDir::new("file-plain-refused");
        let path = dir.path().join("data.txt");
        let mut writer = anyipc::connect(url(&path, "?framing=lines")).await.unwrap();
        writer.send(Bytes::from_static(b"before")).await.unwrap();
        let err = writer
            .send(Bytes::from_static(b"two\nlines"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        // The writer goes on: the refusal happened before anything was queued.
        writer.send(Bytes::from_static(b"after")).await.unwrap();
        writer.close().await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "before\nafter\n");
    })
    .await
}

/// Fed messages wait in the producer's block; a flush (or `send`, or closing) hands them
/// to the writer, and a consumer tailing the log gets them.
#[tokio::test]
async fn fed_messages_are_written_when_flushed() {
    watchdog(60, async {
        let dir = TempDir::new("file-feed-flush");
        let log = dir.path().join("log");
        let mut listener = anyipc::bind(url(&log, "")).await.unwrap();
        let mut consumer = listener.accept().await.unwrap();
        let mut producer = anyipc::connect(url(&log, "?fsync=never")).await.unwrap();
        for round in 0..3u8 {
            for i in 0..100u8 {
                producer.feed(Bytes::from(vec![round, i])).await.unwrap();
            }
            producer.flush().await.unwrap();
            for i in 0..100u8 {
                assert_eq!(consumer.next().await.unwrap().unwrap(), vec![round, i]);
            }
        }
        producer.feed(Bytes::from_static(b"last")).await.unwrap();
        producer.close().await.unwrap();
        assert_eq!(consumer.next().await.unwrap().unwrap(), "last");
    })
    .await
}

#[tokio::test]
async fn plain_files_are_followed_like_tail_f() {
    watchdog(60, async {
        let dir = TempDir::new("file-plain-follow");
        let path = dir.path().join("later.txt");
        // The file does not exist yet: following waits for it.
        let mut listener = anyipc::bind(url(&path, "?framing=lines")).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        for i in 0..10 {
            writeln!(f, "line {i}").unwrap();
            assert_eq!(reader.next().await.unwrap().unwrap(), format!("line {i}"));
        }
        // A partial line waits for its newline.
        write!(f, "part").unwrap();
        let early = tokio::time::timeout(Duration::from_millis(50), reader.next()).await;
        assert!(
            early.is_err(),
            "a line without its newline is not delivered while following"
        );
        writeln!(f, "ial").unwrap();
        assert_eq!(reader.next().await.unwrap().unwrap(), "partial");
    })
    .await
}

/// The next line of a followed plain file, or a failure within 5 s (a regression fails
/// instead of hanging).
async fn next_line(reader: &mut anyipc::Connection, what: &str) -> Bytes {
    tokio::time::timeout(Duration::from_secs(5), reader.next())
        .await
        .unwrap_or_else(|_| panic!("{what}: no line within 5 s"))
        .unwrap_or_else(|| panic!("{what}: the stream ended"))
        .unwrap()
}

/// logrotate's default `create` mode renames the log and creates a new one at its path; the
/// application still writes a last line to the old file (its open descriptor) before it
/// reopens the path. A followed plain file follows the path, like `tail -F`: the old
/// file's last lines come first, then the new file's. It used to stay on the renamed file,
/// never delivering another line: no error, no end.
#[tokio::test]
async fn a_followed_plain_file_is_followed_across_logrotate_rename_and_create() {
    watchdog(60, async {
        let dir = TempDir::new("file-plain-rotate");
        let path = dir.path().join("app.log");
        std::fs::write(&path, b"before\n").unwrap();
        let mut listener = anyipc::bind(url(&path, "?framing=lines")).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        assert_eq!(next_line(&mut reader, "before").await, "before");
        let mut app = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        writeln!(app, "last before").unwrap();
        std::fs::rename(&path, dir.path().join("app.log.1")).unwrap();
        writeln!(app, "late").unwrap();
        let mut writer = anyipc::connect(url(&path, "?framing=lines")).await.unwrap();
        writer.send(Bytes::from_static(b"after")).await.unwrap();
        writer.close().await.unwrap();
        assert_eq!(next_line(&mut reader, "last").await, "last before");
        assert_eq!(next_line(&mut reader, "late").await, "late");
        assert_eq!(next_line(&mut reader, "after").await, "after");
        // Rotated again: still followed.
        std::fs::rename(&path, dir.path().join("app.log.2")).unwrap();
        std::fs::write(&path, b"again\n").unwrap();
        assert_eq!(next_line(&mut reader, "again").await, "again");
    })
    .await
}

/// `rm app.log`, then a new file at its path (`anyipc send` to it again): the new file is
/// read from its start. It used to be missed for ever.
#[tokio::test]
async fn a_followed_plain_file_removed_and_created_again_is_read_afresh() {
    watchdog(60, async {
        let dir = TempDir::new("file-plain-recreate");
        let path = dir.path().join("app.log");
        let plain = url(&path, "?framing=lines");
        let mut writer = anyipc::connect(&plain).await.unwrap();
        writer.send(Bytes::from_static(b"first")).await.unwrap();
        writer.close().await.unwrap();
        let mut reader = anyipc::bind(&plain).await.unwrap().accept().await.unwrap();
        assert_eq!(next_line(&mut reader, "first").await, "first");
        std::fs::remove_file(&path).unwrap();
        // The path is missing for a while: nothing, and no end.
        let quiet = tokio::time::timeout(Duration::from_millis(100), reader.next()).await;
        assert!(quiet.is_err(), "{quiet:?}");
        let mut writer = anyipc::connect(&plain).await.unwrap();
        writer.send(Bytes::from_static(b"second")).await.unwrap();
        writer.close().await.unwrap();
        assert_eq!(next_line(&mut reader, "second").await, "second");
    })
    .await
}

/// logrotate's `copytruncate` mode copies the log and truncates it in place (the same
/// file): the reader starts again from its top.
#[tokio::test]
async fn a_followed_plain_file_truncated_by_copytruncate_is_read_from_the_start() {
    watchdog(60, async {
        let dir = TempDir::new("file-plain-copytruncate");
        let path = dir.path().join("app.log");
        std::fs::write(&path, b"one\ntwo\n").unwrap();
        let mut reader = anyipc::bind(url(&path, "?framing=lines"))
            .await
            .unwrap()
            .accept()
            .await
            .unwrap();
        assert_eq!(next_line(&mut reader, "one").await, "one");
        assert_eq!(next_line(&mut reader, "two").await, "two");
        std::fs::copy(&path, dir.path().join("app.log.1")).unwrap();
        let mut app = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        app.set_len(0).unwrap();
        writeln!(app, "3").unwrap();
        assert_eq!(next_line(&mut reader, "3").await, "3");
    })
    .await
}

/// A plain file's bad last frame is reported once, then the stream ends: a last line over
/// `max_frame` without its newline (dropped, as a long line with its newline is), and with
/// length framing a header over `max_frame`, after which no frame can be found, even
/// following. Both used to be reported again at every `next`, for ever.
#[tokio::test]
async fn a_bad_last_frame_of_a_plain_file_is_reported_once_then_the_stream_ends() {
    watchdog(60, async {
        let dir = TempDir::new("file-plain-bad-last");
        let lines = dir.path().join("data.txt");
        let mut bytes = b"ok\n".to_vec();
        bytes.extend([b'x'; 2000]);
        std::fs::write(&lines, &bytes).unwrap();
        let length = dir.path().join("data.bin");
        let mut bytes = 2u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"ok");
        bytes.extend_from_slice(&2000u32.to_be_bytes());
        std::fs::write(&length, &bytes).unwrap();
        for (path, query) in [
            (&lines, "?framing=lines&follow=false&max_frame=1000"),
            (&length, "?framing=length&max_frame=1000"),
        ] {
            let mut listener = anyipc::bind(url(path, query)).await.unwrap();
            let mut reader = listener.accept().await.unwrap();
            assert_eq!(reader.next().await.unwrap().unwrap(), "ok", "{query}");
            let err = reader.next().await.unwrap().unwrap_err();
            assert!(frame_error(&err).is_some(), "{query}: {err}");
            assert!(reader.next().await.is_none(), "{query}: the stream goes on");
        }
    })
    .await
}

#[tokio::test]
async fn plain_raw_files_deliver_the_bytes() {
    watchdog(60, async {
        let dir = TempDir::new("file-plain-raw");
        let path = dir.path().join("blob.bin");
        std::fs::write(&path, crate::util::pattern(100_000)).unwrap();
        let mut listener = anyipc::bind(url(&path, "?framing=raw&follow=false"))
            .await
            .unwrap();
        let chunks: Vec<Bytes> = listener
            .accept()
            .await
            .unwrap()
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(chunks.concat(), crate::util::pattern(100_000));
        let err = anyipc::bind(url(
            &dir.path().join("missing"),
            "?framing=raw&follow=false",
        ))
        .await
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    })
    .await
}

/// A plain file's path (`framing=`) that names a directory is refused by `bind` and by
/// `connect` with `InvalidInput` and a message that says so, before anything is read.
#[tokio::test]
async fn a_directory_is_not_a_plain_file() {
    watchdog(60, async {
        let dir = TempDir::new("file-plain-dir");
        for follow in ["true", "false"] {
            let query = format!("?framing=lines&follow={follow}");
            let err = anyipc::bind(url(dir.path(), &query)).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains("is a directory"), "{err}");
        }
        let err = anyipc::connect(url(dir.path(), "?framing=lines"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("is a directory"), "{err}");
    })
    .await
}

/// A plain file's path that names a FIFO or a socket is refused by `bind` and `connect`
/// with `InvalidInput` naming the path. A FIFO used to block `bind` (and `connect`) for
/// ever, in an open on the blocking pool, until another process opened its other end; a
/// socket failed with a bare "No such device or address".
#[cfg(unix)] // FIFOs and Unix sockets
#[tokio::test]
async fn a_fifo_or_socket_is_not_a_plain_file() {
    watchdog(60, async {
        let dir = TempDir::new("file-plain-fifo");
        let fifo = dir.path().join("fifo");
        crate::util::mkfifo(&fifo);
        let socket = dir.path().join("socket");
        let _bound = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        for (path, what) in [(&fifo, "a FIFO"), (&socket, "a socket")] {
            for follow in ["true", "false"] {
                let query = format!("?framing=lines&follow={follow}");
                let err = anyipc::bind(url(path, &query)).await.unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
                assert!(err.to_string().contains(what), "{err}");
                assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
            }
            let err = anyipc::connect(url(path, "?framing=lines"))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains(what), "{err}");
        }
        // Nothing else was created or changed: a plain file beside them works as before.
        let plain = dir.path().join("plain.txt");
        let mut writer = anyipc::connect(url(&plain, "?framing=lines"))
            .await
            .unwrap();
        writer.send("kept").await.unwrap();
        writer.close().await.unwrap();
        let mut listener = anyipc::bind(url(&plain, "?framing=lines&follow=false"))
            .await
            .unwrap();
        let mut reader = listener.accept().await.unwrap();
        assert_eq!(reader.recv().await.unwrap().as_deref(), Some(&b"kept"[..]));
    })
    .await
}

/// A plain file's path naming a FIFO that a process reads is refused without the FIFO being
/// opened: `bind` and `connect` used to open it (with `O_NONBLOCK`) before looking at what it
/// was, so `connect` was for a moment the FIFO's writer, and its reader saw a writer come
/// and go, the end of the stream (`anyipc send 'file:///tmp/x.fifo?framing=lines' x` made a
/// waiting `cat` read EOF and exit). Here the test holds the reader: after the refusals no
/// open of the FIFO was seen (inotify), its reader has no hang-up (`POLLHUP`, which Linux
/// reports once a writer has come and gone), and what a writer sends next is all it reads.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_fifo_refused_as_a_plain_file_is_not_opened() {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    watchdog(60, async {
        let dir = TempDir::new("file-plain-fifo-unopened");
        let fifo = dir.path().join("fifo");
        crate::util::mkfifo(&fifo);
        let mut reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let mut inotify = inotify::Inotify::init().unwrap();
        inotify
            .watches()
            .add(&fifo, inotify::WatchMask::OPEN)
            .unwrap();
        for follow in ["true", "false"] {
            let query = format!("?framing=lines&follow={follow}");
            let err = anyipc::bind(url(&fifo, &query)).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains("a FIFO"), "{err}");
        }
        let err = anyipc::connect(url(&fifo, "?framing=lines"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("a FIFO"), "{err}");

        let mut events = [0u8; 1024];
        match inotify.read_events(&mut events) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Ok(seen) => panic!("the FIFO was opened: {:?}", seen.collect::<Vec<_>>()),
            Err(e) => panic!("{e}"),
        }
        let mut poll = libc::pollfd {
            fd: reader.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll of one valid pollfd, not waiting; it writes only `revents`.
        let ready = unsafe { libc::poll(&mut poll, 1, 0) };
        assert_eq!(ready, 0, "the reader sees a hang-up: {}", poll.revents);
        let mut writer = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        writer.write_all(b"x\n").unwrap();
        drop(writer);
        let mut got = Vec::new();
        reader.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"x\n");
    })
    .await
}

/// A plain file's path that is a symbolic link (plain files are not opened through links)
/// is refused by `bind` and `connect` with `InvalidInput` saying so and naming the path,
/// not a bare "Too many levels of symbolic links"; the file it points to is untouched.
#[cfg(unix)] // symlinks an ordinary user can make
#[tokio::test]
async fn a_symlinked_plain_file_is_refused_with_a_clear_error() {
    watchdog(60, async {
        let dir = TempDir::new("file-plain-symlink");
        let target = dir.path().join("target.txt");
        std::fs::write(&target, "a\n").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let dangling = dir.path().join("dangling.txt");
        std::os::unix::fs::symlink(dir.path().join("missing.txt"), &dangling).unwrap();
        for path in [&link, &dangling] {
            let mut errors = Vec::new();
            for follow in ["true", "false"] {
                let query = format!("?framing=lines&follow={follow}");
                errors.push(anyipc::bind(url(path, &query)).await.unwrap_err());
            }
            errors.push(
                anyipc::connect(url(path, "?framing=lines"))
                    .await
                    .unwrap_err(),
            );
            for err in errors {
                assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
                assert!(err.to_string().contains("symbolic link"), "{err}");
                assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
            }
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "a\n");
        assert!(!dir.path().join("missing.txt").exists());
    })
    .await
}

/// The log directory removed under a live producer (`rm -rf`, `anyipc rm --force`): its
/// next sync finds the segment it appends to deleted, and the producer stops with
/// `NotFound` saying so, instead of acknowledging records, under `fsync=always` as on
/// disk, that no one can ever read. It used to go on appending to the deleted file.
// Not on Windows: a live producer's log cannot be deleted there (its lock file is open
// with no sharing; see `file::remove_forced`).
#[cfg(unix)]
#[tokio::test]
async fn a_producer_whose_log_was_removed_stops_instead_of_acknowledging() {
    watchdog(60, async {
        for fsync in [FsyncPolicy::Always, FsyncPolicy::Batch] {
            let dir = TempDir::new("file-removed-under-producer");
            let log = dir.path().join("log");
            let mut producer = FileProducer::open(&log, opts(fsync)).await.unwrap();
            assert_eq!(producer.append("kept").await.unwrap(), 0);
            producer.sync().await.unwrap();
            std::fs::remove_dir_all(&log).unwrap();
            let err = match producer.append("lost").await {
                Ok(_) => producer.sync().await.unwrap_err(),
                Err(e) => e,
            };
            assert_eq!(err.kind(), io::ErrorKind::NotFound, "{fsync:?}: {err}");
            assert!(err.to_string().contains("was deleted"), "{err}");
            assert!(err.to_string().contains(&*log.to_string_lossy()), "{err}");
            let again = producer.append("after").await.unwrap_err();
            assert_eq!(again.kind(), io::ErrorKind::NotFound, "fail-stop: {again}");
            let _ = producer.close().await;
        }
    })
    .await
}

/// Kills the producer with SIGKILL at random points of appending under `fsync=always`, 200
/// times over the same log: every acknowledged record is there after each crash, no torn or
/// corrupt record is ever delivered, and each restart cuts the torn tail off.
#[tokio::test]
async fn sigkill_mid_append_loses_no_acknowledged_record() {
    watchdog(110, async {
        let dir = TempDir::new("file-crash");
        let mut expected_next = 0u64;
        let mut rng = Lcg::seeded();
        let mut torn_rounds = 0;
        for round in 0..200 {
            // Odd rounds append in batches: an acknowledged batch is on disk whole.
            let role = if round % 2 == 0 { "append" } else { "append-many" };
            let mut child = spawn_helper(role, dir.path());
            let mut lines = HelperLines::new(&mut child);
            lines.wait_ready().await;
            let acks_wanted = rng.below(6);
            let mut last_ack = None;
            for _ in 0..acks_wanted {
                match lines.next_line().await.unwrap() {
                    Some(line) => last_ack = Some(line.strip_prefix("ack ").unwrap().parse::<u64>().unwrap()),
                    None => panic!("helper ended early in round {round}"),
                }
            }
            tokio::time::sleep(Duration::from_micros(rng.below(1500))).await;
            child.kill().await.unwrap();
            // Acks printed before the kill but not read yet count too.
            while let Ok(Some(line)) = lines.next_line().await {
                last_ack = Some(line.strip_prefix("ack ").unwrap().parse::<u64>().unwrap());
            }
            if let Some(seg) = segments(dir.path()).pop() {
                let bytes = std::fs::read(&seg).unwrap();
                let scan = scan_segment(&bytes, u32::MAX as usize);
                if scan.tail == Tail::Torn {
                    torn_rounds += 1;
                } else if round % 5 == 4 {
                    // SIGKILL seldom cuts a page-cache write short; a power cut does. Leave
                    // the beginning of the next record, as a torn write would.
                    inject_torn_write(&seg, &scan, &mut rng);
                    torn_rounds += 1;
                }
            }
            // A named cursor: each round checks only what is new.
            let mut consumer = FileConsumer::open(dir.path(), Some("verify"), opts(FsyncPolicy::Never))
                .await
                .unwrap();
            while let Some(rec) = consumer.recv().await.unwrap() {
                assert_eq!(rec.seq, expected_next, "round {round}: records in order, none lost");
                assert_eq!(rec.payload, payload(rec.seq), "round {round}: record {} intact", rec.seq);
                expected_next += 1;
            }
            consumer.commit().await.unwrap();
            if let Some(acked) = last_ack {
                assert!(expected_next > acked, "round {round}: acked record {acked} lost (have {expected_next})");
            }
        }
        eprintln!("crash test: {expected_next} records survived 200 kills; {torn_rounds} rounds left a torn tail");
    })
    .await
}

/// Appends a random proper prefix of the record that would come next.
fn inject_torn_write(seg: &Path, scan: &anyipc::file::SegmentScan, rng: &mut Lcg) {
    let (Some(header), Some(next)) = (scan.header, scan.next_seq()) else {
        return;
    };
    let mut record = Vec::new();
    anyipc::file::encode_record(&mut record, header.salt, next, &payload(next));
    let cut = 1 + rng.below(record.len() as u64 - 1) as usize;
    let mut f = std::fs::OpenOptions::new().append(true).open(seg).unwrap();
    f.write_all(&record[..cut]).unwrap();
}

/// Runs a full-disk helper (`role`) to its end: the last sequence number it acknowledged,
/// and the other lines it said (its error reports).
#[cfg(unix)] // full-disk helpers
async fn run_full_disk_helper(role: &str, dir: &Path) -> (u64, Vec<String>) {
    let mut child = spawn_helper(role, dir);
    let mut lines = HelperLines::new(&mut child);
    let mut last_ack = None;
    let mut report = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        match line.strip_prefix("ack ") {
            Some(seq) => last_ack = Some(seq.parse::<u64>().unwrap()),
            None => report.push(line),
        }
    }
    assert!(child.wait().await.unwrap().success(), "{report:?}");
    (last_ack.expect("some appends fit"), report)
}

/// `err` is the OS error `code` about `path`: of that kind, naming the file, the code kept
/// inside for `anyipc::raw_os_error`.
#[cfg(unix)] // permission-bit errors
fn assert_os_error_at(err: &io::Error, path: &Path, code: i32) {
    assert_eq!(
        err.kind(),
        io::Error::from_raw_os_error(code).kind(),
        "{err}"
    );
    assert!(
        err.to_string().contains(&format!("{}: ", path.display())),
        "{err} does not name {}",
        path.display()
    );
    assert_eq!(anyipc::raw_os_error(err), Some(code), "{err}");
}

/// OS errors of a log's files name the file, keep their kind, and keep the OS's error inside
/// (`anyipc::raw_os_error` finds its code): a directory where the writer's
/// lock file, a segment or a cursor is expected (EISDIR; EPERM for the cursor's removal
/// outside Linux), and a segment the user may not
/// read or write (EACCES; not checked as root, whom permissions do not stop). They used to
/// say "Is a directory (os error 21)" or "Permission denied (os error 13)" and nothing more.
#[cfg(unix)] // permission bits
#[tokio::test]
async fn os_errors_of_a_log_name_the_file_and_keep_the_os_code() {
    let tmp = TempDir::new("file-os-errors");
    let dir = tmp.path().join("log");
    let mut producer = FileProducer::open(&dir, opts(FsyncPolicy::Never))
        .await
        .unwrap();
    producer.append(Bytes::from_static(b"one")).await.unwrap();
    producer.close().await.unwrap();
    let segment = dir.join("00000000000000000000.log");

    // The writer's lock file replaced by a directory.
    let lock = dir.join("writer.lock");
    std::fs::remove_file(&lock).unwrap();
    std::fs::create_dir(&lock).unwrap();
    let err = FileProducer::open(&dir, opts(FsyncPolicy::Never))
        .await
        .unwrap_err();
    assert_os_error_at(&err, &lock, libc::EISDIR);
    std::fs::remove_dir(&lock).unwrap();

    // The last segment replaced by a directory: recovery cannot open it.
    let aside = dir.join("aside");
    std::fs::rename(&segment, &aside).unwrap();
    std::fs::create_dir(&segment).unwrap();
    let err = FileProducer::open(&dir, opts(FsyncPolicy::Never))
        .await
        .unwrap_err();
    assert_os_error_at(&err, &segment, libc::EISDIR);
    std::fs::remove_dir(&segment).unwrap();
    std::fs::rename(&aside, &segment).unwrap();

    // A cursor that is a directory (with something in it) cannot be removed as a file.
    let cursor = dir.join("audit.cursor");
    std::fs::create_dir(&cursor).unwrap();
    std::fs::write(cursor.join("x"), b"x").unwrap();
    let err = anyipc::file::remove_cursor(&dir, "audit").unwrap_err();
    // unlink(2) of a directory: EISDIR on Linux, EPERM on macOS and the BSDs.
    let unlink_dir = if cfg!(target_os = "linux") {
        libc::EISDIR
    } else {
        libc::EPERM
    };
    assert_os_error_at(&err, &cursor, unlink_dir);
    std::fs::remove_dir_all(&cursor).unwrap();

    // A segment its user may not read or write.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&segment, std::fs::Permissions::from_mode(0o000)).unwrap();
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        println!(
            "running as root, whom file permissions do not stop: the EACCES checks are skipped"
        );
    } else {
        let err = FileProducer::open(&dir, opts(FsyncPolicy::Never))
            .await
            .unwrap_err();
        assert_os_error_at(&err, &segment, libc::EACCES);
        let err = read_all(&dir).await.unwrap_err();
        assert_os_error_at(&err, &segment, libc::EACCES);
    }
    std::fs::set_permissions(&segment, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(read_all(&dir).await.unwrap().len(), 1);
}

/// A full disk (simulated with RLIMIT_FSIZE in the helper: writes past the limit fail with
/// EFBIG) gives a clear error, stops the producer, and loses nothing acknowledged.
#[cfg(unix)] // RLIMIT_FSIZE: a full disk simulated
#[tokio::test]
async fn a_full_disk_stops_the_producer_and_keeps_what_was_acknowledged() {
    watchdog(60, async {
        let dir = TempDir::new("file-full");
        let (last_ack, report) = run_full_disk_helper("full", dir.path()).await;
        assert_eq!(report.len(), 2, "{report:?}");
        assert!(report[0].starts_with("error FileTooLarge"), "{report:?}");
        assert!(report[0].contains("fail-stop"), "{report:?}");
        assert!(report[1].starts_with("then FileTooLarge"), "{report:?}");
        // The failing write names its segment, and the OS's code (EFBIG) stays inside,
        // also in the error every later send gets.
        let segment = dir.path().join("00000000000000000000.log");
        let code = format!("[os error code {}]", libc::EFBIG);
        for line in &report {
            assert!(
                line.contains(&format!("cannot write {}: ", segment.display())),
                "{line}"
            );
            assert!(line.ends_with(&code), "{line}");
        }
        let records = read_all(dir.path()).await.unwrap();
        assert!(records.len() as u64 > last_ack);
        for (seq, p) in &records {
            assert_eq!(p, &payload(*seq));
        }
        // With room again, the log reopens (cutting any partial record) and goes on.
        let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Always))
            .await
            .unwrap();
        let seq = producer
            .append(payload(records.len() as u64))
            .await
            .unwrap();
        assert_eq!(seq, records.len() as u64);
        producer.close().await.unwrap();
    })
    .await
}

/// A plain file's appender on a full disk (RLIMIT_FSIZE in the helper) stops with an error
/// that says what a plain file is left with (maybe part of a message at its end, no
/// reopening that cuts it), and every line acknowledged under `fsync=always` is in the
/// file, whole and in order.
#[cfg(unix)] // RLIMIT_FSIZE: a full disk simulated
#[tokio::test]
async fn a_full_disk_stops_a_plain_file_appender_and_keeps_what_was_acknowledged() {
    watchdog(60, async {
        let dir = TempDir::new("file-full-plain");
        let (last_ack, report) = run_full_disk_helper("full-plain", dir.path()).await;
        let last_ack = last_ack as usize;
        assert_eq!(report.len(), 1, "{report:?}");
        assert!(report[0].starts_with("error FileTooLarge"), "{report:?}");
        assert!(report[0].contains("fail-stop"), "{report:?}");
        assert!(report[0].contains("part of one"), "{report:?}");
        assert!(!report[0].contains("reopen the log"), "{report:?}");
        let text = std::fs::read(dir.path().join("p.txt")).unwrap();
        let written: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
        assert!(
            written.len() > last_ack + 1,
            "acknowledged lines are missing: {} lines for {} acknowledged",
            written.len() - 1,
            last_ack + 1
        );
        for (seq, line) in written.iter().enumerate().take(last_ack + 1) {
            assert_eq!(*line, plain_line(seq).as_bytes(), "line {seq}");
        }
    })
    .await
}

/// Line `seq` of the plain-file full-disk test (without its newline).
#[cfg(unix)] // full-disk helpers
fn plain_line(seq: usize) -> String {
    format!("{seq:08} {}", "x".repeat(90))
}

/// The helper's protocol lines, without libtest's output around them.
struct HelperLines {
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    pid: u32,
}

impl HelperLines {
    fn new(child: &mut tokio::process::Child) -> HelperLines {
        HelperLines {
            lines: BufReader::new(child.stdout.take().unwrap()).lines(),
            pid: child.id().expect("a running helper"),
        }
    }

    /// Waits for the helper's first line, `ready`, at most [`crate::bounded::ready_limit`];
    /// otherwise the test fails with the helper's state (a helper stuck before its exec, as
    /// seen under qemu-user, fails here and not at the test's watchdog).
    async fn wait_ready(&mut self) {
        let limit = crate::bounded::ready_limit();
        match tokio::time::timeout(limit, self.next_line()).await {
            Ok(line) => assert_eq!(line.unwrap().as_deref(), Some("ready")),
            Err(_) => panic!(
                "helper not ready within {limit:?}; it is {}",
                crate::bounded::process_state(self.pid)
            ),
        }
    }

    async fn next_line(&mut self) -> io::Result<Option<String>> {
        while let Some(line) = self.lines.next_line().await? {
            if let Some((_, said)) = line.split_once(MARK) {
                return Ok(Some(said.to_owned()));
            }
        }
        Ok(None)
    }
}

fn spawn_helper(role: &str, dir: &Path) -> tokio::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "file::file_helper_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_VAR, role)
        .env(DIR_VAR, dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn helper")
}

/// The helper's body; a no-op in an ordinary test run.
#[test]
fn file_helper_entry() {
    let Ok(role) = std::env::var(HELPER_VAR) else {
        return;
    };
    let dir = std::path::PathBuf::from(std::env::var(DIR_VAR).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let work = async {
            match role.as_str() {
                "hold" => {
                    let _p = FileProducer::open(&dir, opts(FsyncPolicy::Batch))
                        .await
                        .unwrap();
                    say("ready");
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                "append" => {
                    let mut p = FileProducer::open(&dir, opts(FsyncPolicy::Always))
                        .await
                        .unwrap();
                    say("ready");
                    loop {
                        let seq = p.next_seq();
                        let got = p.append(payload(seq)).await.unwrap();
                        assert_eq!(got, seq);
                        say(&format!("ack {seq}"));
                    }
                }
                "append-many" => {
                    let mut p = FileProducer::open(&dir, opts(FsyncPolicy::Always))
                        .await
                        .unwrap();
                    say("ready");
                    for size in (1..=5).cycle() {
                        let first = p.next_seq();
                        let batch: Vec<Bytes> = (first..first + size).map(payload).collect();
                        let got = p.append_many(&batch).await.unwrap();
                        assert_eq!(got, first..first + size);
                        say(&format!("ack {}", got.end - 1));
                    }
                }
                #[cfg(unix)]
                "full" => full_disk(&dir).await,
                #[cfg(unix)]
                "full-plain" => full_disk_plain(&dir).await,
                other => panic!("unknown helper role {other}"),
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(60), work).await;
    });
    std::process::exit(0);
}

/// Makes writes past 128 KiB fail with EFBIG (instead of raising SIGXFSZ) in this process.
#[cfg(unix)] // RLIMIT_FSIZE: a full disk simulated
fn limit_file_size() {
    // SAFETY: setrlimit and signal with valid arguments; no memory is shared.
    unsafe {
        let limit = libc::rlimit {
            rlim_cur: 128 * 1024,
            rlim_max: 128 * 1024,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// The `full-plain` helper: appends numbered lines to `dir/p.txt` under a 128 KiB file size
/// limit until a send fails, saying `ack N` after each and then the error.
#[cfg(unix)] // RLIMIT_FSIZE: a full disk simulated
async fn full_disk_plain(dir: &Path) {
    limit_file_size();
    // `always`: a send is acknowledged once written (`batch` acknowledges what the writer
    // thread has taken, which a full disk may then refuse).
    let url = format!("file://{}/p.txt?framing=lines&fsync=always", dir.display());
    let mut conn = anyipc::connect(&url).await.unwrap();
    for seq in 0.. {
        if let Err(e) = conn.send(Bytes::from(plain_line(seq))).await {
            say(&format!("error {:?} {e}", e.kind()));
            return;
        }
        say(&format!("ack {seq}"));
    }
}

#[cfg(unix)] // RLIMIT_FSIZE: a full disk simulated
async fn full_disk(dir: &Path) {
    limit_file_size();
    let mut p = FileProducer::open(dir, opts(FsyncPolicy::Always))
        .await
        .unwrap();
    let mut seq = 0;
    loop {
        match p.append(payload(seq)).await {
            Ok(got) => {
                assert_eq!(got, seq);
                say(&format!("ack {seq}"));
                seq += 1;
            }
            Err(e) => {
                let code = |e: &io::Error| anyipc::raw_os_error(e).unwrap_or(-1);
                say(&format!(
                    "error {:?} {e} [os error code {}]",
                    e.kind(),
                    code(&e)
                ));
                let again = p.append(Bytes::from_static(b"x")).await.unwrap_err();
                say(&format!(
                    "then {:?} {again} [os error code {}]",
                    again.kind(),
                    code(&again)
                ));
                return;
            }
        }
    }
}

/// The marker before each protocol line (libtest writes to the same stdout).
const MARK: &str = "@@file-helper@@ ";

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n{MARK}{line}").unwrap();
    out.flush().unwrap();
}

/// A small deterministic-per-seed generator (no dependency needed for kill timing).
struct Lcg(u64);

impl Lcg {
    fn seeded() -> Lcg {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        eprintln!("crash test seed {seed}");
        Lcg(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

#[tokio::test]
async fn the_plain_file_example_pair_runs() {
    watchdog(60, async {
        let dir = TempDir::new("file-example-pair");
        let path = dir.join("notes.txt");
        // The consumer starts first and follows the file until it has 3 lines.
        let consumer = tokio::spawn({
            let path = path.clone();
            async move { run_example("file_consumer", &[&path, "--count", "3"]).await }
        });
        let producer = run_example(
            "file_producer",
            &[&path, "--count", "3", "--interval-ms", "10"],
        )
        .await;
        assert!(producer.contains("producer: done"), "{producer}");
        let consumer = consumer.await.unwrap();
        for line in ["\"line 1 of 3\"", "\"line 3 of 3\"", "3 lines, done"] {
            assert!(consumer.contains(line), "{consumer}");
        }
    })
    .await
}

/// The file examples take a path as it is (`%` and `#` are no escapes there), and
/// `file_consumer --no-follow` reads to the end and exits when given a URL too; `--count 0`
/// reads nothing. A path used to be pasted into the URL (`p%41.txt` wrote `pA.txt`), and a
/// URL with `--no-follow` was followed for ever.
#[tokio::test]
async fn the_file_examples_take_paths_as_they_are_and_no_follow_with_a_url() {
    watchdog(60, async {
        let dir = TempDir::new("file-example-escapes");
        // `%`, a space and `#` mean something in a URL (and are allowed in Windows names).
        let path = dir.join("p%41 #.txt");
        let producer = run_example(
            "file_producer",
            &[&path, "--count", "2", "--interval-ms", "1"],
        )
        .await;
        assert!(producer.contains("producer: done"), "{producer}");
        assert!(std::path::Path::new(&path).exists(), "{path} not written");
        let url = anyipc::Endpoint::from_path(anyipc::Scheme::File, &path)
            .unwrap()
            .with_option("framing", "lines")
            .unwrap()
            .to_string();
        let consumer = run_example("file_consumer", &[&url, "--no-follow"]).await;
        assert!(consumer.contains("2 lines, done"), "{consumer}");
        let none = run_example("file_consumer", &[&path, "--count", "0"]).await;
        assert!(none.contains("0 lines, done"), "{none}");
    })
    .await
}

#[tokio::test]
async fn the_durable_log_example_resumes_at_the_cursor() {
    watchdog(60, async {
        let dir = TempDir::new("file-example-log");
        let log = dir.join("orders");
        let out = run_example("durable_log", &[&log]).await;
        for line in [
            "billing: committed at record 4, stopping",
            "billing: restarted, resumes at record 4",
            "billing: #4 order 5",
            "billing: caught up at record 9",
        ] {
            assert!(out.contains(line), "`{line}` missing:\n{out}");
        }
        // A second run continues the numbering and the cursor.
        let again = run_example("durable_log", &[&log]).await;
        assert!(again.contains("billing: starts at record 9"), "{again}");
        assert!(again.contains("caught up at record 18"), "{again}");
    })
    .await
}

/// A plain file's failed write names the file once, with the OS's error and its code: the
/// fail-stop message named it twice ("file:///dev/full: writing failed (cannot write
/// /dev/full: No space left on device …)").
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_plain_files_failed_write_names_it_once() {
    watchdog(30, async {
        let mut writer = anyipc::connect("file:///dev/full?framing=lines")
            .await
            .expect("/dev/full opens as a plain file");
        let err = writer.send("x").await.expect_err("/dev/full is full");
        let said = err.to_string();
        assert_eq!(said.matches("/dev/full").count(), 1, "{said}");
        assert_eq!(anyipc::raw_os_error(&err), Some(libc::ENOSPC), "{err:?}");
    })
    .await
}

/// A log made under umask 177 is private and usable: the log directory, its missing parents
/// and the runtime directory's index of logs are 0700 (a plain `mkdir 0700` made them 0600,
/// which no one but root can enter, and the producer failed with `PermissionDenied`). The
/// producer and the consumer run as an ordinary user (`nobody` when the tests run as root).
#[cfg(unix)]
#[tokio::test]
async fn a_log_made_under_umask_177_is_private_and_usable() {
    use std::os::unix::fs::PermissionsExt;
    watchdog(60, async {
        let anyipc = crate::util::SharedAnyipc::new("file-umask");
        let (runtime, home) = (anyipc.dir().join("run"), anyipc.dir().join("home"));
        let log = home.join("a/b/log");
        let url = format!("file://{}", log.display());
        // `$1` is the URL.
        let umask_177 = |args: &str| {
            let mut command = Command::new("sh");
            command
                .arg("-c")
                .arg(format!("umask 177; exec \"$0\" {args}"))
                .arg(anyipc.bin())
                .arg(&url)
                .env("XDG_RUNTIME_DIR", &runtime)
                .stdin(Stdio::null());
            command
        };
        let mut send = umask_177("send \"$1\" one two");
        let uid = crate::util::unprivileged(&mut send);
        crate::util::private_dir_of(&runtime, uid);
        crate::util::private_dir_of(&home, uid);
        let sent = send.output().await.unwrap();
        assert!(sent.status.success(), "{sent:?}");
        let index = runtime.join("anyipc/logs");
        for dir in [home.join("a"), home.join("a/b"), log, index] {
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o7777, 0o700, "{}", dir.display());
        }
        let mut listen = umask_177("listen \"$1?follow=false\"");
        crate::util::unprivileged(&mut listen);
        let listened = listen.output().await.unwrap();
        assert!(listened.status.success(), "{listened:?}");
        assert_eq!(String::from_utf8_lossy(&listened.stdout), "one\ntwo\n");
    })
    .await;
}

/// Appending, and reading records that are already in the log, let the other tasks on the
/// thread run (a unit of tokio's budget per call of the log's own API, per send of a
/// `file://` connection).
#[tokio::test]
async fn busy_log_loops_yield() {
    const N: u64 = 300;
    watchdog(60, async {
        let dir = TempDir::new("file-yield");
        let mut producer = FileProducer::open(dir.path(), opts(FsyncPolicy::Never))
            .await
            .unwrap();
        let (yielded, ()) = crate::util::yields_during(async {
            for i in 0..N {
                producer.append(i.to_le_bytes().to_vec()).await.unwrap();
            }
        })
        .await;
        assert!(yielded, "{N} appends never yielded");
        producer.close().await.unwrap();
        let mut consumer = FileConsumer::open(dir.path(), None, opts(FsyncPolicy::Never))
            .await
            .unwrap();
        // The first read brings the records in; the rest are waiting.
        assert_eq!(consumer.recv().await.unwrap().unwrap().seq, 0);
        let (yielded, ()) = crate::util::yields_during(async {
            for i in 1..N {
                assert_eq!(consumer.recv().await.unwrap().unwrap().seq, i);
            }
        })
        .await;
        assert!(yielded, "{N} receives of records in the log never yielded");

        let mut sender = anyipc::connect(url(dir.path(), "")).await.unwrap();
        let (yielded, ()) = crate::util::yields_during(async {
            for i in 0..N {
                sender
                    .send(Bytes::from(i.to_le_bytes().to_vec()))
                    .await
                    .unwrap();
            }
        })
        .await;
        assert!(yielded, "{N} file:// sends never yielded");
        sender.close().await.unwrap();
    })
    .await
}
