//! The on-disk format of the durable log: a segment header, then records.
//!
//! ```text
//! segment header (32 bytes, little-endian)
//!   0..8   magic  "AIPCLOG1"
//!   8..12  version = 1
//!  12..16  salt: random per segment
//!  16..24  base_seq: sequence number of the segment's first record (also its file name)
//!  24..28  flags: bit 0 = the segment before this one was closed without an fsync
//!          (`fsync=never`); the other bits are zero
//!  28..32  CRC32C of bytes 0..28
//! record (8-byte header, then the payload)
//!   0..4   len: payload length
//!   4..8   CRC32C of (salt, seq, len, payload), salt u32 / seq u64 / len u32 little-endian
//!   8..    payload
//! ```
//!
//! A record's sequence number is not stored: it is the segment's `base_seq` plus the record's
//! index, and it is inside the CRC together with the salt. So a record is accepted only at its
//! own position in its own segment: stale bytes from an older file, a record copied from
//! another segment, or one read at the wrong offset all fail the check.
//!
//! Under `fsync=always|batch` a segment is synced before the next one is created, so only
//! the last segment can lose its tail in a machine crash (the producer's recovery cuts it
//! off). Under `fsync=never` a closed segment can lose its tail too: the next segment's
//! flag says so, and a consumer skips what is missing there (with a warning) instead of
//! stopping at it as at damage.

use bytes::BufMut;

/// Bytes of a segment header.
///
/// ```
/// use anyipc::file::{scan_segment, SegmentHeader, SEGMENT_HEADER_LEN};
/// let empty_segment = SegmentHeader::new(1, 0).encode();
/// assert_eq!(empty_segment.len(), SEGMENT_HEADER_LEN);
/// // Records start right after it.
/// assert_eq!(scan_segment(&empty_segment, 1024).valid_len, SEGMENT_HEADER_LEN);
/// ```
pub const SEGMENT_HEADER_LEN: usize = 32;
/// Bytes of a record header (length and CRC).
///
/// ```
/// use anyipc::file::{encode_record, RECORD_HEADER_LEN};
/// let mut record = Vec::new();
/// encode_record(&mut record, 7, 0, b"abc");
/// assert_eq!(record.len(), RECORD_HEADER_LEN + 3);
/// assert_eq!(&record[RECORD_HEADER_LEN..], b"abc"); // the payload follows the header
/// ```
pub const RECORD_HEADER_LEN: usize = 8;
const MAGIC: &[u8; 8] = b"AIPCLOG1";
const VERSION: u32 = 1;
/// Header flag: [`SegmentHeader::previous_unsynced`].
const FLAG_PREVIOUS_UNSYNCED: u32 = 1;

/// The header at the start of every segment file.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::file::{FileOptions, FileProducer, SegmentHeader};
/// # let dir = std::env::temp_dir().join(format!("anyipc-doc-header-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let mut log = FileProducer::open(&dir, FileOptions::default()).await?;
/// log.append("first").await?;
/// log.close().await?;
/// // Segment files are named after their first record's sequence number, in 20 digits.
/// let segment = std::fs::read(dir.join("00000000000000000000.log"))?;
/// let header = SegmentHeader::decode(&segment).expect("a valid header");
/// assert_eq!(header.base_seq, 0);
/// # anyipc::file::remove(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmentHeader {
    /// Random per segment; mixed into every record's CRC.
    pub salt: u32,
    /// The sequence number of the segment's first record.
    pub base_seq: u64,
    /// The segment before this one was closed without an fsync (`fsync=never`), so a
    /// machine crash (power loss, kernel panic) may have cut records off its end, or left
    /// it without its header: a consumer that finds it so skips to this segment, with a
    /// warning, instead of stopping there as at damage. Under `fsync=always|batch` a
    /// segment is synced before the next one is created, and this is `false`.
    pub previous_unsynced: bool,
}

impl SegmentHeader {
    /// The header of segment `base_seq` salted with `salt`, the segment before it (if any)
    /// synced when it was closed (`previous_unsynced` is `false`; set it to say otherwise).
    ///
    /// ```
    /// use anyipc::file::SegmentHeader;
    /// let mut header = SegmentHeader::new(7, 100);
    /// assert_eq!((header.salt, header.base_seq, header.previous_unsynced), (7, 100, false));
    /// header.previous_unsynced = true;
    /// assert_eq!(SegmentHeader::decode(&header.encode()), Some(header));
    /// ```
    pub const fn new(salt: u32, base_seq: u64) -> SegmentHeader {
        SegmentHeader {
            salt,
            base_seq,
            previous_unsynced: false,
        }
    }

