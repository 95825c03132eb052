use super::region_files::{lock_creators, reclaim_if_dead, region_path, staged_path, sweep_dead};
use super::region_info::{self, RegionInfo};
use crate::io::blocking;
use crate::sys::{self, FileIdentity};
use memmap2::{MmapOptions, MmapRaw};
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// "anyipcR1" read as a little-endian u64.
const MAGIC: u64 = u64::from_le_bytes(*b"anyipcR1");
/// Region layout version; another one is `InvalidData`.
const VERSION: u32 = 1;
/// Bytes before the user's data.
pub(super) const HEADER_LEN: usize = 64;
/// Largest region: 1 TiB (it is sparse until written), 1 GiB on 32-bit targets.
const MAX_SIZE: usize = sys::shm::MAX_REGION.0;
/// [`MAX_SIZE`] in words, for errors.
const MAX_SIZE_TEXT: &str = sys::shm::MAX_REGION.1;
/// How long one futex wait sleeps before it looks whether its future was dropped.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// The header at offset 0 of every region.
#[repr(C)]
struct RegionHeader {
    magic: AtomicU64,
    version: AtomicU32,
    /// The creator's process id (0 in regions made before it was recorded).
    creator_pid: AtomicU32,
    size: AtomicU64,
    /// Counts `signal` calls; also the futex word waiters sleep on.
    signals: AtomicU32,
    /// 1 once the creator called `keep`: the region outlives it.
    kept: AtomicU32,
    /// 1 once everything else is written.
    initialized: AtomicU32,
}

/// Offset of `creator_pid`, read with `pread` by [`Region::list`].
pub(super) const CREATOR_PID_OFFSET: u64 = 12;
/// Offset of `kept`, read with `pread` by the sweep of dead creators' regions.
pub(super) const KEPT_OFFSET: u64 = 28;

const _: () = assert!(std::mem::size_of::<RegionHeader>() <= HEADER_LEN);

/// The header fields `open` checks, copied out in one guarded access.
struct HeaderCopy {
    initialized: u32,
    magic: u64,
    version: u32,
    size: u64,
}

/// A named block of shared memory: one process creates it, others open it by name.
///
/// Bytes move through copying methods ([`read`](Region::read), [`write`](Region::write)):
/// no `&[u8]` is ever built over memory another process may change. [`signal`](Region::signal)
/// and [`wait`](Region::wait) let processes tell each other that something changed (a futex
/// word in the header; a process killed while waiting or signalling holds no lock, so it can
/// wedge no one).
///
/// The creator holds a lock on the region for its whole life, and removes the region when it
/// is dropped, unless [`keep`](Region::keep) was called. The region of a creator that died
/// (and did not keep it) is removed by the next `create` on the machine (or by
/// `anyipc clean`); `create` of a name whose creator is alive is `AlreadyExists`, never a
/// removal. [`Region::list`] shows this user's regions and their creators.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::shm::Region;
/// use std::time::Duration;
/// # let name = format!("doc-region-{}", std::process::id());
///
/// let creator = Region::create(&name, 4096)?;
/// creator.write(0, b"hello")?;
///
/// // Usually in another process:
/// let reader = Region::open(&name)?;
/// let mut buf = [0u8; 5];
/// reader.read(0, &mut buf)?;
/// assert_eq!(&buf, b"hello");
///
/// // Nobody signals: the wait times out.
/// let err = reader.wait(Duration::from_millis(10)).await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
/// drop(creator); // removes it
/// assert_eq!(Region::open(&name).unwrap_err().kind(), std::io::ErrorKind::NotFound);
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Platform-specific behavior
/// Linux: a file in `/dev/shm` named `anyipc-region-<uid>-<name>`, mode 0600. Other users
/// cannot open it. A file in `/dev/shm` cannot be sealed like the memfds of `shm://`
/// connections, so a process of the same user may shrink it: the page fault (SIGBUS) that
/// would kill a process touching the lost pages is caught, this process's mapping becomes
/// private zero pages, and every access from then on, on every thread (`read`, `write`,
/// `wait`, `open`), is `InvalidData`; `signals` reads 0 and `signal` wakes no one. A page
/// a full `/dev/shm` cannot supply (a region's pages are taken as they are first touched)
/// faults the same way, and is `StorageFull`. This takes over the process's SIGBUS handler,
/// passing on every fault outside a region's own accesses to the handler that was there
/// before (or the default action).
/// Elsewhere: not available.
#[derive(Debug)]
pub struct Region {
    mapped: Arc<Mapped>,
    name: String,
    /// Set for the creator: the path and identity of the file to remove on drop.
    owned: Option<(PathBuf, FileIdentity)>,
    keep: bool,
}

