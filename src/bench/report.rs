use std::time::Duration;

/// The result of one measurement run.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A [`Workload::Latency`](super::Workload::Latency) run.
    Latency(LatencyReport),
    /// A [`Workload::Throughput`](super::Workload::Throughput) run.
    Throughput(ThroughputReport),
}

impl Report {
    /// The latency figures, if this was a latency run.
    pub fn latency(&self) -> Option<&LatencyReport> {
        match self {
            Report::Latency(r) => Some(r),
            Report::Throughput(_) => None,
        }
    }

    /// The throughput figures, if this was a throughput run.
    pub fn throughput(&self) -> Option<&ThroughputReport> {
        match self {
            Report::Throughput(r) => Some(r),
            Report::Latency(_) => None,
        }
    }
}

/// Round-trip times of a latency run.
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
                total / n as u32
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
/// let r = ThroughputReport { size: 1 << 20, sent: 1024, received: 1024, elapsed: Duration::from_secs(2) };
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
    pub fn msgs_per_sec(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Payload GiB received per second (frame headers not counted).
    pub fn gib_per_sec(&self) -> f64 {
        self.msgs_per_sec() * self.size as f64 / (1u64 << 30) as f64
    }

    /// Messages sent but never received.
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }
}
