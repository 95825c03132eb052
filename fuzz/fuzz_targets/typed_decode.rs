//! Fuzzes the typed layer's formats (`codec::Json`, `codec::Postcard`) decoding arbitrary
//! received bytes into a range of types: a value or a `FormatError`, never a panic; what
//! decodes re-encodes and decodes to the same value.
#![no_main]

use anyipc::codec::{Json, Postcard};
use serde::{Deserialize, Serialize};

#[path = "../../tests/it/fuzz_shared.rs"]
mod shared;

/// Recursive, but the fuzzer's inputs (at most a few KiB) stay far from the stack's limit:
/// see `tests/it/fuzz_props.rs` for deep nesting.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Tree {
    Leaf(u8),
    Node(Vec<Tree>),
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    shared::check_typed(data);
    shared::check_format::<Json, Tree>(&Json, data);
    shared::check_format::<Postcard, Tree>(&Postcard, data);
});
