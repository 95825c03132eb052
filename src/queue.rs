//! `mq://name`: a named, bounded priority queue in shared memory that outlives the processes
//! using it — POSIX message queues' semantics without their limits.
//!
//! [`MessageQueue`] is the typed API: [`create`](MessageQueue::create) (exclusive),
//! [`open`](MessageQueue::open), [`open_or_create`](MessageQueue::open_or_create) (never adopts
//! a queue with other attributes), [`remove`](MessageQueue::remove); `send`/`try_send`/
//! `send_timeout` with a priority 0–31; `recv`/`try_recv`/`recv_timeout` take the oldest
//! message of the highest priority present. The batch calls
//! [`send_many`](MessageQueue::send_many)/[`try_send_many`](MessageQueue::try_send_many) and
//! [`recv_many`](MessageQueue::recv_many)/[`try_recv_many`](MessageQueue::try_recv_many)
//! move many messages per lock hold: the way to stream messages fast (several times the rate
//! of one call per message; see BENCHMARKS.md). Any number of processes send and receive.
//! Through the URL layer, `mq://name` opens an existing queue (`?create=true` with
//! `capacity=`/`max_message_len=`/`mode=` creates it; `capacity=64` is a count of messages,
//! `max_message_len=4KiB` a size) and gives a `Connection` whose sink
//! sends at `?priority=N` (default 0) and whose stream receives (a message over its
//! `max_frame` is refused with `InvalidData` and stays in the queue). The sink gathers what it
//! is fed (up to 64 messages or 64 KiB) and sends it in one batch when flushed or full, so
//! `send_all` and `feed`…`flush` send in batches as `send_many` does. `mem://` is the in-process
//! twin of the connection transports (for code that needs no other process).
//!
//! # Guarantees
//! - **Exactly once.** A message whose send returned `Ok` is in the queue until one receive
//!   returns it, and no other receive returns it — whatever process is killed (SIGKILL)
//!   whenever. A sender killed before its send returned may or may not have sent.
//!   A receiver killed *inside* its receive leaves the message in the queue (its operation is
//!   rolled back). Only a receiver killed after the message left the queue, but before its
//!   caller used it, loses it: at-most-once for the crashed receiver, as with any queue
//!   without acknowledgements. Batch calls are the same per message: a killed
//!   `send_many` sent a prefix of its messages (those it returned as sent, perhaps more); a
//!   receiver killed after `recv_many` returned loses that batch.
//! - **No wedging.** A process killed holding the lock is detected by the kernel-released
//!   liveness lock it held; the next waiter takes the lock over within milliseconds and rolls
//!   back the half-done operation from the undo log. A lock that a *live* process keeps for a
//!   second (a holder stopped by SIGSTOP or a debugger, hung, or hostile), where a hold takes
//!   microseconds, fails the call with `TimedOut` ([`QueueError::LockStuck`]) instead of
//!   blocking its thread for as long as it likes.
//! - **Hostile memory.** Every field read from the segment is validated against limits kept
//!   in private memory before use; garbage gives `InvalidData` (a [`QueueError`] inside),
//!   never out-of-bounds access or a panic. A process that can write the segment can still
//!   deny service (keep it full, or keep the lock: every call then fails after 1–10 s),
//!   or shrink the file (`truncate`), which destroys the queue's messages. The page fault
//!   (SIGBUS) that would kill a process touching the lost pages is caught: the process gets
//!   `InvalidData` ([`QueueError::Truncated`] inside) from the operation that found it and
//!   from every later one on that queue (sends, receives, waits, a parked wait within 50 ms,
//!   also when the file kept the header page its words are in, `open` while this process
//!   has it open, as a new attachment finds a 0-byte file and reports `BadHeader`;
//!   `attributes` reads a length of 0), through connections too. An operation that found
//!   it while holding the queue lock still releases the lock where the file kept it, so the
//!   other processes fail at once rather than wait for it. This takes over
//!   the process's SIGBUS handler, passing on every fault outside a queue's or region's own
//!   accesses to the handler that was there before (or the default action). The segment is
//!   0600 by default, so only the owner's processes can do any of this.
//! - **Never half-created.** The segment is built under a staging name and hard-linked into
//!   place when complete; a segment found not ready anyway (written by something else) is
//!   refused with [`QueueError::HalfCreated`], never adopted; `remove` clears it.
//!
//! # Segment layout
//! A file `/dev/shm/anyipc-mq-NAME` (mode 0600 unless `mode` says otherwise, created with
//! `O_EXCL | O_NOFOLLOW`, mode set with `fchmod`), mapped shared:
//!
//! ```text
//!    0  magic "anyipcMQ" u64 | version | capacity | max_message_len | slot stride
//!   24  creator pid | state ("REDY", written last)
//!   64  lock word: owner pid | WAITERS bit                                (own cache line)
//!  128  not-empty futex sequence | receivers parked | last sender's CPU  (own cache line)
//!  192  not-full futex sequence  | senders parked | last receiver's CPU  (own cache line)
//!  256  index words: free-list head, bitmap of non-empty priorities, length,
//!       heads[32], tails[32]
//!  576  undo log: count, 8 × (word index, old value)
//! 1024  slots, `stride` bytes each (16 + max_message_len rounded up to 64):
//!       next (a link: free list or its priority's FIFO) | len | priority | - | body
//! ```
//!
//! # Memory
//! A queue holds its worst case from the start: `create` allocates the whole segment,
//! 1 KiB + `capacity` × (16 + `max_message_len` rounded up to 64) bytes (8.1 MiB for the
//! defaults, 1024 × 8 KiB), in `/dev/shm` (`posix_fallocate`), and the memory stays taken
//! until the queue is removed and its last handle dropped, whatever the queue holds. tmpfs
//! is memory: the pages count against `/dev/shm`'s size (64 MiB in a Docker container by
//! default; `--shm-size` raises it) and the creator's memory cgroup. A segment that does
//! not fit is a `create` error (`StorageFull`, saying how many bytes were needed), never a
//! SIGBUS in a later `send`. (`open` allocates nothing: it maps what `create` reserved.)
//!
//! # Decisions
//! - **One lock, bodies copied under it.** A futex word in the segment guards the index; a
//!   send copies its body into a free slot and links it, a receive copies the body out and
//!   frees the slot, each in one critical section of a few word writes. Simple to prove
//!   crash-safe (below); the cost is that copies of one queue are serialised, and that each
//!   operation moves the lock, index and undo-log cache lines between the processes (a few
//!   hundred nanoseconds: most of a single send or receive).
//! - **Batches cost one operation.** The free list is a chain of slots, so `send_many` takes
//!   its first `k` slots as they are linked and splices them onto a priority's list, and
//!   `recv_many` splices a run of one priority's list back onto the free list: six logged
//!   word writes whatever `k` is (about 64 KiB of bodies per lock hold, the message that
//!   crosses the mark included, so a batch keeps others waiting hardly longer than one large
//!   message does). Receive-side batching stays explicit: a connection that read ahead
//!   would hand out lower-priority messages it holds after higher ones that arrive later,
//!   and lose them when killed.
//! - **Crash recovery by undo log**, not a robust pthread mutex: glibc reads and asserts on
//!   the mutex's own fields, which any process can scribble on, so a hostile writer could
//!   make every user abort; our lock word has no invalid values. Each word an operation changes is logged (index, old value) before it is written; a
//!   process that takes the lock from a dead owner restores the logged words, then checks
//!   the whole index (every slot on exactly one list).
//! - **Waiting** spins ~50 µs on the length word, then parks a blocking-pool thread on a
//!   futex; senders and receivers issue a wake-up only when the parked count is non-zero.
//!   After eight quick checks the spin yields the CPU when the process it waits for (the
//!   last sender, for a receiver) last ran on this CPU, where spinning only delays it, and
//!   every 16th check otherwise; between those it pauses, since yielding to unrelated work
//!   can cost a time slice. Each send and receive records its CPU (a hint: any value is
//!   harmless). Round trips measured on the busy 2-vCPU machine: 120 µs p50 never yielding
//!   (both processes on one CPU, each spinning out its 50 µs), 6–10 µs yielding every 16th
//!   check, 3–4 µs yielding every check.
//! - **What a waiting receive or send costs**: while parked it holds one thread of tokio's
//!   blocking pool (512 threads by default, shared with every `spawn_blocking` and file
//!   operation of the process) and wakes every 50 ms to check again (so that a cancelled
//!   wait gives its thread back soon). An idle waiter costs little CPU (about 0.15% of a core
//!   each; measured: 50 idle receivers used 0.39 s of CPU in 5 s), but hundreds of them
//!   fill the pool and delay other blocking work: serve many queues from a few receiving
//!   tasks rather than one waiting task each.
//!
//! # Platform-specific behavior
//! Linux only (futexes, open-file-description locks, `/dev/shm`); elsewhere every
//! constructor returns `Unsupported`. A handle must not be used in a child made by `fork`
//! (without `exec`): the lock identifies its holder by process id. Open the queue again in
//! the child.

mod attachment;
mod geometry;
mod message_queue;
mod owner_lock;
mod priority_index;
mod queue_channel;
mod queue_error;
mod queue_listener;
mod queue_options;
mod region;
mod staging;
#[cfg(test)]
mod tests;
mod waiting;

pub use geometry::{MAX_CAPACITY, MAX_MESSAGE_LEN, PRIORITIES};
pub use message_queue::MessageQueue;
pub(crate) use queue_channel::{connect, QueueChannel};
pub use queue_error::QueueError;
pub(crate) use queue_listener::QueueListener;
pub use queue_options::{QueueAttributes, QueueOptions};
