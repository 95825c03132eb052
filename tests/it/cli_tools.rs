//! Cross-process tests of the everyday-tool subcommands: `bench`, `bridge`, `ls`, `clean`,
//! `rm`, `completions`, the `--hex`/`--json` output of `listen` and `send`, and the examples in
//! every `--help`. Each test runs the real binary; every child is killed when dropped.

use crate::cli::{damaged_log, Spawned};
use crate::util::{anyipc_bin, unique_name, watchdog, TempDir};
use base64::Engine as _;
use futures::StreamExt;
use serde_json::Value;
use std::process::{ExitStatus, Output, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

/// Seconds any one test may take.
const WATCHDOG: u64 = 120;

/// A running `anyipc`, killed when dropped, with its stderr (and stdout, when piped) read line
/// by line.
struct Proc {
    child: Child,
    stdout: Option<Lines<BufReader<ChildStdout>>>,
    stderr: Lines<BufReader<ChildStderr>>,
    stderr_seen: Vec<String>,
}

impl Proc {
    /// Starts `anyipc args…` with `env`; stdout is piped when `read_stdout`, else discarded
    /// (an echo server's printing must never fill a pipe no one reads).
    fn start(args: &[&str], env: &[(&str, &str)], read_stdout: bool) -> Proc {
        let stdout = if read_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        Proc::spawn(args, env, Stdio::null(), stdout)
    }

    /// Starts `anyipc args…` with stdin and stdout on pipes: what it prints is read with
    /// [`stdout_lines`](Self::stdout_lines), and its stdin is written to (and closed) through
    /// the [`ChildStdin`] returned.
    fn start_on_pipes(args: &[&str]) -> (Proc, ChildStdin) {
        let mut proc = Proc::spawn(args, &[], Stdio::piped(), Stdio::piped());
        let stdin = proc.child.stdin.take().expect("piped stdin");
        (proc, stdin)
    }

    /// Starts `anyipc args…` with `env`, `stdin` and `stdout`, its stderr piped.
    fn spawn(args: &[&str], env: &[(&str, &str)], stdin: Stdio, stdout: Stdio) -> Proc {
        let mut child = Command::new(anyipc_bin())
            .args(args)
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start anyipc");
        Proc {
            stdout: child.stdout.take().map(|s| BufReader::new(s).lines()),
            stderr: BufReader::new(child.stderr.take().expect("piped stderr")).lines(),
            stderr_seen: Vec::new(),
            child,
        }
    }

    fn id(&self) -> u32 {
        self.child.id().expect("still running")
    }

    /// Reads stderr until a line starts with `prefix`; returns the rest of it.
    async fn stderr_after(&mut self, prefix: &str) -> String {
        while let Some(line) = self.stderr.next_line().await.expect("read stderr") {
            self.stderr_seen.push(line);
            if let Some(rest) = self.stderr_seen.last().and_then(|l| l.strip_prefix(prefix)) {
                return rest.to_owned();
            }
        }
        panic!("stderr ended without `{prefix}…`: {:?}", self.stderr_seen)
    }

    /// The next `n` lines of stdout.
    async fn stdout_lines(&mut self, n: usize) -> Vec<String> {
        let stdout = self.stdout.as_mut().expect("stdout is piped");
        let mut lines = Vec::new();
        while lines.len() < n {
            match stdout.next_line().await.expect("read stdout") {
                Some(line) => lines.push(line),
                None => panic!("stdout ended after {lines:?}"),
            }
        }
        lines
    }

    /// Kills the process (SIGKILL) and waits until it is gone.
    async fn kill(mut self) {
        self.child.kill().await.expect("kill");
    }

    /// Sends SIGINT (Ctrl-C) and waits for the exit.
    async fn interrupt(self) -> (ExitStatus, Vec<String>) {
        self.stop_with(libc::SIGINT).await
    }

    /// Sends `signal` to the command, then reads it to its end.
    async fn stop_with(self, signal: libc::c_int) -> (ExitStatus, Vec<String>) {
        let pid = libc::pid_t::try_from(self.id()).expect("a pid");
        // SAFETY: kill(2) with a valid signal number touches no memory.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        self.wait_out().await
    }

    /// Waits for the command to exit and reads its stderr to the end.
    async fn wait_out(mut self) -> (ExitStatus, Vec<String>) {
        let status = self.child.wait().await.expect("wait");
        while let Some(line) = self.stderr.next_line().await.expect("read stderr") {
            self.stderr_seen.push(line);
        }
        (status, self.stderr_seen)
    }
}

/// Runs `anyipc args…` to its end with `env` and `stdin`.
async fn run(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut child = Command::new(anyipc_bin())
        .args(args)
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start anyipc");
    let mut input = child.stdin.take().expect("piped stdin");
    // A command that ends without reading (a refusal) closes the pipe: the write then fails
    // with EPIPE, and what it printed is what the test checks.
    if let Err(e) = input.write_all(stdin).await {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    drop(input);
    child.wait_with_output().await.expect("run anyipc")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `anyipc args…`, asserts it succeeded, and returns its stdout.
async fn ok(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run(args, env, b"").await;
    assert!(
        out.status.success(),
        "anyipc {args:?} failed ({}): {}",
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Each line of `stdout` as JSON.
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

/// The checks every latency result passes.
fn assert_sane_latency(v: &Value) {
    assert_eq!(v["mode"], "latency", "{v}");
    let (p50, p99) = (num(v, "p50_us"), num(v, "p99_us"));
    assert!(p50 > 0.0 && p99 >= p50, "{v}");
    assert!(num(v, "p999_us") >= p99, "{v}");
    assert!(
        num(v, "msgs_per_s") > 0.0 && num(v, "gib_per_s") > 0.0,
        "{v}"
    );
}

/// The checks every throughput result passes; `count` messages all arrived.
fn assert_sane_throughput(v: &Value, count: u64) {
    assert_eq!(v["mode"], "throughput", "{v}");
    assert!(
        num(v, "msgs_per_s") > 0.0 && num(v, "gib_per_s") > 0.0,
        "{v}"
    );
    assert_eq!(v["sent"], count, "{v}");
    assert_eq!(v["received"], count, "{v}");
}

#[tokio::test]
async fn bench_json_with_baseline_over_tcp() {
    watchdog(WATCHDOG, async {
        let out = ok(
            &[
                "bench",
                "tcp://127.0.0.1:0",
                "--count",
                "300",
                "--warmup",
                "30",
                "--json",
                "--baseline",
            ],
            &[],
        )
        .await;
        let results = json_lines(&out);
        assert_eq!(results.len(), 2, "{out}");
        for v in &results {
            assert!(v["endpoint"]
                .as_str()
                .unwrap()
                .starts_with("tcp://127.0.0.1:"));
            assert_eq!(v["count"], 300);
            assert!(num(v, "ratio") > 0.0, "{v}");
            assert!(num(&v["baseline"], "msgs_per_s") > 0.0, "{v}");
        }
        assert_sane_latency(&results[0]);
        assert_eq!(results[0]["size"], 64);
        assert!(num(&results[0]["baseline"], "p50_us") > 0.0);
        assert_sane_throughput(&results[1], 300);
        assert_eq!(results[1]["size"], 4096);
        assert!(results[1]["p50_us"].is_null());
    })
    .await;
}

#[tokio::test]
async fn bench_table_over_unix_and_mem() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bench");
        let url = dir.url("unix", "b.sock");
        let out = ok(
            &[
                "bench", &url, "--mode", "latency", "--size", "1KiB", "--count", "200",
            ],
            &[],
        )
        .await;
        assert!(out.contains("peer process"), "{out}");
        assert!(
            out.contains("| endpoint | p50 µs | p99 µs | p99.9 µs | mean µs |"),
            "{out}"
        );
        assert!(out.contains(&format!("| {url} | ")), "{out}");
        assert!(!out.contains("throughput"), "{out}");

        let name = unique_name("cli-bench");
        let out = ok(
            &[
                "bench",
                &format!("mem://{name}"),
                "--mode",
                "throughput",
                "--count",
                "500",
            ],
            &[],
        )
        .await;
        assert!(out.contains("peer task in this process"), "{out}");
        assert!(out.contains("| msgs/s | GiB/s | lost |"), "{out}");
        assert!(out.contains(&format!("| mem://{name} | ")), "{out}");
    })
    .await;
}

#[tokio::test]
async fn bench_one_way_endpoints_and_a_child() {
    watchdog(WATCHDOG, async {
        // A lone FIFO gets a reply FIFO beside it.
        let dir = TempDir::new("cli-bench-fifo");
        let url = dir.url("fifo", "b.fifo");
        let out = ok(
            &["bench", &url, "--size", "4092", "--count", "300", "--json"],
            &[],
        )
        .await;
        let results = json_lines(&out);
        assert_eq!(results.len(), 2, "{out}");
        assert_eq!(
            results[0]["endpoint"],
            format!("{url} + {url}.reply"),
            "{out}"
        );
        assert_sane_latency(&results[0]);
        assert_sane_throughput(&results[1], 300);

        // A queue gets a reply queue; both are created for the run and removed after it.
        let name = unique_name("cli-bench-mq");
        let out = ok(
            &[
                "bench",
                &format!("mq://{name}?create=true"),
                "--count",
                "300",
                "--json",
            ],
            &[],
        )
        .await;
        assert_sane_throughput(&json_lines(&out)[1], 300);
        for queue in [name.clone(), format!("{name}-reply")] {
            let err = anyipc::queue::MessageQueue::open(&queue).unwrap_err();
            assert_eq!(
                err.kind(),
                std::io::ErrorKind::NotFound,
                "{queue} left behind"
            );
        }

        // stdio://: the peer is a child on two pipes; both workloads run over them.
        let out = ok(&["bench", "stdio://", "--count", "300"], &[]).await;
        assert!(out.contains("child process"), "{out}");
        assert!(out.contains("| stdio:// | "), "{out}");
        assert!(out.contains("| msgs/s | GiB/s | lost |"), "{out}");

        // A one-way endpoint cannot be an echo server.
        let out = run(&["bench", &url, "--connect"], &[], b"").await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    })
    .await;
}

/// A queue that already holds messages (someone's work, or another run's) is refused before
/// anything runs: the bench's peer would take them as stray messages and drop them. The
/// reply queue beside it too, whose messages the bench itself would take.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn bench_refuses_a_queue_that_holds_messages() {
    use anyipc::queue::MessageQueue;
    watchdog(WATCHDOG, async {
        let name = unique_name("cli-bench-held");
        let bench = |url: String| async move {
            let args = ["bench", &url, "--mode", "latency", "--count", "10"];
            run(&args, &[], b"").await
        };
        for (queue, url) in [
            (name.clone(), format!("mq://{name}")),
            (name.clone(), format!("mq://{name}?create=true")),
            (format!("{name}-reply"), format!("mq://{name}?create=true")),
        ] {
            let held = MessageQueue::create(&queue, &Default::default()).unwrap();
            held.try_send(b"keep me", 0).unwrap();
            let out = bench(url.clone()).await;
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{url}: {stderr}");
            assert!(stderr.contains("holds 1 message"), "{url}: {stderr}");
            assert_eq!(held.try_recv().unwrap().0, "keep me", "{url}");
            drop(held);
            MessageQueue::remove(&queue).unwrap();
            for left in [name.clone(), format!("{name}-reply")] {
                let err = MessageQueue::open(&left).unwrap_err();
                assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{left} is left");
            }
        }
        // An empty one is measured as before.
        let held = MessageQueue::create(&name, &Default::default()).unwrap();
        let out = bench(format!("mq://{name}")).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        drop(held);
        MessageQueue::remove(&name).unwrap();
    })
    .await;
}

#[tokio::test]
async fn bench_connect_measures_a_running_echo_server() {
    watchdog(WATCHDOG, async {
        let mut echo = Proc::start(&["listen", "tcp://127.0.0.1:0", "--echo"], &[], false);
        let url = echo.stderr_after("listening on ").await;
        let out = ok(
            &[
                "bench",
                &url,
                "--connect",
                "--json",
                "--count",
                "200",
                "--warmup",
                "20",
            ],
            &[],
        )
        .await;
        let results = json_lines(&out);
        assert_eq!(results.len(), 2, "{out}");
        assert_sane_latency(&results[0]);
        assert_sane_throughput(&results[1], 200);
        assert!(results[0].get("ratio").is_none(), "no baseline asked for");
    })
    .await;
}

#[tokio::test]
async fn bench_batch_throughput_with_baseline() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bench-batch");
        let url = format!("unix://{}", dir.join("b.sock"));
        let out = ok(
            &[
                "bench",
                &url,
                "--mode",
                "throughput",
                "--size",
                "64",
                "--count",
                "20000",
                "--batch",
                "500",
                "--json",
                "--baseline",
            ],
            &[],
        )
        .await;
        let results = json_lines(&out);
        assert_eq!(results.len(), 1, "{out}");
        assert_eq!(results[0]["batch"], 500, "{out}");
        assert_sane_throughput(&results[0], 20_000);
        assert!(num(&results[0]["baseline"], "msgs_per_s") > 0.0, "{out}");
    })
    .await;
}

