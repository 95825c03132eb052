//! Shared test utilities: unique resource names, private temp dirs, a watchdog timeout, the
//! path of the `anyipc` binary for cross-process tests, and guards that leave nothing in the
//! per-user runtime directory behind (not even when a test fails half way).

#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test (in this or another concurrent test process) uses.
pub(crate) fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A UDP port on 127.0.0.1 that nothing listens on, so the host answers a datagram sent there
/// with "port unreachable". Taken outside the OS's range of ports for `bind(0)` (which every
/// other test binds in), one this process has not handed out before: a port freed in that
/// range could be given to another test's listener at once, which would then answer.
pub(crate) fn silent_udp_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let range: Vec<u32> = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let (first, last) = match range[..] {
        [first, last] => (first, last),
        _ => (32_768, 60_999),
    };
    // Below the range where there is room (most hosts), else above it.
    let (start, end) = if first > 26_000 {
        (20_000, first)
    } else {
        (last + 1, 65_536)
    };
    assert!(
        end > start + 1_000,
        "no room outside the bind(0) range {first}-{last}"
    );
    let offset = std::process::id() % ((end - start) / 2);
    loop {
        let port = start + offset + NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(port < end, "no silent UDP port left in {start}-{end}");
        // Free now (a fixed port other tests or programs use would be taken): checked by
        // binding it, then letting it go.
        if std::net::UdpSocket::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
}

/// A fresh, empty directory for this test; removed when the guard drops.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(prefix: &str) -> TempDir {
        let dir = std::env::temp_dir().join(unique_name(&format!("anyipc-{prefix}")));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// `path` inside the directory, as text for a URL.
    pub(crate) fn join(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }

    /// The URL of `scheme` (`unix`, `fifo`, `file`) for `name` inside the directory, as
    /// anyipc prints it: with `%20` for a space in `TMPDIR` (a literal one is taken too,
    /// but what is printed back is escaped).
    pub(crate) fn url(&self, scheme: &str, name: &str) -> String {
        let scheme: anyipc::Scheme = scheme.parse().expect("a scheme");
        anyipc::Endpoint::from_path(scheme, self.0.join(name))
            .expect("a path URL")
            .to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How long a guard waits for a killed helper to be gone, or for one bind while reclaiming.
const CLEANUP_LIMIT: Duration = Duration::from_secs(10);

/// Names in the per-user runtime directory (`pipe://name`, `shm://name`) that a process this
/// test started may have bound. When the guard drops, each is bound again and the listener
/// dropped: the library reclaims a dead owner's name and removes it, so a server that was
/// killed (SIGKILL, no clean-up of its own) leaves nothing behind. A name a live listener
/// holds is left alone (the bind is `AddrInUse`), as are other schemes: what they leave is in
/// a [`TempDir`], or in nothing.
pub(crate) struct Names(Vec<String>);

impl Names {
    /// Guards the runtime-directory names among `urls` (a URL's options are ignored).
    pub(crate) fn of<S: AsRef<str>>(urls: impl IntoIterator<Item = S>) -> Names {
        let mut names = Vec::new();
        for url in urls {
            let Ok(endpoint) = url.as_ref().parse::<anyipc::Endpoint>() else {
                continue;
            };
            let scheme = match endpoint.scheme() {
                anyipc::Scheme::Pipe => "pipe",
                anyipc::Scheme::Shm => "shm",
                _ => continue,
            };
            if let Some(name) = endpoint.name() {
                names.push(format!("{scheme}://{name}"));
            }
        }
        Names(names)
    }

    /// Guards nothing.
    pub(crate) fn none() -> Names {
        Names(Vec::new())
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let urls = std::mem::take(&mut self.0);
        // A runtime of its own on a thread of its own: this may run inside a test's runtime
        // (where one cannot block on another) or while a panic unwinds.
        let reclaim = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                for url in urls {
                    let bound = tokio::time::timeout(CLEANUP_LIMIT, anyipc::bind(&url)).await;
                    drop(bound);
                }
            });
        });
        let _ = reclaim.join();
    }
}

/// A helper process, killed (SIGKILL) when dropped and waited for, after which the names it
/// may have bound are reclaimed and removed ([`Names`]). Derefs to the [`Child`].
///
/// [`Child`]: tokio::process::Child
pub(crate) struct HelperChild {
    child: tokio::process::Child,
    _names: Names,
}

impl HelperChild {
    /// Guards `child` (spawned with `kill_on_drop`) and the names in `names`.
    pub(crate) fn new(child: tokio::process::Child, names: Names) -> HelperChild {
        HelperChild {
            child,
            _names: names,
        }
    }
}

