//! `anyipc send URL [--framing F] [--expect-reply] [--timeout D] [MESSAGE...]`: connect, send
//! each MESSAGE as one message (with none, each line of stdin), and with `--expect-reply` print
//! one reply per message.
//!
//! Every network wait (connecting, sending, each reply, closing) is bounded by `--timeout`, so
//! `send` always ends; waiting for the next line of stdin is not, since a person may be typing.

use crate::duration_arg::parse_duration;
use crate::endpoint_arg::{no_way_back, refuse_in_process, EndpointArgs};
use crate::output::{MessageWriter, OutputArgs};
use crate::time_limit::bounded;
use crate::CliError;
use anyipc::codec::Framing;
use anyipc::{Connection, Endpoint, Scheme};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::ffi::OsString;
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// Arguments of `anyipc send`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Replies are printed one per line, escaped as `anyipc listen` prints messages (or --hex, --json).

Examples:
  anyipc send tcp://127.0.0.1:7000 hello world        two messages
  anyipc send unix:///tmp/app.sock --expect-reply ping
  printf 'a\\nb\\n' | anyipc send pipe://orders       each line of stdin is one message
  anyipc send tcp://127.0.0.1:7000 --expect-reply --json ping

Exit codes: 0 sent (and every reply came), 1 could not connect, send or get a reply, 2 bad usage \
or URL (mem://, which no other process can reach, --expect-reply on fifo://, file:// or \
mq://, which cannot answer, or stdio:// over this process's own stdin without MESSAGE \
arguments), before anything is sent.")]
pub(crate) struct SendArgs {
    #[command(flatten)]
    endpoint: EndpointArgs,

    /// After each message, wait for one reply and print it on its own line (not on fifo://,
    /// file:// or mq://, where no reply can come back).
    #[arg(long)]
    expect_reply: bool,

    /// Give up (exit 1) when connecting, sending or waiting for a reply takes longer than this
    /// (250ms, 5s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,

    /// Messages to send, one message each, their bytes as given (UTF-8 or not). With none,
    /// each line of stdin is one message (not for a stdio:// connected over stdin itself).
    /// With framing=raw an empty one is skipped: raw framing sends a message's bytes and
    /// nothing else, so there is nothing to send and nothing to answer.
    #[arg(value_name = "MESSAGE", value_parser = clap::value_parser!(OsString))]
    messages: Vec<OsString>,

    #[command(flatten)]
    output: OutputArgs,
}

/// Runs `anyipc send`.
///
/// # Errors
/// Usage errors for a bad URL, a `mem://` URL, `--expect-reply` where no reply can come
/// (fifo://, file://, mq://), or no MESSAGE for a `stdio://` over this process's own stdin,
/// before anything is sent; runtime errors when connecting, sending or receiving fails or
/// times out, when the peer closes before replying, or when stdin cannot be read.
pub(crate) async fn run(args: SendArgs) -> Result<(), CliError> {
    let endpoint = args.endpoint.endpoint()?;
    refuse_in_process(&endpoint, "send")?;
    if args.expect_reply {
        if let Some(why) = no_way_back(&endpoint) {
            return Err(CliError::Usage(format!("--expect-reply: {why}")));
        }
    }
    if args.messages.is_empty() && connects_over_stdin(&endpoint) {
        return Err(CliError::Usage(format!(
            "{endpoint} is connected over this process's stdin and stdout, so stdin cannot \
             also hold the messages: give them as MESSAGE arguments"
        )));
    }
    let conn = within(args.timeout, anyipc::connect(&endpoint))
        .await
        .map_err(|err| CliError::connect(&endpoint, err))?;
    let mut sender = Sender {
        conn,
        out: MessageWriter::stdout(args.output.format()),
        expect_reply: args.expect_reply,
        skip_empty: endpoint.framing() == Framing::Raw,
        timeout: args.timeout,
        sent: 0,
    };
    if args.messages.is_empty() {
        let mut stdin = BufReader::new(tokio::io::stdin());
        let mut line = Vec::new();
        // A line is read only as far as the largest message and its line end: input without
        // newlines (`cat /dev/zero`) fails at the limit instead of filling memory.
        let max_frame = endpoint.max_frame();
        let most = u64::try_from(max_frame)
            .unwrap_or(u64::MAX)
            .saturating_add(2);
        loop {
            line.clear();
            let read = (&mut stdin)
                .take(most)
                .read_until(b'\n', &mut line)
                .await
                .map_err(|err| CliError::Runtime(format!("cannot read stdin: {err}")))?;
            if read == 0 {
                break;
            }
            let msg = strip_line_end(&line);
            if msg.len() > max_frame {
                return Err(CliError::Runtime(format!(
                    "sending message {}: the line read from stdin is over the {max_frame}-byte \
                     limit (max_frame)",
                    sender.sent + 1
                )));
            }
            sender.exchange(Bytes::copy_from_slice(msg)).await?;
        }
    } else {
        for msg in args.messages {
            sender
                .exchange(Bytes::from(msg.into_encoded_bytes()))
                .await?;
        }
    }
    sender.close().await
}

