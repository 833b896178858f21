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
use std::sync::mpsc;

use nix::errno::Errno;
use nix::unistd::{getpid, Pid};

use kconform_core::{
    Area, Ctx, Feature, Instance, Needs, Observation, Outcome, Param, Scenario, Stop,
};

use crate::kit::procfs::{gettid, task_status};
use crate::kit::seccomp::{
    enter_strict_mode, no_new_privs, raw_syscall, set_no_new_privs, Filter, Ret, FLAG_NEW_LISTENER,
    FLAG_TSYNC, FLAG_TSYNC_ESRCH,
};
use crate::kit::task::{self, note_to, Notes};
use crate::kit::trace::errno_name;

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
        let mut crew = Crew::new();
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
        let mut crew = Crew::new();
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
            return Err(Stop::skip(
                "installing without NO_NEW_PRIVS needs CAP_SYS_ADMIN",
            ));
        }
        if no_new_privs() {
            return Err(Stop::skip(
                "the process already runs with NO_NEW_PRIVS, so no thread can lack it",
            ));
        }
        let mut crew = Crew::new();
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
        let mut crew = Crew::new();
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
        return Err(Stop::skip(
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
        let mut crew = Crew::new();
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
        let mut crew = Crew::new();
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
    }
    Ok(Observation::new(format!(
        "cases={} agree={agree}{}",
        cases.len(),
        first.unwrap_or_default()
    ))
    .detail("tsyncs-synced", synced)
    .detail("tsyncs-refused", refused))
}

/// The model of filter ancestry and the runner that puts the same steps
/// to the kernel; public so `suites/tests/tsync_model.rs` can drive them
/// as a proptest with shrinking.
pub mod model {
    use std::collections::HashMap;

    use proptest::collection::vec;
    use proptest::prelude::*;

    use kconform_core::{Observation, Stop};

    use super::{in_subject, probe, tsync, Crew, FLAG_TSYNC_ESRCH};

    /// How many cases the guest scenario runs. Each costs tens of
    /// milliseconds under QEMU's TCG, where this scenario runs on every
    /// kernel of a matrix; the proptest (suites/tests/tsync_model.rs)
    /// explores many more natively.
    pub const CASES: usize = 12;
    /// The most threads a case grows to (spawns past it are dropped).
    pub const MAX_THREADS: usize = 6;

