//! ptrace_attach versus kernel threads, kernel-spawned helpers and
//! privileged targets (BRIEF.md item 3).
//!
//! The kernel's rules, from kernel/ptrace.c: ptrace_attach() refuses a
//! PF_KTHREAD task outright (EPERM, before any credential check, so root
//! is refused too); otherwise __ptrace_may_access() lets a tracer in only
//! if its real uid and gid equal the target's real, effective and saved
//! ids (or it has CAP_SYS_PTRACE over the target), and then only if the
//! target's mm is dumpable (SUID_DUMP_USER) or the tracer has
//! CAP_SYS_PTRACE. commit_creds() resets dumpability to fs.suid_dumpable
//! whenever euid, egid, fsuid or fsgid change, and a setuid exec under an
//! unprivileged tracer runs with the tracer-safe (unchanged) credentials.
//!
//! Unprivileged tracers run as [`NOBODY`] in a subject of their own; the
//! targets they aim at allow any tracer under Yama (PR_SET_PTRACER_ANY),
//! so a Yama ptrace_scope of 1 cannot turn a refusal the core code must
//! make into one Yama made.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::ops::RangeInclusive;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{pipe2, setgroups, setresgid, setresuid, Gid, Pid, Uid};

use kconform_core::{
    setup, Area, Ctx, Feature, Instance, Needs, Observation, Outcome, Param, Scenario, Stop,
};

use crate::kit::access::{
    self, ProbeCopy, SUID_DUMPABLE, SUID_DUMPABLE_RESETS, YAMA_ADMITS_ANY, YAMA_ADMITS_ROOT,
    YAMA_ADMITS_UNPRIVILEGED, YAMA_SCOPE,
};
use crate::kit::creds::{self, NOBODY, OTHER};
use crate::kit::procfs;
use crate::kit::task;
use crate::kit::trace::{errno_name, result_name};
use crate::probe::MODPROBE_PROBE_NAME;

pub const AREA: Area = Area {
    name: "ptrace-attach",
    summary: "ptrace_attach refuses kernel threads, usermode helpers and privileged targets",
};

pub fn instances() -> Vec<Instance> {
    let mut all = Vec::new();
    all.extend(KTHREADS.expand(By::all()));
    all.extend(
        USERMODE_HELPER
            .expand(Req::BOTH)
            .into_iter()
            .map(Instance::long),
    );
    all.extend(NON_DUMPABLE.expand(By::all()));
    all.extend(DUMPABLE_SAME_UID.expand(Req::BOTH));
    all.extend(CRED_CHANGED_UID.expand(Req::BOTH));
    all.extend(CRED_CHANGED_GID.expand(Req::BOTH));
    all.extend(OTHER_UID.expand(Req::BOTH));
    all.extend(TRACEME_SETUID_EXEC.expand([()]));
    all.extend(SETUID_EXEC_RUNNING.expand(Req::BOTH));
    all.extend(SUSPEND_SECCOMP.expand(Suspend::ALL));
    all
}

// ---------------------------------------------------------------------------
// Kernel threads

/// No task attaches to a kernel thread, root included: ptrace_attach()
/// refuses PF_KTHREAD with EPERM before it looks at credentials.
/// Every kernel thread in /proc is tried; one that exits meanwhile
/// (ESRCH and gone) is left out.
const KTHREADS: Scenario<By> = Scenario {
    base: "ptrace-attach/kthreads",
    area: AREA,
    summary: "PTRACE_ATTACH/SEIZE on every kernel thread is refused with EPERM, for root too",
    needs: |by| match by.tracer {
        Tracer::Root => Needs::root(),
        // An unprivileged caller already is the unprivileged tracer.
        Tracer::Unprivileged => Needs::any(),
    },
    run: kthreads,
};

fn kthreads(by: &By, _: &Ctx) -> Outcome {
    let kthreads = procfs::kernel_threads();
    if kthreads.is_empty() {
        return Err(Stop::forbidden(
            "no kernel threads visible in /proc (needs the initial pid namespace, no hidepid)",
        ));
    }
    let req = by.req;
    let seen = by.tracer.run(|| Ok(attach_each_kthread(req, &kthreads)))?;
    Ok(seen.detail("kthreads", kthreads.len()))
}

/// Make `req` of every pid in `kthreads`: `refused=all errno=EPERM`, or
/// what else happened (an attached kernel thread is released at once).
fn attach_each_kthread(req: Req, kthreads: &[Pid]) -> Observation {
    let mut errnos = BTreeSet::new();
    let mut attached = Vec::new();
    let (mut vanished, mut reused) = (0, 0);
    for &pid in kthreads {
        match req.make(pid) {
            Err(Errno::ESRCH) if !procfs::is_kthread(pid) => vanished += 1,
            Err(e) => {
                errnos.insert(errno_name(e));
            }
            Ok(()) => {
                let still_kthread = procfs::is_kthread(pid);
                release(req, pid);
                if still_kthread {
                    attached.push(format!("{pid} {}", comm(pid)));
                } else {
                    // The kernel thread exited and a user task got its pid.
                    reused += 1;
                }
            }
        }
    }
    let errnos: Vec<String> = errnos.into_iter().collect();
    let text = if attached.is_empty() {
        format!("refused=all errno={}", errnos.join(","))
    } else {
        format!(
            "refused=some errno={} attached=[{}]",
            errnos.join(","),
            attached.join(", ")
        )
    };
    Observation::new(text)
        .detail("vanished", vanished)
        .detail("reused", reused)
}

// ---------------------------------------------------------------------------
// Usermode helpers

/// An unprivileged task never attaches to a usermode helper, even racing
/// its creation: request_module() (here from socket() of an address
/// family nobody registered) runs /proc/sys/kernel/modprobe, pointed at
/// the probe, as a root task; racer threads on several CPUs try the pids
/// about to be handed out and every pid handed out since the trigger
/// fired (from /proc/sys/kernel/ns_last_pid) while it is born, execs and
/// lingers. The helper leaves a marker per run, so a run where no helper
/// ran is skipped rather than passed.
const USERMODE_HELPER: Scenario<Req> = Scenario {
    base: "ptrace-attach/usermode-helper",
    area: AREA,
    summary: "an unprivileged tracer racing request_module() never attaches to the modprobe helper",
    needs: |_| {
        Needs::root()
            .feature(Feature::UsermodeHelper)
            .config("CONFIG_MODULES")
            .sysctl(YAMA_SCOPE, YAMA_ADMITS_ANY)
    },
    run: usermode_helper,
};

