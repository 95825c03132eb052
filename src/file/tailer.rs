//! [`Tailer`]: the async face of a file consumer. Fresh data already in the page cache is
//! read on the task ([`TailSource::try_read_now`]); everything else — opening segments,
//! listing the directory, data that must come from the disk — runs on the blocking pool
//! through the bridge, a batch at a time. At the end of the data it waits on a
//! [`DirWatcher`] (inotify, or polling where that is unavailable) — never by spinning; with
//! inotify on no timer but the one of a read the source says is due
//! ([`TailSource::read_deadline`]: a cursor commit, or a second look at a partial record).
//!
//! | state | poll_next does |
//! |---|---|
//! | records ready | returns the next one |
//! | read in flight | polls it; its batch becomes the ready records |
//! | caught up, `follow` | waits for the watcher |
//! | caught up, no `follow` (or the source ended) | ends the stream |
//! | otherwise | reads on the task; if that cannot (or the end it finds may not be the end: a new file appeared), starts a read on the pool |
//!
//! No change is missed: the watcher's events stay queued until a wait reads them, or the
//! tailer drains them before a read (every read but the first after a wake-up, which
//! brings the record the wake-up announced), so a change made after a read looked at the
//! file makes the next wait return (a change the
//! read already saw only makes it return early, once). The watcher is reset (its
//! queued events and new-entry flag dropped) before every pool read, which lists the
//! directory once it reaches the end of the data; a pool read that stops before that end
//! marks a possible new entry again, so a segment created meanwhile is looked for.

use super::cursor::Position;
use super::record::{payload_range, stored_crc};
use crate::io::blocking::{self, BlockingTask};
use crate::sys::DirWatcher;
use bytes::Bytes;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A blocking source of records: the log reader or a plain-file reader.
pub(crate) trait TailSource: Send + 'static {
    /// Reads what is available now, a bounded batch at a time. `returned` is the position
    /// after the last record returned to the user, if any (what a cursor may be committed
    /// at).
    fn read_batch(&mut self, returned: Option<Position>) -> io::Result<Batch>;

    /// Reads what is available now *without blocking* (data already in the page cache), or
    /// `None` when that is not possible and [`read_batch`](TailSource::read_batch) must run
    /// on the blocking bridge. Called on the async task when every record read before has
    /// been returned. A batch that is `caught_up` found the end of the file it reads, which
    /// is the end of the data unless a newer file appeared since the last `read_batch`.
    fn try_read_now(&mut self) -> Option<io::Result<Batch>> {
        None
    }

    /// When a read becomes due while the tailer waits at the end of the data, by tokio's
    /// clock: a tailer waiting there then reads on the pool at that time. A log reader's
    /// are a cursor commit of `returned` that is pending ([`read_batch`](TailSource::read_batch)
    /// commits what is due by the same clock), so that an idle consumer's cursor does not
    /// stay behind what it returned, and the check of a partial record that has stayed at
    /// the end of the log (a damaged length field, not a write under way).
    fn read_deadline(&self, _returned: Option<Position>) -> Option<tokio::time::Instant> {
        None
    }
}

/// Records that share one buffer.
///
/// Payload slices are cut on the consumer's thread as each record is returned, so no
/// reference count is shared per record between the reading thread and the consumer.
#[derive(Debug)]
pub(crate) enum Chunk {
    /// Whole, validated log records laid end to end, each as [`record`](super::record)
    /// describes (length, CRC, payload); the first at `pos` has sequence number `seq`, and
    /// `end` is the sequence number after the last.
    Records {
        data: Bytes,
        pos: usize,
        seq: u64,
        end: u64,
        /// The CRC field of the last record (`end - 1`).
        last_crc: u32,
    },
    /// One message with a buffer of its own.
    One { seq: u64, payload: Bytes },
}

/// What one [`TailSource::read_batch`] found.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Records, in order.
    pub(crate) chunks: Vec<Chunk>,
    /// Nothing more is available now.
    pub(crate) caught_up: bool,
    /// With `caught_up`: nothing more will ever be (a plain file whose framing was lost),
    /// so the stream ends, with `follow` too.
    pub(crate) ended: bool,
}

impl Batch {
    /// Adds a record that has a buffer of its own.
    pub(crate) fn push(&mut self, seq: u64, payload: Bytes) {
        self.chunks.push(Chunk::One { seq, payload });
    }
}

type ReadJob<S> = BlockingTask<(Box<S>, io::Result<Batch>)>;

