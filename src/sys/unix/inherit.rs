//! Anonymous pipes a parent hands down to the child it spawns, and taking them over in the
//! child.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Checks the return value of a libc call that reports failure as -1.
fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// A close-on-exec duplicate of `fd` numbered 3 or above.
fn dup_above_stdio(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC only reads `fd`; an invalid one is an error, not UB.
    let new = cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) })?;
    // SAFETY: fcntl returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// A new pipe, both ends close-on-exec from the start (`pipe2`).
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
fn close_on_exec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 created both descriptors just now and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A new pipe, both ends then made close-on-exec. (No `pipe2` here, so a child another
/// thread forks in between inherits the pair, as with std's own pipes on these systems.)
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
fn close_on_exec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe writes.
    cvt(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    // SAFETY: pipe created both descriptors just now and nothing else owns them.
    let pair = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for fd in [&pair.0, &pair.1] {
        // SAFETY: F_SETFD only sets the descriptor flags of `fd`, which is open (owned); on
        // failure both are closed as they drop.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
    }
    Ok(pair)
}

/// A blocking anonymous pipe, `(read end, write end)`, both close-on-exec and numbered 3 or
/// above (so that setting up a child's stdio can never overwrite them).
pub(crate) fn anonymous_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = close_on_exec_pipe()?;
    let renumber = |fd: OwnedFd| {
        if fd.as_raw_fd() < 3 {
            dup_above_stdio(fd.as_raw_fd())
        } else {
            Ok(fd)
        }
    };
    Ok((renumber(read)?, renumber(write)?))
}

/// Makes the child that `cmd` starts inherit `fds`, which stay close-on-exec in this process
/// (and so in every other child it starts).
pub(crate) fn inherit_in_child(cmd: &mut tokio::process::Command, fds: [RawFd; 2]) {
    let keep = move || -> io::Result<()> {
        for fd in fds {
            // SAFETY: fcntl on a descriptor number is async-signal-safe and allocates nothing;
            // a bad number is reported as an error.
            let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
            // SAFETY: as above.
            cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) })?;
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec; it only calls fcntl (which is
    // async-signal-safe), takes no locks and does not allocate.
    unsafe {
        cmd.pre_exec(keep);
    }
}

use super::fstat_number as fstat_raw;

/// What an inherited descriptor is checked to be before it is adopted.
struct Expected {
    /// "read end" or "write end", for messages.
    end: &'static str,
    /// `O_RDONLY` or `O_WRONLY`.
    access: libc::c_int,
    /// The other end's access mode.
    other_access: libc::c_int,
}

/// Checks, without changing anything about it, that `fd` looks as [`inherit_in_child`] left
/// the `expected` end of a parent's pipe; returns the pipe's identity.
fn check_inherited(fd: RawFd, expected: &Expected) -> io::Result<super::FileIdentity> {
    let end = expected.end;
    let invalid = |why: String| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("descriptor {fd} (the {end}) {why}"),
        )
    };
    if fd < 3 {
        return Err(invalid(
            "is a standard stream, not an inherited pipe".into(),
        ));
    }
    // SAFETY: F_GETFD only reads the descriptor flags of a number; a closed one is EBADF.
    let fd_flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })
        .map_err(|e| invalid(format!("is not open ({e})")))?;
    if fd_flags & libc::FD_CLOEXEC != 0 {
        return Err(invalid(
            "is close-on-exec, so it was not inherited from the parent: it belongs to this \
             process's own code, or the process has run exec since it took its pipes"
                .into(),
        ));
    }
    let stat = fstat_raw(fd).map_err(|e| invalid(format!("cannot be examined ({e})")))?;
    if !super::is_fifo(&stat) {
        return Err(invalid("is not a pipe".into()));
    }
    let access = open_access(fd).map_err(|e| invalid(format!("cannot be examined ({e})")))?;
    // Either end of a two-way pipe (FreeBSD's and DragonFly's) is open both ways. Elsewhere
    // a descriptor open both ways is not one end of a pipe from the parent (a FIFO opened
    // so would never see the parent's end of file).
    let two_way_pipes = cfg!(any(target_os = "freebsd", target_os = "dragonfly"));
    if access != expected.access && !(two_way_pipes && access == libc::O_RDWR) {
        let name = |access| match access {
            libc::O_RDONLY => "reading only",
            libc::O_WRONLY => "writing only",
            _ => "reading and writing",
        };
        let swapped = if access == expected.other_access {
            " (are the two swapped?)"
        } else {
            ""
        };
        return Err(invalid(format!(
            "is open for {}, not for {} as the {end} of a pipe from the parent is{swapped}",
            name(access),
            name(expected.access),
        )));
    }
    Ok(super::FileIdentity::of_stat(&stat))
}

