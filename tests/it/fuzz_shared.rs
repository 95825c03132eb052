//! What the fuzz targets (`fuzz/fuzz_targets/`) and their property tests
//! (`tests/it/fuzz_props.rs`) share, included by both with `#[path]`: each uses a part.
//!
//! The `check_*` functions are the properties, each written once: they panic on a violated
//! one, and the fuzz target (with libFuzzer's input) and the property test (with proptest's)
//! both call them.
#![allow(dead_code)]

use anyipc::bench::{Target, Workload};
use anyipc::codec::{
    Format, FrameCodec, FrameError, Framing, Json, LengthCodec, LineCodec, Postcard,
};
use anyipc::file::{
    decode_record, encode_record, scan_segment, Decoded as RecordDecoded, SegmentHeader,
    RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};
use anyipc::{Endpoint, Scheme};
use bytes::{Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::io;
use tokio_util::codec::{Decoder, Encoder};

/// Every key of the option table (src/endpoint/option_spec.rs; a test in fuzz_props checks
/// it), so that `option` and `with_option` are tried with each.
pub(crate) const KEYS: &[&str] = &[
    "framing",
    "max_frame",
    "connect_timeout",
    "recv_timeout",
    "send_timeout",
    "nodelay",
    "max_peers",
    "idle_timeout",
    "max_queued",
    "broadcast",
    "mode",
    "capacity",
    "busy_poll",
    "create",
    "max_message_len",
    "priority",
    "fsync",
    "consumer",
    "from",
    "follow",
    "segment_size",
    "retention",
    "allow_uids",
];

/// A message type with most of serde's shapes, for the typed layer.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Order {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) tags: Vec<String>,
    pub(crate) price: Option<i64>,
    pub(crate) blob: Vec<u8>,
    pub(crate) kind: Kind,
    pub(crate) extra: BTreeMap<String, u32>,
}

/// Every kind of enum variant.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Kind {
    Unit,
    New(u16),
    Tuple(i8, char),
    Struct { a: bool, b: Vec<u32> },
}

/// What a decoder asks to reserve past the bytes that arrived, at most (a growing buffer
/// may double: the codec documents twice (what arrived + this)).
pub(crate) const RESERVE_AHEAD: usize = 256 * 1024;

/// What [`decode_cut`] saw.
pub(crate) struct Decoded {
    pub(crate) frames: Vec<Bytes>,
    /// The first error, which ends the decoding.
    pub(crate) err: Option<io::Error>,
    /// Whether the buffer stayed within twice (what had arrived + [`RESERVE_AHEAD`])
    /// (and some slack) at every step.
    pub(crate) within_bound: bool,
}

/// The reads `wire` arrives in: pieces ending at `cuts` (taken modulo its length), then the
/// whole of it.
fn read_ends(wire: &[u8], cuts: &[usize]) -> Vec<usize> {
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    ends.push(wire.len());
    ends.sort_unstable();
    ends
}

/// Feeds `wire` to a fresh codec in reads ending at `cuts` (taken modulo its length),
/// decoding after each read until nothing comes, then `decode_eof` likewise, as
/// `FramedRead` does. It stops at the first error: what a codec does after one is
/// [`check_lines_read_on`]'s and [`check_length_error_is_final`]'s.
pub(crate) fn decode_cut(
    framing: Framing,
    max_frame: usize,
    wire: &[u8],
    cuts: &[usize],
) -> Decoded {
    let mut codec = FrameCodec::new(framing, max_frame);
    let mut buf = BytesMut::new();
    let mut decoded = Decoded {
        frames: Vec::new(),
        err: None,
        within_bound: true,
    };
    let mut arrived = 0;
    for end in read_ends(wire, cuts).into_iter().map(Some).chain([None]) {
        if let Some(end) = end {
            buf.extend_from_slice(&wire[arrived..end]);
            arrived = end;
        }
        loop {
            let step = match end {
                Some(_) => codec.decode(&mut buf),
                None => codec.decode_eof(&mut buf),
            };
            decoded.within_bound &= buf.capacity() <= 2 * (arrived + RESERVE_AHEAD) + 64;
            match step {
                Ok(Some(frame)) => decoded.frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    decoded.err = Some(e);
                    return decoded;
                }
            }
        }
    }
    decoded
}

// ---------------------------------------------------------------------------------------
// Endpoint URLs and bench targets
// ---------------------------------------------------------------------------------------

