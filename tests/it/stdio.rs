//! `stdio://` over a process's own stdin and stdout, which it shares with the processes that
//! started it (a shell, the next command of a script): taking them must not change them for
//! the others.
#![cfg(target_os = "linux")]

use crate::util::{anyipc_bin, os_pipe, watchdog};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Stdio;
use tokio::process::Command;

/// Whether the open file description `fd` refers to is non-blocking.
fn is_nonblocking(fd: &OwnedFd) -> bool {
    // SAFETY: F_GETFL only reads the status flags of an open descriptor.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert_ne!(flags, -1);
    flags & libc::O_NONBLOCK != 0
}

/// `{ anyipc send stdio:// hi; cat; } < pipe | …`: the stdin and stdout the first command
/// took are the same open file descriptions the next one reads and writes. They were left
/// `O_NONBLOCK`, so `cat` failed at once with "Resource temporarily unavailable" (EAGAIN)
/// when no input was waiting. Here the test keeps copies of the child's stdin and stdout, as
/// the shell does, and looks at their flags after the child has exited.
#[tokio::test]
async fn taking_stdio_leaves_the_shared_stdin_and_stdout_blocking() {
    watchdog(60, async {
        let (stdin_read, stdin_write) = os_pipe();
        let (stdout_read, stdout_write) = os_pipe();
        let (shared_stdin, shared_stdout) = (
            stdin_read.try_clone().unwrap(),
            stdout_write.try_clone().unwrap(),
        );
        let status = Command::new(anyipc_bin())
            .args(["send", "stdio://?framing=lines", "hi"])
            .stdin(Stdio::from(stdin_read))
            .stdout(Stdio::from(stdout_write))
            .stderr(Stdio::null())
            .status()
            .await
            .unwrap();
        assert!(status.success(), "anyipc send exited with {status}");
        drop((stdin_write, stdout_read));
        assert!(
            !is_nonblocking(&shared_stdin),
            "stdin was left non-blocking for the next reader"
        );
        assert!(
            !is_nonblocking(&shared_stdout),
            "stdout was left non-blocking for the next writer"
        );
    })
    .await;
}

/// A named FIFO as stdin whose writer has already gone, holding nothing: the stream ends at
/// once. Opened anew through `/proc` (read-only, non-blocking, no writer), a FIFO hides its
/// hang-up until a writer comes, and `anyipc send --expect-reply` waited for a reply until
/// its timeout (for ever without one); so only anonymous pipes are opened anew.
#[tokio::test]
async fn a_stdin_fifo_whose_writer_has_gone_ends_the_stream() {
    watchdog(60, async {
        let dir = crate::util::TempDir::new("stdio-fifo");
        let fifo = dir.path().join("in");
        crate::util::mkfifo(&fifo);
        // The shell's `< fifo`: a blocking open, which waits for the writer, who then goes.
        let writer = std::thread::spawn({
            let fifo = fifo.clone();
            move || drop(std::fs::OpenOptions::new().write(true).open(fifo).unwrap())
        });
        let stdin = std::fs::File::open(&fifo).unwrap();
        writer.join().unwrap();
        let started = std::time::Instant::now();
        let out = Command::new(anyipc_bin())
            .args(["send", "stdio://?framing=lines", "hi", "--expect-reply"])
            .args(["--timeout", "10s"])
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("no reply"),
            "waited for the timeout: {stderr}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(8),
            "the end of stdin was not seen: {stderr}"
        );
    })
    .await;
}
