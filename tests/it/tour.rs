//! `anyipc tour` runs every transport between two processes and says `ok` for each.

use crate::util::{anyipc_bin, watchdog, watchdog_scale, TempDir};

/// `anyipc tour` with a runtime directory of its own, its output piped; each transport may
/// take its default 30 s times the watchdog scale (slow under emulation, not hung).
fn spawn_tour(runtime: &TempDir) -> tokio::process::Child {
    spawn_tour_with(runtime, &default_timeout())
}

/// The tour's default 30 s per transport, times the watchdog scale.
fn default_timeout() -> String {
    format!("{}s", 30 * watchdog_scale())
}

/// `anyipc tour --timeout TIMEOUT`, as [`spawn_tour`].
fn spawn_tour_with(runtime: &TempDir, timeout: &str) -> tokio::process::Child {
    tokio::process::Command::new(anyipc_bin())
        .args(["tour", "--timeout", timeout])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start anyipc tour")
}

/// Runs `anyipc tour --timeout TIMEOUT` to its end (at most 120 s, times the watchdog
/// scale): its pid, exit status and output.
async fn run_tour(runtime: &TempDir, timeout: &str) -> (u32, std::process::Output) {
    let tour = spawn_tour_with(runtime, timeout);
    let tour_pid = tour.id().expect("tour pid");
    let output = watchdog(120, tour.wait_with_output())
        .await
        .expect("run anyipc tour");
    (tour_pid, output)
}

/// `anyipc tour | head -1`: once stdout is closed the tour ends with an error (exit 1, no
/// panic) and leaves no directory of its own behind.
#[tokio::test]
async fn a_closed_stdout_ends_the_tour_with_an_error_and_nothing_left() {
    let runtime = TempDir::new("tour-closed-stdout");
    let mut tour = spawn_tour(&runtime);
    let tour_pid = tour.id().expect("tour pid");
    drop(tour.stdout.take()); // the reader goes: the first write fails
    let output = watchdog(120, tour.wait_with_output())
        .await
        .expect("run anyipc tour");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write to stdout"), "{stderr}");
    let dir = std::env::temp_dir().join(format!("anyipc-tour-{tour_pid}"));
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

#[tokio::test]
async fn tour_reports_ok_for_every_transport() {
    // A runtime directory of its own: pipe:// and shm:// names live there.
    let runtime = TempDir::new("tour-runtime");
    let (tour_pid, output) = run_tour(&runtime, &default_timeout()).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "anyipc tour failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // Table rows: `| transport | result | p50 | throughput | notes |`, after the header rows.
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| transport"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    // Every implemented transport (README: "runs every transport between two real
    // processes"), and whatever else the catalog lists.
    let every = [
        "tcp", "unix", "pipe", "fifo", "child", "udp", "shm", "shm-busy", "mq", "file", "mem",
    ];
    for expected in every
        .into_iter()
        .chain(anyipc::bench::TRANSPORTS.iter().map(|t| t.name))
    {
        assert!(
            names.contains(&expected),
            "no row for {expected}:\n{stdout}"
        );
    }
    assert_eq!(names.len(), anyipc::bench::TRANSPORTS.len(), "{stdout}");
    for row in &rows {
        let spec = anyipc::bench::TRANSPORTS
            .iter()
            .find(|t| t.name == row[1])
            .unwrap();
        if !spec.is_available() {
            // Not a failure (the exit status above is 0): the row says why it is empty.
            let here = format!("not on this platform ({})", std::env::consts::OS);
            assert_eq!(row[2], here, "{stdout}");
            continue;
        }
        assert_eq!(row[2], "ok", "transport {} failed:\n{stdout}", row[1]);
        assert!(
            row[3].ends_with("µs"),
            "no round-trip time for {}:\n{stdout}",
            row[1]
        );
        assert!(
            row[4].contains("MiB/s"),
            "no throughput for {}:\n{stdout}",
            row[1]
        );
    }
    // The output explains itself: a legend under the table, what `shm-busy` is, and why a
    // udp row that lost datagrams is still `ok`.
    assert!(
        stdout.contains("\nresult: ok when both probes ran to the end"),
        "no legend:\n{stdout}"
    );
    assert!(
        stdout.contains("udp can lose messages and still be ok"),
        "the legend does not explain udp's losses:\n{stdout}"
    );
    // "not on this platform" is explained where a row says it, and only there.
    let some_not_here = anyipc::bench::TRANSPORTS.iter().any(|t| !t.is_available());
    assert_eq!(
        stdout.contains("\nnot on this platform: "),
        some_not_here,
        "{stdout}"
    );
    for row in &rows {
        if row[1] == "shm-busy" {
            assert!(
                row[5].contains("busy_poll=true"),
                "shm-busy is not explained:\n{stdout}"
            );
        }
        if row[5].contains("lost") {
            assert!(row[5].contains("expected"), "{stdout}");
        }
    }
    // Its peers ended cleanly: no name, socket, log index entry or queue of the tour is left
    // behind (the index directory of logs itself may stay).
    let runtime_dir = runtime.path().join("anyipc");
    let entries = |dir: &std::path::Path| -> Vec<std::ffi::OsString> {
        std::fs::read_dir(dir)
            .map(|dir| dir.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default()
    };
    let left: Vec<_> = entries(&runtime_dir)
        .into_iter()
        .flat_map(|name| match name.to_str() {
            Some("logs") => entries(&runtime_dir.join("logs")),
            _ => vec![name],
        })
        .collect();
    assert!(
        left.is_empty(),
        "the tour left {left:?} in its runtime directory"
    );
    let queues: Vec<_> = std::fs::read_dir("/dev/shm")
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(&format!("tour-{tour_pid}-")))
                .collect()
        })
        .unwrap_or_default();
    assert!(queues.is_empty(), "the tour left queues {queues:?}");
}

