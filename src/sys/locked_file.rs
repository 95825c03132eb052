//! [`LockedFile`]: a lock file (or directory) whose lock is given up explicitly.
//!
//! On Windows a lock file's lock is its open handle (share mode 0), which children do not
//! inherit: closing it releases it, and there is nothing more to do on drop.

use std::fs::File;

/// A file (or directory) this process took an `flock` on, or tried to. Dropping it releases
/// the lock (`LOCK_UN`) before the file is closed: a child forked meanwhile, by any thread of
/// this process, shares the open file until it execs, and a close alone would leave the lock
/// held through the child's copy (a producer opened again at once was refused, binders and
/// region creators waited). `LOCK_UN` releases the lock this open file description holds,
/// for every descriptor of it; a lock held through another description is left alone.
#[derive(Debug)]
pub(crate) struct LockedFile {
    file: File,
}

impl LockedFile {
    /// `file`, to be unlocked when dropped.
    pub(crate) fn new(file: File) -> LockedFile {
        LockedFile { file }
    }

    /// The file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }
}

#[cfg(unix)]
impl Drop for LockedFile {
    fn drop(&mut self) {
        let _ = super::unix::unlock_flock(std::os::fd::AsFd::as_fd(&self.file));
    }
}
