//! `anyipc listen URL [--framing F] [--echo] [--count N]`: bind, accept every connection, print
//! every message.
//!
//! The first line on stderr is `listening on <endpoint>` with the endpoint really bound (port 0
//! replaced by the port the OS gave), for people and for scripts that start a peer. Each
//! connection is served by its own task; their messages reach stdout through one channel, so
//! lines never interleave and `--count` counts messages from all connections together. A
//! `file://`, `mq://` or `fifo://` endpoint gives one connection (a log's named consumer is
//! read as a `FileConsumer`), printed on the main task ([`print_kept`]): every message it
//! takes is printed before `listen` ends, and a log's cursor is committed after the last
//! message printed, so ending `listen` loses nothing (unless a stop signal finds stdout
//! taking nothing for [`CLOSE_PATIENCE`]: then a queue's message taken for the unprinted
//! lines is gone; a log's cursor is not committed past them). A stdout pipe whose reader
//! goes (`| head -1`) ends `listen` at once ([`StdoutWatch`]), not at the next message.

use crate::accept_errors::AcceptErrors;
use crate::cli_error;
use crate::endpoint_arg::{
    gives_one_connection, log_consumer_name, no_way_back, refuse_binding_stdio, refuse_in_process,
    EndpointArgs,
};
use crate::listen_kept::{print_kept, Kept, LogConsumer};
use crate::output::{MessageWriter, OutputArgs, StdoutWatch};
use crate::{CliError, StopSignals};
use anyipc::{Connection, Endpoint};
use bytes::Bytes;
use futures::{FutureExt, SinkExt, StreamExt};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Received messages waiting to be printed before connection tasks wait for stdout.
const PRINT_BACKLOG: usize = 64;
/// Bytes of printed lines gathered into one write of stdout, at most (a line may pass it).
pub(crate) const PRINT_GATHER: usize = 64 * 1024;

