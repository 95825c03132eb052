//! Reads lines from a plain text file, then follows it like `tail -f`: the consumer half of
//! the classic file pair.
//!
//! ```text
//! cargo run --example file_consumer                # tails $TMPDIR/anyipc-example.txt
//! cargo run --example file_producer                # in another terminal: appends to it
//! ```
//!
//! Arguments: a file path or a `file://` URL (default `$TMPDIR/anyipc-example.txt`),
//! `--no-follow` to read to the end and exit (a last line without its newline counts),
//! `--count N` to exit after N lines. Otherwise it runs until Ctrl-C (or SIGTERM). There is no
//! `--once`: every producer appends to the one file this reads, so there is no one client to
//! serve. Any other argument starting with `-` is refused (exit status 2).

mod common;

use futures::StreamExt;

/// The command line this example takes.
const USAGE: &str = "file_consumer [PATH|URL] [--no-follow] [--count N]";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_status("file_consumer", run().await).into()
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    use common::Usage;

    let mut path = std::env::temp_dir().join("anyipc-example.txt");
    let mut url = None;
    let (mut follow, mut count) = (true, None::<u64>);
    let mut args = std::env::args().skip(1);
    let mut positional_seen = false;
    while let Some(arg) = args.next() {
        common::no_second_positional(&mut positional_seen, &arg, USAGE)?;
        match arg.as_str() {
            "--no-follow" => follow = false,
            "--count" => count = Some(common::number(&mut args, "--count", USAGE)?),
            "--once" => {
                return Err(Usage::new(
                    "a file has no clients to count for --once (every producer appends to it); \
                     --no-follow reads to the end and exits, --count N stops after N lines",
                    USAGE,
                )
                .into())
            }
            other if common::is_option(other) => {
                return Err(Usage::unknown_option(other, USAGE).into())
            }
            other if other.contains("://") => url = Some(other.to_owned()),
            other => path = std::path::absolute(other)?,
        }
    }
    // A path is escaped into the URL (`%`, `?`, `#` and spaces mean something there).
    let endpoint = match url {
        Some(url) => anyipc::Endpoint::parse(&url)?,
        None => common::lines_file(&path)?,
    };
    // --no-follow holds for a URL too (over its own `follow=`).
    let url = if follow {
        endpoint
    } else {
        endpoint.with_option("follow", "false")?
    };

    // Binding a plain file opens it for reading; its one "connection" is the reader.
    let mut listener = anyipc::bind(&url).await?;
    let mut stop = std::pin::pin!(common::stop_signal()?);
    common::say!("consumer: reading {}", listener.endpoint())?;
    let mut lines = listener.accept().await?;
    let mut seen = 0;
    while count != Some(seen) {
        let line = tokio::select! {
            line = lines.next() => line,
            () = &mut stop => break,
        };
        let Some(line) = line else { break };
        common::say!("consumer: {:?}", String::from_utf8_lossy(&line?))?;
        seen += 1;
    }
    common::say!("consumer: {seen} lines, done")?;
    Ok(())
}
