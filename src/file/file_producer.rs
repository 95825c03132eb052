use super::appender::Appender;
use super::log_writer::LogWriter;
use super::record_encoder::RecordEncoder;
use super::{FileOptions, FsyncPolicy};
use crate::codec::FrameError;
use crate::io::blocking;
use bytes::Bytes;
use std::io;
use std::ops::Range;
use std::path::Path;

/// The one writer of a durable log directory (typed API; `anyipc::connect("file:///dir")`
/// gives the same as a [`Connection`](crate::Connection)).
///
/// Appends go to a dedicated writer thread that writes and fsyncs in groups, as
/// [`FsyncPolicy`] says. The log's lock is held until the producer is
/// closed (or dropped and its thread has finished).
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::file::{FileConsumer, FileOptions, FileProducer, FsyncPolicy};
/// let dir = std::env::temp_dir().join(format!("anyipc-doc-producer-{}", std::process::id()));
/// let opts = FileOptions { fsync: FsyncPolicy::Always, follow: false, ..FileOptions::default() };
/// let mut log = FileProducer::open(&dir, opts.clone()).await?;
/// assert_eq!(log.append("first").await?, 0); // on disk when it returns
/// assert_eq!(log.append("second").await?, 1);
/// log.close().await?;
///
/// let mut consumer = FileConsumer::open(&dir, Some("doc"), opts).await?;
/// let record = consumer.recv().await?.unwrap();
/// assert_eq!((record.seq, &record.payload[..]), (0, &b"first"[..]));
/// consumer.commit().await?; // a restarted "doc" consumer resumes at record 1
/// # anyipc::file::remove(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct FileProducer {
    appender: Appender,
}

impl FileProducer {
    /// Opens (creating if needed) the log in `dir` for appending. A torn tail left by a
    /// crash is cut off first.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileOptions, FileProducer};
    /// # let name = format!("anyipc-doc-producer-open-{}", std::process::id());
    /// # let dir = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let first = FileProducer::open(&dir, FileOptions::default()).await?;
    /// // One producer at a time, in this process or any other.
    /// let second = FileProducer::open(&dir, FileOptions::default()).await.unwrap_err();
    /// assert_eq!(second.kind(), std::io::ErrorKind::AddrInUse);
    /// first.close().await?; // releases the lock
    /// let again = FileProducer::open(&dir, FileOptions::default()).await?;
    /// again.close().await?;
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `AddrInUse` when another producer (in any process) has the log open (the lock is
    /// released when the last copy of its descriptor closes: while another thread of this
    /// process starts a child process, the child holds copies until its `exec`, so an
    /// `open` right after a `close` in a process that spawns children can see `AddrInUse`
    /// for that moment — retry briefly);
    /// `InvalidData` when the last segment is corrupt in a way recovery must not cut off;
    /// `InvalidInput` when `dir` is a file; OS errors.
    ///
    /// # Cancel safety
    /// Cancel safe, except that the lock may stay held until the opening finishes.
    pub async fn open(dir: impl AsRef<Path>, opts: FileOptions) -> io::Result<FileProducer> {
        let dir = dir.as_ref().to_owned();
        let open_opts = opts.clone();
        let (writer, end) = blocking::run(move || LogWriter::open(&dir, &open_opts)).await?;
        let first_seq = end.next_seq;
        let encoder = RecordEncoder::Log(end);
        Ok(FileProducer {
            appender: Appender::start(writer, encoder, opts.fsync, opts.max_frame, first_seq)?,
        })
    }

    pub(crate) fn into_appender(self) -> Appender {
        self.appender
    }

    /// Appends one record; returns its sequence number. With `fsync=always` it is on disk
    /// when this returns.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileOptions, FileProducer};
    /// # let name = format!("anyipc-doc-append-{}", std::process::id());
    /// # let dir = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let opts = FileOptions { max_frame: 1024, ..FileOptions::default() };
    /// let mut log = FileProducer::open(&dir, opts).await?;
    /// assert_eq!(log.append("fits").await?, 0);
    /// let too_big = log.append(vec![0u8; 1025]).await.unwrap_err();
    /// assert_eq!(too_big.kind(), std::io::ErrorKind::InvalidInput);
    /// assert_eq!(log.append("next").await?, 1); // the refused message took no number
    /// log.close().await?;
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` for a message over `max_frame`; after a failed write or fdatasync
    /// (disk full, I/O error) that error, for this and every later append: the producer
    /// stops (fail-stop) and must be reopened.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped before completion, the record may or may not be appended.
    pub async fn append(&mut self, msg: impl Into<Bytes>) -> io::Result<u64> {
        // A batch of one: it keeps no state between its awaits, so an append dropped while
        // it waits leaves nothing for the next one.
        let msg = msg.into();
        Ok(self.append_many(std::slice::from_ref(&msg)).await?.start)
    }

    /// Appends every message of `msgs`, in order, as consecutive records; returns their
    /// sequence numbers. The batch call of [`append`](Self::append): records are encoded
    /// straight from the slices into the producer's block (no `Bytes` per message), and
    /// with `fsync=always` the records share their `fdatasync`s (one for a batch that fits
    /// in a 256 KiB block and a segment) and are all on disk when this returns. With
    /// `fsync=batch|never` they are handed over when it returns (to the writer thread, or
    /// written by the sending task while the thread is idle), as after `append`.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileOptions, FileProducer, FsyncPolicy};
    /// let dir = std::env::temp_dir()
    ///     .join(format!("anyipc-doc-append-many-{}", std::process::id()));
    /// let opts = FileOptions { fsync: FsyncPolicy::Always, ..FileOptions::default() };
    /// let mut log = FileProducer::open(&dir, opts).await?;
    /// let lines: Vec<String> = (0..100).map(|i| format!("reading {i}")).collect();
    /// assert_eq!(log.append_many(&lines).await?, 0..100); // all on disk now
    /// assert_eq!(log.append_many(&[b"one more"]).await?, 100..101);
    /// log.close().await?;
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` if any message is over `max_frame`: then nothing of the batch is
    /// appended. After a failed write or fdatasync, that error for this and every later
    /// append (fail-stop): records of the batch before the failure may be in the log.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped before completion, a prefix of the batch may be appended.
    pub async fn append_many<M: AsRef<[u8]>>(&mut self, msgs: &[M]) -> io::Result<Range<u64>> {
        let max = self.appender.max_frame();
        if let Some(msg) = msgs.iter().find(|m| m.as_ref().len() > max) {
            return Err(FrameError::SendTooLarge {
                len: msg.as_ref().len(),
                max,
            }
            .into());
        }
        let first = self.appender.next_seq();
        let mut rest = msgs;
        while let Some((msg, tail)) = rest.split_first() {
            // Checked (state, room, segment) and encoded, then the rest that fits as is.
            let msg = msg.as_ref();
            std::future::poll_fn(|cx| self.appender.poll_append_batched(cx, msg)).await?;
            rest = &tail[self.appender.encode_fitting(tail)..];
        }
        std::future::poll_fn(|cx| self.appender.poll_flush(cx)).await?;
        if self.appender.policy() == FsyncPolicy::Always {
            self.appender.sync().await?;
        }
        Ok(first..self.appender.next_seq())
    }

    /// The sequence number the next appended record gets.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileOptions, FileProducer};
    /// # let name = format!("anyipc-doc-next-seq-{}", std::process::id());
    /// # let dir = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let mut log = FileProducer::open(&dir, FileOptions::default()).await?;
    /// assert_eq!(log.next_seq(), 0);
    /// log.append_many(&["a", "b"]).await?;
    /// assert_eq!(log.next_seq(), 2);
    /// log.close().await?;
    /// // Opened again, the log goes on where it ended.
    /// let log = FileProducer::open(&dir, FileOptions::default()).await?;
    /// assert_eq!(log.next_seq(), 2);
    /// log.close().await?;
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn next_seq(&self) -> u64 {
        self.appender.next_seq()
    }

    /// Waits until every record whose [`append`](Self::append) returned is on disk (with
    /// `fsync=never`: written to the OS). A record of an `append` dropped before it returned
    /// is not covered: it is written with the next append or when the producer closes.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
    /// # let name = format!("anyipc-doc-sync-{}", std::process::id());
    /// # let dir = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let mut log = FileProducer::open(&dir, FileOptions::default()).await?; // fsync=batch
    /// log.append("handed over").await?;
    /// log.sync().await?; // now on disk, so a reader that does not wait finds it
    /// let opts = FileOptions { follow: false, ..FileOptions::default() };
    /// let mut reader = FileConsumer::open(&dir, None, opts).await?;
    /// assert_eq!(&reader.recv().await?.unwrap().payload[..], b"handed over");
    /// log.close().await?;
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// The writer's error if it stopped.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn sync(&self) -> io::Result<()> {
        self.appender.sync().await
    }

