//! Helper processes for cross-process tests: this test binary started again with a role
//! (tokio's `tests-integration` style), so the peer is a real second OS process that can be
//! killed with SIGKILL at any moment.
//!
//! The child runs only the test `process::helper_process_entry`, which does its role when
//! `ANYIPC_TEST_HELPER_ROLE` is set and nothing otherwise.

#[cfg(unix)]
use crate::util::{runtime_entries, unique_name, watchdog};
use crate::util::{HelperChild, Names};
use futures::StreamExt;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const ROLE_VAR: &str = "ANYIPC_TEST_HELPER_ROLE";
const URL_VAR: &str = "ANYIPC_TEST_HELPER_URL";
const READY: &str = "anyipc-helper ready ";
/// A helper whose parent died without killing it still goes away.
const HELPER_LIFETIME: Duration = Duration::from_secs(60);

/// What a helper process does.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Role {
    /// Binds the URL and echoes every message of every connection.
    Echo,
    /// Connects to the URL and sends numbered messages as fast as it may, until killed.
    Stream,
    /// The command-line tool: `anyipc listen URL --echo`.
    CliEcho,
    /// URL is `READ + WRITE`, two one-way endpoints (FIFOs): binds READ, connects to WRITE,
    /// and echoes over the two joined in an `anyipc::Duplex`.
    #[cfg(unix)]
    DuplexEcho,
    /// Binds the URL; on each connection checks that the messages are [`numbered`] 0, 1, …
    /// and answers the empty message with `ok N` (N messages so far) or the first fault.
    Verify,
}

/// Message `seq` of the numbered sequences the `Stream` and `Verify` helpers use: its
/// sequence number (8 bytes, big-endian), then bytes of `seq as u8` up to
/// `1000 + seq % 3000` bytes.
pub(crate) fn numbered(seq: u64) -> Vec<u8> {
    let mut msg = seq.to_be_bytes().to_vec();
    msg.resize(1000 + (seq % 3000) as usize, seq as u8);
    msg
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Echo => "echo",
            Role::Stream => "stream",
            Role::CliEcho => "cli-echo",
            #[cfg(unix)]
            Role::DuplexEcho => "duplex-echo",
            Role::Verify => "verify",
        }
    }
}

/// A running helper process, killed when dropped; then the `pipe://` or `shm://` name it
/// bound is reclaimed and removed ([`Names`]), so a helper killed by a test (or left running
/// by a failed one) leaves nothing in the runtime directory.
pub(crate) struct Helper {
    child: HelperChild,
    endpoint: String,
}

impl Helper {
    /// Starts a helper and waits until it is bound or connected.
    pub(crate) async fn spawn(role: Role, url: &str) -> Helper {
        let (mut command, ready) = match role {
            Role::CliEcho => {
                let mut command = Command::new(crate::util::anyipc_bin());
                command.args(["listen", url, "--echo"]);
                (command, "listening on ")
            }
            _ => {
                let mut command = Command::new(std::env::current_exe().expect("test binary"));
                command
                    .args([
                        "process::helper_process_entry",
                        "--exact",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env(ROLE_VAR, role.as_str())
                    .env(URL_VAR, url);
                (command, READY)
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn helper process");
        // Guarded at once: a helper that fails to become ready is cleaned up too.
        let bound = match role {
            Role::Stream => Names::none(), // it connects to this process's listener
            Role::Echo | Role::CliEcho => Names::of([url]),
            #[cfg(unix)]
            Role::DuplexEcho => Names::of([url]),
            Role::Verify => Names::of([url]),
        };
        let mut child = HelperChild::new(child, bound);
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let endpoint = loop {
            match lines.next_line().await.expect("read helper stderr") {
                Some(line) => match line.strip_prefix(ready) {
                    Some(endpoint) => break endpoint.to_owned(),
                    None => eprintln!("helper: {line}"),
                },
                None => panic!("helper process ({role:?} {url}) exited before it was ready"),
            }
        };
        // Pass on whatever else it says (a panic message, say).
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("helper: {line}");
            }
        });
        Helper { child, endpoint }
    }

    /// The endpoint the helper bound (with its real port) or connected to.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The helper's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("helper still running")
    }

