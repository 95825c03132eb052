use super::ShmStream;
use crate::sys::{self, shm::OwnerLock};
use crate::transport::{AnyStream, Connection};
use crate::{Endpoint, Scheme, ToEndpoint};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

/// A client has this long after connecting to send its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most clients in the middle of their handshake at once; more wait in the socket's backlog.
const MAX_PENDING: usize = 256;

type Handshake = Pin<Box<dyn Future<Output = io::Result<ShmStream>> + Send>>;

/// A bound `shm://name`: accepts [`ShmStream`]s.
///
/// The name is a Unix socket in a private per-user directory (`$XDG_RUNTIME_DIR/anyipc` or
/// `/tmp/anyipc-<uid>`, mode 0700), through which each new client hands over the sealed memfd
/// it made for the connection (its `capacity=` sets the ring size) and which tells either
/// side when the other goes away. The listener checks the seals, size and header of every
/// segment it is given. A lock file held for the listener's life says the
/// name is taken: binding a name a live listener holds is `AddrInUse`; the name of a dead one
/// (killed, crashed) is reclaimed. Nothing is ever created in `/dev/shm`: a connection's memory
/// vanishes with the last process that maps it.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::shm::ShmListener;
/// # let url = format!("shm://doc-shm-listener-{}", std::process::id());
///
/// let listener = ShmListener::bind(&url).await?;
/// let taken = ShmListener::bind(&url).await.unwrap_err();
/// assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse);
/// drop(listener);
/// let _again = ShmListener::bind(&url).await?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct ShmListener {
    /// With its socket file, removed on drop.
    listener: sys::LinkedSocket,
    endpoint: Endpoint,
    /// Clients whose handshake has not arrived yet.
    pending: FuturesUnordered<Handshake>,
    /// Dropped last: the name stays ours until the socket file is gone.
    _lock: OwnerLock,
}

