//! Typed request/reply with serde over any two-way endpoint URL: the same program is the server
//! and the client, and the transport is whatever URL you give.
//!
//! ```text
//! cargo run --example typed_rpc -- server tcp://127.0.0.1:7000
//! cargo run --example typed_rpc -- client tcp://127.0.0.1:7000
//! ```
//!
//! Any URL that carries messages both ways between two processes works the same: `tcp://`,
//! `udp://127.0.0.1:7001`, `unix:///tmp/rpc.sock`, `pipe://rpc`, `shm://rpc` (Linux).
//! `fifo://`, `file://`, `mq://`, `mem://` and `stdio://` are refused up front, by the server
//! and the client alike (exit status 2): `fifo://` and `file://` carry messages one way only,
//! an `mq://` queue is shared (a reply would go back into the queue the request came from, to
//! be taken as one more request), `mem://` lives inside one process, and `stdio://` is only the
//! child's side of the pipes its parent spawned it with, where no server accepts connections.
//!
//! The server runs until Ctrl-C (or SIGTERM), or serves one client and exits with `--once`
//! after the URL; Ctrl-C stops it at any time, also while a client is connected. Messages are
//! JSON (`anyipc::codec::Json`); swap in `anyipc::codec::Postcard` for a compact binary encoding.
//! A request that is not a valid `Request` gets an error reply, and the connection goes on.
//!
//! UDP has no close, so over `udp://` a client has left once it has been quiet for the URL's
//! `idle_timeout`, which this server sets to 2 s unless the URL gives one (the library's
//! default is 5 minutes): `--once` then exits about 2 s after the client's last request. The
//! client waits at most `recv_timeout` (5 s over udp unless the URL gives one) for each reply,
//! as a datagram may be lost.

mod common;

use anyipc::codec::Json;
use anyipc::{Connection, Endpoint, Scheme};
use common::Usage;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::error::Error;
use std::io;
use std::process::ExitCode;

/// What a client asks.
#[derive(Debug, Serialize, Deserialize)]
enum Request {
    /// Add two numbers.
    Add { a: i64, b: i64 },
    /// Upper-case a text.
    Upper(String),
    /// How many requests this connection has made so far.
    Count,
}

/// What the server answers.
#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    /// The sum of an `Add`.
    Sum(i64),
    /// The text of an `Upper`.
    Text(String),
    /// The answer to `Count`.
    Count(u64),
    /// The request could not be served.
    Error(String),
}

/// The command line this example takes.
const USAGE: &str = "typed_rpc server [URL] [--once] | typed_rpc client [URL]";

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_status("typed_rpc", run().await).into()
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut once = false;
    let mut words = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--once" => once = true,
            _ => words.push(common::positional(arg, USAGE)?),
        }
    }
    let (role, url) = match words.as_slice() {
        [role] => (role.as_str(), "tcp://127.0.0.1:7000"),
        [role, url] => (role.as_str(), url.as_str()),
        [] => return Err(Usage::new("server or client?", USAGE).into()),
        [_, _, extra, ..] => return Err(Usage::unexpected(extra, USAGE).into()),
    };
    match role {
        "server" => server(two_way(url)?, once).await,
        "client" if once => Err(Usage::new("--once is for the server", USAGE).into()),
        "client" => client(two_way(url)?, url).await,
        other => Err(Usage::new(format!("{other:?} is neither server nor client"), USAGE).into()),
    }
}

/// `url` parsed, or a [`Usage`] error when no reply could come back on it: request and reply
/// take a connection that carries messages both ways between two processes, made by a client
/// connecting to a server that accepts it.
fn two_way(url: &str) -> Result<Endpoint, Box<dyn Error>> {
    let endpoint = Endpoint::parse(url)?;
    let why = match endpoint.scheme() {
        Scheme::Mq => format!(
            "{endpoint} is one shared queue: a reply would go back into it and be taken as one \
             more request"
        ),
        // fifo://, file://: writers send, the reader only receives.
        scheme if scheme.is_one_way() => {
            format!("{scheme}:// carries messages one way only: no reply can come back on it")
        }
        Scheme::Mem => {
            format!("{endpoint} lives inside one process, and the server and the client are two")
        }
        // Binding it fails, and a client on it would talk to whatever process started it.
        Scheme::Stdio => format!(
            "{endpoint} is only the child's side of the pipes its parent process spawned it \
             with: no server can accept connections on it, and typed_rpc needs one that does"
        ),
        _ => return Ok(endpoint),
    };
    let problem = format!(
        "{why}; request and reply need a two-way URL: tcp://, udp://, unix://, pipe:// or shm://"
    );
    Err(Usage::new(problem, USAGE).into())
}