    /// Writes and syncs what is pending, closes the segment and releases the lock.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileConsumer, FileOptions, FileProducer, FsyncPolicy};
    /// # let name = format!("anyipc-doc-close-{}", std::process::id());
    /// # let dir = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let opts = FileOptions { fsync: FsyncPolicy::Never, follow: false, ..Default::default() };
    /// let mut log = FileProducer::open(&dir, opts.clone()).await?;
    /// log.append_many(&["last", "words"]).await?;
    /// log.close().await?; // both written, and the lock released
    /// let mut reader = FileConsumer::open(&dir, None, opts).await?;
    /// assert_eq!(&reader.recv().await?.unwrap().payload[..], b"last");
    /// assert_eq!(&reader.recv().await?.unwrap().payload[..], b"words");
    /// anyipc::file::remove(&dir)?; // a live producer's lock would refuse this
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// The writer's error if it stopped.
    ///
    /// # Cancel safety
    /// Cancel safe: the writer finishes in the background either way.
    pub async fn close(mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.appender.poll_close(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record's length field holds 32 bits: a larger `max_frame` given through the typed
    /// API (a URL's is capped when parsed) is taken as 4 GiB − 1, so a message over that is
    /// refused before it is written with its length cut.
    #[tokio::test]
    async fn max_frame_is_capped_at_what_a_length_field_holds() {
        let dir = crate::test_support::temp_dir("max-frame-cap");
        let opts = FileOptions {
            max_frame: usize::MAX,
            ..FileOptions::default()
        };
        let log = FileProducer::open(&dir, opts).await.unwrap();
        let mut appender = log.into_appender();
        assert_eq!(appender.max_frame(), u32::MAX as usize);
        std::future::poll_fn(|cx| appender.poll_close(cx))
            .await
            .unwrap();
        crate::file::remove(&dir).unwrap();
    }
}
