//! Appends lines to a plain text file: the producer half of the classic file pair.
//!
//! Run the consumer in one terminal and this in another (either may start first):
//!
//! ```text
//! cargo run --example file_consumer                # tails $TMPDIR/anyipc-example.txt
//! cargo run --example file_producer                # appends 5 lines to it, one a second
//! ```
//!
//! Arguments: a file path or a `file://` URL (default `$TMPDIR/anyipc-example.txt`),
//! `--count N` lines (default 5), `--interval-ms MS` between them (default 1000). The file is
//! an ordinary text file (`framing=lines`): `tail -f` or any editor reads it too. It stays
//! after both programs end, and each run appends to it (`rm $TMPDIR/anyipc-example.txt`
//! starts afresh).

mod common;

use futures::SinkExt;

/// The command line this example takes.
const USAGE: &str = "file_producer [PATH|URL] [--count N] [--interval-ms MS]";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_status("file_producer", run().await).into()
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut url = common::lines_file(&std::env::temp_dir().join("anyipc-example.txt"))?.to_string();
    let (mut count, mut interval_ms) = (5u32, 1000u64);
    let mut args = std::env::args().skip(1);
    let mut positional_seen = false;
    while let Some(arg) = args.next() {
        common::no_second_positional(&mut positional_seen, &arg, USAGE)?;
        match arg.as_str() {
            "--count" => count = common::number(&mut args, "--count", USAGE)?,
            "--interval-ms" => interval_ms = common::number(&mut args, "--interval-ms", USAGE)?,
            other if common::is_option(other) => {
                return Err(common::Usage::unknown_option(other, USAGE).into())
            }
            other if other.contains("://") => url = other.to_owned(),
            path => url = common::lines_file(&std::path::absolute(path)?)?.to_string(),
        }
    }

    let mut file = anyipc::connect(&url).await?;
    common::say!("producer: appending to {url}")?;
    for i in 1..=count {
        let line = format!("line {i} of {count}");
        file.send(line.clone()).await?;
        common::say!("producer: wrote {line:?}")?;
        if i < count {
            tokio::time::sleep(std::time::Duration::from_millis(interval_ms)).await;
        }
    }
    // Closing writes what is pending and (fsync=batch, the default) syncs it to disk.
    file.close().await?;
    common::say!("producer: done")?;
    Ok(())
}
