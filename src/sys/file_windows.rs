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
/// Share modes (winnt.h): let other handles read, write and delete.
const FILE_SHARE_READ: u32 = 0x1;
const FILE_SHARE_WRITE: u32 = 0x2;
const FILE_SHARE_DELETE: u32 = 0x4;
/// `FILE_INFO_BY_HANDLE_CLASS::FileDispositionInfo` (minwinbase.h).
const FILE_DISPOSITION_INFO_CLASS: i32 = 4;

/// `FILE_DISPOSITION_INFO` (winbase.h): a `BOOLEAN`, true to delete the file when its last
/// handle closes.
#[repr(C)]
struct FileDispositionInfo {
    delete_file: u8,
}

/// `BY_HANDLE_FILE_INFORMATION` (fileapi.h); the times are `FILETIME`s, two `u32`s each.
#[repr(C)]
#[derive(Default)]
struct ByHandleFileInformation {
    file_attributes: u32,
    creation_time: [u32; 2],
    last_access_time: [u32; 2],
    last_write_time: [u32; 2],
    volume_serial_number: u32,
    file_size_high: u32,
    file_size_low: u32,
    number_of_links: u32,
    file_index_high: u32,
    file_index_low: u32,
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
    /// `GetFileInformationByHandle` (fileapi.h); nonzero on success.
    fn GetFileInformationByHandle(
        file: *mut std::ffi::c_void,
        info: *mut ByHandleFileInformation,
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
/// to delete it (see [`open_removable_lock_file`]).
///
/// # Errors
/// `AddrInUse` when another writer has it open; other OS errors.
pub(crate) fn open_lock_file(path: &Path, _mode: u32) -> io::Result<File> {
    open_exclusive(path, GENERIC_READ | GENERIC_WRITE)
}

/// [`open_lock_file`] for a holder that will delete the file: no other handle can be opened
/// to delete it, so this one asks for `DELETE` access too, and [`remove_lock_file`] deletes
/// the file through it. (Only removers ask: a lock file whose access list lets a producer
/// write but not delete still serves it.)
///
/// # Errors
/// As [`open_lock_file`].
pub(crate) fn open_removable_lock_file(path: &Path, _mode: u32) -> io::Result<File> {
    open_exclusive(path, GENERIC_READ | GENERIC_WRITE | DELETE)
}

/// Opens (creating if needed) the file at `path` with `access` and share mode 0.
fn open_exclusive(path: &Path, access: u32) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .access_mode(access)
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

/// Removes the lock file that `lock` (from [`open_removable_lock_file`]) holds: no other
/// handle can open it while `lock` is open (share mode 0), so it is marked for deletion
/// through `lock` itself and goes when `lock` is closed, still held until then.
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

/// Which file an open handle reads: its volume's serial number and its file index, as
/// `GetFileInformationByHandle` reports them (NTFS keeps both for the file's life, across
/// renames; on FAT the index is the directory entry's place, so a file renamed there counts
/// as another one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    volume: u32,
    index: u64,
}

impl FileIdentity {
    /// The identity of the open `file`.
    ///
    /// # Errors
    /// The OS error of `GetFileInformationByHandle`.
    pub(crate) fn of_file(file: &File) -> io::Result<FileIdentity> {
        use std::os::windows::io::AsRawHandle;
        let mut info = ByHandleFileInformation::default();
        // SAFETY: the handle is `file`'s, open for the duration of the call; `info` is a live
        // `BY_HANDLE_FILE_INFORMATION`, which the call fills in and nothing else.
        let done = unsafe { GetFileInformationByHandle(file.as_raw_handle().cast(), &mut info) };
        if done == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FileIdentity {
            volume: info.volume_serial_number,
            index: (u64::from(info.file_index_high) << 32) | u64::from(info.file_index_low),
        })
    }
}

/// Whether `path` still names the file of `identity` (take it with
/// [`FileIdentity::of_file`] from the open file): a file rotated away (renamed, or removed and
/// created again) is another file. The path is opened to ask, with no access to the file's
/// data and sharing everything, so that no handle (not even the log's exclusive lock) stands
/// in the way and none is disturbed.
///
/// # Errors
/// `NotFound` when nothing is at `path`; other OS errors.
pub(crate) fn names_file(path: &Path, identity: FileIdentity) -> io::Result<bool> {
    let file = OpenOptions::new()
        .access_mode(0)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
        .open(path)?;
    Ok(FileIdentity::of_file(&file)? == identity)
}

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
