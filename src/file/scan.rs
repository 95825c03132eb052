//! Recovery scan of one segment: the longest valid prefix, and what follows it.

use super::record::{decode_record, Decoded, SegmentHeader, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::scan_window::WindowedInput;
use std::ops::Range;

/// What ends a segment's valid prefix.
///
/// ```
/// use anyipc::file::{encode_record, scan_segment, SegmentHeader, Tail, RECORD_HEADER_LEN};
/// let mut seg = SegmentHeader::new(1, 0).encode().to_vec();
/// let second = seg.len() + RECORD_HEADER_LEN + 6; // where record 1 starts
/// for seq in 0..3 {
///     encode_record(&mut seg, 1, seq, b"record");
/// }
/// assert_eq!(scan_segment(&seg, 1024).tail, Tail::Clean);
/// seg[second + RECORD_HEADER_LEN] ^= 1; // a payload byte of record 1; record 2 intact
/// assert_eq!(scan_segment(&seg, 1024).tail, Tail::Corrupt);
/// seg.truncate(second + 3); // record 1 cut short, as by a crash mid-write
/// assert_eq!(scan_segment(&seg, 1024).tail, Tail::Torn);
/// assert_eq!(scan_segment(&seg[..10], 1024).tail, Tail::BadHeader);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// The valid records end exactly at the end of the bytes.
    Clean,
    /// Bytes after the valid prefix are not a whole valid record and nothing valid follows
    /// them: the tail of an interrupted write. Recovery cuts it off.
    Torn,
    /// The record at the end of the valid prefix is invalid, yet valid records follow it
    /// (found where its length field points, or by a bounded search of the offsets where
    /// the next record could start): bytes were corrupted in the middle. Never cut off
    /// silently.
    Corrupt,
    /// The segment header itself is missing or invalid.
    BadHeader,
}

/// The result of [`scan_segment`].
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::file::{scan_segment, FileOptions, FileProducer, Tail};
/// # let dir = std::env::temp_dir().join(format!("anyipc-doc-scan-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let mut log = FileProducer::open(&dir, FileOptions::default()).await?;
/// log.append_many(&["one", "two"]).await?;
/// log.close().await?;
/// let segment = std::fs::read(dir.join("00000000000000000000.log"))?;
/// let scan = scan_segment(&segment, 1 << 20);
/// assert_eq!((scan.tail, scan.valid_len), (Tail::Clean, segment.len()));
/// assert_eq!(&segment[scan.payloads[1].clone()], b"two");
/// # anyipc::file::remove(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentScan {
    /// The header, if valid.
    pub header: Option<SegmentHeader>,
    /// Byte ranges of the valid records' payloads, in order; record `i` has sequence number
    /// `header.base_seq + i`.
    pub payloads: Vec<Range<usize>>,
    /// Length of the valid prefix (header included): where the next record goes.
    pub valid_len: usize,
    /// What follows the valid prefix.
    pub tail: Tail,
}

impl SegmentScan {
    /// The sequence number the next record appended to this segment gets: `None` without a
    /// valid header, or when it would be past `u64::MAX` (a header no producer wrote).
    ///
    /// ```
    /// use anyipc::file::{encode_record, scan_segment, SegmentHeader};
    /// let mut seg = SegmentHeader::new(3, 500).encode().to_vec();
    /// assert_eq!(scan_segment(&seg, 1024).next_seq(), Some(500)); // empty: its base
    /// encode_record(&mut seg, 3, 500, b"x");
    /// assert_eq!(scan_segment(&seg, 1024).next_seq(), Some(501));
    /// assert_eq!(scan_segment(b"not a segment", 1024).next_seq(), None);
    /// ```
    pub fn next_seq(&self) -> Option<u64> {
        self.header
            .and_then(|h| h.base_seq.checked_add(self.payloads.len() as u64))
    }
}

/// Scans a whole segment: the header, then records while they are valid.
///
/// A record is valid when its length is at most `max_len` and its CRC matches the segment's
/// salt and its own sequence number. Never panics, whatever the bytes.
///
/// ```
/// use anyipc::file::{encode_record, scan_segment, SegmentHeader, Tail};
/// let header = SegmentHeader::new(7, 100);
/// let mut seg = header.encode().to_vec();
/// encode_record(&mut seg, 7, 100, b"one");
/// encode_record(&mut seg, 7, 101, b"two");
/// seg.extend_from_slice(&[3, 0]); // the first bytes of an interrupted write
/// let scan = scan_segment(&seg, 1024);
/// assert_eq!(scan.payloads.len(), 2);
/// assert_eq!(scan.tail, Tail::Torn);
/// assert_eq!(scan.next_seq(), Some(102));
/// ```
pub fn scan_segment(bytes: &[u8], max_len: usize) -> SegmentScan {
    let mut payloads = Vec::new();
    let end = infallible(scan_input(
        &mut SliceInput(bytes),
        max_len as u64,
        |start, end| {
            // Offsets within `bytes`: they fit in a `usize`.
            payloads.push(start as usize..end as usize);
        },
    ));
    SegmentScan {
        header: end.header,
        payloads,
        valid_len: end.valid_len as usize,
        tail: end.tail,
    }
}

