//! [`RecordEncoder`]: turns messages into the bytes a producer appends, on the sending task
//! — log records (length, CRC32C, payload; deciding where segments break) or a plain file's
//! framing — so that the writer thread only writes whole buffers.

use super::record::{encode_record, SegmentHeader, RECORD_HEADER_LEN};
use crate::codec::FrameCodec;
use bytes::BytesMut;
use std::io;

/// Where the next record of a log goes: what its CRC and the rotation decision depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogEnd {
    /// Salt of the segment being appended to.
    pub(crate) salt: u32,
    /// Sequence number of the next record.
    pub(crate) next_seq: u64,
    /// Bytes in the segment so far (header included).
    pub(crate) seg_len: u64,
    /// The `segment_size` option: a segment is closed before it would exceed it.
    pub(crate) segment_size: u64,
    /// Segments are closed without an fsync (`fsync=never`): each new segment's header
    /// says so ([`SegmentHeader::previous_unsynced`]).
    pub(crate) closes_unsynced: bool,
}

/// How a producer encodes messages.
#[derive(Debug)]
pub(crate) enum RecordEncoder {
    /// Durable log records.
    Log(LogEnd),
    /// A plain file's framing (`lines`, `raw`, `length`).
    Plain(FrameCodec),
}

impl RecordEncoder {
    /// Whether a message of `len` bytes must start a new segment: it would take the current
    /// one past `segment_size`, and the segment holds at least one record (a record larger
    /// than `segment_size` gets a segment of its own).
    pub(crate) fn needs_new_segment(&self, len: usize) -> bool {
        match self {
            RecordEncoder::Log(end) => {
                let header = super::SEGMENT_HEADER_LEN as u64;
                end.seg_len > header
                    && end.seg_len + (RECORD_HEADER_LEN + len) as u64 > end.segment_size
            }
            RecordEncoder::Plain(_) => false,
        }
    }

    /// Starts a new segment at the next record (log only): picks its salt and returns its
    /// header, which the writer thread writes before the records that follow.
    pub(crate) fn start_segment(&mut self) -> Option<SegmentHeader> {
        match self {
            RecordEncoder::Log(end) => {
                let header = SegmentHeader::fresh(end.next_seq, end.closes_unsynced);
                end.salt = header.salt;
                end.seg_len = super::SEGMENT_HEADER_LEN as u64;
                Some(header)
            }
            RecordEncoder::Plain(_) => None,
        }
    }

    /// Appends `msg`, encoded, to `out`.
    ///
    /// # Errors
    /// The plain codecs' refusals (`InvalidInput`: a newline inside a line, too large); `out`
    /// is then unchanged. Log records never fail here.
    pub(crate) fn encode(&mut self, msg: &[u8], out: &mut BytesMut) -> io::Result<()> {
        match self {
            RecordEncoder::Log(end) => {
                encode_record(out, end.salt, end.next_seq, msg);
                end.next_seq += 1;
                end.seg_len += (RECORD_HEADER_LEN + msg.len()) as u64;
                Ok(())
            }
            // Checked before any byte is written: a refusal leaves `out` as it was.
            RecordEncoder::Plain(codec) => codec.encode_slice(msg, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::{decode_record, Decoded, SEGMENT_HEADER_LEN};

    #[test]
    fn log_records_carry_their_seq_and_segments_break_before_overflowing() {
        let mut enc = RecordEncoder::Log(LogEnd {
            salt: 9,
            next_seq: 40,
            seg_len: SEGMENT_HEADER_LEN as u64,
            segment_size: 100,
            closes_unsynced: false,
        });
        // An empty segment takes any record, even one over segment_size.
        assert!(!enc.needs_new_segment(200));
        let mut out = BytesMut::new();
        enc.encode(&[7; 30], &mut out).unwrap();
        assert_eq!(decode_record(&out, 9, 40, 64), Decoded::Record { len: 38 });
        // 32 + 38 = 70 bytes; 30 more would make 100 (fits), 31 would not.
        assert!(!enc.needs_new_segment(22));
        assert!(enc.needs_new_segment(23));
        let header = enc.start_segment().unwrap();
        assert_eq!(header.base_seq, 41);
        out.clear();
        enc.encode(b"x", &mut out).unwrap();
        assert_eq!(
            decode_record(&out, header.salt, 41, 64),
            Decoded::Record { len: 9 }
        );
        // The new segment: 32 + 9 = 41 bytes, room for a 51-byte payload.
        assert!(!enc.needs_new_segment(51));
        assert!(enc.needs_new_segment(52));
    }

    #[test]
    fn a_refused_plain_message_leaves_the_buffer_unchanged() {
        let codec = FrameCodec::new(crate::codec::Framing::Lines, 16);
        let mut enc = RecordEncoder::Plain(codec);
        let mut out = BytesMut::new();
        enc.encode(b"one", &mut out).unwrap();
        let err = enc.encode(b"two\nlines", &mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(&out[..], b"one\n");
        assert!(enc.start_segment().is_none());
    }
}
