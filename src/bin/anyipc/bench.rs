//! `anyipc bench URL`: measures one endpoint between two processes, the way BENCHMARKS.md
//! describes (W1 ping-pong latency, W2 one-way throughput), with the engine in
//! [`anyipc::bench`].
//!
//! By default the peer is this binary re-run as the hidden `anyipc bench-peer URL` (for
//! `mem://`, which cannot cross processes, a task of this process; for `stdio://`, a child on
//! pipes to this process). One-way endpoints (`fifo://`, `file://`, `mq://`) run as a pair
//! with a reply endpoint beside them (see `target_arg`); a pair's way back is bound here (see
//! `pair`). Sizes are fitted to what the endpoint carries (see `limits`). With `--connect` the
//! peer is an `anyipc listen URL --echo` that is already running: latency runs as usual (the
//! echo server echoes the control message too, which the engine recognises), and throughput
//! counts echoed messages (see `echo_throughput`). `--baseline` measures the raw tokio
//! `UnixStream` + `LengthDelimitedCodec` baseline with the same workload in the same run.

mod echo_throughput;
mod limits;
mod pair;
mod progress;
mod results;
mod target_arg;

use crate::output::print_stdout;
use crate::size_arg::parse_size;
use crate::{CliError, StopSignals};
use anyipc::bench::{
    run_client, InProcessPeer, Machine, PeerProcess, Report, RunResources, Target, Workload,
};
use anyipc::{Scheme, Transport};
use bytes::Bytes;
use echo_throughput::echo_throughput;
use limits::{check_queues, largest_message, message_size, Limit};
use pair::WayBack;
use progress::{Counted, Progress};
use results::{json_line, table, Measured};
use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use target_arg::target_arg;

/// Timed round trips of a latency run unless `--count` says otherwise.
const DEFAULT_ROUND_TRIPS: usize = 10_000;
/// Messages of a throughput run unless `--count` says otherwise.
const DEFAULT_MESSAGES: usize = 100_000;
/// Message size of a latency run unless `--size` says otherwise.
const DEFAULT_LATENCY_SIZE: usize = 64;
/// Message size of a throughput run unless `--size` says otherwise.
const DEFAULT_THROUGHPUT_SIZE: usize = 4096;

/// Which workloads to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// W1: round trips of one message, each timed (p50, p99, p99.9, mean).
    Latency,
    /// W2: messages sent one way as fast as possible (messages/s, GiB/s).
    Throughput,
    /// Latency, then throughput.
    Both,
}

/// Arguments of `anyipc bench`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The peer: without --connect, anyipc starts its own peer process that binds URL (port 0 and \
unique names are fine); mem:// runs both sides in this process; stdio:// starts the peer as a \
child on two pipes. One-way endpoints run with a second endpoint for the way back: the peer \
answers a fifo:// or file:// URL on PATH.reply and an mq:// URL on NAME-reply (created); \
queues and file:// logs the run created are removed afterwards, and both logs are read from \
their end (from=end). Or give any two endpoints as \"URL_TO_PEER + URL_FROM_PEER\" (quoted: \
one argument): the peer binds the first, anyipc the second (port 0 is fine there too), and \
the peer connects back when a run starts (an error after 8 s if it does not). An mq:// queue \
without ?create=true must exist (anyipc mq create NAME), and one that holds messages is \
refused (the run would take them). With --connect, URL must be a \
running `anyipc listen URL --echo`: latency is measured through the echo, and throughput \
counts echoed messages (every byte crosses twice, so it is not comparable with the one-way \
figure, nor with the baseline). `listen` prints every message it echoes, so that figure is \
the echo server's, printing included (binary messages, escaped as text, cost the most; \
--hex less), not the transport's alone.

Sizes: a default size over the largest message the endpoint carries is lowered to it (a note \
says so; fifo:// carries PIPE_BUF less its framing (4,092 B with length framing on Linux), udp:// 65,507 B, mq:// its \
max_message_len, others max_frame); a --size over it is refused before anything runs.

