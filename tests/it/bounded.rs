//! Waiting for a process a test started, with a limit. `Command::output` and `status` block
//! the calling thread, and [`watchdog`](crate::util::watchdog) is a timer on that same task,
//! so it never fires while they wait: a child that never ends, or a pipe that another
//! process keeps open after the child ended, would hang the whole test binary until CI's
//! own time ran out. These waits fail the test instead, naming the command and saying
//! what is still running or who still holds its output. For any other call that blocks a
//! test, `watchdog` arms a [`Backstop`], which ends the whole test binary.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a started command may take before the test calls it hung (times the watchdog
/// scale): a hang detector, far above what any command the tests start needs, and below
/// the 60 s watchdog of a test plus its backstop's grace, so that the hung command fails
/// its own test before the backstop ends every test.
const HANG_LIMIT: Duration = Duration::from_secs(60);

/// How long a helper process a test started may take to say it is ready (times the
/// watchdog scale) before the test fails with [`process_state`] of it: a helper stuck
/// before its exec (seen only under qemu-user) fails its round, not the test's watchdog.
pub(crate) fn ready_limit() -> Duration {
    scaled(Duration::from_secs(30))
}

/// `Command::output` and `Command::status` with [`HANG_LIMIT`].
pub(crate) trait RunBounded {
    /// As [`Command::output`] (stdin from /dev/null, stdout and stderr captured), but a
    /// command still running after the limit is killed and the test fails, as it does when
    /// the command has ended and some other process still holds its stdout or stderr open.
    fn output_bounded(&mut self) -> Output {
        self.output_within(limit())
    }

    /// [`output_bounded`](RunBounded::output_bounded) with the limit `within`.
    fn output_within(&mut self, within: Duration) -> Output;

    /// As [`Command::status`] (the streams as the command sets them, else inherited), but a
    /// command still running after the limit is killed and the test fails.
    #[cfg_attr(not(unix), allow(dead_code))] // Its users are Unix-only tests.
    fn status_bounded(&mut self) -> ExitStatus;
}

impl RunBounded for Command {
    fn output_within(&mut self, within: Duration) -> Output {
        let deadline = Instant::now() + within;
        let mut child = self
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {self:?}: {err}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let stdout = read_to_end_apart(pipe_inode(&stdout), stdout);
        let stderr = child.stderr.take().expect("piped stderr");
        let stderr = read_to_end_apart(pipe_inode(&stderr), stderr);
        let status = wait_until(&mut child, deadline, self);
        let collect = |stream: StreamReader, name: &str| {
            let left = deadline.saturating_duration_since(Instant::now());
            stream.receiver.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "{self:?} ended ({status}), but its {name} is still open after {within:?}: {}",
                    holders(stream.pipe_inode)
                )
            })
        };
        let stdout = collect(stdout, "stdout");
        let stderr = collect(stderr, "stderr");
        Output {
            status,
            stdout,
            stderr,
        }
    }

    fn status_bounded(&mut self) -> ExitStatus {
        let deadline = Instant::now() + limit();
        let mut child = self
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {self:?}: {err}"));
        wait_until(&mut child, deadline, self)
    }
}

/// Ends the whole test binary if it is still armed after its limit: the last resort
/// against a test blocked in a call that nothing else bounds (a timer on the test's task
/// cannot fire while the task is blocked). Disarmed when dropped.
pub(crate) struct Backstop {
    _disarm: mpsc::Sender<()>,
}

impl Backstop {
    /// Arms the backstop for the test running on this thread.
    pub(crate) fn arm(limit: Duration) -> Backstop {
        let (disarm, armed) = mpsc::channel::<()>();
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = armed.recv_timeout(limit) {
                // Straight to stderr: the test harness captures `eprintln!` of a test's
                // threads, and would lose it with the process.
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "test watchdog: {test} still blocked {limit:?} after it began; ending the \
                     test binary. Its processes: {}",
                    children_of(std::process::id())
                );
                std::process::abort();
            }
        });
        Backstop { _disarm: disarm }
    }
}

/// The states of the children of process `pid` (Linux), for a hang's report.
fn children_of(pid: u32) -> String {
    let children: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|task| {
            let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            list.split_whitespace()
                .filter_map(|child| child.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .map(process_state)
        .collect();
    if children.is_empty() {
        "none found".to_owned()
    } else {
        children.join("; ")
    }
}

/// [`HANG_LIMIT`] times the watchdog scale.
fn limit() -> Duration {
    scaled(HANG_LIMIT)
}

/// `limit` times the watchdog scale.
fn scaled(limit: Duration) -> Duration {
    let scale = u32::try_from(crate::util::watchdog_scale()).unwrap_or(u32::MAX);
    limit.saturating_mul(scale)
}

/// A stream being read to its end on a thread of its own.
struct StreamReader {
    receiver: mpsc::Receiver<Vec<u8>>,
    /// The pipe's inode, to find who holds it (0 where unknown).
    pipe_inode: u64,
}

/// Reads `stream`, pipe `pipe_inode`, to its end on a thread of its own.
fn read_to_end_apart(pipe_inode: u64, mut stream: impl Read + Send + 'static) -> StreamReader {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        // A read error ends the stream here as EOF does; the bytes so far are the output.
        let _ = stream.read_to_end(&mut bytes);
        let _ = sender.send(bytes);
    });
    StreamReader {
        receiver,
        pipe_inode,
    }
}

