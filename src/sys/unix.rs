//! Unix: owner-only socket files created without a umask race, abstract names.

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

mod fifo;
mod inherit;
mod local_socket;
mod log_registry;

pub(crate) use fifo::{fifo_bind, fifo_open_writer, BoundFifo, PIPE_BUF};
pub(crate) use inherit::{
    adopt_inherited_fd, anonymous_pipe, grow_pipe_buffer, inherit_in_child, take_stdio,
};
pub(crate) use local_socket::{
    pipe_connect, pipe_location, PipeServer, PipeStream, PIPE_PEER_UIDS,
};
pub(crate) use log_registry::{register_log, unregister_log};

/// Which file a path named when we created it, to remove only our own file later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    /// The identity of the file `meta` describes.
    pub(crate) fn of(meta: &std::fs::Metadata) -> FileIdentity {
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// The identity of the file at `path`, not following a symlink.
pub(crate) fn file_identity(path: &Path) -> io::Result<FileIdentity> {
    let meta = std::fs::symlink_metadata(path)?;
    Ok(FileIdentity {
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

/// Binds a Unix socket at `path` with permissions `mode`, never exposing it with looser
/// permissions and never replacing an existing file.
///
/// The socket is bound inside a fresh 0700 directory beside `path`, given `mode`, then
/// hard-linked to `path` (`link` fails with `AlreadyExists` rather than replace anything).
/// So whatever the umask, no other user can reach the socket before its mode is set.
pub(crate) fn bind_owner_only(path: &Path, mode: u32) -> io::Result<UnixListener> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let private_dir = parent.join(format!(
        ".anyipc-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private_dir)?;
    let result = (|| {
        let staged = private_dir.join("s");
        let listener = UnixListener::bind(&staged)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))?;
        let linked = std::fs::hard_link(&staged, path);
        let _ = std::fs::remove_file(&staged);
        linked?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir(&private_dir);
    result
}

/// The path tokio reads as a Linux abstract socket name (a leading NUL byte).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn abstract_socket_path(name: &str) -> io::Result<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(name.as_bytes());
    Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

/// Abstract names exist only on Linux.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn abstract_socket_path(name: &str) -> io::Result<PathBuf> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!("unix://@{name}: abstract socket names exist only on Linux"),
    ))
}
