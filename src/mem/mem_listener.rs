use super::{registry, MemChannel};
use crate::transport::{AnyChannel, Connection};
use crate::Endpoint;
use std::io;
use std::task::{ready, Context, Poll};
use tokio::sync::mpsc;

/// The `mem://` listener inside the [`Listener`](crate::Listener) that [`bind`](crate::bind)
/// returns; the module documentation says how it behaves.
#[derive(Debug)]
pub(crate) struct MemListener {
    name: String,
    listener_id: u64,
    incoming: mpsc::Receiver<(u64, MemChannel)>,
}

impl MemListener {
    /// Binds the name in this process.
    pub(crate) fn bind(endpoint: &Endpoint) -> io::Result<MemListener> {
        let name = endpoint.name().unwrap_or_default().to_owned();
        let (listener_id, incoming) = registry::register(&name)?;
        Ok(MemListener {
            name,
            listener_id,
            incoming,
        })
    }

    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
        endpoint: &Endpoint,
    ) -> Poll<io::Result<Connection>> {
        match ready!(self.incoming.poll_recv(cx)) {
            Some((id, mut channel)) => {
                channel.set_max_frame(endpoint.max_frame());
                Poll::Ready(Ok(Connection::from_channel(
                    AnyChannel::Mem(channel),
                    endpoint,
                    format!("mem client {id}"),
                )))
            }
            // The registry holds a sender for as long as this listener is bound.
            None => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!("mem://{} is no longer bound", self.name),
            ))),
        }
    }
}

impl Drop for MemListener {
    fn drop(&mut self) {
        registry::unregister(&self.name, self.listener_id);
    }
}
