//! [`CursorMismatch`]: a named consumer's cursor that the log no longer matches.

use std::fmt;
use std::path::PathBuf;

/// A named consumer's committed cursor that the log no longer matches: the log lost records
/// the consumer had read (a crash before they were synced, under `fsync=never` or `batch`),
/// or its segments were removed or replaced. The log ends before the cursor, or new records
/// took the sequence numbers of the ones the consumer read (the record before the cursor has
/// another CRC than the one the cursor recorded).
///
/// It travels inside the `InvalidData` error a consumer's receive returns (a
/// [`FileConsumer`](super::FileConsumer), or a `file://` connection with `consumer=NAME`),
/// so a service can tell this case from a corrupt log without matching text. The consumer
/// never skips or waits here, and reports it again at every receive: to start afresh, drop
/// the consumer, remove its cursor with [`remove_cursor`](super::remove_cursor) (or delete
/// [`cursor_path`](Self::cursor_path)), and open it again; it then starts where
/// `from` says.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::file::{CursorMismatch, FileConsumer, FileOptions, FileProducer};
/// # let dir = std::env::temp_dir().join(format!("anyipc-doc-mismatch-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let opts = FileOptions { follow: false, ..FileOptions::default() };
/// let mut log = FileProducer::open(&dir, opts.clone()).await?;
/// for i in 0..10 {
///     log.append(format!("old {i}")).await?;
/// }
/// log.close().await?;
/// let mut billing = FileConsumer::open(&dir, Some("billing"), opts.clone()).await?;
/// for _ in 0..6 {
///     billing.recv().await?;
/// }
/// billing.commit().await?; // resumes at record 6
/// drop(billing);
/// // The log's segments are lost; a producer starts the log again at record 0.
/// for entry in std::fs::read_dir(&dir)? {
///     let path = entry?.path();
///     if path.extension().is_some_and(|ext| ext == "log") {
///         std::fs::remove_file(path)?;
///     }
/// }
/// let mut log = FileProducer::open(&dir, opts.clone()).await?;
/// log.append_many(&["new 0", "new 1", "new 2"]).await?;
/// log.close().await?;
///
/// let mut billing = FileConsumer::open(&dir, Some("billing"), opts.clone()).await?;
/// let err = billing.recv().await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
/// let mismatch = err.get_ref().and_then(|e| e.downcast_ref::<CursorMismatch>()).unwrap();
/// assert_eq!(mismatch.consumer, "billing");
/// assert_eq!(mismatch.committed_next_seq, 6);
/// assert_eq!(mismatch.cursor_path, dir.join("billing.cursor"));
/// // The service decides: here, start the consumer again where `from` says (the oldest).
/// drop(billing);
/// anyipc::file::remove_cursor(&dir, &mismatch.consumer)?;
/// let mut billing = FileConsumer::open(&dir, Some("billing"), opts).await?;
/// assert_eq!(billing.recv().await?.unwrap().payload, "new 0");
/// # anyipc::file::remove(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CursorMismatch {
    /// The log's directory.
    pub log: PathBuf,
    /// The consumer's name.
    pub consumer: String,
    /// Its cursor file, `NAME.cursor` in the log's directory.
    pub cursor_path: PathBuf,
    /// The next record of the committed cursor the consumer resumed from.
    pub committed_next_seq: u64,
    /// The record the consumer would deliver next: `committed_next_seq`, or later if it read
    /// on before the log lost what it had read.
    pub next_seq: u64,
    /// What the log holds instead, for the message.
    pub(crate) found: String,
}

impl fmt::Display for CursorMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "file://{}: {}; the log lost records consumer `{}` had read (a crash before they \
             were synced, under fsync=never or batch) or was replaced. Remove {} \
             (anyipc::file::remove_cursor) to resume where `from` says",
            self.log.display(),
            self.found,
            self.consumer,
            self.cursor_path.display()
        )
    }
}

impl std::error::Error for CursorMismatch {}

impl From<CursorMismatch> for std::io::Error {
    /// `InvalidData`, with the mismatch inside.
    fn from(mismatch: CursorMismatch) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, mismatch)
    }
}
