//! `mq://` queues: segment files `/dev/shm/anyipc-mq-NAME`, and the staging files
//! (`.anyipc-mq-NAME~PID~N`) their creators build them under.
//!
//! Read from the segment's header (the queue module's layout, see `anyipc::queue`): the
//! magic at offset 0, the capacity at 12, the creator's pid at 24, the ready mark at 28, the
//! queue length word at 264. Every
//! process attached to a queue holds an open-file-description lock on byte `2^40 + pid` of
//! the segment, which the kernel drops when it dies: those locks say who has it open.

use super::proc_locks::{FileKey, Locks};
use super::{process_exists, valid_name, Kind, Listing, Removal, Resource, Status};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where queue segments live.
const QUEUE_DIR: &str = "/dev/shm";
/// Prefix of segment files.
const PREFIX: &str = "anyipc-mq-";
/// Separates the name, the creator's pid and a counter in staging file names.
const STAGING_SEP: char = '~';
/// The liveness lock of process `pid` is on byte `LIVENESS_BASE + pid`.
const LIVENESS_BASE: u64 = 1 << 40;
/// The first bytes of every queue segment.
const MAGIC: &[u8; 8] = b"anyipcMQ";
/// Header offsets.
const OFF_CAPACITY: usize = 12;
const OFF_CREATOR_PID: usize = 24;
const OFF_STATE: usize = 28;
const OFF_LEN_WORD: usize = 256 + 2 * 4;
/// The ready mark, written last when a queue is created.
const READY: u32 = u32::from_le_bytes(*b"REDY");

/// Adds this user's queues (and dead staging files) in `/dev/shm` to `listing`.
pub(crate) fn list(locks: &Locks, listing: &mut Listing) {
    let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return;
    };
    let entries = match std::fs::read_dir(QUEUE_DIR) {
        Ok(entries) => entries,
        // No /dev/shm: no queues.
        Err(_) => return,
    };
    for entry in entries.flatten() {
        let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        // Other users' queues are theirs to look after (and their headers are not readable).
        if !entry
            .metadata()
            .is_ok_and(|m| m.file_type().is_file() && m.uid() == me)
        {
            continue;
        }
        let path = entry.path();
        if let Some(name) = file_name.strip_prefix(PREFIX) {
            if valid_name(Kind::Mq, name) {
                listing.resources.push(queue(name, &path, locks));
            }
        } else if let Some(rest) = file_name
            .strip_prefix('.')
            .and_then(|n| n.strip_prefix(PREFIX))
        {
            if let Some(resource) = staging(rest, &path) {
                listing.resources.push(resource);
            }
        }
    }
}

/// The queue called `name` whoever owns it, for `anyipc rm mq://NAME`, which [`list`] does not
/// show when it is another user's (root may remove it; anyone else gets the OS's refusal).
pub(crate) fn any_owners(name: &str, locks: &Locks) -> Option<Resource> {
    if !valid_name(Kind::Mq, name) {
        return None;
    }
    let path = Path::new(QUEUE_DIR).join(format!("{PREFIX}{name}"));
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    let mut resource = queue(name, &path, locks);
    let uid = meta.uid();
    resource.detail = match resource.detail.as_str() {
        "" => format!("user {uid}'s"),
        detail => format!("user {uid}'s; {detail}"),
    };
    Some(resource)
}

fn queue(name: &str, path: &Path, locks: &Locks) -> Resource {
    let header = read_header(path);
    let word = |offset: usize| {
        header
            .as_ref()
            .and_then(|h| h.get(offset..offset + 4))
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    // A file without the queue's magic is not one: nothing in it names an owner.
    let ours = header.as_ref().is_some_and(|h| h.starts_with(MAGIC));
    let creator = word(OFF_CREATOR_PID).filter(|pid| ours && *pid != 0);
    let attached: Vec<u64> = FileKey::of(path)
        .map(|key| {
            locks
                .ofd_starts(&key)
                .iter()
                .filter_map(|start| start.checked_sub(LIVENESS_BASE))
                .collect()
        })
        .unwrap_or_default();
    let mut detail = match (&header, word(OFF_STATE)) {
        (None, _) => "header not readable".to_owned(),
        _ if !ours => "not a queue (no queue header)".to_owned(),
        (_, Some(READY)) => match (word(OFF_LEN_WORD), word(OFF_CAPACITY)) {
            // As the queue itself reports it (`anyipc mq stat` says more).
            (Some(len), Some(capacity)) if len > capacity => {
                format!("corrupt: length {len} over the capacity {capacity}")
            }
            (Some(len), _) => format!("{len} messages queued"),
            _ => String::new(),
        },
        _ => "not a complete queue".to_owned(),
    };
    if !attached.is_empty() {
        let pids: Vec<String> = attached.iter().map(u64::to_string).collect();
        detail.push_str(&format!("; open in pids {}", pids.join(",")));
    }
    // A live queue's owner is a process that has it open: its creator if it still does,
    // else the first one (the creator, `anyipc mq create` say, may be long gone). An idle
    // one's is its creator, the pid it had.
    let owner = match creator {
        Some(pid) if attached.contains(&u64::from(pid)) => Some(pid),
        _ => attached
            .first()
            .and_then(|pid| u32::try_from(*pid).ok())
            .or(creator),
    };
    Resource {
        kind: Kind::Mq,
        name: name.to_owned(),
        owner,
        status: if attached.is_empty() {
            Status::Idle
        } else {
            Status::Alive
        },
        size: std::fs::metadata(path).ok().map(|m| m.len()),
        detail,
        removal: Removal::Queue,
    }
}

/// A staging file `NAME~PID~N` whose creator is dead (a live creator's is not listed: it is
/// about to become a queue).
fn staging(rest: &str, path: &Path) -> Option<Resource> {
    let mut parts = rest.split(STAGING_SEP);
    let name = parts.next()?;
    let pid: u32 = parts.next()?.parse().ok()?;
    if process_exists(pid) || !valid_name(Kind::Mq, name) {
        return None;
    }
    Some(Resource {
        kind: Kind::Mq,
        name: name.to_owned(),
        owner: Some(pid),
        status: Status::Dead,
        size: std::fs::metadata(path).ok().map(|m| m.len()),
        detail: format!("half-created: {}", path.display()),
        removal: Removal::File(PathBuf::from(path)),
    })
}

/// The first bytes of a segment, up to and including the length word.
fn read_header(path: &Path) -> Option<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    let mut header = Vec::with_capacity(OFF_LEN_WORD + 4);
    file.take((OFF_LEN_WORD + 4) as u64)
        .read_to_end(&mut header)
        .ok()?;
    Some(header)
}
