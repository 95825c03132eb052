//! `pipe://` and `shm://` names: sockets and lock files in the private runtime directory.
//!
//! | name | socket | lock (`flock`ed by the live server) |
//! |---|---|---|
//! | `pipe://X` | `X` | `.X.lock` |
//! | `shm://X` | `shm-X.sock` | `shm-X.lock` |
//!
//! These are the transports' naming conventions (`sys/unix/local_socket.rs`,
//! `shm/shm_listener.rs`); a change there must be made here too (the `cli_tools` tests catch
//! it).

use super::proc_locks::{FileKey, Locks};
use super::{valid_name, Kind, Listing, Removal, Resource, Status};
use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The directory the transports use: `$XDG_RUNTIME_DIR/anyipc` when that variable is an
/// absolute path, else `$TMPDIR/anyipc-<uid>`.
pub(crate) fn dir() -> io::Result<PathBuf> {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(xdg) if xdg.is_absolute() => Ok(xdg.join("anyipc")),
        _ => Ok(std::env::temp_dir().join(format!("anyipc-{}", my_uid()?))),
    }
}

/// This process's effective user id (the owner of what it creates).
fn my_uid() -> io::Result<u32> {
    Ok(std::fs::metadata("/proc/self")?.uid())
}

/// The files of one name.
#[derive(Debug, Default)]
struct Files {
    socket: Option<PathBuf>,
    lock: Option<PathBuf>,
}

/// Adds the pipe and shm names found in the runtime directory to `listing`.
pub(crate) fn list(locks: &Locks, listing: &mut Listing) {
    let dir = match dir() {
        Ok(dir) => dir,
        Err(e) => {
            listing
                .warnings
                .push(format!("cannot find the runtime directory: {e}"));
            return;
        }
    };
    match check_private(&dir) {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            listing.warnings.push(e.to_string());
            return;
        }
    }
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => {
            listing
                .warnings
                .push(format!("cannot read {}: {e}", dir.display()));
            return;
        }
    };
    let mut sockets = Vec::new();
    let mut lock_names = Vec::new();
    for entry in entries.flatten() {
        let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_socket() {
            sockets.push(file_name);
        } else if file_type.is_file() && file_name.ends_with(".lock") {
            lock_names.push(file_name);
        }
    }
    let mut names: BTreeMap<(Kind, String), Files> = BTreeMap::new();
    for lock in &lock_names {
        // `.X.lock` is pipe://X's lock (names never start with `.`); `shm-X.lock` is shm://X's.
        let key = match lock.strip_prefix('.') {
            Some(pipe) => match pipe.strip_suffix(".lock").filter(|name| !name.is_empty()) {
                Some(name) => (Kind::Pipe, name.to_owned()),
                // `.lock` itself: no name's.
                None => continue,
            },
            None => match shm_name(lock, ".lock") {
                Some(name) => (Kind::Shm, name),
                None => continue,
            },
        };
        names.entry(key).or_default().lock = Some(dir.join(lock));
    }
    for socket in &sockets {
        // `shm-X.sock` is shm://X's socket, unless it is a pipe of that name (its lock says so).
        let key = match shm_name(socket, ".sock") {
            Some(name) if !lock_names.contains(&format!(".{socket}.lock")) => (Kind::Shm, name),
            _ => (Kind::Pipe, socket.clone()),
        };
        names.entry(key).or_default().socket = Some(dir.join(socket));
    }
    for ((kind, name), files) in names {
        if !valid_name(kind, &name) {
            continue;
        }
        listing
            .resources
            .push(resource(&dir, kind, name, files, locks));
    }
}

/// `X` of `shm-X<suffix>`.
fn shm_name(file_name: &str, suffix: &str) -> Option<String> {
    file_name
        .strip_prefix("shm-")?
        .strip_suffix(suffix)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}

fn resource(dir: &Path, kind: Kind, name: String, files: Files, locks: &Locks) -> Resource {
    let (socket, lock) = match kind {
        Kind::Shm => (
            dir.join(format!("shm-{name}.sock")),
            dir.join(format!("shm-{name}.lock")),
        ),
        _ => (dir.join(&name), dir.join(format!(".{name}.lock"))),
    };
    let live_owner = files
        .lock
        .as_deref()
        .and_then(|l| FileKey::of(l).ok())
        .and_then(|key| locks.flock_holder(&key));
    // A dead owner's pid is the one it wrote into the lock file.
    let owner = live_owner.or_else(|| files.lock.as_deref().and_then(recorded_pid));
    let detail = match (&files.socket, &files.lock) {
        (Some(s), _) => s.display().to_string(),
        (None, _) => format!("{} (no socket)", lock.display()),
    };
    Resource {
        kind,
        name,
        owner,
        status: if live_owner.is_some() {
            Status::Alive
        } else {
            Status::Dead
        },
        size: None,
        detail,
        removal: Removal::LockedName { socket, lock },
    }
}

/// The process id the last owner wrote into the lock file at `lock`, if it holds one (a
/// hint: anything else in the file gives `None`).
fn recorded_pid(lock: &Path) -> Option<u32> {
    let mut text = String::new();
    let file = std::fs::File::open(lock).ok()?;
    std::io::Read::read_to_string(&mut std::io::Read::take(file, 16), &mut text).ok()?;
    text.trim().parse().ok().filter(|&pid| pid != 0)
}

/// Whether `dir` is there and private to this user. `Ok(false)` when it does not exist.
///
/// # Errors
/// A directory that someone else owns or may enter (or a symlink): the transports refuse
/// it, and so do we.
pub(crate) fn check_private(dir: &Path) -> io::Result<bool> {
    let meta = match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
        Ok(meta) => meta,
    };
    if !meta.file_type().is_dir() || meta.uid() != my_uid()? || meta.mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a private directory of this user (mode 0700); not looking inside",
                dir.display()
            ),
        ));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::shm_name;

    #[test]
    fn shm_files_are_recognised() {
        assert_eq!(
            shm_name("shm-orders.sock", ".sock").as_deref(),
            Some("orders")
        );
        assert_eq!(shm_name("shm-a.b.lock", ".lock").as_deref(), Some("a.b"));
        assert_eq!(shm_name("shm-.sock", ".sock"), None);
        assert_eq!(shm_name("orders.sock", ".sock"), None);
    }
}