/// What [`scan_input`] found: [`SegmentScan`] without the payloads' ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanEnd {
    /// The header, if valid.
    pub(crate) header: Option<SegmentHeader>,
    /// How many valid records follow the header.
    pub(crate) records: u64,
    /// Length of the valid prefix (header included).
    pub(crate) valid_len: u64,
    /// What follows the valid prefix.
    pub(crate) tail: Tail,
}

/// What [`ScanInput::decode`] found at an offset: [`Decoded`] with a 64-bit length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodedAt {
    /// A valid record, header and payload this many bytes long.
    Record(u64),
    /// The input ends inside the record.
    Incomplete,
    /// Length over the limit, or CRC mismatch.
    Invalid,
}

/// The bytes a scan reads: a slice ([`scan_segment`]), or a segment file read a window at a
/// time ([`WindowedInput`], for recovery and the search
/// for the log's end), so that a segment of any size is scanned in bounded memory, with
/// the same verdicts.
pub(crate) trait ScanInput {
    /// What a read may fail with (nothing, for a slice).
    type Error;
    /// How many bytes there are.
    fn len(&self) -> u64;
    /// The segment header at the start, if the bytes begin with a valid one.
    fn header(&mut self) -> Result<Option<SegmentHeader>, Self::Error>;
    /// The payload length announced by the 4 bytes at `at`, if all 4 are there.
    fn announced_len(&mut self, at: u64) -> Result<Option<u64>, Self::Error>;
    /// [`decode_record`] on the bytes from `at` (at most [`len`](Self::len)) on.
    fn decode(
        &mut self,
        at: u64,
        salt: u32,
        seq: u64,
        max_len: u64,
    ) -> Result<DecodedAt, Self::Error>;
}

/// A slice as a [`ScanInput`].
pub(crate) struct SliceInput<'a>(pub(crate) &'a [u8]);

impl SliceInput<'_> {
    fn from(&self, at: u64) -> &[u8] {
        usize::try_from(at)
            .ok()
            .and_then(|at| self.0.get(at..))
            .unwrap_or_default()
    }
}

impl ScanInput for SliceInput<'_> {
    type Error = std::convert::Infallible;

    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn header(&mut self) -> Result<Option<SegmentHeader>, Self::Error> {
        Ok(SegmentHeader::decode(self.0))
    }

    fn announced_len(&mut self, at: u64) -> Result<Option<u64>, Self::Error> {
        Ok(super::record::announced_len(self.from(at)).map(|len| len as u64))
    }

    fn decode(
        &mut self,
        at: u64,
        salt: u32,
        seq: u64,
        max_len: u64,
    ) -> Result<DecodedAt, Self::Error> {
        let max_len = usize::try_from(max_len).unwrap_or(usize::MAX);
        Ok(match decode_record(self.from(at), salt, seq, max_len) {
            Decoded::Record { len } => DecodedAt::Record(len as u64),
            Decoded::Incomplete => DecodedAt::Incomplete,
            Decoded::Invalid => DecodedAt::Invalid,
        })
    }
}

/// The scan itself, over any [`ScanInput`]: the header, then records while they are valid
/// (`on_record` gets each one's payload range), then what follows them.
pub(crate) fn scan_input<I: ScanInput>(
    input: &mut I,
    max_len: u64,
    on_record: impl FnMut(u64, u64),
) -> Result<ScanEnd, I::Error> {
    let Some(prefix) = valid_prefix(input, max_len, on_record)? else {
        return Ok(ScanEnd {
            header: None,
            records: 0,
            valid_len: 0,
            tail: Tail::BadHeader,
        });
    };
    let ValidPrefix {
        header,
        records,
        valid_len,
    } = prefix;
    // Short of the end, the record at `valid_len` is invalid, or runs past the end: a
    // length field damaged to point past the end reads as a record still being written,
    // and the same search tells it from a torn tail.
    let tail = if valid_len == input.len() {
        Tail::Clean
    } else {
        let seq = header.base_seq.wrapping_add(records);
        classify_input(input, valid_len, header.salt, seq, max_len)?
    };
    Ok(ScanEnd {
        header: Some(header),
        records,
        valid_len,
        tail,
    })
}

