//! The classic TCP server: accept clients, print what each sends, answer every message.
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run --example socket_server                # listens on tcp://127.0.0.1:8888
//! cargo run --example socket_client                # talks to it
//! ```
//!
//! Give another port or any endpoint URL as the first argument (`-- 9000`, `-- tcp://0.0.0.0:0`;
//! port 0 picks a free port and the server prints which). `--once` serves one client and exits;
//! otherwise the server runs until stopped. Ctrl-C (or SIGTERM) stops it at any time, also
//! while clients are connected: it drops their connections and the listener, and exits.
//!
//! Each client gets its own task, so many can talk at once. Nothing here is TCP-specific but
//! the default URL: the same code serves `unix://`, `udp://` or any other transport.

mod common;

use anyipc::Connection;
use futures::StreamExt;
use std::error::Error;
use std::process::ExitCode;

/// The command line this example takes.
const USAGE: &str = "socket_server [PORT|URL] [--once]";

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_status("socket_server", run().await).into()
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut url = "tcp://127.0.0.1:8888".to_owned();
    let mut once = false;
    let mut positional_seen = false;
    for arg in std::env::args().skip(1) {
        common::no_second_positional(&mut positional_seen, &arg, USAGE)?;
        match arg.as_str() {
            "--once" => once = true,
            other if common::is_option(other) => {
                return Err(common::Usage::unknown_option(other, USAGE).into())
            }
            other => url = common::tcp_endpoint_arg(other, USAGE)?.to_string(),
        }
    }

    let mut listener = anyipc::bind(&url).await?;
    let mut stop = std::pin::pin!(common::stop_signal()?);
    // With port 0 the listener's endpoint names the port the OS picked.
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

/// Answers every message of one client with `echo: <message>` until it leaves.
async fn serve(mut conn: Connection) -> std::io::Result<()> {
    let peer = conn.peer_addr().to_owned();
    while let Some(msg) = conn.next().await {
        let msg = msg?;
        common::say!("server: {peer} says {:?}", String::from_utf8_lossy(&msg))?;
        let mut reply = b"echo: ".to_vec();
        reply.extend_from_slice(&msg);
        conn.send(reply).await?;
    }
    common::say!("server: {peer} left")?;
    Ok(())
}
