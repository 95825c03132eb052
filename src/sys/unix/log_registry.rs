//! The per-user index of `file://` logs, so that `anyipc ls` can find them: a log's writer
//! leaves a symlink to the log's directory in `<runtime dir>/logs/` (the private runtime
//! directory of `pipe://`, see `local_socket.rs`), named after a hash of the directory's
//! canonical path.
//!
//! Best effort: a log works the same whether or not it could be indexed. The index holds no
//! data and no ownership: whether a writer is alive is its `writer.lock`, as always.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The subdirectory of the runtime directory that holds the index.
const LOGS: &str = "logs";

/// Records the log in `dir` in this user's index of logs; failures are only logged.
pub(crate) fn register_log(dir: &Path) {
    if let Err(e) = try_register(dir) {
        tracing::debug!(dir = %dir.display(), error = %e, "log not indexed for anyipc ls");
    }
}

/// Drops the index entry of the log whose canonical path is `canonical` (it was removed).
pub(crate) fn unregister_log(canonical: &Path) {
    let Ok(index) = super::local_socket::runtime_dir(false).map(|dir| dir.join(LOGS)) else {
        return;
    };
    let entry = index.join(entry_name(canonical));
    if std::fs::read_link(&entry).is_ok_and(|target| target == canonical) {
        let _ = std::fs::remove_file(entry);
    }
}

fn try_register(dir: &Path) -> io::Result<()> {
    let target = std::fs::canonicalize(dir)?;
    let index = index_dir()?;
    let entry = index.join(entry_name(&target));
    match std::fs::read_link(&entry) {
        Ok(existing) if existing == target => return Ok(()),
        // Another path with the same hash, or something that is not our symlink: replace it.
        Ok(_) => std::fs::remove_file(&entry)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(_) => std::fs::remove_file(&entry)?,
    }
    match std::os::unix::fs::symlink(&target, &entry) {
        // A writer of the same log in another process got there first.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        other => other?,
    }
    drop_entries_of_gone_logs(&index);
    Ok(())
}

/// Removes the entries whose log directory no longer exists (a log in a temporary directory
/// deleted without `anyipc::file::remove`), so the index does not grow without bound; only
/// when this writer did not find its entry in place (made it, or lost the race to make it),
/// so an existing log's writer does not list the index each time.
fn drop_entries_of_gone_logs(index: &Path) {
    let Ok(entries) = std::fs::read_dir(index) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let gone = std::fs::read_link(&path).is_ok_and(|target| {
            std::fs::symlink_metadata(target).is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
        });
        if gone {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `<runtime dir>/logs`, created 0700 inside the checked private runtime directory.
fn index_dir() -> io::Result<PathBuf> {
    let index = super::local_socket::runtime_dir(true)?.join(LOGS);
    crate::sys::create_private_dir(&index)?;
    let meta = std::fs::symlink_metadata(&index)?;
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is not a directory", index.display()),
        ));
    }
    // Only this user can make anything in the runtime directory: the index is theirs.
    crate::sys::restore_owner_access(&index, &meta)?;
    Ok(index)
}

/// The entry name of a log: 16 hex digits of the FNV-1a hash of its canonical path (stable
/// across processes and builds, unlike std's hasher).
fn entry_name(target: &Path) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in target.as_os_str().as_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_stable_and_differ_by_path() {
        let a = entry_name(Path::new("/var/log/orders"));
        assert_eq!(a, entry_name(Path::new("/var/log/orders")));
        assert_eq!(a.len(), 16);
        assert_ne!(a, entry_name(Path::new("/var/log/order")));
        // FNV-1a of the empty input is its offset basis.
        assert_eq!(entry_name(Path::new("")), "cbf29ce484222325");
    }
}
