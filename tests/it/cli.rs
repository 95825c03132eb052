//! Cross-process tests of `anyipc listen` and `anyipc send`: the real binary over real sockets,
//! exit codes and one-line errors, and `--framing raw` against two C programs compiled here.
//!
//! [`Spawned`] (a child killed when dropped, read line by line) is shared with `examples`, and
//! [`damaged_log`] with `cli_tools`.

#[cfg(unix)]
use crate::util::unique_name;
use crate::util::{anyipc_bin, watchdog, TempDir};
use std::ffi::OsStr;
use std::process::{ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

/// Seconds any one test may take.
const WATCHDOG: u64 = 60;

/// A running child process, killed when dropped so a failing test leaves nothing behind, with
/// its stdout and stderr read line by line.
pub(crate) struct Spawned {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Lines<BufReader<ChildStderr>>,
    /// Every stderr line read so far, to show when something goes wrong.
    stderr_seen: Vec<String>,
}

impl Spawned {
    /// Starts `program args…` with piped stdin, stdout and stderr.
    pub(crate) fn start<S: AsRef<OsStr>>(program: impl AsRef<OsStr>, args: &[S]) -> Spawned {
        Spawned::start_with_env(program, args, &[])
    }

    /// Starts `program args…` as [`start`](Self::start) does, with `env` added.
    pub(crate) fn start_with_env<S: AsRef<OsStr>>(
        program: impl AsRef<OsStr>,
        args: &[S],
        env: &[(&str, &str)],
    ) -> Spawned {
        let program = program.as_ref();
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Log lines would break the one-line-error checks.
            .env_remove("RUST_LOG")
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {program:?}: {err}"));
        Spawned {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().expect("piped stdout")).lines(),
            stderr: BufReader::new(child.stderr.take().expect("piped stderr")).lines(),
            stderr_seen: Vec::new(),
            child,
        }
    }

    /// The child's process id (for kill(1): Unix only).
    #[cfg(unix)]
    pub(crate) fn id(&self) -> u32 {
        self.child.id().expect("the child is still running")
    }

    /// The next line of stdout; `None` at its end.
    pub(crate) async fn stdout_line(&mut self) -> Option<String> {
        self.stdout.next_line().await.expect("read child stdout")
    }

    /// The next `n` lines of stdout, failing if it ends first.
    pub(crate) async fn stdout_lines(&mut self, n: usize) -> Vec<String> {
        let mut lines = Vec::with_capacity(n);
        while lines.len() < n {
            match self.stdout_line().await {
                Some(line) => lines.push(line),
                None => panic!(
                    "stdout ended after {lines:?}, {n} lines expected; stderr: {:?}",
                    self.stderr_seen
                ),
            }
        }
        lines
    }

    /// Reads stdout until a line starts with `prefix`; returns the rest of that line.
    pub(crate) async fn stdout_after(&mut self, prefix: &str) -> String {
        let mut seen = Vec::new();
        while let Some(line) = self.stdout_line().await {
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_owned();
            }
            seen.push(line);
        }
        panic!("stdout ended without `{prefix}…`: {seen:?}")
    }

    /// Reads stderr until a line starts with `prefix`; returns the rest of that line.
    pub(crate) async fn stderr_after(&mut self, prefix: &str) -> String {
        while let Some(line) = self.stderr.next_line().await.expect("read child stderr") {
            self.stderr_seen.push(line);
            if let Some(rest) = self.stderr_seen.last().and_then(|l| l.strip_prefix(prefix)) {
                return rest.to_owned();
            }
        }
        panic!("stderr ended without `{prefix}…`: {:?}", self.stderr_seen)
    }

    /// Reads stderr until a line contains `needle`; returns that line.
    #[cfg(unix)] // Only Unix tests need it (allow_uids).
    pub(crate) async fn stderr_line_with(&mut self, needle: &str) -> String {
        while let Some(line) = self.stderr.next_line().await.expect("read child stderr") {
            self.stderr_seen.push(line);
            if self.stderr_seen.last().is_some_and(|l| l.contains(needle)) {
                return self.stderr_seen.last().cloned().unwrap_or_default();
            }
        }
        panic!("stderr ended without `{needle}`: {:?}", self.stderr_seen)
    }

    /// Writes `bytes` to the child's stdin.
    pub(crate) async fn write_stdin(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(bytes).await.expect("write child stdin");
        stdin.flush().await.expect("flush child stdin");
    }

    /// The child's stdin, for the test to write from a task of its own (then
    /// [`write_stdin`](Self::write_stdin) has none to write to).
    #[cfg(target_os = "linux")] // its callers are in cli_tools, which is Linux-only
    pub(crate) fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin still open")
    }

    /// Closes the child's stdin (end of input).
    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the child to exit; returns its status and the rest of its stdout.
    ///
    /// Reads stdout while waiting, then what is left of it for at most 5 s after the exit:
    /// a child another test forks at that moment holds a copy of every pipe end of this
    /// process until its `exec`, so the end of stdout may come later than the exit.
    pub(crate) async fn finish(mut self) -> (ExitStatus, String) {
        self.stdin = None;
        let mut rest = String::new();
        let status = loop {
            tokio::select! {
                line = self.stdout.next_line() => match line.expect("read child stdout") {
                    Some(line) => {
                        rest.push_str(&line);
                        rest.push('\n');
                    }
                    None => break self.child.wait().await.expect("wait for child"),
                },
                status = self.child.wait() => {
                    let status = status.expect("wait for child");
                    let drain = async {
                        while let Ok(Some(line)) = self.stdout.next_line().await {
                            rest.push_str(&line);
                            rest.push('\n');
                        }
                    };
                    let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
                    break status;
                }
            }
        };
        (status, rest)
    }
}

/// Starts `anyipc listen args…` and waits for its `listening on URL` line; returns the URL.
/// Shared with `udp_multicast`.
pub(crate) async fn listen(args: &[&str]) -> (Spawned, String) {
    let mut listener = Spawned::start(anyipc_bin(), &[&["listen"], args].concat());
    let url = listener.stderr_after("listening on ").await;
    (listener, url)
}

