//! Bridges between blocking code and futures, and between our own mechanisms and tokio's
//! scheduler.
//!
//! [`blocking`] is the only place in the crate that turns a blocking call (file I/O, a
//! blocking wait) into something a future can await, so no tokio worker thread ever blocks.
//! [`coop`] runs the operations of mechanisms tokio does not know under its cooperative
//! budget.

pub(crate) mod blocking;
pub(crate) mod coop;
