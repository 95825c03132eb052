//! [`Appender`]: the async face of a file producer, and the dedicated writer thread behind
//! it (one per producer).
//!
//! Sends push messages into a shared queue and never touch the file; the thread takes the
//! whole queue at once, writes it with one `write`, and (unless `fsync=never`) makes it
//! durable with one `fdatasync`. So appends batch themselves: the more arrive while the
//! thread writes or syncs, the bigger the next group (group commit).
//!
//! ```text
//!  async side                          writer thread (io::blocking::spawn_thread)
//!  poll_send: push to queue ──ring──▶  park on doorbell while the queue is empty
//!   (Pending while queue full:         take queue      → taken.advance
//!    waits on `taken`)                 write           → written.advance
//!  fsync=always: wait on `synced`      fdatasync       → synced.advance
//!  poll_close: wait on `finished`      on error: record it, close all counters (fail-stop)
//! ```

use super::FsyncPolicy;
use crate::codec::FrameError;
use crate::io::blocking::{self, Doorbell, Progress};
use bytes::Bytes;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

/// Bytes the queue holds before senders wait for the writer.
const QUEUE_LIMIT: usize = 4 << 20;
/// Queue overhead counted per message, so many empty messages also fill the queue.
const PER_MESSAGE: usize = 16;

/// A file a writer thread appends to: the durable log or a plain file.
pub(crate) trait AppendTarget: Send + 'static {
    /// Appends `msgs`, in order, with as few `write`s as possible.
    fn append(&mut self, msgs: &[Bytes]) -> io::Result<()>;
    /// Makes everything appended so far durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// The endpoint, for error messages.
    fn describe(&self) -> String;
}

#[derive(Debug, Default)]
struct Queue {
    msgs: Vec<Bytes>,
    bytes: usize,
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
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every critical section leaves the queue consistent; a panic elsewhere cannot tear it.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
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
            run_writer(target, &thread_shared, policy)
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
            if queue.bytes >= QUEUE_LIMIT {
                let target = queue.pushed;
                drop(queue);
                match self.shared.taken.poll_reached(cx, target) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(true) => continue,
                    Poll::Ready(false) => return Poll::Ready(Err(self.shared.failure())),
                }
            }
            queue.msgs.push(msg.clone());
            queue.bytes += msg.len() + PER_MESSAGE;
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

fn run_writer<T: AppendTarget>(mut target: T, shared: &Shared, policy: FsyncPolicy) {
    let mut batch = Vec::new();
    let mut done: u64 = 0;
    loop {
        let closing = {
            let mut queue = shared.lock();
            while queue.msgs.is_empty() && !queue.closing {
                queue.parked = true;
                drop(queue);
                shared.doorbell.wait(Duration::from_secs(1));
                queue = shared.lock();
            }
            queue.parked = false;
            std::mem::swap(&mut batch, &mut queue.msgs);
            queue.bytes = 0;
            queue.closing && batch.is_empty()
        };
        if closing {
            break;
        }
        done += batch.len() as u64;
        shared.taken.advance(done);
        let result = target
            .append(&batch)
            .map(|()| shared.written.advance(done))
            .and_then(|()| {
                if policy == FsyncPolicy::Never {
                    Ok(())
                } else {
                    target.sync().map(|()| shared.synced.advance(done))
                }
            });
        batch.clear();
        if let Err(e) = result {
            let msg = format!(
                "{}: writing failed ({e}); the writer has stopped and accepts nothing more \
                 (fail-stop); records not yet acknowledged may be lost — reopen the log to \
                 recover",
                target.describe()
            );
            tracing::error!("{msg}");
            shared.lock().failure = Some((e.kind(), msg));
            drop(target);
            for progress in [
                &shared.taken,
                &shared.written,
                &shared.synced,
                &shared.finished,
            ] {
                progress.close();
            }
            return;
        }
    }
    drop(target);
    shared.finished.advance(1);
}