#[tokio::test]
async fn bench_bad_arguments_are_usage_errors() {
    watchdog(WATCHDOG, async {
        for args in [
            &["bench", "tcp://127.0.0.1:0", "--size", "0"][..],
            &["bench", "tcp://127.0.0.1:0", "--count", "0"],
            &["bench", "tcp://127.0.0.1:0", "--mode", "sideways"],
            &["bench", "nosuch://x"],
            &["bench", "tcp://127.0.0.1:0", "--batch", "1"],
            &["bench", "tcp://127.0.0.1:7", "--connect", "--batch", "10"],
            // No `anyipc listen --echo` can hold a mem:// name: it lives in one process.
            &["bench", "mem://x", "--connect"],
            &[
                "bench",
                "tcp://127.0.0.1:0",
                "--mode",
                "latency",
                "--batch",
                "10",
            ],
            // stdio:// is a child on pipes both ways, not half of a pair.
            &["bench", "stdio:// + tcp://127.0.0.1:0"],
            // Two one-way endpoints cannot batch; refused before any peer starts.
            &[
                "bench",
                "fifo:///nonexistent/a + fifo:///nonexistent/b",
                "--batch",
                "10",
            ],
        ] {
            let out = run(args, &[], b"").await;
            assert_eq!(
                out.status.code(),
                Some(2),
                "{args:?}: {}",
                text(&out.stderr)
            );
            assert_eq!(
                text(&out.stderr).lines().count(),
                1,
                "{}",
                text(&out.stderr)
            );
        }
        // Nothing listens there: a runtime failure.
        let out = run(
            &["bench", "tcp://127.0.0.1:1", "--connect", "--count", "10"],
            &[],
            b"",
        )
        .await;
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    })
    .await;
}

/// The names left in `dir`.
fn left_in(dir: &TempDir) -> Vec<String> {
    std::fs::read_dir(dir.path())
        .expect("read the test directory")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[tokio::test]
async fn bench_pairs_with_any_way_back() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bench-pairs");
        // The way back is a socket the peer connects to once a run has started.
        let back = dir.url("unix", "back.sock");
        let out = ok(
            &[
                "bench",
                &format!("tcp://127.0.0.1:0 + {back}"),
                "--count",
                "300",
                "--json",
            ],
            &[],
        )
        .await;
        let results = json_lines(&out);
        assert_eq!(results.len(), 2, "{out}");
        let endpoint = results[0]["endpoint"].as_str().unwrap();
        assert!(
            endpoint.starts_with("tcp://127.0.0.1:") && endpoint.ends_with(&format!(" + {back}")),
            "{out}"
        );
        assert_sane_latency(&results[0]);
        assert_sane_throughput(&results[1], 300);

        // A FIFO to the peer, a socket back; then TCP both ways, port 0 for the way back too.
        for pair in [
            format!("{} + {back}", dir.url("fifo", "to-peer.fifo")),
            "tcp://127.0.0.1:0 + tcp://127.0.0.1:0".to_owned(),
        ] {
            let out = ok(
                &[
                    "bench", &pair, "--mode", "latency", "--count", "200", "--json",
                ],
                &[],
            )
            .await;
            let results = json_lines(&out);
            assert_eq!(results.len(), 1, "{out}");
            assert_sane_latency(&results[0]);
            assert!(
                !results[0]["endpoint"].as_str().unwrap().ends_with(":0"),
                "{out}"
            );
        }
        assert_eq!(left_in(&dir), Vec::<String>::new());
    })
    .await;
}

#[tokio::test]
async fn bench_a_peer_that_never_connects_back_is_an_error_and_cleaned_up() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bench-no-way-back");
        // The way back refuses the peer (another user's uid only): it never gets through.
        // SAFETY: getuid(2) cannot fail and touches no memory.
        let other_uid = unsafe { libc::getuid() }.wrapping_add(1);
        let pair = format!(
            "fifo://{} + unix://{}?allow_uids={other_uid}",
            dir.join("to-peer.fifo"),
            dir.join("back.sock")
        );
        let out = run(&["bench", &pair, "--count", "100"], &[], b"").await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("anyipc: latency 64 B × 100 over ")
                && last.contains("the peer did not connect back to unix://"),
            "{stderr}"
        );
        // The peer's FIFO and the way back's socket are gone with the failed run.
        assert_eq!(left_in(&dir), Vec::<String>::new(), "{stderr}");
    })
    .await;
}

#[tokio::test]
async fn bench_fits_default_sizes_to_the_endpoint_and_refuses_larger_ones() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bench-fifo-size");
        let url = format!("fifo://{}", dir.join("b.fifo"));
        // The --help example: the default 4 KiB is over a FIFO's 4,092 B, so 4,092 B it is.
        let out = ok(&["bench", &url, "--count", "200"], &[]).await;
        assert!(
            out.contains("note: throughput messages are 4092 B, not the default 4096 B:"),
            "{out}"
        );
        assert!(out.contains("throughput: 200 messages of 4092 B"), "{out}");
        assert!(out.contains("latency: 64 B round trips"), "{out}");
        let out = ok(
            &[
                "bench",
                &url,
                "--mode",
                "throughput",
                "--count",
                "200",
                "--json",
            ],
            &[],
        )
        .await;
        let results = json_lines(&out);
        assert_eq!(results[0]["size"], 4092, "{out}");
        assert_sane_throughput(&results[0], 200);
        assert_eq!(left_in(&dir), Vec::<String>::new());

        // Asked for explicitly, a size over the limit is refused before anything runs.
        for (url, size) in [(url.as_str(), "4096"), ("udp://127.0.0.1:0", "64KiB")] {
            let out = run(&["bench", url, "--size", size], &[], b"").await;
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{stderr}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(stderr.contains("is over the largest message"), "{stderr}");
        }
        assert_eq!(left_in(&dir), Vec::<String>::new());
    })
    .await;
}

#[tokio::test]
async fn bench_start_failures_are_one_line() {
    watchdog(WATCHDOG, async {
        // A queue that does not exist: what to do about it, in one line.
        let name = unique_name("cli-bench-no-queue");
        let out = run(&["bench", &format!("mq://{name}")], &[], b"").await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("no queue named {name:?}"))
                && stderr.contains(&format!("anyipc mq create {name}"))
                && stderr.contains("?create=true"),
            "{stderr}"
        );
        for queue in [name.clone(), format!("{name}-reply")] {
            let err = anyipc::queue::MessageQueue::open(&queue).unwrap_err();
            assert_eq!(
                err.kind(),
                std::io::ErrorKind::NotFound,
                "{queue} left behind"
            );
        }

        // A peer that cannot bind: its reason, in the one line of the bench.
        let dir = TempDir::new("cli-bench-no-dir");
        let url = dir.url("unix", "missing/b.sock");
        let out = run(&["bench", &url], &[], b"").await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("anyipc: cannot start a bench peer on {url}: "))
                && stderr.contains("missing/b.sock: "),
            "{stderr}"
        );
    })
    .await;
}

/// Starts a latency bench over a FIFO in `dir` that runs until stopped; returns it, once its
/// FIFOs are made, with its peer's pid.
async fn endless_fifo_bench(dir: &TempDir) -> (Proc, libc::pid_t) {
    endless_bench(&format!("fifo://{}", dir.join("b.fifo")), "latency").await
}

/// Starts a bench of `url` in `mode` that runs until stopped; returns it, once its endpoints
/// are made, with its peer's pid.
async fn endless_bench(url: &str, mode: &str) -> (Proc, libc::pid_t) {
    let mut bench = Proc::start(
        &[
            "bench",
            url,
            "--mode",
            mode,
            "--size",
            "64",
            "--count",
            "1000000000",
        ],
        &[],
        true,
    );
    let header = bench.stdout_lines(1).await.remove(0);
    let peer: libc::pid_t = header
        .split("peer process ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no peer pid in {header:?}"));
    (bench, peer)
}

/// Stopped by `signal` (after `also_to_peer`, if set), the bench exits 1, says it was
/// interrupted, and leaves nothing in its directory.
async fn a_stopped_bench_removes_what_it_created(signal: libc::c_int, also_to_peer: bool) {
    let dir = TempDir::new("cli-bench-stopped");
    let (bench, peer) = endless_fifo_bench(&dir).await;
    let mut left = left_in(&dir);
    left.sort();
    assert_eq!(left, ["b.fifo", "b.fifo.reply"]);
    if also_to_peer {
        // SAFETY: kill(2) with a valid signal number touches no memory.
        assert_eq!(unsafe { libc::kill(peer, signal) }, 0);
        // The bench hears it a moment later, as it would from a terminal or `kill -PGID`:
        // the run may have failed by then (a SIGTERMed peer ends at once).
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, stderr) = bench.stop_with(signal).await;
    assert_eq!(status.code(), Some(1), "{stderr:?}");
    assert_eq!(stderr, ["anyipc: interrupted"]);
    assert_eq!(left_in(&dir), Vec::<String>::new());
}

/// Ctrl-C at a terminal interrupts the whole process group: the peer, then the bench.
#[tokio::test]
async fn bench_interrupted_removes_what_it_created() {
    watchdog(
        WATCHDOG,
        a_stopped_bench_removes_what_it_created(libc::SIGINT, true),
    )
    .await;
}

/// SIGTERM (systemd, `timeout`), sent to the bench alone, stops it as cleanly as Ctrl-C.
#[tokio::test]
async fn bench_stopped_by_sigterm_removes_what_it_created() {
    watchdog(
        WATCHDOG,
        a_stopped_bench_removes_what_it_created(libc::SIGTERM, false),
    )
    .await;
}

/// SIGTERM to the whole process group (`kill -TERM -PGID`) ends the peer, which does not
/// leave it to its parent, before the bench hears it: still "interrupted", not the run's
/// failure, and cleaned up.
#[tokio::test]
async fn bench_stopped_by_sigterm_to_its_group_says_interrupted() {
    watchdog(
        WATCHDOG,
        a_stopped_bench_removes_what_it_created(libc::SIGTERM, true),
    )
    .await;
}

/// SIGTERM to the peer alone ends it cleanly (its FIFO removed); the run fails with what the
/// peer said last, and the bench removes the rest.
#[tokio::test]
async fn bench_says_why_its_peer_stopped() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bench-peer-stopped");
        let (bench, peer) = endless_fifo_bench(&dir).await;
        // SAFETY: kill(2) with a valid signal number touches no memory.
        assert_eq!(unsafe { libc::kill(peer, libc::SIGTERM) }, 0);
        let (status, stderr) = bench.wait_out().await;
        assert_eq!(status.code(), Some(1), "{stderr:?}");
        let last = stderr.last().map_or("", String::as_str);
        assert!(
            last.ends_with(
                ": the peer process exited during the run (exit status: 1): the bench peer was \
                 stopped by SIGTERM"
            ),
            "{stderr:?}"
        );
        assert_eq!(left_in(&dir), Vec::<String>::new());
    })
    .await;
}

