//! `anyipc bridge A B`: forwards messages both ways between two endpoints of any kinds.
//!
//! Each side is bound (accepting clients) or connected to. By default A is bound and B is
//! connected to once per accepted client, like a proxy: `anyipc bridge tcp://0.0.0.0:7000
//! unix:///run/app.sock` exposes a Unix-socket service on TCP. A `listen:` or `connect:` prefix
//! on a URL says which it is; `connect:` on both keeps one session between two servers and
//! starts it again whenever either goes away. Binding both sides is refused: there would be
//! no rule for which client to pair with which.
//!
//! A session forwards each message whole (framing is each side's own: a length-prefixed tcp
//! message may become one unix message or one udp datagram). A `fifo://`, `file://` or
//! `mq://` side carries messages one way: bound, it is read, and what the other side sends
//! back is dropped (reported once per session: into a queue it would be taken as one more
//! message and forwarded again); connected to, it is only written to (reading a queue would
//! take back what the bridge put in it). Two such sides connected to are refused, as nothing
//! would be read; with one, the session is the one direction, until its stream ends or
//! forwarding fails. When one side closes its
//! sending half, the bridge closes the other side's, so half-close travels through; the session
//! ends when both directions are done, when forwarding fails, or (between two servers) when
//! either server closes. When a `udp://` side, whose stream never ends by itself, is left
//! alone, the other direction being done, the session ends once it has forwarded nothing
//! for 5 s (replies in flight still get through): waiting for its end would keep the
//! session, and its connections, for ever. With a bound queue, FIFO or followed log
//! read by a named consumer (`consumer=NAME`), though, the other side's end ends the session
//! at once (what it sends is dropped, so its end says it went; a B that only half-closes its
//! sending side counts as gone too), before anything more is taken from the bound side: what
//! is queued or logged meanwhile waits for the next session. A bad
//! message that its stream
//! moves past (on `udp://` one that fails its checks) is reported and skipped; it does not end
//! the session. An `mq://` message over `max_frame` does: it stays in the queue. Messages in
//! flight when a side goes away are lost: what was written to a side's connection and not
//! yet read by it (all the OS buffered for it, often hundreds of messages; a queue or a log
//! bound on the other side has already given them up). A bound `file://`, `mq://` or `fifo://` side has one
//! reader, so it gives one session at a time. A queue never ends by itself, so when B goes (or
//! a session fails) the bridge takes the queue again and starts the next session, a persistent
//! forwarder; what is still queued waits there. A FIFO is made again the same way (what its
//! pipe held when the session ended is lost with the old one), and so is a followed log read
//! by a named consumer: the session closes the consumer, committing its cursor after the last
//! record taken, and the next resumes there. A log whose own data cannot be read (a damaged
//! record, one over `max_frame`: `InvalidData`, which reads there give again until the log
//! is mended) is not taken again, though: the bridge ends with exit 1 and one line naming
//! the log and the error, as `listen` does, without committing the cursor (what was
//! forwarded since its last commit comes again to the next reader: at least once). A
//! queue's message over `max_frame` may be taken by another of its readers, so a queue is
//! still taken again. Any other log or file gives one session,
//! and the bridge ends with it (there is no cursor to resume from: read again, it would start
//! where `from=` says): exit 0 at the end of a file read with `follow=false`, 1 when the
//! session fails. Such a side is not read before B answers, so a B that never does takes
//! nothing from the queue or the log. Reconnecting uses exponential backoff from 100 ms to
//! 5 s: for each new client of a bound side, for up to `--retry` before the client is
//! dropped; between two servers, for ever.
//!
//! A stop signal (Ctrl-C, SIGTERM, SIGHUP) ends the bridge at once, but for a session reading
//! a bound `file://`, `mq://` or `fifo://` side: what it took from there is gone from there,
//! so it takes nothing more and hands B what it took (and a log's consumer commits its
//! cursor) before the bridge ends, within [`CLOSE_PATIENCE`]; past that, the bridge exits 1
//! and what B did not take is lost.
//!
//! A connected `stdio://` side (this process's stdin and stdout, or the pipes from an anyipc
//! parent) can be connected to once: the bridge serves one session, with the first client
//! accepted on the bound side (each client accepted while it runs is closed at once, with a
//! line on stderr once per client address, rather than kept waiting for a stdin it can never
//! have), or between two
//! servers the first session, and ends with it: exit 0 when it ended cleanly, 1 when it
//! failed. Between two servers the end of stdin is a half-close (as with `nc -N`): the
//! server's replies are still forwarded to stdout until it closes. A stdio that cannot be
//! taken (not pipes, a stale `ANYIPC_CHILD_FDS`) is not tried again. `stdio://` on both
//! sides is refused.
//!
//! With `-v`, the counts of messages forwarded take a message only once a flush of the side
//! it went to succeeded: one that side refused (it closed or died) is not counted. A sink
//! may write messages out on its own, before a flush; when that flush fails, they are not
//! counted either, so the counts are never too high. A message the OS took, and lost once
//! the side had gone (a tcp peer that closed with it unread), cannot be told apart and
//! counts.

