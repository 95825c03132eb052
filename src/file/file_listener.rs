use super::FileChannel;
use crate::transport::{AnyChannel, Connection};
use crate::Endpoint;
use std::io;
use std::task::{Context, Poll};

/// A bound `file://` endpoint: its one consumer connection, which the first
/// [`accept`](crate::Listener::accept) returns. Later accepts wait forever (a file has no
/// more clients to accept): bind again for another consumer.
///
/// ```
/// use futures::{FutureExt, SinkExt};
/// # tokio_test::block_on(async {
/// # let dir = std::env::temp_dir().join(format!("anyipc-doc-listener-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let url = format!("file://{}", dir.display());
/// let mut producer = anyipc::connect(&url).await?;
/// producer.send("through a connection").await?;
/// producer.close().await?;
/// let mut listener = anyipc::bind(format!("{url}?follow=false")).await?;
/// let mut consumer = listener.accept().await?;
/// assert_eq!(consumer.recv().await?.as_deref(), Some(&b"through a connection"[..]));
/// assert_eq!(consumer.recv().await?, None); // the end, without `follow`
/// assert!(listener.accept().now_or_never().is_none()); // no second consumer
/// # anyipc::file::remove(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct FileListener {
    consumer: Option<FileChannel>,
    peer: String,
}

impl FileListener {
    pub(crate) fn new(consumer: FileChannel, peer: String) -> FileListener {
        FileListener {
            consumer: Some(consumer),
            peer,
        }
    }

    pub(crate) fn poll_accept(
        &mut self,
        _cx: &mut Context<'_>,
        endpoint: &Endpoint,
    ) -> Poll<io::Result<Connection>> {
        match self.consumer.take() {
            Some(channel) => Poll::Ready(Ok(Connection::from_channel(
                AnyChannel::File(channel),
                endpoint,
                self.peer.clone(),
            ))),
            // Nothing will ever wake this: there is no second consumer to accept.
            None => Poll::Pending,
        }
    }
}
