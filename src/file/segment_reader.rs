//! [`SegmentReader`]: buffered reading of one segment — whole validated records out of a
//! buffer the file is read into, with no copy and no allocation per record.
//!
//! ```text
//!  file:  … | taken records | buf: bytes read, not taken (at most one partial record) | …
//!                           ^ offset (record `seq` starts here)
//! ```
//!
//! Records taken leave the buffer as one shared [`Bytes`](bytes::Bytes) (a [`Chunk`]); once the consumer
//! has dropped them, the next read reuses the same memory. A partial record is kept for the
//! next read, except at the end of the file: there it is dropped and read again, fresh, next
//! time, because it may be a torn tail that a restarted producer cuts off and rewrites.

use super::record::{announced_len, decode_record, stored_crc, Decoded, RECORD_HEADER_LEN};
use super::scan::{classify_invalid, Tail};
use super::segment::os_error;
use super::tailer::Chunk;
use crate::sys;
use bytes::{Buf, BytesMut};
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

/// What [`SegmentReader::classify`] makes of a record that, read afresh, ends past the end
/// of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Incomplete {
    /// A torn tail: the record was found invalid before, and the file has been cut since.
    Torn,
    /// Whatever the search for valid records after it finds.
    Search,
}

/// The most a read of a segment asks for at once.
pub(crate) const READ_CHUNK: usize = 1 << 20;
/// What the first read asks for, and the least any read asks for.
const MIN_READ: usize = 4096;

/// What stopped [`SegmentReader::take_records`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The buffer is empty or ends inside the record at its front.
    NeedMore,
    /// The record at the front is invalid, as far as the buffered bytes go.
    Invalid,
    /// The record at the front announces a payload (this long) over `max_frame`: it is
    /// refused as soon as its length field is read, not read whole first (a damaged length
    /// field could otherwise make the reader read, and wait for, up to 4 GiB).
    TooLarge(usize),
    /// The record at the front is valid, but it is the record a resumed consumer checks
    /// (the one its cursor says it read last) and its CRC is not the one the cursor holds.
    Rewritten,
}

/// One segment file being read, from record `seq` (at byte `offset`) on.
#[derive(Debug)]
pub(crate) struct SegmentReader {
    pub(crate) base: u64,
    file: File,
    /// The file's path, for error messages.
    path: PathBuf,
    salt: u32,
    /// File offset of `buf[0]`: where record `seq` starts.
    pub(crate) offset: u64,
    pub(crate) seq: u64,
    /// Bytes read at `offset` not yet taken as records.
    buf: BytesMut,
    /// A newer segment exists, so this one is complete.
    pub(crate) sealed: bool,
    /// What the next read asks for (unless the record at the front needs more): twice what
    /// the last read that found data got, from [`MIN_READ`] to [`READ_CHUNK`]. A read
    /// reserves what it asks for and the messages returned share that allocation, so a
    /// message kept by the caller keeps at most about twice what arrived with it — except
    /// the first read after a backlog (reads of a full 1 MiB), whose messages share a 1 MiB
    /// allocation. No `stat` of the file per read is needed to size it.
    read_size: usize,
    /// The largest payload this reader takes; a longer one is [`Stop::TooLarge`].
    max_frame: usize,
    /// The file's identity, to tell whether its path still names it.
    identity: Option<sys::FileIdentity>,
}

impl SegmentReader {
    /// Reads `file` (at `path`), segment `base` salted with `salt`, from its first record at
    /// `offset`, taking payloads of up to `max_frame` bytes.
    pub(crate) fn new(
        base: u64,
        file: File,
        path: PathBuf,
        salt: u32,
        offset: u64,
        max_frame: usize,
    ) -> SegmentReader {
        let identity = sys::FileIdentity::of_file(&file).ok();
        SegmentReader {
            identity,
            base,
            file,
            path,
            salt,
            offset,
            seq: base,
            buf: BytesMut::new(),
            sealed: false,
            read_size: MIN_READ,
            max_frame,
        }
    }

    /// The largest payload this reader takes.
    pub(crate) fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Whether `path` still names the file this reader reads (`false` when nothing is
    /// there, or another file: the segment was deleted, or its log directory replaced).
    ///
    /// # Errors
    /// OS errors looking at `path` other than `NotFound`.
    pub(crate) fn is_at(&self, path: &std::path::Path) -> io::Result<bool> {
        let Some(identity) = self.identity else {
            return Ok(true);
        };
        match sys::names_file(path, identity) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            named => named,
        }
    }

