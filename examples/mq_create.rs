//! Create a named message queue that outlives this program (the first of the classic three).
//!
//! ```text
//! cargo run --example mq_create                    # creates mq://demo (16 messages of ≤ 1 KiB)
//! cargo run --example mq_send -- note "hello"      # sends a message of type "note"
//! cargo run --example mq_receive                   # receives and prints it
//! anyipc mq rm demo                                # removes the queue (or: mq_create -- --rm)
//! ```
//!
//! Give another name as the first argument, or in `MQ` as `mq_send` and `mq_receive` take it
//! (`MQ=other cargo run --example mq_create`); `--rm` removes the queue instead. Any other
//! argument starting with `-` is refused (exit status 2).

mod common;

use anyipc::queue::{MessageQueue, QueueOptions};
use std::process::ExitCode;

/// The command line this example takes.
const USAGE: &str = "mq_create [NAME] [--rm]";

fn main() -> ExitCode {
    common::exit_status("mq_create", run()).into()
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut name = common::queue_name_from_env(USAGE)?;
    let mut remove = false;
    let mut positional_seen = false;
    for arg in std::env::args().skip(1) {
        common::no_second_positional(&mut positional_seen, &arg, USAGE)?;
        match arg.as_str() {
            "--rm" => remove = true,
            _ => name = common::positional(arg, USAGE)?,
        }
    }
    let named = |err: std::io::Error| format!("{name}: {err}");
    if remove {
        MessageQueue::remove(&name).map_err(named)?;
        common::say!("removed mq://{name}")?;
    } else {
        let options = QueueOptions {
            capacity: 16,
            max_message_len: 1024,
            ..QueueOptions::default()
        };
        let queue = MessageQueue::create(&name, &options).map_err(named)?;
        let a = queue.attributes();
        common::say!(
            "created mq://{name}: capacity {}, max_message_len {} (it stays until removed)",
            a.capacity,
            a.max_message_len
        )?;
    }
    Ok(())
}
