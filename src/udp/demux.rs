//! The task that reads a listening UDP socket and hands each datagram to the [`Router`], which
//! routes it to the connection of its sender; the task also tells the router when to sweep for
//! idle senders.

use super::limits::{Limits, Sweeps};
use super::router::{NewPeers, Router};
use super::RECV_BUFFER;
use crate::sys::udp_local::LocalAddr;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// The running demultiplexer; it stops when the listener and all its connections are gone.
#[derive(Debug)]
pub(super) struct Demux {
    task: JoinHandle<()>,
    /// The socket's port, recorded as released when the demultiplexer stops: the task
    /// closes the socket only once it has ended, a moment later, and a bind of that port
    /// meanwhile waits for it ([`released`](crate::released)).
    port: Option<u16>,
}

impl Demux {
    /// Starts reading `socket`; new senders arrive on the returned receiver.
    /// With `local_known`, the OS tells each datagram's local address (see
    /// [`report_local_addr`](crate::sys::udp_local::report_local_addr)), which replies go out
    /// from.
    pub(super) fn start(
        socket: Arc<UdpSocket>,
        limits: Limits,
        local_known: bool,
    ) -> (Arc<Demux>, NewPeers) {
        let (router, incoming) = Router::new(limits);
        let port = socket.local_addr().ok().map(|addr| addr.port());
        let task = tokio::spawn(run(socket, router, limits.sweeps(), local_known));
        (Arc::new(Demux { task, port }), incoming)
    }
}

impl Drop for Demux {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(port) = self.port {
            crate::released::record_release(crate::released::Released::UdpPort(port));
        }
    }
}

async fn run(
    socket: Arc<UdpSocket>,
    mut router: Router,
    sweeps: Option<Sweeps>,
    local_known: bool,
) {
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut ticker = sweeps.map(|s| ticker(s.period));
    loop {
        tokio::select! {
            received = recv(&socket, &mut buf, local_known) => match received {
                Ok((len, from, local)) => router.receive_at(from, local, &buf[..len]),
                Err(e) if is_left_over_icmp(&e) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "udp listener stopped receiving");
                    router.fail(&e);
                    return;
                }
            },
            () = tick(&mut ticker) => router.sweep(),
        }
    }
}

/// The next datagram's length and sender, and with `local_known` the local address it came
/// to.
async fn recv(
    socket: &UdpSocket,
    buf: &mut [u8],
    local_known: bool,
) -> io::Result<(usize, SocketAddr, Option<LocalAddr>)> {
    if local_known {
        return crate::sys::udp_local::recv_from_at(socket, buf).await;
    }
    let (len, from) = socket.recv_from(buf).await?;
    Ok((len, from, None))
}

/// An ICMP "port unreachable" for an earlier `send_to`: the socket is still fine.
fn is_left_over_icmp(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    )
}

fn ticker(period: std::time::Duration) -> Interval {
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker
}

/// The next sweep; never, without a ticker.
async fn tick(ticker: &mut Option<Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}
