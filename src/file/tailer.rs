//! [`Tailer`]: the async face of a file consumer. Reads happen on the blocking pool through
//! the bridge, a batch at a time; at the end of the data it waits on a [`DirWatcher`]
//! (inotify, or polling where that is unavailable) — never by spinning.
//!
//! | state | poll_next does |
//! |---|---|
//! | records ready | returns the next one |
//! | read in flight | polls it; its batch becomes the ready records |
//! | caught up, `follow` | waits for the watcher, then starts a read |
//! | caught up, no `follow` | ends the stream |
//! | otherwise | drains the watcher, then starts a read |
//!
//! The watcher is drained *before* a read starts, so a change made after that read looked
//! at the file still wakes the next wait.

use crate::io::blocking::{self, BlockingTask};
use crate::sys::DirWatcher;
use bytes::Bytes;
use std::collections::VecDeque;
use std::io;
use std::task::{ready, Context, Poll};

/// A blocking source of records: the log reader or a plain-file reader.
pub(crate) trait TailSource: Send + 'static {
    /// Reads what is available now, a bounded batch at a time. `delivered` is the sequence
    /// number of the first record read earlier but not yet returned to the user, if any
    /// (what a cursor may be committed at).
    fn read_batch(&mut self, delivered: Option<u64>) -> io::Result<Batch>;

    /// Reads what is available now *without blocking* (data already in the page cache), or
    /// `None` when that is not possible and [`read_batch`](TailSource::read_batch) must run
    /// on the blocking bridge. Called on the async task: saves two thread hops per wake-up.
    fn try_read_now(&mut self) -> Option<io::Result<Batch>> {
        None
    }
}

/// Payloads that share one buffer: the buffer and each payload's sequence number and range.
///
/// Slices are cut on the consumer's thread when each record is returned, so no reference
/// count is shared per record between the reading thread and the consumer.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) data: Bytes,
    pub(crate) spans: Vec<(u64, usize, usize)>,
}

/// What one [`TailSource::read_batch`] found.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Records, in order.
    pub(crate) chunks: Vec<Chunk>,
    /// Nothing more is available now.
    pub(crate) caught_up: bool,
}

impl Batch {
    /// Adds a record that has a buffer of its own.
    pub(crate) fn push(&mut self, seq: u64, payload: Bytes) {
        let len = payload.len();
        self.chunks.push(Chunk {
            data: payload,
            spans: vec![(seq, 0, len)],
        });
    }
}

type ReadJob<S> = BlockingTask<(S, io::Result<Batch>)>;

/// Tails a [`TailSource`].
#[derive(Debug)]
pub(crate) struct Tailer<S> {
    source: Option<S>,
    job: Option<ReadJob<S>>,
    ready: VecDeque<Chunk>,
    /// Index of the next span to return in `ready`'s front chunk.
    next_span: usize,
    watcher: DirWatcher,
    follow: bool,
    waiting: bool,
    ended: bool,
}

impl<S: TailSource> Tailer<S> {
    /// Tails `source`, woken by `watcher`; without `follow` the stream ends when caught up.
    pub(crate) fn new(source: S, watcher: DirWatcher, follow: bool) -> Tailer<S> {
        Tailer {
            source: Some(source),
            job: None,
            ready: VecDeque::new(),
            next_span: 0,
            watcher,
            follow,
            waiting: false,
            ended: false,
        }
    }

    /// Polls for the next record; `None` at the end (only without `follow`).
    ///
    /// # Errors
    /// The source's errors (`InvalidData` for corruption, OS errors). After an error the
    /// next poll reads again from the same position.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<(u64, Bytes)>>> {
        loop {
            if let Some(record) = self.pop_ready() {
                return Poll::Ready(Ok(Some(record)));
            }
            if self.ended {
                return Poll::Ready(Ok(None));
            }
            if self.job.is_some() {
                let batch = ready!(self.poll_job(cx))?;
                let caught_up = batch.caught_up;
                self.extend(batch);
                if !caught_up {
                    // Read ahead while the user takes these records.
                    self.start_read();
                } else if self.ready.is_empty() {
                    if self.follow {
                        self.waiting = true;
                    } else {
                        self.ended = true;
                    }
                }
                continue;
            }
            if self.waiting {
                ready!(self.watcher.poll_changed(cx))?;
                self.waiting = false;
            }
            if self.source.is_none() {
                return Poll::Ready(Err(io::Error::other(
                    "the file reader was lost (a read panicked)",
                )));
            }
            self.watcher.drain();
            if let Some(batch) = self.source.as_mut().and_then(S::try_read_now) {
                self.extend(batch?);
                if !self.ready.is_empty() {
                    continue;
                }
            }
            self.start_read();
        }
    }

    /// Waits for a read in flight (if any) to finish, keeping its records, so the source
    /// can be used.
    ///
    /// # Errors
    /// The read's error.
    pub(crate) fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.job.is_some() {
            let batch = ready!(self.poll_job(cx))?;
            self.extend(batch);
        }
        Poll::Ready(Ok(()))
    }

    /// The sequence number of the first record read but not yet returned, if any.
    pub(crate) fn first_unreturned(&self) -> Option<u64> {
        self.ready
            .front()
            .map(|chunk| chunk.spans[self.next_span].0)
    }

    fn pop_ready(&mut self) -> Option<(u64, Bytes)> {
        let chunk = self.ready.front()?;
        let (seq, start, end) = chunk.spans[self.next_span];
        let payload = chunk.data.slice(start..end);
        self.next_span += 1;
        if self.next_span == chunk.spans.len() {
            self.ready.pop_front();
            self.next_span = 0;
        }
        Some((seq, payload))
    }

    fn extend(&mut self, batch: Batch) {
        self.ready
            .extend(batch.chunks.into_iter().filter(|c| !c.spans.is_empty()));
    }

    fn start_read(&mut self) {
        let delivered = self.first_unreturned();
        self.start_job(move |source: &mut S| source.read_batch(delivered));
    }

    /// Runs `f` on the source on the blocking pool; poll with [`poll_idle`](Tailer::poll_idle).
    pub(crate) fn start_job<F>(&mut self, f: F)
    where
        F: FnOnce(&mut S) -> io::Result<Batch> + Send + 'static,
    {
        if let Some(mut source) = self.source.take() {
            self.job = Some(blocking::spawn(move || {
                let result = f(&mut source);
                (source, result)
            }));
        }
    }

    fn poll_job(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Batch>> {
        let Some(job) = &mut self.job else {
            return Poll::Ready(Ok(Batch::default()));
        };
        let polled = ready!(std::pin::Pin::new(job).poll(cx));
        self.job = None;
        let (source, result) = polled?;
        self.source = Some(source);
        Poll::Ready(result)
    }
}

use std::future::Future;
