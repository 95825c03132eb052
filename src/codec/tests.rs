//! Property tests of the codecs: what is encoded decodes to the same messages however the
//! bytes are cut into reads, and no input makes a decoder panic or over-allocate.

use super::{FrameCodec, Framing, LengthCodec, LineCodec, RawCodec, MAX_RESERVE_AHEAD};
use crate::transport::MessageBatch;
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use std::io;
use tokio_util::codec::{Decoder, Encoder};

/// Feeds `wire` to `codec` in pieces ending at `cuts` (sorted, any values), as reads would
/// deliver it, then signals end of stream. Returns the messages and the first error.
fn decode_in_pieces<D>(
    codec: &mut D,
    wire: &[u8],
    cuts: &[usize],
) -> (Vec<Bytes>, Option<io::Error>)
where
    D: Decoder<Item = Bytes, Error = io::Error>,
{
    feed_in_pieces(wire, cuts, |buf, eof, out| {
        let decoded = if eof {
            codec.decode_eof(buf)?
        } else {
            codec.decode(buf)?
        };
        Ok(decoded.map(|msg| out.push(msg)).is_some())
    })
}

/// Feeds `wire` in pieces ending at `cuts` to `cut(buffer, eof, out)`, which moves what it
/// can cut into `out` and says whether it cut anything; called until it cuts nothing after
/// each piece, then at end of stream. Returns the messages and the first error.
fn feed_in_pieces(
    wire: &[u8],
    cuts: &[usize],
    mut cut: impl FnMut(&mut BytesMut, bool, &mut Vec<Bytes>) -> io::Result<bool>,
) -> (Vec<Bytes>, Option<io::Error>) {
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    ends.push(wire.len());
    ends.sort_unstable();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut start = 0;
    // Each piece, then end of stream (`None`).
    for end in ends.into_iter().map(Some).chain([None]) {
        if let Some(end) = end {
            buf.extend_from_slice(&wire[start..end]);
            start = end;
        }
        let eof = end.is_none();
        loop {
            match cut(&mut buf, eof, &mut out) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fn encode_all<E: Encoder<Bytes, Error = io::Error>>(codec: &mut E, msgs: &[Vec<u8>]) -> BytesMut {
    let mut wire = BytesMut::new();
    for msg in msgs {
        codec
            .encode(Bytes::copy_from_slice(msg), &mut wire)
            .unwrap();
    }
    wire
}

fn messages() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20)
}

/// Lines: no `\n` inside, and no `\r` at the end (the decoder drops a `\r` before `\n`).
fn lines() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|mut line| {
            line.retain(|b| *b != b'\n');
            while line.last() == Some(&b'\r') {
                line.pop();
            }
            line
        }),
        0..20,
    )
}

/// As [`decode_in_pieces`], but cutting whole frames off in batches with `split` (what a
/// connection's `recv_batch` does) wherever `batch` says so, and with `decode` elsewhere.
fn decode_batches_in_pieces<D: Decoder<Item = Bytes, Error = io::Error>>(
    codec: &mut D,
    split: fn(&mut D, &mut BytesMut) -> Option<MessageBatch>,
    wire: &[u8],
    cuts: &[usize],
    batch: &[bool],
) -> (Vec<Bytes>, Option<io::Error>) {
    let mut step = 0;
    feed_in_pieces(wire, cuts, |buf, eof, out| {
        step += 1;
        if batch[step % batch.len()] {
            if let Some(got) = split(codec, buf) {
                assert_eq!(got.iter().count(), got.len());
                out.extend(got.iter().map(Bytes::copy_from_slice));
                return Ok(true);
            }
        }
        let decoded = if eof {
            codec.decode_eof(buf)?
        } else {
            codec.decode(buf)?
        };
        Ok(decoded.map(|msg| out.push(msg)).is_some())
    })
}

fn split_frames(codec: &mut LengthCodec, buf: &mut BytesMut) -> Option<MessageBatch> {
    let (frames, count) = codec.split_whole_frames(buf)?;
    Some(MessageBatch::length_frames(frames, count))
}

fn split_lines(codec: &mut LineCodec, buf: &mut BytesMut) -> Option<MessageBatch> {
    let (text, count) = codec.split_whole_lines(buf)?;
    Some(MessageBatch::lines(text, count))
}

