//! `anyipc::child`: a parent and the child it spawns (this test binary started again with a
//! role), over extra pipes and over stdio; deaths on either side.
#![cfg(unix)]

use crate::util::{unique_name, watchdog, TempDir};
use anyipc::child::{ChildOptions, CHILD_FDS_ENV};
use anyipc::codec::Json;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::io;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

const ROLE_VAR: &str = "ANYIPC_TEST_CHILD_ROLE";
const MARKER_VAR: &str = "ANYIPC_TEST_CHILD_MARKER";

/// The test binary's arguments that run only `child::child_process_entry`.
const CHILD_ARGS: [&str; 4] = [
    "child::child_process_entry",
    "--exact",
    "--nocapture",
    "--test-threads=1",
];

/// This test binary, set to run only `child::child_process_entry` in role `role`.
fn child_command(role: &str) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let mut command = Command::new(exe);
    command
        .args(CHILD_ARGS)
        .env(ROLE_VAR, role)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// The child's body. A no-op in an ordinary test run.
#[test]
fn child_process_entry() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let code = runtime.block_on(async {
        // A child whose parent test hangs still goes away.
        tokio::time::timeout(Duration::from_secs(60), child_role(&role))
            .await
            .unwrap_or(3)
    });
    std::process::exit(code);
}