/// A peer killed mid-run fails the run at once, also where the way back never ends by
/// itself (a queue, a log): the bench used to wait for ever for the next reply, and then for
/// ten seconds to flush into the dead peer's full queue. What the run created is removed.
#[tokio::test]
async fn bench_fails_at_once_when_its_peer_dies_mid_run() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bench-peer-dies");
        let queue = unique_name("cli-bench-peer-dies");
        let runs = [
            (format!("mq://{queue}?create=true"), "throughput"),
            (format!("file://{}", dir.join("log")), "latency"),
            (format!("file://{}", dir.join("log")), "throughput"),
        ];
        for (url, mode) in runs {
            let (bench, peer) = endless_bench(&url, mode).await;
            // SAFETY: kill(2) with a valid signal number touches no memory.
            assert_eq!(unsafe { libc::kill(peer, libc::SIGKILL) }, 0);
            // Seconds, not the ten of the old flush nor for ever: the peer's end is noticed.
            let (status, stderr) =
                tokio::time::timeout(std::time::Duration::from_secs(8), bench.wait_out())
                    .await
                    .unwrap_or_else(|_| panic!("{mode} over {url}: still running"));
            assert_eq!(status.code(), Some(1), "{stderr:?}");
            let last = stderr.last().map_or("", String::as_str);
            assert!(
                last.starts_with(&format!("anyipc: {mode} 64 B × 1000000000 over "))
                    && last.ends_with(
                        ": the peer process exited during the run (signal: 9 (SIGKILL))"
                    ),
                "{stderr:?}"
            );
            assert_eq!(left_in(&dir), Vec::<String>::new(), "{url}");
        }
        for name in [queue.clone(), format!("{queue}-reply")] {
            let err = anyipc::queue::MessageQueue::open(&name).unwrap_err();
            assert_eq!(
                err.kind(),
                std::io::ErrorKind::NotFound,
                "{name} left behind"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn bridge_forwards_tcp_to_unix_and_reconnects() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bridge");
        let unix = dir.url("unix", "back.sock");
        let back = Proc::start(&["listen", &unix, "--echo"], &[], false);
        let mut back = back;
        back.stderr_after("listening on ").await;
        let mut bridge = Proc::start(&["bridge", "tcp://127.0.0.1:0", &unix, "-v"], &[], false);
        let front = bridge.stderr_after("bridging ").await;
        let (front, rest) = front.split_once(" <-> ").expect("A <-> B");
        assert_eq!(rest, unix);
        assert!(front.starts_with("tcp://127.0.0.1:"), "{front}");

        let sent = ok(&["send", front, "--expect-reply", "one", "two ✓"], &[]).await;
        assert_eq!(sent, "one\ntwo ✓\n");
        let closed = bridge.stderr_after("bridge session 1 closed").await;
        assert!(
            closed.ends_with("A->B 2 msgs/10 B, B->A 2 msgs/10 B"),
            "{closed}"
        );

        // The unix side goes away and comes back: the next client is served again.
        back.kill().await;
        let mut back = Proc::start(&["listen", &unix, "--echo"], &[], false);
        back.stderr_after("listening on ").await;
        let sent = ok(&["send", front, "--expect-reply", "again"], &[]).await;
        assert_eq!(sent, "again\n");
        let closed = bridge.stderr_after("bridge session 2 closed").await;
        assert!(
            closed.ends_with("A->B 1 msgs/5 B, B->A 1 msgs/5 B"),
            "{closed}"
        );

        let (status, stderr) = bridge.interrupt().await;
        assert!(status.success(), "{status}: {stderr:?}");
        let totals = stderr.last().expect("a totals line");
        assert!(
            totals.starts_with("bridge: 2 sessions, A->B 3 msgs/15 B"),
            "{totals}"
        );
    })
    .await;
}

/// A session with a udp side, whose stream never ends by itself, ends once the client is
/// done and the udp side has been quiet for the linger, after the reply got through; a
/// `--retry` too long for the clock means for ever, not a panic per client.
#[tokio::test]
async fn bridge_sessions_with_a_udp_side_end_and_a_huge_retry_is_no_panic() {
    watchdog(WATCHDOG, async {
        let mut back = Proc::start(&["listen", "udp://127.0.0.1:0", "--echo"], &[], false);
        let udp = back.stderr_after("listening on ").await;
        let args = ["bridge", "tcp://127.0.0.1:0", &udp, "-v"];
        let mut bridge = Proc::start(
            &[&args[..], &["--retry", "9999999999999999999s"]].concat(),
            &[],
            false,
        );
        let front = bridge.stderr_after("bridging ").await;
        let (front, _) = front.split_once(" <-> ").expect("A <-> B");
        let sent = ok(&["send", front, "--expect-reply", "one"], &[]).await;
        assert_eq!(sent, "one\n");
        let closed = bridge.stderr_after("bridge session 1 closed").await;
        assert!(
            closed.ends_with("A->B 1 msgs/3 B, B->A 1 msgs/3 B"),
            "{closed}"
        );
        back.kill().await;
        bridge.kill().await;
    })
    .await;
}

/// A datagram over the bound side's `max_frame` is skipped with a message; the datagrams
/// of the same sender after it are still forwarded (the session is not dropped with them).
#[tokio::test]
async fn bridge_skips_a_bad_datagram_and_forwards_the_rest() {
    watchdog(WATCHDOG, async {
        let mut back = Proc::start(&["listen", "tcp://127.0.0.1:0"], &[], true);
        let tcp = back.stderr_after("listening on ").await;
        let mut bridge = Proc::start(
            &["bridge", "listen:udp://127.0.0.1:0?max_frame=8", &tcp],
            &[],
            false,
        );
        let front = bridge.stderr_after("bridging ").await;
        let (front, _) = front.split_once(" <-> ").expect("A <-> B");
        let front = front.replace("?max_frame=8", "");
        ok(&["send", &front, "far too long", "short"], &[]).await;
        let skipped = bridge
            .stderr_after("anyipc: bridge session 1: skipped")
            .await;
        assert!(skipped.contains("max_frame"), "{skipped}");
        let lines = back.stdout_lines(1).await;
        assert!(lines[0].ends_with("short"), "{lines:?}");
        back.kill().await;
        bridge.kill().await;
    })
    .await;
}

#[tokio::test]
async fn bridge_with_the_bound_side_second_and_usage_errors() {
    watchdog(WATCHDOG, async {
        // connect:A listen:B — the echo server is A, clients come to B (a unix socket).
        let dir = TempDir::new("cli-bridge2");
        let mut echo = Proc::start(&["listen", "tcp://127.0.0.1:0", "--echo"], &[], false);
        let tcp = echo.stderr_after("listening on ").await;
        let unix = dir.url("unix", "front.sock");
        let mut bridge = Proc::start(
            &[
                "bridge",
                &format!("connect:{tcp}"),
                &format!("listen:{unix}"),
            ],
            &[],
            false,
        );
        assert_eq!(
            bridge.stderr_after("bridging ").await,
            format!("{tcp} <-> {unix}")
        );
        let sent = ok(&["send", &unix, "--expect-reply", "via unix"], &[]).await;
        assert_eq!(sent, "via unix\n");

        for args in [
            &[
                "bridge",
                "listen:tcp://127.0.0.1:0",
                "listen:tcp://127.0.0.1:0",
            ][..],
            &["bridge", "tcp://127.0.0.1:0"],
            &["bridge", "tcp://127.0.0.1:0", "bogus://x"],
            // Port 0 of a side connected to: refused at once, not at each client.
            &["bridge", "tcp://127.0.0.1:0", "tcp://127.0.0.1:0"],
            &[
                "bridge",
                "connect:udp://127.0.0.1:0",
                "listen:tcp://127.0.0.1:0",
            ],
        ] {
            let out = run(args, &[], b"").await;
            assert_eq!(
                out.status.code(),
                Some(2),
                "{args:?}: {}",
                text(&out.stderr)
            );
            assert_eq!(
                text(&out.stderr).lines().count(),
                1,
                "{}",
                text(&out.stderr)
            );
        }

        // Port 0 of a side connected to: refused at once, not at each client (which it
        // dropped, for ever with a bound queue).
        for args in [
            &["bridge", "tcp://127.0.0.1:7400", "tcp://127.0.0.1:0"][..],
            &[
                "bridge",
                "connect:udp://127.0.0.1:0",
                "listen:tcp://127.0.0.1:0",
            ],
        ] {
            let out = run(args, &[], b"").await;
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(stderr.contains("port 0 can only be bound"), "{stderr}");
        }

        // B is the endpoint A binds: the bridge would connect to itself until EMFILE. Also
        // spelled otherwise: a wildcard A reached through `localhost`, a path through `.`.
        for args in [
            &["bridge", "tcp://127.0.0.1:7400", "tcp://127.0.0.1:7400"][..],
            &["bridge", "tcp://0.0.0.0:7400", "tcp://localhost:7400"],
            &["bridge", "unix:///tmp/x.sock", "unix:///tmp/./x.sock"],
            &[
                "bridge",
                "connect:unix:///tmp/x.sock",
                "listen:unix:///tmp/x.sock",
            ],
        ] {
            let out = run(args, &[], b"").await;
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(stderr.contains("would connect to itself"), "{stderr}");
        }
    })
    .await;
}

#[tokio::test]
async fn bridge_between_two_servers_starts_again_when_one_goes_away() {
    watchdog(WATCHDOG, async {
        // A: `anyipc listen` on a pipe, printing what arrives. B: a server in this test.
        let runtime = TempDir::new("cli-bridge3");
        let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
        let pipe = format!("pipe://{}", unique_name("bridge-a"));
        let mut a = Proc::start(&["listen", &pipe], &env, true);
        a.stderr_after("listening on ").await;
        let mut b = anyipc::bind("tcp://127.0.0.1:0").await.expect("bind");
        let tcp = b.endpoint().to_string();
        let mut bridge = Proc::start(
            &[
                "bridge",
                &format!("connect:{pipe}"),
                &format!("connect:{tcp}"),
                "-v",
            ],
            &env,
            false,
        );
        bridge.stderr_after("bridging ").await;

        let mut conn = b.accept().await.expect("the bridge connects");
        conn.send("first").await.expect("send");
        assert_eq!(a.stdout_lines(1).await, ["first"]);
        // B drops the bridge: the session ends and the bridge connects to both again.
        drop(conn);
        let closed = bridge.stderr_after("bridge session 1 closed").await;
        assert!(
            closed.ends_with("A->B 0 msgs/0 B, B->A 1 msgs/5 B"),
            "{closed}"
        );
        let mut conn = b.accept().await.expect("the bridge reconnects");
        conn.send("second").await.expect("send");
        assert_eq!(a.stdout_lines(1).await, ["second"]);
    })
    .await;
}

/// `--retry D` keeps trying to connect for a new client for the whole of D, the last try at
/// D, rather than giving up when the next backoff pause would pass it (6.3 s into `--retry
/// 10s`, 1.5 s into `--retry 3s`). A server that comes up 7 s into `--retry 10s` still gets
/// the client's message (3 s before the last try, so a stalled test has room); with nothing
/// there, the client is dropped no earlier than D (load only makes that later).
#[tokio::test]
async fn bridge_retry_keeps_trying_until_its_end() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bridge-retry");
        let late = format!("unix://{}", dir.join("late.sock"));
        let mut bridge = Proc::start(
            &["bridge", "tcp://127.0.0.1:0", &late, "--retry", "10s"],
            &[],
            false,
        );
        let front = bridge.stderr_after("bridging ").await;
        let (front, _) = front.split_once(" <-> ").expect("A <-> B");
        let mut client = anyipc::connect(front).await.expect("connect to the bridge");
        client.send("late").await.expect("send");
        tokio::time::sleep(Duration::from_secs(7)).await;
        let mut server = anyipc::bind(late.as_str()).await.expect("bind");
        let mut conn = tokio::time::timeout(Duration::from_secs(30), server.accept())
            .await
            .expect("the bridge connected within --retry")
            .expect("accept");
        let got = conn.next().await.expect("a message").expect("no error");
        assert_eq!(got, "late");
        bridge.kill().await;

        let nowhere = format!("unix://{}", dir.join("nobody.sock"));
        let mut bridge = Proc::start(
            &["bridge", "tcp://127.0.0.1:0", &nowhere, "--retry", "3s"],
            &[],
            false,
        );
        let front = bridge.stderr_after("bridging ").await;
        let (front, _) = front.split_once(" <-> ").expect("A <-> B");
        let started = std::time::Instant::now();
        let mut client = anyipc::connect(front).await.expect("connect to the bridge");
        if let Some(Ok(msg)) = client.next().await {
            panic!("a message from nowhere: {msg:?}");
        }
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(2900),
            "the client was dropped after {waited:?} of --retry 3s"
        );
        let dropped = bridge.stderr_after("anyipc: bridge session 1: ").await;
        assert!(dropped.starts_with("dropping client"), "{dropped}");
        bridge.kill().await;
    })
    .await;
}

/// A message that B refused (the bridge's write to it failed, as B had closed) is not
/// counted as forwarded: the session's line and the totals of `-v` count only what B took.
/// B is a unix socket server here: a write to a unix socket whose peer has closed fails at
/// once (EPIPE), so the refusal is certain.
#[tokio::test]
async fn bridge_counts_no_message_that_b_refused() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bridge-refused");
        let unix = format!("unix://{}", dir.join("back.sock"));
        let mut back = anyipc::bind(unix.as_str()).await.expect("bind");
        let mut bridge = Proc::start(&["bridge", "tcp://127.0.0.1:0", &unix, "-v"], &[], false);
        let front = bridge.stderr_after("bridging ").await;
        let (front, _) = front.split_once(" <-> ").expect("A <-> B");
        let mut client = anyipc::connect(front).await.expect("connect to the bridge");
        client.send("taken").await.expect("send");
        let mut conn = back.accept().await.expect("the bridge connects");
        let got = conn.next().await.expect("a message").expect("no error");
        assert_eq!(got, "taken");
        // B closes; the bridge passes that end on to the client, so it has seen it...
        drop(conn);
        assert!(
            client.next().await.is_none(),
            "B's end travels to the client"
        );
        // ...and its write of the next message to B fails.
        client.send("refused").await.expect("send");
        let closed = bridge
            .stderr_after("anyipc: bridge session 1 closed (A->B: ")
            .await;
        assert!(
            closed.ends_with("): A->B 1 msgs/5 B, B->A 0 msgs/0 B"),
            "{closed}"
        );
        let (status, stderr) = bridge.interrupt().await;
        assert!(status.success(), "{status}: {stderr:?}");
        assert_eq!(
            stderr.last().map(String::as_str),
            Some("bridge: 1 sessions, A->B 1 msgs/5 B, B->A 0 msgs/0 B"),
            "{stderr:?}"
        );
    })
    .await;
}