Ending: whatever fails, and on Ctrl-C, SIGTERM or SIGHUP, the endpoints the run created are \
removed (a peer killed with SIGKILL leaves its own named endpoint, which the next bind of the \
name reclaims). A peer that exits during a run fails it at once, with the peer's exit status \
and the last line it printed (a peer stopped by SIGTERM or SIGHUP says so).

Figures: latency p50, p99, p99.9 and mean round trip in µs (msgs/s is round trips per second); \
throughput in messages/s and GiB/s of payload. --baseline also runs the raw tokio UnixStream + \
LengthDelimitedCodec baseline with the same workload; ratio is p50 / baseline p50 for latency \
(lower is better) and GiB/s / baseline GiB/s for throughput (higher is better). A progress bar \
shows on stderr when a run lasts over a second and stderr is a terminal.

Unpinned, a round trip on a small VM is fast in one run (~8 µs on one host, as with both \
processes on one CPU) and slow in another (tens of µs: most likely a wake-up of a halted CPU), \
the endpoint's run and the baseline's independently, so one invocation's latency ratio can be \
anything between (0.1× to 9× for unix:// against its baseline on that host). Run it a few \
times, or pin both sides to one CPU (taskset -c 0 anyipc bench ...) for a steady ratio of \
sockets and pipes; not for shm://, whose spinning side then delays its peer.

--json prints one object per result and line: endpoint, mode, size, count, batch (messages per \
send_many call; 1 without --batch and for latency results), p50_us, p99_us, \
p999_us, mean_us (null for throughput), msgs_per_s, gib_per_s, sent and received (throughput), \
and with --baseline: baseline {p50_us, p99_us, p999_us, mean_us, msgs_per_s, gib_per_s} and \
ratio.

Examples:
  anyipc bench tcp://127.0.0.1:0                          both workloads over TCP
  anyipc bench unix:///tmp/b.sock --mode latency --size 4KiB --baseline
  anyipc bench shm://bench --mode throughput --size 64KiB --count 20000 --json
  anyipc bench shm://bench --mode throughput --size 64 --batch 1024 --baseline
  anyipc bench fifo:///tmp/b.fifo                         two FIFOs: b.fifo and b.fifo.reply
  anyipc bench \"tcp://127.0.0.1:0 + unix:///tmp/back.sock\"  to the peer on TCP, back on Unix
  anyipc bench stdio://                                   a child process on pipes
  anyipc listen tcp://127.0.0.1:7000 --echo > /dev/null &
  anyipc bench tcp://127.0.0.1:7000 --connect --mode latency

Exit codes: 0 measured; 1 the peer or a run failed, a queue does not exist or holds messages, or \
Ctrl-C, SIGTERM or SIGHUP; 2 bad usage, URL or --size.")]
pub(crate) struct BenchArgs {
    /// The endpoint to measure, e.g. tcp://127.0.0.1:0, unix:///tmp/b.sock, shm://bench,
    /// fifo:///tmp/b.fifo, stdio://, or "URL_TO_PEER + URL_FROM_PEER".
    #[arg(value_name = "URL")]
    url: String,

    /// Which workload to run.
    #[arg(long, value_enum, default_value = "both")]
    mode: Mode,

    /// Message size (64, 4KiB, 1MiB) [default: 64 B for latency, 4 KiB for throughput, or
    /// the largest message the endpoint carries when that is less].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    size: Option<usize>,

    /// Timed round trips (latency) or messages sent (throughput)
    /// [default: 10000 round trips, 100000 messages].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    count: Option<u64>,

    /// Untimed round trips before a latency run [default: as many as --count, at most 2000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
    warmup: Option<u64>,

    /// Print one JSON object per result instead of tables.
    #[arg(long)]
    json: bool,

    /// Also measure the raw tokio UnixStream + LengthDelimitedCodec baseline and print ratios.
    #[arg(long)]
    baseline: bool,

    /// Measure a running `anyipc listen URL --echo` instead of starting a peer.
    #[arg(long)]
    connect: bool,

    /// Throughput in batches: send with `send_many` of N messages, the peer receiving with
    /// `recv_batch` (the baseline still moves one message per call). For one endpoint that
    /// answers on the same connection; not with --connect or a pair of endpoints.
    #[arg(long, value_name = "N", conflicts_with = "connect",
          value_parser = clap::value_parser!(u64).range(2..=1_000_000))]
    batch: Option<u64>,
}

