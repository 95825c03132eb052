//! Named shared-memory regions (`anyipc::shm::Region`): files
//! `/dev/shm/anyipc-region-<uid>-NAME`, and the staged files a creator builds one under.
//!
//! Found, judged and removed by the library (`Region::list`, `RegionInfo::remove`): the same
//! look `Region::create` takes before it replaces a dead creator's region, so this listing
//! and the library never disagree on which region is dead. A region's name is its own,
//! separate from the `shm://NAME` connections' rendezvous name in the runtime directory (both
//! can exist at once), so regions are a kind of their own, listed as `shm-region`.
//!
//! A region kept on purpose (`Region::keep`) outlives its creator, like a queue's messages
//! or a log's records: it is *idle*, kept by `clean` and removed by `rm`.

use super::{Kind, Listing, Removal, Resource, Status};
use anyipc::shm::{Region, RegionInfo, RegionState};
use std::io;

/// Adds this user's regions to `listing`.
pub(crate) fn list(listing: &mut Listing) {
    match Region::list() {
        Ok(regions) => listing.resources.extend(regions.into_iter().map(resource)),
        Err(e) => listing
            .warnings
            .push(format!("cannot list shared-memory regions: {e}")),
    }
}

fn resource(info: RegionInfo) -> Resource {
    let path = info.path().display().to_string();
    let (status, detail) = match info.state() {
        RegionState::Alive => (Status::Alive, path),
        RegionState::Dead if info.is_staged() => (Status::Dead, format!("half-created: {path}")),
        RegionState::Dead => (Status::Dead, path),
        RegionState::Kept => (Status::Idle, format!("kept by its creator; {path}")),
        // A state this build does not know: never cleaned.
        _ => (Status::Idle, path),
    };
    Resource {
        kind: Kind::Region,
        name: info.name().to_owned(),
        owner: info.creator_pid(),
        status,
        size: Some(info.len()),
        detail,
        removal: Removal::Region(Box::new(info)),
    }
}

/// Removes the listed region: `Ok(false)` when its creator is alive (unless `force`) or
/// another region took the name since it was listed.
///
/// # Errors
/// Errors removing the file.
pub(crate) fn remove(info: &RegionInfo, force: bool) -> io::Result<bool> {
    let removed = if force {
        info.remove_forced()
    } else {
        info.remove()
    };
    match removed {
        Ok(removed) => Ok(removed),
        // Gone already (a `Region::create` swept it meanwhile): nothing left to remove.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Ok(false),
        Err(e) => Err(e),
    }
}