/// How long a bridge may take to end once its one session has (far more than it needs).
const ENDS_WITHIN: Duration = Duration::from_secs(60);

/// A connected `stdio://` side (the bridge's own stdin and stdout) can be taken once: the
/// bridge serves the first client, closes each client that comes while that session runs
/// at once, with a line saying why (one was kept for `--retry` while the bridge tried to
/// take stdio again, then dropped), and ends with the session, exit 0, once the client
/// closed and stdin reached its end (it ran on, serving no one).
#[tokio::test]
async fn bridge_with_a_connected_stdio_side_serves_one_client_and_ends_with_it() {
    watchdog(WATCHDOG, async {
        let args = [
            "bridge",
            "tcp://127.0.0.1:0",
            "stdio://?framing=lines",
            "-v",
        ];
        let (mut bridge, mut stdin) = Proc::start_on_pipes(&args);
        let front = bridge.stderr_after("bridging ").await;
        let (front, _) = front.split_once(" <-> ").expect("A <-> B");
        let mut first = anyipc::connect(front).await.expect("connect to the bridge");
        first.send("one").await.expect("send");
        assert_eq!(bridge.stdout_lines(1).await, ["one"]);
        stdin.write_all(b"back\n").await.expect("write stdin");
        let got = first.next().await.expect("a message").expect("no error");
        assert_eq!(got, "back");

        let mut second = anyipc::connect(front).await.expect("connect to the bridge");
        let closing = bridge.stderr_after("anyipc: bridge: closing client ").await;
        assert!(closing.contains("serves one session"), "{closing}");
        let after = second.next().await;
        assert!(matches!(after, None | Some(Err(_))), "{after:?}");

        // The first client is still served; then both ends close and the bridge ends.
        first.send("two").await.expect("send");
        assert_eq!(bridge.stdout_lines(1).await, ["two"]);
        drop(stdin);
        assert!(
            first.next().await.is_none(),
            "stdin's end travels to the client"
        );
        drop(first);
        let (status, stderr) = tokio::time::timeout(ENDS_WITHIN, bridge.wait_out())
            .await
            .expect("the bridge ends with its one session");
        assert!(status.success(), "{status}: {stderr:?}");
        let counts = "A->B 2 msgs/6 B, B->A 1 msgs/4 B";
        let closed = format!("bridge session 1 closed: {counts}");
        assert!(stderr.contains(&closed), "{stderr:?}");
        let totals = format!("bridge: 1 sessions, {counts}");
        assert_eq!(stderr.last(), Some(&totals), "{stderr:?}");
    })
    .await;
}

/// A `udp://` sender refused while the one `stdio://` session runs is told so once: each of
/// its datagrams is accepted as a new connection (the one before was closed), and the bridge
/// printed a "closing client" line for every one of them.
#[tokio::test]
async fn a_refused_udp_sender_is_told_once_not_once_per_datagram() {
    watchdog(WATCHDOG, async {
        let args = ["bridge", "udp://127.0.0.1:0", "stdio://?framing=lines"];
        let (mut bridge, _stdin) = Proc::start_on_pipes(&args);
        let front = bridge.stderr_after("bridging ").await;
        let (front, _) = front.split_once(" <-> ").expect("A <-> B");
        let port: u16 = front.rsplit(':').next().unwrap().parse().expect("a port");
        let mut first = anyipc::connect(front).await.expect("connect to the bridge");
        first.send("one").await.expect("send");
        assert_eq!(bridge.stdout_lines(1).await, ["one"]);

        let (refused, refused_addr) = udp_sender().await;
        refused.send_to(b"x", ("127.0.0.1", port)).await.unwrap();
        let closing = bridge.stderr_after("anyipc: bridge: closing client ").await;
        assert!(
            closing.starts_with(&format!("{refused_addr}:")),
            "{closing}"
        );
        for _ in 0..20 {
            refused.send_to(b"x", ("127.0.0.1", port)).await.unwrap();
        }
        // Another sender's line comes after (most of) those datagrams were handled.
        let (other, other_addr) = udp_sender().await;
        other.send_to(b"y", ("127.0.0.1", port)).await.unwrap();
        let other_closed = format!("anyipc: bridge: closing client {other_addr}:");
        bridge.stderr_after(&other_closed).await;

        let (_, stderr) = bridge.stop_with(libc::SIGTERM).await;
        let about = format!("anyipc: bridge: closing client {refused_addr}:");
        let lines = stderr.iter().filter(|l| l.starts_with(&about)).count();
        assert_eq!(lines, 1, "{stderr:?}");
    })
    .await;
}

/// Over a stream transport every refused client is told, whatever its peer label: two unix
/// clients of one process share "unix client pid N", and the second got no line while the
/// once-per-address rule of udp applied to every transport.
#[tokio::test]
async fn every_refused_stream_client_is_told() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bridge-refused-unix");
        let url = format!("unix://{}", dir.join("b.sock"));
        let args = ["bridge", &url, "stdio://?framing=lines"];
        let (mut bridge, _stdin) = Proc::start_on_pipes(&args);
        bridge.stderr_after("bridging ").await;
        let mut first = anyipc::connect(&url).await.expect("connect to the bridge");
        first.send("one").await.expect("send");
        assert_eq!(bridge.stdout_lines(1).await, ["one"]);
        for _ in 0..2 {
            let _refused = anyipc::connect(&url).await.expect("connect");
            bridge
                .stderr_after("anyipc: bridge: closing client unix client")
                .await;
        }
        let (_, stderr) = bridge.stop_with(libc::SIGTERM).await;
        drop(first);
        let told = stderr
            .iter()
            .filter(|l| l.starts_with("anyipc: bridge: closing client"))
            .count();
        assert_eq!(told, 2, "{stderr:?}");
    })
    .await;
}

/// A UDP socket on 127.0.0.1 and its address as a listener names its sender.
async fn udp_sender() -> (tokio::net::UdpSocket, String) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    (socket, addr)
}

/// Between two servers, a connected `stdio://` side gives one session too, and the bridge
/// ends with it, exit 0, when the other server closes (it connected to that server again,
/// and tried to take stdio again for ever). A session that fails, stdout's reader gone,
/// ends the bridge with exit 1 (it ran on). `stdio://` on both sides is refused (exit 2; the
/// second side waited for ever).
#[tokio::test]
async fn bridge_with_a_connected_stdio_side_ends_with_its_one_session() {
    watchdog(WATCHDOG, async {
        let mut server = anyipc::bind("tcp://127.0.0.1:0").await.expect("bind");
        let tcp = format!("connect:{}", server.endpoint());
        let (mut bridge, _stdin) =
            Proc::start_on_pipes(&["bridge", &tcp, "connect:stdio://?framing=lines"]);
        bridge.stderr_after("bridging ").await;
        let mut conn = server.accept().await.expect("the bridge connects");
        conn.send("hi").await.expect("send");
        assert_eq!(bridge.stdout_lines(1).await, ["hi"]);
        drop(conn);
        let (status, stderr) = tokio::time::timeout(ENDS_WITHIN, bridge.wait_out())
            .await
            .expect("the bridge ends with its one session");
        assert!(status.success(), "{status}: {stderr:?}");

        let stdio = "stdio://?framing=lines";
        let (mut bridge, _stdin) = Proc::start_on_pipes(&["bridge", "tcp://127.0.0.1:0", stdio]);
        let front = bridge.stderr_after("bridging ").await;
        let (front, _) = front.split_once(" <-> ").expect("A <-> B");
        // No one reads the bridge's stdout any more: its write there fails (EPIPE).
        bridge.stdout = None;
        let mut client = anyipc::connect(front).await.expect("connect to the bridge");
        client.send("lost").await.expect("send");
        let (status, stderr) = tokio::time::timeout(ENDS_WITHIN, bridge.wait_out())
            .await
            .expect("the bridge ends with its one session");
        assert_eq!(status.code(), Some(1), "{stderr:?}");
        // Said as the session closing, or, when the message came while the bridge took
        // stdio, as forwarding the message it held meanwhile.
        let failed = |l: &String| l.starts_with("anyipc: bridge session 1") && l.contains("pipe");
        assert!(stderr.iter().any(failed), "{stderr:?}");
        let last = format!("anyipc: bridge: the one session with {stdio} failed (above)");
        assert_eq!(stderr.last(), Some(&last), "{stderr:?}");

        let out = run(
            &["bridge", "connect:stdio://", "connect:stdio://"],
            &[],
            b"",
        )
        .await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("stdio:// on both sides"), "{stderr}");
    })
    .await;
}

/// Between a server and `stdio://`, the end of stdin is a half-close (as with `nc -N`): the
/// server sees the end of its input, and its replies still come out on stdout until it
/// closes (they were dropped: the first end ended the session). A stdio that cannot be
/// taken is not taken again for ever: the bridge exits 1 at once.
#[tokio::test]
async fn bridge_to_stdio_forwards_replies_after_the_end_of_stdin() {
    watchdog(WATCHDOG, async {
        let mut server = anyipc::bind("tcp://127.0.0.1:0?framing=lines")
            .await
            .expect("bind");
        let tcp = format!("connect:{}", server.endpoint());
        let stdio = "connect:stdio://?framing=lines";
        let (mut bridge, mut stdin) = Proc::start_on_pipes(&["bridge", &tcp, stdio]);
        bridge.stderr_after("bridging ").await;
        let mut conn = server.accept().await.expect("the bridge connects");
        stdin.write_all(b"req1\nreq2\n").await.expect("write stdin");
        drop(stdin);
        let mut requests = Vec::new();
        while let Some(msg) = conn.next().await {
            requests.push(msg.expect("a request"));
        }
        assert_eq!(requests, ["req1", "req2"], "then the end of stdin travels");
        for reply in ["rep1", "rep2"] {
            conn.send(reply).await.expect("reply");
        }
        drop(conn);
        assert_eq!(bridge.stdout_lines(2).await, ["rep1", "rep2"]);
        let (status, stderr) = tokio::time::timeout(ENDS_WITHIN, bridge.wait_out())
            .await
            .expect("the bridge ends with its one session");
        assert!(status.success(), "{status}: {stderr:?}");

        // Pipes named by a stale ANYIPC_CHILD_FDS (another parent's) are refused the same way
        // every time: said once, exit 1.
        let bridge = Proc::spawn(
            &["bridge", &tcp, stdio],
            &[("ANYIPC_CHILD_FDS", "1:stdio")],
            Stdio::piped(),
            Stdio::piped(),
        );
        let _held = server.accept();
        let (status, stderr) = tokio::time::timeout(ENDS_WITHIN, bridge.wait_out())
            .await
            .expect("the bridge does not retry stdio for ever");
        assert_eq!(status.code(), Some(1), "{stderr:?}");
        assert!(
            stderr
                .iter()
                .any(|l| l.contains("cannot connect to stdio://")),
            "{stderr:?}"
        );
    })
    .await;
}

/// A bound `file://` side has one reader, so the bridge forwards its one session and ends
/// with it: exit 0 after a file read to its end, 1 when that session fails; it does not wait
/// for ever on an accept that cannot come.
#[tokio::test]
async fn bridge_ends_with_the_one_session_of_a_bound_file() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bridge-file");
        let path = dir.join("lines.txt");
        std::fs::write(&path, "one\ntwo\nthree").expect("write the file");
        let file = format!("listen:file://{path}?framing=lines&follow=false");
        let mut b = anyipc::bind("tcp://127.0.0.1:0").await.expect("bind");
        let tcp = b.endpoint().to_string();
        let mut bridge = Proc::start(&["bridge", &file, &tcp, "-v"], &[], false);
        bridge.stderr_after("bridging ").await;
        let mut conn = b.accept().await.expect("the bridge connects");
        for line in ["one", "two", "three"] {
            let got = conn.next().await.expect("a message").expect("no error");
            assert_eq!(got, line);
        }
        assert!(conn.next().await.is_none(), "the end of the file travels");
        drop(conn);
        let (status, stderr) = bridge.wait_out().await;
        assert!(status.success(), "{status}: {stderr:?}");
        assert!(
            stderr
                .iter()
                .any(|l| l.ends_with("A->B 3 msgs/11 B, B->A 0 msgs/0 B")),
            "{stderr:?}"
        );

        // Nothing to forward to: the one session fails, and so does the bridge.
        let nowhere = format!("unix://{}", dir.join("nobody.sock"));
        let bridge = Proc::start(&["bridge", &file, &nowhere, "--retry", "250ms"], &[], false);
        let (status, stderr) = bridge.wait_out().await;
        assert_eq!(status.code(), Some(1), "{stderr:?}");
        assert!(
            stderr.iter().any(|l| l.contains("dropping client")),
            "{stderr:?}"
        );
        let last = stderr.last().expect("an error line");
        assert!(last.contains("the one session of file://"), "{last}");
    })
    .await;
}

