use super::demux::Demux;
use super::router::PeerQueue;
use super::RECV_BUFFER;
use crate::codec::FrameError;
use crate::transport::{RecvMessage, SendMessage};
use bytes::Bytes;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::{Interest, ReadBuf};
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
        /// The address connected to, for the error that says nothing listens there.
        server: SocketAddr,
        /// `SO_BROADCAST` is set (`broadcast=true`): a refusal needs no hint to set it.
        broadcast: bool,
        buf: Box<[u8]>,
        /// Waits for the error the host reports for an earlier datagram (see
        /// [`next_socket_error`]); made when a receive first waits, kept until it reports.
        errors: Option<ErrorWatch>,
    },
    Server {
        peer: SocketAddr,
        datagrams: PeerQueue,
        /// Waits for room to send, after the shared socket refused a send (`WouldBlock`).
        writable: Option<WritableWatch>,
        _demux: Arc<Demux>,
    },
}

impl UdpChannel {
    pub(crate) fn client(
        socket: UdpSocket,
        server: SocketAddr,
        broadcast: bool,
        max_frame: usize,
    ) -> UdpChannel {
        UdpChannel {
            socket: Arc::new(socket),
            max_frame,
            side: Side::Client {
                server,
                broadcast,
                buf: vec![0; RECV_BUFFER].into_boxed_slice(),
                errors: None,
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
                writable: None,
                _demux: demux,
            },
        }
    }
}

impl RecvMessage for UdpChannel {
    fn poll_recv(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        let this = self.get_mut();
        match &mut this.side {
            Side::Client {
                server,
                buf,
                errors,
                ..
            } => {
                let mut read = ReadBuf::new(buf);
                let received = this.socket.poll_recv(cx, &mut read);
                if let Poll::Ready(Err(err)) = received {
                    return Poll::Ready(Err(refused(*server, err)));
                }
                if received.is_pending() {
                    let watch = errors.get_or_insert_with(|| error_watch(&this.socket));
                    let error = ready!(watch.poll(cx));
                    *errors = None;
                    return Poll::Ready(Err(error));
                }
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
        let sent = match &mut this.side {
            Side::Client {
                server, broadcast, ..
            } => ready!(this.socket.poll_send(cx, msg))
                .map_err(|err| needs_broadcast(*server, *broadcast, refused(*server, err))),
            Side::Server {
                peer,
                datagrams,
                writable,
                ..
            } => {
                let local = datagrams.local();
                let sent = loop {
                    if let Some(watch) = writable {
                        let ready = ready!(watch.poll(cx));
                        *writable = None;
                        ready?;
                    }
                    match crate::sys::udp_local::try_send_to_from(&this.socket, msg, *peer, local) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            *writable = Some(writable_watch(&this.socket));
                        }
                        sent => break sent,
                    }
                };
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

/// A wait on the socket kept across polls of a send or receive: a boxed future that owns
/// its own `Arc` of the socket, so that it is a waiter of its own in tokio's list.
struct SocketWatch<T>(Pin<Box<dyn Future<Output = T> + Send + Sync>>);

impl<T> SocketWatch<T> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<T> {
        self.0.as_mut().poll(cx)
    }
}

impl<T> std::fmt::Debug for SocketWatch<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SocketWatch")
    }
}

/// A listener socket's next write readiness, which a connection's send waits for after
/// `WouldBlock`. Every connection of a listener sends on the one socket: `poll_send_to`
/// keeps only the last caller's waker, so with several connections waiting (the OS's send
/// buffer full) all but one slept for ever.
type WritableWatch = SocketWatch<io::Result<()>>;

fn writable_watch(socket: &Arc<UdpSocket>) -> WritableWatch {
    let socket = Arc::clone(socket);
    SocketWatch(Box::pin(async move { socket.writable().await }))
}

/// A connected client socket's next error, which a receive waits for beside the datagram.
///
/// When the host answers a datagram with "port unreachable" (nothing listening there), the
/// kernel records `ECONNREFUSED` on the connected socket and epoll reports it as an error
/// event alone: not readable, so a receive waiting for readiness would never try, and would
/// wait for a reply that cannot come. This watch wakes it with that error instead.
type ErrorWatch = SocketWatch<io::Error>;

fn error_watch(socket: &Arc<UdpSocket>) -> ErrorWatch {
    SocketWatch(Box::pin(next_socket_error(Arc::clone(socket))))
}

/// `err`, a connected client's error from a receive or send; when it is the host's refusal
/// of an earlier datagram (the OS hands it to whichever comes first), one that says nothing
/// listens at `server`, not the OS's bare "Connection refused".
fn refused(server: SocketAddr, err: io::Error) -> io::Error {
    if err.kind() != io::ErrorKind::ConnectionRefused {
        return err;
    }
    let message =
        format!("nothing listens at {server}: its host refused a datagram sent there ({err})");
    crate::error::with_context(io::ErrorKind::ConnectionRefused, message, err)
}

/// `err`, a client's error from connecting or sending to `server`; when the OS refused it
/// permission the way it refuses a socket without `SO_BROADCAST` that sends to a broadcast
/// address, and `broadcast=true` was not given, one that says to give it (same kind).
pub(super) fn needs_broadcast(server: SocketAddr, broadcast: bool, err: io::Error) -> io::Error {
    if broadcast || !refused_as_broadcast(server, &err) {
        return err;
    }
    let message = format!(
        "{err}: to send to {server} if it is a broadcast address, add broadcast=true to the URL"
    );
    crate::error::with_context(io::ErrorKind::PermissionDenied, message, err)
}

/// The OS's code for a send to a broadcast address from a socket without `SO_BROADCAST`.
#[cfg(unix)]
const NO_SO_BROADCAST: i32 = libc::EACCES;
/// `WSAEACCES`.
#[cfg(windows)]
const NO_SO_BROADCAST: i32 = 10013;

/// Whether `err`, from connecting or sending to `server`, may be the OS's refusal to send to a
/// broadcast address without `SO_BROADCAST`: `EACCES` (`WSAEACCES`) for an IPv4 address that
/// is not a multicast group. Not any `PermissionDenied`: Rust gives that kind to `EPERM` too,
/// what a firewall that drops the datagram says, which `broadcast=true` would not cure; nor
/// for IPv6 or a group, which have no broadcast.
pub(super) fn refused_as_broadcast(server: SocketAddr, err: &io::Error) -> bool {
    match server {
        SocketAddr::V4(v4) if !v4.ip().is_multicast() => {
            crate::error::raw_os_error(err) == Some(NO_SO_BROADCAST)
        }
        _ => false,
    }
}

/// Waits until `socket` holds a pending error (`SO_ERROR`) and takes it, which clears it: the
/// connection stays usable, and a later datagram may find a listener.
async fn next_socket_error(socket: Arc<UdpSocket>) -> io::Error {
    loop {
        if let Err(e) = socket.ready(Interest::ERROR).await {
            return e;
        }
        // An error event with no error left (a send or receive took it first) clears the
        // readiness, so the next wait sleeps until another one comes.
        let taken = socket.try_io(Interest::ERROR, || match socket.take_error() {
            Ok(Some(error)) | Err(error) => Ok(error),
            Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
        });
        match taken {
            Ok(error) => {
                return match socket.peer_addr() {
                    Ok(server) => refused(server, error),
                    Err(_) => error,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return e,
        }
    }
}
