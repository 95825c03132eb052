//! This user's region files in the regions' directory (`/dev/shm`): their names, the lock
//! this user's creators take, the probe of whether a file's creator lives, the sweep of dead
//! creators' regions, and the one look at the files that listing, removal and the sweep share.

use super::region::{check_name, CREATOR_PID_OFFSET, KEPT_OFFSET};
use super::RegionState;
use crate::sys::{self, FileIdentity};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// How old a staged file must be before anyone looks at it: a younger one's creator is about
/// to lock it, and a look (a shared lock, for a moment) could make that lock fail.
const STAGED_GRACE: Duration = Duration::from_secs(10);

/// The start of this user's region file names: `anyipc-region-<uid>-`.
fn prefix() -> String {
    format!("anyipc-region-{}-", sys::shm::current_uid())
}

/// Where the region `name` lives.
pub(super) fn region_path(name: &str) -> io::Result<PathBuf> {
    Ok(sys::shm::region_dir()?.join(format!("{}{name}", prefix())))
}

/// A fresh name in `dir` to build the region `name` under before it is linked into place:
/// `.anyipc-region-<uid>-NAME.PID.N.tmp`, which [`parse_staged`] reads back.
pub(super) fn staged_path(dir: &Path, name: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    dir.join(format!(
        ".{}{name}.{}.{}.tmp",
        prefix(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// How long a creator waits for another of this user's creators before it goes on without
/// the lock (a create holds it while it sweeps this user's regions and builds its own: one
/// that holds it longer is stopped or hung).
const CREATORS_LOCK_PATIENCE: Duration = Duration::from_secs(1);

/// Takes this user's region creators' lock: an exclusive `flock` on `.anyipc-regions-<uid>.lock`
/// in `dir` (a name the sweep of dead regions does not match), a file of this user (0600, never through a symlink) that only this user's
/// creators lock, so no other user can hold it. Waits at most [`CREATORS_LOCK_PATIENCE`];
/// `None` (going on unlocked, as before the lock existed) past that, or when the file cannot
/// be had (another user's file at that name: /dev/shm is shared).
///
/// The lock is given up explicitly when dropped ([`LockedFile`](sys::LockedFile)): released
/// by a close alone, a forked child's copy kept it, and the next create waited for the child,
/// then went on without it.
pub(super) fn lock_creators(dir: &Path) -> Option<sys::LockedFile> {
    let path = dir.join(format!(".anyipc-regions-{}.lock", sys::shm::current_uid()));
    let unlocked = |why: String| {
        tracing::warn!(path = %path.display(), "region creators' lock: {why}; creating without it");
        None
    };
    let file = match sys::open_lock_file(&path, 0o600) {
        Ok(file) => file,
        Err(e) => return unlocked(e.to_string()),
    };
    match file.metadata() {
        Ok(meta) if std::os::unix::fs::MetadataExt::uid(&meta) == sys::shm::current_uid() => {}
        Ok(_) => return unlocked("the file belongs to another user".to_owned()),
        Err(e) => return unlocked(e.to_string()),
    }
    // Pauses of 20 µs doubling to 5 ms.
    let wait = sys::FlockWait::new(
        CREATORS_LOCK_PATIENCE,
        Duration::from_micros(20),
        Duration::from_millis(5),
    );
    match wait.lock_blocking(std::os::fd::AsFd::as_fd(&file)) {
        Ok(true) => Some(sys::LockedFile::new(file)),
        Ok(false) => unlocked("another creator kept it over a second".to_owned()),
        Err(e) => unlocked(e.to_string()),
    }
}

/// Removes the region at `path` if its creator is dead; `AlreadyExists` if it is alive.
pub(super) fn reclaim_if_dead(name: &str, path: &Path) -> io::Result<()> {
    let file = match sys::shm::open_own_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    // Shared: probes (this one, another process's sweep) never refuse each other; only a
    // live creator's exclusive lock refuses it.
    if !sys::shm::try_flock_shared(std::os::fd::AsFd::as_fd(&file))? {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("region {name}: a live process created it"),
        ));
    }
    tracing::debug!(
        region = name,
        "replacing the region of a dead or finished creator"
    );
    // Only the file found dead: a region created there meanwhile is left alone.
    sys::remove_if_identical(path, FileIdentity::of(&file.metadata()?)).map(drop)
}

/// Best effort: removes this user's regions whose creator died without `keep`, and staged
/// files a creator died while building (older than 10 s).
pub(super) fn sweep_dead(dir: &Path) {
    let _ = scan(dir, |found| {
        if found.state == RegionState::Dead {
            tracing::debug!(path = %found.path.display(), "removing the region of a dead creator");
            // Only the file found dead: one created at that name meanwhile is left alone.
            let _ = sys::remove_if_identical(&found.path, found.identity);
        }
    });
}

/// One of this user's files in the regions' directory, as [`scan`] found it.
pub(super) struct Found {
    /// The region's name; `None` for a staged file whose name cannot be read back.
    pub(super) name: Option<String>,
    pub(super) path: PathBuf,
    pub(super) identity: FileIdentity,
    /// The file's length.
    pub(super) file_len: u64,
    /// The creator's pid: from the header of a region, from the name of a staged file.
    pub(super) creator_pid: Option<u32>,
    /// A staged file (`.anyipc-region-<uid>-NAME.PID.N.tmp`) rather than a region.
    pub(super) staged: bool,
    pub(super) state: RegionState,
}

/// Looks at each of this user's region files in `dir` (and each staged file older than
/// [`STAGED_GRACE`] whose creator is gone) and calls `each` with what it found, while the file
/// is still open and probed: the one look at a region that [`Region::create`](super::Region::create)'s sweep, the
/// listing and the removal share. The probe is a shared `flock` (the creator holds an
/// exclusive one for its whole life): probes never refuse each other, and a creator locks its
/// file while it is still staged (younger files are not looked at), so no probe refuses it.
///
/// # Errors
/// The error reading `dir`; files that cannot be opened or probed are skipped.
pub(super) fn scan(dir: &Path, mut each: impl FnMut(Found)) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let prefix = prefix();
    let staged_prefix = format!(".{prefix}");
    for entry in std::fs::read_dir(dir)?.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let (name, staged_pid, staged) = if let Some(rest) = file_name.strip_prefix(&staged_prefix)
        {
            let parsed = parse_staged(rest);
            (
                parsed.as_ref().map(|(name, _)| name.clone()),
                parsed.map(|(_, pid)| pid),
                true,
            )
        } else if let Some(name) = file_name.strip_prefix(&prefix) {
            (Some(name.to_owned()), None, false)
        } else {
            continue;
        };
        let name = name.filter(|name| check_name(name).is_ok());
        let path = entry.path();
        let Ok(file) = sys::shm::open_own_file(&path) else {
            continue;
        };
        let Ok(meta) = file.metadata() else {
            continue;
        };
        let old = || {
            meta.modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STAGED_GRACE)
        };
        if staged && !old() {
            continue;
        }
        let state = match sys::shm::try_flock_shared(std::os::fd::AsFd::as_fd(&file)) {
            Ok(true) => {
                let mut kept = [0u8; 4];
                // A header that cannot be read (a file too short) is never taken for dead.
                let dead = staged
                    || (file.read_exact_at(&mut kept, KEPT_OFFSET).is_ok()
                        && u32::from_ne_bytes(kept) != 1);
                if dead {
                    RegionState::Dead
                } else {
                    RegionState::Kept
                }
            }
            // A staged file its creator still holds is about to become its region.
            Ok(false) if staged => continue,
            Ok(false) => RegionState::Alive,
            Err(_) => continue,
        };
        let creator_pid = if staged {
            staged_pid
        } else {
            let mut pid = [0u8; 4];
            file.read_exact_at(&mut pid, CREATOR_PID_OFFSET)
                .ok()
                .map(|()| u32::from_ne_bytes(pid))
                .filter(|&pid| pid != 0)
        };
        each(Found {
            name,
            path,
            identity: FileIdentity::of(&meta),
            file_len: meta.len(),
            creator_pid,
            staged,
            state,
        });
    }
    Ok(())
}

