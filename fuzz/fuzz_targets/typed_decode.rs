//! Fuzzes the typed layer's formats (`codec::Json`, `codec::Postcard`) decoding arbitrary
//! received bytes into a range of types: a value or a `FormatError`, never a panic; what
//! decodes re-encodes and decodes to the same value.
#![no_main]

use anyipc::codec::{Format, Json, Postcard};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Debug;

#[path = "../shared.rs"]
mod shared;

use shared::{Kind, Order};

/// Recursive, but the fuzzer's inputs (at most a few KiB) stay far from the stack's limit:
/// see `tests/it/fuzz_props.rs` for deep nesting.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Tree {
    Leaf(u8),
    Node(Vec<Tree>),
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for_both::<Order>(data);
    for_both::<Kind>(data);
    for_both::<Vec<Vec<u32>>>(data);
    for_both::<(String, Option<bool>, [u8; 3])>(data);
    for_both::<HashMap<u32, String>>(data);
    for_both::<Tree>(data);
    for_both::<f64>(data);
    for_both::<String>(data);
    // JSON only: postcard cannot decode self-describing values.
    if let Ok(value) = Json.decode::<serde_json::Value>(data) {
        let bytes = Json
            .encode(&value)
            .expect("a decoded json value re-encodes");
        let back: serde_json::Value = Json.decode(&bytes).expect("and decodes");
        assert_eq!(back, value);
    }
});

/// Both formats round-trip exactly (JSON floats too: serde_json's `float_roundtrip`).
fn for_both<T: DeserializeOwned + Serialize + PartialEq + Debug>(data: &[u8]) {
    let same = |a: &T, b: &T| a == b || format!("{a:?}") == format!("{b:?}");
    check(&Json, data, same);
    check(&Postcard, data, same);
}

/// `same` tolerates NaN, which is not equal to itself.
fn check<F: Format, T: DeserializeOwned + Serialize + Debug>(
    format: &F,
    data: &[u8],
    same: impl Fn(&T, &T) -> bool,
) {
    match format.decode::<T>(data) {
        Ok(value) => {
            let Ok(bytes) = format.encode(&value) else {
                // JSON has no NaN or infinity and no non-string keys: refusing is fine.
                return;
            };
            let back: T = format
                .decode(&bytes)
                .unwrap_or_else(|e| panic!("{value:?} re-encoded does not decode: {e}"));
            assert!(same(&back, &value), "{value:?} came back as {back:?}");
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
}
