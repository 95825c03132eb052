//! Linux primitives behind `shm`: sealed memfds, socket doorbells, file-descriptor passing,
//! futexes, random keys, the private per-user directory and owner locks.
//!
//! Why not raw_sync here: its process-shared mutex is not robust (a process killed inside
//! `set`/`wait` leaves it locked forever) and it builds `&mut` over shared memory. A futex word
//! or a byte on a socket holds no lock, so a dead peer cannot wedge the living.

pub(crate) use super::linux_futex::{futex_wait, futex_wake};
pub(crate) use super::unix::{try_flock, try_flock_shared, unlock_flock, OwnerLock};
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Seals every shared mapping carries: its size can never change again, so no peer can make
/// our accesses fault (SIGBUS) by truncating it.
const REQUIRED_SEALS: libc::c_int = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Creates an anonymous memory file of `size` bytes (zeroed) and seals its size.
///
/// The file has no name in any file system: it disappears with its last descriptor or mapping,
/// so a crash never leaves a segment behind.
pub(crate) fn create_sealed_memfd(debug_name: &str, size: u64) -> io::Result<File> {
    let name = CString::new(debug_name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "memfd name has a NUL byte"))?;
    // SAFETY: `name` is a valid NUL-terminated string; flags are valid memfd_create flags.
    let fd = cvt(unsafe {
        libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)
    })?;
    // SAFETY: memfd_create returned a fresh descriptor that nothing else owns.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.set_len(size)?;
    // SAFETY: fcntl(F_ADD_SEALS) on a descriptor we own, with valid seal flags.
    cvt(unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, REQUIRED_SEALS) })?;
    Ok(file)
}

/// Checks that a memory file received from a peer is sealed against resizing and is exactly
/// `size` bytes long; `InvalidData` otherwise.
pub(crate) fn check_sealed(file: &File, size: u64) -> io::Result<()> {
    // SAFETY: fcntl(F_GET_SEALS) only reads the seals of a descriptor we own.
    let seals = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GET_SEALS) };
    if seals < 0
        || seals & (libc::F_SEAL_SHRINK | libc::F_SEAL_GROW)
            != libc::F_SEAL_SHRINK | libc::F_SEAL_GROW
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the peer's shared memory is not sealed against resizing",
        ));
    }
    let len = file.metadata()?.len();
    if len != size {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the peer's shared memory is {len} bytes, expected {size}"),
        ));
    }
    Ok(())
}

/// Rings the peer's doorbell: one byte on our end of the connection's rendezvous socket,
/// sent with `MSG_DONTWAIT` (non-blocking for this call whatever the socket's flags, which
/// belong to our own end: a peer cannot make it block). `false` when the peer is gone (the
/// socket is closed or broken: `EPIPE`, `ECONNRESET`, `ENOTCONN`); a full socket buffer is
/// not an error: the peer has not read the rings before this one, so the bell is already
/// ringing. Other errors (`ENOBUFS` under memory pressure) lose this ring only: a sleeper
/// looks at its ring again within 100 ms without one.
pub(crate) fn ring_socket(socket: BorrowedFd<'_>) -> bool {
    loop {
        // SAFETY: sends 1 byte from a live array on a descriptor we borrow; MSG_NOSIGNAL
        // turns a closed peer into EPIPE instead of SIGPIPE.
        let n = unsafe {
            libc::send(
                socket.as_raw_fd(),
                [1u8].as_ptr().cast(),
                1,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n >= 0 {
            return true;
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN) => return false,
            _ => {
                if err.kind() != io::ErrorKind::WouldBlock {
                    tracing::debug!(error = %err, "shm: a doorbell ring was lost");
                }
                return true;
            }
        }
    }
}

/// Takes the rings waiting on our end of the rendezvous socket without blocking
/// (`MSG_DONTWAIT`): how many bytes were read into `rings` (0: the peer closed its end).
///
/// # Errors
/// `WouldBlock` when none is waiting, or the socket's error.
pub(crate) fn take_rings(socket: BorrowedFd<'_>, rings: &mut [u8]) -> io::Result<usize> {
    // SAFETY: reads at most `rings.len()` bytes into the live, writable buffer `rings`, on a
    // descriptor we borrow.
    let n = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            rings.as_mut_ptr().cast(),
            rings.len(),
            libc::MSG_DONTWAIT,
        )
    };
    // A negative count is the one failure `recv` returns; any other fits in `usize`.
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Largest number of descriptors one message passes.
pub(crate) const MAX_FDS: usize = 4;

