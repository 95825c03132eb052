//! [`Attachment`]: this process's one mapping of a queue segment, shared by all its handles,
//! with the in-process mutex and liveness lock that the [owner lock](super::owner_lock)
//! relies on.

use super::geometry::{self, Geometry};
use super::owner_lock::{self, Acquired};
use super::priority_index;
use super::region::Region;
use super::QueueError;
use crate::sys::queue as os;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

/// Attached segments of this process, by (device, inode).
type Registry = HashMap<(u64, u64), Weak<Attachment>>;
static ATTACHED: Mutex<Option<Registry>> = Mutex::new(None);

/// One process's view of one queue segment.
#[derive(Debug)]
pub(crate) struct Attachment {
    region: Region,
    /// Holds this process's liveness lock for as long as the attachment lives.
    file: File,
    /// Lets one thread of this process at a time hold or wait for the queue lock, and says
    /// which owner the last thread to wait gave up on, if it did.
    local: Mutex<Option<GaveUp>>,
    /// This process's id: the owner token written into the lock word.
    token: u32,
}

impl Attachment {
    /// Attaches to the segment open in `file`, reusing this process's attachment if any.
    ///
    /// # Errors
    /// `InvalidData` (a [`QueueError`]) for a segment that is not a ready queue; OS errors.
    pub(crate) fn attach(file: File) -> io::Result<Arc<Attachment>> {
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(QueueError::BadHeader {
                detail: "not a regular file".to_owned(),
            }
            .into());
        }
        let key = os::file_key(&file)?;
        let mut attached = ATTACHED.lock().unwrap_or_else(|p| p.into_inner());
        let attached = attached.get_or_insert_with(HashMap::new);
        attached.retain(|_, weak| weak.strong_count() > 0);
        if let Some(existing) = attached.get(&key).and_then(Weak::upgrade) {
            existing.region.recheck_header()?;
            return Ok(existing);
        }
        let map = memmap2::MmapOptions::new()
            .len(
                usize::try_from(meta.len()).map_err(|_| QueueError::BadHeader {
                    detail: "segment too large".to_owned(),
                })?,
            )
            .map_raw(&file)?;
        let region = Region::open_map(map)?;
        let token = std::process::id();
        if token == 0 || token >= 1 << 31 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "process id out of the queue lock's range",
            ));
        }
        os::hold_liveness(&file, token)?;
        let attachment = Arc::new(Attachment {
            region,
            file,
            local: Mutex::new(None),
            token,
        });
        attached.insert(key, Arc::downgrade(&attachment));
        Ok(attachment)
    }

    pub(crate) fn region(&self) -> &Region {
        &self.region
    }

    pub(crate) fn geometry(&self) -> &Geometry {
        self.region.geometry()
    }

    /// Checks that the segment's file still holds the whole queue, and marks the region
    /// lost if not: a waiter whose accesses touch only the header, which a file shrunk past
    /// it keeps, would otherwise never learn that the slots are gone. (One `fstat`: made
    /// after a park, not on every operation.)
    ///
    /// # Errors
    /// [`QueueError::Truncated`] when the file is shorter than the queue.
    pub(crate) fn check_file_length(&self) -> Result<(), QueueError> {
        match self.file.metadata() {
            Ok(meta) if meta.len() < self.geometry().size as u64 => {
                self.region.mark_truncated();
                Err(QueueError::Truncated)
            }
            // A failed fstat (never seen on an open file) tells nothing: the accesses guard.
            _ => Ok(()),
        }
    }

    /// Takes the queue lock (as [`lock`](Self::lock)), runs `op` on the region under it, and
    /// releases it, all in one guarded access ([`Region::guarded`]): the way every operation
    /// on the index runs.
    ///
    /// # Errors
    /// As `lock`, what `op` returns, and `Truncated` if the file was found shrunk.
    pub(crate) fn with_lock<T>(
        &self,
        op: impl FnOnce(&Region) -> Result<T, QueueError>,
    ) -> Result<T, QueueError> {
        self.region.guarded(|| {
            let locked = self.lock()?;
            op(locked.region())
        })?
    }

    /// Takes the queue lock; if its last owner died holding it, rolls its operation back
    /// first. It touches the segment: only [`with_lock`](Self::with_lock) calls it, inside
    /// its guarded access.
    ///
    /// Blocks the calling thread while another process holds the lock: critical sections
    /// are one copy of at most `max_message_len` bytes and a few word writes. Gives up
    /// after [`owner_lock::PATIENCE`] on one live owner, or [`owner_lock::PATIENCE_IN_ALL`]
    /// while the lock changes hands between live owners. Threads of this process queue for
    /// the lock one at a time, so each would wait its own patience after the ones before
    /// it: a thread that finds that the last one gave up on the live owner still holding
    /// the lock, less than [`owner_lock::PATIENCE`] ago, gives up at once.
    ///
    /// # Errors
    /// `Corrupt`/`BadHeader` if the segment no longer looks like a queue; the lock is
    /// released again before returning. `LockStuck` when it gives up as above.
    fn lock(&self) -> Result<Locked<'_>, QueueError> {
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let word = self.region.lock_word();
        if let Some(gave_up) = *local {
            if gave_up.at.elapsed() < owner_lock::PATIENCE
                && owner_lock::held_by_live(word, &self.file, gave_up.owner)
            {
                return Err(QueueError::LockStuck {
                    owner_pid: gave_up.owner,
                });
            }
        }
        let how = match owner_lock::acquire(word, self.token, &self.file) {
            Ok(how) => how,
            Err(stuck) => {
                *local = Some(GaveUp {
                    owner: stuck.owner,
                    at: Instant::now(),
                });
                return Err(QueueError::LockStuck {
                    owner_pid: stuck.owner,
                });
            }
        };
        *local = None;
        let locked = Locked {
            attachment: self,
            _local: local,
        };
        if self.region.magic().load(Ordering::Relaxed) != geometry::MAGIC {
            return Err(QueueError::BadHeader {
                detail: "the header was overwritten".to_owned(),
            });
        }
        match how {
            Acquired::Clean => priority_index::check_idle(&self.region)?,
            Acquired::FromDead => priority_index::rollback(&self.region)?,
        }
        Ok(locked)
    }
}