/// Lines decoded by a `LineCodec` of `max` from `wire` fed in pieces ending at `cuts`, cut off
/// in batches with `split_whole_lines` wherever `batch` says so and with `decode` elsewhere,
/// and decoded on after an error: the lines, and the errors as their kind and text, in order.
fn lines_reading_on(
    max: usize,
    wire: &[u8],
    cuts: &[usize],
    batch: &[bool],
) -> Vec<Result<Bytes, (io::ErrorKind, String)>> {
    let mut codec = LineCodec::new(max);
    let mut events = Vec::new();
    let mut step = 0;
    let (_, err) = feed_in_pieces(wire, cuts, |buf, eof, _| {
        step += 1;
        if batch[step % batch.len()] {
            if let Some(got) = split_lines(&mut codec, buf) {
                assert_eq!(got.iter().count(), got.len());
                events.extend(got.iter().map(|line| Ok(Bytes::copy_from_slice(line))));
                return Ok(true);
            }
        }
        let before = buf.len();
        let decoded = if eof {
            codec.decode_eof(buf)
        } else {
            codec.decode(buf)
        };
        match decoded {
            Ok(Some(line)) => events.push(Ok(line)),
            Ok(None) => return Ok(false),
            Err(e) => {
                // One that dropped nothing would be reported again and again.
                assert!(buf.len() < before, "{e}: nothing dropped");
                events.push(Err((e.kind(), e.to_string())));
            }
        }
        Ok(true)
    });
    assert!(err.is_none(), "{err:?}");
    events
}

