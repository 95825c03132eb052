//! Send one typed message — a type and a text — into a named queue (see `mq_create`).
//!
//! ```text
//! cargo run --example mq_send -- note "hello"            # into mq://demo at priority 0
//! cargo run --example mq_send -- alert "disk full" 9     # priority 9 is received first
//! MQ=other cargo run --example mq_send -- note hi        # another queue
//! ```
//!
//! The message goes through the URL layer (`mq://demo?priority=9`) as JSON, so
//! `anyipc listen mq://demo` prints it too. A full queue (16 messages waiting) is waited on
//! for 5 s (`send_timeout=5s`), then the send fails saying so. `MQ` is a queue name (letters, digits, '.', '_'
//! and '-'); anything else is refused (exit status 2) rather than pasted into the URL.

mod common;

use serde::{Deserialize, Serialize};
use std::process::ExitCode;

/// What `mq_send` sends and `mq_receive` prints.
#[derive(Debug, Serialize, Deserialize)]
struct Message {
    kind: String,
    text: String,
}

/// The command line this example takes.
const USAGE: &str = "mq_send TYPE TEXT [PRIORITY 0-31]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, text) = match (args.first(), args.get(1)) {
        // Not a type: an option this example does not have.
        (Some(kind), _) if common::is_option(kind) => {
            let usage = common::Usage::unknown_option(kind, USAGE);
            return common::exit_status("mq_send", Err(usage.into())).into();
        }
        (Some(kind), Some(text)) => (kind, text),
        _ => {
            let usage = common::Usage::new("a TYPE and a TEXT are needed", USAGE);
            return common::exit_status("mq_send", Err(usage.into())).into();
        }
    };
    let priority = match args.get(2).map(|p| p.parse::<u8>()) {
        None => 0,
        Some(Ok(priority)) if priority < anyipc::queue::PRIORITIES && args.len() == 3 => priority,
        Some(_) => {
            let problem = match args.get(3) {
                Some(extra) => format!("unexpected argument {extra:?}"),
                None => format!("PRIORITY is a number from 0 to 31, not {:?}", args[2]),
            };
            let usage = common::Usage::new(problem, USAGE);
            return common::exit_status("mq_send", Err(usage.into())).into();
        }
    };
    let name = match common::queue_name_from_env(USAGE) {
        Ok(name) => name,
        Err(usage) => return common::exit_status("mq_send", Err(usage.into())).into(),
    };
    let url = format!("mq://{name}?priority={priority}&send_timeout=5s");
    let sent = async {
        let mut queue = anyipc::connect(&url)
            .await?
            .typed::<Message, Message>(anyipc::codec::Json);
        queue
            .send(Message {
                kind: kind.clone(),
                text: text.clone(),
            })
            .await
    };
    match sent.await {
        Ok(()) => match common::say!("sent {kind:?} {text:?} to {url}") {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("mq_send: {err}");
                ExitCode::FAILURE
            }
        },
        Err(err) => {
            eprintln!("mq_send: {url}: {err}{}", common::create_queue_hint(&err));
            ExitCode::FAILURE
        }
    }
}
