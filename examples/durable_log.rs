//! A durable log with a consumer that is stopped and restarted and resumes at its cursor.
//!
//! ```text
//! cargo run --example durable_log                  # in a fresh directory under $TMPDIR
//! cargo run --example durable_log -- /var/tmp/orders
//! ```
//!
//! 1. A producer (`anyipc::connect("file:///dir?fsync=always")`) appends orders; each send
//!    returns once its record is on disk.
//! 2. Consumer `billing` reads some, commits its cursor, and stops.
//! 3. More orders arrive while it is down.
//! 4. `billing` restarts and resumes right after its committed record; nothing is lost or
//!    repeated. (A record read but not committed would be delivered again: at-least-once.)
//!
//! Run it twice on the same directory: the second run continues the numbering, and
//! `billing` picks up where it left off.

use anyipc::file::{FileConsumer, FileOptions};
use futures::SinkExt;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("durable_log: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = match std::env::args().nth(1) {
        Some(dir) => std::path::absolute(dir)?,
        None => std::env::temp_dir().join(format!("anyipc-durable-log-{}", std::process::id())),
    };
    let url = format!("file://{}?fsync=always", dir.display());
    let consumer_opts = FileOptions {
        follow: false,
        ..FileOptions::from_endpoint(&url.parse()?)
    };

    let mut producer = anyipc::connect(&url).await?;
    println!("producer: appending to {url}");
    for i in 1..=6 {
        producer.send(format!("order {i}")).await?;
    }
    println!("producer: 6 orders on disk");

    let mut billing = FileConsumer::open(&dir, Some("billing"), consumer_opts.clone()).await?;
    println!("billing: starts at record {}", billing.position());
    for _ in 0..4 {
        let Some(record) = billing.recv().await? else {
            break;
        };
        println!(
            "billing: #{} {}",
            record.seq,
            String::from_utf8_lossy(&record.payload)
        );
    }
    billing.commit().await?;
    println!(
        "billing: committed at record {}, stopping",
        billing.position()
    );
    drop(billing);

    for i in 7..=9 {
        producer.send(format!("order {i}")).await?;
    }
    producer.close().await?;
    println!("producer: 3 more orders while billing was down");

    let mut billing = FileConsumer::open(&dir, Some("billing"), consumer_opts).await?;
    println!(
        "billing: restarted, resumes at record {}",
        billing.position()
    );
    while let Some(record) = billing.recv().await? {
        println!(
            "billing: #{} {}",
            record.seq,
            String::from_utf8_lossy(&record.payload)
        );
    }
    billing.commit().await?;
    println!(
        "billing: caught up at record {}; log in {}",
        billing.position(),
        dir.display()
    );
    Ok(())
}
