//! [`Staging`]: the private file a queue is built in before it is linked into place under
//! its name (`.anyipc-mq-NAME~PID~N` in the queue directory), and the sweep of the ones
//! that creators which died during `create` left behind.
//!
//! A staging file is stale when no running process has its pid — or when this process has
//! it but is not building that file now: the pid of a creator that died was given to this
//! process since (a container's pid 1 restarted with `/dev/shm` kept, or plain reuse).
//! Such a file would otherwise keep its whole segment's memory, and its name, which this
//! process's own counter gives again, would stop every `create` of that queue here.

use crate::sys::queue as os;
use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// Separates the name from the creator's pid, and the pid from the counter, in staging
/// files: not a name character.
const STAGING_SEP: char = '~';

/// The counter of the next staging file this process makes.
static COUNTER: AtomicU32 = AtomicU32::new(0);
/// The counters of the staging files this process is building now.
static IN_FLIGHT: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// A staging file this process is building; removed (its name given up) on drop.
#[derive(Debug)]
pub(super) struct Staging {
    path: PathBuf,
    counter: u32,
}

impl Staging {
    /// Removes the stale staging files of queue `name` (`prefix` is the segment files'
    /// prefix), then creates a fresh one in `dir` with `mode`, exclusively.
    ///
    /// # Errors
    /// The OS's, creating it (`AlreadyExists` only if a live process with this pid, in
    /// another pid namespace sharing the directory, builds the same name).
    pub(super) fn create(
        dir: &Path,
        prefix: &str,
        name: &str,
        mode: u32,
    ) -> io::Result<(Staging, File)> {
        let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
        Staging::create_numbered(dir, prefix, name, mode, counter)
    }

    /// [`create`](Self::create) with the counter `counter`.
    fn create_numbered(
        dir: &Path,
        prefix: &str,
        name: &str,
        mode: u32,
        counter: u32,
    ) -> io::Result<(Staging, File)> {
        let pid = std::process::id();
        sweep(dir, prefix, name);
        // In flight from before the file exists, so that no sweep of this process's other
        // threads takes it for a dead process's.
        in_flight().insert(counter);
        let staging = Staging {
            path: dir.join(format!(
                ".{prefix}{name}{STAGING_SEP}{pid}{STAGING_SEP}{counter}"
            )),
            counter,
        };
        let file = os::create_exclusive(&staging.path, mode)?;
        Ok((staging, file))
    }

    /// The staging file's path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        in_flight().remove(&self.counter);
    }
}

fn in_flight() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes the staging files of queue `name` whose creator is not building them: its pid
/// runs no process, or it is this process's and not among the files this process builds.
fn sweep(dir: &Path, prefix: &str, name: &str) {
    let prefix = format!(".{prefix}{name}{STAGING_SEP}");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let own = std::process::id();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let mut fields = rest.split(STAGING_SEP);
        let pid = fields.next().and_then(|p| p.parse::<u32>().ok());
        let counter = fields.next().and_then(|c| c.parse::<u32>().ok());
        let stale = match (pid, counter) {
            (Some(pid), Some(counter)) if pid == own => !in_flight().contains(&counter),
            (Some(pid), _) => !os::process_exists(pid),
            (None, _) => false,
        };
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A staging file named as one of this process's, left by a dead process that had
    /// this pid: swept, and the create goes through; one this process is building is kept.
    #[test]
    fn a_dead_namesakes_staging_file_is_swept_and_ours_are_kept() {
        let dir = crate::test_support::temp_dir("mq-staging");
        let (prefix, name) = ("anyipc-mq-", "jobs");
        let pid = std::process::id();
        // A counter far past any this process hands out, so that no other test's create
        // meets the file left.
        let counter = u32::MAX - 1;
        let left = dir.join(format!(".{prefix}{name}~{pid}~{counter}"));
        std::fs::write(&left, b"left by a dead namesake").unwrap();
        let (first, _file) = Staging::create_numbered(&dir, prefix, name, 0o600, counter).unwrap();
        assert_eq!(first.path(), left);
        assert!(std::fs::read(&left).unwrap().is_empty(), "made afresh");
        // Another create meanwhile keeps the first one's file.
        let (second, _file) = Staging::create(&dir, prefix, name, 0o600).unwrap();
        assert!(first.path().exists() && second.path().exists());
        drop((first, second));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir(&dir).unwrap();
    }
}
