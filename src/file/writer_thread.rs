//! The blocking side of a producer: the dedicated writer thread, the sync thread, and the
//! queue of [`Block`]s between them and the [`Appender`](super::appender::Appender).
//!
//! ```text
//!  sending task                       writer thread               sync thread (unless never)
//!  encode records into its own block  park while the queue is empty
//!  full block / flush: push ─ring─▶   take every queued block → taken
//!   (waits on `taken` while the        start segments, write   → written ─ring─▶ fdatasync
//!    queue holds QUEUE_LIMIT bytes)    give the buffers back                      → synced
//!  fsync=always: wait on `synced`      on error: record it, close all counters (fail-stop)
//!  close: wait on `finished`
//! ```
//!
//! The thread never touches a message: blocks arrive encoded (CRCs included), and the thread
//! writes each with one `write` and lets the sync thread `fdatasync` behind it, so a record
//! is visible to consumers while an earlier sync is under way, and each `fdatasync` covers
//! everything written before it started (group commit).
//!
//! **Small blocks are written by the sending task** when the writer is idle (nothing queued,
//! no write under way, no segment to start): a message sent on its own then reaches the
//! file without waking the writer thread, which costs a cross-CPU wake-up (tens of
//! microseconds in a VM) on the path every consumer waits on. Such a write is at most
//! [`INLINE_MAX`] bytes into the page cache; should one take longer than [`INLINE_SLOW`]
//! (dirty-page throttling, a journal commit, a slow file system), the thread takes every
//! write for [`INLINE_PAUSE_FACTOR`] times as long as that write took (at most
//! [`INLINE_PAUSE_MAX`]). Slow inline writes then hold a tokio worker for about 1% of the
//! time at most for stalls of 1–100 ms (writes under 1 ms never pause inline writing;
//! dirty-page throttling sleeps up to ~200 ms: 2%; a stall of a second or more, one write
//! per 10 s), while a short stall (ext4 journal commits here: 1–4 ms every second or two)
//! pauses inline writes for a fraction of a second, not for a whole one. (A fixed 1 s pause sent
//! 57–70% of the one-at-a-time sends of two of three latency runs to the thread, a
//! cross-CPU wake-up each.)

use super::record::{SegmentHeader, RECORD_HEADER_LEN};
use super::segment::os_error;
use super::FsyncPolicy;
use crate::io::blocking::{self, Doorbell, Progress};
use bytes::BytesMut;
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Bytes queued before the sending task waits for the writer.
pub(crate) const QUEUE_LIMIT: usize = 4 << 20;
/// A block is handed to the writer once it holds this many bytes.
pub(crate) const BLOCK_TARGET: usize = 256 << 10;
/// Blocks up to this size join the last queued block instead of queueing their own `write`.
const JOIN_MAX: usize = 16 << 10;
/// Emptied buffers kept for reuse (each about `BLOCK_TARGET`).
const SPARE_BUFFERS: usize = 4;
/// Blocks up to this size may be written by the sending task when the writer is idle: one
/// message of 64 KiB with its record header (or a plain file's delimiter) fits. (At exactly
/// 64 KiB a lone 64 KiB message went to the thread; a `file://` 64 KiB round trip makes two
/// such hops: p50 173–187 µs against 158–168 with this limit, four alternated CLI pairs.)
const INLINE_MAX: usize = (64 << 10) + RECORD_HEADER_LEN;
/// A write by the sending task slower than this…
const INLINE_SLOW: Duration = Duration::from_millis(1);
/// …hands every write to the writer thread for this many times as long as it took…
const INLINE_PAUSE_FACTOR: u32 = 100;
/// …but never longer than this.
const INLINE_PAUSE_MAX: Duration = Duration::from_secs(10);

