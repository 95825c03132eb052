//! Where things live in a log directory: segment files, the writer lock, consumer cursors.
//!
//! ```text
//! dir/
//!   00000000000000000000.log   segment whose first record has sequence number 0
//!   00000000000000052817.log   the next segment, starting at 52817
//!   writer.lock                flock-ed by the one live writer
//!   NAME.cursor                consumer NAME's committed position
//! ```
//!
//! A segment's base sequence number is at most [`MAX_BASE_SEQ`]; a file named above it is
//! refused (`InvalidData`) when the log is read or written, see [`check_base`].

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The file the live writer holds an exclusive lock on.
pub(crate) const LOCK_FILE: &str = "writer.lock";
const SEGMENT_SUFFIX: &str = ".log";
const CURSOR_SUFFIX: &str = ".cursor";
/// The highest base sequence number a segment may have: half the `u64` range.
///
/// A segment holds fewer than 2^60 records (each takes at least 8 bytes, and a file is
/// shorter than 2^63 bytes), so the sequence numbers of a segment based at most here stay
/// below `u64::MAX` and are advanced without overflow checks. No log gets near it (2^63
/// records): a segment named above it was not written by a producer.
pub(crate) const MAX_BASE_SEQ: u64 = u64::MAX / 2;

/// The path of the segment whose first record has sequence number `base`.
pub(crate) fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}{SEGMENT_SUFFIX}"))
}

/// The path of consumer `name`'s cursor.
pub(crate) fn cursor_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{CURSOR_SUFFIX}"))
}

/// How many temporary cursor file names this process has handed out.
static STORES: AtomicU64 = AtomicU64::new(0);

/// A new temporary file for a cursor to be written to before it is renamed into place:
/// one of its own for every store (`.NAME.cursor.PID-N.tmp`: this process's id and a
/// count), so that two consumers of one name storing at once never share it. Another
/// process may still hold the name (same id in another PID namespace, or a crashed one's
/// leftover): the store creates it exclusively and asks again if it is taken.
pub(crate) fn cursor_temp_path(dir: &Path, name: &str) -> PathBuf {
    let n = STORES.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    dir.join(format!(".{name}{CURSOR_SUFFIX}.{pid}-{n}.tmp"))
}

/// The temporary cursor files the next `count` stores of this process would try first
/// (racy: another thread may store in between).
#[cfg(test)]
pub(crate) fn next_cursor_temp_paths(dir: &Path, name: &str, count: u64) -> Vec<PathBuf> {
    let n = STORES.load(Ordering::Relaxed);
    let pid = std::process::id();
    (n..n + count)
        .map(|n| dir.join(format!(".{name}{CURSOR_SUFFIX}.{pid}-{n}.tmp")))
        .collect()
}

/// The consumer whose temporary cursor file `file` is (a store's own, or the one name all
/// stores shared before), if it is one.
pub(crate) fn cursor_temp_owner(file: &str) -> Option<&str> {
    let inner = file.strip_prefix('.')?.strip_suffix(".tmp")?;
    if let Some(name) = inner.strip_suffix(CURSOR_SUFFIX) {
        return Some(name);
    }
    let (head, tag) = inner.rsplit_once('.')?;
    let (pid, n) = tag.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(n) {
        return None;
    }
    head.strip_suffix(CURSOR_SUFFIX)
}

/// Whether `name` is a segment's file name.
pub(crate) fn is_segment_file(name: &str) -> bool {
    parse_segment_name(name).is_some()
}

/// Whether `name` is a consumer's cursor file or the temporary one it is written to.
pub(crate) fn is_cursor_file(name: &str) -> bool {
    name.ends_with(CURSOR_SUFFIX) || cursor_temp_owner(name).is_some()
}