impl std::ops::Deref for HelperChild {
    type Target = tokio::process::Child;

    fn deref(&self) -> &tokio::process::Child {
        &self.child
    }
}

impl std::ops::DerefMut for HelperChild {
    fn deref_mut(&mut self) -> &mut tokio::process::Child {
        &mut self.child
    }
}

impl Drop for HelperChild {
    fn drop(&mut self) {
        // `id` is `None` once the child has been waited for: then it is gone already (and
        // its pid may belong to another process by now).
        if let Some(pid) = self.child.id() {
            let _ = self.child.start_kill();
            wait_until_exited(pid, CLEANUP_LIMIT);
        }
        // Then `_names` drops: the dead child's names are reclaimed.
    }
}

/// Waits until process `pid`, a child of this process not yet waited for, has exited (its
/// descriptors, and so its locks, are released), at most `limit`. It is not reaped: tokio's
/// `Child` still does that.
#[cfg(target_os = "linux")]
fn wait_until_exited(pid: u32, limit: Duration) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // -1: no such process, gone already.
    let fd = match libc::c_int::try_from(fd) {
        Ok(fd) if fd >= 0 => fd,
        _ => return,
    };
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let mut poll = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd. A pidfd is readable once its process has exited.
        let rc = unsafe { libc::poll(&mut poll, 1, ms) };
        if rc >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// Elsewhere the names are still reclaimed, when the child happens to be gone by then.
#[cfg(not(target_os = "linux"))]
fn wait_until_exited(_pid: u32, _limit: Duration) {}

/// A pipe `(read end, write end)`, both close-on-exec.
#[cfg(unix)]
pub(crate) fn os_pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    #[cfg(target_os = "linux")]
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // Elsewhere (macOS has no pipe2) close-on-exec is set just after: a child another test
    // spawns in between may inherit them, which delays only this test's end of stream.
    #[cfg(not(target_os = "linux"))]
    for fd in {
        // SAFETY: `fds` has room for the two descriptors pipe writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        fds
    } {
        // SAFETY: fcntl on a descriptor pipe just created.
        let set = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        assert_eq!(set, 0);
    }
    // SAFETY: pipe2 (or pipe) just created both and nothing else owns them.
    unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    }
}

/// The writing end of a pipe whose reader is already gone: a child given it as stdout or
/// stderr fails its first write there with EPIPE (SIGPIPE ignored, as in Rust programs).
#[cfg(unix)]
pub(crate) fn pipe_without_reader() -> std::os::fd::OwnedFd {
    let (reader, writer) = os_pipe();
    drop(reader);
    writer
}

/// The per-user runtime directory where `pipe://` and `shm://` names live, as the library
/// finds it: `$XDG_RUNTIME_DIR/anyipc`, else `$TMPDIR/anyipc-<uid>`.
#[cfg(unix)]
pub(crate) fn runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(xdg) if xdg.is_absolute() => xdg.join("anyipc"),
        // SAFETY: geteuid has no preconditions and cannot fail.
        _ => std::env::temp_dir().join(format!("anyipc-{}", unsafe { libc::geteuid() })),
    }
}

/// The entries of the runtime directory whose file name contains `name` (sockets, lock
/// files): what `anyipc ls` would show of it.
#[cfg(unix)]
pub(crate) fn runtime_entries(name: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(runtime_dir()) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|file| file.contains(name))
        .collect()
}

/// Runs `fut`, failing the test if it takes longer than `secs` seconds: no test may hang.
/// `ANYIPC_TEST_WATCHDOG_SCALE=N` multiplies the limit by N, for runs whose processes are
/// slow to start and run (CI's ARM tests under qemu-user): a hang detector, not a
/// measurement, so no assertion about the library's own timing changes with it.
///
/// The timeout is a timer on the test's own task, so a blocking call inside `fut` keeps it
/// from firing; a [`crate::bounded::Backstop`] then ends the whole test binary
/// [`BACKSTOP_GRACE`] later, saying which test and which processes it had started.
pub(crate) async fn watchdog<F: Future>(secs: u64, fut: F) -> F::Output {
    let secs = secs.saturating_mul(watchdog_scale());
    let _backstop = crate::bounded::Backstop::arm(Duration::from_secs(secs) + BACKSTOP_GRACE);
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(out) => out,
        Err(_) => panic!("test watchdog: no result within {secs} s"),
    }
}

/// How long past its watchdog's limit a test blocked in a call may go on before the whole
/// test binary is ended.
const BACKSTOP_GRACE: Duration = Duration::from_secs(30);

