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
    /// Reads what is available now, a bounded batch at a time.
    fn read_batch(&mut self) -> io::Result<Batch>;
}

/// What one [`TailSource::read_batch`] found.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Records with their sequence numbers.
    pub(crate) records: Vec<(u64, Bytes)>,
    /// Nothing more is available now.
    pub(crate) caught_up: bool,
}

type ReadJob<S> = BlockingTask<(S, io::Result<Batch>)>;

/// Tails a [`TailSource`].
#[derive(Debug)]
pub(crate) struct Tailer<S> {
    source: Option<S>,
    job: Option<ReadJob<S>>,
    ready: VecDeque<(u64, Bytes)>,
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
            if let Some(record) = self.ready.pop_front() {
                return Poll::Ready(Ok(Some(record)));
            }
            if self.ended {
                return Poll::Ready(Ok(None));
            }
            if self.job.is_some() {
                let batch = ready!(self.poll_job(cx))?;
                self.ready.extend(batch.records);
                if batch.caught_up && self.ready.is_empty() {
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
            self.start_job(S::read_batch);
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
            self.ready.extend(batch.records);
        }
        Poll::Ready(Ok(()))
    }

    /// The sequence number of the first record read but not yet returned, if any.
    pub(crate) fn first_unreturned(&self) -> Option<u64> {
        self.ready.front().map(|(seq, _)| *seq)
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