/// The base sequence number a segment file's name gives: 20 decimal digits, then `.log`.
///
/// Any `u64` is a segment's name here (so that removing a log removes such a file too);
/// one above [`MAX_BASE_SEQ`] is refused when the segment is opened ([`check_base`]).
fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The base sequence numbers of the segments in `dir`, ascending. Other files are ignored.
///
/// # Errors
/// OS errors reading the directory (`NotFound` when it does not exist).
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut bases = Vec::new();
    let unreadable = |e| os_error("cannot read the log directory", dir, e);
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        if let Some(base) = entry.file_name().to_str().and_then(parse_segment_name) {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// Checks that `base`, a segment's name, is at most [`MAX_BASE_SEQ`]: the log's readers
/// and its writer call it on every segment they open, before any sequence number of it is
/// advanced.
///
/// # Errors
/// `InvalidData` above it.
pub(crate) fn check_base(dir: &Path, base: u64) -> io::Result<()> {
    if base > MAX_BASE_SEQ {
        return Err(corrupt(
            dir,
            format!(
                "segment {base:020}.log is not a segment of this log: its name is past the \
                 highest first record a segment may have ({MAX_BASE_SEQ}); move it aside"
            ),
        ));
    }
    Ok(())
}

/// A log's `writer.lock`, locked (or, from [`lock_writer`] for [`LockFor::RemovingForced`],
/// perhaps not) while this lives, and released explicitly when dropped
/// ([`LockedFile`](crate::sys::LockedFile): a forked child's copy must not keep it, or a
/// producer opened again at once was refused).
pub(crate) type WriterLock = crate::sys::LockedFile;

/// How many times [`lock_writer`] opens the lock file afresh after finding the one it locked
/// unlinked, before it gives up.
const LOCK_ATTEMPTS: u32 = 16;

/// Why [`lock_writer`] takes a log's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockFor {
    /// A producer's: it appends to the log.
    Appending,
    /// [`remove`](super::remove)'s: it deletes the log, the lock file included.
    Removing,
    /// [`remove_forced`](super::remove_forced)'s: as `Removing`, and a lock another process
    /// holds is not an error: the file is returned unlocked.
    RemovingForced,
}

/// Opens `dir/writer.lock` (creating it with `mode`) and takes its exclusive lock: the one
/// live writer's (a producer's, or [`remove`](super::remove)'s while it deletes the log).
/// For [`LockFor::RemovingForced`] a lock another process holds is not an error: the file
/// is returned unlocked.
///
/// The lock is taken on the file that the path names once it is held. Opening the path and
/// locking what was opened are two steps: in between, a remover holding the lock may have
/// deleted the file (it removes `writer.lock` with the log, then lets go), and a lock on a
/// deleted file excludes no one: the next writer creates a new `writer.lock` and locks that,
/// and two writers would append to one segment. So the path is compared with the file after
/// the lock, and opened again if it names another file (or nothing).
///
/// # Errors
/// `AddrInUse` when another writer holds the lock (unless forced); OS errors; `Other` when
/// the lock file keeps being replaced.
pub(crate) fn lock_writer(dir: &Path, mode: u32, purpose: LockFor) -> io::Result<WriterLock> {
    lock_writer_with(dir, mode, purpose, &mut |_| {})
}

/// [`lock_writer`], calling `between` with the lock file's path after each open and before
/// the lock (where a test removes it).
pub(crate) fn lock_writer_with(
    dir: &Path,
    mode: u32,
    purpose: LockFor,
    between: &mut dyn FnMut(&Path),
) -> io::Result<WriterLock> {
    let path = dir.join(LOCK_FILE);
    let take_held = purpose == LockFor::RemovingForced;
    // Only a remover's handle may delete the file: a producer asks for no more than it uses.
    let open = match purpose {
        LockFor::Appending => crate::sys::open_lock_file,
        LockFor::Removing | LockFor::RemovingForced => crate::sys::open_removable_lock_file,
    };
    for _attempt in 0..LOCK_ATTEMPTS {
        let lock = open(&path, mode).map_err(|e| match e.kind() {
            // Windows: the lock is the open handle itself, and no other can be opened.
            io::ErrorKind::AddrInUse if take_held => io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "file://{}: a live producer holds {LOCK_FILE} open, and on this platform \
                     a file another process holds open this way cannot be deleted: stop the \
                     producer (its handle then closes), then remove the log",
                    dir.display()
                ),
            ),
            _ => os_error("cannot open", &path, e),
        })?;
        between(&path);
        let locked = crate::sys::lock_exclusive(&lock, dir);
        // Wrapped at once: however this ends, a lock taken is given up explicitly.
        let lock = WriterLock::new(lock);
        match locked {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && take_held => return Ok(lock),
            locked => locked.map_err(|e| os_error("cannot lock", &path, e))?,
        }
        let identity = crate::sys::FileIdentity::of_file(lock.file())
            .map_err(|e| os_error("cannot look at", &path, e))?;
        match crate::sys::names_file(&path, identity) {
            Ok(true) => return Ok(lock),
            // Deleted (or replaced) before the lock was taken: lock the one there now.
            Ok(false) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(os_error("cannot look at", &path, e)),
        }
    }
    Err(io::Error::other(format!(
        "file://{}: {LOCK_FILE} keeps being deleted or replaced while it is locked",
        dir.display()
    )))
}

