//! [`LogReader`]: the blocking side of a log consumer — positioning at a sequence number,
//! validating and reading records across segments, and auto-commit of its cursor.

use super::record::{decode_record, Decoded, SegmentHeader, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::scan::{classify_invalid, scan_segment, Tail};
use super::segment::{corrupt, list_segments, segment_path};
use super::tailer::{Batch, Chunk, TailSource};
use super::{cursor, FileOptions, FsyncPolicy, StartFrom};
use crate::codec::FrameError;
use crate::sys;
use bytes::Bytes;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Most bytes read from a segment at once.
const READ_CHUNK: u64 = 1 << 20;
/// A batch stops growing past this many payload bytes.
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
    seg: Option<OpenSegment>,
    auto_commit: Option<AutoCommit>,
}

#[derive(Debug)]
struct OpenSegment {
    base: u64,
    file: File,
    salt: u32,
    /// File offset of record `seq`.
    offset: u64,
    seq: u64,
    /// A newer segment exists, so this one is complete.
    sealed: bool,
}

#[derive(Debug)]
struct AutoCommit {
    name: String,
    committed: u64,
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
    /// may start before the producer), starting at `cursor`'s committed position, else where
    /// `opts.from` says.
    ///
    /// # Errors
    /// `InvalidData` for a damaged cursor or last segment (with `from=end`); `InvalidInput`
    /// when `dir` is a file; OS errors.
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
            Err(e) if e.kind() == io::ErrorKind::NotFound => sys::create_private_dir(dir)?,
            Err(e) => return Err(e),
        }
        let committed = match &cursor {
            Some(spec) => cursor::load(dir, &spec.name)?,
            None => None,
        };
        let next_seq = match (committed, opts.from) {
            (Some(seq), _) => seq,
            (None, StartFrom::Start) => 0,
            (None, StartFrom::End) => log_end(dir)?,
        };
        let auto_commit = cursor.filter(|spec| spec.auto).map(|spec| AutoCommit {
            name: spec.name,
            committed: committed.unwrap_or(next_seq),
            last: Instant::now(),
            durable: opts.fsync != FsyncPolicy::Never,
            mode: opts.mode,
        });
        Ok(LogReader {
            dir: dir.to_owned(),
            max_frame: opts.max_frame,
            next_seq,
            seg: None,
            auto_commit,
        })
    }

    /// The sequence number of the next record this reader returns.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Commits the auto-commit cursor at `next_seq` (the record after the last one
    /// delivered) if it is behind.
    ///
    /// # Errors
    /// OS errors writing the cursor.
    pub(crate) fn commit_at(&mut self, next_seq: u64) -> io::Result<()> {
        if let Some(ac) = &mut self.auto_commit {
            if next_seq != ac.committed {
                cursor::store(&self.dir, &ac.name, next_seq, ac.durable, ac.mode)?;
                ac.committed = next_seq;
                ac.last = Instant::now();
            }
        }
        Ok(())
    }

    /// Commits at `delivered` if the last commit is 1,000 records or a second old.
    fn maybe_auto_commit(&mut self, delivered: u64) -> io::Result<()> {
        let due = self.auto_commit.as_ref().is_some_and(|ac| {
            delivered != ac.committed
                && (delivered.abs_diff(ac.committed) >= AUTO_COMMIT_RECORDS
                    || ac.last.elapsed() >= AUTO_COMMIT_PERIOD)
        });
        if due {
            self.commit_at(delivered)?;
        }
        Ok(())
    }

    /// Opens the segment holding `next_seq`; `false` if there is none yet.
    fn position(&mut self) -> io::Result<bool> {
        for _attempt in 0..8 {
            let bases = list_segments(&self.dir)?;
            let Some(&first) = bases.first() else {
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
            let base = bases
                .iter()
                .copied()
                .filter(|&b| b <= self.next_seq)
                .max()
                .unwrap_or(first);
            let mut file = match sys::open_read(&segment_path(&self.dir, base)) {
                Ok(file) => file,
                // Deleted by retention between listing and opening: list again.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let mut header = [0u8; SEGMENT_HEADER_LEN];
            let got = read_up_to(&mut file, &mut header)?;
            if got < SEGMENT_HEADER_LEN {
                // The writer is creating it (or a crash interrupted that: the writer's
                // recovery rewrites it).
                return Ok(false);
            }
            let header = SegmentHeader::decode(&header)
                .filter(|h| h.base_seq == base)
                .ok_or_else(|| {
                    corrupt(
                        &self.dir,
                        format!("segment {base:020}.log has a damaged header"),
                    )
                })?;
            self.seg = Some(OpenSegment {
                base,
                file,
                salt: header.salt,
                offset: SEGMENT_HEADER_LEN as u64,
                seq: base,
                sealed: false,
            });
            return Ok(true);
        }
        Err(io::Error::other(format!(
            "file://{}: segments keep disappearing while opening (retention too small?)",
            self.dir.display()
        )))
    }

    /// A newer segment than `seg` exists.
    fn newer_segment_exists(&self, seg: &OpenSegment, clean_end: bool) -> io::Result<bool> {
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
        // for newer ones and waiting for the disk are left to `read_batch`.
        let seg = self.seg.as_mut().filter(|seg| !seg.sealed)?;
        let avail = seg.file.metadata().ok()?.len().saturating_sub(seg.offset);
        if avail == 0 {
            return None;
        }
        let mut buf = Vec::new();
        sys::read_at_nowait(
            &seg.file,
            &mut buf,
            avail.min(READ_CHUNK) as usize,
            seg.offset,
        )?;
        let data = Bytes::from(buf);
        let mut spans = Vec::new();
        let mut batch_bytes = 0;
        let parsed = parse_chunk(
            &self.dir,
            seg,
            &data,
            avail,
            self.max_frame,
            &mut self.next_seq,
            &mut spans,
            &mut batch_bytes,
        );
        if spans.is_empty() {
            // An error or a partial record: let the blocking path look again and report it.
            return parsed.err().map(Err);
        }
        let mut batch = Batch::default();
        batch.chunks.push(Chunk { data, spans });
        Some(Ok(batch))
    }

    fn read_batch(&mut self, delivered: Option<u64>) -> io::Result<Batch> {
        self.maybe_auto_commit(delivered.unwrap_or(self.next_seq))?;
        let mut batch = Batch::default();
        let mut batch_bytes = 0;
        loop {
            if self.seg.is_none() && !self.position()? {
                batch.caught_up = true;
                return Ok(batch);
            }
            let Some(mut seg) = self.seg.take() else {
                continue;
            };
            let step = read_segment(
                &self.dir,
                &mut seg,
                self.max_frame,
                &mut self.next_seq,
                &mut batch,
                &mut batch_bytes,
            );
            self.seg = Some(seg);
            let end = match step {
                Ok(end) => end,
                // Deliver the good records before the damage first; the next read, starting
                // at the damaged record, reports it.
                Err(_) if !batch.chunks.is_empty() => return Ok(batch),
                Err(e) => return Err(e),
            };
            let Some(mut seg) = self.seg.take() else {
                continue;
            };
            match end {
                SegmentEnd::More => {
                    self.seg = Some(seg);
                    if batch_bytes >= BATCH_BYTES {
                        return Ok(batch);
                    }
                }
                SegmentEnd::AtEnd { clean } => {
                    if seg.sealed {
                        if !clean {
                            return Err(corrupt(
                                &self.dir,
                                format!(
                                    "segment {:020}.log is damaged at byte {} (record {}) and \
                                     a newer segment follows it",
                                    seg.base, seg.offset, seg.seq
                                ),
                            ));
                        }
                        // Move on to the next segment, which must start where this one ends.
                        let next = list_segments(&self.dir)?
                            .into_iter()
                            .find(|&b| b > seg.base);
                        if next != Some(seg.seq) {
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
                    if self.newer_segment_exists(&seg, clean)? {
                        // Read this one to its end once more: the writer finished it before
                        // starting the next, but maybe after our read.
                        seg.sealed = true;
                        self.seg = Some(seg);
                        continue;
                    }
                    self.seg = Some(seg);
                    batch.caught_up = true;
                    return Ok(batch);
                }
            }
        }
    }
}

enum SegmentEnd {
    /// More bytes may be there right now.
    More,
    /// The valid records end here for now; `clean` if at the end of the file, not before
    /// invalid bytes.
    AtEnd { clean: bool },
}

/// Reads one chunk of `seg` at its offset and takes the valid records in it.
fn read_segment(
    dir: &Path,
    seg: &mut OpenSegment,
    max_frame: usize,
    next_seq: &mut u64,
    batch: &mut Batch,
    batch_bytes: &mut usize,
) -> io::Result<SegmentEnd> {
    let file_len = seg.file.metadata()?.len();
    let avail = file_len.saturating_sub(seg.offset);
    if avail == 0 {
        return Ok(SegmentEnd::AtEnd { clean: true });
    }
    // Enough for a whole record even when it is larger than one chunk.
    let want = want_len(&mut seg.file, seg.offset, avail)?;
    let mut buf = Vec::with_capacity(want as usize);
    seg.file.seek(SeekFrom::Start(seg.offset))?;
    (&mut seg.file).take(want).read_to_end(&mut buf)?;
    let data = Bytes::from(buf);
    let mut spans = Vec::new();
    let end = parse_chunk(
        dir,
        seg,
        &data,
        avail,
        max_frame,
        next_seq,
        &mut spans,
        batch_bytes,
    );
    if !spans.is_empty() {
        batch.chunks.push(Chunk { data, spans });
    }
    end
}

/// Takes the valid records at the start of `data` (read at `seg.offset`, with `avail` bytes
/// in the file from there) into `spans`, and moves `seg` past them.
#[allow(clippy::too_many_arguments)]
fn parse_chunk(
    dir: &Path,
    seg: &mut OpenSegment,
    data: &[u8],
    avail: u64,
    max_frame: usize,
    next_seq: &mut u64,
    spans: &mut Vec<(u64, usize, usize)>,
    batch_bytes: &mut usize,
) -> io::Result<SegmentEnd> {
    let got = data.len();
    let mut pos = 0;
    loop {
        if pos == data.len() {
            seg.offset += pos as u64;
            return Ok(if (pos as u64) < avail {
                SegmentEnd::More
            } else {
                SegmentEnd::AtEnd { clean: true }
            });
        }
        match decode_record(&data[pos..], seg.salt, seg.seq, u32::MAX as usize) {
            Decoded::Record { len } => {
                let payload = len - RECORD_HEADER_LEN;
                if payload > max_frame {
                    seg.offset += pos as u64;
                    return Err(FrameError::TooLarge {
                        len: payload as u64,
                        max: max_frame,
                    }
                    .into());
                }
                if seg.seq >= *next_seq {
                    spans.push((seg.seq, pos + RECORD_HEADER_LEN, pos + len));
                    *next_seq = seg.seq + 1;
                    *batch_bytes += len;
                }
                seg.seq += 1;
                pos += len;
            }
            Decoded::Incomplete => {
                seg.offset += pos as u64;
                // Short of a whole record: either the chunk ended (read on) or the file did.
                return Ok(if (got as u64) < avail && pos > 0 {
                    SegmentEnd::More
                } else {
                    SegmentEnd::AtEnd { clean: false }
                });
            }
            Decoded::Invalid => {
                seg.offset += pos as u64;
                if classify_invalid(&data[pos..], seg.salt, seg.seq, u32::MAX as usize)
                    == Tail::Corrupt
                {
                    return Err(corrupt(
                        dir,
                        format!(
                            "segment {:020}.log is damaged at byte {} (record {}); valid records \
                             follow, so it is not a torn tail",
                            seg.base, seg.offset, seg.seq
                        ),
                    ));
                }
                // A torn tail the writer's recovery will cut off and rewrite.
                return Ok(SegmentEnd::AtEnd { clean: false });
            }
        }
    }
}

/// How many bytes to read at `offset`: one chunk, or the whole first record when it is
/// bigger (never more than the file has).
fn want_len(file: &mut File, offset: u64, avail: u64) -> io::Result<u64> {
    let mut header = [0u8; RECORD_HEADER_LEN];
    file.seek(SeekFrom::Start(offset))?;
    let got = read_up_to(file, &mut header)?;
    let first = if got == RECORD_HEADER_LEN {
        RECORD_HEADER_LEN as u64
            + u64::from(u32::from_le_bytes([
                header[0], header[1], header[2], header[3],
            ]))
    } else {
        0
    };
    Ok(avail.min(READ_CHUNK.max(first)))
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The sequence number after the last valid record of the log in `dir`.
///
/// # Errors
/// OS errors reading the last segment.
pub(crate) fn log_end(dir: &Path) -> io::Result<u64> {
    let Some(&base) = list_segments(dir)?.last() else {
        return Ok(0);
    };
    let bytes = match std::fs::read(segment_path(dir, base)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(base),
        Err(e) => return Err(e),
    };
    Ok(scan_segment(&bytes, u32::MAX as usize)
        .next_seq()
        .unwrap_or(base))
}
