//! What differs by OS for a listening socket: stopping a TCP listener for good before it is
//! closed, whoever else holds a copy of it, and which failed accepts were one client's
//! failure only.

use std::io;

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

/// Whether a failed `accept` was one waiting client's failure, not the listener's: the
/// client aborted or reset its connection before it was accepted (`ECONNABORTED` on the BSDs
/// and macOS), or, on Linux, a network error already pending on the new connection, which
/// `accept(2)` says to treat like `EAGAIN` by trying again.
pub(crate) fn is_one_clients_failure(error: &io::Error) -> bool {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return true;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        matches!(
            error.raw_os_error(),
            Some(
                libc::ENETDOWN
                    | libc::EPROTO
                    | libc::ENOPROTOOPT
                    | libc::EHOSTDOWN
                    | libc::ENONET
                    | libc::EHOSTUNREACH
                    | libc::EOPNOTSUPP
                    | libc::ENETUNREACH
            )
        )
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::skip_one_clients_failure;

    #[test]
    fn a_client_gone_before_accept_is_its_failure_not_the_listeners() {
        let aborted = io::Error::from_raw_os_error(libc::ECONNABORTED);
        assert!(is_one_clients_failure(&aborted));
        assert!(is_one_clients_failure(&io::Error::from_raw_os_error(
            libc::ECONNRESET
        )));
        #[cfg(target_os = "linux")]
        for code in [libc::EPROTO, libc::ENETUNREACH, libc::EHOSTDOWN] {
            assert!(is_one_clients_failure(&io::Error::from_raw_os_error(code)));
        }
        for code in [libc::EMFILE, libc::ENFILE, libc::EBADF, libc::EINVAL] {
            assert!(!is_one_clients_failure(&io::Error::from_raw_os_error(code)));
        }
        assert!(matches!(
            skip_one_clients_failure::<()>(Err(aborted)),
            Ok(None)
        ));
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        assert!(skip_one_clients_failure::<()>(Err(emfile)).is_err());
        assert!(matches!(skip_one_clients_failure(Ok(7)), Ok(Some(7))));
    }
}
