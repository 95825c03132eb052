//! Fuzzes the frame codecs (`framing=length|lines|raw`) with arbitrary byte streams cut
//! into reads at arbitrary points, with small and large `max_frame`:
//!
//! - no panic; every frame is within `max_frame`;
//! - the buffer never reserves much beyond what arrived (an announced frame over
//!   `max_frame` is an error, not an allocation of its size);
//! - for length and lines framing, the same bytes cut differently give the same frames and
//!   the same kind of error; raw framing delivers the same bytes;
//! - messages encoded then decoded (cut anywhere) come back the same;
//! - lines decoded on after an over-long one: every line within `max_frame` arrives exactly,
//!   each over-long one is one error and never arrives, not even in part;
//! - a length codec's error is final: reported again at every decode, nothing after it.
#![no_main]

#[path = "../../tests/it/fuzz_shared.rs"]
mod shared;

use anyipc::codec::Framing;
use libfuzzer_sys::arbitrary::{Result, Unstructured};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let framing = *u.choose(&[Framing::Length, Framing::Lines, Framing::Raw])?;
    let max_frame = match u.int_in_range(0..=3u8)? {
        0 => u.int_in_range(0..=16usize)?,
        1 => u.int_in_range(0..=4096usize)?,
        2 => *u.choose(&[8 << 20, u32::MAX as usize, usize::MAX - 1, usize::MAX])?,
        _ => u.arbitrary::<usize>()?,
    };
    let cuts: Vec<usize> = (0..u.int_in_range(0..=16u8)?)
        .map(|_| u.arbitrary::<u16>().map(usize::from))
        .collect::<Result<_>>()?;
    match u.int_in_range(0..=3u8)? {
        0 => {
            // Messages the framing may or may not carry, encoded, then decoded cut anywhere.
            let mut msgs = Vec::new();
            while !u.is_empty() {
                msgs.push(u.arbitrary::<Vec<u8>>()?);
            }
            shared::check_round_trip(framing, max_frame, msgs, &cuts);
        }
        1 => {
            // Arbitrary bytes, read whole and read cut.
            let wire = u.bytes(u.len())?;
            shared::check_cuts(framing, max_frame, wire, &[], &cuts);
        }
        2 => {
            // Lines, some over `max_frame`, decoded on after each error.
            let open_end = u.arbitrary::<bool>()?;
            let mut lines = Vec::new();
            while !u.is_empty() {
                lines.push((u.arbitrary::<Vec<u8>>()?, u.arbitrary::<bool>()?));
            }
            shared::check_lines_read_on(max_frame, lines, open_end, &cuts);
        }
        _ => {
            // Arbitrary bytes as length frames, decoded on after the first error.
            let wire = u.bytes(u.len())?;
            shared::check_length_error_is_final(max_frame, wire, &cuts);
        }
    }
    Ok(())
}
