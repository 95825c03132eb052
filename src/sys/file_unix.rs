//! Unix side of `file://`: flock writer locks, owner-only creation without following
//! symlinks, and directory fsync.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// Takes an exclusive, non-blocking `flock` on `file`.
///
/// The lock belongs to the open file description: it is released when `file` is closed or
/// its process dies (even by SIGKILL), so a crashed writer never wedges the next one. A
/// second open of the same file, in this process or another, cannot take it.
///
/// # Errors
/// `AddrInUse` when another open file holds the lock; other OS errors as they come.
pub(crate) fn lock_exclusive(file: &File, what: &Path) -> io::Result<()> {
    // SAFETY: flock takes a valid open descriptor (borrowed from `file` for the call) and
    // flags; it touches no memory of ours.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.kind() == io::ErrorKind::WouldBlock {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "{} is locked by another writer (one writer at a time)",
                what.display()
            ),
        ));
    }
    Err(err)
}

/// Opens (creating if needed) a lock file with `mode`, never through a symlink.
///
/// # Errors
/// OS errors; `ELOOP` (as `Other`/`FilesystemLoop`) for a symlink.
pub(crate) fn open_lock_file(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// [`open_lock_file`]: on Unix any handle's holder can remove the file by its path.
///
/// # Errors
/// As [`open_lock_file`].
pub(crate) fn open_removable_lock_file(path: &Path, mode: u32) -> io::Result<File> {
    open_lock_file(path, mode)
}

/// Removes the lock file at `path`, which `lock` (opened by [`open_removable_lock_file`]) holds: by its
/// path, as the lock belongs to the open file, not the name. Nothing there is not an error.
///
/// # Errors
/// OS errors removing.
pub(crate) fn remove_lock_file(_lock: &File, path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        removed => removed,
    }
}

/// Renames `from` over `to`, replacing it atomically (`rename(2)`).
///
/// # Errors
/// OS errors.
pub(crate) fn replace_file(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(from, to)
}

/// Creates a new file with `mode` for reading and writing; fails if anything exists at
/// `path` (`AlreadyExists`), symlinks included. The mode is given to `open`, so there is no
/// moment when the file has looser permissions (the umask can only narrow it).
///
/// # Errors
/// OS errors.
pub(crate) fn create_new_file(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Opens `path` (a plain file, `framing=`) for appending, creating it with `mode` when
/// missing, never through a symlink. A FIFO or socket there is refused, never waited on
/// (see [`plain_file`]).
///
/// # Errors
/// OS errors; `InvalidInput` for a FIFO or socket.
pub(crate) fn open_append(path: &Path, mode: u32) -> io::Result<File> {
    refuse_fifo_or_socket(path)?;
    let opened = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path);
    plain_file(opened, path)
}

/// Opens an existing file (a plain file, `framing=`) for reading, not through a symlink. A
/// FIFO or socket there is refused, never waited on (see [`plain_file`]).
///
/// # Errors
/// OS errors (`NotFound` when missing); `InvalidInput` for a FIFO or socket.
pub(crate) fn open_read(path: &Path) -> io::Result<File> {
    refuse_fifo_or_socket(path)?;
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path);
    plain_file(opened, path)
}

/// `InvalidInput` for the plain file `path` that is `what` (a FIFO, a socket).
fn not_plain(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "file://{} is {what}, not a plain file: file:// would wait for its other end for \
             ever (fifo:// carries messages through a FIFO)",
            path.display()
        ),
    )
}

/// What the `lstat` of `path` says it is when that is a FIFO or a socket.
fn fifo_or_socket(path: &Path) -> Option<&'static str> {
    fifo_or_socket_type(std::fs::symlink_metadata(path).ok()?.file_type())
}

/// "a FIFO" or "a socket", when `file_type` is one.
fn fifo_or_socket_type(file_type: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        Some("a FIFO")
    } else if file_type.is_socket() {
        Some("a socket")
    } else {
        None
    }
}

/// Refuses a FIFO or socket at `path` (not following a symlink) before it is opened: even
/// an open with `O_NONBLOCK` that is refused right after would make this process a FIFO's
/// reader or writer for a moment, which a process at its other end sees (a reader waiting
/// for a writer gets one, then the end of the stream; a writer, a reader that goes, and
/// `EPIPE`). Something else at `path` (or nothing) is left to the open.
fn refuse_fifo_or_socket(path: &Path) -> io::Result<()> {
    match fifo_or_socket(path) {
        Some(what) => Err(not_plain(path, what)),
        None => Ok(()),
    }
}

