//! Whether a scenario process may run another instance.
//!
//! Under QEMU's TCG a process costs about 2 ms of guest CPU to fork, fault
//! in, exit and reap, more than most instances spend on their scenario, so
//! the executor runs instance after instance in one process. It may do so
//! only while each instance leaves that process as it found it: the next
//! instance must start from what a fresh fork would give it, or its
//! verdict would say something about the instance before it rather than
//! the kernel.
//!
//! [`Snapshot`] is what the kernel shows of a process's own state; the
//! executor takes one before the first instance and compares after each.
//! Anything it cannot see (Yama's PR_SET_PTRACER exception) is declared
//! with [`changed_unseen`] by the code that changes it. A process that
//! differs in any way runs no further instance: it reports and exits, and
//! the next instance gets a fresh one.

use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// The pid of the process that called [`changed_unseen`]; its forked
/// subjects inherit the value, but only the process itself matches it.
static CHANGED_BY: AtomicI32 = AtomicI32::new(0);

/// For code that changes state of the calling process which [`Snapshot`]
/// cannot read back (PR_SET_PTRACER): the process runs no further instance.
pub fn changed_unseen() {
    CHANGED_BY.store(std::process::id() as i32, Ordering::SeqCst);
}

/// Lines of /proc/self/status that change with the mere running of a
/// process (memory use, context switches, the queued-signal count of the
/// user) and say nothing about what an instance left behind.
const VOLATILE: &[&str] = &[
    "State:",
    "FDSize:",
    "Vm",
    "Rss",
    "HugetlbPages:",
    "SigQ:",
    "voluntary_ctxt_switches:",
    "nonvoluntary_ctxt_switches:",
];

/// The namespaces unshare(2) and setns(2) can move a process to (for pid
/// and time, only its future children).
const NAMESPACES: &[&str] = &[
    "cgroup",
    "ipc",
    "mnt",
    "net",
    "pid_for_children",
    "time_for_children",
    "user",
    "uts",
];

/// A process's own state as the kernel shows it: credentials,
/// capabilities, seccomp, no_new_privs, signal mask, dispositions and
/// pending signals, threads and tracer (/proc/self/status); namespaces,
/// the working directory, resource limits; interval timers, the
/// alternate signal stack, personality, scheduling, umask, and the prctl
/// settings status leaves out. Not compared: file mappings, which
/// scenarios' types unmap as they go out of scope, and POSIX timers,
/// which no scenario sets (one that fired would kill the process: an
/// error, never a verdict). Descriptors are restored rather than
/// compared (see [`Probe::close_strays`]).
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    status: Vec<u8>,
    namespaces: Vec<u64>,
    limits: Vec<(u64, u64)>,
    cwd: Option<std::path::PathBuf>,
    calls: Vec<i64>,
    changed_unseen: bool,
}

/// What a process keeps open to take its snapshots cheaply: under TCG a
/// path walk through /proc costs tens of microseconds, so the files are
/// opened once and read again from the start.
pub struct Probe {
    status: std::fs::File,
    ns: OwnedFd,
    /// The descriptors open when the probe was opened (its own
    /// included), sorted.
    own_fds: Vec<RawFd>,
}

