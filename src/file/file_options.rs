use crate::Endpoint;
use std::time::Duration;

/// When appended records reach the disk (`fsync=`).
///
/// ```
/// use anyipc::file::{FileOptions, FsyncPolicy};
/// assert_eq!(FsyncPolicy::default(), FsyncPolicy::Batch);
/// let ep: anyipc::Endpoint = "file:///var/log/app?fsync=never".parse()?;
/// assert_eq!(FileOptions::from_endpoint(&ep).fsync, FsyncPolicy::Never);
/// // Only the three policies' names are accepted.
/// assert!("file:///var/log/app?fsync=sometimes".parse::<anyipc::Endpoint>().is_err());
/// # Ok::<(), anyipc::EndpointParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// A send returns only after its record is on disk (`fdatasync`); the directory is
    /// fsynced after a new segment. Concurrent appends share one `fdatasync` (group commit).
    Always,
    /// A send returns once the writer thread has the record; the thread writes and
    /// `fdatasync`s continuously in groups, so a record is on disk about two `fdatasync`
    /// times after its send returned. [`FileProducer::sync`](super::FileProducer::sync) and
    /// closing the connection wait for it.
    #[default]
    Batch,
    /// Records are written to the OS (page cache) by the writer thread, never fsynced: they
    /// survive a crash of the process but not of the machine.
    Never,
}

/// Where a consumer without a committed cursor begins (`from=`).
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::file::{FileConsumer, FileOptions, FileProducer, StartFrom};
/// # let dir = std::env::temp_dir().join(format!("anyipc-doc-from-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let mut log = FileProducer::open(&dir, FileOptions::default()).await?;
/// log.append_many(&["old", "older"]).await?;
/// log.sync().await?; // written: the end the consumer finds is after them
/// let opts = FileOptions { from: StartFrom::End, ..FileOptions::default() };
/// let mut consumer = FileConsumer::open(&dir, None, opts).await?;
/// log.append("new").await?;
/// let record = consumer.recv().await?.unwrap();
/// assert_eq!((record.seq, &record.payload[..]), (2, &b"new"[..]));
/// # log.close().await?;
/// # anyipc::file::remove(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartFrom {
    /// The oldest record kept.
    #[default]
    Start,
    /// After the last record written when the consumer opens.
    End,
}

/// Options of a `file://` log or plain file; [`FileOptions::from_endpoint`] reads them from
/// a URL.
///
/// ```
/// use anyipc::file::{FileOptions, FsyncPolicy, StartFrom, DEFAULT_SEGMENT_SIZE};
/// let opts = FileOptions { retention: Some(1 << 30), ..FileOptions::default() };
/// assert_eq!((opts.fsync, opts.from, opts.follow), (FsyncPolicy::Batch, StartFrom::Start, true));
/// assert_eq!((opts.segment_size, opts.mode), (DEFAULT_SEGMENT_SIZE, 0o600));
/// // A URL without options gives the same defaults.
/// let ep: anyipc::Endpoint = "file:///var/log/app".parse()?;
/// assert_eq!(FileOptions::from_endpoint(&ep), FileOptions::default());
/// # Ok::<(), anyipc::EndpointParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOptions {
    /// `fsync=`.
    pub fsync: FsyncPolicy,
    /// `segment_size=`: a segment holding this many bytes is closed and a new one started.
    pub segment_size: u64,
    /// `retention=`: the oldest closed segments are deleted while all segments together
    /// exceed this many bytes. `None` keeps everything.
    pub retention: Option<u64>,
    /// `from=`.
    pub from: StartFrom,
    /// `follow=`: at the end of the data, wait for more (`true`) or end the stream.
    pub follow: bool,
    /// `max_frame=`: the largest payload appended or delivered; at most 4 GiB − 1 (a
    /// record's length field holds 32 bits), which a larger value means.
    pub max_frame: usize,
    /// `mode=`: permissions of created files.
    pub mode: u32,
    /// Check for new data on this period instead of waiting for inotify (the fallback used
    /// where inotify is not available). `None`: inotify where available.
    pub poll_interval: Option<Duration>,
}