/// The plain file `opened` (with `O_NONBLOCK`) at `path`, back in blocking mode; a FIFO or
/// a socket is `InvalidInput`. Opened without `O_NONBLOCK`, a FIFO blocks the open until its
/// other end is opened (for ever, if no one does), on a thread of the blocking pool that
/// nothing can cancel; its reads and writes would wait the same way, and a socket cannot be
/// opened at all (`ENXIO`, as a FIFO opened for writing with no reader). The callers refuse
/// both before opening ([`refuse_fifo_or_socket`]); this is the check for a FIFO or socket
/// put at `path` between that check and the open.
fn plain_file(opened: io::Result<File>, path: &Path) -> io::Result<File> {
    let file = match opened {
        // A FIFO with no reader, a socket, or a device whose hardware is missing: only the
        // first two are named so.
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            return Err(match fifo_or_socket(path) {
                Some(what) => not_plain(path, what),
                None => {
                    let message = format!("file://{}: {e}", path.display());
                    crate::error::with_context(e.kind(), message, e)
                }
            })
        }
        // O_NOFOLLOW met a symlink (ELOOP; on macOS and the BSDs EMLINK or EFTYPE too).
        Err(e) if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "file://{} is a symbolic link: file:// does not open a plain file through \
                     a link; give the path of the file it points to ({e})",
                    path.display()
                ),
            ))
        }
        opened => opened?,
    };
    if let Some(what) = fifo_or_socket_type(file.metadata()?.file_type()) {
        return Err(not_plain(path, what));
    }
    // A regular file ignores O_NONBLOCK; a device (a terminal) is read and written as usual.
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor `file` keeps open for the call, with integer arguments;
    // it touches no memory of ours.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// Whether `path` still names the file of `identity` (the same device and inode; take it
/// with [`FileIdentity::of_file`](super::FileIdentity::of_file) from the open file), not
/// following a symlink: a file rotated away (renamed, or removed and created again) is
/// another file. One `lstat` of `path`.
///
/// # Errors
/// `NotFound` when nothing is at `path`; other OS errors.
pub(crate) fn names_file(path: &Path, identity: super::FileIdentity) -> io::Result<bool> {
    Ok(super::file_identity(path)? == identity)
}

/// Opens an existing log segment (or cursor) for reading, not through a symlink, and on Linux without
/// access-time updates when the file is ours (`O_NOATIME`; the kernel refuses it to other
/// users, who get a plain open). A tailing consumer reads each segment right after every
/// write, and under `relatime` each such read would otherwise dirty the inode (a journal
/// update on ext4) on the way to the record. A segment's access time means nothing.
///
/// A FIFO or socket named like a segment is refused before the open, as for a plain file
/// ([`refuse_fifo_or_socket`]: opening it would make this process its reader for a moment,
/// releasing a writer that waits in its `open`). The open has `O_NONBLOCK` (which changes
/// nothing for a regular file), and what it opened is refused unless it is a regular file:
/// a FIFO put there after the check, or a device, would otherwise block the open or the
/// reads for ever.
///
/// # Errors
/// OS errors (`NotFound` when missing); `InvalidData` for something other than a regular
/// file.
pub(crate) fn open_segment_read(path: &Path) -> io::Result<File> {
    refuse_non_segment(path)?;
    let flags = libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK;
    #[cfg(target_os = "linux")]
    {
        let no_atime = OpenOptions::new()
            .read(true)
            .custom_flags(flags | libc::O_NOATIME)
            .open(path);
        match no_atime {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            other => return regular_file(other?, path),
        }
    }
    regular_file(
        OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)?,
        path,
    )
}

/// `InvalidData` when `path` is a FIFO or socket (not following a symlink), before it is
/// opened as a segment or cursor.
fn refuse_non_segment(path: &Path) -> io::Result<()> {
    match fifo_or_socket(path) {
        Some(what) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is {what}, not a regular file", path.display()),
        )),
        None => Ok(()),
    }
}

/// `file` if it is a regular file; `InvalidData` naming `path` otherwise.
fn regular_file(file: File, path: &Path) -> io::Result<File> {
    if file.metadata()?.file_type().is_file() {
        return Ok(file);
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} is not a regular file", path.display()),
    ))
}

/// Opens an existing segment for reading and writing, not through a symlink, and only if it
/// is a regular file (as [`open_segment_read`]).
///
/// # Errors
/// OS errors; `InvalidData` for something other than a regular file.
pub(crate) fn open_read_write(path: &Path) -> io::Result<File> {
    refuse_non_segment(path)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)?;
    regular_file(file, path)
}

