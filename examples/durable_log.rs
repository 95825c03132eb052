//! A durable log with a consumer that is stopped and restarted and resumes at its cursor.
//!
//! ```text
//! cargo run --example durable_log                  # orders 1-9 into a new log
//! cargo run --example durable_log                  # again: orders 10-18, billing resumes
//! cargo run --example durable_log -- --clean       # removes the log
//! cargo run --example durable_log -- /var/tmp/orders   # the same in another directory
//! ```
//!
//! The log lives in `$XDG_RUNTIME_DIR/anyipc-durable-log` (or, without `XDG_RUNTIME_DIR`,
//! `anyipc-durable-log-$USER` in the temp directory) unless a directory is given, and stays
//! there between runs: each run goes on where the last one ended. `--clean` (with the same
//! directory argument, if any) removes it, as `anyipc rm file:///dir` does.
//!
//! 1. A producer ([`FileProducer`], which `anyipc::connect("file:///dir?fsync=always")` wraps
//!    as a `Connection`) appends six orders; each append returns once its record is on disk.
//!    Order numbers go on from the log's next sequence number: order `n` is record `n - 1`.
//! 2. Consumer `billing` reads up to four, commits its cursor, and stops.
//! 3. Three more orders arrive while it is down.
//! 4. `billing` restarts and resumes right after its committed record; nothing is lost or
//!    repeated. (A record read but not committed would be delivered again: at-least-once.)
//!
//! The second run starts with order 10, and `billing` starts at record 9, where the first
//! run left it.

mod common;

use anyipc::file::{FileConsumer, FileOptions, FileProducer, FsyncPolicy};
use std::path::PathBuf;

/// The command line this example takes.
const USAGE: &str = "durable_log [--clean] [DIR]";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_status("durable_log", run().await).into()
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut dir = None;
    let mut clean = false;
    let mut positional_seen = false;
    for arg in std::env::args().skip(1) {
        common::no_second_positional(&mut positional_seen, &arg, USAGE)?;
        match arg.as_str() {
            "--clean" => clean = true,
            flag if common::is_option(flag) => {
                return Err(common::Usage::unknown_option(flag, USAGE).into())
            }
            path => dir = Some(std::path::absolute(path)?),
        }
    }
    let dir = dir.unwrap_or_else(default_dir);
    if clean {
        // Removes the segments, cursors and lock of a log only, never other files.
        anyipc::file::remove(&dir).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => format!("no log in {} to remove", dir.display()),
            _ => format!("cannot remove the log in {}: {err}", dir.display()),
        })?;
        common::say!("removed the log in {}", dir.display())?;
        return Ok(());
    }

    let opts = FileOptions {
        fsync: FsyncPolicy::Always,
        // The consumer reads to the end of the log, then its stream ends.
        follow: false,
        ..FileOptions::default()
    };
    let mut producer = FileProducer::open(&dir, opts.clone()).await?;
    common::say!(
        "producer: appending to file://{}?fsync=always ({} records in it so far)",
        dir.display(),
        producer.next_seq()
    )?;
    for _ in 0..6 {
        let order = producer.next_seq() + 1;
        producer.append(format!("order {order}")).await?;
    }
    common::say!(
        "producer: 6 orders on disk, up to order {}",
        producer.next_seq()
    )?;

    let mut billing = FileConsumer::open(&dir, Some("billing"), opts.clone()).await?;
    common::say!("billing: starts at record {}", billing.position())?;
    for _ in 0..4 {
        let Some(record) = billing.recv().await? else {
            break;
        };
        common::say!(
            "billing: #{} {}",
            record.seq,
            String::from_utf8_lossy(&record.payload)
        )?;
    }
    billing.commit().await?;
    common::say!(
        "billing: committed at record {}, stopping",
        billing.position()
    )?;
    drop(billing);

    for _ in 0..3 {
        let order = producer.next_seq() + 1;
        producer.append(format!("order {order}")).await?;
    }
    producer.close().await?;
    common::say!("producer: 3 more orders while billing was down")?;

    let mut billing = FileConsumer::open(&dir, Some("billing"), opts).await?;
    common::say!(
        "billing: restarted, resumes at record {}",
        billing.position()
    )?;
    while let Some(record) = billing.recv().await? {
        common::say!(
            "billing: #{} {}",
            record.seq,
            String::from_utf8_lossy(&record.payload)
        )?;
    }
    billing.commit().await?;
    common::say!(
        "billing: caught up at record {}; log in {} (run again to go on, --clean to remove)",
        billing.position(),
        dir.display()
    )?;
    Ok(())
}

/// `$XDG_RUNTIME_DIR/anyipc-durable-log`, or `anyipc-durable-log-$USER` in the temp directory.
fn default_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(runtime) if runtime.is_absolute() => runtime.join("anyipc-durable-log"),
        // The temp directory may be shared: the user's name keeps users' logs apart.
        _ => {
            let user = std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .unwrap_or_else(|_| "user".to_owned());
            std::env::temp_dir().join(format!("anyipc-durable-log-{user}"))
        }
    }
}
