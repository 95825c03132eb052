//! What the fuzz targets (`fuzz/fuzz_targets/`) and their property tests
//! (`tests/it/fuzz_props.rs`) share, included by both with `#[path]`: each uses a part.
#![allow(dead_code)]

use anyipc::codec::{FrameCodec, Framing};
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use tokio_util::codec::Decoder;

/// Every key of the option table (src/endpoint/option_spec.rs), so that `option` and
/// `with_option` are tried with each.
pub(crate) const KEYS: &[&str] = &[
    "framing",
    "max_frame",
    "connect_timeout",
    "recv_timeout",
    "send_timeout",
    "nodelay",
    "max_peers",
    "idle_timeout",
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

/// Feeds `wire` to a fresh codec in reads ending at `cuts` (taken modulo its length),
/// decoding after each read until nothing comes, then `decode_eof` likewise, as
/// `FramedRead` does.
pub(crate) fn decode_cut(
    framing: Framing,
    max_frame: usize,
    wire: &[u8],
    cuts: &[usize],
) -> Decoded {
    let mut codec = FrameCodec::new(framing, max_frame);
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    ends.push(wire.len());
    ends.sort_unstable();
    let mut buf = BytesMut::new();
    let mut decoded = Decoded {
        frames: Vec::new(),
        err: None,
        within_bound: true,
    };
    let mut arrived = 0;
    for end in ends.into_iter().map(Some).chain([None]) {
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
