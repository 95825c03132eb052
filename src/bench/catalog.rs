use super::Target;
use std::io;
use std::path::Path;

/// One transport the bench and the tour run: a name, a URL template and how to run it.
///
/// The template may hold `{dir}` (a private temporary directory of the run) and `{unique}`
/// (a name unique to the run).
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
}

impl TransportSpec {
    /// A transport measured between two processes.
    pub const fn cross_process(name: &'static str, url: &'static str) -> TransportSpec {
        TransportSpec {
            name,
            url,
            in_process: false,
            max_message: None,
            twin: "baseline",
        }
    }

    /// A transport measured between two tasks of one process.
    pub const fn in_process(name: &'static str, url: &'static str) -> TransportSpec {
        TransportSpec {
            in_process: true,
            ..TransportSpec::cross_process(name, url)
        }
    }

    /// The same transport limited to messages of `max` bytes.
    pub const fn max_message(self, max: usize) -> TransportSpec {
        TransportSpec {
            max_message: Some(max),
            ..self
        }
    }

    /// The same transport compared with another raw twin.
    pub const fn twin(self, twin: &'static str) -> TransportSpec {
        TransportSpec { twin, ..self }
    }

    /// The target to listen on, `{dir}` and `{unique}` filled in.
    ///
    /// # Errors
    /// `InvalidInput` when the result is not a valid target.
    pub fn target(&self, unique: &str, dir: &Path) -> io::Result<Target> {
        self.url
            .replace("{dir}", &dir.display().to_string())
            .replace("{unique}", unique)
            .parse()
    }
}

/// Every implemented anyipc transport, in table order. A new transport is one line here.
pub const TRANSPORTS: &[TransportSpec] = &[
    TransportSpec::cross_process("tcp", "tcp://127.0.0.1:0").twin("tcp-twin"),
    TransportSpec::cross_process("unix", "unix://{dir}/unix.sock"),
    TransportSpec::cross_process("pipe", "pipe://{unique}"),
    // 65,507 bytes is the largest UDP payload over IPv4.
    TransportSpec::cross_process("udp", "udp://127.0.0.1:0").max_message(65_507),
    TransportSpec::cross_process("shm", "shm://{unique}"),
    TransportSpec::cross_process("shm-busy", "shm://{unique}?busy_poll=true"),
    TransportSpec::in_process("mem", "mem://{unique}"),
];

/// The hand-written raw twins the transports are compared with (no anyipc code): `baseline`
/// (tokio `UnixStream` + `LengthDelimitedCodec`, the protocol's baseline) and `tcp-twin`
/// (tokio `TcpStream` with TCP_NODELAY + `LengthDelimitedCodec`).
pub const BASELINES: &[TransportSpec] = &[
    TransportSpec::cross_process("baseline", "raw+unix://{dir}/baseline.sock"),
    TransportSpec::cross_process("tcp-twin", "raw+tcp://127.0.0.1:0"),
];
