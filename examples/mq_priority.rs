//! Priorities: messages sent at priorities 0–31 come out highest first, and in the order
//! they were sent within one priority — from a queue in shared memory, as POSIX mq does.
//!
//! ```text
//! cargo run --example mq_priority
//! ```
//!
//! It creates a private queue, sends six jobs, receives them, and removes the queue.

mod common;

use anyipc::queue::{MessageQueue, QueueOptions};
use std::process::ExitCode;

/// The command line this example takes.
const USAGE: &str = "mq_priority";

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(usage) = common::only(std::env::args().skip(1), &[], USAGE) {
        return common::exit_status("mq_priority", Err(usage.into())).into();
    }
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mq_priority: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> std::io::Result<()> {
    let name = format!("priority-demo-{}", std::process::id());
    let queue = MessageQueue::create(&name, &QueueOptions::default())?;
    let jobs = [
        (0, "tidy the logs"),
        (20, "page the on-call engineer"),
        (5, "resize thumbnails"),
        (20, "restart the database"),
        (0, "send the newsletter"),
        (5, "rebuild the search index"),
    ];
    for (priority, job) in jobs {
        queue.send(job.as_bytes(), priority).await?;
        common::say!("sent     p{priority:<2} {job}")?;
    }
    common::say!()?;
    while let Ok((job, priority)) = queue.try_recv() {
        common::say!("received p{priority:<2} {}", String::from_utf8_lossy(&job))?;
    }
    MessageQueue::remove(&name)
}