    /// The header of a new segment whose first record is `base_seq`, with a fresh salt;
    /// `previous_unsynced` as given.
    pub(crate) fn fresh(base_seq: u64, previous_unsynced: bool) -> SegmentHeader {
        SegmentHeader {
            previous_unsynced,
            ..SegmentHeader::new(random_salt(), base_seq)
        }
    }

    /// The 32 header bytes.
    ///
    /// ```
    /// use anyipc::file::SegmentHeader;
    /// let mut header = SegmentHeader::new(0x1234_5678, 42);
    /// header.previous_unsynced = true;
    /// let bytes = header.encode();
    /// assert_eq!(&bytes[..8], b"AIPCLOG1"); // the magic
    /// assert_eq!(&bytes[16..24], &42u64.to_le_bytes()); // base_seq, little-endian
    /// assert_eq!(&bytes[24..28], &1u32.to_le_bytes()); // the flags
    /// assert_eq!(SegmentHeader::decode(&bytes), Some(header));
    /// ```
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut out = [0u8; SEGMENT_HEADER_LEN];
        out[0..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&self.salt.to_le_bytes());
        out[16..24].copy_from_slice(&self.base_seq.to_le_bytes());
        let flags = if self.previous_unsynced {
            FLAG_PREVIOUS_UNSYNCED
        } else {
            0
        };
        out[24..28].copy_from_slice(&flags.to_le_bytes());
        let crc = crc32c::crc32c(&out[0..28]);
        out[28..32].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses a header; `None` if `bytes` is short, or magic, version, flags or CRC is
    /// wrong (a flag this version does not know is wrong).
    ///
    /// ```
    /// use anyipc::file::SegmentHeader;
    /// let mut bytes = SegmentHeader::new(7, 1000).encode();
    /// assert_eq!(SegmentHeader::decode(&bytes).map(|h| h.base_seq), Some(1000));
    /// assert_eq!(SegmentHeader::decode(&bytes[..20]), None); // short
    /// bytes[16] ^= 1; // base_seq damaged: the header's CRC no longer matches
    /// assert_eq!(SegmentHeader::decode(&bytes), None);
    /// ```
    pub fn decode(bytes: &[u8]) -> Option<SegmentHeader> {
        let h = bytes.get(..SEGMENT_HEADER_LEN)?;
        let flags = le_u32(&h[24..28]);
        if &h[0..8] != MAGIC || le_u32(&h[8..12]) != VERSION || flags & !FLAG_PREVIOUS_UNSYNCED != 0
        {
            return None;
        }
        if crc32c::crc32c(&h[0..28]) != le_u32(&h[28..32]) {
            return None;
        }
        Some(SegmentHeader {
            salt: le_u32(&h[12..16]),
            base_seq: le_u64(&h[16..24]),
            previous_unsynced: flags & FLAG_PREVIOUS_UNSYNCED != 0,
        })
    }
}

/// What [`decode_record`] found at an offset.
///
/// ```
/// use anyipc::file::{decode_record, encode_record, Decoded};
/// let mut record = Vec::new();
/// encode_record(&mut record, 7, 5, b"payload");
/// assert_eq!(decode_record(&record, 7, 5, 1024), Decoded::Record { len: record.len() });
/// assert_eq!(decode_record(&record[..10], 7, 5, 1024), Decoded::Incomplete);
/// assert_eq!(decode_record(&record, 7, 6, 1024), Decoded::Invalid); // not record 6
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A valid record: its payload is `bytes[RECORD_HEADER_LEN..len]`, `len` bytes in all.
    Record {
        /// Header plus payload.
        len: usize,
    },
    /// The bytes end inside the record (possibly one still being written).
    Incomplete,
    /// Length over the limit, or CRC mismatch: not a record of this segment at this seq.
    Invalid,
}