/// The uid the racers run as. Not [`NOBODY`]: other instances run
/// same-uid NOBODY subjects at the same time, and a racer spraying
/// attaches over fresh pids would (rightly) get into those. No other
/// task runs as this uid, so any attach a racer makes is a regression.
const RACER: u32 = 65532;

/// How long the trigger keeps starting helpers, at most: one millisecond
/// per iteration (0.1 s by default). On an emulated CPU a helper takes
/// ~70 ms to start and the racers keep every CPU busy meanwhile, starving
/// the instances beside this one, so there the budget ends the race (after
/// a few helpers, each raced by every racer); natively the iteration count
/// ends it first.
fn race_budget(iterations: u32) -> Duration {
    Duration::from_millis(u64::from(iterations)).min(Duration::from_secs(2))
}

fn usermode_helper(req: &Req, ctx: &Ctx) -> Outcome {
    if !Path::new(MODPROBE).exists() {
        return Err(Stop::lacks(format!(
            "no {MODPROBE}: {}",
            Feature::UsermodeHelper.describe()
        )));
    }
    let scope = access::yama_scope().unwrap_or(0);
    if scope != 0 {
        return Err(Stop::forbidden(format!(
            "Yama ptrace_scope={scope} refuses attaching to non-descendants for its own reasons; \
             run with kernel.yama.ptrace_scope=0"
        )));
    }
    let helper = ModprobeProbe::install(&ctx.probe_exe)?;
    let family = unregistered_family().ok_or_else(|| {
        Stop::lacks("every candidate address family is registered, so socket() starts no helper")
    })?;
    let (req, iterations) = (*req, ctx.iterations.max(1));
    // A race whose racers met no helper checked nothing; on a loaded host
    // the budget may start a single helper, and miss it. Race again, each
    // time twice as long.
    let mut round = 1;
    loop {
        let before = helper.runs();
        let triggers = iterations.saturating_mul(1 << (round - 1));
        let raced = as_uid(RACER, || race(req, family, racer_count(), triggers))?;
        let helpers: BTreeSet<i32> = helper.runs().difference(&before).copied().collect();
        if helpers.is_empty() {
            // Only the first race may conclude that the kernel starts no
            // helper: helpers ran in it, so a later race without one is
            // the race's failure, not the kernel's lack.
            if round == 1 {
                return Err(Stop::lacks(format!(
                    "no usermode helper ran: unprivileged socket(family {family}) never started {} \
                     (CONFIG_STATIC_USERMODEHELPER, or module autoloading disabled?)",
                    helper.link.display()
                )));
            }
            if round < RACE_ROUNDS {
                round += 1;
                continue;
            }
            return Err(Stop::error(format!(
                "the last of {RACE_ROUNDS} races started no helper, though the first did: \
                 the race checked nothing (rerun it)"
            )));
        }
        let (seen, reached) = with_helpers(raced, &helpers, family);
        match checked(seen, reached, helpers.len()) {
            Err(Stop::Error(_)) if round < RACE_ROUNDS => round += 1,
            outcome => return outcome,
        }
    }
}

/// Races run before one that met no helper is an error: with the
/// default 100 iterations, 0.1 to 1.6 s of racing.
const RACE_ROUNDS: u32 = 5;

/// What the racers saw, unless no racer met a helper at all (neither got
/// in nor was refused by one): then the race checked nothing, and says so
/// as an error rather than pass.
fn checked(seen: Observation, reached: usize, helpers: usize) -> Outcome {
    if reached == 0 && seen.text.ends_with("attached=0") {
        return Err(Stop::error(format!(
            "no racer found any of the {helpers} helpers alive in the last of {RACE_ROUNDS} \
             races: the race checked nothing (rerun it; `--iterations` starts more helpers)"
        )));
    }
    Ok(seen)
}

/// One racer per CPU but one, 1 to 4: the helper being raced needs a CPU
/// of its own (the trigger mostly waits in socket() for it), and on a
/// two-CPU guest a second racer only took CPU time from it and from the
/// instances beside this one.
fn racer_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .saturating_sub(1)
        .clamp(1, 4)
}

/// The racers' observation, prefixed with `helpers=ran`, with the helper
/// count and how many helpers a racer found alive (and was refused by)
/// in place of the raw refused pids; and that last count.
fn with_helpers(raced: Observation, helpers: &BTreeSet<i32>, family: i32) -> (Observation, usize) {
    let mut seen = Observation::new(format!("helpers=ran {}", raced.text));
    let mut refused = BTreeSet::new();
    for (k, v) in raced.details {
        if k == "refused_pids" {
            refused.extend(v.split(',').filter_map(|p| p.parse::<i32>().ok()));
        } else {
            seen = seen.detail(&k, v);
        }
    }
    let hit = helpers.intersection(&refused).count();
    let seen = seen
        .detail("helpers", helpers.len())
        .detail("helpers_refused", hit)
        .detail("family", family);
    (seen, hit)
}

