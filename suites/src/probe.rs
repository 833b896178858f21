//! Probe modes of the kconform binaries: when a scenario execs the binary
//! as a setuid copy or as the kernel's modprobe helper, it reports what
//! it is instead of running a suite.
//!
//! Every kconform binary calls [`dispatch_if_probe`] first thing in
//! `main`, so `ctx.probe_exe` can stand in for any program a scenario
//! needs the kernel to exec. That is the `kconform` binary itself on a
//! native run, and `kconform-probe` under QEMU: a binary that does
//! nothing else, so that its exec and the first exec of each copy cost
//! little under TCG (/init where the initramfs has no probe). The modes:
//!
//! - `PROG __probe ids`: print `euid=E ruid=R` and exit 0 (what a setuid
//!   copy really ran as).
//! - `PROG __probe park`: the same line, then wait until stdin reaches EOF
//!   (a setuid process that stays alive to be attached to).
//! - `PROG __probe state`: print [`state_line`] (ids, no_new_privs, seccomp
//!   mode and filter count, dumpable, AT_SECURE, and what two marker
//!   syscalls returned) and exit 0: what an exec'd program inherited.
//! - `PROG __probe state-park`: the same line, then wait for stdin's EOF.
//! - run as `.../kconform-modprobe-probe ...` (a symlink that
//!   /proc/sys/kernel/modprobe points at; the kernel runs it as
//!   `<modprobe path> -q -- net-pf-N`): leave a marker file `helper-<pid>`
//!   next to the symlink, stay alive ~20 ms so racing tracers have a live
//!   helper to aim at, and exit 1 ("no such module").
//!
//! It runs before anything else and does little: a probe must answer
//! quickly (the kernel waits for the helper; the scenario waits for the
//! setuid copy) and, as a setuid or kernel-started process, should touch
//! as little of the runtime as it can. Output goes out with one write(2).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// argv[0]'s basename when the kernel runs the binary as the modprobe helper.
pub const MODPROBE_PROBE_NAME: &str = "kconform-modprobe-probe";

/// Call first thing in `main`: returns only when not invoked as a probe.
pub fn dispatch_if_probe() {
    let mut args = std::env::args_os();
    let Some(argv0) = args.next() else { return };
    if Path::new(&argv0).file_name() == Some(OsStr::new(MODPROBE_PROBE_NAME)) {
        modprobe_helper(Path::new(&argv0));
    }
    if args.next().as_deref() != Some(OsStr::new("__probe")) {
        // A setuid copy (what scenarios make of this binary) runs the
        // probe modes and nothing else: anyone may exec it while it
        // exists, and the rest of the program is no setuid program.
        // SAFETY: get*id cannot fail.
        let setid =
            unsafe { libc::geteuid() != libc::getuid() || libc::getegid() != libc::getgid() };
        if setid {
            eprintln!(
                "kconform: refusing to run set-user-ID or set-group-ID; only `__probe` modes may"
            );
            std::process::exit(2);
        }
        return;
    }
    match args.next().as_deref().map(OsStr::as_bytes) {
        Some(b"ids") => {
            print_ids();
            std::process::exit(0);
        }
        Some(b"park") => {
            print_ids();
            park();
        }
        Some(b"state") => {
            write_line(&state_line());
            std::process::exit(0);
        }
        Some(b"state-park") => {
            write_line(&state_line());
            park();
        }
        _ => {
            eprintln!(
                "kconform probe: unknown mode (takes `__probe ids`, `park`, `state` or `state-park`)"
            );
            std::process::exit(2);
        }
    }
}

/// `euid=E ruid=R\n` on stdout, in one write.
fn print_ids() {
    // SAFETY: getuid/geteuid cannot fail.
    let (euid, ruid) = unsafe { (libc::geteuid(), libc::getuid()) };
    let line = format!("euid={euid} ruid={ruid}\n");
    // SAFETY: write(2) from a live buffer.
    unsafe { libc::write(1, line.as_ptr().cast(), line.len()) };
}

