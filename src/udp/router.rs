//! Routing each received datagram to its sender's connection, within the listener's limits.
//! No I/O here: the demux task feeds the router what the socket receives and when to sweep.

use super::budget::{cost, ByteBudget, Charge};
use super::limits::Limits;
use super::seat::{PeerCount, Seat, SeatGuard};
use crate::codec::FrameError;
use crate::sys::udp_local::LocalAddr;
use bytes::Bytes;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::sync::mpsc;

/// Datagrams a connection holds unread before new ones for it are dropped.
pub(super) const CONNECTION_BACKLOG: usize = 1024;
/// New senders waiting for `accept`, beyond which their datagrams are dropped.
pub(super) const ACCEPT_BACKLOG: usize = 128;
/// Queue slots kept free beyond the backlog, so the error that stops a listener always fits.
const RESERVED_SLOTS: usize = 1;
/// The peer map is not pruned of closed connections below this size.
const MIN_PRUNE_AT: usize = 64;

/// New senders waiting to be accepted.
pub(super) type NewPeers = mpsc::Receiver<(SocketAddr, PeerQueue)>;

/// One datagram (or the error it stands for) in a connection's queue, with its cost in the
/// listener's budget: given back when it is dropped, taken or not.
#[derive(Debug)]
struct Queued {
    datagram: io::Result<Bytes>,
    /// `None` for the listener's final error, which costs nothing.
    charge: Option<Charge>,
}

impl Queued {
    /// The datagram for its connection, its cost given back to the budget.
    fn take(self) -> io::Result<Bytes> {
        let Queued { datagram, charge } = self;
        drop(charge);
        datagram
    }
}

/// One sender's datagrams, as its connection holds them. Dropping it gives back its seat in
/// `max_peers`, and the channel drops the datagrams still in it, which gives back their cost
/// (a send under way lands after and goes when the router forgets the sender).
#[derive(Debug)]
pub(super) struct PeerQueue {
    datagrams: mpsc::Receiver<Queued>,
    seat: SeatGuard,
    /// The local address the sender's first datagram came to, to answer from (`None`: the
    /// one the OS picks).
    local: Option<LocalAddr>,
}

impl PeerQueue {
    /// The local address to answer the sender from (`None`: the one the OS picks).
    pub(super) fn local(&self) -> Option<LocalAddr> {
        self.local
    }

    /// Notes that the connection sent its sender a datagram: it is not idle.
    pub(super) fn mark_sent(&self) {
        self.seat.0.mark_sent();
    }

    /// The next datagram; `None` once the listener has ended this connection (it stopped,
    /// or the sender was idle for `idle_timeout`) and every datagram before that was taken.
    pub(super) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        let queued = ready!(self.datagrams.poll_recv(cx));
        Poll::Ready(queued.map(Queued::take))
    }

    /// The next datagram without waiting: `Empty` when none is queued, `Disconnected` once
    /// the connection has ended (tests).
    #[cfg(test)]
    pub(super) fn try_recv(&mut self) -> Result<io::Result<Bytes>, mpsc::error::TryRecvError> {
        self.datagrams.try_recv().map(Queued::take)
    }
}

/// A sender the router knows.
#[derive(Debug)]
struct Peer {
    queue: mpsc::Sender<Queued>,
    seat: Arc<Seat>,
    /// The sweep count when its last datagram came (or, as the next sweep finds, went).
    last_seen: u64,
}

/// The listener's senders and what they hold.
#[derive(Debug)]
pub(super) struct Router {
    limits: Limits,
    peers: HashMap<SocketAddr, Peer>,
    new_peers: mpsc::Sender<(SocketAddr, PeerQueue)>,
    budget: Arc<ByteBudget>,
    live: Arc<PeerCount>,
    /// Sweeps done so far: the clock of [`Peer::last_seen`].
    sweeps: u64,
    /// Whole sweep periods of quiet after which a connection ends (`None`: never).
    idle_sweeps: Option<u64>,
    /// The map size at which closed connections are next pruned from it.
    prune_at: usize,
}

