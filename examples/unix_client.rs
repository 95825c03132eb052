//! A Unix-socket client: connect, send a few messages, print each reply, leave.
//!
//! Start the server first, in another terminal:
//!
//! ```text
//! cargo run --example unix_server                  # listens on unix://$TMPDIR/anyipc-example.sock
//! cargo run --example unix_client                  # talks to it
//! ```
//!
//! Give another socket path or any endpoint URL as the first argument (`-- /run/app.sock`,
//! `-- unix://@app`), and messages to send after it; without them it sends three.

#[cfg(unix)]
mod common;

#[cfg(unix)]
use anyipc::{Endpoint, Scheme};

/// The command line this example takes.
#[cfg(unix)]
const USAGE: &str = "unix_client [PATH|URL] [MESSAGE...]";

#[cfg(unix)]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_status("unix_client", run().await).into()
}

#[cfg(unix)]
async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    // A first argument that starts with `-` is an unknown option, not a path or name.
    let url = match args
        .next()
        .map(|arg| common::positional(arg, USAGE))
        .transpose()?
    {
        Some(url) if url.contains("://") => url,
        // A path as it is: `?`, `%` or `#` in it are escaped, not read as URL syntax.
        Some(path) => Endpoint::from_path(Scheme::Unix, std::path::absolute(path)?)?.to_string(),
        None => {
            let path = std::env::temp_dir().join("anyipc-example.sock");
            Endpoint::from_path(Scheme::Unix, path)?.to_string()
        }
    };
    let mut messages: Vec<String> = args.collect();
    if messages.is_empty() {
        messages = ["hello", "from", "unix_client"].map(String::from).to_vec();
    }

    let mut conn = anyipc::connect(&url)
        .await
        .map_err(|err| format!("cannot connect: {err} (is unix_server running?)"))?;
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

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("unix_client needs Unix sockets; try socket_client");
    std::process::ExitCode::FAILURE
}