async fn child_role(role: &str) -> i32 {
    match role {
        // Echo until the parent closes; stdout still prints.
        "echo" => {
            let mut parent = anyipc::child::connect_parent()
                .await
                .expect("connect_parent");
            println!("the child's stdout is its own");
            let again = anyipc::child::connect_parent().await;
            assert_eq!(again.unwrap_err().kind(), io::ErrorKind::AddrInUse);
            while let Some(msg) = parent.recv().await.expect("recv") {
                parent.send(msg).await.expect("send");
            }
            0
        }
        // stdio:// with lines: say ready (the test harness printed to stdout before us), echo.
        "stdio-lines" => {
            let mut parent = anyipc::connect("stdio://?framing=lines")
                .await
                .expect("stdio://");
            println!("this goes to stderr now");
            parent.send("ready").await.unwrap();
            while let Some(msg) = parent.recv().await.expect("recv") {
                parent.send(msg).await.expect("send");
            }
            0
        }
        // Connect, answer once, then wait to be killed.
        "hang" => {
            let mut parent = anyipc::child::connect_parent().await.unwrap();
            parent.send("up").await.unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            0
        }
        // Spawn an "orphan" grandchild, report ready on stderr, wait to be killed.
        "grandparent" => {
            let (_child, mut conn) =
                anyipc::child::spawn(child_command("orphan")).expect("spawn orphan");
            assert_eq!(conn.recv().await.unwrap().unwrap(), "up");
            eprintln!("grandparent ready");
            tokio::time::sleep(Duration::from_secs(60)).await;
            0
        }
        // Wait for the parent's stream to end, then leave a marker file.
        "orphan" => {
            let mut parent = anyipc::child::connect_parent().await.unwrap();
            parent.send("up").await.unwrap();
            let end = parent.recv().await;
            let marker = std::env::var(MARKER_VAR).unwrap();
            std::fs::write(marker, format!("{end:?}")).unwrap();
            0
        }
        // Report what connect_parent says.
        "report" => {
            match anyipc::child::connect_parent().await {
                Ok(_) => eprintln!("connect_parent: ok"),
                Err(e) => eprintln!("connect_parent: {:?}: {e}", e.kind()),
            }
            0
        }
        // The variable names the parent's pipes the wrong way round: refused, both still open
        // and still the same pipes; the right value afterwards is refused too (the first call
        // gave the pipes up).
        "swapped-fds" => {
            let value = std::env::var(CHILD_FDS_ENV).unwrap();
            let (pid, fds) = value.split_once(':').unwrap();
            let (read, write) = fds.split_once(',').unwrap();
            let fds = [read.parse().unwrap(), write.parse().unwrap()];
            let before = fds.map(fd_identity);
            std::env::set_var(CHILD_FDS_ENV, format!("{pid}:{write},{read}"));
            let first = kind_of(anyipc::child::connect_parent().await);
            std::env::set_var(CHILD_FDS_ENV, &value);
            let second = kind_of(anyipc::child::connect_parent().await);
            let kept = before[0].is_some() && fds.map(fd_identity) == before;
            eprintln!("swapped: {first} then {second}, fds kept: {kept}");
            0
        }
        // The variable names a pipe this process made itself (close-on-exec, owned by tokio):
        // refused, and the pipe still works.
        "cloexec-fds" => {
            use std::os::fd::AsRawFd;
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut sender, mut receiver) = tokio::net::unix::pipe::pipe().unwrap();
            let fds = [receiver.as_raw_fd(), sender.as_raw_fd()];
            let parent = std::os::unix::process::parent_id();
            std::env::set_var(CHILD_FDS_ENV, format!("{parent}:{},{}", fds[0], fds[1]));
            let first = kind_of(anyipc::child::connect_parent().await);
            let open = fds.iter().all(|&fd| fd_flags(fd).is_some());
            let mut buf = [0u8; 10];
            let works = tokio::time::timeout(Duration::from_secs(2), async {
                sender.write_all(b"still ours").await.is_ok()
                    && receiver.read_exact(&mut buf).await.is_ok()
                    && &buf == b"still ours"
            })
            .await
            .unwrap_or(false);
            eprintln!("cloexec: {first}, fds open: {open}, pipe works: {works}");
            0
        }
        // The variable is not UTF-8: refused, not taken for "unset" (which would take over
        // stdin and stdout, pipes here); the parent's pipes and stdio are left as they were.
        "non-utf8" => {
            use std::os::unix::ffi::OsStringExt;
            let value = std::env::var(CHILD_FDS_ENV).unwrap();
            let (_, fds) = value.split_once(':').unwrap();
            let (read, write) = fds.split_once(',').unwrap();
            let fds = [0, 1, read.parse().unwrap(), write.parse().unwrap()];
            let before = fds.map(fd_identity);
            let mut bytes = value.into_bytes();
            bytes.push(0xff);
            std::env::set_var(CHILD_FDS_ENV, std::ffi::OsString::from_vec(bytes));
            let first = kind_of(anyipc::child::connect_parent().await);
            let kept = before.iter().all(Option::is_some) && fds.map(fd_identity) == before;
            eprintln!("non-utf8: {first}, fds kept: {kept}");
            0
        }
        // stdin and stdout are pipes, but the wrong way round (stdin a write end, stdout a
        // read end): `stdio://` refuses them and leaves fds 0 and 1 as they were.
        "stdio-swapped" => {
            std::env::remove_var(CHILD_FDS_ENV);
            let mut ends = [0; 2];
            // SAFETY: `ends` has room for the two descriptors pipe() writes.
            assert_eq!(unsafe { libc::pipe(ends.as_mut_ptr()) }, 0);
            // SAFETY: both are open descriptors of this process; fds 0 and 1 are replaced.
            unsafe {
                assert_eq!(libc::dup2(ends[1], 0), 0);
                assert_eq!(libc::dup2(ends[0], 1), 1);
            }
            let before = [0, 1].map(fd_identity);
            let first = kind_of(anyipc::connect("stdio://").await);
            let kept = before.iter().all(Option::is_some) && [0, 1].map(fd_identity) == before;
            eprintln!("swapped: {first}, fds kept: {kept}");
            0
        }
        // Take the pipes, then exec this binary again in place (same pid, same parent, same
        // variable) as a "report" child: the numbers no longer hold the parent's pipes.
        "exec-self" => {
            use std::os::unix::process::CommandExt;
            let _parent = anyipc::child::connect_parent().await.unwrap();
            let err = std::process::Command::new(std::env::current_exe().unwrap())
                .args(CHILD_ARGS)
                .env(ROLE_VAR, "report")
                .exec();
            panic!("exec: {err}");
        }
        other => panic!("unknown child role {other}"),
    }
}

/// "ok" or the error's kind.
fn kind_of<T>(result: io::Result<T>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("{:?}", e.kind()),
    }
}

/// The descriptor flags of `fd`, or `None` when it is not open.
fn fd_flags(fd: i32) -> Option<i32> {
    // SAFETY: F_GETFD only reads the flags of a descriptor number; a closed one is EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    (flags != -1).then_some(flags)
}

/// Which open file `fd` is (device, inode, flags), or `None` when it is not open.
fn fd_identity(fd: i32) -> Option<(u64, u64, i32)> {
    let flags = fd_flags(fd)?;
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `stat` is writable memory of the right size; a closed `fd` is an error.
    if unsafe { libc::fstat(fd, stat.as_mut_ptr()) } == -1 {
        return None;
    }
    // SAFETY: fstat succeeded, so it filled in the whole struct.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast)] // dev_t and ino_t are not u64 everywhere.
    Some((stat.st_dev as u64, stat.st_ino as u64, flags))
}

