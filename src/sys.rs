//! The only place with OS-specific code: socket-file permissions and names.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;
