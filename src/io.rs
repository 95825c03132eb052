//! Bridges between blocking code and futures.
//!
//! [`blocking`] is the only place in the crate that turns a blocking call (file I/O, a
//! blocking wait) into something a future can await, so no tokio worker thread ever blocks.

pub(crate) mod blocking;
