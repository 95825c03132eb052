//! Property tests of the record format and the recovery scan (the fuzz target's body runs
//! here too, on structured and on arbitrary inputs).

use super::record::{encode_record, SegmentHeader};
use super::scan::{check_scan_invariants, scan_segment, Tail};
use proptest::prelude::*;

/// A segment holding `payloads`; returns it and each record's byte range.
fn build(salt: u32, base: u64, payloads: &[Vec<u8>]) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let mut seg = SegmentHeader::new(salt, base).encode().to_vec();
    let mut ranges = Vec::new();
    for (i, p) in payloads.iter().enumerate() {
        let start = seg.len();
        encode_record(&mut seg, salt, base + i as u64, p);
        ranges.push(start..seg.len());
    }
    (seg, ranges)
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..48), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn an_intact_segment_scans_whole(salt: u32, base in 0u64..1 << 40, payloads in payloads()) {
        let (seg, _) = build(salt, base, &payloads);
        let scan = scan_segment(&seg, 1 << 20);
        prop_assert_eq!(scan.tail, Tail::Clean);
        let got: Vec<&[u8]> = scan.payloads.iter().map(|r| &seg[r.clone()]).collect();
        let want: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(scan.next_seq(), Some(base + payloads.len() as u64));
        check_scan_invariants(&seg);
    }

    #[test]
    fn a_truncated_segment_keeps_every_whole_record(
        salt: u32, payloads in payloads(), cut in any::<prop::sample::Index>()
    ) {
        let (seg, ranges) = build(salt, 0, &payloads);
        let at = 32 + cut.index(seg.len() - 31).min(seg.len() - 32);
        let scan = scan_segment(&seg[..at], 1 << 20);
        let whole = ranges.iter().filter(|r| r.end <= at).count();
        prop_assert_eq!(scan.payloads.len(), whole);
        prop_assert!(matches!(scan.tail, Tail::Clean | Tail::Torn));
        check_scan_invariants(&seg[..at]);
    }

    #[test]
    fn a_flipped_bit_never_yields_a_bad_record(
        salt: u32, payloads in payloads(), pos in any::<prop::sample::Index>(), bit in 0u8..8
    ) {
        prop_assume!(!payloads.is_empty());
        let (mut seg, ranges) = build(salt, 7, &payloads);
        let pos = 32 + pos.index(seg.len() - 32);
        seg[pos] ^= 1 << bit;
        let scan = scan_segment(&seg, 1 << 20);
        let hit = ranges.iter().position(|r| r.contains(&pos)).unwrap_or(ranges.len());
        // Records before the damaged one survive; nothing from it on is returned.
        prop_assert_eq!(scan.payloads.len(), hit);
        for (range, want) in scan.payloads.iter().zip(&payloads) {
            prop_assert_eq!(&seg[range.clone()], want.as_slice());
        }
        // Damage to a record that is not the last one is corruption, not a torn tail, even
        // in its length field (which then no longer leads to the next record).
        if hit + 1 < ranges.len() {
            prop_assert_eq!(scan.tail, Tail::Corrupt);
        }
        check_scan_invariants(&seg);
    }

    #[test]
    fn a_record_from_another_segment_or_seq_is_refused(salt: u32, other: u32, payload in prop::collection::vec(any::<u8>(), 0..32)) {
        prop_assume!(salt != other);
        let (good, _) = build(salt, 5, std::slice::from_ref(&payload));
        // Same bytes, other salt in the header: the record's CRC no longer matches.
        let mut foreign = SegmentHeader::new(other, 5).encode().to_vec();
        foreign.extend_from_slice(&good[32..]);
        prop_assert_eq!(scan_segment(&foreign, 1 << 20).payloads.len(), 0);
        // Same salt, the segment claims another first sequence number.
        let mut shifted = SegmentHeader::new(salt, 6).encode().to_vec();
        shifted.extend_from_slice(&good[32..]);
        prop_assert_eq!(scan_segment(&shifted, 1 << 20).payloads.len(), 0);
    }

    #[test]
    fn arbitrary_bytes_keep_the_invariants(data in prop::collection::vec(any::<u8>(), 0..600)) {
        check_scan_invariants(&data);
    }
}

