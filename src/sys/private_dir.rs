//! Making one directory private to its owner. Standing alone (std only), so that the
//! `anyipc` command's scratch directories include it too (`#[path]`).

use std::io;
use std::path::{Path, PathBuf};

/// Creates the first of `names` that is free ([`create_private_dir`]) and returns it; one
/// that exists (left by a killed process whose pid this one has now, or made by someone
/// else) is passed over, never taken over.
///
/// # Errors
/// OS errors making one; `AlreadyExists`, naming the last, when none was free.
// The library stages sockets in such directories on Unix only; the command uses it anywhere.
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) fn create_fresh_private_dir(
    names: impl IntoIterator<Item = PathBuf>,
) -> io::Result<PathBuf> {
    let mut last = None;
    for path in names {
        if create_private_dir(&path)? {
            return Ok(path);
        }
        last = Some(path);
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "no directory name was free (the last tried: {})",
            last.map_or_else(String::new, |path| path.display().to_string())
        ),
    ))
}

/// Creates the one directory `path` (its parent exists), private to its owner: mode exactly
/// 0700, whatever the umask. `Ok(false)` if something is at `path` already (not checked: the
/// caller looks at what it is).
///
/// `mkdir(path, 0700)` alone leaves `0700 & !umask`: under a umask such as 177, 0600, a
/// directory not even its owner can enter (root can, which is why only an unprivileged user
/// saw binds and `file://` logs fail with `PermissionDenied` there). The umask can only clear
/// bits, so a `chmod` to 0700 right after puts back the search bit. It is made only where
/// the umask took some: on a file system that does not give its creator the directory (vfat
/// mounted for another user, NFS squashing owners) `chmod` fails where `mkdir` worked, and a
/// directory that is usable already is left as it is. One that cannot be made usable is
/// removed again.
///
/// # Errors
/// OS errors of `mkdir` other than "already exists", and of the `chmod`.
#[cfg(unix)]
pub(crate) fn create_private_dir(path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {
            let made =
                std::fs::symlink_metadata(path).and_then(|meta| restore_owner_access(path, &meta));
            if let Err(e) = made {
                let _ = std::fs::remove_dir(path);
                return Err(e);
            }
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives the owner back its access to `path`, a directory of this user's meant to be private
/// (`meta` is its `symlink_metadata`), when its owner bits are not all set: `mkdir(0700)`
/// under a umask such as 177 leaves `0600` (what [`create_private_dir`] mends at once, and
/// what anyipc left before it did, as does a `mkdir` by hand), which not even its owner can
/// enter. Its mode becomes 0700: the owner's bits set, every other bit cleared, so no one
/// else gains access. A directory whose owner bits are all set is left as it is.
///
/// # Errors
/// The `chmod`'s, naming `path`.
#[cfg(unix)]
pub(crate) fn restore_owner_access(path: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if meta.mode() & 0o700 == 0o700 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "{} has mode {:04o}, which its owner cannot enter, and chmod 700 failed: {e}",
                path.display(),
                meta.mode() & 0o7777
            ),
        )
    })
}

/// Creates the one directory `path` (its parent exists), with the permissions it inherits;
/// `Ok(false)` if something is at `path` already.
///
/// # Errors
/// OS errors other than "already exists".
#[cfg(not(unix))]
pub(crate) fn create_private_dir(path: &Path) -> io::Result<bool> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}