/// Wait until stdin reaches EOF (or fails), then exit 0.
fn park() -> ! {
    let mut b = [0u8; 64];
    // SAFETY: read(2) into a stack buffer, until EOF or an error.
    while unsafe { libc::read(0, b.as_mut_ptr().cast(), b.len()) } > 0 {}
    std::process::exit(0)
}

fn write_line(line: &str) {
    let line = format!("{line}\n");
    // SAFETY: write(2) from a live buffer.
    unsafe { libc::write(1, line.as_ptr().cast(), line.len()) };
}

/// The syscalls scenarios deny in the filters they hand down, to see
/// from inside a task which filters act on it: getppid() and getsid(0),
/// which neither Rust's runtime nor libc make on their own.
pub const MARKER_SYSCALLS: [(&str, i64); 2] =
    [("getppid", libc::SYS_getppid), ("getsid", libc::SYS_getsid)];

/// What the calling thread runs with, as `key=value` words:
/// `euid=E ruid=R nnp=N seccomp=M filters=F dumpable=D secure=S
/// getppid=ok|ERRNO getsid=ok|ERRNO`. `filters` is `?` where
/// /proc/thread-self/status has no Seccomp_filters (before 5.9, or no
/// /proc); `secure` is AT_SECURE of the program's last exec.
pub fn state_line() -> String {
    let prctl = |op: libc::c_int| {
        // SAFETY: prctl GET operations with integer arguments.
        unsafe { libc::prctl(op, 0, 0, 0, 0) }
    };
    // SAFETY: getuid/geteuid cannot fail; getauxval only reads.
    let (euid, ruid, secure) = unsafe {
        (
            libc::geteuid(),
            libc::getuid(),
            libc::getauxval(libc::AT_SECURE),
        )
    };
    let filters = std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| Some(l.strip_prefix("Seccomp_filters:")?.trim().to_string()))
        })
        .unwrap_or_else(|| "?".into());
    let mut line = format!(
        "euid={euid} ruid={ruid} nnp={} seccomp={} filters={filters} dumpable={} secure={secure}",
        prctl(libc::PR_GET_NO_NEW_PRIVS),
        prctl(libc::PR_GET_SECCOMP),
        prctl(libc::PR_GET_DUMPABLE),
    );
    for (name, nr) in MARKER_SYSCALLS {
        let rc = crate::kit::seccomp::raw_syscall(nr, 0);
        let what = if rc < 0 {
            format!("{:?}", nix::errno::Errno::from_raw(-rc as i32))
        } else {
            "ok".to_string()
        };
        line += &format!(" {name}={what}");
    }
    line
}

/// The words of a [`state_line`] named by `keys`, in that order:
/// `pick("euid=0 nnp=1 seccomp=2", &["nnp", "euid"])` is `nnp=1 euid=0`.
/// A key the line lacks shows as `key=missing`.
pub fn pick(line: &str, keys: &[&str]) -> String {
    keys.iter()
        .map(|k| {
            let v = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix(k)?.strip_prefix('='))
                .unwrap_or("missing");
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The usermode-helper probe: mark that the kernel ran us, linger, fail.
fn modprobe_helper(argv0: &Path) -> ! {
    let dir = match argv0.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let marker = dir.join(format!("helper-{}", std::process::id()));
    let _ = std::fs::File::create(marker);
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_words_in_order() {
        let line = "euid=0 ruid=65534 nnp=1 seccomp=2 getppid=EUCLEAN";
        assert_eq!(pick(line, &["nnp", "euid"]), "nnp=1 euid=0");
        assert_eq!(pick(line, &["secure"]), "secure=missing");
        // `seccomp` must not match a prefix of another key.
        assert_eq!(pick("seccompx=1 seccomp=2", &["seccomp"]), "seccomp=2");
    }

    #[test]
    fn state_line_of_an_unfiltered_task() {
        let line = state_line();
        assert_eq!(pick(&line, &["getppid", "getsid"]), "getppid=ok getsid=ok");
    }
}
