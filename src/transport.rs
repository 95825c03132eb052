//! The transport layer: [`Connection`] and [`Listener`] over every backend, selected at run
//! time by the endpoint's scheme.
//!
//! Byte-stream backends implement `AsyncRead + AsyncWrite` and are framed by a
//! [`FrameCodec`](crate::codec::FrameCodec) (reading as tokio-util's `Framed` does; writing
//! large messages without copying them); message backends
//! implement [`RecvMessage`] + [`SendMessage`] and are adapted by [`MessageFramed`]. Both end
//! up as a [`Connection`]: a `Stream` of received messages and a `Sink` of messages to send.
//! [`Duplex`] joins two one-way connections (`fifo://`, `file://`, `mq://`) into one.

mod any_channel;
mod any_stream;
mod connection;
mod deadline;
mod duplex;
mod listener;
mod message;
mod message_batch;
mod message_framed;
mod open;
mod peer_credentials;
mod stream_framed;
mod typed;
mod write_queue;

pub(crate) use any_channel::AnyChannel;
pub(crate) use any_stream::AnyStream;
pub use connection::Connection;
pub use duplex::Duplex;
pub use listener::Listener;
pub use message::{RecvMessage, SendMessage};
pub use message_batch::{MessageBatch, MessageBatchIter};
pub use message_framed::MessageFramed;
pub use open::{bind, connect};
pub use peer_credentials::PeerCredentials;
pub use stream_framed::StreamFramed;
pub use typed::Typed;

use futures::{Sink, Stream};
use std::io;

/// Anything that receives `In` and sends `Out` as messages: a [`Connection`] (`In` and `Out`
/// are [`Bytes`](bytes::Bytes)), a [`Typed`] connection, or your own adapter. Generic code takes
/// `impl Transport<In, Out>` and runs over every backend.
///
/// ```
/// use anyipc::Transport;
/// use bytes::Bytes;
/// use futures::{SinkExt, StreamExt};
///
/// async fn echo_once(mut t: impl Transport<Bytes, Bytes>) -> std::io::Result<()> {
///     if let Some(msg) = t.next().await {
///         t.send(msg?).await?;
///     }
///     Ok(())
/// }
///
/// # tokio_test::block_on(async {
/// let mut listener = anyipc::bind("mem://doc-transport").await?;
/// let mut client = anyipc::connect("mem://doc-transport").await?;
/// client.send("echo me").await?;
/// echo_once(listener.accept().await?).await?;
/// assert_eq!(client.recv().await?.unwrap(), "echo me");
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub trait Transport<In, Out = In>:
    Stream<Item = io::Result<In>> + Sink<Out, Error = io::Error> + Unpin + Send
{
}

impl<T, In, Out> Transport<In, Out> for T where
    T: Stream<Item = io::Result<In>> + Sink<Out, Error = io::Error> + Unpin + Send
{
}

/// The error for a scheme whose transport this platform does not have (shm:// off Linux,
/// unix:// and fifo:// on Windows).
pub(crate) fn unsupported(scheme: crate::Scheme, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "{scheme}:// {what} is not available on this platform ({})",
            std::env::consts::OS
        ),
    )
}
