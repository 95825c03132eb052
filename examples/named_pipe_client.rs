//! A named-pipe client: connect by name, send a few messages, print each reply, leave.
//!
//! Start the server first, in another terminal:
//!
//! ```text
//! cargo run --example named_pipe_server            # listens on pipe://anyipc-example
//! cargo run --example named_pipe_client            # talks to it
//! ```
//!
//! Give another name or endpoint URL as the first argument (`-- orders`), and messages to send
//! after it; without them it sends three.

mod common;

/// The command line this example takes.
const USAGE: &str = "named_pipe_client [NAME|URL] [MESSAGE...]";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_status("named_pipe_client", run().await).into()
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
        Some(name) => format!("pipe://{name}"),
        None => "pipe://anyipc-example".to_owned(),
    };
    let mut messages: Vec<String> = args.collect();
    if messages.is_empty() {
        messages = ["hello", "from", "named_pipe_client"]
            .map(String::from)
            .to_vec();
    }

    let mut conn = anyipc::connect(&url)
        .await
        .map_err(|err| format!("cannot connect: {err} (is named_pipe_server running?)"))?;
    common::say!("client: connected to {url}")?;
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