/// Encoded records, in order, ready to be written.
#[derive(Debug, Default)]
pub(crate) struct Block {
    /// The bytes to append.
    pub(crate) data: BytesMut,
    /// Messages in `data`.
    pub(crate) messages: u64,
    /// Close the current segment and start this one before writing `data` (log rotation).
    pub(crate) new_segment: Option<SegmentHeader>,
}

/// The file a target appends to now, with its path for error messages.
#[derive(Debug)]
pub(crate) struct TargetFile {
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    /// Serialises the file's `fdatasync`s and keeps the first failure (see [`sync`]).
    ///
    /// [`sync`]: TargetFile::sync
    sync_failure: Mutex<Option<SyncFailure>>,
}

/// A failed `fdatasync`, kept to be reported again.
#[derive(Debug, Clone)]
struct SyncFailure {
    kind: io::ErrorKind,
    code: Option<i32>,
    text: String,
}

impl TargetFile {
    pub(crate) fn new(file: File, path: PathBuf) -> TargetFile {
        TargetFile {
            file,
            path,
            sync_failure: Mutex::new(None),
        }
    }

    /// `fdatasync`s the file; an error if this sync or any earlier one of it failed.
    ///
    /// Linux reports a failed writeback to one `fdatasync` of an open file only: when the
    /// writer thread (closing a segment) and the sync thread synced it at once, the one that
    /// did not get the error returned Ok, and the sync thread acknowledged `fsync=always`
    /// records that were not on disk. So the syncs of a file take turns, and a failure, once
    /// seen, is every later sync's answer.
    pub(crate) fn sync(&self) -> io::Result<()> {
        let mut failure = self.sync_failure.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(failed) = failure.as_ref() {
            let again = match failed.code {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(failed.kind, failed.text.clone()),
            };
            return Err(os_error(
                "cannot sync (it failed before)",
                &self.path,
                again,
            ));
        }
        self.file.sync_data().map_err(|e| {
            *failure = Some(SyncFailure {
                kind: e.kind(),
                code: e.raw_os_error(),
                text: e.to_string(),
            });
            os_error("cannot sync", &self.path, e)
        })
    }
}

/// A file a writer thread appends to: the durable log or a plain file.
pub(crate) trait AppendTarget: std::fmt::Debug + Send + 'static {
    /// Appends `data` (whole encoded records).
    fn write(&mut self, data: &[u8]) -> io::Result<()>;
    /// Closes the current segment (synced unless `fsync=never`) and starts `header`'s.
    /// Only the log has segments.
    fn start_segment(&mut self, header: SegmentHeader) -> io::Result<()>;
    /// The file being appended to now; the sync thread `fdatasync`s it.
    fn current_file(&self) -> Arc<TargetFile>;
    /// The endpoint, for error messages.
    fn describe(&self) -> String;
    /// What a failed write leaves behind and how to go on, for the fail-stop error.
    fn after_failure(&self) -> &'static str;
    /// The error that stops the writer when the sync thread finds the current file deleted
    /// (no link left: what is appended to it is lost), or `None` to go on appending. Only
    /// the log's: retention never deletes its active segment, so someone removed the log.
    /// (Unix only: Windows does not delete a file that is open without sharing deletes.)
    #[cfg_attr(not(unix), allow(dead_code))]
    fn deleted(&self) -> Option<io::Error> {
        None
    }
}

#[derive(Debug, Default)]
struct Queue {
    blocks: VecDeque<Block>,
    /// Bytes in `blocks`.
    bytes: usize,
    /// Messages ever pushed.
    pushed: u64,
    /// Emptied buffers the sending task may reuse.
    spare: Vec<BytesMut>,
    /// Messages taken to be written (by the writer thread or the sending task).
    taken: u64,
    closing: bool,
    parked: bool,
    /// The writer thread is writing blocks it took.
    writing: bool,
    /// Until then, every block goes to the writer thread (a write by the sending task was slow).
    no_inline_until: Option<Instant>,
    /// Set once, on the first write or sync error: the appender refuses everything after.
    /// Its kind, message and OS error code (which every error rebuilt from it keeps inside,
    /// for [`raw_os_error`](crate::raw_os_error)).
    failure: Option<(io::ErrorKind, String, Option<i32>)>,
}

