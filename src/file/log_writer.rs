//! [`LogWriter`]: the blocking side of a durable log producer — recovery on open, appends,
//! rotation, retention. Runs on the appender's dedicated thread.

use super::appender::{queued_len, AppendTarget};
use super::record::{record_crc, SegmentHeader, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::scan::{scan_segment, Tail};
use super::segment::{corrupt, list_segments, segment_path, LOCK_FILE};
use super::{FileOptions, FsyncPolicy};
use crate::sys;
use std::collections::VecDeque;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
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
    header: SegmentHeader,
    seg_len: u64,
    next_seq: u64,
    /// Closed segments, oldest first: (base, length), for retention.
    sealed: VecDeque<(u64, u64)>,
    opts: FileOptions,
}

impl LogWriter {
    /// Opens (creating if needed) the log in `dir` for appending: takes the writer lock,
    /// cuts a torn tail off the last segment, and positions after the last valid record.
    ///
    /// # Errors
    /// `AddrInUse` when another writer holds the log; `InvalidData` for corruption that
    /// recovery must not cut off (damaged header, valid records after a damaged one);
    /// `InvalidInput` when `dir` is a file; OS errors.
    pub(crate) fn open(dir: &Path, opts: &FileOptions) -> io::Result<LogWriter> {
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
        let bases = list_segments(dir)?;
        let mut sealed = VecDeque::new();
        for &base in bases.iter().rev().skip(1).rev() {
            let len = std::fs::metadata(segment_path(dir, base))?.len();
            sealed.push_back((base, len));
        }
        let active = match bases.last() {
            None => create_segment(dir, 0, opts)?,
            Some(&base) => recover_last(dir, base, opts)?,
        };
        Ok(LogWriter {
            dir: dir.to_owned(),
            _lock: lock,
            file: Arc::new(active.file),
            header: active.header,
            seg_len: active.len,
            next_seq: active.next_seq,
            sealed,
            opts: opts.clone(),
        })
    }

    /// The sequence number the next appended record gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.opts.fsync != FsyncPolicy::Never {
            self.file.sync_data()?;
        }
        self.sealed.push_back((self.header.base_seq, self.seg_len));
        let active = create_segment(&self.dir, self.next_seq, &self.opts)?;
        self.file = Arc::new(active.file);
        self.header = active.header;
        self.seg_len = active.len;
        self.apply_retention();
        Ok(())
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
    fn append(&mut self, batch: &mut [u8]) -> io::Result<()> {
        // Queued records are laid out as log records already: fill in each CRC, and write
        // the batch in as few pieces as segment boundaries allow.
        let mut start = 0;
        let mut end = 0;
        while let Some(len) = queued_len(batch, end) {
            let at = end;
            let rec_len = len as u64;
            if self.seg_len > SEGMENT_HEADER_LEN as u64
                && self.seg_len + rec_len > self.opts.segment_size
            {
                (&*self.file).write_all(&batch[start..end])?;
                start = end;
                self.rotate()?;
            }
            let crc = record_crc(
                self.header.salt,
                self.next_seq,
                &batch[at + RECORD_HEADER_LEN..at + len],
            );
            batch[at + 4..at + RECORD_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
            self.next_seq += 1;
            self.seg_len += rec_len;
            end = at + len;
        }
        (&*self.file).write_all(&batch[start..end])
    }

    fn current_file(&self) -> Arc<File> {
        self.file.clone()
    }

    fn describe(&self) -> String {
        format!("file://{}", self.dir.display())
    }
}

fn random_salt() -> u32 {
    // RandomState is seeded from the OS once per process and varies per instance.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish() as u32
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

/// Creates segment `base` with its header, durably unless `fsync=never`.
fn create_segment(dir: &Path, base: u64, opts: &FileOptions) -> io::Result<ActiveSegment> {
    let header = SegmentHeader {
        salt: random_salt(),
        base_seq: base,
    };
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
            return create_segment(dir, base, opts);
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
