//! [`LogWriter`]: the blocking side of a durable log producer — recovery on open, appends,
//! rotation, retention. Runs on the appender's dedicated thread; records arrive encoded
//! (the sending task computes their CRCs and decides where segments break, see
//! [`RecordEncoder`](super::record_encoder::RecordEncoder)).

use super::record::{SegmentHeader, SEGMENT_HEADER_LEN};
use super::record_encoder::LogEnd;
use super::scan::{scan_input, ScanEnd, Tail};
use super::scan_window::WindowedInput;
use super::segment::{
    check_base, corrupt, create_log_dir, list_segments, lock_writer, os_error, parent_or_cwd,
    scan_error, segment_path, sync_dir, LockFor, WriterLock,
};
use super::segment_reader::READ_CHUNK;
use super::writer_thread::{AppendTarget, TargetFile};
use super::{FileOptions, FsyncPolicy};
use crate::sys;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The one writer of a log directory, holding its lock.
#[derive(Debug)]
pub(crate) struct LogWriter {
    dir: PathBuf,
    /// Held for the writer's life; dropping it releases the lock.
    _lock: WriterLock,
    /// The active segment (shared with the sync thread).
    file: Arc<TargetFile>,
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
            // Made by someone else (a consumer under `fsync=never`, a creator that died
            // before syncing): a durable producer makes its entry durable itself, once per
            // open, before it acknowledges anything.
            Ok(_) if opts.fsync != FsyncPolicy::Never => {
                sync_dir(parent_or_cwd(dir))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_log_dir(dir, opts.fsync != FsyncPolicy::Never)?;
            }
            Err(e) => return Err(os_error("cannot open the log directory", dir, e)),
        }
        let lock = lock_writer(dir, opts.mode, LockFor::Appending)?;
        // So that `anyipc ls` can find the log (best effort; Unix only).
        sys::register_log(dir);
        let bases = list_segments(dir)?;
        let mut sealed = VecDeque::new();
        for &base in bases.iter().rev().skip(1).rev() {
            let path = segment_path(dir, base);
            let len = std::fs::metadata(&path)
                .map_err(|e| os_error("cannot look at", &path, e))?
                .len();
            sealed.push_back((base, len));
        }
        let active = match bases.last() {
            None => create_segment(dir, SegmentHeader::fresh(0, false), opts)?,
            Some(&base) => recover_last(dir, base, opts)?,
        };
        let end = LogEnd {
            salt: active.header.salt,
            next_seq: active.next_seq,
            seg_len: active.len,
            segment_size: opts.segment_size,
            closes_unsynced: opts.fsync == FsyncPolicy::Never,
        };
        let writer = LogWriter {
            dir: dir.to_owned(),
            _lock: lock,
            file: Arc::new(TargetFile::new(
                active.file,
                segment_path(dir, active.header.base_seq),
            )),
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
        (&self.file.file)
            .write_all(data)
            .map_err(|e| os_error("cannot write", &self.file.path, e))?;
        self.seg_len += data.len() as u64;
        Ok(())
    }

    fn start_segment(&mut self, header: SegmentHeader) -> io::Result<()> {
        if self.opts.fsync != FsyncPolicy::Never {
            // Through the file's own turn-taking: the sync thread may be syncing it now.
            self.file.sync()?;
        }
        self.sealed.push_back((self.base, self.seg_len));
        let active = create_segment(&self.dir, header, &self.opts)?;
        self.file = Arc::new(TargetFile::new(
            active.file,
            segment_path(&self.dir, active.header.base_seq),
        ));
        self.base = active.header.base_seq;
        self.seg_len = active.len;
        self.apply_retention();
        Ok(())
    }

    fn current_file(&self) -> Arc<TargetFile> {
        self.file.clone()
    }

    fn describe(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    fn deleted(&self) -> Option<io::Error> {
        Some(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "segment {:020}.log was deleted while it was appended to (the log removed?), \
                 so what was appended to it since is lost",
                self.base
            ),
        ))
    }

    fn after_failure(&self) -> &'static str {
        "records not yet written may be lost (under fsync=batch or never, acknowledged ones \
         too); reopen the log to recover (a torn record at its end is cut off)"
    }
}

/// The segment being appended to.
#[derive(Debug)]
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
    let path = segment_path(dir, base);
    let mut file =
        sys::create_new_file(&path, opts.mode).map_err(|e| os_error("cannot create", &path, e))?;
    file.write_all(&header.encode())
        .map_err(|e| os_error("cannot write", &path, e))?;
    if opts.fsync != FsyncPolicy::Never {
        file.sync_data()
            .map_err(|e| os_error("cannot sync", &path, e))?;
        sync_dir(dir)?;
    }
    Ok(ActiveSegment {
        file,
        header,
        len: SEGMENT_HEADER_LEN as u64,
        next_seq: base,
    })
}

