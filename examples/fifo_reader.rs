//! A FIFO reader: create a named FIFO and print what every writer sends to it.
//!
//! Run it in one terminal, then writers in others (as many as you like, at any time):
//!
//! ```text
//! cargo run --example fifo_reader                  # creates $TMPDIR/anyipc-example.fifo
//! cargo run --example fifo_writer                  # writes to it
//! ```
//!
//! Give another path or endpoint URL as the first argument (`-- /run/user/1000/app.fifo`).
//! `--count N` stops after N messages; otherwise the reader runs until Ctrl-C (or SIGTERM),
//! which removes the FIFO. There is no `--once`: all writers share the one stream this reader
//! reads, and it cannot tell when one of them leaves (see below), so there is no one client to
//! serve. Any other argument starting with `-` is refused (exit status 2).
//!
//! A FIFO is one-way: this side only reads, writers only write. Writers may come and go; the
//! reader keeps waiting for the next message. Each message is one atomic write, so messages
//! of several writers never mix (a message is at most PIPE_BUF − 4 bytes, 4092 on Linux).

#[cfg(unix)]
mod common;

/// The command line this example takes.
#[cfg(unix)]
const USAGE: &str = "fifo_reader [PATH|URL] [--count N]";

#[cfg(unix)]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_status("fifo_reader", run().await).into()
}

#[cfg(unix)]
async fn run() -> Result<(), Box<dyn std::error::Error>> {
    use common::Usage;

    let mut url = default_url();
    let mut count = None;
    let mut args = std::env::args().skip(1);
    let mut positional_seen = false;
    while let Some(arg) = args.next() {
        common::no_second_positional(&mut positional_seen, &arg, USAGE)?;
        match arg.as_str() {
            "--count" => count = Some(common::number::<u64>(&mut args, "--count", USAGE)?),
            "--once" => {
                return Err(Usage::new(
                    "a FIFO has no clients to count for --once (all writers share one stream); \
                     --count N stops after N messages",
                    USAGE,
                )
                .into())
            }
            other if common::is_option(other) => {
                return Err(Usage::unknown_option(other, USAGE).into())
            }
            other if other.contains("://") => url = other.to_owned(),
            // A path is escaped into the URL (`%`, `?`, `#` and spaces mean something there).
            path => url = common::fifo_url(&std::path::absolute(path)?)?,
        }
    }

    let mut listener = anyipc::bind(&url).await?;
    let mut stop = std::pin::pin!(common::stop_signal()?);
    common::say!("server: listening on {}", listener.endpoint())?;
    let mut inbox = listener.accept().await?;
    let mut seen = 0;
    while count != Some(seen) {
        let msg = tokio::select! {
            msg = inbox.recv() => msg?,
            // Returning drops the listener, which removes the FIFO.
            () = &mut stop => break,
        };
        let Some(msg) = msg else { break };
        common::say!("server: got {:?}", String::from_utf8_lossy(&msg))?;
        seen += 1;
    }
    common::say!("server: bye")?;
    Ok(())
}

/// `fifo://` and the path both examples use by default.
#[cfg(unix)]
fn default_url() -> String {
    common::fifo_url(&std::env::temp_dir().join("anyipc-example.fifo"))
        .expect("the temporary directory is an absolute path")
}

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("fifo_reader needs POSIX FIFOs; try named_pipe_server");
    std::process::ExitCode::FAILURE
}