/// `--timeout` bounds each transport: with 1 ms none can finish, so every row says it ran
/// out of time, the tour fails naming them all, and its scratch directory is removed.
#[tokio::test]
async fn a_transport_over_the_timeout_fails_its_row() {
    let runtime = TempDir::new("tour-timeout-runtime");
    let (tour_pid, output) = run_tour(&runtime, "1ms").await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let available: Vec<&str> = anyipc::bench::TRANSPORTS
        .iter()
        .filter(|t| t.is_available())
        .map(|t| t.name)
        .collect();
    for name in &available {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"));
        assert!(
            row.contains("error: no result within 1ms (--timeout)"),
            "{name} did not time out:\n{stdout}"
        );
    }
    let summary = format!("{n} of {n} transports failed", n = available.len());
    assert!(stderr.contains(&summary), "{stderr}");
    let dir = std::env::temp_dir().join(format!("anyipc-tour-{tour_pid}"));
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

/// A timeout that is not a duration is bad usage (exit 2), before any transport runs.
#[tokio::test]
async fn a_timeout_that_is_not_a_duration_is_bad_usage() {
    let runtime = TempDir::new("tour-bad-timeout");
    for (bad, says) in [
        ("0", "no time at all"),
        ("soon", "is not a duration"),
        ("1x", "is not a duration"),
    ] {
        let output = watchdog(30, spawn_tour_with(&runtime, bad).wait_with_output())
            .await
            .expect("run anyipc tour");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains(says), "{bad}: {stderr}");
        assert!(output.stdout.is_empty(), "{bad}: the tour began");
    }
}

/// SIGTERM stops the tour at once and cleanly: the transport being measured ends (its peer
/// stopped), the tour's directory removed, and the exit says it was interrupted.
#[cfg(unix)]
#[tokio::test]
async fn sigterm_stops_the_tour_and_removes_its_directory() {
    use tokio::io::AsyncBufReadExt;
    let runtime = TempDir::new("tour-sigterm-runtime");
    let mut tour = spawn_tour(&runtime);
    let pid = tour.id().expect("tour pid");
    let mut lines = tokio::io::BufReader::new(tour.stdout.take().unwrap()).lines();
    watchdog(60, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("|---") {
                break;
            }
        }
    })
    .await;
    let pid_t = libc::pid_t::try_from(pid).unwrap();
    // SAFETY: kill(2) with a valid signal number touches no memory.
    assert_eq!(unsafe { libc::kill(pid_t, libc::SIGTERM) }, 0);
    let output = watchdog(30, tour.wait_with_output()).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("anyipc: interrupted"), "{stderr}");
    let dir = std::env::temp_dir().join(format!("anyipc-tour-{pid}"));
    assert!(!dir.exists(), "{} left behind", dir.display());
}

/// A tour stopped while it measures a transport with a named endpoint (`pipe://`, then
/// `shm://`) stops that transport's peer cleanly, so the peer removes its name: the names
/// were left in the runtime directory (dead, for `anyipc clean`) by a peer killed at once.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_stopped_tour_leaves_no_name_of_its_peers() {
    use tokio::io::AsyncBufReadExt;
    // The row printed just before the transport to interrupt starts, and how long after it
    // the signal goes: while the peer starts, or while it is measured (any moment must do).
    let moments = [0, 20, 60].map(std::time::Duration::from_millis);
    for (before, after) in ["| unix |", "| udp |"]
        .into_iter()
        .flat_map(|row| moments.map(|after| (row, after)))
    {
        let runtime = TempDir::new("tour-stopped-names");
        let mut tour = spawn_tour(&runtime);
        let pid = tour.id().expect("tour pid");
        let mut lines = tokio::io::BufReader::new(tour.stdout.take().unwrap()).lines();
        watchdog(60, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.starts_with(before) {
                    return;
                }
            }
            panic!("the tour ended before its {before} row");
        })
        .await;
        tokio::time::sleep(after).await;
        let pid_t = libc::pid_t::try_from(pid).unwrap();
        // SAFETY: kill(2) with a valid signal number touches no memory.
        assert_eq!(unsafe { libc::kill(pid_t, libc::SIGTERM) }, 0);
        // Its stdout drained, so that rows printed meanwhile never hold it up.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let output = watchdog(30, tour.wait_with_output()).await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let names: Vec<String> = std::fs::read_dir(runtime.path().join("anyipc"))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.contains(&format!("tour-{pid}-")))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            names.is_empty(),
            "stopped {after:?} after {before}: left {names:?}; {stderr}"
        );
        // Stopped, not run to its end before the signal was seen.
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
    }
}

