//! Property tests of the parsers and decoders that take input from outside (URL text, bytes
//! a peer sends, files another program wrote): each returns a value or a typed error, never
//! panics, hangs or allocates what the input merely announces. The same checks as the
//! `fuzz/` targets (`endpoint_parse`, `frame_codecs`, `typed_decode`, `bench_control`,
//! `log_records`), written once in `fuzz_shared.rs` (`shared::check_*`, which panic on a
//! violated property; beside this file, so a packaged crate's tests have it too), with few
//! cases so that all of them take a few seconds.
//!
//! Three bugs they found are fixed, each with its test here: postcard's unbounded nesting
//! (a stack overflow), JSON floats off by one ULP, and the length codec's reservation.

use crate::bounded::RunBounded;
use crate::util::{watchdog, TempDir};
#[path = "fuzz_shared.rs"]
mod shared;
use anyipc::codec::{Format, Framing, Json, LengthCodec, Postcard};
use anyipc::file::{encode_record, FileConsumer, FileOptions, SegmentHeader};
use anyipc::{Endpoint, Scheme};
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use shared::{KEYS, RESERVE_AHEAD};
use std::fmt::Debug;
use std::io;
use tokio_util::codec::Decoder;

/// The fuzzers' option keys are the option table's, in its order: a new option is fuzzed too.
/// (A key with a row per kind of value, such as `capacity`, is one key.)
#[test]
fn the_fuzzed_option_keys_are_the_option_table() {
    let table = anyipc::endpoint::option_table_markdown();
    let mut keys: Vec<&str> = table
        .lines()
        .filter_map(|row| row.strip_prefix("| `")?.split('`').next())
        .collect();
    keys.dedup();
    assert_eq!(keys, KEYS);
}

/// The URL fuzzer's dictionary (`fuzz/dicts/endpoint.dict`) has every scheme and every
/// option key, so that libFuzzer splices in a new one as well. (Read at run time: a
/// packaged crate has no `fuzz/`, which is a crate of its own.)
#[test]
fn the_url_dictionary_has_every_scheme_and_option_key() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    if !fuzz.exists() {
        eprintln!("no fuzz/ beside this crate (a packaged crate): nothing to check");
        return;
    }
    let dict = std::fs::read_to_string(fuzz.join("dicts/endpoint.dict")).unwrap();
    let entries: Vec<&str> = dict
        .lines()
        .filter_map(|line| line.strip_prefix('"')?.strip_suffix('"'))
        .collect();
    for scheme in Scheme::ALL {
        let entry = format!("{scheme}://");
        assert!(entries.contains(&entry.as_str()), "{entry} is missing");
    }
    for key in KEYS {
        let entry = format!("{key}=");
        assert!(entries.contains(&entry.as_str()), "{entry} is missing");
    }
}

/// `cases` cases, and no `proptest-regressions` files written: a failure prints its input.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Endpoint URLs and bench targets
// ---------------------------------------------------------------------------------------

fn scheme_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(Scheme::ALL.to_vec()).prop_map(|s| s.to_string()),
        1 => "[a-zA-Z+]{0,6}",
    ]
}

fn address_text() -> impl Strategy<Value = String> {
    prop_oneof![
        // host:port, IPv4, IPv6 (bracketed or not), odd ports.
        ("[a-z0-9._-]{0,10}", "[0-9]{0,7}").prop_map(|(h, p)| format!("{h}:{p}")),
        (
            "(::1|::|fe80::1|::ffff:1.2.3.4|1:2:3:4:5:6:7:8|:::|[0-9a-f:]{0,12})",
            "[0-9]{0,6}"
        )
            .prop_map(|(h, p)| format!("[{h}]:{p}")),
        // Paths with escapes (good and bad), spaces, `@`, `#`, non-ASCII.
        "(/|@|%40)?([a-z/ #@+.]|%[0-9A-Fa-f]{2}|%[^ ]{0,2}|é|\u{0}|\u{2028}){0,20}",
        // Names.
        "[a-zA-Z0-9._-]{0,70}",
        ".{0,30}",
    ]
}

