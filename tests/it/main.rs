//! The one integration-test binary. Each module tests one area; `util` holds what they share.

mod batch;
#[cfg(target_os = "linux")]
mod bench;
mod bounded;
mod child;
mod cli;
#[cfg(target_os = "linux")]
mod cli_tools;
mod conformance;
mod docs;
mod duplex;
mod errors;
mod examples;
mod fifo;
mod file;
#[cfg(target_os = "linux")]
mod forked_children;
mod framing;
mod fuzz_props;
mod pipe;
mod process;
#[cfg(target_os = "linux")]
mod queue;
#[cfg(target_os = "linux")]
mod queue_process;
#[cfg(target_os = "linux")]
mod scoped_ipv6;
#[cfg(target_os = "linux")]
mod shm;
mod stdio;
mod stress;
mod tour;
mod udp;
#[cfg(target_os = "linux")]
mod udp_multicast;
mod util;