impl ShmListener {
    /// Binds `shm://name`.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::shm::{ShmListener, ShmStream};
    /// use std::io::ErrorKind;
    /// # let url = format!("shm://doc-shm-bind-{}", std::process::id());
    /// let listener = ShmListener::bind(&url).await?;
    /// ShmStream::connect(&url).await?; // the name is reachable while the listener lives
    /// drop(listener);
    /// assert_eq!(ShmStream::connect(&url).await.unwrap_err().kind(), ErrorKind::NotFound);
    /// let tcp = ShmListener::bind("tcp://127.0.0.1:0").await.unwrap_err();
    /// assert_eq!(tcp.kind(), ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `AddrInUse` when a live listener holds the name (or a server answers on the socket
    /// file where the name's goes); `AlreadyExists` when something other than a socket is
    /// there; `InvalidInput` for a URL that is not `shm://`; `PermissionDenied` when the
    /// private directory is not private.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn bind(endpoint: impl ToEndpoint) -> io::Result<ShmListener> {
        let endpoint = endpoint.to_endpoint()?;
        let path = super::socket_path(&endpoint)?;
        let lock = OwnerLock::acquire(&path.with_extension("lock")).map_err(|e| {
            if e.kind() == io::ErrorKind::AddrInUse {
                io::Error::new(
                    e.kind(),
                    format!("{endpoint}: a live listener holds this name"),
                )
            } else {
                endpoint.error(e)
            }
        })?;
        // The name is ours now: a socket file left there belongs to a dead listener, unless a
        // server answers on it (see `clear_dead_socket`).
        let lock_path = path.with_extension("lock");
        sys::clear_dead_socket(&path, &endpoint.to_string(), &lock_path)?;
        let listener = sys::LinkedSocket::bind(&path, endpoint.mode_option())
            .map_err(|e| endpoint.error(e))?;
        Ok(ShmListener {
            listener,
            endpoint,
            pending: FuturesUnordered::new(),
            _lock: lock,
        })
    }

    /// Waits for the next client.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::shm::{ShmListener, ShmStream};
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// # let url = format!("shm://doc-shm-accept-{}", std::process::id());
    /// let mut listener = ShmListener::bind(&url).await?;
    /// let mut client = ShmStream::connect(&url).await?;
    /// let mut server = listener.accept().await?;
    /// client.write_all(b"bye").await?;
    /// drop(client);
    /// let mut got = Vec::new();
    /// server.read_to_end(&mut got).await?; // what was sent, then the end: the client is gone
    /// assert_eq!(got, b"bye");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// Errors of the OS accept call. A client whose handshake fails (gone before it, silent
    /// for 5 s, a segment that is not sealed or not consistent) is logged and skipped.
    ///
    /// # Cancel safety
    /// Cancel safe: no connection is lost when the future is dropped.
    pub async fn accept(&mut self) -> io::Result<ShmStream> {
        std::future::poll_fn(|cx| self.poll_accept_stream(cx)).await
    }

    /// Polls for the next client; see [`accept`](ShmListener::accept).
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::shm::{ShmListener, ShmStream};
    /// use std::future::poll_fn;
    /// use std::task::Poll;
    /// # let url = format!("shm://doc-shm-poll-accept-{}", std::process::id());
    /// let mut listener = ShmListener::bind(&url).await?;
    /// let polled = poll_fn(|cx| Poll::Ready(listener.poll_accept_stream(cx))).await;
    /// assert!(polled.is_pending()); // no client yet
    /// let _client = ShmStream::connect(&url).await?;
    /// let server = poll_fn(|cx| listener.poll_accept_stream(cx)).await?;
    /// assert_eq!(server.peer_credentials().and_then(|c| c.pid), Some(std::process::id()));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`accept`](ShmListener::accept).
    pub fn poll_accept_stream(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ShmStream>> {
        loop {
            while self.pending.len() < MAX_PENDING {
                let Poll::Ready(accepted) = self.listener.poll_accept(cx) else {
                    break;
                };
                let (socket, _) = accepted?;
                let endpoint = self.endpoint.clone();
                self.pending.push(Box::pin(async move {
                    tokio::time::timeout(
                        HANDSHAKE_TIMEOUT,
                        ShmStream::accept_handshake(socket, endpoint),
                    )
                    .await
                    .unwrap_or_else(|_| {
                        Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "no handshake within 5 s",
                        ))
                    })
                }));
            }
            match self.pending.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(stream))) => return Poll::Ready(Ok(stream)),
                Poll::Ready(Some(Err(e))) => {
                    tracing::warn!(endpoint = %self.endpoint, error = %e, "shm client handshake failed");
                }
                Poll::Ready(None) | Poll::Pending => return Poll::Pending,
            }
        }
    }

    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
        endpoint: &Endpoint,
    ) -> Poll<io::Result<Connection>> {
        let stream = ready!(self.poll_accept_stream(cx))?;
        let peer = match stream.peer_credentials().and_then(|c| c.pid) {
            Some(pid) => format!("shm client pid {pid}"),
            None => "shm client".to_owned(),
        };
        let credentials = stream.peer_credentials();
        Poll::Ready(Ok(Connection::from_stream(
            AnyStream::Shm(Box::new(stream)),
            endpoint,
            peer,
            credentials,
        )))
    }

    /// The endpoint this listener is bound to.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::shm::ShmListener;
    /// # let name = format!("doc-shm-endpoint-{}", std::process::id());
    /// let listener = ShmListener::bind(format!("shm://{name}?mode=0600")).await?;
    /// assert_eq!(listener.endpoint().scheme(), anyipc::Scheme::Shm);
    /// assert_eq!(listener.endpoint().name(), Some(name.as_str()));
    /// assert_eq!(listener.endpoint().option("mode").as_deref(), Some("0600"));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// Checks that `endpoint` is `shm://name` and returns the name.
pub(crate) fn shm_name(endpoint: &Endpoint) -> io::Result<&str> {
    match (endpoint.scheme(), endpoint.name()) {
        (Scheme::Shm, Some(name)) => Ok(name),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{endpoint} is not a shm://name endpoint"),
        )),
    }
}
