//! CPU time of this process and, optionally, of the server under test, read from `/proc`.
//!
//! Client and server share the machine in a local benchmark, so CPU seconds per record tell
//! which side the time goes to. Linux only; elsewhere the fields are null.

use std::time::Instant;

/// Kernel clock ticks per second for `/proc/*/stat` times. `USER_HZ` is 100 on every mainstream
/// Linux build; reading it with `sysconf` would need `unsafe`, which the workspace denies.
const USER_HZ: f64 = 100.0;

/// utime + stime of `pid` (all threads), in seconds.
fn process_cpu_secs(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may contain spaces; fields after its closing parenthesis are
    // fixed: state is field 3, utime field 14, stime field 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// CPU used by client and server between [`CpuMeter::start`] and [`CpuMeter::finish`].
pub struct CpuMeter {
    server_pid: Option<u32>,
    client: Option<f64>,
    server: Option<f64>,
    wall: Instant,
}

/// What a [`CpuMeter`] measured, in CPU seconds (and cores used on average).
pub struct CpuUse {
    pub client_secs: Option<f64>,
    pub server_secs: Option<f64>,
    pub wall_secs: f64,
}

impl CpuMeter {
    /// Start measuring; `server_pid` is the server's process id, if it runs on this machine.
    pub fn start(server_pid: Option<u32>) -> Self {
        CpuMeter {
            server_pid,
            client: process_cpu_secs(None),
            server: server_pid.and_then(|p| process_cpu_secs(Some(p))),
            wall: Instant::now(),
        }
    }

    /// Stop measuring.
    pub fn finish(&self) -> CpuUse {
        let delta = |before: Option<f64>, pid: Option<u32>| {
            let after = process_cpu_secs(pid)?;
            Some(after - before?)
        };
        CpuUse {
            client_secs: delta(self.client, None),
            server_secs: self.server_pid.and_then(|p| delta(self.server, Some(p))),
            wall_secs: self.wall.elapsed().as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_time_on_linux() {
        if cfg!(target_os = "linux") {
            let t = process_cpu_secs(None).expect("own /proc/self/stat");
            assert!(t >= 0.0);
        }
    }
}
