//! Unix: owner-only socket files created without a umask race, abstract names, and the
//! directory lock that serialises binders of one path.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

mod fifo;
mod inherit;
mod listening;
mod local_socket;
mod log_registry;
mod resolver;
mod socket_probe;

pub(crate) use fifo::{fifo_bind, fifo_open_writer, fifo_unbind, BoundFifo, PIPE_BUF};
pub(crate) use inherit::{
    adopt_inherited_fd, anonymous_pipe, grow_pipe_buffer, inherit_in_child, take_stdio,
};
pub(crate) use listening::{is_one_clients_failure, stop_listening};
pub(crate) use local_socket::{
    connect_unix_socket, pipe_connect, pipe_location, PipeServer, PipeStream, PIPE_PEER_UIDS,
};
// `shm://` (Linux) keeps its rendezvous sockets in the same private directory.
#[cfg(target_os = "linux")]
pub(crate) use local_socket::{clear_dead_socket, runtime_dir};
pub(crate) use log_registry::{register_log, unregister_log};
pub(crate) use resolver::{interface_index, lookup_host};
pub(crate) use socket_probe::{probe_socket, SocketProbe};
// For the local address of each udp:// datagram (`udp_local_linux`).
#[cfg(target_os = "linux")]
pub(crate) use resolver::socket_addr;

/// Which file a path named when we created it, to remove only our own file later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    /// The identity of the file `meta` describes.
    pub(crate) fn of(meta: &std::fs::Metadata) -> FileIdentity {
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// The identity of the open `file` (one `fstat`).
    ///
    /// # Errors
    /// The OS error of `fstat`.
    pub(crate) fn of_file(file: &std::fs::File) -> io::Result<FileIdentity> {
        file.metadata().map(|meta| FileIdentity::of(&meta))
    }

    /// The identity of the file a `stat` (from `fstat` of an open descriptor) describes.
    // `dev_t` and `ino_t` are `u64` on Linux but narrower or signed elsewhere; widened as
    // `MetadataExt::dev`/`ino` widen them, so both ways of finding an identity agree.
    #[allow(clippy::unnecessary_cast)]
    fn of_stat(stat: &Stat) -> FileIdentity {
        FileIdentity {
            dev: stat.st_dev as u64,
            ino: stat.st_ino as u64,
        }
    }
}

/// What [`fstat`] fills in: `stat64` on Linux, where 32-bit glibc's `stat` has 32-bit inode
/// numbers and sizes (its `fstat` fails with `EOVERFLOW` for a file past them).
#[cfg(target_os = "linux")]
pub(crate) type Stat = libc::stat64;
/// What [`fstat`] fills in.
#[cfg(not(target_os = "linux"))]
pub(crate) type Stat = libc::stat;

/// Whether a write failed because this side had already shut its sending half down: on
/// Unix that is `EPIPE`, already `BrokenPipe`, so nothing else is.
pub(crate) fn is_write_after_shutdown(_error: &io::Error) -> bool {
    false
}

/// The `stat` of the open descriptor `fd`.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    fstat_number(fd.as_raw_fd())
}