impl Router {
    /// A router with no senders yet; the senders it admits arrive on the returned receiver.
    pub(super) fn new(limits: Limits) -> (Router, NewPeers) {
        let (new_peers, incoming) = mpsc::channel(ACCEPT_BACKLOG);
        let router = Router {
            limits,
            peers: HashMap::new(),
            new_peers,
            budget: ByteBudget::new(limits.byte_budget),
            live: Arc::default(),
            sweeps: 0,
            idle_sweeps: limits.sweeps().map(|s| s.idle_sweeps),
            prune_at: MIN_PRUNE_AT,
        };
        (router, incoming)
    }

    /// Routes one datagram from `from` (its whole payload, possibly over `max_frame`), with
    /// no local address known.
    #[cfg(test)]
    pub(super) fn receive(&mut self, from: SocketAddr, payload: &[u8]) {
        self.receive_at(from, None, payload);
    }

    /// Routes one datagram from `from` that came to `local` (its whole payload, possibly
    /// over `max_frame`). Never waits: a datagram that does not fit a limit is dropped.
    pub(super) fn receive_at(
        &mut self,
        from: SocketAddr,
        local: Option<LocalAddr>,
        payload: &[u8],
    ) {
        let sweeps = self.sweeps;
        match self.peers.get_mut(&from) {
            Some(peer) if !peer.queue.is_closed() => {
                peer.last_seen = sweeps;
                if let Some(queued) = charge(&self.budget, self.limits.max_frame, payload, from) {
                    push(&peer.queue, queued, from);
                }
            }
            _ => self.admit(from, local, payload),
        }
    }

    /// Ends the connection of every sender quiet for `idle_timeout`, and forgets closed ones.
    /// Datagrams already queued for an ended connection are still delivered before its end.
    pub(super) fn sweep(&mut self) {
        self.sweeps += 1;
        // Sweeps run only when there is an idle timeout (the demux's ticker).
        let Some(idle_sweeps) = self.idle_sweeps else {
            return;
        };
        let now = self.sweeps;
        self.peers.retain(|from, peer| {
            if peer.queue.is_closed() {
                return false;
            }
            // A reply sent to it counts as much as a datagram from it: it went out in the
            // period this sweep ends.
            if peer.seat.take_sent() {
                peer.last_seen = now - 1;
            }
            // Whole periods since the one in which its last datagram came or went.
            let idle = now - peer.last_seen > idle_sweeps;
            if idle {
                tracing::debug!(%from, "udp sender idle: connection ended");
                peer.seat.leave();
            }
            !idle
        });
        self.prune_at = next_prune_at(self.peers.len());
    }

    /// Hands `err`, the error that stopped the socket, to every open connection; each then
    /// ends after its queued datagrams and the error.
    pub(super) fn fail(self, err: &io::Error) {
        for (from, peer) in self.peers {
            // Each connection gets its own error: the OS's code stays inside it.
            let os_error = match crate::raw_os_error(err) {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(err.kind(), err.to_string()),
            };
            let error = crate::error::with_context(
                err.kind(),
                format!("the udp listener stopped receiving: {err}"),
                os_error,
            );
            let queued = Queued {
                datagram: Err(error),
                charge: None,
            };
            // The reserved slot makes room; only a closed connection refuses it.
            if peer.queue.try_send(queued).is_err() && !peer.queue.is_closed() {
                tracing::debug!(%from, "udp connection could not be told the listener stopped");
            }
        }
    }

    /// Bytes of datagrams queued and not yet taken, across all connections.
    #[cfg(test)]
    pub(super) fn queued_bytes(&self) -> usize {
        self.budget.queued()
    }