/// Frames decoded by a `LengthCodec` of `max` dropping frames up to `drop_max` bytes, from
/// `wire` fed in pieces ending at `cuts`, cut off in batches with `split_whole_frames`
/// wherever `batch` says so and with `decode` elsewhere, decoded on after an error the codec
/// goes on after: the frames, and the refused lengths, in order; then the error that ended
/// decoding, if one did.
fn length_dropping_on(
    max: usize,
    drop_max: usize,
    wire: &[u8],
    cuts: &[usize],
    batch: &[bool],
) -> (Vec<Result<Bytes, u64>>, Option<io::Error>) {
    let mut codec = LengthCodec::new(max).dropping_frames_up_to(drop_max);
    let mut events = Vec::new();
    let mut step = 0;
    let (_, err) = feed_in_pieces(wire, cuts, |buf, eof, _| {
        step += 1;
        if batch[step % batch.len()] {
            if let Some(got) = split_frames(&mut codec, buf) {
                events.extend(got.iter().map(|frame| Ok(Bytes::copy_from_slice(frame))));
                return Ok(true);
            }
        }
        let decoded = if eof {
            codec.decode_eof(buf)
        } else {
            codec.decode(buf)
        };
        match decoded {
            Ok(Some(frame)) => events.push(Ok(frame)),
            Ok(None) => return Ok(false),
            Err(e) if codec.goes_on_after_error() => match e.into_inner() {
                Some(inner) => match inner.downcast_ref::<super::FrameError>() {
                    Some(super::FrameError::TooLarge { len, .. }) => events.push(Err(*len)),
                    other => panic!("goes on after {other:?}"),
                },
                None => panic!("goes on after an error without a FrameError"),
            },
            Err(e) => return Err(e),
        }
        Ok(true)
    });
    (events, err)
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(any::<usize>(), 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn length_round_trip(msgs in messages(), cuts in cuts()) {
        let wire = encode_all(&mut LengthCodec::new(300), &msgs);
        let (out, err) = decode_in_pieces(&mut LengthCodec::new(300), &wire, &cuts);
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(out, msgs);
    }

    #[test]
    fn lines_round_trip(msgs in lines(), cuts in cuts()) {
        let wire = encode_all(&mut LineCodec::new(300), &msgs);
        let (out, err) = decode_in_pieces(&mut LineCodec::new(300), &wire, &cuts);
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(out, msgs);
    }

    #[test]
    fn lines_crlf_round_trip(msgs in lines(), cuts in cuts()) {
        // What a Windows peer writes: `\r\n` endings decode to the same lines.
        let mut wire = Vec::new();
        for msg in &msgs {
            wire.extend_from_slice(msg);
            wire.extend_from_slice(b"\r\n");
        }
        let (out, err) = decode_in_pieces(&mut LineCodec::new(300), &wire, &cuts);
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(out, msgs);
    }

    #[test]
    fn raw_keeps_the_bytes(msgs in messages(), cuts in cuts(), max in 1usize..400) {
        // Raw framing keeps no boundaries: the bytes arrive, in chunks of at most max_frame.
        let msgs: Vec<Vec<u8>> = msgs.into_iter().map(|mut m| { m.truncate(max); m }).collect();
        let wire = encode_all(&mut RawCodec::new(max), &msgs);
        let (out, err) = decode_in_pieces(&mut RawCodec::new(max), &wire, &cuts);
        prop_assert!(err.is_none());
        prop_assert!(out.iter().all(|chunk| !chunk.is_empty() && chunk.len() <= max));
        prop_assert_eq!(out.concat(), msgs.concat());
    }

    #[test]
    fn frame_codec_round_trip(msgs in lines(), cuts in cuts(), which in 0..2usize) {
        let framing = [Framing::Length, Framing::Lines][which];
        let wire = encode_all(&mut FrameCodec::new(framing, 300), &msgs);
        let (out, err) = decode_in_pieces(&mut FrameCodec::new(framing, 300), &wire, &cuts);
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(out, msgs);
    }

    /// Cutting whole frames off in batches delivers what decoding one frame at a time does,
    /// the same messages and then the same error, on valid frames and on garbage alike.
    #[test]
    fn length_batches_deliver_what_single_decodes_do(
        msgs in messages(),
        garbage in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in cuts(),
        batch in proptest::collection::vec(any::<bool>(), 1..8),
        max in 0usize..400,
    ) {
        let mut wire = encode_all(&mut LengthCodec::new(300), &msgs).to_vec();
        wire.extend_from_slice(&garbage);
        let (want, want_err) = decode_in_pieces(&mut LengthCodec::new(max), &wire, &cuts);
        let (got, got_err) =
            decode_batches_in_pieces(&mut LengthCodec::new(max), split_frames, &wire, &cuts, &batch);
        prop_assert_eq!(got, want);
        prop_assert_eq!(
            got_err.map(|e| (e.kind(), e.to_string())),
            want_err.map(|e| (e.kind(), e.to_string()))
        );
    }

    /// The same for lines, decoding on after an over-long line as the plain `file://`
    /// reader does: whole lines cut off in batches are what single decodes give, the same
    /// lines and errors in the same order, `\r\n` endings, over-long lines (dropped up to
    /// their newline) and a last line without a newline included.
    #[test]
    fn line_batches_deliver_what_single_decodes_do(
        msgs in lines(),
        garbage in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), any::<u8>()], 0..600),
        cuts in cuts(),
        batch in proptest::collection::vec(any::<bool>(), 1..8),
        max in 0usize..400,
    ) {
        let mut wire = encode_all(&mut LineCodec::new(300), &msgs).to_vec();
        wire.extend_from_slice(&garbage);
        let want = lines_reading_on(max, &wire, &cuts, &[false]);
        let got = lines_reading_on(max, &wire, &cuts, &batch);
        prop_assert_eq!(got, want);
    }

    /// A length codec that drops whole frames up to a size (a FIFO reader's) reports each
    /// frame over `max_frame` once and delivers every other frame, in order, however the
    /// bytes are cut into reads and whichever way (one or a batch) frames are cut off.
    #[test]
    fn length_drops_refused_frames_and_reads_on(
        msgs in messages(),
        cuts in cuts(),
        batch in proptest::collection::vec(any::<bool>(), 1..8),
        max in 0usize..300,
    ) {
        let wire = encode_all(&mut LengthCodec::new(300), &msgs);
        let want: Vec<Result<Bytes, u64>> = msgs
            .iter()
            .map(|m| match m.len() <= max {
                true => Ok(Bytes::copy_from_slice(m)),
                false => Err(m.len() as u64),
            })
            .collect();
        let (got, err) = length_dropping_on(max, 304, &wire, &cuts, &batch);
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(got, want);
    }

    /// Arbitrary bytes: a decoder returns messages within the limit or an error; it never
    /// panics and never reserves far beyond what arrived.
    #[test]
    fn decoders_survive_garbage(wire in proptest::collection::vec(any::<u8>(), 0..2000), cuts in cuts(), max in 0usize..3000) {
        for framing in [Framing::Length, Framing::Lines, Framing::Raw] {
            let mut codec = FrameCodec::new(framing, max);
            let (out, _err) = decode_in_pieces(&mut codec, &wire, &cuts);
            prop_assert!(out.iter().all(|m| m.len() <= max.max(1)), "{framing}: over max");
        }
        let mut codec = LengthCodec::new(usize::MAX);
        let mut buf = BytesMut::from(&wire[..]);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
        prop_assert!(buf.capacity() <= wire.len() + MAX_RESERVE_AHEAD + 64);
    }

    /// The inlined fast path (`decode_whole`, what `Connection` cuts a frame with) takes
    /// exactly the frame `decode` would, or leaves the buffer and the codec as they were
    /// (for `decode`'s other cases: a partial frame, a length over the limit, the rest of
    /// a refused frame to drop), at every step of arbitrary input.
    #[test]
    fn length_fast_path_cuts_what_decode_would_or_nothing(
        wire in proptest::collection::vec(any::<u8>(), 0..600),
        max in 0usize..300,
    ) {
        let mut codec = LengthCodec::new(max);
        let mut buf = BytesMut::from(&wire[..]);
        for _ in 0..wire.len() + 1 {
            let (before_codec, before_buf) = (format!("{codec:?}"), buf.clone());
            let (mut fast_codec, mut fast_buf) = (codec.clone(), buf.clone());
            let fast = fast_codec.decode_whole(&mut fast_buf);
            let slow = codec.decode(&mut buf);
            match fast {
                Some(frame) => {
                    prop_assert_eq!(slow.ok().flatten(), Some(frame));
                    prop_assert_eq!(&fast_buf, &buf);
                    prop_assert_eq!(format!("{fast_codec:?}"), format!("{codec:?}"));
                }
                None => {
                    prop_assert_eq!(&fast_buf, &before_buf);
                    prop_assert_eq!(format!("{fast_codec:?}"), before_codec);
                    if let Ok(None) = slow {
                        break;
                    }
                }
            }
        }
    }
}

