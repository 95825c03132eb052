use super::cursor::{self, Position};
use super::log_reader::{CursorSpec, LogReader};
use super::tailer::Tailer;
use super::{watcher_for, FileOptions, FsyncPolicy, RecordBatch};
use crate::io::blocking;
use bytes::Bytes;
use std::io;
use std::path::{Path, PathBuf};

/// One record of a durable log.
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
#[derive(Debug)]
pub struct FileConsumer {
    tailer: Tailer<LogReader>,
    dir: PathBuf,
    name: Option<String>,
    /// Where it started; after a record is returned, the tailer knows the position.
    start: Position,
    opts: FileOptions,
}

impl FileConsumer {
    /// Opens a consumer of the log in `dir`. With a `name`, it starts at that consumer's
    /// committed cursor; otherwise (or if it never committed) where `opts.from` says.
    /// The directory is created if missing, so consumers may start before the producer.
    ///
    /// # Errors
    /// `InvalidData` for a damaged cursor; `InvalidInput` when `dir` is a file or `name`
    /// breaks the name rules; OS errors.
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
            // The `consumer=` option's rules: the name becomes a file name beside the log.
            crate::Endpoint::parse("file:///log")?.with_option("consumer", name)?;
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
        })
    }

    /// The next record; waits for one at the end of the log (`follow`), or returns `None`
    /// there (no `follow`).
    ///
    /// # Errors
    /// `InvalidData` for a corrupt record (a bad CRC followed by valid records, a gap
    /// between segments, a segment that lost its header) or one over `max_frame`: never a
    /// bad payload. The error repeats
    /// on the next call; the consumer does not skip past corruption.
    ///
    /// # Cancel safety
    /// Cancel safe: a record read is kept for the next call.
    pub async fn recv(&mut self) -> io::Result<Option<FileRecord>> {
        let next = std::future::poll_fn(|cx| self.tailer.poll_next(cx)).await?;
        Ok(next.map(|(seq, payload)| FileRecord { seq, payload }))
    }

    /// The records read together next, whole (one read's worth: up to 1 MiB, or one record
    /// when that is larger); waits at
    /// the end of the log as [`recv`](Self::recv) does, or returns `None` there (no
    /// `follow`). The batch call: no `Bytes` per record. [`position`](Self::position)
    /// moves past the whole batch. See [`RecordBatch`] for an example.
    ///
    /// # Errors
    /// As [`recv`](Self::recv): a corrupt record ends the batch before it, and the next
    /// call returns the error.
    ///
    /// # Cancel safety
    /// Cancel safe: records read are kept for the next call.
    pub async fn recv_batch(&mut self) -> io::Result<Option<RecordBatch>> {
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
    /// # Errors
    /// `InvalidInput` for a consumer without a name; OS errors writing the cursor.
    ///
    /// # Cancel safety
    /// Cancel safe: the cursor file is replaced atomically, old or new.
    pub async fn commit(&mut self) -> io::Result<()> {
        let Some(name) = self.name.clone() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a consumer without a name has no cursor to commit",
            ));
        };
        let (dir, position) = (self.dir.clone(), self.delivered());
        let (durable, mode) = (self.opts.fsync != FsyncPolicy::Never, self.opts.mode);
        blocking::run(move || cursor::store(&dir, &name, position, durable, mode)).await
    }
}