fn option_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,22}(b|B|k|K|kb|KB|kib|KiB|m|mb|MiB|g|gb|GiB|ms|s|m|h)?",
        "(true|false|yes|no|on|off|1|0|lines|raw|length|always|batch|never|start|end)",
        "(0o)?[0-7]{0,5}",
        "[0-9,]{0,14}",
        "[a-zA-Z0-9._-]{0,66}",
        "[+-]?[0-9]{1,3}",
        ".{0,8}",
    ]
}

fn url_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        8 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-z_]{0,8}",
    ];
    let query =
        proptest::collection::vec((key, option_value(), any::<bool>()), 0..5).prop_map(|parts| {
            parts
                .iter()
                .map(|(k, v, eq)| if *eq { format!("{k}={v}") } else { k.clone() })
                .collect::<Vec<_>>()
                .join("&")
        });
    (scheme_text(), address_text(), proptest::option::of(query)).prop_map(
        |(scheme, address, query)| match query {
            Some(query) => format!("{scheme}://{address}?{query}"),
            None => format!("{scheme}://{address}"),
        },
    )
}

/// Expected bytes of a size written `digits` + `unit`, if it fits a u64.
fn size_of(digits: &str, unit: &str) -> Option<u64> {
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => unreachable!("{other}"),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// Expected milliseconds of a duration written `digits` + `unit`, if it fits a u64.
fn millis_of(digits: &str, unit: &str) -> Option<u64> {
    let mult: u64 = match unit {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        other => unreachable!("{other}"),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// Parses what `option()` displays for a size back into bytes.
fn displayed_size(text: &str) -> u64 {
    for (suffix, mult) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if let Some(n) = text.strip_suffix(suffix) {
            return n.parse::<u64>().unwrap() * mult;
        }
    }
    text.parse().unwrap()
}

/// Parses what `option()` displays for a duration back into milliseconds.
fn displayed_millis(text: &str) -> u128 {
    match text.strip_suffix("ms") {
        Some(n) => n.parse().unwrap(),
        None => text.strip_suffix('s').unwrap().parse::<u128>().unwrap() * 1000,
    }
}

fn target_text() -> impl Strategy<Value = String> {
    prop_oneof![
        url_text(),
        (url_text(), "( |  |\t)?", url_text()).prop_map(|(a, sp, b)| format!("{a}{sp} + {sp}{b}")),
        (
            "(raw\\+unix|raw\\+tcp|raw\\+child|raw\\+fifo|raw)://",
            address_text()
        )
            .prop_map(|(p, a)| format!("{p}{a}")),
        "(raw\\+tcp://)(\\[[0-9a-f:%]{0,12}\\]|[0-9.]{0,15}):[0-9]{0,6}",
        ".{0,40}",
    ]
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn endpoint_url_like_text_round_trips(text in url_text()) {
        shared::check_endpoint(&text);
    }

    #[test]
    fn endpoint_arbitrary_text_never_panics(text in any::<String>()) {
        shared::check_endpoint(&text);
    }

    /// A size is the number times its unit when that fits in a u64, refused otherwise
    /// (never wrapped); `max_frame=0` (and over 65507 on udp) is refused. An mq queue's
    /// `capacity` is a count: plain digits from 1 to 1048576 only; its `max_message_len` is
    /// 1 byte to 64 MiB, and an shm ring's `capacity` at most 1 GiB.
    #[test]
    fn endpoint_sizes_are_exact_or_refused(
        digits in "[0-9]{1,21}",
        unit in "(|b|B|k|K|kb|KB|kib|KiB|m|M|mb|MB|mib|MiB|g|G|gb|GB|gib|GiB)",
        key in proptest::sample::select(vec!["capacity", "max_frame", "max_message_len"]),
        scheme in proptest::sample::select(vec!["mq://q", "shm://q", "udp://h:1"]),
    ) {
        let url = format!("{scheme}?{key}={digits}{unit}");
        let want = size_of(&digits, &unit);
        let valid_for_key = match (key, scheme) {
            ("max_frame", "udp://h:1") => want.is_some_and(|n| (1..=65_507).contains(&n)),
            ("max_frame", _) => want.is_some_and(|n| n >= 1),
            ("capacity", "mq://q") => {
                unit.is_empty() && want.is_some_and(|n| (1..=1 << 20).contains(&n))
            }
            ("capacity", "shm://q") => want.is_some_and(|n| n <= 1 << 30),
            ("max_message_len", "mq://q") => want.is_some_and(|n| (1..=64 << 20).contains(&n)),
            ("capacity", "udp://h:1") | ("max_message_len", "udp://h:1" | "shm://q") => false,
            _ => want.is_some(),
        };
        match Endpoint::parse(&url) {
            Ok(e) => {
                prop_assert!(valid_for_key, "{} accepted", url);
                let n = want.expect("accepted a size that overflows");
                let shown = e.option(key).expect("the option is kept");
                prop_assert_eq!(displayed_size(&shown), n, "{}", url);
                if key == "max_frame" {
                    // Saturated on a target whose `usize` is narrower (32-bit).
                    prop_assert_eq!(e.max_frame() as u64, n.min(usize::MAX as u64));
                }
            }
            Err(err) => prop_assert!(!valid_for_key, "{} refused: {}", url, err),
        }
    }

    /// A timeout is the number times its unit when that fits in a u64 of milliseconds and
    /// is not 0 (a timeout of 0 would fail every wait at once: refused).
    #[test]
    fn endpoint_durations_are_exact_or_refused(
        digits in "[0-9]{1,21}",
        unit in "(|ms|s|m|h)",
        key in proptest::sample::select(vec!["recv_timeout", "send_timeout", "connect_timeout"]),
    ) {
        let url = format!("tcp://127.0.0.1:1?{key}={digits}{unit}");
        match (Endpoint::parse(&url), millis_of(&digits, &unit).filter(|ms| *ms != 0)) {
            (Ok(e), Some(ms)) => {
                let shown = e.option(key).expect("the option is kept");
                prop_assert_eq!(displayed_millis(&shown), u128::from(ms), "{}", url);
            }
            (Err(_), None) => {}
            (got, want) => prop_assert!(false, "{}: {:?} but expected {:?} ms", url, got, want),
        }
    }

    #[test]
    fn bench_target_round_trips(text in target_text()) {
        shared::check_target(&text);
    }

    #[test]
    fn bench_target_arbitrary_text_never_panics(text in any::<String>()) {
        shared::check_target(&text);
    }
}

// ---------------------------------------------------------------------------------------
// Frame codecs
// ---------------------------------------------------------------------------------------

/// [`shared::decode_cut`] as the tests here take it: frames, error, and whether the buffer
/// kept its bound.
fn decode_cut(
    framing: Framing,
    max_frame: usize,
    wire: &[u8],
    cuts: &[usize],
) -> (Vec<Bytes>, Option<io::Error>, bool) {
    let d = shared::decode_cut(framing, max_frame, wire, cuts);
    (d.frames, d.err, d.within_bound)
}

fn max_frame() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..8,
        0usize..600,
        Just(8 << 20),
        Just(u32::MAX as usize),
        Just(usize::MAX),
    ]
}

