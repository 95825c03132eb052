//! [`LogReader`]: a log consumer's reading — positioning at a sequence number, reading and
//! validating records across segments (each through a [`SegmentReader`]), and auto-commit
//! of its cursor. Runs on the blocking pool, except [`TailSource::try_read_now`], which
//! takes fresh records of the open segment from the page cache on the async task.

use super::cursor::{self, Position};
use super::partial_end::{PartialAt, PartialEndWatch};
use super::record::{RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::scan::{valid_prefix, ScanInput, Tail};
use super::scan_window::WindowedInput;
use super::segment::{
    check_base, corrupt, create_log_dir, list_segments, os_error, scan_error, segment_path,
};
use super::segment_reader::{SegmentReader, Stop, READ_CHUNK};
use super::tailer::{Batch, Chunk, TailSource};
use super::unsynced_tail::{unsynced_successor, HeaderRead};
use super::{CursorMismatch, FileOptions, FsyncPolicy, StartFrom};
use crate::codec::FrameError;
use crate::sys;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
// Tokio's clock (the system's, unless a test pauses it): the tailer's commit timer keeps the
// same time, so a commit it finds due is due here too.
use tokio::time::Instant;

/// A batch stops growing past this many bytes.
const BATCH_BYTES: usize = 4 << 20;
/// Auto-commit after this many records or this long, whichever comes first.
const AUTO_COMMIT_RECORDS: u64 = 1000;
const AUTO_COMMIT_PERIOD: Duration = Duration::from_secs(1);
/// Reads the log in one directory from a sequence number on.
#[derive(Debug)]
pub(crate) struct LogReader {
    dir: PathBuf,
    max_frame: usize,
    /// The next record to deliver.
    next_seq: u64,
    /// Where it started: the committed cursor, or where `from` said.
    start: Position,
    /// The record before a resumed cursor and the CRC field it must have, until read.
    check: Option<(u64, u32)>,
    /// The name of the cursor it resumed from, if any (named in the errors about it).
    resumed: Option<String>,
    seg: Option<SegmentReader>,
    auto_commit: Option<AutoCommit>,
    /// Whether it waits at the end of the data for more (else a read that gets there is
    /// the last).
    follow: bool,
    /// The partial record the last look at the end of the open segment found, if any.
    partial_end: PartialEndWatch,
}

#[derive(Debug)]
struct AutoCommit {
    name: String,
    committed: Position,
    last: Instant,
    durable: bool,
    mode: u32,
}

/// The cursor a consumer commits to: its name, and how.
#[derive(Debug, Clone)]
pub(crate) struct CursorSpec {
    pub(crate) name: String,
    /// Commit by itself every 1,000 records or second (connections); else only explicitly.
    pub(crate) auto: bool,
}

impl LogReader {
    /// Opens a reader of the log in `dir` (creating the directory if missing, so a consumer
    /// may start before the producer; not with `follow=false`, which would only read it
    /// empty and leave it behind), starting at `cursor`'s committed position, else where
    /// `opts.from` says. A cursor that starts at `from=end` is stored there at once.
    ///
    /// # Errors
    /// `InvalidData` for a damaged cursor or last segment (with `from=end`); `InvalidInput`
    /// when `dir` is a file; `NotFound` when it is missing and `opts.follow` is false; OS
    /// errors.
    pub(crate) fn open(
        dir: &Path,
        opts: &FileOptions,
        cursor: Option<CursorSpec>,
    ) -> io::Result<LogReader> {
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
            Err(e) if e.kind() == io::ErrorKind::NotFound && !opts.follow => {
                return Err(crate::error::with_context(
                    io::ErrorKind::NotFound,
                    format!(
                        "file://{}: no log there (follow=false reads what a log holds and \
                         ends; a consumer that follows waits for its producer): {e}",
                        dir.display()
                    ),
                    e,
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_log_dir(dir, opts.fsync != FsyncPolicy::Never)?;
            }
            Err(e) => return Err(os_error("cannot open the log directory", dir, e)),
        }
        let committed = match &cursor {
            Some(spec) => {
                cursor::remove_stale_temps(dir, &spec.name);
                cursor::load(dir, &spec.name)?
            }
            None => None,
        };
        let start = match (committed, opts.from) {
            (Some(position), _) => position,
            (None, StartFrom::Start) => Position::at(0),
            (None, StartFrom::End) => Position::at(log_end(dir)?),
        };
        let resumed = committed.and(cursor.as_ref()).map(|spec| spec.name.clone());
        let durable = opts.fsync != FsyncPolicy::Never;
        if let Some(spec) = &cursor {
            // A named consumer that joins at the end stores that position at once: else,
            // closed or killed before it committed a record, it would start at the (new) end
            // again and skip what was appended in between.
            if committed.is_none() && opts.from == StartFrom::End {
                cursor::store(dir, &spec.name, start, durable, opts.mode)?;
            }
        }
        let auto_commit = cursor.filter(|spec| spec.auto).map(|spec| AutoCommit {
            name: spec.name,
            committed: start,
            last: Instant::now(),
            durable,
            mode: opts.mode,
        });
        Ok(LogReader {
            dir: dir.to_owned(),
            max_frame: opts.max_frame,
            next_seq: start.next_seq,
            start,
            check: start.check(),
            resumed,
            seg: None,
            auto_commit,
            follow: opts.follow,
            partial_end: PartialEndWatch::default(),
        })
    }

    /// Where this reader started: the committed cursor, or where `from` said.
    pub(crate) fn start(&self) -> Position {
        self.start
    }

    /// Commits the auto-commit cursor at `delivered` (after the last record returned) if
    /// it is behind.
    ///
    /// # Errors
    /// OS errors writing the cursor.
    pub(crate) fn commit_at(&mut self, delivered: Position) -> io::Result<()> {
        if let Some(ac) = &mut self.auto_commit {
            if delivered != ac.committed {
                cursor::store(&self.dir, &ac.name, delivered, ac.durable, ac.mode)?;
                ac.committed = delivered;
                ac.last = Instant::now();
            }
        }
        Ok(())
    }

    /// Whether the auto-commit cursor is 1,000 records or a second behind `delivered`.
    fn commit_due(&self, delivered: u64) -> bool {
        self.auto_commit.as_ref().is_some_and(|ac| {
            delivered != ac.committed.next_seq
                && (delivered.abs_diff(ac.committed.next_seq) >= AUTO_COMMIT_RECORDS
                    || ac.last.elapsed() >= AUTO_COMMIT_PERIOD)
        })
    }

    /// Commits at `delivered` if the last commit is 1,000 records or a second old.
    fn maybe_auto_commit(&mut self, delivered: Position) -> io::Result<()> {
        if self.commit_due(delivered.next_seq) {
            self.commit_at(delivered)?;
        }
        Ok(())
    }

    /// The error for a log that no longer holds the records before this reader's position:
    /// `what` happened. For a consumer resumed from its cursor, a [`CursorMismatch`] inside.
    fn records_lost(&self, what: String) -> io::Error {
        match &self.resumed {
            Some(name) => CursorMismatch {
                log: self.dir.clone(),
                consumer: name.clone(),
                cursor_path: super::segment::cursor_path(&self.dir, name),
                committed_next_seq: self.start.next_seq,
                next_seq: self.next_seq,
                found: what,
            }
            .into(),
            None => corrupt(&self.dir, what),
        }
    }

    /// Opens the segment holding `next_seq`; `false` if there is none yet.
    fn position(&mut self) -> io::Result<bool> {
        // Segments deleted between listing and opening; skipping segments a crash cut
        // short does not count (each skip moves to a later segment).
        let mut vanished = 0;
        while vanished < 8 {
            let bases = match list_segments(&self.dir) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(crate::error::with_context(
                        e.kind(),
                        format!(
                            "file://{}: the log directory is gone (deleted or moved away)",
                            self.dir.display()
                        ),
                        e,
                    ))
                }
                bases => bases?,
            };
            let Some(&first) = bases.first() else {
                if self.next_seq > 0 && self.resumed.is_some() {
                    return Err(self.records_lost(format!(
                        "the log holds no segment, but this consumer resumes at record {}",
                        self.next_seq
                    )));
                }
                return Ok(false);
            };
            if self.next_seq < first {
                tracing::warn!(
                    dir = %self.dir.display(),
                    from = self.next_seq,
                    to = first,
                    "records before the oldest segment were deleted by retention; skipping them"
                );
                self.next_seq = first;
            }
            // The record a resumed cursor checks cannot be read once retention deleted it.
            self.check = self.check.filter(|&(seq, _)| seq >= first);
            // The segment holding the checked record, else the one holding `next_seq`.
            let wanted = self.check.map_or(self.next_seq, |(seq, _)| seq);
            let base = bases
                .iter()
                .copied()
                .filter(|&b| b <= wanted)
                .max()
                .unwrap_or(first);
            check_base(&self.dir, base)?;
            let path = segment_path(&self.dir, base);
            let mut file = match sys::open_segment_read(&path) {
                Ok(file) => file,
                // Deleted by retention between listing and opening: list again.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    vanished += 1;
                    continue;
                }
                Err(e) => return Err(os_error("cannot open", &path, e)),
            };
            let read =
                HeaderRead::of(&mut file, base).map_err(|e| os_error("cannot read", &path, e))?;
            let header = match read {
                HeaderRead::Valid(header) => header,
                // Too short, the last segment: the writer is creating it (or a crash
                // interrupted that: the writer's recovery rewrites it). One with a newer
                // segment after it was whole before that one was created: it lost its
                // header, in a machine crash if it was closed without an fsync (short, or
                // zeros), else to damage. A header that is there but wrong (another
                // segment's, a flag this version does not know) is never a crash's doing.
                HeaderRead::Short(_) if bases.last() == Some(&base) => return Ok(false),
                _ => {
                    if bases.last() != Some(&base) && read.lost_in_a_crash() {
                        if let Some(next) = unsynced_successor(&self.dir, base)? {
                            self.skip_lost_records(base, base, next);
                            continue;
                        }
                    }
                    let what = match read {
                        HeaderRead::Short(got) => format!(
                            "is {got} bytes, too short for its header, and a newer segment \
                             follows it"
                        ),
                        _ => "has a damaged header".to_owned(),
                    };
                    return Err(corrupt(&self.dir, format!("segment {base:020}.log {what}")));
                }
            };
            // What was seen at the end of another segment is no longer the end.
            self.partial_end.clear();
            self.seg = Some(SegmentReader::new(
                base,
                file,
                path,
                header.salt,
                SEGMENT_HEADER_LEN as u64,
                self.max_frame,
            ));
            return Ok(true);
        }
        Err(io::Error::other(format!(
            "file://{}: segments keep disappearing while opening (retention too small?)",
            self.dir.display()
        )))
    }

    /// Moves on to record `next`, where the segment after segment `base` starts, from a
    /// closed segment whose valid records end at record `end` and which was closed without
    /// an fsync ([`unsynced_successor`]): what is missing was lost in a machine crash.
    fn skip_lost_records(&mut self, base: u64, end: u64, next: u64) {
        let from = self.next_seq.max(end);
        if next > from {
            tracing::warn!(
                dir = %self.dir.display(),
                segment = base,
                from,
                to = next,
                "records lost in a machine crash (the segment was closed without an fsync, \
                 fsync=never, and is cut short); skipping them"
            );
        }
        self.next_seq = self.next_seq.max(next);
        // The record a resumed cursor checks is among the lost ones: it cannot be read.
        self.check = self.check.filter(|&(seq, _)| seq >= next);
    }

    /// A newer segment than `seg` exists.
    fn newer_segment_exists(&self, seg: &SegmentReader, clean_end: bool) -> io::Result<bool> {
        // The writer names the next segment after the record that starts it, so after a
        // clean end one `stat` answers; otherwise list the directory.
        if clean_end && seg.seq > seg.base && segment_path(&self.dir, seg.seq).exists() {
            return Ok(true);
        }
        Ok(list_segments(&self.dir)?.iter().any(|&b| b > seg.base))
    }
}

