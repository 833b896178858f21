//! SECCOMP_FILTER_FLAG_TSYNC and filter ancestry (BRIEF.md item 4).
//!
//! seccomp filters form a tree: a task's filter points at the one it was
//! installed on top of, and threads created with clone() share their
//! creator's. TSYNC installs a new filter on the caller and then points
//! every other thread of the group at it, which is only sound when each
//! of those threads runs a filter the caller's already contains (an
//! *ancestor*; no filter at all is the root ancestor). Otherwise the kernel
//! installs nothing anywhere and returns the tid of a thread that blocks the
//! sync, or -ESRCH with TSYNC_ESRCH (kernel/seccomp.c:
//! seccomp_can_sync_threads, seccomp_sync_threads).
//!
//! How the scenarios see filters: every filter they install is *tagged*.
//! It answers a probe syscall (`getpgid(PROBE_ARG)`) with
//! `ERRNO(PROBE_BASE + id)`. With filters stacked, all of them return
//! ERRNO for the probe and seccomp_run_filters keeps the first strictly
//! lower action walking newest to oldest, so the newest filter's data wins:
//! a thread that calls the probe learns the id of its newest filter (0 for
//! none). Filters are numbered in the order a scenario creates them.
//!
//! Threads are named, never numbered by tid: the subject's main thread is
//! `main`, the others `sibling-1`, `sibling-2`, ... in creation order, and
//! every per-thread list in an observation is in that order.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::wait::WaitStatus;
use nix::unistd::{getpid, Pid};

use kconform_core::{
    setup, Area, Ctx, Feature, Instance, Needs, Observation, Outcome, Param, Scenario, Stop,
};

use crate::kit::compat::{syscall_info, INFO_ENTRY};
use crate::kit::crew::{in_subject, send_outcome, Crew, OUTCOME_TX};
use crate::kit::procfs::{gettid, task_status};
use crate::kit::seccomp::{
    enter_strict_mode, no_new_privs, raw_syscall, set_no_new_privs, Filter, Ret, FLAG_NEW_LISTENER,
    FLAG_TSYNC, FLAG_TSYNC_ESRCH,
};
use crate::kit::task::{self, Gate};
use crate::kit::trace::errno_name;
use crate::models::tsync as model;

pub const AREA: Area = Area {
    name: "tsync",
    summary: "SECCOMP_FILTER_FLAG_TSYNC and filter ancestry, against a model",
};

pub fn instances() -> Vec<Instance> {
    let mut all = Vec::new();
    all.extend(ANCESTORS.expand(Ancestry::ALL));
    all.extend(DIVERGED.expand(Diverged::ALL));
    all.extend(ESRCH.expand(EsrchCase::ALL));
    all.extend(NNP.expand(NnpCase::ALL));
    all.extend(LISTENER.expand(Listener::ALL));
    all.extend(STRICT_SIBLING.expand(Reply::ALL));
    all.extend(DEAD_LEADER.expand(Leader::ALL));
    all.extend(FILTER_COUNT.expand(Count::ALL));
    all.extend(TRACED_THREAD.expand(Park::ALL));
    all.extend(MODEL.expand([()]).into_iter().map(Instance::long));
    all
}

fn unprivileged<P>(_: &P) -> Needs {
    Needs::any()
}

// ---------------------------------------------------------------------------
// 1. Ancestors are synced.

/// Who holds which filter before the caller's TSYNC, in shapes where every
/// other thread's filter is an ancestor of the caller's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// `main` installs 1, then spawns the siblings (they share 1); `main`
    /// syncs 2.
    Shared,
    /// Nobody has a filter (NULL is the root ancestor); `main` syncs 1.
    Unfiltered,
    /// `sibling-1` is spawned unfiltered, `main` installs 1 and spawns
    /// `sibling-2` (1); `main` syncs 2.
    Mixed,
    /// The siblings share 1, `main` stacks 2 on its own; `main` syncs 3.
    Older,
    /// Everyone shares 1, `sibling-1` stacks 2 on its own and syncs 3: a
    /// thread ahead of the others may sync them.
    CallerAhead,
}

#[derive(Clone, Copy, Debug)]
struct Ancestry {
    shape: Shape,
    siblings: usize,
}

impl Ancestry {
    const ALL: [Ancestry; 7] = [
        Ancestry::of(Shape::Shared, 1),
        Ancestry::of(Shape::Shared, 2),
        Ancestry::of(Shape::Shared, 4),
        Ancestry::of(Shape::Unfiltered, 2),
        Ancestry::of(Shape::Mixed, 2),
        Ancestry::of(Shape::Older, 2),
        Ancestry::of(Shape::CallerAhead, 2),
    ];

    const fn of(shape: Shape, siblings: usize) -> Self {
        Ancestry { shape, siblings }
    }
}

impl Param for Ancestry {
    fn slug(&self) -> String {
        let shape = match self.shape {
            Shape::Shared => "shared",
            Shape::Unfiltered => "unfiltered",
            Shape::Mixed => "mixed",
            Shape::Older => "older",
            Shape::CallerAhead => "caller-ahead",
        };
        format!("{shape}/siblings-{}", self.siblings)
    }
}

static ANCESTORS: Scenario<Ancestry> = Scenario {
    base: "tsync/ancestors",
    area: AREA,
    summary: "TSYNC succeeds when every thread's filter is an ancestor of the caller's, and all threads get the new filter",
    needs: unprivileged::<Ancestry>,
    run: ancestors,
};

