//! [`QueueChannel`]: a queue as a message backend, for `mq://` connections.
//!
//! State table of each direction (receive shown; sending the gathered messages is the same
//! with "room"):
//!
//! | state | poll does |
//! |---|---|
//! | idle | try to receive; on empty spin ~50 µs; still empty → start a park, go to parked |
//! | parked | poll the park; when it ends go to idle and try again |
//!
//! A spin that ends "ready" while the attempt after it still fails counts against a small
//! budget ([`Backoff`]): once it is spent the poll parks anyway, so it always returns.
//!
//! The sink gathers what it is fed, up to [`SINK_BATCH`] messages or [`SINK_BYTES`], and puts
//! it in the queue with one `try_send_many` (one lock hold per 64 KiB) when flushed or full:
//! `send` (feed + flush) still sends at once, `send_all` and `feed`… `flush` send in batches.
//! The stream takes one message per poll, never reading ahead: a connection holding messages
//! it has not yielded would return lower priorities after higher ones that arrive later, and
//! lose them if dropped or killed.

use super::message_queue::MessageQueue;
use super::waiting::{Backoff, Waiting};
use super::{QueueError, QueueOptions};
use crate::codec::FrameError;
use crate::io::coop::budgeted;
use crate::transport::{AnyChannel, Connection, RecvMessage, SendMessage};
use crate::Endpoint;
use bytes::Bytes;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::task::JoinHandle;

/// Messages the sink gathers before it puts them in the queue without waiting for a flush.
const SINK_BATCH: usize = 64;
/// Bytes of bodies the sink gathers before it puts them in the queue.
const SINK_BYTES: usize = 64 * 1024;

/// One handle on a queue: the stream receives from it, the sink sends into it at one
/// priority. A queue has no peer: receiving never ends by itself, and closing flushes.
#[derive(Debug)]
pub(crate) struct QueueChannel {
    queue: MessageQueue,
    priority: u8,
    /// The endpoint's `max_frame`, enforced on top of the queue's own `max_message_len`.
    max_frame: usize,
    recv_park: Option<JoinHandle<Result<(), QueueError>>>,
    send_park: Option<JoinHandle<Result<(), QueueError>>>,
    /// Fed, checked, not yet in the queue (oldest first).
    gathered: Vec<Bytes>,
    gathered_bytes: usize,
    /// Messages put in the queue so far (progress for `send_timeout`).
    passed_on: u64,
}

impl QueueChannel {
    pub(crate) fn new(queue: MessageQueue, priority: u8, max_frame: usize) -> QueueChannel {
        QueueChannel {
            queue,
            priority,
            max_frame,
            recv_park: None,
            send_park: None,
            gathered: Vec::new(),
            gathered_bytes: 0,
            passed_on: 0,
        }
    }

    /// Adds `msg` to the messages gathered for the next flush.
    fn gather(&mut self, msg: &Bytes) {
        self.gathered_bytes += msg.len();
        self.gathered.push(msg.clone());
    }

    /// Puts every gathered message in the queue, waiting for room as needed: one operation
    /// of the task's budget.
    fn poll_send_gathered(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.gathered.is_empty() {
            return Poll::Ready(Ok(()));
        }
        budgeted(cx, |cx| self.poll_put_gathered(cx))
    }

    /// [`poll_send_gathered`](Self::poll_send_gathered) without the budget.
    fn poll_put_gathered(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Parks (so this poll returns) however often attempts fail after a ready-looking spin.
        let mut backoff = Backoff::new(Waiting::NotFull);
        while !self.gathered.is_empty() {
            ready!(poll_park(&mut self.send_park, cx))?;
            // Every gathered message was checked when it was fed.
            match self
                .queue
                .try_send_many_checked(&self.gathered, self.priority)
            {
                Ok(Some(sent)) => {
                    self.gathered_bytes -=
                        self.gathered[..sent].iter().map(Bytes::len).sum::<usize>();
                    self.gathered.drain(..sent);
                    self.passed_on += sent as u64;
                    // Progress: the spins before it were not futile.
                    backoff.progressed();
                    continue;
                }
                Ok(None) => {}
                // The queue lock stayed with a stopped or hung process: nothing was done, and
                // what was gathered stays for the next flush, as with `send_timeout`.
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Poll::Ready(Err(e)),
                Err(e) => {
                    // Like a failed write: what was gathered is not sent.
                    self.gathered.clear();
                    self.gathered_bytes = 0;
                    return Poll::Ready(Err(e));
                }
            }
            if backoff.spin(self.queue.attachment()) {
                continue;
            }
            self.send_park = Some(backoff.park(self.queue.attachment(), None));
        }
        Poll::Ready(Ok(()))
    }

