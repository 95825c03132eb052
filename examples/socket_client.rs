//! The classic TCP client: connect, send a few messages, print each reply, leave.
//!
//! Start the server first, in another terminal:
//!
//! ```text
//! cargo run --example socket_server                # listens on tcp://127.0.0.1:8888
//! cargo run --example socket_client                # talks to it
//! ```
//!
//! Give another port or any endpoint URL as the first argument (`-- 9000`,
//! `-- tcp://192.168.1.7:8888`), and messages to send after it; without them it sends three.

mod common;

use std::error::Error;
use std::process::ExitCode;

/// The command line this example takes.
const USAGE: &str = "socket_client [PORT|URL] [MESSAGE...]";

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_status("socket_client", run().await).into()
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    // A first argument that starts with `-` is an unknown option, not a path or name.
    let url = match args
        .next()
        .map(|arg| common::positional(arg, USAGE))
        .transpose()?
    {
        Some(arg) => common::tcp_endpoint_arg(&arg, USAGE)?.to_string(),
        None => "tcp://127.0.0.1:8888".to_owned(),
    };
    let mut messages: Vec<String> = args.collect();
    if messages.is_empty() {
        messages = ["hello", "from", "socket_client"]
            .map(String::from)
            .to_vec();
    }

    let mut conn = anyipc::connect(&url)
        .await
        .map_err(|err| format!("cannot connect: {err} (is socket_server running?)"))?;
    common::say!("client: connected to {}", conn.peer_addr())?;
    for msg in messages {
        common::say!("client: sending {msg:?}")?;
        conn.send(msg).await?;
        match conn.recv().await? {
            Some(reply) => common::say!("client: reply {:?}", String::from_utf8_lossy(&reply))?,
            None => return Err("the server closed the connection".into()),
        }
    }
    common::say!("client: done")?;
    Ok(())
}