/// Arguments of `anyipc listen`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints `listening on URL` on stderr (with the real port when port 0 was asked for), then each \
message on its own line on stdout: text, with \\n, \\t, \\\\, \\xHH for control bytes and bytes \
that are not UTF-8 (or --hex, or --json). Runs until --count messages, Ctrl-C or SIGTERM \
(or SIGHUP); file://, mq:// and fifo:// give one connection, and listen ends with it: a file \
read with follow=false (file:///DIR?follow=false) at the end of the data, any of them on an \
error (a damaged log, a queued message over max_frame, which stays queued, corrupt frames in a \
FIFO). mem:// is refused: no other process can reach it.

Examples:
  anyipc listen tcp://127.0.0.1:7000                 print what clients send
  anyipc listen unix:///tmp/app.sock --echo          an echo server (for `anyipc bench --connect`)
  anyipc listen pipe://orders --json --count 1       one message as JSON, then exit
  anyipc listen tcp://127.0.0.1:8888 --framing raw   whatever a plain C client write()s
  anyipc listen 'file:///var/tmp/log?follow=false'   print a log's records, then exit

Exit codes: 0 after --count messages, on Ctrl-C or SIGTERM, or at the end of a file read with \
follow=false, 1 runtime failure (cannot bind, stdout closed or taking nothing for 5 s after a \
stop signal, the one connection of a file://, mq:// or fifo:// endpoint failed, a log consumer's \
cursor could not be committed), 2 bad usage or URL. A stdout pipe whose reader goes \
(`anyipc listen URL | head -1`) ends listen at once, exit 1, taking no more messages it could \
not print.")]
pub(crate) struct ListenArgs {
    #[command(flatten)]
    endpoint: EndpointArgs,

    /// Send every message back to the connection it came from (not on fifo://, file:// or
    /// mq://, where nothing sent back reaches the sender).
    #[arg(long)]
    echo: bool,

    /// Exit (status 0) after printing N messages in total.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,

    #[command(flatten)]
    output: OutputArgs,
}

/// Runs `anyipc listen` until `--count` messages were printed, a stop signal (Ctrl-C,
/// SIGTERM, SIGHUP), or, on an endpoint that gives one connection (`file://`, `mq://`,
/// `fifo://`), the end of that connection (the end of a file read with `follow=false`, or an
/// error).
///
/// # Errors
/// Usage errors for a bad URL, a `mem://` or `stdio://` URL or `--echo` where no echo can
/// reach the sender; runtime errors when binding fails, accepting keeps failing, stdout is
/// closed, or the connection of an endpoint that ends fails.
pub(crate) async fn run(args: ListenArgs) -> Result<(), CliError> {
    let endpoint = args.endpoint.endpoint()?;
    refuse_in_process(&endpoint, "listen")?;
    refuse_binding_stdio(&endpoint, "listen")?;
    if args.echo {
        if let Some(why) = no_way_back(&endpoint) {
            return Err(CliError::Usage(format!("--echo: {why}")));
        }
    }
    if let Some(name) = log_consumer_name(&endpoint) {
        let log = LogConsumer::open(&endpoint, &name)
            .await
            .map_err(|err| CliError::bind(&endpoint, err))?;
        let mut stop = StopSignals::install()?;
        stderr_line!("listening on {endpoint}");
        let mut out = MessageWriter::stdout(args.output.format());
        let watch = StdoutWatch::new();
        let kept = Kept::LogConsumer(log);
        return print_kept(kept, &mut out, &mut stop, &watch, args.count).await;
    }
    let mut listener = anyipc::bind(&endpoint)
        .await
        .map_err(|err| CliError::bind(&endpoint, err))?;
    // Install the signal handlers before telling anyone we listen, so a signal sent right
    // after the line stops us cleanly (dropping the listener removes a unix socket file, a
    // pipe or shm name, a FIFO) instead of killing us.
    let mut stop = StopSignals::install()?;
    stderr_line!("listening on {}", listener.endpoint());
    let mut out = MessageWriter::stdout(args.output.format());
    let watch = StdoutWatch::new();
    let mut accept_errors = AcceptErrors::default();
    if gives_one_connection(&endpoint) {
        // A `file://` log or file, a `mq://` queue, a FIFO: one connection, printed on this
        // task so that what it took is printed before `listen` ends, which ends with it.
        let conn = loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(conn) => break conn,
                    Err(err) => accept_errors.wait_out(&err, listener.endpoint()).await?,
                },
                _ = stop.recv() => return Ok(()),
                err = watch.reader_gone() => return Err(stdout_failed(err)),
            }
        };
        let kept = Kept::Connection(conn);
        return print_kept(kept, &mut out, &mut stop, &watch, args.count).await;
    }

    let (received, mut to_print) = mpsc::channel::<ToPrint>(PRINT_BACKLOG);
    let mut printed: u64 = 0;
    let ended = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => {
                    accept_errors.accepted();
                    let printer = received.clone();
                    // Without `--count` the echoes of messages read together go out
                    // together; with it each goes out before its message is printed (the
                    // last counted one before `listen` exits).
                    let task = if args.echo && args.count.is_none() {
                        serve_echoing_batches(conn, printer).boxed()
                    } else {
                        serve(conn, args.echo, printer).boxed()
                    };
                    tokio::spawn(async move {
                        if let Err(err) = task.await {
                            stderr_line!("anyipc: {err}");
                        }
                    });
                }
                Err(err) => {
                    // The lines gathered go out before the pause.
                    match flush_unless_stopped(&mut out, &mut stop).await {
                        Ok(Flushed::Written) => {}
                        Ok(Flushed::Stopped) => break Ok(()),
                        Err(err) => break Err(err),
                    }
                    if let Err(err) = accept_errors.wait_out(&err, listener.endpoint()).await {
                        break Err(err);
                    }
                }
            },
            Some(ToPrint { peer, msgs }) = to_print.recv() => {
                for msg in msgs.as_slice() {
                    if args.count == Some(printed) {
                        break;
                    }
                    out.queue_message_from(Some(&peer), msg);
                    printed += 1;
                }
                let done = args.count == Some(printed);
                // One write for the messages already waiting; each goes out before
                // `listen` waits or ends.
                if done || to_print.is_empty() || out.queued_len() >= PRINT_GATHER {
                    match flush_unless_stopped(&mut out, &mut stop).await {
                        Ok(Flushed::Written) => {}
                        Ok(Flushed::Stopped) => break Ok(()),
                        Err(err) => break Err(err),
                    }
                }
                if done {
                    break Ok(());
                }
            },
            _ = stop.recv() => break Ok(()),
            err = watch.reader_gone() => break Err(stdout_failed(err)),
        }
    };
    // Lines gathered when a stop signal or an accept error ended the loop (a failed write
    // dropped its lines).
    ended.and(finish_printing(&mut out).await)
}

