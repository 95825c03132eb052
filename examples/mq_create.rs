//! Create a named message queue that outlives this program (the first of the classic three).
//!
//! ```text
//! cargo run --example mq_create                    # creates mq://demo (16 messages of ≤ 1 KiB)
//! cargo run --example mq_send -- note "hello"      # sends a message of type "note"
//! cargo run --example mq_receive                   # receives and prints it
//! anyipc mq rm demo                                # removes the queue (or: mq_create -- --rm)
//! ```
//!
//! Give another name as the first argument; `--rm` removes the queue instead.

use anyipc::queue::{MessageQueue, QueueOptions};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let remove = args.iter().any(|a| a == "--rm");
    let name = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("demo", String::as_str);
    let result = if remove {
        MessageQueue::remove(name).map(|()| println!("removed mq://{name}"))
    } else {
        let options = QueueOptions {
            capacity: 16,
            max_message_len: 1024,
            ..QueueOptions::default()
        };
        MessageQueue::create(name, &options).map(|queue| {
            let a = queue.attributes();
            println!(
                "created mq://{name}: capacity {}, max_message_len {} (it stays until removed)",
                a.capacity, a.max_message_len
            );
        })
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mq_create: {name}: {err}");
            ExitCode::FAILURE
        }
    }
}