#[test]
fn a_record_over_the_limit_is_invalid_and_the_header_is_checked() {
    let (seg, _) = build(1, 0, &[vec![0u8; 100]]);
    assert_eq!(scan_segment(&seg, 99).payloads.len(), 0);
    assert_eq!(scan_segment(&seg, 100).payloads.len(), 1);
    let mut bad = seg.clone();
    bad[3] ^= 1;
    assert_eq!(scan_segment(&bad, 100).tail, Tail::BadHeader);
    assert_eq!(scan_segment(&seg[..31], 100).tail, Tail::BadHeader);
}

/// A header claiming the last sequence number, with a record: the next one does not exist.
#[test]
fn the_next_seq_past_u64_max_is_none_not_a_panic() {
    let (seg, _) = build(1, u64::MAX, &[b"last".to_vec()]);
    let scan = scan_segment(&seg, 100);
    assert_eq!((scan.payloads.len(), scan.tail), (1, Tail::Clean));
    assert_eq!(scan.next_seq(), None);
    check_scan_invariants(&seg);
    let (seg, _) = build(1, u64::MAX, &[]);
    assert_eq!(scan_segment(&seg, 100).next_seq(), Some(u64::MAX));
}

#[test]
fn a_length_field_damaged_in_the_middle_is_corruption_wherever_it_points() {
    let payloads: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 64]).collect();
    let (seg, ranges) = build(9, 0, &payloads);
    // Record 2's length: one byte more, past the end of the segment, over the limit.
    for len in [65u32, 1 << 19, u32::MAX] {
        let mut damaged = seg.clone();
        damaged[ranges[2].start..ranges[2].start + 4].copy_from_slice(&len.to_le_bytes());
        let scan = scan_segment(&damaged, 1 << 20);
        assert_eq!(scan.payloads.len(), 2, "length {len}");
        assert_eq!(scan.tail, Tail::Corrupt, "length {len}");
    }
    // The same damage to the last record is a torn tail: nothing valid follows it.
    let mut last = seg.clone();
    last[ranges[4].start..ranges[4].start + 4].copy_from_slice(&65u32.to_le_bytes());
    assert_eq!(scan_segment(&last, 1 << 20).tail, Tail::Torn);
}

#[test]
fn a_tail_of_zeros_is_torn() {
    let payloads: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 64]).collect();
    let (mut seg, _) = build(9, 0, &payloads);
    let valid_len = seg.len();
    seg.resize(valid_len + (4 << 20), 0);
    let scan = scan_segment(&seg, u32::MAX as usize);
    assert_eq!((scan.payloads.len(), scan.valid_len), (3, valid_len));
    assert_eq!(scan.tail, Tail::Torn);
}

#[test]
fn a_large_torn_record_of_random_bytes_is_torn() {
    // A crash in the middle of a large record of incompressible data: the search for a
    // record after it runs out of budget and decides by the length field, as before it.
    let payloads: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 64]).collect();
    let (mut seg, _) = build(9, 0, &payloads);
    let valid_len = seg.len();
    let mut partial = Vec::new();
    encode_record(&mut partial, 9, 3, &random_bytes(8 << 20));
    seg.extend_from_slice(&partial[..4 << 20]);
    let scan = scan_segment(&seg, u32::MAX as usize);
    assert_eq!((scan.payloads.len(), scan.valid_len), (3, valid_len));
    assert_eq!(scan.tail, Tail::Torn);
}

/// `len` bytes of a xorshift generator: incompressible, as encrypted payloads are.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The header's flags: the one this version knows is read back, any other is refused (a
/// header this version cannot understand, or damage the CRC happens to cover).
#[test]
fn a_header_flag_this_version_does_not_know_is_refused() {
    let with_flags = |flags: u32| {
        let mut h = SegmentHeader::new(1, 9).encode();
        h[24..28].copy_from_slice(&flags.to_le_bytes());
        let crc = crc32c::crc32c(&h[0..28]);
        h[28..32].copy_from_slice(&crc.to_le_bytes());
        SegmentHeader::decode(&h)
    };
    assert_eq!(with_flags(0).map(|h| h.previous_unsynced), Some(false));
    assert_eq!(with_flags(1).map(|h| h.previous_unsynced), Some(true));
    for unknown in [2, 3, 1 << 31] {
        assert_eq!(with_flags(unknown), None, "flags {unknown:#x}");
    }
}
