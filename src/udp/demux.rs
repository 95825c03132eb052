//! The task that reads a listening UDP socket and routes each datagram to the connection of its
//! sender, making a new connection for a new sender.

use super::RECV_BUFFER;
use crate::codec::FrameError;
use bytes::Bytes;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Datagrams a connection holds unread before new ones for it are dropped.
pub(super) const CONNECTION_BACKLOG: usize = 1024;
/// New senders waiting for `accept`, beyond which their datagrams are dropped.
pub(super) const ACCEPT_BACKLOG: usize = 128;

pub(super) type Datagrams = mpsc::Receiver<io::Result<Bytes>>;
pub(super) type NewPeers = mpsc::Receiver<(SocketAddr, Datagrams)>;

/// The running demultiplexer; it stops when the listener and all its connections are gone.
#[derive(Debug)]
pub(super) struct Demux {
    task: JoinHandle<()>,
}

impl Demux {
    /// Starts reading `socket`; new senders arrive on the returned receiver.
    pub(super) fn start(socket: Arc<UdpSocket>, max_frame: usize) -> (Arc<Demux>, NewPeers) {
        let (new_peers, incoming) = mpsc::channel(ACCEPT_BACKLOG);
        let task = tokio::spawn(route(socket, new_peers, max_frame));
        (Arc::new(Demux { task }), incoming)
    }
}

impl Drop for Demux {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn route(
    socket: Arc<UdpSocket>,
    new_peers: mpsc::Sender<(SocketAddr, Datagrams)>,
    max_frame: usize,
) {
    let mut peers: HashMap<SocketAddr, mpsc::Sender<io::Result<Bytes>>> = HashMap::new();
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        let (len, from) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            // An ICMP "port unreachable" for an earlier send_to: the socket is still fine.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                ) =>
            {
                continue
            }
            Err(e) => {
                tracing::warn!(error = %e, "udp listener stopped receiving");
                return;
            }
        };
        let datagram = if len > max_frame {
            Err(FrameError::TooLarge {
                len: len as u64,
                max: max_frame,
            }
            .into())
        } else {
            Ok(Bytes::copy_from_slice(&buf[..len]))
        };
        let connection = match peers.get(&from) {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::channel(CONNECTION_BACKLOG);
                if new_peers.try_send((from, rx)).is_err() {
                    tracing::debug!(%from, "accept backlog full or listener gone: datagram dropped");
                    continue;
                }
                if peers.len() >= CONNECTION_BACKLOG {
                    peers.retain(|_, tx| !tx.is_closed());
                }
                peers.insert(from, tx.clone());
                tx
            }
        };
        if connection.try_send(datagram).is_err() {
            tracing::debug!(%from, "connection backlog full: datagram dropped");
        }
    }
}