/// A bound log read by a named consumer (and followed) is a persistent forwarder, as a queue
/// is: when B goes, the session ends at once and the consumer commits its cursor after what
/// was forwarded, and the log is read again from there once B is back. The session lived on
/// and took the next record from the log, sent it into the dead connection (the first send
/// after a peer's close still succeeds on a socket) and committed past it: it was lost, and
/// the bridge ended at the next one.
#[tokio::test]
async fn bridge_resumes_a_named_consumer_of_a_bound_log_when_b_comes_back() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bridge-log");
        let log = format!("file://{}", dir.join("log"));
        let mut b = Proc::start(&["listen", "tcp://127.0.0.1:0"], &[], true);
        let tcp = b.stderr_after("listening on ").await;
        let listen = format!("listen:{log}?consumer=c1");
        let mut bridge = Proc::start(&["bridge", &listen, &tcp, "-v"], &[], false);
        bridge.stderr_after("bridging ").await;
        ok(&["send", &log, "r1"], &[]).await;
        let lines = b.stdout_lines(1).await;
        assert!(lines[0].ends_with("r1"), "{lines:?}");
        b.kill().await;
        // The session ends as soon as B goes, before anything more is taken from the log.
        let closed = tokio::time::timeout(
            Duration::from_secs(20),
            bridge.stderr_after("bridge session 1 closed"),
        )
        .await
        .expect("the session ends when B goes");
        assert_eq!(closed, ": A->B 1 msgs/2 B, B->A 0 msgs/0 B");
        ok(&["send", &log, "r2"], &[]).await;
        let mut b = Proc::start(&["listen", &tcp], &[], true);
        b.stderr_after("listening on ").await;
        ok(&["send", &log, "r3"], &[]).await;
        let lines = b.stdout_lines(2).await;
        assert!(
            lines[0].ends_with("r2") && lines[1].ends_with("r3"),
            "r1 again, or r2 lost: {lines:?}"
        );
        let (status, stderr) = bridge.stop_with(libc::SIGTERM).await;
        assert_eq!(status.code(), Some(0), "{stderr:?}");
        assert!(
            stderr
                .iter()
                .any(|l| l.starts_with("bridge session 2 opened")),
            "{stderr:?}"
        );
        b.kill().await;
    })
    .await;
}

/// A bound log read by a named consumer whose own data is damaged (a record in the middle of
/// a segment fails its check, so every read at it fails again) ends the bridge, as it ends
/// `listen`: the records before it reach B, then the bridge exits 1 with one line naming the
/// log and the damage. Taking the log again after a backoff, as after B going, failed at the
/// same record for ever, a line every 5 s.
#[tokio::test]
async fn bridge_ends_when_its_bound_log_is_damaged() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bridge-damaged-log");
        let log = damaged_log(&dir).await;
        let mut b = anyipc::bind("tcp://127.0.0.1:0").await.expect("bind");
        let tcp = format!("connect:{}", b.endpoint());
        let listen = format!("listen:{log}?consumer=c");
        let mut bridge = Proc::start(&["bridge", &listen, &tcp], &[], false);
        bridge.stderr_after("bridging ").await;
        let mut conn = b.accept().await.expect("the bridge connects");
        let got = conn.next().await.expect("a message").expect("no error");
        assert_eq!(got, "zero", "the record before the damage");
        let (status, stderr) = tokio::time::timeout(Duration::from_secs(10), bridge.wait_out())
            .await
            .expect("the bridge ends within 10 s (it took the damaged log again and again)");
        assert_eq!(status.code(), Some(1), "{stderr:?}");
        let errors: Vec<&String> = stderr
            .iter()
            .filter(|l| l.starts_with("anyipc: "))
            .collect();
        assert_eq!(errors.len(), 1, "{stderr:?}");
        assert!(
            errors[0].contains(&log) && errors[0].contains("is damaged"),
            "{stderr:?}"
        );
    })
    .await;
}

/// A bound `mq://` side is read only once B answers: a B that never does takes nothing from
/// the queue (each session fails and the next is tried, and the messages stay queued). A
/// queue never ends by itself, so when B goes the bridge takes the queue again and forwards
/// what comes next to B's successor: a persistent forwarder.
#[tokio::test]
async fn bridge_takes_nothing_from_a_bound_queue_before_b_answers_and_outlives_b() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bridge-mq");
        let name = unique_name("bridge-q");
        let queue = format!("mq://{name}");
        ok(&["mq", "create", &name], &[]).await;
        for msg in ["one", "two", "three"] {
            ok(&["send", &queue, msg], &[]).await;
        }
        let len = || async { ok(&["mq", "stat", &name], &[]).await };
        let listen = format!("listen:{queue}");
        let nowhere = format!("unix://{}", dir.join("nobody.sock"));
        let mut bridge = Proc::start(
            &["bridge", &listen, &nowhere, "--retry", "250ms"],
            &[],
            false,
        );
        for _ in 0..2 {
            bridge.stderr_after("anyipc: bridge session").await;
        }
        let stat = len().await;
        assert!(stat.contains("len:             3"), "{stat}");
        let (status, stderr) = bridge.stop_with(libc::SIGTERM).await;
        assert_eq!(status.code(), Some(0), "{stderr:?}");

        let mut b = anyipc::bind("tcp://127.0.0.1:0").await.expect("bind");
        let tcp = b.endpoint().to_string();
        let bridge = Proc::start(&["bridge", &listen, &tcp], &[], false);
        let mut conn = b.accept().await.expect("the bridge connects");
        for msg in ["one", "two", "three"] {
            let got = conn.next().await.expect("a message").expect("no error");
            assert_eq!(got, msg);
        }
        // B goes; what is queued next reaches the B that comes after it.
        drop(conn);
        let mut conn = b.accept().await.expect("the bridge connects again");
        ok(&["send", &queue, "four"], &[]).await;
        let got = conn.next().await.expect("a message").expect("no error");
        assert_eq!(got, "four");
        let (status, stderr) = bridge.stop_with(libc::SIGTERM).await;
        assert_eq!(status.code(), Some(0), "{stderr:?}");
        ok(&["mq", "rm", &name], &[]).await;
    })
    .await;
}

/// A bound `mq://` side is only read: what B answers is dropped (and reported), not put
/// back into the queue, where the bridge took it as one more message and forwarded it again,
/// without end.
#[tokio::test]
async fn bridge_drops_what_b_answers_to_a_bound_queue() {
    watchdog(WATCHDOG, async {
        let name = crate::queue::Name::new();
        let queue = format!("mq://{}", name.0);
        ok(&["mq", "create", &name.0], &[]).await;
        let mut b = anyipc::bind("tcp://127.0.0.1:0").await.expect("bind");
        let tcp = b.endpoint().to_string();
        let listen = format!("listen:{queue}");
        let mut bridge = Proc::start(&["bridge", &listen, &tcp], &[], false);
        bridge.stderr_after("bridging ").await;
        ok(&["send", &queue, "one"], &[]).await;
        let mut conn = b.accept().await.expect("the bridge connects");
        let got = conn.next().await.expect("a message").expect("no error");
        assert_eq!(got, "one");
        conn.send("an answer").await.expect("send");
        ok(&["send", &queue, "two"], &[]).await;
        let got = conn.next().await.expect("a message").expect("no error");
        assert_eq!(got, "two", "the answer came back through the queue");
        let dropped = bridge
            .stderr_after("anyipc: bridge session 1: dropping what ")
            .await;
        assert!(dropped.contains("is one shared queue"), "{dropped}");
        let (status, stderr) = bridge.stop_with(libc::SIGTERM).await;
        assert_eq!(status.code(), Some(0), "{stderr:?}");
    })
    .await;
}

/// The length `anyipc mq stat NAME` reports.
async fn queue_len(name: &str) -> usize {
    let stat = ok(&["mq", "stat", name], &[]).await;
    let len = stat.lines().find_map(|l| l.strip_prefix("len:"));
    len.and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no length in {stat}"))
}

/// A stop signal that finds the bridge holding messages it took from a bound queue and has
/// not handed to B yet (B reads slowly, its socket is full) ends it only once B has them: it
/// takes nothing more and sends what it holds. The bridge used to end at once, and the
/// messages it held (with half a frame written) were gone from the queue and never reached B.
#[tokio::test]
async fn a_stopped_bridge_hands_b_what_it_took_from_a_bound_queue() {
    watchdog(WATCHDOG, async {
        let name = crate::queue::Name::new();
        let queue = format!("mq://{}", name.0);
        let create = ["mq", "create", &name.0, "--capacity", "20000"];
        ok(&[&create[..], &["--max-message-len", "2KiB"]].concat(), &[]).await;
        // 20 MB: more than the sockets between the bridge and B hold.
        let total = 20_000;
        let lines: String = (0..total)
            .map(|i| format!("{i:06}{}\n", "x".repeat(994)))
            .collect();
        let sent = run(&["send", &queue], &[], lines.as_bytes()).await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let mut b = anyipc::bind("tcp://127.0.0.1:0").await.expect("bind");
        let tcp = b.endpoint().to_string();
        let listen = format!("listen:{queue}");
        let bridge = Proc::start(&["bridge", &listen, &tcp], &[], false);
        let mut conn = b.accept().await.expect("the bridge connects");
        // B reads nothing until the bridge has filled the sockets and waits for room.
        let mut len = queue_len(&name.0).await;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = queue_len(&name.0).await;
            if now == len && now < total {
                break;
            }
            len = now;
        }
        let stopped = tokio::spawn(bridge.stop_with(libc::SIGTERM));
        let mut received = 0;
        while let Some(msg) = conn.next().await {
            let msg = msg.unwrap_or_else(|e| panic!("after {received} messages: {e}"));
            assert_eq!(&msg[..6], format!("{received:06}").as_bytes());
            received += 1;
        }
        let (status, stderr) = stopped.await.expect("the bridge ends");
        assert_eq!(status.code(), Some(0), "{stderr:?}");
        let left = queue_len(&name.0).await;
        assert_eq!(received + left, total, "{received} forwarded, {left} left");
    })
    .await;
}

/// A connected `mq://` or `fifo://` side is only written to: the queue keeps what the bridge
/// put in it for its consumer (the bridge took it back and sent it to the client), and a
/// session to a FIFO forwards rather than failing at once on reading the writing end. Two
/// such sides connected to are refused.
#[tokio::test]
async fn bridge_writes_a_connected_queue_or_fifo_without_reading_it() {
    watchdog(WATCHDOG, async {
        let name = crate::queue::Name::new();
        let queue = format!("mq://{}", name.0);
        ok(&["mq", "create", &name.0], &[]).await;
        let mut bridge = Proc::start(&["bridge", "tcp://127.0.0.1:0", &queue, "-v"], &[], false);
        let front = bridge.stderr_after("bridging ").await;
        let (front, _) = front.split_once(" <-> ").expect("A <-> B");
        let mut client = anyipc::connect(front).await.expect("connect to the bridge");
        client.send("m1").await.expect("send");
        client.send("m2").await.expect("send");
        futures::SinkExt::close(&mut client).await.expect("close");
        assert!(client.next().await.is_none(), "nothing comes back");
        let stat = ok(&["mq", "stat", &name.0], &[]).await;
        assert!(stat.contains("len:             2"), "{stat}");
        bridge.kill().await;

        let dir = TempDir::new("cli-bridge-fifo");
        let fifo = format!("fifo://{}", dir.join("in.fifo"));
        let mut reader = Proc::start(&["listen", &fifo], &[], true);
        reader.stderr_after("listening on ").await;
        let mut bridge = Proc::start(&["bridge", "tcp://127.0.0.1:0", &fifo, "-v"], &[], false);
        let front = bridge.stderr_after("bridging ").await;
        let (front, _) = front.split_once(" <-> ").expect("A <-> B");
        ok(&["send", front, "one", "two"], &[]).await;
        bridge.stderr_after("bridge session 1 opened").await;
        let closed = bridge.stderr_after("").await;
        assert_eq!(
            closed,
            "bridge session 1 closed: A->B 2 msgs/6 B, B->A 0 msgs/0 B"
        );
        assert_eq!(reader.stdout_lines(2).await, ["one", "two"]);
        bridge.kill().await;

        let both = [
            "bridge",
            &format!("connect:{queue}"),
            &format!("connect:{fifo}"),
        ];
        let out = run(&both, &[], b"").await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("neither side would be read"));
    })
    .await;
}

