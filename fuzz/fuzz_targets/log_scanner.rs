//! Fuzzes the durable log's recovery scan with arbitrary segment bytes, as given and behind a
//! valid header: every returned record validates at its place (CRC, salt, sequence number),
//! the valid prefix is the longest one, and recovering it again changes nothing.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    anyipc::file::check_scan_invariants(data);
});