impl BenchArgs {
    /// The workloads asked for, in order, their sizes fitted to `limit` (a default size over
    /// it is lowered to it); and a note for each size lowered.
    ///
    /// # Errors
    /// `Usage` when `--size` is over `limit`.
    fn workloads(&self, limit: &Limit) -> Result<(Vec<Workload>, Vec<String>), CliError> {
        let count = |default| self.count.map_or(default, |n| n as usize);
        let mut workloads = Vec::new();
        let mut notes = Vec::new();
        if matches!(self.mode, Mode::Latency | Mode::Both) {
            let (size, note) = message_size("latency", self.size, DEFAULT_LATENCY_SIZE, limit)?;
            notes.extend(note);
            let mut w = Workload::latency(size, count(DEFAULT_ROUND_TRIPS));
            if let Some(warmup) = self.warmup {
                w = w.with_warmup(warmup as usize);
            }
            workloads.push(w);
        }
        if matches!(self.mode, Mode::Throughput | Mode::Both) {
            let (size, note) =
                message_size("throughput", self.size, DEFAULT_THROUGHPUT_SIZE, limit)?;
            notes.extend(note);
            let w = Workload::throughput(size, count(DEFAULT_MESSAGES));
            workloads.push(match self.batch {
                Some(batch) => w.with_batch(batch as usize),
                None => w,
            });
        }
        Ok((workloads, notes))
    }
}

/// Where the measured side connects, and what keeps the peer alive.
enum Peer {
    /// A peer process (stopped at the end, killed if dropped before).
    Process(Box<PeerProcess>),
    /// A peer task of this process (mem://).
    Task(InProcessPeer),
    /// An echo server someone else runs.
    Echo(Target),
}

impl Peer {
    fn target(&self) -> Target {
        match self {
            Peer::Process(p) => p.target().clone(),
            Peer::Task(t) => t.target().clone(),
            Peer::Echo(t) => t.clone(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Peer::Process(p) => format!(
                "{} {} (anyipc bench-peer)",
                if p.target().is_child() {
                    "child process"
                } else {
                    "peer process"
                },
                p.id().map_or_else(|| "?".to_owned(), |id| id.to_string())
            ),
            Peer::Task(_) => "peer task in this process (mem:// cannot cross processes)".to_owned(),
            Peer::Echo(_) => "running echo server (--connect)".to_owned(),
        }
    }

    /// Resolves once a peer process has exited; `None` for a peer that is not a process.
    fn exited(&self) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        match self {
            Peer::Process(process) => Some(process.exited()),
            _ => None,
        }
    }

    /// Ends a peer process cleanly (it removes its named endpoint); a peer that does not end
    /// is killed, and an error doing so changes nothing for the user: the results stand.
    async fn stop(self) {
        if let Peer::Process(process) = self {
            if let Err(e) = process.stop().await {
                tracing::debug!(error = %e, "stopping the bench peer");
            }
        }
    }
}

/// Refuses, as a usage error, a target `--connect` cannot measure: one that does not answer
/// on the same connection (a pair, a one-way endpoint, `stdio://`), and `mem://`, which lives
/// inside one process, so no running `anyipc listen --echo` can hold it (`listen` refuses it).
fn check_connect_target(asked: &Target) -> Result<(), CliError> {
    if !matches!(asked, Target::Anyipc(_)) || asked.is_child() {
        return Err(CliError::Usage(format!(
            "--connect needs an endpoint that answers on the same connection, not {asked}"
        )));
    }
    if asked.endpoints().iter().any(|e| e.scheme() == Scheme::Mem) {
        return Err(CliError::Usage(format!(
            "--connect measures a running `anyipc listen URL --echo` in another process, and \
             {asked} lives inside one process; leave out --connect to run both sides here"
        )));
    }
    Ok(())
}

