use super::FileChannel;
use crate::transport::{AnyChannel, Connection};
use crate::Endpoint;
use std::io;
use std::task::{Context, Poll};

/// A bound `file://` endpoint: its one consumer connection, which the first
/// [`accept`](crate::Listener::accept) returns. Later accepts wait forever (a file has no
/// more clients to accept): bind again for another consumer.
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
