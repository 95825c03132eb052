//! `mq://` against POSIX message queues (`mq_send`/`mq_receive` through libc, blocking), in
//! one run, across real processes (BENCHMARKS.md protocol).
//!
//! Rows: one producer process → one consumer process, 64-byte messages (messages/s); four
//! producers × four consumers (messages/s); ping-pong through two queues with an echo
//! process (round trip, µs). POSIX mq always moves one message per system call (that is the
//! baseline). anyipc runs the throughput rows twice: with the batch calls a program that
//! streams messages would use (`send_many` of 64 messages, `recv_many` of up to 64), and with
//! one `send`/`recv` per message. Each row runs 3 times, the runs of the three interleaved;
//! the median is reported with min–max, and every anyipc figure also as a ratio to POSIX mq.
//!
//! Run: `cargo bench --bench queue` (`-- --quick` for a tenth of the messages; `--only
//! 1x1,4x4,rtt` for some rows). The peers are this binary started again with
//! `ANYIPC_MQ_BENCH_ROLE` set.

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("queue bench: Linux only (POSIX message queue baseline)");
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use anyipc::queue::{MessageQueue, QueueOptions};
    use std::ffi::CString;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    const ROLE_VAR: &str = "ANYIPC_MQ_BENCH_ROLE";
    const SIZE: usize = 64;
    const DATA_PRIORITY: u8 = 1;
    const STOP_PRIORITY: u8 = 0;
    /// Messages per `send_many`, and at most per `recv_many`, in the batch rows.
    const BATCH: usize = 64;

    /// The mechanisms, behind the few calls the workloads need.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Backend {
        /// anyipc, one `send`/`recv` per message.
        Anyipc,
        /// anyipc with `send_many`/`recv_many`.
        AnyipcMany,
        /// POSIX mq, one `mq_send`/`mq_receive` per message.
        Posix,
    }

    impl Backend {
        fn parse(s: &str) -> Backend {
            match s {
                "anyipc" => Backend::Anyipc,
                "anyipc-many" => Backend::AnyipcMany,
                _ => Backend::Posix,
            }
        }
        fn tag(self) -> &'static str {
            match self {
                Backend::Anyipc => "anyipc",
                Backend::AnyipcMany => "anyipc-many",
                Backend::Posix => "posix",
            }
        }
    }

    /// An open queue of either kind.
    enum Q {
        Anyipc(MessageQueue, tokio::runtime::Runtime),
        Posix(libc::mqd_t),
    }

    fn posix_name(name: &str) -> CString {
        CString::new(format!("/{name}")).unwrap()
    }

    impl Q {
        fn create(backend: Backend, name: &str) -> Q {
            match backend {
                Backend::Anyipc | Backend::AnyipcMany => {
                    let options = QueueOptions {
                        capacity: 1024,
                        max_message_len: SIZE as u32,
                        ..Default::default()
                    };
                    let _ = MessageQueue::remove(name);
                    Q::Anyipc(MessageQueue::create(name, &options).unwrap(), runtime())
                }
                Backend::Posix => {
                    let cname = posix_name(name);
                    // SAFETY: a valid C string; unlinking a missing queue is harmless.
                    unsafe { libc::mq_unlink(cname.as_ptr()) };
                    // Root may exceed /proc/sys/fs/mqueue/msg_max (10); fall back to it otherwise.
                    for maxmsg in [1024, 10] {
                        // SAFETY: all-zero is a valid mq_attr; the fields are set below.
                        let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
                        attr.mq_maxmsg = maxmsg;
                        attr.mq_msgsize = SIZE as _;
                        // SAFETY: valid name, flags, mode and attribute pointer (variadic args as
                        // mq_open(3) documents them for O_CREAT).
                        let mq = unsafe {
                            libc::mq_open(
                                cname.as_ptr(),
                                libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
                                0o600 as libc::mode_t,
                                &attr as *const libc::mq_attr,
                            )
                        };
                        if mq != -1 {
                            return Q::Posix(mq);
                        }
                    }
                    panic!("mq_open: {}", std::io::Error::last_os_error());
                }
            }
        }

        fn open(backend: Backend, name: &str) -> Q {
            match backend {
                Backend::Anyipc | Backend::AnyipcMany => {
                    Q::Anyipc(MessageQueue::open(name).unwrap(), runtime())
                }
                Backend::Posix => {
                    let cname = posix_name(name);
                    // SAFETY: valid name and flags.
                    let mq = unsafe { libc::mq_open(cname.as_ptr(), libc::O_RDWR) };
                    assert!(mq != -1, "mq_open: {}", std::io::Error::last_os_error());
                    Q::Posix(mq)
                }
            }
        }

        fn send(&self, msg: &[u8], priority: u8) {
            match self {
                // The non-blocking call first, as a synchronous caller would; await when full.
                Q::Anyipc(q, rt) => {
                    if q.try_send(msg, priority).is_err() {
                        rt.block_on(q.send(msg, priority)).unwrap();
                    }
                }
                Q::Posix(mq) => {
                    // SAFETY: `msg` is valid for its length; `mq` is open.
                    let rc = unsafe {
                        libc::mq_send(*mq, msg.as_ptr().cast(), msg.len(), priority.into())
                    };
                    assert_eq!(rc, 0, "mq_send: {}", std::io::Error::last_os_error());
                }
            }
        }

        /// Receives into `buf`; returns (length, priority).
        fn recv(&self, buf: &mut [u8]) -> (usize, u8) {
            match self {
                Q::Anyipc(q, rt) => {
                    let (msg, p) = match q.try_recv() {
                        Ok(got) => got,
                        Err(_) => rt.block_on(q.recv()).unwrap(),
                    };
                    buf[..msg.len()].copy_from_slice(&msg);
                    (msg.len(), p)
                }
                Q::Posix(mq) => {
                    let mut priority = 0u32;
                    // SAFETY: `buf` is writable for its length (at least the queue's msgsize).
                    let n = unsafe {
                        libc::mq_receive(*mq, buf.as_mut_ptr().cast(), buf.len(), &mut priority)
                    };
                    assert!(n >= 0, "mq_receive: {}", std::io::Error::last_os_error());
                    (n as usize, priority as u8)
                }
            }
        }

        /// Sends every message of `msgs` with `send_many` (anyipc) or one by one.
        fn send_many(&self, msgs: &[[u8; SIZE]], priority: u8) {
            match self {
                Q::Anyipc(q, rt) => {
                    let mut rest = msgs;
                    while !rest.is_empty() {
                        let sent = match q.try_send_many(rest, priority) {
                            Ok(sent) => sent,
                            Err(_) => rt.block_on(q.send_many(rest, priority)).unwrap(),
                        };
                        rest = &rest[sent..];
                    }
                }
                Q::Posix(_) => msgs.iter().for_each(|m| self.send(m, priority)),
            }
        }

        /// Receives at least one and at most `BATCH` messages into `out` (anyipc only).
        fn recv_many(&self, out: &mut Vec<(bytes::Bytes, u8)>) {
            let Q::Anyipc(q, rt) = self else {
                unreachable!("batch receive is an anyipc call")
            };
            if q.try_recv_many(out, BATCH).is_err() {
                rt.block_on(q.recv_many(out, BATCH)).unwrap();
            }
        }

        fn remove(backend: Backend, name: &str) {
            match backend {
                Backend::Anyipc | Backend::AnyipcMany => {
                    let _ = MessageQueue::remove(name);
                }
                Backend::Posix => {
                    let cname = posix_name(name);
                    // SAFETY: a valid C string.
                    unsafe { libc::mq_unlink(cname.as_ptr()) };
                }
            }
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn peer(role: &str) -> Child {
        Command::new(std::env::current_exe().unwrap())
            .env(ROLE_VAR, role)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn run_role(role: &str) {
        let args: Vec<&str> = role.split(' ').collect();
        let backend = Backend::parse(args[1]);
        let mut buf = vec![0u8; 8192];
        match args[0] {
            "producer" if backend == Backend::AnyipcMany => {
                let q = Q::open(backend, args[2]);
                let count: u64 = args[3].parse().unwrap();
                let mut batch = Vec::with_capacity(BATCH);
                let mut i = 0u64;
                while i < count {
                    batch.clear();
                    while batch.len() < BATCH && i < count {
                        let mut msg = [0u8; SIZE];
                        msg[0] = i as u8;
                        msg[SIZE - 1] = i as u8;
                        batch.push(msg);
                        i += 1;
                    }
                    q.send_many(&batch, DATA_PRIORITY);
                }
            }
            "producer" => {
                let q = Q::open(backend, args[2]);
                let count: u64 = args[3].parse().unwrap();
                let mut msg = [0u8; SIZE];
                for i in 0..count {
                    msg[0] = i as u8;
                    msg[SIZE - 1] = i as u8;
                    q.send(&msg, DATA_PRIORITY);
                }
            }
            "consumer" if backend == Backend::AnyipcMany => {
                let q = Q::open(backend, args[2]);
                let mut got = Vec::with_capacity(BATCH);
                let mut n = 0u64;
                'recv: loop {
                    got.clear();
                    q.recv_many(&mut got);
                    for (k, (msg, p)) in got.iter().enumerate() {
                        if *p == STOP_PRIORITY {
                            // Stop markers are the last messages of the run: those taken beyond
                            // this consumer's own go back for the other consumers.
                            let others = got.len() - k - 1;
                            for _ in 0..others {
                                q.send(&[0u8; SIZE], STOP_PRIORITY);
                            }
                            break 'recv;
                        }
                        assert!(msg.len() == SIZE && msg[0] == msg[SIZE - 1], "bad message");
                        n += 1;
                    }
                }
                println!("{n}");
            }
            "consumer" => {
                let q = Q::open(backend, args[2]);
                let mut n = 0u64;
                loop {
                    let (len, p) = q.recv(&mut buf);
                    if p == STOP_PRIORITY {
                        break;
                    }
                    assert!(len == SIZE && buf[0] == buf[SIZE - 1], "bad message");
                    n += 1;
                }
                println!("{n}");
            }
            "echo" => {
                let ping = Q::open(backend, args[2]);
                let pong = Q::open(backend, args[3]);
                loop {
                    let (len, p) = ping.recv(&mut buf);
                    if p == STOP_PRIORITY {
                        break;
                    }
                    pong.send(&buf[..len], DATA_PRIORITY);
                }
            }
            other => panic!("unknown role {other}"),
        }
    }

    /// `producers × consumers` processes move `total` 64-byte messages; messages/s.
    fn throughput(backend: Backend, producers: u64, consumers: u64, total: u64) -> f64 {
        let name = format!("anyipc-bench-{}-tp", std::process::id());
        let q = Q::create(backend, &name);
        let mut cons: Vec<Child> = (0..consumers)
            .map(|_| peer(&format!("consumer {} {name} 0", backend.tag())))
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        let start = Instant::now();
        let mut prods: Vec<Child> = (0..producers)
            .map(|_| {
                peer(&format!(
                    "producer {} {name} {}",
                    backend.tag(),
                    total / producers
                ))
            })
            .collect();
        for p in &mut prods {
            assert!(p.wait().unwrap().success());
        }
        for _ in 0..consumers {
            q.send(&[0u8; SIZE], STOP_PRIORITY);
        }
        let mut received = 0u64;
        for c in cons.drain(..) {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success());
            received += String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse::<u64>()
                .unwrap();
        }
        let elapsed = start.elapsed();
        assert_eq!(
            received,
            total / producers * producers,
            "{backend:?}: messages lost"
        );
        Q::remove(backend, &name);
        received as f64 / elapsed.as_secs_f64()
    }

    /// Ping-pong through two queues with an echo process; returns (p50, p99) in µs.
    fn round_trip(backend: Backend, n: usize) -> (f64, f64) {
        let ping_name = format!("anyipc-bench-{}-ping", std::process::id());
        let pong_name = format!("anyipc-bench-{}-pong", std::process::id());
        let ping = Q::create(backend, &ping_name);
        let pong = Q::create(backend, &pong_name);
        let mut echo = peer(&format!("echo {} {ping_name} {pong_name}", backend.tag()));
        let mut buf = vec![0u8; 8192];
        let msg = [7u8; SIZE];
        for _ in 0..2000 {
            ping.send(&msg, DATA_PRIORITY);
            pong.recv(&mut buf);
        }
        let mut times: Vec<f64> = (0..n)
            .map(|_| {
                let t = Instant::now();
                ping.send(&msg, DATA_PRIORITY);
                let (len, _) = pong.recv(&mut buf);
                assert_eq!(len, SIZE);
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        ping.send(&msg, STOP_PRIORITY);
        echo.wait().unwrap();
        Q::remove(backend, &ping_name);
        Q::remove(backend, &pong_name);
        times.sort_by(|a, b| a.total_cmp(b));
        (times[n / 2], times[n * 99 / 100])
    }

    fn machine() -> String {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
            })
            .unwrap_or_default();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
        format!("nproc {cpus}, {cpu}, kernel {}", kernel.trim())
    }

    /// Median, min and max.
    fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
        v.sort_by(|a, b| a.total_cmp(b));
        (v[v.len() / 2], v[0], v[v.len() - 1])
    }

    pub(super) fn main() {
        if let Ok(role) = std::env::var(ROLE_VAR) {
            run_role(&role);
            return;
        }
        let args: Vec<String> = std::env::args().collect();
        let quick = args.iter().any(|a| a == "--quick");
        let only: Option<Vec<String>> = args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .map(|list| list.split(',').map(str::to_owned).collect());
        let wanted = |row: &str| only.as_ref().is_none_or(|o| o.iter().any(|r| r == row));
        let scale = if quick { 10 } else { 1 };
        let total = 2_000_000 / scale;
        let rtt_n = 50_000 / scale as usize;
        println!("# mq:// vs POSIX mq — {}", machine());
        println!("# 64-byte messages; {total} per throughput run; {rtt_n} timed round trips; median of 3 (min–max)");
        println!("# no CPU pinning: processes float over all CPUs");
        println!("# anyipc batch rows: send_many of {BATCH}, recv_many of up to {BATCH}; POSIX mq: one call per message");
        println!();
        println!("| workload | POSIX mq | anyipc mq:// | ratio |");
        println!("|---|---|---|---|");
        let mut batch_results = Vec::new();
        for (row, label, p, c) in [
            ("1x1", "1 → 1 throughput (msgs/s)", 1, 1),
            ("4x4", "4 × 4 throughput (msgs/s)", 4, 4),
        ] {
            if !wanted(row) {
                continue;
            }
            let backends = [Backend::Posix, Backend::AnyipcMany, Backend::Anyipc];
            let mut runs: Vec<Vec<f64>> = vec![Vec::new(); backends.len()];
            for _ in 0..3 {
                for (b, backend) in backends.iter().enumerate() {
                    runs[b].push(throughput(*backend, p, c, total));
                }
            }
            let [posix, many, single] = [0, 1, 2].map(|b| spread(std::mem::take(&mut runs[b])));
            for (what, ours) in [("send_many/recv_many", many), ("send/recv", single)] {
                println!(
                    "| {label}, anyipc {what} | {:.2} M ({:.2}–{:.2}) | {:.2} M ({:.2}–{:.2}) | {:.2}× |",
                    posix.0 / 1e6,
                    posix.1 / 1e6,
                    posix.2 / 1e6,
                    ours.0 / 1e6,
                    ours.1 / 1e6,
                    ours.2 / 1e6,
                    ours.0 / posix.0
                );
            }
            batch_results.push((many.0, single.0));
        }
        if wanted("rtt") {
            let mut posix_runs = Vec::new();
            let mut ours_runs = Vec::new();
            for _ in 0..3 {
                posix_runs.push(round_trip(Backend::Posix, rtt_n));
                ours_runs.push(round_trip(Backend::Anyipc, rtt_n));
            }
            let p50 = |runs: &[(f64, f64)]| spread(runs.iter().map(|r| r.0).collect());
            let p99 = |runs: &[(f64, f64)]| spread(runs.iter().map(|r| r.1).collect());
            let (posix50, ours50) = (p50(&posix_runs), p50(&ours_runs));
            let (posix99, ours99) = (p99(&posix_runs), p99(&ours_runs));
            println!(
                "| round trip p50 (µs), anyipc send/recv | {:.1} ({:.1}–{:.1}) | {:.2} ({:.2}–{:.2}) | {:.3}× |",
                posix50.0, posix50.1, posix50.2, ours50.0, ours50.1, ours50.2,
                ours50.0 / posix50.0
            );
            println!(
                "| round trip p99 (µs), anyipc send/recv | {:.1} | {:.2} | {:.3}× |",
                posix99.0,
                ours99.0,
                ours99.0 / posix99.0
            );
        }
        println!();
        if let [(many11, single11), (many44, single44)] = batch_results[..] {
            println!(
                "# anyipc 4×4 / 1×1 throughput: {:.2}× (send_many/recv_many), {:.2}× (send/recv)",
                many44 / many11,
                single44 / single11
            );
        }
    }
}