/// Runs `anyipc args…` to its end with `stdin` as input. Shared with `udp_multicast`.
pub(crate) async fn anyipc(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(anyipc_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Log lines would break the one-line-error checks.
        .env_remove("RUST_LOG")
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

/// The port of a `tcp://host:port?…` URL.
fn port_of(url: &str) -> u16 {
    let rest = url.split_once("://").expect("a URL").1;
    let host_port = rest.split('?').next().unwrap_or(rest);
    let (_, port) = host_port.rsplit_once(':').expect("host:port");
    port.parse().expect("a port number")
}

/// `listen --echo --count 3` and `send --expect-reply` with three messages: both print the
/// three messages, both exit 0.
async fn echo_round_trip(url: &str, framing: Option<&str>) {
    let mut listen_args = vec![url, "--echo", "--count", "3"];
    if let Some(framing) = framing {
        listen_args.extend(["--framing", framing]);
    }
    let (mut listener, bound) = listen(&listen_args).await;
    if let Some(framing) = framing {
        assert!(bound.ends_with(&format!("framing={framing}")), "{bound}");
    }
    let messages = ["one", "two words", "three: ✓"];
    let sent = anyipc(
        &[&["send", &bound, "--expect-reply"], &messages[..]].concat(),
        b"",
    )
    .await;
    assert!(sent.status.success(), "send failed: {}", text(&sent.stderr));
    assert_eq!(text(&sent.stdout), "one\ntwo words\nthree: ✓\n");
    assert_eq!(listener.stdout_lines(3).await, messages);
    let (status, rest) = listener.finish().await;
    assert!(status.success(), "listen exited with {status}");
    assert_eq!(rest, "");
}

/// Without `--count`, `listen --echo` echoes the messages one read brought in one write:
/// 20,000 messages sent at once come back whole and in order, and a lone message after them
/// is echoed at once (nothing waits for a next message to come).
#[tokio::test]
async fn echoes_of_messages_read_together_arrive_whole_in_order_and_a_lone_one_at_once() {
    use futures::{SinkExt, StreamExt};
    const N: usize = 20_000;
    watchdog(WATCHDOG, async {
        let (mut listener, bound) = listen(&["tcp://127.0.0.1:0", "--echo"]).await;
        let client = anyipc::connect(bound.as_str()).await.expect("connect");
        let (mut sink, mut echoes) = client.split();
        let echoed = async {
            // Sent while the echoes are read, so neither side waits on a full buffer.
            let sending = async {
                let mut all =
                    futures::stream::iter((0..N).map(|i| Ok(bytes::Bytes::from(format!("m{i}")))));
                sink.send_all(&mut all).await.expect("send");
            };
            let reading = async {
                for i in 0..N {
                    let echo = echoes.next().await.expect("an echo").expect("no error");
                    assert_eq!(echo, format!("m{i}"), "echo {i}");
                }
            };
            tokio::join!(sending, reading);
            tokio::time::sleep(Duration::from_millis(100)).await;
            sink.send(bytes::Bytes::from_static(b"lone"))
                .await
                .expect("send");
            let lone = tokio::time::timeout(Duration::from_secs(10), echoes.next())
                .await
                .expect("the lone echo came at once");
            assert_eq!(lone.expect("an echo").expect("no error"), "lone");
        };
        // Read what `listen` prints meanwhile, or its printing would stop the echoes.
        let (_, printed) = tokio::join!(echoed, listener.stdout_lines(N + 1));
        assert_eq!(printed[N - 1], format!("m{}", N - 1));
        assert_eq!(printed[N], "lone");
    })
    .await;
}

#[tokio::test]
async fn tcp_echo_round_trip_length() {
    watchdog(WATCHDOG, echo_round_trip("tcp://127.0.0.1:0", None)).await;
}

#[tokio::test]
async fn tcp_echo_round_trip_lines() {
    watchdog(
        WATCHDOG,
        echo_round_trip("tcp://127.0.0.1:0", Some("lines")),
    )
    .await;
}

#[tokio::test]
async fn tcp_echo_round_trip_raw() {
    watchdog(WATCHDOG, echo_round_trip("tcp://127.0.0.1:0", Some("raw"))).await;
}

/// With `framing=raw` an empty line of stdin is nothing to send: `send --expect-reply`
/// skips it. It used to wait out its whole timeout for a reply to bytes never written.
#[tokio::test]
async fn raw_framing_skips_an_empty_line_instead_of_waiting_for_its_reply() {
    watchdog(WATCHDOG, async {
        let (_listener, bound) = listen(&["tcp://127.0.0.1:0?framing=raw", "--echo"]).await;
        let started = Instant::now();
        let sent = anyipc(
            &["send", &bound, "--expect-reply", "--timeout", "20s"],
            b"a\n\nccc\n",
        )
        .await;
        assert!(sent.status.success(), "send failed: {}", text(&sent.stderr));
        assert_eq!(text(&sent.stdout), "a\nccc\n");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "waited for a reply"
        );
    })
    .await;
}

#[tokio::test]
async fn tcp_framing_in_the_url() {
    watchdog(
        WATCHDOG,
        echo_round_trip("tcp://127.0.0.1:0?framing=lines", None),
    )
    .await;
}

#[tokio::test]
async fn udp_echo_round_trip() {
    watchdog(WATCHDOG, echo_round_trip("udp://127.0.0.1:0", None)).await;
}

#[cfg(unix)]
#[tokio::test]
async fn unix_echo_round_trip_each_framing() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-unix");
        for framing in ["length", "lines", "raw"] {
            let url = format!("unix://{}", dir.join(&format!("{framing}.sock")));
            echo_round_trip(&url, Some(framing)).await;
        }
    })
    .await;
}

#[cfg(target_os = "linux")] // abstract socket names are Linux's
#[tokio::test]
async fn unix_abstract_echo_round_trip() {
    let url = format!("unix://@{}", unique_name("anyipc-cli"));
    watchdog(WATCHDOG, echo_round_trip(&url, None)).await;
}

#[tokio::test]
async fn send_without_reply_and_count_exits_zero() {
    watchdog(WATCHDOG, async {
        let (mut listener, url) = listen(&["tcp://127.0.0.1:0", "--count", "2"]).await;
        let sent = anyipc(&["send", &url, "first", "second"], b"").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        assert_eq!(
            text(&sent.stdout),
            "",
            "nothing printed without --expect-reply"
        );
        assert_eq!(listener.stdout_lines(2).await, ["first", "second"]);
        let (status, _) = listener.finish().await;
        assert!(status.success(), "listen exited with {status}");
    })
    .await;
}

#[tokio::test]
async fn stdin_lines_are_messages() {
    watchdog(WATCHDOG, async {
        let (mut listener, url) = listen(&["tcp://127.0.0.1:0", "--echo", "--count", "4"]).await;
        let input = b"first\nsecond line\r\n\nlast without newline";
        let sent = anyipc(&["send", &url, "--expect-reply"], input).await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        assert_eq!(
            text(&sent.stdout),
            "first\nsecond line\n\nlast without newline\n"
        );
        assert_eq!(
            listener.stdout_lines(4).await,
            ["first", "second line", "", "last without newline"]
        );
        assert!(listener.finish().await.0.success());
    })
    .await;
}

#[tokio::test]
async fn binary_and_control_bytes_are_escaped() {
    watchdog(WATCHDOG, async {
        let (mut listener, url) = listen(&["tcp://127.0.0.1:0", "--echo", "--count", "2"]).await;
        let sent = anyipc(
            &["send", &url, "--expect-reply"],
            b"caf\xe9\x00\tend\nback\\slash \x1b[0m\n",
        )
        .await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let expected = ["caf\\xe9\\x00\\tend", "back\\\\slash \\x1b[0m"];
        assert_eq!(
            text(&sent.stdout),
            format!("{}\n{}\n", expected[0], expected[1])
        );
        assert_eq!(listener.stdout_lines(2).await, expected);
    })
    .await;
}

/// A MESSAGE argument that is not UTF-8 (Latin-1 text, say) is sent as its bytes, as a line
/// of stdin is; it was refused as bad usage (exit 2).
#[cfg(unix)]
#[tokio::test]
async fn a_message_argument_that_is_not_utf8_is_sent_as_its_bytes() {
    use std::os::unix::ffi::OsStrExt as _;
    watchdog(WATCHDOG, async {
        let (mut listener, url) = listen(&["udp://127.0.0.1:0", "--echo", "--count", "1"]).await;
        let out = Command::new(anyipc_bin())
            .args(["send", &url, "--expect-reply", "--hex"])
            .arg(OsStr::from_bytes(b"caf\xe9"))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .expect("run anyipc");
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "636166e9\n");
        assert_eq!(listener.stdout_lines(1).await, ["caf\\xe9"]);
    })
    .await;
}

#[tokio::test]
async fn a_bad_client_does_not_stop_listen() {
    watchdog(WATCHDOG, async {
        let (mut listener, url) = listen(&["tcp://127.0.0.1:0", "--count", "1"]).await;
        // A length prefix of 4 GiB - 1: over max_frame, so that connection fails at once.
        let mut bad = std::net::TcpStream::connect(("127.0.0.1", port_of(&url))).unwrap();
        std::io::Write::write_all(&mut bad, b"\xff\xff\xff\xffjunk").unwrap();
        let error = listener.stderr_after("anyipc: connection from ").await;
        assert!(error.contains("max"), "{error}");
        drop(bad);
        let sent = anyipc(&["send", &url, "after"], b"").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        assert_eq!(listener.stdout_lines(1).await, ["after"]);
        assert!(listener.finish().await.0.success());
    })
    .await;
}

/// With `listen` on `url` (with the option `max_frame=8`; one message to print), sends a
/// message over that limit and a short one to the endpoint it bound: the first is reported
/// as skipped, the second printed, and `listen` ends well.
async fn a_bad_message_is_skipped_and_the_next_printed(url: &str) {
    let (mut listener, bound) = listen(&[url, "--count", "1"]).await;
    let bound = bound.replace("max_frame=8", "max_frame=1KiB");
    let sent = anyipc(&["send", &bound, "far too long", "short"], b"").await;
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    let skipped = listener.stderr_after("anyipc: connection from ").await;
    assert!(
        skipped.contains("skipped") && skipped.contains("max_frame"),
        "{skipped}"
    );
    assert_eq!(listener.stdout_lines(1).await, ["short"]);
    assert!(listener.finish().await.0.success());
}

/// On udp a datagram over `max_frame` is skipped with a message: the sender's datagrams
/// after it are still printed (the connection is not dropped with them).
#[tokio::test]
async fn listen_skips_a_bad_datagram_and_prints_the_rest() {
    watchdog(
        WATCHDOG,
        a_bad_message_is_skipped_and_the_next_printed("udp://127.0.0.1:0?max_frame=8"),
    )
    .await;
}

/// With `framing=lines` a line over `max_frame` is skipped with a message: the line codec
/// drops it, and the client's lines after it are still printed.
#[tokio::test]
async fn listen_skips_a_long_line_and_prints_the_rest() {
    watchdog(
        WATCHDOG,
        a_bad_message_is_skipped_and_the_next_printed(
            "tcp://127.0.0.1:0?framing=lines&max_frame=8",
        ),
    )
    .await;
}

