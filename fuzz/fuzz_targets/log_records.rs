//! Fuzzes the durable log's pure decoders beyond what `log_scanner` covers: the segment
//! header (`SegmentHeader::decode`), one record (`decode_record`) with arbitrary salt,
//! sequence number and limit, and `scan_segment` with limits other than the scanner's
//! (0, small, `u32::MAX`, `usize::MAX`).
#![no_main]

use anyipc::file::{
    decode_record, scan_segment, Decoded, SegmentHeader, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};
use libfuzzer_sys::arbitrary::{Result, Unstructured};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let salt: u32 = u.arbitrary()?;
    let seq: u64 = u.arbitrary()?;
    let max_len = match u.int_in_range(0..=2u8)? {
        0 => u.int_in_range(0..=64usize)?,
        1 => *u.choose(&[
            u32::MAX as usize,
            usize::MAX - RECORD_HEADER_LEN,
            usize::MAX,
        ])?,
        _ => u.arbitrary::<usize>()?,
    };
    let bytes = u.bytes(u.len())?;

    if let Some(header) = SegmentHeader::decode(bytes) {
        assert_eq!(&header.encode()[..], &bytes[..SEGMENT_HEADER_LEN]);
    }

    match decode_record(bytes, salt, seq, max_len) {
        Decoded::Record { len } => {
            assert!(len >= RECORD_HEADER_LEN && len <= bytes.len());
            let announced = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
            assert_eq!(len, RECORD_HEADER_LEN + announced);
            assert!(announced <= max_len);
        }
        Decoded::Incomplete => {
            let announced = bytes
                .get(..4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize);
            assert!(announced.is_none_or(|n| RECORD_HEADER_LEN + n > bytes.len()));
        }
        Decoded::Invalid => {}
    }

    for data in [bytes.to_vec(), with_header(salt, seq, bytes)] {
        let scan = scan_segment(&data, max_len);
        assert!(scan.valid_len <= data.len());
        let mut at = SEGMENT_HEADER_LEN;
        for payload in &scan.payloads {
            assert_eq!(payload.start, at + RECORD_HEADER_LEN);
            assert!(payload.end <= scan.valid_len && payload.end - payload.start <= max_len);
            at = payload.end;
        }
        if scan.header.is_some() {
            assert_eq!(at, scan.valid_len);
        }
        let _ = scan.next_seq();
    }
    Ok(())
}

/// `bytes` behind a valid header, so the records after it are scanned.
fn with_header(salt: u32, base_seq: u64, bytes: &[u8]) -> Vec<u8> {
    let mut data = SegmentHeader { salt, base_seq }.encode().to_vec();
    data.extend_from_slice(bytes);
    data
}
