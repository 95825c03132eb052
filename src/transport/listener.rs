use super::Connection;
use crate::Endpoint;
use futures::Stream;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A bound endpoint that accepts [`Connection`]s, on any transport.
///
/// Also a `Stream` of accepted connections.
///
/// ```
/// # tokio_test::block_on(async {
/// let mut listener = anyipc::bind("tcp://127.0.0.1:0").await?;
/// // Port 0 asked for any free port; the listener's endpoint names the one it got.
/// let url = listener.endpoint().to_string();
/// let _client = anyipc::connect(&url).await?;
/// let server_side = listener.accept().await?;
/// assert!(server_side.peer_addr().starts_with("127.0.0.1:"));
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct Listener {
    inner: AnyListener,
    endpoint: Endpoint,
    span: tracing::Span,
}

pub(crate) enum AnyListener {
    Tcp(crate::tcp::TcpListener),
    Udp(crate::udp::UdpListener),
    #[cfg(unix)]
    Unix(crate::unix::UnixListener),
    #[cfg(target_os = "linux")]
    Shm(crate::shm::ShmListener),
    Mem(crate::mem::MemListener),
    Pipe(crate::pipe::PipeListener),
    #[cfg(unix)]
    Fifo(crate::fifo::FifoListener),
    File(crate::file::FileListener),
    Mq(crate::queue::QueueListener),
}

impl Listener {
    pub(crate) fn new(inner: AnyListener, endpoint: Endpoint) -> Listener {
        let span = tracing::debug_span!("listener", endpoint = %endpoint);
        tracing::debug!(parent: &span, "listening");
        Listener {
            inner,
            endpoint,
            span,
        }
    }

    /// The endpoint this listener is bound to, with the real port when port 0 was asked for.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// let listener = anyipc::bind("tcp://127.0.0.1:0?nodelay=false").await?;
    /// let anyipc::Address::HostPort { host, port } = listener.endpoint().address() else {
    ///     unreachable!("a tcp endpoint has a host and port")
    /// };
    /// assert_eq!((host.as_str(), *port != 0), ("127.0.0.1", true));
    /// // The options stay.
    /// assert_eq!(listener.endpoint().option("nodelay").as_deref(), Some("false"));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Waits for the next connection.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("mem://doc-listener-accept").await?;
    /// let mut first = anyipc::connect("mem://doc-listener-accept").await?;
    /// let mut second = anyipc::connect("mem://doc-listener-accept").await?;
    /// second.send("second").await?;
    /// first.send("first").await?;
    /// // mem:// accepts connections in the order they were made.
    /// assert_eq!(listener.accept().await?.recv().await?.unwrap(), "first");
    /// assert_eq!(listener.accept().await?.recv().await?.unwrap(), "second");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// Errors of the OS accept call. Not errors (the connection is dropped and logged, and
    /// accepting goes on): a connection refused by `allow_uids`, and a client that went
    /// away while it waited to be accepted.
    ///
    /// # Cancel safety
    /// Cancel safe: no connection is lost when the future is dropped.
    pub async fn accept(&mut self) -> io::Result<Connection> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next connection: [`accept`](Listener::accept) for hand-written futures
    /// and `poll` functions.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("mem://doc-listener-poll-accept").await?;
    /// let mut client = anyipc::connect("mem://doc-listener-poll-accept").await?;
    /// let mut server = poll_fn(|cx| listener.poll_accept(cx)).await?;
    /// client.send("hi").await?;
    /// assert_eq!(server.recv().await?.unwrap(), "hi");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`accept`](Listener::accept).
    pub fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Connection>> {
        let polled = match &mut self.inner {
            AnyListener::Tcp(l) => l.poll_accept(cx, &self.endpoint),
            AnyListener::Udp(l) => l.poll_accept(cx, &self.endpoint),
            #[cfg(unix)]
            AnyListener::Unix(l) => l.poll_accept(cx, &self.endpoint),
            #[cfg(target_os = "linux")]
            AnyListener::Shm(l) => l.poll_accept(cx, &self.endpoint),
            AnyListener::Mem(l) => l.poll_accept(cx, &self.endpoint),
            AnyListener::Pipe(l) => l.poll_accept(cx, &self.endpoint),
            #[cfg(unix)]
            AnyListener::Fifo(l) => l.poll_accept(cx, &self.endpoint),
            AnyListener::File(l) => l.poll_accept(cx, &self.endpoint),
            AnyListener::Mq(l) => l.poll_accept(cx, &self.endpoint),
        };
        if let Poll::Ready(Ok(conn)) = &polled {
            tracing::debug!(parent: &self.span, peer = %conn.peer_addr(), "accepted");
        }
        polled
    }
}

impl Stream for Listener {
    type Item = io::Result<Connection>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_accept(cx).map(Some)
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("endpoint", &self.endpoint.to_string())
            .finish_non_exhaustive()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        tracing::debug!(parent: &self.span, "listener closed");
    }
}
