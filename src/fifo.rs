//! `fifo:///path`: a POSIX FIFO (named pipe in the file system), one-way. The side that binds
//! creates the FIFO and reads; every side that connects writes.
//!
//! ```
//! use futures::StreamExt;
//! # tokio_test::block_on(async {
//! # let dir = std::env::temp_dir()
//! #     .join(format!("anyipc-doc-fifo-module-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let url = format!("fifo://{}", dir.join("app.fifo").display());
//!
//! // Reader (`url` is "fifo:///path"): create the FIFO and read what every writer sends.
//! let mut listener = anyipc::bind(&url).await?;
//! let mut inbox = listener.accept().await?;
//!
//! // Writers, in this or other processes.
//! let mut writer = anyipc::connect(&url).await?;
//! writer.send("log line").await?;
//! assert_eq!(inbox.next().await.unwrap()?, "log line");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```
//!
//! # Connections
//! A FIFO has no connections, only one stream of bytes that all writers share. The listener's
//! first [`accept`](crate::Listener::accept) returns the reading [`Connection`]; it receives
//! the frames of every writer in the order they arrived. Later accepts wait forever.
//!
//! # Writers coming and going
//! The reading side holds a write end of its own FIFO, so its stream does **not** end when the
//! last writer leaves: writers may connect, send and disconnect at any time and the reader
//! simply waits for the next frame. The reading stream ends only with the reader. A writer
//! whose reader has gone gets `BrokenPipe` on its next send.
//!
//! # Atomic frames
//! Several writers never interleave: each frame (the message with its length prefix or
//! newline) is written by one `write(2)` of at most `PIPE_BUF` bytes, which the OS performs
//! whole or not at all. A larger frame is refused with `InvalidInput` before anything is
//! written (with the default length framing the largest message is `PIPE_BUF - 4` bytes, 4092
//! on Linux). A writer killed mid-send therefore never leaves half a frame behind. A writer
//! that is not anyipc (`echo >`, a shell script) must likewise write each frame whole in one
//! write, or the reader's stream is corrupt for everyone (with length framing, the reader then
//! fails with `InvalidData` or waits for the rest of a frame).
//!
//! Because frames arrive whole, a frame over the reader's `max_frame` (from a writer whose
//! `max_frame` is larger) costs only itself: the reader reports it once (`InvalidData`, with
//! [`FrameError::TooLarge`](crate::codec::FrameError::TooLarge) inside), drops it and reads
//! on. A length over `PIPE_BUF` − 4 (a frame over `PIPE_BUF`), which no writer sends, ends
//! the reading stream as on any length-framed stream.
//!
//! # Errors
//! - bind: `AlreadyExists` when the path is a symlink or anything other than a FIFO;
//!   `PermissionDenied` when it is a FIFO owned by another user; `AddrInUse` when a live reader
//!   has it open. A FIFO of ours that no one reads is reclaimed.
//! - connect: `NotFound` when there is no FIFO or no reader has it open; `InvalidInput` when
//!   the path is a symlink or not a FIFO.
//! - receiving on a writer or sending on the reader: `Unsupported` (a writer's stream then
//!   ends, so a receive loop that goes on after errors stops instead of spinning).
//!
//! # Platform-specific behavior
//! Unix only; `fifo://` is `Unsupported` elsewhere. The FIFO is created 0600 (or `mode=`),
//! never more open than that whatever the umask, and removed when the listener is dropped
//! (unless another process keeps the directory's lock, which anyone who can read the
//! directory can take, for the millisecond or so the removal waits: then the next bind of the
//! path reclaims it).
//! `PIPE_BUF` is 4096 bytes on Linux and 512 on macOS and the BSDs.
//!
//! [`Connection`]: crate::Connection
//!
//! # Listening
//!
//! The [`Listener`](crate::Listener) that [`bind`](crate::bind) returns for `fifo:///path`
//! holds the FIFO this process created and reads. Dropping it removes the FIFO from the file
//! system (if the path still names it); a reading connection already accepted keeps working.
//!
//! ```
//! # tokio_test::block_on(async {
//! # let dir = std::env::temp_dir()
//! #     .join(format!("anyipc-doc-fifo-listener-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! let path = dir.join("inbox.fifo");
//! let url = format!("fifo://{}", path.display());
//! let mut listener = anyipc::bind(&url).await?;
//! let mut reader = listener.accept().await?;
//! let mut writer = anyipc::connect(&url).await?;
//! drop(listener);
//! assert!(!path.exists());
//! // The reader and the writers already open go on.
//! writer.send("still read").await?;
//! assert_eq!(reader.recv().await?.unwrap(), "still read");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```

mod fifo_listener;
mod fifo_reader;
mod fifo_writer;

pub(crate) use fifo_listener::FifoListener;
pub(crate) use fifo_reader::FifoReader;
pub(crate) use fifo_writer::FifoWriter;

use crate::transport::{AnyChannel, Connection};
use crate::Endpoint;
use std::io;
use std::path::Path;

/// The largest frame a FIFO writer sends: `PIPE_BUF` bytes, the largest atomic pipe write.
///
/// ```
/// use anyipc::fifo::MAX_ATOMIC_FRAME;
/// use std::io::ErrorKind;
/// # tokio_test::block_on(async {
/// # let dir = std::env::temp_dir()
/// #     .join(format!("anyipc-doc-fifo-max-frame-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let url = format!("fifo://{}", dir.join("big.fifo").display());
/// let mut listener = anyipc::bind(&url).await?;
/// let mut reader = listener.accept().await?;
/// let mut writer = anyipc::connect(&url).await?;
/// // With the default length framing, a frame is the message and a 4-byte header.
/// let largest = vec![7u8; MAX_ATOMIC_FRAME - 4];
/// writer.send(largest.clone()).await?;
/// let err = writer.send(vec![7u8; MAX_ATOMIC_FRAME - 3]).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidInput);
/// assert_eq!(reader.recv().await?.unwrap(), largest);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub const MAX_ATOMIC_FRAME: usize = crate::sys::PIPE_BUF;

/// The codec of a FIFO's reading connection. Every anyipc writer writes each frame whole
/// in one atomic write, so a frame over the reader's `max_frame` (from a writer with a
/// larger one) can be dropped, and the other writers' frames after it read on.
pub(crate) fn reader_codec(endpoint: &Endpoint) -> crate::codec::FrameCodec {
    crate::codec::FrameCodec::new(endpoint.framing(), endpoint.max_frame())
        .dropping_frames_up_to(MAX_ATOMIC_FRAME)
}

/// The path of a `fifo://` endpoint.
fn fifo_path(endpoint: &Endpoint) -> io::Result<&Path> {
    endpoint.path().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{endpoint} has no FIFO path"),
        )
    })
}

/// Opens the FIFO for writing.
pub(crate) async fn connect(endpoint: &Endpoint) -> io::Result<Connection> {
    let path = fifo_path(endpoint)?;
    let fd = crate::sys::fifo_open_writer(path)?;
    let writer = FifoWriter::new(fd, endpoint)?;
    Ok(Connection::from_channel(
        AnyChannel::Fifo(writer),
        endpoint,
        path.display().to_string(),
    ))
}
