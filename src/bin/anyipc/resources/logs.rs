//! `file://` logs: the index of symlinks `<runtime dir>/logs/<hash>` that a log's writer leaves
//! (`anyipc::file`; `sys/unix/log_registry.rs` in the library), each naming a log directory:
//!
//! ```text
//! dir/
//!   00000000000000000000.log   segments (20 digits, the first record's sequence number)
//!   writer.lock                flock-ed by the one live writer
//!   NAME.cursor                consumer NAME's position (.NAME.cursor.PID-N.tmp while written)
//! ```
//!
//! A log outlives its writer by design (consumers read it later), so a log without a live
//! writer is *idle*, not dead: `clean` leaves it, `rm` removes it. Dead is an index entry whose
//! log is gone: its directory removed, the path now a plain file (or anything but a
//! directory), or a directory without a segment or `writer.lock`. `clean` removes the entry
//! (never log data, nor what is at the path now).
//!
//! The binary cannot reach the library's crate-private names, so `INDEX`, `LOCK_FILE` and
//! `is_segment` restate `sys/unix/log_registry.rs` and `file/segment.rs`: a change there
//! must be made here too.

use super::proc_locks::{FileKey, Locks};
use super::runtime_dir;
use super::{Kind, Listing, Removal, Resource, Status};
use std::io;
use std::path::{Path, PathBuf};

/// The index inside the runtime directory.
const INDEX: &str = "logs";
/// The writer's lock file in a log directory.
const LOCK_FILE: &str = "writer.lock";

/// Adds the indexed logs to `listing`.
pub(crate) fn list(locks: &Locks, listing: &mut Listing) {
    let Ok(dir) = runtime_dir::dir() else {
        return;
    };
    // Only inside a private runtime directory, and only an index that is a private
    // directory itself: anyone who could plant entries there (or a symlink for the index)
    // could make `clean` delete the symlinks of a directory of theirs choosing. A runtime
    // directory that fails the check is reported by the pipe and shm listing.
    let index = dir.join(INDEX);
    match runtime_dir::check_private(&dir).and_then(|_| runtime_dir::check_private(&index)) {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            if runtime_dir::check_private(&dir).is_ok() {
                listing.warnings.push(e.to_string());
            }
            return;
        }
    }
    let entries = match std::fs::read_dir(&index) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(e) => {
            listing
                .warnings
                .push(format!("cannot read {}: {e}", index.display()));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(target) = std::fs::read_link(&path) else {
            continue;
        };
        match LogFiles::read(&target) {
            Ok(contents) if contents.is_log() => {
                listing.resources.push(log(&target, contents, path, locks));
            }
            // Removed by hand, leaving the directory (and files that are not the log's).
            Ok(_) => {
                listing
                    .resources
                    .push(gone(&target, path, "no log in the directory any more"))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                listing
                    .resources
                    .push(gone(&target, path, "the directory is gone"));
            }
            // A plain file (or FIFO, socket …) there now, or on the way there: no log can
            // be at that path, as when the directory is gone.
            Err(_) if not_a_directory(&target) => {
                listing
                    .resources
                    .push(gone(&target, path, "the path is no directory any more"));
            }
            // Not gone, only unreadable now (permissions): nothing to clean.
            Err(e) => listing
                .warnings
                .push(format!("cannot read log {}: {e}", target.display())),
        }
    }
}

/// An index entry whose log is gone (`why`): dead, and `clean` removes the entry (only
/// the entry: whatever is at the path now is not the log's).
fn gone(dir: &Path, entry: PathBuf, why: &str) -> Resource {
    Resource {
        kind: Kind::File,
        name: dir.display().to_string(),
        owner: None,
        status: Status::Dead,
        size: None,
        detail: format!("{why}; index entry {}", entry.display()),
        removal: Removal::File(entry),
    }
}

/// Whether `path`, which could not be read as a directory, is something else: the path
/// itself, or the nearest of its ancestors that exists, is not a directory (`ENOTDIR`,
/// said without the error kind, which is newer than this crate's oldest Rust).
fn not_a_directory(path: &Path) -> bool {
    for at in path.ancestors() {
        match std::fs::metadata(at) {
            Ok(meta) => return !meta.is_dir(),
            // Missing or not reachable through a file: the next ancestor up says which.
            Err(_) => continue,
        }
    }
    false
}

fn log(dir: &Path, contents: LogFiles, entry: PathBuf, locks: &Locks) -> Resource {
    let name = dir.display().to_string();
    let owner = FileKey::of(&dir.join(LOCK_FILE))
        .ok()
        .and_then(|key| locks.flock_holder(&key));
    let segments = contents.segments;
    let mut detail = format!("{segments} segment{}", if segments == 1 { "" } else { "s" });
    if !contents.consumers.is_empty() {
        detail.push_str(&format!("; consumers {}", contents.consumers.join(",")));
    }
    Resource {
        kind: Kind::File,
        name,
        owner,
        status: if owner.is_some() {
            Status::Alive
        } else {
            Status::Idle
        },
        size: Some(contents.bytes),
        detail,
        removal: Removal::Log {
            dir: dir.to_owned(),
            entry,
        },
    }
}

/// What `ls` shows of a log directory.
#[derive(Debug, Default)]
struct LogFiles {
    segments: usize,
    /// Consumer names with a cursor.
    consumers: Vec<String>,
    /// Bytes in segments.
    bytes: u64,
    /// A segment or the writer's lock is there.
    named_like_log: bool,
}

impl LogFiles {
    fn read(dir: &Path) -> io::Result<LogFiles> {
        let mut files = LogFiles::default();
        for entry in std::fs::read_dir(dir)?.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            // What the library takes for a log (`anyipc::file::remove`): segments of any
            // type, or the writer's lock.
            files.named_like_log |= name == LOCK_FILE || is_segment(&name);
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            if is_segment(&name) {
                files.bytes += meta.len();
                files.segments += 1;
            } else if let Some(consumer) = name.strip_suffix(".cursor") {
                files.consumers.push(consumer.to_owned());
            }
        }
        files.consumers.sort();
        Ok(files)
    }

    /// Whether the directory holds a log: a writer made its lock file, and a segment, before
    /// it put the log in the index; [`anyipc::file::remove`] removes them last.
    fn is_log(&self) -> bool {
        self.named_like_log
    }
}

/// `<20 digits>.log`.
fn is_segment(name: &str) -> bool {
    name.strip_suffix(".log")
        .is_some_and(|digits| digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes the log in `dir` with `anyipc::file::remove` (its segments, cursors and lock, and
/// the directory if nothing else is in it), then its index entry. A live writer's
/// log is refused (`Ok(false)`) unless `force`.
///
/// # Errors
/// Errors taking the lock or removing the files.
pub(crate) fn remove(dir: &Path, entry: &Path, force: bool) -> io::Result<bool> {
    let removed = if force {
        anyipc::file::remove_forced(dir)
    } else {
        anyipc::file::remove(dir)
    };
    match removed {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Ok(false),
        // Removed meanwhile, or the files went before: the entry is all that is left.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => other?,
    }
    // The library drops the entry of a log it removed, but not after `NotFound` (no log
    // there any more): the entry is removed here in every case.
    super::remove_if_present(entry)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_twenty_digits_and_log() {
        assert!(is_segment("00000000000000052817.log"));
        assert!(!is_segment("0000000000000005281.log"));
        assert!(!is_segment("0000000000000005281x.log"));
        assert!(!is_segment("00000000000000052817.cursor"));
        assert!(!is_segment("notes.log"));
    }
}