/// `ANYIPC_TEST_WATCHDOG_SCALE`, a whole number of at least 1 (1 when unset).
pub(crate) fn watchdog_scale() -> u64 {
    match std::env::var("ANYIPC_TEST_WATCHDOG_SCALE") {
        Err(_) => 1,
        Ok(text) => match text.parse::<u64>() {
            Ok(scale) if scale >= 1 => scale,
            _ => panic!("ANYIPC_TEST_WATCHDOG_SCALE={text:?}: not a whole number of at least 1"),
        },
    }
}

/// Whether `work` let another task of this (current-thread) runtime run before it finished:
/// a task spawned first can only have run if `work` yielded to the scheduler.
pub(crate) async fn yields_during<F: std::future::Future>(work: F) -> (bool, F::Output) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let ran = std::sync::Arc::new(AtomicBool::new(false));
    let other = tokio::spawn({
        let ran = ran.clone();
        async move { ran.store(true, Ordering::SeqCst) }
    });
    let out = work.await;
    let yielded = ran.load(Ordering::SeqCst);
    other.await.unwrap();
    (yielded, out)
}

/// The `anyipc` binary built for these tests.
pub(crate) fn anyipc_bin() -> &'static str {
    env!("CARGO_BIN_EXE_anyipc")
}

/// The [`FrameError`](anyipc::codec::FrameError) inside an `io::Error`, if any.
pub(crate) fn frame_error(err: &std::io::Error) -> Option<&anyipc::codec::FrameError> {
    err.get_ref()?.downcast_ref()
}

