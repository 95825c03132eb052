//! The measuring side of `anyipc bench "URL_TO_PEER + URL_FROM_PEER"`: two one-way (or used
//! one way) endpoints of any kinds, one to the peer and one back.
//!
//! The way back is bound before the peer starts, so the peer is told where it really is
//! (`tcp://127.0.0.1:0` works there too). The peer connects to it only when the first message
//! of a run reaches it, so the way back is accepted while the run starts, not before: a run's
//! connection sends on the way to the peer at once and accepts the way back when it first
//! receives, within [`ACCEPT_TIMEOUT`]. Listeners that hand out one connection only (`fifo://`,
//! `file://`, `mq://`) are accepted once, at once, and that connection serves every run; on
//! the others each run accepts the peer's new connection (the peer connects afresh at every
//! run). The connection to the peer is made once and serves every run (a peer's pair listener
//! serves one connection).

use crate::time_limit::bounded;
use anyipc::{Connection, Endpoint, Listener};
use bytes::Bytes;
use futures::{Future, Sink, SinkExt, Stream};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long the peer may take to connect back once a run has started. Below the engine's
/// 10 s for the answer to a run's first message, so that this, clearer, error comes first.
pub(crate) const ACCEPT_TIMEOUT: Duration = Duration::from_secs(8);

/// How long connecting to the peer, or a one-connection listener's accept, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The way back of a pair, bound by the measuring side, and its connection to the peer.
pub(crate) struct WayBack {
    listener: Listener,
    /// The one connection of a one-connection listener, kept for every run.
    kept: Option<Connection>,
    /// The connection to the peer, made at the first run and kept.
    outbound: Option<Connection>,
}

impl WayBack {
    /// Binds `from_peer` (and accepts a one-connection listener's connection).
    ///
    /// # Errors
    /// Binding errors; `TimedOut` when a one-connection listener does not hand out its
    /// connection within 10 s.
    pub(crate) async fn bind(from_peer: &Endpoint) -> io::Result<WayBack> {
        let mut listener = anyipc::bind(from_peer).await?;
        let kept = match from_peer.scheme().is_one_way() {
            true => Some(
                bounded(CONNECT_TIMEOUT, listener.accept(), || {
                    format!("{from_peer} did not open within {CONNECT_TIMEOUT:?}")
                })
                .await?,
            ),
            false => None,
        };
        Ok(WayBack {
            listener,
            kept,
            outbound: None,
        })
    }

    /// Where the peer answers (with the real port when port 0 was asked for).
    pub(crate) fn endpoint(&self) -> &Endpoint {
        self.listener.endpoint()
    }

    /// The connection of one run: to `to_peer` (connected at the first run), and back.
    ///
    /// # Errors
    /// Connecting errors; `TimedOut` when connecting takes over 10 s.
    pub(crate) async fn run_connection(&mut self, to_peer: &Endpoint) -> io::Result<PairConn<'_>> {
        if self.outbound.is_none() {
            let conn = bounded(CONNECT_TIMEOUT, anyipc::connect(to_peer), || {
                format!("connecting to {to_peer} took over {CONNECT_TIMEOUT:?}")
            })
            .await?;
            self.outbound = Some(conn);
        }
        let WayBack {
            listener,
            kept,
            outbound,
        } = self;
        let outbound = outbound
            .as_mut()
            .ok_or_else(|| io::Error::other("no connection"))?;
        let inbound = match kept {
            Some(kept) => Inbound::Kept(kept),
            None => {
                let from_peer = listener.endpoint().clone();
                Inbound::Accepting(Box::pin(bounded(
                    ACCEPT_TIMEOUT,
                    listener.accept(),
                    move || {
                        format!(
                        "the peer did not connect back to {from_peer} within {ACCEPT_TIMEOUT:?} \
                         of the run's first message"
                    )
                    },
                )))
            }
        };
        Ok(PairConn { outbound, inbound })
    }

    /// Closes the connection to the peer (which ends its service) and the way back.
    pub(crate) async fn close(mut self) {
        if let Some(mut outbound) = self.outbound.take() {
            let closed = tokio::time::timeout(CONNECT_TIMEOUT, outbound.close()).await;
            if !matches!(closed, Ok(Ok(()))) {
                tracing::debug!("closing the connection to the bench peer failed");
            }
        }
    }
}

/// The receiving half of a run's connection.
enum Inbound<'a> {
    /// A one-connection listener's connection.
    Kept(&'a mut Connection),
    /// Waiting for the peer to connect back.
    Accepting(Pin<Box<dyn Future<Output = io::Result<Connection>> + Send + 'a>>),
    /// The peer's connection of this run (boxed: a `Connection` is large).
    Accepted(Box<Connection>),
    /// Accepting failed (reported once).
    Failed,
}

/// One run's connection over a pair: sends go to the peer, messages come back on the way
/// back, accepted when first received from.
pub(crate) struct PairConn<'a> {
    outbound: &'a mut Connection,
    inbound: Inbound<'a>,
}

impl Stream for PairConn<'_> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match &mut self.inbound {
                Inbound::Kept(conn) => return Pin::new(&mut **conn).poll_next(cx),
                Inbound::Accepted(conn) => return Pin::new(&mut **conn).poll_next(cx),
                Inbound::Accepting(accept) => match accept.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(conn)) => self.inbound = Inbound::Accepted(Box::new(conn)),
                    Poll::Ready(Err(e)) => {
                        self.inbound = Inbound::Failed;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                Inbound::Failed => return Poll::Ready(None),
            }
        }
    }
}

impl Sink<Bytes> for PairConn<'_> {
    type Error = io::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.outbound).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Bytes) -> io::Result<()> {
        Pin::new(&mut *self.outbound).start_send(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.outbound).poll_flush(cx)
    }

    /// Flushes only: the connection to the peer serves the next run too
    /// ([`WayBack::close`] closes it).
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.outbound).poll_flush(cx)
    }
}
