use super::handshake::{self, Hello};
use super::ring::{Consumer, Corrupt, Producer, ReadOutcome, RingKeys, WriteOutcome};
use super::segment::{ring_capacity, Segment, CLIENT_TO_SERVER, SERVER_TO_CLIENT};
use super::wakers::{Half, Wakers};
use crate::io::coop::budgeted;
use crate::transport::PeerCredentials;
use crate::{sys, Endpoint, ToEndpoint};
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;

/// How long a side that finds nothing to do spins before it parks, by default.
///
/// On these 2-vCPU virtual machines a kernel wake-up costs 20–40 µs, while the peer of a
/// request/response exchange usually answers within a few µs; spinning this long keeps both
/// sides of a busy conversation from sleeping in the kernel, and an idle one parks after it.
///
/// ```
/// use anyipc::shm::DEFAULT_SPIN;
/// use std::time::Duration;
/// assert_eq!(DEFAULT_SPIN, Duration::from_micros(50));
/// ```
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// How long a side spins before it starts yielding its CPU every 64 checks (see `Spin`), in
/// both waiting modes.
const YIELD_AFTER: Duration = Duration::from_micros(10);

/// How often a parked side looks at its ring without a doorbell (see `ShmStream::recheck`).
const PARKED_RECHECK: Duration = Duration::from_millis(100);

/// Ring capacity when `capacity=` is not given.
const DEFAULT_CAPACITY: u64 = 1 << 20;

/// The most one write copies into the ring before publishing it.
///
/// A large write published in pieces lets the reader copy one piece out while the writer
/// copies the next in, and keeps the bytes in flight within the CPUs' caches. Measured with
/// 1 MiB messages over the default 1 MiB ring (BENCHMARKS.md, issue 4; medians of 9-run
/// rounds): whole writes 10.4–10.9 GiB/s, 128 KiB pieces 12.5–15.3, 256 KiB 12.9–14.8,
/// 64 KiB 11.3–13.2, 512 KiB 11.5–12.6.
pub(super) const WRITE_CHUNK: usize = 128 << 10;

/// In `busy_poll` mode, how long one poll spins before it yields to other tasks (it stays
/// runnable, so it is polled again at once).
const BUSY_SLICE: Duration = Duration::from_micros(50);

/// How a side waits for its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitMode {
    /// Spin this long, then park until the doorbell rings.
    SpinThenPark(Duration),
    /// Never park (`busy_poll=true`).
    BusyPoll,
}

/// A duplex byte stream over shared memory: `shm://name`.
///
/// Two single-producer single-consumer rings in one sealed memfd, handed over through a
/// rendezvous socket; wake-ups by a byte on that socket, sent only when the peer has said it
/// sleeps. Implements tokio's `AsyncRead` + `AsyncWrite`, so any codec frames it; through
/// [`anyipc::connect`](crate::connect) it is a [`Connection`](crate::Connection) like every
/// other transport.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::shm::{ShmListener, ShmStream};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # let url = format!("shm://doc-shm-stream-{}", std::process::id());
/// let mut listener = ShmListener::bind(&url).await?;
/// let mut client = ShmStream::connect(&url).await?;
/// let mut server = listener.accept().await?;
///
/// client.write_all(b"ping").await?;
/// let mut buf = [0u8; 4];
/// server.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// Reads end (`Ok(0)`) when the peer closes, shuts down its writing half, or dies; writes then
/// fail with `BrokenPipe`. Shared memory holding values the peer could not have written (a
/// corrupted index) is `InvalidData`.
///
/// # Platform-specific behavior
/// Linux only (memfd, seals); elsewhere `shm://` is `Unsupported`.
pub struct ShmStream {
    rx: Consumer,
    tx: Producer,
    /// Kept mapped for as long as `rx` and `tx` point into it.
    segment: Segment,
    /// The rendezvous socket, the doorbells' wire: the peer sends a byte on it when we said
    /// we sleep, and its end of stream says the peer is gone.
    socket: UnixStream,
    wakers: Arc<Wakers>,
    fan_waker: Waker,
    mode: WaitMode,
    read_parked: bool,
    write_parked: bool,
    /// The recheck deadline each half parked under (set with its `*_parked` flag): polled
    /// again once it has passed, the half was (or may as well have been) woken by the
    /// recheck, with nothing new to do, and parks again without spinning ([`Spin::new`]).
    read_parked_until: tokio::time::Instant,
    write_parked_until: tokio::time::Instant,
    peer_gone: bool,
    /// This side shut its sending half down (`poll_shutdown`): a write then says so rather
    /// than blame the peer.
    write_shut: bool,
    /// While parked, look at the rings again this often even without a doorbell: a hostile or
    /// corrupted peer can clear our "parked" flag so that it never rings, and a sleeper must
    /// still notice corruption (or data) rather than hang.
    recheck: Pin<Box<tokio::time::Sleep>>,
    credentials: Option<PeerCredentials>,
}

