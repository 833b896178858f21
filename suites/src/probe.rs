//! Probe modes of the kconform binaries: when a scenario execs the binary
//! as a setuid copy or as the kernel's modprobe helper, it reports what
//! it is instead of running a suite.
//!
//! Every kconform binary calls [`dispatch_if_probe`] first thing in
//! `main`, so `ctx.probe_exe` (the guest itself, /init under QEMU) can
//! stand in for any program a scenario needs the kernel to exec:
//!
//! - `PROG __probe ids`: print `euid=E ruid=R` and exit 0 (what a setuid
//!   copy really ran as).
//! - `PROG __probe park`: the same line, then wait until stdin reaches EOF
//!   (a setuid process that stays alive to be attached to).
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
        return;
    }
    match args.next().as_deref().map(OsStr::as_bytes) {
        Some(b"ids") => {
            print_ids();
            std::process::exit(0);
        }
        Some(b"park") => {
            print_ids();
            let mut b = [0u8; 64];
            // SAFETY: read(2) into a stack buffer, until EOF or an error.
            while unsafe { libc::read(0, b.as_mut_ptr().cast(), b.len()) } > 0 {}
            std::process::exit(0);
        }
        _ => {
            eprintln!("kconform probe: unknown mode (takes `__probe ids` or `__probe park`)");
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
