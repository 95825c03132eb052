use std::time::Duration;

/// The result of one measurement run.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::bench::{measure, InProcessPeer, Report, Workload};
///
/// let peer = InProcessPeer::start(&"mem://doc-report".parse()?).await?;
/// match measure(peer.target(), &Workload::throughput(64, 10)).await? {
///     Report::Throughput(r) => assert_eq!((r.size, r.sent, r.received), (64, 10, 10)),
///     Report::Latency(_) => unreachable!("a throughput run gives a throughput report"),
/// }
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A [`Workload::Latency`](super::Workload::Latency) run.
    Latency(LatencyReport),
    /// A [`Workload::Throughput`](super::Workload::Throughput) run.
    Throughput(ThroughputReport),
}

impl Report {
    /// The latency figures, if this was a latency run.
    ///
    /// ```
    /// use anyipc::bench::{LatencyReport, Report};
    /// use std::time::Duration;
    ///
    /// let mut samples = [Duration::from_micros(5)];
    /// let report = Report::Latency(LatencyReport::from_samples(64, &mut samples));
    /// assert_eq!(report.latency().unwrap().p50, Duration::from_micros(5));
    /// assert!(report.throughput().is_none());
    /// ```
    pub fn latency(&self) -> Option<&LatencyReport> {
        match self {
            Report::Latency(r) => Some(r),
            Report::Throughput(_) => None,
        }
    }

    /// The throughput figures, if this was a throughput run.
    ///
    /// ```
    /// use anyipc::bench::{Report, ThroughputReport};
    /// use std::time::Duration;
    ///
    /// let r = ThroughputReport { size: 64, sent: 10, received: 10, elapsed: Duration::ZERO };
    /// let report = Report::Throughput(r);
    /// assert_eq!(report.throughput().unwrap().received, 10);
    /// assert!(report.latency().is_none());
    /// ```
    pub fn throughput(&self) -> Option<&ThroughputReport> {
        match self {
            Report::Throughput(r) => Some(r),
            Report::Latency(_) => None,
        }
    }
}

/// Round-trip times of a latency run. A run of up to 1,048,576 timed round trips reports
/// exact nearest-rank percentiles; a longer one (whose samples are counted in a histogram
/// of fixed size, so that memory stays bounded) reports each percentile within 1/2048 of
/// it (exact below 2,048 ns); its count, mean, min and max stay exact.
///
/// ```
/// use anyipc::bench::LatencyReport;
/// use std::time::Duration;
///
/// let mut samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
/// let r = LatencyReport::from_samples(64, &mut samples);
/// assert_eq!(r.p50, Duration::from_micros(50));
/// assert_eq!(r.p99, Duration::from_micros(99));
/// assert_eq!(r.max, Duration::from_micros(100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyReport {
    /// Message size in bytes.
    pub size: usize,
    /// Timed round trips.
    pub count: usize,
    /// Median round trip.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// Mean round trip.
    pub mean: Duration,
    /// Fastest round trip.
    pub min: Duration,
    /// Slowest round trip.
    pub max: Duration,
}

impl LatencyReport {
    /// Summarises round-trip samples (sorting them). Percentiles are nearest-rank: p50 of 100
    /// samples is the 50th smallest. No samples give all-zero figures.
    ///
    /// ```
    /// use anyipc::bench::LatencyReport;
    /// use std::time::Duration;
    ///
    /// let mut samples = [3, 1, 2].map(Duration::from_micros);
    /// let r = LatencyReport::from_samples(64, &mut samples);
    /// assert_eq!(samples, [1, 2, 3].map(Duration::from_micros)); // sorted
    /// assert_eq!((r.size, r.count), (64, 3));
    /// assert_eq!((r.p50, r.mean, r.p999), (samples[1], samples[1], samples[2]));
    /// let none = LatencyReport::from_samples(64, &mut []);
    /// assert_eq!((none.count, none.p50, none.max), (0, Duration::ZERO, Duration::ZERO));
    /// ```
    pub fn from_samples(size: usize, samples: &mut [Duration]) -> LatencyReport {
        samples.sort_unstable();
        let n = samples.len();
        let rank = |p: f64| -> Duration {
            if n == 0 {
                return Duration::ZERO;
            }
            let k = ((p * n as f64).ceil() as usize).clamp(1, n);
            samples[k - 1]
        };
        let total: Duration = samples.iter().sum();
        LatencyReport {
            size,
            count: n,
            p50: rank(0.50),
            p99: rank(0.99),
            p999: rank(0.999),
            mean: if n == 0 {
                Duration::ZERO
            } else {
                let mean_ns = total.as_nanos() / n as u128;
                Duration::from_nanos(u64::try_from(mean_ns).unwrap_or(u64::MAX))
            },
            min: samples.first().copied().unwrap_or_default(),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

/// Messages moved by a throughput run and the time it took.
///
/// ```
/// use anyipc::bench::ThroughputReport;
/// use std::time::Duration;
///
/// let elapsed = Duration::from_secs(2);
/// let r = ThroughputReport { size: 1 << 20, sent: 1024, received: 1024, elapsed };
/// assert_eq!(r.msgs_per_sec(), 512.0);
/// assert_eq!(r.gib_per_sec(), 0.5);
/// assert_eq!(r.lost(), 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThroughputReport {
    /// Message size in bytes.
    pub size: usize,
    /// Messages the client sent.
    pub sent: u64,
    /// Messages the peer received (fewer than `sent` only on a lossy transport: udp).
    pub received: u64,
    /// From the first send to the peer's acknowledgement.
    pub elapsed: Duration,
}

impl ThroughputReport {
    /// Messages received per second.
    ///
    /// ```
    /// use anyipc::bench::ThroughputReport;
    /// use std::time::Duration;
    ///
    /// let elapsed = Duration::from_millis(500);
    /// let r = ThroughputReport { size: 64, sent: 1_000, received: 1_000, elapsed };
    /// assert_eq!(r.msgs_per_sec(), 2_000.0);
    /// ```
    pub fn msgs_per_sec(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Payload GiB received per second (frame headers not counted).
    ///
    /// ```
    /// use anyipc::bench::ThroughputReport;
    /// use std::time::Duration;
    ///
    /// let elapsed = Duration::from_secs(1);
    /// let r = ThroughputReport { size: 1 << 20, sent: 2_048, received: 2_048, elapsed };
    /// assert_eq!(r.gib_per_sec(), 2.0); // 2,048 MiB in one second
    /// ```
    pub fn gib_per_sec(&self) -> f64 {
        self.msgs_per_sec() * self.size as f64 / (1u64 << 30) as f64
    }

    /// Messages sent but never received.
    ///
    /// ```
    /// use anyipc::bench::ThroughputReport;
    /// use std::time::Duration;
    ///
    /// // A lossy transport (udp) delivered 97 of 100 datagrams.
    /// let elapsed = Duration::from_millis(10);
    /// let r = ThroughputReport { size: 64, sent: 100, received: 97, elapsed };
    /// assert_eq!(r.lost(), 3);
    /// ```
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }
}