/// In the racer subject: `racers` threads attach to pids about to be
/// (or just) allocated while this thread starts helpers.
fn race(req: Req, family: i32, racers: usize, iterations: u32) -> Outcome {
    let last_pid = LastPid::open()?;
    let done = AtomicBool::new(false);
    // The trigger under way, so a racer that gets in can say which one.
    let fired = AtomicU64::new(0);
    // The last pid handed out before the trigger under way fired: the
    // helper it starts gets a later one.
    let since = AtomicI32::new(last_pid.read().unwrap_or(0));
    let (tallies, triggers) = std::thread::scope(|s| {
        let threads: Vec<_> = (0..racers)
            .map(|_| s.spawn(|| racer(req, &last_pid, &since, &done, &fired)))
            .collect();
        let start = Instant::now();
        let mut triggers = 0u32;
        // At least one trigger, however late this thread got a CPU: a
        // race that fired none would read as a kernel that starts no helper.
        while triggers == 0 || (triggers < iterations && start.elapsed() < race_budget(iterations))
        {
            if let Some(last) = last_pid.read() {
                since.store(last, Ordering::Relaxed);
            }
            // SAFETY: socket(2) with integer arguments; a descriptor it
            // should not have returned is closed.
            let fd = unsafe { libc::socket(family, libc::SOCK_STREAM, 0) };
            if fd >= 0 {
                unsafe { libc::close(fd) };
            }
            triggers += 1;
            fired.store(u64::from(triggers), Ordering::Relaxed);
        }
        done.store(true, Ordering::Relaxed);
        let tallies: Vec<RacerTally> = threads.into_iter().filter_map(|t| t.join().ok()).collect();
        (tallies, triggers)
    });
    let mut all = RacerTally::default();
    for t in tallies {
        all.attempts += t.attempts;
        all.won_at = match (all.won_at, t.won_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        all.refused.extend(t.refused);
        all.attached.extend(t.attached);
        for (e, n) in t.other {
            *all.other.entry(e).or_default() += n;
        }
    }
    // Tasks, not attempts: a racer may get into the same task many times.
    let text = match all.attached.len() {
        0 => "attached=0".to_string(),
        n => {
            let some: Vec<&str> = all.attached.iter().take(4).map(String::as_str).collect();
            let more = if n > 4 { ", ..." } else { "" };
            let at = all.won_at.unwrap_or_default();
            format!(
                "attached={n} [{}{more}] first at trigger {at} of {triggers}",
                some.join(", ")
            )
        }
    };
    let mut seen = Observation::new(text)
        .detail("attempts", all.attempts)
        .detail("triggers", triggers)
        .detail("racers", racers);
    for (e, n) in all.other {
        seen = seen.detail(&format!("errno_{e}"), n);
    }
    let refused: Vec<String> = all.refused.iter().map(i32::to_string).collect();
    Ok(seen.detail("refused_pids", refused.join(",")))
}

#[derive(Default)]
struct RacerTally {
    attempts: u64,
    /// The trigger (1-based) under way when a racer first got in.
    won_at: Option<u64>,
    /// Pids that existed and refused (EPERM).
    refused: BTreeSet<i32>,
    /// Errnos other than EPERM and ESRCH, counted.
    other: BTreeMap<String, u64>,
    /// `PID COMM uid=U` of every task a racer got into.
    attached: BTreeSet<String>,
}

/// How far back from the last pid handed out a racer sweeps, at most.
/// Under QEMU's TCG a helper lives ~70 ms while the instances beside it
/// take about a pid a millisecond; natively it lives a millisecond or two.
const SWEEP_BACK: i32 = 256;

/// The pids a racer tries in one pass, given the last pid handed out and
/// the last one before the trigger fired: every pid handed out since (at
/// most [`SWEEP_BACK`]), and the next few.
fn sweep(last: i32, since: i32) -> RangeInclusive<i32> {
    // A pid number that wrapped since the trigger: the pids just below.
    let oldest = if since < last { since + 1 } else { last - 1 };
    oldest.max(last - SWEEP_BACK).max(2)..=last + 6
}

/// One racer: read the last pid handed out, then try, newest first, the
/// next few pids and every pid handed out since the trigger fired. The
/// helper is among those from its birth to its exit, however many other
/// tasks the instances running beside this one start meanwhile; trying
/// only the pids around the last one lost it as soon as a few were born
/// after it.
fn racer(
    req: Req,
    last_pid: &LastPid,
    since: &AtomicI32,
    done: &AtomicBool,
    fired: &AtomicU64,
) -> RacerTally {
    let mut t = RacerTally::default();
    while !done.load(Ordering::Relaxed) {
        let Some(last) = last_pid.read() else { break };
        for pid in sweep(last, since.load(Ordering::Relaxed)).rev() {
            t.attempts += 1;
            match req.make(Pid::from_raw(pid)) {
                Ok(()) => {
                    t.won_at.get_or_insert(fired.load(Ordering::Relaxed) + 1);
                    t.attached.insert(task_line(pid));
                    release(req, Pid::from_raw(pid));
                }
                Err(Errno::EPERM) => {
                    t.refused.insert(pid);
                }
                Err(Errno::ESRCH) => {}
                Err(e) => *t.other.entry(errno_name(e)).or_default() += 1,
            }
        }
    }
    t
}

/// The last pid the kernel handed out in our pid namespace:
/// /proc/sys/kernel/ns_last_pid (CONFIG_CHECKPOINT_RESTORE), else the
/// last field of /proc/loadavg. Read with pread(2), no allocation.
struct LastPid {
    file: File,
    loadavg: bool,
}

impl LastPid {
    fn open() -> Result<LastPid, Stop> {
        if let Ok(file) = File::open("/proc/sys/kernel/ns_last_pid") {
            return Ok(LastPid {
                file,
                loadavg: false,
            });
        }
        let file = File::open("/proc/loadavg")
            .map_err(|e| Stop::error(format!("neither ns_last_pid nor /proc/loadavg: {e}")))?;
        Ok(LastPid {
            file,
            loadavg: true,
        })
    }

    fn read(&self) -> Option<i32> {
        let mut buf = [0u8; 128];
        let n = self.file.read_at(&mut buf, 0).ok()?;
        let text = buf[..n].trim_ascii_end();
        let field = if self.loadavg {
            let start = text.iter().rposition(|b| *b == b' ').map_or(0, |i| i + 1);
            &text[start..]
        } else {
            text
        };
        std::str::from_utf8(field).ok()?.parse().ok()
    }
}

/// An address family below AF_MAX that the kernel has not registered:
/// socket() of it calls request_module("net-pf-N") (starting the helper)
/// and then fails with EAFNOSUPPORT. Families no kernel registers come
/// first (AF_IB, AF_MPLS, AF_WANPIPE, AF_SNA, AF_ASH, AF_SECURITY,
/// AF_NETBEUI); which of the others are free differs per kernel (44 is
/// AF_XDP on Debian's), so each candidate is tried at run time.
fn unregistered_family() -> Option<i32> {
    [27, 28, 25, 22, 18, 14, 13].into_iter().find(|&family| {
        // SAFETY: socket(2) with integer arguments.
        let fd = unsafe { libc::socket(family, libc::SOCK_STREAM, 0) };
        if fd >= 0 {
            unsafe { libc::close(fd) };
            return false;
        }
        Errno::last() == Errno::EAFNOSUPPORT
    })
}

/// /proc/sys/kernel/modprobe pointed at a `kconform-modprobe-probe`
/// symlink to the probe, in a fresh directory the probe leaves its
/// markers in. Dropping it restores the old value; a watchdog outside
/// the instance's process group restores it too if the instance is
/// killed first (a timeout), so the host's module loading never stays
/// broken.
struct ModprobeProbe {
    old: String,
    dir: PathBuf,
    link: PathBuf,
    _watchdog: OwnedFd,
    /// Declared last: released only once modprobe is restored.
    _lock: OwnedFd,
}

const MODPROBE: &str = "/proc/sys/kernel/modprobe";

impl ModprobeProbe {
    fn install(probe_exe: &Path) -> Result<Self, Stop> {
        let lock = modprobe_lock()?;
        ensure_dev_null()?;
        let old = std::fs::read_to_string(MODPROBE)?
            .trim_end_matches('\n')
            .to_string();
        let target = std::fs::canonicalize(probe_exe)?;
        let dir = access::temp_dir("kconform-umh", |_| true)
            .ok_or_else(|| Stop::error("no writable directory for the helper probe"))?;
        let link = dir.join(MODPROBE_PROBE_NAME);
        std::os::unix::fs::symlink(&target, &link)?;
        let watchdog = restore_watchdog(&old, &link, &dir, &lock)?;
        let guard = ModprobeProbe {
            old,
            dir,
            link,
            _watchdog: watchdog,
            _lock: lock,
        };
        write_sysctl(MODPROBE, guard.link.as_os_str().as_bytes())?;
        Ok(guard)
    }

    /// The pids of every helper run so far.
    fn runs(&self) -> BTreeSet<i32> {
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_prefix("helper-")?
                            .parse()
                            .ok()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for ModprobeProbe {
    fn drop(&mut self) {
        restore_modprobe(&self.old, &self.link);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The helper is a Rust program the kernel starts with no open
/// descriptors; Rust's runtime then opens /dev/null as fds 0-2 and aborts
/// if it cannot, which a bare initramfs would make look like "no helper
/// ran".
fn ensure_dev_null() -> Result<(), Stop> {
    let null = Path::new("/dev/null");
    if null.exists() {
        return Ok(());
    }
    std::fs::create_dir_all("/dev")?;
    // SAFETY: mknod(2) with a NUL-terminated literal path.
    let rc = unsafe {
        libc::mknod(
            c"/dev/null".as_ptr(),
            libc::S_IFCHR | 0o666,
            libc::makedev(1, 3),
        )
    };
    Errno::result(rc).map_err(|e| Stop::error(format!("mknod /dev/null: {e}")))?;
    std::fs::set_permissions(null, std::fs::Permissions::from_mode(0o666))?;
    Ok(())
}

/// One instance at a time owns /proc/sys/kernel/modprobe (the attach and
/// seize instances may run in parallel): the owner holds an abstract
/// unix socket name, which the kernel frees when its holders die.
fn modprobe_lock() -> Result<OwnedFd, Stop> {
    use nix::sys::socket::{bind, socket, AddressFamily, SockFlag, SockType, UnixAddr};
    let name = UnixAddr::new_abstract(b"kconform-modprobe-probe")?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let fd = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        match bind(fd.as_raw_fd(), &name) {
            Ok(()) => return Ok(fd),
            Err(Errno::EADDRINUSE) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => {
                return Err(Stop::error(format!(
                    "waiting for /proc/sys/kernel/modprobe: {e}"
                )))
            }
        }
    }
}

/// Put `old` back, unless someone else has changed it since.
fn restore_modprobe(old: &str, link: &Path) {
    let now = std::fs::read_to_string(MODPROBE).unwrap_or_default();
    if now.trim_end_matches('\n').as_bytes() == link.as_os_str().as_bytes() {
        let _ = write_sysctl(MODPROBE, old.as_bytes());
    }
}

fn write_sysctl(path: &str, value: &[u8]) -> std::io::Result<()> {
    let mut v = value.to_vec();
    v.push(b'\n');
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?
        .write_all(&v)
}

/// Fork a process in a session of its own that waits for the returned
/// pipe end to close (the guard dropped, or every process of the
/// instance killed), then restores modprobe and removes `dir`.
/// It holds `lock` until then, so the next instance cannot save a
/// modprobe value that is about to be restored.
fn restore_watchdog(old: &str, link: &Path, dir: &Path, lock: &OwnedFd) -> Result<OwnedFd, Stop> {
    let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
    // SAFETY: the scenario process is single-threaded here; the child
    // only makes syscalls and _exit()s.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            let _ = nix::unistd::setsid();
            let keep = rx.as_raw_fd();
            for fd in 0..1024 {
                if fd != keep && fd != lock.as_raw_fd() {
                    // SAFETY: closing descriptors this process does not use,
                    // so it holds no pipe the executor waits on.
                    unsafe { libc::close(fd) };
                }
            }
            let mut b = [0u8; 1];
            // SAFETY: read(2) into a stack buffer; returns at EOF.
            while unsafe { libc::read(keep, b.as_mut_ptr().cast(), 1) } != 0 {
                if Errno::last() != Errno::EINTR {
                    break;
                }
            }
            restore_modprobe(old, link);
            let _ = std::fs::remove_dir_all(dir);
            // SAFETY: leave without running the scenario's destructors.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { .. } => Ok(tx),
    }
}

// ---------------------------------------------------------------------------
// Dumpability and credentials

/// A task that made itself non-dumpable (prctl(PR_SET_DUMPABLE, 0))
/// refuses a same-uid tracer without CAP_SYS_PTRACE (EPERM); root, with
/// CAP_SYS_PTRACE, attaches.
const NON_DUMPABLE: Scenario<By> = Scenario {
    base: "ptrace-attach/non-dumpable",
    area: AREA,
    summary: "a non-dumpable task refuses a same-uid tracer; CAP_SYS_PTRACE attaches",
    needs: |by| Needs::root().sysctl(YAMA_SCOPE, by.tracer.yama_setting()),
    run: non_dumpable,
};

fn non_dumpable(by: &By, _: &Ctx) -> Outcome {
    by.tracer.yama_allows()?;
    let (target, _) = Parked::spawn(|| {
        creds::drop_to(NOBODY)?;
        access::allow_any_tracer();
        access::set_dumpable(0)?;
        Ok(String::new())
    })?;
    let req = by.req;
    by.tracer
        .run(|| Ok(Observation::new(req.try_on(target.pid))))
}

/// The control for the refusals: a dumpable task of the tracer's own uid
/// and gid accepts an unprivileged tracer.
const DUMPABLE_SAME_UID: Scenario<Req> = Scenario {
    base: "ptrace-attach/dumpable-same-uid",
    area: AREA,
    summary: "a dumpable task of the same uid and gid accepts an unprivileged tracer",
    needs: |_| Needs::root().sysctl(YAMA_SCOPE, YAMA_ADMITS_UNPRIVILEGED),
    run: dumpable_same_uid,
};

fn dumpable_same_uid(req: &Req, _: &Ctx) -> Outcome {
    Tracer::Unprivileged.yama_allows()?;
    let (target, _) = Parked::spawn(|| {
        creds::drop_to(NOBODY)?;
        access::allow_any_tracer();
        access::set_dumpable(1)?;
        Ok(String::new())
    })?;
    let req = *req;
    as_uid(NOBODY, || Ok(Observation::new(req.try_on(target.pid))))
}

/// A task that started as root and setresuid() to the tracer's uid is
/// non-dumpable (commit_creds() reset it to fs.suid_dumpable) and
/// refuses the unprivileged tracer, though every id now matches.
const CRED_CHANGED_UID: Scenario<Req> = Scenario {
    base: "ptrace-attach/cred-changed/setresuid",
    area: AREA,
    summary: "a task that setresuid() from root to the tracer's uid refuses the tracer",
    needs: |_| {
        Needs::root()
            .sysctl(YAMA_SCOPE, YAMA_ADMITS_UNPRIVILEGED)
            .sysctl(SUID_DUMPABLE, SUID_DUMPABLE_RESETS)
    },
    run: cred_changed_uid,
};

fn cred_changed_uid(req: &Req, _: &Ctx) -> Outcome {
    Tracer::Unprivileged.yama_allows()?;
    suid_dumpable_resets()?;
    let (target, dumpable) = Parked::spawn(|| {
        access::allow_any_tracer();
        creds::drop_to(NOBODY)?;
        Ok(access::dumpable().to_string())
    })?;
    let req = *req;
    let seen = as_uid(NOBODY, || Ok(Observation::new(req.try_on(target.pid))))?;
    Ok(seen.detail("dumpable", dumpable))
}

/// A task whose only credential change was its effective gid (back to
/// the tracer's gid, after dumpability was switched on again) is
/// non-dumpable and refuses the unprivileged tracer.
const CRED_CHANGED_GID: Scenario<Req> = Scenario {
    base: "ptrace-attach/cred-changed/setresgid",
    area: AREA,
    summary: "a task that changed only its egid refuses a same-uid, same-gid tracer",
    needs: |_| {
        Needs::root()
            .sysctl(YAMA_SCOPE, YAMA_ADMITS_UNPRIVILEGED)
            .sysctl(SUID_DUMPABLE, SUID_DUMPABLE_RESETS)
    },
    run: cred_changed_gid,
};

fn cred_changed_gid(req: &Req, _: &Ctx) -> Outcome {
    Tracer::Unprivileged.yama_allows()?;
    suid_dumpable_resets()?;
    let (target, dumpable) = Parked::spawn(|| {
        let (n, other) = (Gid::from_raw(NOBODY), Gid::from_raw(OTHER));
        access::allow_any_tracer();
        setgroups(&[])?;
        setresgid(n, other, n)?;
        let u = Uid::from_raw(NOBODY);
        setresuid(u, u, u)?;
        // Undo what the uid change did to dumpability ...
        access::set_dumpable(1)?;
        // ... so only this egid change (OTHER -> NOBODY) clears it.
        setresgid(n, n, n)?;
        Ok(access::dumpable().to_string())
    })?;
    let req = *req;
    let seen = as_uid(NOBODY, || Ok(Observation::new(req.try_on(target.pid))))?;
    Ok(seen.detail("dumpable", dumpable))
}

/// A dumpable task of another uid refuses an unprivileged tracer: the
/// tracer's uid must equal the target's real, effective and saved uid.
const OTHER_UID: Scenario<Req> = Scenario {
    base: "ptrace-attach/cred-changed/other-uid",
    area: AREA,
    summary: "a dumpable task of another uid refuses an unprivileged tracer",
    needs: |_| Needs::root().sysctl(YAMA_SCOPE, YAMA_ADMITS_UNPRIVILEGED),
    run: other_uid,
};

fn other_uid(req: &Req, _: &Ctx) -> Outcome {
    Tracer::Unprivileged.yama_allows()?;
    let (target, _) = Parked::spawn(|| {
        creds::drop_to(OTHER)?;
        access::allow_any_tracer();
        access::set_dumpable(1)?;
        Ok(String::new())
    })?;
    let req = *req;
    as_uid(NOBODY, || Ok(Observation::new(req.try_on(target.pid))))
}

// ---------------------------------------------------------------------------
// Setuid exec

/// PTRACE_TRACEME under an unprivileged tracer, then exec of a setuid-root
/// program: the kernel does not honour the setuid bit (euid stays the
/// caller's), while the same program run untraced gets euid 0.
const TRACEME_SETUID_EXEC: Scenario<()> = Scenario {
    base: "ptrace-attach/traceme-setuid-exec",
    area: AREA,
    summary:
        "PTRACE_TRACEME then a setuid-root exec does not gain euid 0 under an unprivileged tracer",
    needs: |_| Needs::root().sysctl(YAMA_SCOPE, YAMA_ADMITS_UNPRIVILEGED),
    run: traceme_setuid_exec,
};

fn traceme_setuid_exec(_: &(), ctx: &Ctx) -> Outcome {
    // The tracer runs as NOBODY: Yama's scope 2 refuses its PTRACE_TRACEME
    // (no CAP_SYS_PTRACE), scope 3 everyone's.
    Tracer::Unprivileged.yama_allows()?;
    let copy = SetuidCopy::make(ctx)?;
    let untraced = copy.untraced_euid()?;
    let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
    // The tracer is the subject's parent, dropped to NOBODY first.
    let tracer = task::spawn(|| {
        creds::drop_or_exit(NOBODY);
        let subject = task::spawn(|| {
            setup::or_exit("PTRACE_TRACEME", ptrace::traceme());
            setup::or_exit("dup2(stdout)", nix::unistd::dup2_stdout(&tx));
            copy.exec("ids")
        });
        let subject = task::or_exit_stop("fork", subject);
        loop {
            match task::or_exit_stop("waitpid", task::wait(subject)) {
                WaitStatus::Exited(..) | WaitStatus::Signaled(..) => return 0,
                WaitStatus::Stopped(_, Signal::SIGTRAP) | WaitStatus::PtraceEvent(..) => {
                    let _ = ptrace::cont(subject, None);
                }
                WaitStatus::Stopped(_, sig) => {
                    let _ = ptrace::cont(subject, sig);
                }
                _ => {
                    let _ = ptrace::cont(subject, None);
                }
            }
        }
    })?;
    drop(tx);
    let out = access::read_all(rx);
    let end = task::wait_exit(tracer)?;
    if end != "exit 0" {
        return Err(Stop::error(format!("the tracer subject ended with {end}")));
    }
    let traced = euid_of(&out)
        .ok_or_else(|| Stop::error(format!("traced probe printed `{}`", out.trim())))?;
    Ok(Observation::new(format!(
        "untraced euid={untraced}; traced euid={traced}"
    )))
}

/// A process running a setuid-root program it exec'd (euid 0, real uid
/// NOBODY) refuses its real uid's unprivileged tracer (EPERM).
const SETUID_EXEC_RUNNING: Scenario<Req> = Scenario {
    base: "ptrace-attach/setuid-exec-running",
    area: AREA,
    summary: "a running setuid-root program refuses an unprivileged tracer of its real uid",
    needs: |_| Needs::root().sysctl(YAMA_SCOPE, YAMA_ADMITS_UNPRIVILEGED),
    run: setuid_exec_running,
};

fn setuid_exec_running(req: &Req, ctx: &Ctx) -> Outcome {
    Tracer::Unprivileged.yama_allows()?;
    let copy = SetuidCopy::make(ctx)?;
    let (out_rx, out_tx) = pipe2(OFlag::O_CLOEXEC)?;
    let (in_rx, in_tx) = pipe2(OFlag::O_CLOEXEC)?;
    let pid = task::spawn(|| {
        creds::drop_or_exit(NOBODY);
        access::allow_any_tracer();
        setup::or_exit("dup2(stdout)", nix::unistd::dup2_stdout(&out_tx));
        setup::or_exit("dup2(stdin)", nix::unistd::dup2_stdin(&in_rx));
        copy.exec("park")
    })?;
    let target = Parked { pid };
    drop((out_tx, in_rx));
    // The probe's line says the setuid image is running.
    let mut line = String::new();
    let _ = BufReader::new(File::from(out_rx)).read_line(&mut line);
    match euid_of(&line) {
        Some(0) => {}
        _ => return Err(copy.not_honoured(line.trim())),
    }
    let req = *req;
    let seen = as_uid(NOBODY, || Ok(Observation::new(req.try_on(target.pid))))?;
    drop(in_tx);
    Ok(Observation::new(format!("exec euid=0; {}", seen.text)))
}

/// A root-owned mode 4755 copy of the probe, and how
/// the scenarios here run it.
struct SetuidCopy(ProbeCopy);

impl SetuidCopy {
    fn make(ctx: &Ctx) -> Result<Self, Stop> {
        ProbeCopy::setuid_root(ctx).map(SetuidCopy)
    }

    /// In a subject: exec the copy as `probe __probe MODE`, or give up.
    fn exec(&self, mode: &str) -> ! {
        access::exec_probe(&self.0.exe, mode)
    }

    /// The control: the euid the copy runs with when NOBODY execs it
    /// untraced; skips unless it is 0.
    fn untraced_euid(&self) -> Result<u32, Stop> {
        let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
        let pid = task::spawn(|| {
            creds::drop_or_exit(NOBODY);
            setup::or_exit("dup2(stdout)", nix::unistd::dup2_stdout(&tx));
            self.exec("ids")
        })?;
        drop(tx);
        let out = access::read_all(rx);
        task::wait_exit(pid)?;
        match euid_of(&out) {
            Some(0) => Ok(0),
            _ => Err(self.not_honoured(out.trim())),
        }
    }

    fn not_honoured(&self, out: &str) -> Stop {
        Stop::forbidden(format!(
            "setuid not honoured at {} (untraced probe printed `{out}`): nosuid mount, \
             no_new_privs, or a directory NOBODY cannot reach?",
            self.0.exe.display()
        ))
    }
}

/// `euid=E ...` as the probe prints it.
fn euid_of(out: &str) -> Option<u32> {
    out.split_whitespace()
        .find_map(|w| w.strip_prefix("euid=")?.parse().ok())
}

// ---------------------------------------------------------------------------
// PTRACE_O_SUSPEND_SECCOMP

/// How a tracer asks for PTRACE_O_SUSPEND_SECCOMP, and as whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suspend {
    /// In PTRACE_SEIZE's options, as NOBODY.
    SeizeUnprivileged,
    /// With PTRACE_SETOPTIONS after a plain seize, as NOBODY.
    SetoptionsUnprivileged,
    /// In PTRACE_SEIZE's options, as root (CAP_SYS_ADMIN, no filter).
    SeizeRoot,
}

impl Suspend {
    const ALL: [Suspend; 3] = [
        Suspend::SeizeUnprivileged,
        Suspend::SetoptionsUnprivileged,
        Suspend::SeizeRoot,
    ];

    fn tracer(self) -> Tracer {
        match self {
            Suspend::SeizeRoot => Tracer::Root,
            _ => Tracer::Unprivileged,
        }
    }
}

impl Param for Suspend {
    fn slug(&self) -> String {
        match self {
            Suspend::SeizeUnprivileged => "seize-unprivileged",
            Suspend::SetoptionsUnprivileged => "setoptions-unprivileged",
            Suspend::SeizeRoot => "seize-root",
        }
        .into()
    }
}

/// PTRACE_O_SUSPEND_SECCOMP switches the tracee's filters off, so only a
/// tracer with CAP_SYS_ADMIN that is itself under no filter may set it
/// (check_ptrace_options(), kernel/ptrace.c), in PTRACE_SEIZE's options
/// as with PTRACE_SETOPTIONS. The target runs a filter that kills the
/// process at getppid(), and calls it once the tracer has asked: an
/// unprivileged tracer is refused (EPERM) and the filter kills the
/// target; root's request takes and getppid() runs.
const SUSPEND_SECCOMP: Scenario<Suspend> = Scenario {
    base: "ptrace-attach/suspend-seccomp/needs-cap-sys-admin",
    area: AREA,
    summary: "PTRACE_O_SUSPEND_SECCOMP, by PTRACE_SEIZE or PTRACE_SETOPTIONS, needs CAP_SYS_ADMIN",
    needs: |s| {
        Needs::root()
            .config("CONFIG_CHECKPOINT_RESTORE")
            .sysctl(YAMA_SCOPE, s.tracer().yama_setting())
    },
    run: suspend_seccomp,
};

fn suspend_seccomp(how: &Suspend, _: &Ctx) -> Outcome {
    use crate::kit::seccomp::{raw_syscall, Filter, Ret};
    let tracer = how.tracer();
    tracer.yama_allows()?;
    let gate = task::Gate::new()?;
    let (ready_rx, ready_tx) = pipe2(OFlag::O_CLOEXEC)?;
    // The target: NOBODY, dumpable, any tracer welcome; a filter that
    // kills the process at getppid(), called once the gate opens. It says
    // when it is set up: the tracer must not meet it half-way (after the
    // uid drop, before PR_SET_DUMPABLE 1).
    let target = task::spawn(|| {
        creds::drop_or_exit(NOBODY);
        setup::or_exit("prctl(PR_SET_DUMPABLE, 1)", access::set_dumpable(1));
        access::allow_any_tracer();
        Filter::allow_all()
            .on(libc::SYS_getppid, Ret::KillProcess)
            .install_or_exit();
        let _ = nix::unistd::write(&ready_tx, b"r");
        gate.wait();
        raw_syscall(libc::SYS_getppid, 0);
        0
    })?;
    let target = Parked { pid: target };
    drop(ready_tx);
    let mut ready = [0u8; 1];
    if !matches!(nix::unistd::read(&ready_rx, &mut ready), Ok(1)) {
        return Err(Stop::error("the target died during setup"));
    }
    let suspend = Options::from_bits_retain(libc::PTRACE_O_SUSPEND_SECCOMP);
    let how = *how;
    let pid = target.pid;
    // The tracer is a subject of its own (root's too), so the scenario
    // process, the target's parent, reaps it after the tracer let go.
    let uid = match tracer {
        Tracer::Root => 0,
        Tracer::Unprivileged => NOBODY,
    };
    let asked = as_uid(uid, || {
        let asked = match how {
            Suspend::SeizeUnprivileged | Suspend::SeizeRoot => {
                format!("seize={}", result_name(&ptrace::seize(pid, suspend)))
            }
            Suspend::SetoptionsUnprivileged => {
                let seized = ptrace::seize(pid, Options::empty());
                let mut words = format!("seize={}", result_name(&seized));
                if seized.is_ok() {
                    let _ = ptrace::interrupt(pid);
                    let _ = task::wait(pid)?;
                    words += &format!(
                        " setoptions={}",
                        result_name(&ptrace::setoptions(pid, suspend))
                    );
                    let _ = ptrace::cont(pid, None);
                }
                words
            }
        };
        gate.open();
        // A tracer that got in stays until the target is gone: detaching
        // would clear the suspension before getppid() runs.
        if asked.starts_with("seize=ok") {
            loop {
                match task::wait(pid)? {
                    s if task::is_final(&s) => break,
                    WaitStatus::Stopped(_, sig) => {
                        let _ = ptrace::cont(pid, sig);
                    }
                    _ => {
                        let _ = ptrace::cont(pid, None);
                    }
                }
            }
        }
        Ok(Observation::new(asked))
    })?;
    gate.open();
    let end = match task::wait(pid)? {
        WaitStatus::Exited(_, code) => format!("exit {code}"),
        WaitStatus::Signaled(_, sig, _) => format!("killed {}", sig.as_str()),
        other => task::describe(&other),
    };
    std::mem::forget(target);
    Ok(Observation::new(format!("{}; target {end}", asked.text)))
}

// ---------------------------------------------------------------------------
// Parameters

/// The request a tracer makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Req {
    Attach,
    Seize,
}

impl Req {
    const BOTH: [Req; 2] = [Req::Attach, Req::Seize];

    fn name(self) -> &'static str {
        match self {
            Req::Attach => "attach",
            Req::Seize => "seize",
        }
    }

    fn make(self, pid: Pid) -> Result<(), Errno> {
        match self {
            Req::Attach => ptrace::attach(pid),
            Req::Seize => ptrace::seize(pid, Options::empty()),
        }
    }

    /// Make the request and let go again: `attach=ok`, `seize=EPERM`.
    fn try_on(self, pid: Pid) -> String {
        let r = self.make(pid);
        if r.is_ok() {
            release(self, pid);
        }
        format!("{}={}", self.name(), result_name(&r))
    }
}

