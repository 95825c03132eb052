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
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} CPUs ({}), kernel {}, {}, CPUs allowed: {}",
            self.nproc, self.cpu_model, self.kernel, self.date, self.cpus_allowed
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