/// Runs `anyipc bench`.
///
/// Everything is checked before anything runs; whatever then fails (or Ctrl-C, SIGTERM, SIGHUP),
/// the peers are stopped cleanly, which removes the endpoints they and this process created
/// (a peer killed with SIGKILL leaves its own until the next bind of the name reclaims it).
///
/// # Errors
/// Usage errors for a bad URL, or a size over what the endpoint carries; runtime errors for a
/// queue that does not exist, and when the peer does not start or a run fails.
pub(crate) async fn run(args: BenchArgs) -> Result<(), CliError> {
    let asked = target_arg(&args.url)?;
    if args.connect {
        check_connect_target(&asked)?;
    }
    if args.baseline && !anyipc::bench::BASELINES[0].is_available() {
        return Err(CliError::Usage(format!(
            "--baseline compares with the raw tokio UnixStream + LengthDelimitedCodec              baseline, which needs a Unix system (this is {}): leave out --baseline",
            std::env::consts::OS
        )));
    }
    if !asked.is_available() {
        return Err(CliError::Usage(format!(
            "{asked} is not available on this platform ({})",
            std::env::consts::OS
        )));
    }
    if matches!(asked, Target::Pair { .. })
        && asked
            .endpoints()
            .iter()
            .any(|e| e.scheme() == Scheme::Stdio)
    {
        return Err(CliError::Usage(format!(
            "stdio:// cannot be half of a pair ({asked}): it is a child process on two \
             pipes, one each way; give it alone"
        )));
    }
    if args.batch.is_some() {
        if !matches!(asked, Target::Anyipc(_)) {
            return Err(CliError::Usage(format!(
                "--batch needs one endpoint (send_many and recv_batch on one connection), \
                 not {asked}"
            )));
        }
        if matches!(args.mode, Mode::Latency) {
            return Err(CliError::Usage(
                "--batch applies to throughput: use --mode throughput or both".to_owned(),
            ));
        }
    }
    let (workloads, notes) = args.workloads(&largest_message(&asked))?;
    check_queues(&asked)?;
    let mut session = Session {
        way_back: None,
        peer: None,
        baseline: None,
        dir: TempDir::create()?,
        // Notes the queues and logs the runs will create, before any is.
        _resources: RunResources::new(&asked),
    };
    let mut stop = StopSignals::install()?;
    let interrupted = || CliError::Runtime("interrupted".to_owned());
    let (mut outcome, signalled) = tokio::select! {
        biased;
        outcome = session.run(&args, &asked, workloads, &notes) => (outcome, false),
        _ = stop.recv() => (Err(interrupted()), true),
    };
    // A signal sent to the whole process group (`kill -TERM -PGID`) may end the peer first:
    // a run that failed because its peer died of it was interrupted, which the signal
    // arriving here a moment later tells.
    if !signalled
        && outcome.is_err()
        && session.peer_exits_within(SIGNAL_GRACE).await
        && tokio::time::timeout(SIGNAL_GRACE, stop.recv())
            .await
            .is_ok()
    {
        outcome = Err(interrupted());
    }
    session.stop().await;
    outcome
}

/// How long after a failed run its peer's exit, and then a stop signal, still count as its
/// cause.
pub(crate) const SIGNAL_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

/// What a bench run has set up; [`stop`](Session::stop) ends it all in order.
struct Session {
    /// The way back of a pair, bound here.
    way_back: Option<WayBack>,
    peer: Option<Peer>,
    baseline: Option<Peer>,
    /// The baseline's socket directory.
    dir: TempDir,
    /// Removes the queues and logs the runs create; dropped last, after the peers have gone.
    _resources: RunResources,
}