/// On a FIFO a frame over the reader's `max_frame` (from a writer with a larger one) is
/// skipped with a message: it arrived whole, so the frames after it are still printed.
#[cfg(unix)]
#[tokio::test]
async fn listen_skips_a_long_fifo_frame_and_prints_the_rest() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-fifo-long");
        let url = format!("fifo://{}?max_frame=8", dir.join("f"));
        a_bad_message_is_skipped_and_the_next_printed(&url).await;
    })
    .await;
}

/// A FIFO's one reading stream ends at corrupt frames (here a length over `max_frame`: a
/// writer speaking `framing=lines`), and its listener hands out no second one: `listen` ends
/// with the error (exit 1) and removes the FIFO, rather than running on deaf while writers
/// are told that nothing listens.
#[cfg(unix)]
#[tokio::test]
async fn listen_ends_when_its_fifo_stream_fails() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-fifo-corrupt");
        let url = format!("fifo://{}", dir.join("f"));
        let (mut listener, _) = listen(&[&url]).await;
        let sent = anyipc(&["send", &url, "first"], b"").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        assert_eq!(listener.stdout_lines(1).await, ["first"]);
        let garbage = anyipc(&["send", &url, "--framing", "lines", "garbage"], b"").await;
        assert!(garbage.status.success(), "{}", text(&garbage.stderr));
        let error = listener.stderr_after("anyipc: connection from ").await;
        assert!(error.contains("max_frame"), "{error}");
        let (status, _) = listener.finish().await;
        assert_eq!(status.code(), Some(1));
        assert!(!dir.path().join("f").exists(), "the FIFO is removed");
    })
    .await;
}

/// On mq a message over the listener's `max_frame` is reported once and ends that
/// connection: it stays in the queue (a send's `Ok` means some receive returns it), so
/// skipping it would spin for ever on the same message.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn listen_reports_an_oversized_queue_message_once_and_leaves_it_queued() {
    watchdog(WATCHDOG, async {
        let name = unique_name("cli-mq-oversized");
        let created = anyipc::queue::MessageQueue::create(&name, &Default::default()).unwrap();
        let url = format!("mq://{name}");
        let sent = anyipc(&["send", &url, "far too long", "short"], b"").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let (mut listener, _) = listen(&[&format!("{url}?max_frame=8")]).await;
        let error = listener.stderr_after("anyipc: connection from ").await;
        assert!(error.contains("max_frame"), "{error}");
        // The queue's one connection ended: so does listen, at once, with the error.
        let (status, _) = listener.finish().await;
        assert_eq!(status.code(), Some(1));
        assert_eq!(created.try_recv().unwrap().0, "far too long");
        assert_eq!(created.try_recv().unwrap().0, "short");
        drop(created);
        anyipc::queue::MessageQueue::remove(&name).unwrap();
    })
    .await;
}

/// Sends "zero", "one" and "two" to a new log `log` in `dir`, then damages record 1 (the last
/// byte of its payload) so that records 0 and 2 stay valid; returns the log's file:// URL.
/// Shared with `cli_tools`.
pub(crate) async fn damaged_log(dir: &TempDir) -> String {
    let url = format!("file://{}", dir.join("log"));
    let sent = anyipc(&["send", &url, "zero", "one", "two"], b"").await;
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    let segment = std::fs::read_dir(dir.path().join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    // The last byte of record 1's payload ("one"): records 0 and 2 stay valid.
    let at = anyipc::file::SEGMENT_HEADER_LEN + 2 * anyipc::file::RECORD_HEADER_LEN + 4 + 2;
    bytes[at] ^= 0xFF;
    std::fs::write(&segment, bytes).unwrap();
    url
}

/// A log with a damaged record (valid ones after it) is reported once and that connection
/// ends: the error would come back on every receive, so skipping it would spin for ever.
#[tokio::test]
async fn listen_reports_a_damaged_log_once_and_does_not_spin() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-damaged-log");
        let url = damaged_log(&dir).await;
        let (mut listener, _) = listen(&[&url]).await;
        assert_eq!(listener.stdout_lines(1).await, ["zero"]);
        let error = listener.stderr_after("anyipc: connection from ").await;
        assert!(error.contains("damaged"), "{error}");
        // The log's one connection ended: so does listen (it waited for ever on an accept
        // that cannot come).
        let (status, _) = listener.finish().await;
        assert_eq!(status.code(), Some(1));
    })
    .await;
}

#[tokio::test]
async fn connections_are_served_concurrently() {
    watchdog(WATCHDOG, async {
        let (mut listener, url) = listen(&["tcp://127.0.0.1:0", "--count", "12"]).await;
        // A client that stays connected, sending from its stdin.
        let mut open = Spawned::start(anyipc_bin(), &["send", &url]);
        open.write_stdin(b"held open\n").await;
        assert_eq!(listener.stdout_lines(1).await, ["held open"]);
        // Five more clients at once while it is still connected.
        let sends = (0..5).map(|i| {
            let url = url.clone();
            async move {
                let (a, b) = (format!("client {i} a"), format!("client {i} b"));
                anyipc(&["send", &url, &a, &b], b"").await
            }
        });
        for sent in futures::future::join_all(sends).await {
            assert!(sent.status.success(), "{}", text(&sent.stderr));
        }
        open.write_stdin(b"still here\n").await;
        open.close_stdin();
        let (status, _) = open.finish().await;
        assert!(status.success());
        let mut lines = listener.stdout_lines(11).await;
        lines.sort();
        let mut expected: Vec<String> = (0..5)
            .flat_map(|i| [format!("client {i} a"), format!("client {i} b")])
            .chain(["still here".to_owned()])
            .collect();
        expected.sort();
        assert_eq!(lines, expected);
        assert!(listener.finish().await.0.success());
    })
    .await;
}

#[cfg(unix)] // kill(1) and a unix:// socket
#[tokio::test]
async fn ctrl_c_stops_listen_and_removes_its_socket() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-sigint");
        let path = dir.join("listen.sock");
        let (listener, _) = listen(&[&format!("unix://{path}")]).await;
        assert!(std::path::Path::new(&path).exists());
        let interrupt = Command::new("kill")
            .args(["-INT", &listener.id().to_string()])
            .status()
            .await
            .expect("run kill");
        assert!(interrupt.success());
        let (status, _) = listener.finish().await;
        assert!(status.success(), "listen exited with {status}");
        assert!(
            !std::path::Path::new(&path).exists(),
            "socket file left behind"
        );
    })
    .await;
}

/// Sends `signal` (`"TERM"`, `"HUP"`, `"INT"`) to the process `pid` with kill(1).
#[cfg(unix)]
async fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .await
        .expect("run kill");
    assert!(sent.success(), "kill -{signal} {pid} failed");
}

/// SIGTERM (what `timeout`, `kill` and systemd send) and SIGHUP stop `listen` as Ctrl-C does:
/// exit 0, with its unix socket file, pipe:// name and shm:// name removed.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn sigterm_and_sighup_stop_listen_and_remove_what_it_bound() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-sigterm");
        // A runtime directory of its own, to see the pipe and shm names in.
        let xdg = dir.path().display().to_string();
        let env = [("XDG_RUNTIME_DIR", xdg.as_str())];
        // listen leaves SIGHUP ignored when it started so (under nohup): its child would
        // inherit that from this test, and the HUP round would never end.
        // SAFETY: sigaction with a null new action only reads the current one into `old`.
        let hup_ignored = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGHUP, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
        };
        let signals: &[&str] = if hup_ignored {
            &["TERM"]
        } else {
            &["TERM", "HUP"]
        };
        for &sig in signals {
            let name = unique_name("cli-stop");
            let bound = [
                (
                    format!("unix://{}", dir.join(&name)),
                    dir.path().join(&name),
                ),
                (
                    format!("pipe://{name}"),
                    dir.path().join("anyipc").join(&name),
                ),
                (
                    format!("shm://{name}"),
                    dir.path().join("anyipc").join(format!("shm-{name}.sock")),
                ),
            ];
            for (url, file) in bound {
                let mut listener =
                    Spawned::start_with_env(anyipc_bin(), &["listen", url.as_str()], &env);
                listener.stderr_after("listening on ").await;
                assert!(file.exists(), "{url}: no {}", file.display());
                signal(listener.id(), sig).await;
                let (status, _) = listener.finish().await;
                assert_eq!(
                    status.code(),
                    Some(0),
                    "SIG{sig}: {url}: listen exited with {status}"
                );
                assert!(
                    !file.exists(),
                    "SIG{sig}: {url}: {} left behind",
                    file.display()
                );
            }
        }
    })
    .await;
}