/// A bound `fifo://` has one reader, which its listener hands out once: when B goes, the
/// bridge makes the FIFO again and forwards what comes next to B's successor, as it takes a
/// queue again, rather than living on with no reader (writers told "nothing listens") and
/// no session for ever. A stop signal removes the FIFO.
#[tokio::test]
async fn bridge_makes_a_bound_fifo_again_when_b_goes() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bridge-fifo-again");
        let path = dir.join("in.fifo");
        let fifo = format!("fifo://{path}");
        let mut b = anyipc::bind("tcp://127.0.0.1:0").await.expect("bind");
        let tcp = b.endpoint().to_string();
        let mut bridge = Proc::start(&["bridge", &fifo, &tcp], &[], false);
        bridge.stderr_after("bridging ").await;
        ok(&["send", &fifo, "one"], &[]).await;
        let mut conn = b.accept().await.expect("the bridge connects");
        let got = conn.next().await.expect("a message").expect("no error");
        assert_eq!(got, "one");
        // B goes; the FIFO is taken again and what comes next reaches B's successor.
        drop(conn);
        let mut conn = tokio::time::timeout(Duration::from_secs(60), b.accept())
            .await
            .expect("the bridge connects again")
            .expect("accept");
        ok(&["send", &fifo, "two"], &[]).await;
        let got = conn.next().await.expect("a message").expect("no error");
        assert_eq!(got, "two");
        let (status, stderr) = bridge.stop_with(libc::SIGTERM).await;
        assert_eq!(status.code(), Some(0), "{stderr:?}");
        assert!(!std::path::Path::new(&path).exists(), "the FIFO is left");
    })
    .await;
}

/// `ls --json` in a private runtime directory.
async fn ls(env: &[(&str, &str)]) -> Vec<Value> {
    json_lines(&ok(&["ls", "--json"], env).await)
}

fn find<'a>(listing: &'a [Value], url: &str) -> Option<&'a Value> {
    listing.iter().find(|r| r["url"] == url)
}

#[tokio::test]
async fn clean_removes_a_killed_owners_name_and_keeps_a_live_one() {
    watchdog(WATCHDOG, async {
        // A runtime directory of our own, so no other test's names are touched.
        let runtime = TempDir::new("cli-clean");
        let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
        let (live_name, dead_name) = (unique_name("live"), unique_name("dead"));
        let (live_url, dead_url) = (format!("pipe://{live_name}"), format!("pipe://{dead_name}"));
        let mut live = Proc::start(&["listen", &live_url], &env, false);
        let mut dead = Proc::start(&["listen", &dead_url], &env, false);
        live.stderr_after("listening on ").await;
        dead.stderr_after("listening on ").await;
        let dead_pid = dead.id();
        dead.kill().await;
        // The same for shared memory.
        let (shm_live_url, shm_dead_url) = (
            format!("shm://{}", unique_name("live")),
            format!("shm://{}", unique_name("dead")),
        );
        let mut shm_live = Proc::start(&["listen", &shm_live_url], &env, false);
        let mut shm_dead = Proc::start(&["listen", &shm_dead_url], &env, false);
        shm_live.stderr_after("listening on ").await;
        shm_dead.stderr_after("listening on ").await;
        let shm_dead_pid = shm_dead.id();
        shm_dead.kill().await;

        let listing = ls(&env).await;
        let l = find(&listing, &live_url).expect("live name listed");
        assert_eq!(l["status"], "alive");
        assert_eq!(l["owner_pid"], live.id());
        assert_eq!(l["kind"], "pipe");
        let d = find(&listing, &dead_url).expect("dead name listed");
        assert_eq!(d["status"], "dead", "{d} (killed pid {dead_pid})");
        // Whose name it was: the pid the server wrote into its lock file.
        assert_eq!(d["owner_pid"], dead_pid, "{d}");
        let s = find(&listing, &shm_live_url).expect("live shm name listed");
        assert_eq!(s["status"], "alive", "{s}");
        assert_eq!(s["owner_pid"], shm_live.id(), "{s}");
        let s = find(&listing, &shm_dead_url).expect("dead shm name listed");
        assert_eq!(s["status"], "dead", "{s}");
        assert_eq!(s["owner_pid"], shm_dead_pid, "{s}");
        let table = ok(&["ls"], &env).await;
        assert!(table.starts_with("KIND"), "{table}");
        assert!(
            table.contains(&live_name) && table.contains(&dead_name),
            "{table}"
        );

        let cleaned = ok(&["clean"], &env).await;
        assert!(
            cleaned.contains(&format!("removed {dead_url}")),
            "{cleaned}"
        );
        assert!(
            cleaned.contains(&format!("removed {shm_dead_url}")),
            "{cleaned}"
        );
        assert!(!cleaned.contains(&live_url), "{cleaned}");
        assert!(!cleaned.contains(&shm_live_url), "{cleaned}");
        let listing = ls(&env).await;
        assert!(find(&listing, &dead_url).is_none(), "{listing:?}");
        assert!(find(&listing, &shm_dead_url).is_none(), "{listing:?}");
        assert!(find(&listing, &live_url).is_some(), "{listing:?}");
        assert!(find(&listing, &shm_live_url).is_some(), "{listing:?}");
        // Regions are machine-wide (/dev/shm): another test's killed region creator may be
        // cleaned here too.
        let again = ok(&["clean"], &env).await;
        assert!(
            again
                .lines()
                .all(|l| l == "nothing to clean" || l.starts_with("removed region shm://")),
            "{again}"
        );
        // The live servers still work, and a cleaned name can be bound again.
        ok(&["send", &live_url, "still here"], &env).await;
        ok(&["send", &shm_live_url, "still here"], &env).await;
        let mut again = Proc::start(&["listen", &dead_url], &env, false);
        again.stderr_after("listening on ").await;

        let refused = run(&["rm", &live_url], &env, b"").await;
        assert_eq!(refused.status.code(), Some(1));
        assert!(
            text(&refused.stderr).contains("--force"),
            "{}",
            text(&refused.stderr)
        );
        let removed = ok(&["rm", &live_url, "--force"], &env).await;
        assert!(
            removed.starts_with(&format!("removed {live_url}")),
            "{removed}"
        );
        assert!(find(&ls(&env).await, &live_url).is_none());
        let missing = run(&["rm", &live_url], &env, b"").await;
        assert_eq!(missing.status.code(), Some(1));
        let wrong_kind = run(&["rm", "tcp://127.0.0.1:1"], &env, b"").await;
        assert_eq!(wrong_kind.status.code(), Some(2));
    })
    .await;
}

#[tokio::test]
async fn queues_are_listed_kept_by_clean_and_removed_by_rm() {
    watchdog(WATCHDOG, async {
        use anyipc::queue::{MessageQueue, QueueOptions};
        let runtime = TempDir::new("cli-mq");
        let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
        let name = unique_name("cli-mq");
        let url = format!("mq://{name}");
        let queue = MessageQueue::create(
            &name,
            &QueueOptions {
                capacity: 4,
                ..Default::default()
            },
        )
        .expect("create queue");
        queue.send(b"waiting", 0).await.expect("send");

        let listing = ls(&env).await;
        let q = find(&listing, &url).expect("queue listed");
        assert_eq!(q["status"], "alive", "{q}");
        assert_eq!(q["owner_pid"], std::process::id());
        let detail = q["detail"].as_str().unwrap();
        assert!(detail.starts_with("1 messages queued"), "{detail}");
        assert!(detail.contains(&std::process::id().to_string()), "{detail}");
        let refused = run(&["rm", &url], &env, b"").await;
        assert_eq!(refused.status.code(), Some(1), "open here: a live user");

        drop(queue);
        let listing = ls(&env).await;
        assert_eq!(
            find(&listing, &url).expect("still listed")["status"],
            "idle"
        );
        let cleaned = ok(&["clean"], &env).await;
        assert!(!cleaned.contains(&url), "clean keeps queues: {cleaned}");
        assert!(MessageQueue::open(&name).is_ok());

        let removed = ok(&["rm", &url], &env).await;
        assert!(removed.starts_with(&format!("removed {url}")), "{removed}");
        let gone = MessageQueue::open(&name).expect_err("removed");
        assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
    })
    .await;
}

/// A queue's creator that has gone is not its live owner: `ls` gives a pid of a process that
/// has the queue open, and `rm` names that one when it refuses. Both named the creator
/// (`anyipc mq create`, long gone) as the live owner, a pid to kill that may be another
/// program's by now.
#[tokio::test]
async fn a_live_queue_is_owned_by_a_process_that_has_it_open_not_its_gone_creator() {
    watchdog(WATCHDOG, async {
        let runtime = TempDir::new("cli-mq-owner");
        let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
        let name = crate::queue::Name::new();
        let url = format!("mq://{}", name.0);
        ok(&["mq", "create", &name.0], &env).await;
        let mut listen = Proc::start(&["listen", &url], &env, false);
        listen.stderr_after("listening on ").await;
        let reader = listen.id();
        let listing = ls(&env).await;
        let q = find(&listing, &url).expect("queue listed");
        assert_eq!(q["status"], "alive", "{q}");
        assert_eq!(q["owner_pid"], reader, "{q}");
        let refused = run(&["rm", &url], &env, b"").await;
        assert_eq!(refused.status.code(), Some(1));
        let said = text(&refused.stderr);
        assert!(
            said.contains(&format!("owner pid {reader}, alive")),
            "{said}"
        );
        listen.kill().await;
    })
    .await;
}

/// `ls` lists only this user's queues, but `rm mq://NAME` finds another user's by name: root
/// removes it (before, it said there was no such queue); anyone else gets the OS's refusal.
#[tokio::test]
async fn rm_finds_another_users_queue_by_name() {
    watchdog(WATCHDOG, async {
        let runtime = TempDir::new("cli-mq-other");
        let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
        let name = unique_name("cli-mq-other");
        let url = format!("mq://{name}");
        ok(&["mq", "create", &name], &[]).await;
        let segment = format!("/dev/shm/anyipc-mq-{name}");
        if let Err(e) = std::os::unix::fs::chown(&segment, Some(65534), Some(65534)) {
            // Only root can give a file away; as another user there is no such queue to make.
            assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
            ok(&["mq", "rm", &name], &[]).await;
            eprintln!("skipped: cannot chown as this user ({e})");
            return;
        }
        let listing = ls(&env).await;
        assert!(
            find(&listing, &url).is_none(),
            "not this user's: not listed"
        );
        let removed = ok(&["rm", &url], &env).await;
        assert!(removed.starts_with(&format!("removed {url}")), "{removed}");
        assert!(
            !std::path::Path::new(&segment).exists(),
            "{segment} removed"
        );
    })
    .await;
}

/// `mq create --max-message-len` takes a size as endpoint options write it (`4KiB`);
/// `--capacity` counts messages, so a unit there is a usage error that says so.
#[tokio::test]
async fn mq_create_takes_a_size_for_the_message_len_and_a_count_for_the_capacity() {
    watchdog(WATCHDOG, async {
        let name = unique_name("cli-mq-size");
        let created = ok(
            &[
                "mq",
                "create",
                &name,
                "--capacity",
                "16",
                "--max-message-len",
                "4KiB",
            ],
            &[],
        )
        .await;
        assert!(created.contains("max_message_len 4096"), "{created}");
        let stat = ok(&["mq", "stat", &name], &[]).await;
        ok(&["mq", "rm", &name], &[]).await;
        assert!(stat.contains("capacity:        16\n"), "{stat}");
        assert!(stat.contains("max_message_len: 4096\n"), "{stat}");

        let bytes = run(&["mq", "create", &name, "--capacity", "64KiB"], &[], b"").await;
        let stderr = text(&bytes.stderr);
        assert_eq!(bytes.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--capacity counts messages"), "{stderr}");
        for bad in ["0", "65MiB", "4XB"] {
            let out = run(&["mq", "create", &name, "--max-message-len", bad], &[], b"").await;
            assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out.stderr));
        }
        let gone = anyipc::queue::MessageQueue::open(&name).expect_err("never created");
        assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
    })
    .await;
}

/// Writes `u32::MAX` over queue `name`'s length word, as a hostile or broken process could:
/// index word 2, after the header's 256 bytes (the segment layout in the `anyipc::queue` docs).
fn set_length_word_past_capacity(name: &crate::queue::Name) {
    let segment = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    std::os::unix::fs::FileExt::write_all_at(&segment, &u32::MAX.to_le_bytes(), 256 + 8).unwrap();
}