/// Every other thread runs an ancestor of the caller's filter (or none):
/// TSYNC returns 0 and afterwards every thread's newest filter is the one
/// just synced.
fn ancestors(p: &Ancestry, _: &Ctx) -> Outcome {
    let p = *p;
    in_subject(move || {
        let (crew, caller, next) = p.shape.build(p.siblings)?;

        let ret = crew.on(caller, move || tsync(next, 0));

        Ok(Observation::new(format!(
            "tsync={} probe={}",
            crew.answer(&ret, &[]),
            crew.probes()
        )))
    })
}

impl Shape {
    /// Set the shape up; returns the crew, the caller, and the id of the
    /// filter it will sync.
    fn build(self, siblings: usize) -> Result<(Crew, usize, u16), Stop> {
        let mut crew = Crew::of_this_thread();
        match self {
            Shape::Shared => {
                crew.install(0, 1)?;
                crew.spawn_n(0, siblings)?;
                Ok((crew, 0, 2))
            }
            Shape::Unfiltered => {
                crew.spawn_n(0, siblings)?;
                Ok((crew, 0, 1))
            }
            Shape::Mixed => {
                crew.spawn_from(0)?;
                crew.install(0, 1)?;
                crew.spawn_n(0, siblings - 1)?;
                Ok((crew, 0, 2))
            }
            Shape::Older => {
                crew.install(0, 1)?;
                crew.spawn_n(0, siblings)?;
                crew.install(0, 2)?;
                Ok((crew, 0, 3))
            }
            Shape::CallerAhead => {
                crew.install(0, 1)?;
                crew.spawn_n(0, siblings)?;
                crew.install(1, 2)?;
                Ok((crew, 1, 3))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 2. A diverged thread makes TSYNC fail.

/// Shapes where some other thread runs a filter that is not an ancestor
/// of the caller's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Diverged {
    /// `main` installs 1, spawns two siblings; `sibling-2` stacks 2 on its
    /// own; `main` tries to sync 3.
    OneOfTwo,
    /// `main` installs 1, spawns four siblings; `sibling-2` stacks 2 and
    /// `sibling-4` stacks 3; `main` tries to sync 4.
    TwoOfFour,
    /// `sibling-1` is spawned unfiltered and installs 2 on its own branch
    /// while `main` installs 1 and spawns `sibling-2` (1); `sibling-1`
    /// tries to sync 3: the caller is the one on another branch.
    CallerBranch,
    /// `main` installs 1 and spawns `sibling-1`, which stacks 2 and spawns
    /// `sibling-2` (2); `main` tries to sync 3: the siblings run
    /// descendants of the caller's filter, not ancestors.
    Descendants,
}

impl Diverged {
    const ALL: [Diverged; 4] = [
        Diverged::OneOfTwo,
        Diverged::TwoOfFour,
        Diverged::CallerBranch,
        Diverged::Descendants,
    ];

    /// Set the shape up; returns the crew, the caller, the id of the
    /// filter it will try to sync, and the threads that block the sync.
    fn build(self) -> Result<(Crew, usize, u16, Vec<usize>), Stop> {
        let mut crew = Crew::of_this_thread();
        match self {
            Diverged::OneOfTwo => {
                crew.install(0, 1)?;
                crew.spawn_n(0, 2)?;
                crew.install(2, 2)?;
                Ok((crew, 0, 3, vec![2]))
            }
            Diverged::TwoOfFour => {
                crew.install(0, 1)?;
                crew.spawn_n(0, 4)?;
                crew.install(2, 2)?;
                crew.install(4, 3)?;
                Ok((crew, 0, 4, vec![2, 4]))
            }
            Diverged::CallerBranch => {
                crew.spawn_from(0)?;
                crew.install(0, 1)?;
                crew.spawn_from(0)?;
                crew.install(1, 2)?;
                Ok((crew, 1, 3, vec![0, 2]))
            }
            Diverged::Descendants => {
                crew.install(0, 1)?;
                crew.spawn_from(0)?;
                crew.install(1, 2)?;
                crew.spawn_from(1)?;
                Ok((crew, 0, 3, vec![1, 2]))
            }
        }
    }
}

impl Param for Diverged {
    fn slug(&self) -> String {
        match self {
            Diverged::OneOfTwo => "one-of-2",
            Diverged::TwoOfFour => "two-of-4",
            Diverged::CallerBranch => "caller-branch",
            Diverged::Descendants => "descendants",
        }
        .into()
    }
}

static DIVERGED: Scenario<Diverged> = Scenario {
    base: "tsync/diverged",
    area: AREA,
    summary:
        "TSYNC with a non-ancestor thread returns that thread's tid and installs nothing anywhere",
    needs: unprivileged::<Diverged>,
    run: diverged,
};

/// A thread whose filter is not an ancestor of the caller's blocks the
/// sync: TSYNC returns the tid of a blocking thread (named here, and
/// `one-of(..)` when any of several would do) and no thread, the caller
/// included, gains a filter.
fn diverged(p: &Diverged, _: &Ctx) -> Outcome {
    let p = *p;
    in_subject(move || {
        let (crew, caller, next, blocking) = p.build()?;

        let ret = crew.on(caller, move || tsync(next, 0));

        Ok(Observation::new(format!(
            "tsync={} probe={}",
            crew.answer(&ret, &blocking),
            crew.probes()
        ))
        .detail("returned", crew.answer(&ret, &[])))
    })
}

// ---------------------------------------------------------------------------
// 3. TSYNC_ESRCH.

#[derive(Clone, Copy, Debug)]
enum EsrchCase {
    Diverged(Diverged),
    /// Every other thread runs an ancestor: the flag changes nothing.
    Ancestors,
}

impl EsrchCase {
    const ALL: [EsrchCase; 3] = [
        EsrchCase::Diverged(Diverged::OneOfTwo),
        EsrchCase::Diverged(Diverged::TwoOfFour),
        EsrchCase::Ancestors,
    ];
}

impl Param for EsrchCase {
    fn slug(&self) -> String {
        match self {
            EsrchCase::Diverged(d) => d.slug(),
            EsrchCase::Ancestors => "ancestors".into(),
        }
    }
}

static ESRCH: Scenario<EsrchCase> = Scenario {
    base: "tsync/esrch",
    area: AREA,
    summary: "TSYNC|TSYNC_ESRCH fails with ESRCH instead of a tid, still installing nothing",
    needs: |_| Needs::any().feature(Feature::TsyncEsrch),
    run: esrch,
};

/// With TSYNC_ESRCH a blocked sync fails with -1/ESRCH instead of
/// returning a tid (so the return value can carry a listener fd), and
/// still installs nothing anywhere; an unblocked sync returns 0 as usual.
fn esrch(p: &EsrchCase, _: &Ctx) -> Outcome {
    let p = *p;
    in_subject(move || {
        let (crew, caller, next) = match p {
            EsrchCase::Diverged(d) => {
                let (crew, caller, next, _) = d.build()?;
                (crew, caller, next)
            }
            EsrchCase::Ancestors => Shape::Shared.build(2)?,
        };

        let ret = crew.on(caller, move || tsync(next, FLAG_TSYNC_ESRCH));

        Ok(Observation::new(format!(
            "tsync={} probe={}",
            crew.answer(&ret, &[]),
            crew.probes()
        )))
    })
}

// ---------------------------------------------------------------------------
// 4. NO_NEW_PRIVS follows the sync.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NnpCase {
    /// `sibling-1` exists before `main` sets NO_NEW_PRIVS; `main` syncs 1.
    AfterSuccess,
    /// As above plus `sibling-2`, which sets NO_NEW_PRIVS itself and
    /// installs 1 on its own; `main` sets NO_NEW_PRIVS and tries to sync 2.
    AfterFailure,
    /// A root `main` without NO_NEW_PRIVS (CAP_SYS_ADMIN lets it install)
    /// syncs 1 onto `sibling-1`.
    RootWithoutNnp,
}

impl NnpCase {
    const ALL: [NnpCase; 3] = [
        NnpCase::AfterSuccess,
        NnpCase::AfterFailure,
        NnpCase::RootWithoutNnp,
    ];
}

impl Param for NnpCase {
    fn slug(&self) -> String {
        match self {
            NnpCase::AfterSuccess => "after-success",
            NnpCase::AfterFailure => "after-failure",
            NnpCase::RootWithoutNnp => "root-without-nnp",
        }
        .into()
    }
}

static NNP: Scenario<NnpCase> = Scenario {
    base: "tsync/nnp",
    area: AREA,
    summary:
        "a successful TSYNC gives every thread the caller's NO_NEW_PRIVS; a failed one gives none",
    needs: |p| match p {
        NnpCase::RootWithoutNnp => Needs::root(),
        _ => Needs::any(),
    },
    run: nnp,
};

/// NO_NEW_PRIVS is per thread, and TSYNC carries the caller's along with
/// the filter (so a thread cannot shed it by setting it up in a thread
/// that then dies): synced threads get it if the caller has it, keep what
/// they had if not, and a failed sync changes no thread.
fn nnp(p: &NnpCase, _: &Ctx) -> Outcome {
    let p = *p;
    in_subject(move || {
        if p == NnpCase::RootWithoutNnp && !crate::kit::creds::is_root() {
            return Err(Stop::forbidden(
                "installing without NO_NEW_PRIVS needs CAP_SYS_ADMIN",
            ));
        }
        if no_new_privs() {
            return Err(Stop::forbidden(
                "the process already runs with NO_NEW_PRIVS, so no thread can lack it",
            ));
        }
        let mut crew = Crew::of_this_thread();
        crew.spawn_from(0)?;
        let (next, blocking) = match p {
            NnpCase::AfterFailure => {
                crew.spawn_from(0)?;
                crew.install(2, 1)?;
                (2, vec![2])
            }
            _ => (1, vec![]),
        };

        let ret = crew.on(0, move || match p {
            NnpCase::RootWithoutNnp => tagged(next).install_flags(FLAG_TSYNC),
            _ => tsync(next, 0),
        });

        Ok(Observation::new(format!(
            "tsync={} nnp={} probe={}",
            crew.answer(&ret, &blocking),
            crew.status("NoNewPrivs"),
            crew.probes()
        )))
    })
}

// ---------------------------------------------------------------------------
// 5. NEW_LISTENER with TSYNC.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Listener {
    /// NEW_LISTENER|TSYNC: a failure's tid and a success's fd would be
    /// indistinguishable, so the kernel refuses the combination.
    WithoutEsrch,
    /// NEW_LISTENER|TSYNC|TSYNC_ESRCH onto an unfiltered sibling.
    WithEsrch,
    /// The same onto a sibling with a filter of its own.
    WithEsrchBlocked,
}

impl Listener {
    const ALL: [Listener; 3] = [
        Listener::WithoutEsrch,
        Listener::WithEsrch,
        Listener::WithEsrchBlocked,
    ];
}

impl Param for Listener {
    fn slug(&self) -> String {
        match self {
            Listener::WithoutEsrch => "without-esrch",
            Listener::WithEsrch => "with-esrch",
            Listener::WithEsrchBlocked => "with-esrch-blocked",
        }
        .into()
    }
}

static LISTENER: Scenario<Listener> = Scenario {
    base: "tsync/listener",
    area: AREA,
    summary: "TSYNC with NEW_LISTENER needs TSYNC_ESRCH, and then returns a listener for the synced filter",
    needs: |p| match p {
        Listener::WithoutEsrch => Needs::any().feature(Feature::NewListener),
        _ => Needs::any().feature(Feature::NewListener).feature(Feature::TsyncEsrch),
    },
    run: listener,
};

/// NEW_LISTENER|TSYNC without TSYNC_ESRCH is EINVAL and installs nothing.
/// With TSYNC_ESRCH it returns a listener fd whose filter every thread now
/// runs: a sibling's notifying syscall reaches it, and the answer sent
/// back reaches the sibling. A blocked sync fails with ESRCH and leaves no
/// fd behind.
fn listener(p: &Listener, _: &Ctx) -> Outcome {
    let p = *p;
    in_subject(move || {
        let mut crew = Crew::of_this_thread();
        crew.spawn_from(0)?;
        let mut flags = FLAG_NEW_LISTENER;
        if p != Listener::WithoutEsrch {
            flags |= FLAG_TSYNC_ESRCH;
        }
        let next = match p {
            Listener::WithEsrchBlocked => {
                crew.install(1, 1)?;
                2
            }
            _ => 1,
        };
        let fds_before = open_fds();

        let ret = crew.on(0, move || {
            set_no_new_privs()?;
            tagged(next)
                .on_arg0(libc::SYS_getpgid, NOTIF_ARG, Ret::UserNotif)
                .install_flags(FLAG_TSYNC | flags)
        });

        let probes = crew.probes();
        let answer = match ret {
            Ok(fd) if fd > 0 => {
                // SAFETY: the kernel just handed us this fd; nothing else owns it.
                let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
                let kind = fd_kind(fd.as_raw_fd());
                // Only a sibling that runs the filter would ever notify;
                // otherwise waiting for its notification would hang.
                let relay = if crew.on(1, probe) == next.to_string() {
                    relay_one_notification(&crew, 1, &fd)
                } else {
                    "notif=not-synced".into()
                };
                return Ok(Observation::new(format!(
                    "tsync={kind} probe={probes} {relay}"
                )));
            }
            _ => crew.answer(&ret, &[]),
        };
        let new_fds = open_fds() as i64 - fds_before as i64;
        Ok(Observation::new(format!(
            "tsync={answer} new-fds={new_fds} probe={probes}"
        )))
    })
}

/// `who` makes the notifying syscall; the listener receives it, answers
/// 42, and the observation says from which thread it came and what the
/// thread got back.
fn relay_one_notification(crew: &Crew, who: usize, listener: &OwnedFd) -> String {
    let pending = crew.begin(who, || raw_syscall(libc::SYS_getpgid, NOTIF_ARG as i64));
    let fd = listener.as_raw_fd();
    // SAFETY: zeroed plain-data structs the ioctls read and fill in.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } < 0 {
        return format!("notif-recv={}", errno_name(Errno::last()));
    }
    let from = crew.name_of(req.pid as i64);
    let mut resp: libc::seccomp_notif_resp = unsafe { std::mem::zeroed() };
    resp.id = req.id;
    resp.val = 42;
    // SAFETY: as above.
    if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) } < 0 {
        return format!("notif-from={from} notif-send={}", errno_name(Errno::last()));
    }
    format!("notif-from={from} answered={}", pending.finish())
}