/// A `listen` whose stdout nobody reads (a stuck pager, a full pipe).
#[cfg(target_os = "linux")]
struct UnreadListen {
    child: Child,
    /// Held and not read until the test says so: the pipe fills and `listen` blocks.
    stdout: ChildStdout,
    stderr: Lines<BufReader<ChildStderr>>,
}

#[cfg(target_os = "linux")]
impl UnreadListen {
    /// Starts `anyipc listen url` and waits for its `listening on` line.
    async fn start(url: &str) -> UnreadListen {
        let mut child = Command::new(anyipc_bin())
            .args(["listen", url])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("RUST_LOG")
            .kill_on_drop(true)
            .spawn()
            .expect("start anyipc listen");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let first = stderr.next_line().await.expect("read stderr");
        assert!(
            first
                .as_deref()
                .is_some_and(|l| l.starts_with("listening on ")),
            "{first:?}"
        );
        UnreadListen {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits until the stdout pipe holds more than half its capacity and has not changed
    /// for half a second: `listen` waits for room to write (a pipe is full before it holds
    /// its capacity in bytes when writes leave pages partly used).
    async fn wait_for_full_stdout(&self) {
        use std::os::fd::AsRawFd;
        let fd = self.stdout.as_raw_fd();
        // SAFETY: F_GETPIPE_SZ takes no argument and only reads the pipe's capacity.
        let capacity = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
        assert!(
            capacity > 0,
            "F_GETPIPE_SZ: {}",
            std::io::Error::last_os_error()
        );
        let (mut last, mut since) = (-1, Instant::now());
        loop {
            let mut unread: libc::c_int = 0;
            // SAFETY: FIONREAD writes one c_int through the pointer, to a live local.
            let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut unread) };
            assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
            if unread != last {
                (last, since) = (unread, Instant::now());
            } else if unread > capacity / 2 && since.elapsed() > Duration::from_millis(500) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then the exit: its status, how long it took, stderr, and what stdout held.
    async fn stop(mut self) -> (ExitStatus, Duration, String, String) {
        let sent = Instant::now();
        signal(self.child.id().expect("running"), "TERM").await;
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("a stopped listen with a stuck stdout did not exit")
            .expect("wait for listen");
        let took = sent.elapsed();
        let mut stderr = Vec::new();
        while let Some(line) = self.stderr.next_line().await.expect("read stderr") {
            stderr.push(line);
        }
        let mut stdout = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut self.stdout, &mut stdout)
            .await
            .expect("read stdout");
        (status, took, stderr.join("\n"), text(&stdout))
    }
}

/// SIGTERM stops a `listen` whose stdout is full and not read, within seconds: its socket
/// file removed, exit 1 saying the reader took nothing (lines were not printed).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn sigterm_stops_a_listen_whose_stdout_is_not_read() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-stuck-stdout");
        let path = dir.path().join("stuck.sock");
        let url = format!("unix://{}", path.display());
        let listener = UnreadListen::start(&url).await;
        let mut client = anyipc::connect(&url).await.unwrap();
        let line = bytes::Bytes::from(vec![b'x'; 90]);
        // Far more than the pipe holds; the rest waits in the socket and the listener.
        let sender = tokio::spawn(async move {
            for _ in 0..5_000 {
                if client.send(line.clone()).await.is_err() {
                    break;
                }
            }
        });
        listener.wait_for_full_stdout().await;
        let (status, took, stderr, _) = listener.stop().await;
        sender.abort();
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("took nothing"), "{stderr}");
        assert!(took < Duration::from_secs(15), "exit took {took:?}");
        assert!(!path.exists(), "socket file left behind");
    })
    .await;
}

/// A `listen` on a consumer's log, stopped while its stdout is full and not read, exits
/// without committing the record it could not print: a second `listen` of that consumer
/// prints from at most where the first one's printing stopped, so no record is lost.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_listen_stopped_with_a_stuck_stdout_loses_no_record_of_a_log() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-stuck-log");
        let log = format!("file://{}", dir.join("log"));
        let records: Vec<String> = (0..20_000).map(|i| format!("record {i}")).collect();
        let sent = anyipc(&["send", &log], (records.join("\n") + "\n").as_bytes()).await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let url = format!("{log}?consumer=stuck&follow=false");
        let listener = UnreadListen::start(&url).await;
        listener.wait_for_full_stdout().await;
        let (status, _, stderr, first) = listener.stop().await;
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("took nothing"), "{stderr}");
        // Whole lines only: the one being written may be cut.
        let printed: Vec<&str> = first
            .split_inclusive('\n')
            .filter_map(|l| l.strip_suffix('\n'))
            .collect();
        assert!(
            !printed.is_empty() && printed.len() < records.len(),
            "{} printed",
            printed.len()
        );
        assert_eq!(
            printed,
            records[..printed.len()],
            "the first listen's lines"
        );
        let second = anyipc(&["listen", &url], b"").await;
        assert!(second.status.success(), "{}", text(&second.stderr));
        let rest = text(&second.stdout);
        let rest: Vec<&str> = rest.lines().collect();
        let resumed_at = records.len() - rest.len();
        assert!(
            resumed_at <= printed.len(),
            "records {}..{resumed_at} lost (committed, not printed)",
            printed.len()
        );
        assert_eq!(rest, records[resumed_at..], "the second listen's lines");
    })
    .await;
}

/// SIGTERM stops `bridge` as Ctrl-C does: exit 0, its bound unix socket file removed.
#[cfg(unix)] // kill(1) and a unix:// socket
#[tokio::test]
async fn sigterm_stops_bridge_and_removes_its_socket() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-bridge-term");
        let path = dir.join("front.sock");
        let front = format!("unix://{path}");
        let mut bridge = Spawned::start(anyipc_bin(), &["bridge", &front, "tcp://127.0.0.1:9"]);
        bridge.stderr_after("bridging ").await;
        assert!(std::path::Path::new(&path).exists());
        signal(bridge.id(), "TERM").await;
        let (status, _) = bridge.finish().await;
        assert_eq!(status.code(), Some(0), "bridge exited with {status}");
        assert!(
            !std::path::Path::new(&path).exists(),
            "socket file left behind"
        );
    })
    .await;
}

/// A stderr nobody reads any more (`anyipc bridge -v 2>&1 | head -1`) loses the lines
/// written to it and nothing else: `bridge` goes on forwarding and a failing `send` exits 1.
/// Each line used to panic: every bridge session died at its first line, and `send` exited
/// with 101.
#[cfg(unix)] // unix:// sockets in a temporary directory
#[tokio::test]
async fn a_closed_stderr_stops_no_command() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-closed-stderr");
        let back = format!("unix://{}", dir.join("back.sock"));
        let front = format!("unix://{}", dir.join("front.sock"));
        let (_echo, _) = listen(&[&back, "--echo"]).await;
        let mut bridge = Command::new(anyipc_bin())
            .args(["bridge", &front, &back, "-v"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env_remove("RUST_LOG")
            .kill_on_drop(true)
            .spawn()
            .expect("start bridge");
        let mut stderr = BufReader::new(bridge.stderr.take().expect("piped stderr")).lines();
        while let Some(line) = stderr.next_line().await.unwrap() {
            if line.starts_with("bridging ") {
                break;
            }
        }
        // Every later line the bridge writes fails with EPIPE.
        drop(stderr);
        for message in ["one", "two"] {
            let out = anyipc(&["send", &front, "--expect-reply", message], b"").await;
            assert!(out.status.success(), "send: {}", text(&out.stderr));
            assert_eq!(text(&out.stdout), format!("{message}\n"));
        }
        assert!(bridge.try_wait().unwrap().is_none(), "the bridge died");

        // A pipe whose reader is gone before `send` starts: its first line fails.
        let status = Command::new(anyipc_bin())
            .args(["send", "tcp://127.0.0.1:1", "x"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(crate::util::pipe_without_reader()))
            .status()
            .await
            .expect("run send");
        assert_eq!(status.code(), Some(1), "send exited with {status}");
    })
    .await;
}