/// Serves the clients of `endpoint` until a signal, or its first client with `once`.
async fn server(mut endpoint: Endpoint, once: bool) -> Result<(), Box<dyn Error>> {
    // Nothing tells a udp server that its client left: it goes once quiet for this long.
    if endpoint.scheme() == Scheme::Udp && endpoint.option("idle_timeout").is_none() {
        endpoint = endpoint.with_option("idle_timeout", "2s")?;
    }
    let mut listener = anyipc::bind(&endpoint).await?;
    let mut stop = std::pin::pin!(common::stop_signal()?);
    common::say!("server: listening on {}", listener.endpoint())?;
    loop {
        let conn = tokio::select! {
            conn = listener.accept() => conn?,
            () = &mut stop => break,
        };
        common::say!("server: {} connected", conn.peer_addr())?;
        let peer = conn.peer_addr().to_owned();
        let serving = tokio::spawn(async move {
            if let Err(err) = serve(conn).await {
                eprintln!("server: {peer}: {err}");
            }
        });
        if once {
            // Still listening for Ctrl-C while the one client is served.
            tokio::select! {
                served = serving => served?,
                () = &mut stop => common::say!("server: stopping")?,
            }
            break;
        }
    }
    common::say!("server: bye")?;
    Ok(())
}

/// Answers the requests of one client until it leaves.
async fn serve(conn: Connection) -> io::Result<()> {
    // This side receives `Request`s and sends `Reply`s.
    let mut conn = conn.typed::<Request, Reply>(Json);
    let mut served = 0;
    while let Some(request) = conn.next().await {
        served += 1;
        let reply = match request {
            Ok(Request::Add { a, b }) => match a.checked_add(b) {
                Some(sum) => Reply::Sum(sum),
                None => Reply::Error(format!("{a} + {b} overflows")),
            },
            Ok(Request::Upper(text)) => Reply::Text(text.to_uppercase()),
            Ok(Request::Count) => Reply::Count(served),
            // Not a `Request`: say so and keep the connection.
            Err(err) if err.kind() == io::ErrorKind::InvalidData => Reply::Error(err.to_string()),
            Err(err) => return Err(err),
        };
        common::say!("server: request {served} -> {reply:?}")?;
        conn.send(reply).await?;
    }
    common::say!("server: client left")?;
    Ok(())
}

/// Sends a few requests to the server at `endpoint` (given as `url`) and prints the replies.
async fn client(mut endpoint: Endpoint, url: &str) -> Result<(), Box<dyn Error>> {
    // A udp request or reply may be lost, and a missing server says nothing: do not wait
    // for ever.
    if endpoint.scheme() == Scheme::Udp && endpoint.option("recv_timeout").is_none() {
        endpoint = endpoint.with_option("recv_timeout", "5s")?;
    }
    let conn = anyipc::connect(&endpoint)
        .await
        .map_err(|err| format!("cannot connect: {err} (is `typed_rpc server {url}` running?)"))?;
    // This side sends `Request`s and receives `Reply`s.
    let mut conn = conn.typed::<Reply, Request>(Json);
    common::say!("client: connected to {url}")?;
    let requests = [
        Request::Add { a: 40, b: 2 },
        Request::Upper("typed messages over any transport".to_owned()),
        Request::Add { a: i64::MAX, b: 1 },
        Request::Count,
    ];
    for request in requests {
        common::say!("client: {request:?}")?;
        conn.send(request).await?;
        match conn.recv().await {
            Ok(Some(reply)) => common::say!("client:   -> {reply:?}")?,
            Ok(None) => return Err("the server closed the connection".into()),
            Err(err) if err.kind() == io::ErrorKind::TimedOut => {
                return Err(format!("no reply from {url}: {err} (is the server running?)").into())
            }
            Err(err) => return Err(err.into()),
        }
    }
    common::say!("client: done")?;
    Ok(())
}