impl Probe {
    /// Open what the snapshots read, and note the descriptors open now as
    /// the ones this process keeps.
    pub fn open() -> std::io::Result<Probe> {
        let status = std::fs::File::open("/proc/self/status")?;
        let ns = nix::fcntl::open(
            "/proc/self/ns",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let mut own_fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        // The listing's own descriptor is closed by now.
        own_fds.retain(|&fd| is_open(fd));
        own_fds.sort_unstable();
        Ok(Probe {
            status,
            ns,
            own_fds,
        })
    }

    pub fn snapshot(&self) -> Snapshot {
        use std::os::unix::fs::FileExt;
        // seq_file hands a read with room for the whole text all of it, so
        // a read that leaves room spare is the end: under TCG each read of
        // status costs tens of microseconds, and a last empty one as much.
        let mut raw = vec![0u8; 4096];
        let mut len = 0;
        while let Ok(n @ 1..) = self.status.read_at(&mut raw[len..], len as u64) {
            len += n;
            if len < raw.len() {
                break;
            }
            raw.resize(raw.len() * 2, 0);
        }
        let status: Vec<u8> = raw[..len]
            .split_inclusive(|&b| b == b'\n')
            .filter(|l| !VOLATILE.iter().any(|v| l.starts_with(v.as_bytes())))
            .flatten()
            .copied()
            .collect();
        // The link's text, `mnt:[4026531840]`, names the same inode a
        // stat() through it would, without the nsfs dentry and inode that
        // following the link allocates (under TCG, a third of the cost).
        let namespaces = NAMESPACES
            .iter()
            .map(|ns| {
                nix::fcntl::readlinkat(&self.ns, *ns)
                    .ok()
                    .and_then(|link| ns_inode(link.to_str()?))
                    .unwrap_or(0)
            })
            .collect();
        // RLIMIT_CPU (0) to RLIMIT_RTTIME (15): every limit Linux has.
        let limits = (0..16)
            .map(|r| {
                let mut l = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                // SAFETY: getrlimit fills the struct it is given.
                unsafe { libc::getrlimit(r as _, &mut l) };
                (l.rlim_cur, l.rlim_max)
            })
            .collect();
        Snapshot {
            status,
            namespaces,
            limits,
            cwd: std::env::current_dir().ok(),
            calls: calls(),
            changed_unseen: CHANGED_BY.load(Ordering::SeqCst) == std::process::id() as i32,
        }
    }

    /// Close every descriptor that was not open when the probe was: what
    /// an instance left open would otherwise be inherited by the next
    /// one's subjects. False if that could not be done.
    pub fn close_strays(&self) -> bool {
        let mut from: RawFd = 0;
        for &own in self.own_fds.iter().chain(std::iter::once(&RawFd::MAX)) {
            if own > from && close_range(from, own - 1).is_err() {
                return false;
            }
            from = own.saturating_add(1);
        }
        true
    }
}

/// The inode number in a namespace link's text, `type:[inode]`.
fn ns_inode(link: &str) -> Option<u64> {
    link.split_once(":[")?.1.strip_suffix(']')?.parse().ok()
}

fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only asks whether the number is open.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

fn close_range(first: RawFd, last: RawFd) -> nix::Result<()> {
    // SAFETY: close_range(2) only closes descriptors; those in the range
    // are no one's once the instance that opened them is over.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first as u32, last as u32, 0u32) };
    nix::errno::Errno::result(r).map(drop)
}

/// A PR_GET_* that writes its answer to an int: the answer, or -1.
fn prctl_int(op: libc::c_int) -> i64 {
    let mut value: libc::c_int = 0;
    // SAFETY: these prctl calls write one int to the pointer given.
    let r = unsafe { libc::prctl(op, &mut value as *mut libc::c_int) };
    if r < 0 {
        -1
    } else {
        value as i64
    }
}

/// What only a system call tells: each value, or -errno.
fn calls() -> Vec<i64> {
    let prctl = |op: libc::c_int| {
        // SAFETY: PR_GET_* calls with integer arguments only.
        (unsafe { libc::prctl(op, 0, 0, 0, 0) }) as i64
    };
    let pdeathsig = prctl_int(libc::PR_GET_PDEATHSIG);
    let subreaper = prctl_int(libc::PR_GET_CHILD_SUBREAPER);
    let itimers = [libc::ITIMER_REAL, libc::ITIMER_VIRTUAL, libc::ITIMER_PROF].map(|which| {
        // SAFETY: getitimer fills the struct it is given.
        let mut t: libc::itimerval = unsafe { std::mem::zeroed() };
        unsafe { libc::getitimer(which, &mut t) };
        (t.it_value.tv_sec != 0 || t.it_value.tv_usec != 0 || t.it_interval.tv_sec != 0) as i64
    });
    let altstack = {
        // SAFETY: sigaltstack with no new stack only reports the current one.
        let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
        unsafe { libc::sigaltstack(std::ptr::null(), &mut old) };
        [old.ss_sp as i64, old.ss_size as i64, old.ss_flags as i64]
    };
    // SAFETY: plain queries of the calling process.
    let (personality, policy, nice) = unsafe {
        *libc::__errno_location() = 0;
        (
            libc::personality(0xffff_ffff) as i64,
            libc::sched_getscheduler(0) as i64,
            libc::getpriority(libc::PRIO_PROCESS, 0) as i64,
        )
    };
    let mut v = vec![
        prctl(libc::PR_GET_DUMPABLE),
        prctl(libc::PR_GET_KEEPCAPS),
        prctl(libc::PR_GET_TIMERSLACK),
        prctl(libc::PR_GET_SECUREBITS),
        prctl(libc::PR_GET_THP_DISABLE),
        pdeathsig,
        subreaper,
        personality,
        policy,
        nice,
        // SAFETY: umask is read by setting it, and set back at once.
        unsafe {
            let m = libc::umask(0o022);
            libc::umask(m);
            m as i64
        },
    ];
    v.extend(itimers);
    v.extend(altstack);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// Each change in its own forked child, so the test process stays as
    /// it was: whether the snapshot after it differs from the one before.
    fn differs_after(change: fn()) -> bool {
        use nix::sys::wait::{waitpid, WaitStatus};
        use nix::unistd::{fork, ForkResult};
        // SAFETY: the child only takes snapshots, changes one thing and
        // _exit()s with the answer.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let probe = Probe::open().unwrap();
                let before = probe.snapshot();
                let same = probe.snapshot() == before;
                change();
                let after = probe.snapshot();
                let code = match (same, after == before) {
                    (true, false) => 1,
                    (true, true) => 0,
                    _ => 2,
                };
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => match waitpid(child, None).unwrap() {
                WaitStatus::Exited(_, 1) => true,
                WaitStatus::Exited(_, 0) => false,
                other => panic!("snapshot child: {other:?}"),
            },
        }
    }