/// Which end of the rendezvous this side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

impl ShmStream {
    /// Connects to the `shm://name` listener.
    ///
    /// The client creates the connection's memory (a sealed memfd with two rings of
    /// `capacity` bytes, default 1 MiB) and sends it to the listener, so
    /// `connect` returns without waiting for `accept`, like a socket's.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::shm::{ShmListener, ShmStream};
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// # let url = format!("shm://doc-shm-connect-{}", std::process::id());
    /// # let missing = format!("shm://doc-shm-connect-missing-{}", std::process::id());
    /// let mut listener = ShmListener::bind(&url).await?;
    /// let mut client = ShmStream::connect(&url).await?; // before anyone accepts
    /// client.write_all(b"early").await?;
    /// let mut server = listener.accept().await?;
    /// let mut buf = [0; 5];
    /// server.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"early");
    /// let err = ShmStream::connect(&missing).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `NotFound` when no listener holds the name; `InvalidInput` for a URL that is not
    /// `shm://`, a `capacity` over 1 GiB (64 MiB on a 32-bit target), or a name whose socket path in the runtime
    /// directory is too long for a socket address (as `bind` says); `ConnectionRefused` if
    /// the listener goes away during the handshake; `TimedOut` when the listener's accept
    /// queue stays full for `connect_timeout` (10 s without one).
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the attempt.
    pub async fn connect(endpoint: impl ToEndpoint) -> io::Result<ShmStream> {
        let endpoint = endpoint.to_endpoint()?;
        let path = super::socket_path(&endpoint)?;
        let capacity = ring_capacity(endpoint.size_option("capacity").unwrap_or(DEFAULT_CAPACITY))?;
        // A full accept queue is a busy listener: wait for room as unix:// and pipe:// do
        // (up to connect_timeout, or 10 s), rather than fail with `WouldBlock`.
        let limit = endpoint.duration_option("connect_timeout");
        let socket = sys::connect_unix_socket(&path, limit)
            .await
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                    crate::error::with_context(
                        io::ErrorKind::NotFound,
                        format!("{endpoint}: no listener holds this name ({e})"),
                        e,
                    )
                }
                _ => endpoint.error(e),
            })?;
        let key = sys::shm::random_u64()?;
        let segment = Segment::create(capacity, key)?;
        let hello = Hello { capacity, key };
        handshake::send(&socket, &hello, &[segment.file().as_fd()])
            .await
            .map_err(|e| {
                let message = format!("{endpoint}: {e}");
                crate::error::with_context(io::ErrorKind::ConnectionRefused, message, e)
            })?;
        ShmStream::new(segment, Side::Client, key, socket, &endpoint)
    }

    /// The listener's half of a fresh rendezvous connection: receives the client's memory,
    /// checks it, and maps it.
    pub(crate) async fn accept_handshake(
        socket: UnixStream,
        endpoint: Endpoint,
    ) -> io::Result<ShmStream> {
        let (hello, [memfd]) = handshake::receive(&socket).await?;
        // Checks the seals, the size and the header: the client may be hostile.
        let segment = Segment::open(std::fs::File::from(memfd), hello.capacity)?;
        ShmStream::new(segment, Side::Server, hello.key, socket, &endpoint)
    }

    fn new(
        segment: Segment,
        side: Side,
        key: u64,
        socket: UnixStream,
        endpoint: &Endpoint,
    ) -> io::Result<ShmStream> {
        let (rx_ring, tx_ring) = match side {
            Side::Server => (CLIENT_TO_SERVER, SERVER_TO_CLIENT),
            Side::Client => (SERVER_TO_CLIENT, CLIENT_TO_SERVER),
        };
        // SAFETY: the rings lie inside `segment`, which the stream keeps mapped for as long
        // as `rx` and `tx` exist (they are dropped with it); this process has exactly one
        // consumer of `rx_ring` and one producer of `tx_ring`, and the peer the other ends.
        let (rx, tx) = unsafe {
            (
                Consumer::new(segment.ring(rx_ring), RingKeys::derive(key, rx_ring as u64)),
                Producer::new(segment.ring(tx_ring), RingKeys::derive(key, tx_ring as u64)),
            )
        };
        let mode = if endpoint.bool_option("busy_poll").unwrap_or(false) {
            WaitMode::BusyPoll
        } else {
            WaitMode::SpinThenPark(DEFAULT_SPIN)
        };
        let credentials = socket.peer_cred().ok().map(|cred| PeerCredentials {
            pid: cred.pid().and_then(|pid| u32::try_from(pid).ok()),
            uid: cred.uid(),
            gid: cred.gid(),
        });
        let (wakers, fan_waker) = Wakers::new();
        Ok(ShmStream {
            rx,
            tx,
            segment,
            socket,
            wakers,
            fan_waker,
            mode,
            read_parked: false,
            write_parked: false,
            read_parked_until: tokio::time::Instant::now(),
            write_parked_until: tokio::time::Instant::now(),
            peer_gone: false,
            write_shut: false,
            recheck: Box::pin(tokio::time::sleep(PARKED_RECHECK)),
            credentials,
        })
    }

    /// The peer's pid, uid and gid, from the rendezvous socket.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::shm::{ShmListener, ShmStream};
    /// # let url = format!("shm://doc-shm-peer-credentials-{}", std::process::id());
    /// let mut listener = ShmListener::bind(&url).await?;
    /// let client = ShmStream::connect(&url).await?;
    /// let server = listener.accept().await?;
    /// let client_seen = server.peer_credentials().expect("Linux reports the peer");
    /// assert_eq!(client_seen.pid, Some(std::process::id())); // here both ends are this process
    /// assert_eq!(client.peer_credentials(), Some(client_seen));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn peer_credentials(&self) -> Option<PeerCredentials> {
        self.credentials
    }

    /// Bytes each ring holds: the `capacity=` of the connecting side's URL (the client makes
    /// the connection's memory; a listener's `capacity=` has no effect), rounded up to a power
    /// of two of at least 4 KiB.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::shm::{ShmListener, ShmStream};
    /// # let url = format!("shm://doc-shm-capacity-{}", std::process::id());
    /// let mut listener = ShmListener::bind(&url).await?;
    /// let client = ShmStream::connect(format!("{url}?capacity=5000")).await?;
    /// let server = listener.accept().await?;
    /// assert_eq!(client.capacity(), 8192); // the connecting side's `capacity=`, rounded up
    /// assert_eq!(server.capacity(), 8192);
    /// let default = ShmStream::connect(&url).await?;
    /// assert_eq!(default.capacity(), 1 << 20);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn capacity(&self) -> usize {
        self.segment.capacity() as usize
    }

    /// Rings the peer's doorbell; a peer that cannot hear it any more is gone.
    fn ring_peer(&mut self) {
        if !sys::shm::ring_socket(self.socket.as_fd()) {
            self.peer_gone = true;
        }
    }

    /// Nothing to do on `half`: spin, yield or park. `Ready(Ok(()))` means "look again".
    fn wait(&mut self, cx: &mut Context<'_>, half: Half, spin: &mut Spin) -> Poll<io::Result<()>> {
        match self.mode {
            WaitMode::SpinThenPark(budget) if spin.keep_spinning(budget) => {
                std::hint::spin_loop();
                return Poll::Ready(Ok(()));
            }
            WaitMode::BusyPoll => {
                if spin.keep_spinning(BUSY_SLICE) {
                    std::hint::spin_loop();
                    return Poll::Ready(Ok(()));
                }
                if self.poll_socket(cx) {
                    return Poll::Ready(Ok(()));
                }
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            WaitMode::SpinThenPark(_) => {}
        }
        let sleep = match half {
            Half::Read => self.rx.park(),
            Half::Write => self.tx.park(),
        }
        .map_err(corrupt)?;
        if !sleep {
            return Poll::Ready(Ok(()));
        }
        if self.recheck.is_elapsed() {
            self.recheck
                .as_mut()
                .reset(tokio::time::Instant::now() + PARKED_RECHECK);
        }
        let until = self.recheck.deadline();
        match half {
            Half::Read => (self.read_parked, self.read_parked_until) = (true, until),
            Half::Write => (self.write_parked, self.write_parked_until) = (true, until),
        }
        self.wakers.register(half, cx.waker());
        let fan_waker = self.fan_waker.clone();
        let mut fan_cx = Context::from_waker(&fan_waker);
        if self.poll_socket(&mut fan_cx) {
            return Poll::Ready(Ok(()));
        }
        if self.recheck.as_mut().poll(&mut fan_cx).is_ready() {
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    }

    /// Whether the rendezvous socket says "look again": the peer rang (sent bytes), or is
    /// gone (end of stream or an error). Takes what the socket has; registers `cx` for its
    /// readability when it has nothing more.
    ///
    /// One `recv` per wake-up: tokio's `poll_read` takes a read that does not fill the
    /// buffer as proof that the socket is empty (the poller is edge-triggered, so a ring
    /// sent after it is a new event) and clears the readiness, so the next round is
    /// `Pending` without a system call.
    fn poll_socket(&mut self, cx: &mut Context<'_>) -> bool {
        let mut rang = false;
        loop {
            if self.peer_gone {
                return true;
            }
            let mut scratch = [0u8; 256];
            let mut rings = ReadBuf::new(&mut scratch);
            // Bounded by tokio's cooperative budget on the readiness it polls.
            match Pin::new(&mut self.socket).poll_read(cx, &mut rings) {
                Poll::Pending => return rang,
                Poll::Ready(Ok(())) if !rings.filled().is_empty() => rang = true,
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => rang = true,
                // The end of the stream, or an error.
                Poll::Ready(_) => self.peer_gone = true,
            }
        }
    }

    /// Whether the rendezvous socket already says the peer is gone, without registering for
    /// its readability: while the socket is quiet this is one load of tokio's readiness (no
    /// system call), so a write can ask, and a side that only writes learns that a killed
    /// peer is gone at its next write instead of once the ring is full. (Rings it takes
    /// here are not lost: a sleeping half was woken by the socket's readiness, and looks at
    /// the rings themselves.)
    fn peer_gone_now(&mut self) -> bool {
        // A peer that keeps ringing (or sending junk) is alive; a bounded number of reads
        // keeps a write from spinning on it.
        for _ in 0..16 {
            if self.peer_gone || !self.drain_socket() {
                break;
            }
        }
        self.peer_gone
    }

    /// Reads what the socket has without waiting (rings: what the bytes say does not
    /// matter), noting the end of stream or an error in `peer_gone`; `true` when bytes were
    /// read, so there may be more (or the end behind them).
    ///
    /// A read that does not fill the buffer emptied the socket, so tokio's readiness is
    /// cleared as after `WouldBlock` (as tokio's own `poll_read` does; the poller is
    /// edge-triggered, so a ring sent after the read is a new event): the next
    /// [`poll_socket`](Self::poll_socket) registers without another `recv`. While tokio
    /// has seen no readiness this makes no system call.
    fn drain_socket(&mut self) -> bool {
        let mut scratch = [0u8; 256];
        let mut read = None;
        let socket = &self.socket;
        let tried = socket.try_io(tokio::io::Interest::READABLE, || {
            let n = sys::shm::take_rings(socket.as_fd(), &mut scratch)?;
            read = Some(n);
            match n {
                n if n > 0 && n < scratch.len() => Err(io::ErrorKind::WouldBlock.into()),
                _ => Ok(()),
            }
        });
        match (read, tried) {
            (Some(0), _) => {
                self.peer_gone = true;
                false
            }
            // Look again: after a read that emptied the socket that costs no system call
            // (the readiness is cleared), unless tokio has seen the peer close its end.
            (Some(_), _) => true,
            (None, Err(e)) if e.kind() == io::ErrorKind::Interrupted => true,
            (None, Err(e)) if e.kind() == io::ErrorKind::WouldBlock => false,
            (None, _) => {
                self.peer_gone = true;
                false
            }
        }
    }

    /// Whether the recheck that a half parked under (`until`) is due, and not long past:
    /// polled now, that half was woken by it (or by something else just as late), not by the
    /// peer's doorbell, which comes with work, or by its own task's other business (a
    /// request just sent, whose reply a spin would catch sooner than a doorbell). A park
    /// more than a recheck period old is stale (its poll was cancelled: a `recv_timeout`, a
    /// `select!` that took another branch), and a poll after it is new business too.
    fn rechecked_since(&self, until: tokio::time::Instant) -> bool {
        let now = tokio::time::Instant::now();
        now >= until && now < until + PARKED_RECHECK
    }

    fn unpark(&mut self, half: Half) {
        match half {
            Half::Read if self.read_parked => {
                self.read_parked = false;
                self.rx.unpark();
            }
            Half::Write if self.write_parked => {
                self.write_parked = false;
                self.tx.unpark();
            }
            _ => {}
        }
    }
}

/// Spin bookkeeping for one poll: looks at the clock only every 64 rounds.
#[derive(Debug, Default)]
struct Spin {
    /// This poll follows a park of its half that the parked recheck ended
    /// ([`ShmStream::rechecked_since`]): finding nothing to do, it parks again at once
    /// rather than spin. (It spun for [`DEFAULT_SPIN`] after every recheck: an idle
    /// connection burned a spin budget ten times a second per parked half.)
    woke_by_recheck: bool,
    started: Option<Instant>,
    rounds: u32,
}

#[cfg(test)]
thread_local! {
    /// Spin rounds taken on this thread, for the tests of when a side spins.
    pub(super) static SPIN_ROUNDS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Spin {
    /// Bookkeeping for a poll of a half that the parked recheck woke (or not).
    fn new(rechecked: bool) -> Spin {
        Spin {
            woke_by_recheck: rechecked,
            ..Spin::default()
        }
    }

    /// Whether to go on spinning, within `budget`; never in a poll the parked recheck woke
    /// (`woke_by_recheck`).
    fn keep_spinning(&mut self, budget: Duration) -> bool {
        if budget.is_zero() || self.woke_by_recheck {
            return false;
        }
        #[cfg(test)]
        SPIN_ROUNDS.with(|rounds| rounds.set(rounds.get() + 1));
        self.rounds += 1;
        if self.rounds % 64 != 1 {
            return true;
        }
        let started = *self.started.get_or_insert_with(Instant::now);
        let spun = started.elapsed();
        if spun >= budget {
            return false;
        }
        if spun >= YIELD_AFTER {
            // Let another process run if one waits for this CPU: the peer we spin for may be
            // that process (more runnable processes than CPUs), and spinning on would only
            // keep it off the CPU until we park. A peer on another CPU usually answers well
            // before this, so short waits never pay the system call.
            std::thread::yield_now();
            return started.elapsed() < budget;
        }
        true
    }
}

fn corrupt(e: Corrupt) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn broken_pipe() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "shm: the peer closed or went away",
    )
}

