//! Windows stand-ins for the `file://` helpers: an exclusive-share open instead of `flock`,
//! no modes, and no directory fsync (NTFS journals directory changes itself).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::path::Path;

/// ERROR_SHARING_VIOLATION: another handle has the file open without sharing.
const ERROR_SHARING_VIOLATION: i32 = 32;
/// Access rights (winnt.h): read, write, and deleting the file.
const GENERIC_READ: u32 = 0x8000_0000;
const GENERIC_WRITE: u32 = 0x4000_0000;
const DELETE: u32 = 0x0001_0000;
/// `FILE_INFO_BY_HANDLE_CLASS::FileDispositionInfo` (minwinbase.h).
const FILE_DISPOSITION_INFO_CLASS: i32 = 4;

/// `FILE_DISPOSITION_INFO` (winbase.h): a `BOOLEAN`, true to delete the file when its last
/// handle closes.
#[repr(C)]
struct FileDispositionInfo {
    delete_file: u8,
}

#[link(name = "kernel32")]
extern "system" {
    /// `SetFileInformationByHandle` (fileapi.h); nonzero on success.
    fn SetFileInformationByHandle(
        file: *mut std::ffi::c_void,
        class: i32,
        info: *const std::ffi::c_void,
        size: u32,
    ) -> i32;
}

/// On Windows the lock is taken when the file is opened (share mode 0, see
/// [`open_lock_file`]); nothing more to do.
///
/// # Errors
/// None.
pub(crate) fn lock_exclusive(_file: &File, _what: &Path) -> io::Result<()> {
    Ok(())
}

/// Opens the lock file with share mode 0: while open, no other handle can open it, not even
/// to delete it. So the handle asks for `DELETE` access too: its holder deletes the file
/// through it ([`remove_lock_file`]).
///
/// # Errors
/// `AddrInUse` when another writer has it open; other OS errors.
pub(crate) fn open_lock_file(path: &Path, _mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .access_mode(GENERIC_READ | GENERIC_WRITE | DELETE)
        .share_mode(0)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(ERROR_SHARING_VIOLATION) {
                io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "{} is locked by another writer (one writer at a time)",
                        path.display()
                    ),
                )
            } else {
                e
            }
        })
}

/// Removes the lock file that `lock` holds: no other handle can open it while `lock` is open
/// (share mode 0, see [`open_lock_file`]), so it is marked for deletion through `lock` itself
/// and goes when `lock` is closed, still held until then.
///
/// # Errors
/// OS errors.
pub(crate) fn remove_lock_file(lock: &File, _path: &Path) -> io::Result<()> {
    use std::os::windows::io::AsRawHandle;
    let info = FileDispositionInfo { delete_file: 1 };
    // SAFETY: the handle is `lock`'s, open for the duration of the call; `info` is a live
    // `FILE_DISPOSITION_INFO` of the size given, which the call only reads.
    let done = unsafe {
        SetFileInformationByHandle(
            lock.as_raw_handle().cast(),
            FILE_DISPOSITION_INFO_CLASS,
            std::ptr::from_ref(&info).cast(),
            std::mem::size_of::<FileDispositionInfo>() as u32,
        )
    };
    if done == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Renames `from` over `to`, replacing it. Two processes replacing one file at once (two
/// consumers of one name committing) can make Windows refuse one with `ERROR_ACCESS_DENIED`
/// while the other's replacement is under way: that is tried again, for up to about half a
/// second, before it is returned.
///
/// # Errors
/// OS errors.
pub(crate) fn replace_file(from: &Path, to: &Path) -> io::Result<()> {
    let mut waited_ms = 0;
    loop {
        match std::fs::rename(from, to) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied && waited_ms < 500 => {
                let pause = 1 + waited_ms / 10;
                std::thread::sleep(std::time::Duration::from_millis(pause));
                waited_ms += pause;
            }
            renamed => return renamed,
        }
    }
}

/// Creates a new file; fails if anything exists at `path`.
///
/// # Errors
/// OS errors.
pub(crate) fn create_new_file(path: &Path, _mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
}

/// Opens `path` for appending, creating it when missing.
///
/// # Errors
/// OS errors.
pub(crate) fn open_append(path: &Path, _mode: u32) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).open(path)
}

/// Opens an existing file for reading.
///
/// # Errors
/// OS errors.
pub(crate) fn open_read(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// What [`names_file`] compares a path with: nothing on Windows, where stable Rust gives no
/// file identity, so every file's is the same (see [`FILE_IDENTITY_KNOWN`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileIdentity;

impl FileIdentity {
    /// The (empty) identity of the file `meta` describes.
    pub(crate) fn of(_meta: &std::fs::Metadata) -> FileIdentity {
        FileIdentity
    }
}

/// Whether `path` may still name the file of `identity`: any file at `path` counts as the
/// same one (see [`FileIdentity`]).
///
/// # Errors
/// `NotFound` when nothing is at `path`; other OS errors.
pub(crate) fn names_file(path: &Path, _identity: FileIdentity) -> io::Result<bool> {
    std::fs::metadata(path).map(|_| true)
}

/// [`names_file`] cannot tell two files at the same path apart: a caller notices a file
/// replaced only by seeing the path missing in between.
pub(crate) const FILE_IDENTITY_KNOWN: bool = false;

/// Opens an existing log segment for reading.
///
/// # Errors
/// OS errors.
pub(crate) fn open_segment_read(path: &Path) -> io::Result<File> {
    open_read(path)
}

/// Opens an existing segment for reading and writing.
///
/// # Errors
/// OS errors.
pub(crate) fn open_read_write(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

/// No directory fsync on Windows.
///
/// # Errors
/// None.
pub(crate) fn sync_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Appends up to `want` bytes read at `offset` to `buf` (blocking); returns how many, 0 at
/// the end of the file.
///
/// # Errors
/// OS errors reading.
pub(crate) fn read_at(
    file: &File,
    buf: &mut bytes::BytesMut,
    want: usize,
    offset: u64,
) -> io::Result<usize> {
    use std::os::windows::fs::FileExt;
    let start = buf.len();
    buf.resize(start + want, 0);
    let result = file.seek_read(&mut buf[start..], offset);
    buf.truncate(start + *result.as_ref().unwrap_or(&0));
    result
}
