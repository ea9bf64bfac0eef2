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
    fn this_process_can_be_read() {
        assert!(cpu_ticks("self").is_some());
        assert!(rss_kib("self").unwrap() > 0);
    }
}