impl Session {
    /// Starts the peers and runs `workloads`, printing each result.
    async fn run(
        &mut self,
        args: &BenchArgs,
        asked: &Target,
        workloads: Vec<Workload>,
        notes: &[String],
    ) -> Result<(), CliError> {
        let at = match asked {
            Target::Pair { to_peer, from_peer } if !args.connect => {
                // Bound before the peer starts, which is told where it really is.
                let way_back = WayBack::bind(from_peer).await.map_err(|e| {
                    CliError::Runtime(format!("cannot bind the way back, {from_peer}: {e}"))
                })?;
                let at = Target::Pair {
                    to_peer: to_peer.clone(),
                    from_peer: way_back.endpoint().clone(),
                };
                self.way_back = Some(way_back);
                at
            }
            _ => asked.clone(),
        };
        let peer = self.peer.insert(if args.connect {
            Peer::Echo(at.clone())
        } else {
            start_peer(&at)
                .await
                .map_err(|e| CliError::Runtime(format!("cannot start a bench peer on {at}: {e}")))?
        });
        if args.baseline {
            let at: Target = format!(
                "raw+unix://{}",
                self.dir.path.join("baseline.sock").display()
            )
            .parse()
            .map_err(|e| CliError::Runtime(format!("baseline socket path: {e}")))?;
            self.baseline =
                Some(start_peer(&at).await.map_err(|e| {
                    CliError::Runtime(format!("cannot start the baseline peer: {e}"))
                })?);
        }
        let target = peer.target();
        if !args.json {
            let machine = Machine::detect();
            let mut header = format!(
                "anyipc bench {target}: {}\nmachine: {machine}\n",
                peer.describe()
            );
            for note in notes.iter().chain(machine.throttling_note().iter()) {
                let _ = writeln!(header, "note: {note}");
            }
            print_stdout(&header)?;
        }
        for workload in workloads {
            let report = measure(peer, self.way_back.as_mut(), &workload, args.connect)
                .await
                .map_err(|e| CliError::Runtime(format!("{workload} over {target}: {e}")))?;
            let baseline = match &mut self.baseline {
                None => None,
                Some(b) => {
                    // The baseline's `Framed` moves one message per call.
                    let one_at_a_time = workload.with_batch(1);
                    Some(measure(b, None, &one_at_a_time, false).await.map_err(|e| {
                        CliError::Runtime(format!("{one_at_a_time} over the baseline: {e}"))
                    })?)
                }
            };
            let measured = Measured {
                workload,
                report,
                baseline,
            };
            if args.json {
                print_stdout(&format!("{}\n", json_line(&target, &measured)))?;
            } else {
                print_stdout(&table(&target, &measured, args.connect))?;
            }
        }
        Ok(())
    }

    /// Ends what was started: closes a pair's connection to the peer and its way back (a FIFO
    /// is removed), stops the peers (which removes their named endpoints), then removes the
    /// baseline's directory and the queues and logs the runs created.
    async fn stop(mut self) {
        if let Some(way_back) = self.way_back.take() {
            // A peer that has exited reads nothing more: closing would wait to flush into a
            // queue that stays full (mq://), so the connection is dropped instead.
            match self.peer.as_ref().and_then(Peer::exited) {
                Some(peer_exited) => tokio::select! {
                    biased;
                    () = peer_exited => {}
                    () = way_back.close() => {}
                },
                None => way_back.close().await,
            }
        }
        if let Some(peer) = self.peer.take() {
            peer.stop().await;
        }
        if let Some(baseline) = self.baseline.take() {
            baseline.stop().await;
        }
    }

    /// Whether the peer is a process that has exited or exits within `limit`.
    async fn peer_exits_within(&self, limit: std::time::Duration) -> bool {
        match self.peer.as_ref().and_then(Peer::exited) {
            Some(exited) => tokio::time::timeout(limit, exited).await.is_ok(),
            None => false,
        }
    }
}

/// Starts a peer serving `at`: a process (a child on pipes for stdio://), or a task for
/// mem:// (alone or in a pair), which cannot cross processes.
async fn start_peer(at: &Target) -> io::Result<Peer> {
    if at.endpoints().iter().any(|e| e.scheme() == Scheme::Mem) {
        return Ok(Peer::Task(InProcessPeer::start(at).await?));
    }
    let process = PeerProcess::start(peer_command()?, at).await?;
    Ok(Peer::Process(Box::new(process)))
}

/// Makes the command that runs this binary as a bench peer (`bench-peer`; the target is
/// added as its last argument).
pub(crate) fn peer_command(
) -> io::Result<impl Fn() -> tokio::process::Command + Send + Sync + 'static> {
    let exe = std::env::current_exe()?;
    Ok(move || {
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.arg("bench-peer");
        cmd
    })
}