mod loopback;
mod session;

use crate::accept_errors::AcceptErrors;
use crate::cli_error;
use crate::duration_arg::parse_duration;
use crate::endpoint_arg::{
    gives_one_connection, log_consumer_name, refuse_binding_stdio, refuse_connecting_to_port_zero,
    refuse_in_process,
};
use crate::listen::CLOSE_PATIENCE;
use crate::{CliError, StopSignals};
use anyipc::{Connection, Endpoint, Scheme};
use futures::StreamExt;
use session::Ended;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// First pause between connection attempts.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The least time a connect attempt gets, whatever is left of `--retry`: a handshake that
/// takes a little longer than a short `--retry` still completes.
const MIN_ATTEMPT: Duration = Duration::from_secs(2);
/// How long the direction left of a session with an endless side may forward nothing before
/// the session ends.
const LINGER: Duration = Duration::from_secs(5);

/// Arguments of `anyipc bridge`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Sides: a URL is bound (listen:URL) or connected to (connect:URL). Without a prefix, A is bound \
and B is connected to, once for each client accepted on A. connect: on both sides bridges two \
servers and reconnects whenever either goes away. listen: on both is refused, and so is \
connecting to the very endpoint the other side binds.

The bridge prints `bridging A <-> B` on stderr (with the real port when port 0 was asked \
for) and runs until Ctrl-C or SIGTERM (or SIGHUP); then a session reading a bound file://, \
mq:// or fifo:// side takes nothing more from it and first hands B what it took (within 5 s, \
or the bridge exits 1 and that is lost). mem:// is refused: no other process can \
reach it. With -v it prints a line when a session opens and when it \
closes, with the messages and bytes forwarded each way, and the totals on exit. A message \
counts once it was flushed to its side without error: one that side refused (it had closed \
or died) is not counted, nor, as a sink may write on its own before a flush, one written \
just before a flush that failed (the counts are never too high); one the OS took and lost \
afterwards (a tcp peer that closed with it unread) still counts.

Examples:
  anyipc bridge tcp://0.0.0.0:7000 unix:///run/app.sock      expose a unix service on tcp
  anyipc bridge pipe://front shm://back -v                   any kinds on either side
  anyipc bridge connect:tcp://10.0.0.5:7000 listen:unix:///tmp/local.sock
  anyipc bridge connect:shm://a connect:tcp://127.0.0.1:9000  keep two servers joined

