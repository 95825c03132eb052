//! The transports bench: every implemented transport and the hand-written raw baselines, in
//! one run, by the protocol of the project's `BENCHMARKS.md` (W1 ping-pong latency, W2 one-way
//! throughput, 3 runs each, median and min–max spread, ratios to the raw twins measured in the
//! same run), plus the physical floors (memcpy bandwidth, shared-memory spin ping-pong).
//!
//! ```text
//! cargo bench --bench transports                      # the full protocol (several minutes)
//! cargo bench --bench transports -- --quick           # a tenth of the messages (1–2 minutes)
//! cargo bench --bench transports -- --only tcp,unix --workload latency --sizes 64,4K --pin
//! cargo bench --bench transports -- --only shm --workload throughput --sizes 64 --batch 1024
//! ```
//!
//! `--batch N` runs the throughput rows of the byte-stream transports reached over one
//! `Connection` (tcp, unix, pipe, shm, child) with the batch calls: the client sends with
//! `send_many` of N messages, the peer receives with `recv_batch`. The raw baselines, the
//! message transports (udp, mem) and the one-way pairs (fifo, file, mq) still move one
//! message per call; the notes column says which rows batched.
//!
//! Cross-process transports run between two OS processes: this binary re-executes itself with
//! `--peer TARGET` (and `--spin-peer PATH` for the spin floor); `child` starts it as a child
//! on pipes (`--peer stdio://`); one-way transports (fifo, file, mq) run over a pair of
//! endpoints, one each way; the raw twins of child and fifo start a child per run
//! (`--peer raw+child://`, `--peer raw+fifo://PATH`). `mem://` runs two tasks in one process.
//! Every process uses a current-thread tokio runtime.

// Scratch directories as the `anyipc` command makes them: fresh, 0700 whatever the umask.
#[path = "../src/bin/anyipc/scratch_dir.rs"]
mod scratch_dir;

use anyipc::bench::floor::{memcpy_gib_per_sec, spin_peer, SpinPingPong};
use anyipc::bench::{
    measure, peer_main, InProcessPeer, LatencyReport, Machine, PeerProcess, Report, RunResources,
    Target, ThroughputReport, TransportSpec, Workload, BASELINES, TRANSPORTS,
};
use anyipc::codec::Framing;
use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const GIB: usize = 1024 * MIB;

/// The most one run may take before it counts as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

const USAGE: &str = "usage: cargo bench --bench transports -- [--quick] [--only NAME,...] \
[--workload latency|throughput] [--sizes 64,4K,64K,1M] [--runs N] [--pin] [--batch N]

--only takes transports and raw twins; the baseline always runs, and the twin of every
transport measured.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Latency,
    Throughput,
}

#[derive(Debug)]
struct Options {
    quick: bool,
    only: Option<Vec<String>>,
    modes: Vec<Mode>,
    sizes: Option<Vec<usize>>,
    runs: usize,
    pin: bool,
    /// Messages per `send_many` in the throughput rows of single-connection transports.
    batch: Option<usize>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--peer") => return role(peer(args.get(1))),
        Some("--spin-peer") => {
            return role(
                args.get(1)
                    .ok_or_else(missing)
                    .and_then(|p| spin_peer(p.as_ref())),
            )
        }
        _ => {}
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("transports bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("transports bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn missing() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "missing argument")
}