/// What the sending task and the threads share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    queue: Mutex<Queue>,
    /// The file appended to, locked by whoever writes; `None` once the writer has closed it.
    target: Mutex<Option<Box<dyn AppendTarget>>>,
    /// A sync thread runs (`fsync=batch|always`): it is rung after each write.
    syncing: AtomicBool,
    /// `queue.failure` is set (read without the lock on every send).
    failed: AtomicBool,
    doorbell: Doorbell,
    /// Messages taken to be written (by the writer thread, or by the sending task inline).
    pub(crate) taken: Progress,
    /// Messages written to the file.
    pub(crate) written: Progress,
    /// Messages on disk (not advanced under `fsync=never`).
    pub(crate) synced: Progress,
    /// 1 once the writer has finished and closed the file.
    pub(crate) finished: Progress,
    /// The sync thread's wake-up, and what it syncs.
    sync_bell: Doorbell,
    sync_file: Mutex<Option<Arc<TargetFile>>>,
    stop_syncing: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every critical section leaves the queue consistent; a panic elsewhere cannot tear it.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the writer has stopped on an error.
    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// The error every send gets once the writer stopped.
    pub(crate) fn failure(&self) -> io::Error {
        match &self.lock().failure {
            Some((kind, msg, Some(code))) => {
                crate::error::with_context(*kind, msg.clone(), io::Error::from_raw_os_error(*code))
            }
            Some((kind, msg, None)) => io::Error::new(*kind, msg.clone()),
            None => io::Error::new(io::ErrorKind::BrokenPipe, "the file writer has stopped"),
        }
    }

    /// `Some(target)` when the queue is full: room comes once `taken` reaches `target`.
    pub(crate) fn full(&self) -> Option<u64> {
        let queue = self.lock();
        (queue.bytes >= QUEUE_LIMIT).then_some(queue.pushed)
    }

    /// Queues `block` (whatever the queue holds) and wakes the writer if it sleeps; returns
    /// an emptied buffer for the next block.
    ///
    /// A small block (a message flushed on its own) is written at once on the caller's
    /// thread when the writer is idle (module docs), or else joins the last queued one when
    /// that has room, so sends flushed one at a time while the writer is busy still reach
    /// the file in one `write`; its own buffer comes back emptied.
    pub(crate) fn push(&self, block: Block) -> BytesMut {
        self.push_locked(self.lock(), block)
    }

    /// [`push`](Self::push) if the queue has room, in one lock hold; otherwise gives the
    /// block back with the `taken` count that makes room.
    pub(crate) fn push_if_room(&self, block: Block) -> Result<BytesMut, (Block, u64)> {
        let queue = self.lock();
        if queue.bytes >= QUEUE_LIMIT {
            let target = queue.pushed;
            return Err((block, target));
        }
        Ok(self.push_locked(queue, block))
    }

    fn push_locked(&self, queue: MutexGuard<'_, Queue>, block: Block) -> BytesMut {
        let (mut queue, mut block) = match self.write_inline(queue, block) {
            Ok(spare) => return spare,
            Err(not_written) => not_written,
        };
        queue.bytes += block.data.len();
        queue.pushed += block.messages;
        let joined = match queue.blocks.back_mut() {
            Some(last)
                if block.new_segment.is_none()
                    && block.data.len() <= JOIN_MAX
                    && last.data.len() + block.data.len() <= BLOCK_TARGET =>
            {
                last.data.extend_from_slice(&block.data);
                last.messages += block.messages;
                true
            }
            _ => false,
        };
        let spare = if joined {
            block.data.clear();
            block.data
        } else {
            queue.blocks.push_back(block);
            queue.spare.pop().unwrap_or_default()
        };
        if std::mem::take(&mut queue.parked) {
            drop(queue);
            self.doorbell.ring();
        }
        spare
    }

    /// Writes `block` on the caller's thread if the writer is idle and the block small;
    /// otherwise gives both back. On a write error the writer stops (fail-stop), as when
    /// the thread's write fails.
    fn write_inline<'q>(
        &'q self,
        mut queue: MutexGuard<'q, Queue>,
        mut block: Block,
    ) -> Result<BytesMut, (MutexGuard<'q, Queue>, Block)> {
        let idle =
            queue.blocks.is_empty() && !queue.writing && !queue.closing && queue.failure.is_none();
        if !idle || block.new_segment.is_some() || block.data.len() > INLINE_MAX {
            return Err((queue, block));
        }
        // Last: only a block that could be written here reads the clock.
        if let Some(until) = queue.no_inline_until {
            if Instant::now() < until {
                return Err((queue, block));
            }
            queue.no_inline_until = None;
        }
        // Never contended while the writer is idle; `None` once it has closed the file.
        let Ok(mut guard) = self.target.try_lock() else {
            return Err((queue, block));
        };
        let Some(target) = guard.as_mut() else {
            return Err((queue, block));
        };
        queue.pushed += block.messages;
        queue.taken += block.messages;
        let done = queue.taken;
        self.taken.advance(done);
        let started = Instant::now();
        let result = target.write(&block.data);
        let took = started.elapsed();
        if took > INLINE_SLOW {
            let pause = took
                .saturating_mul(INLINE_PAUSE_FACTOR)
                .min(INLINE_PAUSE_MAX);
            queue.no_inline_until = Some(Instant::now() + pause);
        }
        let describe = result
            .is_err()
            .then(|| (target.describe(), target.after_failure()));
        drop(guard);
        drop(queue);
        match result {
            Ok(()) => {
                self.written.advance(done);
                if self.syncing.load(Ordering::Acquire) {
                    self.sync_bell.ring();
                }
            }
            Err(e) => {
                let (describe, after) = describe.unwrap_or_default();
                self.fail(&describe, after, &e);
                // The thread closes the file and releases the log's lock now, not at its
                // next timed wake-up: reopening the log must not find it held.
                self.doorbell.ring();
            }
        }
        block.data.clear();
        Ok(block.data)
    }

    /// Asks the writer to finish the queue and exit.
    pub(crate) fn close(&self) {
        self.lock().closing = true;
        self.doorbell.ring();
    }

    /// Records the first failure and releases every waiter: the appender stops. `after`
    /// says what the failure left behind and how to go on.
    fn fail(&self, describe: &str, after: &str, e: &io::Error) {
        let msg = format!(
            "{describe}: writing failed ({e}); the writer has stopped and accepts nothing more \
             (fail-stop); {after}"
        );
        {
            let mut queue = self.lock();
            if queue.failure.is_some() {
                return;
            }
            tracing::error!("{msg}");
            queue.failure = Some((e.kind(), msg, crate::raw_os_error(e)));
            self.failed.store(true, Ordering::Release);
        }
        for progress in [&self.taken, &self.written, &self.synced, &self.finished] {
            progress.close();
        }
    }

    fn lock_target(&self) -> MutexGuard<'_, Option<Box<dyn AppendTarget>>> {
        // A panic inside a write leaves the file as the OS has it; nothing to tear.
        self.target.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes the files once the writer (and the sync thread, if one ran) has stopped: the
    /// target, and the sync thread's handle on the segment it last synced. A closed producer
    /// then holds no file of the log open however long it lives (Windows keeps a deleted
    /// file, and so its log directory, while a handle is open).
    fn close_files(&self) {
        drop(self.lock_target().take());
        drop(
            self.sync_file
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
    }

    fn set_sync_file(&self, file: Arc<TargetFile>) {
        *self.sync_file.lock().unwrap_or_else(|p| p.into_inner()) = Some(file);
    }
}