A bound file://, mq:// or fifo:// side has one reader, read only once B answers. A queue, a \
FIFO or a followed log read by a named consumer (file:///dir?consumer=NAME) is taken again \
for a new session whenever B goes, the session ending at once (messages still queued wait \
there, and the log resumes at its consumer's cursor). What was forwarded to B and not yet \
read by it when it went is lost: the bridge counts a message delivered once B's connection \
took it, which its OS buffers (a socket holds hundreds of messages), so a B that stops \
reading early loses what its connection held; what a FIFO held is lost too. To lose nothing, \
B acknowledges what it has handled and the producer resends what was not acknowledged. A \
damaged log ends the bridge with \
exit 1. Any other log \
or file gives one session and the bridge ends with it. \
A fifo://, file:// or mq:// side is one way: bound, it is read, and what the other side \
sends back is dropped (reported once per session); connected to, it is only written to. \
connect: on two of them is refused.

A connected stdio:// side is this process's stdin and stdout (both pipes), which can be \
taken once, so the bridge serves one session: the first client accepted on the bound side \
(each client accepted while it runs is closed at once, with a line on stderr once per client \
address), or, between \
two servers, the first session; there, the end of stdin is a half-close, and the server's \
replies still come out until it closes. The bridge ends with it: exit 0 when it ended \
cleanly (the client closed and stdin reached its end, or the server closed), 1 when it \
failed, or when stdio cannot be taken. stdio:// on both sides is refused.

Exit codes: 0 on Ctrl-C or SIGTERM (or at the end of a bound file:// side read with \
follow=false, or of the one session of a stdio:// side), 1 runtime failure (cannot bind, \
accepting keeps failing, the one session of a bound file:// or a stdio:// side failed, a \
bound log is damaged, B took not all that was read from a bound side within 5 s of a stop \
signal), 2 bad usage or URL.")]
pub(crate) struct BridgeArgs {
    /// First side: URL, listen:URL or connect:URL (default: listen).
    #[arg(value_name = "A")]
    a: String,

    /// Second side: URL, listen:URL or connect:URL (default: connect).
    #[arg(value_name = "B")]
    b: String,

    /// Print sessions and message counts on stderr.
    #[arg(short, long)]
    verbose: bool,

    /// How long to keep trying to connect for a new client before dropping it (250ms, 5s).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    retry: Duration,
}

/// Whether a side is bound or connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Listen,
    Connect,
}

/// One side of the bridge.
#[derive(Debug, Clone)]
struct Side {
    role: Role,
    endpoint: Endpoint,
}

impl Side {
    /// Parses `[listen:|connect:]URL`, with `default` when there is no prefix.
    fn parse(text: &str, default: Role) -> Result<Side, CliError> {
        let (role, url) = if let Some(url) = text.strip_prefix("listen:") {
            (Role::Listen, url)
        } else if let Some(url) = text.strip_prefix("connect:") {
            (Role::Connect, url)
        } else {
            (default, text)
        };
        Ok(Side {
            role,
            endpoint: Endpoint::parse(url)?,
        })
    }
}

/// Messages and bytes forwarded one way.
#[derive(Debug, Default)]
struct Counter {
    messages: AtomicU64,
    bytes: AtomicU64,
}

impl Counter {
    /// Counts one message of `len` bytes.
    fn add(&self, len: usize) {
        self.add_many(1, len as u64);
    }

    /// Counts `messages` messages of `bytes` bytes in all.
    fn add_many(&self, messages: u64, bytes: u64) {
        self.messages.fetch_add(messages, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }
}

impl fmt::Display for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} msgs/{} B",
            self.messages.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed)
        )
    }
}

/// Counts of both directions, per session and in total.
#[derive(Debug, Default)]
struct Counts {
    a_to_b: Counter,
    b_to_a: Counter,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "A->B {}, B->A {}", self.a_to_b, self.b_to_a)
    }
}

/// What every session shares.
#[derive(Debug)]
struct Shared {
    verbose: bool,
    retry: Duration,
    totals: Counts,
    sessions: AtomicU64,
    /// Cancelled by a stop signal: a session reading a bound queue, FIFO or log takes
    /// nothing more from it and hands B what it took, and the bridge ends after it.
    stopping: CancellationToken,
}