/// `file://…?follow=false` cannot deliver anything after the end of its data, so `listen`
/// prints every record (or line of a plain file) and exits 0 there.
#[tokio::test]
async fn listen_ends_at_the_end_of_a_file_read_without_follow() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-no-follow");
        let log = format!("file://{}", dir.join("log"));
        let sent = anyipc(&["send", &log, "zero", "one", "two"], b"").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let plain = dir.join("plain.txt");
        std::fs::write(&plain, "first\nsecond\n").unwrap();
        let plain = format!("file://{plain}?framing=lines&follow=false");
        // Many reads' worth, printed together a read at a time.
        let big = dir.join("big.txt");
        let lines: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&big, &lines).unwrap();
        let big = format!("file://{big}?framing=lines&follow=false");
        for (url, expected) in [
            (format!("{log}?follow=false"), "zero\none\ntwo\n"),
            (plain, "first\nsecond\n"),
            (big, lines.as_str()),
        ] {
            let (listener, _) = listen(&[&url]).await;
            let finished = tokio::time::timeout(Duration::from_secs(20), listener.finish());
            let (status, printed) = finished.await.expect("listen did not exit at the end");
            assert_eq!(status.code(), Some(0), "{url}: listen exited with {status}");
            assert_eq!(printed, expected, "{url}");
        }
    })
    .await;
}

/// A log read with `follow=false` that is not there is an error (exit 1) that says so, and
/// leaves no directory behind: before, `listen` created an empty log, read it and exited 0.
/// A missing plain file is `NotFound` the same way.
#[tokio::test]
async fn listen_without_follow_on_a_missing_log_or_file_says_so() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-no-follow-missing");
        let log = dir.join("no-log");
        let file = dir.join("no-file.txt");
        for (url, path) in [
            (format!("file://{log}?follow=false"), &log),
            (format!("file://{file}?framing=lines&follow=false"), &file),
        ] {
            let out = anyipc(&["listen", &url], b"").await;
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{url}: {stderr}");
            assert!(
                stderr.contains("no file there") || stderr.contains("no log there"),
                "{url}: {stderr}"
            );
            let path = std::path::Path::new(path);
            assert!(!path.exists(), "{url} left {} behind", path.display());
        }
    })
    .await;
}

/// `listen --count N` takes exactly the N messages it prints from a log (its cursor is
/// committed after them) and from a queue (the rest stay queued): nothing read ahead for
/// printing is lost when it exits.
#[tokio::test]
async fn listen_with_count_takes_from_a_log_or_queue_only_what_it_printed() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-count-cursor");
        let log = format!("file://{}", dir.join("log"));
        let words = ["a", "b", "c", "d", "e", "f"];
        let sent = anyipc(&[&["send", &log][..], &words].concat(), b"").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        #[allow(unused_mut)] // mq:// is Linux's
        let mut urls = vec![format!("{log}?consumer=cli")];
        #[cfg(target_os = "linux")]
        let name = unique_name("cli-count-mq");
        #[cfg(target_os = "linux")]
        {
            let queue = format!("mq://{name}?create=true");
            let sent = anyipc(&[&["send", &queue][..], &words].concat(), b"").await;
            assert!(sent.status.success(), "{}", text(&sent.stderr));
            urls.push(format!("mq://{name}"));
        }
        for url in urls {
            let taken = anyipc(&["listen", &url, "--count", "2"], b"").await;
            assert!(taken.status.success(), "{url}: {}", text(&taken.stderr));
            assert_eq!(text(&taken.stdout), "a\nb\n", "{url}");
        }
        let unread = format!("{log}?consumer=cli&follow=false");
        let rest = anyipc(&["listen", &unread], b"").await;
        assert!(rest.status.success(), "{}", text(&rest.stderr));
        assert_eq!(text(&rest.stdout), "c\nd\ne\nf\n", "the log's cursor");
        #[cfg(target_os = "linux")]
        {
            let queued = anyipc::queue::MessageQueue::open(&name).unwrap();
            assert_eq!(
                queued.attributes().len,
                4,
                "the queue keeps what was not printed"
            );
            drop(queued);
            anyipc::queue::MessageQueue::remove(&name).unwrap();
        }
    })
    .await;
}

/// A machine crash under `fsync=never` can cut a closed segment short (the OS had not
/// written its tail yet). Simulated here by cutting the first of four segments inside its
/// sixth record: `listen` prints the five records that survived and every later segment's,
/// warns about the three skipped, and ends cleanly; a named consumer that had printed two
/// of the lost records resumes in the next segment. Under `fsync=batch` a segment is synced
/// before the next is created, so the same cut is damage: `listen` stops there, exit 1.
/// (Both stopped at the cut for good before: the log could not be read past it.)
#[tokio::test]
async fn listen_skips_a_closed_segment_cut_short_by_a_crash_only_under_fsync_never() {
    watchdog(WATCHDOG, async {
        let messages: Vec<String> = (0..30).map(|i| format!("m{i:02}")).collect();
        let printed = |range: std::ops::Range<usize>| -> String {
            messages[range].iter().map(|m| format!("{m}\n")).collect()
        };
        for fsync in ["never", "batch"] {
            let dir = TempDir::new("cli-cut-segment");
            let log = dir.join("log");
            // 11-byte records (3-byte payloads) after a 32-byte header: 8 per segment.
            let url = format!("file://{log}?fsync={fsync}&segment_size=120");
            let send: Vec<&str> = ["send", url.as_str()]
                .into_iter()
                .chain(messages.iter().map(String::as_str))
                .collect();
            let sent = anyipc(&send, b"").await;
            assert!(sent.status.success(), "{}", text(&sent.stderr));
            let consumer = format!("file://{log}?consumer=c&follow=false");
            let taken = anyipc(&["listen", &consumer, "--count", "7"], b"").await;
            assert!(taken.status.success(), "{}", text(&taken.stderr));
            assert_eq!(text(&taken.stdout), printed(0..7));

            let first = std::path::Path::new(&log).join("00000000000000000000.log");
            let segment = std::fs::OpenOptions::new()
                .write(true)
                .open(&first)
                .unwrap();
            segment
                .set_len((anyipc::file::SEGMENT_HEADER_LEN + 5 * 11 + 4) as u64)
                .unwrap();
            drop(segment);

            let all = anyipc(&["listen", &format!("file://{log}?follow=false")], b"").await;
            let resumed = anyipc(&["listen", &consumer], b"").await;
            let (all_err, resumed_err) = (text(&all.stderr), text(&resumed.stderr));
            if fsync == "never" {
                assert!(all.status.success(), "{all_err}");
                assert_eq!(text(&all.stdout), printed(0..5) + &printed(8..30));
                assert!(
                    all_err.contains("records lost in a machine crash"),
                    "{all_err}"
                );
                assert!(resumed.status.success(), "{resumed_err}");
                assert_eq!(text(&resumed.stdout), printed(8..30));
                assert!(resumed_err.contains("records lost"), "{resumed_err}");
            } else {
                assert_eq!(all.status.code(), Some(1), "{all_err}");
                assert_eq!(text(&all.stdout), printed(0..5));
                assert!(all_err.contains("damaged"), "{all_err}");
                assert_eq!(resumed.status.code(), Some(1), "{resumed_err}");
                assert_eq!(text(&resumed.stdout), "");
            }
        }
    })
    .await;
}

/// A `listen` of a log's named consumer whose cursor cannot be committed at its end (here
/// every file write fails, EFBIG under `ulimit -f 0`) prints what it read, then says so
/// and exits 1: the next `listen` of that consumer prints those records again. The failed
/// final commit was printed as a warning and `listen` exited 0, as if the consumer's
/// position were saved.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_listen_whose_last_cursor_commit_fails_exits_1() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-commit-fails");
        let log = format!("file://{}", dir.join("log"));
        let sent = anyipc(&["send", &log, "a", "b", "c"], b"").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let url = format!("{log}?consumer=c&follow=false");
        let limited = Command::new("sh")
            .args(["-c", "trap '' XFSZ; ulimit -f 0; exec \"$0\" \"$@\""])
            .args([anyipc_bin(), "listen", &url])
            .stdin(Stdio::null())
            .env_remove("RUST_LOG")
            .kill_on_drop(true)
            .output()
            .await
            .expect("run anyipc under ulimit -f 0");
        let stderr = text(&limited.stderr);
        assert_eq!(text(&limited.stdout), "a\nb\nc\n", "{stderr}");
        assert_eq!(limited.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("cannot commit the cursor"), "{stderr}");
        let again = anyipc(&["listen", &url], b"").await;
        assert!(again.status.success(), "{}", text(&again.stderr));
        assert_eq!(text(&again.stdout), "a\nb\nc\n", "nothing was committed");
    })
    .await;
}

