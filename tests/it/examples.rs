//! Every example pair run as two real processes, as a person would in two terminals: the server
//! on a free port (or a private socket path) with `--once`, then the client.
//!
//! `cargo test` builds the examples beside this test binary (`target/<profile>/examples/`);
//! after `cargo test --test it` alone, run `cargo build --examples` first.

use crate::cli::Spawned;
#[cfg(unix)]
use crate::util::unique_name;
use crate::util::{example, run_example, run_example_with_env, watchdog, TempDir};
#[cfg(unix)]
use std::time::Duration;

/// Seconds any one test may take.
const WATCHDOG: u64 = 60;

/// Starts `name args…` and waits for its `server: listening on URL` line; returns the URL.
async fn start_server(name: &str, args: &[&str]) -> (Spawned, String) {
    let mut server = Spawned::start(example(name), args);
    let url = server.stdout_after("server: listening on ").await;
    (server, url)
}

/// Waits for a `--once` server to finish; returns its stdout after the listening line.
async fn finish_server(server: Spawned) -> String {
    let (status, stdout) = server.finish().await;
    assert!(
        status.success(),
        "server exited with {status}; stdout:\n{stdout}"
    );
    stdout
}

fn assert_contains(output: &str, expected: &[&str]) {
    for line in expected {
        assert!(output.contains(line), "`{line}` missing from:\n{output}");
    }
}

#[tokio::test]
async fn socket_pair() {
    watchdog(WATCHDOG, async {
        let (server, url) = start_server("socket_server", &["tcp://127.0.0.1:0", "--once"]).await;
        assert!(url.starts_with("tcp://127.0.0.1:"), "{url}");
        assert!(!url.ends_with(":0"), "the real port is printed: {url}");
        let client = run_example("socket_client", &[&url]).await;
        assert_contains(
            &client,
            &[
                "client: sending \"hello\"\nclient: reply \"echo: hello\"",
                "client: reply \"echo: from\"",
                "client: reply \"echo: socket_client\"",
                "client: done",
            ],
        );
        let server = finish_server(server).await;
        assert_contains(
            &server,
            &[
                "connected",
                "says \"hello\"",
                "says \"socket_client\"",
                "left",
                "server: bye",
            ],
        );
    })
    .await;
}

#[tokio::test]
async fn socket_client_takes_a_port_and_messages() {
    watchdog(WATCHDOG, async {
        let (server, url) = start_server("socket_server", &["0", "--once"]).await;
        let port = url.rsplit(':').next().expect("a port");
        let client = run_example("socket_client", &[port, "custom message"]).await;
        assert_contains(
            &client,
            &["client: reply \"echo: custom message\"", "client: done"],
        );
        finish_server(server).await;
    })
    .await;
}

#[tokio::test]
async fn udp_pair() {
    watchdog(WATCHDOG, async {
        // The server forgets a quiet client after recv_timeout; --once then ends it.
        let (server, url) = start_server(
            "udp_server",
            &["udp://127.0.0.1:0?recv_timeout=1s", "--once"],
        )
        .await;
        assert!(url.contains("recv_timeout=1s"), "{url}");
        // The client waits for replies with its own (default) timeout.
        let plain = url.split('?').next().expect("a URL");
        let client = run_example("udp_client", &[plain]).await;
        assert_contains(
            &client,
            &[
                "client: reply \"echo: hello\"",
                "client: reply \"echo: udp_client\"",
                "client: done",
            ],
        );
        let server = finish_server(server).await;
        assert_contains(&server, &["says \"hello\"", "went quiet", "server: bye"]);
    })
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn unix_pair() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("example-unix");
        let path = dir.join("example.sock");
        let (server, url) = start_server("unix_server", &[&path, "--once"]).await;
        assert_eq!(url, dir.url("unix", "example.sock"));
        let client = Spawned::start(example("unix_client"), &[&path]);
        let client_pid = client.id();
        let (status, client) = client.finish().await;
        assert!(
            status.success(),
            "unix_client exited with {status}:\n{client}"
        );
        assert_contains(
            &client,
            &[
                "client: reply \"echo: hello\"",
                "client: reply \"echo: unix_client\"",
                "client: done",
            ],
        );
        let server = finish_server(server).await;
        assert_contains(
            &server,
            &[
                &format!("client connected: pid {client_pid}, uid "),
                "got \"hello\"",
                "client left",
                "server: bye",
            ],
        );
        assert!(
            !std::path::Path::new(&path).exists(),
            "the socket file is removed when the server stops"
        );
    })
    .await;
}