#[tokio::test]
async fn extra_pipes_round_trip_and_clean_exit() {
    watchdog(60, async {
        let mut command = child_command("echo");
        command.stdout(Stdio::piped());
        let (mut child, mut conn) = anyipc::child::spawn(command).unwrap();
        assert!(conn.peer_addr().starts_with("child pid "));
        for i in 0..1000u32 {
            let msg = Bytes::from(format!("message {i}").repeat(1 + (i % 7) as usize));
            conn.send(msg.clone()).await.unwrap();
            assert_eq!(conn.recv().await.unwrap().unwrap(), msg);
        }
        let big = crate::util::pattern(1 << 20);
        conn.send(big.clone()).await.unwrap();
        assert_eq!(conn.recv().await.unwrap().unwrap(), big);
        // Half-close: the child sees the end, finishes, and its end closes ours.
        conn.close().await.unwrap();
        assert!(conn.recv().await.unwrap().is_none());
        let status = child.wait().await.unwrap();
        assert!(status.success(), "child exited with {status}");
        // The child could print to its own stdout.
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut child.stdout.take().unwrap(), &mut out)
            .await
            .unwrap();
        assert!(out.contains("the child's stdout is its own"), "{out}");
    })
    .await;
}

/// A program not started by anyipc, whose stderr is its stdout pipe (`2>&1`, Python's
/// `stderr=STDOUT`): `stdio://` takes stdin and stdout, and a `println!` afterwards goes
/// nowhere rather than into the stream (fd 1 was pointed at fd 2, the stream again).
#[tokio::test]
async fn stdio_url_with_stderr_on_the_stdout_pipe_keeps_println_out_of_the_stream() {
    watchdog(60, async {
        let (read, write) = crate::util::os_pipe();
        let mut command = child_command("stdio-lines");
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::from(write.try_clone().unwrap()))
            .stderr(Stdio::from(write));
        let mut child = command.spawn().unwrap();
        // Only the child holds the write end now: its exit ends our reading.
        drop(command);
        let receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(read).unwrap();
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(receiver));
        let mut before_ready = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.ends_with("ready") {
                break;
            }
            before_ready.push(line);
        }
        let stray: Vec<_> = before_ready
            .iter()
            .filter(|line| line.contains("this goes to stderr now"))
            .collect();
        assert!(
            stray.is_empty(),
            "println! reached the stream: {before_ready:?}"
        );
        drop(child.stdin.take());
        assert!(child.wait().await.unwrap().success());
    })
    .await;
}

#[tokio::test]
async fn typed_messages_to_a_child() {
    watchdog(60, async {
        let (mut child, conn) = anyipc::child::spawn(child_command("echo")).unwrap();
        let mut typed = conn.typed::<Vec<u32>, Vec<u32>>(Json);
        typed.send(vec![1, 2, 3]).await.unwrap();
        assert_eq!(typed.next().await.unwrap().unwrap(), vec![1, 2, 3]);
        drop(typed);
        assert!(child.wait().await.unwrap().success());
    })
    .await;
}

#[tokio::test]
async fn stdio_mode_with_a_plain_program() {
    watchdog(60, async {
        // `cat` knows nothing of anyipc: length-prefixed frames come back as they went.
        let (mut child, mut conn) =
            anyipc::child::spawn_with(Command::new("cat"), ChildOptions::new().stdio(true))
                .unwrap();
        for i in 0..100u32 {
            let msg = Bytes::from(vec![i as u8; i as usize * 13]);
            conn.send(msg.clone()).await.unwrap();
            assert_eq!(conn.recv().await.unwrap().unwrap(), msg);
        }
        conn.close().await.unwrap();
        assert!(conn.recv().await.unwrap().is_none());
        assert!(child.wait().await.unwrap().success());
    })
    .await;
}

#[tokio::test]
async fn stdio_url_in_the_child() {
    watchdog(60, async {
        let options = ChildOptions::new()
            .stdio(true)
            .endpoint("stdio://?framing=lines".parse().unwrap())
            .unwrap();
        let (mut child, mut conn) =
            anyipc::child::spawn_with(child_command("stdio-lines"), options).unwrap();
        // The test harness itself prints to stdout before the child's code runs (the last of
        // it without a newline, so "ready" ends that line).
        loop {
            let line = conn
                .recv()
                .await
                .unwrap()
                .expect("child ended before ready");
            if line.ends_with(b"ready") {
                break;
            }
        }
        for i in 0..100 {
            let msg = format!("line {i}");
            conn.send(msg.clone()).await.unwrap();
            assert_eq!(conn.recv().await.unwrap().unwrap(), msg);
        }
        drop(conn);
        assert!(child.wait().await.unwrap().success());
    })
    .await;
}

