//! `pipe://name`: the runtime directory and modes (under umask 000), peer credentials and
//! `allow_uids`, live and stale names, kill -9 on either side, and 1,000 concurrent clients.
//! The general cases are in the conformance suite (`conformance::pipe::`). On Windows
//! (named pipes) the cases that do not need the Unix runtime directory, modes, credentials
//! or socket files run too: names, kill -9 on either side, 1,000 clients, the examples.

#[cfg(unix)]
use crate::util::TempDir;
use crate::util::{example, run_example, unique_name, watchdog, HelperChild, Names};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::io;
#[cfg(unix)]
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const ROLE_VAR: &str = "ANYIPC_TEST_PIPE_ROLE";
const URL_VAR: &str = "ANYIPC_TEST_PIPE_URL";
const URL2_VAR: &str = "ANYIPC_TEST_PIPE_URL2";
const READY: &str = "pipe-helper ready";

/// Seconds the 1,000-client test runs: 30, the figure, unless `ANYIPC_STRESS_SECS`
/// says otherwise (`ANYIPC_STRESS_SECS=5 cargo test` for a shorter local run).
fn stress_secs() -> u64 {
    std::env::var("ANYIPC_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
}

/// A helper process: this test binary running only `pipe::pipe_process_entry` in `role`.
/// Killed when dropped; then the names it bound are reclaimed and removed ([`Names`]).
struct Helper {
    child: HelperChild,
}

impl Helper {
    /// Starts the helper (through `sh` with umask 000 when `umask0`) and waits for it to be
    /// ready. `envs` are added to its environment.
    async fn start(role: &str, envs: &[(&str, &str)], umask0: bool) -> Helper {
        let exe = std::env::current_exe().expect("test binary path");
        let args = [
            "pipe::pipe_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ];
        let mut command = if umask0 {
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg("umask 000; exec \"$0\" \"$@\"")
                .arg(exe)
                .args(args);
            sh
        } else {
            let mut command = Command::new(exe);
            command.args(args);
            command
        };
        command
            .env(ROLE_VAR, role)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its names, unless it has a runtime directory of its own (in a `TempDir`).
        let bound = match envs.iter().any(|(key, _)| *key == "XDG_RUNTIME_DIR") {
            true => Names::none(),
            false if role == "echo" => Names::of(
                envs.iter()
                    .filter(|(key, _)| [URL_VAR, URL2_VAR].contains(key))
                    .map(|(_, url)| *url),
            ),
            false => Names::none(), // it connects to this process's listener
        };
        let mut child = HelperChild::new(command.spawn().expect("spawn helper"), bound);
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        loop {
            match lines.next_line().await.expect("helper stderr") {
                Some(line) if line.starts_with(READY) => break,
                Some(line) => eprintln!("helper: {line}"),
                None => panic!("helper {role} exited before it was ready"),
            }
        }
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("helper: {line}");
            }
        });
        Helper { child }
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("helper still running")
    }

    async fn kill(&mut self) {
        self.child.kill().await.expect("kill helper");
    }
}

/// The helper's body. A no-op in an ordinary test run.
#[test]
fn pipe_process_entry() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(300), helper_role(&role)).await;
    });
    std::process::exit(0);
}

async fn helper_role(role: &str) {
    let url = std::env::var(URL_VAR).expect("helper URL");
    match role {
        // Bind URL (and URL2 if given), then echo every connection on URL.
        "echo" => {
            let mut listener = anyipc::bind(&url).await.expect("helper bind");
            let _second = match std::env::var(URL2_VAR) {
                Ok(url2) => Some(anyipc::bind(&url2).await.expect("helper bind URL2")),
                Err(_) => None,
            };
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
        // Connect and send 1 MiB messages until killed.
        "flood" => {
            let mut conn = anyipc::connect(&url).await.expect("helper connect");
            eprintln!("{READY}");
            let msg = Bytes::from(vec![0x5a; 1 << 20]);
            while conn.send(msg.clone()).await.is_ok() {}
        }
        other => panic!("unknown helper role {other}"),
    }
}

/// The open descriptors of process `pid`: number and what it refers to (`socket:[…]`, a
/// path). Empty without a /proc (off Linux).
fn open_fds(pid: u32) -> std::collections::BTreeSet<(String, String)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Default::default();
    };
    dir.flatten()
        .map(|entry| {
            let target = std::fs::read_link(entry.path()).unwrap_or_default();
            let number = entry.file_name().to_string_lossy().into_owned();
            (number, target.display().to_string())
        })
        .collect()
}

