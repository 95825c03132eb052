//! Round-trip samples of a latency run, in memory that stays bounded however long the run.

use super::LatencyReport;
use std::time::Duration;

/// Samples kept one by one (16 MiB of them on 64-bit targets): a run up to this long reports exact
/// nearest-rank percentiles. A longer one moves them into a [`Histogram`] and goes on there.
pub(crate) const EXACT_SAMPLES: usize = 1 << 20;

/// Round trips recorded by a latency run: each sample kept while there are at most
/// [`EXACT_SAMPLES`], a histogram of fixed size past that (a run of hundreds of millions of
/// round trips took gigabytes before, and ran out of address space on 32-bit targets).
#[derive(Debug, Default)]
pub(crate) struct LatencySamples {
    exact: Vec<Duration>,
    /// Set once the run passes [`EXACT_SAMPLES`]; then it holds every sample.
    histogram: Option<Histogram>,
}

impl LatencySamples {
    /// Ready for a run of `count` samples (reserving room for the exact ones only).
    pub(crate) fn for_count(count: usize) -> LatencySamples {
        LatencySamples {
            exact: Vec::with_capacity(count.min(EXACT_SAMPLES)),
            histogram: None,
        }
    }

    /// Records one round trip.
    #[inline]
    pub(crate) fn record(&mut self, sample: Duration) {
        if let Some(histogram) = &mut self.histogram {
            histogram.record(sample);
        } else if self.exact.len() < EXACT_SAMPLES {
            self.exact.push(sample);
        } else {
            let mut histogram = Histogram::new();
            for kept in self.exact.drain(..) {
                histogram.record(kept);
            }
            self.exact = Vec::new();
            histogram.record(sample);
            self.histogram = Some(histogram);
        }
    }

    /// The run's figures for messages of `size` bytes.
    pub(crate) fn report(mut self, size: usize) -> LatencyReport {
        match self.histogram {
            Some(histogram) => histogram.report(size),
            None => LatencyReport::from_samples(size, &mut self.exact),
        }
    }
}

/// Buckets one nanosecond wide below [`LINEAR`] ns; above, each power of two is cut into
/// [`SUB_BUCKETS`] buckets, so a bucket is at most 1/1024 of its values wide.
const LINEAR: u64 = 2048;
/// Buckets per power of two above [`LINEAR`].
const SUB_BUCKETS: u64 = 1024;
/// Buckets in all: the linear ones, then 1,024 for each power of two from 2^11 to 2^63.
const BUCKETS: usize = (LINEAR + (64 - 11) * SUB_BUCKETS) as usize;

/// Counts of samples by bucket (nanoseconds), with the exact count, sum, least and greatest.
/// Percentiles come out as the middle of the bucket the nearest rank falls in: within 1/2048
/// of the sample there (exact below 2,048 ns). About 440 KiB.
#[derive(Debug)]
struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            count: 0,
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }

    fn record(&mut self, sample: Duration) {
        let ns = u64::try_from(sample.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket_of(ns)] += 1;
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// The nearest-rank percentile `p`: the middle of the bucket holding the sample of that
    /// rank, kept within the least and greatest samples.
    fn percentile(&self, p: f64) -> Duration {
        let rank = ((p * self.count as f64).ceil() as u64).clamp(1, self.count.max(1));
        let mut seen = 0;
        for (bucket, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (low, width) = bucket_range(bucket);
                let middle = low.saturating_add(width / 2);
                return Duration::from_nanos(middle.clamp(self.min_ns, self.max_ns));
            }
        }
        Duration::from_nanos(self.max_ns)
    }

    fn report(&self, size: usize) -> LatencyReport {
        let mean_ns = self.sum_ns / u128::from(self.count.max(1));
        LatencyReport {
            size,
            count: usize::try_from(self.count).unwrap_or(usize::MAX),
            p50: self.percentile(0.50),
            p99: self.percentile(0.99),
            p999: self.percentile(0.999),
            mean: Duration::from_nanos(u64::try_from(mean_ns).unwrap_or(u64::MAX)),
            min: Duration::from_nanos(self.min_ns.min(self.max_ns)),
            max: Duration::from_nanos(self.max_ns),
        }
    }
}

