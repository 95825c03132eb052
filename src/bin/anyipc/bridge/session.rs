//! One bridge session: the two directions between a pair of connections (see the module
//! docs of `bridge`), what each carries ([`Carry`]), when the session ends, and how
//! ([`Ended`]).

use super::{
    connects_once, fails_again, never_ends, one_reader, taken_again, Counter, Counts, Role, Shared,
    LINGER,
};
use crate::endpoint_arg::no_way_back;
use anyipc::{Connection, Endpoint, Scheme};
use futures::future::FusedFuture;
use futures::{FutureExt, SinkExt, StreamExt, TryStreamExt};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Poll};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// How a session ended.
#[derive(Debug)]
pub(super) enum Ended {
    /// Both directions done, or a side went: printed only with `-v`.
    Clean,
    /// Forwarding failed (a read, a send, a close), which is printed: a next session may
    /// fare better.
    Failed,
    /// Reading the bound side failed with an error that every read of it would give again
    /// ([`fails_again`]: a damaged log): not printed here, as the bridge ends with it.
    Unreadable(io::Error),
}

/// What failed in one direction of a session.
#[derive(Debug)]
enum Failure {
    /// Reading the side it forwards from.
    Read(io::Error),
    /// Sending into, or closing, the side it forwards to.
    Write(io::Error),
}

impl Failure {
    /// How the session ends when the direction `way` (`A->B`, `B->A`) from `from` (its role
    /// and endpoint) failed so.
    fn ends(self, way: &str, from: (Role, &Endpoint)) -> Fault {
        match self {
            Failure::Read(err) if from.0 == Role::Listen && fails_again(from.1, &err) => {
                Fault::Unreadable(err)
            }
            failure => Fault::Failed(format!("{way}: {failure}")),
        }
    }
}

impl fmt::Display for Failure {
    /// The error alone, as the direction that failed says it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (Failure::Read(err) | Failure::Write(err)) = self;
        err.fmt(f)
    }
}

/// Why a session ended before its clean end.
#[derive(Debug)]
enum Fault {
    /// A failure, said in one line naming the direction.
    Failed(String),
    /// The bound side cannot be read any further ([`Ended::Unreadable`]).
    Unreadable(io::Error),
}