/// A socket path holding what a URL would misread (`%`, `?`, `#`, a space) works as a path
/// argument to both examples: they make the endpoint with `Endpoint::from_path`, which
/// escapes it, where pasting the path into `unix://…` gave a URL that fails to parse.
#[cfg(unix)]
#[tokio::test]
async fn unix_pair_at_a_path_a_url_would_misread() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("example-unix-odd");
        let path = dir.join("50% a?b#c.sock");
        let (server, url) = start_server("unix_server", &[&path, "--once"]).await;
        let endpoint = anyipc::Endpoint::parse(&url).unwrap();
        assert_eq!(endpoint.path(), Some(std::path::Path::new(&path)), "{url}");
        let client = Spawned::start(example("unix_client"), &[&path]);
        let (status, client) = client.finish().await;
        assert!(
            status.success(),
            "unix_client exited with {status}:\n{client}"
        );
        assert_contains(&client, &["client: reply \"echo: hello\"", "client: done"]);
        let server = finish_server(server).await;
        assert_contains(&server, &["got \"hello\"", "server: bye"]);
    })
    .await;
}

/// Runs the typed_rpc server and client over `url`; checks every reply.
async fn typed_rpc_over(url: &str) {
    let (server, bound) = start_server("typed_rpc", &["server", url, "--once"]).await;
    let client = run_example("typed_rpc", &["client", &bound]).await;
    assert_contains(
        &client,
        &[
            "-> Sum(42)",
            "-> Text(\"TYPED MESSAGES OVER ANY TRANSPORT\")",
            "-> Error(\"9223372036854775807 + 1 overflows\")",
            "-> Count(4)",
            "client: done",
        ],
    );
    let server = finish_server(server).await;
    assert_contains(
        &server,
        &["request 1 -> Sum(42)", "client left", "server: bye"],
    );
}

#[tokio::test]
async fn typed_rpc_over_tcp() {
    watchdog(WATCHDOG, typed_rpc_over("tcp://127.0.0.1:0")).await;
}

#[cfg(unix)]
#[tokio::test]
async fn typed_rpc_over_unix() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("example-rpc");
        typed_rpc_over(&format!("unix://{}", dir.join("rpc.sock"))).await;
    })
    .await;
}

/// UDP has no close: the `--once` server counts its client gone after `idle_timeout` (2 s by
/// default in the example) of quiet, and exits.
#[tokio::test]
async fn typed_rpc_over_udp_ends_after_its_client() {
    watchdog(WATCHDOG, typed_rpc_over("udp://127.0.0.1:0")).await;
}

/// Sends `signal` to a running example; returns its stdout after what was read, failing
/// unless it exits 0 within 20 s.
#[cfg(unix)]
async fn stop_with(example: Spawned, signal: libc::c_int) -> String {
    let pid = libc::pid_t::try_from(example.id()).expect("a pid");
    // SAFETY: kill has no memory preconditions; `pid` is our child, not yet waited for.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill {pid}");
    let Ok((status, stdout)) =
        tokio::time::timeout(Duration::from_secs(20), example.finish()).await
    else {
        panic!("still running 20 s after signal {signal}")
    };
    assert!(
        status.success(),
        "exited with {status} after signal {signal}; stdout:\n{stdout}"
    );
    stdout
}

/// Starts server example `name args… --once`, connects a client that sends `request` and
/// waits for the answer (so the server is serving it), then sends `signal` with the client
/// still connected: the server must exit 0 at once. Returns the server's stdout and URL.
#[cfg(unix)]
async fn stop_once_server_while_serving(
    name: &str,
    args: &[&str],
    request: &str,
    signal: libc::c_int,
) -> (String, String) {
    let (server, url) = start_server(name, &[args, &["--once"]].concat()).await;
    let mut client = anyipc::connect(&url).await.expect("connect");
    client.send(request.to_owned()).await.expect("send");
    let reply = tokio::time::timeout(Duration::from_secs(10), client.recv())
        .await
        .expect("a reply within 10 s")
        .expect("receive");
    assert!(reply.is_some(), "{name} closed the connection");
    let stdout = stop_with(server, signal).await;
    assert_contains(&stdout, &["server: stopping", "server: bye"]);
    drop(client);
    (stdout, url)
}

