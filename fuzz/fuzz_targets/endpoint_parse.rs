//! Fuzzes endpoint URL parsing (`Endpoint::parse`) and bench target parsing
//! (`bench::Target::from_str`) with arbitrary text: no panic; whatever parses displays to a
//! canonical form that parses back to an equal value and displays the same; the accessors
//! and `with_option` on a parsed endpoint do not panic.
//!
//! Run with the dictionary for a head start (from the repository root):
//! `cargo fuzz run endpoint_parse -- -dict=fuzz/dicts/endpoint.dict`.
#![no_main]

#[path = "../../tests/it/fuzz_shared.rs"]
mod shared;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    shared::check_endpoint(text);
    shared::check_target(text);
});
