//! The guest side: what the guest binary does as /init of the initramfs.
//!
//! It sets up the little a scenario needs (/proc, /sys, /dev, /tmp),
//! reads the plan, answers on the results port, and reboots, which QEMU
//! (run with -no-reboot) turns into its own exit. Scenarios run exactly as
//! they do natively, through the same executor.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::mount::{mount, MsFlags};
use nix::sys::termios;

use super::protocol::{
    catalog_hash, Event, Mode, Plan, EXEC_PATH, PLAN_PATH, PROBE_PATH, PROGS_DIR, RESULTS_TTY,
};
use super::shm;
use crate::executor::execute_all;
use crate::kernel::KernelFacts;
use crate::model::{Ctx, Instance};

/// Become the guest's init when this process is pid 1; otherwise return.
pub fn run_if_init(catalog: impl FnOnce() -> Vec<Instance>) {
    if std::process::id() != 1 {
        return;
    }
    mount_basics();
    // The kernel starts init in no session and no process group (0). A
    // group of its own gives scenario processes one to step back into
    // between instances (see crate::executor).
    let _ = nix::unistd::setsid();
    let port = Port::open();
    {
        let port = port.clone_handle();
        std::panic::set_hook(Box::new(move |info| {
            port.send(&Event::Fatal {
                message: format!("guest init panicked: {info}"),
            });
        }));
    }
    let catalog = catalog();
    serve(&port, &catalog);
    port.send(&Event::End);
    power_off();
}

fn serve(port: &Port, catalog: &[Instance]) {
    let facts = KernelFacts {
        guest: true,
        ..KernelFacts::probe()
    };
    let ids: Vec<&str> = catalog.iter().map(|i| i.id.as_str()).collect();
    port.send(&Event::Hello {
        release: facts.release.clone(),
        proc_version: std::fs::read_to_string("/proc/version")
            .unwrap_or_default()
            .trim()
            .to_string(),
        machine: facts.machine.clone(),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        taint: taint(),
        config_source: facts.config_source.clone(),
        catalog: catalog_hash(ids.iter().copied()),
    });
    let plan: Plan = match std::fs::read_to_string(PLAN_PATH)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => {
            return port.send(&Event::Fatal {
                message: format!("cannot read the plan {PLAN_PATH}: {e}"),
            })
        }
    };
    if let Some(config) = &plan.kernel_config {
        let _ = std::fs::create_dir_all("/boot")
            .and_then(|_| std::fs::write(format!("/boot/config-{}", facts.release), config));
    }
    match &plan.mode {
        Mode::BootOnly => {}
        Mode::Exec { name, args } => exec(port, name, args),
        Mode::ExecEach { timeout_ms, args } => {
            exec_each(port, args, Duration::from_millis(*timeout_ms))
        }
        Mode::Suite => run_suite(port, catalog, &facts, &plan),
    }
}

