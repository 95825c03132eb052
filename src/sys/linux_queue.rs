//! Linux support for `mq://` queues: segment files in `/dev/shm`, futex waits, and
//! liveness locks that the kernel drops when a process dies.

use std::fs::File;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) use super::linux_futex::{futex_wait, futex_wake};

// A segment file another process shrank: accesses to its mapping run guarded, so that the
// SIGBUS is an error of the operation rather than the end of the process.
pub(crate) use super::linux_sigbus::guarded_even_if_lost;

/// The directory that holds queue segments: tmpfs, shared by every process of the machine.
pub(crate) fn queue_dir() -> io::Result<PathBuf> {
    Ok(PathBuf::from("/dev/shm"))
}

/// Creates `path` exclusively (`O_EXCL | O_NOFOLLOW`) with permissions exactly `mode`,
/// whatever the umask.
pub(crate) fn create_exclusive(path: &Path, mode: u32) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode & 0o777)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    // fchmod: the umask may have narrowed the mode given to open.
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))?;
    Ok(file)
}

/// Allocates the first `len` bytes of `file` now, extending it to `len` bytes if shorter
/// (`posix_fallocate`).
///
/// A tmpfs file made long by `set_len` alone is sparse: its pages are allocated when first
/// written, and a write through a mapping that finds no room left is a SIGBUS, which kills
/// the process. Reserving them first turns a full `/dev/shm` into an error here. One call
/// for the whole length: tmpfs refuses a length over its whole size at once (pieces would
/// each be allowed, and fill it first); a length over its free space but within its size is
/// allocated until the space runs out, then given back, and refused. A file system without
/// `fallocate` (not tmpfs, which has it) gets `set_len`, as before.
///
/// # Errors
/// `ENOSPC` (`StorageFull`): not enough room; `EFBIG` (`FileTooLarge`): over the file size
/// limit (`RLIMIT_FSIZE`; the kernel sends `SIGXFSZ` first, which kills a process that does
/// not ignore it); other OS errors.
pub(crate) fn reserve(file: &File, len: u64) -> io::Result<()> {
    let total =
        libc::off64_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    loop {
        // SAFETY: a valid open descriptor and plain integers; the call writes no memory of
        // this process (it returns its error number instead of setting errno).
        match unsafe { libc::posix_fallocate64(file.as_raw_fd(), 0, total) } {
            0 => return Ok(()),
            // Interrupted by a signal (a large reservation takes a while): try again.
            libc::EINTR => continue,
            libc::EOPNOTSUPP | libc::ENOSYS => return file.set_len(len),
            code => return Err(io::Error::from_raw_os_error(code)),
        }
    }
}

/// Opens an existing segment for reading and writing, refusing a symlink.
pub(crate) fn open_existing(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is a symbolic link, not a queue", path.display()),
            ),
            _ => e,
        })
}

/// File offset of the liveness byte of `token`: far past the end of any segment, so the
/// byte-range locks never touch data (locks beyond the end of a file are allowed). The same
/// on every target, so that 32- and 64-bit processes of one machine agree on it.
fn liveness_offset(token: u32) -> i64 {
    (1 << 40) + i64::from(token)
}

/// Runs the open-file-description lock command `cmd` (`F_OFD_SETLK`, `F_OFD_GETLK`) with
/// a lock of `kind` on `token`'s liveness byte; returns the lock's type afterwards (what
/// `F_OFD_GETLK` found: `F_UNLCK` if nothing would conflict).
///
/// The byte is past 2 GiB, beyond the `struct flock` of 32-bit glibc targets (a 32-bit
/// `off_t`): there the `fcntl64` system call takes a `flock64`, as glibc's own `fcntl` does
/// with 64-bit offsets. (x32, 32-bit pointers on x86_64, has a 64-bit `off_t` and no
/// `fcntl64`: it takes the 64-bit way.)
///
/// # Errors
/// The OS error of the call.
fn ofd_lock(
    file: &File,
    cmd: libc::c_int,
    kind: libc::c_int,
    token: u32,
) -> io::Result<libc::c_int> {
    #[cfg(not(all(target_pointer_width = "32", not(target_arch = "x86_64"))))]
    type Flock = libc::flock;
    #[cfg(all(target_pointer_width = "32", not(target_arch = "x86_64")))]
    type Flock = libc::flock64;
    // SAFETY: `flock`/`flock64` is a plain C struct; all-zero is a valid value for every
    // field.
    let mut lock: Flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = liveness_offset(token);
    lock.l_len = 1;
    // SAFETY: a valid descriptor and a pointer to an initialised lock struct of the type the
    // call takes, which outlives the call; `F_OFD_GETLK` writes only into it.
    #[cfg(not(all(target_pointer_width = "32", not(target_arch = "x86_64"))))]
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), cmd, &mut lock) };
    // SAFETY: as above, for the `fcntl64` system call, which takes a `flock64`.
    #[cfg(all(target_pointer_width = "32", not(target_arch = "x86_64")))]
    let rc = unsafe { libc::syscall(libc::SYS_fcntl64, file.as_raw_fd(), cmd, &mut lock) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(libc::c_int::from(lock.l_type))
}

