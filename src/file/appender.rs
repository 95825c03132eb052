//! [`Appender`]: the async face of a file producer, and the dedicated writer thread behind
//! it (one per producer).
//!
//! Sends copy messages into a shared queue buffer, already laid out as records (length, a
//! CRC slot, payload), and never touch the file; the thread takes the whole buffer at once,
//! fills in the CRCs, writes it with one `write`, and (unless `fsync=never`) makes it
//! durable with one `fdatasync`. Nothing is shared per message between the threads but the
//! copied bytes (no reference counts bouncing between cores). So appends batch themselves: the more arrive while the
//! thread writes or syncs, the bigger the next group (group commit).
//!
//! ```text
//!  async side                          writer thread              sync thread (unless never)
//!  poll_send: copy into queue ─ring─▶  park while queue empty
//!   (Pending while queue full:         take queue → taken
//!    waits on `taken`)                 write      → written ─ring─▶ fdatasync → synced
//!  fsync=always: wait on `synced`                                 (covers all written
//!  poll_close: wait on `finished`      on error: record it,          before it began)
//!                                      close all counters (fail-stop)
//! ```
//!
//! Writing and syncing run on separate threads, so a record is written (and visible to
//! consumers) at once even while an `fdatasync` of earlier records is under way, and each
//! `fdatasync` covers everything written before it started (group commit).

use super::FsyncPolicy;
use crate::codec::FrameError;
use crate::io::blocking::{self, Doorbell, Progress};
use bytes::Bytes;
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

/// Bytes the queue holds before senders wait for the writer.
const QUEUE_LIMIT: usize = 4 << 20;
/// Bytes before each queued payload: its length (u32 little-endian) and a CRC slot.
pub(crate) const QUEUED_HEADER: usize = 8;

/// A file a writer thread appends to: the durable log or a plain file.
pub(crate) trait AppendTarget: Send + 'static {
    /// Appends the queued messages in `batch`, in order, with as few `write`s as possible.
    /// `batch` holds records as [`queued_records`] walks them: length (u32 little-endian),
    /// 4 bytes the target may use (the log puts the CRC there), payload.
    fn append(&mut self, batch: &mut [u8]) -> io::Result<()>;
    /// The file being appended to now; the sync thread `fdatasync`s it. A target that
    /// switches files (log rotation) syncs the old one itself before switching.
    fn current_file(&self) -> Arc<File>;
    /// The endpoint, for error messages.
    fn describe(&self) -> String;
}

#[derive(Debug, Default)]
struct Queue {
    /// Queued records (see [`AppendTarget::append`]).
    buf: Vec<u8>,
    /// Messages in `buf`.
    queued: u64,
    /// Messages ever pushed (the local number of the next one).
    pushed: u64,
    closing: bool,
    parked: bool,
    /// Set once, on the first write or sync error: the appender refuses everything after.
    failure: Option<(io::ErrorKind, String)>,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    doorbell: Doorbell,
    /// Messages taken from the queue by the thread.
    taken: Progress,
    /// Messages written to the file.
    written: Progress,
    /// Messages on disk (not advanced under `fsync=never`).
    synced: Progress,
    /// 1 once the thread has finished and closed the file.
    finished: Progress,
    /// The sync thread's wake-up, and what it syncs.
    sync_bell: Doorbell,
    sync_file: Mutex<Option<Arc<File>>>,
    stop_syncing: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every critical section leaves the queue consistent; a panic elsewhere cannot tear it.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the first failure and releases every waiter: the appender stops.
    fn fail(&self, describe: &str, e: &io::Error) {
        let msg = format!(
            "{describe}: writing failed ({e}); the writer has stopped and accepts nothing more \
             (fail-stop); records not yet acknowledged may be lost — reopen the log to recover"
        );
        {
            let mut queue = self.lock();
            if queue.failure.is_some() {
                return;
            }
            tracing::error!("{msg}");
            queue.failure = Some((e.kind(), msg));
        }
        for progress in [&self.taken, &self.written, &self.synced, &self.finished] {
            progress.close();
        }
    }