    /// [`RecvMessage::poll_recv`] without the budget.
    fn poll_take(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        // Parks (so this poll returns) however often attempts fail after a ready-looking spin.
        let mut backoff = Backoff::new(Waiting::NotEmpty);
        loop {
            ready!(poll_park(&mut self.recv_park, cx))?;
            // A message over `max_frame` is refused (`InvalidData`) and left in the queue for
            // a receiver that takes it: a send's `Ok` means it stays until one receive
            // returns it.
            if let Some((msg, _priority)) = self.queue.try_recv_checked(self.max_frame)? {
                return Poll::Ready(Ok(Some(msg)));
            }
            if backoff.spin(self.queue.attachment()) {
                continue;
            }
            self.recv_park = Some(backoff.park(self.queue.attachment(), None));
        }
    }
}

/// Opens (or with `create=true` creates) the queue an `mq://` endpoint names. A `capacity`
/// (a count of messages, which the URL parser takes as digits only) or `max_message_len` (a
/// size) given in the URL must be the queue's, whether it is created or found (a mismatch is
/// `AlreadyExists`), so that a URL never silently names another queue than it describes.
pub(crate) fn open(endpoint: &Endpoint) -> io::Result<MessageQueue> {
    let name = endpoint.name().unwrap_or_default();
    let defaults = QueueOptions::default();
    // The value of `key` if the URL gives one (and so the queue must have it), else `default`.
    let given = |key: &str, default: u32| -> io::Result<(u32, bool)> {
        match endpoint.size_option(key) {
            None => Ok((default, false)),
            Some(n) => u32::try_from(n).map(|n| (n, true)).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{key}={n} is too large"),
                )
            }),
        }
    };
    let (capacity, check_capacity) = given("capacity", defaults.capacity)?;
    let (max_message_len, check_max_len) = given("max_message_len", defaults.max_message_len)?;
    let options = QueueOptions {
        capacity,
        max_message_len,
        mode: endpoint.mode_option(),
    };
    if !endpoint.bool_option("create").unwrap_or(false) {
        return MessageQueue::open_checking(name, &options, check_capacity, check_max_len);
    }
    MessageQueue::open_or_create_checking(name, &options, check_capacity, check_max_len)
}

/// `connect("mq://name")`: a connection on the queue.
pub(crate) async fn connect(endpoint: &Endpoint) -> io::Result<Connection> {
    let queue = open(endpoint)?;
    Ok(connection(queue, endpoint))
}

pub(crate) fn connection(queue: MessageQueue, endpoint: &Endpoint) -> Connection {
    let priority = endpoint
        .size_option("priority")
        .and_then(|p| u8::try_from(p).ok())
        .unwrap_or(0);
    let peer = format!("mq queue {}", queue.name());
    let channel = QueueChannel::new(queue, priority, endpoint.max_frame());
    Connection::from_channel(AnyChannel::Mq(channel), endpoint, peer)
}

/// Polls a park to its end; `Ok` once there is none (left), the park's error (a file found
/// shrunk) if it had one.
fn poll_park(
    park: &mut Option<JoinHandle<Result<(), QueueError>>>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    if let Some(handle) = park {
        let ended = ready!(Pin::new(handle).poll(cx));
        *park = None;
        ended.map_err(|e| io::Error::other(format!("queue wait failed: {e}")))??;
    }
    Poll::Ready(Ok(()))
}

impl RecvMessage for QueueChannel {
    fn poll_recv(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        // Each message one operation of the task's budget, as a tokio channel's receive.
        let this = self.get_mut();
        budgeted(cx, |cx| this.poll_take(cx))
    }
}

impl SendMessage for QueueChannel {
    fn poll_send(self: Pin<&mut Self>, cx: &mut Context<'_>, msg: &Bytes) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if msg.len() > this.max_frame {
            return Poll::Ready(Err(FrameError::SendTooLarge {
                len: msg.len(),
                max: this.max_frame,
            }
            .into()));
        }
        // Refused now, not at the flush: the error belongs to this message.
        this.queue.check_send(msg, this.priority)?;
        if this.gathered.len() >= SINK_BATCH || this.gathered_bytes >= SINK_BYTES {
            match ready!(this.poll_send_gathered(cx)) {
                Ok(()) => {}
                // A stuck queue lock: what was gathered stays, and so does this message,
                // all to go out with a later flush (as after `send_timeout`).
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    this.gather(msg);
                    return Poll::Ready(Err(e));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        this.gather(msg);
        Poll::Ready(Ok(()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_send_gathered(cx)
    }

    fn passed_on(&self) -> u64 {
        self.passed_on
    }
}