    /// Starts a send of `payload` to `from`'s connection, charged and holding a queue slot
    /// now; it lands in the queue when the returned function is called (tests: a send under
    /// way while the connection drops).
    #[cfg(test)]
    pub(super) fn start_send(&self, from: SocketAddr, payload: &[u8]) -> impl FnOnce() {
        let slot = self.peers[&from].queue.clone().try_reserve_owned();
        let queued = charge(&self.budget, self.limits.max_frame, payload, from);
        let (slot, queued) = (slot.expect("a free slot"), queued.expect("budget left"));
        move || {
            slot.send(queued);
        }
    }

    /// Senders in the peer map, closed connections not yet pruned included (tests).
    #[cfg(test)]
    pub(super) fn known_senders(&self) -> usize {
        self.peers.len()
    }

    /// Makes a connection for a new sender, starting with `payload`, and hands it to
    /// `accept`; drops the datagram when `max_peers` senders are live, the byte budget is
    /// spent or the accept backlog is full.
    fn admit(&mut self, from: SocketAddr, local: Option<LocalAddr>, payload: &[u8]) {
        if self.live.live() >= self.limits.max_peers {
            tracing::debug!(%from, max_peers = self.limits.max_peers, "udp listener at max_peers: new sender's datagram dropped");
            return;
        }
        let Some(queued) = charge(&self.budget, self.limits.max_frame, payload, from) else {
            return;
        };
        let (queue, datagrams) = mpsc::channel(CONNECTION_BACKLOG + RESERVED_SLOTS);
        let seat = Seat::take(&self.live);
        push(&queue, queued, from);
        let connection = PeerQueue {
            datagrams,
            seat: SeatGuard(Arc::clone(&seat)),
            local,
        };
        // On failure the connection is dropped here: its seat and budget are given back.
        if self.new_peers.try_send((from, connection)).is_err() {
            tracing::debug!(%from, "udp accept backlog full or listener gone: datagram dropped");
            return;
        }
        if self.peers.len() >= self.prune_at {
            self.prune();
        }
        let last_seen = self.sweeps;
        self.peers.insert(
            from,
            Peer {
                queue,
                seat,
                last_seen,
            },
        );
    }

    /// Forgets senders whose connection was dropped. Runs when the map has doubled since the
    /// last prune, so its cost is spread over the senders added since.
    fn prune(&mut self) {
        self.peers.retain(|_, peer| !peer.queue.is_closed());
        self.prune_at = next_prune_at(self.peers.len());
    }
}

/// The datagram as its connection will get it, charged to the budget; `None` (dropped) when
/// the budget is spent. One over `max_frame` is not kept: it becomes `InvalidData`.
fn charge(
    budget: &Arc<ByteBudget>,
    max_frame: usize,
    payload: &[u8],
    from: SocketAddr,
) -> Option<Queued> {
    let too_large = payload.len() > max_frame;
    let kept = if too_large { 0 } else { payload.len() };
    let Some(charge) = budget.charge(cost(kept)) else {
        tracing::debug!(%from, queued = budget.queued(), "udp listener byte budget spent: datagram dropped");
        return None;
    };
    let datagram = if too_large {
        Err(FrameError::TooLarge {
            len: payload.len() as u64,
            max: max_frame,
        }
        .into())
    } else {
        Ok(Bytes::copy_from_slice(payload))
    };
    Some(Queued {
        datagram,
        charge: Some(charge),
    })
}

/// The map size at which to prune next, with `len` senders in the map.
fn next_prune_at(len: usize) -> usize {
    len.saturating_mul(2).max(MIN_PRUNE_AT)
}

/// Queues `queued` for its connection unless it already holds `CONNECTION_BACKLOG` datagrams
/// (or is gone); a datagram refused is dropped here, which gives its cost back.
fn push(queue: &mpsc::Sender<Queued>, queued: Queued, from: SocketAddr) {
    if queue.capacity() <= RESERVED_SLOTS || queue.try_send(queued).is_err() {
        tracing::debug!(%from, "udp connection backlog full or gone: datagram dropped");
    }
}
