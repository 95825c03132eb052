//! [`remove`] and [`remove_forced`]: deleting a durable log, as `MessageQueue::remove` deletes
//! a queue.

use super::segment::{self, LockFor, LOCK_FILE};
use crate::sys;
use std::io;
use std::path::Path;

/// Removes the durable log in `dir`: its segments, consumer cursors and writer lock, then the
/// directory itself if nothing else is in it, and the log's entry in the index `anyipc ls`
/// reads. It holds the writer lock meanwhile, so no producer can open the log halfway.
///
/// ```
/// use futures::SinkExt;
/// # tokio_test::block_on(async {
/// let dir = std::env::temp_dir().join(format!("anyipc-doc-remove-{}", std::process::id()));
/// let mut producer = anyipc::connect(format!("file://{}", dir.display())).await?;
/// producer.send("kept until removed").await?;
/// producer.close().await?;
/// anyipc::file::remove(&dir)?;
/// assert!(!dir.exists());
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// `AddrInUse` when a live producer holds the log; `NotFound` when `dir` holds no log;
/// OS errors removing the files.
pub fn remove(dir: impl AsRef<Path>) -> io::Result<()> {
    remove_log(dir.as_ref(), LockFor::Removing)
}

/// As [`remove`], but also the log of a live producer. For tools that clean up after a stuck
/// process. The producer's next sync (under `fsync=always|batch`) finds its segment deleted
/// and stops it (`NotFound`, every later append too); under `fsync=never` it keeps writing
/// to a file no consumer can open any more.
///
/// ```
/// # #[cfg(unix)] {
/// # tokio_test::block_on(async {
/// use anyipc::file::{FileOptions, FileProducer};
/// # let name = format!("anyipc-doc-remove-forced-{}", std::process::id());
/// # let dir = std::env::temp_dir().join(name);
/// # let _ = std::fs::remove_dir_all(&dir);
/// let mut stuck = FileProducer::open(&dir, FileOptions::default()).await?;
/// stuck.append("still writing").await?;
/// let refused = anyipc::file::remove(&dir).unwrap_err();
/// assert_eq!(refused.kind(), std::io::ErrorKind::AddrInUse);
/// anyipc::file::remove_forced(&dir)?;
/// assert!(!dir.exists());
/// // The sync after its next append finds the segment deleted: it stops.
/// let _ = stuck.append("lost").await;
/// let stopped = stuck.sync().await.unwrap_err();
/// assert_eq!(stopped.kind(), std::io::ErrorKind::NotFound);
/// # let _ = stuck.close().await;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// # }
/// ```
///
/// On Windows a live producer's lock file is open with no sharing, and no other process can
/// delete it: there `remove_forced` refuses such a log (`AddrInUse`, nothing removed), as
/// [`remove`] does; a producer that was killed has let go of it.
///
/// # Errors
/// `NotFound` when `dir` holds no log; `AddrInUse` on Windows when a live producer holds it;
/// OS errors removing the files.
pub fn remove_forced(dir: impl AsRef<Path>) -> io::Result<()> {
    remove_log(dir.as_ref(), LockFor::RemovingForced)
}

fn remove_log(dir: &Path, purpose: LockFor) -> io::Result<()> {
    let lock_path = dir.join(LOCK_FILE);
    let no_log = || {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("file://{}: no log here", dir.display()),
        )
    };
    let segments = match segment::list_segments(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(no_log()),
        other => other?,
    };
    if segments.is_empty() && std::fs::symlink_metadata(&lock_path).is_err() {
        return Err(no_log());
    }
    // Its index entry names the canonical path, which cannot be found once it is gone.
    let canonical = std::fs::canonicalize(dir)?;
    let lock = segment::lock_writer(dir, 0o600, purpose)?;
    // Listed under the lock: a segment a writer made before it let go is removed too.
    let unreadable = |e| segment::os_error("cannot read the log directory", dir, e);
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let named_like_logs = entry
            .file_name()
            .to_str()
            .is_some_and(|name| segment::is_segment_file(name) || segment::is_cursor_file(name));
        // The log makes files only: a directory named like one is someone else's.
        if named_like_logs && !entry.file_type()?.is_dir() {
            remove_if_present(&entry.path())?;
        }
    }
    sys::remove_lock_file(lock.file(), &lock_path)
        .map_err(|e| segment::os_error("cannot remove", &lock_path, e))?;
    drop(lock);
    // Only empty: anything else in the directory is not the log's.
    let _ = std::fs::remove_dir(dir);
    sys::unregister_log(&canonical);
    Ok(())
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(segment::os_error("cannot remove", path, e))
        }
        _ => Ok(()),
    }
}
