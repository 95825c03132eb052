use super::Target;
use crate::endpoint::{escape_path, DEFAULT_MAX_FRAME, MAX_UDP_PAYLOAD};
use std::io;
use std::path::Path;

/// The largest message over a length-framed FIFO: a frame is one atomic write of at most
/// PIPE_BUF bytes (4,096 on Linux, 512 on macOS), its 4-byte length prefix included.
#[cfg(unix)]
const FIFO_MAX_MESSAGE: usize = crate::fifo::MAX_ATOMIC_FRAME - crate::codec::LENGTH_HEADER;
/// No FIFOs here: the fifo rows never run.
#[cfg(not(unix))]
const FIFO_MAX_MESSAGE: usize = 0;

/// One transport the bench and the tour run: a name, a URL template and how to run it.
///
/// The template may hold `{dir}` (a private temporary directory of the run, escaped as a URL
/// path is), `{unique}` (a name unique to the run) and `{max_message}` (the largest message
/// of the run in bytes: [`target_for`](Self::target_for)).
///
/// ```
/// use anyipc::bench::TRANSPORTS;
///
/// let unix = TRANSPORTS.iter().find(|t| t.name == "unix").unwrap();
/// let target = unix.target("run-1", std::path::Path::new("/tmp/x"))?;
/// assert_eq!(target.to_string(), "unix:///tmp/x/unix.sock");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportSpec {
    /// Short name shown in tables (`tcp`, `unix`, …).
    pub name: &'static str,
    /// URL template of the listening side.
    pub url: &'static str,
    /// Both sides run in one process (two tasks): the transport cannot cross processes.
    pub in_process: bool,
    /// The largest message the transport carries, when it has a limit below the bench sizes.
    pub max_message: Option<usize>,
    /// The raw twin this transport is compared with (a name in [`BASELINES`]).
    pub twin: &'static str,
    /// What a reader of the tables should know about how it runs (empty: nothing).
    pub note: &'static str,
}

impl TransportSpec {
    /// A transport measured between two processes.
    /// ```
    /// use anyipc::bench::TransportSpec;
    ///
    /// const SPEC: TransportSpec = TransportSpec::cross_process("my-tcp", "tcp://127.0.0.1:0");
    /// assert!(!SPEC.in_process);
    /// assert_eq!((SPEC.twin, SPEC.max_message, SPEC.note), ("baseline", None, ""));
    /// ```
    pub const fn cross_process(name: &'static str, url: &'static str) -> TransportSpec {
        TransportSpec {
            name,
            url,
            in_process: false,
            max_message: None,
            twin: "baseline",
            note: "",
        }
    }