    #[test]
    fn nothing_done_is_nothing_changed() {
        assert!(!differs_after(|| {
            let v: Vec<u8> = vec![1; 1 << 20];
            drop(v);
            std::thread::spawn(|| ()).join().unwrap();
        }));
    }

    #[test]
    fn each_kind_of_change_is_seen() {
        let changes: &[(&str, fn())] = &[
            ("umask", || unsafe {
                libc::umask(0o077);
            }),
            ("no_new_privs", || unsafe {
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            }),
            ("a blocked signal", || unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGUSR1);
                libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            }),
            ("an ignored signal", || unsafe {
                libc::signal(libc::SIGUSR2, libc::SIG_IGN);
            }),
            ("a thread left running", || {
                std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(60)));
                std::thread::sleep(std::time::Duration::from_millis(50));
            }),
            ("an armed alarm", || unsafe {
                libc::alarm(100);
            }),
            ("dumpable", || unsafe {
                libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
            }),
            ("a subreaper", || unsafe {
                libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
            }),
            ("a core limit", || {
                let _ =
                    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
            }),
            ("the working directory", || {
                std::env::set_current_dir("/").unwrap();
                std::env::set_current_dir("/proc").unwrap();
            }),
            ("a namespace for children", || {
                // Root only (CI runs as root); elsewhere the user id
                // changes instead, which is seen as well.
                if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWPID).is_err() {
                    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).unwrap();
                }
            }),
            ("declared by the scenario", changed_unseen),
        ];
        for (what, change) in changes {
            assert!(differs_after(*change), "{what} went unseen");
        }
    }

    #[test]
    fn a_namespace_link_names_the_inode_stat_gives() {
        let link = std::fs::read_link("/proc/self/ns/mnt").unwrap();
        let st = nix::sys::stat::stat("/proc/self/ns/mnt").unwrap();
        assert_eq!(ns_inode(link.to_str().unwrap()), Some(st.st_ino));
        assert_eq!(ns_inode("mnt:4026531840"), None);
    }

    #[test]
    fn stray_descriptors_are_closed_and_own_ones_kept() {
        use nix::sys::wait::{waitpid, WaitStatus};
        use nix::unistd::{fork, ForkResult};
        // SAFETY: the child only opens and closes descriptors and
        // _exit()s with the answer.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let kept = std::fs::File::open("/proc/self/stat").unwrap();
                let probe = Probe::open().unwrap();
                let stray = std::fs::File::open("/proc/self/stat").unwrap();
                let high = unsafe { libc::dup2(stray.as_raw_fd(), 900) };
                let closed = probe.close_strays();
                let ok = closed
                    && is_open(kept.as_raw_fd())
                    && !is_open(stray.as_raw_fd())
                    && !is_open(high);
                std::mem::forget(stray);
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            ForkResult::Parent { child } => {
                assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
            }
        }
    }
}
