//! Receive one typed message from a named queue and print it, waiting for one if the queue is
//! empty (see `mq_create` and `mq_send`).
//!
//! ```text
//! cargo run --example mq_receive                   # from mq://demo
//! MQ=other cargo run --example mq_receive          # another queue
//! ```
//!
//! `MQ` is a queue name (letters, digits, '.', '_' and '-'); anything else is refused (exit
//! status 2) rather than pasted into the URL, where `MQ='demo?recv_timeout=1s'` would set an
//! option.
//!
//! Several receivers may wait on one queue, in any processes: each message goes to exactly
//! one of them, the highest priority first.

mod common;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::process::ExitCode;

/// The command line this example takes (the queue's name comes from `MQ`).
const USAGE: &str = "mq_receive";

/// What `mq_send` sends.
#[derive(Debug, Serialize, Deserialize)]
struct Message {
    kind: String,
    text: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(usage) = common::only(std::env::args().skip(1), &[], USAGE) {
        return common::exit_status("mq_receive", Err(usage.into())).into();
    }
    let name = match common::queue_name_from_env(USAGE) {
        Ok(name) => name,
        Err(usage) => return common::exit_status("mq_receive", Err(usage.into())).into(),
    };
    let url = format!("mq://{name}");
    let received = async {
        let mut queue = anyipc::connect(&url)
            .await?
            .typed::<Message, Message>(anyipc::codec::Json);
        queue.next().await.transpose()
    };
    match received.await {
        Ok(Some(msg)) => match common::say!("[{}] {}", msg.kind, msg.text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("mq_receive: {err}");
                ExitCode::FAILURE
            }
        },
        Ok(None) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!(
                "mq_receive: {url}: {err}{}",
                common::create_queue_hint(&err)
            );
            ExitCode::FAILURE
        }
    }
}