impl Param for Req {
    fn slug(&self) -> String {
        self.name().into()
    }
}

/// Who makes the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tracer {
    /// The scenario process, root with CAP_SYS_PTRACE.
    Root,
    /// A subject dropped to NOBODY.
    Unprivileged,
}

impl Tracer {
    fn name(self) -> &'static str {
        match self {
            Tracer::Root => "root",
            Tracer::Unprivileged => "unprivileged",
        }
    }

    /// Run `f` as this tracer.
    fn run(self, f: impl FnOnce() -> Outcome) -> Outcome {
        match self {
            Tracer::Root => f(),
            Tracer::Unprivileged => as_uid(NOBODY, f),
        }
    }

    /// Skip where Yama refuses this tracer whatever the target allows
    /// (scope 2 admits only CAP_SYS_PTRACE, scope 3 nobody).
    fn yama_allows(self) -> Result<(), Stop> {
        match self {
            Tracer::Root => access::yama_lets_root_in(),
            Tracer::Unprivileged => access::yama_lets_unprivileged_in(),
        }
    }

    /// The Yama scopes this tracer needs, as an instance's need.
    fn yama_setting(self) -> &'static [&'static str] {
        match self {
            Tracer::Root => YAMA_ADMITS_ROOT,
            Tracer::Unprivileged => YAMA_ADMITS_UNPRIVILEGED,
        }
    }
}

