//! The task that reads a listening UDP socket and hands each datagram to the [`Router`], which
//! routes it to the connection of its sender; the task also tells the router when to sweep for
//! idle senders.

use super::limits::{Limits, Sweeps};
use super::router::{NewPeers, Router};
use super::RECV_BUFFER;
use std::io;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// The running demultiplexer; it stops when the listener and all its connections are gone.
#[derive(Debug)]
pub(super) struct Demux {
    task: JoinHandle<()>,
}

impl Demux {
    /// Starts reading `socket`; new senders arrive on the returned receiver.
    pub(super) fn start(socket: Arc<UdpSocket>, limits: Limits) -> (Arc<Demux>, NewPeers) {
        let (router, incoming) = Router::new(limits);
        let task = tokio::spawn(run(socket, router, limits.sweeps()));
        (Arc::new(Demux { task }), incoming)
    }
}

impl Drop for Demux {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(socket: Arc<UdpSocket>, mut router: Router, sweeps: Option<Sweeps>) {
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut ticker = sweeps.map(|s| ticker(s.period));
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, from)) => router.receive(from, &buf[..len]),
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