/// Forwards between `a` and `b`, bound or connected to as `roles` says, until the session
/// ends (see the module docs), and says how it ended: a failure is printed, except one that
/// leaves the bound side [unreadable](Ended::Unreadable); a clean end only with `-v`.
pub(super) async fn run(
    n: u64,
    [a, b]: [Connection; 2],
    roles: [Role; 2],
    end_on_first_close: bool,
    counts: Counts,
    shared: &Shared,
) -> Ended {
    if shared.verbose {
        stderr_line!(
            "bridge session {n} opened: {} <-> {}",
            a.peer_addr(),
            b.peer_addr()
        );
    }
    // Which bad messages each side's stream moves past depends on its endpoint.
    let (a_endpoint, b_endpoint) = (a.endpoint().clone(), b.endpoint().clone());
    let carry_a = Carry::between((roles[0], &a_endpoint), (roles[1], &b_endpoint));
    let carry_b = Carry::between((roles[1], &b_endpoint), (roles[0], &a_endpoint));
    // A connected one-way side is only written to: its direction is done at once, which ends
    // nothing. The session is then the other direction, to its end or failure (a bound FIFO
    // made again, or a queue's message dropped in a wait for room, after every quiet spell,
    // would lose messages); only a udp client's, which never ends, still ends after a quiet
    // spell.
    let one_way = [carry_a, carry_b].contains(&Carry::Nothing);
    let lingers = |carry: Carry, endpoint: &Endpoint| {
        carry != Carry::Nothing
            && never_ends(endpoint)
            && (!one_way || endpoint.scheme() == Scheme::Udp)
    };
    let linger = lingers(carry_a, &a_endpoint) || lingers(carry_b, &b_endpoint);
    // A side whose messages are dropped has gone when its stream ends: with a bound side
    // that is taken again for the next session (a queue, a FIFO, a followed log with a named
    // consumer), that end ends the session at once, and nothing more is taken from the bound
    // side meanwhile (a log's consumer is closed while the session ends, which commits its
    // cursor: a record taken then would be committed, and lost, though it came after B went).
    let ends_when_dropped = linger
        || (carry_a == Carry::Drop && taken_again(&b_endpoint))
        || (carry_b == Carry::Drop && taken_again(&a_endpoint));
    let signals = ends_when_dropped && [carry_a, carry_b].contains(&Carry::Drop);
    let (gone_tx, gone_rx) = futures::channel::oneshot::channel();
    let (mut gone_tx, mut gone_rx) = (Some(gone_tx), Some(gone_rx));
    let mut signal = |carry: Carry| match carry {
        Carry::Drop if signals => Signal::Went(gone_tx.take()),
        Carry::Forward if signals => Signal::Stop(gone_rx.take()),
        _ => Signal::None,
    };
    let (signal_a, signal_b) = (signal(carry_a), signal(carry_b));
    // A stop signal ends the direction that reads a bound queue, FIFO or log: it takes
    // nothing more, and hands the other side what it took, which is gone from there. Then
    // the one whose messages are dropped stops too, and closes the bound side (a log's
    // consumer commits its cursor).
    let drains = |carry: Carry, role: Role, endpoint: &Endpoint| {
        carry == Carry::Forward && role == Role::Listen && one_reader(endpoint)
    };
    let (drains_a, drains_b) = (
        drains(carry_a, roles[0], &a_endpoint),
        drains(carry_b, roles[1], &b_endpoint),
    );
    let drained = CancellationToken::new();
    let stop = |carry: Carry, drains: bool| match carry {
        _ if drains => Some(shared.stopping.clone()),
        Carry::Drop => Some(drained.clone()),
        _ => None,
    };
    let (stop_a, stop_b) = (stop(carry_a, drains_a), stop(carry_b, drains_b));
    let (a_sink, a_stream) = a.split();
    let (b_sink, b_stream) = b.split();
    let a_to_b = async {
        let forwarding = direction(
            n,
            (carry_a, signal_a),
            end_on_first_close,
            (stopped_by(a_stream, stop_a), &a_endpoint),
            (b_sink, &b_endpoint),
            [&counts.a_to_b, &shared.totals.a_to_b],
        );
        forwarding
            .await
            .map_err(|f| f.ends("A->B", (roles[0], &a_endpoint)))
    };
    let b_to_a = async {
        let forwarding = direction(
            n,
            (carry_b, signal_b),
            end_on_first_close,
            (stopped_by(b_stream, stop_b), &b_endpoint),
            (a_sink, &a_endpoint),
            [&counts.b_to_a, &shared.totals.b_to_a],
        );
        forwarding
            .await
            .map_err(|f| f.ends("B->A", (roles[1], &b_endpoint)))
    };
    let (a_to_b, b_to_a) = (a_to_b.fuse(), b_to_a.fuse());
    tokio::pin!(a_to_b, b_to_a);
    let running = async {
        if end_on_first_close {
            // The end of a `stdio://` side's input ([`connects_once`]) is a half-close, not a
            // close (as with `nc -N`): it travels to the other side, whose replies are still
            // forwarded until it closes. Any other end, or that side's close, ends the session.
            tokio::select! {
                r = &mut a_to_b => match r {
                    Ok(()) if connects_once(&a_endpoint) => (&mut b_to_a).await,
                    r => r,
                },
                r = &mut b_to_a => match r {
                    Ok(()) if connects_once(&b_endpoint) => (&mut a_to_b).await,
                    r => r,
                },
            }
        } else if ends_when_dropped {
            // A side whose messages are dropped (the other is a bound queue, FIFO or resumable
            // log) has gone when its stream ends: the session ends at once, and what is queued
            // (or logged) meanwhile waits for the next one rather than being sent to a peer that
            // is gone. The other direction, stopped by then, may still be sending what it took.
            tokio::select! {
                r = &mut a_to_b => match r {
                    Ok(()) if carry_a == Carry::Drop => Ok(()),
                    Ok(()) if linger => until_idle(&mut b_to_a, &counts.b_to_a).await,
                    Ok(()) => (&mut b_to_a).await,
                    Err(e) => Err(e),
                },
                r = &mut b_to_a => match r {
                    Ok(()) if carry_b == Carry::Drop => Ok(()),
                    Ok(()) if linger => until_idle(&mut a_to_b, &counts.a_to_b).await,
                    Ok(()) => (&mut a_to_b).await,
                    Err(e) => Err(e),
                },
            }
        } else {
            tokio::try_join!(&mut a_to_b, &mut b_to_a).map(|_| ())
        }
    };
    let draining = drains_a || drains_b;
    let outcome = tokio::select! {
        outcome = running => Some(outcome),
        () = shared.stopping.cancelled(), if draining => None,
    };
    let outcome = match outcome {
        Some(outcome) => outcome,
        None => {
            let mut outcome = Ok(());
            if drains_a && !a_to_b.is_terminated() {
                outcome = outcome.and((&mut a_to_b).await);
            }
            if drains_b && !b_to_a.is_terminated() {
                outcome = outcome.and((&mut b_to_a).await);
            }
            drained.cancel();
            if carry_a == Carry::Drop && !a_to_b.is_terminated() {
                outcome = outcome.and(a_to_b.await);
            }
            if carry_b == Carry::Drop && !b_to_a.is_terminated() {
                outcome = outcome.and(b_to_a.await);
            }
            outcome
        }
    };
    let ended = match outcome {
        Ok(()) => Ended::Clean,
        Err(Fault::Unreadable(err)) => Ended::Unreadable(err),
        Err(Fault::Failed(why)) => {
            stderr_line!("anyipc: bridge session {n} closed ({why}): {counts}");
            return Ended::Failed;
        }
    };
    if shared.verbose {
        stderr_line!("bridge session {n} closed: {counts}");
    }
    ended
}