fn framing() -> impl Strategy<Value = Framing> {
    proptest::sample::select(vec![Framing::Length, Framing::Lines, Framing::Raw])
}

/// Bytes rich in what the framings look at: newlines, CRs, small length prefixes (one
/// `any::<u8>()` per byte, mapped: a union per byte is slow to generate).
fn wire_of(len: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..len).prop_map(|bytes| {
        bytes
            .into_iter()
            .map(|b| match b {
                0..=95 => [b'\n', b'\r', 0, 1, 2, 3][usize::from(b % 6)],
                _ => b,
            })
            .collect()
    })
}

fn wire() -> impl Strategy<Value = Vec<u8>> {
    wire_of(500)
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(any::<usize>(), 0..30)
}

proptest! {
    #![proptest_config(config(300))]

    /// The same bytes cut into reads two different ways: the same frames and the same kind
    /// of error (raw framing: the same bytes), every frame within `max_frame`.
    #[test]
    fn codec_output_does_not_depend_on_the_cuts(
        framing in framing(),
        max in max_frame(),
        wire in wire(),
        a in cuts(),
        b in cuts(),
    ) {
        shared::check_cuts(framing, max, &wire, &a, &b);
    }

    /// Whatever the encoder accepts decodes to the same messages, cut anywhere; what it
    /// refuses is `InvalidInput` and writes nothing.
    #[test]
    fn codec_encode_then_decode_round_trips(
        framing in framing(),
        max in max_frame(),
        msgs in proptest::collection::vec(wire_of(120), 0..6),
        cuts in cuts(),
    ) {
        shared::check_round_trip(framing, max, msgs, &cuts);
    }

    /// A length prefix announcing up to 4 GiB, then its body trickling in: the buffer
    /// never grows toward the announced size (see
    /// `length_codec_reserves_at_most_twice_the_bound_ahead`).
    #[test]
    fn codec_announced_length_is_not_allocated(
        len in prop_oneof![1u32.., 1u32..64],
        body in 0usize..64,
        cuts in cuts(),
        max in prop_oneof![Just(u32::MAX as usize), Just(8usize << 20), 0usize..100],
    ) {
        let mut wire = len.to_be_bytes().to_vec();
        wire.resize(4 + body, 7);
        let (frames, err, within_bound) = decode_cut(Framing::Length, max, &wire, &cuts);
        prop_assert!(within_bound, "the buffer grew past its bound");
        if len as usize > max {
            prop_assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::InvalidData));
        } else if len as usize > body {
            prop_assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::UnexpectedEof));
        } else {
            // The whole body arrived: it is the frame (7s after it are a prefix of the next).
            prop_assert_eq!(frames.first().map(Bytes::len), Some(len as usize));
        }
        prop_assert!(frames.len() <= 1);
    }
}

