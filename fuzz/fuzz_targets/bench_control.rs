//! Fuzzes the bench protocol's control message parser (`Workload::parse_control`), which
//! reads the first message a peer receives: a workload or `InvalidData`, never a panic;
//! a parsed workload is valid and its control message parses back to it.
#![no_main]

#[path = "../../tests/it/fuzz_shared.rs"]
mod shared;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    shared::check_control(data);
});