/// Opens the last segment for appending after recovering it. Everything is checked before
/// a torn tail is cut off: a segment that fails a check is left as it is.
///
/// The segment is read a window at a time ([`WindowedInput`], 1 MiB), never whole: it may
/// be as large as `segment_size` or, not written by a producer, any size (sparse, terabytes
/// of zeros), and the verdicts are those of [`scan_segment`](super::scan_segment) on the
/// whole file.
fn recover_last(dir: &Path, base: u64, opts: &FileOptions) -> io::Result<ActiveSegment> {
    recover_last_with(dir, base, opts, READ_CHUNK)
}

/// [`recover_last`], reading `window` bytes at a time.
fn recover_last_with(
    dir: &Path,
    base: u64,
    opts: &FileOptions,
    window: usize,
) -> io::Result<ActiveSegment> {
    check_base(dir, base)?;
    let path = segment_path(dir, base);
    let mut file = sys::open_read_write(&path).map_err(|e| os_error("cannot open", &path, e))?;
    let (scan, file_len) = scan_file(&file, &path, window)?;
    let name = path.display();
    let header = match scan.header {
        Some(header) if header.base_seq == base => header,
        Some(_) => {
            return Err(corrupt(
                dir,
                format!("segment {name} does not start at record {base} as its name says"),
            ))
        }
        None if file_len <= SEGMENT_HEADER_LEN as u64 => {
            // Creating the segment was interrupted before its header was whole: by a crash
            // of the producer (the segment before was synced, under `fsync=always|batch`,
            // and is whole) or of the machine under `fsync=never` (the one before may have
            // lost its tail too, and the header that said so is gone). The new header says
            // the one before may be cut short if it is: a consumer then skips what is
            // missing, with a warning; a whole one stays under the damage rule.
            drop(file);
            std::fs::remove_file(&path).map_err(|e| os_error("cannot remove", &path, e))?;
            let previous_cut = previous_cut_short(dir, base, window)?;
            return create_segment(dir, SegmentHeader::fresh(base, previous_cut), opts);
        }
        None => return Err(corrupt(dir, format!("segment {name} has a damaged header"))),
    };
    // At most `MAX_BASE_SEQ` plus the records of one file: no overflow.
    let next_seq = base + scan.records;
    match scan.tail {
        Tail::Corrupt => {
            return Err(corrupt(
                dir,
                format!(
                    "segment {name} is damaged at byte {} (record {next_seq}): valid records \
                     follow it, so the writer will not cut them off; move the segment aside to \
                     recover",
                    scan.valid_len,
                ),
            ))
        }
        Tail::Torn => {
            tracing::info!(segment = %name, at = scan.valid_len, cut = file_len - scan.valid_len, "cutting off a torn tail");
            file.set_len(scan.valid_len)
                .map_err(|e| os_error("cannot truncate", &path, e))?;
            file.sync_data()
                .map_err(|e| os_error("cannot sync", &path, e))?;
        }
        // `BadHeader` comes without a header, handled above.
        Tail::Clean | Tail::BadHeader => {}
    }
    file.seek(SeekFrom::Start(scan.valid_len))
        .map_err(|e| os_error("cannot seek in", &path, e))?;
    Ok(ActiveSegment {
        file,
        header,
        len: scan.valid_len,
        next_seq,
    })
}

/// `file` (the segment at `path`) scanned `window` bytes at a time, with the verdicts of
/// [`scan_segment`](super::scan_segment) on the whole file; and its length.
fn scan_file(file: &File, path: &Path, window: usize) -> io::Result<(ScanEnd, u64)> {
    let file_len = file
        .metadata()
        .map_err(|e| os_error("cannot look at", path, e))?
        .len();
    let mut input = WindowedInput::new(file, file_len, window);
    let scan =
        scan_input(&mut input, u64::from(u32::MAX), |_, _| {}).map_err(|e| scan_error(path, e))?;
    Ok((scan, file_len))
}