/// The valid records of a segment, from [`valid_prefix`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ValidPrefix {
    /// The segment's header.
    pub(crate) header: SegmentHeader,
    /// How many valid records follow it.
    pub(crate) records: u64,
    /// Where they end (header included).
    pub(crate) valid_len: u64,
}

/// The first part of [`scan_input`], and all that a consumer starting at the end of the log
/// needs: the header (`None` if invalid), then records while they are valid (`on_record`
/// gets each one's payload range), up to the end of the input or the first record that is
/// not whole and valid — without telling a torn tail from corruption.
pub(crate) fn valid_prefix<I: ScanInput>(
    input: &mut I,
    max_len: u64,
    mut on_record: impl FnMut(u64, u64),
) -> Result<Option<ValidPrefix>, I::Error> {
    let Some(header) = input.header()? else {
        return Ok(None);
    };
    let len = input.len();
    let mut records = 0;
    let mut offset = SEGMENT_HEADER_LEN as u64;
    let mut seq = header.base_seq;
    while offset < len {
        let DecodedAt::Record(record) = input.decode(offset, header.salt, seq, max_len)? else {
            break;
        };
        on_record(offset + RECORD_HEADER_LEN as u64, offset + record);
        offset += record;
        records += 1;
        seq = seq.wrapping_add(1);
    }
    Ok(Some(ValidPrefix {
        header,
        records,
        valid_len: offset,
    }))
}

/// A record at sequence `seq` that is not valid (or runs past the end of `bytes`):
/// corruption if a valid record `seq + 1` follows it, a torn tail otherwise.
///
/// First where its length field points, as one check. Then, since that field may be the
/// damaged part, at every other offset where the next record could start (its true payload
/// is at most `max_len` bytes): a record found there counts only if it ends `bytes` or is
/// followed by a valid record `seq + 2`, so that the many offsets tried do not add up to a
/// real chance of a chance CRC match in a torn tail. The CRC work is bounded
/// ([`SEARCH_CRC_BUDGET`]): random payload bytes (a large torn record of compressed or
/// encrypted data) announce lengths that fit often enough to make a full search cost the
/// cube of the tail's length, and a search that runs out of budget decides by the
/// pointed-to record alone: torn.
pub(crate) fn classify_invalid(bytes: &[u8], salt: u32, seq: u64, max_len: usize) -> Tail {
    infallible(classify_input(
        &mut SliceInput(bytes),
        0,
        salt,
        seq,
        max_len as u64,
    ))
}

