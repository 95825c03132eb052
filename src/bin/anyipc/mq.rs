//! `anyipc mq create|stat|rm NAME`: manage named message queues (`mq://NAME`) — the queue's
//! life is independent of any process, like POSIX mq's `mq_open`/`mq_getattr`/`mq_unlink`.
//! Sending and receiving are `anyipc send mq://NAME` and `anyipc listen mq://NAME`.

use crate::output::say;
use crate::CliError;
use anyipc::queue::{MessageQueue, QueueOptions};

/// Arguments of `anyipc mq`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  anyipc mq create jobs --capacity 256 --max-message-len 4096
  anyipc send mq://jobs hello                  (mq://jobs?priority=9 sends at priority 9)
  anyipc listen mq://jobs                      (highest priority first, FIFO within one)
  anyipc mq stat jobs
  anyipc mq rm jobs

Exit codes: 0 done, 1 failed (no such queue, exists, corrupt), 2 bad usage.")]
pub(crate) struct MqArgs {
    #[command(subcommand)]
    action: MqAction,
}

#[derive(Debug, clap::Subcommand)]
enum MqAction {
    /// Create a queue (fails if the name is taken).
    Create {
        /// The queue name (letters, digits, '.', '_', '-').
        name: String,
        /// Messages the queue holds before senders wait.
        #[arg(long, default_value_t = QueueOptions::default().capacity)]
        capacity: u32,
        /// Largest message in bytes.
        #[arg(long, default_value_t = QueueOptions::default().max_message_len)]
        max_message_len: u32,
        /// Permissions of the segment, in octal.
        #[arg(long, default_value = "600", value_parser = parse_mode)]
        mode: u32,
    },
    /// Print a queue's capacity, max message length and current length.
    Stat {
        /// The queue name.
        name: String,
    },
    /// Remove a queue's name (open handles keep working until closed).
    Rm {
        /// The queue name.
        name: String,
    },
}

fn parse_mode(text: &str) -> Result<u32, String> {
    match u32::from_str_radix(text.trim_start_matches("0o"), 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err(format!("`{text}` is not an octal mode such as 600 or 0640")),
    }
}

/// A bad name is a usage error; everything else a runtime one.
fn failed(doing: &str, name: &str, err: std::io::Error) -> CliError {
    if err.kind() == std::io::ErrorKind::InvalidInput {
        CliError::Usage(err.to_string())
    } else {
        CliError::Runtime(format!("cannot {doing} queue {name}: {err}"))
    }
}

/// Runs `anyipc mq …`.
///
/// # Errors
/// As [`failed`] says.
pub(crate) fn run(args: MqArgs) -> Result<(), CliError> {
    match args.action {
        MqAction::Create {
            name,
            capacity,
            max_message_len,
            mode,
        } => {
            let options = QueueOptions {
                capacity,
                max_message_len,
                mode,
            };
            MessageQueue::create(&name, &options).map_err(|e| failed("create", &name, e))?;
            say!("created mq://{name} (capacity {capacity}, max_message_len {max_message_len})");
        }
        MqAction::Stat { name } => {
            let queue = MessageQueue::open(&name).map_err(|e| failed("open", &name, e))?;
            let attrs = queue.attributes();
            say!("queue:           mq://{name}");
            say!("capacity:        {}", attrs.capacity);
            say!("max_message_len: {}", attrs.max_message_len);
            say!("len:             {}", attrs.len);
        }
        MqAction::Rm { name } => {
            MessageQueue::remove(&name).map_err(|e| failed("remove", &name, e))?;
            say!("removed mq://{name}");
        }
    }
    Ok(())
}