/// Whether the segment before `base` (if any) does not end, whole, exactly where `base`
/// starts: valid records to its end and the last of them `base - 1`. Read `window` bytes at
/// a time. One that cannot be read counts as cut short (the consumer reports what it finds).
fn previous_cut_short(dir: &Path, base: u64, window: usize) -> io::Result<bool> {
    let bases = list_segments(dir)?;
    let Some(previous) = bases.into_iter().filter(|&b| b < base).max() else {
        return Ok(false);
    };
    let path = segment_path(dir, previous);
    let Ok(file) = sys::open_segment_read(&path) else {
        return Ok(true);
    };
    let Ok((scan, file_len)) = scan_file(&file, &path, window) else {
        return Ok(true);
    };
    let whole = scan.tail == Tail::Clean && scan.valid_len == file_len;
    let starts_there = scan.header.is_some_and(|h| h.base_seq == previous);
    Ok(!(whole && starts_there && previous.checked_add(scan.records) == Some(base)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::encode_record;

    use crate::test_support::temp_dir;

    /// Opens a writer on `dir`, which must fail with `InvalidData`, and drops the index
    /// entry the attempt made.
    fn open_fails(dir: &Path) -> io::Error {
        let canonical = std::fs::canonicalize(dir).unwrap();
        let err = LogWriter::open(dir, &FileOptions::default()).unwrap_err();
        sys::unregister_log(&canonical);
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        err
    }

    /// The lock file deleted between a writer's open of it and its lock (as `remove` does,
    /// under the lock, before it lets go): the writer locks the new `writer.lock`, not the
    /// deleted one, so a second writer is refused. It used to hold a lock on the deleted
    /// file, and the second writer created a new one, locked it, and appended to the same
    /// segment. Unix: on Windows the open is the lock (share mode 0), and no other handle
    /// can delete the file while it is held.
    #[cfg(unix)]
    #[test]
    fn a_writer_lock_deleted_before_it_was_taken_is_taken_afresh() {
        let dir = temp_dir("lock-deleted");
        let mut deleted = 0;
        let first =
            super::super::segment::lock_writer_with(&dir, 0o600, LockFor::Appending, &mut |path| {
                if deleted == 0 {
                    std::fs::remove_file(path).unwrap();
                }
                deleted += 1;
            })
            .unwrap();
        let err = LogWriter::open(&dir, &FileOptions::default()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert_eq!(
            deleted, 2,
            "the lock file is opened again after the deletion"
        );
        drop(first);
        let canonical = std::fs::canonicalize(&dir).unwrap();
        let (writer, _) = LogWriter::open(&dir, &FileOptions::default()).unwrap();
        drop(writer);
        sys::unregister_log(&canonical);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The headers of the segments in `dir`, in order.
    fn headers(dir: &Path) -> Vec<SegmentHeader> {
        let bases = list_segments(dir).unwrap();
        let read = |base| std::fs::read(segment_path(dir, base)).unwrap();
        bases
            .into_iter()
            .map(|base| SegmentHeader::decode(&read(base)).unwrap())
            .collect()
    }

    /// Each new segment's header says whether the one before it was closed without an
    /// fsync: under `fsync=never` yes, under `always` and `batch` (which sync a segment
    /// before they start the next) no; a log's first segment has none before it.
    #[tokio::test]
    async fn a_new_segments_header_says_whether_the_one_before_was_synced() {
        for (fsync, unsynced) in [
            (FsyncPolicy::Never, true),
            (FsyncPolicy::Batch, false),
            (FsyncPolicy::Always, false),
        ] {
            let dir = temp_dir("rotation-flag");
            let opts = FileOptions {
                fsync,
                segment_size: 100,
                ..FileOptions::default()
            };
            let mut log = crate::file::FileProducer::open(&dir, opts).await.unwrap();
            for _ in 0..10 {
                log.append(&[7u8; 40][..]).await.unwrap();
            }
            log.close().await.unwrap();
            let flags: Vec<bool> = headers(&dir).iter().map(|h| h.previous_unsynced).collect();
            assert!(flags.len() > 2, "{fsync:?}: segments rotated");
            assert!(!flags[0], "{fsync:?}: nothing before the first segment");
            assert!(
                flags[1..].iter().all(|&f| f == unsynced),
                "{fsync:?}: {flags:?}"
            );
            crate::file::remove(&dir).unwrap();
        }
    }

    /// A last segment without a whole header, after another segment, is created afresh.
    /// Its new header says the one before may be cut short only if it is: the header that
    /// said how that one was closed is gone, so the segment itself is looked at. Whole, it
    /// stays under the damage rule (a producer killed between creating a segment and
    /// writing its header, under `always|batch`); cut short, a consumer may skip what is
    /// missing. A log's first segment has none before it.
    #[tokio::test]
    async fn a_headerless_last_segment_made_afresh_says_whether_the_one_before_is_cut_short() {
        for (torn, want) in [(false, [false, false]), (true, [false, true])] {
            let dir = temp_dir("rotation-flag-recreated");
            let mut first = SegmentHeader::new(3, 0).encode().to_vec();
            encode_record(&mut first, 3, 0, b"zero");
            if torn {
                let mut lost = Vec::new();
                encode_record(&mut lost, 3, 1, b"one");
                first.extend_from_slice(&lost[..5]);
            }
            std::fs::write(segment_path(&dir, 0), first).unwrap();
            // Under a torn segment 0 records 1.. were lost: segment 1 starts at 2.
            let next = if torn { 2 } else { 1 };
            std::fs::write(segment_path(&dir, next), [0u8; 9]).unwrap();
            let opts = FileOptions {
                fsync: FsyncPolicy::Always,
                ..FileOptions::default()
            };
            let log = crate::file::FileProducer::open(&dir, opts).await.unwrap();
            log.close().await.unwrap();
            let flags: Vec<bool> = headers(&dir).iter().map(|h| h.previous_unsynced).collect();
            assert_eq!(flags, want, "torn: {torn}");
            crate::file::remove(&dir).unwrap();
        }
        // Alone, the headerless segment is the first: nothing before it.
        let dir = temp_dir("rotation-flag-recreated-first");
        std::fs::write(segment_path(&dir, 0), [0u8; 9]).unwrap();
        let log = crate::file::FileProducer::open(&dir, FileOptions::default())
            .await
            .unwrap();
        log.close().await.unwrap();
        let flags: Vec<bool> = headers(&dir).iter().map(|h| h.previous_unsynced).collect();
        assert_eq!(flags, [false]);
        crate::file::remove(&dir).unwrap();
    }

    /// A last segment whose header (valid CRC) names another first record than its file
    /// name: refused, and not one byte cut off — neither its records, which do not
    /// validate at the header's sequence numbers and so look like a torn tail, nor a torn
    /// tail after records that do.
    #[test]
    fn a_last_segment_with_a_wrong_base_is_refused_before_anything_is_cut() {
        let dir = temp_dir("wrong-base");
        let salt = 11;
        let path = segment_path(&dir, 0);
        // Records at the name's sequence numbers, then records at the header's with a torn
        // record after them.
        for (seqs, torn) in [(0..3, &[][..]), (7..10, &[9, 0, 0][..])] {
            let mut bytes = SegmentHeader::new(salt, 7).encode().to_vec();
            for seq in seqs {
                encode_record(&mut bytes, salt, seq, b"kept");
            }
            bytes.extend_from_slice(torn);
            std::fs::write(&path, &bytes).unwrap();
            let err = open_fails(&dir);
            assert!(
                err.to_string().contains("does not start at record 0"),
                "{err}"
            );
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A last segment named `u64::MAX` (its header agreeing) holding a record: refused, not
    /// a panic computing the next sequence number.
    #[test]
    fn a_segment_named_past_the_highest_base_is_refused() {
        let dir = temp_dir("writer-seq-overflow");
        let mut bytes = SegmentHeader::new(1, u64::MAX).encode().to_vec();
        encode_record(&mut bytes, 1, u64::MAX, b"last");
        std::fs::write(segment_path(&dir, u64::MAX), &bytes).unwrap();
        let err = open_fails(&dir);
        assert!(
            err.to_string().contains("18446744073709551615.log"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A record in the middle of the last segment whose length field was damaged: the
    /// records after it are not a torn tail, so the producer refuses to open and cuts
    /// nothing (it used to cut them off as one).
    #[test]
    fn a_damaged_length_field_is_refused_not_cut_off() {
        let dir = temp_dir("damaged-length-writer");
        let salt = 3;
        let mut bytes = SegmentHeader::new(salt, 0).encode().to_vec();
        let mut starts = Vec::new();
        for seq in 0..5 {
            starts.push(bytes.len());
            encode_record(&mut bytes, salt, seq, b"acknowledged");
        }
        bytes[starts[1]..starts[1] + 4].copy_from_slice(&(1u32 << 31).to_le_bytes());
        let path = segment_path(&dir, 0);
        std::fs::write(&path, &bytes).unwrap();
        let err = open_fails(&dir);
        assert!(err.to_string().contains("damaged"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The variable that makes [`recovery_under_an_address_limit`] run, naming its log.
    #[cfg(target_os = "linux")]
    const HUGE_TAIL_DIR: &str = "ANYIPC_TEST_HUGE_TAIL_DIR";

    /// A producer opening a log whose last segment's records are followed by 4 GiB of
    /// (sparse) zeros recovers it a window at a time: the zeros are a torn tail, cut off,
    /// and the next record is 3. It used to read the segment whole into memory. The
    /// recovery runs in a child process limited to an eighth of the file's size in address
    /// space, where reading the file whole fails at once instead of filling the machine's
    /// memory.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_huge_last_segment_is_recovered_without_reading_it_whole() {
        use crate::test_support::{extend_sparse, run_child_test, HUGE_FILE};
        let dir = temp_dir("huge-tail-writer");
        let salt = 5;
        let mut bytes = SegmentHeader::new(salt, 0).encode().to_vec();
        for seq in 0..3 {
            encode_record(&mut bytes, salt, seq, b"kept");
        }
        let valid = bytes.len() as u64;
        let path = segment_path(&dir, 0);
        std::fs::write(&path, &bytes).unwrap();
        extend_sparse(&path, valid + HUGE_FILE);
        let stdout = run_child_test(
            "file::log_writer::tests::recovery_under_an_address_limit",
            HUGE_TAIL_DIR,
            &dir,
        );
        assert!(stdout.contains("recovered: next record 3"), "{stdout}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), valid);
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The child of [`a_huge_last_segment_is_recovered_without_reading_it_whole`]: opens a
    /// writer on the log its variable names under the address-space limit. A no-op
    /// without the variable.
    #[cfg(target_os = "linux")]
    #[test]
    fn recovery_under_an_address_limit() {
        let Some(dir) = std::env::var_os(HUGE_TAIL_DIR) else {
            return;
        };
        crate::test_support::limit_address_space();
        let dir = PathBuf::from(dir);
        let canonical = std::fs::canonicalize(&dir).unwrap();
        let opened = LogWriter::open(&dir, &FileOptions::default());
        sys::unregister_log(&canonical);
        let (writer, end) = opened.unwrap();
        drop(writer);
        println!("recovered: next record {}", end.next_seq);
    }

    /// Recovery reading a few bytes at a time, so that records, the header and the search
    /// after an invalid record cross windows: the same verdicts as the scan of the whole
    /// file — a torn tail cut off at the same byte (after a record larger than the window),
    /// corruption refused with nothing cut, a segment too short for its header replaced.
    #[test]
    fn recovery_a_window_at_a_time_gives_the_whole_scans_verdicts() {
        let dir = temp_dir("windowed-recovery");
        let salt = 9;
        let path = segment_path(&dir, 0);
        let mut bytes = SegmentHeader::new(salt, 0).encode().to_vec();
        let mut starts = Vec::new();
        for (seq, len) in [(0, 5), (1, 300), (2, 0), (3, 77), (4, 12)] {
            starts.push(bytes.len());
            encode_record(&mut bytes, salt, seq, &vec![seq as u8; len]);
        }
        let opts = FileOptions {
            fsync: FsyncPolicy::Never,
            ..FileOptions::default()
        };
        for window in [SEGMENT_HEADER_LEN, 33, 100, 1 << 20] {
            // Torn: the last record cut short.
            let torn = &bytes[..bytes.len() - 3];
            std::fs::write(&path, torn).unwrap();
            let whole = crate::file::scan_segment(torn, u32::MAX as usize);
            assert_eq!(whole.tail, Tail::Torn);
            let active = recover_last_with(&dir, 0, &opts, window).unwrap();
            assert_eq!(active.len, whole.valid_len as u64, "window {window}");
            assert_eq!(active.next_seq, 4, "window {window}");
            assert_eq!(std::fs::read(&path).unwrap(), &bytes[..starts[4]]);
            drop(active);

            // Corrupt: a payload byte of record 1 (larger than most windows) damaged.
            let mut damaged = bytes.clone();
            damaged[starts[1] + 8 + 150] ^= 1;
            std::fs::write(&path, &damaged).unwrap();
            assert_eq!(
                crate::file::scan_segment(&damaged, u32::MAX as usize).tail,
                Tail::Corrupt
            );
            let err = recover_last_with(&dir, 0, &opts, window).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
            assert!(err.to_string().contains("(record 1)"), "{err}");
            assert_eq!(std::fs::read(&path).unwrap(), damaged);

            // Clean, whole.
            std::fs::write(&path, &bytes).unwrap();
            let active = recover_last_with(&dir, 0, &opts, window).unwrap();
            assert_eq!((active.len, active.next_seq), (bytes.len() as u64, 5));
            drop(active);

            // Too short for a header: made afresh.
            std::fs::write(&path, &bytes[..20]).unwrap();
            let active = recover_last_with(&dir, 0, &opts, window).unwrap();
            assert_eq!(
                (active.len, active.next_seq),
                (SEGMENT_HEADER_LEN as u64, 0)
            );
            drop(active);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