/// The mapping, shared with blocking waits.
#[derive(Debug)]
struct Mapped {
    map: MmapRaw,
    /// The creator's lock lives on this open file; others just hold it open.
    file: File,
    /// Process-private copy of the size, checked once at open.
    size: usize,
    /// Set once an access found the file shrunk by another process: from the faulting page
    /// on, the mapping holds private zero pages, and every access is refused.
    truncated: AtomicBool,
}

impl Mapped {
    /// A mapping of `map` (of `file`) for a region of `size` bytes.
    fn new(map: MmapRaw, file: File, size: usize) -> Mapped {
        Mapped {
            map,
            file,
            size,
            truncated: AtomicBool::new(false),
        }
    }

    /// Runs `access`, which touches the mapping and nothing shared besides, so that a file
    /// another process shrank is an error rather than a SIGBUS that kills this process
    /// ([`sys::linux_sigbus`]).
    ///
    /// # Errors
    /// When the mapping was lost, by this access or an earlier one, here or on another
    /// thread (see [`lost`](Mapped::lost)).
    fn guarded<T>(&self, name: &str, access: impl FnOnce() -> T) -> io::Result<T> {
        let (start, len) = (self.map.as_mut_ptr(), self.map.len());
        sys::linux_sigbus::guarded(start, len, &self.truncated, access)
            .map_err(|sys::linux_sigbus::Truncated| self.lost(name))
    }

    /// Why the mapping of region `name` was lost: `InvalidData` when another process shrank
    /// the file; `StorageFull` when the file still has its length, as then the page the
    /// fault was for could not be given (a full `/dev/shm`: a region's pages are taken as
    /// they are first written). Either way this process sees private zero pages from the
    /// faulting page on, and every later access is refused.
    fn lost(&self, name: &str) -> io::Error {
        match self.file.metadata() {
            // ENOSPC's kind: `StorageFull`, named only since Rust 1.83.
            Ok(meta) if meta.len() >= self.map.len() as u64 => io::Error::new(
                io::Error::from_raw_os_error(libc::ENOSPC).kind(),
                format!(
                    "region {name}: the system had no memory for one of its pages (is /dev/shm \
                     full?); this process can no longer use it"
                ),
            ),
            _ => invalid(
                name,
                "another process shrank its file: its contents are gone".to_owned(),
            ),
        }
    }

    fn header(&self) -> &RegionHeader {
        // SAFETY: the mapping is at least HEADER_LEN bytes (checked at create/open), page-
        // aligned, and lives as long as `self`; the header holds only atomics.
        unsafe { &*self.map.as_ptr().cast::<RegionHeader>() }
    }
}

/// Maps `len` bytes of `file`, whatever its length is by then: every bounds check of a
/// [`Region`] is against this length, so the mapping must be exactly it. (Pages past the
/// file's end, should another process shrink it, fault with SIGBUS: every access goes
/// through [`Mapped::guarded`], which makes that an error.)
fn map_exactly(file: &File, len: usize) -> io::Result<MmapRaw> {
    let map = MmapOptions::new().len(len).map_raw(file)?;
    if map.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("mapped {} bytes of a region, not {len}", map.len()),
        ));
    }
    Ok(map)
}

