use super::cursor::{self, Position};
use super::log_reader::{CursorSpec, LogReader};
use super::tailer::Tailer;
use super::{watcher_for, FileOptions, FsyncPolicy, RecordBatch};
use crate::io::blocking;
use bytes::Bytes;
use std::io;
use std::path::{Path, PathBuf};

/// One record of a durable log.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::file::{FileConsumer, FileOptions, FileProducer, FileRecord};
/// # let dir = std::env::temp_dir().join(format!("anyipc-doc-record-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let opts = FileOptions { follow: false, ..FileOptions::default() };
/// let mut log = FileProducer::open(&dir, opts.clone()).await?;
/// log.append_many(&["hello", "world"]).await?;
/// log.close().await?;
/// let mut consumer = FileConsumer::open(&dir, None, opts).await?;
/// consumer.recv().await?;
/// let second: FileRecord = consumer.recv().await?.unwrap();
/// assert_eq!(second, FileRecord { seq: 1, payload: "world".into() });
/// # anyipc::file::remove(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Its sequence number: 0 for the first record ever appended, then one more each.
    pub seq: u64,
    /// What was appended.
    pub payload: Bytes,
}

/// A reader of a durable log that tails it, with an optional named cursor committed
/// explicitly (at-least-once delivery). See [`FileProducer`](super::FileProducer) for an
/// example.
///
/// A consumer never blocks a tokio worker: reads run on the blocking pool, and at the end
/// of the log it waits for inotify (Linux) or a polling timer.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
/// # let dir = std::env::temp_dir().join(format!("anyipc-doc-consumer-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// // Opened before the producer: the directory is created, and `recv` waits at the end.
/// let mut consumer = FileConsumer::open(&dir, None, FileOptions::default()).await?;
/// let mut log = FileProducer::open(&dir, FileOptions::default()).await?;
/// assert_eq!(log.append("late news").await?, 0);
/// let record = consumer.recv().await?.unwrap();
/// assert_eq!((record.seq, &record.payload[..]), (0, &b"late news"[..]));
/// log.close().await?;
/// # anyipc::file::remove(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct FileConsumer {
    tailer: Tailer<LogReader>,
    dir: PathBuf,
    name: Option<String>,
    /// Where it started; after a record is returned, the tailer knows the position.
    start: Position,
    opts: FileOptions,
    /// A cursor store under way: one whose `commit` was cut short runs on, and the next
    /// waits for it first (two stores at once would share the temporary file).
    storing: Option<blocking::BlockingTask<io::Result<()>>>,
}