fn fd_kind(fd: RawFd) -> String {
    match std::fs::read_link(format!("/proc/self/fd/{fd}")) {
        Ok(p) if p.to_string_lossy() == "anon_inode:seccomp notify" => "listener".into(),
        Ok(p) => format!("fd({})", p.to_string_lossy()),
        Err(_) => "fd(unreadable)".into(),
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// 6. A strict-mode sibling.

/// Which form of failure the caller asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    Tid,
    Esrch,
}

impl Reply {
    const ALL: [Reply; 2] = [Reply::Tid, Reply::Esrch];
}

impl Param for Reply {
    fn slug(&self) -> String {
        match self {
            Reply::Tid => "tid",
            Reply::Esrch => "esrch",
        }
        .into()
    }
}

static STRICT_SIBLING: Scenario<Reply> = Scenario {
    base: "tsync/strict-sibling",
    area: AREA,
    summary: "a thread in SECCOMP_MODE_STRICT blocks TSYNC, which then installs nothing",
    needs: |p| match p {
        Reply::Tid => Needs::any(),
        Reply::Esrch => Needs::any().feature(Feature::TsyncEsrch),
    },
    run: strict_sibling,
};

/// A thread in strict mode can never be moved to filter mode, so it
/// blocks TSYNC like a diverged filter does: the caller gets its tid (or
/// ESRCH), the caller itself stays unfiltered, and the sibling stays
/// strict. The sibling waits in read(), one of the four syscalls strict
/// mode allows; the subject ends by exit_group from `main`.
fn strict_sibling(p: &Reply, _: &Ctx) -> Outcome {
    let p = *p;
    in_subject(move || {
        let strict = spawn_strict_thread()?;
        let flags = if p == Reply::Esrch {
            FLAG_TSYNC_ESRCH
        } else {
            0
        };

        let ret = tsync(1, flags);

        let answer = match ret {
            Ok(t) if t == strict as i64 => "sibling-1".to_string(),
            Ok(t) if t > 0 => "unknown-tid".to_string(),
            ref r => result_text(r),
        };
        let mode = |tid: i32| status_of(tid, "Seccomp");
        Ok(Observation::new(format!(
            "tsync={answer} mode=[{},{}] probe-main={}",
            mode(gettid().as_raw()),
            mode(strict),
            probe()
        )))
    })
}

/// A thread that enters strict mode and then blocks in read() for good;
/// returns its tid once it is strict.
fn spawn_strict_thread() -> Result<i32, Stop> {
    let (ready_rx, ready_tx) = nix::unistd::pipe()?;
    let (block_rx, block_tx) = nix::unistd::pipe()?;
    std::mem::forget(block_tx);
    std::thread::Builder::new().spawn(move || {
        let msg: [i32; 2] = [gettid().as_raw(), enter_strict_mode().map_or(0, |_| 1)];
        // From here on only read, write, _exit and sigreturn are allowed:
        // raw syscalls, no allocation, no locks.
        // SAFETY: write(2)/read(2) on fds this closure owns, from stack buffers.
        unsafe {
            libc::syscall(libc::SYS_write, ready_tx.as_raw_fd(), msg.as_ptr(), 8usize);
            let mut b = 0u8;
            loop {
                libc::syscall(
                    libc::SYS_read,
                    block_rx.as_raw_fd(),
                    &mut b as *mut u8,
                    1usize,
                );
            }
        }
    })?;
    let mut msg = [0u8; 8];
    let n = nix::unistd::read(&ready_rx, &mut msg)?;
    if n != 8 {
        return Err(Stop::error("the strict-mode thread said nothing"));
    }
    let word = |i: usize| i32::from_ne_bytes([msg[i], msg[i + 1], msg[i + 2], msg[i + 3]]);
    let tid = word(0);
    if word(4) == 0 {
        return Err(Stop::forbidden(
            "could not enter strict mode (the process already runs a seccomp filter?)",
        ));
    }
    Ok(tid)
}

// ---------------------------------------------------------------------------
// 7. A dead thread-group leader.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leader {
    /// The leader exits still sharing the survivor's filter.
    SharedFilter,
    /// The leader stacks a filter of its own, then exits.
    OwnFilter,
}