/// A `listen` on a consumer's log stopped while it prints has committed exactly what it
/// printed: a second `listen` with the same consumer prints the rest, no record lost or
/// printed twice.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_stopped_listen_commits_exactly_what_it_printed_of_a_log() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-stop-log");
        let log = format!("file://{}", dir.join("log"));
        let records: Vec<String> = (0..30_000).map(|i| format!("record {i}")).collect();
        let sent = anyipc(&["send", &log], (records.join("\n") + "\n").as_bytes()).await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let url = format!("{log}?consumer=stop&follow=false");
        let (mut first, _) = listen(&[&url]).await;
        // The rest waits in the pipe, far more than it holds: listen is mid-log.
        let mut printed = first.stdout_lines(100).await;
        signal(first.id(), "TERM").await;
        let (status, rest) = first.finish().await;
        assert_eq!(status.code(), Some(0), "the stopped listen");
        printed.extend(rest.lines().map(str::to_owned));
        assert!(
            printed.len() < records.len(),
            "listen was not stopped mid-log"
        );
        let second = anyipc(&["listen", &url], b"").await;
        assert!(second.status.success(), "{}", text(&second.stderr));
        printed.extend(text(&second.stdout).lines().map(str::to_owned));
        if let Some(at) = (0..records.len()).find(|&i| printed.get(i) != Some(&records[i])) {
            let around = &printed[at.saturating_sub(2)..(at + 3).min(printed.len())];
            panic!("lost or repeated records at {at}: {around:?}");
        }
        assert_eq!(printed.len(), records.len(), "repeated records at the end");
    })
    .await;
}

/// A `listen` tailing a consumer's log commits what it printed within about a second, also
/// when no record follows: killed then (no chance to commit at its end), the next `listen`
/// of that consumer prints only what came after.
#[cfg(unix)]
#[tokio::test]
async fn a_tailing_listen_commits_what_it_printed_while_idle() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-idle-commit");
        let log = format!("file://{}", dir.join("log"));
        let sent = anyipc(&["send", &log, "a", "b", "c"], b"").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let (mut tailing, _) = listen(&[&format!("{log}?consumer=idle")]).await;
        assert_eq!(tailing.stdout_lines(3).await, ["a", "b", "c"]);
        let opts = anyipc::file::FileOptions {
            follow: false,
            ..Default::default()
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let at = anyipc::file::FileConsumer::open(dir.join("log"), Some("idle"), opts.clone())
                .await
                .unwrap()
                .position();
            if at == 3 {
                break;
            }
            assert!(Instant::now() < deadline, "the cursor stayed at {at}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        signal(tailing.id(), "KILL").await;
        let _ = tailing.finish().await;
        let sent = anyipc(&["send", &log, "d"], b"").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let rest = anyipc(
            &["listen", &format!("{log}?consumer=idle&follow=false")],
            b"",
        )
        .await;
        assert!(rest.status.success(), "{}", text(&rest.stderr));
        assert_eq!(text(&rest.stdout), "d\n");
    })
    .await;
}

/// A file read without follow that cannot be read to its end (a damaged record) is a
/// failure: exit 1, with the one error line.
#[tokio::test]
async fn listen_without_follow_fails_on_a_damaged_log() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-no-follow-damaged");
        let url = damaged_log(&dir).await;
        let out = anyipc(&["listen", &format!("{url}?follow=false")], b"").await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(text(&out.stdout), "zero\n");
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("anyipc: "))
            .collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(errors[0].contains("is damaged"), "{stderr}");
    })
    .await;
}

/// A record whose length field was damaged to point past the end of the log (under
/// `max_frame`), valid records after it: `listen` fails there as at any damage (exit 1, one
/// line), with `follow=false` and following, instead of taking it for a write under way and
/// ending (or waiting) there without a word about the records after it.
#[tokio::test]
async fn listen_fails_on_a_length_field_damaged_to_point_past_the_end() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-length-past-end");
        let url = format!("file://{}", dir.join("log"));
        let sent = anyipc(&["send", &url, "zero", "one", "two"], b"").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let segment = dir.path().join("log").join(format!("{:020}.log", 0));
        let mut bytes = std::fs::read(&segment).unwrap();
        // Record 1's length field (little-endian), after record 0 and its 4-byte payload.
        let at = anyipc::file::SEGMENT_HEADER_LEN + anyipc::file::RECORD_HEADER_LEN + 4;
        bytes[at..at + 4].copy_from_slice(&(1u32 << 20).to_le_bytes());
        std::fs::write(&segment, bytes).unwrap();
        for query in ["?follow=false", ""] {
            let out = anyipc(&["listen", &format!("{url}{query}")], b"").await;
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{query}: {stderr}");
            assert_eq!(text(&out.stdout), "zero\n", "{query}");
            assert!(
                stderr.contains("is damaged at byte") && stderr.contains("(record 1)"),
                "{query}: {stderr}"
            );
        }
    })
    .await;
}

/// `--expect-reply` where no reply can come (file://, a FIFO's writing end, a shared
/// mq:// queue) is bad usage, refused before anything is sent.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn expect_reply_is_refused_where_nothing_can_answer() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-no-reply");
        let log = dir.path().join("log");
        let url = format!("file://{}", log.display());
        assert_usage_error(&["send", &url, "--expect-reply", "hi"], "--expect-reply").await;
        assert!(!log.exists(), "the log was written to");

        // A FIFO with a reader: the refused message never reaches it, the next one does.
        let fifo = format!("fifo://{}", dir.join("fifo"));
        let (mut reader, _) = listen(&[&fifo]).await;
        assert_usage_error(&["send", &fifo, "--expect-reply", "hi"], "one way").await;
        let sent = anyipc(&["send", &fifo, "after"], b"").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        assert_eq!(reader.stdout_lines(1).await, ["after"]);

        let name = unique_name("cli-no-reply");
        let queue = anyipc::queue::MessageQueue::create(&name, &Default::default()).unwrap();
        let mq = format!("mq://{name}");
        assert_usage_error(&["send", &mq, "--expect-reply", "hi"], "shared queue").await;
        assert_usage_error(&["listen", &mq, "--echo"], "shared queue").await;
        let left = queue.try_recv().map(|(msg, _)| msg);
        assert_eq!(
            left.unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock,
            "a message was queued"
        );
        drop(queue);
        anyipc::queue::MessageQueue::remove(&name).unwrap();
    })
    .await;
}

/// No other process can reach a mem:// endpoint: `listen`, `send` and `bridge` say so at
/// once instead of running for ever.
#[tokio::test]
async fn mem_endpoints_are_refused_by_every_command() {
    watchdog(WATCHDOG, async {
        assert_usage_error(&["listen", "mem://x"], "no other process").await;
        assert_usage_error(&["send", "mem://x", "hi"], "no other process").await;
        assert_usage_error(
            &["bridge", "tcp://127.0.0.1:0", "mem://x"],
            "no other process",
        )
        .await;
        assert_usage_error(
            &["bridge", "connect:mem://x", "listen:tcp://127.0.0.1:0"],
            "mem://x",
        )
        .await;
    })
    .await;
}

/// `stdio://` is the pipes a child shares with its parent, which only the child connects
/// to: `listen` and a bound `bridge` side refuse it as bad usage (exit 2) before running,
/// as they refuse `mem://`, rather than failing to bind it (exit 1).
#[tokio::test]
async fn binding_stdio_is_a_usage_error() {
    watchdog(WATCHDOG, async {
        assert_usage_error(&["listen", "stdio://"], "cannot be bound").await;
        assert_usage_error(
            &["bridge", "stdio://", "tcp://127.0.0.1:1"],
            "cannot be bound",
        )
        .await;
        assert_usage_error(
            &["bridge", "connect:tcp://127.0.0.1:1", "listen:stdio://"],
            "cannot be bound",
        )
        .await;
    })
    .await;
}

/// `send stdio://` (without `ANYIPC_CHILD_FDS`) is connected over its own stdin and stdout,
/// so the lines of stdin cannot be its messages: without MESSAGE arguments it is bad usage,
/// refused before connecting (it sent nothing and exited 0, the lines unread). With them,
/// each goes out as a frame on stdout.
#[cfg(unix)]
#[tokio::test]
async fn send_over_stdio_takes_messages_from_arguments_only() {
    watchdog(WATCHDOG, async {
        let run = |args: &'static [&'static str]| async move {
            let mut child = Command::new(anyipc_bin())
                .args(args)
                .env_remove("ANYIPC_CHILD_FDS")
                .env_remove("RUST_LOG")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("start anyipc");
            let mut input = child.stdin.take().expect("piped stdin");
            // A refused command may have exited already: the write then fails (EPIPE).
            if let Err(e) = input.write_all(b"one\n").await {
                assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
            }
            drop(input);
            child.wait_with_output().await.expect("run anyipc")
        };
        let out = run(&["send", "stdio://"]).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("MESSAGE"), "{stderr}");
        assert_eq!(out.stdout, b"", "nothing is sent");
        let out = run(&["send", "stdio://", "hi"]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(out.stdout, b"\0\0\0\x02hi");
    })
    .await;
}