#[cfg(unix)]
#[tokio::test]
async fn socket_server_once_stops_on_ctrl_c_while_serving() {
    watchdog(WATCHDOG, async {
        let args = ["tcp://127.0.0.1:0"];
        stop_once_server_while_serving("socket_server", &args, "hi", libc::SIGINT).await;
    })
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn udp_server_once_stops_on_ctrl_c_while_serving() {
    watchdog(WATCHDOG, async {
        let args = ["udp://127.0.0.1:0"];
        stop_once_server_while_serving("udp_server", &args, "hi", libc::SIGINT).await;
    })
    .await;
}

/// An example whose stdout has no reader (`unix_server | head -0`) used to panic at its first
/// line (`println!` on EPIPE); it ends as after any error: a one-line message, status 1, and
/// its socket removed.
#[cfg(unix)]
#[tokio::test]
async fn an_example_whose_stdout_is_gone_ends_with_an_error_and_removes_its_socket() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("example-stdout-gone");
        let path = dir.join("gone.sock");
        let out = tokio::process::Command::new(example("unix_server"))
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .stdout(crate::util::pipe_without_reader())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start unix_server")
            // Not `output()`: it would replace stdout with a pipe of its own.
            .wait_with_output()
            .await
            .expect("run unix_server");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.starts_with("unix_server: cannot write to stdout: Broken pipe"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            !std::path::Path::new(&path).exists(),
            "the socket file is removed"
        );
    })
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn unix_server_once_stops_on_sigterm_while_serving_and_removes_its_socket() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("example-stop-unix");
        let path = dir.join("stop.sock");
        stop_once_server_while_serving("unix_server", &[&path], "hi", libc::SIGTERM).await;
        assert!(
            !std::path::Path::new(&path).exists(),
            "the socket file is removed when the server stops"
        );
    })
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn named_pipe_server_once_stops_on_ctrl_c_while_serving_and_releases_its_name() {
    watchdog(WATCHDOG, async {
        let name = unique_name("example-stop");
        let (_, url) =
            stop_once_server_while_serving("named_pipe_server", &[&name], "hi", libc::SIGINT).await;
        let err = anyipc::connect(&url)
            .await
            .expect_err("the name is released");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
    })
    .await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn shm_server_once_stops_on_ctrl_c_while_serving_and_releases_its_name() {
    watchdog(WATCHDOG, async {
        let name = unique_name("example-stop");
        let (_, url) =
            stop_once_server_while_serving("shm_server", &[&name], "hi", libc::SIGINT).await;
        let err = anyipc::connect(&url)
            .await
            .expect_err("the name is released");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
    })
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn typed_rpc_once_stops_on_a_signal_while_serving() {
    watchdog(WATCHDOG, async {
        for (url, signal) in [
            ("udp://127.0.0.1:0", libc::SIGINT),
            ("tcp://127.0.0.1:0", libc::SIGTERM),
        ] {
            let args = ["server", url];
            let (stdout, _) =
                stop_once_server_while_serving("typed_rpc", &args, r#""Count""#, signal).await;
            assert_contains(&stdout, &["request 1 -> Count(1)"]);
        }
    })
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn fifo_reader_stops_on_sigterm_and_removes_its_fifo() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("example-stop-fifo");
        let path = dir.join("stop.fifo");
        let (reader, _) = start_server("fifo_reader", &[&path]).await;
        let stdout = stop_with(reader, libc::SIGTERM).await;
        assert_contains(&stdout, &["server: bye"]);
        assert!(
            !std::path::Path::new(&path).exists(),
            "the FIFO is removed when the reader stops"
        );
    })
    .await;
}

/// Started without input (as `shm_process1 &` in a script), process 1 keeps its region
/// until process 2 has read it.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn shm_process1_without_input_waits_for_process2() {
    watchdog(WATCHDOG, async {
        let name = unique_name("example-region");
        let mut process1 =
            Spawned::start(example("shm_process1"), &[name.as_str(), "kept for you"]);
        process1.stdout_after("process1: run shm_process2").await;
        process1.close_stdin();
        let next = process1.stdout_line().await.unwrap_or_default();
        assert!(
            next.starts_with("process1: no more input; waiting for shm_process2"),
            "{next}"
        );
        let process2 = run_example("shm_process2", &[&name]).await;
        assert_contains(&process2, &["process2: kept for you"]);
        let rest = finish_server(process1).await;
        assert_contains(&rest, &["process2 read the message", "removing region"]);
        let gone = anyipc::shm::Region::open(&name).expect_err("the region is removed");
        assert_eq!(gone.kind(), std::io::ErrorKind::NotFound, "{gone}");
    })
    .await;
}