impl AsyncRead for ShmStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // One operation of the task's budget, as a tokio socket's read.
        budgeted(cx, |cx| this.poll_read_ring(cx, buf))
    }
}

impl ShmStream {
    /// [`AsyncRead::poll_read`] without the budget, into a buffer with room.
    fn poll_read_ring(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut spin = Spin::new(self.read_parked && self.rechecked_since(self.read_parked_until));
        self.unpark(Half::Read);
        loop {
            // SAFETY: the ring only writes initialised bytes into the unfilled part, and we
            // mark exactly the bytes it wrote as initialised below.
            let unfilled = unsafe { buf.unfilled_mut() };
            let len = unfilled.len();
            // SAFETY: `unfilled` is valid for writes of `len` bytes.
            let outcome = unsafe { self.rx.read(unfilled.as_mut_ptr().cast(), len) };
            match outcome.map_err(corrupt)? {
                ReadOutcome::Data(n) => {
                    // SAFETY: the ring copied `n` bytes into the start of the unfilled part.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    if self.rx.take_writer_parked() {
                        self.ring_peer();
                    }
                    return Poll::Ready(Ok(()));
                }
                ReadOutcome::Closed => return Poll::Ready(Ok(())),
                ReadOutcome::Empty if self.peer_gone => return Poll::Ready(Ok(())),
                ReadOutcome::Empty => {}
            }
            std::task::ready!(self.wait(cx, Half::Read, &mut spin))?;
            self.unpark(Half::Read);
        }
    }

    /// [`AsyncWrite::poll_write_vectored`] without the budget.
    fn poll_write_ring(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut spin =
            Spin::new(self.write_parked && self.rechecked_since(self.write_parked_until));
        self.unpark(Half::Write);
        if self.write_shut {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "shm: writing after this side shut its sending half down",
            )));
        }
        // Asked once per write: once it waits for room, `wait` watches the socket.
        if self.peer_gone_now() {
            return Poll::Ready(Err(broken_pipe()));
        }
        loop {
            if self.peer_gone {
                return Poll::Ready(Err(broken_pipe()));
            }
            match self.tx.write_vectored(bufs, WRITE_CHUNK).map_err(corrupt)? {
                WriteOutcome::Wrote(n) => {
                    if self.tx.take_reader_parked() {
                        self.ring_peer();
                    }
                    return Poll::Ready(Ok(n));
                }
                WriteOutcome::Closed => return Poll::Ready(Err(broken_pipe())),
                // Frames staged before this write may be what fills the ring: hand them
                // over before waiting for room, or the peer waits for them while we wait
                // for it.
                WriteOutcome::Full if self.tx.has_staged() => {
                    self.publish_staged()?;
                    continue;
                }
                WriteOutcome::Full => {}
            }
            std::task::ready!(self.wait(cx, Half::Write, &mut spin))?;
            self.unpark(Half::Write);
        }
    }
}

