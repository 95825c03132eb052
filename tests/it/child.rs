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

/// This test binary, set to run only `child::child_process_entry` in role `role`.
fn child_command(role: &str) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let mut command = Command::new(exe);
    command
        .args([
            "child::child_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
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
            let kind = match anyipc::child::connect_parent().await {
                Ok(_) => "ok".to_owned(),
                Err(e) => format!("{:?}", e.kind()),
            };
            eprintln!("connect_parent: {kind}");
            0
        }
        other => panic!("unknown child role {other}"),
    }
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
            let out = crate::pipe::run_example("pipe_parent", args).await;
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
