use super::FileChannel;
use crate::transport::{AnyChannel, Connection};
use crate::Endpoint;
use std::io;
use std::task::{Context, Poll};

/// The `file://` listener inside the [`Listener`](crate::Listener) that [`bind`](crate::bind)
/// returns; the module documentation says how it behaves.
#[derive(Debug)]
pub(crate) struct FileListener {
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
