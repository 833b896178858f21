//! What /proc says about tasks.

use nix::unistd::Pid;

/// A field of /proc/<pid>/task/<tid>/status, e.g. `Seccomp_filters`.
pub fn task_status(pid: Pid, tid: Pid, field: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).ok()?;
    status_field(&text, field)
}

/// A field of /proc/<pid>/status.
pub fn status(pid: Pid, field: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field(&text, field)
}

fn status_field(text: &str, field: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(field)?
            .strip_prefix(':')
            .map(|v| v.trim().to_string())
    })
}

/// PF_KTHREAD in /proc/<pid>/stat's flags field.
const PF_KTHREAD: u64 = 0x0020_0000;

/// Every kernel thread visible in /proc (kthreadd and its children).
pub fn kernel_threads() -> Vec<Pid> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out: Vec<Pid> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .map(Pid::from_raw)
        .filter(|&pid| is_kthread(pid))
        .collect();
    out.sort();
    out
}

/// The fields of /proc/<pid>/stat after the command name, from the
/// state (field 3) on; None once the task is gone. The comm field may
/// hold spaces, so the fields resume after its last ')'.
pub fn stat_fields(pid: Pid) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// Until /proc shows `pid` in `state` (e.g. `S`, asleep), at most
/// `within`; false if it never did (or is gone).
pub fn wait_for_state(pid: Pid, state: &str, within: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        match stat_fields(pid) {
            Some(f) if f.first().is_some_and(|s| s == state) => return true,
            None => return false,
            Some(_) if std::time::Instant::now() >= deadline => return false,
            Some(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
        }
    }
}

/// Whether `pid` is a kernel thread: PF_KTHREAD in /proc/<pid>/stat's
/// flags (false once it is gone).
pub fn is_kthread(pid: Pid) -> bool {
    // state(3) ppid(4) pgrp(5) session(6) tty(7) tpgid(8) flags(9)
    stat_fields(pid)
        .and_then(|f| f.get(6)?.parse::<u64>().ok())
        .is_some_and(|flags| flags & PF_KTHREAD != 0)
}

/// The thread ids of the calling process.
pub fn own_tids() -> Vec<Pid> {
    let mut tids: Vec<Pid> = std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok().map(Pid::from_raw))
                .collect()
        })
        .unwrap_or_default();
    tids.sort();
    tids
}

pub fn gettid() -> Pid {
    nix::unistd::gettid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_fields() {
        let text = "Name:\tx\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t3\n";
        assert_eq!(status_field(text, "Seccomp").as_deref(), Some("2"));
        assert_eq!(status_field(text, "Seccomp_filters").as_deref(), Some("3"));
        assert_eq!(status_field(text, "NoNewPrivs").as_deref(), Some("1"));
        assert_eq!(status_field(text, "Missing"), None);
    }

    #[test]
    fn finds_kernel_threads_but_not_us() {
        let k = kernel_threads();
        assert!(!k.contains(&nix::unistd::getpid()));
        // kthreadd is pid 2 in the initial pid namespace.
        if !k.is_empty() {
            assert!(k.contains(&Pid::from_raw(2)), "{k:?}");
        }
    }
}
