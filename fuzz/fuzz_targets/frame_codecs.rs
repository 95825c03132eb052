//! Fuzzes the frame codecs (`framing=length|lines|raw`) with arbitrary byte streams cut
//! into reads at arbitrary points, with small and large `max_frame`:
//!
//! - no panic; every frame is within `max_frame`;
//! - the buffer never reserves much beyond what arrived (an announced frame over
//!   `max_frame` is an error, not an allocation of its size);
//! - for length and lines framing, the same bytes cut differently give the same frames and
//!   the same kind of error; raw framing delivers the same bytes;
//! - messages encoded then decoded (cut anywhere) come back the same.
#![no_main]

#[path = "../shared.rs"]
mod shared;

use anyipc::codec::{FrameCodec, Framing};
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use std::io;
use tokio_util::codec::Encoder;

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
    if u.arbitrary::<bool>()? {
        round_trip(u, framing, max_frame, &cuts)
    } else {
        let wire = u.bytes(u.len())?;
        garbage(framing, max_frame, wire, &cuts);
        Ok(())
    }
}

/// Arbitrary bytes: within the limit, bounded reservation, and independent of the cuts.
fn garbage(framing: Framing, max_frame: usize, wire: &[u8], cuts: &[usize]) {
    let (whole, whole_err) = decode(framing, max_frame, wire, &[]);
    let (cut, cut_err) = decode(framing, max_frame, wire, cuts);
    let limit = match framing {
        Framing::Raw => max_frame.max(1),
        _ => max_frame,
    };
    for frame in whole.iter().chain(&cut) {
        assert!(
            frame.len() <= limit,
            "{framing}: a {}-byte frame over {limit}",
            frame.len()
        );
    }
    match framing {
        Framing::Raw => {
            assert!(whole_err.is_none() && cut_err.is_none());
            assert_eq!(whole.concat(), wire);
            assert_eq!(cut.concat(), wire);
        }
        Framing::Length | Framing::Lines => {
            assert_eq!(
                whole, cut,
                "{framing} max {max_frame}: frames depend on the cuts {cuts:?}"
            );
            assert_eq!(
                whole_err.as_ref().map(io::Error::kind),
                cut_err.as_ref().map(io::Error::kind),
                "{framing} max {max_frame}: {whole_err:?} vs {cut_err:?} with cuts {cuts:?}"
            );
        }
    }
}

/// Messages the framing can carry, encoded, then decoded cut anywhere: the same messages.
fn round_trip(
    u: &mut Unstructured<'_>,
    framing: Framing,
    max_frame: usize,
    cuts: &[usize],
) -> Result<()> {
    let mut encoder = FrameCodec::new(framing, max_frame);
    let mut wire = BytesMut::new();
    let mut sent = Vec::new();
    while !u.is_empty() {
        let mut msg: Vec<u8> = u.arbitrary()?;
        let before = wire.len();
        match encoder.encode(Bytes::from(msg.clone()), &mut wire) {
            Ok(()) => {
                if framing == Framing::Lines {
                    // The decoder drops one `\r` before the newline.
                    if msg.last() == Some(&b'\r') {
                        msg.pop();
                    }
                }
                sent.push(msg);
            }
            Err(e) => {
                // Refused: nothing written, and for a reason the framing has.
                assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
                assert_eq!(wire.len(), before, "a refused message wrote bytes");
                let limit = match framing {
                    Framing::Length => max_frame.min(u32::MAX as usize),
                    Framing::Raw => max_frame.max(1),
                    Framing::Lines => max_frame,
                };
                assert!(msg.len() > limit || msg.contains(&b'\n'), "{framing}: {e}");
            }
        }
    }
    let (got, err) = decode(framing, max_frame, &wire, cuts);
    assert!(err.is_none(), "{framing}: {err:?}");
    match framing {
        Framing::Raw => assert_eq!(got.concat(), sent.concat()),
        _ => assert_eq!(got, sent),
    }
    Ok(())
}

/// [`shared::decode_cut`], its buffer bound asserted.
fn decode(
    framing: Framing,
    max_frame: usize,
    wire: &[u8],
    cuts: &[usize],
) -> (Vec<Bytes>, Option<io::Error>) {
    let d = shared::decode_cut(framing, max_frame, wire, cuts);
    assert!(d.within_bound, "{framing}: the buffer grew past its bound");
    (d.frames, d.err)
}