/// Without input, SIGTERM (or Ctrl-C) ends process 1, which removes its region.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn shm_process1_without_input_stops_on_sigterm_and_removes_the_region() {
    watchdog(WATCHDOG, async {
        let name = unique_name("example-region");
        let mut process1 = Spawned::start(example("shm_process1"), &[&name]);
        process1.stdout_after("process1: run shm_process2").await;
        process1.close_stdin();
        process1.stdout_after("process1: no more input").await;
        let rest = stop_with(process1, libc::SIGTERM).await;
        assert_contains(&rest, &["stopped by a signal", "removing region"]);
        let gone = anyipc::shm::Region::open(&name).expect_err("the region is removed");
        assert_eq!(gone.kind(), std::io::ErrorKind::NotFound, "{gone}");
    })
    .await;
}

/// Runs example `name args…` with `XDG_RUNTIME_DIR=runtime` to its end; returns its stdout,
/// failing unless it exits 0.
async fn run_in_runtime_dir(name: &str, args: &[&str], runtime: &std::path::Path) -> String {
    run_example_with_env(name, args, &[("XDG_RUNTIME_DIR", runtime.as_os_str())]).await
}

/// `durable_log` run twice without arguments, as the README says: the second run finds the
/// first one's log, numbers its orders on from it and resumes `billing`; `--clean` removes it.
#[tokio::test]
async fn durable_log_run_twice_goes_on_and_cleans_up() {
    watchdog(WATCHDOG, async {
        let runtime = TempDir::new("example-durable");
        let log = runtime.path().join("anyipc-durable-log");
        let first = run_in_runtime_dir("durable_log", &[], runtime.path()).await;
        assert_contains(
            &first,
            &[
                "(0 records in it so far)",
                "billing: starts at record 0",
                "billing: #0 order 1",
                "billing: #8 order 9",
                "billing: caught up at record 9",
                &log.display().to_string(),
            ],
        );
        let second = run_in_runtime_dir("durable_log", &[], runtime.path()).await;
        assert_contains(
            &second,
            &[
                "(9 records in it so far)",
                "producer: 6 orders on disk, up to order 15",
                "billing: starts at record 9",
                "billing: #9 order 10",
                "billing: restarted, resumes at record 13",
                "billing: #17 order 18",
                "billing: caught up at record 18",
            ],
        );
        assert!(
            !second.contains("order 1\n"),
            "the numbering restarted:\n{second}"
        );
        let cleaned = run_in_runtime_dir("durable_log", &["--clean"], runtime.path()).await;
        assert_contains(&cleaned, &["removed the log"]);
        assert!(!log.exists(), "{} is still there", log.display());
    })
    .await;
}