/// Checks the record that `bytes` starts with, expected to have sequence number `seq` in a
/// segment salted with `salt`; a payload longer than `max_len` is invalid.
///
/// ```
/// use anyipc::file::{decode_record, encode_record, Decoded, RECORD_HEADER_LEN};
/// let mut records = Vec::new();
/// encode_record(&mut records, 9, 0, b"first");
/// encode_record(&mut records, 9, 1, b"second");
/// let Decoded::Record { len } = decode_record(&records, 9, 0, 1024) else { panic!() };
/// assert_eq!(&records[RECORD_HEADER_LEN..len], b"first");
/// // The next record starts at `len`, and must be record 1 of the same segment.
/// assert!(matches!(decode_record(&records[len..], 9, 1, 1024), Decoded::Record { .. }));
/// assert_eq!(decode_record(&records[len..], 8, 1, 1024), Decoded::Invalid); // other salt
/// assert_eq!(decode_record(&records[len..], 9, 1, 5), Decoded::Invalid); // over max_len
/// ```
pub fn decode_record(bytes: &[u8], salt: u32, seq: u64, max_len: usize) -> Decoded {
    let Some(header) = bytes.get(..RECORD_HEADER_LEN) else {
        return Decoded::Incomplete;
    };
    let len = le_u32(&header[0..4]) as usize;
    if len > max_len {
        return Decoded::Invalid;
    }
    // Checked: with a `max_len` near `usize::MAX` (32-bit targets) the end could overflow.
    let Some(end) = RECORD_HEADER_LEN.checked_add(len) else {
        return Decoded::Incomplete;
    };
    let Some(payload) = bytes.get(RECORD_HEADER_LEN..end) else {
        return Decoded::Incomplete;
    };
    if record_crc(salt, seq, payload) != le_u32(&header[4..8]) {
        return Decoded::Invalid;
    }
    Decoded::Record { len: end }
}

/// Appends the record for `payload` (sequence number `seq`, segment `salt`) to `out`.
///
/// The caller keeps `payload.len()` within `u32` (the writer refuses larger messages).
///
/// ```
/// use anyipc::file::{decode_record, encode_record, Decoded, RECORD_HEADER_LEN};
/// let mut out = bytes::BytesMut::new();
/// encode_record(&mut out, 7, 0, b"hi");
/// assert_eq!(&out[..4], &2u32.to_le_bytes()); // the payload's length, then the CRC
/// assert_eq!(&out[RECORD_HEADER_LEN..], b"hi");
/// assert_eq!(decode_record(&out, 7, 0, 1024), Decoded::Record { len: out.len() });
/// ```
pub fn encode_record(out: &mut impl BufMut, salt: u32, seq: u64, payload: &[u8]) {
    debug_assert!(u32::try_from(payload.len()).is_ok());
    out.put_u32_le(payload.len() as u32);
    out.put_u32_le(record_crc(salt, seq, payload));
    out.put_slice(payload);
}

/// The CRC of record `seq` holding `payload` in a segment salted with `salt`.
#[inline]
pub(crate) fn record_crc(salt: u32, seq: u64, payload: &[u8]) -> u32 {
    // The 16-byte prefix as two little-endian words: salt | seq, then seq's high half | len.
    let len = payload.len() as u32;
    let head = [
        u64::from(salt) | seq << 32,
        seq >> 32 | u64::from(len) << 32,
    ];
    if let Some(crc) = crate::sys::crc32c_with_head(head, payload) {
        return crc;
    }
    crc32c::crc32c_append(record_crc_start(salt, seq, len), payload)
}

/// The CRC of record `seq`'s 16-byte prefix (salt, sequence number and a payload of `len`
/// bytes), which [`crc32c::crc32c_append`] continues over the payload, in as many pieces as
/// it comes in: [`record_crc`] for a payload not in memory at once.
pub(crate) fn record_crc_start(salt: u32, seq: u64, len: u32) -> u32 {
    let head = [
        u64::from(salt) | seq << 32,
        seq >> 32 | u64::from(len) << 32,
    ];
    let mut prefix = [0u8; 16];
    prefix[0..8].copy_from_slice(&head[0].to_le_bytes());
    prefix[8..16].copy_from_slice(&head[1].to_le_bytes());
    crc32c::crc32c(&prefix)
}

/// A fresh salt for a new segment.
fn random_salt() -> u32 {
    use std::hash::{BuildHasher, Hasher};
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

/// The payload length a record's header at the front of `bytes` announces, if `bytes` holds
/// its length field (not checked: the CRC decides whether the record is real).
pub(crate) fn announced_len(bytes: &[u8]) -> Option<usize> {
    bytes.get(..4).map(|b| le_u32(b) as usize)
}

/// The CRC field of the record whose header `bytes` starts with, if it holds that field.
pub(crate) fn stored_crc(bytes: &[u8]) -> Option<u32> {
    bytes.get(4..8).map(le_u32)
}

/// Where the payload of the record at `at` in `bytes` lies, if the record fits there whole.
/// For records already validated (the CRC is not checked again): walking a read's records.
#[inline]
pub(crate) fn payload_range(bytes: &[u8], at: usize) -> Option<std::ops::Range<usize>> {
    let len = announced_len(bytes.get(at..)?)?;
    let start = at.checked_add(RECORD_HEADER_LEN)?;
    let end = start.checked_add(len)?;
    (end <= bytes.len()).then_some(start..end)
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}