/// Starts the writer thread (and, unless `fsync=never`, the sync thread) for `target`.
///
/// # Errors
/// When the thread cannot be started.
pub(crate) fn start<T: AppendTarget>(
    target: T,
    shared: Arc<Shared>,
    policy: FsyncPolicy,
) -> io::Result<()> {
    let (describe, after) = (target.describe(), target.after_failure());
    if policy != FsyncPolicy::Never {
        shared.set_sync_file(target.current_file());
        shared.syncing.store(true, Ordering::Release);
    }
    *shared.lock_target() = Some(Box::new(target));
    blocking::spawn_thread("anyipc-file-writer", move || {
        run_writer(&describe, after, &shared);
    })?;
    Ok(())
}

fn run_writer(describe: &str, after: &'static str, shared: &Arc<Shared>) {
    let syncer = if shared.syncing.load(Ordering::Acquire) {
        let (sync_shared, d) = (shared.clone(), describe.to_owned());
        match blocking::spawn_thread("anyipc-file-sync", move || {
            run_syncer(&sync_shared, &d, after);
        }) {
            Ok(handle) => Some(handle),
            Err(e) => {
                shared.fail(describe, after, &e);
                shared.close_files();
                return;
            }
        }
    } else {
        None
    };
    let mut blocks: Vec<Block> = Vec::new();
    loop {
        let done;
        {
            let mut queue = shared.lock();
            while queue.blocks.is_empty() && !queue.closing && queue.failure.is_none() {
                queue.parked = true;
                drop(queue);
                shared.doorbell.wait(Duration::from_secs(1));
                queue = shared.lock();
            }
            queue.parked = false;
            if queue.failure.is_some() || queue.blocks.is_empty() {
                break;
            }
            blocks.extend(queue.blocks.drain(..));
            queue.bytes = 0;
            queue.taken += blocks.iter().map(|b| b.messages).sum::<u64>();
            queue.writing = true;
            done = queue.taken;
        }
        shared.taken.advance(done);
        let result = match shared.lock_target().as_mut() {
            Some(target) => blocks
                .iter()
                .try_for_each(|block| {
                    if let Some(header) = block.new_segment {
                        target.start_segment(header)?;
                    }
                    target.write(&block.data)
                })
                // The file to sync, when a sync thread runs.
                .map(|()| syncer.is_some().then(|| target.current_file())),
            None => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the file is closed",
            )),
        };
        let file = match result {
            Ok(file) => file,
            Err(e) => {
                shared.fail(describe, after, &e);
                break;
            }
        };
        if let Some(file) = file {
            // Before `written` moves: the sync thread reads `written`, then the file.
            shared.set_sync_file(file);
        }
        shared.written.advance(done);
        if syncer.is_some() {
            shared.sync_bell.ring();
        }
        let mut queue = shared.lock();
        queue.writing = false;
        for mut block in blocks.drain(..) {
            if queue.spare.len() < SPARE_BUFFERS && block.data.capacity() <= 2 * BLOCK_TARGET {
                block.data.clear();
                queue.spare.push(block.data);
            }
        }
    }
    if let Some(handle) = syncer {
        shared.stop_syncing.store(true, Ordering::Release);
        shared.sync_bell.ring();
        let _ = handle.join();
    }
    shared.close_files();
    if !shared.failed() {
        shared.finished.advance(1);
    }
}

