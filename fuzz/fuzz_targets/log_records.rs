//! Fuzzes the durable log's pure decoders beyond what `log_scanner` covers: the segment
//! header (`SegmentHeader::decode`), one record (`decode_record`) with arbitrary salt,
//! sequence number and limit, and `scan_segment` with limits other than the scanner's
//! (0, small, `u32::MAX`, `usize::MAX`).
#![no_main]

#[path = "../../tests/it/fuzz_shared.rs"]
mod shared;

use anyipc::file::RECORD_HEADER_LEN;
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
    shared::check_log_records(bytes, salt, seq, max_len);
    Ok(())
}