impl Leader {
    const ALL: [Leader; 2] = [Leader::SharedFilter, Leader::OwnFilter];
}

impl Param for Leader {
    fn slug(&self) -> String {
        match self {
            Leader::SharedFilter => "shared-filter",
            Leader::OwnFilter => "own-filter",
        }
        .into()
    }
}

static DEAD_LEADER: Scenario<Leader> = Scenario {
    base: "tsync/dead-leader",
    area: AREA,
    summary:
        "a thread-group leader that has exited (a zombie until the group ends) does not block TSYNC",
    needs: unprivileged::<Leader>,
    run: dead_leader,
};

/// `main` installs 1 and spawns `sibling-1`; with `own-filter` it stacks
/// 2 on itself. Then `main` exits as a thread (what pthread_exit does in
/// the kernel: exit(2), not exit_group), staying a zombie leader until
/// the group ends. Once it is gone `sibling-1` syncs 3. An exited thread
/// runs no more syscalls, so whatever filter it had must not matter: the
/// sync succeeds and the survivor runs 3. (Before 6.11 a zombie leader
/// kept its filter and was still checked, so `own-filter` failed with its
/// tid: a bug, fixed by bfafe5efa975, "seccomp: release task filters when
/// the task exits".)
fn dead_leader(p: &Leader, _: &Ctx) -> Outcome {
    let p = *p;
    in_subject(move || {
        let mut crew = Crew::of_this_thread();
        crew.install(0, 1)?;
        crew.spawn_from(0)?;
        if p == Leader::OwnFilter {
            crew.install(0, 2)?;
        }
        let leader = gettid().as_raw();
        let gone: &'static AtomicI32 = Box::leak(Box::new(AtomicI32::new(leader)));
        // The kernel zeroes `gone` and wakes its futex once the leader has
        // left (mm_release, after PF_EXITING is set).
        // SAFETY: `gone` lives for the rest of the process.
        unsafe { libc::syscall(libc::SYS_set_tid_address, gone.as_ptr()) };
        let tx = OUTCOME_TX.load(Ordering::Relaxed);

        crew.send(1, move || {
            wait_for_zero(gone);
            let ret = tsync(3, 0);
            let answer = match ret {
                Ok(t) if t == leader as i64 => "main".to_string(),
                Ok(t) if t > 0 => "unknown-tid".to_string(),
                ref r => result_text(r),
            };
            let obs = Observation::new(format!("tsync={answer} survivor-probe={}", probe()));
            send_outcome(tx, &Ok(obs));
            // SAFETY: ends the whole subject (exit_group) from the survivor.
            unsafe { libc::_exit(0) }
        });
        // SAFETY: exit(2) ends only this thread; the survivor ends the group.
        unsafe { libc::syscall(libc::SYS_exit, 0) };
        unreachable!("exit(2) returned")
    })
}

