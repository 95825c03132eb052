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
//! `--count N` to exit after N lines. Otherwise it runs until Ctrl-C (or SIGTERM).

mod common;

use futures::StreamExt;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("file_consumer: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut path = std::env::temp_dir().join("anyipc-example.txt");
    let mut url = None;
    let (mut follow, mut count) = (true, None::<u64>);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--no-follow" => follow = false,
            "--count" => count = Some(args.next().ok_or("--count needs a number")?.parse()?),
            other if other.contains("://") => url = Some(other.to_owned()),
            other => path = std::path::absolute(other)?,
        }
    }
    let url =
        url.unwrap_or_else(|| format!("file://{}?framing=lines&follow={follow}", path.display()));

    // Binding a plain file opens it for reading; its one "connection" is the reader.
    let mut listener = anyipc::bind(&url).await?;
    let mut stop = std::pin::pin!(common::stop_signal()?);
    println!("consumer: reading {}", listener.endpoint());
    let mut lines = listener.accept().await?;
    let mut seen = 0;
    loop {
        let line = tokio::select! {
            line = lines.next() => line,
            () = &mut stop => break,
        };
        let Some(line) = line else { break };
        println!("consumer: {:?}", String::from_utf8_lossy(&line?));
        seen += 1;
        if count == Some(seen) {
            break;
        }
    }
    println!("consumer: {seen} lines, done");
    Ok(())
}
