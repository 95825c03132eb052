//! [`LogWriter`]: the blocking side of a durable log producer — recovery on open, appends,
//! rotation, retention. Runs on the appender's dedicated thread; records arrive encoded
//! (the sending task computes their CRCs and decides where segments break, see
//! [`RecordEncoder`](super::record_encoder::RecordEncoder)).

use super::record::{SegmentHeader, SEGMENT_HEADER_LEN};
use super::record_encoder::LogEnd;
use super::scan::{scan_segment, Tail};
use super::segment::{corrupt, list_segments, segment_path, LOCK_FILE};
use super::writer_thread::AppendTarget;
use super::{FileOptions, FsyncPolicy};
use crate::sys;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The one writer of a log directory, holding its lock.
#[derive(Debug)]
pub(crate) struct LogWriter {
    dir: PathBuf,
    /// Held for the writer's life; closing it releases the flock.
    _lock: File,
    /// The active segment (shared with the sync thread).
    file: Arc<File>,
    /// The active segment's first sequence number (its name).
    base: u64,
    seg_len: u64,
    /// Closed segments, oldest first: (base, length), for retention.
    sealed: VecDeque<(u64, u64)>,
    opts: FileOptions,
}

impl LogWriter {
    /// Opens (creating if needed) the log in `dir` for appending: takes the writer lock,
    /// cuts a torn tail off the last segment, and positions after the last valid record,
    /// which the returned [`LogEnd`] describes.
    ///
    /// # Errors
    /// `AddrInUse` when another writer holds the log; `InvalidData` for corruption that
    /// recovery must not cut off (damaged header, valid records after a damaged one);
    /// `InvalidInput` when `dir` is a file; OS errors.
    pub(crate) fn open(dir: &Path, opts: &FileOptions) -> io::Result<(LogWriter, LogEnd)> {
        match std::fs::metadata(dir) {
            Ok(meta) if !meta.is_dir() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "file://{} is a file, not a log directory; for a plain file give \
                         framing=lines, raw or length",
                        dir.display()
                    ),
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => sys::create_private_dir(dir)?,
            Err(e) => return Err(e),
        }
        let lock = sys::open_lock_file(&dir.join(LOCK_FILE), opts.mode)?;
        sys::lock_exclusive(&lock, dir)?;
        // So that `anyipc ls` can find the log (best effort; Unix only).
        sys::register_log(dir);
        let bases = list_segments(dir)?;
        let mut sealed = VecDeque::new();
        for &base in bases.iter().rev().skip(1).rev() {
            let len = std::fs::metadata(segment_path(dir, base))?.len();
            sealed.push_back((base, len));
        }
        let active = match bases.last() {
            None => create_segment(dir, SegmentHeader::fresh(0), opts)?,
            Some(&base) => recover_last(dir, base, opts)?,
        };
        let end = LogEnd {
            salt: active.header.salt,
            next_seq: active.next_seq,
            seg_len: active.len,
            segment_size: opts.segment_size,
        };
        let writer = LogWriter {
            dir: dir.to_owned(),
            _lock: lock,
            file: Arc::new(active.file),
            base: active.header.base_seq,
            seg_len: active.len,
            sealed,
            opts: opts.clone(),
        };
        Ok((writer, end))
    }

    fn apply_retention(&mut self) {
        let Some(limit) = self.opts.retention else {
            return;
        };
        let mut total: u64 = self.seg_len + self.sealed.iter().map(|(_, len)| len).sum::<u64>();
        while total > limit {
            let Some((base, len)) = self.sealed.pop_front() else {
                break;
            };
            // Consumers holding the file open keep reading it; new ones start after it.
            if let Err(e) = std::fs::remove_file(segment_path(&self.dir, base)) {
                tracing::warn!(dir = %self.dir.display(), base, error = %e, "retention: could not delete segment");
            }
            total -= len;
        }
    }
}

impl AppendTarget for LogWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        (&*self.file).write_all(data)?;
        self.seg_len += data.len() as u64;
        Ok(())
    }

    fn start_segment(&mut self, header: SegmentHeader) -> io::Result<()> {
        if self.opts.fsync != FsyncPolicy::Never {
            self.file.sync_data()?;
        }
        self.sealed.push_back((self.base, self.seg_len));
        let active = create_segment(&self.dir, header, &self.opts)?;
        self.file = Arc::new(active.file);
        self.base = active.header.base_seq;
        self.seg_len = active.len;
        self.apply_retention();
        Ok(())
    }

    fn current_file(&self) -> Arc<File> {
        self.file.clone()
    }

    fn describe(&self) -> String {
        format!("file://{}", self.dir.display())
    }
}

/// The segment being appended to.
struct ActiveSegment {
    file: File,
    header: SegmentHeader,
    /// Bytes of valid data: where the next record goes.
    len: u64,
    /// Sequence number of the next record.
    next_seq: u64,
}

/// Creates the segment `header` describes, durably unless `fsync=never`.
fn create_segment(
    dir: &Path,
    header: SegmentHeader,
    opts: &FileOptions,
) -> io::Result<ActiveSegment> {
    let base = header.base_seq;
    let mut file = sys::create_new_file(&segment_path(dir, base), opts.mode)?;
    file.write_all(&header.encode())?;
    if opts.fsync != FsyncPolicy::Never {
        file.sync_data()?;
        sys::sync_dir(dir)?;
    }
    Ok(ActiveSegment {
        file,
        header,
        len: SEGMENT_HEADER_LEN as u64,
        next_seq: base,
    })
}

/// Opens the last segment for appending after recovering it.
fn recover_last(dir: &Path, base: u64, opts: &FileOptions) -> io::Result<ActiveSegment> {
    let path = segment_path(dir, base);
    let mut file = sys::open_read_write(&path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let scan = scan_segment(&bytes, u32::MAX as usize);
    let name = path.display();
    match scan.tail {
        Tail::BadHeader if bytes.len() <= SEGMENT_HEADER_LEN => {
            // Creating the segment was interrupted before its header was whole.
            drop(file);
            std::fs::remove_file(&path)?;
            return create_segment(dir, SegmentHeader::fresh(base), opts);
        }
        Tail::BadHeader => {
            return Err(corrupt(dir, format!("segment {name} has a damaged header")))
        }
        Tail::Corrupt => {
            return Err(corrupt(
                dir,
                format!(
                    "segment {name} is damaged at byte {} (record {}): valid records follow \
                     it, so the writer will not cut them off; move the segment aside to recover",
                    scan.valid_len,
                    scan.next_seq().unwrap_or(0),
                ),
            ))
        }
        Tail::Torn => {
            tracing::info!(segment = %name, at = scan.valid_len, cut = bytes.len() - scan.valid_len, "cutting off a torn tail");
            file.set_len(scan.valid_len as u64)?;
            file.sync_data()?;
        }
        Tail::Clean => {}
    }
    let header = scan.header.filter(|h| h.base_seq == base).ok_or_else(|| {
        corrupt(
            dir,
            format!("segment {name} does not start at record {base} as its name says"),
        )
    })?;
    file.seek(SeekFrom::Start(scan.valid_len as u64))?;
    Ok(ActiveSegment {
        file,
        header,
        len: scan.valid_len as u64,
        next_seq: base + scan.payloads.len() as u64,
    })
}
