//! Runs instances in forked scenario processes with a timeout, so an
//! instance that crashes, hangs or leaves traced children behind is
//! recorded as such and the run goes on.
//!
//! A scenario process runs instance after instance while each leaves it
//! as it found it ([`crate::reuse`]); one that does not reports and
//! exits, and the next instance gets a fresh process. Whatever an
//! instance's processes leave running is killed before the next starts.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, getpgrp, pipe2, setpgid, ForkResult, Pid};

use crate::model::{Ctx, Instance, Outcome, Stop};
use crate::reuse::{Probe, Snapshot};
use crate::setup::Said;

/// What one instance did, as seen from the parent.
#[derive(Debug, Clone)]
pub struct Execution {
    pub outcome: Outcome,
    pub duration: Duration,
}

/// Run one instance in a forked child and collect its outcome.
pub fn execute(inst: &Instance, ctx: &Ctx, timeout: Duration) -> Execution {
    let mut all = execute_all(
        &[inst],
        ctx,
        1,
        timeout,
        &|_, _| {},
        &|_, _| {},
        &|_, _, _| {},
    );
    all.remove(0)
}

/// One instance's report from a scenario process: a line
/// `INDEX MICROSECONDS GOES_ON OUTCOME_JSON` (serde_json writes no raw
/// newline).
struct Report {
    k: usize,
    duration: Duration,
    goes_on: bool,
    outcome: Outcome,
}

impl Report {
    fn encode(&self) -> Vec<u8> {
        let mut line = format!(
            "{} {} {} ",
            self.k,
            self.duration.as_micros(),
            u8::from(self.goes_on)
        )
        .into_bytes();
        line.extend(serde_json::to_vec(&self.outcome).unwrap_or_default());
        line.push(b'\n');
        line
    }

    fn decode(line: &[u8]) -> Option<Report> {
        let text = std::str::from_utf8(line).ok()?;
        let mut f = text.splitn(4, ' ');
        let k = f.next()?.parse().ok()?;
        let us: u64 = f.next()?.parse().ok()?;
        let goes_on = f.next()? == "1";
        let outcome = serde_json::from_str(f.next()?).ok()?;
        Some(Report {
            k,
            duration: Duration::from_micros(us),
            goes_on,
            outcome,
        })
    }
}

/// The parent's side of a scenario process: the pipe it is told which
/// instance to run next on, the pipe of its reports, and the one of its
/// instances' setup failures (see [`crate::setup`]).
struct Worker {
    pid: Pid,
    /// Closed once the process is to run nothing more.
    next: Option<OwnedFd>,
    reports: OwnedFd,
    setup_rx: OwnedFd,
    bytes: Vec<u8>,
    failures: Vec<(usize, String)>,
    current: Option<Current>,
}

struct Current {
    k: usize,
    started: Instant,
    deadline: Instant,
    /// Times the deadline was moved on for a case done.
    extended: u32,
}

