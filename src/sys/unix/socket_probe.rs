//! Whether a server still listens on a Unix socket file: the test that lets a binder reclaim
//! a dead server's socket (`unix://`, `pipe://`, `shm://`) and never a live one's.

use std::io;
use std::path::Path;

/// What a probing connection to an existing socket file says about its server.
///
/// Exact on Linux, which answers a connection to a full accept queue with `EAGAIN`. macOS
/// and the BSDs refuse it (`ECONNREFUSED`) as for a dead server, so there a live server
/// whose queue is full reads as `Dead`: `pipe://` and `shm://` names are guarded by their
/// lock first, a `unix://` path only by this probe.
#[derive(Debug)]
pub(crate) enum SocketProbe {
    /// Connected, or its accept queue is full: a server is there.
    Live,
    /// Refused: no one listens on it any more.
    Dead,
    /// The file went away.
    Gone,
    /// Anything else, such as another user's socket (`PermissionDenied`).
    Failed(io::Error),
}

/// Probes the socket file at `path` with a connection attempt that does not wait, so a live
/// server with a full accept queue cannot hold the caller.
pub(crate) fn probe_socket(path: &Path) -> SocketProbe {
    let connect = || {
        let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        socket.connect(&socket2::SockAddr::unix(path)?)
    };
    probe_result(connect())
}

fn probe_result(connected: io::Result<()>) -> SocketProbe {
    let Err(e) = connected else {
        return SocketProbe::Live;
    };
    match e.kind() {
        // A live server slow to accept: Linux refuses a non-blocking connect with EAGAIN
        // then; other systems may report the connection as in progress.
        io::ErrorKind::WouldBlock => SocketProbe::Live,
        _ if e.raw_os_error() == Some(libc::EINPROGRESS) => SocketProbe::Live,
        io::ErrorKind::ConnectionRefused => SocketProbe::Dead,
        io::ErrorKind::NotFound => SocketProbe::Gone,
        _ => SocketProbe::Failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_accept_queue_is_a_live_server() {
        let full = Err(io::Error::from(io::ErrorKind::WouldBlock));
        assert!(matches!(probe_result(full), SocketProbe::Live));
        let in_progress = Err(io::Error::from_raw_os_error(libc::EINPROGRESS));
        assert!(matches!(probe_result(in_progress), SocketProbe::Live));
        assert!(matches!(probe_result(Ok(())), SocketProbe::Live));
        let refused = Err(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(matches!(probe_result(refused), SocketProbe::Dead));
        let gone = Err(io::Error::from(io::ErrorKind::NotFound));
        assert!(matches!(probe_result(gone), SocketProbe::Gone));
        let denied = Err(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(matches!(probe_result(denied), SocketProbe::Failed(_)));
    }

    #[test]
    fn a_listening_socket_is_live_and_a_closed_one_dead() {
        let dir = crate::test_support::temp_dir("socket-probe");
        let path = dir.join("probe.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert!(matches!(probe_socket(&path), SocketProbe::Live));
        drop(listener);
        assert!(matches!(probe_socket(&path), SocketProbe::Dead));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(probe_socket(&path), SocketProbe::Gone));
        std::fs::remove_dir(&dir).unwrap();
    }
}