fn role(result: io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("transports bench peer: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The peer process: a current-thread runtime serving one target until stdin closes.
fn peer(target: Option<&String>) -> io::Result<()> {
    let target = target.ok_or_else(missing)?;
    runtime()?.block_on(peer_main(target))
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        only: None,
        modes: vec![Mode::Latency, Mode::Throughput],
        sizes: None,
        runs: 3,
        pin: false,
        batch: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            // cargo passes `--bench` to every bench binary.
            "--bench" => {}
            "--quick" => options.quick = true,
            "--pin" => options.pin = true,
            "--only" => {
                let names: Vec<String> = value()?.split(',').map(str::to_owned).collect();
                for name in &names {
                    if !TRANSPORTS
                        .iter()
                        .chain(BASELINES)
                        .any(|t| t.name == name.as_str())
                    {
                        let known: Vec<_> =
                            TRANSPORTS.iter().chain(BASELINES).map(|t| t.name).collect();
                        return Err(format!(
                            "no transport {name:?} (known: {})",
                            known.join(", ")
                        ));
                    }
                }
                options.only = Some(names);
            }
            "--workload" => {
                options.modes = match value()?.as_str() {
                    "latency" => vec![Mode::Latency],
                    "throughput" => vec![Mode::Throughput],
                    other => return Err(format!("no workload {other:?} (latency, throughput)")),
                }
            }
            "--sizes" => {
                let sizes = value()?
                    .split(',')
                    .map(parse_size)
                    .collect::<Result<Vec<_>, _>>()?;
                options.sizes = Some(sizes);
            }
            "--runs" => {
                options.runs = value()?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--runs takes a positive number")?
            }
            "--batch" => {
                options.batch = Some(
                    value()?
                        .parse()
                        .ok()
                        .filter(|&n| n > 1)
                        .ok_or("--batch takes a number of messages above 1")?,
                )
            }
            // A name filter, as `cargo bench -- NAME` passes it, is not supported: say so.
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

fn parse_size(text: &str) -> Result<usize, String> {
    let upper = text.trim().to_ascii_uppercase();
    let (digits, unit) = match upper.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => upper.split_at(i),
        None => (upper.as_str(), ""),
    };
    let unit = match unit {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => KIB,
        "M" | "MB" | "MIB" => MIB,
        _ => return Err(format!("bad size {text:?} (e.g. 64, 4K, 1M)")),
    };
    match digits.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n * unit),
        _ => Err(format!("bad size {text:?} (e.g. 64, 4K, 1M)")),
    }
}

fn run(options: &Options) -> io::Result<()> {
    let started = Instant::now();
    let command: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    println!("# anyipc transports bench\n");
    println!(
        "- command: `cargo bench --bench transports{}{}`",
        if command.is_empty() { "" } else { " -- " },
        command.join(" ")
    );
    let machine = Machine::detect();
    println!(
        "- machine: {} CPUs, {}, kernel {}",
        machine.nproc, machine.cpu_model, machine.kernel
    );
    println!("- scheduling: {}", machine.scheduling);
    if let Some(note) = machine.throttling_note() {
        println!("- note: {note}");
    }
    println!("- date: {}", machine.date);
    println!(
        "- mode: {} ({} runs per row; figures are medians, spreads min–max)",
        if options.quick {
            "--quick (a tenth of the protocol's messages)"
        } else {
            "full protocol"
        },
        options.runs
    );
    floors(options)?;
    let placement = if options.pin {
        pin_to_cpu0()?;
        format!(
            "pinned: this process and every peer it spawns on CPU {} (sched_setaffinity); \
             `mem://` tasks share it",
            Machine::detect().cpus_allowed
        )
    } else {
        format!(
            "unpinned: the OS places both processes on CPUs {}",
            machine.cpus_allowed
        )
    };
    println!("\n- CPU placement (tables): {placement}");
    runtime()?.block_on(tables(options))?;
    println!("\n_Whole run: {:.0} s._", started.elapsed().as_secs_f64());
    Ok(())
}

/// The physical floors, measured before any pinning.
fn floors(options: &Options) -> io::Result<()> {
    let budget = Duration::from_millis(if options.quick { 50 } else { 200 });
    println!("\n## Physical floors\n");
    println!("| floor | size | figure |");
    println!("|---|---|---|");
    let mut sizes = options
        .sizes
        .clone()
        .unwrap_or_else(|| vec![64, 4 * KIB, 64 * KIB, MIB]);
    sizes.dedup();
    for size in sizes {
        println!(
            "| single-thread memcpy | {} | {:.1} GiB/s |",
            size_label(size),
            memcpy_gib_per_sec(size, budget)
        );
    }
    let (warmup, count) = if options.quick {
        (10_000, 50_000)
    } else {
        (50_000, 500_000)
    };
    match spin_floor(warmup, count) {
        Ok(r) => println!(
            "| cross-process shared-memory spin ping-pong (unpinned) | 8 B (one cache line) | \
             p50 {} µs, p99 {} µs, mean {} µs |",
            us(r.p50),
            us(r.p99),
            us(r.mean)
        ),
        Err(e) => println!("| cross-process shared-memory spin ping-pong | 8 B | skipped: {e} |"),
    }
    Ok(())
}