/// Whether connecting to `endpoint` takes this process's own stdin as the connection:
/// `stdio://` without [`CHILD_FDS_ENV`](anyipc::child::CHILD_FDS_ENV) (or with it naming
/// stdio, `<pid>:stdio`), when the pipes are not extra descriptors from an anyipc parent.
/// Its lines then cannot be the messages (the connection moves it to `/dev/null`).
fn connects_over_stdin(endpoint: &Endpoint) -> bool {
    if endpoint.scheme() != Scheme::Stdio {
        return false;
    }
    #[cfg(unix)]
    {
        match std::env::var_os(anyipc::child::CHILD_FDS_ENV) {
            None => true,
            Some(value) => value.to_str().is_some_and(|v| v.ends_with(":stdio")),
        }
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// One connection's sending side and how replies are handled.
struct Sender {
    conn: Connection,
    out: MessageWriter<tokio::io::Stdout>,
    expect_reply: bool,
    /// Empty messages are not sent (`framing=raw`, which writes a message's bytes and
    /// nothing else: the peer cannot see one, and no reply to it would come).
    skip_empty: bool,
    timeout: Duration,
    /// Messages sent so far, to name the one that failed.
    sent: u64,
}

impl Sender {
    /// Sends `msg` and, with `--expect-reply`, waits for one reply and prints it.
    async fn exchange(&mut self, msg: Bytes) -> Result<(), CliError> {
        self.sent += 1;
        let n = self.sent;
        if msg.is_empty() && self.skip_empty {
            return Ok(());
        }
        within(self.timeout, self.conn.send(msg))
            .await
            .map_err(|err| {
                let to = self.conn.endpoint();
                let err = crate::cli_error::detail(to, &err);
                CliError::Runtime(format!("sending message {n}: {to}: {err}"))
            })?;
        if !self.expect_reply {
            return Ok(());
        }
        let reply = match tokio::time::timeout(self.timeout, self.conn.next()).await {
            Err(_) => {
                return Err(CliError::Runtime(format!(
                    "no reply to message {n} within {:?}",
                    self.timeout
                )))
            }
            Ok(None) => {
                return Err(CliError::Runtime(format!(
                    "{} closed the connection before replying to message {n}",
                    self.conn.peer_addr()
                )))
            }
            Ok(Some(Err(err))) => {
                return Err(CliError::Runtime(format!(
                    "receiving the reply to message {n}: {}: {}",
                    self.conn.endpoint(),
                    crate::cli_error::detail(self.conn.endpoint(), &err)
                )))
            }
            Ok(Some(Ok(reply))) => reply,
        };
        self.out
            .write_message(&reply)
            .await
            .map_err(|err| CliError::Runtime(format!("cannot write to stdout: {err}")))
    }

    /// Flushes what is left and closes the sending side, so the peer sees the end.
    async fn close(mut self) -> Result<(), CliError> {
        within(self.timeout, self.conn.close())
            .await
            .map_err(|err| CliError::Runtime(format!("closing the connection: {err}")))
    }
}

/// Runs `io` with a time limit; running out is `TimedOut`.
async fn within<T>(limit: Duration, io: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    bounded(limit, io, || format!("timed out after {limit:?}")).await
}

/// A line of stdin without its `\n` or `\r\n`.
fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::strip_line_end;

    #[test]
    fn line_ends_are_stripped() {
        assert_eq!(strip_line_end(b"one\n"), b"one");
        assert_eq!(strip_line_end(b"two\r\n"), b"two");
        assert_eq!(strip_line_end(b"last"), b"last");
        assert_eq!(strip_line_end(b"\n"), b"");
        assert_eq!(strip_line_end(b"in\rside\n"), b"in\rside");
    }
}