    /// How many bytes the buffer should hold for the next step: the next read's size, or
    /// the whole record at its front when that is larger (and not over `max_frame`: such a
    /// record is refused by its length field alone).
    fn wanted(&self) -> usize {
        let front = announced_len(&self.buf)
            .filter(|&len| len <= self.max_frame)
            .unwrap_or(0);
        self.read_size.max(RECORD_HEADER_LEN.saturating_add(front))
    }

    /// Sizes the next read after one that got `got` bytes: twice that. A read at the end
    /// (0 bytes) says nothing about how fast data comes and keeps the size.
    fn adapt_read_size(&mut self, got: usize) {
        if got == 0 {
            return;
        }
        self.read_size = got.saturating_mul(2).clamp(MIN_READ, READ_CHUNK);
    }

    /// Reads on after the buffer if that needs no disk I/O; returns the bytes read (0 at the
    /// end of the file, or without reading when the buffer already holds what the record at
    /// its front needs, which then cannot be a `NeedMore`), or `None` when it would block
    /// (or cannot be done without blocking here). A short read does not prove the end: the
    /// rest may just not be cached.
    pub(crate) fn fill_nowait(&mut self) -> Option<usize> {
        let want = self.wanted().saturating_sub(self.buf.len()).min(READ_CHUNK);
        if want == 0 {
            return Some(0);
        }
        let at = self.offset + self.buf.len() as u64;
        let got = sys::read_at_nowait(&self.file, &mut self.buf, want, at)?;
        self.adapt_read_size(got);
        Some(got)
    }