/// A connect error names the endpoint once and says what it means; the OS detail stays.
#[cfg(unix)]
#[tokio::test]
async fn connect_errors_say_nothing_listens_naming_the_url_once() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-nobody");
        let urls = [
            format!("pipe://{}", unique_name("cli-nobody")),
            dir.url("unix", "none.sock"),
            dir.url("fifo", "none.fifo"),
        ];
        for url in urls {
            let out = anyipc(&["send", &url, "hi"], b"").await;
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(
                stderr.contains(&format!("nothing listens at {url}: ")),
                "{stderr}"
            );
            assert_eq!(stderr.matches(url.as_str()).count(), 1, "{stderr}");
            assert!(stderr.contains("os error"), "{stderr}");
        }
    })
    .await;
}

/// Log lines on a stderr that is not a terminal carry no colour codes (the warning for a
/// client refused by `allow_uids` here).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn log_lines_to_a_pipe_have_no_colour_codes() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-colour");
        // SAFETY: getuid has no preconditions and cannot fail.
        let other_uid = unsafe { libc::getuid() }.wrapping_add(1);
        let path = dir.join("s.sock");
        let url = format!("unix://{path}?allow_uids={other_uid}");
        let (mut listener, _) = listen(&[&url]).await;
        let _ = anyipc(&["send", &format!("unix://{path}"), "hi"], b"").await;
        let warning = loop {
            let line = listener.stderr.next_line().await.expect("read stderr");
            let line = line.expect("listen ended without the warning");
            if line.contains("allow_uids") {
                break line;
            }
        };
        assert!(!warning.contains('\x1b'), "colour codes in {warning:?}");
    })
    .await;
}

/// On a terminal, log lines are coloured unless `NO_COLOR` is set (the terminal is a pty that
/// script(1) makes; the warning for a client refused by `allow_uids` is the log line).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn log_lines_to_a_terminal_are_coloured_unless_no_color() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-tty-colour");
        // SAFETY: getuid has no preconditions and cannot fail.
        let other_uid = unsafe { libc::getuid() }.wrapping_add(1);
        for (no_color, coloured) in [("", true), ("1", false)] {
            let path = dir.join(&format!("tty{no_color}.sock"));
            let listen = format!(
                "exec '{}' listen 'unix://{path}?allow_uids={other_uid}'",
                anyipc_bin()
            );
            let env = [("NO_COLOR", no_color)];
            let mut tty = Spawned::start_with_env("script", &["-qec", &listen, "/dev/null"], &env);
            tty.stdout_after("listening on ").await;
            let _ = anyipc(&["send", &format!("unix://{path}"), "hi"], b"").await;
            let warning = loop {
                let line = tty
                    .stdout_line()
                    .await
                    .expect("listen ended without the warning");
                if line.contains("allow_uids") {
                    break line;
                }
            };
            assert_eq!(
                warning.contains('\x1b'),
                coloured,
                "NO_COLOR={no_color:?}: {warning:?}"
            );
        }
    })
    .await;
}

/// Runs `anyipc args…` expecting exit 2 and one stderr line that contains `needle`.
async fn assert_usage_error(args: &[&str], needle: &str) {
    let out = anyipc(args, b"").await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line expected: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "{args:?}: `{needle}` not in {stderr}"
    );
    assert_eq!(text(&out.stdout), "", "{args:?}");
}

#[tokio::test]
async fn bad_usage_exits_2_with_one_line() {
    watchdog(WATCHDOG, async {
        assert_usage_error(&["send", "nope://x", "hi"], "unknown scheme `nope`").await;
        assert_usage_error(&["send", "tcp://127.0.0.1:1?colour=red", "hi"], "colour").await;
        assert_usage_error(&["send", "tcp://localhost", "hi"], "tcp://").await;
        assert_usage_error(
            &["listen", "tcp://127.0.0.1:0", "--frobnicate"],
            "--frobnicate",
        )
        .await;
        assert_usage_error(&["frobnicate"], "frobnicate").await;
        assert_usage_error(&["send"], "URL").await;
        assert_usage_error(
            &["listen", "udp://127.0.0.1:0", "--framing", "lines"],
            "framing",
        )
        .await;
        assert_usage_error(
            &["listen", "mem://x", "--framing", "raw"],
            "mem:// takes no framing",
        )
        .await;
        assert_usage_error(
            &["listen", "tcp://127.0.0.1:0", "--framing", "bogus"],
            "bogus",
        )
        .await;
        assert_usage_error(&["listen", "tcp://127.0.0.1:0", "--count", "0"], "--count").await;
        // An abstract name has no file to give a mode: a bad URL whichever way it is used.
        assert_usage_error(&["listen", "unix://@anyipc-x?mode=0600"], "allow_uids=").await;
        assert_usage_error(&["send", "unix://@anyipc-x?mode=0600", "hi"], "allow_uids=").await;
        // RFC 6874: an IPv6 zone's `%` is `%25` in a URL.
        assert_usage_error(&["send", "tcp://[fe80::1%lo]:80", "hi"], "%25").await;
        // Port 0 is for binding only: a bad URL to send to, not "nothing listens".
        for url in ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"] {
            assert_usage_error(&["send", url, "hi"], "port 0 can only be bound").await;
        }
        // A path no file can have: a NUL byte, or too long for a socket address.
        assert_usage_error(&["listen", "file:///tmp/a%00b?follow=false"], "NUL").await;
        #[cfg(unix)]
        {
            let long = format!("unix:///tmp/{}.sock", "a".repeat(120));
            assert_usage_error(&["listen", &long], "at most").await;
            assert_usage_error(&["send", &long, "hi"], "at most").await;
        }
        assert_usage_error(
            &["send", "tcp://127.0.0.1:1", "--timeout", "soon", "x"],
            "soon",
        )
        .await;
    })
    .await;
}

/// The one line of a usage error keeps what clap says under its first line: the values a
/// closed list accepts, and the option or subcommand meant by a misspelt one.
#[tokio::test]
async fn usage_errors_name_the_accepted_values_and_the_likely_spelling() {
    watchdog(WATCHDOG, async {
        assert_usage_error(
            &["listen", "tcp://127.0.0.1:0", "--framing", "bogus"],
            "possible values: length, lines, raw",
        )
        .await;
        assert_usage_error(&["completions", "tcsh"], "possible values: bash").await;
        assert_usage_error(
            &["send", "tcp://127.0.0.1:1", "--framng", "raw", "x"],
            "did you mean '--framing'?",
        )
        .await;
        assert_usage_error(&["lisen", "tcp://127.0.0.1:0"], "did you mean 'listen'").await;
    })
    .await;
}

/// A usage error points to the help of the subcommand that was run, which says what was
/// wrong (`send --help` says `--framing` is not for udp://), not to the top-level help.
#[tokio::test]
async fn usage_errors_point_to_the_subcommands_help() {
    watchdog(WATCHDOG, async {
        let framing = ["send", "udp://127.0.0.1:1", "--framing", "lines", "x"];
        assert_usage_error(&framing, "(see anyipc send --help)").await;
        let help = text(&anyipc(&["send", "--help"], b"").await.stdout);
        let framing_help = help.lines().find(|l| l.contains("--framing")).unwrap_or("");
        assert!(framing_help.contains("Not for udp://"), "{help}");
        assert_usage_error(
            &["listen", "tcp://127.0.0.1:0", "--frobnicate"],
            "(see anyipc listen --help)",
        )
        .await;
        assert_usage_error(&["frobnicate"], "(see anyipc --help)").await;
    })
    .await;
}

#[tokio::test]
async fn connection_refused_exits_1() {
    watchdog(WATCHDOG, async {
        // A port that was free a moment ago and that nobody listens on now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = anyipc(&["send", &format!("tcp://127.0.0.1:{port}"), "hi"], b"").await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("nothing listens at tcp://"), "{stderr}");
        assert!(stderr.contains("refused"), "{stderr}");
    })
    .await;
}

#[tokio::test]
async fn bind_of_a_taken_port_exits_1() {
    watchdog(WATCHDOG, async {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("tcp://{}", taken.local_addr().unwrap());
        let out = anyipc(&["listen", &url], b"").await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("cannot bind"), "{stderr}");
    })
    .await;
}