/// `stream`, ending (yielding nothing more) once `stop`, if any, is cancelled.
fn stopped_by<S>(stream: S, stop: Option<CancellationToken>) -> StopTaking<S> {
    StopTaking {
        stream,
        stop: stop.map(|token| (token.clone(), Box::pin(token.cancelled_owned()))),
    }
}

/// A stream that takes nothing more once its token is cancelled ([`stopped_by`]). Each
/// message costs one atomic load of the token; its wake-up is registered only while the
/// stream waits (`take_until` polled a boxed future, which for a token takes a lock, before
/// every message).
struct StopTaking<S> {
    stream: S,
    stop: Option<(CancellationToken, Pin<Box<WaitForCancellationFutureOwned>>)>,
}

impl<S: futures::Stream + Unpin> futures::Stream for StopTaking<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        let Some((token, cancelled)) = &mut this.stop else {
            return this.stream.poll_next_unpin(cx);
        };
        if token.is_cancelled() {
            return Poll::Ready(None);
        }
        match this.stream.poll_next_unpin(cx) {
            Poll::Pending if cancelled.as_mut().poll(cx).is_ready() => Poll::Ready(None),
            polled => polled,
        }
    }
}

/// What a session does with the messages one side sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carry {
    /// Forwards them to the other side.
    Forward,
    /// Reads and drops them: the other side is a bound `fifo://`, `file://` or `mq://`, which
    /// nothing sent back reaches (into a queue it would be taken as one more message, and
    /// forwarded again).
    Drop,
    /// Never reads the side: a connected `fifo://`, `file://` or `mq://` is only written to
    /// (reading a queue would take back what the bridge put in it).
    Nothing,
}