proptest! {
    #![proptest_config(config(300))]

    /// Lines over `max_frame` among lines within it, cut anywhere, decoded on after each
    /// error: every line within the limit arrives, exactly and in order; each over-long one
    /// is one error in its place, and nothing of it arrives.
    #[test]
    fn codec_lines_after_an_over_long_line_arrive(
        max in prop_oneof![8 => 0usize..24, 1 => Just(usize::MAX)],
        lines in proptest::collection::vec((wire_of(40), any::<bool>()), 0..12),
        open_end in any::<bool>(),
        cuts in cuts(),
    ) {
        shared::check_lines_read_on(max, lines, open_end, &cuts);
    }

    /// Length frames, some over `max_frame`, maybe cut short, then maybe bytes that are not a
    /// frame: the frames before the first bad one arrive, and that one's error is final.
    #[test]
    fn codec_length_error_is_final(
        max in prop_oneof![8 => 0usize..40, 1 => Just(u32::MAX as usize)],
        frames in proptest::collection::vec(wire_of(40), 0..8),
        tail in wire_of(10),
        cut_short in 0usize..6,
        cuts in cuts(),
    ) {
        let mut wire = Vec::new();
        for frame in &frames {
            wire.extend_from_slice(&(frame.len() as u32).to_be_bytes());
            wire.extend_from_slice(frame);
        }
        wire.truncate(wire.len().saturating_sub(cut_short));
        wire.extend_from_slice(&tail);
        shared::check_length_error_is_final(max, &wire, &cuts);
    }
}