/// The `stat` of descriptor number `fd`, which may be closed (then `EBADF`).
pub(crate) fn fstat_number(fd: RawFd) -> io::Result<Stat> {
    #[cfg(not(target_os = "linux"))]
    use libc::fstat;
    #[cfg(target_os = "linux")]
    use libc::fstat64 as fstat;
    let mut stat = std::mem::MaybeUninit::<Stat>::uninit();
    // SAFETY: fstat only reads the file a descriptor number refers to (a number that is not
    // open is EBADF), and `stat` points to writable memory of the right size.
    if unsafe { fstat(fd, stat.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat succeeded, so it filled in the whole struct.
    Ok(unsafe { stat.assume_init() })
}

/// Whether `stat` is that of a FIFO (a named pipe or a pipe).
pub(crate) fn is_fifo(stat: &Stat) -> bool {
    stat.st_mode & libc::S_IFMT == libc::S_IFIFO
}

/// The identity of the file at `path`, not following a symlink.
pub(crate) fn file_identity(path: &Path) -> io::Result<FileIdentity> {
    let meta = std::fs::symlink_metadata(path)?;
    Ok(FileIdentity {
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

/// Removes `path` if it still names the file `identity` describes, compared just before the
/// unlink; anything else at `path` (another process's file, nothing) is left alone. Returns
/// whether it removed the file.
///
/// The compare and the unlink are two steps: callers that could race another anyipc binder
/// for the path hold its [`DirLock`].
pub(crate) fn remove_if_identical(path: &Path, identity: FileIdentity) -> io::Result<bool> {
    match file_identity(path) {
        Ok(now) if now == identity => match std::fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        },
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// An exclusive `flock` on the directory that holds a `unix://` socket or `fifo://` FIFO,
/// held by a binder for the few system calls in which it checks what is at the path, removes
/// a stale socket or FIFO and puts its own in place (and by a FIFO's listener while it
/// removes its FIFO). Released when dropped.
///
/// Why the directory itself: every binder of a path finds the same directory without being
/// told, and locking it leaves nothing behind in a directory that belongs to the user (a lock
/// file beside the path would stay there for ever or need the very removal race it guards
/// against). `flock` is per open file description, so two threads of one process exclude each
/// other too. Only anyipc binders take it; a lock on `/tmp` held for microseconds delays
/// nothing else.
///
/// Where the directory cannot be opened for reading or the file system has no `flock` (some
/// network file systems), binding goes ahead unlocked, as before this lock existed.
#[derive(Debug)]
pub(crate) struct DirLock {
    _dir: Option<super::LockedFile>,
}

/// How long a binder waits for another holder of a [`DirLock`] before it binds without the
/// lock. Binders hold it for microseconds; a process stopped while holding it, or another
/// user who locks a shared directory such as `/tmp` on purpose, must not keep binds waiting
/// for ever, nor make them fail: past this they bind unlocked, as before the lock existed.
const DIR_LOCK_PATIENCE: Duration = Duration::from_secs(1);

/// One try at a directory lock.
enum DirLockTry {
    Locked(DirLock),
    /// Another process (or another open of the directory in this one) holds it.
    Busy(File),
}

/// An exclusive, non-blocking `flock` on a lock file: held while the owner lives, released by
/// the kernel when it dies. Dropping removes the file (if the path still names the file
/// locked), then releases the lock: a name is left behind neither by an owner that ends nor by
/// a bind that fails after taking the lock.
#[derive(Debug)]
pub(crate) struct OwnerLock {
    file: File,
    path: PathBuf,
}

impl OwnerLock {
    /// Takes the lock at `path` (creating the file 0600); `AddrInUse` if a live owner holds it.
    /// Writes this process's id into the file, as decimal text: a hint for `anyipc ls`, which
    /// shows whose name a dead owner left (nothing relies on it; a failed write is ignored).
    pub(crate) fn acquire(path: &Path) -> io::Result<OwnerLock> {
        loop {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(path)?;
            if !try_flock(file.as_fd())? {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "a live process owns this name",
                ));
            }
            // A previous owner may have removed the file between our open and our flock: then
            // we hold a lock on a file no one else will find. Retry on the current one.
            match file_identity(path) {
                Ok(now) if now == FileIdentity::of(&file.metadata()?) => {
                    let _ = record_pid(&file);
                    return Ok(OwnerLock {
                        file,
                        path: path.to_path_buf(),
                    });
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Replaces the contents of the lock file `file` (which we hold) with this process's id.
fn record_pid(file: &File) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.set_len(0)?;
    file.write_all_at(format!("{}\n", std::process::id()).as_bytes(), 0)
}

impl Drop for OwnerLock {
    fn drop(&mut self) {
        // Removed while still locked: whoever opened the old file and locks it after us sees
        // that the path no longer names it, and starts over.
        if let Ok(held) = self.file.metadata() {
            let _ = remove_if_identical(&self.path, FileIdentity::of(&held));
        }
    }
}

/// The directory `path` is in (`.` for a bare name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Tries an exclusive `flock` on `fd`: `Ok(false)` if another open file description holds it.
pub(crate) fn try_flock(fd: BorrowedFd<'_>) -> io::Result<bool> {
    try_flock_as(fd, libc::LOCK_EX)
}

/// Tries a shared `flock` on `fd`: `Ok(false)` if another open file description holds it
/// exclusively. Probes of a lock held for a life use it, so that they never refuse each
/// other.
#[cfg(target_os = "linux")]
pub(crate) fn try_flock_shared(fd: BorrowedFd<'_>) -> io::Result<bool> {
    try_flock_as(fd, libc::LOCK_SH)
}

/// Releases this open file description's `flock` on `fd` (none held is not an error), while
/// the descriptor itself stays open.
pub(crate) fn unlock_flock(fd: BorrowedFd<'_>) -> io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor we borrow.
        if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_UN) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn try_flock_as(fd: BorrowedFd<'_>, operation: libc::c_int) -> io::Result<bool> {
    loop {
        // SAFETY: flock on a descriptor we borrow.
        let ret = unsafe { libc::flock(fd.as_raw_fd(), operation | libc::LOCK_NB) };
        if ret == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::WouldBlock => return Ok(false),
            io::ErrorKind::Interrupted => continue,
            _ => return Err(e),
        }
    }
}

/// Opens the directory `path` (for an `flock` or an `fd` to bind through).
fn open_dir(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
}

/// Opens `path`'s directory and tries to lock it once; `dir` is a descriptor from an earlier
/// try.
fn try_lock_parent_dir(path: &Path, dir: Option<File>) -> DirLockTry {
    let dir = match dir {
        Some(dir) => dir,
        None => match open_dir(parent_dir(path)) {
            Ok(dir) => dir,
            Err(e) => {
                // No read permission on the directory, or no directory: the bind itself then
                // reports what is wrong, or works unlocked.
                tracing::debug!(path = %path.display(), error = %e,
                    "binding without the directory lock: cannot open the directory");
                return DirLockTry::Locked(DirLock { _dir: None });
            }
        },
    };
    match try_flock(dir.as_fd()) {
        Ok(true) => DirLockTry::Locked(DirLock {
            _dir: Some(super::LockedFile::new(dir)),
        }),
        Ok(false) => DirLockTry::Busy(dir),
        Err(err) => {
            tracing::debug!(path = %path.display(), error = %err,
                "binding without the directory lock: flock is not supported here");
            DirLockTry::Locked(DirLock { _dir: None })
        }
    }
}

/// The lock given up after [`DIR_LOCK_PATIENCE`]: binding goes ahead without it.
fn dir_lock_given_up(path: &Path) -> DirLock {
    tracing::warn!(
        path = %path.display(),
        dir = %parent_dir(path).display(),
        "another process kept the directory's bind lock (anyipc binders hold it for \
         microseconds); binding without it"
    );
    DirLock { _dir: None }
}

/// The [`DirLock`] of `path`'s directory if it is free now (or cannot be had at all: then an
/// empty one); `None` while another holds it.
pub(crate) fn try_lock_parent_dir_now(path: &Path) -> Option<DirLock> {
    match try_lock_parent_dir(path, None) {
        DirLockTry::Locked(lock) => Some(lock),
        DirLockTry::Busy(_) => None,
    }
}

/// [`lock_parent_dir_async`], waiting on this thread (pauses of 20 µs doubling to 5 ms): for
/// the tests of the lock, which run it on threads of their own.
#[cfg(test)]
pub(crate) fn lock_parent_dir(path: &Path) -> DirLock {
    let mut wait = DirLockWait::new(path, Duration::from_micros(20), Duration::from_millis(5));
    loop {
        match wait.attempt() {
            Ok(lock) => return lock,
            Err(pause) => std::thread::sleep(pause),
        }
    }
}

/// Takes the [`DirLock`] of `path`'s directory, waiting on the tokio timer (at most
/// [`DIR_LOCK_PATIENCE`], in pauses of 1 ms doubling to 10 ms) while another binder holds it;
/// past that, an empty lock (the bind goes ahead unlocked).
pub(crate) async fn lock_parent_dir_async(path: &Path) -> DirLock {
    let mut wait = DirLockWait::new(path, Duration::from_millis(1), Duration::from_millis(10));
    loop {
        match wait.attempt() {
            Ok(lock) => return lock,
            Err(pause) => tokio::time::sleep(pause).await,
        }
    }
}

/// The attempts of one wait for a [`DirLock`]; the caller sleeps between them as it can.
struct DirLockWait<'a> {
    path: &'a Path,
    wait: FlockWait,
    /// The directory, opened by the first attempt.
    dir: Option<File>,
}

impl<'a> DirLockWait<'a> {
    fn new(path: &'a Path, first_pause: Duration, max_pause: Duration) -> DirLockWait<'a> {
        DirLockWait {
            path,
            wait: FlockWait::new(DIR_LOCK_PATIENCE, first_pause, max_pause),
            dir: None,
        }
    }

    /// One attempt: the lock (an empty one past [`DIR_LOCK_PATIENCE`]), or how long to pause
    /// before the next attempt.
    fn attempt(&mut self) -> Result<DirLock, Duration> {
        match try_lock_parent_dir(self.path, self.dir.take()) {
            DirLockTry::Locked(lock) => return Ok(lock),
            DirLockTry::Busy(busy) => self.dir = Some(busy),
        }
        match self.wait.next_pause() {
            Some(pause) => Err(pause),
            None => Ok(dir_lock_given_up(self.path)),
        }
    }
}

/// The patience and the pauses of one wait for an exclusive `flock` that another holds
/// (the directory lock of binders, the region creators' lock): attempts until a deadline,
/// with pauses doubling from a first one to a longest one. What to do past the deadline is
/// the caller's.
pub(crate) struct FlockWait {
    /// When the patience is spent.
    deadline: Instant,
    /// The next pause.
    pause: Duration,
    /// The longest pause.
    max_pause: Duration,
}

impl FlockWait {
    /// A wait that gives up `patience` from now; its first pause is `first_pause`, each next
    /// one twice the last, at most `max_pause`.
    pub(crate) fn new(patience: Duration, first_pause: Duration, max_pause: Duration) -> FlockWait {
        FlockWait {
            deadline: Instant::now() + patience,
            pause: first_pause,
            max_pause,
        }
    }

    /// After an attempt found the lock held by another: how long to pause before the next
    /// attempt, or `None` once the patience is spent.
    fn next_pause(&mut self) -> Option<Duration> {
        if Instant::now() >= self.deadline {
            return None;
        }
        let pause = self.pause;
        self.pause = (pause * 2).min(self.max_pause);
        Some(pause)
    }

    /// Takes an exclusive `flock` on `fd`, sleeping on this thread between attempts while
    /// another holds it: `Ok(true)` once locked, `Ok(false)` if it was still held when the
    /// patience was spent.
    ///
    /// # Errors
    /// `flock`'s own (no `flock` on this file system, say), at once.
    #[cfg(target_os = "linux")]
    pub(crate) fn lock_blocking(mut self, fd: BorrowedFd<'_>) -> io::Result<bool> {
        loop {
            if try_flock(fd)? {
                return Ok(true);
            }
            match self.next_pause() {
                Some(pause) => std::thread::sleep(pause),
                None => return Ok(false),
            }
        }
    }
}

/// Binds a Unix socket at `path` with permissions `mode`, never exposing it with looser
/// permissions and never replacing an existing file; returns it with the identity of the
/// socket file, taken from the staged file before the link (so it is ours whatever happens
/// at `path` afterwards). Pass that to [`adopt_linked_socket`] and keep it for removal on
/// drop.
///
/// The socket is bound inside a fresh 0700 directory beside `path`, given `mode`, then
/// hard-linked to `path` (`link` fails with `AlreadyExists` rather than replace anything).
/// So whatever the umask, no other user can reach the socket before its mode is set.
pub(crate) fn bind_owner_only_identified(
    path: &Path,
    mode: u32,
) -> io::Result<(UnixListener, FileIdentity)> {
    // Bound through a short name and linked there it would listen, but no client could
    // reach it: a connect takes the path itself.
    check_socket_path_len(path)?;
    let private_dir = create_staging_dir(parent_dir(path))?;
    let result = (|| {
        let staged = private_dir.join("s");
        let listener = bind_staged(&private_dir, &staged)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))?;
        // A hard link is the same file: the staged name's identity is the linked one's.
        let identity = file_identity(&staged);
        let linked = identity.and_then(|identity| {
            std::fs::hard_link(&staged, path)?;
            Ok(identity)
        });
        let _ = std::fs::remove_file(&staged);
        Ok((listener, linked?))
    })();
    let _ = std::fs::remove_dir(&private_dir);
    result
}

/// Room in `sockaddr_un.sun_path`, less its terminating NUL: 108 bytes on Linux, 104 on
/// macOS and the BSDs.
pub(crate) const MAX_SOCKET_PATH: usize = if cfg!(any(target_os = "linux", target_os = "android")) {
    107
} else {
    103
};

/// `InvalidInput`, naming the path and the limit, when `path` is too long for a socket
/// address: binding and connecting say the same.
pub(crate) fn check_socket_path_len(path: &Path) -> io::Result<()> {
    match socket_path_too_long(path) {
        Some(why) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: {why}", path.display()),
        )),
        None => Ok(()),
    }
}

/// Why `path` cannot be a socket's address, when it is too long for one.
pub(crate) fn socket_path_too_long(path: &Path) -> Option<String> {
    let len = path.as_os_str().len();
    (len > MAX_SOCKET_PATH)
        .then(|| format!("a socket path must be at most {MAX_SOCKET_PATH} bytes ({len} given)"))
}

/// Staging directories made by this process so far: the suffix of the next one's name.
static STAGING_DIRS: AtomicU32 = AtomicU32::new(0);

/// Creates a fresh 0700 staging directory in `parent`. A name taken already (left by a
/// process killed while binding, whose pid this process now has) is passed over for another.
fn create_staging_dir(parent: &Path) -> io::Result<PathBuf> {
    crate::sys::create_fresh_private_dir((0..16).map(|_| {
        parent.join(format!(
            ".anyipc-{:x}-{:x}",
            std::process::id(),
            STAGING_DIRS.fetch_add(1, Ordering::Relaxed)
        ))
    }))
}

/// Binds the staged socket `staged` (in `dir`). The staging path is longer than the path the
/// socket is linked at (checked to fit by the caller); where the staging path is too long
/// for a socket address, Linux binds it through the directory's descriptor
/// (`/proc/self/fd/N/s`), which is short.
fn bind_staged(dir: &Path, staged: &Path) -> io::Result<UnixListener> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if staged.as_os_str().len() > MAX_SOCKET_PATH {
        let dir_fd = open_dir(dir)?;
        let short = PathBuf::from(format!("/proc/self/fd/{}/s", dir_fd.as_raw_fd()));
        return UnixListener::bind(short);
    }
    let _ = dir;
    UnixListener::bind(staged)
}

/// Finishes a listener whose socket file [`bind_owner_only_identified`] linked at `path`:
/// runs `adopt` and, if that fails, removes the socket file again, only while `path` still
/// names the file `identity` describes.
fn adopt_linked_socket<T>(
    path: &Path,
    identity: FileIdentity,
    adopt: impl FnOnce() -> io::Result<T>,
) -> io::Result<T> {
    adopt().inspect_err(|_| {
        let _ = remove_if_identical(path, identity);
    })
}

/// A listening Unix socket registered with tokio, and the socket file it is bound to (none for
/// an abstract name): the file goes with it, removed on drop while `path` still names it, so
/// a listener that ends, or a bind that fails once the file is linked, leaves nothing behind
/// and never removes another's socket.
#[derive(Debug)]
pub(crate) struct LinkedSocket {
    listener: tokio::net::UnixListener,
    file: Option<(PathBuf, FileIdentity)>,
}

impl LinkedSocket {
    /// Binds `path` with permissions `mode` ([`bind_owner_only_identified`]).
    ///
    /// # Errors
    /// Those of [`bind_owner_only_identified`]; registering with tokio.
    pub(crate) fn bind(path: &Path, mode: u32) -> io::Result<LinkedSocket> {
        let (std_listener, identity) = bind_owner_only_identified(path, mode)?;
        let listener = adopt_linked_socket(path, identity, || {
            std_listener.set_nonblocking(true)?;
            tokio::net::UnixListener::from_std(std_listener)
        })?;
        Ok(LinkedSocket {
            listener,
            file: Some((path.to_path_buf(), identity)),
        })
    }

    /// A listener with no socket file (a Linux abstract name).
    pub(crate) fn unlinked(listener: tokio::net::UnixListener) -> LinkedSocket {
        LinkedSocket {
            listener,
            file: None,
        }
    }

    /// Polls for the next connection.
    pub(crate) fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<(tokio::net::UnixStream, tokio::net::unix::SocketAddr)>> {
        self.listener.poll_accept(cx)
    }
}

impl Drop for LinkedSocket {
    // No directory lock needed (unlike a FIFO's): the socket still listens while this runs,
    // so no binder can take it for a dead server's and put its own in its place between the
    // identity check and the unlink.
    fn drop(&mut self) {
        if let Some((path, identity)) = &self.file {
            let _ = remove_if_identical(path, *identity);
        }
    }
}

/// The path tokio reads as a Linux abstract socket name (a leading NUL byte).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn abstract_socket_path(name: &str) -> io::Result<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(name.as_bytes());
    Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

/// Abstract names exist only on Linux.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn abstract_socket_path(name: &str) -> io::Result<PathBuf> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!("unix://@{name}: abstract socket names exist only on Linux"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(what: &str) -> Scratch {
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "anyipc-sys-{what}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn remove_if_identical_leaves_a_replacement_alone() {
        let dir = Scratch::new("identity");
        let path = dir.0.join("f");
        std::fs::write(&path, b"ours").unwrap();
        let ours = file_identity(&path).unwrap();
        // Replaced by another file (kept alive elsewhere, so its inode cannot be reused).
        std::fs::rename(&path, dir.0.join("moved")).unwrap();
        std::fs::write(&path, b"theirs").unwrap();
        assert!(!remove_if_identical(&path, ours).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"theirs");
        // Nothing there: nothing to do.
        std::fs::remove_file(&path).unwrap();
        assert!(!remove_if_identical(&path, ours).unwrap());
        // Still ours: removed.
        let moved = dir.0.join("moved");
        assert!(remove_if_identical(&moved, ours).unwrap());
        assert!(!moved.exists());
    }

    #[test]
    fn a_socket_that_cannot_be_adopted_is_unlinked_only_while_it_is_ours() {
        let dir = Scratch::new("adopt");
        let path = dir.0.join("s");
        let (listener, identity) = bind_owner_only_identified(&path, 0o600).unwrap();
        assert_eq!(file_identity(&path).unwrap(), identity);
        let err = adopt_linked_socket(&path, identity, || {
            drop(listener);
            Err::<(), _>(io::Error::other("registration failed"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "registration failed");
        assert!(std::fs::symlink_metadata(&path).is_err(), "left behind");

        // Replaced by someone else's file before the failure: that one stays.
        let (listener, identity) = bind_owner_only_identified(&path, 0o600).unwrap();
        std::fs::rename(&path, dir.0.join("moved")).unwrap();
        std::fs::write(&path, b"theirs").unwrap();
        let _ = adopt_linked_socket(&path, identity, || {
            drop(listener);
            Err::<(), _>(io::Error::other("registration failed"))
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"theirs");

        // Success leaves the socket in place.
        let other = dir.0.join("t");
        let (listener, identity) = bind_owner_only_identified(&other, 0o600).unwrap();
        adopt_linked_socket(&other, identity, || Ok(listener)).unwrap();
        assert_eq!(file_identity(&other).unwrap(), identity);
    }

    /// A path that fits a socket address binds even though its staging path would not, and
    /// staging directory names left by a killed process with this pid are passed over.
    #[test]
    fn a_long_path_and_a_leftover_staging_directory_still_bind() {
        let dir = Scratch::new("long");
        // A deep directory and a short name: the path fits, the staging path beside it not.
        let pad = MAX_SOCKET_PATH - dir.0.as_os_str().len() - 3;
        let deep = dir.0.join("d".repeat(pad));
        std::fs::create_dir(&deep).unwrap();
        let path = deep.join("s");
        assert_eq!(path.as_os_str().len(), MAX_SOCKET_PATH);
        let next = STAGING_DIRS.load(Ordering::Relaxed);
        for n in next..next + 4 {
            let leftover = deep.join(format!(".anyipc-{:x}-{n:x}", std::process::id()));
            std::fs::create_dir(leftover).unwrap();
        }
        let (listener, identity) = bind_owner_only_identified(&path, 0o600).unwrap();
        assert_eq!(file_identity(&path).unwrap(), identity);
        let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        assert!(listener.accept().is_ok());
        // One byte longer: no client could connect, so no bind either.
        let too_long = deep.join("ss");
        let err = bind_owner_only_identified(&too_long, 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        assert!(!too_long.exists());
    }

    /// Pauses double from the first to the longest; none once the patience is spent.
    #[test]
    fn a_flock_wait_doubles_its_pauses_until_its_patience_is_spent() {
        let ms = Duration::from_millis;
        let mut wait = FlockWait::new(Duration::from_secs(3600), ms(1), ms(5));
        let pauses: Vec<_> = (0..5).map(|_| wait.next_pause()).collect();
        assert_eq!(pauses, [1, 2, 4, 5, 5].map(|n| Some(ms(n))));
        assert_eq!(
            FlockWait::new(Duration::ZERO, ms(1), ms(5)).next_pause(),
            None
        );
    }

    /// A lock held by another open of the file is waited for until the patience is spent;
    /// a free one is taken at once.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_blocking_flock_wait_gives_up_after_its_patience() {
        let dir = Scratch::new("flockwait");
        let path = dir.0.join("lock");
        let held = std::fs::File::create(&path).unwrap();
        assert!(try_flock(held.as_fd()).unwrap());
        let other = std::fs::File::open(&path).unwrap();
        let patience = Duration::from_millis(50);
        let wait = FlockWait::new(
            patience,
            Duration::from_micros(20),
            Duration::from_millis(5),
        );
        let started = Instant::now();
        assert!(
            !wait.lock_blocking(other.as_fd()).unwrap(),
            "locked while held"
        );
        assert!(started.elapsed() >= patience, "gave up early");
        drop(held);
        let wait = FlockWait::new(
            patience,
            Duration::from_micros(20),
            Duration::from_millis(5),
        );
        assert!(
            wait.lock_blocking(other.as_fd()).unwrap(),
            "a free lock not taken"
        );
    }

    #[test]
    fn the_directory_lock_excludes_other_holders_until_dropped() {
        let dir = Scratch::new("dirlock");
        let path = dir.0.join("f");
        let held = lock_parent_dir(&path);
        assert!(held._dir.is_some(), "the directory was not locked");
        // Another open of the directory (as another binder, thread or process, makes).
        assert!(matches!(
            try_lock_parent_dir(&path, None),
            DirLockTry::Busy(_)
        ));
        // A second thread waits for it, and gets it once it is released.
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || lock_parent_dir(&path)._dir.is_some())
        };
        drop(held);
        assert!(
            waiter.join().unwrap(),
            "the waiter got the lock once it was free"
        );
        // A bare name locks the current directory.
        assert_eq!(parent_dir(Path::new("f")), Path::new("."));
    }
}
