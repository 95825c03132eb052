//! The measurement engine behind `cargo bench` and `anyipc tour`.
//!
//! Two workloads, run the same way over every transport (and over a hand-written baseline that
//! uses no anyipc code at all), as the project's `BENCHMARKS.md` protocol describes:
//!
//! - [`Workload::Latency`] (W1): ping-pong; the client sends an S-byte message, the peer echoes
//!   it, the client waits for the echo. Warm-up round trips, then each timed one by one;
//!   the result is a [`LatencyReport`] (p50, p99, p99.9, mean).
//! - [`Workload::Throughput`] (W2): the client sends M messages of S bytes as fast as the
//!   transport accepts them, then an empty end marker; the peer reads them all, checking each
//!   length and its first and last byte, and answers with one acknowledgement. The time from the
//!   first send to the acknowledgement gives a [`ThroughputReport`] (messages/s, GiB/s).
//!
//! The peer learns the workload from the first message of each run (a short text control
//! message, see [`Workload::control_message`]), so one peer process serves any run, and runs
//! may follow one another on one channel. The measuring side is [`measure`] (or
//! [`run_client`] on a connection you opened), the peer side is [`serve`](fn@serve); [`PeerProcess`]
//! spawns a peer in another process ([`PeerProcess::spawn_child`]: a child on pipes, the
//! `stdio://` target) and [`peer_main`] is what that process runs.
//!
//! Targets ([`Target`]) are anyipc endpoint URLs, pairs of one-way endpoints
//! ([`Target::Pair`]: `fifo://`, `file://`, `mq://`, one each way, joined in a
//! [`Duplex`](crate::Duplex)), or the raw twins, written with no anyipc transport or codec
//! code: tokio `UnixStream` (the baseline) and `TcpStream` (TCP_NODELAY), and on Unix two
//! anonymous pipes to a child process or two FIFOs (a child per run,
//! [`PeerProcess::spawn_raw_child`]), each in tokio-util `Framed` with
//! `LengthDelimitedCodec`. [`TRANSPORTS`] is the one list of transports that the bench and the
//! tour run ([`RunResources`] removes the queues and logs a run creates); [`floor`] measures
//! the physical limits printed beside the tables.
//!
//! ```
//! # tokio_test::block_on(async {
//! use anyipc::bench::{InProcessPeer, Target, Workload};
//!
//! // mem:// runs both sides in this process; other transports use a `PeerProcess`.
//! let peer = InProcessPeer::start(&"mem://doc-bench".parse::<Target>()?).await?;
//! let report = anyipc::bench::measure(peer.target(), &Workload::latency(64, 100)).await?;
//! let latency = report.latency().unwrap();
//! assert_eq!(latency.count, 100);
//! assert!(latency.p50 <= latency.p99);
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```

mod catalog;
mod child_peer;
pub mod floor;
mod latency_samples;
mod machine;
mod peer;
mod peer_exit;
mod peer_process;
mod raw;
mod report;
mod responder;
mod run;
mod run_resources;
mod serve;
mod target;
#[cfg(test)]
mod tests;
#[cfg(unix)]
mod twin_child;
mod workload;

pub use catalog::{TransportSpec, BASELINES, TRANSPORTS};
pub(crate) use latency_samples::LatencySamples;
pub use machine::Machine;
pub use peer::{peer_main, InProcessPeer, READY_PREFIX};
pub use peer_process::PeerProcess;
pub use report::{LatencyReport, Report, ThroughputReport};
pub use run::{measure, run_client, run_connection};
pub use run_resources::RunResources;
pub use serve::{serve, serve_connection};
pub use target::Target;
pub use workload::Workload;
