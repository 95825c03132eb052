use super::demux::Demux;
use super::router::PeerQueue;
use super::RECV_BUFFER;
use crate::codec::FrameError;
use crate::transport::{RecvMessage, SendMessage};
use bytes::Bytes;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

/// One UDP "connection": a connected client socket, or one sender's datagrams on a listener.
#[derive(Debug)]
pub(crate) struct UdpChannel {
    socket: Arc<UdpSocket>,
    max_frame: usize,
    side: Side,
}

#[derive(Debug)]
enum Side {
    Client {
        buf: Box<[u8]>,
    },
    Server {
        peer: SocketAddr,
        datagrams: PeerQueue,
        _demux: Arc<Demux>,
    },
}

impl UdpChannel {
    pub(crate) fn client(socket: UdpSocket, max_frame: usize) -> UdpChannel {
        UdpChannel {
            socket: Arc::new(socket),
            max_frame,
            side: Side::Client {
                buf: vec![0; RECV_BUFFER].into_boxed_slice(),
            },
        }
    }

    pub(super) fn server(
        socket: Arc<UdpSocket>,
        max_frame: usize,
        peer: SocketAddr,
        datagrams: PeerQueue,
        demux: Arc<Demux>,
    ) -> UdpChannel {
        UdpChannel {
            socket,
            max_frame,
            side: Side::Server {
                peer,
                datagrams,
                _demux: demux,
            },
        }
    }
}

impl RecvMessage for UdpChannel {
    fn poll_recv(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        let this = self.get_mut();
        match &mut this.side {
            Side::Client { buf } => {
                let mut read = ReadBuf::new(buf);
                ready!(this.socket.poll_recv(cx, &mut read))?;
                let len = read.filled().len();
                if len > this.max_frame {
                    return Poll::Ready(Err(FrameError::TooLarge {
                        len: len as u64,
                        max: this.max_frame,
                    }
                    .into()));
                }
                Poll::Ready(Ok(Some(Bytes::copy_from_slice(read.filled()))))
            }
            Side::Server { datagrams, .. } => {
                Poll::Ready(ready!(datagrams.poll_recv(cx)).transpose())
            }
        }
    }
}

impl SendMessage for UdpChannel {
    fn poll_send(self: Pin<&mut Self>, cx: &mut Context<'_>, msg: &Bytes) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if msg.len() > this.max_frame {
            return Poll::Ready(Err(FrameError::SendTooLarge {
                len: msg.len(),
                max: this.max_frame,
            }
            .into()));
        }
        let sent = match &this.side {
            Side::Client { .. } => ready!(this.socket.poll_send(cx, msg)),
            Side::Server {
                peer, datagrams, ..
            } => {
                let sent = ready!(this.socket.poll_send_to(cx, msg, *peer));
                datagrams.mark_sent();
                sent
            }
        }?;
        if sent != msg.len() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the OS sent {sent} of a {}-byte datagram", msg.len()),
            )));
        }
        Poll::Ready(Ok(()))
    }
}