/// A frame larger than the codec drops stays final: the same error at every decode, and
/// nothing after it.
#[test]
fn length_keeps_a_length_over_what_it_drops_final() {
    let mut wire = encode_all(&mut LengthCodec::new(300), &[vec![1; 10], vec![2; 2]]);
    let mut codec = LengthCodec::new(4).dropping_frames_up_to(13);
    for _ in 0..3 {
        let err = codec.decode(&mut wire).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(!codec.goes_on_after_error());
    }
    // One byte more allowed: dropped, and the next frame follows.
    let mut codec = LengthCodec::new(4).dropping_frames_up_to(14);
    assert!(codec.decode(&mut wire).is_err());
    assert!(codec.goes_on_after_error());
    assert_eq!(
        codec.decode(&mut wire).unwrap(),
        Some(Bytes::from_static(&[2, 2]))
    );
}

#[test]
fn length_refuses_oversize_announcement_before_the_body() {
    let mut codec = LengthCodec::new(10);
    let mut buf = BytesMut::from(&[0, 0, 0, 11][..]);
    let err = codec.decode(&mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
    let err = LengthCodec::new(8 << 20).decode(&mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(buf.capacity() < 1024);
}

#[test]
fn length_reserves_at_most_the_bound_ahead() {
    // The largest frame the codec takes (on 32-bit targets a little under `u32::MAX`, so
    // that a frame and its header fit in memory), and a length near it.
    let mut codec = LengthCodec::new(usize::MAX);
    let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xf0, 1, 2, 3][..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    assert!(buf.capacity() >= 3, "keeps what arrived");
    assert!(
        buf.capacity() <= 3 + MAX_RESERVE_AHEAD + 64,
        "{}",
        buf.capacity()
    );
}

/// A read that ends inside a frame leaves that frame whole in the buffer, so the batch after
/// the next read holds it and every frame after it, not the finished frame alone.
#[test]
fn a_frame_cut_by_a_read_joins_the_next_batch() {
    let mut codec = LengthCodec::new(1024);
    let mut wire = BytesMut::new();
    for msg in [&b"one"[..], b"two", b"three"] {
        codec
            .encode(Bytes::copy_from_slice(msg), &mut wire)
            .unwrap();
    }
    // The first read: "one" whole and "two"'s header with one byte of its body.
    let mut buf = wire.split_to(7 + 5);
    let first = split_frames(&mut codec, &mut buf).unwrap();
    assert_eq!(first.iter().collect::<Vec<_>>(), [&b"one"[..]]);
    // No whole frame left: the connection asks `decode`, which waits for the rest.
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    buf.extend_from_slice(&wire);
    let second = split_frames(&mut codec, &mut buf).unwrap();
    assert_eq!(second.iter().collect::<Vec<_>>(), [&b"two"[..], b"three"]);
    assert!(buf.is_empty());
}