/// fsyncs directory `path`, so that a file created or renamed in it survives a crash.
///
/// # Errors
/// OS errors of open or fsync.
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Appends up to `want` bytes read at `offset` to `buf` (a blocking `pread` into its spare
/// capacity: no zeroing first); returns how many, 0 at the end of the file.
///
/// # Errors
/// OS errors reading.
pub(crate) fn read_at(
    file: &File,
    buf: &mut bytes::BytesMut,
    want: usize,
    offset: u64,
) -> io::Result<usize> {
    // 64-bit offsets on every Linux target: 32-bit glibc's `pread` takes a 32-bit `off_t`.
    #[cfg(target_os = "linux")]
    use libc::{off64_t as Offset, pread64 as pread};
    #[cfg(not(target_os = "linux"))]
    use libc::{off_t as Offset, pread};
    let offset = Offset::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset out of range"))?;
    loop {
        // SAFETY: `pread` writes at most `len` bytes at `ptr` and returns that count or -1
        // (read_into_spare's contract); the descriptor is borrowed from `file`.
        let read = unsafe {
            read_into_spare(buf, want, |ptr, len| {
                pread(file.as_raw_fd(), ptr.cast(), len, offset)
            })
        };
        match read {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Appends to `buf` what `read` puts at the start of its spare capacity (no zeroing
/// first): reserves `want` bytes, calls `read(ptr, len)` — a `pread`-like system call that
/// returns the count it wrote or -1 — and advances `buf` past that count. Returns the
/// count, or the OS error after a -1.
///
/// # Safety
/// `read` must write only within the `len` bytes at `ptr` and, on success, return at most
/// `len` (a system call reading into that buffer does).
///
/// # Errors
/// The OS error `read` reported.
pub(crate) unsafe fn read_into_spare(
    buf: &mut bytes::BytesMut,
    want: usize,
    read: impl FnOnce(*mut u8, usize) -> isize,
) -> io::Result<usize> {
    use bytes::BufMut;
    buf.reserve(want);
    let spare = buf.chunk_mut();
    let (ptr, len) = (spare.as_mut_ptr(), want.min(spare.len()));
    let n = usize::try_from(read(ptr, len)).map_err(|_| io::Error::last_os_error())?;
    // SAFETY: by this function's contract `read` initialised the first `n` (at most `len`,
    // and `len` is within the spare capacity) bytes of the spare capacity.
    unsafe { buf.advance_mut(n.min(len)) };
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::FileExt;

    /// A FIFO named like a segment is refused without being opened: a writer waiting in its
    /// `open` for a reader is not released by the refusal (it would be, for a moment, by an
    /// open that is refused afterwards).
    #[test]
    fn a_fifo_named_like_a_segment_is_refused_unopened() {
        let dir = crate::test_support::temp_dir("fifo-unopened");
        let fifo = dir.join("00000000000000000000.log");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: mkfifo reads the NUL-terminated path, which lives across the call.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let writing = fifo.clone();
        let (opened_tx, opened) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Blocks until the FIFO has a reader.
            let writer = OpenOptions::new().write(true).open(writing);
            let _ = opened_tx.send(writer.is_ok());
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        for refused in [open_segment_read(&fifo), open_read_write(&fifo)] {
            let err = refused.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
            assert!(err.to_string().contains("a FIFO"), "{err}");
        }
        assert!(
            opened
                .recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "the writer's open returned: the FIFO was opened for reading"
        );
        // Releases the writer, so that its thread ends.
        let _reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        assert!(opened
            .recv_timeout(std::time::Duration::from_secs(5))
            .unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Offsets past 2 and 4 GiB (in a sparse file) are read where they are, also on 32-bit
    /// targets, where the C library's plain `off_t` is 32 bits wide.
    #[test]
    fn reads_at_offsets_past_4_gib() {
        let (dir, file, far) = sparse_file_with_bytes_past_4_gib("read-at-far-offset");
        let mut buf = bytes::BytesMut::new();
        assert_eq!(read_at(&file, &mut buf, 8, far).unwrap(), 8);
        assert_eq!(&buf[..], b"far away");
        drop(file);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Written just now, so in the page cache: read past 4 GiB without waiting.
    #[cfg(target_os = "linux")]
    #[test]
    fn reads_cached_data_past_4_gib_without_waiting() {
        let (dir, file, far) = sparse_file_with_bytes_past_4_gib("read-nowait-far-offset");
        let mut buf = bytes::BytesMut::new();
        assert_eq!(crate::sys::read_at_nowait(&file, &mut buf, 8, far), Some(8));
        assert_eq!(&buf[..], b"far away");
        drop(file);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A sparse file in a new temporary directory with "far away" written 5 GiB and 3 bytes
    /// in: the directory, the file and that offset.
    fn sparse_file_with_bytes_past_4_gib(tag: &str) -> (std::path::PathBuf, File, u64) {
        let dir = crate::test_support::temp_dir(tag);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("sparse"))
            .unwrap();
        let far = (5u64 << 30) + 3;
        file.write_all_at(b"far away", far).unwrap();
        (dir, file, far)
    }
}