/// The sync thread: `fdatasync`s whatever was written since the last sync.
fn run_syncer(shared: &Shared, describe: &str, after: &str) {
    let mut synced = 0;
    loop {
        let target = shared.written.get();
        if target > synced {
            let file = shared
                .sync_file
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if let Some(file) = file {
                let synced = file.sync().and_then(|()| check_linked(shared, &file));
                if let Err(e) = synced {
                    shared.fail(describe, after, &e);
                    shared.doorbell.ring();
                    return;
                }
            }
            synced = target;
            shared.synced.advance(synced);
            continue;
        }
        if shared.stop_syncing.load(Ordering::Acquire) || shared.failed() {
            return;
        }
        shared.sync_bell.wait(Duration::from_secs(1));
    }
}

/// After a sync of `file`: the target's [`deleted`](AppendTarget::deleted) error if `file`
/// has no link left and is still the file appended to (not one closed since: retention may
/// delete a closed segment the sync thread still holds). An acknowledged `fsync=always`
/// record is then not on disk in any file that can be read, so the send must not succeed.
fn check_linked(shared: &Shared, file: &Arc<TargetFile>) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = file
            .file
            .metadata()
            .map_err(|e| os_error("cannot look at", &file.path, e))?;
        if meta.nlink() > 0 {
            return Ok(());
        }
        // The writer holds the target while it writes (and rotates): the file it appends to
        // is looked at when it is not between a rotation and its next sync.
        let target = shared.lock_target();
        if let Some(target) = target.as_ref() {
            if Arc::ptr_eq(&target.current_file(), file) {
                if let Some(e) = target.deleted() {
                    return Err(e);
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (shared, file);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed `fdatasync` answers every later sync of the file, so the sync thread cannot
    /// count data as on disk after the writer thread's sync got the error (or the other way
    /// round). (`fdatasync` of a pipe fails with `EINVAL` on Linux.)
    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_sync_is_every_later_syncs_answer() {
        let (read, _write) = crate::sys::anonymous_pipe().unwrap();
        let target = TargetFile::new(File::from(read), PathBuf::from("a-pipe"));
        let first = target.sync().unwrap_err();
        assert_eq!(crate::raw_os_error(&first), Some(libc::EINVAL), "{first:?}");
        let again = target.sync().unwrap_err();
        assert_eq!(crate::raw_os_error(&again), Some(libc::EINVAL), "{again:?}");
        assert!(again.to_string().contains("failed before"), "{again}");
    }

    fn block(bytes: &[u8], messages: u64) -> Block {
        Block {
            data: BytesMut::from(bytes),
            messages,
            new_segment: None,
        }
    }

    #[test]
    fn small_blocks_join_the_last_queued_one() {
        let shared = Shared::default();
        shared.push(block(b"one", 1));
        let spare = shared.push(block(b"two", 1));
        assert!(
            spare.is_empty(),
            "the joined block's buffer comes back emptied"
        );
        // A large block queues a write of its own.
        shared.push(block(&vec![7; JOIN_MAX + 1], 1));
        let queue = shared.lock();
        assert_eq!(queue.blocks.len(), 2);
        assert_eq!(&queue.blocks[0].data[..], b"onetwo");
        assert_eq!(queue.blocks[0].messages, 2);
        assert_eq!(queue.bytes, 6 + JOIN_MAX + 1);
        assert_eq!(queue.pushed, 3);
    }

    #[test]
    fn a_full_queue_gives_the_block_back_with_the_count_that_makes_room() {
        let shared = Shared::default();
        shared.push(block(&vec![1; QUEUE_LIMIT], 3));
        let Err((back, target)) = shared.push_if_room(block(b"more", 1)) else {
            panic!("queued past QUEUE_LIMIT");
        };
        assert_eq!(
            (&back.data[..], back.messages, target),
            (&b"more"[..], 1, 3)
        );
        assert_eq!(
            shared.lock().pushed,
            3,
            "nothing of the refused block counted"
        );
    }

    /// A target that records what it is given, taking `delay` per write, or failing.
    #[derive(Debug)]
    struct Recording {
        written: Arc<Mutex<Vec<u8>>>,
        delay: Duration,
        fail: bool,
    }

    impl AppendTarget for Recording {
        fn write(&mut self, data: &[u8]) -> io::Result<()> {
            std::thread::sleep(self.delay);
            if self.fail {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            self.written.lock().unwrap().extend_from_slice(data);
            Ok(())
        }
        fn start_segment(&mut self, _header: SegmentHeader) -> io::Result<()> {
            Ok(())
        }
        fn current_file(&self) -> Arc<TargetFile> {
            unreachable!("no sync thread in these tests")
        }
        fn describe(&self) -> String {
            "recording".to_owned()
        }
        fn after_failure(&self) -> &'static str {
            "nothing to recover"
        }
    }

    /// A `Shared` whose target is a [`Recording`], with no writer thread: whatever is not
    /// written inline stays queued.
    fn with_target(delay: Duration, fail: bool) -> (Shared, Arc<Mutex<Vec<u8>>>) {
        let shared = Shared::default();
        let written = Arc::new(Mutex::new(Vec::new()));
        *shared.lock_target() = Some(Box::new(Recording {
            written: written.clone(),
            delay,
            fail,
        }));
        (shared, written)
    }

    #[test]
    fn an_idle_writer_lets_the_sender_write_a_small_block_at_once() {
        let (shared, written) = with_target(Duration::ZERO, false);
        let spare = shared.push(block(b"one", 1));
        assert!(spare.is_empty());
        assert_eq!(&written.lock().unwrap()[..], b"one");
        assert_eq!((shared.taken.get(), shared.written.get()), (1, 1));
        // A block over INLINE_MAX, or one that starts a segment, goes to the thread.
        shared.push(block(&vec![7; INLINE_MAX + 1], 1));
        assert_eq!(shared.lock().blocks.len(), 1);
        assert_eq!(shared.written.get(), 1);
        // Something queued: later blocks queue behind it, in order.
        shared.push(block(b"two", 1));
        assert_eq!(&written.lock().unwrap()[..], b"one");
        assert_eq!(shared.lock().pushed, 3);
    }

    #[test]
    fn a_lone_64_kib_message_is_written_by_the_sender() {
        let (shared, written) = with_target(Duration::ZERO, false);
        let mut record = BytesMut::new();
        crate::file::encode_record(&mut record, 1, 0, &vec![7; 64 << 10]);
        shared.push(block(&record, 1));
        assert_eq!(
            written.lock().unwrap().len(),
            record.len(),
            "written inline"
        );
        assert!(shared.lock().blocks.is_empty());
    }

    #[test]
    fn a_slow_write_sends_every_block_to_the_thread_for_a_while() {
        let (shared, written) = with_target(INLINE_SLOW * 2, false);
        let before = Instant::now();
        shared.push(block(b"slow", 1));
        let took = before.elapsed();
        assert_eq!(&written.lock().unwrap()[..], b"slow");
        // Paused for 100 times the write (which took at least 2 ms): not a fixed time.
        let until = shared.lock().no_inline_until.expect("paused");
        let pause = until - before;
        assert!(
            pause >= INLINE_SLOW * 2 * INLINE_PAUSE_FACTOR
                && pause <= took * INLINE_PAUSE_FACTOR + Duration::from_millis(50),
            "{pause:?} after a write of at most {took:?}"
        );
        shared.push(block(b"next", 1));
        assert_eq!(&written.lock().unwrap()[..], b"slow", "queued, not written");
        assert_eq!(shared.lock().blocks.len(), 1);
    }

    #[test]
    fn an_inline_write_error_stops_the_writer() {
        let (shared, _) = with_target(Duration::ZERO, true);
        shared.push(block(b"one", 1));
        assert!(shared.failed());
        let err = shared.failure();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert!(err.to_string().contains("fail-stop"), "{err}");
    }

    #[test]
    fn nothing_is_written_inline_after_the_writer_failed() {
        let (shared, written) = with_target(Duration::ZERO, false);
        shared.fail("recording", "", &io::Error::other("fdatasync failed"));
        shared.push(block(b"after", 1));
        assert!(
            written.lock().unwrap().is_empty(),
            "fail-stop: no write after a failure"
        );
    }
}