/// Creates the log directory `dir` with its missing ancestors (`mkdir -p`), each private to
/// its owner (0700 on Unix, whatever the umask). When `durable` (`fsync` is not `never`),
/// fsyncs the parent of each directory that was missing (made here, or meanwhile by another
/// process) before returning, so that the new directories' entries survive a crash with the
/// segments and cursors synced in them (each of which fsyncs `dir` itself, not its parent).
/// Returns the directories it fsynced, outermost first.
///
/// # Errors
/// OS errors creating or syncing; `AlreadyExists` when something other than a directory is
/// at `dir`.
pub(crate) fn create_log_dir(dir: &Path, durable: bool) -> io::Result<Vec<PathBuf>> {
    // Not there at all: a dangling symlink is something in the way, not a missing directory.
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|path| {
            let absent = std::fs::symlink_metadata(path);
            !path.as_os_str().is_empty()
                && matches!(absent, Err(e) if e.kind() == io::ErrorKind::NotFound)
        })
        .collect();
    let in_the_way = |path: &Path| {
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "cannot create the log directory {}: {} is not a directory (a file, or a \
                 symbolic link to nothing or to a file)",
                dir.display(),
                path.display()
            ),
        )
    };
    for created in missing.iter().rev() {
        // Made meanwhile by another process (`Ok(false)`): the check below tells.
        match crate::sys::create_private_dir(created) {
            Ok(_) => {}
            // What is there instead of its parent is not a directory.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(in_the_way(parent_or_cwd(created)))
            }
            Err(e) => return Err(os_error("cannot create the log directory", created, e)),
        }
    }
    if !std::fs::metadata(dir).is_ok_and(|meta| meta.is_dir()) {
        return Err(in_the_way(dir));
    }
    let mut synced = Vec::new();
    if durable {
        for created in missing.iter().rev() {
            let parent = parent_or_cwd(created);
            sync_dir(parent)?;
            synced.push(parent.to_owned());
        }
    }
    Ok(synced)
}

/// fsyncs directory `dir`, naming it in an error.
///
/// # Errors
/// OS errors opening or syncing it.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    crate::sys::sync_dir(dir).map_err(|e| os_error("cannot sync the directory", dir, e))
}