/// Runs `anyipc bridge` until a stop signal (Ctrl-C, SIGTERM, SIGHUP), or, with a bound
/// `file://` side that gives one session (not a followed log read by a named consumer) or
/// a connected `stdio://` side, until that session ends, or until a bound log cannot be
/// read any further.
///
/// # Errors
/// Usage errors for bad URLs, a `mem://` side, a bound `stdio://` side, `stdio://` on both
/// sides, two bound sides or a connected side that is the endpoint the other binds;
/// runtime errors when binding fails, accepting keeps failing, the one session of a
/// bound `file://` side or of a `stdio://` side failed, or a bound log is damaged.
pub(crate) async fn run(args: BridgeArgs) -> Result<(), CliError> {
    let a = Side::parse(&args.a, Role::Listen)?;
    let b = Side::parse(&args.b, Role::Connect)?;
    for side in [&a, &b] {
        refuse_in_process(&side.endpoint, "bridge")?;
        match side.role {
            Role::Listen => refuse_binding_stdio(&side.endpoint, "bridge")?,
            Role::Connect => refuse_connecting_to_port_zero(&side.endpoint, "bridge")?,
        }
    }
    refuse_bridging_to_itself(&a, &b).await?;
    refuse_stdio_twice(&a, &b)?;
    let shared = Arc::new(Shared {
        verbose: args.verbose,
        retry: args.retry,
        totals: Counts::default(),
        sessions: AtomicU64::new(0),
        stopping: CancellationToken::new(),
    });
    // Before `bridging …` is printed, so a signal sent right after it stops us cleanly.
    let mut stop = StopSignals::install()?;
    let bridging = async {
        match (a.role, b.role) {
            (Role::Listen, Role::Listen) => Err(CliError::Usage(
                "bridge: both sides are listen:; at least one must be connect:".to_owned(),
            )),
            (Role::Connect, Role::Connect) if [&a, &b].iter().all(|s| is_one_way(s)) => {
                Err(CliError::Usage(
                    "bridge: a connected fifo://, file:// or mq:// side is only written to, \
                     so neither side would be read; make one listen:"
                        .to_owned(),
                ))
            }
            (Role::Listen, Role::Connect) if connects_once(&b.endpoint) => {
                one_client(&a.endpoint, &b.endpoint, false, &shared).await
            }
            (Role::Connect, Role::Listen) if connects_once(&a.endpoint) => {
                one_client(&b.endpoint, &a.endpoint, true, &shared).await
            }
            (Role::Listen, Role::Connect) => {
                accept_loop(&a.endpoint, &b.endpoint, false, &shared).await
            }
            (Role::Connect, Role::Listen) => {
                accept_loop(&b.endpoint, &a.endpoint, true, &shared).await
            }
            (Role::Connect, Role::Connect) => join_servers(&a.endpoint, &b.endpoint, &shared).await,
        }
    };
    tokio::pin!(bridging);
    let result = tokio::select! {
        result = &mut bridging => result,
        _ = stop.recv() => {
            shared.stopping.cancel();
            match [&a, &b].into_iter().find(|side| side.role == Role::Listen) {
                // What a session took from a bound queue, FIFO or log and has not handed to
                // B yet is gone from there: it goes to B before the bridge ends (once that
                // session has ended), given as long as `listen` gives its reader.
                Some(side) if one_reader(&side.endpoint) => {
                    tokio::time::timeout(CLOSE_PATIENCE, &mut bridging)
                        .await
                        .unwrap_or_else(|_| {
                            Err(CliError::Runtime(format!(
                                "bridge: stopped, and the other side did not take what was \
                                 read from {} within {CLOSE_PATIENCE:?}: it is lost",
                                side.endpoint
                            )))
                        })
                }
                _ => Ok(()),
            }
        }
    };
    if shared.verbose && result.is_ok() {
        stderr_line!(
            "bridge: {} sessions, {}",
            shared.sessions.load(Ordering::Relaxed),
            shared.totals
        );
    }
    result
}

/// Binds `bound` and, for each client, connects to `target` and forwards. `swapped` says the
/// bound side is B (so counts still read A->B and B->A). A bound side that
/// [has one reader](one_reader) gives one session at a time: an `mq://` queue, a `fifo://`
/// or a followed log read by a named consumer is bound again for the next
/// ([`taken_again`]); any other `file://` side's ends the loop, and so does a session that
/// left a log [unreadable](Ended::Unreadable) (taken again, it would fail there again).
///
/// # Errors
/// Binding fails, accepting keeps failing, the one session of a log failed, or a log
/// cannot be read any further.
async fn accept_loop(
    bound: &Endpoint,
    target: &Endpoint,
    swapped: bool,
    shared: &Arc<Shared>,
) -> Result<(), CliError> {
    let mut listener = bind_and_announce(bound, target, swapped).await?;
    let one_connection = one_reader(bound);
    let mut accept_errors = AcceptErrors::default();
    let mut pause = FIRST_BACKOFF;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shared.stopping.cancelled() => return Ok(()),
        };
        match accepted {
            Ok(client) if one_connection => {
                // Nothing is taken from the queue or the log before `target` answers: a
                // message held meanwhile would be lost if it never does.
                let session =
                    client_session(client, target.clone(), swapped, false, shared.clone());
                let failed = match session.await {
                    Ended::Clean => false,
                    Ended::Failed => true,
                    Ended::Unreadable(err) => return Err(unreadable(listener.endpoint(), &err)),
                };
                // Stopped: the session handed B what it had taken, and took nothing more.
                if !taken_again(bound) || shared.stopping.is_cancelled() {
                    return one_session_ended(listener.endpoint(), failed);
                }
                // A queue or a FIFO never ends by itself, nor does a followed log: `target`
                // went, or a session failed. What is still queued stays there for the next
                // session, on the queue taken again, after pauses doubling while sessions
                // keep failing (a message over a side's `max_frame` stays at the head of the
                // queue and fails every one); a named consumer of a log resumes at the
                // cursor the session committed when it ended. A FIFO's listener hands its
                // reader out once: it is bound anew, the old one gone first, as it removes
                // the FIFO when dropped.
                pause = if failed {
                    (pause * 2).min(MAX_BACKOFF)
                } else {
                    FIRST_BACKOFF
                };
                drop(listener);
                tokio::time::sleep(pause).await;
                listener = anyipc::bind(bound)
                    .await
                    .map_err(|err| CliError::bind(bound, err))?;
            }
            Ok(client) => {
                accept_errors.accepted();
                let target = target.clone();
                let shared = shared.clone();
                tokio::spawn(
                    async move { client_session(client, target, swapped, true, shared).await },
                );
            }
            Err(err) => accept_errors.wait_out(&err, listener.endpoint()).await?,
        }
    }
}