fn wait_for_zero(word: &AtomicI32) {
    loop {
        let v = word.load(Ordering::SeqCst);
        if v == 0 {
            return;
        }
        // Shared (not PRIVATE) futex: the kernel's wake on thread exit is shared.
        // SAFETY: futex(2) on a live, aligned i32.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                v,
                std::ptr::null::<libc::timespec>(),
            )
        };
    }
}

// ---------------------------------------------------------------------------
// 8. The filter count follows the sync.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Count {
    /// `sibling-1` is spawned unfiltered, `main` installs 1 and 2 and spawns
    /// `sibling-2`; `main` syncs 3.
    AfterSuccess,
    /// `main` installs 1 and spawns two siblings; `sibling-2` stacks 2;
    /// `main` tries to sync 3.
    AfterFailure,
}

impl Count {
    const ALL: [Count; 2] = [Count::AfterSuccess, Count::AfterFailure];
}

impl Param for Count {
    fn slug(&self) -> String {
        match self {
            Count::AfterSuccess => "after-success",
            Count::AfterFailure => "after-failure",
        }
        .into()
    }
}

static FILTER_COUNT: Scenario<Count> = Scenario {
    base: "tsync/filter-count",
    area: AREA,
    summary: "Seccomp_filters in /proc of every thread follows a successful TSYNC and no other",
    needs: |_| Needs::any().feature(Feature::SeccompFiltersInStatus),
    run: filter_count,
};

