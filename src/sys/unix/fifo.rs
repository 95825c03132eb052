//! POSIX FIFOs for `fifo:///path`: creation without a umask race, refusal of anything that is
//! not our own FIFO, and opening each end without blocking.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::{
    file_identity, fstat, is_fifo, remove_if_identical, try_lock_parent_dir_now, DirLock,
    FileIdentity,
};

/// Largest write the OS performs atomically on a pipe: writes of at most this many bytes from
/// several writers are never interleaved.
pub(crate) const PIPE_BUF: usize = libc::PIPE_BUF;

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: a path may not contain a NUL byte", path.display()),
        )
    })
}

/// `open(2)` with `O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK` added to `flags`.
fn open(path: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    let c_path = c_path(path)?;
    let flags = flags | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call.
    let fd = unsafe { libc::open(c_path.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn refuse(path: &Path, kind: io::ErrorKind, why: &str) -> io::Error {
    io::Error::new(kind, format!("fifo://{}: {why}", path.display()))
}

/// The two descriptors of a bound FIFO.
#[derive(Debug)]
pub(crate) struct BoundFifo {
    /// The read end, non-blocking.
    pub(crate) reader: OwnedFd,
    /// A write end the reader's process holds itself, so that the reader never sees end of
    /// file when the last writer leaves and writers may come and go.
    pub(crate) keep_open: OwnedFd,
    /// The FIFO `reader` has open (`fstat` of the descriptor, not a look-up of the path):
    /// the only file at the path this binder may ever remove ([`fifo_unbind`]).
    pub(crate) identity: FileIdentity,
}

/// Creates the FIFO at `path` with permissions `mode` (or takes over a stale one of ours) and
/// opens it for reading.
///
/// Binders of one path are serialised by the lock on its directory, which the caller holds
/// (`held`: [`lock_parent_dir_async`](super::lock_parent_dir_async)) from before this call
/// until it returns, that is from the first look at the path until the reader is open: a
/// FIFO another binder has
/// just made but not yet opened has no reader, and without the lock it would look stale and
/// both binds would succeed. Under the lock, a FIFO of ours with no reader really is stale.
///
/// A stale FIFO is reused, not replaced: a writer already blocked in `open` on it (a shell's
/// `echo msg > path` while no reader ran) is let through by the new reader and its message
/// read. Replacing the FIFO would leave that writer waiting for ever on a file no reader
/// can reach. Only a stale FIFO its owner may not read is removed and made again.
///
/// # Errors
/// `AlreadyExists` for a symlink or anything but a FIFO at `path`; `PermissionDenied` for a
/// FIFO owned by another user; `AddrInUse` when a live reader has it open.
pub(crate) fn fifo_bind(path: &Path, mode: u32, held: &DirLock) -> io::Result<BoundFifo> {
    let _ = held;
    if let Some(stale) = find_stale(path)? {
        tracing::debug!(path = %path.display(), "reusing a FIFO no one reads");
        match open_bound(path, stale, mode, "was replaced while being reclaimed") {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                // Its mode keeps even its owner out (`chmod 200`): made again below. Only the
                // FIFO just found stale; whatever replaced it since is left alone.
                if !remove_if_identical(path, stale)? && file_identity(path).is_ok() {
                    return Err(refuse(
                        path,
                        io::ErrorKind::AddrInUse,
                        "was replaced while being reclaimed",
                    ));
                }
            }
            reused => return reused,
        }
    }
    // Created 0600 (the umask can only take bits away), then set to `mode` through the open
    // descriptor: the FIFO is never more open than asked for.
    if let Err(err) = mkfifo(path) {
        if err.kind() == io::ErrorKind::AlreadyExists {
            return Err(refuse(
                path,
                io::ErrorKind::AddrInUse,
                "another reader created it first",
            ));
        }
        return Err(crate::error::with_context(
            err.kind(),
            format!("fifo://{}: {err}", path.display()),
            err,
        ));
    }
    // What mkfifo made, for removal if the rest fails before the reader can tell.
    let made = file_identity(path)?;
    let bound = open_bound(path, made, mode, "was replaced while being created");
    if bound.is_err() {
        let _ = remove_if_identical(path, made);
    }
    bound
}

/// Looks at what is at `path`: nothing (`None`), a stale FIFO of ours (its identity), or
/// something a binder must not take (the error [`fifo_bind`] documents).
fn find_stale(path: &Path) -> io::Result<Option<FileIdentity>> {
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
        Ok(meta) => meta,
    };
    if meta.file_type().is_symlink() {
        return Err(refuse(
            path,
            io::ErrorKind::AlreadyExists,
            "is a symlink; refusing to follow it",
        ));
    }
    if !meta.file_type().is_fifo() {
        return Err(refuse(
            path,
            io::ErrorKind::AlreadyExists,
            "exists and is not a FIFO; refusing to replace it",
        ));
    }
    if meta.uid() != euid() {
        return Err(refuse(
            path,
            io::ErrorKind::PermissionDenied,
            &format!("the FIFO there belongs to uid {}, not to us", meta.uid()),
        ));
    }
    match open(path, libc::O_WRONLY) {
        // A write end opens without blocking only when a reader has the FIFO open. (Closing
        // this probe ends the stream of a foreign reader that had no writer, such as a bare
        // `cat`; an anyipc reader holds its own write end and does not notice.)
        Ok(_) => Err(refuse(
            path,
            io::ErrorKind::AddrInUse,
            "a live reader has this FIFO open",
        )),
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => Ok(Some(FileIdentity::of(&meta))),
        // Its mode keeps even its owner from writing, so whether a reader has it open cannot
        // be told: left alone.
        Err(e) => Err(crate::error::with_context(
            e.kind(),
            format!(
                "fifo://{}: cannot tell whether a reader has it open: {e}",
                path.display()
            ),
            e,
        )),
    }
}

/// Opens the FIFO at `path`, which must still be `expected` (else `AlreadyExists`, saying it
/// `replaced`), for reading, sets its permissions to `mode`, and opens the reader's own write
/// end.
fn open_bound(
    path: &Path,
    expected: FileIdentity,
    mode: u32,
    replaced: &str,
) -> io::Result<BoundFifo> {
    let reader = open(path, libc::O_RDONLY).map_err(|e| {
        crate::error::with_context(e.kind(), format!("fifo://{}: {e}", path.display()), e)
    })?;
    let stat = fstat(reader.as_fd())?;
    let identity = FileIdentity::of_stat(&stat);
    if identity != expected || !is_fifo(&stat) || stat.st_uid != euid() {
        return Err(refuse(path, io::ErrorKind::AlreadyExists, replaced));
    }
    // SAFETY: `reader` is an open descriptor.
    if unsafe { libc::fchmod(reader.as_raw_fd(), mode as libc::mode_t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let keep_open = open(path, libc::O_WRONLY)?;
    if FileIdentity::of_stat(&fstat(keep_open.as_fd())?) != identity {
        return Err(refuse(
            path,
            io::ErrorKind::AlreadyExists,
            "was replaced while being opened",
        ));
    }
    Ok(BoundFifo {
        reader,
        keep_open,
        identity,
    })
}

/// Removes the FIFO a listener bound at `path` (the one `identity` names, as
/// [`BoundFifo::identity`] recorded it), if the path still names it.
///
/// Under the directory lock: once the listener's reader is closed the FIFO looks stale, and a
/// binder reclaiming it must not have its new FIFO removed between this check and the unlink.
///
/// A short wait for the lock at most (this runs when a listener is dropped, on whatever
/// thread drops it): binders hold it for microseconds, but anyone can lock a shared
/// directory. If it stays held, the FIFO stays, a stale FIFO of ours that the next bind
/// reclaims.
pub(crate) fn fifo_unbind(path: &Path, identity: FileIdentity) {
    for _ in 0..UNBIND_TRIES {
        if let Some(_lock) = try_lock_parent_dir_now(path) {
            let _ = remove_if_identical(path, identity);
            return;
        }
        std::thread::sleep(UNBIND_PAUSE);
    }
}

/// Tries at the directory lock when a listener is dropped, and the pause between them:
/// about 1 ms in all.
const UNBIND_TRIES: u32 = 10;
const UNBIND_PAUSE: std::time::Duration = std::time::Duration::from_micros(100);

/// Opens the FIFO at `path` for writing, without blocking.
///
/// # Errors
/// `NotFound` when there is no FIFO or no reader has it open; `InvalidInput` for a symlink or
/// anything that is not a FIFO.
pub(crate) fn fifo_open_writer(path: &Path) -> io::Result<OwnedFd> {
    match std::fs::symlink_metadata(path) {
        Err(e) => {
            return Err(crate::error::with_context(
                e.kind(),
                format!("fifo://{}: {e}", path.display()),
                e,
            ))
        }
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(refuse(
                path,
                io::ErrorKind::InvalidInput,
                "is a symlink; refusing to follow it",
            ))
        }
        Ok(meta) if !meta.file_type().is_fifo() => {
            return Err(refuse(path, io::ErrorKind::InvalidInput, "is not a FIFO"))
        }
        Ok(_) => {}
    }
    let fd = open(path, libc::O_WRONLY).map_err(|e| match e.raw_os_error() {
        Some(libc::ENXIO) => refuse(
            path,
            io::ErrorKind::NotFound,
            "no reader has this FIFO open",
        ),
        Some(libc::ELOOP) => refuse(
            path,
            io::ErrorKind::InvalidInput,
            "is a symlink; refusing to follow it",
        ),
        _ => crate::error::with_context(e.kind(), format!("fifo://{}: {e}", path.display()), e),
    })?;
    if !is_fifo(&fstat(fd.as_fd())?) {
        return Err(refuse(path, io::ErrorKind::InvalidInput, "is not a FIFO"));
    }
    Ok(fd)
}

/// `mkfifo(2)` with mode 0600 (less the umask).
///
/// # Errors
/// `InvalidInput` for a path with a NUL byte; the OS's (`AlreadyExists` when the path is
/// taken).
fn mkfifo(path: &Path) -> io::Result<()> {
    let c_path = c_path(path)?;
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call.
    if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