#[cfg(unix)]
fn my_uid() -> u32 {
    std::fs::metadata("/proc/self").expect("/proc/self").uid()
}

#[cfg(unix)]
#[tokio::test]
async fn modes_are_owner_only_under_umask_000() {
    watchdog(60, async {
        let runtime = TempDir::new("pipe-xdg");
        let fifo = runtime.join("app.fifo");
        let xdg = runtime.path().display().to_string();
        let url2 = format!("fifo://{fifo}");
        let mut helper = Helper::start(
            "echo",
            &[
                ("XDG_RUNTIME_DIR", &xdg),
                (URL_VAR, "pipe://modes"),
                (URL2_VAR, &url2),
            ],
            true,
        )
        .await;
        let dir = runtime.path().join("anyipc");
        let dir_meta = std::fs::symlink_metadata(&dir).unwrap();
        assert!(dir_meta.is_dir());
        assert_eq!(dir_meta.mode() & 0o7777, 0o700, "runtime dir");
        let socket = std::fs::symlink_metadata(dir.join("modes")).unwrap();
        assert!(socket.file_type().is_socket());
        assert_eq!(socket.mode() & 0o7777, 0o600, "socket");
        let lock = std::fs::symlink_metadata(dir.join(".modes.lock")).unwrap();
        assert_eq!(lock.mode() & 0o7777, 0o600, "lock file");
        let fifo = std::fs::symlink_metadata(&fifo).unwrap();
        assert!(fifo.file_type().is_fifo());
        assert_eq!(fifo.mode() & 0o7777, 0o600, "fifo");
        helper.kill().await;
    })
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn an_unsafe_runtime_dir_is_refused() {
    watchdog(60, async {
        let runtime = TempDir::new("pipe-xdg");
        let dir = runtime.path().join("anyipc");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // The runtime directory comes from the environment, so ask a separate process.
        let output = Command::new(crate::util::anyipc_bin())
            .args(["listen", "pipe://unsafe-dir"])
            .env("XDG_RUNTIME_DIR", runtime.path())
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("mode 0700"), "{stderr}");
        assert!(!dir.join("unsafe-dir").exists());
    })
    .await;
}

