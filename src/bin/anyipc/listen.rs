//! `anyipc listen URL [--framing F] [--echo] [--count N]`: bind, accept every connection, print
//! every message.
//!
//! The first line on stderr is `listening on <endpoint>` with the endpoint really bound (port 0
//! replaced by the port the OS gave), for people and for scripts that start a peer. Each
//! connection is served by its own task; their messages reach stdout through one channel, so
//! lines never interleave and `--count` counts messages from all connections together.

use crate::accept_errors::AcceptErrors;
use crate::bad_message::skippable;
use crate::endpoint_arg::EndpointArgs;
use crate::output::{MessageWriter, OutputArgs};
use crate::CliError;
use anyipc::Connection;
use bytes::Bytes;
use futures::StreamExt;
use std::io;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Received messages waiting to be printed before connection tasks wait for stdout.
const PRINT_BACKLOG: usize = 64;

/// Arguments of `anyipc listen`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints `listening on URL` on stderr (with the real port when port 0 was asked for), then each \
message on its own line on stdout: text, with \\n, \\t, \\\\, \\xHH for control bytes and bytes \
that are not UTF-8 (or --hex, or --json). Runs until --count messages or Ctrl-C.

Examples:
  anyipc listen tcp://127.0.0.1:7000                 print what clients send
  anyipc listen unix:///tmp/app.sock --echo          an echo server (for `anyipc bench --connect`)
  anyipc listen pipe://orders --json --count 1       one message as JSON, then exit
  anyipc listen tcp://127.0.0.1:8888 --framing raw   whatever a plain C client write()s

Exit codes: 0 after --count messages or on Ctrl-C, 1 runtime failure (cannot bind, stdout \
closed), 2 bad usage or URL.")]
pub(crate) struct ListenArgs {
    #[command(flatten)]
    endpoint: EndpointArgs,

    /// Send every message back to the connection it came from.
    #[arg(long)]
    echo: bool,

    /// Exit (status 0) after printing N messages in total.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,

    #[command(flatten)]
    output: OutputArgs,
}

/// Runs `anyipc listen` until `--count` messages were printed or Ctrl-C.
///
/// # Errors
/// Usage errors for a bad URL; runtime errors when binding fails, accepting keeps failing, or
/// stdout is closed.
pub(crate) async fn run(args: ListenArgs) -> Result<(), CliError> {
    let endpoint = args.endpoint.endpoint()?;
    let mut listener = anyipc::bind(&endpoint)
        .await
        .map_err(|err| CliError::from(err).context(&format!("cannot bind {endpoint}")))?;
    // Install the Ctrl-C handler (on its first poll) before telling anyone we listen, so an
    // interrupt sent right after the line stops us cleanly (dropping the listener removes a
    // unix socket file) instead of killing us.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    if let std::task::Poll::Ready(result) = futures::poll!(&mut ctrl_c) {
        result.map_err(|err| CliError::Runtime(format!("cannot watch for Ctrl-C: {err}")))?;
        return Ok(());
    }
    eprintln!("listening on {}", listener.endpoint());

    let (received, mut to_print) = mpsc::channel::<(Arc<str>, Bytes)>(PRINT_BACKLOG);
    let mut out = MessageWriter::stdout(args.output.format());
    let mut printed: u64 = 0;
    let mut accept_errors = AcceptErrors::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => {
                    accept_errors.accepted();
                    tokio::spawn(serve(conn, args.echo, received.clone()));
                }
                Err(err) => match accept_errors.failed(&err) {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => {
                        let endpoint = listener.endpoint();
                        return Err(CliError::Runtime(format!("accepting on {endpoint}: {err}")));
                    }
                },
            },
            Some((peer, msg)) = to_print.recv() => {
                out.write_message_from(Some(&peer), &msg)
                    .await
                    .map_err(|err| CliError::Runtime(format!("cannot write to stdout: {err}")))?;
                printed += 1;
                if args.count == Some(printed) {
                    return Ok(());
                }
            }
            _ = &mut ctrl_c => return Ok(()),
        }
    }
}

/// Reads one connection to its end: echoes each message when asked, then hands it to the
/// printer. Echoing first means the reply to the last counted message is out before `listen`
/// exits.
async fn serve(mut conn: Connection, mut echo: bool, printer: mpsc::Sender<(Arc<str>, Bytes)>) {
    let peer: Arc<str> = conn.peer_addr().into();
    while let Some(item) = conn.next().await {
        let msg = match item {
            Ok(msg) => msg,
            // A datagram that failed its checks (over `max_frame`): the stream goes on.
            Err(err) if skippable(&conn, &err) => {
                eprintln!(
                    "anyipc: connection from {}: skipped: {err}",
                    conn.peer_addr()
                );
                continue;
            }
            Err(err) => {
                eprintln!("anyipc: connection from {}: {err}", conn.peer_addr());
                return;
            }
        };
        if echo {
            if let Err(err) = conn.send(msg.clone()).await {
                // A client that sent and left does not want its echo; anything else is news.
                if err.kind() != io::ErrorKind::BrokenPipe {
                    eprintln!(
                        "anyipc: echo to {} failed, not echoing any more: {err}",
                        conn.peer_addr()
                    );
                }
                echo = false;
            }
        }
        if printer.send((peer.clone(), msg)).await.is_err() {
            return;
        }
    }
}