fn run_suite(port: &Port, catalog: &[Instance], facts: &KernelFacts, plan: &Plan) {
    let selftests = selftest::instances();
    let by_id: std::collections::HashMap<&str, &Instance> = catalog
        .iter()
        .chain(&selftests)
        .map(|inst| (inst.id.as_str(), inst))
        .collect();
    let mut chosen = Vec::new();
    for id in &plan.ids {
        match by_id.get(id.as_str()).copied() {
            Some(inst) => chosen.push(inst),
            None => {
                return port.send(&Event::Fatal {
                    message: format!(
                        "the plan names `{id}`, which this guest binary does not have"
                    ),
                })
            }
        }
    }
    let kmsg = Mutex::new(Kmsg::open());
    // Over ttyS1, a start line in the kernel log as well as on the port:
    // the port's bytes may still sit in the UART buffer when the instance
    // takes the kernel down, but a panic flushes the log to the console.
    // The shared memory loses nothing, and the lines cost the console's
    // synchronous printing (about 0.08 s of init's CPU per run under TCG).
    // (The kernel wants the newline: it refuses "on" without one.)
    let _ = std::fs::write("/proc/sys/kernel/printk_devkmsg", "on\n");
    let marks = if port.is_synchronous() {
        None
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/kmsg")
            .ok()
    };
    let ctx = Ctx {
        iterations: plan.iterations,
        probe_exe: probe_exe(),
        shared_dir: shared_dir(),
        fail_setup: plan.fail_setup.clone(),
    };
    for (sysctls, range) in plan.phase_ranges() {
        // The guest is thrown away after the run: it may set what its
        // instances need. A sysctl the kernel lacks is left to the
        // instance to find out (and skip, saying so).
        for (path, value) in sysctls {
            let _ = std::fs::write(format!("/proc/sys/{path}"), format!("{value}\n"));
        }
        // Needs are judged against this kernel as now set: features are
        // probed here, and a config the host could not see may be
        // readable here.
        let mut runnable = Vec::new();
        for i in range {
            match facts.unmet(&chosen[i].needs) {
                Some(why) => port.send(&Event::Done {
                    i,
                    outcome: Err(why),
                    duration_ms: 0,
                    taint: taint(),
                    kmsg: Vec::new(),
                }),
                None => runnable.push((i, chosen[i])),
            }
        }
        let instances: Vec<&Instance> = runnable.iter().map(|(_, inst)| *inst).collect();
        execute_all(
            &instances,
            &ctx,
            plan.jobs.max(1),
            Duration::from_millis(plan.timeout_ms),
            &|k, inst| {
                port.send(&Event::Start { i: runnable[k].0 });
                if let Some(mut m) = marks.as_ref() {
                    // One write, one record; KERN_WARNING, so the console
                    // (loglevel=5) shows it. The plan index only: the
                    // console prints synchronously, a few microseconds a
                    // character under TCG, and the host adds the id to
                    // console.log.
                    let line = format!("<4>{START_MARK}{}\n", runnable[k].0);
                    let _ = m.write_all(line.as_bytes());
                }
                selftest::on_start(&inst.id);
            },
            // Also news for the host, which takes a guest silent for
            // longer than the timeout to be hung.
            &|k, _| port.send(&Event::MoreTime { i: runnable[k].0 }),
            &|k, _, exec| {
                port.send(&Event::Done {
                    i: runnable[k].0,
                    outcome: exec.outcome.clone(),
                    duration_ms: exec.duration.as_millis() as u64,
                    taint: taint(),
                    kmsg: kmsg
                        .lock()
                        .map(|mut k| k.trouble_since_last())
                        .unwrap_or_default(),
                })
            },
        );
    }
}

/// Each executable file of PROGS_DIR in turn, its output through a file
/// (a pipe could fill while the program runs), killed at the timeout.
fn exec_each(port: &Port, args: &[String], timeout: Duration) {
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    let mut names: Vec<String> = match std::fs::read_dir(PROGS_DIR) {
        Ok(d) => d
            .flatten()
            .filter(|e| {
                e.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) => {
            return port.send(&Event::Fatal {
                message: format!("cannot list {PROGS_DIR}: {e}"),
            })
        }
    };
    names.sort();
    for name in names {
        let out_path = "/tmp/.kconform-output";
        let spawned = File::create(out_path).and_then(|out| {
            Command::new(format!("{PROGS_DIR}/{name}"))
                .args(args)
                .current_dir("/tmp")
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .spawn()
        });
        let status = match spawned {
            Err(e) => {
                let _ = std::fs::write(out_path, format!("cannot run it: {e}"));
                -1
            }
            Ok(mut child) => {
                let deadline = Instant::now() + timeout;
                loop {
                    match child.try_wait() {
                        Ok(Some(s)) => break s.code().unwrap_or(-1),
                        Ok(None) if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(2))
                        }
                        _ => {
                            let _ = child.kill();
                            let _ = child.wait();
                            break -1;
                        }
                    }
                }
            }
        };
        let output = std::fs::read(out_path).unwrap_or_default();
        port.send(&Event::Ran {
            name,
            status,
            output: String::from_utf8_lossy(&output).into_owned(),
        });
    }
}

fn exec(port: &Port, name: &str, args: &[String]) {
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    let status = std::process::Command::new(EXEC_PATH)
        .arg0(name)
        .args(args)
        .current_dir("/tmp")
        .status();
    match status {
        Ok(s) => port.send(&Event::Exited {
            status: s.code().unwrap_or(-1),
            duration_ms: start.elapsed().as_millis() as u64,
        }),
        Err(e) => port.send(&Event::Fatal {
            message: format!("cannot run {EXEC_PATH}: {e}"),
        }),
    }
}

/// How a start line in the kernel log begins: `kconform: start I`, the
/// instance's index in the plan.
pub const START_MARK: &str = "kconform: start ";

/// The kernel's log ring buffer, read as it grows.
struct Kmsg(Option<File>);

impl Kmsg {
    fn open() -> Kmsg {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .ok();
        if let Some(f) = &file {
            // Only what is logged from now on: boot messages are not news.
            let _ = nix::unistd::lseek(f.as_fd(), 0, nix::unistd::Whence::SeekEnd);
        }
        Kmsg(file)
    }

