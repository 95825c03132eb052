//! Typed request/reply with serde over any endpoint URL: the same program is the server and the
//! client, and the transport is whatever URL you give.
//!
//! ```text
//! cargo run --example typed_rpc -- server tcp://127.0.0.1:7000
//! cargo run --example typed_rpc -- client tcp://127.0.0.1:7000
//! ```
//!
//! Any URL works the same: `unix:///tmp/rpc.sock`, `udp://127.0.0.1:7001`, …. The server runs
//! until Ctrl-C (or SIGTERM), or serves one client and exits with `--once` after the URL;
//! Ctrl-C stops it at any time, also while a client is connected. Messages are JSON
//! (`anyipc::codec::Json`); swap in `anyipc::codec::Postcard` for a compact binary encoding.
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
use futures::{SinkExt, StreamExt};
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

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("typed_rpc: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let (flags, words): (Vec<String>, Vec<String>) =
        std::env::args().skip(1).partition(|a| a.starts_with("--"));
    let once = flags.iter().any(|f| f == "--once");
    let url = words
        .get(1)
        .cloned()
        .unwrap_or_else(|| "tcp://127.0.0.1:7000".to_owned());
    match words.first().map(String::as_str) {
        Some("server") => server(&url, once).await,
        Some("client") => client(&url).await,
        _ => Err("usage: typed_rpc server|client [URL] [--once]".into()),
    }
}

async fn server(url: &str, once: bool) -> Result<(), Box<dyn Error>> {
    let mut endpoint = Endpoint::parse(url)?;
    // Nothing tells a udp server that its client left: it goes once quiet for this long.
    if endpoint.scheme() == Scheme::Udp && endpoint.option("idle_timeout").is_none() {
        endpoint = endpoint.with_option("idle_timeout", "2s")?;
    }
    let mut listener = anyipc::bind(&endpoint).await?;
    let mut stop = std::pin::pin!(common::stop_signal()?);
    println!("server: listening on {}", listener.endpoint());
    loop {
        let conn = tokio::select! {
            conn = listener.accept() => conn?,
            () = &mut stop => break,
        };
        println!("server: {} connected", conn.peer_addr());
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
                () = &mut stop => println!("server: stopping"),
            }
            break;
        }
    }
    println!("server: bye");
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
        println!("server: request {served} -> {reply:?}");
        conn.send(reply).await?;
    }
    println!("server: client left");
    Ok(())
}

async fn client(url: &str) -> Result<(), Box<dyn Error>> {
    let mut endpoint = Endpoint::parse(url)?;
    // A udp request or reply may be lost, and a missing server says nothing: do not wait
    // for ever.
    if endpoint.scheme() == Scheme::Udp && endpoint.option("recv_timeout").is_none() {
        endpoint = endpoint.with_option("recv_timeout", "5s")?;
    }
    let conn = anyipc::connect(&endpoint).await.map_err(|err| {
        format!("cannot connect to {url}: {err} (is `typed_rpc server {url}` running?)")
    })?;
    // This side sends `Request`s and receives `Reply`s.
    let mut conn = conn.typed::<Reply, Request>(Json);
    println!("client: connected to {url}");
    let requests = [
        Request::Add { a: 40, b: 2 },
        Request::Upper("typed messages over any transport".to_owned()),
        Request::Add { a: i64::MAX, b: 1 },
        Request::Count,
    ];
    for request in requests {
        println!("client: {request:?}");
        conn.send(request).await?;
        match conn.recv().await {
            Ok(Some(reply)) => println!("client:   -> {reply:?}"),
            Ok(None) => return Err("the server closed the connection".into()),
            Err(err) if err.kind() == io::ErrorKind::TimedOut => {
                return Err(format!("no reply from {url}: {err} (is the server running?)").into())
            }
            Err(err) => return Err(err.into()),
        }
    }
    println!("client: done");
    Ok(())
}