impl TailSource for LogReader {
    fn try_read_now(&mut self) -> Option<io::Result<Batch>> {
        // Only the common case: fresh bytes in the open segment. Opening segments, looking
        // for newer ones, committing the cursor, reporting damage and waiting for the disk
        // are left to `read_batch`.
        if self.commit_due(self.next_seq) {
            return None;
        }
        let seg = self.seg.as_mut().filter(|seg| !seg.sealed)?;
        let mut batch = Batch::default();
        // Each round reads more or ends: records, the end of the file, or a read that would
        // block (a large record arriving comes in several rounds).
        loop {
            let got = seg.fill_nowait()?;
            match seg.take_records(&mut self.next_seq, &mut self.check) {
                (Some(chunk), _) => batch.chunks.push(chunk),
                // The end before a resumed position: `read_batch` says so.
                (None, Stop::NeedMore) if got == 0 && self.next_seq > seg.seq => return None,
                (None, Stop::NeedMore) if got == 0 => {
                    // The end of the file (a partial record there is read afresh next time,
                    // and checked if it stays: `read_deadline`).
                    let at = seg.partial_end().map(|(file_len, head)| PartialAt {
                        base: seg.base,
                        offset: seg.offset,
                        file_len,
                        head,
                    });
                    seg.forget_partial();
                    self.partial_end.note(at);
                    if self.partial_end.damaged() {
                        // `read_batch` says so again (or finds it mended).
                        return None;
                    }
                    batch.caught_up = true;
                }
                (None, Stop::NeedMore) => continue,
                (None, _) => return None,
            }
            return Some(Ok(batch));
        }
    }

    fn read_deadline(&self, returned: Option<Position>) -> Option<Instant> {
        let commit = self.auto_commit.as_ref().and_then(|ac| {
            let returned = returned?;
            (returned.next_seq != ac.committed.next_seq).then(|| ac.last + AUTO_COMMIT_PERIOD)
        });
        let open = self
            .seg
            .as_ref()
            .filter(|seg| !seg.sealed)
            .map(|seg| (seg.base, seg.offset));
        let check = self.partial_end.deadline(open);
        commit.into_iter().chain(check).min()
    }