impl Worker {
    /// The parent's ends of this process's pipes, which a scenario process
    /// forked later inherits and closes.
    fn fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.next
            .iter()
            .map(|f| f.as_raw_fd())
            .chain([self.reports.as_raw_fd(), self.setup_rx.as_raw_fd()])
    }

    /// Fork a scenario process; `others` are the parent's ends of the
    /// pipes of the processes already running, which it closes: left open,
    /// they would hold another's pipe open and push the numbers the
    /// scenarios' pipes get past 100, where some dup2 fixed numbers.
    fn spawn(instances: &[&Instance], ctx: &Ctx, others: &[RawFd]) -> nix::Result<Worker> {
        let (next_rx, next_tx) = pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let (rx, tx) = pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        // Read by the parent, so a failed setup step is known even when the
        // instance then hangs and is killed.
        let (setup_rx, setup_tx) =
            pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
        let home = getpgrp();
        // SAFETY: the child only runs scenarios and then _exit()s; it never
        // returns into the caller's stack, and touches no stdio lock (its
        // panic hook is silenced, reports go through the pipe).
        match unsafe { fork() }? {
            ForkResult::Child => {
                drop((next_tx, rx, setup_rx));
                for &fd in others {
                    let _ = nix::unistd::close(fd);
                }
                worker_main(instances, ctx, home, next_rx, tx, setup_tx)
            }
            ForkResult::Parent { child } => {
                // Both sides set the group so the parent can kill the whole
                // tree whichever runs first.
                let _ = setpgid(child, child);
                Ok(Worker {
                    pid: child,
                    next: Some(next_tx),
                    reports: rx,
                    setup_rx,
                    bytes: Vec::new(),
                    failures: Vec::new(),
                    current: None,
                })
            }
        }
    }

    /// Tell the process to exit once idle. Said, not left to the end of
    /// the pipe: a scenario process forked meanwhile by another executor
    /// in this process (tests run several at once) holds a copy of its
    /// write end.
    fn stop(&mut self) {
        if let Some(next) = self.next.take() {
            let _ = nix::unistd::write(&next, &STOP.to_ne_bytes());
        }
    }

    fn idle(&self) -> bool {
        self.current.is_none() && self.next.is_some()
    }

    fn assign(&mut self, k: usize, timeout: Duration) -> nix::Result<()> {
        let next = self.next.as_ref().ok_or(Errno::EPIPE)?;
        let index = (k as u32).to_ne_bytes();
        if nix::unistd::write(next, &index)? != index.len() {
            return Err(Errno::EIO);
        }
        let started = Instant::now();
        self.current = Some(Current {
            k,
            started,
            deadline: started + timeout,
            extended: 0,
        });
        Ok(())
    }

    /// Read what the reports pipe has: the reports complete so far, and
    /// whether the pipe is at its end (the process and everything it
    /// started have closed it) or broken.
    fn read_some(&mut self) -> (Vec<Report>, bool) {
        let mut chunk = [0u8; 4096];
        let end = match nix::unistd::read(self.reports.as_fd(), &mut chunk) {
            Ok(0) => true,
            Ok(n) => {
                self.bytes.extend_from_slice(&chunk[..n]);
                false
            }
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => false,
            Err(_) => true,
        };
        let mut reports = Vec::new();
        while let Some(nl) = self.bytes.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.bytes.drain(..=nl).collect();
            reports.extend(Report::decode(&line[..nl]));
        }
        (reports, end)
    }

    /// Read the instance channel: keep its setup failures, and say whether
    /// the instance under way finished a case since the last read.
    fn read_channel(&mut self) -> bool {
        let current = self.current.as_ref().map(|c| c.k);
        let mut case_done = false;
        for (tag, said) in crate::setup::said(&self.setup_rx) {
            match said {
                Said::Failed(text) => self.failures.push((tag, text)),
                Said::CaseDone => case_done |= Some(tag) == current,
            }
        }
        case_done
    }

    /// Whether the instance under way is past its deadline. One that
    /// finished a case since its deadline was last set (see
    /// [`crate::setup::case_done`]) is not: it gets `timeout` more from
    /// now, and its index comes back.
    fn late(&mut self, now: Instant, timeout: Duration) -> (bool, Option<usize>) {
        if !self.current.as_ref().is_some_and(|c| now >= c.deadline) {
            return (false, None);
        }
        if !self.read_channel() {
            return (true, None);
        }
        let c = self.current.as_mut().expect("an instance under way");
        c.deadline = now + timeout;
        c.extended += 1;
        (false, Some(c.k))
    }

    /// The first setup failure of instance `k`, if one was reported.
    fn setup_failure(&mut self, k: usize) -> Option<String> {
        self.read_channel();
        let at = self.failures.iter().position(|(tag, _)| *tag == k)?;
        let failure = self.failures.remove(at).1;
        self.failures.retain(|(tag, _)| *tag != k);
        Some(failure)
    }

    /// The outcome the process reported for instance `k`, unless one of
    /// the instance's processes reported a failed setup step: that is the
    /// outcome then, whatever the scenario made of the subject that gave up.
    fn settle(&mut self, k: usize, reported: Outcome) -> Outcome {
        match self.setup_failure(k) {
            Some(failure) => Err(Stop::Error(failure)),
            None => reported,
        }
    }

    /// End the process (see [`Worker::end`]) and the instance under way,
    /// if any, with its index, outcome and time so far. `cut_short` says
    /// why it was ended (a timeout, an interrupt); without it the process
    /// ended on its own, and its exit status says how. A failed setup
    /// step goes first, a hang or a crash included.
    fn abandon(&mut self, cut_short: Option<String>) -> Option<(usize, Outcome, Duration)> {
        let status = self.end();
        let c = self.current.take()?;
        let why = match (self.setup_failure(c.k), cut_short) {
            (Some(failure), Some(why)) => format!("{failure} (then {why})"),
            (Some(failure), None) => failure,
            (None, Some(why)) => why,
            (None, None) => vanished(status),
        };
        Some((c.k, Err(Stop::Error(why)), c.started.elapsed()))
    }

    /// Kill the process, everything left of its instance, and reap it.
    fn end(&mut self) -> nix::Result<WaitStatus> {
        self.next = None;
        // The process itself too: between instances it stands outside its
        // group (see `keep_going`).
        let _ = kill(Pid::from_raw(-self.pid.as_raw()), Signal::SIGKILL);
        let _ = kill(self.pid, Signal::SIGKILL);
        waitpid(self.pid, None)
    }
}