fn spin_floor(warmup: usize, count: usize) -> io::Result<LatencyReport> {
    let spin = SpinPingPong::create(&format!("bench-{}", std::process::id()))?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg("--spin-peer")
        .arg(spin.path())
        .spawn()?;
    let report = spin.run(warmup, count);
    drop(spin);
    if child.wait_timeout_or_kill().is_err() {
        let _ = child.kill();
    }
    report
}

/// Waiting for the spin peer, which exits once it sees the stop value.
trait WaitOrKill {
    fn wait_timeout_or_kill(&mut self) -> io::Result<()>;
}

impl WaitOrKill for std::process::Child {
    fn wait_timeout_or_kill(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill()?;
        self.wait().map(drop)
    }
}

#[cfg(target_os = "linux")]
fn pin_to_cpu0() -> io::Result<()> {
    // SAFETY: `cpu_set_t` is plain data for which all-zero is the empty set; CPU_SET writes
    // inside it; sched_setaffinity reads `size_of::<cpu_set_t>()` bytes of it and applies to
    // the calling thread (pid 0), which is the main thread: the runtime and every child
    // process started later inherit the mask.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn pin_to_cpu0() -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "--pin is Linux-only here; run the bench under your OS's affinity tool instead",
    ))
}

/// A measured transport: its spec and its peer (kept alive for every run).
struct Contender {
    spec: TransportSpec,
    target: io::Result<Target>,
    /// A peer process (runs go through it: a child peer is reached over its pipes).
    process: Option<PeerProcess>,
    // Held to keep the peer alive.
    _task: Option<InProcessPeer>,
    // Held to remove the queues and logs the runs create when the bench ends.
    _resources: RunResources,
}

impl Contender {
    /// Whether throughput runs use the batch calls: the transport is a byte stream reached
    /// over one `Connection`, with length or line framing (not a raw twin, not a pair of
    /// one-way endpoints, not a message transport, whose batches hold one message).
    fn batches(&self) -> bool {
        match &self.target {
            Ok(Target::Anyipc(endpoint)) => {
                endpoint.framing() != Framing::Raw && endpoint.scheme().is_byte_stream()
            }
            _ => false,
        }
    }

    async fn measure(&mut self, workload: &Workload) -> io::Result<Report> {
        match (&mut self.process, &self.target) {
            (Some(process), _) => process.measure(workload).await,
            (None, Ok(target)) => measure(target, workload).await,
            (None, Err(e)) => Err(io::Error::new(e.kind(), e.to_string())),
        }
    }
}

async fn start(spec: &TransportSpec, dir: &std::path::Path) -> Contender {
    let unique = format!("bench-{}-{}", std::process::id(), spec.name);
    let mut resources = RunResources::default();
    let started = async {
        let target = spec.target(&unique, dir)?;
        resources = RunResources::new(&target);
        if spec.in_process {
            let peer = InProcessPeer::start(&target).await?;
            return Ok((peer.target().clone(), None, Some(peer)));
        }
        let exe = std::env::current_exe()?;
        let make = move || {
            let mut cmd = tokio::process::Command::new(&exe);
            cmd.arg("--peer");
            cmd
        };
        let peer = PeerProcess::start(make, &target).await?;
        Ok((peer.target().clone(), Some(peer), None))
    }
    .await;
    match started {
        Ok((target, process, task)) => Contender {
            spec: *spec,
            target: Ok(target),
            process,
            _task: task,
            _resources: resources,
        },
        Err(e) => Contender {
            spec: *spec,
            target: Err(e),
            process: None,
            _task: None,
            _resources: resources,
        },
    }
}

