//! A UDP server written like a TCP one: each sender becomes a connection to accept.
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run --example udp_server                   # listens on udp://127.0.0.1:8889
//! cargo run --example udp_client                   # talks to it
//! ```
//!
//! Give another port or any `udp://` URL as the first argument (`-- 9001`,
//! `-- udp://0.0.0.0:0`; port 0 picks a free port and the server prints which). `--once` serves
//! one client and exits; otherwise the server runs until stopped. Ctrl-C (or SIGTERM) stops it
//! at any time, also while a client is connected.
//!
//! UDP has no connections: anyipc demultiplexes datagrams by sender address, so a new address
//! is `accept`ed as a new connection, and each datagram is one message. Nothing ever says that
//! a client left, so the server forgets a client that sends nothing for `recv_timeout` (2 s
//! unless the URL gives another, e.g. `udp://127.0.0.1:8889?recv_timeout=30s`).

mod common;

use anyipc::{Connection, Endpoint};
use futures::StreamExt;
use std::error::Error;
use std::io;
use std::process::ExitCode;

/// The command line this example takes.
const USAGE: &str = "udp_server [PORT|URL] [--once]";

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_status("udp_server", run().await).into()
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut url = "udp://127.0.0.1:8889".to_owned();
    let mut once = false;
    let mut positional_seen = false;
    for arg in std::env::args().skip(1) {
        common::no_second_positional(&mut positional_seen, &arg, USAGE)?;
        match arg.as_str() {
            "--once" => once = true,
            other if common::is_option(other) => {
                return Err(common::Usage::unknown_option(other, USAGE).into())
            }
            port if port.parse::<u16>().is_ok() => url = format!("udp://127.0.0.1:{port}"),
            other => url = other.to_owned(),
        }
    }
    let mut endpoint = Endpoint::parse(&url)?;
    if endpoint.option("recv_timeout").is_none() {
        endpoint = endpoint.with_option("recv_timeout", "2s")?;
    }

    let mut listener = anyipc::bind(&endpoint).await?;
    let mut stop = std::pin::pin!(common::stop_signal()?);
    common::say!("server: listening on {}", listener.endpoint())?;
    loop {
        let conn = tokio::select! {
            conn = listener.accept() => conn?,
            () = &mut stop => break,
        };
        common::say!("server: first datagram from {}", conn.peer_addr())?;
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

/// Answers every datagram of one client with `echo: <message>` until it goes quiet.
async fn serve(mut conn: Connection) -> io::Result<()> {
    let peer = conn.peer_addr().to_owned();
    while let Some(msg) = conn.next().await {
        let msg = match msg {
            Ok(msg) => msg,
            Err(err) if err.kind() == io::ErrorKind::TimedOut => {
                common::say!("server: {peer} went quiet, forgetting it")?;
                return Ok(());
            }
            Err(err) => return Err(err),
        };
        common::say!("server: {peer} says {:?}", String::from_utf8_lossy(&msg))?;
        let mut reply = b"echo: ".to_vec();
        reply.extend_from_slice(&msg);
        conn.send(reply).await?;
    }
    Ok(())
}