/// /proc/PID/task/TID/status `Seccomp_filters` counts the filters a
/// thread runs; after a sync every thread runs the caller's whole chain,
/// so every count becomes the caller's. Counts are relative to the
/// process's own at the start (a container's filter is not ours).
fn filter_count(p: &Count, _: &Ctx) -> Outcome {
    let p = *p;
    in_subject(move || {
        let base = filter_count_of(gettid().as_raw());
        let mut crew = Crew::of_this_thread();
        let blocking = match p {
            Count::AfterSuccess => {
                crew.spawn_from(0)?;
                crew.install(0, 1)?;
                crew.install(0, 2)?;
                crew.spawn_from(0)?;
                vec![]
            }
            Count::AfterFailure => {
                crew.install(0, 1)?;
                crew.spawn_n(0, 2)?;
                crew.install(2, 2)?;
                vec![2]
            }
        };
        let before = crew.filter_counts(base);

        let ret = crew.on(0, || tsync(3, 0));

        Ok(Observation::new(format!(
            "before={before} tsync={} after={}",
            crew.answer(&ret, &blocking),
            crew.filter_counts(base)
        )))
    })
}

fn filter_count_of(tid: i32) -> i64 {
    status_of(tid, "Seccomp_filters").parse().unwrap_or(-1)
}

// ---------------------------------------------------------------------------
// 8b. A traced thread parked at a stop gets the filter for its next syscall.

/// The syscall the traced thread makes, and the argument that marks it:
/// getsid() of a pid no kernel hands out (above PID_MAX_LIMIT), so the call
/// itself can only fail with ESRCH, and EPERM can only come from the filter.
const MARKED_NR: i64 = libc::SYS_getsid;
const MARKED_ARG: u32 = 0x7fff_fff0;

/// Where the tracer holds `sibling-1` while `main` syncs the filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Park {
    /// At its PTRACE_SYSCALL syscall-entry stop for the marked call: the
    /// syscall has entered the kernel but seccomp has not judged it yet.
    EntryStop,
    /// In a PTRACE_INTERRUPT stop before the marked call (control: the
    /// syscall enters the kernel only after the sync).
    InterruptStop,
}

impl Park {
    const ALL: [Park; 2] = [Park::EntryStop, Park::InterruptStop];
}

impl Param for Park {
    fn slug(&self) -> String {
        match self {
            Park::EntryStop => "entry-stop",
            Park::InterruptStop => "interrupt-stop",
        }
        .into()
    }
}

static TRACED_THREAD: Scenario<Park> = Scenario {
    base: "tsync/traced-thread/filter-applies-after",
    area: AREA,
    summary:
        "a filter synced onto a thread parked at a ptrace stop judges the syscall it resumes into",
    needs: unprivileged::<Park>,
    run: traced_thread,
};

