//! Taking a name's ownership lock before removing what a dead owner left, with the same
//! protocol the transports use to reclaim a name (a `flock` on `<name>.lock`): while we hold
//! it no server can bind the name, so we never remove a socket a new server just created.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Tries an exclusive, non-blocking `flock` on `file`: `Ok(false)` when another open file
/// description holds it.
///
/// # Errors
/// Other `flock` errors.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    loop {
        // SAFETY: flock on a descriptor `file` keeps open for the call; it touches no memory.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::WouldBlock => return Ok(false),
            io::ErrorKind::Interrupted => continue,
            _ => return Err(err),
        }
    }
}

/// Takes the lock at `path` (creating the file 0600 if it is missing) and returns it, or
/// `None` when a live process holds it.
///
/// # Errors
/// Errors opening or locking the file; a symlink at `path` is refused.
pub(crate) fn take(path: &Path) -> io::Result<Option<File>> {
    loop {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)?;
        if !try_lock(&file)? {
            return Ok(None);
        }
        // A previous holder may have removed the file between our open and our lock: then we
        // hold a lock no one else will look at. Start over with the file the path names now.
        let ours = file.metadata()?;
        match std::fs::symlink_metadata(path) {
            Ok(now) if now.dev() == ours.dev() && now.ino() == ours.ino() => return Ok(Some(file)),
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
}