/// Tails a [`TailSource`].
#[derive(Debug)]
pub(crate) struct Tailer<S> {
    /// Boxed: it moves to the blocking pool and back for every pool read, and it is large
    /// (a log reader with its segment and cursor state).
    source: Option<Box<S>>,
    job: Option<ReadJob<S>>,
    ready: VecDeque<Chunk>,
    /// The position after the last record returned, if any was.
    returned: Option<Position>,
    watcher: DirWatcher,
    /// While the source has a read due: fires when it is due (the deadline it is set to).
    /// Kept across waits; reset only when the deadline moves.
    read_timer: Option<(tokio::time::Instant, Pin<Box<tokio::time::Sleep>>)>,
    follow: bool,
    waiting: bool,
    ended: bool,
}

impl<S: TailSource> Tailer<S> {
    /// Tails `source`, woken by `watcher`; without `follow` the stream ends when caught up.
    pub(crate) fn new(source: S, watcher: DirWatcher, follow: bool) -> Tailer<S> {
        Tailer {
            source: Some(Box::new(source)),
            job: None,
            ready: VecDeque::new(),
            returned: None,
            watcher,
            read_timer: None,
            follow,
            waiting: false,
            ended: false,
        }
    }

    /// Polls for the next record; `None` at the end (without `follow`, or once the source
    /// [ended](Batch::ended)).
    ///
    /// # Errors
    /// The source's errors (`InvalidData` for corruption, OS errors). After an error the
    /// next poll reads again from the same position.
    #[inline]
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<(u64, Bytes)>>> {
        loop {
            if let Some(record) = self.pop_ready() {
                return Poll::Ready(Ok(Some(record)));
            }
            if !ready!(self.poll_read(cx))? {
                return Poll::Ready(Ok(None));
            }
        }
    }

    /// Polls for the records read together next: what is left of the front chunk, whole;
    /// `None` at the end (as for [`poll_next`](Self::poll_next)).
    ///
    /// # Errors
    /// As [`poll_next`](Self::poll_next).
    pub(crate) fn poll_next_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<Chunk>>> {
        if !ready!(self.poll_read(cx))? {
            return Poll::Ready(Ok(None));
        }
        let chunk = self.ready.pop_front();
        self.returned = match &chunk {
            Some(Chunk::Records { end, last_crc, .. }) => Some(Position {
                next_seq: *end,
                last_crc: Some(*last_crc),
            }),
            Some(Chunk::One { seq, .. }) => Some(Position::at(seq + 1)),
            None => self.returned,
        };
        Poll::Ready(Ok(chunk))
    }

