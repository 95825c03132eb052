//! [`WindowedInput`]: a segment file as a [`ScanInput`], read a window at a time, so that
//! recovery scans a segment of any size (a large `segment_size`, or a huge or sparse file
//! named like a segment) in bounded memory, with the verdicts of the in-memory scan.

use super::record::{announced_len, record_crc, record_crc_start, stored_crc, SegmentHeader};
use super::record::{RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::scan::{DecodedAt, ScanInput};
use bytes::BytesMut;
use std::fs::File;
use std::io;

/// Something read at an offset: a file (`pread`), or bytes in memory (tests, fuzzing).
pub(crate) trait ReadAt {
    /// Appends up to `want` bytes read at `offset` to `buf`; returns how many, 0 at the end.
    ///
    /// # Errors
    /// OS errors reading.
    fn read_at(&self, buf: &mut BytesMut, want: usize, offset: u64) -> io::Result<usize>;
}

impl ReadAt for File {
    fn read_at(&self, buf: &mut BytesMut, want: usize, offset: u64) -> io::Result<usize> {
        crate::sys::read_at(self, buf, want, offset)
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut BytesMut, want: usize, offset: u64) -> io::Result<usize> {
        let rest = usize::try_from(offset)
            .ok()
            .and_then(|at| self.get(at..))
            .unwrap_or_default();
        let got = &rest[..rest.len().min(want)];
        buf.extend_from_slice(got);
        Ok(got.len())
    }
}

/// `len` bytes of `src`, read through a window of at most `window` bytes: the scan's reads
/// of headers and length fields are served from it, and a record's CRC is computed over
/// the window's contents one window at a time.
pub(crate) struct WindowedInput<'a, R: ReadAt + ?Sized> {
    src: &'a R,
    len: u64,
    /// Bytes `at..at + buf.len()` of `src`.
    buf: BytesMut,
    at: u64,
    window: usize,
}

impl<'a, R: ReadAt + ?Sized> WindowedInput<'a, R> {
    /// The first `len` bytes of `src` (a file's length when it was opened), read at most
    /// `window` bytes at a time (at least a segment header's worth).
    pub(crate) fn new(src: &'a R, len: u64, window: usize) -> Self {
        WindowedInput {
            src,
            len,
            buf: BytesMut::new(),
            at: 0,
            window: window.max(SEGMENT_HEADER_LEN),
        }
    }

    /// Bytes `at..at + n` (`n` at most the window, and within `len`), reading a window
    /// from `at` on unless the window holds them already.
    ///
    /// # Errors
    /// OS errors reading; `UnexpectedEof` when the file has shrunk below `len` meanwhile.
    fn bytes(&mut self, at: u64, n: usize) -> io::Result<&[u8]> {
        let held = at >= self.at && at + n as u64 <= self.at + self.buf.len() as u64;
        if !held {
            self.buf.clear();
            self.at = at;
            // Within `len`, which the caller keeps `at + n` under: fits in a `usize`.
            let want = (self.len - at).min(self.window as u64) as usize;
            while self.buf.len() < want {
                let (offset, rest) = (at + self.buf.len() as u64, want - self.buf.len());
                let got = self.src.read_at(&mut self.buf, rest, offset)?;
                if got == 0 {
                    break;
                }
            }
            if self.buf.len() < n {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the segment ended at byte {} while it was scanned, before its length \
                         when opened ({})",
                        at + self.buf.len() as u64,
                        self.len
                    ),
                ));
            }
        }
        // Inside the window, which is at most `window` bytes.
        let from = (at - self.at) as usize;
        Ok(&self.buf[from..from + n])
    }
}

impl<R: ReadAt + ?Sized> ScanInput for WindowedInput<'_, R> {
    type Error = io::Error;

    fn len(&self) -> u64 {
        self.len
    }

    fn header(&mut self) -> io::Result<Option<SegmentHeader>> {
        let n = self.len.min(SEGMENT_HEADER_LEN as u64) as usize;
        Ok(SegmentHeader::decode(self.bytes(0, n)?))
    }

    fn announced_len(&mut self, at: u64) -> io::Result<Option<u64>> {
        if self.len.saturating_sub(at) < 4 {
            return Ok(None);
        }
        Ok(announced_len(self.bytes(at, 4)?).map(|len| len as u64))
    }

    fn decode(&mut self, at: u64, salt: u32, seq: u64, max_len: u64) -> io::Result<DecodedAt> {
        let header_len = RECORD_HEADER_LEN as u64;
        if self.len.saturating_sub(at) < header_len {
            return Ok(DecodedAt::Incomplete);
        }
        let header = self.bytes(at, RECORD_HEADER_LEN)?;
        let (Some(len), Some(crc)) = (announced_len(header), stored_crc(header)) else {
            return Ok(DecodedAt::Incomplete);
        };
        let len = len as u64;
        if len > max_len {
            return Ok(DecodedAt::Invalid);
        }
        let record = header_len + len;
        if self.len - at < record {
            return Ok(DecodedAt::Incomplete);
        }
        let computed = if record <= self.window as u64 {
            let whole = self.bytes(at, record as usize)?;
            record_crc(salt, seq, &whole[RECORD_HEADER_LEN..])
        } else {
            // A payload larger than the window: its CRC one window at a time. The length
            // came from 4 bytes, so it is a `u32`.
            let mut computed = record_crc_start(salt, seq, len as u32);
            let (mut pos, end) = (at + header_len, at + record);
            while pos < end {
                let n = (end - pos).min(self.window as u64) as usize;
                computed = crc32c::crc32c_append(computed, self.bytes(pos, n)?);
                pos += n as u64;
            }
            computed
        };
        Ok(if computed == crc {
            DecodedAt::Record(record)
        } else {
            DecodedAt::Invalid
        })
    }
}
