//! A FIFO writer: send a few messages into a FIFO that `fifo_reader` reads.
//!
//! Start the reader first, in another terminal:
//!
//! ```text
//! cargo run --example fifo_reader                  # creates $TMPDIR/anyipc-example.fifo
//! cargo run --example fifo_writer                  # writes to it
//! ```
//!
//! Give another path or endpoint URL as the first argument, and messages to send after it;
//! without them it sends three. A FIFO carries no replies: the writer only writes.

#[cfg(unix)]
mod common;

/// The command line this example takes.
#[cfg(unix)]
const USAGE: &str = "fifo_writer [PATH|URL] [MESSAGE...]";

#[cfg(unix)]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_status("fifo_writer", run().await).into()
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
        // A path is escaped into the URL (`%`, `?`, `#` and spaces mean something there).
        Some(path) => common::fifo_url(&std::path::absolute(path)?)?,
        None => common::fifo_url(&std::env::temp_dir().join("anyipc-example.fifo"))?,
    };
    let mut messages: Vec<String> = args.collect();
    if messages.is_empty() {
        messages = ["hello", "from", "fifo_writer"].map(String::from).to_vec();
    }

    let mut conn = anyipc::connect(&url)
        .await
        .map_err(|err| format!("cannot open {url}: {err} (is fifo_reader running?)"))?;
    common::say!("client: connected to {url}")?;
    for msg in messages {
        common::say!("client: sending {msg:?}")?;
        conn.send(msg).await?;
    }
    common::say!("client: done")?;
    Ok(())
}

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("fifo_writer needs POSIX FIFOs; try named_pipe_client");
    std::process::ExitCode::FAILURE
}