    /// New log lines, if any of them announces trouble (else none).
    fn trouble_since_last(&mut self) -> Vec<String> {
        let Some(f) = self.0.as_mut() else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            // One record per read; EAGAIN when there are no more, EPIPE
            // when older records were overwritten (read on).
            match std::io::Read::read(f, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let rec = String::from_utf8_lossy(&buf[..n]);
                    if let Some((_, text)) = rec.split_once(';') {
                        lines.push(text.lines().next().unwrap_or("").to_string());
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        if lines.iter().any(|l| crate::console::trouble(l).is_some()) {
            lines.truncate(80);
            lines
        } else {
            Vec::new()
        }
    }
}

fn mount_basics() {
    // Errors are left to surface later: a scenario that needs /proc says so
    // itself, and the host sees whatever the guest manages to report.
    let none: Option<&str> = None;
    for (src, dir, fstype) in [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
        ("tmpfs", "/tmp", "tmpfs"),
    ] {
        let _ = std::fs::create_dir_all(dir);
        let _ = mount(Some(src), dir, Some(fstype), MsFlags::empty(), none);
    }
    // Scenarios that drop to an unprivileged uid write scratch files here.
    let _ = std::fs::set_permissions("/tmp", std::os::unix::fs::PermissionsExt::from_mode(0o1777));
}

/// The run's [`Ctx::probe_exe`]: the small probe where the initramfs
/// has one, else this binary (whose `main` dispatches probe modes too).
/// Under TCG the first exec of each fresh copy of a program translates
/// the code it runs again, and scenarios copy the probe for each mode
/// they need: a copy of the guest cost 8-26 ms to make, 27-28 ms to exec
/// the first time and 3.6 ms each later time; the probe 2.5 ms, 9-15 ms
/// and 2.2-2.5 ms (it skips Rust's runtime start, too).
fn probe_exe() -> std::path::PathBuf {
    let probe = std::path::Path::new(PROBE_PATH);
    if probe.is_file() {
        return probe.to_path_buf();
    }
    std::env::current_exe().unwrap_or_else(|_| "/init".into())
}

/// The run's [`Ctx::shared_dir`]: /tmp is the guest's own tmpfs, mounted
/// without nosuid or noexec, and gone at power-off.
fn shared_dir() -> Option<std::path::PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::path::PathBuf::from("/tmp/kconform-shared");
    // Instances drop to other uids: they must be able to reach what root
    // leaves here, never to change it.
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(&dir)
        .ok()
        .map(|()| dir)
}

/// /proc/sys/kernel/tainted, read after every instance.
fn taint() -> u64 {
    use std::os::unix::fs::FileExt;
    use std::sync::OnceLock;
    // Opened once and read at offset 0, rather than a path walk through
    // /proc after every one of hundreds of instances.
    static FILE: OnceLock<Option<File>> = OnceLock::new();
    let Some(file) = FILE
        .get_or_init(|| File::open("/proc/sys/kernel/tainted").ok())
        .as_ref()
    else {
        return 0;
    };
    let mut buf = [0u8; 32];
    let n = file.read_at(&mut buf, 0).unwrap_or(0);
    std::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

fn power_off() -> ! {
    nix::unistd::sync();
    // QEMU runs with -no-reboot, so a reboot ends it: this needs neither
    // ACPI nor any other power-off driver in the kernel.
    let _ = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_AUTOBOOT);
    // pid 1 must not exit (the kernel would panic); wait to be torn down.
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The results port: one JSON event per line, written whole under a lock.
struct Port(std::sync::Arc<Mutex<Sink>>);

enum Sink {
    /// The shared-memory channel (see [`super::shm`]).
    Shm(shm::Writer),
    /// ttyS1: where the kernel offers no ivshmem device, or the shared
    /// memory is full.
    Tty(File),
    None,
}

impl Sink {
    fn tty() -> Sink {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            // The port must not become init's controlling terminal: a
            // hangup on it would then signal the whole guest.
            .custom_flags(libc::O_NOCTTY)
            .open(RESULTS_TTY);
        match file {
            Ok(f) => {
                // Raw: no \n -> \r\n, no echo, no line discipline games.
                if let Ok(mut t) = termios::tcgetattr(f.as_fd()) {
                    termios::cfmakeraw(&mut t);
                    let _ = termios::tcsetattr(f.as_fd(), termios::SetArg::TCSANOW, &t);
                }
                Sink::Tty(f)
            }
            Err(_) => Sink::None,
        }
    }
}

impl Port {
    fn open() -> Port {
        let sink = map_shm().map_or_else(Sink::tty, Sink::Shm);
        Port(std::sync::Arc::new(Mutex::new(sink)))
    }

    fn clone_handle(&self) -> Port {
        Port(self.0.clone())
    }

    /// Whether what is sent is with the host the moment `send` returns,
    /// whatever the kernel does next (not so for bytes queued for a UART).
    fn is_synchronous(&self) -> bool {
        matches!(*self.lock(), Sink::Shm(_))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sink> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn send(&self, event: &Event) {
        let mut line = serde_json::to_string(event)
            .unwrap_or_else(|e| format!(r#"{{"ev":"fatal","message":"unencodable event: {e}"}}"#));
        line.push('\n');
        let mut sink = self.lock();
        if let Sink::Shm(w) = &mut *sink {
            if w.append(line.as_bytes()) {
                return;
            }
            w.mark_moved();
            *sink = Sink::tty();
        }
        match &mut *sink {
            Sink::Tty(f) => {
                let _ = f.write_all(line.as_bytes());
            }
            // Without a results port the host learns nothing; the console
            // still carries the line, so a broken guest is at least
            // diagnosable.
            _ => eprint!("{line}"),
        }
    }
}

/// The host's ivshmem device, mapped through sysfs, if this kernel offers it.
fn map_shm() -> Option<shm::Writer> {
    use nix::sys::mman::{madvise, munmap, MmapAdvise};
    let dev = std::fs::read_dir("/sys/bus/pci/devices")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|d| {
            let id = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
            id("vendor").trim() == shm::PCI_VENDOR && id("device").trim() == shm::PCI_DEVICE
        })?;
    // No driver claims the device: enabling it turns on its memory decoding.
    let _ = std::fs::write(dev.join("enable"), "1");
    let bar = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev.join("resource2"))
        .ok()?;
    let size = usize::try_from(bar.metadata().ok()?.len()).ok()?;
    let base = shm::map(&bar, size).ok()?;
    // Not into the instances' processes: the kernel would copy the whole
    // mapping's page table entries (and their memory type) into each of
    // them, which doubled init's fork time under TCG; and no instance
    // may write to the channel. A kernel without madvise(2) (tinyconfig
    // drops it) gets the answers over ttyS1 instead.
    // SAFETY: advice on the mapping just made.
    let advised = unsafe { madvise(base.cast(), size, MmapAdvise::MADV_DONTFORK) }.is_ok();
    // SAFETY: once it is the channel, init keeps the mapping until the
    // guest powers off, and is its only writer.
    let writer = advised
        .then(|| unsafe { shm::Writer::new(base, size) })
        .flatten();
    if writer.is_none() {
        // SAFETY: nothing uses the mapping.
        let _ = unsafe { munmap(base.cast(), size) };
    }
    writer
}

/// Faults on demand, so the host's crash handling is tested against real
/// kernels: the plan may name these ids, which no scenario has.
pub mod selftest {
    use std::io::Write;
    use std::time::Duration;

    use crate::model::{Area, Instance, Needs, Observation};

    pub const PREFIX: &str = "kconform-selftest/";
    pub const OK: &str = "kconform-selftest/ok";
    /// A kernel warning as the console shows one, plus the W taint.
    pub const WARN: &str = "kconform-selftest/warn";
    /// init exits: the kernel panics ("Attempted to kill init").
    pub const PANIC: &str = "kconform-selftest/panic";
    /// init stops answering.
    pub const HANG: &str = "kconform-selftest/hang";

    pub fn instances() -> Vec<Instance> {
        let plain = |id: &str, text: &'static str| {
            Instance::from_fn(id, Area::HARNESS, Needs::root(), move |_| {
                Ok(Observation::new(text))
            })
        };
        vec![
            plain(OK, "ok"),
            Instance::from_fn(WARN, Area::HARNESS, Needs::root(), |_| {
                let mut kmsg = std::fs::OpenOptions::new().write(true).open("/dev/kmsg")?;
                // <4> is KERN_WARNING, the level WARN() prints at.
                kmsg.write_all(
                    b"<4>WARNING: CPU: 0 PID: 1 at kconform-selftest: simulated warning\n",
                )?;
                std::fs::write("/proc/sys/kernel/tainted", "512")?;
                Ok(Observation::new("warned"))
            }),
            plain(PANIC, "unreachable"),
            plain(HANG, "unreachable"),
        ]
    }

    /// Runs in init itself, where a fault takes the whole kernel down.
    pub fn on_start(id: &str) {
        if id == PANIC {
            std::process::exit(1);
        }
        if id == HANG {
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    }
}