    /// One generated operation. Thread numbers are taken modulo the
    /// number of threads alive at that point, so every sequence is valid
    /// and shrinks well.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Op {
        /// Thread `by` creates a thread, which inherits its filter.
        Spawn { by: usize },
        /// Thread `by` stacks a new filter on its own.
        Install { by: usize },
        /// Thread `by` tries TSYNC of a new filter.
        Tsync { by: usize, esrch: bool },
    }

    /// Random operation sequences: a few threads first, then anything,
    /// always ending with a TSYNC.
    pub fn ops() -> impl Strategy<Value = Vec<Op>> {
        let t = 0..MAX_THREADS;
        let op = prop_oneof![
            3 => t.clone().prop_map(|by| Op::Spawn { by }),
            3 => t.clone().prop_map(|by| Op::Install { by }),
            2 => (t.clone(), any::<bool>()).prop_map(|(by, esrch)| Op::Tsync { by, esrch }),
        ];
        let spawn = t.clone().prop_map(|by| Op::Spawn { by });
        (vec(spawn, 1..4), vec(op, 0..10), t, any::<bool>()).prop_map(
            |(mut ops, rest, by, esrch)| {
                ops.extend(rest);
                ops.push(Op::Tsync { by, esrch });
                ops
            },
        )
    }

    /// The guest's cases: the first `n` values of [`ops`] from a fixed seed.
    pub fn fixed_cases(n: usize) -> Vec<Vec<Op>> {
        crate::kit::model::seeded_cases(ops(), n)
    }

    /// An operation with its thread resolved; its filter id is its index
    /// in the step list plus one.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Step {
        Spawn { by: usize },
        Install { by: usize },
        Tsync { by: usize, esrch: bool },
    }

    /// Resolve thread numbers against the threads alive at each point.
    pub fn resolve(ops: &[Op]) -> Vec<Step> {
        let mut threads = 1;
        let mut steps = Vec::new();
        for op in ops {
            match *op {
                Op::Spawn { by } if threads < MAX_THREADS => {
                    steps.push(Step::Spawn { by: by % threads });
                    threads += 1;
                }
                Op::Spawn { .. } => {}
                Op::Install { by } => steps.push(Step::Install { by: by % threads }),
                Op::Tsync { by, esrch } => steps.push(Step::Tsync {
                    by: by % threads,
                    esrch,
                }),
            }
        }
        steps
    }

    /// Steps as compact text: `s0` spawn by main, `i2` install by
    /// sibling-2, `t1` TSYNC by sibling-1, `T1` the same with TSYNC_ESRCH.
    pub fn describe(steps: &[Step]) -> String {
        steps
            .iter()
            .map(|s| match *s {
                Step::Spawn { by } => format!("s{by}"),
                Step::Install { by } => format!("i{by}"),
                Step::Tsync { by, esrch: false } => format!("t{by}"),
                Step::Tsync { by, esrch: true } => format!("T{by}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// What the kernel answered one TSYNC.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Answer {
        Synced,
        /// It returned the tid of this thread (an index into the crew).
        Refused(usize),
        Esrch,
        Other(String),
    }

    /// What the model expects of one TSYNC.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Expect {
        Synced,
        /// Refused, naming any one of these threads.
        RefusedBy(Vec<usize>),
        Esrch,
    }

    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Prediction {
        pub tsyncs: Vec<Expect>,
        /// Each thread's newest filter id at the end (0: none).
        pub newest: Vec<u32>,
    }

    /// The kernel's side of a case.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct KernelRun {
        pub answers: Vec<Answer>,
        pub newest: Vec<u32>,
    }

    /// The model: filters form a tree (each points at the filter it was
    /// installed on), a thread runs a path from its newest filter to the
    /// root. TSYNC by `t` succeeds iff every other thread's newest filter
    /// is an ancestor of (or equal to) `t`'s, none counting as the root;
    /// then every thread's newest filter is the new one, stacked on `t`'s.
    /// Otherwise nothing changes and the answer names one of the threads
    /// that failed the test (or is ESRCH when asked for).
    pub fn predict(steps: &[Step]) -> Prediction {
        let mut parent: HashMap<u32, Option<u32>> = HashMap::new();
        let mut newest: Vec<Option<u32>> = vec![None];
        let mut tsyncs = Vec::new();
        let is_ancestor =
            |parent: &HashMap<u32, Option<u32>>, a: Option<u32>, mut of: Option<u32>| {
                let Some(a) = a else { return true };
                while let Some(f) = of {
                    if f == a {
                        return true;
                    }
                    of = parent[&f];
                }
                false
            };
        for (k, step) in steps.iter().enumerate() {
            let id = k as u32 + 1;
            match *step {
                Step::Spawn { by } => newest.push(newest[by]),
                Step::Install { by } => {
                    parent.insert(id, newest[by]);
                    newest[by] = Some(id);
                }
                Step::Tsync { by, esrch } => {
                    let blocking: Vec<usize> = (0..newest.len())
                        .filter(|&u| u != by && !is_ancestor(&parent, newest[u], newest[by]))
                        .collect();
                    if blocking.is_empty() {
                        parent.insert(id, newest[by]);
                        newest.iter_mut().for_each(|f| *f = Some(id));
                        tsyncs.push(Expect::Synced);
                    } else if esrch {
                        tsyncs.push(Expect::Esrch);
                    } else {
                        tsyncs.push(Expect::RefusedBy(blocking));
                    }
                }
            }
        }
        Prediction {
            tsyncs,
            newest: newest.into_iter().map(|f| f.unwrap_or(0)).collect(),
        }
    }

    /// Put the steps to the kernel in a fresh subject process: one thread
    /// per model thread, each filter tagged with its step's id.
    pub fn run_on_kernel(steps: &[Step]) -> Result<KernelRun, Stop> {
        let steps = steps.to_vec();
        let obs = in_subject(move || {
            let mut crew = Crew::new();
            let mut answers = Vec::new();
            for (k, step) in steps.iter().enumerate() {
                let id = k as u16 + 1;
                match *step {
                    Step::Spawn { by } => {
                        crew.spawn_from(by)?;
                    }
                    Step::Install { by } => crew.install(by, id)?,
                    Step::Tsync { by, esrch } => {
                        let flags = if esrch { FLAG_TSYNC_ESRCH } else { 0 };
                        let ret = crew.on(by, move || tsync(id, flags));
                        answers.push(match ret {
                            Ok(0) => "ok".to_string(),
                            Ok(tid) => match crew.index_of(tid) {
                                Some(i) => format!("t{i}"),
                                None => "xunknown-tid".into(),
                            },
                            Err(e) => format!("x{}", super::errno_name(e)),
                        });
                    }
                }
            }
            let newest: Vec<String> = crew.each(probe);
            Ok(Observation::new(format!(
                "{} {}",
                answers.join(","),
                newest.join(",")
            )))
        })?;
        parse_run(&obs.text)
            .ok_or_else(|| Stop::error(format!("unreadable case result `{}`", obs.text)))
    }

    fn parse_run(text: &str) -> Option<KernelRun> {
        let (answers, newest) = text.split_once(' ')?;
        let answers = answers
            .split(',')
            .filter(|a| !a.is_empty())
            .map(|a| match a {
                "ok" => Answer::Synced,
                "xESRCH" => Answer::Esrch,
                _ => match a.strip_prefix('t').and_then(|i| i.parse().ok()) {
                    Some(i) => Answer::Refused(i),
                    None => Answer::Other(a.trim_start_matches('x').to_string()),
                },
            })
            .collect();
        let newest = newest
            .split(',')
            .map(|n| n.parse().unwrap_or(u32::MAX))
            .collect();
        Some(KernelRun { answers, newest })
    }

    /// `None` when the kernel's run agrees with the model, otherwise what
    /// differs, compactly: `s0,i1,t0: kernel=[ok] [2,2] model=[refused(1)] [0,1]`.
    pub fn disagreement(steps: &[Step], run: &KernelRun) -> Option<String> {
        let want = predict(steps);
        let answers_agree = run.answers.len() == want.tsyncs.len()
            && run
                .answers
                .iter()
                .zip(&want.tsyncs)
                .all(|(a, e)| match (a, e) {
                    (Answer::Synced, Expect::Synced) | (Answer::Esrch, Expect::Esrch) => true,
                    (Answer::Refused(i), Expect::RefusedBy(set)) => set.contains(i),
                    _ => false,
                });
        if answers_agree && run.newest == want.newest {
            return None;
        }
        let answer = |a: &Answer| match a {
            Answer::Synced => "ok".to_string(),
            Answer::Refused(i) => format!("refused({i})"),
            Answer::Esrch => "ESRCH".into(),
            Answer::Other(s) => s.clone(),
        };
        let expect = |e: &Expect| match e {
            Expect::Synced => "ok".to_string(),
            Expect::RefusedBy(set) => {
                format!(
                    "refused({})",
                    set.iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join("|")
                )
            }
            Expect::Esrch => "ESRCH".into(),
        };
        let list = |v: Vec<String>| format!("[{}]", v.join(","));
        Some(format!(
            "{}: kernel={} {} model={} {}",
            describe(steps),
            list(run.answers.iter().map(answer).collect()),
            list(run.newest.iter().map(|n| n.to_string()).collect()),
            list(want.tsyncs.iter().map(expect).collect()),
            list(want.newest.iter().map(|n| n.to_string()).collect()),
        ))
    }

    /// Run one generated case on the kernel and compare: `Ok(None)` when
    /// kernel and model agree.
    pub fn check(ops: &[Op]) -> Result<Option<String>, Stop> {
        let steps = resolve(ops);
        let run = run_on_kernel(&steps)?;
        Ok(disagreement(&steps, &run))
    }
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
fn probe() -> String {
    let r = raw_syscall(libc::SYS_getpgid, PROBE_ARG as i64);
    let base = -(PROBE_BASE as i64);
    match r {
        r if r == -(libc::ESRCH as i64) => "0".into(),
        r if r <= base && r > base - 1000 => (base - r).to_string(),
        r => format!("?{r}"),
    }
}

/// Set NO_NEW_PRIVS, then install filter `id` with TSYNC and `flags`.
fn tsync(id: u16, flags: u32) -> Result<i64, Errno> {
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
// The crew: the threads of a subject, driven from its main thread.

type Job = Box<dyn FnOnce() + Send>;

/// The threads of a subject. Member 0 is the calling thread (`main`); the
/// others are `sibling-N`, each a thread that runs jobs sent to it and
/// never exits on its own, so the thread list stays what the scenario
/// built until the subject exits.
struct Crew {
    members: Vec<Member>,
}

struct Member {
    tid: i32,
    /// None for `main`, which runs its jobs inline.
    jobs: Option<mpsc::Sender<Job>>,
}

/// A job running on another thread; `finish` waits for its result.
struct Pending<R>(mpsc::Receiver<R>);

impl<R> Pending<R> {
    fn finish(self) -> R {
        self.0.recv().expect("a crew thread died mid-job")
    }
}

impl Crew {
    fn new() -> Crew {
        Crew {
            members: vec![Member {
                tid: gettid().as_raw(),
                jobs: None,
            }],
        }
    }

    fn name(i: usize) -> String {
        if i == 0 {
            "main".into()
        } else {
            format!("sibling-{i}")
        }
    }

    /// Thread `by` creates a new member (which inherits `by`'s filter and
    /// NO_NEW_PRIVS, as clone() does); returns its index.
    fn spawn_from(&mut self, by: usize) -> Result<usize, Stop> {
        let (tid, jobs) = self.on(by, start_member).map_err(Stop::error)?;
        self.members.push(Member {
            tid,
            jobs: Some(jobs),
        });
        Ok(self.members.len() - 1)
    }

    fn spawn_n(&mut self, by: usize, n: usize) -> Result<(), Stop> {
        for _ in 0..n {
            self.spawn_from(by)?;
        }
        Ok(())
    }

    /// Thread `who` sets NO_NEW_PRIVS and stacks tagged filter `id` on
    /// itself alone.
    fn install(&self, who: usize, id: u16) -> Result<(), Stop> {
        self.on(who, move || tagged(id).install())
            .map(drop)
            .map_err(|e| Stop::error(format!("{} installing filter {id}: {e}", Crew::name(who))))
    }

    /// Run `f` on thread `who` and wait for its result.
    fn on<R: Send + 'static>(&self, who: usize, f: impl FnOnce() -> R + Send + 'static) -> R {
        match &self.members[who].jobs {
            None => f(),
            Some(_) => self.begin(who, f).finish(),
        }
    }

    /// Start `f` on thread `who` (not `main`) without waiting.
    fn begin<R: Send + 'static>(
        &self,
        who: usize,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Pending<R> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(who, move || {
            let _ = tx.send(f());
        });
        Pending(rx)
    }

    /// Hand `f` to thread `who` (not `main`) and return at once.
    fn send(&self, who: usize, f: impl FnOnce() + Send + 'static) {
        let jobs = self.members[who]
            .jobs
            .as_ref()
            .expect("main runs its jobs inline");
        jobs.send(Box::new(f)).expect("a crew thread is gone");
    }

    /// `f` run on every thread, in order.
    fn each<R: Send + 'static>(&self, f: fn() -> R) -> Vec<R> {
        (0..self.members.len()).map(|i| self.on(i, f)).collect()
    }

    /// Every thread's newest tagged filter, `[1,1,2]`.
    fn probes(&self) -> String {
        format!("[{}]", self.each(probe).join(","))
    }

    /// A /proc status field of every thread, `[1,0,1]`.
    fn status(&self, field: &str) -> String {
        let v: Vec<String> = self
            .members
            .iter()
            .map(|m| status_of(m.tid, field))
            .collect();
        format!("[{}]", v.join(","))
    }

    /// Every thread's Seccomp_filters minus `base`.
    fn filter_counts(&self, base: i64) -> String {
        let v: Vec<String> = self
            .members
            .iter()
            .map(|m| (filter_count_of(m.tid) - base).to_string())
            .collect();
        format!("[{}]", v.join(","))
    }

    fn index_of(&self, tid: i64) -> Option<usize> {
        self.members.iter().position(|m| m.tid as i64 == tid)
    }

    fn name_of(&self, tid: i64) -> String {
        self.index_of(tid)
            .map(Crew::name)
            .unwrap_or_else(|| "unknown-tid".into())
    }

    /// What a TSYNC returned, as text: `0`, an errno name, or the thread
    /// whose tid came back. When that thread is one of several in
    /// `any_of` (where the kernel may name any), `one-of(sibling-2,sibling-4)`.
    fn answer(&self, r: &Result<i64, Errno>, any_of: &[usize]) -> String {
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

/// Start a crew thread from the calling thread: it reports its tid, then
/// runs jobs until the subject exits.
fn start_member() -> Result<(i32, mpsc::Sender<Job>), String> {
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let (tid_tx, tid_rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let _ = tid_tx.send(gettid().as_raw());
            while let Ok(job) = jobs_rx.recv() {
                job();
            }
            loop {
                std::thread::park();
            }
        })
        .map_err(|e| format!("thread spawn: {e}"))?;
    let tid = tid_rx
        .recv()
        .map_err(|_| "a new thread died at once".to_string())?;
    Ok((tid, jobs_tx))
}

