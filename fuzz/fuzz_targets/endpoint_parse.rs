//! Fuzzes endpoint URL parsing (`Endpoint::parse`) and bench target parsing
//! (`bench::Target::from_str`) with arbitrary text: no panic; whatever parses displays to a
//! canonical form that parses back to an equal value and displays the same; the accessors
//! and `with_option` on a parsed endpoint do not panic.
//!
//! Run with the dictionary for a head start: `-dict=dicts/endpoint.dict`.
#![no_main]

use anyipc::bench::Target;
use anyipc::Endpoint;

#[path = "../shared.rs"]
mod shared;

use shared::KEYS;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_endpoint(text);
    check_target(text);
});

fn check_endpoint(text: &str) {
    let endpoint = match Endpoint::parse(text) {
        Ok(endpoint) => endpoint,
        Err(err) => {
            // The message is built from the input: it must format.
            let _ = err.to_string();
            return;
        }
    };
    let canonical = endpoint.to_string();
    let back = Endpoint::parse(&canonical)
        .unwrap_or_else(|e| panic!("{text:?} displays as {canonical:?}, which fails: {e}"));
    assert_eq!(back, endpoint, "{text:?} -> {canonical:?}");
    assert_eq!(back.to_string(), canonical, "{text:?}: not a fixed point");
    let _ = (
        endpoint.name(),
        endpoint.path(),
        endpoint.address().to_string(),
    );
    let _ = (
        endpoint.max_frame(),
        endpoint.framing(),
        endpoint.has_framing(),
    );
    for key in KEYS {
        if let Some(value) = endpoint.option(key) {
            // The value as displayed is accepted again, as the same value.
            let again = endpoint
                .clone()
                .with_option(key, &value)
                .unwrap_or_else(|e| panic!("{canonical:?}: {key}={value} refused: {e}"));
            assert_eq!(again, endpoint, "{canonical:?}: {key}={value}");
        }
        // Any value, from the input's own words, is a result, not a panic.
        for word in text.split(['?', '&', '=']).take(4) {
            if let Ok(with) = endpoint.clone().with_option(key, word) {
                let shown = with.to_string();
                assert_eq!(Endpoint::parse(&shown).as_ref(), Ok(&with), "{shown:?}");
            }
        }
    }
}

fn check_target(text: &str) {
    let Ok(target) = text.parse::<Target>() else {
        return;
    };
    let shown = target.to_string();
    let back: Target = shown
        .parse()
        .unwrap_or_else(|e| panic!("target {text:?} displays as {shown:?}, which fails: {e}"));
    assert_eq!(back, target, "target {text:?} -> {shown:?}");
    assert_eq!(back.to_string(), shown);
    let _ = (
        target.is_raw(),
        target.is_child(),
        target.is_raw_child(),
        target.endpoints(),
    );
}