impl Drop for Attachment {
    /// Gives up the liveness lock before the file closes: a child forked meanwhile shares the
    /// file until it execs, and would hold it that long (this process's next attach of the
    /// queue waited for it, and failed past its patience).
    fn drop(&mut self) {
        os::release_liveness(&self.file, self.token);
    }
}

/// A thread of this process gave up on the queue lock, held by process `owner`, at `at`.
#[derive(Debug, Clone, Copy)]
struct GaveUp {
    owner: u32,
    at: Instant,
}

/// The queue lock, held; released on drop.
#[derive(Debug)]
pub(crate) struct Locked<'a> {
    attachment: &'a Attachment,
    _local: MutexGuard<'a, Option<GaveUp>>,
}

impl Locked<'_> {
    pub(crate) fn region(&self) -> &Region {
        &self.attachment.region
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let region = &self.attachment.region;
        // Guarded itself too (a nested access when dropped inside `with_lock`): a release
        // that finds the file shrunk marks the region, and the operation fails. Made even
        // after the operation under the lock found it shrunk: where the file still has the
        // header, the lock must not stay held for the other processes.
        let _ = region.guarded_even_if_lost(|| {
            if region.is_lost() {
                // The operation went on over zeros after the fault, and kept its undo log
                // (`Txn::commit`): its changes to the words the file kept are undone, so a
                // file grown back holds the queue as it was before the operation.
                let _ = priority_index::rollback(region);
            }
            owner_lock::release(region.lock_word())
        });
    }
}
