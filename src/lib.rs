#![doc = include_str!("../README.md")]

pub mod bench;
#[cfg(unix)]
pub mod child;
pub mod codec;
pub mod endpoint;
mod error;
#[cfg(unix)]
pub mod fifo;
pub mod file;
mod io;
pub mod mem;
pub mod pipe;
pub mod queue;
mod released;
#[cfg(target_os = "linux")]
pub mod shm;
mod sys;
pub mod tcp;
#[cfg(test)]
mod test_support;
mod transport;
pub mod udp;
#[cfg(unix)]
pub mod unix;

pub use endpoint::{Address, Endpoint, EndpointParseError, Scheme, ToEndpoint};
pub use error::raw_os_error;
pub use transport::{
    bind, connect, Connection, Duplex, Listener, MessageBatch, MessageBatchIter, MessageFramed,
    PeerCredentials, RecvMessage, SendMessage, StreamFramed, Transport, Typed,
};