/// While a frame's body trickles in, `LengthCodec`'s buffer stays within twice (what has
/// arrived + 256 KiB), as its documentation says, and far below the announced size. (It
/// said "at most 256 KiB ahead", which the buffer's doubling as it grows did not keep: with
/// 6 bytes in, 512 KiB were reserved; found by the `frame_codecs` fuzz target.)
#[test]
fn length_codec_reserves_at_most_twice_the_bound_ahead() {
    let announced = 8usize << 20;
    let mut codec = LengthCodec::new(announced);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&(announced as u32).to_be_bytes());
    // One byte per read, then 64 KiB per read up to half the frame.
    let reads = std::iter::repeat_n(1, 3).chain(std::iter::repeat_n(64 << 10, 64));
    for read in reads {
        buf.extend_from_slice(&vec![7u8; read]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert!(
            buf.capacity() <= 2 * (buf.len() + RESERVE_AHEAD),
            "{} bytes of room for {} that arrived",
            buf.capacity(),
            buf.len()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Typed layer: json and postcard
// ---------------------------------------------------------------------------------------

/// A recursive message type, as a user may well have (an expression, a tree).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Tree {
    Leaf(u8),
    Node(Box<Tree>),
}

/// [`shared::check_typed`], and the recursive [`Tree`] in both formats.
fn check_all(bytes: &[u8]) {
    shared::check_typed(bytes);
    shared::check_format::<Json, Tree>(&Json, bytes);
    shared::check_format::<Postcard, Tree>(&Postcard, bytes);
}

/// Json text to start from: mostly well-formed, with odd numbers, escapes and nesting.
fn json_like() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        "-?[0-9]{1,25}(\\.[0-9]{0,5})?(e[+-]?[0-9]{1,4})?",
        "\"([a-z]|\\\\u[0-9a-fA-F]{4}|\\\\u[dD][89abAB][0-9a-f]{2}|\\\\[nrt\"\\\\])*\"",
        Just("true".to_owned()),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec(("[a-z]{0,4}", inner), 0..6).prop_map(|v| {
                let fields: Vec<String> = v.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
    .prop_map(String::into_bytes)
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn typed_arbitrary_bytes_decode_or_fail(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        check_all(&bytes);
    }

    #[test]
    fn typed_json_like_text_decodes_or_fails(bytes in json_like()) {
        check_all(&bytes);
    }
}

/// An `f64` sent with `codec::Json` arrives exactly (found by
/// `typed_json_like_text_decodes_or_fails`): serde_json writes the shortest text that reads
/// back as the same float, and with its `float_roundtrip` feature it reads it back so.
/// Without it, it read numbers with a fast, not always correctly rounded, algorithm, and
/// a float could arrive one ULP off. Postcard is exact.
#[test]
fn json_f64_round_trips_exactly() {
    // `22e23` (the `typed_decode` fuzz target's input) is read one ULP off; the second value
    // is what serde_json writes for a float, which it then reads back as another one.
    for text in ["22e23", "6.9777271590836984e-68"] {
        let x: f64 = text.parse().unwrap();
        assert_eq!(
            Postcard
                .decode::<f64>(&Postcard.encode(&x).unwrap())
                .unwrap(),
            x
        );
        let read: f64 = Json.decode(text.as_bytes()).unwrap();
        let back: f64 = Json.decode(&Json.encode(&x).unwrap()).unwrap();
        assert!(
            read.to_bits() == x.to_bits() && back.to_bits() == x.to_bits(),
            "{text} is {x:e}; as json it reads as {read:e}, and sent as json arrives as {back:e}"
        );
    }
}

/// JSON nesting far deeper than serde_json's limit is an error, not a stack overflow.
#[test]
fn typed_deep_json_is_an_error() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Json.decode::<serde_json::Value>(deep.as_bytes()).is_err());
    let tree = format!(
        "{}{{\"Leaf\":1}}{}",
        "{\"Node\":".repeat(100_000),
        "}".repeat(100_000)
    );
    assert!(Json.decode::<Tree>(tree.as_bytes()).is_err());
}

/// The variable that makes [`postcard_deep_nesting_helper`] do its work: set only when
/// [`postcard_deep_nesting_is_an_error_not_a_crash`] runs it in a child process.
const DEEP_POSTCARD_VAR: &str = "ANYIPC_FUZZ_PROPS_DEEP_POSTCARD";

/// A received message of 1 MiB of `0x01` bytes decoded with `Postcard` as a recursive type
/// (`enum Tree { Leaf(u8), Node(Box<Tree>) }`) nests a million levels deep: it is an error
/// past 128 levels, as in JSON. It used to recurse all the way and overflow the stack,
/// aborting the process (1 MiB is well within the default `max_frame` of 8 MiB).
///
/// The decode runs in a child process (this test binary, running the helper below), since
/// a stack overflow would abort the whole process.
#[test]
fn postcard_deep_nesting_is_an_error_not_a_crash() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "fuzz_props::postcard_deep_nesting_helper",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DEEP_POSTCARD_VAR, "1")
        .output_bounded();
    assert!(
        out.status.success(),
        "decoding 1 MiB of nested postcard killed the process ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .find(|l| l.contains("overflow"))
            .unwrap_or("")
    );
    // The helper ran (a renamed helper would match no test and still exit 0).
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(DEEP_POSTCARD_DONE),
        "the helper did not run: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// What the helper prints once its decode has been refused.
const DEEP_POSTCARD_DONE: &str = "deep postcard refused";

/// The child's half of [`postcard_deep_nesting_is_an_error_not_a_crash`] (a no-op in
/// an ordinary run). Decodes on a thread with the 2 MiB stack of a tokio worker.
#[test]
fn postcard_deep_nesting_helper() {
    if std::env::var_os(DEEP_POSTCARD_VAR).is_none() {
        return;
    }
    let message = vec![1u8; 1 << 20]; // Node(Node(Node(…)))
    let result = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            Postcard
                .decode::<Tree>(&message)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .unwrap()
        .join()
        .unwrap();
    let err = result.expect_err("1 MiB of nesting decoded");
    assert_eq!(err, "postcard message: nested deeper than 128 levels");
    println!("{DEEP_POSTCARD_DONE}");
}