/// Runs one workload against `peer` (over `way_back` for a pair) with a progress bar; fails
/// when a peer process exits during the run (a one-way way back would wait for ever).
async fn measure(
    peer: &mut Peer,
    way_back: Option<&mut WayBack>,
    workload: &Workload,
    echo: bool,
) -> io::Result<Report> {
    let exited = match peer.exited() {
        // A batch run on a peer process goes through `PeerProcess::measure`, which watches.
        Some(exited) if workload.batch() == 1 => exited,
        _ => return measure_run(peer, way_back, workload, echo).await,
    };
    let finished = tokio::select! {
        biased;
        report = measure_run(peer, way_back, workload, echo) => Some(report),
        () = exited => None,
    };
    match (finished, peer) {
        (Some(Err(err)), Peer::Process(process)) => Err(process.explain_failure(err).await),
        (Some(report), _) => report,
        (None, Peer::Process(process)) => Err(process.exit_error().await),
        (None, _) => unreachable!("only a peer process exits"),
    }
}

/// [`measure`] without the watch on the peer process.
async fn measure_run(
    peer: &mut Peer,
    way_back: Option<&mut WayBack>,
    workload: &Workload,
    echo: bool,
) -> io::Result<Report> {
    let target = peer.target();
    let label = format!("{} {target}", workload.mode());
    if workload.batch() > 1 {
        // The engine's batch loop: a spinner only.
        let _progress = Progress::start(label, None, Arc::default());
        return match peer {
            // Over a child's pipes, or a new connection to where the peer listens.
            Peer::Process(process) => process.measure(workload).await,
            _ => anyipc::bench::measure(&target, workload).await,
        };
    }
    match (&target, peer) {
        (Target::Anyipc(endpoint), Peer::Process(process)) if target.is_child() => {
            let pipes = process.pipes().ok_or_else(|| {
                io::Error::other(format!("no pipes to the child peer of {endpoint}"))
            })?;
            // Kept open: the next workload runs over the same pipes.
            run_counted(Counted::new(pipes), label, workload, false, false).await
        }
        (Target::Anyipc(endpoint), _) => {
            let conn = Counted::new(anyipc::connect(endpoint).await?);
            run_counted(conn, label, workload, echo, true).await
        }
        (Target::Pair { to_peer, .. }, _) => {
            let way_back = way_back.ok_or_else(|| io::Error::other("a pair without a way back"))?;
            let conn = way_back.run_connection(to_peer).await?;
            // Closing it flushes: the connection to the peer serves the next run too.
            run_counted(Counted::new(conn), label, workload, false, true).await
        }
        _ => {
            // The raw baseline: the engine's own loop, so only a spinner.
            let _progress = Progress::start(label, None, Arc::default());
            anyipc::bench::measure(&target, workload).await
        }
    }
}

/// Runs one workload over `conn` with a progress bar, then closes it if `close`.
async fn run_counted<T: Transport<Bytes>>(
    conn: Counted<T>,
    label: String,
    workload: &Workload,
    echo: bool,
    close: bool,
) -> io::Result<Report> {
    match *workload {
        Workload::Throughput { size, count, .. } if echo => {
            let _progress = Progress::start(label, Some(count as u64), conn.received());
            echo_throughput(conn, size, count)
                .await
                .map(Report::Throughput)
        }
        Workload::Latency { count, warmup, .. } => {
            let mut conn = conn;
            // The control message and its answer count as one more round trip.
            let total = (count as u64) + (warmup as u64) + 1;
            let _progress = Progress::start(label, Some(total), conn.received());
            let report = run_client(&mut conn, workload).await;
            if close {
                let _ = futures::SinkExt::close(&mut conn.into_inner()).await;
            }
            report
        }
        Workload::Throughput { count, .. } => {
            let mut conn = conn;
            let _progress = Progress::start(label, Some(count as u64 + 1), conn.sent());
            let report = run_client(&mut conn, workload).await;
            if close {
                let _ = futures::SinkExt::close(&mut conn.into_inner()).await;
            }
            report
        }
    }
}

/// A private directory for the baseline's socket, removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn create() -> Result<TempDir, CliError> {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let prefix = format!(
            "anyipc-bench-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let path = crate::scratch_dir::create(&prefix).map_err(|e| {
            CliError::Runtime(format!(
                "cannot create {}: {e}",
                std::env::temp_dir().join(&prefix).display()
            ))
        })?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
