//! `file://` durable log against a hand-written baseline, two processes each (BENCHMARKS.md).
//!
//! ```text
//! cargo bench --bench file_log             # quick sizes (see below)
//! cargo bench --bench file_log -- --full   # the protocol's sizes: 5M x 64 B, 1 GiB at 4 KiB
//! ```
//!
//! The measuring process is the consumer; it re-executes this binary as the producer.
//!
//! - **Baseline** (no anyipc code): the producer appends `u32 length + payload` records
//!   through a 64 KiB `BufWriter` to a plain file; the consumer tails it by hand — `read`
//!   until EOF, then a blocking `read` of an inotify descriptor watching the file.
//! - **Log**: `anyipc::connect("file:///dir?fsync=…")` appends through the Sink;
//!   `anyipc::bind` + `accept` tails it (a task on a current-thread runtime in each process).
//! - **Log, batch calls** (`fsync=never`, throughput rows only): `FileProducer::append_many`
//!   of 1,024 messages per call; `FileConsumer::recv_batch`, reading each record as a slice.
//!   These rows use the typed `FileProducer`/`FileConsumer` rather than a `Connection`, so
//!   they differ from the Log rows in two ways: no `Stream`/`Sink` layer, and batching.
//!
//! Workloads: throughput (M messages of S bytes; time from the producer's first append to
//! the consumer holding the last, each checked for length and first/last byte), the
//! msgs/s of `fsync=always` (one fdatasync per record) against `fsync=batch` (group commit),
//! and append → receive latency (64 B, one message per millisecond paced by `thread::sleep`
//! in both producers, timestamps from CLOCK_MONOTONIC, which both processes share). Each
//! runs 3 times: median [min–max].
#[cfg(not(target_os = "linux"))]
fn main() {
    println!("file_log bench: Linux only (inotify baseline, CLOCK_MONOTONIC across processes)");
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

// Scratch directories as the `anyipc` command makes them: fresh, 0700 whatever the umask.
#[cfg(target_os = "linux")]
#[path = "../src/bin/anyipc/scratch_dir.rs"]
mod scratch_dir;

#[cfg(target_os = "linux")]
mod linux {
    use anyipc::file::{FileConsumer, FileOptions, FileProducer};
    use bytes::Bytes;
    use futures::{SinkExt, StreamExt};
    use std::fs::File;
    use std::io::{BufRead, BufReader, BufWriter, Read, Write};
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    const ROLE: &str = "FILE_LOG_BENCH_ROLE";
    const RUNS: usize = 3;
    const LAT_WARMUP: usize = 200;
    const LAT_COUNT: usize = 2000;
    /// Messages per `append_many` in the batch-call rows.
    const BATCH: usize = 1024;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Variant {
        Baseline,
        /// Through a `Connection`: one `Bytes` per message each way.
        Log(&'static str),
        /// The batch calls: `FileProducer::append_many`, `FileConsumer::recv_batch`.
        LogMany(&'static str),
    }

    impl Variant {
        fn name(self) -> String {
            match self {
                Variant::Baseline => "baseline (BufWriter + inotify tail)".to_owned(),
                Variant::Log(fsync) => format!("file:// log fsync={fsync}"),
                Variant::LogMany(fsync) => format!("file:// log fsync={fsync}, batch calls"),
            }
        }

        fn encode(self) -> String {
            match self {
                Variant::Baseline => "baseline".to_owned(),
                Variant::Log(f) => f.to_owned(),
                Variant::LogMany(f) => format!("{f}-many"),
            }
        }

        fn decode(s: &str) -> Variant {
            let fsync = |f: &str| match f {
                "never" => "never",
                "batch" => "batch",
                _ => "always",
            };
            match s {
                "baseline" => Variant::Baseline,
                _ => match s.strip_suffix("-many") {
                    Some(f) => Variant::LogMany(fsync(f)),
                    None => Variant::Log(fsync(s)),
                },
            }
        }
    }

    pub(super) fn main() {
        if let Ok(role) = std::env::var(ROLE) {
            return producer(&role);
        }
        let full = std::env::args().any(|a| a == "--full");
        let machine = anyipc::bench::Machine::detect();
        println!("{machine}");
        if let Some(note) = machine.throttling_note() {
            println!("note: {note}");
        }
        println!(
            "file_log bench ({} sizes), {RUNS} runs each: median [min–max]\n",
            if full { "full" } else { "quick" }
        );
        let sizes: [(usize, usize); 2] = if full {
            [(64, 5_000_000), (4096, 262_144)]
        } else {
            [(64, 1_000_000), (4096, 65_536)]
        };

        // For profiling: `--only 64` (or 4096) runs just the throughput rows of that size,
        // `--only latency` just the latency rows; `--variant never` (baseline, never,
        // never-many, batch; comma-separated) just those rows.
        let arg = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
        let only_latency = arg("--only").is_some_and(|s| s == "latency");
        let only: Option<usize> = arg("--only").and_then(|s| s.parse().ok());
        let variants: Vec<Variant> = arg("--variant").map_or_else(
            || {
                vec![
                    Variant::Baseline,
                    Variant::Log("never"),
                    Variant::LogMany("never"),
                    Variant::Log("batch"),
                ]
            },
            |list| list.split(',').map(Variant::decode).collect(),
        );
        if !only_latency {
            println!("throughput (producer's first append → consumer has the last; CPU time per message of each process)");
        }
        for (size, count) in sizes {
            if only_latency || only.is_some_and(|o| o != size) {
                continue;
            }
            let mut base = None;
            for &variant in &variants {
                let runs = median_of(|| throughput(variant, size, count));
                print_tp(variant, size, count, &runs, base);
                if variant == Variant::Baseline {
                    base = Some(runs[1].msgs_per_s);
                }
            }
        }

        if only.is_some() {
            return;
        }
        if !only_latency {
            group_commit();
        }
        println!("\nappend → receive latency, 64 B, 1 message per ms ({LAT_COUNT} timed after {LAT_WARMUP})");
        let base = latency_runs(Variant::Baseline);
        // One message per millisecond: the batch calls change nothing there.
        for &variant in variants
            .iter()
            .filter(|v| !matches!(v, Variant::LogMany(_)))
        {
            let runs = if variant == Variant::Baseline {
                base.clone()
            } else {
                latency_runs(variant)
            };
            print_lat(variant, &runs, &base);
        }
    }

    fn group_commit() {
        println!("\ngroup commit (64 B, msgs/s acknowledged by the producer)");
        let always = median_of(|| throughput(Variant::Log("always"), 64, 500));
        print_tp(Variant::Log("always"), 64, 500, &always, None);
        let batch = median_of(|| throughput(Variant::Log("batch"), 64, 200_000));
        print_tp(Variant::Log("batch"), 64, 200_000, &batch, None);
        println!(
            "  batch / always = {:.0}x",
            batch[1].msgs_per_s / always[1].msgs_per_s
        );
    }

    /// One throughput run's result.
    #[derive(Clone, Copy, Debug)]
    struct Run {
        msgs_per_s: f64,
        /// CPU time (user + system, all threads) per message of the producer process, ns.
        producer_cpu: f64,
        /// The same for the consumer process, from before the producer starts to the last
        /// message (cleanup excluded).
        consumer_cpu: f64,
    }

    /// Runs `f` RUNS times; returns the runs with the lowest, median and highest msgs/s.
    fn median_of(mut f: impl FnMut() -> Run) -> [Run; 3] {
        let mut v: Vec<Run> = (0..RUNS).map(|_| f()).collect();
        v.sort_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s));
        [v[0], v[v.len() / 2], v[v.len() - 1]]
    }

    fn print_tp(variant: Variant, size: usize, count: usize, runs: &[Run; 3], base: Option<f64>) {
        let med = runs[1];
        let gib = med.msgs_per_s * size as f64 / (1u64 << 30) as f64;
        let ratio = base.map_or(String::new(), |b| {
            format!("  ({:.2}x baseline)", med.msgs_per_s / b)
        });
        println!(
            "  {:<38} {:>5} B x {:>9}: {:>12.0} msgs/s [{:.0}–{:.0}] {:>6.3} GiB/s  cpu/msg {:.0}+{:.0} ns{ratio}",
            variant.name(),
            size,
            count,
            med.msgs_per_s,
            runs[0].msgs_per_s,
            runs[2].msgs_per_s,
            gib,
            med.producer_cpu,
            med.consumer_cpu,
        );
    }

    /// CPU time (user + system) of this process so far, all threads, in ns.
    fn cpu_ns() -> u64 {
        // SAFETY: getrusage fills one rusage struct we own; zeroed is a valid value of it.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut usage);
            usage
        };
        let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
        ns(usage.ru_utime) + ns(usage.ru_stime)
    }

    fn latency_runs(variant: Variant) -> Vec<[f64; 3]> {
        (0..RUNS).map(|_| latency(variant)).collect()
    }

    fn print_lat(variant: Variant, runs: &[[f64; 3]], base: &[[f64; 3]]) {
        let med = |runs: &[[f64; 3]], i: usize| {
            let mut v: Vec<f64> = runs.iter().map(|r| r[i]).collect();
            v.sort_by(|a, b| a.total_cmp(b));
            [v[0], v[v.len() / 2], v[v.len() - 1]]
        };
        let (p50, p99, p999) = (med(runs, 0), med(runs, 1), med(runs, 2));
        println!(
            "  {:<38} p50 {:>7.1} µs [{:.1}–{:.1}] ({:.2}x)  p99 {:>7.1} µs [{:.1}–{:.1}] ({:.2}x)  p99.9 {:>7.1} µs",
            variant.name(), p50[1], p50[0], p50[2], p50[1] / med(base, 0)[1], p99[1], p99[0], p99[2], p99[1] / med(base, 1)[1], p999[1]
        );
    }

    fn now_ns() -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    fn fresh_dir() -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        super::scratch_dir::create(&format!(
            "anyipc-bench-file-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ))
        .unwrap()
    }

    fn target(variant: Variant, dir: &Path) -> (PathBuf, String) {
        match variant {
            Variant::Baseline => (dir.join("baseline.dat"), String::new()),
            Variant::Log(fsync) | Variant::LogMany(fsync) => (
                dir.to_owned(),
                format!("file://{}?fsync={fsync}&max_frame=1MiB", dir.display()),
            ),
        }
    }

    /// The producer child: prints `start <ns>` just before its first append.
    fn spawn_producer(
        variant: Variant,
        mode: &str,
        dir: &Path,
        size: usize,
        count: usize,
    ) -> (std::process::Child, std::sync::mpsc::Receiver<(u64, u64)>) {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(
                ROLE,
                format!(
                    "{mode}:{}:{size}:{count}:{}",
                    variant.encode(),
                    dir.display()
                ),
            )
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // `start <ns>`, then `cpu <ns>` when done: sent together.
            let mut start = 0;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(ns) = line.strip_prefix("start ") {
                    start = ns.parse().unwrap();
                } else if let Some(ns) = line.strip_prefix("cpu ") {
                    let _ = tx.send((start, ns.parse().unwrap()));
                }
            }
        });
        (child, rx)
    }

    fn check(msg: &[u8], size: usize) {
        assert_eq!(msg.len(), size);
        assert_eq!((msg[0], msg[size - 1]), (0xA5, 0x5A));
    }

    fn message(size: usize) -> Vec<u8> {
        let mut m = vec![0u8; size];
        m[0] = 0xA5;
        m[size - 1] = 0x5A;
        m
    }

    /// One throughput run.
    fn throughput(variant: Variant, size: usize, count: usize) -> Run {
        let dir = fresh_dir();
        let (path, url) = target(variant, &dir);
        let cpu_before = cpu_ns();
        let (end, consumer_cpu, (start, producer_cpu)) = match variant {
            Variant::Baseline => {
                File::create(&path).unwrap();
                let (mut child, start) = spawn_producer(variant, "tp", &dir, size, count);
                let mut tail = Tail::open(&path);
                for _ in 0..count {
                    tail.next(|m| check(m, size));
                }
                let end = now_ns();
                let cpu = cpu_ns() - cpu_before;
                assert!(child.wait().unwrap().success());
                (end, cpu, start.recv().unwrap())
            }
            Variant::Log(_) => {
                let dir = dir.clone();
                run_task(async move {
                    let mut listener = anyipc::bind(&url).await.unwrap();
                    let mut conn = listener.accept().await.unwrap();
                    let (mut child, start) = spawn_producer(variant, "tp", &dir, size, count);
                    for _ in 0..count {
                        check(&conn.next().await.unwrap().unwrap(), size);
                    }
                    let end = now_ns();
                    let cpu = cpu_ns() - cpu_before;
                    assert!(child.wait().unwrap().success());
                    (end, cpu, start.recv().unwrap())
                })
            }
            Variant::LogMany(_) => {
                let dir = dir.clone();
                run_task(async move {
                    let mut consumer = FileConsumer::open(&dir, None, log_options(&url))
                        .await
                        .unwrap();
                    let (mut child, start) = spawn_producer(variant, "tp", &dir, size, count);
                    let mut got = 0;
                    while got < count {
                        for (_, m) in &consumer.recv_batch().await.unwrap().unwrap() {
                            check(m, size);
                            got += 1;
                        }
                    }
                    let end = now_ns();
                    let cpu = cpu_ns() - cpu_before;
                    assert!(child.wait().unwrap().success());
                    (end, cpu, start.recv().unwrap())
                })
            }
        };
        let _ = std::fs::remove_dir_all(&dir);
        let per_msg = |ns: u64| ns as f64 / count as f64;
        Run {
            msgs_per_s: count as f64 / ((end - start) as f64 / 1e9),
            producer_cpu: per_msg(producer_cpu),
            consumer_cpu: per_msg(consumer_cpu),
        }
    }

    /// One latency run; returns [p50, p99, p99.9] in µs.
    fn latency(variant: Variant) -> [f64; 3] {
        let dir = fresh_dir();
        let (path, url) = target(variant, &dir);
        let total = LAT_WARMUP + LAT_COUNT;
        let mut samples = Vec::with_capacity(total);
        fn sample(m: &[u8], samples: &mut Vec<u64>) {
            let sent = u64::from_le_bytes(m[..8].try_into().unwrap());
            samples.push(now_ns() - sent);
        }
        match variant {
            Variant::Baseline => {
                File::create(&path).unwrap();
                let (mut child, _) = spawn_producer(variant, "lat", &dir, 64, total);
                let mut tail = Tail::open(&path);
                for _ in 0..total {
                    tail.next(|m| sample(m, &mut samples));
                }
                assert!(child.wait().unwrap().success());
            }
            Variant::LogMany(_) => unreachable!("no latency rows for the batch calls"),
            Variant::Log(_) => {
                let dir = dir.clone();
                samples = run_task(async move {
                    let mut listener = anyipc::bind(&url).await.unwrap();
                    let mut conn = listener.accept().await.unwrap();
                    let (mut child, _) = spawn_producer(variant, "lat", &dir, 64, total);
                    for _ in 0..total {
                        sample(&conn.next().await.unwrap().unwrap(), &mut samples);
                    }
                    assert!(child.wait().unwrap().success());
                    samples
                });
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        let mut timed = samples.split_off(LAT_WARMUP);
        timed.sort_unstable();
        let at = |q: f64| {
            timed[((timed.len() as f64 * q) as usize).min(timed.len() - 1)] as f64 / 1000.0
        };
        [at(0.50), at(0.99), at(0.999)]
    }

    /// Runs `fut` as a task on a fresh current-thread runtime, as a service runs its work.
    /// Not as `block_on`'s own future: tokio wakes that one through the driver's eventfd
    /// even from its own thread (a write, then an extra epoll turn and read per wake-up),
    /// which measured about a quarter of the consumer's time per latency message — a cost
    /// of where the loop runs, not of the log.
    fn run_task<T: Send + 'static>(
        fut: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { tokio::spawn(fut).await.unwrap() })
    }

    /// The options a log URL of [`target`] gives, for the typed API.
    fn log_options(url: &str) -> FileOptions {
        FileOptions::from_endpoint(&url.parse().unwrap())
    }

    /// The hand-written tailer of the baseline: reads to EOF, then blocks on inotify.
    struct Tail {
        file: File,
        inotify: File,
        buf: Vec<u8>,
        start: usize,
        end: usize,
    }

    impl Tail {
        fn open(path: &Path) -> Tail {
            // SAFETY: plain syscalls on a descriptor we own; the path is NUL-terminated.
            let inotify = unsafe {
                let fd = libc::inotify_init1(libc::IN_CLOEXEC);
                assert!(fd >= 0);
                let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
                assert!(libc::inotify_add_watch(fd, c.as_ptr(), libc::IN_MODIFY) >= 0);
                <File as std::os::fd::FromRawFd>::from_raw_fd(fd)
            };
            Tail {
                file: File::open(path).unwrap(),
                inotify,
                buf: vec![0; 1 << 20],
                start: 0,
                end: 0,
            }
        }

        /// Waits for the next whole record and hands it to `f`.
        fn next(&mut self, f: impl FnOnce(&[u8])) {
            loop {
                let avail = &self.buf[self.start..self.end];
                if avail.len() >= 4 {
                    let len = u32::from_le_bytes(avail[..4].try_into().unwrap()) as usize;
                    if avail.len() >= 4 + len {
                        f(&avail[4..4 + len]);
                        self.start += 4 + len;
                        return;
                    }
                }
                if self.start > 0 {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                }
                let n = self.file.read(&mut self.buf[self.end..]).unwrap();
                if n == 0 {
                    let mut events = [0u8; 4096];
                    let _ = self.inotify.read(&mut events).unwrap();
                }
                self.end += n;
            }
        }
    }

    /// The producer process.
    fn producer(role: &str) {
        let mut parts = role.splitn(5, ':');
        let mode = parts.next().unwrap();
        let variant = Variant::decode(parts.next().unwrap());
        let size: usize = parts.next().unwrap().parse().unwrap();
        let count: usize = parts.next().unwrap().parse().unwrap();
        let dir = PathBuf::from(parts.next().unwrap());
        let (path, url) = target(variant, &dir);
        let latency = mode == "lat";
        let stamp = |m: &mut Vec<u8>| m[..8].copy_from_slice(&now_ns().to_le_bytes());
        let cpu_before = cpu_ns();
        match variant {
            Variant::Baseline => {
                let mut out = BufWriter::with_capacity(
                    64 * 1024,
                    std::fs::OpenOptions::new()
                        .append(true)
                        .open(&path)
                        .unwrap(),
                );
                let mut msg = message(size);
                println!("start {}", now_ns());
                for _ in 0..count {
                    if latency {
                        std::thread::sleep(Duration::from_millis(1));
                        stamp(&mut msg);
                    }
                    out.write_all(&(size as u32).to_le_bytes()).unwrap();
                    out.write_all(&msg).unwrap();
                    if latency {
                        out.flush().unwrap();
                    }
                }
                out.flush().unwrap();
            }
            Variant::LogMany(_) => run_task(async move {
                assert!(!latency, "no latency rows for the batch calls");
                let mut log = FileProducer::open(&dir, log_options(&url)).await.unwrap();
                let msg = message(size);
                let batch = vec![&msg[..]; BATCH];
                println!("start {}", now_ns());
                for _ in 0..count / BATCH {
                    log.append_many(&batch).await.unwrap();
                }
                log.append_many(&batch[..count % BATCH]).await.unwrap();
                log.close().await.unwrap();
            }),
            Variant::Log(_) => run_task(async move {
                let mut conn = anyipc::connect(&url).await.unwrap();
                let template = Bytes::from(message(size));
                println!("start {}", now_ns());
                for _ in 0..count {
                    if latency {
                        // Paced as the baseline is, on this thread: a tokio timer's
                        // re-arm and driver wake-up right after each send would compete
                        // with the consumer's wake-up (measured: ~45 µs more p50).
                        std::thread::sleep(Duration::from_millis(1));
                        let mut m = message(size);
                        stamp(&mut m);
                        conn.send(Bytes::from(m)).await.unwrap();
                    } else {
                        conn.feed(template.clone()).await.unwrap();
                    }
                }
                conn.close().await.unwrap();
            }),
        }
        println!("cpu {}", cpu_ns() - cpu_before);
        let _ = std::io::stdout().flush();
    }
}