/// Endpoint URL text: an error that names the input, or an endpoint that displays as a
/// canonical form that parses back to it and displays the same; its accessors agree with its
/// scheme; each option it shows is accepted again as the same value; and `with_option`, with
/// any key and words of the input as values, gives a result (never a panic) that round-trips.
pub(crate) fn check_endpoint(text: &str) {
    let endpoint = match Endpoint::parse(text) {
        Ok(endpoint) => endpoint,
        Err(err) => {
            // The message is built from the input: it must format.
            assert_eq!(err.input(), text);
            assert!(err.to_string().contains("invalid endpoint"), "{err}");
            return;
        }
    };
    let canonical = endpoint.to_string();
    let back = Endpoint::parse(&canonical)
        .unwrap_or_else(|e| panic!("{text:?} displays as {canonical:?}, which fails: {e}"));
    assert_eq!(back, endpoint, "{text:?} -> {canonical:?}");
    assert_eq!(back.to_string(), canonical, "{text:?}: not a fixed point");
    match endpoint.scheme() {
        Scheme::Pipe | Scheme::Shm | Scheme::Mq | Scheme::Mem => {
            assert!(endpoint.name().is_some(), "{canonical:?}: no name")
        }
        _ => assert!(endpoint.name().is_none(), "{canonical:?}: a name"),
    }
    if endpoint.path().is_some() {
        assert!(
            matches!(
                endpoint.scheme(),
                Scheme::Unix | Scheme::Fifo | Scheme::File
            ),
            "{canonical:?}: a path"
        );
    }
    assert!(endpoint.max_frame() >= 1, "{canonical:?}");
    let _ = (
        endpoint.address().to_string(),
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

/// Bench target text: whatever parses displays as text that parses back to it and displays
/// the same; its accessors do not panic.
pub(crate) fn check_target(text: &str) {
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

// ---------------------------------------------------------------------------------------
// Frame codecs
// ---------------------------------------------------------------------------------------

/// [`decode_cut`], its buffer bound asserted: the frames and the first error.
fn decode_bounded(
    framing: Framing,
    max_frame: usize,
    wire: &[u8],
    cuts: &[usize],
) -> (Vec<Bytes>, Option<io::Error>) {
    let d = decode_cut(framing, max_frame, wire, cuts);
    assert!(d.within_bound, "{framing}: the buffer grew past its bound");
    (d.frames, d.err)
}

/// The same bytes cut into reads two ways (`a` and `b`): the buffer within its bound, every
/// frame within `max_frame`, and for length and lines framing the same frames and the same
/// kind of error; raw framing delivers the bytes as they are.
pub(crate) fn check_cuts(
    framing: Framing,
    max_frame: usize,
    wire: &[u8],
    a: &[usize],
    b: &[usize],
) {
    let (x, x_err) = decode_bounded(framing, max_frame, wire, a);
    let (y, y_err) = decode_bounded(framing, max_frame, wire, b);
    let limit = match framing {
        Framing::Raw => max_frame.max(1),
        _ => max_frame,
    };
    for frame in x.iter().chain(&y) {
        assert!(
            frame.len() <= limit,
            "{framing}: a {}-byte frame over {limit}",
            frame.len()
        );
    }
    match framing {
        Framing::Raw => {
            assert!(x_err.is_none() && y_err.is_none(), "{x_err:?} {y_err:?}");
            assert_eq!(x.concat(), wire);
            assert_eq!(y.concat(), wire);
        }
        Framing::Length | Framing::Lines => {
            assert_eq!(
                x, y,
                "{framing} max {max_frame}: frames depend on the cuts {a:?} vs {b:?}"
            );
            assert_eq!(
                x_err.as_ref().map(io::Error::kind),
                y_err.as_ref().map(io::Error::kind),
                "{framing} max {max_frame}: {x_err:?} vs {y_err:?} with cuts {a:?} vs {b:?}"
            );
        }
    }
}

/// `msgs` encoded, then decoded cut at `cuts`: what the encoder accepted comes back the same
/// (raw framing: the same bytes), within the
/// buffer's bound; what it refused is `InvalidInput`, for a reason the framing has, and
/// writes nothing.
pub(crate) fn check_round_trip(
    framing: Framing,
    max_frame: usize,
    msgs: impl IntoIterator<Item = Vec<u8>>,
    cuts: &[usize],
) {
    let mut encoder = FrameCodec::new(framing, max_frame);
    let mut wire = BytesMut::new();
    let mut sent = Vec::new();
    for msg in msgs {
        let before = wire.len();
        match encoder.encode(Bytes::from(msg.clone()), &mut wire) {
            Ok(()) => sent.push(msg),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{framing}: {e}");
                assert_eq!(wire.len(), before, "a refused message wrote bytes");
                let limit = match framing {
                    Framing::Length => max_frame.min(u32::MAX as usize),
                    Framing::Raw => max_frame.max(1),
                    Framing::Lines => max_frame,
                };
                // A line may hold no `\n` and not end with `\r` (it would arrive without).
                let bad_line = framing == Framing::Lines
                    && (msg.contains(&b'\n') || msg.last() == Some(&b'\r'));
                assert!(msg.len() > limit || bad_line, "{framing}: {e}");
            }
        }
    }
    let (got, err) = decode_bounded(framing, max_frame, &wire, cuts);
    assert!(err.is_none(), "{framing}: {err:?}");
    match framing {
        Framing::Raw => assert_eq!(got.concat(), sent.concat()),
        _ => assert_eq!(got, sent),
    }
}

/// Lines, each `(text, crlf)`: `text` without its `\n`s and the `\r`s at its end, ended by
/// `\r\n` when `crlf`, by `\n` otherwise, and the last one by nothing when `open_end`. Read in
/// pieces ending at `cuts` by a `LineCodec` of `max_frame` that decodes on after an error, as
/// the plain `file://` reader does: every line within `max_frame` arrives exactly and in
/// order, after an over-long line as before it; each over-long line is one `InvalidData`
/// ([`FrameError::TooLarge`]) in its place, and no part of it is ever delivered; and
/// between reads the buffer holds no more than `max_frame` + 1 bytes (the rest of a long
/// line is dropped as it arrives, not kept until its newline).
pub(crate) fn check_lines_read_on(
    max_frame: usize,
    lines: Vec<(Vec<u8>, bool)>,
    open_end: bool,
    cuts: &[usize],
) {
    let mut codec = LineCodec::new(max_frame);
    // The limit the codec keeps (and names in its errors).
    let limit = max_frame.min(usize::MAX - 1);
    let mut wire = Vec::new();
    let mut want = Vec::new();
    let count = lines.len();
    for (i, (mut text, crlf)) in lines.into_iter().enumerate() {
        text.retain(|b| *b != b'\n');
        while text.last() == Some(&b'\r') {
            text.pop();
        }
        let last_open = open_end && i + 1 == count;
        wire.extend_from_slice(&text);
        if !last_open {
            wire.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        } else if text.is_empty() {
            // Nothing after the last line end: no line.
            break;
        }
        want.push(if text.len() <= limit {
            Ok(Bytes::from(text))
        } else {
            Err(())
        });
    }
    let mut got = Vec::new();
    let mut buf = BytesMut::new();
    let mut arrived = 0;
    for end in read_ends(&wire, cuts).into_iter().map(Some).chain([None]) {
        if let Some(end) = end {
            buf.extend_from_slice(&wire[arrived..end]);
            arrived = end;
        }
        loop {
            let before = buf.len();
            let step = match end {
                Some(_) => codec.decode(&mut buf),
                None => codec.decode_eof(&mut buf),
            };
            match step {
                Ok(Some(line)) => got.push(Ok(line)),
                Ok(None) => {
                    assert!(
                        buf.len() <= limit.saturating_add(1),
                        "max {max_frame}: {} bytes of a line kept",
                        buf.len()
                    );
                    break;
                }
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
                    let reported = e.get_ref().and_then(|e| e.downcast_ref::<FrameError>());
                    assert!(
                        matches!(reported, Some(FrameError::TooLarge { max, .. }) if *max == limit),
                        "max {max_frame}: {e}"
                    );
                    // An error that dropped nothing would be reported again and again.
                    assert!(buf.len() < before, "max {max_frame}: {e}, nothing dropped");
                    got.push(Err(()));
                }
            }
        }
    }
    assert!(buf.is_empty(), "{} bytes left at the end", buf.len());
    assert_eq!(
        got,
        want,
        "max {max_frame}, cuts {cuts:?}, wire \"{}\"",
        wire.escape_ascii()
    );
}

/// `wire` read in pieces ending at `cuts` by a `LengthCodec` of `max_frame`: the frames up
/// to the first bad one are delivered; a header over `max_frame` is `InvalidData`, and the
/// end of the data inside a frame (or header) `UnexpectedEof`. Such an error is final, since
/// a length prefix is the only way to find where the next frame starts: the bad header stays
/// at the front of the buffer, every later `decode` and `decode_eof` reports the same error
/// again, whatever arrives after it, and no frame after it is ever delivered.
pub(crate) fn check_length_error_is_final(max_frame: usize, wire: &[u8], cuts: &[usize]) {
    const HEADER: usize = 4;
    let mut codec = LengthCodec::new(max_frame);
    let limit = codec.max_frame() as u64;
    // The frames and the first error, and where it is, read off the wire.
    let mut want = Vec::new();
    let mut at = 0;
    let want_err = loop {
        let Some(header) = wire.get(at..at + HEADER) else {
            break (at < wire.len()).then_some((io::ErrorKind::UnexpectedEof, at));
        };
        let len = u64::from(u32::from_be_bytes(header.try_into().unwrap()));
        if len > limit {
            break Some((io::ErrorKind::InvalidData, at));
        }
        let end = at + HEADER + len as usize;
        if end > wire.len() {
            break Some((io::ErrorKind::UnexpectedEof, at));
        }
        want.push(Bytes::copy_from_slice(&wire[at + HEADER..end]));
        at = end;
    };
    let mut got = Vec::new();
    // The first error: its kind, its text and where in the wire the bad frame starts.
    let mut first: Option<(io::ErrorKind, String, usize)> = None;
    let mut buf = BytesMut::new();
    let mut arrived = 0;
    for end in read_ends(wire, cuts).into_iter().map(Some).chain([None]) {
        if let Some(end) = end {
            buf.extend_from_slice(&wire[arrived..end]);
            arrived = end;
        }
        // After an error: twice more (the same error each time), then the next read.
        let mut again = 0;
        loop {
            let step = match end {
                Some(_) => codec.decode(&mut buf),
                None => codec.decode_eof(&mut buf),
            };
            match step {
                Ok(Some(frame)) if first.is_none() => got.push(frame),
                Ok(None) if first.is_none() => break,
                Err(e) if first.is_none() => {
                    first = Some((e.kind(), e.to_string(), arrived - buf.len()));
                }
                Err(e) => {
                    let (kind, text, _) = first.as_ref().unwrap();
                    assert_eq!((e.kind(), &e.to_string()), (*kind, text), "max {max_frame}");
                }
                Ok(frame) => panic!(
                    "max {max_frame}: after \"{}\", decoding gave {frame:?}",
                    first.unwrap().1
                ),
            }
            if let Some((_, _, bad)) = first {
                // Nothing of the bad frame, or of what came after it, was taken.
                assert_eq!(&buf[..], &wire[bad..arrived], "max {max_frame}");
                again += 1;
                if again == 3 {
                    break;
                }
            }
        }
    }
    assert_eq!(got, want, "max {max_frame}, cuts {cuts:?}");
    assert_eq!(
        first.map(|(kind, _, bad)| (kind, bad)),
        want_err,
        "max {max_frame}, cuts {cuts:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Typed layer: json and postcard
// ---------------------------------------------------------------------------------------

/// Decodes `bytes` as a `T`: a `FormatError` that displays, or a value that re-encodes (or is
/// refused: JSON has no NaN or infinity and no non-string keys) and decodes to a value
/// `same` as it.
pub(crate) fn check_format_with<F: Format, T: DeserializeOwned + Serialize + Debug>(
    format: &F,
    bytes: &[u8],
    same: impl Fn(&T, &T) -> bool,
) {
    match format.decode::<T>(bytes) {
        Ok(value) => {
            let Ok(again) = format.encode(&value) else {
                return;
            };
            let back: T = format
                .decode(&again)
                .unwrap_or_else(|e| panic!("{value:?} re-encoded does not decode: {e}"));
            assert!(same(&back, &value), "{value:?} came back as {back:?}");
        }
        Err(err) => assert!(!err.to_string().is_empty()),
    }
}

/// [`check_format_with`], the value coming back exactly: the same debug text, so JSON
/// floats too (serde_json's `float_roundtrip`), `-0.0` and NaN included.
pub(crate) fn check_format<F: Format, T: DeserializeOwned + Serialize + Debug>(
    format: &F,
    bytes: &[u8],
) {
    check_format_with(format, bytes, |a: &T, b: &T| {
        format!("{a:?}") == format!("{b:?}")
    });
}

/// [`check_format`] with a range of types: most of serde's shapes (not a recursive one,
/// which each caller adds as its inputs allow).
pub(crate) fn check_types<F: Format>(format: &F, bytes: &[u8]) {
    check_format::<F, Order>(format, bytes);
    check_format::<F, Kind>(format, bytes);
    check_format::<F, Vec<Vec<u32>>>(format, bytes);
    check_format::<F, (String, Option<bool>, [u8; 3])>(format, bytes);
    check_format::<F, (String, Option<bool>, [u8; 3], f64)>(format, bytes);
    check_format::<F, BTreeMap<u32, String>>(format, bytes);
    // Two equal hash maps may list their entries in different orders: compared as maps.
    check_format_with::<F, HashMap<u32, String>>(format, bytes, |a, b| a == b);
    check_format::<F, f64>(format, bytes);
    check_format::<F, String>(format, bytes);
}

/// [`check_types`] in both formats, and in JSON as a self-describing `serde_json::Value`
/// (postcard cannot decode those).
pub(crate) fn check_typed(bytes: &[u8]) {
    check_types(&Json, bytes);
    check_types(&Postcard, bytes);
    check_format::<Json, serde_json::Value>(&Json, bytes);
}

// ---------------------------------------------------------------------------------------
// Bench control messages
// ---------------------------------------------------------------------------------------

/// A control message from a peer: a valid workload whose own control message parses back to
/// it, or `InvalidData`.
pub(crate) fn check_control(msg: &[u8]) {
    match Workload::parse_control(msg) {
        Ok(workload) => {
            assert!(
                workload.size() >= 1 && workload.batch() >= 1,
                "{workload:?}"
            );
            let control = workload.control_message();
            assert_eq!(Workload::parse_control(&control).ok(), Some(workload));
            let _ = workload.to_string();
        }
        Err(err) => assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}"),
    }
}

// ---------------------------------------------------------------------------------------
// Durable log records
// ---------------------------------------------------------------------------------------

/// `SegmentHeader::decode` and `decode_record` on `bytes` with this salt, sequence number and
/// limit, and `scan_segment` with this limit on `bytes` as they are and behind a valid
/// header: what decodes re-encodes to the same bytes, a record is as long as it announces
/// and within the limit, an incomplete one announces more than there is, and the scan's
/// records follow one another within its valid prefix.
pub(crate) fn check_log_records(bytes: &[u8], salt: u32, seq: u64, max_len: usize) {
    if let Some(header) = SegmentHeader::decode(bytes) {
        assert_eq!(&header.encode()[..], &bytes[..SEGMENT_HEADER_LEN]);
    }
    let announced = bytes
        .get(..4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize);
    match decode_record(bytes, salt, seq, max_len) {
        RecordDecoded::Record { len } => {
            let announced = announced.expect("a record without a length");
            assert!(len >= RECORD_HEADER_LEN && len <= bytes.len(), "{len}");
            assert_eq!(len, RECORD_HEADER_LEN + announced);
            assert!(announced <= max_len, "{announced} over {max_len}");
        }
        RecordDecoded::Incomplete => {
            if let Some(announced) = announced {
                assert!(RECORD_HEADER_LEN + announced > bytes.len(), "{announced}");
            }
        }
        RecordDecoded::Invalid => {}
    }
    // `bytes` as the payload of a real record: it decodes whole, and not under another salt
    // or sequence number, or with any one bit changed past its length field (a CRC32C
    // catches every one-bit error), so the `Record` branch above is not all arbitrary
    // bytes can reach.
    if bytes.len() <= max_len {
        let mut record = Vec::new();
        encode_record(&mut record, salt, seq, bytes);
        let whole = RecordDecoded::Record { len: record.len() };
        assert_eq!(decode_record(&record, salt, seq, max_len), whole);
        assert_eq!(
            decode_record(&record, salt ^ 1, seq, max_len),
            RecordDecoded::Invalid
        );
        assert_eq!(
            decode_record(&record, salt, seq ^ 1, max_len),
            RecordDecoded::Invalid
        );
        let at = 4 + (seq as usize) % (record.len() - 4);
        record[at] ^= 1 << (salt % 8);
        assert_eq!(
            decode_record(&record, salt, seq, max_len),
            RecordDecoded::Invalid,
            "bit {} of byte {at} changed",
            salt % 8
        );
    }
    let mut with_header = SegmentHeader::new(salt, seq).encode().to_vec();
    with_header.extend_from_slice(bytes);
    for data in [bytes, &with_header[..]] {
        let scan = scan_segment(data, max_len);
        assert!(scan.valid_len <= data.len());
        let mut at = SEGMENT_HEADER_LEN;
        for payload in &scan.payloads {
            assert_eq!(payload.start, at + RECORD_HEADER_LEN);
            assert!(payload.end <= scan.valid_len && payload.end - payload.start <= max_len);
            at = payload.end;
        }
        if scan.header.is_some() {
            assert_eq!(at, scan.valid_len);
        }
        let _ = scan.next_seq();
    }
}
