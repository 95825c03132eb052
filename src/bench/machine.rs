use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The machine a table was measured on, printed with every table.
///
/// Fields the OS does not report (outside Linux) read `unknown`.
///
/// ```
/// let m = anyipc::bench::Machine::detect();
/// assert!(m.nproc >= 1);
/// assert!(m.date.ends_with(" UTC"));
/// println!("{m}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// CPUs available to this process.
    pub nproc: usize,
    /// CPU model name.
    pub cpu_model: String,
    /// Kernel release.
    pub kernel: String,
    /// Now, as `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// The CPUs this process may run on (a list such as `0-1`); peers it spawns inherit it.
    pub cpus_allowed: String,
    /// How this process is scheduled (peers it spawns inherit it): `normal`, or a real-time
    /// policy and priority with the kernel's real-time throttling, such as `SCHED_FIFO 10,
    /// real-time throttling 950000 of every 1000000 µs`.
    pub scheduling: String,
    /// Whether this process runs at a real-time priority that the kernel throttles by more
    /// than a thousandth of each period: once real-time tasks have used up their share of a
    /// throttling period, no real-time task runs until the period ends (the CPUs run other
    /// tasks or sit idle), and a run that spans that moment loses it (50 ms of every second
    /// at Linux's defaults; measured on 2-vCPU hosts as both CPUs idle for 40 ms at the same
    /// point of every second; 1 ms with the share at 999000). See
    /// [`throttling_note`](Self::throttling_note).
    pub throttled: bool,
}

impl Machine {
    /// Reads the machine's description.
    /// ```
    /// let m = anyipc::bench::Machine::detect();
    /// assert!(m.nproc >= 1);
    /// assert!(!m.kernel.is_empty() && !m.cpu_model.is_empty());
    /// assert_eq!(m.date.len(), "2025-01-31 12:00 UTC".len());
    /// assert!(m.to_string().starts_with(&format!("{} CPUs", m.nproc)));
    /// ```
    pub fn detect() -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let field = |text: &str, key: &str| {
            text.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "unknown".to_owned())
        };
        let kernel = read("/proc/sys/kernel/osrelease").trim().to_owned();
        let (scheduling, throttled) = scheduling(
            &read("/proc/self/stat"),
            &read("/proc/sys/kernel/sched_rt_runtime_us"),
            &read("/proc/sys/kernel/sched_rt_period_us"),
        );
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: field(&read("/proc/cpuinfo"), "model name"),
            kernel: if kernel.is_empty() {
                "unknown".to_owned()
            } else {
                kernel
            },
            date: utc_now(),
            cpus_allowed: field(&read("/proc/self/status"), "Cpus_allowed_list"),
            scheduling,
            throttled,
        }
    }

    /// A warning to print before measuring when [`throttled`](Self::throttled) (what it is
    /// and what to do instead), else `None`.
    ///
    /// ```
    /// let m = anyipc::bench::Machine::detect();
    /// assert_eq!(m.throttling_note().is_some(), m.throttled);
    /// ```
    pub fn throttling_note(&self) -> Option<String> {
        self.throttled.then(|| {
            format!(
                "{}: once real-time tasks use up that share, none runs until the period \
                 ends, and a run spanning that moment loses it (BENCHMARKS.md). Raise the \
                 share (`sysctl kernel.sched_rt_runtime_us=999000`) or measure at normal \
                 priority (`nice -n -20`).",
                self.scheduling
            )
        })
    }
}

/// How the process whose `/proc/<pid>/stat` is `stat` is scheduled, and whether the kernel
/// throttles it (`runtime` and `period`: `/proc/sys/kernel/sched_rt_{runtime,period}_us`).
fn scheduling(stat: &str, runtime: &str, period: &str) -> (String, bool) {
    // The fields after the command name, which is in parentheses and may hold anything:
    // field 3 (state) is the first, 40 (rt_priority) and 41 (policy) are 37 and 38 on.
    let fields: Vec<&str> = match stat.rfind(')') {
        Some(end) => stat[end + 1..].split_whitespace().collect(),
        None => return ("unknown".to_owned(), false),
    };
    let (Some(priority), Some(policy)) = (fields.get(37), fields.get(38)) else {
        return ("unknown".to_owned(), false);
    };
    let policy = match *policy {
        "1" => "SCHED_FIFO",
        "2" => "SCHED_RR",
        "6" => return ("SCHED_DEADLINE".to_owned(), false),
        _ => return ("normal".to_owned(), false),
    };
    match (runtime.trim().parse::<i64>(), period.trim().parse::<i64>()) {
        (Ok(-1), _) => (
            format!("{policy} {priority}, real-time throttling off"),
            false,
        ),
        // A thousandth of the period (999000 of 1000000, what BENCHMARKS.md suggests) is
        // at most 1 ms lost a second: not worth a note.
        (Ok(runtime), Ok(period)) => (
            format!("{policy} {priority}, real-time throttling {runtime} of every {period} µs"),
            period.saturating_sub(runtime).saturating_mul(1000) > period,
        ),
        _ => (
            format!("{policy} {priority}, real-time throttling unknown"),
            false,
        ),
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} CPUs ({}), kernel {}, {}, CPUs allowed: {}, scheduling: {}",
            self.nproc, self.cpu_model, self.kernel, self.date, self.cpus_allowed, self.scheduling
        )
    }
}

/// The current time as `YYYY-MM-DD HH:MM UTC`.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::scheduling;

    /// A `/proc/<pid>/stat` line with `policy` and `priority`, and a name with spaces and
    /// parentheses as a command may have.
    fn stat(priority: u32, policy: u32) -> String {
        let mut fields = vec!["0".to_owned(); 50];
        fields[0] = "R".to_owned();
        fields[37] = priority.to_string();
        fields[38] = policy.to_string();
        format!("4242 (a (b) c) {}\n", fields.join(" "))
    }

    #[test]
    fn scheduling_reads_policy_priority_and_throttling() {
        assert_eq!(
            scheduling(&stat(10, 1), "950000\n", "1000000\n"),
            (
                "SCHED_FIFO 10, real-time throttling 950000 of every 1000000 µs".to_owned(),
                true
            )
        );
        assert_eq!(
            scheduling(&stat(10, 1), "999000", "1000000"),
            (
                "SCHED_FIFO 10, real-time throttling 999000 of every 1000000 µs".to_owned(),
                false
            )
        );
        assert!(scheduling(&stat(10, 1), "998999", "1000000").1);
        assert_eq!(
            scheduling(&stat(5, 2), "-1\n", "1000000\n"),
            ("SCHED_RR 5, real-time throttling off".to_owned(), false)
        );
        assert_eq!(
            scheduling(&stat(0, 0), "950000", "1000000"),
            ("normal".to_owned(), false)
        );
        assert_eq!(scheduling("", "", ""), ("unknown".to_owned(), false));
        assert_eq!(
            scheduling("1 (x) R 0", "", ""),
            ("unknown".to_owned(), false)
        );
    }
}
