//! `anyipc mq create|stat|rm NAME`: manage named message queues (`mq://NAME`) — the queue's
//! life is independent of any process, like POSIX mq's `mq_open`/`mq_getattr`/`mq_unlink`.
//! Sending and receiving are `anyipc send mq://NAME` and `anyipc listen mq://NAME`.

use crate::output::say;
use crate::size_arg::parse_size_up_to;
use crate::CliError;
use anyipc::queue::{MessageQueue, QueueOptions, MAX_CAPACITY, MAX_MESSAGE_LEN};

/// Arguments of `anyipc mq`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  anyipc mq create jobs --capacity 256 --max-message-len 4KiB
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
        /// Messages the queue holds before senders wait: a count of messages such as 256
        /// (not bytes; the URL's capacity= is the same count).
        #[arg(long, value_name = "MESSAGES", default_value_t = QueueOptions::default().capacity,
              value_parser = parse_capacity)]
        capacity: u32,
        /// Largest message: a size such as 4096, 64KiB or 1MiB (at most 64MiB).
        #[arg(long, value_name = "SIZE", default_value_t = QueueOptions::default().max_message_len,
              value_parser = parse_message_len)]
        max_message_len: u32,
        /// Permissions of the segment, in octal.
        #[arg(long, default_value = "600", value_parser = parse_mode)]
        mode: u32,
    },
    /// Check a queue and print its capacity, max message length and current length (exit 1
    /// if it is corrupt).
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

/// Parses `--capacity`: a whole number of messages. A size with a unit (`64KiB`) is refused
/// with a word on what the flag counts, since it is most likely meant as bytes.
fn parse_capacity(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) => Ok(n),
        Err(_) if text.trim().starts_with(|c: char| c.is_ascii_digit()) => Err(format!(
            "`{text}` is not a number of messages: --capacity counts messages (1 to \
             {MAX_CAPACITY}), not bytes; --max-message-len sets the largest message's size"
        )),
        Err(_) => Err(format!(
            "`{text}` is not a number of messages such as 256 (1 to {MAX_CAPACITY})"
        )),
    }
}

/// Parses `--max-message-len`: a size as endpoint options write it ([`parse_size_up_to`]),
/// at most the largest message a queue holds.
fn parse_message_len(text: &str) -> Result<u32, String> {
    let size = parse_size_up_to(text, u64::from(MAX_MESSAGE_LEN))?;
    u32::try_from(size).map_err(|_| format!("`{text}` is over {MAX_MESSAGE_LEN} bytes"))
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
            // Checked under the lock: a corrupt queue is an error (exit 1), not a length.
            let attrs = queue.check().map_err(|e| failed("check", &name, e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_a_count_and_max_message_len_a_size() {
        assert_eq!(parse_capacity("256"), Ok(256));
        let bytes = parse_capacity("64KiB").unwrap_err();
        assert!(bytes.contains("counts messages"), "{bytes}");
        assert!(parse_capacity("lots").is_err());
        assert_eq!(parse_message_len("4096"), Ok(4096));
        assert_eq!(parse_message_len("4KiB"), Ok(4096));
        assert_eq!(parse_message_len("64MiB"), Ok(MAX_MESSAGE_LEN));
        for bad in ["0", "65MiB", "1GiB", "4 XB", ""] {
            let err = parse_message_len(bad).unwrap_err();
            assert!(err.contains("from 1 B to 64 MiB"), "{bad}: {err}");
        }
    }
}