/// Checks a region name against the endpoint name rules.
pub(super) fn check_name(name: &str) -> io::Result<()> {
    // The endpoint name rules: 1–64 of [A-Za-z0-9._-], not starting with '.' or '-'.
    crate::endpoint::check_bare_name(name, "region")
}

fn invalid(name: &str, msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("region {name}: {msg}"))
}

impl Region {
    /// Creates the region `name` of `size` bytes (zeroed), readable and writable only by
    /// this user.
    ///
    /// ```
    /// use anyipc::shm::Region;
    /// use std::io::ErrorKind;
    /// # let name = format!("doc-region-create-{}", std::process::id());
    /// let region = Region::create(&name, 1000)?;
    /// let mut buf = [0xff; 1000];
    /// region.read(0, &mut buf)?;
    /// assert!(buf.iter().all(|&b| b == 0));
    /// assert_eq!(Region::create(&name, 1000).unwrap_err().kind(), ErrorKind::AlreadyExists);
    /// assert_eq!(Region::create("no/slash", 1000).unwrap_err().kind(), ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `AlreadyExists` when a live creator holds the name; `InvalidInput` for a bad name or a
    /// size of 0 or over 1 TiB (1 GiB on 32-bit targets); OS errors (`StorageFull`, …) as
    /// they come.
    pub fn create(name: &str, size: usize) -> io::Result<Region> {
        check_name(name)?;
        if size == 0 || size > MAX_SIZE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("region size {size} is not between 1 byte and {MAX_SIZE_TEXT}"),
            ));
        }
        let dir = sys::shm::region_dir()?;
        let path = region_path(name)?;
        // This user's creators are serialised from the sweep to the link (the sweep reads
        // this user's regions; a create holds the lock for well under a second): each removal below checks a file and then unlinks its path, two
        // steps, and a creator that linked its region in between would lose it to the
        // unlink while another took the name (found by a review; widened with strace).
        let _creating = lock_creators(&dir);
        sweep_dead(&dir);
        reclaim_if_dead(name, &path)?;
        // Built under a temporary name and linked into place whole: no one can open a region
        // whose header is half written.
        let staged = staged_path(&dir, name);
        let file = sys::shm::create_exclusive(&staged)?;
        // The file this creator made, read from its descriptor (not from the path after the
        // link, which could name another file by then): the only one its drop may remove.
        let identity = sys::FileIdentity::of_file(&file);
        let result = (|| {
            let identity = identity?;
            if !sys::shm::try_flock(std::os::fd::AsFd::as_fd(&file))? {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "staged region is locked",
                ));
            }
            file.set_len((HEADER_LEN + size) as u64)?;
            let map = map_exactly(&file, HEADER_LEN + size)?;
            let mapped = Mapped::new(map, file, size);
            mapped.guarded(name, || {
                let header = mapped.header();
                header.magic.store(MAGIC, Ordering::Relaxed);
                header.version.store(VERSION, Ordering::Relaxed);
                header
                    .creator_pid
                    .store(std::process::id(), Ordering::Relaxed);
                header.size.store(size as u64, Ordering::Relaxed);
                header.initialized.store(1, Ordering::Release);
            })?;
            std::fs::hard_link(&staged, &path).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    io::Error::new(
                        e.kind(),
                        format!("region {name}: created by another process just now"),
                    )
                } else {
                    e
                }
            })?;
            Ok((mapped, identity))
        })();
        let _ = std::fs::remove_file(&staged);
        let (mapped, identity) = result?;
        Ok(Region {
            mapped: Arc::new(mapped),
            name: name.to_owned(),
            owned: Some((path, identity)),
            keep: false,
        })
    }

    /// Opens the region `name` another process created, whatever its size.
    ///
    /// ```
    /// use anyipc::shm::Region;
    /// # let name = format!("doc-region-open-{}", std::process::id());
    /// let creator = Region::create(&name, 64)?;
    /// creator.write(8, &42u64.to_le_bytes())?;
    /// // Usually in another process:
    /// let region = Region::open(&name)?;
    /// assert_eq!(region.len(), 64);
    /// let mut word = [0; 8];
    /// region.read(8, &mut word)?;
    /// assert_eq!(u64::from_le_bytes(word), 42);
    /// drop(creator);
    /// assert_eq!(Region::open(&name).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `NotFound` when there is no such region; `InvalidData` when it is not an anyipc region
    /// of this layout version, or its size disagrees with its header; `PermissionDenied` for
    /// a file of another user or a symlink.
    pub fn open(name: &str) -> io::Result<Region> {
        check_name(name)?;
        let path = region_path(name)?;
        let file = sys::shm::open_own_file(&path)
            .map_err(|e| crate::error::with_context(e.kind(), format!("region {name}: {e}"), e))?;
        let len = file.metadata()?.len();
        if len < HEADER_LEN as u64 + 1 {
            return Err(invalid(name, format!("{len} bytes is not a region")));
        }
        if len > (HEADER_LEN + MAX_SIZE) as u64 {
            return Err(invalid(
                name,
                format!(
                    "{len} bytes is over the largest region this build maps ({MAX_SIZE_TEXT} \
                     and its header)"
                ),
            ));
        }
        let size = len as usize - HEADER_LEN;
        // The length checked above, not the file's length when mapping: a process that
        // resizes the file in between must not leave `size` describing a smaller mapping.
        let map = map_exactly(&file, HEADER_LEN + size)?;
        let mapped = Mapped::new(map, file, size);
        let header = mapped.guarded(name, || {
            let header = mapped.header();
            HeaderCopy {
                initialized: header.initialized.load(Ordering::Acquire),
                magic: header.magic.load(Ordering::Relaxed),
                version: header.version.load(Ordering::Relaxed),
                size: header.size.load(Ordering::Relaxed),
            }
        })?;
        if header.initialized != 1 {
            return Err(invalid(name, "not initialised".to_owned()));
        }
        let magic = header.magic;
        if magic != MAGIC {
            return Err(invalid(name, format!("bad magic {magic:#x}")));
        }
        let version = header.version;
        if version != VERSION {
            return Err(invalid(
                name,
                format!("layout version {version}, this build reads {VERSION}"),
            ));
        }
        let recorded = header.size;
        if recorded != size as u64 {
            return Err(invalid(
                name,
                format!("header says {recorded} bytes, the file holds {size}"),
            ));
        }
        Ok(Region {
            mapped: Arc::new(mapped),
            name: name.to_owned(),
            owned: None,
            keep: false,
        })
    }

    /// Opens the region `name` and checks that it holds exactly `size` bytes.
    ///
    /// ```
    /// use anyipc::shm::Region;
    /// # let name = format!("doc-region-open-sized-{}", std::process::id());
    /// let _creator = Region::create(&name, 256)?;
    /// assert_eq!(Region::open_sized(&name, 256)?.len(), 256);
    /// let err = Region::open_sized(&name, 512).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`open`](Region::open); `InvalidData` also when the size differs.
    pub fn open_sized(name: &str, size: usize) -> io::Result<Region> {
        let region = Region::open(name)?;
        if region.len() != size {
            return Err(invalid(
                name,
                format!("{} bytes, expected {size}", region.len()),
            ));
        }
        Ok(region)
    }

    /// The region's name.
    ///
    /// ```
    /// use anyipc::shm::Region;
    /// # let name = format!("doc-region-name-{}", std::process::id());
    /// let _creator = Region::create(&name, 16)?;
    /// assert_eq!(Region::open(&name)?.name(), name);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its size in bytes.
    ///
    /// ```
    /// use anyipc::shm::Region;
    /// # let name = format!("doc-region-len-{}", std::process::id());
    /// let creator = Region::create(&name, 100)?;
    /// assert_eq!(creator.len(), 100);
    /// assert_eq!(Region::open(&name)?.len(), 100); // as created, not rounded to pages
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.mapped.size
    }

    /// Never true: a region holds at least one byte.
    ///
    /// ```
    /// use anyipc::shm::Region;
    /// # let name = format!("doc-region-is-empty-{}", std::process::id());
    /// let err = Region::create(&name, 0).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// let region = Region::create(&name, 1)?;
    /// assert!(!region.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        false
    }

    fn check_range(&self, offset: usize, len: usize) -> io::Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.mapped.size => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "bytes {offset}..{offset}+{len} are outside region {} ({} bytes)",
                    self.name, self.mapped.size
                ),
            )),
        }
    }

    /// Copies `buf.len()` bytes at `offset` out of the region.
    ///
    /// Another process writing the same bytes at the same time may leave a mix of old and
    /// new bytes in `buf`; use [`signal`](Region::signal)/[`wait`](Region::wait) or your own
    /// protocol to take turns.
    ///
    /// ```
    /// use anyipc::shm::Region;
    /// # let name = format!("doc-region-read-{}", std::process::id());
    /// let region = Region::create(&name, 16)?;
    /// region.write(4, b"abcd")?;
    /// let mut buf = [0xff; 6];
    /// region.read(3, &mut buf)?;
    /// assert_eq!(&buf, b"\0abcd\0");
    /// let err = region.read(12, &mut buf).unwrap_err(); // bytes 12..18 of 16
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` when the range is outside the region.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> io::Result<()> {
        self.check_range(offset, buf.len())?;
        self.mapped.guarded(&self.name, || {
            // SAFETY: the range is inside the mapping (checked against the private size,
            // which matched the file at open); `buf` is our own memory. A concurrent writer
            // can change which bytes we copy, never where; a page the file lost faults,
            // and the guard makes it a zero page and an error.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.mapped.map.as_ptr().add(HEADER_LEN + offset),
                    buf.as_mut_ptr(),
                    buf.len(),
                );
            }
        })
    }

    /// Copies `data` into the region at `offset`.
    ///
    /// ```
    /// use anyipc::shm::Region;
    /// # let name = format!("doc-region-write-{}", std::process::id());
    /// let region = Region::create(&name, 8)?;
    /// region.write(0, b"12345678")?;
    /// let err = region.write(4, b"too long").unwrap_err(); // nothing is written
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// let mut buf = [0; 8];
    /// Region::open(&name)?.read(0, &mut buf)?;
    /// assert_eq!(&buf, b"12345678");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` when the range is outside the region.
    pub fn write(&self, offset: usize, data: &[u8]) -> io::Result<()> {
        self.check_range(offset, data.len())?;
        self.mapped.guarded(&self.name, || {
            // SAFETY: as in `read`; the destination is inside the writable shared mapping.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    data.as_ptr(),
                    self.mapped.map.as_mut_ptr().add(HEADER_LEN + offset),
                    data.len(),
                );
            }
        })
    }

    /// How many times the region has been signalled (wrapping).
    ///
    /// ```
    /// use anyipc::shm::Region;
    /// # let name = format!("doc-region-signals-{}", std::process::id());
    /// let region = Region::create(&name, 8)?;
    /// let other = Region::open(&name)?;
    /// let before = other.signals();
    /// region.signal();
    /// region.signal();
    /// assert_eq!(other.signals(), before.wrapping_add(2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn signals(&self) -> u32 {
        let signals = &self.mapped.header().signals;
        // A shrunk file reads as zeros (read, write and wait report it).
        let loaded = self
            .mapped
            .guarded(&self.name, || signals.load(Ordering::Acquire));
        loaded.unwrap_or(0)
    }

    /// Wakes every process waiting on the region. Writes made before it are visible to the
    /// woken after their wait returns.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::shm::Region;
    /// use std::time::Duration;
    /// # let name = format!("doc-region-signal-{}", std::process::id());
    /// let region = Region::create(&name, 8)?;
    /// let reader = Region::open(&name)?; // usually in another process
    /// let seen = reader.signals();
    /// let waiter = tokio::spawn(async move {
    ///     reader.wait_after(seen, Duration::from_secs(10)).await?;
    ///     let mut buf = [0; 5];
    ///     reader.read(0, &mut buf).map(|()| buf)
    /// });
    /// region.write(0, b"ready")?;
    /// region.signal();
    /// assert_eq!(&waiter.await.unwrap()?, b"ready");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn signal(&self) {
        let signals = &self.mapped.header().signals;
        // A shrunk file wakes no one (read, write and wait report it).
        let _ = self.mapped.guarded(&self.name, || {
            signals.fetch_add(1, Ordering::Release);
            sys::shm::futex_wake(signals, u32::MAX);
        });
    }

    /// Waits until the region is signalled after the returned future is first polled, at most
    /// `timeout` (`Duration::MAX`: without end). A signal between calling `wait` and awaiting it is not seen: where that
    /// matters, read [`signals`](Region::signals) first and use
    /// [`wait_after`](Region::wait_after).
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::shm::Region;
    /// use std::time::Duration;
    /// # let name = format!("doc-region-wait-{}", std::process::id());
    /// let region = Region::create(&name, 8)?;
    /// region.signal(); // before the wait: not seen by it
    /// let wait = region.wait(Duration::from_secs(10));
    /// tokio::pin!(wait);
    /// assert!(futures::poll!(&mut wait).is_pending()); // the wait has begun
    /// region.signal();
    /// wait.await?;
    /// let quiet = region.wait(Duration::from_millis(10)).await.unwrap_err();
    /// assert_eq!(quiet.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `TimedOut` when no signal comes in time.
    ///
    /// # Cancel safety
    /// Cancel safe. The wait sleeps on tokio's blocking pool (never on a worker thread); a
    /// dropped wait frees its thread within 100 ms.
    pub async fn wait(&self, timeout: Duration) -> io::Result<()> {
        self.wait_after(self.signals(), timeout).await
    }

    /// Waits until [`signals`](Region::signals) differs from `seen`, at most `timeout`: read
    /// `signals()` before looking at the data, and no signal after that can be missed.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::shm::Region;
    /// use std::time::Duration;
    /// # let name = format!("doc-region-wait-after-{}", std::process::id());
    /// let writer = Region::create(&name, 1)?;
    /// let reader = Region::open(&name)?;
    /// let seen = reader.signals();
    /// let mut flag = [0];
    /// reader.read(0, &mut flag)?; // nothing yet
    /// writer.write(0, &[1])?; // the writer's signal comes before the reader waits...
    /// writer.signal();
    /// reader.wait_after(seen, Duration::from_secs(10)).await?; // ...and is not missed
    /// reader.read(0, &mut flag)?;
    /// assert_eq!(flag, [1]);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `TimedOut` when no signal comes in time.
    ///
    /// # Cancel safety
    /// As [`wait`](Region::wait).
    pub async fn wait_after(&self, seen: u32, timeout: Duration) -> io::Result<()> {
        // Guarded, not `signals()`: a lost mapping is an error here, not a changed count.
        let signals = &self.mapped.header().signals;
        if self
            .mapped
            .guarded(&self.name, || signals.load(Ordering::Acquire))?
            != seen
        {
            return Ok(());
        }
        let mapped = Arc::clone(&self.mapped);
        let cancelled = Arc::new(AtomicBool::new(false));
        let _cancel_on_drop = CancelOnDrop(Arc::clone(&cancelled));
        // A timeout past what an `Instant` can hold (`Duration::MAX`) never comes.
        let deadline = Instant::now().checked_add(timeout);
        let name = self.name.clone();
        blocking::run(move || {
            let signals = &mapped.header().signals;
            loop {
                if mapped.guarded(&name, || signals.load(Ordering::Acquire))? != seen {
                    return Ok(());
                }
                let now = Instant::now();
                if deadline.is_some_and(|deadline| now >= deadline) {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("region {name}: no signal within {timeout:?}"),
                    ));
                }
                if cancelled.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let left = deadline.map_or(WAIT_SLICE, |deadline| deadline - now);
                sys::shm::futex_wait(signals, seen, left.min(WAIT_SLICE));
            }
        })
        .await
    }

    /// Leaves the region in place when this creator drops it or dies, for others to open
    /// later. (A later `create` of the same name replaces it; [`RegionInfo::remove`] and
    /// `anyipc rm shm://NAME` remove it; `anyipc clean` keeps it.) On a region from
    /// [`open`](Region::open) it does nothing: only the creator decides.
    ///
    /// ```
    /// use anyipc::shm::Region;
    /// # let name = format!("doc-region-keep-{}", std::process::id());
    /// let mut creator = Region::create(&name, 16)?;
    /// creator.write(0, b"config")?;
    /// creator.keep();
    /// drop(creator);
    /// let region = Region::open(&name)?; // still there
    /// let mut buf = [0; 6];
    /// region.read(0, &mut buf)?;
    /// assert_eq!(&buf, b"config");
    /// # drop(region);
    /// # drop(Region::create(&name, 1)?); // replaces the kept region, then removes it
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn keep(&mut self) {
        if self.owned.is_none() {
            // An opener's word in the shared header would outlive a creator that never
            // kept the region, and spare it from the sweep of dead creators' regions.
            return;
        }
        self.keep = true;
        let kept = &self.mapped.header().kept;
        // A shrunk file keeps nothing: the creator's lock still keeps the name until drop.
        let _ = self
            .mapped
            .guarded(&self.name, || kept.store(1, Ordering::Release));
    }
    /// This user's regions on this machine, by name: each with its size, its creator's pid
    /// and whether that creator lives, as [`create`](Region::create) judges it before it
    /// replaces a region (what `anyipc ls` shows). Files a creator died while building are
    /// listed too (dead, [`is_staged`](RegionInfo::is_staged)); looking takes no lock a
    /// creator could be refused by.
    ///
    /// ```
    /// use anyipc::shm::{Region, RegionState};
    /// # let name = format!("doc-region-list-{}", std::process::id());
    /// let find = |name: &str| Region::list().map(|all| all.into_iter().find(|r| r.name() == name));
    /// let mut creator = Region::create(&name, 64)?;
    /// let listed = find(&name)?.expect("listed");
    /// assert_eq!(listed.state(), RegionState::Alive);
    /// assert_eq!(listed.creator_pid(), Some(std::process::id()));
    /// assert_eq!(listed.len(), 64);
    ///
    /// creator.keep();
    /// drop(creator);
    /// assert_eq!(find(&name)?.expect("kept").state(), RegionState::Kept);
    /// # find(&name)?.unwrap().remove()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// The error reading the regions' directory (`/dev/shm`); a file that cannot be opened is
    /// left out.
    pub fn list() -> io::Result<Vec<RegionInfo>> {
        region_info::list(&sys::shm::region_dir()?)
    }
}