fn worker_main(
    instances: &[&Instance],
    ctx: &Ctx,
    home: Pid,
    next: OwnedFd,
    tx: OwnedFd,
    setup: OwnedFd,
) -> ! {
    let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
    // SAFETY: plain prctl/sigprocmask calls on our own process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
    // Rust's runtime installs SIGSEGV/SIGBUS handlers for stack-overflow
    // reports; scenarios start from the kernel's defaults instead.
    // The run's own SIGINT/SIGTERM handler (crate::interrupt) is no
    // subject's business either.
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGCHLD,
        Signal::SIGPIPE,
        Signal::SIGSYS,
        Signal::SIGTRAP,
        Signal::SIGSEGV,
        Signal::SIGBUS,
    ] {
        // SAFETY: resetting to the default disposition is always sound.
        let _ = unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl) };
    }
    no_core_files();
    std::panic::set_hook(Box::new(|_| {}));
    // Without a probe (no /proc) each process runs one instance.
    let probe = Probe::open().ok();
    let fresh = probe.as_ref().map(Probe::snapshot);
    while let Some(k) = read_index(&next) {
        let Some(inst) = instances.get(k) else { break };
        crate::setup::begin_instance(&setup, k, ctx.fail_setup.clone());
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| inst.run(ctx))).unwrap_or_else(|payload| {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(Stop::Error(format!("scenario panicked: {msg}")))
        });
        let duration = started.elapsed();
        // A scenario that broke down (an error, a panic) may have stopped
        // anywhere: its process is not trusted with another instance.
        let goes_on = !matches!(outcome, Err(Stop::Error(_)))
            && probe
                .as_ref()
                .zip(fresh.as_ref())
                .is_some_and(|(probe, fresh)| keep_going(home, probe, fresh));
        let report = Report {
            k,
            duration,
            goes_on,
            outcome,
        };
        if write_all(&tx, &report.encode()).is_err() || !goes_on {
            break;
        }
    }
    // SAFETY: _exit skips atexit handlers and destructors that belong to the parent.
    unsafe { libc::_exit(0) }
}

/// After an instance: whether this process is as it was before the first
/// one, with no child and nothing else in its process group left, and
/// the descriptors the instance left open closed. Leftover processes are
/// killed; the process then runs nothing more (the parent kills its
/// group as it reaps it).
fn keep_going(home: Pid, probe: &Probe, fresh: &Snapshot) -> bool {
    let no_children = matches!(
        waitpid(
            Pid::from_raw(-1),
            Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)
        ),
        Err(Errno::ECHILD)
    );
    if !no_children {
        return false;
    }
    // Orphans of the instance are still in this process's group. Step out
    // of it to the parent's group, so a signal to the group reaches only
    // them; ESRCH means there are none.
    let me = nix::unistd::getpid();
    // Group 0 is no group (the kernel starts init in none): stepping "into"
    // it would keep this process in its own, and the signal would be ours.
    if home.as_raw() <= 0 || home == me || setpgid(me, home).is_err() {
        return false;
    }
    let leftovers = kill(Pid::from_raw(-me.as_raw()), Signal::SIGKILL) != Err(Errno::ESRCH);
    if setpgid(me, me).is_err() || leftovers {
        return false;
    }
    probe.close_strays() && probe.snapshot() == *fresh
}

/// What the parent writes instead of an index when a scenario process is
/// to exit.
const STOP: u32 = u32::MAX;

/// The next instance's index, or None once the parent said stop or closed
/// the pipe.
fn read_index(next: &OwnedFd) -> Option<usize> {
    let mut index = [0u8; 4];
    loop {
        match nix::unistd::read(next.as_fd(), &mut index) {
            Ok(4) if u32::from_ne_bytes(index) == STOP => return None,
            Ok(4) => return Some(u32::from_ne_bytes(index) as usize),
            Err(Errno::EINTR) => continue,
            // The parent writes the four bytes at once (a pipe write under
            // PIPE_BUF is atomic): anything else is the end.
            _ => return None,
        }
    }
}

/// Subjects killed by SIGSYS or SIGSEGV would otherwise leave core files
/// wherever kconform runs. RLIMIT_CORE=1 stops both kinds of dump: a file
/// dump needs at least a page, and a pipe dump refuses a limit of 1.
/// Scenarios about the core flag set their own limit.
fn no_core_files() {
    if let Ok((_, hard)) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_CORE)
    {
        let soft = if hard >= 1 { 1 } else { 0 };
        let _ =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, soft, hard);
    }
}

