//! CPU and resident memory of a process, sampled from `/proc` (Linux) once a second.

use std::time::{Duration, Instant};

use tokio::sync::watch;

/// How often a process is sampled.
const EVERY: Duration = Duration::from_secs(1);

/// One sample: CPU over the second before it and RSS at it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Seconds since the start of the ramp.
    pub at: f64,
    /// User plus system CPU time over the interval, in percent of one core (200 = two cores).
    pub cpu_percent: f64,
    /// Resident set size, in KiB (`VmRSS`).
    pub rss_kib: u64,
}

/// Samples `/proc/<process>/…` (`process` is a pid or `self`) every second until `stop`
/// turns true. Empty when the process cannot be read (not Linux, gone, not ours to read).
pub async fn sample(
    process: String,
    start: Instant,
    mut stop: watch::Receiver<bool>,
) -> Vec<Sample> {
    // SAFETY: sysconf only reads a configuration value.
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut samples = Vec::new();
    let Some(mut last_ticks) = cpu_ticks(&process) else {
        return samples;
    };
    let mut last_at = Instant::now();
    let mut interval = tokio::time::interval(EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => break,
        }
        let (Some(ticks), Some(rss_kib)) = (cpu_ticks(&process), rss_kib(&process)) else {
            break;
        };
        let now = Instant::now();
        let seconds = now.duration_since(last_at).as_secs_f64();
        if seconds > 0.0 {
            samples.push(Sample {
                at: now.saturating_duration_since(start).as_secs_f64(),
                cpu_percent: (ticks.saturating_sub(last_ticks)) as f64 / ticks_per_sec / seconds
                    * 100.0,
                rss_kib,
            });
        }
        last_ticks = ticks;
        last_at = now;
    }
    samples
}

/// Busy time of every core over one interval (from `/proc/stat`): with other builds on the
/// machine, a server core near 100% busy while the server itself uses less means the server
/// was waiting for the CPU.
#[derive(Debug, Clone)]
pub struct CoresSample {
    /// Seconds since the start of the ramp.
    pub at: f64,
    /// Busy percent of each core (`cpu0`, `cpu1`, …), everything but idle and iowait.
    pub busy_percent: Vec<f64>,
}

/// Samples `/proc/stat` every second until `stop` turns true.
pub async fn sample_cores(start: Instant, mut stop: watch::Receiver<bool>) -> Vec<CoresSample> {
    let mut samples = Vec::new();
    let Some(mut last) = core_times() else {
        return samples;
    };
    let mut interval = tokio::time::interval(EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => break,
        }
        let Some(now) = core_times() else { break };
        let busy_percent = now
            .iter()
            .zip(&last)
            .map(|(&(busy, total), &(last_busy, last_total))| {
                let total = total.saturating_sub(last_total);
                if total == 0 {
                    0.0
                } else {
                    busy.saturating_sub(last_busy) as f64 / total as f64 * 100.0
                }
            })
            .collect();
        samples.push(CoresSample {
            at: Instant::now()
                .saturating_duration_since(start)
                .as_secs_f64(),
            busy_percent,
        });
        last = now;
    }
    samples
}

/// `(busy, total)` jiffies of each core.
fn core_times() -> Option<Vec<(u64, u64)>> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    Some(parse_core_times(&stat))
}

fn parse_core_times(stat: &str) -> Vec<(u64, u64)> {
    stat.lines()
        .filter(|line| {
            line.strip_prefix("cpu")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .map(|line| {
            let values: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse().ok())
                .collect();
            let total: u64 = values.iter().take(8).sum();
            // idle and iowait are the 4th and 5th values.
            let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
            (total.saturating_sub(idle), total)
        })
        .collect()
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`), as printed there.
pub fn load_average() -> Option<String> {
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
    let fields: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    Some(fields.join(" "))
}

/// utime + stime of the process, in clock ticks (fields 14 and 15 of `/proc/PID/stat`).
fn cpu_ticks(process: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).ok()?;
    parse_cpu_ticks(&stat)
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` of `/proc/PID/status`, in KiB.
fn rss_kib(process: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    parse_rss_kib(&status)
}

fn parse_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_utime_plus_stime_even_with_spaces_in_the_name() {
        let stat = "1234 (idle local) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 70 0 0 20 0 9 0";
        assert_eq!(parse_cpu_ticks(stat), Some(320));
    }

    #[test]
    fn rss_is_read_in_kib() {
        let status = "Name:\tidle-local\nVmPeak:\t  9000 kB\nVmRSS:\t   5120 kB\n";
        assert_eq!(parse_rss_kib(status), Some(5120));
    }

    #[test]
    fn core_times_skip_the_total_line() {
        let stat = "cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0 0 0\ncpu1 1 0 1 8 2 0 0 0 0 0\nintr 1 2\n";
        assert_eq!(parse_core_times(stat), vec![(10, 50), (2, 12)]);
    }

    #[test]
    fn this_process_can_be_read() {
        assert!(cpu_ticks("self").is_some());
        assert!(rss_kib("self").unwrap() > 0);
    }
}