/// `segment_size` unless `segment_size=` says otherwise.
///
/// ```
/// use anyipc::file::{FileOptions, DEFAULT_SEGMENT_SIZE};
/// assert_eq!(DEFAULT_SEGMENT_SIZE, 64 << 20); // 64 MiB
/// let ep: anyipc::Endpoint = "file:///var/log/app?fsync=always".parse()?;
/// assert_eq!(FileOptions::from_endpoint(&ep).segment_size, DEFAULT_SEGMENT_SIZE);
/// # Ok::<(), anyipc::EndpointParseError>(())
/// ```
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 << 20;
/// How often the polling fallback looks for new data.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::file::{FileConsumer, FileOptions, FileProducer, DEFAULT_POLL_INTERVAL};
/// # let dir = std::env::temp_dir().join(format!("anyipc-doc-poll-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// assert_eq!(DEFAULT_POLL_INTERVAL, std::time::Duration::from_millis(20));
/// // Polling instead of inotify (e.g. on a network file system, which sends no events).
/// let opts = FileOptions { poll_interval: Some(DEFAULT_POLL_INTERVAL), ..Default::default() };
/// let mut consumer = FileConsumer::open(&dir, None, opts).await?;
/// let mut log = FileProducer::open(&dir, FileOptions::default()).await?;
/// log.append("polled").await?;
/// assert_eq!(&consumer.recv().await?.unwrap().payload[..], b"polled");
/// # log.close().await?;
/// # anyipc::file::remove(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Whether a waiting consumer (and a plain file followed with `follow=true`) is woken by the
/// OS as soon as the file grows: `true` on Linux (inotify, unless it cannot be set up).
/// Elsewhere it checks every [`poll_interval`](FileOptions::poll_interval)
/// ([`DEFAULT_POLL_INTERVAL`] unless set), so a record waits up to that long before a
/// caught-up consumer sees it: a log is built for throughput there, not for round trips.
///
/// ```
/// use anyipc::file::WOKEN_ON_GROWTH;
///
/// assert_eq!(WOKEN_ON_GROWTH, cfg!(any(target_os = "linux", target_os = "android")));
/// ```
pub const WOKEN_ON_GROWTH: bool = crate::sys::DIR_WATCHER_NOTIFIES;

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            fsync: FsyncPolicy::default(),
            segment_size: DEFAULT_SEGMENT_SIZE,
            retention: None,
            from: StartFrom::default(),
            follow: true,
            max_frame: crate::endpoint::DEFAULT_MAX_FRAME,
            mode: 0o600,
            poll_interval: None,
        }
    }
}

impl FileOptions {
    /// The options a `file://` URL gives, defaults for the rest.
    ///
    /// ```
    /// use anyipc::file::{FileOptions, FsyncPolicy};
    /// let ep: anyipc::Endpoint = "file:///var/log/app?fsync=always&segment_size=1MiB".parse()?;
    /// let opts = FileOptions::from_endpoint(&ep);
    /// assert_eq!(opts.fsync, FsyncPolicy::Always);
    /// assert_eq!(opts.segment_size, 1 << 20);
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub fn from_endpoint(endpoint: &Endpoint) -> FileOptions {
        let defaults = FileOptions::default();
        FileOptions {
            fsync: match endpoint.option("fsync").as_deref() {
                Some("always") => FsyncPolicy::Always,
                Some("never") => FsyncPolicy::Never,
                _ => FsyncPolicy::Batch,
            },
            segment_size: endpoint
                .size_option("segment_size")
                .unwrap_or(defaults.segment_size),
            retention: endpoint.size_option("retention"),
            from: match endpoint.option("from").as_deref() {
                Some("end") => StartFrom::End,
                _ => StartFrom::Start,
            },
            follow: endpoint.bool_option("follow").unwrap_or(true),
            max_frame: endpoint.max_frame().min(u32::MAX as usize),
            mode: endpoint.mode_option(),
            poll_interval: None,
        }
    }
}