    /// Once the records read are all returned: reads more. `Ready(Ok(true))` when records
    /// are ready, `Ready(Ok(false))` at the end of the stream.
    #[inline(never)]
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        loop {
            if !self.ready.is_empty() {
                return Poll::Ready(Ok(true));
            }
            if self.ended {
                return Poll::Ready(Ok(false));
            }
            if self.job.is_some() {
                let batch = ready!(self.poll_job(cx));
                if !batch.as_ref().is_ok_and(|b| b.caught_up) {
                    // The pool read stopped before it looked for new files (a full batch,
                    // an error): the new ones seen before it started are still unlooked-for.
                    self.watcher.mark_new_entry();
                }
                let batch = batch?;
                let (caught_up, ended) = (batch.caught_up, batch.ended);
                self.extend(batch);
                // Not caught up: the next read tries the task first again (the kernel reads
                // ahead of a sequential reader, so the next data is often cached by then).
                if caught_up && self.ready.is_empty() {
                    self.waiting = self.follow && !ended;
                    self.ended = !self.follow || ended;
                }
                continue;
            }
            if self.waiting {
                if let Poll::Ready(changed) = self.watcher.poll_changed(cx) {
                    changed?;
                } else {
                    ready!(self.poll_read_due(cx));
                    // A read is due: the pool read makes the commit or the check, then
                    // reads (nothing new to read on the task, or the watcher would have
                    // said so).
                    self.read_timer = None;
                    self.waiting = false;
                    self.watcher.reset();
                    self.start_read();
                    continue;
                }
                self.waiting = false;
            } else {
                // The events of a wake-up are read after the read right after it, which
                // brings what the consumer waits for, and before any later read.
                self.watcher.drain_deferred(cx)?;
            }
            let Some(source) = self.source.as_mut() else {
                return Poll::Ready(Err(io::Error::other(
                    "the file reader was lost (a read panicked)",
                )));
            };
            // No reset here: a change already queued only makes a later wait return at once
            // (one spurious read), which costs less than a `read` of the watcher before
            // every read of the file.
            // A read on the task is one operation of the task's budget, as a socket's read.
            let budget = ready!(tokio::task::coop::poll_proceed(cx));
            if let Some(batch) = source.try_read_now() {
                budget.made_progress();
                let batch = batch?;
                let (caught_up, ended) = (batch.caught_up, batch.ended);
                self.extend(batch);
                if !self.ready.is_empty() {
                    continue;
                }
                if caught_up && ended {
                    // The source said nothing more will ever come, as from the pool read.
                    self.ended = true;
                    continue;
                }
                if caught_up && self.follow && !self.watcher.new_entry() {
                    // The end of the file being read, and no new segment since the last
                    // listing: wait for the next change, no thread hop.
                    self.waiting = true;
                    continue;
                }
            }
            // The pool read lists the directory once it reaches the end of the data: forget
            // the new files seen before it, after taking whatever is queued, so that only
            // files created after this point count (if it stops before that end, they are
            // marked again when it returns).
            self.watcher.reset();
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

    /// The position after the last record returned, if any was: what a cursor is
    /// committed at.
    pub(crate) fn returned(&self) -> Option<Position> {
        self.returned
    }

    /// The next record that has been read and checked already, without reading: the first
    /// step of [`poll_next`](Self::poll_next), its payload only.
    #[inline(always)]
    pub(crate) fn next_ready(&mut self) -> Option<Bytes> {
        self.pop_ready().map(|(_, payload)| payload)
    }

    #[inline]
    fn pop_ready(&mut self) -> Option<(u64, Bytes)> {
        loop {
            let chunk = self.ready.front_mut()?;
            let (record, done) = match chunk {
                Chunk::Records { data, pos, seq, .. } => {
                    // The reader validated these records, so each fits; one that did not
                    // would end its chunk here, neither read past nor returned.
                    let Some(payload) = payload_range(data, *pos) else {
                        debug_assert!(false, "a validated chunk holds a record that does not fit");
                        self.ready.pop_front();
                        continue;
                    };
                    let end = payload.end;
                    self.returned = Some(Position {
                        next_seq: *seq + 1,
                        last_crc: data.get(*pos..).and_then(stored_crc),
                    });
                    let record = (*seq, data.slice(payload));
                    *pos = end;
                    *seq += 1;
                    (record, end == data.len())
                }
                Chunk::One { seq, payload } => {
                    self.returned = Some(Position::at(*seq + 1));
                    ((*seq, std::mem::take(payload)), true)
                }
            };
            if done {
                self.ready.pop_front();
            }
            return Some(record);
        }
    }

    /// While waiting at the end of the data: ready when the source's read is due (a cursor
    /// commit or a check the read that follows makes); pending for ever when none is.
    fn poll_read_due(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let due = self
            .source
            .as_ref()
            .and_then(|s| s.read_deadline(self.returned));
        let Some(due) = due else {
            self.read_timer = None;
            return Poll::Pending;
        };
        let timer = match &mut self.read_timer {
            Some((set, timer)) => {
                if *set != due {
                    timer.as_mut().reset(due);
                    *set = due;
                }
                timer
            }
            None => {
                &mut self
                    .read_timer
                    .insert((due, Box::pin(tokio::time::sleep_until(due))))
                    .1
            }
        };
        timer.as_mut().poll(cx)
    }

    fn extend(&mut self, batch: Batch) {
        let non_empty = |chunk: &Chunk| !matches!(chunk, Chunk::Records { data, pos, .. } if *pos >= data.len());
        self.ready
            .extend(batch.chunks.into_iter().filter(non_empty));
    }

    fn start_read(&mut self) {
        let returned = self.returned;
        self.start_job(move |source: &mut S| source.read_batch(returned));
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

/// The test counts pool reads against inotify's watcher, which tells a write from a new
/// file; the polling one used elsewhere cannot (every tick may be a new file, and it ticks
/// once at the start).
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A source whose page-cache reads hand out queued records, then say "end of file";
    /// pool reads count themselves and find nothing.
    struct Fake {
        queued: Arc<Mutex<VecDeque<Bytes>>>,
        pool_reads: Arc<AtomicUsize>,
        seq: u64,
        /// Pool reads that stop early (a full batch) before one reaches the end.
        early: usize,
    }

    impl TailSource for Fake {
        fn read_batch(&mut self, _returned: Option<Position>) -> io::Result<Batch> {
            self.pool_reads.fetch_add(1, Ordering::SeqCst);
            let caught_up = self.early == 0;
            self.early = self.early.saturating_sub(1);
            Ok(Batch {
                caught_up,
                ..Batch::default()
            })
        }

        fn try_read_now(&mut self) -> Option<io::Result<Batch>> {
            let mut batch = Batch::default();
            match self.queued.lock().unwrap().pop_front() {
                Some(payload) => {
                    batch.push(self.seq, payload);
                    self.seq += 1;
                }
                None => batch.caught_up = true,
            }
            Some(Ok(batch))
        }
    }

    /// Polls until `done` says the tailer reached the state it waits for (10 s at most).
    async fn poll_until(
        tailer: &mut Tailer<Fake>,
        mut done: impl FnMut(&Tailer<Fake>, &Poll<io::Result<Option<(u64, Bytes)>>>) -> bool,
    ) -> Poll<io::Result<Option<(u64, Bytes)>>> {
        let polled = std::future::poll_fn(|cx| {
            let polled = tailer.poll_next(cx);
            if done(tailer, &polled) {
                Poll::Ready(polled)
            } else {
                Poll::Pending
            }
        });
        tokio::time::timeout(Duration::from_secs(10), polled)
            .await
            .expect("the tailer did not get there")
    }

    #[tokio::test]
    async fn at_the_end_it_waits_for_the_watcher_without_a_pool_read_until_a_file_appears() {
        let dir = std::env::temp_dir().join(format!("anyipc-tailer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("segment"), b"").unwrap();
        let queued = Arc::new(Mutex::new(VecDeque::new()));
        let pool_reads = Arc::new(AtomicUsize::new(0));
        let source = Fake {
            queued: queued.clone(),
            pool_reads: pool_reads.clone(),
            seq: 0,
            early: 0,
        };
        let watcher = DirWatcher::new(&dir, Duration::from_secs(3600));
        let mut tailer = Tailer::new(source, watcher, true);
        let parked = |t: &Tailer<Fake>, p: &Poll<_>| p.is_pending() && t.waiting && t.job.is_none();

        // First the pool lists the directory; then the tailer parks on the watcher.
        assert!(poll_until(&mut tailer, parked).await.is_pending());
        assert_eq!(pool_reads.load(Ordering::SeqCst), 1);

        // A write: the record comes from the task's read, and so does the next end.
        queued.lock().unwrap().push_back(Bytes::from_static(b"one"));
        std::fs::write(dir.join("segment"), b"x").unwrap();
        let got = poll_until(&mut tailer, |_, p| p.is_ready()).await;
        assert_eq!(
            got.map(|r| r.unwrap()),
            Poll::Ready(Some((0, Bytes::from_static(b"one"))))
        );
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(tailer.poll_next(&mut cx).is_pending());
        assert!(
            tailer.waiting && tailer.job.is_none(),
            "no pool read at the end of a file"
        );
        assert_eq!(pool_reads.load(Ordering::SeqCst), 1);

        // Another write, another record, still no pool read.
        queued.lock().unwrap().push_back(Bytes::from_static(b"two"));
        std::fs::write(dir.join("segment"), b"xy").unwrap();
        let got = poll_until(&mut tailer, |_, p| p.is_ready()).await;
        assert_eq!(
            got.map(|r| r.unwrap()),
            Poll::Ready(Some((1, Bytes::from_static(b"two"))))
        );
        assert!(tailer.poll_next(&mut cx).is_pending());
        assert!(tailer.waiting && tailer.job.is_none());
        assert_eq!(pool_reads.load(Ordering::SeqCst), 1);

        // Only a new file sends the tailer to the pool again (to look for a new segment).
        std::fs::write(dir.join("next-segment"), b"z").unwrap();
        let reads = pool_reads.clone();
        let polled = poll_until(&mut tailer, |t, p| {
            parked(t, p) && reads.load(Ordering::SeqCst) == 2
        })
        .await;
        assert!(polled.is_pending());

        // A pool read that stops before the end (a full batch) has not looked for the new
        // file: the next end of a file goes to the pool again instead of parking.
        tailer.source.as_mut().unwrap().early = 1;
        std::fs::write(dir.join("third-segment"), b"w").unwrap();
        let polled = poll_until(&mut tailer, |t, p| {
            parked(t, p) && reads.load(Ordering::SeqCst) == 4
        })
        .await;
        assert!(polled.is_pending());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
