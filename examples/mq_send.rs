//! Send one typed message — a type and a text — into a named queue (see `mq_create`).
//!
//! ```text
//! cargo run --example mq_send -- note "hello"            # into mq://demo at priority 0
//! cargo run --example mq_send -- alert "disk full" 9     # priority 9 is received first
//! MQ=other cargo run --example mq_send -- note hi        # another queue
//! ```
//!
//! The message goes through the URL layer (`mq://demo?priority=9`) as JSON, so
//! `anyipc listen mq://demo` prints it too.

use futures::SinkExt;
use serde::{Deserialize, Serialize};
use std::process::ExitCode;

/// What `mq_send` sends and `mq_receive` prints.
#[derive(Debug, Serialize, Deserialize)]
struct Message {
    kind: String,
    text: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(kind), Some(text)) = (args.first(), args.get(1)) else {
        eprintln!("usage: mq_send TYPE TEXT [PRIORITY 0-31]");
        return ExitCode::from(2);
    };
    let priority = args.get(2).map_or("0", String::as_str);
    let name = std::env::var("MQ").unwrap_or_else(|_| "demo".to_owned());
    let url = format!("mq://{name}?priority={priority}");
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
        Ok(()) => {
            println!("sent {kind:?} {text:?} to {url}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("mq_send: {url}: {err} (create the queue with mq_create first)");
            ExitCode::FAILURE
        }
    }
}