/// The results of one row's runs.
#[derive(Default)]
struct Runs {
    size: usize,
    /// Messages per call (1: one at a time).
    batch: usize,
    reports: Vec<Report>,
    errors: Vec<String>,
    skipped: Option<String>,
}

async fn tables(options: &Options) -> io::Result<()> {
    let dir = scratch_dir::create(&format!("anyipc-bench-{}", std::process::id()))?;
    let _cleanup = RemoveDir(dir.clone());
    let asked = |name: &str| {
        options
            .only
            .as_ref()
            .is_none_or(|only| only.iter().any(|n| n == name))
    };
    let transports: Vec<TransportSpec> = TRANSPORTS
        .iter()
        .filter(|t| asked(t.name) && t.is_available())
        .copied()
        .collect();
    // The baseline always runs; another twin when it is asked for, or a transport measured is
    // compared with it.
    let specs: Vec<TransportSpec> = BASELINES
        .iter()
        .filter(|b| {
            b.name == "baseline" || asked(b.name) || transports.iter().any(|t| t.twin == b.name)
        })
        .filter(|b| b.is_available())
        .chain(&transports)
        .copied()
        .collect();
    let mut contenders = Vec::new();
    for spec in &specs {
        contenders.push(start(spec, &dir).await);
    }
    let started = Instant::now();
    for &mode in &options.modes {
        let sizes = options.sizes.clone().unwrap_or_else(|| match mode {
            // 1 MiB beyond the protocol's sizes: issue 2's targets name it.
            Mode::Latency => vec![64, 4 * KIB, 64 * KIB, MIB],
            Mode::Throughput => vec![64, 4 * KIB, 64 * KIB, MIB],
        });
        let mut table: Vec<(usize, BTreeMap<&'static str, Runs>)> = Vec::new();
        for &size in &sizes {
            let mut rows: BTreeMap<&'static str, Runs> = BTreeMap::new();
            // Runs interleave the transports, so a noisy moment hits them all alike, and
            // every other run goes through them in reverse, so that a drift within a run
            // (or a neighbour's after-effects) does not favour the same ones every time.
            for run in 0..options.runs {
                let mut order: Vec<&mut Contender> = contenders.iter_mut().collect();
                if run % 2 == 1 {
                    order.reverse();
                }
                for c in order {
                    let row = rows.entry(c.spec.name).or_default();
                    let message_size = match c.spec.message_size(size) {
                        Ok(s) => s,
                        Err(why) => {
                            row.skipped = Some(why);
                            continue;
                        }
                    };
                    row.size = message_size;
                    if let Err(e) = &c.target {
                        row.errors.push(format!("peer did not start: {e}"));
                        continue;
                    }
                    let mut workload = workload(mode, size, message_size, options.quick);
                    if let (Mode::Throughput, Some(batch), true) =
                        (mode, options.batch, c.batches())
                    {
                        workload = workload.with_batch(batch);
                    }
                    row.batch = workload.batch();
                    let measured = tokio::time::timeout(RUN_TIMEOUT, c.measure(&workload))
                        .await
                        .unwrap_or_else(|_| {
                            Err(io::Error::new(io::ErrorKind::TimedOut, "run timed out"))
                        });
                    eprintln!(
                        "[{:>4.0} s] {workload} run {}/{} {}: {}",
                        started.elapsed().as_secs_f64(),
                        run + 1,
                        options.runs,
                        c.spec.name,
                        match &measured {
                            Ok(r) => brief(r),
                            Err(e) => format!("error: {e}"),
                        }
                    );
                    match measured {
                        Ok(r) => row.reports.push(r),
                        Err(e) => row.errors.push(e.to_string()),
                    }
                }
            }
            table.push((size, rows));
        }
        print_table(mode, &contenders, &table, options);
    }
    // Ended cleanly, peers remove their named endpoints.
    for contender in contenders {
        if let Some(process) = contender.process {
            let _ = process.stop().await;
        }
    }
    Ok(())
}

struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The workload of one run in the row of `row_size` bytes, sending messages of
/// `message_size` (less for a transport that carries no larger: `fifo` runs 4,092 B in the
/// 4 KiB row). The protocol's counts, taken from the row's size so that every transport of
/// a row runs as many messages: W1 50,000 round trips up to 4 KiB, 10,000 up to 64 KiB,
/// 2,000 above, after 2,000 warm-up; W2 5 million messages below 4 KiB, 1 GiB from 4 KiB
/// up. `--quick` takes a tenth.
fn workload(mode: Mode, row_size: usize, message_size: usize, quick: bool) -> Workload {
    let div = if quick { 10 } else { 1 };
    match mode {
        Mode::Latency => {
            let count = match row_size {
                s if s <= 4 * KIB => 50_000,
                s if s <= 64 * KIB => 10_000,
                _ => 2_000,
            };
            Workload::latency(message_size, count / div).with_warmup(2_000 / div)
        }
        Mode::Throughput => {
            let count = if row_size < 4 * KIB {
                5_000_000
            } else {
                GIB.div_ceil(row_size)
            };
            Workload::throughput(message_size, count / div)
        }
    }
}

fn brief(r: &Report) -> String {
    match r {
        Report::Latency(l) => format!("p50 {} µs, p99 {} µs", us(l.p50), us(l.p99)),
        Report::Throughput(t) => format!(
            "{:.3} GiB/s, {:.0}k msg/s, lost {}",
            t.gib_per_sec(),
            t.msgs_per_sec() / 1e3,
            t.lost()
        ),
    }
}

fn print_table(
    mode: Mode,
    contenders: &[Contender],
    table: &[(usize, BTreeMap<&'static str, Runs>)],
    options: &Options,
) {
    match mode {
        Mode::Latency => {
            println!("\n## W1 ping-pong latency (round trip, µs)\n");
            println!(
                "Ratios are p50 / p50 of the raw twin ({}) and of the baseline; below 1 is \
                 faster.",
                twins()
            );
            println!();
            println!(
                "| size | transport | p50 | p50 spread | p99 | p99.9 | mean | × twin | × baseline | notes |"
            );
            println!("|---|---|---|---|---|---|---|---|---|---|");
        }
        Mode::Throughput => {
            println!("\n## W2 one-way throughput\n");
            println!(
                "Ratios are GiB/s / GiB/s of the raw twin ({}) and of the baseline; above 1 is \
                 faster.",
                twins()
            );
            println!();
            println!(
                "| size | transport | msgs/s | GiB/s | GiB/s spread | × twin | × baseline | notes |"
            );
            println!("|---|---|---|---|---|---|---|---|");
        }
    }
    for (size, rows) in table {
        let medians: BTreeMap<&str, f64> = rows
            .iter()
            .filter_map(|(name, runs)| headline(mode, runs).map(|m| (*name, m)))
            .collect();
        for c in contenders {
            let Some(runs) = rows.get(c.spec.name) else {
                continue;
            };
            let mut notes = Vec::new();
            if c.spec.in_process {
                notes.push("in-process (two tasks)".to_owned());
            }
            if !c.spec.note.is_empty() {
                notes.push(c.spec.note.to_owned());
            }
            if runs.batch > 1 {
                notes.push(format!("send_many/recv_batch of {}", group(runs.batch)));
            }
            if runs.size != *size && runs.size != 0 {
                notes.push(format!(
                    "{} B messages (the largest it carries)",
                    group(runs.size)
                ));
            }
            if !runs.errors.is_empty() {
                notes.push(format!(
                    "{}/{} runs failed: {}",
                    runs.errors.len(),
                    options.runs,
                    runs.errors[0].replace('|', "/")
                ));
            }
            let label = size_label(*size);
            if let Some(why) = &runs.skipped {
                let blanks = if mode == Mode::Latency { 7 } else { 5 };
                println!(
                    "| {label} | {} |{} {why} |",
                    c.spec.name,
                    " — |".repeat(blanks)
                );
                continue;
            }
            let ratio = |other: &str| match (medians.get(c.spec.name), medians.get(other)) {
                (Some(a), Some(b)) if *b > 0.0 => format!("{:.2}", a / b),
                _ => "—".to_owned(),
            };
            let twin = if BASELINES.contains(&c.spec) {
                "—".to_owned()
            } else {
                ratio(c.spec.twin)
            };
            let base = ratio("baseline");
            match mode {
                Mode::Latency => {
                    let l: Vec<&LatencyReport> =
                        runs.reports.iter().filter_map(Report::latency).collect();
                    if l.is_empty() {
                        println!(
                            "| {label} | {} | — | — | — | — | — | — | — | {} |",
                            c.spec.name,
                            notes.join("; ")
                        );
                        continue;
                    }
                    let pick = |f: fn(&LatencyReport) -> Duration| {
                        let mut v: Vec<Duration> = l.iter().map(|r| f(r)).collect();
                        v.sort();
                        v
                    };
                    let p50 = pick(|r| r.p50);
                    println!(
                        "| {label} | {} | {} | {}–{} | {} | {} | {} | {twin} | {base} | {} |",
                        c.spec.name,
                        us(median(&p50)),
                        us(p50[0]),
                        us(p50[p50.len() - 1]),
                        us(median(&pick(|r| r.p99))),
                        us(median(&pick(|r| r.p999))),
                        us(median(&pick(|r| r.mean))),
                        notes.join("; ")
                    );
                }
                Mode::Throughput => {
                    let t: Vec<&ThroughputReport> =
                        runs.reports.iter().filter_map(Report::throughput).collect();
                    if t.is_empty() {
                        println!(
                            "| {label} | {} | — | — | — | — | — | {} |",
                            c.spec.name,
                            notes.join("; ")
                        );
                        continue;
                    }
                    let lost: u64 = t.iter().map(|r| r.lost()).sum();
                    let sent: u64 = t.iter().map(|r| r.sent).sum();
                    if lost > 0 {
                        notes.push(format!(
                            "{:.1}% lost (counted: received only)",
                            lost as f64 * 100.0 / sent as f64
                        ));
                    }
                    let mut gib: Vec<f64> = t.iter().map(|r| r.gib_per_sec()).collect();
                    gib.sort_by(f64::total_cmp);
                    let mut msgs: Vec<f64> = t.iter().map(|r| r.msgs_per_sec()).collect();
                    msgs.sort_by(f64::total_cmp);
                    println!(
                        "| {label} | {} | {} | {:.3} | {:.3}–{:.3} | {twin} | {base} | {} |",
                        c.spec.name,
                        group(median(&msgs) as usize),
                        median(&gib),
                        gib[0],
                        gib[gib.len() - 1],
                        notes.join("; ")
                    );
                }
            }
        }
    }
}

/// Which raw twin each transport is compared with, for the tables' legend: "`tcp-twin` for
/// tcp, …, `baseline` for the others".
fn twins() -> String {
    let mut pairs: Vec<String> = TRANSPORTS
        .iter()
        .filter(|t| t.twin != "baseline")
        .map(|t| format!("`{}` for {}", t.twin, t.name))
        .collect();
    pairs.push("`baseline` for the others".to_owned());
    pairs.join(", ")
}

/// The figure ratios are taken of: median p50 in µs, or median GiB/s.
fn headline(mode: Mode, runs: &Runs) -> Option<f64> {
    let mut v: Vec<f64> = runs
        .reports
        .iter()
        .filter_map(|r| match (mode, r) {
            (Mode::Latency, Report::Latency(l)) => Some(l.p50.as_secs_f64() * 1e6),
            (Mode::Throughput, Report::Throughput(t)) => Some(t.gib_per_sec()),
            _ => None,
        })
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(median(&v))
}

/// The median of sorted values (the lower middle one for an even count).
fn median<T: Copy>(sorted: &[T]) -> T {
    sorted[(sorted.len() - 1) / 2]
}

fn us(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 10.0 {
        format!("{us:.2}")
    } else {
        format!("{us:.1}")
    }
}

fn size_label(size: usize) -> String {
    match size {
        s if s >= MIB && s % MIB == 0 => format!("{} MiB", s / MIB),
        s if s >= KIB && s % KIB == 0 => format!("{} KiB", s / KIB),
        s => format!("{} B", group(s)),
    }
}

/// `1234567` as `1,234,567`.
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