/// The subject's `sibling-1` (no filter) is traced by the scenario with
/// PTRACE_SEIZE and PTRACE_SYSCALL; `main` is not traced. The tracer parks
/// `sibling-1` (at the entry stop of getsid(MARKED_ARG), or in an
/// interrupt stop before it), then `main` installs `getsid(MARKED_ARG) ->
/// ERRNO(EPERM)` with TSYNC (it succeeds: no filter is an ancestor of
/// any), and only then is `sibling-1` resumed. TSYNC sets the filter and
/// SYSCALL_WORK_SECCOMP on every thread, and seccomp runs after the
/// syscall-entry stop ("Do seccomp after ptrace, to catch any tracer
/// changes", kernel/entry/common.c syscall_trace_enter), so the parked
/// call is judged by the new filter: EPERM, seen at the exit stop and by
/// the thread. A kernel that goes on with the work flags it read before
/// the stop skips seccomp for that syscall (any syscall: the tracer may
/// rewrite it at the stop), and the call fails with its own ESRCH.
fn traced_thread(p: &Park, _: &Ctx) -> Outcome {
    let park = *p;
    let (tid_rx, tid_tx) = pipe_pair()?;
    let (ret_rx, ret_tx) = pipe_pair()?;
    let (sync_rx, sync_tx) = pipe_pair()?;
    let go = Gate::new()?;
    let sync = Gate::new()?;
    let pid = task::spawn(|| {
        setup::or_exit("prctl(PR_SET_NO_NEW_PRIVS)", set_no_new_privs());
        let (tid_tx, ret_tx) = (tid_tx.as_raw_fd(), ret_tx.as_raw_fd());
        let go = &go;
        let sibling = std::thread::scope(|s| {
            let t = s.spawn(move || {
                put_i64(tid_tx, gettid().as_raw() as i64);
                go.wait();
                let r = raw_syscall(MARKED_NR, MARKED_ARG as i64);
                put_i64(ret_tx, r);
            });
            sync.wait();
            let r = Filter::allow_all()
                .on_arg0(MARKED_NR, MARKED_ARG, Ret::Errno(libc::EPERM as u16))
                .install_flags(FLAG_TSYNC);
            put_i64(sync_tx.as_raw_fd(), r.unwrap_or_else(|e| -(e as i64)));
            t.join().is_ok()
        });
        if sibling {
            0
        } else {
            101
        }
    })?;
    // Only the subject holds the write ends now: a read sees its end.
    drop((tid_tx, ret_tx, sync_tx));
    let traced = get_i64(&tid_rx)
        .and_then(|tid| drive_parked(park, Pid::from_raw(tid as i32), &go, &sync, &sync_rx))
        .and_then(|steps| Ok((steps, get_i64(&ret_rx)?)));
    if traced.is_err() {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
    let end = task::wait_exit(pid)?;
    let (steps, thread_ret) = traced?;
    if end != "exit 0" {
        return Err(Stop::error(format!("subject ended with {end}")));
    }
    Ok(Observation::new(format!(
        "{steps}; thread ret={}",
        ret_name(thread_ret)
    )))
}

/// The tracer's side of `traced_thread`: returns the steps it saw.
fn drive_parked(
    park: Park,
    tid: Pid,
    go: &Gate,
    sync: &Gate,
    sync_rx: &OwnedFd,
) -> Result<String, Stop> {
    let opts = ptrace::Options::PTRACE_O_TRACESYSGOOD | ptrace::Options::PTRACE_O_EXITKILL;
    setup::step("ptrace(PTRACE_SEIZE, sibling-1)", ptrace::seize(tid, opts))?;
    setup::step(
        "ptrace(PTRACE_INTERRUPT, sibling-1)",
        ptrace::interrupt(tid),
    )?;
    match task::wait(tid)? {
        WaitStatus::PtraceEvent(..) => {}
        other => {
            return Err(Stop::error(format!(
                "sibling-1 did not stop for PTRACE_INTERRUPT: {}",
                task::describe(&other)
            )))
        }
    }
    let mut steps = Vec::new();
    let do_sync = |steps: &mut Vec<String>| -> Result<(), Stop> {
        sync.open();
        let r = get_i64(sync_rx)?;
        steps.push(format!("tsync={}", ret_name(r)));
        Ok(())
    };
    if park == Park::InterruptStop {
        steps.push("interrupt-stop".to_string());
        do_sync(&mut steps)?;
    }
    go.open();
    // Resume through the thread's syscalls (the gate's read, restarted
    // after the interrupt) to the entry stop of the marked call.
    let mut entered = false;
    for _ in 0..64 {
        setup::step(
            "ptrace(PTRACE_SYSCALL, sibling-1)",
            ptrace::syscall(tid, None),
        )?;
        let s = task::wait(tid)?;
        if task::is_final(&s) {
            // The marked call never stopped at its entry: a kernel that
            // runs seccomp before the syscall-entry stop skips the denied
            // call before any stop (x86 before 4.8).
            steps.push("no entry-stop".to_string());
            return Ok(steps.join(" -> "));
        }
        if !matches!(s, WaitStatus::PtraceSyscall(_)) {
            return Err(Stop::error(format!(
                "sibling-1 left its syscalls: {}",
                task::describe(&s)
            )));
        }
        let info = setup::step("ptrace(PTRACE_GET_SYSCALL_INFO)", syscall_info(tid))?;
        if info.op == INFO_ENTRY && info.nr == MARKED_NR as u64 && info.args[0] as u32 == MARKED_ARG
        {
            entered = true;
            break;
        }
    }
    if !entered {
        return Err(Stop::error("sibling-1 never entered the marked syscall"));
    }
    steps.push("entry-stop getsid".to_string());
    if park == Park::EntryStop {
        do_sync(&mut steps)?;
    }
    setup::step(
        "ptrace(PTRACE_SYSCALL, sibling-1)",
        ptrace::syscall(tid, None),
    )?;
    let s = task::wait(tid)?;
    if !matches!(s, WaitStatus::PtraceSyscall(_)) {
        return Err(Stop::error(format!(
            "sibling-1 did not reach the exit stop: {}",
            task::describe(&s)
        )));
    }
    let info = setup::step("ptrace(PTRACE_GET_SYSCALL_INFO)", syscall_info(tid))?;
    // At an exit stop the union holds rval where an entry stop has nr.
    steps.push(format!("exit-stop ret={}", ret_name(info.nr as i64)));
    setup::step(
        "ptrace(PTRACE_DETACH, sibling-1)",
        ptrace::detach(tid, None),
    )?;
    Ok(steps.join(" -> "))
}

fn ret_name(r: i64) -> String {
    if (-4095..0).contains(&r) {
        errno_name(Errno::from_raw(-r as i32))
    } else {
        r.to_string()
    }
}

fn pipe_pair() -> Result<(OwnedFd, OwnedFd), Stop> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Stop::error(format!("pipe2: {e}")))
}

fn put_i64(fd: RawFd, v: i64) {
    // SAFETY: writes 8 bytes from a live i64 to a pipe this process owns.
    unsafe { libc::write(fd, v.to_ne_bytes().as_ptr().cast(), 8) };
}

fn get_i64(fd: &OwnedFd) -> Result<i64, Stop> {
    let mut b = [0u8; 8];
    let mut got = 0;
    while got < 8 {
        match nix::unistd::read(fd, &mut b[got..]) {
            Ok(0) => return Err(Stop::error("the subject closed its pipe early")),
            Ok(n) => got += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Stop::error(format!("read: {e}"))),
        }
    }
    Ok(i64::from_ne_bytes(b))
}

// ---------------------------------------------------------------------------
// 9. The model check.