// ---------------------------------------------------------------------------------------
// Bench control messages
// ---------------------------------------------------------------------------------------

fn control_like() -> impl Strategy<Value = Vec<u8>> {
    let number = prop_oneof!["[0-9]{1,21}", "[+-][0-9]{1,3}", "", " ", "[0-9a-z]{1,4}"];
    prop_oneof![
        (
            "(anyipc-bench/1|anyipc-bench/2|)",
            "(latency|throughput|ack|error|)",
            proptest::collection::vec(number, 0..5),
        )
            .prop_map(|(tag, mode, nums)| {
                let mut words = vec![tag, mode];
                words.extend(nums);
                words.join(" ").into_bytes()
            }),
        proptest::collection::vec(any::<u8>(), 0..60),
    ]
}

proptest! {
    #![proptest_config(config(500))]

    /// A control message from a peer: a valid workload whose own control message parses
    /// back to it, or `InvalidData`.
    #[test]
    fn bench_control_parses_or_is_invalid_data(msg in control_like()) {
        shared::check_control(&msg);
    }
}

// ---------------------------------------------------------------------------------------
// Durable log: records, headers, and a consumer reading files another program wrote
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(300))]

    /// `SegmentHeader::decode` and `decode_record` on arbitrary bytes with arbitrary salt,
    /// sequence number and limit; `scan_segment` with limits the `log_scanner` target does
    /// not use.
    #[test]
    fn log_decoders_on_arbitrary_bytes(
        bytes in proptest::collection::vec(prop_oneof![0u8..3, any::<u8>()], 0..300),
        salt in any::<u32>(),
        seq in any::<u64>(),
        max_len in prop_oneof![0usize..40, Just(u32::MAX as usize), Just(usize::MAX), any::<usize>()],
    ) {
        shared::check_log_records(&bytes, salt, seq, max_len);
    }
}

/// The payload of record `seq` in the consumer tests.
fn payload_of(seq: u64) -> Vec<u8> {
    vec![seq as u8; (seq % 13) as usize]
}

/// A segment of `count` valid records from `base`, salted `salt`.
fn valid_segment(salt: u32, base: u64, count: u64) -> Vec<u8> {
    let mut seg = SegmentHeader::new(salt, base).encode().to_vec();
    for seq in base..base + count {
        encode_record(&mut seg, salt, seq, &payload_of(seq));
    }
    seg
}