/// Tells a blocking wait that nobody awaits it any more.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Drop for Region {
    /// A creator removes its region (unless kept), then gives up its lock: the mapping (and
    /// its file, which the lock is on) may outlive this `Region` for a moment in the thread
    /// of a dropped [`wait`](Region::wait), and a kept region must not look alive meanwhile.
    fn drop(&mut self) {
        if let Some((path, identity)) = &self.owned {
            if !self.keep {
                let _ = sys::remove_if_identical(path, *identity);
            }
            let _ = sys::shm::unlock_flock(std::os::fd::AsFd::as_fd(&self.mapped.file));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Another process's sweep or reclaim holds a dead region's lock (shared) while it looks
    /// at it: a create at that moment is not refused, as it would be by a live creator.
    #[test]
    fn a_create_is_not_refused_by_a_probe_of_the_dead_region_it_replaces() {
        let name = format!("unit-probe-{}", std::process::id());
        let mut finished = Region::create(&name, 8).unwrap();
        finished.keep();
        drop(finished);
        let path = region_path(&name).unwrap();
        let probe = sys::shm::open_own_file(&path).unwrap();
        assert!(sys::shm::try_flock_shared(std::os::fd::AsFd::as_fd(&probe)).unwrap());
        // The probe holds its lock for the whole create.
        let replaced = Region::create(&name, 8);
        drop(probe);
        assert_eq!(replaced.unwrap().len(), 8);
    }

    /// A creator waits while another process holds the creators' lock (which a creator
    /// holds from its check of a dead or kept region to its unlink of it, and to the link
    /// of its own): without the lock, one creator could check the kept region, another
    /// unlink it and link its own, and the first then unlink that live region (both
    /// `create`s succeeded; one region could no longer be opened by name).
    #[test]
    fn a_create_waits_for_another_creator_that_holds_the_lock() {
        let name = format!("unit-create-lock-{}", std::process::id());
        let mut kept = Region::create(&name, 8).unwrap();
        kept.write(0, b"kept").unwrap();
        kept.keep();
        drop(kept);
        let path = region_path(&name).unwrap();
        let kept_file = sys::file_identity(&path).unwrap();

        let held = lock_creators(&sys::shm::region_dir().unwrap()).expect("the lock");
        let creating = {
            let name = name.clone();
            std::thread::spawn(move || Region::create(&name, 8))
        };
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            sys::file_identity(&path).unwrap(),
            kept_file,
            "the kept region was replaced while another creator held the lock"
        );
        drop(held);
        let created = creating.join().unwrap().unwrap();
        created.write(0, b"new!").unwrap();
        let mut seen = [0; 4];
        Region::open(&name).unwrap().read(0, &mut seen).unwrap();
        assert_eq!(&seen, b"new!");
    }

    /// `Duration::MAX`, the usual "no timeout", waits (it panicked: the deadline overflowed
    /// an `Instant`), and a signal still ends the wait.
    #[tokio::test]
    async fn a_wait_without_end_waits_and_a_signal_ends_it() {
        let name = format!("unit-wait-forever-{}", std::process::id());
        let region = Region::create(&name, 1).unwrap();
        let seen = region.signals();
        let waiting = region.wait_after(seen, Duration::MAX);
        tokio::pin!(waiting);
        let quiet = tokio::time::timeout(Duration::from_millis(50), &mut waiting).await;
        assert!(quiet.is_err(), "ended without a signal: {quiet:?}");
        region.signal();
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the signal did not end the wait")
            .unwrap();
        let quiet = tokio::time::timeout(Duration::from_millis(20), region.wait(Duration::MAX));
        assert!(quiet.await.is_err());
    }

    #[test]
    fn a_mapping_has_the_checked_length_whatever_the_file_has_become() {
        // The file as another process may leave it between `open`'s size check and the
        // mapping: shorter than checked. Bounds checks use the checked length, so the
        // mapping must have it (the old `map_raw` measured the file again: 4096 bytes).
        let path = crate::test_support::temp_path("map-exactly");
        let file = crate::test_support::open_read_write(&path);
        let _ = std::fs::remove_file(&path);
        file.set_len(4096).unwrap();
        let map = map_exactly(&file, 3 * 4096).unwrap();
        assert_eq!(map.len(), 3 * 4096);
    }
}