/// Takes ownership of the pipe ends `read` and `write` that the parent handed down with
/// [`inherit_in_child`], as `(read end, write end)`, and makes them close-on-exec so the
/// child's own children do not keep the parent's pipes open. (One call for the pair: both
/// are checked before either is taken.)
///
/// Before it takes either, it checks both: numbered 3 or above, open, not close-on-exec
/// (`inherit_in_child` cleared the flag on the pair, while every descriptor std, tokio and
/// mio open has it set, and adopting sets it, so a pair taken before an `exec` in place is
/// refused afterwards), pipes, `read` open for reading only and `write` for writing only,
/// and not the same pipe.
///
/// # Errors
/// `InvalidInput` saying which check failed; then neither descriptor has been touched (not
/// closed, flags unchanged). Once both are taken, a failure to set close-on-exec (not
/// expected on an open descriptor) closes both.
///
/// # Safety
/// Nothing else in this process may own `read` or `write` (hold them in a `File`, socket or
/// another `OwnedFd`), since the returned `OwnedFd`s close them. The checks refuse most
/// numbers that do not hold the parent's pipes, but not a pipe that this process's own code
/// made without close-on-exec (or inherited, other than from this parent).
pub(crate) unsafe fn adopt_inherited_fd(
    read: RawFd,
    write: RawFd,
) -> io::Result<(OwnedFd, OwnedFd)> {
    let read_pipe = check_inherited(
        read,
        &Expected {
            end: "read end",
            access: libc::O_RDONLY,
            other_access: libc::O_WRONLY,
        },
    )?;
    let write_pipe = check_inherited(
        write,
        &Expected {
            end: "write end",
            access: libc::O_WRONLY,
            other_access: libc::O_RDONLY,
        },
    )?;
    if read_pipe == write_pipe {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "descriptors {read} and {write} are two ends of the same pipe, not the \
                 parent's two pipes"
            ),
        ));
    }
    // SAFETY: both were open when checked, and the caller guarantees nothing else owns them,
    // so nothing else closes them in between.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(read), OwnedFd::from_raw_fd(write)) };
    for fd in [&read, &write] {
        // SAFETY: F_SETFD on a descriptor we own only sets its descriptor flags, of which
        // FD_CLOEXEC is the only one defined.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
    }
    Ok((read, write))
}

/// The pipe `fd` is an end of, opened again as an open file description of this process's
/// own (`access`: `O_RDONLY` or `O_WRONLY`), where the OS allows it; else `fd` itself.
///
/// A process's stdin and stdout are open file descriptions it shares with whoever started
/// it (a shell, the next command of a script), and the status flags are the description's:
/// the `O_NONBLOCK` that async I/O sets would stay behind for them, so that the next
/// program reading the same stdin fails with `EAGAIN` ("Resource temporarily unavailable")
/// instead of waiting. On Linux `/proc/self/fd/N` opens the pipe anew: a description no one
/// else holds. Elsewhere (`/dev/fd/N` duplicates the descriptor there), and where that open
/// fails (no `/proc`, a pipe another user made, no reader left for a write end), the shared
/// description is used as before.
fn own_description(fd: OwnedFd, access: libc::c_int) -> OwnedFd {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(own) = reopen_pipe(&fd, access) {
        return own;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = access;
    fd
}

/// The pipe `fd` is an end of, opened anew through `/proc/self/fd` for `access`, close-on-exec
/// and numbered 3 or above; `None` when that fails or opens something else, and for anything
/// but an anonymous pipe open for `access`.
///
/// Only anonymous pipes: a named FIFO opened read-only and non-blocking while it has no
/// writer hides the hang-up from `epoll` until a writer comes (Linux's `fifo_open`), so a
/// stdin FIFO whose writer had already gone was never seen to end (a review found the hang);
/// anonymous pipes are exempt from that rule. And only the way the descriptor was open: a
/// stdin that is a pipe's write end must stay one (and be refused), not become its read end.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn reopen_pipe(fd: &OwnedFd, access: libc::c_int) -> Option<OwnedFd> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::OpenOptionsExt;
    if !is_anonymous_pipe(fd.as_fd()) || open_access(fd.as_raw_fd()).ok()? != access {
        return None;
    }
    // O_NONBLOCK: opening a FIFO otherwise waits for the other end (a write end with no
    // reader left fails with ENXIO instead).
    let new = std::fs::OpenOptions::new()
        .read(access == libc::O_RDONLY)
        .write(access == libc::O_WRONLY)
        .custom_flags(libc::O_NONBLOCK)
        .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .ok()?;
    let identity = |fd| super::fstat(fd).map(|stat| super::FileIdentity::of_stat(&stat));
    if identity(new.as_fd()).ok()? != identity(fd.as_fd()).ok()? {
        return None;
    }
    // The open takes the lowest free number, which is fd 2 when stderr is closed.
    let new = OwnedFd::from(new);
    if new.as_raw_fd() < 3 {
        return dup_above_stdio(new.as_raw_fd()).ok();
    }
    Some(new)
}

