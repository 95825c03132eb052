//! A UDP client: send a few datagrams, print each reply, leave.
//!
//! Start the server first, in another terminal:
//!
//! ```text
//! cargo run --example udp_server                   # listens on udp://127.0.0.1:8889
//! cargo run --example udp_client                   # talks to it
//! ```
//!
//! Give another port or any `udp://` URL as the first argument (`-- 9001`), and messages to
//! send after it; without them it sends three.
//!
//! UDP delivers each message whole or not at all and tells nobody when nothing listens, so the
//! client waits at most `recv_timeout` (2 s unless the URL gives another) for each reply.

mod common;

use anyipc::Endpoint;
use std::error::Error;
use std::io;
use std::process::ExitCode;

/// The command line this example takes.
const USAGE: &str = "udp_client [PORT|URL] [MESSAGE...]";

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_status("udp_client", run().await).into()
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    // A first argument that starts with `-` is an unknown option, not a path or name.
    let url = match args
        .next()
        .map(|arg| common::positional(arg, USAGE))
        .transpose()?
    {
        Some(port) if port.parse::<u16>().is_ok() => format!("udp://127.0.0.1:{port}"),
        Some(url) => url,
        None => "udp://127.0.0.1:8889".to_owned(),
    };
    let mut messages: Vec<String> = args.collect();
    if messages.is_empty() {
        messages = ["hello", "from", "udp_client"].map(String::from).to_vec();
    }
    let mut endpoint = Endpoint::parse(&url)?;
    if endpoint.option("recv_timeout").is_none() {
        endpoint = endpoint.with_option("recv_timeout", "2s")?;
    }

    let mut conn = anyipc::connect(&endpoint)
        .await
        .map_err(|err| format!("cannot connect: {err} (is udp_server running?)"))?;
    common::say!("client: sending to {}", conn.peer_addr())?;
    for msg in messages {
        common::say!("client: sending {msg:?}")?;
        conn.send(msg).await?;
        match conn.recv().await {
            Ok(Some(reply)) => common::say!("client: reply {:?}", String::from_utf8_lossy(&reply))?,
            Ok(None) => return Err("the connection ended".into()),
            Err(err) if err.kind() == io::ErrorKind::TimedOut => {
                return Err(format!("no reply from {url}: is udp_server running?").into())
            }
            Err(err) => return Err(err.into()),
        }
    }
    common::say!("client: done")?;
    Ok(())
}