    /// SIGKILL, and wait until the process is gone.
    pub(crate) async fn kill(&mut self) {
        self.child.kill().await.expect("kill helper");
    }
}

/// The helper's body. A no-op in an ordinary test run.
#[test]
fn helper_process_entry() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let url = std::env::var(URL_VAR).expect("helper URL");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let role = async {
            match role.as_str() {
                "echo" => echo(&url).await,
                "stream" => stream(&url).await,
                "duplex-echo" => duplex_echo(&url).await,
                "verify" => verify(&url).await,
                other => panic!("unknown helper role {other}"),
            }
        };
        let _ = tokio::time::timeout(HELPER_LIFETIME, role).await;
    });
    std::process::exit(0);
}

async fn echo(url: &str) {
    let mut listener = anyipc::bind(url).await.expect("helper bind");
    eprintln!("{READY}{}", listener.endpoint());
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

async fn stream(url: &str) {
    let mut conn = anyipc::connect(url).await.expect("helper connect");
    eprintln!("{READY}{url}");
    let mut seq = 0u64;
    loop {
        if conn.send(numbered(seq)).await.is_err() {
            return;
        }
        seq += 1;
    }
}

async fn verify(url: &str) {
    let mut listener = anyipc::bind(url).await.expect("helper bind");
    eprintln!("{READY}{}", listener.endpoint());
    loop {
        let mut conn = listener.accept().await.expect("helper accept");
        tokio::spawn(async move {
            let (mut seq, mut fault) = (0u64, None);
            while let Some(Ok(msg)) = conn.next().await {
                if msg.is_empty() {
                    let answer = fault.clone().unwrap_or_else(|| format!("ok {seq}"));
                    if conn.send(answer).await.is_err() {
                        break;
                    }
                    continue;
                }
                if fault.is_none() && msg[..] != numbered(seq)[..] {
                    fault = Some(format!("message {seq}: {} bytes, not as sent", msg.len()));
                }
                seq += 1;
            }
        });
    }
}

async fn duplex_echo(urls: &str) {
    let (read, write) = urls.split_once(" + ").expect("READ + WRITE");
    let mut listener = anyipc::bind(read).await.expect("helper bind");
    let inbound = listener.accept().await.expect("helper accept");
    let outbound = anyipc::connect(write).await.expect("helper connect");
    let mut duplex = anyipc::Duplex::new(inbound, outbound);
    eprintln!("{READY}{urls}");
    while let Some(Ok(msg)) = duplex.next().await {
        if futures::SinkExt::send(&mut duplex, msg).await.is_err() {
            break;
        }
    }
}

/// The names a helper bound go with it, whether the test killed it (SIGKILL: the helper
/// removes nothing itself), dropped it running, or panicked with it running: nothing is
/// left in the runtime directory for `anyipc ls` to show.
#[cfg(unix)]
#[tokio::test]
async fn a_killed_dropped_or_abandoned_helper_leaves_no_name_behind() {
    watchdog(120, async {
        let mut schemes = vec!["pipe"];
        if cfg!(target_os = "linux") {
            schemes.push("shm");
        }
        for scheme in schemes {
            for role in [Role::Echo, Role::CliEcho] {
                for end in ["killed", "dropped", "panicked"] {
                    let name = unique_name("helper-names");
                    let url = format!("{scheme}://{name}");
                    let case = format!("{role:?} on {url}, {end}");
                    let mut helper = Helper::spawn(role, &url).await;
                    assert!(!runtime_entries(&name).is_empty(), "{case}: nothing bound");
                    match end {
                        // SIGKILL: the name stays (the next bind would reclaim it) until
                        // the guard reclaims it.
                        "killed" => {
                            helper.kill().await;
                            drop(helper);
                        }
                        "dropped" => drop(helper),
                        _ => {
                            let failing = tokio::spawn(async move {
                                let _helper = helper;
                                panic!("a test failing with its helper running");
                            });
                            assert!(failing.await.unwrap_err().is_panic(), "{case}");
                        }
                    }
                    assert_eq!(runtime_entries(&name), Vec::<String>::new(), "{case}: left");
                    let err = anyipc::connect(&url).await.unwrap_err();
                    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{case}: {err}");
                }
            }
        }
    })
    .await;
}