    fn failed(&self) -> bool {
        self.lock().failure.is_some()
    }

    fn set_sync_file(&self, file: Arc<File>) {
        *self.sync_file.lock().unwrap_or_else(|p| p.into_inner()) = Some(file);
    }

    fn failure(&self) -> io::Error {
        match &self.lock().failure {
            Some((kind, msg)) => io::Error::new(*kind, msg.clone()),
            None => io::Error::new(io::ErrorKind::BrokenPipe, "the file writer has stopped"),
        }
    }
}

/// The sending side of a file producer.
#[derive(Debug)]
pub(crate) struct Appender {
    shared: Arc<Shared>,
    policy: FsyncPolicy,
    max_frame: usize,
    /// Sequence number of the first message this appender pushes.
    first_seq: u64,
    /// `fsync=always`: the local count `synced` must reach before the current send returns.
    awaiting: Option<u64>,
    closed: bool,
}

impl Appender {
    /// Starts the writer thread for `target`; `first_seq` is the sequence number the first
    /// appended message gets.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub(crate) fn start<T: AppendTarget>(
        target: T,
        policy: FsyncPolicy,
        max_frame: usize,
        first_seq: u64,
    ) -> io::Result<Appender> {
        let shared = Arc::new(Shared::default());
        let thread_shared = shared.clone();
        blocking::spawn_thread("anyipc-file-writer", move || {
            run_writer(target, thread_shared, policy)
        })?;
        Ok(Appender {
            shared,
            policy,
            max_frame,
            first_seq,
            awaiting: None,
            closed: false,
        })
    }

    /// Polls to append `msg`. `Ready(Ok(seq))` once accepted — under `fsync=always`, once on
    /// disk. After `Pending`, poll again with the same message.
    ///
    /// # Errors
    /// `InvalidInput` over `max_frame`; `BrokenPipe` after close; after a write or sync
    /// error, that error (fail-stop) for this and every later send.
    pub(crate) fn poll_append(
        &mut self,
        cx: &mut Context<'_>,
        msg: &Bytes,
    ) -> Poll<io::Result<u64>> {
        if let Some(target) = self.awaiting {
            return match self.shared.synced.poll_reached(cx, target) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(true) => {
                    self.awaiting = None;
                    Poll::Ready(Ok(self.first_seq + target - 1))
                }
                Poll::Ready(false) => {
                    self.awaiting = None;
                    Poll::Ready(Err(self.shared.failure()))
                }
            };
        }
        if self.closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "this file producer is closed",
            )));
        }
        if msg.len() > self.max_frame {
            return Poll::Ready(Err(FrameError::SendTooLarge {
                len: msg.len(),
                max: self.max_frame,
            }
            .into()));
        }
        let local = loop {
            let mut queue = self.shared.lock();
            if queue.failure.is_some() {
                drop(queue);
                return Poll::Ready(Err(self.shared.failure()));
            }
            if queue.buf.len() >= QUEUE_LIMIT {
                let target = queue.pushed;
                drop(queue);
                match self.shared.taken.poll_reached(cx, target) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(true) => continue,
                    Poll::Ready(false) => return Poll::Ready(Err(self.shared.failure())),
                }
            }
            queue
                .buf
                .extend_from_slice(&(msg.len() as u32).to_le_bytes());
            queue.buf.extend_from_slice(&[0; 4]);
            queue.buf.extend_from_slice(msg);
            queue.queued += 1;
            let local = queue.pushed;
            queue.pushed += 1;
            if queue.parked {
                queue.parked = false;
                drop(queue);
                self.shared.doorbell.ring();
            }
            break local;
        };
        if self.policy == FsyncPolicy::Always {
            self.awaiting = Some(local + 1);
            return self.poll_append(cx, msg);
        }
        Poll::Ready(Ok(self.first_seq + local))
    }

    /// The sequence number the next accepted message gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.first_seq + self.shared.lock().pushed
    }

    /// Waits until every message accepted so far is durable (`fsync=always|batch`) or
    /// written to the OS (`fsync=never`).
    ///
    /// # Errors
    /// The writer's error if it stopped.
    pub(crate) async fn sync(&self) -> io::Result<()> {
        let target = self.shared.lock().pushed;
        let progress = match self.policy {
            FsyncPolicy::Never => &self.shared.written,
            _ => &self.shared.synced,
        };
        if progress.reached(target).await {
            Ok(())
        } else {
            Err(self.shared.failure())
        }
    }

    /// Polls to close: the writer thread finishes the queue (writing and, unless
    /// `fsync=never`, syncing it), closes the file and releases the log's lock.
    ///
    /// # Errors
    /// The writer's error if it stopped.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.closed {
            self.closed = true;
            self.shared.lock().closing = true;
            self.shared.doorbell.ring();
        }
        match self.shared.finished.poll_reached(cx, 1) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(true) if self.shared.lock().failure.is_none() => Poll::Ready(Ok(())),
            Poll::Ready(_) => Poll::Ready(Err(self.shared.failure())),
        }
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        // The thread writes what was accepted, then exits; nobody waits for it.
        self.shared.lock().closing = true;
        self.shared.doorbell.ring();
    }
}