static MODEL: Scenario<()> = Scenario {
    base: "tsync/model/random-trees",
    area: AREA,
    summary: "TSYNC on random thread/filter trees agrees with a model of filter ancestry",
    needs: |_| Needs::any().feature(Feature::TsyncEsrch),
    run: model_check,
};

/// A fixed-seed sequence of random thread/filter trees, each built in a
/// fresh subject: threads spawn threads (which inherit the spawner's
/// filter), threads stack filters of their own, and threads try TSYNC
/// with or without TSYNC_ESRCH. Every TSYNC answer and every thread's
/// newest filter at the end must be what [`model::predict`] says.
fn model_check(_: &(), _: &Ctx) -> Outcome {
    let cases = model::fixed_cases(model::CASES);
    let mut agree = 0;
    let mut first = None;
    let (mut synced, mut refused) = (0, 0);
    for (i, ops) in cases.iter().enumerate() {
        let steps = model::resolve(ops);
        let run = model::run_on_kernel(&steps)?;
        for a in &run.answers {
            match a {
                model::Answer::Synced => synced += 1,
                _ => refused += 1,
            }
        }
        match model::disagreement(&steps, &run) {
            None => agree += 1,
            Some(why) => {
                first.get_or_insert(format!(" first=#{i}:{why}"));
            }
        }
        kconform_core::setup::case_done();
    }
    Ok(Observation::new(format!(
        "cases={} agree={agree}{}",
        cases.len(),
        first.unwrap_or_default()
    ))
    .detail("tsyncs-synced", synced)
    .detail("tsyncs-refused", refused))
}

// ---------------------------------------------------------------------------
// Filters, probes and the kernel call.

/// The probe: `getpgid(PROBE_ARG)`. No such process exists, so without a
/// filter it fails with ESRCH.
const PROBE_ARG: u32 = 0x7fff_fff0;
/// Tagged filters answer the probe with ERRNO(PROBE_BASE + id).
const PROBE_BASE: u16 = 1000;
/// `getpgid(NOTIF_ARG)` is the syscall listener filters notify about.
const NOTIF_ARG: u32 = 0x7fff_fff1;

/// A filter that allows everything and answers the probe with its id.
fn tagged(id: u16) -> Filter {
    Filter::allow_all().on_arg0(libc::SYS_getpgid, PROBE_ARG, Ret::Errno(PROBE_BASE + id))
}

/// The calling thread's newest tagged filter: its id, `0` for none.
pub(crate) fn probe() -> String {
    let r = raw_syscall(libc::SYS_getpgid, PROBE_ARG as i64);
    let base = -(PROBE_BASE as i64);
    match r {
        r if r == -(libc::ESRCH as i64) => "0".into(),
        r if r <= base && r > base - 1000 => (base - r).to_string(),
        r => format!("?{r}"),
    }
}

/// Set NO_NEW_PRIVS, then install filter `id` with TSYNC and `flags`.
pub(crate) fn tsync(id: u16, flags: u32) -> Result<i64, Errno> {
    set_no_new_privs()?;
    tagged(id).install_flags(FLAG_TSYNC | flags)
}

fn result_text(r: &Result<i64, Errno>) -> String {
    match r {
        Ok(v) => v.to_string(),
        Err(e) => errno_name(*e),
    }
}

fn status_of(tid: i32, field: &str) -> String {
    task_status(getpid(), Pid::from_raw(tid), field).unwrap_or_else(|| "?".into())
}

// ---------------------------------------------------------------------------
// What the TSYNC scenarios ask of a crew.

impl Crew {
    /// Thread `who` sets NO_NEW_PRIVS and stacks tagged filter `id` on
    /// itself alone.
    pub(crate) fn install(&self, who: usize, id: u16) -> Result<(), Stop> {
        self.on(who, move || tagged(id).install())
            .map(drop)
            .map_err(|e| Stop::error(format!("{} installing filter {id}: {e}", Crew::name(who))))
    }

    /// Every thread's newest tagged filter, `[1,1,2]`.
    pub(crate) fn probes(&self) -> String {
        format!("[{}]", self.each(probe).join(","))
    }

    /// A /proc status field of every thread, `[1,0,1]`.
    pub(crate) fn status(&self, field: &str) -> String {
        let v: Vec<String> = self.tids().map(|tid| status_of(tid, field)).collect();
        format!("[{}]", v.join(","))
    }

    /// Every thread's Seccomp_filters minus `base`.
    pub(crate) fn filter_counts(&self, base: i64) -> String {
        let v: Vec<String> = self
            .tids()
            .map(|tid| (filter_count_of(tid) - base).to_string())
            .collect();
        format!("[{}]", v.join(","))
    }

    /// What a TSYNC returned, as text: `0`, an errno name, or the thread
    /// whose tid came back. When that thread is one of several in
    /// `any_of` (where the kernel may name any), `one-of(sibling-2,sibling-4)`.
    pub(crate) fn answer(&self, r: &Result<i64, Errno>, any_of: &[usize]) -> String {
        match *r {
            Ok(tid) if tid > 0 => match self.index_of(tid) {
                Some(i) if any_of.len() > 1 && any_of.contains(&i) => {
                    let names: Vec<String> = any_of.iter().map(|&i| Crew::name(i)).collect();
                    format!("one-of({})", names.join(","))
                }
                Some(i) => Crew::name(i),
                None => "unknown-tid".into(),
            },
            ref r => result_text(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_filters_answer_the_probe_with_their_id() {
        let p = tagged(7).program();
        assert!(p.iter().any(|i| i.k == Ret::Errno(PROBE_BASE + 7).value()));
        assert!(p.iter().any(|i| i.k == PROBE_ARG));
    }
}
