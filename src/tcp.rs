//! `tcp://host:port`: TCP streams, with TCP_NODELAY on unless `nodelay=false`.
//!
//! Reach other machines with the same code that talks to local processes. Bind port 0 to get
//! any free port; [`Listener::endpoint`](crate::Listener::endpoint) names it.

use crate::transport::{AnyStream, Connection};
use crate::{Address, Endpoint};
use std::io;
use std::task::{ready, Context, Poll};

fn host_port(endpoint: &Endpoint) -> io::Result<(&str, u16)> {
    match endpoint.address() {
        Address::HostPort { host, port } => Ok((host, *port)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{endpoint} has no host:port"),
        )),
    }
}

fn stream_connection(stream: tokio::net::TcpStream, endpoint: &Endpoint) -> io::Result<Connection> {
    stream.set_nodelay(endpoint.bool_option("nodelay").unwrap_or(true))?;
    let peer = stream.peer_addr()?.to_string();
    Ok(Connection::from_stream(
        AnyStream::Tcp(stream),
        endpoint,
        peer,
        None,
    ))
}

/// Connects to `tcp://host:port`, trying each address the host resolves to.
pub(crate) async fn connect(endpoint: &Endpoint) -> io::Result<Connection> {
    let stream = tokio::net::TcpStream::connect(host_port(endpoint)?).await?;
    stream_connection(stream, endpoint)
}

/// A bound TCP endpoint.
#[derive(Debug)]
pub struct TcpListener {
    listener: tokio::net::TcpListener,
}

impl TcpListener {
    /// Binds; returns the listener and its endpoint with the real port.
    pub(crate) async fn bind(endpoint: &Endpoint) -> io::Result<(TcpListener, Endpoint)> {
        let listener = tokio::net::TcpListener::bind(host_port(endpoint)?).await?;
        let bound = endpoint.with_port(listener.local_addr()?.port());
        Ok((TcpListener { listener }, bound))
    }

    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
        endpoint: &Endpoint,
    ) -> Poll<io::Result<Connection>> {
        let (stream, _) = ready!(self.listener.poll_accept(cx))?;
        Poll::Ready(stream_connection(stream, endpoint))
    }
}