/// The directory `path` is in: `.` for a relative path of one component.
pub(crate) fn parent_or_cwd(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// The OS error `e` of doing `what` ("cannot open", "cannot sync" …) to `path`, naming the
/// file: `cannot open /dir/00000000000000000000.log: Permission denied (os error 13)`. The
/// kind stays, and the OS's error is kept inside the new one, where
/// [`raw_os_error`](crate::raw_os_error) finds its code. An error that has a message of its
/// own (built by this crate, already saying what it is about) is returned as it is.
///
/// Called where a log's file operation fails, on the error only: nothing on the way of a
/// call that succeeds.
#[cold]
pub(crate) fn os_error(what: &str, path: &Path, e: io::Error) -> io::Error {
    if e.get_ref().is_some() {
        return e;
    }
    crate::error::with_context(e.kind(), format!("{what} {}: {e}", path.display()), e)
}

/// The error `e` of scanning the segment at `path` ([`WindowedInput`](super::scan_window)):
/// an OS error of a read, or one the scan built (the file cut short while it was scanned,
/// an offset out of range) that does not name the file either; named here, as
/// [`os_error`] names an OS error.
#[cold]
pub(crate) fn scan_error(path: &Path, e: io::Error) -> io::Error {
    crate::error::with_context(e.kind(), format!("cannot read {}: {e}", path.display()), e)
}

/// An `InvalidData` error about the log in `dir`.
pub(crate) fn corrupt(dir: &Path, what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("file://{}: {what}", dir.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every store has a temporary file of its own, which names its consumer (and only it:
    /// a name holding `.cursor.` is not confused with a shorter one).
    #[test]
    fn temporary_cursor_files_are_distinct_and_name_their_consumer() {
        let dir = Path::new("/d");
        let (a, b) = (cursor_temp_path(dir, "a"), cursor_temp_path(dir, "a"));
        assert_ne!(a, b);
        for path in [a, b] {
            let file = path.file_name().unwrap().to_str().unwrap();
            assert_eq!(cursor_temp_owner(file), Some("a"), "{file}");
            assert!(is_cursor_file(file), "{file}");
        }
        let tricky = cursor_temp_path(dir, "a.cursor.5-1");
        let file = tricky.file_name().unwrap().to_str().unwrap();
        assert_eq!(cursor_temp_owner(file), Some("a.cursor.5-1"), "{file}");
        assert_eq!(cursor_temp_owner(".a.cursor.tmp"), Some("a"));
        for other in [
            ".a.cursor.x-1.tmp",
            ".a.cursor.1-.tmp",
            "a.cursor.1-2.tmp",
            ".a.tmp",
        ] {
            assert_eq!(cursor_temp_owner(other), None, "{other}");
        }
    }

    #[test]
    fn segment_names_round_trip_and_sort() {
        let path = segment_path(Path::new("/d"), 52_817);
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, "00000000000000052817.log");
        assert_eq!(parse_segment_name(name), Some(52_817));
        assert_eq!(parse_segment_name("1.log"), None);
        assert_eq!(parse_segment_name("0000000000000005281x.log"), None);
    }

    /// A new log directory's entry, and those of the ancestors created with it, are made
    /// durable: the parent of each directory created is fsynced (it used to be only the log
    /// directory, after its first segment), and nothing more when none was created or
    /// under `fsync=never`.
    #[test]
    fn creating_a_log_directory_syncs_the_parent_of_each_directory_created() {
        let base = crate::test_support::temp_dir("create-log-dir");
        let dir = base.join("a").join("b");
        let synced = create_log_dir(&dir, true).unwrap();
        assert_eq!(synced, [base.clone(), base.join("a")]);
        assert!(dir.is_dir());
        assert_eq!(create_log_dir(&dir, true).unwrap(), Vec::<PathBuf>::new());
        let never = base.join("c").join("d");
        assert_eq!(
            create_log_dir(&never, false).unwrap(),
            Vec::<PathBuf>::new()
        );
        assert!(never.is_dir());
        std::fs::remove_dir_all(&base).unwrap();
    }

    /// Something other than a directory where the log directory goes (a file, a symbolic
    /// link to nothing, or one to a file, also where a parent goes) is `AlreadyExists`,
    /// saying so; a symbolic link to a directory is followed.
    #[cfg(unix)]
    #[test]
    fn something_else_at_the_log_directory_is_already_exists() {
        let base = crate::test_support::temp_dir("create-log-dir-taken");
        std::fs::write(base.join("file"), b"x").unwrap();
        std::os::unix::fs::symlink(base.join("nowhere"), base.join("dangling")).unwrap();
        std::os::unix::fs::symlink(base.join("file"), base.join("to-file")).unwrap();
        for taken in ["file", "dangling", "to-file", "dangling/sub"] {
            let err = create_log_dir(&base.join(taken), true).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{taken}: {err}");
            assert!(
                err.to_string().contains("cannot create the log directory"),
                "{err}"
            );
        }
        assert!(
            !base.join("nowhere").exists(),
            "a dangling link's target was made"
        );
        std::fs::create_dir(base.join("real")).unwrap();
        std::os::unix::fs::symlink(base.join("real"), base.join("to-dir")).unwrap();
        create_log_dir(&base.join("to-dir/log"), true).unwrap();
        assert!(base.join("real/log").is_dir());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_base_past_the_maximum_is_refused() {
        let dir = Path::new("/d");
        assert!(check_base(dir, MAX_BASE_SEQ).is_ok());
        let err = check_base(dir, u64::MAX).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(
            err.to_string().contains("18446744073709551615.log"),
            "{err}"
        );
    }
}