/// Writes out the lines still gathered, waiting at most [`CLOSE_PATIENCE`]: a reader that
/// stopped reading cannot hold `listen` for ever.
///
/// # Errors
/// Stdout cannot be written, or took nothing for that long.
async fn finish_printing(out: &mut MessageWriter<tokio::io::Stdout>) -> Result<(), CliError> {
    if out.queued_len() == 0 {
        return Ok(());
    }
    patiently(out.flush_queued()).await
}

/// How a write of the gathered lines ended.
#[derive(Debug, PartialEq)]
pub(crate) enum Flushed {
    /// Written, no stop signal meanwhile.
    Written,
    /// Written, and a stop signal came while it was under way: `listen` ends.
    Stopped,
}

/// Writes out the lines gathered. A stop signal while the reader of stdout holds the write
/// up gives it [`CLOSE_PATIENCE`] more: a reader that stopped reading cannot keep a stopped
/// `listen` alive.
///
/// # Errors
/// Stdout cannot be written, or took nothing for that long after a stop signal (the lines
/// not written are lost: a message taken for them from a queue is gone, a log's cursor is
/// not committed past them).
pub(crate) async fn flush_unless_stopped(
    out: &mut MessageWriter<tokio::io::Stdout>,
    stop: &mut StopSignals,
) -> Result<Flushed, CliError> {
    let flush = out.flush_queued();
    tokio::pin!(flush);
    tokio::select! {
        biased;
        flushed = &mut flush => flushed.map(|()| Flushed::Written).map_err(stdout_failed),
        _ = stop.recv() => patiently(flush).await.map(|()| Flushed::Stopped),
    }
}

/// `write` (of stdout), given at most [`CLOSE_PATIENCE`].
///
/// # Errors
/// Stdout cannot be written, or took nothing for that long.
async fn patiently(
    write: impl std::future::Future<Output = io::Result<()>>,
) -> Result<(), CliError> {
    tokio::time::timeout(CLOSE_PATIENCE, write)
        .await
        .unwrap_or_else(|_| {
            let why = format!("the reader took nothing for {CLOSE_PATIENCE:?}");
            Err(io::Error::new(io::ErrorKind::TimedOut, why))
        })
        .map_err(stdout_failed)
}

/// The error that ends `listen` when stdout cannot be written.
pub(crate) fn stdout_failed(err: io::Error) -> CliError {
    CliError::Runtime(format!("cannot write to stdout: {err}"))
}

/// Received messages of one connection on their way to stdout.
struct ToPrint {
    peer: Arc<str>,
    msgs: Messages,
}

/// One message, or what one read brought: a single message costs no `Vec`.
enum Messages {
    One(Bytes),
    Batch(Vec<Bytes>),
}

impl Messages {
    fn as_slice(&self) -> &[Bytes] {
        match self {
            Messages::One(msg) => std::slice::from_ref(msg),
            Messages::Batch(msgs) => msgs,
        }
    }
}

