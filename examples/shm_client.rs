//! A shared-memory client: connect by name, send a few messages, print each reply and the
//! round-trip time, leave.
//!
//! Start the server first, in another terminal:
//!
//! ```text
//! cargo run --example shm_server            # listens on shm://anyipc-example
//! cargo run --example shm_client            # talks to it
//! ```
//!
//! Give another name or endpoint URL as the first argument (`-- orders`), and messages to send
//! after it; without them it sends three. Linux only.

mod common;

use std::time::Instant;

/// The command line this example takes.
const USAGE: &str = "shm_client [NAME|URL] [MESSAGE...]";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_status("shm_client", run().await).into()
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    // A first argument that starts with `-` is an unknown option, not a path or name.
    let url = match args
        .next()
        .map(|arg| common::positional(arg, USAGE))
        .transpose()?
    {
        Some(url) if url.contains("://") => url,
        Some(name) => format!("shm://{name}"),
        None => "shm://anyipc-example".to_owned(),
    };
    let mut messages: Vec<String> = args.collect();
    if messages.is_empty() {
        messages = ["hello", "from", "shm_client"].map(String::from).to_vec();
    }

    let mut conn = anyipc::connect(&url)
        .await
        .map_err(|err| format!("cannot connect: {err} (is shm_server running?)"))?;
    common::say!("client: connected to {url}")?;
    for msg in messages {
        common::say!("client: sending {msg:?}")?;
        let sent = Instant::now();
        conn.send(msg).await?;
        match conn.recv().await? {
            Some(reply) => common::say!(
                "client: reply {:?} after {:?}",
                String::from_utf8_lossy(&reply),
                sent.elapsed()
            )?,
            None => return Err("the server closed the connection".into()),
        }
    }
    common::say!("client: done")?;
    Ok(())
}