// ---------------------------------------------------------------------------
// Subjects: the forked process the threads live in, and how it reports.

/// The Notes write end of the running subject, for threads that end the
/// subject themselves (see `dead_leader`).
static OUTCOME_TX: AtomicI32 = AtomicI32::new(-1);

/// Run `body` in a fresh subject process (so no filter lands on the
/// scenario process) and bring its outcome back.
fn in_subject(body: impl FnOnce() -> Outcome) -> Outcome {
    let notes = Notes::new()?;
    let tx = notes.raw_tx();
    let pid = task::spawn(|| {
        OUTCOME_TX.store(tx, Ordering::Relaxed);
        send_outcome(tx, &body());
        0
    })?;
    let end = task::wait_exit(pid)?;
    read_outcome(notes.take(), &end)
}

fn send_outcome(tx: RawFd, outcome: &Outcome) {
    let line = |s: String| note_to(tx, s.as_bytes());
    match outcome {
        Ok(obs) => {
            line(format!("obs {}", obs.text));
            for (k, v) in &obs.details {
                line(format!("detail {k}={v}"));
            }
        }
        Err(Stop::Skip(r)) => line(format!("skip {r}")),
        Err(Stop::Error(e)) => line(format!("error {e}")),
    }
}

fn read_outcome(notes: Vec<String>, end: &str) -> Outcome {
    let mut obs: Option<Observation> = None;
    for n in &notes {
        if let Some(text) = n.strip_prefix("obs ") {
            obs = Some(Observation::new(text));
        } else if let Some(kv) = n.strip_prefix("detail ") {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            obs = obs.map(|o| o.detail(k, v));
        } else if let Some(r) = n.strip_prefix("skip ") {
            return Err(Stop::skip(r));
        } else if let Some(e) = n.strip_prefix("error ") {
            return Err(Stop::error(e));
        }
    }
    match obs {
        Some(o) if end == "exit 0" => Ok(o),
        _ => Err(Stop::error(format!(
            "subject ended with {end}; notes: {}",
            if notes.is_empty() {
                "none".into()
            } else {
                notes.join(" | ")
            }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::model::*;
    use super::*;

    #[test]
    fn fixed_cases_are_deterministic() {
        assert_eq!(fixed_cases(8), fixed_cases(8));
        assert!(fixed_cases(8)
            .iter()
            .all(|c| matches!(c.last(), Some(Op::Tsync { .. }))));
    }

    #[test]
    fn subject_outcomes_round_trip() {
        let o = read_outcome(
            vec!["obs a=1 b=[2,3]".into(), "detail k=v=w".into()],
            "exit 0",
        )
        .unwrap();
        assert_eq!(o.text, "a=1 b=[2,3]");
        assert_eq!(o.details, vec![("k".to_string(), "v=w".to_string())]);
        assert_eq!(
            read_outcome(vec!["skip why".into()], "exit 0"),
            Err(Stop::skip("why"))
        );
        assert!(read_outcome(vec!["obs x".into()], "killed SIGSYS").is_err());
    }

    #[test]
    fn tagged_filters_answer_the_probe_with_their_id() {
        let p = tagged(7).program();
        assert!(p.iter().any(|i| i.k == Ret::Errno(PROBE_BASE + 7).value()));
        assert!(p.iter().any(|i| i.k == PROBE_ARG));
    }
}
