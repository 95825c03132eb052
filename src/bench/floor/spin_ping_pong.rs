use crate::bench::{LatencyReport, LatencySamples};
use memmap2::{MmapOptions, MmapRaw};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::hint::spin_loop;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where shared-memory files live; without it the spin floor is skipped.
const SHM_DIR: &str = "/dev/shm";

/// Bytes mapped: one page, of which the first 8 are the shared counter.
const MAP_LEN: usize = 4096;

/// The counter value that tells the peer to exit.
const STOP: u64 = u64::MAX;

/// A side that sees no progress for this long gives up.
const STALL: Duration = Duration::from_secs(5);

/// The client side of a cross-process ping-pong through one shared cache line.
///
/// The counter starts at 0; the client makes it odd, the peer ([`spin_peer`], in another
/// process) makes it even again; both busy-spin, so a round trip costs two cache-line
/// transfers and nothing else. Both processes need a CPU of their own while it runs.
///
/// ```
/// # if std::env::args().nth(1).as_deref() == Some("--spin-peer") {
/// #     let path = std::env::args().nth(2).unwrap();
/// #     return anyipc::bench::floor::spin_peer(path.as_ref());
/// # }
/// use anyipc::bench::floor::SpinPingPong;
///
/// // This example runs `spin_peer(PATH)` when started as `--spin-peer PATH`.
/// let spin = SpinPingPong::create(&format!("doc-{}", std::process::id()))?;
/// let mut peer = std::process::Command::new(std::env::current_exe()?)
///     .arg("--spin-peer")
///     .arg(spin.path())
///     .spawn()?;
/// let report = spin.run(2, 10)?;
/// assert_eq!(report.count, 10);
/// drop(spin); // tells the peer to stop, and removes the shared page
/// assert!(peer.wait()?.success());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SpinPingPong {
    path: PathBuf,
    map: MmapRaw,
}

impl SpinPingPong {
    /// Creates the shared page `/dev/shm/anyipc-spin-NAME` (removed on drop).
    ///
    /// ```
    /// use anyipc::bench::floor::SpinPingPong;
    ///
    /// let name = format!("doc-create-{}", std::process::id());
    /// let spin = SpinPingPong::create(&name)?;
    /// let err = SpinPingPong::create(&name).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    /// let path = spin.path().to_owned();
    /// assert!(path.exists());
    /// drop(spin);
    /// assert!(!path.exists());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `NotFound` when there is no `/dev/shm`; `AlreadyExists` when the name is taken.
    pub fn create(name: &str) -> io::Result<SpinPingPong> {
        let dir = Path::new(SHM_DIR);
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no /dev/shm on this machine",
            ));
        }
        let path = dir.join(format!("anyipc-spin-{name}"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let map = map(&file).inspect_err(|_| {
            let _ = std::fs::remove_file(&path);
        })?;
        Ok(SpinPingPong { path, map })
    }

    /// The shared file, for the peer's command line.
    ///
    /// ```
    /// use anyipc::bench::floor::SpinPingPong;
    ///
    /// let spin = SpinPingPong::create(&format!("doc-path-{}", std::process::id()))?;
    /// let expected = format!("/dev/shm/anyipc-spin-doc-path-{}", std::process::id());
    /// assert_eq!(spin.path(), std::path::Path::new(&expected));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `warmup` untimed round trips, then `count` timed one by one (64-byte cache line).
    ///
    /// ```
    /// use anyipc::bench::floor::{spin_peer, SpinPingPong};
    ///
    /// let spin = SpinPingPong::create(&format!("doc-run-{}", std::process::id()))?;
    /// let path = spin.path().to_owned();
    /// // The peer belongs in another process (as in the type's example); a thread serves here.
    /// let peer = std::thread::spawn(move || spin_peer(&path));
    /// let report = spin.run(2, 10)?;
    /// assert_eq!((report.count, report.size), (10, 64));
    /// assert!(report.min <= report.p50 && report.p50 <= report.max);
    /// drop(spin);
    /// peer.join().unwrap()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `TimedOut` when the peer does not answer for 5 s (it has not started, or has died).
    pub fn run(&self, warmup: usize, count: usize) -> io::Result<LatencyReport> {
        let cell = counter(&self.map);
        let mut samples = LatencySamples::for_count(count);
        for i in 0..warmup.saturating_add(count) {
            let start = Instant::now();
            let sent = cell.load(Ordering::Acquire) + 1;
            cell.store(sent, Ordering::Release);
            wait_for(cell, |v| v == sent + 1)?;
            if i >= warmup {
                samples.record(start.elapsed());
            }
        }
        Ok(samples.report(64))
    }
}

impl Drop for SpinPingPong {
    fn drop(&mut self) {
        counter(&self.map).store(STOP, Ordering::Release);
        let _ = std::fs::remove_file(&self.path);
    }
}

impl fmt::Debug for SpinPingPong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpinPingPong")
            .field("path", &self.path)
            .finish()
    }
}

/// The peer side of [`SpinPingPong`], run in another process: answers every odd counter
/// value until told to stop.
///
/// ```
/// use anyipc::bench::floor::{spin_peer, SpinPingPong};
///
/// let spin = SpinPingPong::create(&format!("doc-spin-peer-{}", std::process::id()))?;
/// let path = spin.path().to_owned();
/// let peer = std::thread::spawn(move || spin_peer(&path)); // another process, in the bench
/// spin.run(0, 5)?;
/// drop(spin); // tells the peer to stop
/// peer.join().unwrap()?;
/// // No shared page, no peer.
/// let missing = format!("/dev/shm/anyipc-spin-doc-missing-{}", std::process::id());
/// let err = spin_peer(missing.as_ref()).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// Opening or mapping errors; `TimedOut` when the client shows no progress for 5 s.
pub fn spin_peer(path: &Path) -> io::Result<()> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let map = map(&file)?;
    let cell = counter(&map);
    loop {
        let v = wait_for(cell, |v| v % 2 == 1)?;
        if v == STOP {
            return Ok(());
        }
        cell.store(v + 1, Ordering::Release);
    }
}

/// Maps the shared page, sizing the file first (both sides set the same length, so neither
/// can see a shorter file than it maps).
fn map(file: &File) -> io::Result<MmapRaw> {
    file.set_len(MAP_LEN as u64)?;
    MmapOptions::new().len(MAP_LEN).map_raw(file)
}

/// The shared counter at the start of the page.
fn counter(map: &MmapRaw) -> &AtomicU64 {
    let ptr = map.as_mut_ptr().cast::<AtomicU64>();
    // SAFETY: the mapping is page-aligned (so 8-aligned), at least 8 bytes long and lives as
    // long as `map`, which the returned reference borrows. The memory is shared with another
    // process, which only ever accesses it through an `AtomicU64` too, so all accesses are
    // atomic; every bit pattern is a valid u64.
    unsafe { &*ptr }
}

/// Spins until the counter satisfies `done` (or is [`STOP`]), returning its value.
fn wait_for(cell: &AtomicU64, done: impl Fn(u64) -> bool) -> io::Result<u64> {
    let mut since = None;
    let mut spins = 0u32;
    loop {
        let v = cell.load(Ordering::Acquire);
        if done(v) || v == STOP {
            return Ok(v);
        }
        spin_loop();
        spins = spins.wrapping_add(1);
        if spins % 65_536 == 0 {
            let since = since.get_or_insert_with(Instant::now);
            if since.elapsed() > STALL {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the spin ping-pong peer stopped answering",
                ));
            }
        }
    }
}