/// A request by a tracer: slug `attach/root`.
#[derive(Clone, Copy, Debug)]
struct By {
    req: Req,
    tracer: Tracer,
}

impl By {
    fn all() -> Vec<By> {
        let mut v = Vec::new();
        for req in Req::BOTH {
            for tracer in [Tracer::Root, Tracer::Unprivileged] {
                v.push(By { req, tracer });
            }
        }
        v
    }
}

impl Param for By {
    fn slug(&self) -> String {
        format!("{}/{}", self.req.name(), self.tracer.name())
    }
}

// ---------------------------------------------------------------------------
// Private helpers

/// Run `f` in a subject that first drops to `uid`; its outcome comes back
/// through a pipe.
fn as_uid(uid: u32, f: impl FnOnce() -> Outcome) -> Outcome {
    let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
    let pid = task::spawn(|| {
        creds::drop_or_exit(uid);
        let bytes = serde_json::to_vec(&f()).unwrap_or_default();
        let mut rest = &bytes[..];
        while let Ok(n @ 1..) = nix::unistd::write(&tx, rest) {
            rest = &rest[n..];
        }
        0
    })?;
    drop(tx);
    let bytes = access::read_all(rx);
    let end = task::wait_exit(pid)?;
    serde_json::from_str::<Outcome>(&bytes).unwrap_or_else(|_| {
        Err(Stop::error(format!(
            "the uid {uid} subject ended with {end} before it reported"
        )))
    })
}

