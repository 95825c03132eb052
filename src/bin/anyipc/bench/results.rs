//! How `anyipc bench` prints a measured workload: one JSON object, or a small table with the
//! baseline's row and the ratio to it.

use anyipc::bench::{Report, Target, ThroughputReport, Workload};
use std::fmt::Write as _;

/// One measured workload: the endpoint's report and the baseline's.
pub(super) struct Measured {
    pub(super) workload: Workload,
    pub(super) report: Report,
    pub(super) baseline: Option<Report>,
}

/// Microseconds of a duration.
fn us(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The figures of one report as JSON fields.
fn figures(report: &Report) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    let mut put = |k: &str, v: serde_json::Value| {
        map.insert(k.to_owned(), v);
    };
    match report {
        Report::Latency(l) => {
            put("p50_us", us(l.p50).into());
            put("p99_us", us(l.p99).into());
            put("p999_us", us(l.p999).into());
            put("mean_us", us(l.mean).into());
            let per_s = if l.mean.is_zero() {
                0.0
            } else {
                1.0 / l.mean.as_secs_f64()
            };
            put("msgs_per_s", per_s.into());
            put(
                "gib_per_s",
                (per_s * l.size as f64 / (1u64 << 30) as f64).into(),
            );
        }
        Report::Throughput(t) => {
            for k in ["p50_us", "p99_us", "p999_us", "mean_us"] {
                put(k, serde_json::Value::Null);
            }
            put("msgs_per_s", t.msgs_per_sec().into());
            put("gib_per_s", t.gib_per_sec().into());
            put("sent", t.sent.into());
            put("received", t.received.into());
        }
    }
    map
}

/// The figure a ratio is taken of: p50 in µs for latency, GiB/s for throughput.
fn headline(report: &Report) -> f64 {
    match report {
        Report::Latency(l) => us(l.p50),
        Report::Throughput(t) => t.gib_per_sec(),
    }
}

/// `measured` against its baseline, when both have a figure.
fn ratio(measured: &Measured) -> Option<f64> {
    let base = headline(measured.baseline.as_ref()?);
    (base > 0.0).then(|| headline(&measured.report) / base)
}

/// One result as a line of JSON.
pub(super) fn json_line(target: &Target, measured: &Measured) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    object.insert("endpoint".into(), target.to_string().into());
    object.insert("mode".into(), measured.workload.mode().into());
    object.insert("size".into(), measured.workload.size().into());
    object.insert("count".into(), measured.workload.count().into());
    object.insert("batch".into(), measured.workload.batch().into());
    object.extend(figures(&measured.report));
    if let Some(baseline) = &measured.baseline {
        let mut base = figures(baseline);
        base.remove("sent");
        base.remove("received");
        object.insert("baseline".into(), base.into());
        object.insert("ratio".into(), ratio(measured).into());
    }
    object.into()
}

/// One result as a small table, with the baseline as a second row.
pub(super) fn table(target: &Target, measured: &Measured, echo: bool) -> String {
    let w = &measured.workload;
    let mut out = String::from("\n");
    let ratio_cell = |is_baseline: bool| match (is_baseline, ratio(measured)) {
        (true, _) => "1.00×".to_owned(),
        (false, Some(r)) => format!("{r:.2}×"),
        (false, None) => "—".to_owned(),
    };
    let baseline_name = "baseline (tokio UnixStream + LengthDelimitedCodec)";
    // The endpoint's row, then the baseline's when it was measured.
    let rows = || {
        [(target.to_string(), &measured.report, false)]
            .into_iter()
            .chain(
                measured
                    .baseline
                    .iter()
                    .map(|b| (baseline_name.to_owned(), b, true)),
            )
    };
    match (&measured.report, w) {
        (Report::Latency(_), Workload::Latency { warmup, .. }) => {
            let _ = writeln!(
                out,
                "latency: {} B round trips, {} timed after {warmup} warm-up",
                w.size(),
                w.count()
            );
            let _ = writeln!(
                out,
                "| endpoint | p50 µs | p99 µs | p99.9 µs | mean µs | p50 vs baseline |"
            );
            let _ = writeln!(out, "|---|---|---|---|---|---|");
            for (name, report, is_baseline) in rows() {
                if let Report::Latency(l) = report {
                    let _ = writeln!(
                        out,
                        "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
                        us(l.p50),
                        us(l.p99),
                        us(l.p999),
                        us(l.mean),
                        ratio_cell(is_baseline)
                    );
                }
            }
        }
        _ => {
            let _ = writeln!(
                out,
                "throughput: {} messages of {} B{}{}",
                w.count(),
                w.size(),
                if echo {
                    ", counted as they came back from the echo server"
                } else {
                    ", one way"
                },
                match (w.batch(), &measured.baseline) {
                    (1, _) => String::new(),
                    (n, None) => format!(", send_many/recv_batch of {n}"),
                    (n, Some(_)) => {
                        format!(", send_many/recv_batch of {n} (the baseline one at a time)")
                    }
                }
            );
            let _ = writeln!(
                out,
                "| endpoint | msgs/s | GiB/s | lost | GiB/s vs baseline |"
            );
            let _ = writeln!(out, "|---|---|---|---|---|");
            for (name, report, is_baseline) in rows() {
                if let Report::Throughput(t) = report {
                    let _ = writeln!(
                        out,
                        "| {name} | {:.0} | {:.3} | {} | {} |",
                        t.msgs_per_sec(),
                        t.gib_per_sec(),
                        lost(t),
                        ratio_cell(is_baseline)
                    );
                }
            }
        }
    }
    out
}

/// Lost messages as a table cell.
fn lost(t: &ThroughputReport) -> String {
    match t.lost() {
        0 => "0".to_owned(),
        n => format!("{n} ({:.1}%)", n as f64 * 100.0 / t.sent.max(1) as f64),
    }
}