    /// Reads on after the buffer until it holds `want` bytes or the file ends (blocking);
    /// returns whether the file ended first.
    ///
    /// # Errors
    /// OS errors reading.
    pub(crate) fn fill(&mut self, want: usize) -> io::Result<bool> {
        while self.buf.len() < want {
            let at = self.offset + self.buf.len() as u64;
            let step = (want - self.buf.len()).min(READ_CHUNK);
            let got = sys::read_at(&self.file, &mut self.buf, step, at)
                .map_err(|e| os_error("cannot read", &self.path, e))?;
            self.adapt_read_size(got);
            if got == 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// [`fill`](Self::fill)s the usual amount: a chunk, or the whole record at the front.
    ///
    /// # Errors
    /// OS errors reading.
    pub(crate) fn fill_chunk(&mut self) -> io::Result<bool> {
        self.fill(self.wanted())
    }

    /// Takes the whole valid records at the front of the buffer and moves past them: those
    /// from `next_seq` on become the returned chunk (and `next_seq` moves past them), older
    /// ones are skipped. `check` is a record that must have a given CRC field (a resumed
    /// consumer's last): met with it, it is cleared; met with another, it stops the take.
    /// Says what stopped it.
    pub(crate) fn take_records(
        &mut self,
        next_seq: &mut u64,
        check: &mut Option<(u64, u32)>,
    ) -> (Option<Chunk>, Stop) {
        let mut pos = 0;
        let mut seq = self.seq;
        // Bytes and sequence number after the records below `next_seq`.
        let (mut skip, mut first) = (0, seq);
        // Where the last whole record starts: its CRC field goes with the chunk.
        let mut last_start = 0;
        let stop = loop {
            let rest = &self.buf[pos..];
            if let Some(len) = announced_len(rest).filter(|&len| len > self.max_frame) {
                break Stop::TooLarge(len);
            }
            match decode_record(rest, self.salt, seq, self.max_frame) {
                Decoded::Record { len } => {
                    if let Some((_, expected)) = check.filter(|&(at, _)| at == seq) {
                        if stored_crc(rest) != Some(expected) {
                            break Stop::Rewritten;
                        }
                        *check = None;
                    }
                    last_start = pos;
                    pos += len;
                    // No overflow: the segment's base is at most `MAX_BASE_SEQ`, checked when
                    // it was opened.
                    seq += 1;
                    if seq <= *next_seq {
                        (skip, first) = (pos, seq);
                    }
                }
                Decoded::Incomplete => break Stop::NeedMore,
                Decoded::Invalid => break Stop::Invalid,
            }
        };
        // A whole record holds its CRC field.
        let last_crc = stored_crc(&self.buf[last_start..]).unwrap_or_default();
        self.buf.advance(skip);
        let chunk = (pos > skip).then(|| {
            *next_seq = seq;
            Chunk::Records {
                data: self.buf.split_to(pos - skip).freeze(),
                pos: 0,
                seq: first,
                end: seq,
                last_crc,
            }
        });
        self.offset += pos as u64;
        self.seq = seq;
        (chunk, stop)
    }

    /// Forgets the buffered bytes (a partial record): the next read starts at `offset`.
    pub(crate) fn forget_partial(&mut self) {
        self.buf.clear();
    }

    /// Reads the invalid record at `offset` and what follows it afresh (blocking) and tells
    /// whether it is a torn tail or corruption — or `None` if, read afresh, it is valid after
    /// all (a torn tail rewritten by a restarted producer since it was buffered).
    ///
    /// What is read: the record the invalid one's length field points past, whole, and two
    /// records of `max_frame` for the search of the other places the next record could start
    /// (its length field may be the damaged part), at most [`CLASSIFY_READ_MAX`] in all.
    ///
    /// # Errors
    /// OS errors reading.
    pub(crate) fn classify_front(&mut self) -> io::Result<Option<Tail>> {
        self.classify(Incomplete::Torn)
    }

    /// Reads the partial record at the end of the file afresh (blocking) and tells whether
    /// it is a torn tail — or corruption: its length field points past the end, but valid
    /// records follow where its real end could be (a damaged length field, which would
    /// otherwise hide every record after it as the tail of a write under way). `None` if,
    /// read afresh, it is whole and valid (its write has ended since).
    ///
    /// Reads what [`classify_front`](Self::classify_front) reads, up to the end of the file.
    ///
    /// # Errors
    /// OS errors reading.
    pub(crate) fn classify_partial_end(&mut self) -> io::Result<Option<Tail>> {
        self.classify(Incomplete::Search)
    }

    /// When the bytes buffered are a partial record (the read stopped inside it): the file
    /// offset after them (the length of the file the last read found, if it stopped at the
    /// end), and the record's first [`RECORD_HEADER_LEN`] bytes, zero-padded (its length
    /// and CRC fields: another record written at the same place has others).
    pub(crate) fn partial_end(&self) -> Option<(u64, [u8; RECORD_HEADER_LEN])> {
        if self.buf.is_empty() {
            return None;
        }
        let mut head = [0; RECORD_HEADER_LEN];
        let known = self.buf.len().min(RECORD_HEADER_LEN);
        head[..known].copy_from_slice(&self.buf[..known]);
        Some((self.offset + self.buf.len() as u64, head))
    }

    /// [`classify_once`](Self::classify_once), and when that finds corruption, once more
    /// from a fresh read: the file may have changed between the reads of the first (a
    /// restarted producer cutting a torn tail off and writing new records there), leaving
    /// old bytes before new ones in the buffer. Damage is there both times.
    fn classify(&mut self, incomplete: Incomplete) -> io::Result<Option<Tail>> {
        match self.classify_once(incomplete)? {
            Some(Tail::Corrupt) => self.classify_once(incomplete),
            verdict => Ok(verdict),
        }
    }

    fn classify_once(&mut self, incomplete: Incomplete) -> io::Result<Option<Tail>> {
        let max_frame = self.max_frame;
        self.buf.clear();
        let mut eof = self.fill_chunk()?;
        // The whole record at the front, if the file holds it: the first read stops at the
        // read size, which a large record passes.
        let front = RECORD_HEADER_LEN.saturating_add(announced_len(&self.buf).unwrap_or(0));
        if !eof {
            eof = self.fill(front.min(CLASSIFY_READ_MAX))?;
        }
        match decode_record(&self.buf, self.salt, self.seq, u32::MAX as usize) {
            Decoded::Record { .. } => return Ok(None),
            Decoded::Incomplete if eof && incomplete == Incomplete::Torn => {
                return Ok(Some(Tail::Torn))
            }
            _ => {}
        }
        // Enough for the record its length field points past and the one after that (as
        // before the search), and for two records of `max_frame` (the search's window).
        let record = RECORD_HEADER_LEN.saturating_add(max_frame);
        let pointed = RECORD_HEADER_LEN.saturating_add(announced_len(&self.buf).unwrap_or(0));
        if !self.fill(
            pointed
                .saturating_add(RECORD_HEADER_LEN)
                .min(CLASSIFY_READ_MAX),
        )? {
            let next_len = self.buf.get(pointed..).and_then(announced_len).unwrap_or(0);
            let next_end = pointed.saturating_add(RECORD_HEADER_LEN + next_len);
            self.fill(next_end.min(CLASSIFY_READ_MAX))?;
        }
        self.fill(record.saturating_mul(2).min(CLASSIFY_READ_MAX))?;
        let verdict = classify_buffered(&self.buf, self.salt, self.seq);
        self.buf.clear();
        Ok(verdict)
    }
}

/// What the bytes of a segment from record `seq` on, read for a check, say of that record:
/// `None` when it is whole and valid — a record that ran past the end of the file at the
/// first read may have been written whole since (a write under way), and then it and the
/// next one are valid, which [`classify_invalid`] alone, whose record is invalid, would
/// take for a damaged record followed by valid ones. Records over `max_frame` are still
/// records here: the next one may be one.
fn classify_buffered(bytes: &[u8], salt: u32, seq: u64) -> Option<Tail> {
    match decode_record(bytes, salt, seq, u32::MAX as usize) {
        Decoded::Record { .. } => None,
        _ => Some(classify_invalid(bytes, salt, seq, u32::MAX as usize)),
    }
}

/// The most [`SegmentReader::classify_front`] reads to tell a torn tail from corruption.
const CLASSIFY_READ_MAX: usize = 64 << 20;

/// Reads until `buf` is full or the file ends; returns the bytes read.
pub(crate) fn read_up_to(file: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_start_small_and_follow_what_the_file_delivers() {
        let path = std::env::temp_dir().join(format!("anyipc-sized-read-{}", std::process::id()));
        std::fs::write(&path, vec![1u8; 100]).unwrap();
        let mut reader = SegmentReader::new(
            0,
            sys::open_read(&path).unwrap(),
            path.clone(),
            0,
            0,
            1 << 20,
        );
        assert!(reader.fill_chunk().unwrap(), "the file ends first");
        assert_eq!(reader.buf.len(), 100);
        // A kept message would pin this allocation: a few KiB, not a 1 MiB chunk.
        assert!(
            reader.buf.capacity() < 64 * 1024,
            "{}",
            reader.buf.capacity()
        );
        assert_eq!(reader.read_size, MIN_READ);
        // Full reads double the next one, up to READ_CHUNK; a short one sizes it to twice
        // what it got.
        reader.adapt_read_size(MIN_READ);
        assert_eq!(reader.read_size, 2 * MIN_READ);
        reader.adapt_read_size(READ_CHUNK);
        assert_eq!(reader.read_size, READ_CHUNK);
        reader.adapt_read_size(10_000);
        assert_eq!(reader.read_size, 20_000);
        reader.adapt_read_size(0);
        assert_eq!(
            reader.read_size, 20_000,
            "the end of the file keeps the size"
        );
        std::fs::remove_file(&path).unwrap();
    }

    /// A record larger than a first read, whole and valid, with the next one after it: what
    /// a partial record seen at the end becomes once its write ends. Checked then, it is
    /// whole (`None`), never a damaged record followed by a valid one; one cut short with
    /// nothing after it is torn.
    #[test]
    fn a_large_record_written_whole_since_it_was_seen_partial_is_whole_not_damage() {
        let path = std::env::temp_dir().join(format!("anyipc-whole-since-{}", std::process::id()));
        let (salt, first) = (7, 40);
        let mut bytes = Vec::new();
        super::super::encode_record(&mut bytes, salt, first, &vec![0xAB; 3 * MIN_READ]);
        let whole = bytes.len();
        super::super::encode_record(&mut bytes, salt, first + 1, b"next");
        std::fs::write(&path, &bytes).unwrap();
        let open = || {
            let mut reader = SegmentReader::new(
                first,
                sys::open_read(&path).unwrap(),
                path.clone(),
                salt,
                0,
                1 << 20,
            );
            reader.seq = first;
            reader
        };
        assert_eq!(open().classify_partial_end().unwrap(), None);
        assert_eq!(open().classify_front().unwrap(), None);
        // Cut inside the large record: torn, whichever way it is asked.
        std::fs::write(&path, &bytes[..whole - 10]).unwrap();
        assert_eq!(open().classify_partial_end().unwrap(), Some(Tail::Torn));
        assert_eq!(open().classify_front().unwrap(), Some(Tail::Torn));
        std::fs::remove_file(&path).unwrap();
    }

    /// The bytes a check ends with, whatever the reads in between found: a whole record and
    /// the next one are the record whole (its write ended during the check), not damage; the
    /// same with the record's length field damaged to point past the end is damage.
    #[test]
    fn a_check_that_ends_with_the_record_whole_finds_it_whole() {
        let (salt, seq) = (7, 40);
        let mut bytes = Vec::new();
        super::super::encode_record(&mut bytes, salt, seq, &[0xAB; 100]);
        super::super::encode_record(&mut bytes, salt, seq + 1, b"next");
        assert_eq!(classify_buffered(&bytes, salt, seq), None);
        bytes[..4].copy_from_slice(&(1u32 << 20).to_le_bytes());
        assert_eq!(classify_buffered(&bytes, salt, seq), Some(Tail::Corrupt));
        assert_eq!(classify_buffered(&bytes[..50], salt, seq), Some(Tail::Torn));
    }
}