fn write_all(fd: &OwnedFd, mut buf: &[u8]) -> nix::Result<()> {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn poll_timeout(d: Duration) -> PollTimeout {
    // Rounded up, so a deadline a fraction of a millisecond away is not
    // polled for with 0 over and over.
    let ms = d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

/// Why an instance past its deadline was killed.
fn timed_out(w: &Worker, timeout: Duration) -> String {
    let secs = timeout.as_secs_f64();
    match w.current.as_ref() {
        Some(c) if c.extended > 0 => format!(
            "timed out: no case done in {secs:.1} s ({:.1} s in all); the scenario's processes were killed",
            c.started.elapsed().as_secs_f64()
        ),
        _ => format!("timed out after {secs:.1} s; the scenario's processes were killed"),
    }
}

/// Why a scenario process that ended before it reported gave no outcome.
fn vanished(status: nix::Result<WaitStatus>) -> String {
    match status {
        Ok(WaitStatus::Signaled(_, sig, _)) => {
            format!("scenario process killed by {sig} before it reported")
        }
        Ok(WaitStatus::Exited(_, code)) => {
            format!("scenario process exited {code} before it reported")
        }
        other => format!("scenario process vanished before it reported ({other:?})"),
    }
}

/// Give instance `k` to an idle scenario process, or to a new one. An idle
/// process that cannot take it (gone since its last report) runs nothing
/// more, and the next is tried; a new one that cannot is an error.
fn hand_out(
    pool: &mut Vec<Worker>,
    k: usize,
    instances: &[&Instance],
    ctx: &Ctx,
    timeout: Duration,
) -> Result<(), String> {
    while let Some(slot) = pool.iter().position(Worker::idle) {
        match pool[slot].assign(k, timeout) {
            Ok(()) => return Ok(()),
            // Reaped at its end of file, like any process that is done.
            Err(_) => pool[slot].next = None,
        }
    }
    let others: Vec<RawFd> = pool.iter().flat_map(Worker::fds).collect();
    let mut w = Worker::spawn(instances, ctx, &others)
        .map_err(|e| format!("could not fork the scenario process: {e}"))?;
    let handed = w.assign(k, timeout);
    if handed.is_err() {
        w.next = None;
    }
    pool.push(w);
    handed.map_err(|e| format!("could not hand the instance to its scenario process: {e}"))
}

/// Run many instances, `jobs` at a time; `on_start` and `on_done` see each
/// as it begins and ends, with its index in `instances`, and `on_more_time`
/// each time one past its deadline had finished a case since the deadline
/// was set, and got `timeout` more (see [`crate::setup::case_done`]).
/// Results come back in that order, none lost.
///
/// One thread hands out every instance and waits on all the scenario
/// processes at once. Under QEMU's TCG, forking from a process whose
/// threads run on several vCPUs cost twice the CPU of forking from one
/// thread: every fork write-protects the siblings' pages, which shoots
/// down their TLBs on the other vCPUs and faults them back in afterwards.
pub fn execute_all(
    instances: &[&Instance],
    ctx: &Ctx,
    jobs: usize,
    timeout: Duration,
    on_start: &dyn Fn(usize, &Instance),
    on_more_time: &dyn Fn(usize, &Instance),
    on_done: &dyn Fn(usize, &Instance, &Execution),
) -> Vec<Execution> {
    let mut results: Vec<Option<Execution>> = instances.iter().map(|_| None).collect();
    let mut pool: Vec<Worker> = Vec::new();
    let mut next = 0;
    let mut finished = |k: usize, outcome: Outcome, duration: Duration| {
        let exec = Execution { outcome, duration };
        on_done(k, instances[k], &exec);
        results[k] = Some(exec);
    };
    while next < instances.len() || !pool.is_empty() {
        if crate::interrupt::requested() {
            // Nothing new starts; what runs is killed and says why.
            for mut w in pool.drain(..) {
                if let Some((k, outcome, took)) = w.abandon(Some("interrupted".into())) {
                    finished(k, outcome, took);
                }
            }
            break;
        }
        let busy = pool.iter().filter(|w| w.current.is_some()).count();
        for _ in busy..jobs.max(1) {
            if next >= instances.len() {
                break;
            }
            let (k, inst) = (next, instances[next]);
            next += 1;
            on_start(k, inst);
            if let Err(why) = hand_out(&mut pool, k, instances, ctx, timeout) {
                finished(k, Err(Stop::Error(why)), Duration::ZERO);
            }
        }
        if next >= instances.len() {
            // Nothing left to hand out: idle processes may go.
            for w in pool.iter_mut().filter(|w| w.idle()) {
                w.stop();
            }
        }
        let now = Instant::now();
        let nearest = pool
            .iter()
            .filter_map(|w| w.current.as_ref().map(|c| c.deadline))
            .min();
        // Never long, so an interrupt taken by another thread is seen soon.
        let wait = nearest
            .map_or(Duration::from_millis(200), |d| {
                d.saturating_duration_since(now)
            })
            .min(Duration::from_millis(200));
        let mut fds: Vec<PollFd> = pool
            .iter()
            .map(|w| PollFd::new(w.reports.as_fd(), PollFlags::POLLIN))
            .collect();
        let polled = poll(&mut fds, poll_timeout(wait)).map(|_| {
            fds.iter()
                .map(|f| f.revents().is_some_and(|e| !e.is_empty()))
                .collect::<Vec<bool>>()
        });
        drop(fds);
        let ready = match polled {
            Ok(ready) => ready,
            Err(Errno::EINTR) => vec![false; pool.len()],
            Err(e) => {
                // Not transient: stop waiting rather than spin until the
                // deadlines, and say so for every instance under way.
                for mut w in pool.drain(..) {
                    let why = format!("could not wait for the scenario process (poll: {e})");
                    if let Some((k, outcome, took)) = w.abandon(Some(why)) {
                        finished(k, outcome, took);
                    }
                }
                continue;
            }
        };
        // One clock read for every deadline: under TCG without a TSC a
        // read is a system call, and this loop runs at every report.
        let now = Instant::now();
        // From the back, so removing one leaves the indices before it valid.
        for slot in (0..pool.len()).rev() {
            let w = &mut pool[slot];
            let (reports, at_end) = if ready[slot] {
                w.read_some()
            } else {
                (Vec::new(), false)
            };
            for r in reports {
                if w.current.as_ref().map(|c| c.k) != Some(r.k) {
                    continue;
                }
                w.current = None;
                if !r.goes_on {
                    w.next = None;
                }
                let outcome = w.settle(r.k, r.outcome);
                finished(r.k, outcome, r.duration);
            }
            let (late, more_time) = w.late(now, timeout);
            if let Some(k) = more_time {
                on_more_time(k, instances[k]);
            }
            if at_end || late {
                let why = late.then(|| timed_out(w, timeout));
                if let Some((k, outcome, took)) = pool.swap_remove(slot).abandon(why) {
                    finished(k, outcome, took);
                }
            }
        }
    }
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| Execution {
                outcome: Err(Stop::Error("not run: interrupted".into())),
                duration: Duration::ZERO,
            })
        })
        .collect()
}

