//! The command's scratch directories (a tour's or a bench run's sockets, FIFOs and logs).

use std::io;
use std::path::{Path, PathBuf};

/// Creates a fresh directory in the temporary directory, private to this user, named
/// `prefix`, or `prefix-1`, `prefix-2`… when that is taken (left by a killed process whose
/// pid this one has now, or made by someone else: `/tmp` names are predictable, so one that
/// exists is never taken over).
///
/// # Errors
/// OS errors making it.
pub(crate) fn create(prefix: &str) -> io::Result<PathBuf> {
    let base = std::env::temp_dir();
    let mut last = None;
    for n in 0..100 {
        let path = match n {
            0 => base.join(prefix),
            n => base.join(format!("{prefix}-{n}")),
        };
        match create_private(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free name")))
}

/// `mkdir path` with mode 0700 whatever the umask: under a umask such as 177 `mkdir 0700`
/// leaves 0600, which not even its owner may enter.
#[cfg(unix)]
fn create_private(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().mode(0o700).create(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

/// `mkdir path`, with the permissions it inherits.
#[cfg(not(unix))]
fn create_private(path: &Path) -> io::Result<()> {
    std::fs::create_dir(path)
}