/// `mq stat` checks the queue: a length word a hostile or broken process set past the
/// capacity is reported as corruption (exit 1), as every operation on the queue reports it.
/// It printed the length clamped to the capacity and exited 0.
#[tokio::test]
async fn mq_stat_reports_a_corrupt_queue() {
    watchdog(WATCHDOG, async {
        let name = crate::queue::Name::new();
        ok(&["mq", "create", &name.0, "--capacity", "8"], &[]).await;
        let sent = run(&["send", &format!("mq://{}", name.0)], &[], b"a\nb\nc\n").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let stat = ok(&["mq", "stat", &name.0], &[]).await;
        assert!(stat.contains("len:             3\n"), "{stat}");
        set_length_word_past_capacity(&name);
        let out = run(&["mq", "stat", &name.0], &[], b"").await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("corrupt"), "{stderr}");
        assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    })
    .await;
}

/// `ls` names no owner for a file under a queue's name that is not a queue (its "owner pid"
/// was whatever bytes stood where a queue's creator pid would), and says that a queue's
/// length word is past its capacity rather than counting that many messages.
#[tokio::test]
async fn ls_trusts_no_pid_from_a_file_that_is_not_a_queue() {
    watchdog(WATCHDOG, async {
        let junk = crate::queue::Name::new();
        std::fs::write(junk.path(), [0x41u8; 300]).unwrap();
        let corrupt = crate::queue::Name::new();
        ok(&["mq", "create", &corrupt.0, "--capacity", "8"], &[]).await;
        set_length_word_past_capacity(&corrupt);
        let listing = ls(&[]).await;
        let entry = find(&listing, &format!("mq://{}", junk.0)).expect("junk listed");
        assert!(entry["owner_pid"].is_null(), "{entry}");
        assert!(
            entry["detail"].as_str().unwrap().contains("not a queue"),
            "{entry}"
        );
        let entry = find(&listing, &format!("mq://{}", corrupt.0)).expect("queue listed");
        let detail = entry["detail"].as_str().unwrap();
        assert!(
            detail.contains("corrupt: length 4294967295 over the capacity 8"),
            "{entry}"
        );
    })
    .await;
}

/// The `ls --json` object of `url` of this `kind` (`shm` and `shm-region` share URLs).
fn find_kind<'a>(listing: &'a [Value], url: &str, kind: &str) -> Option<&'a Value> {
    listing
        .iter()
        .find(|r| r["url"] == url && r["kind"] == kind)
}

/// `rm shm://NAME --kind shm-region` removes a kept region beside a live server's name of
/// the same name, which plain `rm` refuses as a whole; `--kind` is refused for other URLs.
#[tokio::test]
async fn rm_kind_takes_only_the_region_beside_a_live_shm_name() {
    watchdog(WATCHDOG, async {
        use crate::shm::RegionFiles;
        use anyipc::shm::Region;
        let runtime = TempDir::new("cli-rm-kind");
        let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
        let name = unique_name("cli-rm-kind");
        let url = format!("shm://{name}");
        let _region_file = RegionFiles(vec![name.clone()]);
        let mut kept = Region::create(&name, 64).expect("create");
        kept.keep();
        drop(kept);
        let mut server = Proc::start(&["listen", &url], &env, false);
        server.stderr_after("listening on ").await;

        let refused = run(&["rm", &url], &env, b"").await;
        assert_eq!(refused.status.code(), Some(1));
        Region::open(&name).expect("plain rm removed nothing");
        let removed = ok(&["rm", &url, "--kind", "shm-region"], &env).await;
        assert!(
            removed.starts_with(&format!("removed region {url} (")),
            "{removed}"
        );
        let gone = Region::open(&name).expect_err("the region was removed");
        assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
        let listing = ls(&env).await;
        let n = find_kind(&listing, &url, "shm").expect("the live name is still listed");
        assert_eq!(n["status"], "alive", "{n}");

        let misused = run(&["rm", "mq://jobs", "--kind", "shm"], &env, b"").await;
        assert_eq!(misused.status.code(), Some(2));
        server.kill().await;
    })
    .await;
}

/// Named regions (`anyipc::shm::Region`) made by other processes: a killed creator's is dead
/// and cleaned, a live one's is kept and refused by `rm`, a kept one (`Region::keep`) is idle:
/// kept by `clean`, removed by `rm`, apart from a `shm://` name of the same name.
#[tokio::test]
async fn regions_are_listed_cleaned_when_dead_and_kept_when_alive_or_kept() {
    watchdog(WATCHDOG, async {
        use crate::shm::{region_file, spawn_helper, RegionFiles};
        use anyipc::shm::Region;
        let runtime = TempDir::new("cli-regions");
        let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
        let live_name = unique_name("cli-region-live");
        let live_url = format!("shm://{live_name}");
        let live = spawn_helper("region_owner", &live_name).await;

        // A killed creator's region stays dead until a `Region::create` anywhere on the
        // machine (another test's) sweeps it: then a killed creator is tried again.
        let mut attempts = 0;
        let cleaned = loop {
            attempts += 1;
            let name = unique_name("cli-region-dead");
            let url = format!("shm://{name}");
            let mut dead = spawn_helper("region_owner", &name).await;
            let dead_pid = dead.id().expect("running");
            dead.kill().await.expect("kill the creator");
            let listing = ls(&env).await;
            let listed = find_kind(&listing, &url, "shm-region").cloned();
            let cleaned = ok(&["clean"], &env).await;
            if cleaned.contains(&format!(
                "removed region {url} (last owner pid {dead_pid}, dead)"
            )) {
                let d = listed.expect("cleaned, yet not listed");
                assert_eq!(d["status"], "dead", "{d}");
                assert_eq!(d["owner_pid"], dead_pid, "{d}");
                assert_eq!(d["size"], 4096, "{d}");
                assert!(!region_file(&name).exists(), "{cleaned}");
                break cleaned;
            }
            assert!(
                !region_file(&name).exists(),
                "a dead creator's region was neither cleaned nor swept: {listed:?}; {cleaned}"
            );
            assert!(attempts < 5, "swept by other creates every time");
        };

        // The live creator's region: listed alive with its pid, kept by clean, refused by rm.
        assert!(!cleaned.contains(&live_url), "{cleaned}");
        let listing = ls(&env).await;
        let l = find_kind(&listing, &live_url, "shm-region").expect("live region listed");
        assert_eq!(l["status"], "alive", "{l}");
        assert_eq!(l["owner_pid"], live.id().expect("running"), "{l}");
        assert!(
            find_kind(&listing, &live_url, "shm").is_none(),
            "{listing:?}"
        );
        let table = ok(&["ls"], &env).await;
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("shm-region") && l.contains(&live_name)),
            "{table}"
        );
        let refused = run(&["rm", &live_url], &env, b"").await;
        assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
        let why = text(&refused.stderr);
        assert!(
            why.contains("live process") && why.contains("--force"),
            "{why}"
        );
        assert!(region_file(&live_name).exists());
        Region::open(&live_name).expect("the live region is still there");

        // A region kept on purpose after its creator went is data: idle, and clean keeps it,
        // while it removes a dead shm:// name of the same name beside it.
        let kept_name = unique_name("cli-region-kept");
        let kept_url = format!("shm://{kept_name}");
        let _kept_file = RegionFiles(vec![kept_name.clone()]);
        let mut kept = Region::create(&kept_name, 100).expect("create");
        kept.write(0, b"kept").unwrap();
        kept.keep();
        drop(kept);
        let mut server = Proc::start(&["listen", &kept_url], &env, false);
        server.stderr_after("listening on ").await;
        server.kill().await;
        let listing = ls(&env).await;
        let k = find_kind(&listing, &kept_url, "shm-region").expect("kept region listed");
        assert_eq!(k["status"], "idle", "{k}");
        assert_eq!(k["owner_pid"], std::process::id(), "{k}");
        assert_eq!(k["size"], 100, "{k}");
        let n = find_kind(&listing, &kept_url, "shm").expect("the shm:// name listed");
        assert_eq!(n["status"], "dead", "{n}");
        let cleaned = ok(&["clean"], &env).await;
        assert!(
            cleaned.contains(&format!("removed {kept_url} (")),
            "{cleaned}"
        );
        assert!(
            !cleaned.contains(&format!("region {kept_url}")),
            "{cleaned}"
        );
        let mut buf = [0; 4];
        Region::open(&kept_name).unwrap().read(0, &mut buf).unwrap();
        assert_eq!(&buf, b"kept");
        let removed = ok(&["rm", &kept_url], &env).await;
        assert!(
            removed.starts_with(&format!("removed region {kept_url} (")),
            "{removed}"
        );
        let gone = Region::open(&kept_name).expect_err("removed");
        assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);

        // Forced, a live creator's region goes; the creator keeps running.
        let removed = ok(&["rm", &live_url, "--force"], &env).await;
        assert!(
            removed.starts_with(&format!("removed region {live_url} (")),
            "{removed}"
        );
        assert!(!region_file(&live_name).exists());
        let missing = run(&["rm", &live_url], &env, b"").await;
        assert_eq!(missing.status.code(), Some(1));
        drop(live);
    })
    .await;
}

#[tokio::test]
async fn listen_and_send_print_hex_and_json() {
    watchdog(WATCHDOG, async {
        let binary: &[u8] = b"\xff\x00bin\x7f";
        let mut input = binary.to_vec();
        input.extend_from_slice(b"\nplain \"text\" \xe2\x9c\x93\n");

        let mut json = Proc::start(
            &["listen", "tcp://127.0.0.1:0", "--json", "--count", "2"],
            &[],
            true,
        );
        let url = json.stderr_after("listening on ").await;
        let sent = run(&["send", &url], &[], &input).await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let lines = json_lines(&json.stdout_lines(2).await.join("\n"));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(lines[0]["base64"].as_str().expect("binary is base64"))
            .unwrap();
        assert_eq!(decoded, binary);
        assert_eq!(lines[0]["len"], binary.len());
        assert_eq!(lines[1]["text"], "plain \"text\" ✓");
        for line in &lines {
            assert!(
                line["peer"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("127.0.0.1:")),
                "{line}"
            );
        }
        // The help says what the objects hold, `peer` too.
        let help = ok(&["listen", "--help"], &[]).await;
        let json_help = help
            .split("--json")
            .nth(1)
            .expect("listen --help has --json");
        for field in ["\"len\"", "\"text\"", "\"base64\"", "\"peer\""] {
            assert!(json_help.contains(field), "{field} not in: {json_help}");
        }

        let mut hex = Proc::start(
            &[
                "listen",
                "tcp://127.0.0.1:0",
                "--hex",
                "--count",
                "1",
                "--echo",
            ],
            &[],
            true,
        );
        let url = hex.stderr_after("listening on ").await;
        let sent = run(&["send", &url, "--expect-reply", "--hex"], &[], &input[..7]).await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        assert_eq!(text(&sent.stdout), "ff0062696e7f\n", "the reply, in hex");
        assert_eq!(hex.stdout_lines(1).await, ["ff0062696e7f"]);

        let both = run(&["send", &url, "--hex", "--json", "x"], &[], b"").await;
        assert_eq!(
            both.status.code(),
            Some(2),
            "--hex and --json exclude each other"
        );
    })
    .await;
}

/// Writes `first`, then `x`s without end and without a newline, to `stdin`, until a write
/// fails (no one reads the pipe any more) or `most` bytes went in. Returns how many went in,
/// the failure, and the pipe (kept open: its end would end the line).
async fn write_endless_line(
    mut stdin: ChildStdin,
    first: &[u8],
    most: u64,
) -> (u64, Option<std::io::Error>, ChildStdin) {
    let chunk = vec![b'x'; 64 * 1024];
    let mut written = 0;
    if let Err(err) = stdin.write_all(first).await {
        return (written, Some(err), stdin);
    }
    written += first.len() as u64;
    while written < most {
        match stdin.write(&chunk).await {
            Ok(n) => written += n as u64,
            Err(err) => return (written, Some(err), stdin),
        }
    }
    (written, None, stdin)
}