/// `len` bytes of a pattern that shows misplaced or lost bytes (not periodic in 256).
pub(crate) fn pattern(len: usize) -> bytes::Bytes {
    (0..len)
        .map(|i| (i ^ (i >> 8) ^ (i >> 16)) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// A frame as `LengthCodec` writes it.
pub(crate) fn length_frame(body: &[u8]) -> Vec<u8> {
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    frame
}

/// The path of a built example: `cargo test` builds them beside this binary (after
/// `cargo test --test it` alone, run `cargo build --examples` first).
pub(crate) fn example(name: &str) -> PathBuf {
    // This binary is target/<profile>/deps/it-<hash>; examples are in target/<profile>/examples.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/it-<hash>");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "example `{name}` is not built at {}: run `cargo test` (which builds the examples) or \
         `cargo build --examples`",
        path.display()
    );
    path
}

/// Runs example `name args…` with stdin from /dev/null to its end; returns its stdout,
/// failing unless it exits 0.
pub(crate) async fn run_example(name: &str, args: &[&str]) -> String {
    run_example_with_env(name, args, &[]).await
}

/// Runs example `name args…` with `env` added to its environment and stdin from /dev/null, to
/// its end; returns its stdout, failing unless it exits 0.
pub(crate) async fn run_example_with_env(
    name: &str,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> String {
    let out = tokio::process::Command::new(example(name))
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run example");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} exited with {}; stdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Makes a FIFO at `path` (the `mkfifo` program: mode 0666 less the umask).
#[cfg(unix)]
pub(crate) fn mkfifo(path: &std::path::Path) {
    use crate::bounded::RunBounded;
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status_bounded();
    assert!(made.success(), "mkfifo {}", path.display());
}

/// Fails, showing the first few, when any of `rounds` rounds was refused.
#[cfg(unix)]
pub(crate) fn assert_none_refused(refused: &[String], rounds: usize) {
    assert!(
        refused.is_empty(),
        "{} of {rounds} refused: {:?}",
        refused.len(),
        &refused[..refused.len().min(3)]
    );
}

/// A thread that starts `true` over and over, as a service's process starting children does,
/// until [`stop`](ChildStarter::stop)ped: every child holds a copy of each of this process's
/// descriptors from its fork until it execs.
#[cfg(unix)]
pub(crate) struct ChildStarter {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The child being waited for (0 between children), for a report if one never ends.
    current: std::sync::Arc<std::sync::atomic::AtomicU32>,
    /// The number of children started, sent when the thread ends.
    ended: std::sync::mpsc::Receiver<u32>,
}

#[cfg(unix)]
impl ChildStarter {
    /// Starts the thread; returns once its first child has been started and has ended, so
    /// that a loop run next overlaps children for sure.
    pub(crate) fn start() -> ChildStarter {
        use std::sync::atomic::{AtomicBool, AtomicU32};
        use std::sync::Arc;
        let stop = Arc::new(AtomicBool::new(false));
        let current = Arc::new(AtomicU32::new(0));
        let (first, started_one) = std::sync::mpsc::channel();
        let (end, ended) = std::sync::mpsc::channel();
        std::thread::spawn({
            let (stop, current) = (stop.clone(), current.clone());
            move || {
                let mut started = 0;
                while !stop.load(Ordering::Relaxed) {
                    // A failure to start one (EAGAIN on a loaded machine) is not this
                    // test's concern: it only needs children being started.
                    if let Ok(mut child) = std::process::Command::new("true").spawn() {
                        current.store(child.id(), Ordering::Relaxed);
                        if child.wait().is_ok() {
                            started += 1;
                            let _ = first.send(());
                        }
                        current.store(0, Ordering::Relaxed);
                    }
                }
                let _ = end.send(started);
            }
        });
        let starter = ChildStarter {
            stop,
            current,
            ended,
        };
        if started_one
            .recv_timeout(crate::bounded::ready_limit())
            .is_err()
        {
            panic!("no child started and ended: {}", starter.child_state());
        }
        starter
    }

    /// Stops the thread; the children started. A child that does not end within
    /// [`crate::bounded::ready_limit`] fails the test with its state.
    pub(crate) fn stop(self) -> u32 {
        self.stop.store(true, Ordering::Relaxed);
        match self.ended.recv_timeout(crate::bounded::ready_limit()) {
            Ok(started) => started,
            Err(_) => panic!("the child starter is stuck: {}", self.child_state()),
        }
    }

    /// What the child being waited for is doing, if there is one.
    fn child_state(&self) -> String {
        match self.current.load(Ordering::Relaxed) {
            0 => "no child running".to_owned(),
            pid => format!("child {pid} is {}", crate::bounded::process_state(pid)),
        }
    }
}

/// An `anyipc` a child may run as any user, and a fresh world-readable directory for the
/// test's files: when the tests run as root (and [`unprivileged`] makes children `nobody`),
/// a copy of [`anyipc_bin`] in that directory (the build's own may sit under a directory only
/// its owner can enter, such as `/root`); else the build's own (a `noexec` temporary
/// directory cannot run a copy).
#[cfg(unix)]
pub(crate) struct SharedAnyipc {
    dir: TempDir,
    bin: PathBuf,
}

#[cfg(unix)]
impl SharedAnyipc {
    pub(crate) fn new(prefix: &str) -> SharedAnyipc {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new(prefix);
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // SAFETY: geteuid has no preconditions and cannot fail.
        let bin = if unsafe { libc::geteuid() } == 0 {
            let bin = dir.path().join("anyipc");
            // By cp(1), not std::fs::copy: a child that another test forks while the copy
            // is open for writing here inherits that descriptor until its exec, and running
            // the copy meanwhile fails with ETXTBSY ("Text file busy", CI 2026-12-07 on
            // i686). cp's descriptor is closed once it exits, and nothing else holds one.
            let copied = std::process::Command::new("cp")
                .arg(anyipc_bin())
                .arg(&bin)
                .status()
                .expect("run cp");
            assert!(copied.success(), "cp the anyipc binary: {copied}");
            bin
        } else {
            PathBuf::from(anyipc_bin())
        };
        SharedAnyipc { dir, bin }
    }

    /// The binary to run: the copy when the tests run as root, else the build's own.
    pub(crate) fn bin(&self) -> &std::path::Path {
        &self.bin
    }

    /// The directory the copy is in (removed with it).
    pub(crate) fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// Makes `command` run as `nobody` (uid and gid 65534) when this process is root, so that the
/// permission checks root bypasses apply to it as they do to every other user; returns the
/// uid it will run as. Its program must be one any user may run ([`SharedAnyipc`]).
#[cfg(unix)]
pub(crate) fn unprivileged(command: &mut tokio::process::Command) -> u32 {
    const NOBODY: u32 = 65534;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if uid != 0 {
        return uid;
    }
    command.uid(NOBODY).gid(NOBODY);
    NOBODY
}

/// Makes directory `path`, 0700 and owned by `uid` (a runtime directory for a child running
/// as that user).
#[cfg(unix)]
pub(crate) fn private_dir_of(path: &std::path::Path, uid: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The group is left as it is: an ordinary user cannot give a file to a group of
    // another number (and a uid need not be a gid), and mode 0700 leaves the group out.
    std::os::unix::fs::chown(path, Some(uid), None).unwrap();
}

// The `anyipc` command's own raise of the soft limit on open descriptors (to the hard one),
// for the many-client tests: a login's usual 1,024 is under what they take with the tests
// that run beside them (a non-root run saw `EMFILE` spawning a helper).
#[path = "../../src/bin/anyipc/fd_limit.rs"]
mod fd_limit;
pub(crate) use fd_limit::raise as raise_fd_limit;