    fn read_batch(&mut self, returned: Option<Position>) -> io::Result<Batch> {
        if let Some(returned) = returned {
            self.maybe_auto_commit(returned)?;
        }
        let mut batch = Batch::default();
        match self.fill_batch(&mut batch) {
            Ok(()) => Ok(batch),
            // Deliver the good records before the damage first; the next read, starting at
            // the damaged record (or segment), reports it.
            // (`fill_batch` sets `caught_up` only when it returns `Ok`.)
            Err(_) if !batch.chunks.is_empty() => Ok(batch),
            Err(e) => Err(e),
        }
    }
}

impl LogReader {
    /// Reads records into `batch` until a batch's worth, the end of the log (then
    /// `caught_up`), or an error, which leaves the records read before it in `batch`.
    fn fill_batch(&mut self, batch: &mut Batch) -> io::Result<()> {
        let mut batch_bytes = 0;
        loop {
            if self.seg.is_none() && !self.position()? {
                batch.caught_up = true;
                return Ok(());
            }
            let Some(mut seg) = self.seg.take() else {
                continue;
            };
            let step = read_segment(
                &self.dir,
                &mut seg,
                (&mut self.next_seq, &mut self.check),
                batch,
                &mut batch_bytes,
            );
            self.seg = Some(seg);
            let end = step?;
            let Some(mut seg) = self.seg.take() else {
                continue;
            };
            match end {
                SegmentEnd::Rewritten => {
                    let error = self.records_lost(format!(
                        "record {} (segment {:020}.log) is not the record this consumer read \
                         last (its CRC differs from the cursor's)",
                        seg.seq, seg.base
                    ));
                    self.seg = Some(seg);
                    return Err(error);
                }
                SegmentEnd::More => {
                    self.seg = Some(seg);
                    if batch_bytes >= BATCH_BYTES {
                        return Ok(());
                    }
                }
                SegmentEnd::AtEnd { clean, partial } => {
                    if seg.sealed {
                        if !clean {
                            // Cut short by a machine crash, if closed without an fsync.
                            let next = unsynced_successor(&self.dir, seg.base)?;
                            if let Some(next) = next.filter(|&next| next >= seg.seq) {
                                self.skip_lost_records(seg.base, seg.seq, next);
                                continue;
                            }
                            return Err(corrupt(
                                &self.dir,
                                format!(
                                    "segment {:020}.log is damaged at byte {} (record {}) and \
                                     a newer segment follows it",
                                    seg.base, seg.offset, seg.seq
                                ),
                            ));
                        }
                        // Move on to the next segment, which must start where this one ends
                        // — unless retention deleted this one (read through its open
                        // descriptor) and the ones after it: then the oldest kept one starts
                        // later, and `position` skips to it with a warning.
                        let bases = list_segments(&self.dir)?;
                        let next = bases.iter().copied().find(|&b| b > seg.base);
                        let deleted = bases.first().is_some_and(|&first| first > seg.base);
                        let skipped = deleted && next.is_some_and(|b| b > seg.seq);
                        if next != Some(seg.seq) && !skipped {
                            // Records cut off its end in a machine crash, if closed without
                            // an fsync.
                            if let Some(next) = next.filter(|&next| next > seg.seq) {
                                if unsynced_successor(&self.dir, seg.base)? == Some(next) {
                                    self.skip_lost_records(seg.base, seg.seq, next);
                                    continue;
                                }
                            }
                            return Err(corrupt(
                                &self.dir,
                                format!(
                                    "segment {:020}.log ends at record {} but the next segment \
                                     starts at {}",
                                    seg.base,
                                    seg.seq,
                                    next.map_or("nothing".to_owned(), |b| b.to_string())
                                ),
                            ));
                        }
                        self.next_seq = self.next_seq.max(seg.seq);
                        continue;
                    }
                    // `NotFound`: the log directory is gone, which the identity check
                    // below reports.
                    let (newer, gone) = match self.newer_segment_exists(&seg, clean) {
                        Err(e) if e.kind() == io::ErrorKind::NotFound => (false, true),
                        newer => (newer?, false),
                    };
                    if newer {
                        // Read this one to its end once more: the writer finished it before
                        // starting the next, but maybe after our read.
                        seg.sealed = true;
                        self.seg = Some(seg);
                        continue;
                    }
                    if !seg.is_at(&segment_path(&self.dir, seg.base))? {
                        // Retention deletes only closed segments: a newer one is listed now
                        // if that is what happened. Else the log directory was deleted or
                        // replaced, and this open file will never grow again.
                        let newer = match self.newer_segment_exists(&seg, false) {
                            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                            newer => newer?,
                        };
                        if newer {
                            seg.sealed = true;
                            self.seg = Some(seg);
                            continue;
                        }
                        let error = self.records_lost(format!(
                            "segment {:020}.log, read up to record {}, was removed or replaced \
                             (the log directory deleted or replaced?)",
                            seg.base, seg.seq
                        ));
                        self.seg = Some(seg);
                        return Err(error);
                    }
                    if gone {
                        // The directory is missing, yet the segment counts as still there
                        // (its identity unknown).
                        self.seg = Some(seg);
                        return Err(io::Error::new(
                            io::ErrorKind::NotFound,
                            format!(
                                "file://{}: the log directory is gone (deleted or moved away)",
                                self.dir.display()
                            ),
                        ));
                    }
                    let at = partial.map(|(file_len, head)| PartialAt {
                        base: seg.base,
                        offset: seg.offset,
                        file_len,
                        head,
                    });
                    self.partial_end.note(at);
                    // A consumer resuming past the end found is told the log ends there,
                    // unless a partial record there hides the records after it: checked
                    // first, at once.
                    let resumes_past = self.next_seq > seg.seq;
                    match self.check_partial_end(&mut seg, resumes_past) {
                        Ok(true) => {}
                        Ok(false) => {
                            // Whole when read afresh: its write has ended.
                            self.seg = Some(seg);
                            continue;
                        }
                        Err(error) => {
                            self.seg = Some(seg);
                            return Err(error);
                        }
                    }
                    if resumes_past {
                        let error = self.records_lost(format!(
                            "the log ends at record {} (segment {:020}.log), but this consumer \
                             resumes at record {}",
                            seg.seq, seg.base, self.next_seq
                        ));
                        self.seg = Some(seg);
                        return Err(error);
                    }
                    self.seg = Some(seg);
                    batch.caught_up = true;
                    return Ok(());
                }
            }
        }
    }

    /// Checks the partial record noted at the end of `seg`, the open segment, when that is
    /// due ([`PartialEndWatch::check_due`]; at once without `follow`, as this read is the
    /// last, or when `at_once`). `Ok(true)` when this is the end of the data for now;
    /// `Ok(false)` when the record is whole after all, to be read.
    ///
    /// # Errors
    /// `InvalidData` when valid records follow it (its length field is damaged: the records
    /// after it would never be read), again at every read while it stays; OS errors.
    fn check_partial_end(&mut self, seg: &mut SegmentReader, at_once: bool) -> io::Result<bool> {
        if self.partial_end.check_due(!self.follow || at_once) {
            let verdict = seg.classify_partial_end()?;
            self.partial_end.checked(verdict);
            if verdict.is_none() {
                return Ok(false);
            }
        }
        if self.partial_end.damaged() {
            return Err(corrupt(
                &self.dir,
                format!(
                    "segment {:020}.log is damaged at byte {} (record {}): its length field \
                     points past the end of the file, and valid records follow it",
                    seg.base, seg.offset, seg.seq
                ),
            ));
        }
        Ok(true)
    }
}

