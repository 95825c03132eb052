//! The named resources anyipc leaves on this machine, for `anyipc ls`, `clean` and `rm`.
//!
//! Only kinds with a known location can be listed:
//!
//! | kind | where | owner | alive when |
//! |---|---|---|---|
//! | `pipe://NAME` | socket `NAME` and lock `.NAME.lock` in the private runtime directory | the server holding the `flock` on the lock file | the lock is held |
//! | `shm://NAME` | socket `shm-NAME.sock` and lock `shm-NAME.lock` in the same directory | the listener holding the lock | the lock is held |
//! | `shm://NAME` region (`shm-region`) | `/dev/shm/anyipc-region-<uid>-NAME` (`anyipc::shm::Region`) | its creator (pid in the header) | the creator holds its `flock`; one that exited after `keep` leaves it idle |
//! | `mq://NAME` | `/dev/shm/anyipc-mq-NAME` | a process that has it open (its creator first), else its creator (pid in the header) | any process is attached (holds its liveness lock) |
//! | `file:///DIR` | a durable log's directory, found through the index of symlinks `logs/` in the runtime directory that its writer leaves | the writer holding the `flock` on `DIR/writer.lock` | the lock is held |
//!
//! The private runtime directory is `$XDG_RUNTIME_DIR/anyipc`, else `$TMPDIR/anyipc-<uid>`
//! (`/tmp/anyipc-<uid>`), as the transports choose it. Owners are read from the kernel's lock
//! table (`/proc/locks`) without taking any lock. `unix://` socket files are wherever their
//! URL put them and are not registered anywhere, so they are not listed; nor are plain files
//! (`file://…?framing=`), which are ordinary files.
//!
//! Queues and logs outlive their processes by design (messages wait for a consumer that has
//! not started yet), so a queue nobody has open, or a log without a writer, is *idle*, not
//! dead: `clean` leaves it, `rm` removes it. So is a region its creator kept on purpose
//! (`Region::keep`) for others to open after it exits. A log's index entry whose directory is
//! gone is dead (`clean` removes the entry).
//! Dead are: pipe and shm names whose lock no one holds (a server killed with `kill -9`), a
//! region whose creator died without keeping it (as the next `Region::create` judges it),
//! and a queue's or region's staging file whose creator died before linking it into place.
//!
//! A `shm://NAME` connection's rendezvous name and a region named NAME are separate and can
//! both exist; `rm shm://NAME` acts on both.

mod logs;
mod name_lock;
mod proc_locks;
mod queues;
mod regions;
mod runtime_dir;

use proc_locks::Locks;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// A kind of resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// `pipe://`.
    Pipe,
    /// `shm://` (a connection's rendezvous name).
    Shm,
    /// A named shared-memory region (`anyipc::shm::Region`), also `shm://NAME`.
    Region,
    /// `mq://`.
    Mq,
    /// `file://` (durable logs).
    File,
}

impl Kind {
    /// The URL scheme of its resources: regions share `shm` with the connections' names.
    pub(crate) fn scheme(self) -> &'static str {
        match self {
            Kind::Pipe => "pipe",
            Kind::Shm | Kind::Region => "shm",
            Kind::Mq => "mq",
            Kind::File => "file",
        }
    }
}

/// As `ls` shows it: the scheme, but `shm-region` for a region (one word, so the table's
/// columns still split on blanks).
impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Region => f.write_str("shm-region"),
            other => f.write_str(other.scheme()),
        }
    }
}

/// Whether a resource's owner lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Its owner (or, for a queue, some attached process) is running.
    Alive,
    /// A queue no process has open, a log with no live writer, or a region its creator kept
    /// and left: kept until removed.
    Idle,
    /// Left by a process that died: `clean` removes it.
    Dead,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Alive => "alive",
            Status::Idle => "idle",
            Status::Dead => "dead",
        })
    }
}

/// One resource found on this machine.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    /// Its kind.
    pub(crate) kind: Kind,
    /// Its name (the URL is `scheme://name`).
    pub(crate) name: String,
    /// The owner's process id, when known.
    pub(crate) owner: Option<u32>,
    /// Whether the owner lives.
    pub(crate) status: Status,
    /// Bytes it takes, when that means something.
    pub(crate) size: Option<u64>,
    /// Anything else worth showing (attached processes, queued messages, a staging file).
    pub(crate) detail: String,
    /// How to remove it.
    removal: Removal,
}

