//! A process's peak memory and CPU time, read from Linux's `/proc` (no extra dependency, no
//! `unsafe`).

use anyhow::Context;

/// Linux reports CPU times in `/proc/<pid>/stat` in `USER_HZ` ticks, which the kernel fixes at
/// 100 for user space on every architecture it supports.
const TICKS_PER_SECOND: f64 = 100.0;

/// What a process used so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// `VmHWM`: the most resident memory the process ever had, in MiB.
    pub peak_rss_mb: f64,
    /// User plus system CPU time, in seconds.
    pub cpu_s: f64,
}

/// Usage of this process.
pub fn own() -> anyhow::Result<Usage> {
    of("self")
}

/// Usage of process `pid` (`"self"` for this one).
pub fn of(pid: &str) -> anyhow::Result<Usage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status (Linux only)"))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat (Linux only)"))?;
    Ok(Usage {
        peak_rss_mb: peak_rss_kib(&status).context("no VmHWM in /proc status")? as f64 / 1024.0,
        cpu_s: cpu_ticks(&stat).context("unexpected /proc stat format")? as f64 / TICKS_PER_SECOND,
    })
}

/// `VmHWM:   123456 kB` → 123456.
fn peak_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `utime + stime` (fields 14 and 15). The command name (field 2) is in parentheses and may
/// contain spaces, so fields are counted after its closing parenthesis.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name, field 3 (state) is at index 0: utime (14) is at 11, stime (15) at 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_formats() {
        let status = "Name:\ttentacle\nVmPeak:\t  900 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(peak_rss_kib(status), Some(51200));
        let stat = "4242 (tokio (x) 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert!(own().is_ok_and(|u| u.peak_rss_mb > 0.0));
    }
}