/// As [`Child::wait`], but a child still running after the limit is killed and the test
/// fails, naming it `what`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // Its users are Linux-only tests.
pub(crate) fn wait_bounded(child: &mut Child, what: &str) -> ExitStatus {
    wait_until(child, Instant::now() + limit(), &what)
}

/// Waits for `child` until `deadline`; past it, describes and kills the child and fails,
/// naming it `command`.
fn wait_until(child: &mut Child, deadline: Instant, command: &dyn std::fmt::Debug) -> ExitStatus {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) => {}
            Err(err) => panic!("waiting for {command:?}: {err}"),
        }
        if Instant::now() >= deadline {
            let state = process_state(child.id());
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} still running when its time was up, killed; it was: {state}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The inode of pipe end `stream`, for [`holders`] (0 off Linux).
#[cfg(target_os = "linux")]
fn pipe_inode<S: std::os::fd::AsFd>(stream: &S) -> u64 {
    use std::os::unix::fs::MetadataExt;
    stream
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|file| file.metadata())
        .map_or(0, |meta| meta.ino())
}

#[cfg(not(target_os = "linux"))]
fn pipe_inode<S>(_stream: &S) -> u64 {
    0
}

/// The processes with a descriptor of pipe `inode` open, with their command lines and
/// states: who keeps an ended command's output open.
fn holders(inode: u64) -> String {
    if inode == 0 {
        return "its holders are not known on this platform".to_owned();
    }
    let wanted = format!("pipe:[{inode}]");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let fds = std::fs::read_dir(entry.path().join("fd"))
            .into_iter()
            .flatten();
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == wanted.as_str())
        });
        if holds && pid != std::process::id() {
            found.push(process_state(pid));
        }
    }
    if found.is_empty() {
        "no other process holds it".to_owned()
    } else {
        format!("held by {}", found.join("; "))
    }
}

/// Process `pid`'s command line, state and what each of its threads waits in (Linux), for
/// a hang's report.
pub(crate) fn process_state(pid: u32) -> String {
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    let read = |path: std::path::PathBuf| std::fs::read_to_string(path).unwrap_or_default();
    let cmdline = read(proc_dir.join("cmdline")).replace('\0', " ");
    let status = read(proc_dir.join("status"));
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map_or("unknown", str::trim)
            .to_owned()
    };
    let (state, parent) = (field("State:"), field("PPid:"));
    let threads: Vec<String> = std::fs::read_dir(proc_dir.join("task"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|task| {
            let wchan = read(task.path().join("wchan"));
            let syscall = read(task.path().join("syscall"));
            let number = syscall.split_whitespace().next().unwrap_or("?");
            format!("[{} {wchan} {number}]", task.file_name().to_string_lossy())
        })
        .collect();
    format!(
        "pid {pid} (parent {parent}) `{}` state {state}, threads (tid, wait channel, system call): {}",
        cmdline.trim(),
        threads.join(" ")
    )
}

#[cfg(target_os = "linux")]
mod tests {
    use super::RunBounded;
    use std::process::Command;
    use std::time::Duration;

    fn failure_of(run: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let panic = std::panic::catch_unwind(run).expect_err("the wait failed the test");
        panic
            .downcast_ref::<String>()
            .cloned()
            .expect("a formatted message")
    }

    #[test]
    fn a_command_that_does_not_end_is_killed_and_fails_the_test() {
        let said = failure_of(|| {
            Command::new("sleep")
                .arg("30")
                .output_within(Duration::from_millis(300));
        });
        assert!(
            said.contains("still running") && said.contains("sleep"),
            "{said}"
        );
        assert!(said.contains("state S (sleeping)"), "{said}");
    }

    #[test]
    fn an_output_held_open_by_another_process_fails_the_test_naming_it() {
        let said = failure_of(|| {
            Command::new("sh")
                .args(["-c", "sleep 3 & exit 0"])
                .output_within(Duration::from_millis(500));
        });
        assert!(said.contains("ended (exit status: 0)"), "{said}");
        assert!(
            said.contains("held by pid") && said.contains("`sleep 3`"),
            "{said}"
        );
    }

    const BACKSTOP_HELPER_VAR: &str = "ANYIPC_TEST_BACKSTOP_HELPER";

    /// Helper process for the next test: blocks past an armed backstop, with a child.
    #[test]
    fn backstop_helper_entry() {
        if std::env::var_os(BACKSTOP_HELPER_VAR).is_none() {
            return;
        }
        // Never waited for: the backstop ends this process first, and init reaps the child.
        #[allow(clippy::zombie_processes)]
        let _child = Command::new("sleep")
            .arg("5")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let _backstop = super::Backstop::arm(Duration::from_millis(200));
        std::thread::sleep(Duration::from_secs(20));
    }

    #[test]
    fn a_test_blocked_past_its_backstop_ends_the_binary_naming_it_and_its_children() {
        use std::os::unix::process::ExitStatusExt;
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "bounded::tests::backstop_helper_entry",
                "--exact",
                "--test-threads=1",
            ])
            .env(BACKSTOP_HELPER_VAR, "1")
            .output_within(Duration::from_secs(10));
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{said}");
        assert!(
            said.contains("test watchdog: bounded::tests::backstop_helper_entry still blocked"),
            "{said}"
        );
        assert!(said.contains("`sleep 5`"), "{said}");
    }

    #[test]
    fn a_command_that_ends_gives_its_output() {
        let out = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .output_bounded();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(
            (&out.stdout[..], &out.stderr[..]),
            (&b"out\n"[..], &b"err\n"[..])
        );
    }
}
