/// How to create a queue: [`MessageQueue::create`](super::MessageQueue::create) and
/// [`open_or_create`](super::MessageQueue::open_or_create).
///
/// ```
/// use anyipc::queue::QueueOptions;
/// let options = QueueOptions { capacity: 64, ..QueueOptions::default() };
/// assert_eq!(options.max_message_len, 8192);
/// assert_eq!(options.mode, 0o600);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOptions {
    /// Messages the queue holds before senders wait (1 to 2^20). Default 1024.
    pub capacity: u32,
    /// Largest message in bytes (1 to 64 MiB). Default 8 KiB. Every slot reserves this much,
    /// so the segment takes about `capacity × max_message_len` bytes of shared memory
    /// (allocated as it is touched).
    pub max_message_len: u32,
    /// Permissions of the segment file, set exactly (the umask does not apply). Default 0600.
    pub mode: u32,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            capacity: 1024,
            max_message_len: 8192,
            mode: 0o600,
        }
    }
}

/// A queue's fixed attributes and its current length:
/// [`MessageQueue::attributes`](super::MessageQueue::attributes).
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use anyipc::queue::{MessageQueue, QueueAttributes, QueueOptions};
/// # let name = format!("doc-mq-attributes-type-{}", std::process::id());
/// let options = QueueOptions { capacity: 4, max_message_len: 100, ..Default::default() };
/// let queue = MessageQueue::create(&name, &options)?;
/// queue.try_send(b"one", 0)?;
/// let expected = QueueAttributes { capacity: 4, max_message_len: 100, len: 1 };
/// assert_eq!(queue.attributes(), expected);
/// # MessageQueue::remove(&name)?;
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueAttributes {
    /// Messages the queue holds at most.
    pub capacity: u32,
    /// Largest message in bytes.
    pub max_message_len: u32,
    /// Messages in the queue when asked (others may change it at any moment).
    pub len: u32,
}
