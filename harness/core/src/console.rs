//! Reading the kernel log for trouble: panics, oopses, BUGs, WARNs.

/// The kind of trouble a console line announces, if it announces any.
pub fn trouble(line: &str) -> Option<&'static str> {
    // Order matters: "BUG: kernel NULL pointer dereference" is a bug line
    // that an oops follows; each line gets the first kind that matches.
    const MARKERS: &[(&str, &str)] = &[
        ("Kernel panic - not syncing", "panic"),
        ("Oops:", "oops"),
        ("general protection fault", "oops"),
        ("kernel BUG at", "bug"),
        ("BUG:", "bug"),
        ("Unable to handle kernel", "oops"),
        ("WARNING:", "warning"),
        ("INFO: task", "hang"),
        ("rcu: INFO:", "hang"),
    ];
    // show_unhandled_signals reports a user process's fault the same way
    // ("traps: prog[42] general protection fault ip:..."): a scenario's
    // crashing subject, not a kernel oops, which carries "[#N]".
    if line.contains(" traps: ") && !line.contains("[#") {
        return None;
    }
    MARKERS
        .iter()
        .find(|(m, _)| line.contains(m))
        .map(|(_, kind)| *kind)
}

/// The first trouble line at or after byte `from` of `log`, with up to
/// 40 lines from there (a splat ends at `---[ end trace`).
pub fn excerpt_from(log: &str, from: usize) -> Option<(&'static str, String, String)> {
    excerpt_of(log, from, &|_| true)
}

/// What ended a boot, from byte `from` of `log` on: the first panic,
/// oops or BUG, else the first hung-task or RCU stall report. Warnings
/// end no boot: one before the crash is not taken for it (the instance
/// that warned reports it when it finishes, from the kernel log).
pub fn crash_excerpt_from(log: &str, from: usize) -> Option<(&'static str, String, String)> {
    excerpt_of(log, from, &|k| matches!(k, "panic" | "oops" | "bug"))
        .or_else(|| excerpt_of(log, from, &|k| k == "hang"))
}

/// The first line from byte `from` on whose kind of trouble is `wanted`,
/// and the excerpt that starts there.
fn excerpt_of(
    log: &str,
    from: usize,
    wanted: &dyn Fn(&str) -> bool,
) -> Option<(&'static str, String, String)> {
    let from = floor_char_boundary(log, from.min(log.len()));
    let rest = &log[from..];
    let mut it = rest.lines().skip_while(|l| !trouble(l).is_some_and(wanted));
    let first = it.next()?;
    let kind = trouble(first)?;
    let mut excerpt = vec![first];
    for l in it.take(40) {
        excerpt.push(l);
        if l.contains("---[ end trace") || l.contains("---[ end Kernel panic") {
            break;
        }
    }
    Some((kind, clean(first), excerpt.join("\n")))
}

/// The last `n` lines of a log.
pub fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A console line without its printk timestamp.
fn clean(line: &str) -> String {
    let l = line.trim();
    match (l.starts_with('['), l.find(']')) {
        (true, Some(end)) => l[end + 1..].trim().to_string(),
        _ => l.to_string(),
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPLAT: &str = "\
[    3.100000] Run /init as init process
[    4.015631] ------------[ cut here ]------------
[    4.015700] WARNING: CPU: 1 PID: 77 at kernel/seccomp.c:612 seccomp_sync_threads+0x9a/0x140
[    4.015800] Modules linked in:
[    4.016000] ---[ end trace 0000000000000000 ]---
[    4.100000] random: crng init done
";

    #[test]
    fn a_warning_splat_is_found_with_its_lines() {
        let (kind, summary, excerpt) = excerpt_from(SPLAT, 0).unwrap();
        assert_eq!(kind, "warning");
        assert_eq!(
            summary,
            "WARNING: CPU: 1 PID: 77 at kernel/seccomp.c:612 seccomp_sync_threads+0x9a/0x140"
        );
        assert_eq!(excerpt.lines().count(), 3);
        assert!(!excerpt.contains("crng"));
    }

    #[test]
    fn trouble_before_the_offset_is_not_reported() {
        let after = SPLAT.find("random:").unwrap();
        assert_eq!(excerpt_from(SPLAT, after), None);
    }

    #[test]
    fn what_ended_a_boot_is_the_crash_not_an_earlier_warning() {
        let log = format!(
            "{SPLAT}[    5.000000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n\
             [    5.000100] ---[ end Kernel panic - not syncing: Attempted to kill init! ]---\n"
        );
        let (kind, summary, excerpt) = crash_excerpt_from(&log, 0).unwrap();
        assert_eq!(kind, "panic");
        assert!(summary.starts_with("Kernel panic - not syncing: Attempted to kill init!"));
        assert_eq!(excerpt.lines().count(), 2);
        // A hung-task report ahead of a warning-only log still counts;
        // warnings alone are no crash.
        let hung =
            format!("{SPLAT}[    9.0] INFO: task kconform:81 blocked for more than 120 seconds.\n");
        assert_eq!(crash_excerpt_from(&hung, 0).unwrap().0, "hang");
        assert_eq!(crash_excerpt_from(SPLAT, 0), None);
    }

    #[test]
    fn each_kind_of_trouble_is_named() {
        assert_eq!(
            trouble("[ 1.0] Kernel panic - not syncing: Attempted to kill init!"),
            Some("panic")
        );
        assert_eq!(
            trouble("[ 1.0] BUG: kernel NULL pointer dereference, address: 0"),
            Some("bug")
        );
        assert_eq!(
            trouble("[ 1.0] Oops: 0002 [#1] PREEMPT SMP NOPTI"),
            Some("oops")
        );
        assert_eq!(trouble("[ 1.0] kernel BUG at mm/slub.c:123!"), Some("bug"));
        assert_eq!(trouble("[ 1.0] Run /init as init process"), None);
        assert_eq!(
            trouble("[ 1.0] general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP"),
            Some("oops")
        );
        assert_eq!(
            trouble("[ 1.0] traps: kconform-guest[81] general protection fault ip:401000 sp:7ffd error:0 in x[401000+1000]"),
            None
        );
    }
}