/// Binds `bound` and prints `bridging A <-> B` (with the real port when port 0 was asked
/// for); `swapped` says the bound side is B.
///
/// # Errors
/// Binding fails.
async fn bind_and_announce(
    bound: &Endpoint,
    target: &Endpoint,
    swapped: bool,
) -> Result<anyipc::Listener, CliError> {
    let listener = anyipc::bind(bound)
        .await
        .map_err(|err| CliError::bind(bound, err))?;
    let (a, b) = if swapped {
        (target.to_string(), listener.endpoint().to_string())
    } else {
        (listener.endpoint().to_string(), target.to_string())
    };
    stderr_line!("bridging {a} <-> {b}");
    Ok(listener)
}

/// Binds `bound` and serves one client, for a `target` that can be connected to once
/// ([`connects_once`]: `stdio://`): the first client accepted gets the one session, each
/// client accepted while it runs is closed at once with a line on stderr, and the bridge
/// ends with that session ([`the_one_session`]). `swapped` says the bound side is B. A
/// bound side with [one reader](one_reader) is accepted once, and read only once `target`
/// answers, as in [`accept_loop`].
///
/// # Errors
/// Binding fails, accepting keeps failing, the session failed, or it left a bound log
/// unreadable.
async fn one_client(
    bound: &Endpoint,
    target: &Endpoint,
    swapped: bool,
    shared: &Arc<Shared>,
) -> Result<(), CliError> {
    let mut listener = bind_and_announce(bound, target, swapped).await?;
    let mut accept_errors = AcceptErrors::default();
    let client = accept_errors.accept(&mut listener).await?;
    let one_connection = one_reader(bound);
    let session = client_session(
        client,
        target.clone(),
        swapped,
        !one_connection,
        shared.clone(),
    );
    let ended = if one_connection {
        session.await
    } else {
        tokio::select! {
            ended = session => ended,
            failed = refuse_clients(&mut listener, target, &mut accept_errors) => {
                return failed.map(|never| match never {});
            }
        }
    };
    the_one_session(listener.endpoint(), target, ended)
}

/// Closes each client `listener` accepts, with a line on stderr saying why: `target` was
/// connected to once, for the session of the first client, and cannot be again. A `udp://`
/// sender's every datagram is accepted as a new connection once the one before was closed,
/// so over udp the line is said once per client address, not once per datagram. Runs until
/// accepting keeps failing.
///
/// # Errors
/// Accepting keeps failing (the only way it returns).
async fn refuse_clients(
    listener: &mut anyipc::Listener,
    target: &Endpoint,
    accept_errors: &mut AcceptErrors,
) -> Result<std::convert::Infallible, CliError> {
    // Only a udp sender comes back as a new connection per datagram; other clients' peer
    // labels ("unix client", a reused pid or port) need not be distinct, so each is told.
    let per_datagram = listener.endpoint().scheme() == Scheme::Udp;
    let mut told = Told::default();
    loop {
        let client = accept_errors.accept(listener).await?;
        if !per_datagram || told.first_time(client.peer_addr()) {
            stderr_line!(
                "anyipc: bridge: closing client {}: {target} serves one session, the first \
                 client's, and it is running (its further connections are closed without a \
                 line)",
                client.peer_addr()
            );
        }
    }
}