impl FileConsumer {
    /// Opens a consumer of the log in `dir`. With a `name`, it starts at that consumer's
    /// committed cursor; otherwise (or if it never committed) where `opts.from` says. A
    /// named consumer without a cursor that starts at the end (`from=end`) stores its cursor
    /// there at once, so that opened again it does not skip what was appended meanwhile.
    /// The directory is created if missing, so consumers may start before the producer,
    /// unless `opts.follow` is false: a log that is not there is then `NotFound`.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
    /// # let dir = std::env::temp_dir().join(format!("anyipc-doc-open-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let opts = FileOptions { follow: false, ..FileOptions::default() };
    /// # let mut log = FileProducer::open(&dir, opts.clone()).await?;
    /// # log.append_many(&["a", "b", "c"]).await?;
    /// # log.close().await?;
    /// // "audit" never committed: it starts where `opts.from` says, at the oldest record.
    /// let mut audit = FileConsumer::open(&dir, Some("audit"), opts.clone()).await?;
    /// assert_eq!(audit.recv().await?.unwrap().seq, 0);
    /// audit.commit().await?;
    /// // Opened again, it resumes after the record it committed.
    /// let mut audit = FileConsumer::open(&dir, Some("audit"), opts.clone()).await?;
    /// assert_eq!(audit.recv().await?.unwrap().seq, 1);
    /// // The name becomes a file name beside the log: no '/' in it.
    /// let bad = FileConsumer::open(&dir, Some("../audit"), opts).await.unwrap_err();
    /// assert_eq!(bad.kind(), std::io::ErrorKind::InvalidInput);
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `InvalidData` for a damaged cursor; `InvalidInput` when `dir` is a file or `name`
    /// breaks the name rules; `NotFound` when `dir` is missing and `opts.follow` is false;
    /// OS errors.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn open(
        dir: impl AsRef<Path>,
        name: Option<&str>,
        opts: FileOptions,
    ) -> io::Result<FileConsumer> {
        let dir = dir.as_ref().to_owned();
        if let Some(name) = name {
            cursor::check_name(name)?;
        }
        let spec = name.map(|name| CursorSpec {
            name: name.to_owned(),
            auto: false,
        });
        let (d, o) = (dir.clone(), opts.clone());
        let reader = blocking::run(move || LogReader::open(&d, &o, spec)).await?;
        let start = reader.start();
        let watcher = watcher_for(&dir, &opts);
        Ok(FileConsumer {
            tailer: Tailer::new(reader, watcher, opts.follow),
            dir,
            name: name.map(str::to_owned),
            start,
            opts,
            storing: None,
        })
    }

    /// The next record; waits for one at the end of the log (`follow`), or returns `None`
    /// there (no `follow`).
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
    /// # let dir = std::env::temp_dir().join(format!("anyipc-doc-recv-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let opts = FileOptions { follow: false, ..FileOptions::default() };
    /// let mut log = FileProducer::open(&dir, opts.clone()).await?;
    /// log.append("ping").await?;
    /// log.close().await?;
    /// let mut consumer = FileConsumer::open(&dir, None, opts).await?;
    /// let record = consumer.recv().await?.expect("one record");
    /// assert_eq!(&record.payload[..], b"ping");
    /// assert_eq!(consumer.recv().await?, None); // the end of the log, without `follow`
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `InvalidData` for a corrupt record (a bad CRC followed by valid records, a gap
    /// between segments, a segment that lost its header) or one over `max_frame`: never a
    /// bad payload. The error repeats
    /// on the next call; the consumer does not skip past corruption. (What a machine crash
    /// cut off the end of a segment closed without an fsync, under `fsync=never`, is not
    /// corruption: it is skipped with a warning; see the [module docs](super).)
    ///
    /// # Cancel safety
    /// Cancel safe: a record read is kept for the next call.
    pub async fn recv(&mut self) -> io::Result<Option<FileRecord>> {
        // A unit of the task's tokio budget per call, as a read of a tokio socket takes.
        tokio::task::coop::consume_budget().await;
        let next = std::future::poll_fn(|cx| self.tailer.poll_next(cx)).await?;
        Ok(next.map(|(seq, payload)| FileRecord { seq, payload }))
    }

    /// The records read together next, whole (one read's worth: up to 1 MiB, or one record
    /// when that is larger); waits at
    /// the end of the log as [`recv`](Self::recv) does, or returns `None` there (no
    /// `follow`). The batch call: no `Bytes` per record. [`position`](Self::position)
    /// moves past the whole batch.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
    /// # let name = format!("anyipc-doc-recv-batch-{}", std::process::id());
    /// # let dir = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let opts = FileOptions { follow: false, ..FileOptions::default() };
    /// let mut log = FileProducer::open(&dir, opts.clone()).await?;
    /// let readings: Vec<[u8; 8]> = (0..1000u64).map(u64::to_le_bytes).collect();
    /// log.append_many(&readings).await?;
    /// log.close().await?;
    /// let mut consumer = FileConsumer::open(&dir, None, opts).await?;
    /// let mut count = 0;
    /// while let Some(batch) = consumer.recv_batch().await? {
    ///     for (seq, payload) in &batch {
    ///         assert_eq!(payload, seq.to_le_bytes()); // every record, in order
    ///         count += 1;
    ///     }
    /// }
    /// assert_eq!((count, consumer.position()), (1000, 1000));
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`recv`](Self::recv): a corrupt record ends the batch before it, and the next
    /// call returns the error.
    ///
    /// # Cancel safety
    /// Cancel safe: records read are kept for the next call.
    pub async fn recv_batch(&mut self) -> io::Result<Option<RecordBatch>> {
        // A unit of the task's tokio budget per call, as a read of a tokio socket takes.
        tokio::task::coop::consume_budget().await;
        let next = std::future::poll_fn(|cx| self.tailer.poll_next_chunk(cx)).await?;
        let Some(chunk) = next else {
            return Ok(None);
        };
        let batch = RecordBatch::from_chunk(chunk)
            .ok_or_else(|| io::Error::other("the log reader returned a bare payload"))?;
        Ok(Some(batch))
    }

    /// The sequence number after the last record returned: what [`commit`](Self::commit)
    /// stores.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
    /// # let name = format!("anyipc-doc-position-{}", std::process::id());
    /// # let dir = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let opts = FileOptions { follow: false, ..FileOptions::default() };
    /// # let mut log = FileProducer::open(&dir, opts.clone()).await?;
    /// # log.append_many(&["a", "b"]).await?;
    /// # log.close().await?;
    /// let mut consumer = FileConsumer::open(&dir, None, opts).await?;
    /// assert_eq!(consumer.position(), 0);
    /// consumer.recv().await?;
    /// assert_eq!(consumer.position(), 1);
    /// consumer.recv().await?;
    /// assert_eq!(consumer.position(), 2); // past the last record
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn position(&self) -> u64 {
        self.delivered().next_seq
    }

    /// The position after the last record returned, or where this consumer started.
    fn delivered(&self) -> Position {
        self.tailer.returned().unwrap_or(self.start)
    }

    /// Stores this consumer's cursor: after a restart it resumes after the last record
    /// [`recv`](Self::recv) or [`recv_batch`](Self::recv_batch) returned. Durable (fsynced)
    /// unless `fsync=never`.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
    /// use std::io::ErrorKind;
    /// # let dir = std::env::temp_dir().join(format!("anyipc-doc-commit-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let opts = FileOptions { follow: false, ..FileOptions::default() };
    /// # let mut log = FileProducer::open(&dir, opts.clone()).await?;
    /// # log.append_many(&["a", "b", "c"]).await?;
    /// # log.close().await?;
    /// let mut mailer = FileConsumer::open(&dir, Some("mailer"), opts.clone()).await?;
    /// mailer.recv().await?;
    /// mailer.recv().await?;
    /// mailer.commit().await?;
    /// // A restarted "mailer" starts after the two records it committed.
    /// assert_eq!(FileConsumer::open(&dir, Some("mailer"), opts.clone()).await?.position(), 2);
    /// // A consumer without a name has no cursor.
    /// let mut anonymous = FileConsumer::open(&dir, None, opts).await?;
    /// assert_eq!(anonymous.commit().await.unwrap_err().kind(), ErrorKind::InvalidInput);
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` for a consumer without a name; OS errors writing the cursor.
    ///
    /// # Cancel safety
    /// Cancel safe: the cursor file is replaced atomically, old or new. A commit cut short
    /// goes on in the background, and the next one waits for it before it stores.
    pub async fn commit(&mut self) -> io::Result<()> {
        let Some(name) = self.name.clone() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a consumer without a name has no cursor to commit",
            ));
        };
        if let Some(earlier) = &mut self.storing {
            // Its outcome was the cut-short commit's to report; this one stores anew.
            let _ = earlier.await;
            self.storing = None;
        }
        let (dir, position) = (self.dir.clone(), self.delivered());
        let (durable, mode) = (self.opts.fsync != FsyncPolicy::Never, self.opts.mode);
        let storing = self.storing.insert(blocking::spawn(move || {
            cursor::store(&dir, &name, position, durable, mode)
        }));
        let stored = storing.await;
        self.storing = None;
        stored?
    }
}
