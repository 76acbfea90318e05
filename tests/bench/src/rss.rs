//! Peak resident memory of the started processes (`VmHWM` in `/proc/<pid>/status`).

use std::collections::BTreeMap;

/// `VmHWM` (peak resident set) in kB from the text of `/proc/<pid>/status`.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// The peak resident set in kB of a running process.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    parse_vm_hwm(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// The highest peak seen per process name, over every phase that started it.
#[derive(Clone, Debug, Default)]
pub struct PeakRss {
    peaks: BTreeMap<String, (u64, String)>,
}

impl PeakRss {
    /// Records `kb` for `process`, seen under the load of `phase`, keeping the highest.
    pub fn record(&mut self, process: &str, kb: u64, phase: &str) {
        let entry = self
            .peaks
            .entry(process.to_owned())
            .or_insert((0, String::new()));
        if kb > entry.0 {
            *entry = (kb, phase.to_owned());
        }
    }

    /// `(process, kB, phase)` by process name.
    pub fn peaks(&self) -> impl Iterator<Item = (&str, u64, &str)> {
        self.peaks
            .iter()
            .map(|(p, (kb, phase))| (p.as_str(), *kb, phase.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_hwm_from_proc_status() {
        let status = "Name:\tx\nVmPeak:\t  123456 kB\nVmHWM:\t   23456 kB\nVmRSS:\t   20000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(23456));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
    }

    #[test]
    fn reads_this_process() {
        assert!(peak_rss_kb(std::process::id()).is_some_and(|kb| kb > 0));
    }

    #[test]
    fn keeps_the_highest_peak_per_process() {
        let mut p = PeakRss::default();
        p.record("a", 10, "one");
        p.record("a", 30, "two");
        p.record("a", 20, "three");
        p.record("b", 5, "one");
        let all: Vec<_> = p.peaks().collect();
        assert_eq!(all, vec![("a", 30, "two"), ("b", 5, "one")]);
    }
}