impl Carry {
    /// What to do with what `from` sends to `to`, each a role and an endpoint.
    fn between(from: (Role, &Endpoint), to: (Role, &Endpoint)) -> Carry {
        if from.0 == Role::Connect && from.1.scheme().is_one_way() {
            Carry::Nothing
        } else if to.0 == Role::Listen && to.1.scheme().is_one_way() {
            Carry::Drop
        } else {
            Carry::Forward
        }
    }
}

/// How the two directions of a session that ends with the side whose messages are dropped
/// tell each other that side went.
#[derive(Debug)]
enum Signal {
    /// Neither: the directions run on their own.
    None,
    /// The direction that drops fires this when its stream ends (or fails), before it closes
    /// its sink (the bound side).
    Went(Option<futures::channel::oneshot::Sender<()>>),
    /// The direction from the bound side takes nothing more once this fires, and leaves its
    /// sink (the side that went) unclosed.
    Stop(Option<futures::channel::oneshot::Receiver<()>>),
}

/// One direction of a session, from a stream to a sink, each with its endpoint, as `carry`
/// says; the sink is closed when the stream ends, also when what it yields is dropped (and
/// when that stream fails), but not when [`Signal::Stop`] stopped it. A direction that
/// carries nothing is done at once, or never with `hold` (between two servers, where the
/// first direction done ends the session).
async fn direction<S, K>(
    n: u64,
    (carry, signal): (Carry, Signal),
    hold: bool,
    (from, from_endpoint): (S, &Endpoint),
    (mut to, to_endpoint): (K, &Endpoint),
    counters: [&Counter; 2],
) -> Result<(), Failure>
where
    S: futures::Stream<Item = io::Result<bytes::Bytes>> + Unpin,
    K: futures::Sink<bytes::Bytes, Error = io::Error> + Unpin,
{
    match (carry, signal) {
        (Carry::Forward, Signal::Stop(Some(gone))) => {
            let mut from = from.take_until(gone);
            pump(n, &mut from, from_endpoint, &mut to, counters).await?;
            if from.is_stopped() {
                // `to` went: closing it would only fail.
                Ok(())
            } else {
                to.close().await.map_err(Failure::Write)
            }
        }
        (Carry::Forward, _) => forward(n, from, from_endpoint, to, counters).await,
        (Carry::Drop, signal) => {
            let dropped = Counter::default();
            let sink = dropping(n, from_endpoint, to_endpoint);
            let read = forward(n, from, from_endpoint, sink, [&dropped, &dropped]).await;
            if let Signal::Went(Some(went)) = signal {
                // Nothing more is taken from `to` before it is closed.
                let _ = went.send(());
            }
            // Still closed when `from` ends, or fails: a log consumer commits its cursor.
            let closed = to.close().await.map_err(Failure::Write);
            read.and(closed)
        }
        (Carry::Nothing, _) if hold => std::future::pending().await,
        (Carry::Nothing, _) => Ok(()),
    }
}

/// A sink that drops what `from` sends to `to`, a bound side that nothing sent back
/// reaches, and reports the first such message of session `n`.
fn dropping(
    n: u64,
    from: &Endpoint,
    to: &Endpoint,
) -> impl futures::Sink<bytes::Bytes, Error = io::Error> + Unpin {
    let report = format!(
        "anyipc: bridge session {n}: dropping what {from} sends: {}",
        no_way_back(to).unwrap_or_default()
    );
    let mut reported = false;
    futures::sink::drain::<bytes::Bytes>()
        .sink_map_err(|never| -> io::Error { match never {} })
        .with(move |msg: bytes::Bytes| {
            if !std::mem::replace(&mut reported, true) {
                stderr_line!("{report}");
            }
            std::future::ready(Ok::<_, io::Error>(msg))
        })
}

/// Runs the direction left, `forwarding`, until it ends or has moved nothing (as `counter`
/// shows) for [`LINGER`].
async fn until_idle<F, E>(mut forwarding: F, counter: &Counter) -> Result<(), E>
where
    F: std::future::Future<Output = Result<(), E>> + Unpin,
{
    loop {
        let before = counter.messages();
        match tokio::time::timeout(LINGER, &mut forwarding).await {
            Ok(done) => return done,
            Err(_) if counter.messages() != before => continue,
            Err(_) => return Ok(()),
        }
    }
}