/// A subject parked (blocked in pause()) after a setup step, killed on drop.
struct Parked {
    pid: Pid,
}

impl Parked {
    /// Fork a subject that runs `setup`, reports its text, then waits to
    /// be killed.
    fn spawn(setup: impl FnOnce() -> nix::Result<String>) -> Result<(Parked, String), Stop> {
        let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
        let pid = task::spawn(|| {
            let line = match setup() {
                Ok(s) => format!("ok {s}\n"),
                Err(e) => format!("err {e}\n"),
            };
            let _ = nix::unistd::write(&tx, line.as_bytes());
            loop {
                // SAFETY: pause(2) has no arguments.
                unsafe { libc::pause() };
            }
        })?;
        let parked = Parked { pid };
        drop(tx);
        let mut line = String::new();
        let _ = BufReader::new(File::from(rx)).read_line(&mut line);
        match line
            .trim_end()
            .split_once(' ')
            .unwrap_or((line.trim_end(), ""))
        {
            ("ok", text) => Ok((parked, text.to_string())),
            ("err", why) => Err(Stop::error(format!("target setup failed: {why}"))),
            _ => Err(Stop::error("the target died during setup")),
        }
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        let _ = kill(self.pid, Signal::SIGKILL);
        let _ = task::wait_exit(self.pid);
    }
}