#[tokio::test]
async fn missing_reply_times_out_with_exit_1() {
    watchdog(WATCHDOG, async {
        // No --echo: the message arrives and nothing comes back.
        let (mut listener, url) = listen(&["tcp://127.0.0.1:0"]).await;
        let started = Instant::now();
        let out = anyipc(
            &["send", &url, "--expect-reply", "--timeout", "300ms", "hi"],
            b"",
        )
        .await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("no reply to message 1"), "{stderr}");
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(listener.stdout_lines(1).await, ["hi"]);
    })
    .await;
}

#[tokio::test]
async fn a_udp_reply_expected_from_nothing_is_refused_at_once() {
    watchdog(WATCHDOG, async {
        let port = crate::util::silent_udp_port();
        let url = format!("udp://127.0.0.1:{port}");
        let started = Instant::now();
        let out = anyipc(
            &["send", &url, "--expect-reply", "--timeout", "20s", "hi"],
            b"",
        )
        .await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("nothing listens at"), "{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "told before the reply timeout"
        );
    })
    .await;
}

/// Starts `anyipc listen URL`, reads its first line of stdout after `send` ran with its
/// endpoint, then closes stdout as `head -1` would; returns the exit status and stderr.
#[cfg(target_os = "linux")]
async fn listen_until_stdout_closes<F: std::future::Future<Output = ()>>(
    url: &str,
    send: impl FnOnce(String) -> F,
) -> (ExitStatus, String) {
    let mut child = Command::new(anyipc_bin())
        .args(["listen", url])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start anyipc");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = stderr.next_line().await.unwrap().expect("a first line");
    let bound = line
        .strip_prefix("listening on ")
        .expect("listening on URL");
    send(bound.to_owned()).await;
    assert_eq!(stdout.next_line().await.unwrap().as_deref(), Some("first"));
    drop(stdout);
    let status = child.wait().await.expect("wait");
    let mut said = String::new();
    while let Some(line) = stderr.next_line().await.unwrap() {
        said.push_str(&line);
        said.push('\n');
    }
    (status, said)
}

/// `anyipc listen … | head -1`: once the reader of its stdout has gone, `listen` ends (exit 1,
/// "cannot write to stdout") without waiting for a next message to fail to print; when none
/// came, it waited (and held its endpoint) for ever. A log consumer's cursor is committed
/// after what was printed.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn listen_ends_when_the_reader_of_its_stdout_goes() {
    watchdog(WATCHDOG, async {
        let send_first = |url: String| async move {
            let sent = anyipc(&["send", &url, "first"], b"").await;
            assert!(sent.status.success(), "{}", text(&sent.stderr));
        };
        let (status, said) = listen_until_stdout_closes("udp://127.0.0.1:0", send_first).await;
        assert_eq!(status.code(), Some(1), "{said}");
        assert!(
            said.starts_with("anyipc: cannot write to stdout: "),
            "{said}"
        );

        let dir = TempDir::new("cli-stdout-gone");
        let log = format!("file://{}", dir.join("log"));
        let consumer = format!("{log}?consumer=head");
        let sent = anyipc(&["send", &log, "first"], b"").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let (status, said) = listen_until_stdout_closes(&consumer, |_| async {}).await;
        assert_eq!(status.code(), Some(1), "{said}");
        assert!(
            said.starts_with("anyipc: cannot write to stdout: "),
            "{said}"
        );
        let sent = anyipc(&["send", &log, "second"], b"").await;
        assert!(sent.status.success(), "{}", text(&sent.stderr));
        let rest = anyipc(&["listen", &consumer, "--count", "1"], b"").await;
        assert_eq!(text(&rest.stdout), "second\n", "{}", text(&rest.stderr));
    })
    .await;
}

/// A C client: connects to 127.0.0.1:`argv[1]`, write()s `argv[2]`, closes.
#[cfg(unix)]
const C_CLIENT: &str = r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); return 1; }
    size_t len = strlen(argv[2]);
    if (write(fd, argv[2], len) != (ssize_t)len) { perror("write"); return 1; }
    close(fd);
    return 0;
}
"#;

/// A C server: listens on an ephemeral port, prints `port N`, accepts one client, does a single
/// read() and prints what it got.
#[cfg(unix)]
const C_SERVER: &str = r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("bind"); return 1; }
    if (listen(fd, 1) != 0) { perror("listen"); return 1; }
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) { perror("getsockname"); return 1; }
    printf("port %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    int conn = accept(fd, NULL, NULL);
    if (conn < 0) { perror("accept"); return 1; }
    char buf[256];
    ssize_t n = read(conn, buf, sizeof buf - 1);
    if (n < 0) { perror("read"); return 1; }
    buf[n] = 0;
    printf("read %d bytes: %s\n", (int)n, buf);
    fflush(stdout);
    close(conn);
    close(fd);
    return 0;
}
"#;

#[cfg(unix)]
/// Compiles `source` with `cc` into `dir`; returns the program's path.
async fn compile_c(dir: &TempDir, name: &str, source: &str) -> String {
    let c_file = dir.join(&format!("{name}.c"));
    std::fs::write(&c_file, source).expect("write C source");
    let program = dir.join(name);
    let out = Command::new("cc")
        .args(["-Wall", "-o", &program, &c_file])
        .kill_on_drop(true)
        .output()
        .await
        .expect("run cc (a C compiler is needed for the interop tests)");
    assert!(out.status.success(), "cc failed: {}", text(&out.stderr));
    program
}

#[cfg(unix)] // the C programs use POSIX sockets and `cc`
#[tokio::test]
async fn c_client_is_printed_by_listen_raw() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-c-client");
        let client = compile_c(&dir, "client", C_CLIENT).await;
        let (mut listener, url) =
            listen(&["tcp://127.0.0.1:0", "--framing", "raw", "--count", "1"]).await;
        let port = port_of(&url).to_string();
        let out = Command::new(&client)
            .args([port.as_str(), "hello from C"])
            .kill_on_drop(true)
            .output()
            .await
            .expect("run the C client");
        assert!(out.status.success(), "C client: {}", text(&out.stderr));
        assert_eq!(listener.stdout_lines(1).await, ["hello from C"]);
        let (status, rest) = listener.finish().await;
        assert!(status.success(), "listen exited with {status}");
        assert_eq!(rest, "");
    })
    .await;
}

#[cfg(unix)] // the C programs use POSIX sockets and `cc`
#[tokio::test]
async fn send_raw_is_read_by_a_c_server() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("cli-c-server");
        let server = compile_c(&dir, "server", C_SERVER).await;
        let mut server = Spawned::start(&server, &[] as &[&str]);
        let port = server.stdout_after("port ").await;
        let url = format!("tcp://127.0.0.1:{port}");
        let out = anyipc(&["send", &url, "--framing", "raw", "hello"], b"").await;
        assert!(out.status.success(), "send: {}", text(&out.stderr));
        assert_eq!(
            server.stdout_line().await.as_deref(),
            Some("read 5 bytes: hello")
        );
        let (status, _) = server.finish().await;
        assert!(status.success(), "C server exited with {status}");
    })
    .await;
}

#[test]
fn port_of_reads_urls() {
    assert_eq!(port_of("tcp://127.0.0.1:4242?framing=raw"), 4242);
    assert_eq!(port_of("udp://[::1]:53"), 53);
}

/// `anyipc` raises its soft limit on open descriptors to the hard one, as servers do: a
/// `listen` started under `ulimit -Sn 64` serves 200 connections at once.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_command_raises_its_descriptor_limit_to_the_hard_one() {
    use futures::StreamExt;
    watchdog(60, async {
        crate::util::raise_fd_limit();
        let script = "ulimit -Sn 64; exec \"$0\" listen tcp://127.0.0.1:0 --echo";
        let mut listener = Spawned::start("sh", &["-c", script, anyipc_bin()]);
        let url = listener.stderr_after("listening on ").await;
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", listener.id())).unwrap();
        let line = limits
            .lines()
            .find(|line| line.starts_with("Max open files"))
            .unwrap();
        // "Max open files  SOFT  HARD  files"
        let fields: Vec<&str> = line.split_whitespace().collect();
        let hard: u64 = fields[4].parse().unwrap();
        assert_eq!(
            fields[3].parse::<u64>().unwrap(),
            hard.min(1 << 20),
            "{line}"
        );
        let mut conns = Vec::new();
        for _ in 0..200 {
            conns.push(anyipc::connect(&url).await.unwrap());
        }
        for (i, conn) in conns.iter_mut().enumerate() {
            let msg = bytes::Bytes::from(i.to_string());
            conn.send(msg.clone()).await.unwrap();
            assert_eq!(conn.next().await.unwrap().unwrap(), msg);
        }
    })
    .await;
}