/// Sends everything `from` yields into `to`, then closes `to`; counts each message in the
/// session's and the total counters. A bad message that a stream of `endpoint` moves past
/// ([`Endpoint::drops_bad_message`]) is reported and skipped.
async fn forward<S, K>(
    n: u64,
    from: S,
    endpoint: &Endpoint,
    mut to: K,
    counters: [&Counter; 2],
) -> Result<(), Failure>
where
    S: futures::Stream<Item = io::Result<bytes::Bytes>> + Unpin,
    K: futures::Sink<bytes::Bytes, Error = io::Error> + Unpin,
{
    pump(n, from, endpoint, &mut to, counters).await?;
    to.close().await.map_err(Failure::Write)
}

/// Sends everything `from` yields into `to`, counting each message once a flush of `to`
/// says it is out ([`send_counted`]), without closing `to`; see [`forward`]. A failure says
/// whether reading `from` or sending into `to` failed; when reading fails, what was taken
/// before it is flushed out (and counted) first.
async fn pump<S, K>(
    n: u64,
    from: S,
    endpoint: &Endpoint,
    to: &mut K,
    counters: [&Counter; 2],
) -> Result<(), Failure>
where
    S: futures::Stream<Item = io::Result<bytes::Bytes>> + Unpin,
    K: futures::Sink<bytes::Bytes, Error = io::Error> + Unpin,
{
    let mut from = from
        .filter(|item| {
            let bad = matches!(item, Err(e) if endpoint.drops_bad_message(e));
            if let (true, Err(err)) = (bad, item) {
                stderr_line!("anyipc: bridge session {n}: skipped a bad message: {err}");
            }
            std::future::ready(!bad)
        })
        .map_err(Failure::Read);
    let mut unflushed = Unflushed::default();
    match send_counted(&mut from, to, &mut unflushed, counters).await {
        // A read's error comes at once: what was handed to `to` before may still be
        // buffered there, and would be lost with the session.
        Err(Failure::Read(err)) => {
            to.flush().await.map_err(Failure::Write)?;
            unflushed.flushed(counters);
            Err(Failure::Read(err))
        }
        sent => sent,
    }
}

/// Messages handed to a sink since it last flushed. They are counted as forwarded only once
/// a flush succeeds: a message that the flush failed for (the other side closed or died) is
/// never counted. One that a sink wrote out on its own before such a failure (while taking
/// more, with its buffer full) is not counted either: the counts are never too high.
#[derive(Debug, Default)]
struct Unflushed {
    messages: u64,
    bytes: u64,
}

impl Unflushed {
    /// One more message of `len` bytes handed to the sink.
    fn push(&mut self, len: usize) {
        self.messages += 1;
        self.bytes += len as u64;
    }

    /// The sink flushed: counts what it held in each of `counters`, and starts again.
    fn flushed(&mut self, counters: [&Counter; 2]) {
        let Unflushed { messages, bytes } = std::mem::take(self);
        counters.iter().for_each(|c| c.add_many(messages, bytes));
    }
}