/// Client addresses remembered by [`Told`] at most: past that it forgets them all, so a flood
/// of senders costs a bounded amount of memory (and, at worst, a line again per address).
const TOLD_AT_MOST: usize = 4096;

/// The client addresses already told why they are closed.
#[derive(Debug, Default)]
struct Told(std::collections::HashSet<String>);

impl Told {
    /// Whether `peer` is new: true the first time (and again after [`TOLD_AT_MOST`] others).
    fn first_time(&mut self, peer: &str) -> bool {
        if self.0.contains(peer) {
            return false;
        }
        if self.0.len() >= TOLD_AT_MOST {
            self.0.clear();
        }
        self.0.insert(peer.to_owned())
    }
}

/// How the bridge ends with the one session a side that can be connected to once
/// ([`connects_once`]) allows, `target`: exit 0 when it ended cleanly, 1 when it failed
/// (what failed is printed already) or left the bound side `bound` unreadable.
///
/// # Errors
/// The session failed, or left `bound` unreadable.
fn the_one_session(bound: &Endpoint, target: &Endpoint, ended: Ended) -> Result<(), CliError> {
    match ended {
        Ended::Clean => Ok(()),
        Ended::Failed => Err(CliError::Runtime(format!(
            "bridge: the one session with {target} failed (above)"
        ))),
        Ended::Unreadable(err) => Err(unreadable(bound, &err)),
    }
}