/// Ctrl-C signals the whole process group, the tour's peer too, which may die of it before
/// the tour sees the signal: the transport measured then is interrupted, not failed. A row
/// `| fifo | error: the peer process did not start |` was printed before "interrupted" in
/// about one run in fifteen.
#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_to_the_process_group_prints_no_failed_row() {
    use tokio::io::AsyncBufReadExt;
    let moments = [
        0, 0, 0, 2, 5, 10, 15, 20, 30, 45, 60, 80, 100, 150, 200, 250,
    ];
    for after in moments.map(std::time::Duration::from_millis) {
        let runtime = TempDir::new("tour-group-int");
        let mut tour = tokio::process::Command::new(anyipc_bin())
            .args(["tour", "--timeout", &default_timeout()])
            .env("XDG_RUNTIME_DIR", runtime.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("start anyipc tour");
        let pid = libc::pid_t::try_from(tour.id().expect("tour pid")).unwrap();
        let mut lines = tokio::io::BufReader::new(tour.stdout.take().unwrap()).lines();
        watchdog(60, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.starts_with("|---") {
                    return;
                }
            }
            panic!("the tour ended before its table");
        })
        .await;
        tokio::time::sleep(after).await;
        // SAFETY: kill(2) with a valid signal number touches no memory.
        assert_eq!(unsafe { libc::kill(-pid, libc::SIGINT) }, 0);
        let rows = tokio::spawn(async move {
            let mut rows = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                rows.push(line);
            }
            rows
        });
        let output = watchdog(30, tour.wait_with_output()).await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let rows = rows.await.unwrap();
        let failed: Vec<&String> = rows.iter().filter(|r| r.contains("| error:")).collect();
        assert!(
            failed.is_empty(),
            "interrupted {after:?} in: {failed:?}; {stderr}"
        );
        assert!(stderr.contains("interrupted"), "{stderr}");
    }
}

/// `anyipc tour` runs in the 64 MiB `/dev/shm` a container has by default: its mq probe made
/// two queues of 128 MiB (1 MiB slots, for messages of 4 KiB at most) and failed there. Run
/// in a mount namespace of its own, with a 64 MiB tmpfs on `/dev/shm`, where this process may
/// make one (`unshare -m` as root, else `unshare -rm` in a user namespace of its own);
/// skipped, saying so, where neither is allowed.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_tour_runs_in_a_containers_64_mib_dev_shm() {
    use tokio::process::Command;
    const SMALL_SHM: &str = "mount -t tmpfs -o size=64m tmpfs /dev/shm";
    let mut namespace = None;
    for flags in ["-m", "-rm"] {
        let probe = Command::new("unshare")
            .args([flags, "sh", "-c", SMALL_SHM])
            .output()
            .await;
        if probe.is_ok_and(|out| out.status.success()) {
            namespace = Some(flags);
            break;
        }
    }
    let Some(flags) = namespace else {
        println!("skipped: no mount namespace with a tmpfs of its own here (unshare -m, -rm)");
        return;
    };
    let runtime = TempDir::new("tour-small-shm");
    let script = format!("{SMALL_SHM} && exec \"$0\" tour");
    let tour = Command::new("unshare")
        .args([flags, "sh", "-c", &script, anyipc_bin()])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = watchdog(120, tour).await.expect("run anyipc tour");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mq = stdout.lines().find(|line| line.starts_with("| mq "));
    assert!(
        output.status.success() && mq.is_some_and(|row| row.starts_with("| mq | ok |")),
        "anyipc tour in a 64 MiB /dev/shm ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `anyipc tour` run by an ordinary user (`nobody` when the tests run as root) under umask
/// 177: its run directory was made 0600, which not even its owner may enter, and the unix,
/// fifo and file probes failed with `PermissionDenied`.
#[cfg(unix)]
#[tokio::test]
async fn the_tour_runs_for_an_ordinary_user_under_umask_177() {
    let anyipc = crate::util::SharedAnyipc::new("tour-umask");
    let runtime = anyipc.dir().join("run");
    let mut tour = tokio::process::Command::new("sh");
    tour.arg("-c")
        .arg("umask 177; exec \"$0\" tour")
        .arg(anyipc.bin())
        .env("XDG_RUNTIME_DIR", &runtime)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let uid = crate::util::unprivileged(&mut tour);
    crate::util::private_dir_of(&runtime, uid);
    let output = watchdog(120, tour.output()).await.expect("run anyipc tour");
    assert!(
        output.status.success(),
        "anyipc tour under umask 177 ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