/// How long `listen` waits at its end: for a connection to close or a log consumer to commit
/// its cursor, and, after a stop signal, for a reader of stdout to take what is written.
pub(crate) const CLOSE_PATIENCE: Duration = Duration::from_secs(5);

/// Reads one connection to its end a batch at a time ([`Connection::recv_batch`]: every
/// whole message one read brought), echoes the batch in one write, then hands its messages
/// to the printer: `serve` with `--echo`, for many messages, without waiting on the
/// transport for a next message that may not come.
///
/// # Errors
/// As [`serve`].
async fn serve_echoing_batches(
    mut conn: Connection,
    printer: mpsc::Sender<ToPrint>,
) -> Result<(), String> {
    let peer: Arc<str> = conn.peer_addr().into();
    let mut echo = true;
    loop {
        let batch = match conn.recv_batch().await {
            Ok(Some(batch)) => batch,
            Ok(None) => return Ok(()),
            // A datagram that failed its checks (over `max_frame`): the stream goes on.
            Err(err) if conn.endpoint().drops_bad_message(&err) => {
                report_skipped(conn.endpoint(), conn.peer_addr(), &err);
                continue;
            }
            Err(err) => return Err(receive_failed(conn.endpoint(), conn.peer_addr(), &err)),
        };
        if echo {
            let mut echoes = futures::stream::iter(batch.iter_bytes().map(Ok));
            if let Err(err) = conn.send_all(&mut echoes).await {
                echo = echo_failed(&conn, &err);
            }
        }
        let msgs = Messages::Batch(batch.iter_bytes().collect());
        let to_print = ToPrint {
            peer: peer.clone(),
            msgs,
        };
        if printer.send(to_print).await.is_err() {
            return Ok(());
        }
    }
}

/// Reads one connection to its end: echoes each message when asked, then hands it to the
/// printer. Echoing first means the reply to the last counted message is out before `listen`
/// exits.
///
/// # Errors
/// The receive error that ended the connection, as one line naming the peer.
async fn serve(
    mut conn: Connection,
    mut echo: bool,
    printer: mpsc::Sender<ToPrint>,
) -> Result<(), String> {
    let peer: Arc<str> = conn.peer_addr().into();
    while let Some(item) = conn.next().await {
        let msg = match item {
            Ok(msg) => msg,
            // A datagram that failed its checks (over `max_frame`): the stream goes on.
            Err(err) if conn.endpoint().drops_bad_message(&err) => {
                report_skipped(conn.endpoint(), conn.peer_addr(), &err);
                continue;
            }
            Err(err) => return Err(receive_failed(conn.endpoint(), conn.peer_addr(), &err)),
        };
        if echo {
            if let Err(err) = conn.send(msg.clone()).await {
                echo = echo_failed(&conn, &err);
            }
        }
        let to_print = ToPrint {
            peer: peer.clone(),
            msgs: Messages::One(msg),
        };
        if printer.send(to_print).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Reports a message the stream of `endpoint` from `peer` moves past
/// ([`anyipc::Endpoint::drops_bad_message`]).
pub(crate) fn report_skipped(endpoint: &Endpoint, peer: &str, err: &io::Error) {
    let err = cli_error::detail(endpoint, err);
    stderr_line!("anyipc: connection from {peer}: skipped: {err}");
}

/// The line that says why the stream of `endpoint` from `peer` ended.
pub(crate) fn receive_failed(endpoint: &Endpoint, peer: &str, err: &io::Error) -> String {
    let err = cli_error::detail(endpoint, err);
    format!("connection from {peer}: {err}")
}

/// Reports a failed echo (a client that sent and left does not want its echo; anything
/// else is news): `false`, echoing is over.
fn echo_failed(conn: &Connection, err: &io::Error) -> bool {
    if err.kind() != io::ErrorKind::BrokenPipe {
        stderr_line!(
            "anyipc: echo to {} failed, not echoing any more: {err}",
            conn.peer_addr()
        );
    }
    false
}