impl ShmStream {
    /// Copies a frame's `head` and `body` into the ring after everything written so far,
    /// without publishing it yet, if it fits: one copy of a small message where a write
    /// buffer costs two (into the buffer, then into the ring). `poll_flush` publishes what
    /// was staged (so does the next write).
    ///
    /// `false`, with nothing copied, when the frame does not fit in the room the ring has,
    /// the peer is gone, or the ring's memory looks corrupt: the caller writes the frame
    /// the usual way, which waits for room or reports the error.
    #[inline]
    pub(crate) fn stage<const N: usize>(&mut self, head: [u8; N], body: &[u8]) -> bool {
        !self.peer_gone && !self.write_shut && matches!(self.tx.stage(head, body), Ok(true))
    }

    /// Publishes what [`stage`](Self::stage) copied in, and wakes the peer if it sleeps:
    /// `BrokenPipe` if the peer has closed its reading end or gone (what a write reports),
    /// `InvalidData` for a corrupt read index.
    fn publish_staged(&mut self) -> io::Result<()> {
        let open = self.tx.publish_staged().map_err(corrupt)?;
        if self.tx.take_reader_parked() {
            self.ring_peer();
        }
        if !open || self.peer_gone_now() {
            return Err(broken_pipe());
        }
        Ok(())
    }
}

impl AsyncWrite for ShmStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // One operation of the task's budget, as a tokio socket's write.
        budgeted(cx, |cx| this.poll_write_ring(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Every write is published at once; frames staged in the ring are published here,
        // as one operation of the task's budget (a write's), so that a loop of sends that
        // always find room still lets other tasks run.
        let this = self.get_mut();
        if !this.tx.has_staged() {
            return Poll::Ready(Ok(()));
        }
        budgeted(cx, |_| Poll::Ready(this.publish_staged()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.write_shut = true;
        this.tx.close();
        if this.tx.take_reader_parked() {
            this.ring_peer();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for ShmStream {
    fn drop(&mut self) {
        // Tell the peer at once (its reads end, its writes fail); the socket, closed with
        // the stream, wakes it if it sleeps on either ring.
        self.rx.close();
        self.tx.close();
    }
}

impl fmt::Debug for ShmStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShmStream")
            .field("capacity", &self.capacity())
            .field("mode", &self.mode)
            .field("peer_gone", &self.peer_gone)
            .finish_non_exhaustive()
    }
}