/// The value of a result that cannot be an error (a slice's scan).
fn infallible<T>(result: Result<T, std::convert::Infallible>) -> T {
    match result {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

/// [`classify_invalid`] over any [`ScanInput`], for the invalid record at `start` (offsets
/// below are relative to it, as if the input began there).
fn classify_input<I: ScanInput>(
    input: &mut I,
    start: u64,
    salt: u32,
    seq: u64,
    max_len: u64,
) -> Result<Tail, I::Error> {
    let n = input.len().saturating_sub(start);
    let header_len = RECORD_HEADER_LEN as u64;
    // Where the valid record at `at` ends, if there is one.
    let record_at = |input: &mut I, at: u64, seq: u64| -> Result<Option<u64>, I::Error> {
        if at >= n {
            return Ok(None);
        }
        Ok(match input.decode(start + at, salt, seq, max_len)? {
            DecodedAt::Record(len) => Some(at + len),
            _ => None,
        })
    };
    let pointed = input
        .announced_len(start)?
        .filter(|len| *len <= max_len)
        .map(|len| header_len + len);
    if let Some(at) = pointed {
        if record_at(input, at, seq.wrapping_add(1))?.is_some() {
            return Ok(Tail::Corrupt);
        }
    }
    let last_start = n.min(header_len.saturating_add(max_len).saturating_add(1));
    let mut budget = SEARCH_CRC_BUDGET;
    for at in header_len..last_start {
        let Some(len) = input.announced_len(start + at)? else {
            break;
        };
        // Only a record that fits whole costs a CRC (over its 16-byte prefix and payload).
        let room = (n - at).saturating_sub(header_len);
        if len > max_len || len > room || Some(at) == pointed {
            continue;
        }
        let Some(left) = budget.checked_sub(len + 16) else {
            return Ok(Tail::Torn);
        };
        budget = left;
        if let Some(end) = record_at(input, at, seq.wrapping_add(1))? {
            // Confirmed: it ends the bytes, or a valid record follows it.
            if end == n || record_at(input, end, seq.wrapping_add(2))?.is_some() {
                return Ok(Tail::Corrupt);
            }
        }
    }
    Ok(Tail::Torn)
}

/// Bytes of CRC the search for a valid record after an invalid one may spend (tens of
/// milliseconds): a tail of zeros costs 16 bytes per offset, so 16 MiB of them are searched
/// whole.
const SEARCH_CRC_BUDGET: u64 = 256 << 20;

/// Checks [`scan_segment`]'s guarantees on arbitrary bytes, panicking on a violation: the
/// body of the `fuzz/` target and of a property test.
///
/// For `data` as given and for `data` behind a valid header: every returned record
/// validates at its place (right length, CRC, salt and sequence number); the prefix is the
/// longest valid one (the bytes after it are not a valid record); `Clean` exactly when the
/// prefix is everything; recovering the recovered prefix changes nothing; and the scan a
/// window at a time that the producer's recovery runs on the segment file finds the same
/// records, prefix and tail, with windows small enough for records to cross them.
///
/// ```
/// use anyipc::file::{check_scan_invariants, encode_record, SegmentHeader};
/// let mut seg = SegmentHeader::new(1, 0).encode().to_vec();
/// encode_record(&mut seg, 1, 0, b"ok");
/// seg.extend_from_slice(b"\x05\0\0\0torn"); // what a fuzzer might make of a torn tail
/// check_scan_invariants(&seg); // panics where scan_segment breaks a guarantee
/// check_scan_invariants(b"no header at all");
/// ```
#[doc(hidden)]
pub fn check_scan_invariants(data: &[u8]) {
    check_one(data);
    if data.len() >= 12 {
        let header = SegmentHeader {
            salt: u32::from_le_bytes([data[0], data[1], data[2], data[3]]),
            base_seq: u64::from_le_bytes([
                data[4], data[5], data[6], data[7], data[8], data[9], data[10], data[11],
            ]),
            previous_unsynced: false,
        };
        let mut with_header = header.encode().to_vec();
        with_header.extend_from_slice(&data[12..]);
        check_one(&with_header);
        check_windowed(&with_header);
    }
    check_windowed(data);
}

/// The scan a window at a time (recovery's, of a file) finds what the scan of the whole
/// slice finds, with windows that records and the search cross.
fn check_windowed(data: &[u8]) {
    let whole = scan_segment(data, CHECK_MAX_LEN);
    for window in [SEGMENT_HEADER_LEN, 33, 47, 64 + data.len() % 61] {
        let mut input = WindowedInput::new(data, data.len() as u64, window);
        let mut payloads = Vec::new();
        let end = scan_input(&mut input, CHECK_MAX_LEN as u64, |start, end| {
            payloads.push(start as usize..end as usize)
        });
        let Ok(end) = end else {
            panic!("a read of bytes in memory failed: {end:?}");
        };
        assert_eq!(end.header, whole.header, "window {window}");
        assert_eq!(payloads, whole.payloads, "window {window}");
        assert_eq!(
            end.records as usize,
            whole.payloads.len(),
            "window {window}"
        );
        assert_eq!(end.valid_len as usize, whole.valid_len, "window {window}");
        assert_eq!(end.tail, whole.tail, "window {window}");
    }
}

/// The payload limit the checks use: small, so that fuzzed lengths hit it.
const CHECK_MAX_LEN: usize = 1 << 16;

fn check_one(data: &[u8]) {
    let scan = scan_segment(data, CHECK_MAX_LEN);
    assert!(scan.valid_len <= data.len());
    let Some(header) = scan.header else {
        assert_eq!(scan.tail, Tail::BadHeader);
        assert!(scan.payloads.is_empty() && scan.valid_len == 0);
        return;
    };
    let mut offset = SEGMENT_HEADER_LEN;
    for (i, payload) in scan.payloads.iter().enumerate() {
        let seq = header.base_seq.wrapping_add(i as u64);
        let Decoded::Record { len } =
            decode_record(&data[offset..], header.salt, seq, CHECK_MAX_LEN)
        else {
            panic!("record {i} returned but invalid");
        };
        assert_eq!(*payload, offset + RECORD_HEADER_LEN..offset + len);
        offset += len;
    }
    assert_eq!(offset, scan.valid_len);
    let next = header.base_seq.wrapping_add(scan.payloads.len() as u64);
    if scan.valid_len < data.len() {
        assert_ne!(scan.tail, Tail::Clean);
        assert!(!matches!(
            decode_record(&data[offset..], header.salt, next, CHECK_MAX_LEN),
            Decoded::Record { .. }
        ));
    } else {
        assert_eq!(scan.tail, Tail::Clean);
    }
    let again = scan_segment(&data[..scan.valid_len], CHECK_MAX_LEN);
    assert_eq!(again.payloads, scan.payloads);
    assert_eq!(again.valid_len, scan.valid_len);
    assert_eq!(again.tail, Tail::Clean);
}