/// Undo a request that succeeded: stop a seized tracee, wait (briefly)
/// for its stop, detach without a signal. A tracee that never stops is
/// left to the tracer's exit, which detaches it.
fn release(req: Req, pid: Pid) {
    if req == Req::Seize {
        let _ = ptrace::interrupt(pid);
    }
    let deadline = Instant::now() + Duration::from_millis(200);
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
            Ok(WaitStatus::StillAlive) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Ok(s) if task::is_final(&s) => return,
            _ => break,
        }
    }
    let _ = ptrace::detach(pid, None);
}

/// Credential changes leave a task dumpable when fs.suid_dumpable is 1.
fn suid_dumpable_resets() -> Result<(), Stop> {
    access::suid_dumpable_resets().map(drop)
}

fn comm(pid: Pid) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// `PID COMM uid=U` for an unexpected tracee.
fn task_line(pid: i32) -> String {
    let pid = Pid::from_raw(pid);
    let uid = procfs::status(pid, "Uid")
        .and_then(|u| u.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    format!("{pid} {} uid={uid}", comm(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_unique() {
        let ids: Vec<String> = instances().into_iter().map(|i| i.id).collect();
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        assert!(ids.iter().all(|i| i.starts_with("ptrace-attach/")));
        for id in [
            "ptrace-attach/kthreads/attach/root",
            "ptrace-attach/kthreads/seize/unprivileged",
            "ptrace-attach/usermode-helper/seize",
            "ptrace-attach/non-dumpable/attach/unprivileged",
            "ptrace-attach/cred-changed/setresgid/seize",
            "ptrace-attach/traceme-setuid-exec",
        ] {
            assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
        }
    }

    #[test]
    fn reads_the_last_pid() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        let last = LastPid::open().unwrap().read().unwrap();
        assert!(last >= pid, "last pid {last} < {pid}");
        let loadavg = LastPid {
            file: File::open("/proc/loadavg").unwrap(),
            loadavg: true,
        };
        assert!(loadavg.read().unwrap() >= pid);
    }

    #[test]
    fn racers_sweep_every_pid_since_the_trigger_and_the_next_few() {
        assert_eq!(sweep(1000, 990), 991..=1006);
        // Nothing handed out since: the last two, and the next few.
        assert_eq!(sweep(1000, 1000), 999..=1006);
        // Pids wrapped since the trigger.
        assert_eq!(sweep(300, 32000), 299..=306);
        // A flood of pids since: the newest SWEEP_BACK.
        assert_eq!(sweep(5000, 10), 5000 - SWEEP_BACK..=5006);
        assert_eq!(sweep(3, 1), 2..=9);
    }

    #[test]
    fn a_race_that_met_no_helper_checked_nothing() {
        let helpers: BTreeSet<i32> = [700, 800].into();
        let raced = |text: &str, refused: &str| {
            Observation::new(text).detail("refused_pids", refused.to_string())
        };
        // Refused by other tasks only: no helper was raced.
        let (seen, reached) = with_helpers(raced("attached=0", "5,699,801"), &helpers, 27);
        assert_eq!(reached, 0);
        match checked(seen, reached, helpers.len()) {
            Err(Stop::Error(why)) => assert!(why.contains("checked nothing"), "{why}"),
            other => panic!("{other:?}"),
        }
        // One helper refused a racer: checked, and passes as observed.
        let (seen, reached) = with_helpers(raced("attached=0", "5,800"), &helpers, 27);
        assert_eq!(reached, 1);
        let seen = checked(seen, reached, helpers.len()).unwrap();
        assert_eq!(seen.text, "helpers=ran attached=0");
        assert!(seen
            .details
            .contains(&("helpers_refused".into(), "1".into())));
        // A racer got in: that is the observation, whatever else it met.
        let (seen, reached) = with_helpers(raced("attached=1 [800 x uid=0]", ""), &helpers, 27);
        assert!(checked(seen, reached, helpers.len())
            .unwrap()
            .text
            .contains("attached=1"));
    }

    #[test]
    fn reads_the_probe_line() {
        assert_eq!(euid_of("euid=0 ruid=65534\n"), Some(0));
        assert_eq!(euid_of("ruid=1 euid=65534"), Some(65534));
        assert_eq!(euid_of(""), None);
    }
}