enum SegmentEnd {
    /// More bytes may be there right now.
    More,
    /// The record a resumed cursor checks is not the one it read (another CRC field).
    Rewritten,
    /// The valid records end here for now; `clean` if at the end of the file, not before
    /// invalid bytes. `partial`: a record goes on past the end of the file, then this long,
    /// and was not checked (a write under way, a torn tail or a damaged length field), with
    /// its first bytes ([`SegmentReader::partial_end`]).
    AtEnd {
        clean: bool,
        partial: Option<(u64, [u8; RECORD_HEADER_LEN])>,
    },
}

/// Reads one chunk of `seg` at its offset (blocking) and takes the valid records in it.
fn read_segment(
    dir: &Path,
    seg: &mut SegmentReader,
    (next_seq, check): (&mut u64, &mut Option<(u64, u32)>),
    batch: &mut Batch,
    batch_bytes: &mut usize,
) -> io::Result<SegmentEnd> {
    let eof = seg.fill_chunk()?;
    let (chunk, stop) = seg.take_records(next_seq, check);
    if let Some(chunk) = chunk {
        if let Chunk::Records { data, .. } = &chunk {
            *batch_bytes += data.len();
        }
        batch.chunks.push(chunk);
    }
    match stop {
        Stop::NeedMore if !eof => Ok(SegmentEnd::More),
        // The end of the file for now; a partial record there (being written, torn, or its
        // length field damaged) is read afresh next time.
        Stop::NeedMore => {
            let partial = seg.partial_end();
            seg.forget_partial();
            Ok(SegmentEnd::AtEnd {
                clean: partial.is_none(),
                partial,
            })
        }
        Stop::TooLarge(len) => {
            // Read afresh next time: a torn tail may be rewritten by then.
            seg.forget_partial();
            Err(FrameError::TooLarge {
                len: len as u64,
                max: seg.max_frame(),
            }
            .into())
        }
        Stop::Rewritten => Ok(SegmentEnd::Rewritten),
        Stop::Invalid => match seg.classify_front()? {
            // Valid when read afresh: take it next time.
            None => Ok(SegmentEnd::More),
            Some(Tail::Corrupt) => Err(corrupt(
                dir,
                format!(
                    "segment {:020}.log is damaged at byte {} (record {}); valid records \
                     follow, so it is not a torn tail",
                    seg.base, seg.offset, seg.seq
                ),
            )),
            // A torn tail the writer's recovery will cut off and rewrite.
            Some(_) => Ok(SegmentEnd::AtEnd {
                clean: false,
                partial: None,
            }),
        },
    }
}