/// The bucket of a sample of `ns` nanoseconds.
fn bucket_of(ns: u64) -> usize {
    if ns < LINEAR {
        return ns as usize;
    }
    let power = 63 - u64::from(ns.leading_zeros()); // 11 to 63
    let shift = power - 10;
    let sub = (ns >> shift) - SUB_BUCKETS; // 0 to 1023: the bits below the leading one
    (LINEAR + (power - 11) * SUB_BUCKETS + sub) as usize
}

/// The least value of `bucket` and its width, in nanoseconds.
fn bucket_range(bucket: usize) -> (u64, u64) {
    let bucket = bucket as u64;
    if bucket < LINEAR {
        return (bucket, 1);
    }
    let power = 11 + (bucket - LINEAR) / SUB_BUCKETS;
    let sub = (bucket - LINEAR) % SUB_BUCKETS;
    let shift = power - 10;
    ((SUB_BUCKETS + sub) << shift, 1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order_and_hold_their_values() {
        let mut last = None;
        let probes = (0..5000u64)
            .chain((11..64).flat_map(|p| {
                let base = 1u64 << p;
                [base - 1, base, base + 1, base + base / 3, (base - 1) | base]
            }))
            .chain([u64::MAX]);
        for ns in probes {
            let bucket = bucket_of(ns);
            assert!(bucket < BUCKETS, "{ns}");
            let (low, width) = bucket_range(bucket);
            assert!(
                low <= ns && ns - low < width,
                "{ns} in bucket {bucket} = {low}+{width}"
            );
            if ns >= LINEAR {
                assert!(width <= low / 1024, "{ns}: bucket {width} wide at {low}");
            }
            if let Some((prev_ns, prev_bucket)) = last {
                if ns > prev_ns {
                    assert!(bucket >= prev_bucket, "{prev_ns} -> {ns}");
                }
            }
            last = Some((ns, bucket));
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn a_short_run_is_exact_and_a_long_one_within_a_2048th() {
        // Up to EXACT_SAMPLES: the exact report.
        let mut short = LatencySamples::for_count(3);
        for us in [3, 1, 2] {
            short.record(Duration::from_micros(us));
        }
        let mut by_hand = [1, 2, 3].map(Duration::from_micros);
        assert_eq!(
            short.report(64),
            LatencyReport::from_samples(64, &mut by_hand)
        );

        // Past it: every sample counts, min, max and mean stay exact, percentiles are close.
        let n = EXACT_SAMPLES as u64 + 1000;
        let sample = |i: u64| Duration::from_nanos(10_000 + i * 7);
        let mut long = LatencySamples::for_count(n as usize);
        for i in (0..n).rev() {
            long.record(sample(i));
        }
        assert!(long.exact.is_empty() && long.histogram.is_some());
        let report = long.report(4096);
        assert_eq!((report.size, report.count), (4096, n as usize));
        assert_eq!((report.min, report.max), (sample(0), sample(n - 1)));
        let mean = 10_000 + 7 * (n - 1) / 2;
        assert!(
            report.mean.as_nanos().abs_diff(u128::from(mean)) <= 1,
            "{report:?}"
        );
        let mut all: Vec<Duration> = (0..n).map(sample).collect();
        let exact = LatencyReport::from_samples(4096, &mut all);
        for (got, want) in [
            (report.p50, exact.p50),
            (report.p99, exact.p99),
            (report.p999, exact.p999),
        ] {
            let (got, want) = (got.as_nanos(), want.as_nanos());
            assert!(
                got.abs_diff(want) <= want / 2048 + 1,
                "{got} against {want}"
            );
        }
    }

    #[test]
    fn huge_samples_saturate_instead_of_overflowing() {
        let mut histogram = Histogram::new();
        histogram.record(Duration::MAX);
        histogram.record(Duration::from_nanos(5));
        let report = histogram.report(1);
        assert_eq!(report.max, Duration::from_nanos(u64::MAX));
        assert_eq!(report.min, Duration::from_nanos(5));
        let top = bucket_range(BUCKETS - 1).0;
        assert!(report.p999.as_nanos() >= u128::from(top), "{report:?}");
    }
}