/// Sends `data` with `fds` attached (SCM_RIGHTS) on a Unix stream socket. Non-blocking as
/// the socket is; returns the bytes sent.
pub(crate) fn send_with_fds(
    socket: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    assert!(fds.len() <= MAX_FDS);
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let fd_bytes = std::mem::size_of_val(raw.as_slice());
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes as u32) } as usize;
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: msg_control points at `space` writable bytes, enough for one cmsghdr carrying
    // `fd_bytes` of data, so CMSG_FIRSTHDR is non-null and CMSG_DATA stays inside `control`.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as _;
        std::ptr::copy_nonoverlapping(raw.as_ptr().cast::<u8>(), libc::CMSG_DATA(cmsg), fd_bytes);
    }
    // SAFETY: `msg` points at live buffers (`iov` → `data`, `control`) for the whole call.
    let n = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Receives up to `buf.len()` bytes and the descriptors attached to them (SCM_RIGHTS, close on
/// exec). Returns `(bytes, fds)`; `(0, [])` is end of stream.
pub(crate) fn recv_with_fds(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
) -> io::Result<(usize, Vec<OwnedFd>)> {
    // SAFETY: CMSG_SPACE only computes a size.
    let space =
        unsafe { libc::CMSG_SPACE((MAX_FDS * std::mem::size_of::<RawFd>()) as u32) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` points at live, writable buffers (`buf`, `control`) for the whole call.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `control` with `msg_controllen` bytes of well-formed cmsghdrs;
    // CMSG_FIRSTHDR/NXTHDR stay inside it, and each SCM_RIGHTS payload holds `cmsg_len -
    // CMSG_LEN(0)` bytes of descriptors now owned by this process.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(cmsg);
                for i in 0..bytes / std::mem::size_of::<RawFd>() {
                    let fd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the peer attached more descriptors than the handshake allows",
        ));
    }
    Ok((n as usize, fds))
}

/// 64 random bits from the kernel.
pub(crate) fn random_u64() -> io::Result<u64> {
    let mut value: u64 = 0;
    // SAFETY: getrandom writes at most 8 bytes into a live u64.
    let n = unsafe { libc::getrandom((&mut value as *mut u64).cast(), 8, 0) };
    if n != 8 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// The private per-user directory for shared-memory names: the one `pipe://` sockets live
/// in (`$XDG_RUNTIME_DIR/anyipc` or `/tmp/anyipc-<uid>`), created 0700 whatever the umask
/// and refused unless it is a real directory of ours that no one else may enter.
pub(crate) fn private_dir() -> io::Result<PathBuf> {
    super::runtime_dir(true)
}

/// The effective user id of this process: the owner of the files it creates, so the one
/// that ownership checks compare with (as `pipe://`'s and `fifo://`'s do).
pub(crate) fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The largest shared-memory region, and the same in words: 1 TiB on 64-bit targets (a
/// region is sparse until written), 1 GiB on 32-bit ones, whose address space is 4 GiB in all.
#[cfg(target_pointer_width = "64")]
pub(crate) const MAX_REGION: (usize, &str) = (1 << 40, "1 TiB");
/// The largest shared-memory region, and the same in words.
#[cfg(not(target_pointer_width = "64"))]
pub(crate) const MAX_REGION: (usize, &str) = (1 << 30, "1 GiB");

/// The largest `shm://` ring this process maps, and the same in words: a connection maps
/// two, which its connecting side sizes. 1 GiB (what 32-bit ring indices allow) on 64-bit
/// targets; 64 MiB on 32-bit ones, so that a peer cannot take half the address space with
/// one connection.
#[cfg(target_pointer_width = "64")]
pub(crate) const MAX_RING: (u32, &str) = (1 << 30, "1GiB");
/// The largest `shm://` ring this process maps, and the same in words.
#[cfg(not(target_pointer_width = "64"))]
pub(crate) const MAX_RING: (u32, &str) = (1 << 26, "64MiB");

/// Where named regions live: `/dev/shm` (memory, not disk), or the private directory when
/// this system has no `/dev/shm`.
pub(crate) fn region_dir() -> io::Result<PathBuf> {
    let dev_shm = Path::new("/dev/shm");
    if dev_shm.is_dir() {
        Ok(dev_shm.to_path_buf())
    } else {
        private_dir()
    }
}

/// Creates a new file at `path` for reading and writing, mode 0600, failing with
/// `AlreadyExists` rather than open anything that is there (a file, a symlink).
pub(crate) fn create_exclusive(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Opens the existing regular file at `path` for reading and writing, refusing a symlink
/// and (`PermissionDenied`) a file of another user.
pub(crate) fn open_own_file(path: &Path) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::new(io::ErrorKind::PermissionDenied, "refusing a symlink")
            } else {
                e
            }
        })?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() || meta.uid() != current_uid() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not a regular file of this user", path.display()),
        ));
    }
    Ok(file)
}
