//! Stopping a TCP listener for good before it is closed, whoever else holds a copy of it.

/// Stops `listener` listening, so that its port can be bound again at once, before it is
/// closed.
///
/// A child process forked meanwhile, by any thread of this process, holds a copy of the
/// listening socket from its fork until it execs, and a close alone left the port listening
/// through that copy: a server bound again at once was refused (`AddrInUse`; 81 to 126 of 300
/// rebinds while a thread started `/bin/true` in a loop). On Linux `shutdown(SHUT_RD)` of a listening
/// socket takes it out of the listening state for every descriptor of it; the port it keeps
/// bound in the child's copy does not refuse a rebind (`SO_REUSEADDR`, which tokio sets). The
/// socket is always one this process bound itself, so no one else relies on it listening.
/// Errors are ignored: the socket is closed next anyway.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn stop_listening(listener: &tokio::net::TcpListener) {
    use std::os::fd::AsRawFd;
    // SAFETY: shutdown on a descriptor the listener owns and keeps open across the call.
    let _ = unsafe { libc::shutdown(listener.as_raw_fd(), libc::SHUT_RD) };
}

/// Elsewhere a listening socket cannot be shut down (macOS answers `ENOTCONN`): closing it is
/// all there is.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn stop_listening(_listener: &tokio::net::TcpListener) {}