/// A runtime directory and index of logs its owner cannot enter (`0600`: what `mkdir 0700`
/// under umask 177 leaves, as anyipc did before it `chmod`ed them) get the owner's bits back
/// at the next use, and that use works: a `pipe://` bind and a `file://` log's first writer
/// (which lists the log in the index). As an ordinary user (`nobody` when the tests run as
/// root, whom a 0600 directory does not stop).
#[cfg(unix)]
#[tokio::test]
async fn a_runtime_dir_its_owner_cannot_enter_is_given_back_its_owner_bits() {
    watchdog(60, async {
        let anyipc = crate::util::SharedAnyipc::new("pipe-0600");
        let runtime = anyipc.dir().join("run");
        let as_user = |args: &[&str]| {
            let mut command = Command::new(anyipc.bin());
            command
                .args(args)
                .env("XDG_RUNTIME_DIR", &runtime)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            crate::util::unprivileged(&mut command);
            command
        };
        let mut listen = as_user(&["listen", "pipe://owner-bits", "--count", "1"]);
        // Whom the commands run as (the call again changes nothing).
        let uid = crate::util::unprivileged(&mut listen);
        let dir = runtime.join("anyipc");
        let index = dir.join("logs");
        for made in [&runtime, &dir, &index] {
            crate::util::private_dir_of(made, uid);
        }
        for made in [&index, &dir] {
            std::fs::set_permissions(made, std::fs::Permissions::from_mode(0o600)).unwrap();
        }

        let mut listen = listen.spawn().unwrap();
        let mut err = BufReader::new(listen.stderr.take().unwrap()).lines();
        let line = err.next_line().await.unwrap();
        assert!(
            line.as_deref()
                .is_some_and(|l| l.starts_with("listening on")),
            "{line:?}"
        );
        let mode = std::fs::symlink_metadata(&dir).unwrap().mode();
        assert_eq!(mode & 0o7777, 0o700, "{}", dir.display());
        let sent = as_user(&["send", "pipe://owner-bits", "through"])
            .output()
            .await
            .unwrap();
        assert!(sent.status.success(), "{sent:?}");
        let listened = listen.wait_with_output().await.unwrap();
        assert!(listened.status.success(), "{listened:?}");
        assert_eq!(String::from_utf8_lossy(&listened.stdout), "through\n");

        let log = anyipc.dir().join("log");
        crate::util::private_dir_of(&log, uid);
        let log_url = format!("file://{}", log.display());
        let appended = as_user(&["send", &log_url, "one"]).output().await.unwrap();
        assert!(appended.status.success(), "{appended:?}");
        let mode = std::fs::symlink_metadata(&index).unwrap().mode();
        assert_eq!(mode & 0o7777, 0o700, "{}", index.display());
        assert_eq!(
            std::fs::read_dir(&index).unwrap().count(),
            1,
            "the log is listed"
        );
    })
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn peer_credentials_and_allow_uids() {
    watchdog(60, async {
        let name = unique_name("creds");
        let uid = my_uid();
        // A client of an allowed user gets through, with its credentials.
        let mut listener = anyipc::bind(format!("pipe://{name}?allow_uids={uid}"))
            .await
            .unwrap();
        let mut client = anyipc::connect(format!("pipe://{name}")).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        let creds = server.peer_credentials().expect("peer credentials");
        assert_eq!(creds.uid, uid);
        assert_eq!(creds.pid, Some(std::process::id()));
        let server_creds = client.peer_credentials().expect("server credentials");
        assert_eq!(server_creds.uid, uid);
        client.send("hi").await.unwrap();
        assert_eq!(server.recv().await.unwrap().unwrap(), "hi");
        drop((listener, server, client));

        // Another user is dropped at accept: it never becomes a connection, and its client
        // sees the end of the stream.
        let name = unique_name("creds");
        let mut listener = anyipc::bind(format!("pipe://{name}?allow_uids={}", uid + 1))
            .await
            .unwrap();
        let mut client = anyipc::connect(format!("pipe://{name}")).await.unwrap();
        let _ = client.send("let me in").await;
        let accepted = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        assert!(accepted.is_err(), "a refused client was accepted");
        match client.recv().await {
            Ok(None) => {}
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}"),
            Ok(Some(msg)) => panic!("a refused client got {msg:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn live_names_are_refused_and_dead_ones_reclaimed() {
    watchdog(60, async {
        let name = unique_name("live");
        let url = format!("pipe://{name}");
        let listener = anyipc::bind(&url).await.unwrap();
        let err = anyipc::bind(&url).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        drop(listener);
        let err = anyipc::connect(&url).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");

        // A server killed with SIGKILL leaves its socket; the next bind reclaims the name.
        let mut helper = Helper::start("echo", &[(URL_VAR, &url)], false).await;
        let err = anyipc::bind(&url).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        helper.kill().await;
        let err = anyipc::connect(&url).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut client = anyipc::connect(&url).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        client.send("reclaimed").await.unwrap();
        assert_eq!(server.recv().await.unwrap().unwrap(), "reclaimed");
    })
    .await;
}

#[tokio::test]
async fn bad_names_are_refused_with_the_rule() {
    for bad in [
        "pipe://",
        "pipe://a/b",
        "pipe://.hidden",
        &format!("pipe://{}", "n".repeat(65)),
    ] {
        let err = anyipc::bind(bad).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}: {err}");
    }
}

#[tokio::test]
async fn kill_9_of_the_server_is_seen_within_a_second() {
    watchdog(60, async {
        let url = format!("pipe://{}", unique_name("kill-server"));
        let mut helper = Helper::start("echo", &[(URL_VAR, &url)], false).await;
        let mut client = anyipc::connect(&url).await.unwrap();
        client.send("ping").await.unwrap();
        assert_eq!(client.recv().await.unwrap().unwrap(), "ping");
        helper.kill().await;
        let end = tokio::time::timeout(Duration::from_secs(1), client.recv())
            .await
            .expect("no error or end within 1 s of the server's death");
        match end {
            Ok(None) => {}
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}"),
            Ok(Some(msg)) => panic!("got {msg:?} from a dead server"),
        }
        let err = client.send("anyone?").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
    })
    .await;
}

#[tokio::test]
async fn kill_9_of_a_client_mid_message_is_seen_within_a_second() {
    watchdog(60, async {
        let url = format!("pipe://{}", unique_name("kill-client"));
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut helper = Helper::start("flood", &[(URL_VAR, &url)], false).await;
        let mut server = listener.accept().await.unwrap();
        // Read one whole message and then only wait: the client blocks mid-message.
        assert_eq!(server.recv().await.unwrap().unwrap().len(), 1 << 20);
        helper.kill().await;
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let next = tokio::time::timeout_at(deadline.into(), server.recv())
                .await
                .expect("no error or end within 1 s of the client's death");
            match next {
                Ok(Some(msg)) => assert_eq!(msg.len(), 1 << 20, "a torn message"),
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
                    break;
                }
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_clients_nothing_lost_and_fds_back() {
    // 1,000 clients here and 1,000 connections in the server, which inherits the limit.
    crate::util::raise_fd_limit();
    let secs = stress_secs();
    watchdog(secs + 120, async move {
        const CLIENTS: u32 = 1000;
        let url = format!("pipe://{}", unique_name("thousand"));
        let mut helper = Helper::start("echo", &[(URL_VAR, &url)], false).await;
        let server_pid = helper.pid();
        // Counted where /proc lists them (Linux); elsewhere both sets are empty.
        let fds_at_start = open_fds(server_pid);
        assert_eq!(fds_at_start.is_empty(), !cfg!(target_os = "linux"));
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut clients = Vec::new();
        for id in 0..CLIENTS {
            let url = url.clone();
            clients.push(tokio::spawn(async move {
                let mut conn = anyipc::connect(&url).await.expect("connect");
                let mut seq = 0u64;
                while Instant::now() < deadline || seq == 0 {
                    let mut msg = [id.to_be_bytes().as_slice(), &seq.to_be_bytes()].concat();
                    msg.resize(12 + (seq % 200) as usize, (id as u64 ^ seq) as u8);
                    conn.send(msg.clone()).await.expect("send");
                    let echo = conn.recv().await.expect("recv").expect("server closed");
                    assert_eq!(
                        echo, msg,
                        "client {id} message {seq}: lost, duplicated or corrupt"
                    );
                    seq += 1;
                }
                conn.close().await.expect("close");
                assert!(conn.recv().await.expect("recv after close").is_none());
                seq
            }));
        }
        let mut total = 0;
        for client in clients {
            total += client.await.expect("client task");
        }
        eprintln!("{CLIENTS} clients exchanged {total} messages in {secs} s");
        // Every connection the server accepted is closed again: nothing is open that was
        // not open at the start. (One open then may have closed since: a loaded machine once
        // caught the helper with one descriptor more, for a moment, right after it was ready.)
        let settle = Instant::now() + Duration::from_secs(10);
        loop {
            let now = open_fds(server_pid);
            let new: Vec<_> = now.difference(&fds_at_start).collect();
            if new.is_empty() {
                break;
            }
            assert!(
                Instant::now() < settle,
                "server fds: {} at start, {} after every client left; new: {new:?}",
                fds_at_start.len(),
                now.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        helper.kill().await;
    })
    .await;
}

/// Starts an example server and waits for its `server: listening on` line.
pub(crate) async fn start_example_server(name: &str, args: &[&str]) -> Child {
    let mut server = Command::new(example(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start example server");
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    loop {
        match lines.next_line().await.expect("server stdout") {
            Some(line) if line.starts_with("server: listening on ") => break,
            Some(_) => {}
            None => panic!("{name} exited before listening"),
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    server
}

#[tokio::test]
async fn named_pipe_example_pair() {
    watchdog(60, async {
        let name = unique_name("example");
        let server = start_example_server("named_pipe_server", &[&name, "--once"]).await;
        // Should the test fail before the server's end, its name goes with it.
        let mut server = HelperChild::new(server, Names::of([format!("pipe://{name}")]));
        let client = run_example("named_pipe_client", &[&name, "one", "two"]).await;
        assert!(client.contains("client: reply \"echo: one\""), "{client}");
        assert!(client.contains("client: reply \"echo: two\""), "{client}");
        assert!(server.wait().await.unwrap().success());
    })
    .await;
}

/// `anyipc listen URL` with `XDG_RUNTIME_DIR` set: its exit status and stderr.
#[cfg(unix)]
async fn listen_with_runtime_dir(runtime: &std::path::Path, url: &str) -> (bool, String) {
    let output = Command::new(crate::util::anyipc_bin())
        .args(["listen", url])
        .env("XDG_RUNTIME_DIR", runtime)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[cfg(unix)]
#[tokio::test]
async fn a_file_or_symlink_in_place_of_the_socket_or_directory_is_refused() {
    watchdog(60, async {
        // A regular file where the socket goes.
        let runtime = TempDir::new("pipe-xdg");
        let dir = runtime.path().join("anyipc");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(dir.join("taken"), b"precious").unwrap();
        let (ok, stderr) = listen_with_runtime_dir(runtime.path(), "pipe://taken").await;
        assert!(!ok);
        assert!(stderr.contains("is not a socket"), "{stderr}");
        assert_eq!(std::fs::read(dir.join("taken")).unwrap(), b"precious");

        // A symlink in place of the runtime directory, even to a private directory.
        let runtime = TempDir::new("pipe-xdg");
        let elsewhere = runtime.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, runtime.path().join("anyipc")).unwrap();
        let (ok, stderr) = listen_with_runtime_dir(runtime.path(), "pipe://linked").await;
        assert!(!ok);
        assert!(stderr.contains("a symlink"), "{stderr}");
        assert!(!elsewhere.join("linked").exists());
    })
    .await;
}

/// A live server keeps its name even when its lock file is deleted under it (a tmp cleaner,
/// a user's `rm`): a second bind finds the socket answering and is refused `AddrInUse`; the
/// first server goes on serving, and once it is gone the name binds again.
#[cfg(unix)]
#[tokio::test]
async fn a_live_server_whose_lock_file_was_removed_keeps_its_name() {
    watchdog(60, async {
        let name = unique_name("lock-removed");
        let url = format!("pipe://{name}");
        let mut first = anyipc::bind(&url).await.unwrap();
        let lock = crate::util::runtime_dir().join(format!(".{name}.lock"));
        std::fs::remove_file(&lock).unwrap();
        let err = anyipc::bind(&url).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert!(err.to_string().contains("live server"), "{err}");
        let mut client = anyipc::connect(&url).await.unwrap();
        // The refused bind's probe connected too; its connection ends at once.
        let mut server = loop {
            let mut accepted = first.accept().await.unwrap();
            client.send("still here").await.unwrap();
            match tokio::time::timeout(Duration::from_secs(5), accepted.recv()).await {
                Ok(Ok(Some(msg))) => {
                    assert_eq!(msg, "still here");
                    break accepted;
                }
                Ok(Ok(None)) => continue,
                other => panic!("{other:?}"),
            }
        };
        server.send("served").await.unwrap();
        assert_eq!(client.recv().await.unwrap().unwrap(), "served");
        drop((client, server, first));
        let again = anyipc::bind(&url).await.unwrap();
        drop(again);
    })
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_name_ending_in_lock_does_not_collide_with_another_names_lock() {
    watchdog(60, async {
        let name = unique_name("collide");
        let mut plain = anyipc::bind(format!("pipe://{name}")).await.unwrap();
        let mut dotted = anyipc::bind(format!("pipe://{name}.lock")).await.unwrap();
        for (listener, url) in [
            (&mut plain, format!("pipe://{name}")),
            (&mut dotted, format!("pipe://{name}.lock")),
        ] {
            let mut client = anyipc::connect(&url).await.unwrap();
            let mut server = listener.accept().await.unwrap();
            client.send(url.clone()).await.unwrap();
            assert_eq!(server.recv().await.unwrap().unwrap(), url);
        }
    })
    .await;
}

// `unix:///path` (no test file of its own): racing binds over a dead server's socket, a full
// accept queue, and a listener that fails after its socket file is in place.

/// Leaves a dead server's socket file at `path`: a stream socket bound there that never
/// listens, so connecting is refused as it is once a server died. (A listener bound and closed
/// would do, but a process that another test forks meanwhile keeps a copy of every descriptor
/// until it execs, and would keep that one listening for a moment.)
#[cfg(unix)]
fn dead_server_socket(path: &std::path::Path) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: socket has no preconditions.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
    // SAFETY: socket returned a new descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_un is plain data, for which all zero bytes are a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    assert!(bytes.len() < addr.sun_path.len(), "socket path too long");
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `addr` is an initialised sockaddr_un whose size is passed with it, and `socket`
    // is open for the duration of the call.
    let rc = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            std::ptr::addr_of!(addr).cast::<libc::sockaddr>(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "bind: {}", io::Error::last_os_error());
    drop(socket);
    assert!(std::fs::symlink_metadata(path)
        .unwrap()
        .file_type()
        .is_socket());
}

/// A dead server's socket that belongs to another user, in a sticky shared directory like
/// `/tmp`, is not ours to replace (`AlreadyExists`, the socket left alone): at 0600 the probe
/// may not connect, at 0666 the socket may not be removed. The binder runs as `nobody`, so
/// only root can run it (and make the socket another user's).
#[cfg(unix)]
#[tokio::test]
async fn a_dead_socket_of_another_user_is_not_replaced() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    watchdog(60, async {
        let anyipc = crate::util::SharedAnyipc::new("unix-other-user");
        let dir = anyipc.dir().join("sticky");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        for (mode, says) in [(0o600, "may not connect to"), (0o666, "cannot be removed")] {
            let path = dir.join(format!("s{mode:o}"));
            dead_server_socket(&path);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let mut command = Command::new(anyipc.bin());
            command
                .args(["listen", &format!("unix://{}", path.display())])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            crate::util::unprivileged(&mut command);
            let output = command.output().await.unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "{stderr}");
            assert!(stderr.contains(says), "{mode:o}: {stderr}");
            assert!(
                std::fs::symlink_metadata(&path).is_ok(),
                "{mode:o}: removed"
            );
        }
    })
    .await;
}

#[cfg(unix)]
#[test]
fn two_binders_racing_for_a_dead_servers_socket_give_one_listener() {
    let dir = std::sync::Arc::new(TempDir::new("unix-race"));
    let urls = std::sync::Arc::clone(&dir);
    let stale = std::sync::Arc::clone(&dir);
    // Before reclaiming was serialised, both binders could see the dead socket, remove it
    // (the second one removing the first one's live socket) and both return Ok.
    let failure = crate::fifo::race_two_binders(
        500,
        move |round| format!("unix://{}", urls.join(&format!("s{round}"))),
        move |round| dead_server_socket(&stale.path().join(format!("s{round}"))),
    );
    assert!(failure.is_none(), "{}", failure.unwrap());
}

/// A listening socket at `path` whose accept queue is full, and the connections filling it.
/// The backlog is set to 0 (room for one pending connection on Linux) so that the queue fills
/// after a connection or two.
#[cfg(unix)]
pub(crate) async fn full_accept_queue(
    path: &std::path::Path,
) -> (
    std::os::unix::net::UnixListener,
    Vec<tokio::net::UnixStream>,
) {
    use std::os::fd::AsRawFd;
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    // SAFETY: the descriptor is a bound socket that `listener` keeps open during the call.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let mut fillers = Vec::new();
    loop {
        // tokio connects without blocking: a full queue is WouldBlock, not a wait.
        match tokio::net::UnixStream::connect(path).await {
            Ok(stream) => fillers.push(stream),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the accept queue: {e}"),
        }
        assert!(fillers.len() < 1000, "the accept queue never filled");
    }
    (listener, fillers)
}

#[cfg(unix)]
#[tokio::test]
async fn a_full_accept_queue_is_waited_out_and_is_a_live_server() {
    watchdog(60, async {
        let dir = TempDir::new("unix-backlog");
        let path = dir.path().join("s");
        let url = format!("unix://{}", path.display());
        let (listener, _fillers) = full_accept_queue(&path).await;

        // Connecting waits for room, up to connect_timeout.
        let started = Instant::now();
        let err = anyipc::connect(format!("{url}?connect_timeout=300ms"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(started.elapsed() >= Duration::from_millis(300));
        // When the wait for room gave up (not `connect`'s own timer around the whole
        // attempt, which can fire first on a slow machine), the last refusal's code stays
        // inside (EAGAIN: the queue is full).
        if err.to_string().contains("stayed full") {
            assert_eq!(anyipc::raw_os_error(&err), Some(libc::EAGAIN), "{err:?}");
        }

        // A server that is merely busy is live: binding over it is AddrInUse.
        let err = anyipc::bind(&url).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert!(
            std::fs::symlink_metadata(&path).is_ok(),
            "the live socket was removed"
        );

        // Once the server accepts one connection, a waiting connect gets in.
        let waiting = tokio::spawn(anyipc::connect(url.clone()));
        let (first, _) = listener.accept().unwrap();
        let conn = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("connect still waiting after the queue had room")
            .unwrap();
        conn.expect("connect once the queue had room");
        drop(first);
    })
    .await;
}

/// Runs `fut` on a runtime that has been shut down: tokio refuses to register descriptors
/// with it, so a listener fails after its socket file is already in place.
#[cfg(unix)]
fn on_a_shut_down_runtime<F: std::future::Future>(fut: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle = runtime.handle().clone();
    drop(runtime);
    handle.block_on(fut)
}

#[cfg(unix)]
#[test]
fn a_unix_listener_that_fails_after_linking_leaves_no_socket_file() {
    let dir = TempDir::new("unix-fail");
    let path = dir.path().join("s");
    let err = on_a_shut_down_runtime(anyipc::bind(format!("unix://{}", path.display())))
        .map(|_| ())
        .unwrap_err();
    assert!(
        std::fs::symlink_metadata(&path).is_err(),
        "the socket file stayed behind after {err}"
    );
    // And nothing else was left in the directory (the staging directory is gone too).
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[cfg(unix)]
#[test]
fn a_pipe_server_that_fails_after_linking_leaves_no_socket_file() {
    let name = unique_name("fail-after-link");
    // Whatever the failed bind leaves, the name is removed when the test ends.
    let _names = Names::of([format!("pipe://{name}")]);
    let err = on_a_shut_down_runtime(anyipc::bind(format!("pipe://{name}")))
        .map(|_| ())
        .unwrap_err();
    // Where this process's pipe:// sockets live (as `local_socket::runtime_dir` finds it).
    let runtime_dir = crate::util::runtime_dir();
    assert!(
        std::fs::symlink_metadata(runtime_dir.join(&name)).is_err(),
        "the socket file stayed behind after {err}"
    );
    // Nor its lock file: the name is not anyone's.
    let lock = runtime_dir.join(format!(".{name}.lock"));
    assert!(
        std::fs::symlink_metadata(&lock).is_err(),
        "the lock file {} stayed behind after {err}",
        lock.display()
    );
}

/// `unix://@name` has no file, so `mode=` could restrict nothing: a bind with it is refused
/// as a bad URL (`InvalidInput`, an `EndpointParseError` inside naming the option and what to
/// use), rather than leaving the name open to every user while its URL says 0600. A second
/// bind of a held name says which name.
#[cfg(unix)]
#[cfg(target_os = "linux")]
#[tokio::test]
async fn an_abstract_name_refuses_mode_and_names_itself_in_use() {
    watchdog(20, async {
        let url = format!("unix://@{}", unique_name("anyipc-abstract-mode"));
        let err = anyipc::bind(format!("{url}?mode=0600")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("mode=") && text.contains("allow_uids="),
            "{err}"
        );
        let inner = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<anyipc::EndpointParseError>());
        assert!(inner.is_some(), "no EndpointParseError inside {err:?}");
        // Nothing was bound: the name is free.
        let _listener = anyipc::bind(&url).await.unwrap();
        let err = anyipc::bind(&url).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert!(err.to_string().starts_with(&url), "{err}");
    })
    .await;
}