/// The sequence number after the last valid record of the log in `dir`.
///
/// # Errors
/// `InvalidData` for a last segment named past [`MAX_BASE_SEQ`](super::segment::MAX_BASE_SEQ);
/// OS errors reading it.
pub(crate) fn log_end(dir: &Path) -> io::Result<u64> {
    let Some(&base) = list_segments(dir)?.last() else {
        return Ok(0);
    };
    check_base(dir, base)?;
    // As every segment is opened: not through a symlink, and refused unless a regular file
    // (a FIFO would block the read for ever).
    let path = segment_path(dir, base);
    let file = match sys::open_segment_read(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(base),
        Err(e) => return Err(os_error("cannot open", &path, e)),
    };
    let file_len = file
        .metadata()
        .map_err(|e| os_error("cannot look at", &path, e))?
        .len();
    // Scanned a window at a time as the producer's recovery scans it (records larger than
    // the window get their CRC a window at a time), not whole: a segment may be as large as
    // `segment_size` (or, not written by a producer, any size; sparse, gigabytes of zeros),
    // and a length field (torn, damaged or hostile) may announce up to 4 GiB. Only where the
    // valid records end matters here, not what follows them.
    let mut input = WindowedInput::new(&file, file_len, READ_CHUNK);
    // The file may be cut shorter than its length when looked at (a producer's recovery
    // cutting off a torn tail): its end then ends the valid records, as the end of the file
    // does.
    let cut = |e: &io::Error| e.kind() == io::ErrorKind::UnexpectedEof;
    match input.header() {
        Ok(Some(header)) if header.base_seq == base => {}
        // A header that is missing, invalid or not this segment's: no records.
        Ok(_) => return Ok(base),
        Err(e) if cut(&e) => return Ok(base),
        Err(e) => return Err(scan_error(&path, e)),
    }
    let mut records = 0;
    match valid_prefix(&mut input, u64::from(u32::MAX), |_, _| records += 1) {
        Ok(prefix) => Ok(base + prefix.map_or(0, |prefix| prefix.records)),
        Err(e) if cut(&e) => Ok(base + records),
        Err(e) => Err(scan_error(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::partial_end::PARTIAL_PATIENCE;
    use super::*;
    use crate::file::{encode_record, SegmentHeader, SEGMENT_HEADER_LEN};
    use bytes::Bytes;
    use std::io::Write;

    use crate::test_support::temp_dir;

    fn payload(seq: u64, len: usize) -> Vec<u8> {
        (0..len).map(|i| (seq as usize * 7 + i) as u8).collect()
    }

    fn record(salt: u32, seq: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_record(&mut out, salt, seq, payload);
        out
    }

    fn records(batch: Batch) -> Vec<(u64, Bytes)> {
        let mut out = Vec::new();
        for chunk in batch.chunks {
            let Chunk::Records {
                data,
                mut pos,
                mut seq,
                ..
            } = chunk
            else {
                panic!("the log reader returns records");
            };
            while pos < data.len() {
                let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
                out.push((seq, data.slice(pos + 8..pos + 8 + len)));
                (pos, seq) = (pos + 8 + len, seq + 1);
            }
        }
        out
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        file.write_all(bytes).unwrap();
    }

    /// A torn record buffered by a read that stopped inside it, then cut off and rewritten by
    /// a restarted producer: what follows is read afresh, never glued to the stale bytes.
    #[test]
    fn a_torn_tail_rewritten_after_it_was_buffered_is_read_afresh() {
        let dir = temp_dir("torn-rewrite");
        let salt = 0x5eed;
        let path = segment_path(&dir, 0);
        let mut bytes = SegmentHeader::new(salt, 0).encode().to_vec();
        for seq in 0..4 {
            bytes.extend(record(salt, seq, &payload(seq, 50)));
        }
        let torn_at = bytes.len();
        bytes.extend(&record(salt, 4, &[0xEE; 100])[..60]);
        std::fs::write(&path, &bytes).unwrap();

        let mut seg = SegmentReader::new(
            0,
            sys::open_read(&path).unwrap(),
            path.clone(),
            salt,
            32,
            1 << 20,
        );
        // Stop one byte short of the end: the torn record stays buffered.
        assert!(!seg.fill(bytes.len() - SEGMENT_HEADER_LEN - 1).unwrap());
        let mut next_seq = 0;
        let (chunk, stop) = seg.take_records(&mut next_seq, &mut None);
        assert_eq!((next_seq, stop), (4, Stop::NeedMore));
        assert!(chunk.is_some());

        // Recovery cuts the torn record off and the producer appends a record 4 as long as
        // the torn one: read glued to the stale bytes, record 4 would fail its CRC with a
        // valid record 5 right after it, and look like corruption.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(torn_at as u64).unwrap();
        drop(file);
        let (new4, new5) = (payload(40, 100), payload(50, 7));
        append(&path, &record(salt, 4, &new4));
        append(&path, &record(salt, 5, &new5));

        let mut got = Vec::new();
        for _ in 0..10 {
            let mut batch = Batch::default();
            let step = (&mut next_seq, &mut None);
            let end = read_segment(&dir, &mut seg, step, &mut batch, &mut 0);
            got.extend(records(batch));
            if matches!(end.unwrap(), SegmentEnd::AtEnd { clean: true, .. }) {
                break;
            }
        }
        assert_eq!(
            got,
            vec![(4, Bytes::from(new4)), (5, Bytes::from(new5))],
            "only the rewritten records"
        );
        drop(seg); // Windows: an open file keeps its directory from being removed.
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A record larger than one read arrives in two writes; the task's reads (or the pool's,
    /// where the task cannot read) put it together.
    #[test]
    fn a_record_larger_than_a_read_arriving_in_pieces_comes_out_whole() {
        let dir = temp_dir("big-record");
        let salt = 77;
        let path = segment_path(&dir, 0);
        let mut bytes = SegmentHeader::new(salt, 0).encode().to_vec();
        bytes.extend(record(salt, 0, b"small"));
        std::fs::write(&path, &bytes).unwrap();
        let opts = FileOptions {
            max_frame: 4 << 20,
            ..FileOptions::default()
        };
        let mut reader = LogReader::open(&dir, &opts, None).unwrap();
        let read = |reader: &mut LogReader| match reader.try_read_now() {
            Some(batch) => batch.unwrap(),
            None => reader.read_batch(None).unwrap(),
        };
        let first = reader.read_batch(None).unwrap();
        assert_eq!(records(first), vec![(0, Bytes::from_static(b"small"))]);

        let big = payload(1, 3 * READ_CHUNK / 2);
        let rec = record(salt, 1, &big);
        append(&path, &rec[..READ_CHUNK / 2]);
        let partial = read(&mut reader);
        assert!(records(partial).is_empty());
        append(&path, &rec[READ_CHUNK / 2..]);
        let mut got = Vec::new();
        for _ in 0..10 {
            got.extend(records(read(&mut reader)));
            if !got.is_empty() {
                break;
            }
        }
        assert_eq!(got, vec![(1, Bytes::from(big))]);
        drop(reader); // Windows: an open file keeps its directory from being removed.
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A segment holding `count` records from `base` on.
    fn segment(dir: &Path, salt: u32, base: u64, count: u64) -> PathBuf {
        segment_after(dir, salt, base, count, false)
    }

    /// [`segment`], saying whether the one before it was closed without an fsync.
    fn segment_after(
        dir: &Path,
        salt: u32,
        base: u64,
        count: u64,
        previous_unsynced: bool,
    ) -> PathBuf {
        let path = segment_path(dir, base);
        let mut bytes = SegmentHeader {
            salt,
            base_seq: base,
            previous_unsynced,
        }
        .encode()
        .to_vec();
        for seq in base..base + count {
            bytes.extend(record(salt, seq, &payload(seq, 10)));
        }
        std::fs::write(&path, &bytes).unwrap();
        path
    }

    /// The sequence numbers `reader` delivers until it is caught up (10 reads at most).
    fn read_seqs(reader: &mut LogReader) -> io::Result<Vec<u64>> {
        let mut got = Vec::new();
        for _ in 0..10 {
            let batch = reader.read_batch(None)?;
            let caught_up = batch.caught_up;
            got.extend(records(batch).into_iter().map(|(seq, _)| seq));
            if caught_up {
                break;
            }
        }
        Ok(got)
    }

    /// A slow consumer reads a segment through its open descriptor while retention deletes
    /// it and the segments after it: the records before the oldest kept segment are
    /// skipped with a warning, as when opening, not reported as a gap (corruption). When
    /// only its own segment was deleted, it reads on from the next one.
    #[test]
    fn retention_deleting_the_segment_being_read_and_the_next_skips_to_the_oldest_kept() {
        let dir = temp_dir("retention-under-reader");
        segment(&dir, 5, 0, 5);
        let mut reader = LogReader::open(&dir, &FileOptions::default(), None).unwrap();
        assert_eq!(read_seqs(&mut reader).unwrap(), vec![0, 1, 2, 3, 4]);
        // The producer rotates twice; retention deletes segments 0 and 5.
        segment(&dir, 6, 5, 3);
        segment(&dir, 7, 8, 3);
        std::fs::remove_file(segment_path(&dir, 0)).unwrap();
        std::fs::remove_file(segment_path(&dir, 5)).unwrap();
        assert_eq!(read_seqs(&mut reader).unwrap(), vec![8, 9, 10]);

        // Only the segment being read deleted: nothing is skipped.
        segment(&dir, 8, 11, 2);
        std::fs::remove_file(segment_path(&dir, 8)).unwrap();
        assert_eq!(read_seqs(&mut reader).unwrap(), vec![11, 12]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A segment followed by one that does not start where it ends is still corruption:
    /// a gap while the segment is listed (retention deletes the oldest first, so it did not
    /// delete the records after it), and a next segment starting inside it once it is gone.
    #[test]
    fn a_next_segment_not_starting_where_the_last_read_one_ends_is_invalid_data() {
        for (deleted, next) in [(false, 7), (true, 3)] {
            let dir = temp_dir("segment-gap");
            segment(&dir, 5, 0, 5);
            let mut reader = LogReader::open(&dir, &FileOptions::default(), None).unwrap();
            assert_eq!(read_seqs(&mut reader).unwrap(), vec![0, 1, 2, 3, 4]);
            segment(&dir, 6, next, 3);
            if deleted {
                std::fs::remove_file(segment_path(&dir, 0)).unwrap();
            }
            let err = read_seqs(&mut reader).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
            assert!(
                err.to_string()
                    .contains(&format!("next segment starts at {next}")),
                "{err}"
            );
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// A closed segment cut short, as a machine crash leaves one the OS had not written
    /// whole: inside a record, at a record's end, inside its header, to nothing. Closed
    /// without an fsync (the next segment's header says so), the records that survived
    /// come out, then the next segment's: the missing ones are skipped with a warning.
    /// Closed with one (synced, so the cut is damage), it is `InvalidData`.
    #[test]
    fn a_closed_segment_cut_short_is_skipped_only_if_it_was_closed_without_an_fsync() {
        // 18-byte records (10-byte payloads) after the 32-byte header.
        let cuts = [
            (SEGMENT_HEADER_LEN + 2 * 18 + 7, vec![0, 1]),
            (SEGMENT_HEADER_LEN + 3 * 18, vec![0, 1, 2]),
            (10, vec![]),
            (0, vec![]),
        ];
        for (cut, survived) in cuts {
            for unsynced in [true, false] {
                let dir = temp_dir("cut-short");
                let first = segment(&dir, 5, 0, 5);
                segment_after(&dir, 6, 5, 2, unsynced);
                segment_after(&dir, 7, 7, 2, false);
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&first)
                    .unwrap();
                file.set_len(cut as u64).unwrap();
                drop(file);
                let mut reader = LogReader::open(&dir, &FileOptions::default(), None).unwrap();
                let got = read_seqs(&mut reader);
                if unsynced {
                    let mut want = survived.clone();
                    want.extend([5, 6, 7, 8]);
                    assert_eq!(got.unwrap(), want, "cut at {cut}");
                } else {
                    let err = got.unwrap_err();
                    assert_eq!(
                        err.kind(),
                        io::ErrorKind::InvalidData,
                        "cut at {cut}: {err}"
                    );
                }
                drop(reader); // Windows: an open file keeps its directory from being removed.
                std::fs::remove_dir_all(&dir).unwrap();
            }
        }
    }

    /// Two closed segments in a row cut short, each followed by one that says so: the
    /// survivors of both come out, then the last segment's records. Damage with valid
    /// records after it in such a segment is still damage: a crash does not leave that.
    #[test]
    fn consecutive_cut_segments_are_skipped_damage_is_not() {
        let dir = temp_dir("cut-twice");
        let cut = |path: &Path, records: usize| {
            let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            file.set_len((SEGMENT_HEADER_LEN + records * 18 + 3) as u64)
                .unwrap();
        };
        let first = segment(&dir, 5, 0, 5);
        let second = segment_after(&dir, 6, 5, 4, true);
        segment_after(&dir, 7, 9, 2, true);
        cut(&first, 2);
        cut(&second, 1);
        let mut reader = LogReader::open(&dir, &FileOptions::default(), None).unwrap();
        assert_eq!(read_seqs(&mut reader).unwrap(), vec![0, 1, 5, 9, 10]);
        drop(reader); // Windows: an open file keeps its directory from being removed.
        std::fs::remove_dir_all(&dir).unwrap();

        let dir = temp_dir("damaged-before-unsynced");
        let first = segment(&dir, 5, 0, 5);
        segment_after(&dir, 6, 5, 2, true);
        let mut bytes = std::fs::read(&first).unwrap();
        bytes[SEGMENT_HEADER_LEN + 18 + 9] ^= 0xFF; // record 1's payload
        std::fs::write(&first, bytes).unwrap();
        let mut reader = LogReader::open(&dir, &FileOptions::default(), None).unwrap();
        let err = read_seqs(&mut reader).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        drop(reader);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A closed segment's header as a machine crash can leave it (zeros where the OS had not
    /// written it) is skipped when the next segment says it was closed without an fsync; a
    /// header that is there but wrong (another segment's, with a valid CRC) is damage, never
    /// a crash's doing, and is not skipped whatever the next segment says.
    #[test]
    fn only_a_header_a_crash_can_leave_is_skipped() {
        let other = SegmentHeader::new(5, 3).encode();
        for (header, skipped) in [([0u8; SEGMENT_HEADER_LEN], true), (other, false)] {
            let dir = temp_dir("cut-header");
            let first = segment(&dir, 5, 0, 5);
            segment_after(&dir, 6, 5, 2, true);
            let mut bytes = std::fs::read(&first).unwrap();
            bytes[..SEGMENT_HEADER_LEN].copy_from_slice(&header);
            std::fs::write(&first, bytes).unwrap();
            let mut reader = LogReader::open(&dir, &FileOptions::default(), None).unwrap();
            match read_seqs(&mut reader) {
                Ok(got) => assert!(skipped && got == [5, 6], "{got:?}"),
                Err(e) => assert!(!skipped && e.kind() == io::ErrorKind::InvalidData, "{e}"),
            }
            drop(reader); // Windows: an open file keeps its directory from being removed.
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// A segment named `u64::MAX` whose header agrees, holding one record: reading it or
    /// looking for its end must not overflow the sequence number.
    #[test]
    fn a_segment_named_past_the_highest_base_is_invalid_data_not_a_panic() {
        let dir = temp_dir("seq-overflow");
        let path = segment_path(&dir, u64::MAX);
        let mut bytes = SegmentHeader::new(3, u64::MAX).encode().to_vec();
        bytes.extend(record(3, u64::MAX, b"last"));
        std::fs::write(&path, &bytes).unwrap();

        let mut reader = LogReader::open(&dir, &FileOptions::default(), None).unwrap();
        let err = reader.read_batch(None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(
            err.to_string().contains("18446744073709551615.log"),
            "{err}"
        );
        let from_end = FileOptions {
            from: StartFrom::End,
            ..FileOptions::default()
        };
        let err = LogReader::open(&dir, &from_end, None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A segment too short for its header with a newer one after it lost its header: the
    /// reader says so instead of waiting for it (or ending) and never reaching the newer one.
    /// The last segment that short is one being created: no records yet.
    #[test]
    fn a_headerless_segment_is_invalid_data_unless_it_is_the_last() {
        let dir = temp_dir("short-segment");
        let first = segment(&dir, 5, 0, 100);
        segment(&dir, 6, 100, 3);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&first)
            .unwrap();
        file.set_len(10).unwrap();
        drop(file);
        let mut reader = LogReader::open(&dir, &FileOptions::default(), None).unwrap();
        let err = reader.read_batch(None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(
            err.to_string().contains("00000000000000000000.log"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();

        let dir = temp_dir("short-last-segment");
        segment(&dir, 5, 0, 3);
        std::fs::write(segment_path(&dir, 3), [0u8; 10]).unwrap();
        let mut reader = LogReader::open(&dir, &FileOptions::default(), None).unwrap();
        let mut got = Vec::new();
        for _ in 0..4 {
            let batch = reader.read_batch(None).unwrap();
            let caught_up = batch.caught_up;
            got.extend(records(batch).into_iter().map(|(seq, _)| seq));
            if caught_up && got.len() == 3 {
                break;
            }
        }
        assert_eq!(got, vec![0, 1, 2]);
        let batch = reader.read_batch(None).unwrap();
        assert!(batch.caught_up && batch.chunks.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A record whose length field was damaged, with valid records after it: the consumer
    /// delivers the records before it, then says the segment is damaged, and again at the
    /// next read, instead of taking it for a torn tail or a write under way and waiting (or
    /// ending) there. The length may point inside the file, or past its end (under
    /// `max_frame`), which a consumer without `follow` checks at once.
    #[test]
    fn a_damaged_length_field_is_invalid_data_not_a_torn_tail() {
        // One byte longer than its 10-byte payload, or 1 MiB, past the end of the file.
        for (len, follow) in [(11, true), (1 << 20, false)] {
            let dir = temp_dir("damaged-length");
            damage_length_of_record_2(&dir, len);
            let opts = FileOptions {
                follow,
                ..FileOptions::default()
            };
            let mut reader = LogReader::open(&dir, &opts, None).unwrap();
            let (got, err) = read_to_error(&mut reader);
            assert_eq!(got, vec![0, 1], "{len}");
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{len}: {err}");
            assert!(err.to_string().contains("record 2"), "{err}");
            let again = reader.read_batch(None).unwrap_err();
            assert_eq!(again.kind(), io::ErrorKind::InvalidData, "{len}: {again}");
            drop(reader); // Windows: an open file keeps its directory from being removed.
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// The same damage, read by a consumer that follows: at first it is the end of the data
    /// (a write may be under way), with a read due a moment later; that read, the partial
    /// record unchanged, finds the damage. A partial record that a producer completes is
    /// read whole, and a torn tail that stays is checked once (no read due after that).
    #[test]
    fn a_partial_record_that_stays_at_the_end_is_checked_once_when_following() {
        let dir = temp_dir("damaged-length-follow");
        damage_length_of_record_2(&dir, 1 << 20);
        let mut reader = LogReader::open(&dir, &FileOptions::default(), None).unwrap();
        let before = Instant::now();
        let batch = reader.read_batch(None).unwrap();
        assert!(batch.caught_up);
        assert_eq!(records(batch).len(), 2);
        let due = reader
            .read_deadline(None)
            .expect("a check of the partial record is due");
        assert!(
            due >= before + PARTIAL_PATIENCE,
            "a timer that would fire at once"
        );
        std::thread::sleep(PARTIAL_PATIENCE);
        let err = reader.read_batch(None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(reader.partial_end.damaged());
        assert!(
            reader.try_read_now().is_none(),
            "the task gives the damage to the pool"
        );
        drop(reader);
        std::fs::remove_dir_all(&dir).unwrap();

        // A record written in two pieces: read whole once its second piece is there.
        let dir = temp_dir("partial-completed");
        let path = segment(&dir, 5, 0, 2);
        let third = record(5, 2, &payload(2, 10));
        append(&path, &third[..7]);
        let mut reader = LogReader::open(&dir, &FileOptions::default(), None).unwrap();
        assert_eq!(read_seqs(&mut reader).unwrap(), vec![0, 1]);
        assert!(reader.read_deadline(None).is_some());
        append(&path, &third[7..]);
        assert_eq!(read_seqs(&mut reader).unwrap(), vec![2]);
        assert!(reader.read_deadline(None).is_none(), "nothing partial left");

        // A torn tail that stays: checked once, then the end of the data for good.
        append(&path, &record(5, 3, &payload(3, 10))[..11]);
        assert!(read_seqs(&mut reader).unwrap().is_empty());
        std::thread::sleep(PARTIAL_PATIENCE);
        let batch = reader.read_batch(None).unwrap();
        assert!(batch.caught_up && batch.chunks.is_empty());
        assert!(reader.read_deadline(None).is_none(), "checked: torn");
        drop(reader);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A consumer resuming past a record whose length field was damaged to point past the
    /// end (its cursor at record 6 of 6, a following one): told the segment is damaged,
    /// not that the log ends at record 2 (a cursor mismatch, whose remedy, dropping the
    /// cursor, would deliver records 0 and 1 again).
    #[test]
    fn a_consumer_resuming_past_a_length_damaged_past_the_end_is_told_of_the_damage() {
        let dir = temp_dir("resume-past-damage");
        damage_length_of_record_2(&dir, 1 << 20);
        cursor::store(&dir, "c", Position::at(6), false, 0o600).unwrap();
        let spec = CursorSpec {
            name: "c".to_owned(),
            auto: false,
        };
        let mut reader = LogReader::open(&dir, &FileOptions::default(), Some(spec)).unwrap();
        let err = reader.read_batch(None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains("is damaged at byte"), "{err}");
        drop(reader);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A partial record seen at the end of a segment that the producer then finishes and
    /// follows with a new segment whose header is not written yet: the reader reads it and
    /// waits for the header with no check due (one left due for the segment it left would
    /// fire at once, a pool read, for ever).
    #[test]
    fn a_partial_record_seen_in_a_segment_left_since_sets_no_timer() {
        let dir = temp_dir("partial-then-new-segment");
        let path = segment(&dir, 5, 0, 2);
        let third = record(5, 2, &payload(2, 10));
        append(&path, &third[..7]);
        let mut reader = LogReader::open(&dir, &FileOptions::default(), None).unwrap();
        assert_eq!(read_seqs(&mut reader).unwrap(), vec![0, 1]);
        assert!(reader.read_deadline(None).is_some());
        append(&path, &third[7..]);
        std::fs::write(segment_path(&dir, 3), [0u8; 3]).unwrap();
        assert_eq!(read_seqs(&mut reader).unwrap(), vec![2]);
        assert_eq!(reader.read_deadline(None), None);
        drop(reader);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A segment of six records (10-byte payloads, 18-byte records) in `dir` whose record 2
    /// has its length field damaged to `len` (1 MiB: far past the end of the file, under
    /// `max_frame`).
    fn damage_length_of_record_2(dir: &Path, len: u32) {
        let path = segment(dir, 5, 0, 6);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = SEGMENT_HEADER_LEN + 2 * 18;
        bytes[at..at + 4].copy_from_slice(&len.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
    }

    /// The sequence numbers `reader` delivers until a read fails, and its error; no read
    /// before it may find the end of the data.
    fn read_to_error(reader: &mut LogReader) -> (Vec<u64>, io::Error) {
        let mut got = Vec::new();
        for _ in 0..10 {
            match reader.read_batch(None) {
                Ok(batch) => {
                    assert!(!batch.caught_up, "caught up at {got:?}");
                    got.extend(records(batch).into_iter().map(|(seq, _)| seq));
                }
                Err(e) => return (got, e),
            }
        }
        panic!("no error in 10 reads: {got:?}");
    }

    /// A length field at the end of the active segment announcing more than `max_frame`
    /// (damaged, or written by a producer with a larger `max_frame`): the records before it
    /// come out, then `InvalidData` — not a wait for bytes that may never come, and no read
    /// of the rest of the file into memory to find out.
    #[test]
    fn a_length_over_max_frame_at_the_end_is_invalid_data_not_a_wait() {
        let dir = temp_dir("length-past-eof");
        let path = segment(&dir, 5, 0, 3);
        let mut rest = 0x7fff_fff0u32.to_le_bytes().to_vec();
        rest.extend([0xAB; 40]);
        append(&path, &rest);
        let mut reader = LogReader::open(&dir, &FileOptions::default(), None).unwrap();
        // Not caught up before the error: the reader does not wait at the length field.
        let (got, err) = read_to_error(&mut reader);
        assert_eq!(got, vec![0, 1, 2]);
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains("2147483632-byte"), "{err}");
        // It stays refused (read afresh, not from a stale buffer), and the task's read path
        // gives it up to the pool's, which says the same.
        assert!(reader.try_read_now().is_none_or(|batch| batch.is_ok()));
        let again = reader.read_batch(None).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::InvalidData, "{again}");
        drop(reader); // Windows: an open file keeps its directory from being removed.
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A cursor at the first record of a segment checks the last record of the segment
    /// before; a cursor whose checked record retention deleted resumes unchecked.
    #[test]
    fn a_cursor_checks_the_record_before_it_across_a_segment_boundary() {
        let dir = temp_dir("cursor-boundary");
        segment(&dir, 5, 0, 5);
        segment(&dir, 6, 5, 3);
        let crc4 = u32::from_le_bytes(record(5, 4, &payload(4, 10))[4..8].try_into().unwrap());
        let read_from = |position| -> io::Result<Vec<u64>> {
            cursor::store(&dir, "c", position, false, 0o600).unwrap();
            let spec = CursorSpec {
                name: "c".to_owned(),
                auto: false,
            };
            let mut reader = LogReader::open(&dir, &FileOptions::default(), Some(spec))?;
            read_seqs(&mut reader)
        };
        let at = |last_crc| Position {
            next_seq: 5,
            last_crc: Some(last_crc),
        };
        assert_eq!(read_from(at(crc4)).unwrap(), vec![5, 6, 7]);
        let err = read_from(at(!crc4)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains("record 4 "), "{err}");
        assert!(err.to_string().contains("c.cursor"), "{err}");
        // An unchecked cursor (the first format) resumes as before.
        assert_eq!(read_from(Position::at(6)).unwrap(), vec![6, 7]);
        std::fs::remove_file(segment_path(&dir, 0)).unwrap();
        assert_eq!(read_from(at(!crc4)).unwrap(), vec![5, 6, 7]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The variable that makes [`log_end_under_an_address_limit`] run, naming its log.
    #[cfg(target_os = "linux")]
    const HUGE_END_DIR: &str = "ANYIPC_TEST_HUGE_END_DIR";

    /// Where a consumer starting at the end of the log in `dir` starts, found in a child
    /// process under the address-space limit (its output).
    #[cfg(target_os = "linux")]
    fn end_under_an_address_limit(dir: &Path) -> String {
        crate::test_support::run_child_test(
            "file::log_reader::tests::log_end_under_an_address_limit",
            HUGE_END_DIR,
            dir,
        )
    }

    /// The child of the tests of huge segments: finds the end of the log its variable names
    /// (and where a `from=end` consumer starts) under the address-space limit. A no-op
    /// without the variable.
    #[cfg(target_os = "linux")]
    #[test]
    fn log_end_under_an_address_limit() {
        let Some(dir) = std::env::var_os(HUGE_END_DIR) else {
            return;
        };
        crate::test_support::limit_address_space();
        let dir = PathBuf::from(dir);
        let end = log_end(&dir).unwrap();
        let from_end = FileOptions {
            from: StartFrom::End,
            ..FileOptions::default()
        };
        let start = LogReader::open(&dir, &from_end, None).unwrap().start();
        println!("end: {end}, from=end starts at {}", start.next_seq);
    }

    /// A consumer starting at the end finds it by reading the last segment a window at a
    /// time: here its records are followed by gigabytes of (sparse) zeros, which it used to
    /// read whole into memory; it runs in a child whose address space is an eighth of the
    /// file.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_end_of_a_huge_last_segment_is_found_without_reading_it_whole() {
        use crate::test_support::{extend_sparse, HUGE_FILE};
        let dir = temp_dir("huge-last-segment");
        let path = segment(&dir, 5, 0, 3);
        extend_sparse(&path, std::fs::metadata(&path).unwrap().len() + HUGE_FILE);
        let stdout = end_under_an_address_limit(&dir);
        assert!(stdout.contains("end: 3, from=end starts at 3"), "{stdout}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The end a consumer starting at the end finds is the one the whole-file scan gives:
    /// after a torn record, before damage with valid records after it, at the base for a
    /// segment without its header.
    #[test]
    fn the_end_is_where_the_valid_records_end() {
        let dir = temp_dir("end-verdicts");
        let path = segment(&dir, 5, 0, 4);
        assert_eq!(log_end(&dir).unwrap(), 4);
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..whole.len() - 3]).unwrap();
        assert_eq!(log_end(&dir).unwrap(), 3);
        let mut damaged = whole.clone();
        damaged[SEGMENT_HEADER_LEN + 18 + 9] ^= 1;
        std::fs::write(&path, &damaged).unwrap();
        assert_eq!(log_end(&dir).unwrap(), 1);
        // A record larger than the window the end is searched through, whole and torn.
        let mut large = whole.clone();
        large.extend(record(5, 4, &payload(4, 3 * READ_CHUNK + 5)));
        std::fs::write(&path, &large).unwrap();
        assert_eq!(log_end(&dir).unwrap(), 5);
        std::fs::write(&path, &large[..large.len() - 1]).unwrap();
        assert_eq!(log_end(&dir).unwrap(), 4);
        // A header naming another first record: none of its records count.
        let mut other = SegmentHeader::new(5, 1).encode().to_vec();
        other.extend(record(5, 1, &payload(1, 10)));
        std::fs::write(&path, &other).unwrap();
        assert_eq!(log_end(&dir).unwrap(), 0);
        std::fs::write(segment_path(&dir, 4), [0u8; 10]).unwrap();
        assert_eq!(log_end(&dir).unwrap(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A record header announcing a payload of twice the child's address space, in a sparse
    /// file long enough to hold it: the search for the end checks its CRC a window at a
    /// time, where it used to read the record whole first (a torn or hostile length field
    /// cost that much memory). An invalid record ends the valid ones; a valid one, as large,
    /// counts.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_huge_length_field_is_checked_a_window_at_a_time_by_the_search_for_the_end() {
        use crate::file::record::record_crc_start;
        use crate::test_support::{extend_sparse, ADDRESS_LIMIT};
        let dir = temp_dir("huge-length-end");
        let salt = 5;
        let path = segment(&dir, salt, 0, 1);
        let at = std::fs::metadata(&path).unwrap().len();
        let len = u32::try_from(2 * ADDRESS_LIMIT).unwrap();
        // Zeros for a payload: its CRC field is wrong (0), then right.
        let mut header = [0u8; 8];
        header[..4].copy_from_slice(&len.to_le_bytes());
        append(&path, &header);
        extend_sparse(&path, at + 8 + u64::from(len) + 100);
        let stdout = end_under_an_address_limit(&dir);
        assert!(stdout.contains("end: 1, from=end starts at 1"), "{stdout}");

        let zeros = vec![0u8; 1 << 20];
        let mut crc = record_crc_start(salt, 1, len);
        for _ in 0..len as usize / zeros.len() {
            crc = crc32c::crc32c_append(crc, &zeros);
        }
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&file, &crc.to_le_bytes(), at + 4).unwrap();
        drop(file);
        let stdout = end_under_an_address_limit(&dir);
        assert!(stdout.contains("end: 2, from=end starts at 2"), "{stdout}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A FIFO named like a segment: refused at once, not read (or opened) for ever.
    #[cfg(unix)]
    #[test]
    fn a_fifo_named_like_a_segment_is_invalid_data_not_a_hang() {
        let dir = temp_dir("fifo-segment");
        segment(&dir, 5, 0, 2);
        let status = std::process::Command::new("mkfifo")
            .arg(segment_path(&dir, 2))
            .status()
            .unwrap();
        assert!(status.success());
        let (done, outcome) = std::sync::mpsc::channel();
        let reading = dir.clone();
        std::thread::spawn(move || {
            let mut reader = LogReader::open(&reading, &FileOptions::default(), None).unwrap();
            let mut got = Vec::new();
            let err = loop {
                match reader.read_batch(None) {
                    Ok(batch) => got.extend(records(batch).into_iter().map(|(seq, _)| seq)),
                    Err(e) => break e,
                }
            };
            let _ = done.send((got, err));
        });
        let (got, err) = outcome
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the reader hangs on the FIFO");
        assert_eq!(got, vec![0, 1]);
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        // Starting at the end reads the last segment first: the FIFO is refused there too.
        let (done, outcome) = std::sync::mpsc::channel();
        let opening = dir.clone();
        std::thread::spawn(move || {
            let from_end = FileOptions {
                from: StartFrom::End,
                ..FileOptions::default()
            };
            let _ = done.send(LogReader::open(&opening, &from_end, None).map(drop));
        });
        let err = outcome
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("opening at the end hangs on the FIFO")
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