/// Refuses `stdio://` on both sides: this process has one stdin and one stdout, which can
/// be connected to once ([`connects_once`]); the second side would wait for them for ever.
///
/// # Errors
/// A usage error when both sides are `stdio://`.
fn refuse_stdio_twice(a: &Side, b: &Side) -> Result<(), CliError> {
    if connects_once(&a.endpoint) && connects_once(&b.endpoint) {
        return Err(CliError::Usage(
            "bridge: stdio:// on both sides; this process has one stdin and stdout, which one \
             side takes"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Refuses a connected side that reaches the very endpoint the other side binds, however it
/// is spelled ([`loopback::reaches`]: `0.0.0.0` and `localhost`, `/tmp/./x.sock`; a tcp or
/// udp port 0 is a new port, so never the same): each client accepted would be connected
/// back to the bridge itself, whose connection is one more client, over and over until the
/// process runs out of file descriptors (and a bound queue, FIFO or log would be fed what is
/// read from it, for ever).
///
/// # Errors
/// A usage error when B is A (or A is B).
async fn refuse_bridging_to_itself(a: &Side, b: &Side) -> Result<(), CliError> {
    let (bound, target) = match (a.role, b.role) {
        (Role::Listen, Role::Connect) => (&a.endpoint, &b.endpoint),
        (Role::Connect, Role::Listen) => (&b.endpoint, &a.endpoint),
        _ => return Ok(()),
    };
    if loopback::reaches(bound, target).await {
        return Err(CliError::Usage(format!(
            "bridge: {target} is the endpoint the other side binds; the bridge would connect \
             to itself"
        )));
    }
    Ok(())
}

/// The error that ends the bridge when its bound side, `bound`, cannot be read any further
/// ([`Ended::Unreadable`]): one line naming it and what reading it gave.
fn unreadable(bound: &Endpoint, err: &io::Error) -> CliError {
    let detail = cli_error::detail(bound, err);
    CliError::Runtime(format!("bridge: cannot read {bound} any further: {detail}"))
}

/// How the bridge ends with the one session of a bound `file://` side: a failure is an
/// error; otherwise it ended at the end of a file read without `follow`.
///
/// # Errors
/// The session failed (what failed is printed already).
fn one_session_ended(bound: &Endpoint, failed: bool) -> Result<(), CliError> {
    if failed {
        Err(CliError::Runtime(format!(
            "bridge: the one session of {bound} failed (above)"
        )))
    } else {
        Ok(())
    }
}

/// Serves one accepted client: connects to `target` (retrying for `--retry`), then forwards.
///
/// With `take_first`, while it connects, the client's first message (if one comes) is held,
/// to be forwarded first, and a client that leaves meanwhile ends the attempt; without, the
/// client is not read until `target` answers. [`Ended::Failed`] for a client error, no
/// connection to `target` or a forwarding error, which is printed; [`Ended::Unreadable`]
/// when the session left the bound side unreadable ([`session::run`]).
async fn client_session(
    mut client: Connection,
    target: Endpoint,
    swapped: bool,
    take_first: bool,
    shared: Arc<Shared>,
) -> Ended {
    let n = shared.sessions.fetch_add(1, Ordering::Relaxed) + 1;
    // `None` (for ever) for a `--retry` too large to add to the clock.
    let give_up = Instant::now().checked_add(shared.retry);
    let connecting = connect_with_backoff(&target, give_up);
    tokio::pin!(connecting);
    let mut held = None;
    let server = loop {
        tokio::select! {
            connected = &mut connecting => break connected,
            // Stopped before `target` answered: nothing was taken from a bound queue or log.
            () = shared.stopping.cancelled() => return Ended::Clean,
            first = client.next(), if take_first && held.is_none() => match first {
                Some(Ok(msg)) => held = Some(msg),
                Some(Err(err)) if client.endpoint().drops_bad_message(&err) => {
                    stderr_line!("anyipc: bridge session {n}: skipped a bad message: {err}");
                }
                Some(Err(err)) => {
                    stderr_line!(
                        "anyipc: bridge session {n}: the client failed before {target} answered: {err}"
                    );
                    return Ended::Failed;
                }
                None => {
                    if shared.verbose {
                        stderr_line!("bridge session {n}: the client left before {target} answered");
                    }
                    return Ended::Clean;
                }
            },
        }
    };
    let mut server = match server {
        Ok(server) => server,
        Err(err) => {
            stderr_line!(
                "anyipc: bridge session {n}: dropping client {}: {}",
                client.peer_addr(),
                cli_error::connect_failure(&target, &err)
            );
            return Ended::Failed;
        }
    };
    let counts = Counts::default();
    if let Some(msg) = held {
        let len = msg.len();
        let (session, total) = match swapped {
            true => (&counts.b_to_a, &shared.totals.b_to_a),
            false => (&counts.a_to_b, &shared.totals.a_to_b),
        };
        if let Err(err) = server.send(msg).await {
            stderr_line!("anyipc: bridge session {n}: forwarding to {target}: {err}");
            return Ended::Failed;
        }
        session.add(len);
        total.add(len);
    }
    let (a, b) = if swapped {
        (server, client)
    } else {
        (client, server)
    };
    let roles = match swapped {
        true => [Role::Connect, Role::Listen],
        false => [Role::Listen, Role::Connect],
    };
    session::run(n, [a, b], roles, false, counts, &shared).await
}

/// Keeps a session between two servers, starting it again whenever it ends: at once after a
/// clean end, and after pauses doubling up to [`MAX_BACKOFF`] while sessions keep failing
/// (a server that drops each client at once, or a message the other side refuses, fails
/// every session: each failure is printed, and the servers are not hammered). With a side
/// that can be connected to once ([`connects_once`]: `stdio://`), there is one session, and
/// this ends with it ([`the_one_session`]).
///
/// # Errors
/// An endpoint that can never be connected to (`InvalidInput`, `Unsupported`), or the one
/// session with a `stdio://` side failed.
async fn join_servers(a: &Endpoint, b: &Endpoint, shared: &Arc<Shared>) -> Result<(), CliError> {
    stderr_line!("bridging {a} <-> {b}");
    let fail = |at: &Endpoint, err: io::Error| CliError::connect(at, err);
    let mut pause = FIRST_BACKOFF;
    loop {
        let conn_a = connect_with_backoff(a, None)
            .await
            .map_err(|e| fail(a, e))?;
        let conn_b = connect_with_backoff(b, None)
            .await
            .map_err(|e| fail(b, e))?;
        let n = shared.sessions.fetch_add(1, Ordering::Relaxed) + 1;
        let conns = [conn_a, conn_b];
        let roles = [Role::Connect, Role::Connect];
        // No side is bound, so none is left unreadable: any end but a clean one failed.
        let ended = session::run(n, conns, roles, true, Counts::default(), shared).await;
        if let Some(once) = [a, b].into_iter().find(|side| connects_once(side)) {
            return the_one_session(a, once, ended);
        }
        let failed = !matches!(ended, Ended::Clean);
        pause = if failed {
            (pause * 2).min(MAX_BACKOFF)
        } else {
            FIRST_BACKOFF
        };
        tokio::time::sleep(pause).await;
    }
}

/// Connects to `endpoint`, retrying with exponential backoff until `give_up` (for ever with
/// none): a pause that would pass `give_up` is cut short there, so the last attempt is made
/// at `give_up` and the endpoint is tried for the whole of `--retry`. `give_up` also bounds
/// each attempt (a TCP connect to a host that drops packets takes about two minutes to
/// fail), though never to less than [`MIN_ATTEMPT`]. A bad URL or an unsupported scheme is
/// not retried, and neither is an endpoint that [connects once](connects_once): a failed
/// first take of stdio fails the same way every time.
async fn connect_with_backoff(
    endpoint: &Endpoint,
    give_up: Option<Instant>,
) -> io::Result<Connection> {
    if connects_once(endpoint) {
        return anyipc::connect(endpoint).await;
    }
    let mut pause = FIRST_BACKOFF;
    loop {
        let attempt = anyipc::connect(endpoint);
        let connected = match give_up {
            Some(t) => tokio::time::timeout_at(t.max(Instant::now() + MIN_ATTEMPT).into(), attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no answer within --retry",
                    ))
                }),
            None => attempt.await,
        };
        match connected {
            Ok(conn) => return Ok(conn),
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
                ) =>
            {
                return Err(err)
            }
            Err(err) => {
                let now = Instant::now();
                let until = match give_up {
                    Some(t) if now >= t => return Err(err),
                    Some(t) => t.min(now + pause),
                    None => now + pause,
                };
                tracing::debug!(%endpoint, error = %err, ?pause, "connect failed; retrying");
                tokio::time::sleep_until(until.into()).await;
                pause = (pause * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Whether `endpoint` can be connected to once only: `stdio://` is this process's stdin and
/// stdout (or the pipes from an anyipc parent), which the first connection takes; a second
/// is refused with `AddrInUse`, which connecting would retry for ever.
pub(super) fn connects_once(endpoint: &Endpoint) -> bool {
    endpoint.scheme() == Scheme::Stdio
}

/// Whether `side` carries messages one way only ([`Scheme::is_one_way`]).
fn is_one_way(side: &Side) -> bool {
    side.endpoint.scheme().is_one_way()
}

/// Whether the stream of a connection of `endpoint` has no end of its own: a udp peer never
/// says it is done, a queue never ends, and a bound FIFO's reader holds a writing end itself.
fn never_ends(endpoint: &Endpoint) -> bool {
    matches!(endpoint.scheme(), Scheme::Udp | Scheme::Mq | Scheme::Fifo)
}

/// Whether `endpoint`, bound, has one reader, handed out once: a `file://` log or file, an
/// `mq://` queue or a `fifo://` ([`gives_one_connection`]).
fn one_reader(endpoint: &Endpoint) -> bool {
    gives_one_connection(endpoint)
}

/// Whether `err`, from reading the bound side `endpoint`, would come again on every read of
/// it, so that a next session would fail at the same place: `InvalidData` from a `file://`
/// log or file (a damaged record, one over `max_frame`; the bad messages it moves past,
/// [`Endpoint::drops_bad_message`], never end a session). A queue's message over
/// `max_frame` may be taken by another of its readers meanwhile, and what else fails may
/// pass.
fn fails_again(endpoint: &Endpoint, err: &io::Error) -> bool {
    endpoint.scheme() == Scheme::File && err.kind() == io::ErrorKind::InvalidData
}

/// Whether `endpoint`, a side with [one reader](one_reader), is bound again for the next
/// session when one ends: a queue and a FIFO, which never end, and a followed log read by a
/// named consumer (`consumer=NAME`, no `framing=`), whose cursor says where the next one
/// resumes. A log without a name (or a plain file) would be read again from where `from=`
/// says, and one with `follow=false` ends: the bridge ends with their one session.
fn taken_again(endpoint: &Endpoint) -> bool {
    match endpoint.scheme() {
        Scheme::Mq | Scheme::Fifo => true,
        Scheme::File => {
            log_consumer_name(endpoint).is_some()
                && anyipc::file::FileOptions::from_endpoint(endpoint).follow
        }
        _ => false,
    }
}