/// `f` over every item, `jobs` at a time, each item taken by the next
/// free worker; results in the items' order, none lost.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(usize, &T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(i, item);
                slots.lock().unwrap()[i] = Some(r);
            });
        }
    });
    slots
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every item was taken by a worker"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Area, Needs, Observation};

    fn ctx() -> Ctx {
        Ctx {
            iterations: 1,
            probe_exe: "/bin/true".into(),
            shared_dir: None,
            fail_setup: None,
        }
    }

    #[test]
    fn observation_crosses_the_process_boundary() {
        let inst = Instance::from_fn("t/ok", Area::HARNESS, Needs::default(), |_| {
            Ok(Observation::new("exit 7").detail("attempts", 3))
        });
        let e = execute(&inst, &ctx(), Duration::from_secs(5));
        assert_eq!(
            e.outcome,
            Ok(Observation::new("exit 7").detail("attempts", 3))
        );
    }

    #[test]
    fn a_crashing_instance_is_an_error_not_a_lost_result() {
        let inst = Instance::from_fn("t/crash", Area::HARNESS, Needs::default(), |_| {
            // SAFETY: deliberately kill ourselves to simulate a crash.
            unsafe { libc::raise(libc::SIGSEGV) };
            unreachable!()
        });
        let e = execute(&inst, &ctx(), Duration::from_secs(5));
        assert_eq!(
            e.outcome,
            Err(Stop::Error(
                "scenario process killed by SIGSEGV before it reported".into()
            ))
        );
    }

    #[test]
    fn a_panicking_instance_reports_the_panic() {
        let inst = Instance::from_fn("t/panic", Area::HARNESS, Needs::default(), |_| {
            panic!("setup went wrong")
        });
        let e = execute(&inst, &ctx(), Duration::from_secs(5));
        assert_eq!(
            e.outcome,
            Err(Stop::Error("scenario panicked: setup went wrong".into()))
        );
    }

    #[test]
    fn a_failed_setup_step_is_the_error_even_when_the_subject_is_observed() {
        let inst = Instance::from_fn("t/setup", Area::HARNESS, Needs::default(), |_| {
            // A subject gives up on its setup; the scenario goes on to
            // observe it as it would a kernel's doing.
            let pid = match unsafe { fork() }.unwrap() {
                ForkResult::Child => {
                    crate::setup::or_exit(
                        "prctl(PR_SET_NO_NEW_PRIVS)",
                        Err::<(), _>(nix::Error::EINVAL),
                    );
                    unreachable!()
                }
                ForkResult::Parent { child } => child,
            };
            let status = waitpid(pid, None).unwrap();
            Ok(Observation::new(format!("{status:?}")))
        });
        let exec = execute(&inst, &ctx(), Duration::from_secs(5));
        assert_eq!(
            exec.outcome,
            Err(Stop::Error(
                "setup: prctl(PR_SET_NO_NEW_PRIVS) failed: EINVAL: Invalid argument".into()
            ))
        );
    }

    /// A setup failure is the error even when the instance then hangs,
    /// and the hang is said after it.
    #[test]
    fn a_setup_failure_then_a_hang_is_the_setup_failure_then_the_timeout() {
        let inst = Instance::from_fn("t/setup-hang", Area::HARNESS, Needs::default(), |_| {
            // SAFETY: the child only reports a failed step and _exit()s.
            if let ForkResult::Child = unsafe { fork() }? {
                crate::setup::or_exit("pipe2", Err::<(), _>(nix::Error::EMFILE));
            }
            std::thread::sleep(Duration::from_secs(60));
            Ok(Observation::new("never"))
        });
        match execute(&inst, &ctx(), Duration::from_millis(300)).outcome {
            Err(Stop::Error(msg)) => assert!(
                msg.starts_with(
                    "setup: pipe2 failed: EMFILE: Too many open files (then timed out after 0.3 s"
                ),
                "{msg}"
            ),
            other => panic!("expected the setup failure, got {other:?}"),
        }
    }

    #[test]
    fn a_hanging_instance_times_out_and_its_children_die() {
        let inst = Instance::from_fn("t/hang", Area::HARNESS, Needs::default(), |_| {
            // A grandchild that would outlive the instance if not killed.
            if let Ok(ForkResult::Child) = unsafe { fork() } {
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            std::thread::sleep(Duration::from_secs(60));
            Ok(Observation::new("never"))
        });
        let start = Instant::now();
        let e = execute(&inst, &ctx(), Duration::from_millis(300));
        assert!(start.elapsed() < Duration::from_secs(5));
        match e.outcome {
            Err(Stop::Error(msg)) => assert!(msg.starts_with("timed out after 0.3 s"), "{msg}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    /// A many-case instance slower in all than the timeout, but never a
    /// timeout without a case done, runs to its end; one whose next case
    /// hangs is killed a timeout after its last case at the latest.
    #[test]
    fn the_timeout_bounds_each_case_of_a_many_case_instance() {
        let cases = |then_hang: bool| {
            move |_: &Ctx| {
                for _ in 0..4 {
                    std::thread::sleep(Duration::from_millis(200));
                    crate::setup::case_done();
                }
                if then_hang {
                    std::thread::sleep(Duration::from_secs(60));
                }
                Ok(Observation::new("4 cases"))
            }
        };
        let slow = Instance::from_fn("t/cases", Area::HARNESS, Needs::default(), cases(false));
        let more_time = AtomicUsize::new(0);
        let out = execute_all(
            &[&slow],
            &ctx(),
            1,
            Duration::from_millis(300),
            &|_, _| {},
            &|_, _| {
                more_time.fetch_add(1, Ordering::Relaxed);
            },
            &|_, _, _| {},
        );
        assert_eq!(out[0].outcome, Ok(Observation::new("4 cases")));
        assert!(out[0].duration >= Duration::from_millis(800));
        assert!(more_time.load(Ordering::Relaxed) >= 2, "{more_time:?}");

        let hangs = Instance::from_fn("t/cases-hang", Area::HARNESS, Needs::default(), cases(true));
        let start = Instant::now();
        match execute(&hangs, &ctx(), Duration::from_millis(300)).outcome {
            Err(Stop::Error(msg)) => {
                assert!(msg.starts_with("timed out: no case done in 0.3 s"), "{msg}")
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        // The last case ends at 0.8 s; its deadline is moved on at most a
        // timeout later, and passes a timeout after that.
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    fn run_all(insts: &[Instance], jobs: usize, timeout: Duration) -> Vec<Execution> {
        let refs: Vec<&Instance> = insts.iter().collect();
        execute_all(
            &refs,
            &ctx(),
            jobs,
            timeout,
            &|_, _| {},
            &|_, _| {},
            &|_, _, _| {},
        )
    }

    /// `n` instances that each wait until all `n` have started (only a
    /// run with `n` under way at once gets them past the barrier), then
    /// observe `then()`.
    fn met_at_once(dir: &std::path::Path, n: usize, then: fn() -> String) -> Vec<Instance> {
        (0..n)
            .map(|i| {
                let dir = dir.to_path_buf();
                Instance::from_fn(
                    &format!("t/{i}"),
                    Area::HARNESS,
                    Needs::default(),
                    move |_| {
                        std::fs::write(dir.join(i.to_string()), "")?;
                        while std::fs::read_dir(&dir)?.count() < n {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Ok(Observation::new(then()))
                    },
                )
            })
            .collect()
    }

    #[test]
    fn execute_all_runs_jobs_instances_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let insts = met_at_once(dir.path(), 3, || "met".into());
        for e in run_all(&insts, 3, Duration::from_secs(20)) {
            assert_eq!(e.outcome, Ok(Observation::new("met")));
        }
    }

    /// A hang times out on its own; the instances beside it and after it
    /// still report.
    #[test]
    fn execute_all_times_out_a_hang_without_holding_up_the_rest() {
        let mut insts = vec![Instance::from_fn(
            "t/hang",
            Area::HARNESS,
            Needs::default(),
            |_| {
                std::thread::sleep(Duration::from_secs(60));
                Ok(Observation::new("never"))
            },
        )];
        insts.extend((0..5).map(|i| {
            Instance::from_fn(
                &format!("t/{i}"),
                Area::HARNESS,
                Needs::default(),
                move |_| Ok(Observation::new(format!("n={i}"))),
            )
        }));
        let out = run_all(&insts, 2, Duration::from_millis(500));
        match &out[0].outcome {
            Err(Stop::Error(msg)) => assert!(msg.starts_with("timed out after 0.5 s"), "{msg}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        for (i, e) in out[1..].iter().enumerate() {
            assert_eq!(e.outcome, Ok(Observation::new(format!("n={i}"))));
        }
    }

    fn instance(id: &str, f: fn() -> String) -> Instance {
        Instance::from_fn(id, Area::HARNESS, Needs::default(), move |_| {
            Ok(Observation::new(f()))
        })
    }

    fn observed(e: &Execution) -> String {
        match &e.outcome {
            Ok(o) => o.text.clone(),
            Err(stop) => panic!("expected an observation, got {stop:?}"),
        }
    }

    fn pid() -> String {
        std::process::id().to_string()
    }

    #[test]
    fn instances_that_leave_their_process_as_they_found_it_share_it() {
        let insts: Vec<Instance> = (0..3).map(|i| instance(&format!("t/{i}"), pid)).collect();
        let out = run_all(&insts, 1, Duration::from_secs(5));
        let pids: Vec<String> = out.iter().map(observed).collect();
        assert_eq!(pids[0], pids[1]);
        assert_eq!(pids[1], pids[2]);
        assert_ne!(pids[0], std::process::id().to_string());
    }

    #[test]
    fn an_instance_that_changes_its_process_leaves_the_next_a_fresh_one() {
        fn umask() -> u32 {
            // SAFETY: umask is read by setting it, and set back at once.
            unsafe {
                let m = libc::umask(0o022);
                libc::umask(m);
                m
            }
        }
        let insts = vec![
            instance("t/changes", || {
                // SAFETY: umask(2) only sets this process's mask.
                unsafe { libc::umask(0o077) };
                pid()
            }),
            instance("t/after", || format!("{} {:o}", pid(), umask())),
        ];
        let out = run_all(&insts, 1, Duration::from_secs(5));
        let first = observed(&out[0]);
        let after = observed(&out[1]);
        let (second, mask) = after.split_once(' ').unwrap();
        assert_ne!(first, second, "the changed process ran the next instance");
        assert_eq!(mask, format!("{:o}", umask()));
    }

    /// A grandchild orphaned by its parent, still in the instance's
    /// process group: killed before the next instance runs.
    #[test]
    fn what_an_instance_leaves_running_is_killed_before_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("orphan");
        let path = at.clone();
        let leaves = Instance::from_fn("t/leaves", Area::HARNESS, Needs::default(), move |_| {
            // SAFETY: the children only sleep, write a pid and _exit().
            match unsafe { fork() }? {
                ForkResult::Child => {
                    if let Ok(ForkResult::Child) = unsafe { fork() } {
                        let _ = std::fs::write(&path, pid());
                        std::thread::sleep(Duration::from_secs(60));
                    }
                    unsafe { libc::_exit(0) }
                }
                ForkResult::Parent { child } => {
                    waitpid(child, None)?;
                }
            }
            while !path.exists() {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(Observation::new("left one"))
        });
        let path = at.clone();
        let checks = Instance::from_fn("t/checks", Area::HARNESS, Needs::default(), move |_| {
            let orphan: i32 = std::fs::read_to_string(&path)?.parse().unwrap();
            // Dead, or a zombie waiting for whoever reaps orphans.
            let alive = |pid: i32| {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                    !s.rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z')
                })
            };
            let since = Instant::now();
            while alive(orphan) && since.elapsed() < Duration::from_secs(2) {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(Observation::new(if alive(orphan) {
                "alive"
            } else {
                "gone"
            }))
        });
        let out = run_all(&[leaves, checks], 1, Duration::from_secs(10));
        assert_eq!(observed(&out[0]), "left one");
        assert_eq!(observed(&out[1]), "gone");
    }

    #[test]
    fn a_descriptor_an_instance_leaves_open_is_closed_before_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("fd");
        let path = at.clone();
        let opens = Instance::from_fn("t/opens", Area::HARNESS, Needs::default(), move |_| {
            let f = std::fs::File::open("/proc/self/stat")?;
            let fd = std::os::fd::IntoRawFd::into_raw_fd(f);
            std::fs::write(&path, fd.to_string())?;
            Ok(Observation::new(pid()))
        });
        let looks = Instance::from_fn("t/looks", Area::HARNESS, Needs::default(), move |_| {
            let fd: i32 = std::fs::read_to_string(&at)?.parse().unwrap();
            // SAFETY: F_GETFD only asks whether the number is open.
            let open = unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0;
            Ok(Observation::new(format!(
                "{} {}",
                pid(),
                if open { "open" } else { "closed" }
            )))
        });
        let out = run_all(&[opens, looks], 1, Duration::from_secs(5));
        assert_eq!(observed(&out[1]), format!("{} closed", observed(&out[0])));
    }

    /// The subject of the first instance gives up on a setup step; the
    /// scenario still observes and the process runs the second, which
    /// must not inherit the failure.
    #[test]
    fn a_setup_failure_belongs_to_its_own_instance_in_a_shared_process() {
        let fails = Instance::from_fn("t/fails", Area::HARNESS, Needs::default(), |_| {
            // SAFETY: the child only reports a failed step and _exit()s.
            match unsafe { fork() }? {
                ForkResult::Child => {
                    crate::setup::or_exit("pipe2", Err::<(), _>(nix::Error::EMFILE));
                    unreachable!()
                }
                ForkResult::Parent { child } => {
                    waitpid(child, None)?;
                }
            }
            Ok(Observation::new(pid()))
        });
        let insts = vec![fails, instance("t/clean", pid)];
        let out = run_all(&insts, 1, Duration::from_secs(5));
        assert_eq!(
            out[0].outcome,
            Err(Stop::Error(
                "setup: pipe2 failed: EMFILE: Too many open files".into()
            ))
        );
        assert_eq!(out[1].outcome, Ok(Observation::new(observed(&out[1]))));
    }

    /// A crash ends the process the instances before it shared; those
    /// after it run in a fresh one, and every result comes back.
    #[test]
    fn a_crash_in_a_shared_process_loses_no_other_result() {
        let insts: Vec<Instance> = (0..12)
            .map(|i| {
                Instance::from_fn(
                    &format!("t/{i}"),
                    Area::HARNESS,
                    Needs::default(),
                    move |_| {
                        if i == 5 {
                            // SAFETY: deliberately kill ourselves to simulate a crash.
                            unsafe { libc::raise(libc::SIGSEGV) };
                        }
                        Ok(Observation::new(format!("n={i}")))
                    },
                )
            })
            .collect();
        let out = run_all(&insts, 2, Duration::from_secs(5));
        for (i, e) in out.iter().enumerate() {
            if i == 5 {
                assert_eq!(
                    e.outcome,
                    Err(Stop::Error(
                        "scenario process killed by SIGSEGV before it reported".into()
                    ))
                );
            } else {
                assert_eq!(e.outcome, Ok(Observation::new(format!("n={i}"))));
            }
        }
    }

    /// Each executor's scenario processes hold copies of the other's
    /// pipes (forked from the same process): both still finish.
    #[test]
    fn executors_on_two_threads_at_once_both_finish() {
        let insts: Vec<Instance> = (0..6).map(|i| instance(&format!("t/{i}"), pid)).collect();
        let outs: Vec<Vec<Execution>> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..2)
                .map(|_| s.spawn(|| run_all(&insts, 2, Duration::from_secs(20))))
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        for out in outs {
            assert!(out.iter().all(|e| e.outcome.is_ok()));
        }
    }

    fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }

    /// Eight processes at once: none holds the others' pipes, which would
    /// push the numbers its scenarios' descriptors get up with the jobs.
    #[test]
    fn a_scenario_process_holds_none_of_the_others_pipes() {
        let dir = tempfile::tempdir().unwrap();
        let insts = met_at_once(dir.path(), 8, || open_fds().to_string());
        let before = open_fds();
        for e in run_all(&insts, 8, Duration::from_secs(20)) {
            let open: usize = observed(&e).parse().unwrap();
            // Its own three pipes, and the status file and namespace
            // directory it reads; not 3 more for each of the other seven.
            assert!(
                open <= before + 6,
                "{open} descriptors open, {before} before"
            );
        }
    }

    #[test]
    fn execute_all_keeps_order_and_loses_nothing() {
        let insts: Vec<Instance> = (0..20)
            .map(|i| {
                Instance::from_fn(
                    &format!("t/{i}"),
                    Area::HARNESS,
                    Needs::default(),
                    move |_| Ok(Observation::new(format!("n={i}"))),
                )
            })
            .collect();
        let refs: Vec<&Instance> = insts.iter().collect();
        let seen = AtomicUsize::new(0);
        let out = execute_all(
            &refs,
            &ctx(),
            4,
            Duration::from_secs(5),
            &|_, _| {},
            &|_, _| {},
            &|_, _, _| {
                seen.fetch_add(1, Ordering::Relaxed);
            },
        );
        assert_eq!(seen.load(Ordering::Relaxed), 20);
        for (i, e) in out.iter().enumerate() {
            assert_eq!(e.outcome, Ok(Observation::new(format!("n={i}"))));
        }
    }
}