    /// A transport measured between two tasks of one process.
    /// ```
    /// use anyipc::bench::TransportSpec;
    /// use std::path::Path;
    ///
    /// const SPEC: TransportSpec = TransportSpec::in_process("my-mem", "mem://{unique}");
    /// assert!(SPEC.in_process);
    /// assert_eq!(SPEC.target("run-1", Path::new("/unused"))?.to_string(), "mem://run-1");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn in_process(name: &'static str, url: &'static str) -> TransportSpec {
        TransportSpec {
            in_process: true,
            ..TransportSpec::cross_process(name, url)
        }
    }

    /// The same transport limited to messages of `max` bytes.
    /// ```
    /// use anyipc::bench::TransportSpec;
    ///
    /// let spec = TransportSpec::cross_process("my-udp", "udp://127.0.0.1:0").max_message(1_000);
    /// assert_eq!(spec.max_message, Some(1_000));
    /// assert_eq!(spec.message_size(1_024), Ok(1_000)); // a little above: run at the limit
    /// assert!(spec.message_size(4_096).is_err()); // far above: skipped
    /// ```
    pub const fn max_message(self, max: usize) -> TransportSpec {
        TransportSpec {
            max_message: Some(max),
            ..self
        }
    }

    /// The same transport compared with another raw twin.
    /// ```
    /// use anyipc::bench::{TransportSpec, BASELINES};
    ///
    /// let spec = TransportSpec::cross_process("my-tcp", "tcp://127.0.0.1:0").twin("tcp-twin");
    /// assert_eq!(spec.twin, "tcp-twin");
    /// assert!(BASELINES.iter().any(|b| b.name == spec.twin));
    /// ```
    pub const fn twin(self, twin: &'static str) -> TransportSpec {
        TransportSpec { twin, ..self }
    }

    /// The same transport with a note for the tables.
    /// ```
    /// use anyipc::bench::TransportSpec;
    ///
    /// let spec = TransportSpec::cross_process("my-fifo", "fifo://{dir}/a + fifo://{dir}/b")
    ///     .note("two FIFOs, one each way");
    /// assert_eq!(spec.note, "two FIFOs, one each way");
    /// assert_eq!(spec.twin, "baseline"); // the rest is unchanged
    /// ```
    pub const fn note(self, note: &'static str) -> TransportSpec {
        TransportSpec { note, ..self }
    }

    /// The message size this transport runs when `size` is asked for: `size` itself; the
    /// transport's largest message when that is a little below `size` (within 1/16: udp's
    /// 65,507-byte datagrams for 64 KiB, fifo's 4,092-byte frames for 4 KiB); or, as `Err`,
    /// why the size is skipped.
    ///
    /// ```
    /// use anyipc::bench::TRANSPORTS;
    ///
    /// let fifo = TRANSPORTS.iter().find(|t| t.name == "fifo").unwrap();
    /// assert!(fifo.message_size(65_536).is_err());
    /// if cfg!(unix) {
    ///     assert_eq!(fifo.message_size(64), Ok(64));
    /// }
    /// if cfg!(target_os = "linux") {
    ///     // PIPE_BUF is 4,096 bytes there (512 on macOS; no FIFOs on Windows).
    ///     assert_eq!(fifo.message_size(4096), Ok(4092));
    /// }
    /// ```
    ///
    /// # Errors
    /// The note to print for a skipped size.
    pub fn message_size(&self, size: usize) -> Result<usize, String> {
        match self.max_message {
            Some(max) if size > max && max >= size - size / 16 => Ok(max),
            Some(max) if size > max => Err(format!("skipped: messages of at most {max} B")),
            _ => Ok(size),
        }
    }

    /// Whether this platform has the transport: its target parses here and
    /// [is available](Target::is_available) (`shm` and `mq` are Linux's; `unix`, `fifo` and
    /// `child`, like the raw twins but `tcp-twin`, need a Unix system).
    ///
    /// ```
    /// use anyipc::bench::{BASELINES, TRANSPORTS};
    ///
    /// let named = |name| TRANSPORTS.iter().chain(BASELINES).find(|t| t.name == name).unwrap();
    /// assert!(named("tcp").is_available() && named("tcp-twin").is_available());
    /// assert_eq!(named("shm").is_available(), cfg!(target_os = "linux"));
    /// assert_eq!(named("baseline").is_available(), cfg!(unix));
    /// ```
    pub fn is_available(&self) -> bool {
        self.target("availability", &std::env::temp_dir())
            .is_ok_and(|target| target.is_available())
    }

    /// The target to listen on, `{dir}` and `{unique}` filled in, and `{max_message}` with the
    /// transport's largest message ([`max_message`](Self::max_message); 8 MiB without one).
    ///
    /// ```
    /// use anyipc::bench::{Target, TransportSpec, TRANSPORTS};
    /// use std::path::Path;
    ///
    /// let fifo = TRANSPORTS.iter().find(|t| t.name == "fifo").unwrap();
    /// let target = fifo.target("run-7", Path::new("/tmp/run-7"))?;
    /// let Target::Pair { to_peer, from_peer } = target else { panic!("{target}") };
    /// assert_eq!(to_peer.to_string(), "fifo:///tmp/run-7/to-peer.fifo");
    /// assert_eq!(from_peer.to_string(), "fifo:///tmp/run-7/from-peer.fifo");
    /// let bad = TransportSpec::cross_process("bad", "nope://{unique}");
    /// let err = bad.target("run-7", Path::new("/tmp/run-7")).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` when the result is not a valid target.
    pub fn target(&self, unique: &str, dir: &Path) -> io::Result<Target> {
        self.filled_in(unique, dir, self.max_message.unwrap_or(DEFAULT_MAX_FRAME))
    }

    /// The target to listen on for a run whose messages are at most `largest` bytes: as
    /// [`target`](Self::target), but `{max_message}` is `largest` (at least 4 KiB, room for
    /// the run's control messages; at most the transport's own largest). An `mq` queue
    /// reserves capacity × `max_message_len` of `/dev/shm` when it is made: 128 MiB for
    /// 1 MiB messages, more than the 64 MiB a container's `/dev/shm` has by default, where
    /// `anyipc tour`, which sends 4 KiB at most, needs 512 KiB.
    ///
    /// ```
    /// use anyipc::bench::TRANSPORTS;
    /// use std::path::Path;
    ///
    /// let mq = TRANSPORTS.iter().find(|t| t.name == "mq").unwrap();
    /// let small = mq.target_for("run-8", Path::new("/tmp/run-8"), 64)?;
    /// assert!(small.to_string().contains("max_message_len=4KiB"), "{small}");
    /// let large = mq.target_for("run-8", Path::new("/tmp/run-8"), 1 << 20)?;
    /// assert!(large.to_string().contains("max_message_len=1MiB"), "{large}");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` when the result is not a valid target.
    pub fn target_for(&self, unique: &str, dir: &Path, largest: usize) -> io::Result<Target> {
        let most = self.max_message.unwrap_or(DEFAULT_MAX_FRAME);
        self.filled_in(unique, dir, largest.max(4096).min(most))
    }

    fn filled_in(&self, unique: &str, dir: &Path, max_message: usize) -> io::Result<Target> {
        self.url
            .replace("{dir}", &escape_path(dir))
            .replace("{unique}", unique)
            .replace("{max_message}", &max_message.to_string())
            .parse()
    }
}