/// `NAME` and `PID` of the rest `NAME.PID.N.tmp` of a staged file's name (`NAME` may hold dots).
fn parse_staged(rest: &str) -> Option<(String, u32)> {
    let rest = rest.strip_suffix(".tmp")?;
    let mut parts = rest.rsplitn(3, '.');
    let _counter: u32 = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    Some((parts.next()?.to_owned(), pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_names_give_the_region_name_and_the_creators_pid() {
        assert_eq!(
            parse_staged("a.b.4242.7.tmp"),
            Some(("a.b".to_owned(), 4242))
        );
        assert_eq!(parse_staged("x.4242.7"), None);
        assert_eq!(parse_staged("x.pid.7.tmp"), None);
        assert_eq!(parse_staged("4242.7.tmp"), None);
        let staged = staged_path(Path::new("/d"), "a.b");
        let file_name = staged.file_name().unwrap().to_str().unwrap();
        let rest = file_name.strip_prefix(&format!(".{}", prefix())).unwrap();
        assert_eq!(
            parse_staged(rest),
            Some(("a.b".to_owned(), std::process::id()))
        );
    }

    /// The creators' lock is free again once dropped, though a child forked while it was
    /// held still has the file open: it went on being held through the child's copy until
    /// the child exec'd, and a create meanwhile waited a second and then went on unlocked.
    #[test]
    fn the_creators_lock_is_free_once_dropped_while_a_child_is_slow_to_exec() {
        let dir = sys::shm::region_dir().unwrap();
        let held = lock_creators(&dir).expect("the lock");
        let child = crate::test_support::SlowExecChild::start(Duration::from_millis(1500));
        drop(held);
        // Given up at once: held through the child's 1.5 s, it made other tests' creators
        // wait past their patience.
        let again = lock_creators(&dir).is_some();
        child.wait();
        assert!(again, "the lock stayed held through the child's copy");
    }
}