#[tokio::test]
async fn typed_rpc_answers_anyipc_send() {
    watchdog(WATCHDOG, async {
        let (server, url) =
            start_server("typed_rpc", &["server", "tcp://127.0.0.1:0", "--once"]).await;
        let requests = [r#"{"Add":{"a":1,"b":2}}"#, "not json", r#""Count""#];
        let out = tokio::process::Command::new(crate::util::anyipc_bin())
            .args([&["send", url.as_str(), "--expect-reply"], &requests[..]].concat())
            .kill_on_drop(true)
            .output()
            .await
            .expect("run anyipc send");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let replies: Vec<&str> = stdout.lines().collect();
        assert_eq!(replies.len(), 3, "{stdout}");
        assert_eq!(replies[0], r#"{"Sum":3}"#);
        // A message that is no `Request` gets an error reply and the connection goes on.
        assert!(
            replies[1].starts_with(r#"{"Error":"json message: "#),
            "{stdout}"
        );
        assert_eq!(replies[2], r#"{"Count":3}"#);
        finish_server(server).await;
    })
    .await;
}

/// Runs example `name args…` with `MQ=queue` to its end; returns its stdout, failing unless it
/// exits 0.
#[cfg(target_os = "linux")]
async fn run_mq_example(name: &str, args: &[&str], queue: &str) -> String {
    run_example_with_env(name, args, &[("MQ", queue.as_ref())]).await
}

/// `named_pipe_server` with `allow_uids` naming another user refuses this one's client and
/// says so on its stderr: the refusal was logged where no example printed it.
#[cfg(unix)]
#[tokio::test]
async fn named_pipe_server_says_when_allow_uids_refuses_a_client() {
    watchdog(WATCHDOG, async {
        let name = unique_name("example-allow");
        // SAFETY: getuid has no preconditions and cannot fail.
        let other = unsafe { libc::getuid() }.wrapping_add(1);
        let url = format!("pipe://{name}?allow_uids={other}");
        let (mut server, _) = start_server("named_pipe_server", &[&url]).await;
        let client = tokio::process::Command::new(example("named_pipe_client"))
            .arg(&name)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .expect("run named_pipe_client");
        assert!(!client.status.success(), "a refused client succeeded");
        let warning = server
            .stderr_line_with("refused a client not in allow_uids")
            .await;
        assert!(warning.contains(&name), "{warning}");
    })
    .await;
}

/// The classic three queue programs, each its own process: `mq_create` makes a queue that
/// outlives it, `mq_send` puts typed messages in (with priorities), `mq_receive` takes them out
/// — one that started first waits for its message — highest priority first; `--rm` removes it.
/// All three take the queue's name from `MQ`.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn mq_create_send_receive_examples() {
    watchdog(WATCHDOG, async {
        let queue = crate::util::unique_name("mq-example");
        // Named by `MQ`, as mq_send and mq_receive take it.
        let created = run_mq_example("mq_create", &[], &queue).await;
        assert_contains(&created, &[&format!("created mq://{queue}")]);

        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { run_mq_example("mq_receive", &[], &queue).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        run_mq_example("mq_send", &["note", "hello"], &queue).await;
        assert_eq!(waiting.await.unwrap().trim(), "[note] hello");

        run_mq_example("mq_send", &["note", "low"], &queue).await;
        run_mq_example("mq_send", &["alert", "disk full", "9"], &queue).await;
        let first = run_mq_example("mq_receive", &[], &queue).await;
        let second = run_mq_example("mq_receive", &[], &queue).await;
        assert_eq!(first.trim(), "[alert] disk full");
        assert_eq!(second.trim(), "[note] low");

        let removed = run_mq_example("mq_create", &[&queue, "--rm"], &queue).await;
        assert_contains(&removed, &[&format!("removed mq://{queue}")]);
        let gone = tokio::process::Command::new(example("mq_send"))
            .args(["note", "nobody"])
            .env("MQ", &queue)
            .output()
            .await
            .unwrap();
        assert!(
            !gone.status.success(),
            "sending to a removed queue succeeded"
        );
        let said = String::from_utf8_lossy(&gone.stderr);
        assert!(said.contains("create the queue with mq_create"), "{said}");
    })
    .await;
}

/// The priority demo prints its jobs highest priority first, in sending order within one.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn mq_priority_example_orders_by_priority_then_age() {
    watchdog(WATCHDOG, async {
        let out = run_example("mq_priority", &[]).await;
        let received: Vec<&str> = out
            .lines()
            .filter_map(|line| line.strip_prefix("received "))
            .collect();
        assert_eq!(
            received,
            [
                "p20 page the on-call engineer",
                "p20 restart the database",
                "p5  resize thumbnails",
                "p5  rebuild the search index",
                "p0  tidy the logs",
                "p0  send the newsletter",
            ]
        );
    })
    .await;
}

/// `mq_send` and `mq_receive` refuse an `MQ` that is not a queue name with exit status 2 and
/// why, before they connect. The name went into the URL as it was: `MQ='NAME?recv_timeout=1s'`
/// set an option of `mq://NAME` (`mq_receive` took a message from it), `MQ='bad name'` failed
/// only when connecting (exit 1), and an `MQ` that is not Unicode was taken for `demo`.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn mq_examples_refuse_an_mq_that_is_not_a_queue_name() {
    use anyipc::queue::MessageQueue;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    watchdog(WATCHDOG, async {
        // Removed when the test ends, also by a panic.
        let queue = crate::queue::Name::new();
        let made = MessageQueue::create(&queue.0, &Default::default()).expect("create");
        made.try_send(br#"{"kind":"note","text":"kept"}"#, 0)
            .expect("send");
        let dir = TempDir::new("example-mq-name");
        let path = dir.path();
        let with_option = format!("{}?recv_timeout=1s", queue.0);
        let with_option = OsStr::new(&with_option);
        let not_unicode = OsStr::from_bytes(b"q\xff");
        let question = "'?' is not allowed";
        let cases: [(&str, &[&str], &OsStr, &str); 6] = [
            ("mq_receive", &[], with_option, question),
            ("mq_send", &["note", "hi"], with_option, question),
            (
                "mq_receive",
                &[],
                OsStr::new("bad name"),
                "' ' is not allowed",
            ),
            (
                "mq_send",
                &["note", "hi", "3"],
                OsStr::new("-q"),
                "may not start with",
            ),
            ("mq_receive", &[], not_unicode, "it is not Unicode"),
            ("mq_send", &["note", "hi"], not_unicode, "it is not Unicode"),
        ];
        let runs = cases.iter().map(|(name, args, mq, why)| async move {
            let (code, stderr) = run_in(name, args, path, &[("MQ", mq)]).await;
            let said = stderr.contains(&format!("{name}: MQ={mq:?} is not a queue name: "))
                && stderr.contains(why);
            (code != Some(2) || !said)
                .then(|| format!("{name} {args:?} MQ={mq:?}: exit {code:?}, stderr: {stderr}"))
        });
        let failures = failures_of(runs).await;
        let left = made.attributes().len;
        assert!(
            failures.is_empty() && left == 1,
            "{left} message(s) left of 1\n{}",
            failures.join("\n")
        );
    })
    .await;
}

/// Runs example `name args…` in `dir` — its working directory, `TMPDIR` and `XDG_RUNTIME_DIR`,
/// so that any file, FIFO, socket or name it makes lands there — with `env` added and stdin
/// from /dev/null, killing it after 10 s. Returns its exit code (`None` when it was killed or
/// died of a signal) and its stderr.
async fn run_in(
    name: &str,
    args: &[&str],
    dir: &std::path::Path,
    env: &[(&str, &std::ffi::OsStr)],
) -> (Option<i32>, String) {
    let (code, _stdout, stderr) = run_in_with_stdout(name, args, dir, env).await;
    (code, stderr)
}

/// As [`run_in`], also giving what the example printed on stdout.
async fn run_in_with_stdout(
    name: &str,
    args: &[&str],
    dir: &std::path::Path,
    env: &[(&str, &std::ffi::OsStr)],
) -> (Option<i32>, String, String) {
    let run = tokio::process::Command::new(example(name))
        .args(args)
        .current_dir(dir)
        .env("TMPDIR", dir)
        .env("XDG_RUNTIME_DIR", dir)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(std::time::Duration::from_secs(10), run).await {
        Ok(out) => {
            let out = out.expect("run example");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            (out.status.code(), stdout, stderr)
        }
        Err(_) => (
            None,
            String::new(),
            "(still running after 10 s; killed)".to_owned(),
        ),
    }
}

/// Whether `dir` holds nothing; otherwise what it holds.
fn left_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read the temp dir")
        .map(|entry| {
            entry
                .expect("a dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Runs the checks `runs` together; what each found wrong, if anything.
async fn failures_of(
    runs: impl IntoIterator<Item = impl std::future::Future<Output = Option<String>>>,
) -> Vec<String> {
    futures::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// An argument starting with `-` that an example does not know is a usage error (exit status
/// 2, with the usage line) found before anything is bound or created, never a path or name:
/// `fifo_reader --once` made a FIFO named `--once`, `file_producer --bogus` a file named
/// `--bogus`, `unix_server --bogus` a socket, and `mq_create` and `typed_rpc` ignored it.
/// `fifo_reader` and `file_consumer` have no `--once` and say so. So is a second path, URL,
/// name or port where an example takes one (`unix_server a.sock b.sock` listened on
/// `b.sock`), and anything after what an example takes (`shm_process2 NAME extra`).
#[tokio::test]
async fn examples_refuse_an_unknown_option_and_create_nothing() {
    watchdog(WATCHDOG, async {
        let queue = crate::util::unique_name("example-refused");
        let unknown = "unknown option --bogus; usage: ";
        let no_once = "has no clients to count for --once";
        let extra = "unexpected argument \"b\"; usage: ";
        #[allow(unused_mut)] // extended on Unix
        let mut cases: Vec<(&str, Vec<&str>, &str)> = vec![
            ("socket_server", vec!["--bogus"], unknown),
            ("socket_client", vec!["--bogus"], unknown),
            ("udp_server", vec!["--bogus", "--once"], unknown),
            ("udp_client", vec!["--bogus"], unknown),
            ("named_pipe_server", vec!["--bogus"], unknown),
            ("named_pipe_client", vec!["--bogus"], unknown),
            ("file_consumer", vec!["--bogus"], unknown),
            ("file_consumer", vec!["--once"], no_once),
            (
                "file_producer",
                vec!["--bogus", "--interval-ms", "0"],
                unknown,
            ),
            ("durable_log", vec!["--bogus"], unknown),
            ("typed_rpc", vec!["server", "--bogus"], unknown),
            ("typed_rpc", vec!["client", "--bogus"], unknown),
            ("mq_create", vec![queue.as_str(), "--bogus"], unknown),
            ("mq_send", vec!["--bogus", "text"], unknown),
            (
                "mq_send",
                vec!["note", "hi", "32"],
                "PRIORITY is a number from 0 to 31",
            ),
            (
                "mq_send",
                vec!["note", "hi", "1&capacity=5"],
                "PRIORITY is a number from 0 to 31",
            ),
            (
                "mq_send",
                vec!["note", "hi", "1", "--bogus"],
                "unexpected argument",
            ),
            ("mq_receive", vec!["--bogus"], unknown),
            ("mq_priority", vec!["--bogus"], unknown),
            ("socket_server", vec!["0", "b"], extra),
            ("udp_server", vec!["0", "--once", "b"], extra),
            ("named_pipe_server", vec![queue.as_str(), "b"], extra),
            ("file_consumer", vec!["a", "b", "--no-follow"], extra),
            ("file_producer", vec!["a", "b"], extra),
            ("durable_log", vec!["a", "b"], extra),
            ("mq_create", vec![queue.as_str(), "b"], extra),
        ];
        #[cfg(unix)]
        cases.extend([
            ("fifo_reader", vec!["--bogus"], unknown),
            ("fifo_reader", vec!["--once"], no_once),
            ("fifo_writer", vec!["--bogus"], unknown),
            ("unix_server", vec!["--bogus", "--once"], unknown),
            ("unix_client", vec!["--bogus"], unknown),
            (
                "pipe_parent",
                vec!["--stdoi"],
                "unknown option --stdoi; usage: ",
            ),
            ("pipe_child", vec!["--bogus"], unknown),
            ("fifo_reader", vec!["a", "--count", "1", "b"], extra),
            ("unix_server", vec!["a.sock", "b"], extra),
        ]);
        #[cfg(target_os = "linux")]
        cases.extend([
            ("shm_server", vec!["--bogus"], unknown),
            ("shm_client", vec!["--bogus"], unknown),
            ("shm_process1", vec!["--bogus"], unknown),
            ("shm_process2", vec!["--bogus"], unknown),
            ("shm_server", vec![queue.as_str(), "b"], extra),
            ("shm_process1", vec![queue.as_str(), "message", "b"], extra),
            ("shm_process2", vec![queue.as_str(), "b"], extra),
        ]);
        let queue_env = [("MQ", std::ffi::OsStr::new(&queue))];
        let runs = cases.iter().map(|(name, args, expected)| async move {
            let dir = TempDir::new("example-refused");
            let (code, stderr) = run_in(name, args, dir.path(), &queue_env).await;
            let left = left_in(dir.path());
            let said = stderr.contains(&format!("{name}: ")) && stderr.contains(expected);
            (code != Some(2) || !said || !left.is_empty())
                .then(|| format!("{name} {args:?}: exit {code:?}, left {left:?}, stderr: {stderr}"))
        });
        let failures = failures_of(runs).await;
        // `mq_create NAME --bogus` made no queue.
        #[cfg(target_os = "linux")]
        let made_queue = anyipc::queue::MessageQueue::remove(&queue).is_ok();
        #[cfg(not(target_os = "linux"))]
        let made_queue = false;
        assert!(
            failures.is_empty() && !made_queue,
            "mq_create made mq://{queue}: {made_queue}\n{}",
            failures.join("\n")
        );
    })
    .await;
}

/// Every example answers `--help` (and `-h`) with its usage line on stdout and exit status 0,
/// before it binds, creates or connects anything. Before, `--help` was refused like any
/// unknown option (exit status 2, "unknown option --help").
#[tokio::test]
async fn examples_answer_help_with_their_usage_line() {
    watchdog(WATCHDOG, async {
        #[allow(unused_mut)] // extended on Unix
        let mut cases: Vec<(&str, Vec<&str>)> = vec![
            ("socket_server", vec!["--help"]),
            ("socket_client", vec!["-h"]),
            ("udp_server", vec!["--help"]),
            ("udp_client", vec!["--help"]),
            ("named_pipe_server", vec!["--help"]),
            ("named_pipe_client", vec!["--help"]),
            ("file_consumer", vec!["--help"]),
            ("file_producer", vec!["--help"]),
            ("durable_log", vec!["--help"]),
            ("typed_rpc", vec!["--help"]),
            ("typed_rpc", vec!["server", "--help"]),
            ("typed_rpc", vec!["client", "-h"]),
            ("mq_create", vec!["--help"]),
            ("mq_send", vec!["--help"]),
            ("mq_receive", vec!["--help"]),
            ("mq_priority", vec!["--help"]),
        ];
        #[cfg(unix)]
        cases.extend([
            ("fifo_reader", vec!["--help"]),
            ("fifo_writer", vec!["--help"]),
            ("unix_server", vec!["--help"]),
            ("unix_client", vec!["--help"]),
            ("pipe_parent", vec!["--help"]),
            ("pipe_child", vec!["--help"]),
        ]);
        #[cfg(target_os = "linux")]
        cases.extend([
            ("shm_server", vec!["--help"]),
            ("shm_client", vec!["--help"]),
            ("shm_process1", vec!["--help"]),
            ("shm_process2", vec!["--help"]),
        ]);
        let runs = cases.iter().map(|(name, args)| async move {
            let dir = TempDir::new("example-help");
            let (code, stdout, stderr) = run_in_with_stdout(name, args, dir.path(), &[]).await;
            let left = left_in(dir.path());
            let usage = format!("usage: {name}");
            (code != Some(0) || !stdout.starts_with(&usage) || !left.is_empty()).then(|| {
                format!("{name} {args:?}: exit {code:?}, left {left:?}, stdout: {stdout}, stderr: {stderr}")
            })
        });
        let failures = failures_of(runs).await;
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    })
    .await;
}

/// `typed_rpc` refuses, server and client alike, a URL on which no reply can come back
/// (`fifo://`, `file://`, the shared queue `mq://`), that no other process can reach
/// (`mem://`) or on which no server accepts connections (`stdio://`, the child's side of its
/// parent's pipes): exit status 2 and why, before it binds or connects. Before, over `mq://`
/// the client read back its own request ("unknown variant `Add`") and the `--once` server kept
/// running; `fifo://` and `file://` failed with confusing errors, and `stdio://` failed to
/// bind (exit status 1).
#[tokio::test]
async fn typed_rpc_refuses_urls_without_a_way_back() {
    watchdog(WATCHDOG, async {
        let dir = TempDir::new("example-rpc-one-way");
        let path = dir.path();
        #[allow(unused_mut)] // extended on Unix
        #[cfg_attr(not(unix), allow(clippy::useless_vec))] // a Vec for the pushes on Unix
        let mut urls = vec![
            (
                format!("file://{}", dir.join("rpc.txt")),
                "carries messages one way only",
            ),
            ("mem://rpc".to_owned(), "lives inside one process"),
            (
                "stdio://".to_owned(),
                "is only the child's side of the pipes its parent process spawned it with: no \
                 server can accept connections on it",
            ),
        ];
        #[cfg(unix)]
        urls.push((
            format!("fifo://{}", dir.join("rpc.fifo")),
            "carries messages one way only",
        ));
        // A queue that is there, as after `mq_create`.
        #[cfg(target_os = "linux")]
        let queue = {
            // Removed when the test ends, also by a panic.
            let queue = crate::queue::Name::new();
            anyipc::queue::MessageQueue::create(&queue.0, &Default::default()).expect("create");
            urls.push((format!("mq://{}", queue.0), "is one shared queue"));
            queue
        };
        let runs = urls.iter().flat_map(|(url, why)| {
            [vec!["server", url, "--once"], vec!["client", url]].map(|args| async move {
                let (code, stderr) = run_in("typed_rpc", &args, path, &[]).await;
                let said = stderr.contains(why)
                    && stderr.contains("request and reply need a two-way URL: tcp://");
                (code != Some(2) || !said)
                    .then(|| format!("typed_rpc {args:?}: exit {code:?}, stderr: {stderr}"))
            })
        });
        let failures = failures_of(runs).await;
        #[cfg(target_os = "linux")]
        {
            let opened = anyipc::queue::MessageQueue::open(&queue.0).expect("open the queue");
            assert_eq!(
                opened.attributes().len,
                0,
                "nothing was sent into the queue"
            );
        }
        let left = left_in(dir.path());
        assert!(
            failures.is_empty() && left.is_empty(),
            "left {left:?}\n{}",
            failures.join("\n")
        );
    })
    .await;
}
