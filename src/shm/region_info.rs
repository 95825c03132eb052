//! What [`Region::list`](super::Region::list) gives: each of this user's regions with its creator's state, and
//! the removal of a listed region whose creator is gone.

use super::region::HEADER_LEN;
use super::region_files::{lock_creators, scan};
use crate::sys::{self, FileIdentity};
use std::io;
use std::path::{Path, PathBuf};

/// Whether a region's creator lives, as [`Region::create`](super::Region::create) judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegionState {
    /// Its creator runs (it holds the region's lock): `create` of its name is
    /// `AlreadyExists`.
    Alive,
    /// Its creator called [`keep`](super::Region::keep) and is gone: left for others to open, until
    /// it is removed or its name is created again.
    Kept,
    /// Its creator died without `keep` (or while building it): the next `create` on the
    /// machine removes it.
    Dead,
}

/// One region of this user, as [`Region::list`](super::Region::list) found it.
///
/// ```
/// use anyipc::shm::{Region, RegionState};
/// # let name = format!("doc-region-info-{}", std::process::id());
/// let _creator = Region::create(&name, 4096)?;
/// let info = Region::list()?.into_iter().find(|r| r.name() == name).expect("listed");
/// assert_eq!(info.len(), 4096);
/// assert!(!info.is_empty() && !info.is_staged());
/// assert_eq!(info.state(), RegionState::Alive);
/// assert_eq!(info.creator_pid(), Some(std::process::id()));
/// let file = info.path().file_name().unwrap().to_str().unwrap();
/// assert!(file.starts_with("anyipc-region-") && file.ends_with(&format!("-{name}")));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RegionInfo {
    name: String,
    len: u64,
    creator_pid: Option<u32>,
    staged: bool,
    state: RegionState,
    path: PathBuf,
    identity: FileIdentity,
}

impl RegionInfo {
    /// The region's name, as given to [`Region::create`](super::Region::create).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its size in bytes, as [`Region::len`](super::Region::len) says (0 for a staged file that never got one).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether [`len`](RegionInfo::len) is 0 (only a staged file's can be).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The process id of its creator, when recorded: as written in the region's header,
    /// which any process of this user may rewrite, so a hint for people, never proof
    /// (liveness comes from the creator's lock, see [`state`](RegionInfo::state)). Of a
    /// creator that is gone, the id may belong to another process by now.
    pub fn creator_pid(&self) -> Option<u32> {
        self.creator_pid
    }

    /// Whether its creator lives, kept it or died.
    pub fn state(&self) -> RegionState {
        self.state
    }

    /// Whether this is a file a creator died while building, not a region anyone can open
    /// (always [`Dead`](RegionState::Dead)).
    pub fn is_staged(&self) -> bool {
        self.staged
    }

    /// The file behind it (in `/dev/shm`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes this region if its creator is gone (it died, or kept the region): processes
    /// that have it open keep using it; a new region may take the name. Only the file that
    /// was listed is removed, under the lock this user's creators take, so a region created
    /// at the name since the listing is left alone (`Ok(false)`).
    ///
    /// ```
    /// use anyipc::shm::Region;
    /// use std::io::ErrorKind;
    /// # let name = format!("doc-region-info-remove-{}", std::process::id());
    /// let find = |name: &str| Region::list().map(|all| all.into_iter().find(|r| r.name() == name));
    /// let mut creator = Region::create(&name, 16)?;
    /// let listed = find(&name)?.expect("listed");
    /// assert_eq!(listed.remove().unwrap_err().kind(), ErrorKind::AddrInUse);
    /// creator.keep();
    /// drop(creator);
    /// assert!(listed.remove()?);
    /// assert_eq!(Region::open(&name).unwrap_err().kind(), ErrorKind::NotFound);
    /// assert_eq!(listed.remove().unwrap_err().kind(), ErrorKind::NotFound);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `AddrInUse` when its creator is alive; `NotFound` when nothing is at its name any more;
    /// OS errors removing it.
    pub fn remove(&self) -> io::Result<bool> {
        self.remove_region(false)
    }

    /// As [`remove`](RegionInfo::remove), but also a live creator's region: the creator and
    /// the processes that have it open keep using it, but no one can open it by name any
    /// more. For tools that clean up after a stuck process.
    ///
    /// ```
    /// use anyipc::shm::Region;
    /// # let name = format!("doc-region-info-remove-forced-{}", std::process::id());
    /// let stuck = Region::create(&name, 16)?;
    /// let listed = Region::list()?.into_iter().find(|r| r.name() == name).expect("listed");
    /// assert!(listed.remove_forced()?);
    /// assert_eq!(Region::open(&name).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    /// stuck.write(0, b"still mapped")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `NotFound` when nothing is at its name any more; OS errors removing it.
    pub fn remove_forced(&self) -> io::Result<bool> {
        self.remove_region(true)
    }

    fn remove_region(&self, force: bool) -> io::Result<bool> {
        let what = || format!("region {}", self.name);
        // Serialised with creators: one that removed this region and linked its own between
        // the look below and the unlink would lose it (`Region::create`).
        let _creating = self.path.parent().and_then(lock_creators);
        let file = sys::shm::open_own_file(&self.path)
            .map_err(|e| crate::error::with_context(e.kind(), format!("{}: {e}", what()), e))?;
        if FileIdentity::of(&file.metadata()?) != self.identity {
            return Ok(false);
        }
        if !force && !sys::shm::try_flock_shared(std::os::fd::AsFd::as_fd(&file))? {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{}: its creator is alive", what()),
            ));
        }
        sys::remove_if_identical(&self.path, self.identity)
    }
}

/// This user's regions in `dir`, sorted by name ([`Region::list`](super::Region::list)).
pub(super) fn list(dir: &Path) -> io::Result<Vec<RegionInfo>> {
    let mut regions = Vec::new();
    scan(dir, |found| {
        if let Some(name) = found.name {
            regions.push(RegionInfo {
                name,
                len: found.file_len.saturating_sub(HEADER_LEN as u64),
                creator_pid: found.creator_pid,
                staged: found.staged,
                state: found.state,
                path: found.path,
                identity: found.identity,
            });
        }
    })?;
    regions.sort_by(|a, b| (&a.name, a.staged).cmp(&(&b.name, b.staged)));
    Ok(regions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::Region;

    /// A listing's `remove` removes only the file it listed: a region created at the name
    /// since (here over a kept one, as `create` replaces it) is left alone, as a live
    /// creator's is refused.
    #[test]
    fn a_listed_region_replaced_since_is_not_removed() {
        let name = format!("unit-list-replaced-{}", std::process::id());
        let find = || {
            Region::list()
                .unwrap()
                .into_iter()
                .find(|r| r.name() == name)
        };
        let mut kept = Region::create(&name, 8).unwrap();
        kept.keep();
        drop(kept);
        let listed = find().expect("listed");
        assert_eq!(listed.state(), RegionState::Kept);
        assert_eq!(listed.creator_pid(), Some(std::process::id()));
        assert!(!listed.is_staged());
        let replaced = Region::create(&name, 16).unwrap();
        assert!(!listed.remove().unwrap());
        assert!(!listed.remove_forced().unwrap());
        let now = find().expect("the new region");
        assert_eq!((now.state(), now.len()), (RegionState::Alive, 16));
        assert_eq!(now.remove().unwrap_err().kind(), io::ErrorKind::AddrInUse);
        assert_eq!(Region::open(&name).unwrap().len(), 16);
        drop(replaced);
        assert!(find().is_none());
    }
}