/// Sends what `from` yields into `to` as [`SinkExt::send_all`] does, flushing `to` whenever
/// `from` has nothing ready and at its end, but counts the messages in `counters` only when
/// such a flush succeeds (see [`Unflushed`]). A read's error is returned at once, with what
/// was handed to `to` before it left in `unflushed`.
async fn send_counted<S, K>(
    from: &mut S,
    to: &mut K,
    unflushed: &mut Unflushed,
    counters: [&Counter; 2],
) -> Result<(), Failure>
where
    S: futures::Stream<Item = Result<bytes::Bytes, Failure>> + Unpin,
    K: futures::Sink<bytes::Bytes, Error = io::Error> + Unpin,
{
    let mut next: Option<bytes::Bytes> = None;
    // `from` has ended (it is not polled again while the last flush waits).
    let mut ended = false;
    std::future::poll_fn(|cx| loop {
        if let Some(msg) = next.take() {
            match to.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {
                    unflushed.push(msg.len());
                    to.start_send_unpin(msg).map_err(Failure::Write)?;
                }
                Poll::Ready(Err(err)) => return Poll::Ready(Err(Failure::Write(err))),
                Poll::Pending => {
                    next = Some(msg);
                    return Poll::Pending;
                }
            }
        }
        if !ended {
            match from.poll_next_unpin(cx) {
                Poll::Ready(Some(read)) => {
                    next = Some(read?);
                    continue;
                }
                Poll::Ready(None) => ended = true,
                Poll::Pending => {}
            }
        }
        // Nothing ready, or the end: what was handed over goes out, and is counted.
        ready!(to.poll_flush_unpin(cx)).map_err(Failure::Write)?;
        unflushed.flushed(counters);
        return if ended {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        };
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What every session of these tests shares (they all bind a FIFO: Unix only).
    #[cfg(unix)]
    fn shared() -> Shared {
        use std::sync::atomic::AtomicU64;
        use std::time::Duration;
        Shared {
            verbose: false,
            retry: Duration::from_secs(1),
            totals: Counts::default(),
            sessions: AtomicU64::new(0),
            stopping: CancellationToken::new(),
        }
    }

    /// A read that fails after messages were handed to a sink that buffers them still gets
    /// them out: `send_all` returns the read's error without flushing, and what a tcp
    /// sink held then (the record before a damaged one) was lost with the session.
    #[tokio::test]
    async fn what_was_taken_before_a_failed_read_is_flushed() {
        let damaged = io::Error::new(io::ErrorKind::InvalidData, "damaged");
        let from = futures::stream::iter([Ok(bytes::Bytes::from_static(b"zero")), Err(damaged)]);
        let (tx, mut delivered) = futures::channel::mpsc::unbounded();
        let mut to = tx.sink_map_err(io::Error::other).buffer(8);
        let log = Endpoint::parse("file:///tmp/log").unwrap();
        let counter = Counter::default();
        let pumped = pump(1, from, &log, &mut to, [&counter, &counter]).await;
        assert!(matches!(pumped, Err(Failure::Read(_))), "{pumped:?}");
        assert_eq!(delivered.try_recv().expect("zero was flushed out"), "zero");
    }

    /// A message handed to a sink that buffers it, whose flush then fails (the side behind
    /// it is gone), is not counted as forwarded; the one flushed before it is.
    #[tokio::test]
    async fn a_message_whose_flush_failed_is_not_counted() {
        let (tx, mut delivered) = futures::channel::mpsc::unbounded();
        let mut to = tx.sink_map_err(io::Error::other).buffer(8);
        let (input, from) = futures::channel::mpsc::unbounded();
        let tcp = Endpoint::parse("tcp://127.0.0.1:1").unwrap();
        let counter = Counter::default();
        let pumping = pump(1, from, &tcp, &mut to, [&counter, &counter]);
        input
            .unbounded_send(Ok(bytes::Bytes::from_static(b"one")))
            .unwrap();
        let taken = async {
            assert_eq!(delivered.next().await.expect("one is flushed"), "one");
            drop(delivered);
            input.unbounded_send(Ok(bytes::Bytes::from_static(b"refused")))
        };
        let (pumped, _) = futures::join!(pumping, taken);
        assert!(matches!(pumped, Err(Failure::Write(_))), "{pumped:?}");
        assert_eq!(
            counter.to_string(),
            "2 msgs/6 B",
            "each message counts twice here"
        );
    }

    /// Only a read of a bound `file://` side that fails with `InvalidData` leaves it
    /// unreadable; a queue's, a connected side's, a write's or another error is a failure
    /// that a next session may not meet.
    #[test]
    fn only_invalid_data_read_from_a_bound_log_leaves_it_unreadable() {
        let invalid = || io::Error::new(io::ErrorKind::InvalidData, "bad");
        let log = Endpoint::parse("file:///tmp/log?consumer=c").unwrap();
        let queue = Endpoint::parse("mq://jobs").unwrap();
        let unreadable = |failure: Failure, from: (Role, &Endpoint)| {
            matches!(failure.ends("A->B", from), Fault::Unreadable(_))
        };
        assert!(unreadable(Failure::Read(invalid()), (Role::Listen, &log)));
        assert!(!unreadable(
            Failure::Read(invalid()),
            (Role::Listen, &queue)
        ));
        assert!(!unreadable(Failure::Read(invalid()), (Role::Connect, &log)));
        assert!(!unreadable(Failure::Write(invalid()), (Role::Listen, &log)));
        let other = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(!unreadable(Failure::Read(other), (Role::Listen, &log)));
    }

    /// A bound FIFO forwarded into a connected log (a side only written to) is one session
    /// for as long as the FIFO is read: quiet spells do not end it. (Ending it after 5 s of
    /// quiet, as a two-way session of an endless side does, made the FIFO anew each time:
    /// writers holding it got EPIPE and what it held was lost.) The clock is paused: a
    /// linger, if any, passes at once.
    #[cfg(unix)] // FIFOs are Unix only
    #[tokio::test(start_paused = true)]
    async fn a_session_into_a_side_only_written_to_outlives_quiet_spells() {
        let unique = format!("anyipc-bridge-unit-quiet-{}", std::process::id());
        let dir = std::env::temp_dir().join(&unique);
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = Endpoint::parse(&format!("fifo://{}", dir.join("in").display())).unwrap();
        let mut front = anyipc::bind(&fifo).await.expect("bind the FIFO");
        let a = front.accept().await.expect("the FIFO's reader");
        let log = format!("file://{}", dir.join("log").display());
        let b = anyipc::connect(log.as_str()).await.expect("open the log");
        let roles = [Role::Listen, Role::Connect];
        let shared = shared();
        let session = run(1, [a, b], roles, false, Counts::default(), &shared);
        let ended = tokio::time::timeout(LINGER * 10, session).await;
        drop(front);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(ended.is_err(), "the session ended after a quiet spell");
    }

    /// A session with a bound FIFO (or queue) ends as soon as B closes: B's messages had
    /// nowhere to go, so its end says it went. Lingering for 5 s meant taking what writers
    /// sent meanwhile and sending it to a B that was gone, where the first send after a close
    /// still succeeds on a socket: those messages were lost, though they came after B went.
    /// The clock is paused: the 5 s wait, if any, passes at once.
    #[cfg(unix)] // FIFOs are Unix only
    #[tokio::test(start_paused = true)]
    async fn a_bound_fifo_session_ends_when_b_closes_without_lingering() {
        let unique = format!("anyipc-bridge-unit-{}", std::process::id());
        let path = std::env::temp_dir().join(format!("{unique}.fifo"));
        let fifo = Endpoint::parse(&format!("fifo://{}", path.display())).unwrap();
        let mut front = anyipc::bind(&fifo).await.expect("bind the FIFO");
        let a = front.accept().await.expect("the FIFO's reader");
        let mem = format!("mem://{unique}");
        let mut back = anyipc::bind(mem.as_str()).await.expect("bind mem");
        let b_peer = anyipc::connect(mem.as_str()).await.expect("connect mem");
        let b = back.accept().await.expect("accept mem");
        drop(b_peer);
        let started = tokio::time::Instant::now();
        let roles = [Role::Listen, Role::Connect];
        let ended = run(1, [a, b], roles, false, Counts::default(), &shared()).await;
        assert!(
            matches!(ended, Ended::Clean),
            "B closing is a clean end: {ended:?}"
        );
        assert!(
            started.elapsed() < LINGER,
            "the session lingered after B closed"
        );
    }
}