impl Resource {
    /// `scheme://name`.
    pub(crate) fn url(&self) -> String {
        format!("{}://{}", self.kind.scheme(), self.name)
    }

    /// What messages call it: its URL, `region shm://name` for a region (whose URL a
    /// connection's name may share).
    pub(crate) fn label(&self) -> String {
        match self.kind {
            Kind::Region => format!("region {}", self.url()),
            _ => self.url(),
        }
    }
}

/// The files behind a resource and how to remove them safely.
#[derive(Debug, Clone)]
enum Removal {
    /// A socket and the lock file that says who owns it: take the lock, then remove both.
    LockedName { socket: PathBuf, lock: PathBuf },
    /// A queue segment (through `MessageQueue::remove`).
    Queue,
    /// A file no one may own any more (a dead creator's staging file, a stale index entry).
    File(PathBuf),
    /// A log directory's own files (under its writer lock), then its index entry.
    Log { dir: PathBuf, entry: PathBuf },
    /// A shared-memory region, as listed (`RegionInfo::remove`: only that file, under the
    /// region creators' lock, and not a live creator's unless forced).
    Region(Box<anyipc::shm::RegionInfo>),
}

/// Everything found, and what could not be looked at.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// The resources, by kind then name.
    pub(crate) resources: Vec<Resource>,
    /// One line per place that could not be read.
    pub(crate) warnings: Vec<String>,
}

/// Lists every resource of this user on this machine.
pub(crate) fn list() -> Listing {
    let mut listing = Listing::default();
    let locks = match Locks::read() {
        Ok(locks) => locks,
        Err(e) => {
            listing
                .warnings
                .push(format!("cannot read /proc/locks ({e}): owners unknown"));
            Locks::default()
        }
    };
    runtime_dir::list(&locks, &mut listing);
    regions::list(&mut listing);
    queues::list(&locks, &mut listing);
    logs::list(&locks, &mut listing);
    listing
        .resources
        .sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    listing
}

/// The queue `mq://name` of any user (see [`list`], which lists only this user's), or `None`
/// when there is none.
pub(crate) fn queue_of_any_user(name: &str) -> Option<Resource> {
    queues::any_owners(name, &Locks::read().unwrap_or_default())
}

/// What [`remove`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Removed {
    /// The resource is gone.
    Yes,
    /// Its owner came back to life (bound the name again, created a region of that name)
    /// meanwhile, or is alive after all: left alone.
    OwnerAlive,
}

/// Removes `resource`. A pipe or shm name is removed under its lock, so a server binding at the
/// same moment is never undercut; a region only if it is still the file listed and its
/// creator is not alive; with `force` a live owner's files are removed all the same (the
/// owner keeps running but can no longer be found by name).
///
/// # Errors
/// Errors removing the files.
pub(crate) fn remove(resource: &Resource, force: bool) -> io::Result<Removed> {
    match &resource.removal {
        Removal::LockedName { socket, lock } => {
            let held = name_lock::take(lock)?;
            if held.is_none() && !force {
                return Ok(Removed::OwnerAlive);
            }
            remove_socket(socket)?;
            remove_if_present(lock)?;
            // `held` (if any) is closed here, after the lock file is gone.
            drop(held);
            Ok(Removed::Yes)
        }
        Removal::Queue => {
            match anyipc::queue::MessageQueue::remove(&resource.name) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            Ok(Removed::Yes)
        }
        Removal::File(path) => {
            remove_if_present(path)?;
            Ok(Removed::Yes)
        }
        Removal::Log { dir, entry } => Ok(match logs::remove(dir, entry, force)? {
            true => Removed::Yes,
            false => Removed::OwnerAlive,
        }),
        Removal::Region(info) => Ok(match regions::remove(info, force)? {
            true => Removed::Yes,
            false => Removed::OwnerAlive,
        }),
    }
}

/// Removes the socket at `path`, refusing anything that is not a socket.
fn remove_socket(path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(meta) if meta.file_type().is_socket() => remove_if_present(path),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is not a socket; leaving it alone", path.display()),
        )),
    }
}

fn remove_if_present(path: &std::path::Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether a process with this id exists (it may be another program that reused the id).
fn process_exists(pid: u32) -> bool {
    pid != 0 && std::path::Path::new("/proc").join(pid.to_string()).exists()
}

/// Whether `name` is a valid endpoint name for `kind` (skips files that are not ours).
fn valid_name(kind: Kind, name: &str) -> bool {
    anyipc::Endpoint::parse(&format!("{}://{name}", kind.scheme())).is_ok()
}