/// Marks this process alive for `token` on the segment `file`: an exclusive
/// open-file-description lock on the token's byte, which the kernel releases when the
/// description is closed, including when the process is killed. Exclusive, so that a second
/// process with the same token (the same pid in another pid namespace) cannot attach.
///
/// This process may hold the byte through another description of the queue for a moment
/// (an attachment being dropped on one thread while another thread attaches again): a
/// refusal is retried for up to [`LIVENESS_RETRY`] before it is returned.
///
/// # Errors
/// `WouldBlock` (`EAGAIN`) if the byte stays held (another process has this token); OS
/// errors.
pub(crate) fn hold_liveness(file: &File, token: u32) -> io::Result<()> {
    let started = std::time::Instant::now();
    loop {
        let err = match ofd_lock(file, libc::F_OFD_SETLK, libc::F_WRLCK, token) {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        let held = matches!(err.raw_os_error(), Some(libc::EAGAIN | libc::EACCES));
        if !held || started.elapsed() >= LIVENESS_RETRY {
            return Err(err);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// How long [`hold_liveness`] retries a byte held by another description.
const LIVENESS_RETRY: Duration = Duration::from_millis(200);

/// Gives up the liveness byte of `token` that [`hold_liveness`] took through `file`, for
/// every descriptor of its open file description, before the file is closed.
///
/// A child forked meanwhile (by any thread of this process) shares the description until it
/// execs, and a close alone left the byte held through the child's copy: this process's next
/// attach of the queue then waited in [`hold_liveness`] for the child (230 of 3,000 reopens
/// took over 1 ms, up to 10 ms, while a thread started `/bin/true` in a loop; 3 without it),
/// and failed (`WouldBlock`) if the child took longer than [`LIVENESS_RETRY`] to exec. A lock
/// this description does not hold is left alone; errors are ignored (the close follows).
pub(crate) fn release_liveness(file: &File, token: u32) {
    let _ = ofd_lock(file, libc::F_OFD_SETLK, libc::F_UNLCK, token);
}

/// Whether some open file description (of a live process) holds the liveness byte of `token`.
pub(crate) fn liveness_held(file: &File, token: u32) -> io::Result<bool> {
    Ok(ofd_lock(file, libc::F_OFD_GETLK, libc::F_WRLCK, token)? != libc::F_UNLCK)
}

/// The CPU this thread runs on now (it may move at any moment), or `u32::MAX` if unknown.
pub(crate) fn current_cpu() -> u32 {
    // SAFETY: no arguments; sched_getcpu only reads the vDSO or makes a system call.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).unwrap_or(u32::MAX)
}

/// Whether a process with this id exists (it may be another program reusing the id).
pub(crate) fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission; nothing is delivered.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Identifies the file behind `file` (device, inode), to share one attachment per process.
pub(crate) fn file_key(file: &File) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    Ok((meta.dev(), meta.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{open_read_write as open, temp_path};

    /// A description of this process still holding the byte while another thread attaches
    /// again (an attachment being dropped): the new one gets it once the old one closes
    /// (an immediate `EAGAIN` was a rare failure of the mq bench test). A description that
    /// keeps it (another process with this token) still refuses the byte.
    #[test]
    fn the_liveness_byte_is_retried_while_another_description_lets_go() {
        let path = temp_path("liveness");
        let (old, new, observer) = (open(&path), open(&path), open(&path));
        let _ = std::fs::remove_file(&path);
        let token = 4242;
        hold_liveness(&old, token).unwrap();
        assert!(liveness_held(&observer, token).unwrap());
        let dropping = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(old);
        });
        hold_liveness(&new, token).unwrap();
        dropping.join().unwrap();
        assert!(liveness_held(&observer, token).unwrap());
        let err = hold_liveness(&observer, token).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}");
        drop(new);
        assert!(!liveness_held(&observer, token).unwrap());
    }
}