/// A cursor file as `src/file/cursor.rs` writes it (with a right or a wrong CRC).
fn cursor_bytes(next_seq: u64, last_crc: Option<u32>, good_crc: bool) -> Vec<u8> {
    let mut out = Vec::new();
    match last_crc {
        Some(crc) => {
            out.extend_from_slice(b"AIPCCUR2");
            out.extend_from_slice(&next_seq.to_le_bytes());
            out.extend_from_slice(&crc.to_le_bytes());
        }
        None => {
            out.extend_from_slice(b"AIPCCUR1");
            out.extend_from_slice(&next_seq.to_le_bytes());
        }
    }
    let crc = crc32c::crc32c(&out) ^ u32::from(!good_crc);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[derive(Debug, Clone)]
enum SegmentBytes {
    /// Valid records, then one byte changed (or none), then cut (or not), then garbage.
    Damaged {
        count: u64,
        flip: Option<(usize, u8)>,
        cut: Option<usize>,
        tail: Vec<u8>,
    },
    /// Anything.
    Garbage(Vec<u8>),
}

fn segment_bytes() -> impl Strategy<Value = SegmentBytes> {
    prop_oneof![
        3 => (
            0u64..12,
            proptest::option::of((any::<usize>(), 1u8..)),
            proptest::option::of(any::<usize>()),
            proptest::collection::vec(prop_oneof![0u8..2, any::<u8>()], 0..40),
        )
            .prop_map(|(count, flip, cut, tail)| SegmentBytes::Damaged { count, flip, cut, tail }),
        1 => proptest::collection::vec(any::<u8>(), 0..100).prop_map(SegmentBytes::Garbage),
    ]
}

fn render(segment: &SegmentBytes, salt: u32, base: u64) -> Vec<u8> {
    match segment {
        SegmentBytes::Garbage(bytes) => bytes.clone(),
        SegmentBytes::Damaged {
            count,
            flip,
            cut,
            tail,
        } => {
            let mut bytes = valid_segment(salt, base, *count);
            if let Some((at, mask)) = flip {
                let at = at % bytes.len();
                bytes[at] ^= mask;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            bytes.extend_from_slice(tail);
            bytes
        }
    }
}

#[derive(Debug, Clone)]
enum CursorFile {
    None,
    Valid {
        next_seq: u64,
        last_crc: Option<u32>,
    },
    BadCrc {
        next_seq: u64,
        last_crc: Option<u32>,
    },
    Garbage(Vec<u8>),
}

fn cursor_file() -> impl Strategy<Value = CursorFile> {
    let seq = prop_oneof![0u64..30, Just(u64::MAX), Just(u64::MAX / 2), any::<u64>()];
    prop_oneof![
        Just(CursorFile::None),
        (seq.clone(), proptest::option::of(any::<u32>()))
            .prop_map(|(next_seq, last_crc)| CursorFile::Valid { next_seq, last_crc }),
        (seq, proptest::option::of(any::<u32>()))
            .prop_map(|(next_seq, last_crc)| CursorFile::BadCrc { next_seq, last_crc }),
        proptest::collection::vec(any::<u8>(), 0..30).prop_map(CursorFile::Garbage),
    ]
}

proptest! {
    #![proptest_config(config(48))]

    /// A consumer (`follow=false`) of a log directory whose segments and cursor another
    /// program wrote (damaged, cut, garbage, a second segment with any name, a cursor of any
    /// position): records that are what was written, in order, within `max_frame`, or
    /// `InvalidData` — never a panic, and never a wait (the watchdog).
    #[test]
    fn log_consumer_of_damaged_files_returns_records_or_invalid_data(
        first in segment_bytes(),
        second in proptest::option::of((prop_oneof![0u64..30, any::<u64>()], segment_bytes())),
        cursor in cursor_file(),
        salt in any::<u32>(),
        max_frame in prop_oneof![Just(8usize << 20), 1usize..12],
    ) {
        let dir = TempDir::new("fuzz-props-log");
        std::fs::write(dir.path().join(format!("{:020}.log", 0)), render(&first, salt, 0)).unwrap();
        if let Some((base, segment)) = &second {
            let name = dir.path().join(format!("{base:020}.log"));
            std::fs::write(name, render(segment, salt ^ 1, *base)).unwrap();
        }
        let cursor_content = match &cursor {
            CursorFile::None => None,
            CursorFile::Valid { next_seq, last_crc } => Some(cursor_bytes(*next_seq, *last_crc, true)),
            CursorFile::BadCrc { next_seq, last_crc } => Some(cursor_bytes(*next_seq, *last_crc, false)),
            CursorFile::Garbage(bytes) => Some(bytes.clone()),
        };
        if let Some(bytes) = cursor_content {
            std::fs::write(dir.path().join("reader.cursor"), bytes).unwrap();
        }
        let opts = FileOptions { follow: false, max_frame, ..FileOptions::default() };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let outcome: io::Result<Vec<(u64, Bytes)>> = rt.block_on(watchdog(20, async {
            let mut consumer = FileConsumer::open(dir.path(), Some("reader"), opts).await?;
            let mut got = Vec::new();
            // More than any of these logs holds: a consumer that never ends is a bug.
            for _ in 0..200 {
                match consumer.recv().await? {
                    Some(record) => got.push((record.seq, record.payload)),
                    None => return Ok(got),
                }
            }
            panic!("more records than were written: {got:?}");
        }));
        match outcome {
            Ok(records) => {
                for pair in records.windows(2) {
                    prop_assert_eq!(pair[1].0, pair[0].0 + 1, "{:?}", records);
                }
                for (seq, payload) in &records {
                    prop_assert!(payload.len() <= max_frame);
                    prop_assert_eq!(&payload[..], &payload_of(*seq)[..], "record {}", seq);
                }
            }
            Err(e) => prop_assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{}", e),
        }
    }
}