#[tokio::test]
async fn child_killed_gives_eof_and_broken_pipe() {
    watchdog(60, async {
        let (mut child, mut conn) = anyipc::child::spawn(child_command("hang")).unwrap();
        assert_eq!(conn.recv().await.unwrap().unwrap(), "up");
        child.kill().await.unwrap();
        let end = tokio::time::timeout(Duration::from_secs(1), conn.recv())
            .await
            .expect("no end of stream within 1 s of the child's death");
        assert!(end.unwrap().is_none());
        let err = conn.send("anyone?").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
    })
    .await;
}

#[tokio::test]
async fn parent_killed_gives_the_child_eof() {
    watchdog(60, async {
        let dir = TempDir::new("child");
        let marker = dir.path().join(unique_name("marker"));
        let mut grandparent = child_command("grandparent");
        grandparent.env(MARKER_VAR, &marker).stderr(Stdio::piped());
        let mut grandparent = grandparent.spawn().unwrap();
        let stderr = grandparent.stderr.take().unwrap();
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
        while let Some(line) = lines.next_line().await.unwrap() {
            if line == "grandparent ready" {
                break;
            }
        }
        grandparent.kill().await.unwrap();
        // The orphan sees its stream end and writes the marker.
        let seen = loop {
            if let Ok(text) = std::fs::read_to_string(&marker) {
                if !text.is_empty() {
                    break text;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(seen, "Ok(None)");
    })
    .await;
}

#[tokio::test]
async fn connect_parent_refuses_a_variable_meant_for_another_process() {
    watchdog(60, async {
        let output = child_command("report")
            .env(CHILD_FDS_ENV, "1:3,4")
            .stderr(Stdio::piped())
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("connect_parent: NotFound"), "{stderr}");
        let output = child_command("report")
            .env(CHILD_FDS_ENV, "garbage")
            .stderr(Stdio::piped())
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("connect_parent: InvalidInput"), "{stderr}");
    })
    .await;
}

/// A child started through a wrapper that forks it (a shell running one more command after
/// it) is not the spawned process: refused as `NotFound`, and the message names the wrapper
/// case (it said only "inherited from further up, or the parent has exited").
#[tokio::test]
async fn connect_parent_through_a_forking_wrapper_says_so() {
    watchdog(60, async {
        let exe = std::env::current_exe().unwrap();
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg("\"$0\" \"$@\"; exit $?")
            .arg(exe)
            .args(CHILD_ARGS)
            .env(ROLE_VAR, "report")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let (child, _conn) = anyipc::child::spawn(command).unwrap();
        let stderr = stderr_of_spawned(child).await;
        assert!(stderr.contains("connect_parent: NotFound"), "{stderr}");
        assert!(stderr.contains("wrapper that forks"), "{stderr}");
    })
    .await;
}

/// Runs `command` to the end and returns its stderr.
async fn stderr_of(mut command: Command) -> String {
    let output = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Waits for a child started by `spawn` and returns its stderr.
async fn stderr_of_spawned(child: tokio::process::Child) -> String {
    let output = child.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "child exited with {}",
        output.status
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn connect_parent_refuses_swapped_fds_and_leaves_them_open() {
    watchdog(60, async {
        let mut command = child_command("swapped-fds");
        command.stderr(Stdio::piped());
        let (child, _conn) = anyipc::child::spawn(command).unwrap();
        let stderr = stderr_of_spawned(child).await;
        assert!(
            stderr.contains("swapped: InvalidInput then InvalidInput, fds kept: true"),
            "{stderr}"
        );
    })
    .await;
}

#[tokio::test]
async fn connect_parent_refuses_close_on_exec_fds_of_this_process() {
    watchdog(60, async {
        let stderr = stderr_of(child_command("cloexec-fds")).await;
        assert!(
            stderr.contains("cloexec: InvalidInput, fds open: true, pipe works: true"),
            "{stderr}"
        );
    })
    .await;
}

#[tokio::test]
async fn connect_parent_refuses_a_non_utf8_variable_without_falling_back_to_stdio() {
    watchdog(60, async {
        let mut command = child_command("non-utf8");
        // Pipes, so that a fallback to stdio would succeed.
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (child, _conn) = anyipc::child::spawn(command).unwrap();
        let stderr = stderr_of_spawned(child).await;
        assert!(
            stderr.contains("non-utf8: InvalidInput, fds kept: true"),
            "{stderr}"
        );
    })
    .await;
}

/// stdin and stdout that are pipes the wrong way round are refused by `stdio://` before
/// anything is changed: fds 0 and 1 stay as they were (they used to be rewired to
/// `/dev/null` and stderr first, and the take refused afterwards).
#[tokio::test]
async fn stdio_refuses_swapped_pipes_without_touching_stdin_or_stdout() {
    watchdog(60, async {
        let mut command = child_command("stdio-swapped");
        command.stderr(Stdio::piped());
        let (child, _conn) = anyipc::child::spawn(command).unwrap();
        let stderr = stderr_of_spawned(child).await;
        assert!(
            stderr.contains("swapped: InvalidInput, fds kept: true"),
            "{stderr}"
        );
    })
    .await;
}

#[tokio::test]
async fn connect_parent_after_exec_in_place_refuses_the_old_numbers() {
    watchdog(60, async {
        let mut command = child_command("exec-self");
        command.stderr(Stdio::piped());
        let (child, _conn) = anyipc::child::spawn(command).unwrap();
        let stderr = stderr_of_spawned(child).await;
        assert!(stderr.contains("connect_parent: InvalidInput"), "{stderr}");
    })
    .await;
}

/// A program that does not exist or cannot be run: the OS's error kind, in both modes, with
/// the program named (the bare "No such file or directory" did not say which), and the OS's
/// error code still there for `anyipc::raw_os_error`.
#[tokio::test]
async fn spawning_a_missing_or_non_executable_program_names_it() {
    let dir = TempDir::new("child-spawn");
    let missing = dir.path().join("no-such-program");
    let not_executable = dir.path().join("not-executable");
    std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    for (program, kind, code) in [
        (&missing, io::ErrorKind::NotFound, libc::ENOENT),
        (
            &not_executable,
            io::ErrorKind::PermissionDenied,
            libc::EACCES,
        ),
    ] {
        for stdio in [false, true] {
            let options = ChildOptions::new().stdio(stdio);
            let err = anyipc::child::spawn_with(Command::new(program), options).unwrap_err();
            assert_eq!(err.kind(), kind, "{err}");
            let name = program.display().to_string();
            assert!(err.to_string().contains(&name), "stdio {stdio}: {err}");
            assert_eq!(anyipc::raw_os_error(&err), Some(code), "{err:?}");
        }
    }
}

#[tokio::test]
async fn stdio_url_cannot_be_bound() {
    let err = anyipc::bind("stdio://").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
}

#[tokio::test]
async fn child_options_take_only_stdio_endpoints() {
    let err = ChildOptions::new()
        .endpoint("tcp://127.0.0.1:1".parse().unwrap())
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn ten_thousand_in_order_and_zero_length() {
    watchdog(60, async {
        let (mut child, conn) = anyipc::child::spawn(child_command("echo")).unwrap();
        let (mut tx, mut rx) = conn.split();
        let send = async {
            for seq in 0..10_000u32 {
                let len = (seq % 97) as usize;
                let mut msg = seq.to_be_bytes().to_vec();
                msg.resize(4 + len, seq as u8);
                tx.feed(Bytes::from(msg)).await.unwrap();
            }
            tx.feed(Bytes::new()).await.unwrap();
            tx.flush().await.unwrap();
        };
        let receive = async {
            for seq in 0..10_000u32 {
                let msg = rx.next().await.unwrap().unwrap();
                assert_eq!(msg[..4], seq.to_be_bytes(), "message {seq} out of order");
                assert_eq!(msg.len(), 4 + (seq % 97) as usize, "message {seq} corrupt");
            }
            assert_eq!(rx.next().await.unwrap().unwrap(), Bytes::new());
        };
        tokio::join!(send, receive);
        drop((tx, rx));
        assert!(child.wait().await.unwrap().success());
    })
    .await;
}

#[tokio::test]
async fn a_child_that_does_not_read_holds_the_sender_back() {
    watchdog(60, async {
        let (mut child, mut conn) = anyipc::child::spawn(child_command("hang")).unwrap();
        assert_eq!(conn.recv().await.unwrap().unwrap(), "up");
        let chunk = Bytes::from(vec![1u8; 64 * 1024]);
        let mut sent = 0;
        let stalled = loop {
            match tokio::time::timeout(Duration::from_millis(500), conn.send(chunk.clone())).await {
                Ok(result) => result.unwrap(),
                Err(_) => break true,
            }
            sent += 1;
            if sent == 1024 {
                break false;
            }
        };
        assert!(
            stalled,
            "64 MiB were buffered for a child that does not read"
        );
        child.kill().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn pipe_parent_example_both_ways() {
    watchdog(60, async {
        for args in [&[][..], &["--stdio"][..]] {
            let out = crate::util::run_example("pipe_parent", args).await;
            assert!(
                out.contains("parent: job 3 summed to 465"),
                "{args:?}: {out}"
            );
            assert!(
                out.contains("child exited with exit status: 0"),
                "{args:?}: {out}"
            );
        }
    })
    .await;
}
