use super::{queue_channel, MessageQueue};
use crate::transport::Connection;
use crate::Endpoint;
use std::io;
use std::task::{Context, Poll};

/// `bind("mq://name")`: opens the queue (or creates it with `create=true`), like `connect`.
///
/// A queue has no connections to accept: the first `accept` yields one connection on the
/// queue, and later ones stay pending forever. Open more handles with `connect`, in this
/// process or any other; every handle shares the one queue.
#[derive(Debug)]
pub(crate) struct QueueListener {
    first: Option<MessageQueue>,
}

impl QueueListener {
    pub(crate) fn bind(endpoint: &Endpoint) -> io::Result<QueueListener> {
        Ok(QueueListener {
            first: Some(queue_channel::open(endpoint)?),
        })
    }

    pub(crate) fn poll_accept(
        &mut self,
        _cx: &mut Context<'_>,
        endpoint: &Endpoint,
    ) -> Poll<io::Result<Connection>> {
        match self.first.take() {
            Some(queue) => Poll::Ready(Ok(queue_channel::connection(queue, endpoint))),
            // Never woken: there is nothing more to accept.
            None => Poll::Pending,
        }
    }
}