/// Every implemented anyipc transport, in table order. A new transport is one line here.
///
/// One-way transports run as a [`Target::Pair`], one endpoint each way: `fifo` (two FIFOs),
/// `file` (two logs, `fsync=never`: the page cache, not the disk) and `mq` (two queues the
/// run creates and [`RunResources`](super::RunResources) removes). `child` is a child process on
/// pipes to the measuring one (`stdio://`).
///
/// `tcp`, `child` and `fifo` ride other kernel mechanisms than the baseline's Unix socket and
/// are compared with raw twins of their own ([`BASELINES`]).
///
/// ```
/// use anyipc::bench::{BASELINES, TRANSPORTS};
///
/// for spec in TRANSPORTS {
///     // Every template makes a valid anyipc target, and every twin is a baseline.
///     assert!(!spec.target("run-1", std::path::Path::new("/tmp/run-1"))?.is_raw());
///     assert!(BASELINES.iter().any(|b| b.name == spec.twin), "{}", spec.name);
/// }
/// assert!(TRANSPORTS.iter().any(|t| t.name == "mem" && t.in_process));
/// # Ok::<(), std::io::Error>(())
/// ```
pub const TRANSPORTS: &[TransportSpec] = &[
    TransportSpec::cross_process("tcp", "tcp://127.0.0.1:0").twin("tcp-twin"),
    TransportSpec::cross_process("unix", "unix://{dir}/unix.sock"),
    TransportSpec::cross_process("pipe", "pipe://{unique}"),
    TransportSpec::cross_process(
        "fifo",
        "fifo://{dir}/to-peer.fifo + fifo://{dir}/from-peer.fifo",
    )
    .max_message(FIFO_MAX_MESSAGE)
    .twin("fifo-twin")
    .note("two FIFOs, one each way"),
    TransportSpec::cross_process("child", "stdio://")
        .twin("child-twin")
        .note("a child process on two pipes"),
    TransportSpec::cross_process("udp", "udp://127.0.0.1:0").max_message(MAX_UDP_PAYLOAD),
    TransportSpec::cross_process("shm", "shm://{unique}"),
    TransportSpec::cross_process("shm-busy", "shm://{unique}?busy_poll=true").note(
        "shm:// with busy_poll=true: spins instead of sleeping while it waits (lower latency, \
         one busy core)",
    ),
    // Every slot reserves max_message_len of /dev/shm when the queue is made: 128 × the run's
    // largest message per queue (`target_for`), 128 MiB at 1 MiB.
    TransportSpec::cross_process(
        "mq",
        "mq://{unique}-to-peer?create=true&capacity=128&max_message_len={max_message} \
         + mq://{unique}-from-peer?create=true&capacity=128&max_message_len={max_message}",
    )
    .max_message(1 << 20)
    .note("two queues, one each way"),
    // Both sides read from the end of a log (nothing of an earlier run is read again). A run
    // moves at most ~1 GiB and the consumer has read everything before the next one starts,
    // so retention (deleting old segments) never takes records not yet read.
    TransportSpec::cross_process(
        "file",
        "file://{dir}/to-peer?fsync=never&from=end&retention=2GiB \
         + file://{dir}/from-peer?fsync=never&from=end&retention=2GiB",
    )
    .note("two logs, one each way; fsync=never (the page cache, not the disk)"),
    TransportSpec::in_process("mem", "mem://{unique}"),
];

/// The hand-written raw twins the transports are compared with, each tokio-util `Framed` +
/// `LengthDelimitedCodec` at its defaults over a tokio stream, with no anyipc transport or
/// codec code: `baseline` (tokio `UnixStream`, the protocol's baseline), `tcp-twin` (tokio
/// `TcpStream` with TCP_NODELAY, as `tcp` sets it), `child-twin` (a child process on two
/// anonymous pipes, tokio `pipe::{Receiver, Sender}`, a child per run) and `fifo-twin` (two
/// FIFOs, one each way, to a child per run; messages of at most 4,092 bytes as `fifo`, but
/// written as `Framed` writes them, without `fifo://`'s one-frame-batch-per-atomic-write rule).
/// The pipe twins ask for 1 MiB pipe buffers, as `child` and `fifo` do.
///
/// `child-twin` and `fifo-twin` exist on Unix only (their targets do not parse elsewhere).
///
/// ```
/// use anyipc::bench::BASELINES;
///
/// assert_eq!(BASELINES[0].name, "baseline");
/// for spec in BASELINES.iter().filter(|spec| spec.is_available()) {
///     let target = spec.target("run-1", std::path::Path::new("/tmp/run-1"))?;
///     assert!(target.is_raw(), "{target}");
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub const BASELINES: &[TransportSpec] = &[
    TransportSpec::cross_process("baseline", "raw+unix://{dir}/baseline.sock"),
    TransportSpec::cross_process("tcp-twin", "raw+tcp://127.0.0.1:0"),
    TransportSpec::cross_process("child-twin", "raw+child://")
        .note("a child process per run on two pipes"),
    // The same message sizes as fifo, so the two compare like with like.
    TransportSpec::cross_process("fifo-twin", "raw+fifo://{dir}/fifo-twin")
        .max_message(FIFO_MAX_MESSAGE)
        .note("two FIFOs, one each way; a child process per run"),
];