fn run_writer<T: AppendTarget>(mut target: T, shared: Arc<Shared>, policy: FsyncPolicy) {
    let describe = target.describe();
    let syncer = if policy == FsyncPolicy::Never {
        None
    } else {
        shared.set_sync_file(target.current_file());
        let (sync_shared, d) = (shared.clone(), describe.clone());
        match blocking::spawn_thread("anyipc-file-sync", move || run_syncer(&sync_shared, &d)) {
            Ok(handle) => Some(handle),
            Err(e) => {
                shared.fail(&describe, &e);
                return;
            }
        }
    };
    let mut batch: Vec<u8> = Vec::new();
    let mut done: u64 = 0;
    loop {
        let closing = {
            let mut queue = shared.lock();
            while queue.queued == 0 && !queue.closing && queue.failure.is_none() {
                queue.parked = true;
                drop(queue);
                shared.doorbell.wait(Duration::from_secs(1));
                queue = shared.lock();
            }
            queue.parked = false;
            if queue.failure.is_some() {
                break;
            }
            std::mem::swap(&mut batch, &mut queue.buf);
            let taken = queue.queued;
            queue.queued = 0;
            done += taken;
            queue.closing && taken == 0
        };
        if closing {
            break;
        }
        shared.taken.advance(done);
        let result = target.append(&mut batch);
        batch.clear();
        if let Err(e) = result {
            shared.fail(&describe, &e);
            break;
        }
        if syncer.is_some() {
            // Before `written` moves: the sync thread reads `written`, then the file.
            shared.set_sync_file(target.current_file());
        }
        shared.written.advance(done);
        shared.sync_bell.ring();
    }
    if let Some(handle) = syncer {
        shared.stop_syncing.store(true, Ordering::Release);
        shared.sync_bell.ring();
        let _ = handle.join();
    }
    drop(target);
    if !shared.failed() {
        shared.finished.advance(1);
    }
}

/// The sync thread: `fdatasync`s whatever was written since the last sync.
fn run_syncer(shared: &Shared, describe: &str) {
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
                if let Err(e) = file.sync_data() {
                    shared.fail(describe, &e);
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

/// The whole length (header included) of the queued record at `at`, if one starts there.
/// The batch is built by [`Appender::poll_append`], so its lengths are sound.
pub(crate) fn queued_len(batch: &[u8], at: usize) -> Option<usize> {
    let header = batch.get(at..at + QUEUED_HEADER)?;
    Some(QUEUED_HEADER + u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize)
}

/// Walks the queued records of a batch: yields each one's offset and whole length.
pub(crate) fn queued_records(batch: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let len = queued_len(batch, pos)?;
        let at = pos;
        pos += len;
        Some((at, len))
    })
}