/// `anyipc send` reading stdin stops a line at the largest message (`max_frame`): a line
/// without end (`cat /dev/zero | anyipc send URL`) fails there, naming the message, instead
/// of being read into memory for ever; the lines before it were sent. The input never ends:
/// `send` exits while the test is still writing, having taken little of it (the pipe
/// accepts about 70 KiB, its own 64 KiB included), far from the 8 MiB at which the test
/// stops writing and fails.
#[tokio::test]
async fn send_refuses_a_stdin_line_over_max_frame_as_it_reads_it() {
    /// What the test writes at most: an unbounded read would take it all at once.
    const MOST: u64 = 8 << 20;
    let dir = TempDir::new("cli-send-long-line");
    let path = dir.path().join("out.txt");
    let url = format!("file://{}?framing=lines&max_frame=1KiB", path.display());
    let mut send = Spawned::start(anyipc_bin(), &["send", &url]);
    let writer = tokio::spawn(write_endless_line(send.take_stdin(), b"first\n", MOST));
    // The writer stops when send exits (or when send took `MOST`); send is killed when
    // dropped, if a check fails first.
    let (written, write_err, _stdin) = tokio::time::timeout(Duration::from_secs(30), writer)
        .await
        .expect("send neither exited nor took 8 MiB of an endless line within 30 s")
        .unwrap();
    assert!(
        written < MOST,
        "send read {written} bytes of a line without end, and reads on"
    );
    let (error, status) = tokio::time::timeout(Duration::from_secs(30), async move {
        let error = send.stderr_after("anyipc: ").await;
        let (status, _) = send.finish().await;
        (error, status)
    })
    .await
    .expect("send closed its stdin but did not exit within 30 s");
    assert_eq!(
        write_err.map(|err| err.kind()),
        Some(std::io::ErrorKind::BrokenPipe),
        "send exited after {written} bytes"
    );
    assert_eq!(status.code(), Some(1), "{error}");
    assert_eq!(
        error,
        "sending message 2: the line read from stdin is over the 1024-byte limit (max_frame)"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"first\n");
}

#[tokio::test]
async fn completions_and_help_examples() {
    watchdog(WATCHDOG, async {
        for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
            let script = ok(&["completions", shell], &[]).await;
            assert!(script.len() > 500, "{shell}: {script}");
            assert!(
                script.contains("anyipc") && script.contains("bridge"),
                "{shell}"
            );
        }
        let out = run(&["completions", "tcsh"], &[], b"").await;
        assert_eq!(out.status.code(), Some(2));

        for sub in [
            "listen",
            "send",
            "bench",
            "bridge",
            "ls",
            "clean",
            "rm",
            "completions",
            "tour",
        ] {
            let help = ok(&[sub, "--help"], &[]).await;
            assert!(
                help.contains("Examples:"),
                "{sub} --help has no examples:\n{help}"
            );
            assert!(
                help.contains("Exit codes:"),
                "{sub} --help has no exit codes:\n{help}"
            );
        }
        let help = ok(&["--help"], &[]).await;
        assert!(help.contains("Examples:"), "{help}");
        assert!(
            help.contains("Exit codes: 0 success, 1 runtime failure, 2"),
            "{help}"
        );
    })
    .await;
}

/// Help and version that cannot be written to stdout (a full disk, a closed pipe) are a
/// runtime failure, exit 1, as for every other command that prints: they exited 0 with
/// nothing printed.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn help_and_version_to_a_failing_stdout_exit_1() {
    watchdog(WATCHDOG, async {
        for args in [
            &["--help"][..],
            &["--version"],
            &["send", "--help"],
            &["help"],
        ] {
            let full = std::fs::File::create("/dev/full").expect("open /dev/full");
            let status = Command::new(anyipc_bin())
                .args(args)
                .stdout(Stdio::from(full))
                .stderr(Stdio::null())
                .status()
                .await
                .expect("run anyipc");
            assert_eq!(status.code(), Some(1), "{args:?}");
        }
    })
    .await;
}

/// Waits until `ls` lists `url` with `status`; returns its JSON object.
async fn listed_with(env: &[(&str, &str)], url: &str, status: &str) -> Value {
    loop {
        if let Some(found) = find(&ls(env).await, url) {
            if found["status"] == status {
                return found.clone();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `anyipc send URL` under `env` that stays: it has sent `lines` and reads more from the
/// stdin returned (kept open).
async fn live_log_writer(
    url: &str,
    env: &[(&str, &str)],
    lines: &[u8],
) -> (tokio::process::Child, tokio::process::ChildStdin) {
    let mut writer = Command::new(anyipc_bin())
        .args(["send", url])
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the writer");
    let mut input = writer.stdin.take().expect("piped stdin");
    input.write_all(lines).await.unwrap();
    (writer, input)
}

#[tokio::test]
async fn logs_are_listed_kept_by_clean_and_removed_by_rm() {
    watchdog(WATCHDOG, async {
        let runtime = TempDir::new("cli-logs");
        let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
        let data = TempDir::new("cli-logs-data");
        let data_dir = std::fs::canonicalize(data.path()).unwrap();
        let dir = data_dir.join("orders");
        let url = format!("file://{}", dir.display());

        // A writer that stays: `anyipc send` reading lines from a stdin kept open.
        let (mut writer, input) = live_log_writer(&url, &env, b"first\nsecond\n").await;
        let live = listed_with(&env, &url, "alive").await;
        assert_eq!(live["kind"], "file");
        assert_eq!(live["owner_pid"], writer.id().unwrap());
        assert!(live["size"].as_u64().unwrap() > 0, "{live}");
        assert!(
            live["detail"].as_str().unwrap().contains("1 segment"),
            "{live}"
        );

        // A live writer's log is not removed without --force.
        let refused = run(&["rm", &url], &env, b"").await;
        assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
        assert!(text(&refused.stderr).contains("live process"));
        assert!(dir.join("writer.lock").exists());

        // The writer ends; the log outlives it (idle), and clean keeps it and its records.
        drop(input);
        assert!(writer.wait().await.unwrap().success());
        listed_with(&env, &url, "idle").await;
        ok(&["clean"], &env).await;
        listed_with(&env, &url, "idle").await;
        let read = ok(
            &["listen", &format!("{url}?follow=false"), "--count", "2"],
            &env,
        )
        .await;
        assert_eq!(read, "first\nsecond\n");

        // rm removes the log's files and its directory (nothing else was in it).
        let removed = ok(&["rm", &url], &env).await;
        assert!(removed.starts_with(&format!("removed {url}")), "{removed}");
        assert!(!dir.exists());
        assert!(find(&ls(&env).await, &url).is_none());

        // A log whose directory went away leaves a dead index entry, which clean removes.
        let gone = data_dir.join("gone");
        let gone_url = format!("file://{}", gone.display());
        ok(&["send", &gone_url, "x"], &env).await;
        std::fs::remove_dir_all(&gone).unwrap();
        listed_with(&env, &gone_url, "dead").await;
        let cleaned = ok(&["clean"], &env).await;
        assert!(
            cleaned.contains(&format!("removed {gone_url}")),
            "{cleaned}"
        );
        assert!(find(&ls(&env).await, &gone_url).is_none());

        // An index that is not a private directory (here a symlink to a directory of
        // someone's choosing, whose broken symlinks `clean` would delete) is not read.
        let index = runtime.path().join("anyipc/logs");
        let planted = TempDir::new("cli-logs-planted");
        std::os::unix::fs::symlink(planted.path().join("nowhere"), planted.path().join("x"))
            .unwrap();
        std::fs::remove_dir_all(&index).unwrap();
        std::os::unix::fs::symlink(planted.path(), &index).unwrap();
        let listed = run(&["ls"], &env, b"").await;
        assert!(
            text(&listed.stderr).contains("not a private directory"),
            "{}",
            text(&listed.stderr)
        );
        ok(&["clean"], &env).await;
        assert!(
            planted.path().join("x").symlink_metadata().is_ok(),
            "clean followed the index"
        );
    })
    .await;
}

/// An index entry of a log whose path is now a plain file, or leads through one, or whose
/// directory no longer holds a log (its files removed by hand, another file left): dead in
/// `ls`, as a removed directory is, without an error on stderr, and `clean` removes the
/// entry, leaving what is at the path now. `ls` used to print "cannot read log …: Not a
/// directory" on every run, and `clean` kept the entry for ever.
#[tokio::test]
async fn clean_drops_the_entry_of_a_log_whose_path_is_no_log_any_more() {
    watchdog(WATCHDOG, async {
        let runtime = TempDir::new("cli-logs-no-log");
        let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
        let data = TempDir::new("cli-logs-no-log-data");
        let data_dir = std::fs::canonicalize(data.path()).unwrap();
        let url_of = |dir: &std::path::Path| format!("file://{}", dir.display());
        let (file, inner, emptied) = (
            data_dir.join("now-a-file"),
            data_dir.join("parent").join("log"),
            data_dir.join("emptied"),
        );
        for dir in [&file, &inner, &emptied] {
            ok(&["send", &url_of(dir), "x"], &env).await;
            listed_with(&env, &url_of(dir), "idle").await;
        }
        std::fs::remove_dir_all(&file).unwrap();
        std::fs::write(&file, b"a plain file now").unwrap();
        std::fs::remove_dir_all(data_dir.join("parent")).unwrap();
        std::fs::write(data_dir.join("parent"), b"a file on the way").unwrap();
        for entry in std::fs::read_dir(&emptied).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        std::fs::write(emptied.join("notes.txt"), b"not the log's").unwrap();

        let listed = run(&["ls", "--json"], &env, b"").await;
        assert!(listed.status.success(), "{}", text(&listed.stderr));
        assert_eq!(
            text(&listed.stderr),
            "",
            "no warning for a log that is gone"
        );
        let listing = json_lines(&text(&listed.stdout));
        for dir in [&file, &inner, &emptied] {
            let entry = find(&listing, &url_of(dir)).expect("still listed before clean");
            assert_eq!(entry["status"], "dead", "{entry}");
        }
        let cleaned = run(&["clean"], &env, b"").await;
        assert!(cleaned.status.success(), "{}", text(&cleaned.stderr));
        for dir in [&file, &inner, &emptied] {
            assert!(
                text(&cleaned.stdout).contains(&format!("removed {}", url_of(dir))),
                "{}",
                text(&cleaned.stdout)
            );
        }
        let listed = run(&["ls", "--json"], &env, b"").await;
        assert_eq!(text(&listed.stderr), "");
        let listing = json_lines(&text(&listed.stdout));
        for dir in [&file, &inner, &emptied] {
            assert!(find(&listing, &url_of(dir)).is_none(), "{listing:?}");
        }
        // What is at the paths now is not the log's: kept.
        assert_eq!(std::fs::read(&file).unwrap(), b"a plain file now");
        assert_eq!(
            std::fs::read(emptied.join("notes.txt")).unwrap(),
            b"not the log's"
        );
    })
    .await;
}

/// `rm file:///DIR` removes a log that this runtime directory's index does not list: one
/// written under another `XDG_RUNTIME_DIR` (a service's, or before a reboot emptied
/// `/run/user`). It was refused as not being on this machine. A live writer's is still
/// refused without --force, and a directory holding no log is left alone.
#[tokio::test]
async fn rm_removes_a_log_the_index_does_not_list() {
    watchdog(WATCHDOG, async {
        let writers = TempDir::new("cli-logs-writers");
        let writers_env = [("XDG_RUNTIME_DIR", writers.path().to_str().unwrap())];
        let mine = TempDir::new("cli-logs-mine");
        let env = [("XDG_RUNTIME_DIR", mine.path().to_str().unwrap())];
        let data = TempDir::new("cli-logs-unindexed");
        let data_dir = std::fs::canonicalize(data.path()).unwrap();
        let dir = data_dir.join("orders");
        let url = format!("file://{}", dir.display());

        // A live writer under the other runtime directory.
        let (mut writer, input) = live_log_writer(&url, &writers_env, b"first\n").await;
        listed_with(&writers_env, &url, "alive").await;
        assert!(find(&ls(&env).await, &url).is_none());
        let refused = run(&["rm", &url], &env, b"").await;
        assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
        assert!(
            text(&refused.stderr).contains("live process"),
            "{}",
            text(&refused.stderr)
        );
        assert!(dir.join("writer.lock").exists());

        drop(input);
        assert!(writer.wait().await.unwrap().success());
        let removed = ok(&["rm", &url], &env).await;
        assert!(removed.starts_with(&format!("removed {url}")), "{removed}");
        assert!(!dir.exists());

        // A directory that holds no log is not one to remove.
        let other = data_dir.join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("notes.txt"), "mine").unwrap();
        let other_url = format!("file://{}", other.display());
        let refused = run(&["rm", &other_url], &env, b"").await;
        assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
        assert!(other.join("notes.txt").exists());
    })
    .await;
}

/// A file named `.lock` in the runtime directory (no name's lock) is skipped, not a panic
/// of every command that lists.
#[tokio::test]
async fn a_bare_dot_lock_file_does_not_break_ls() {
    watchdog(WATCHDOG, async {
        let runtime = TempDir::new("cli-dot-lock");
        let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
        let dir = runtime.path().join("anyipc");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        std::fs::write(dir.join(".lock"), b"").unwrap();
        let listed = run(&["ls"], &env, b"").await;
        assert!(listed.status.success(), "{}", text(&listed.stderr));
        ok(&["clean"], &env).await;
    })
    .await;
}
