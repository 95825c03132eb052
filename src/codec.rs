//! Framing and serialization: how messages are cut out of a byte stream, and how typed values
//! become messages.
//!
//! Byte-stream transports (tcp, unix, pipe, fifo, child, shm) run their bytes through a
//! [`FrameCodec`] (tokio-util `Decoder`s and `Encoder`s) inside a
//! [`StreamFramed`](crate::StreamFramed). Message transports (udp, mq, mem) keep messages
//! apart by themselves and need no framing. [`Format`]s turn serde types into messages for
//! [`Connection::typed`](crate::Connection::typed), on every transport alike.

mod format;
mod frame_codec;
mod frame_error;
mod framing;
mod length_codec;
mod line_codec;
#[cfg(any(feature = "postcard", feature = "json"))]
// JSON uses the nesting limit only, not the element bound.
#[cfg_attr(not(feature = "postcard"), allow(dead_code))]
mod nesting_limit;
mod raw_codec;
#[cfg(test)]
mod tests;

#[cfg(feature = "json")]
pub use format::Json;
#[cfg(feature = "postcard")]
pub use format::Postcard;
pub use format::{Format, FormatError};
pub use frame_codec::FrameCodec;
pub use frame_error::FrameError;
pub use framing::Framing;
pub use length_codec::LengthCodec;
pub(crate) use length_codec::HEADER_LEN as LENGTH_HEADER;
pub use line_codec::LineCodec;
pub(crate) use line_codec::NEWLINE;
pub use raw_codec::RawCodec;

/// The most a decoder asks to reserve past the bytes that have actually arrived (a buffer that
/// grows may double). A peer announcing an 8 MiB frame and then stalling costs about twice
/// this, not 8 MiB.
pub(crate) const MAX_RESERVE_AHEAD: usize = 256 * 1024;