/// Whether `fd` is an anonymous pipe (on the pipe file system), not a named FIFO.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn is_anonymous_pipe(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    /// `PIPEFS_MAGIC` of Linux's `<linux/magic.h>`.
    const PIPEFS_MAGIC: i64 = 0x5049_5045;
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs writes a `statfs` to the pointer, which has room for one, and reads
    // nothing else of ours; the descriptor is borrowed for the call.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), stat.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: fstatfs returned 0, so it filled the struct.
    let stat = unsafe { stat.assume_init() };
    // `f_type`'s integer type differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    let kind = stat.f_type as i64;
    kind == PIPEFS_MAGIC
}

/// How `fd` is open: `O_RDONLY`, `O_WRONLY` or `O_RDWR`.
///
/// # Errors
/// `EBADF` for a number that is not open.
fn open_access(fd: RawFd) -> io::Result<libc::c_int> {
    // SAFETY: F_GETFL only reads the file status flags of a descriptor number; one that is
    // not open is EBADF.
    let status = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    Ok(status & libc::O_ACCMODE)
}

/// Where fd 1 goes once the stream is taken off it: fd 2, unless fd 2 is not open or is the
/// stream's pipe itself (stderr sent to stdout, `2>&1`), where `null` is.
fn stdout_after_taking(stream: &OwnedFd, null: &std::fs::File) -> io::Result<RawFd> {
    let stream = super::FileIdentity::of_stat(&super::fstat(std::os::fd::AsFd::as_fd(stream))?);
    match fstat_raw(2) {
        Ok(stderr) if super::FileIdentity::of_stat(&stderr) != stream => Ok(2),
        _ => Ok(null.as_raw_fd()),
    }
}

/// Takes this process's stdin and stdout pipes as `(read end, write end)`. Afterwards fd 0
/// reads `/dev/null` and fd 1 writes wherever fd 2 does, so a stray `println!` goes to stderr
/// instead of into the stream; when stderr is the stream's pipe too (`2>&1`), or is not
/// open, fd 1 writes to `/dev/null`. Where it can, the pipes are opened anew
/// ([`own_description`]), so that making them non-blocking does not make them so for the
/// other processes that share this process's stdin and stdout.
///
/// # Errors
/// `InvalidInput` when stdin or stdout is not a pipe.
pub(crate) fn take_stdio() -> io::Result<(OwnedFd, OwnedFd)> {
    // Everything is checked before fd 0 or 1 is touched: a refused take leaves both as found.
    for (fd, what, wrong_way) in [(0, "stdin", libc::O_WRONLY), (1, "stdout", libc::O_RDONLY)] {
        let refuse = |why: String| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("stdio://: {what} {why}"),
            )
        };
        let stat = fstat_raw(fd).map_err(|e| refuse(format!("is not open ({e})")))?;
        if !super::is_fifo(&stat) {
            return Err(refuse("is not a pipe".into()));
        }
        let access = open_access(fd).map_err(|e| refuse(format!("cannot be examined ({e})")))?;
        if access == wrong_way {
            return Err(refuse(format!(
                "is a pipe open for {} only, the wrong way round for it",
                if access == libc::O_RDONLY {
                    "reading"
                } else {
                    "writing"
                }
            )));
        }
    }
    let _ = io::stdout().flush();
    let read = own_description(dup_above_stdio(0)?, libc::O_RDONLY);
    let write = own_description(dup_above_stdio(1)?, libc::O_WRONLY);
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    let stdout = stdout_after_taking(&write, &null)?;
    // SAFETY: both descriptors are open; dup2 atomically replaces fd 0, which std only reads
    // through its own handle and never closes.
    cvt(unsafe { libc::dup2(null.as_raw_fd(), 0) })?;
    // SAFETY: as above, for fd 1 and `stdout` (fd 2 or /dev/null, checked open).
    cvt(unsafe { libc::dup2(stdout, 1) })?;
    Ok((read, write))
}

/// The pipe buffer asked for on Linux: large messages then cross in fewer wake-ups (the
/// default is 64 KiB; a Unix socket buffers about 200 KiB).
#[cfg(any(target_os = "linux", target_os = "android"))]
const PIPE_BUFFER: libc::c_int = 1 << 20;

/// Asks the OS for a larger buffer for the pipe `fd` belongs to. Best effort: where the OS
/// refuses (a lower `/proc/sys/fs/pipe-max-size`, the per-user pipe limit) or has no such call,
/// the pipe keeps its default.
pub(crate) fn grow_pipe_buffer(fd: std::os::fd::BorrowedFd<'_>) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: F_SETPIPE_SZ only resizes the buffer of the pipe `fd` refers to; a refusal is
        // an error return, which is ignored.
        let _ = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BUFFER) };
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = fd;
}
