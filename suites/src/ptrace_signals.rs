//! Signals under ptrace (BRIEF item 5).
//!
//! Pins down PTRACE_EVENT_EXIT (PTRACE_O_TRACEEXIT) for every way a task
//! leaves, with what PTRACE_GETEVENTMSG says there; what a SIGKILL does to
//! a task stopped at PTRACE_EVENT_EXIT and at every other kind of
//! ptrace-stop; that SIGKILL never gives the tracer a signal-delivery stop
//! while every other signal does, and that at such a stop the tracer may
//! suppress the signal, deliver it, swap it for another or rewrite its
//! siginfo; and group-stop under PTRACE_SEIZE: PTRACE_EVENT_STOP,
//! PTRACE_LISTEN, SIGCONT and PTRACE_INTERRUPT. Forced signals under a
//! tracer belong to sa-immutable, RET_KILL at the EXIT stop to ret-kill.
//!
//! Observations are the tracer's view: each stop as [`describe`] writes it
//! (`stop SIGUSR1`, `event STOP SIGSTOP`), EXIT stops with the event
//! message (`event EXIT msg=0x500`, a wait status), what the tracer did
//! (`cont SIGUSR2`, `listen=ok`) and how the subject ended, joined by
//! ` -> `. A subject with threads gets one list per task (`main: ...;
//! thread: ...`) because the order across tasks is a race; the stops that
//! only set threads up (the leader's PTRACE_EVENT_CLONE and a new thread's
//! first PTRACE_EVENT_STOP) are left out. `notes=` lists what subject code
//! ran afterwards.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use kconform_core::{
    setup, Area, Ctx, Instance, Needs, Observation, Outcome, Param, Scenario, Stop,
};
use nix::errno::Errno;
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{kill, raise, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::kit::procfs;
use crate::kit::sig::Disposition;
use crate::kit::task::{describe, event_name, is_final, require, Gate, Notes};
use crate::kit::trace::{errno_name, listen, result_name, Attach, Tracee};
use crate::kit::waits;

// ---------------------------------------------------------------------------
// Subject code: threads that park, exit alone or exit the group.

/// Block the calling thread until a signal ends it.
fn park() -> ! {
    loop {
        // SAFETY: pause(2) has no arguments.
        unsafe { libc::pause() };
    }
}

extern "C" fn parked_thread(_: *mut libc::c_void) -> *mut libc::c_void {
    park()
}

/// exit_group(7) from a thread that is not the leader, once the leader
/// has written to the pipe whose read end is the argument.
extern "C" fn group_exiting_thread(fd: *mut libc::c_void) -> *mut libc::c_void {
    await_byte(fd as libc::c_int);
    // SAFETY: exit_group does not return.
    unsafe { libc::syscall(libc::SYS_exit_group, 7) };
    std::ptr::null_mut()
}

/// Write to the pipe whose write end is the argument, then park.
extern "C" fn announcing_thread(fd: *mut libc::c_void) -> *mut libc::c_void {
    send_byte(fd as libc::c_int);
    park()
}

fn send_byte(fd: libc::c_int) {
    // SAFETY: write(2) of one byte from a stack buffer.
    unsafe { libc::write(fd, b"r".as_ptr() as *const libc::c_void, 1) };
}

fn await_byte(fd: libc::c_int) {
    let mut b = [0u8; 1];
    // SAFETY: read(2) of one byte into a stack buffer; retried on EINTR.
    while unsafe { libc::read(fd, b.as_mut_ptr() as *mut libc::c_void, 1) } < 0
        && Errno::last() == Errno::EINTR
    {}
}

/// A pipe for one "I am past this point" between the subject's threads:
/// (read end, write end) as raw fds, left open for the subject's life.
/// The subject gives up if there is none (see [`kconform_core::setup`]).
fn handshake() -> (libc::c_int, libc::c_int) {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills two fds.
    setup::or_exit(
        "pipe",
        Errno::result(unsafe { libc::pipe(fds.as_mut_ptr()) }),
    );
    (fds[0], fds[1])
}

/// exit(6) of this thread alone; the group lives on.
extern "C" fn self_exiting_thread(_: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: exit ends this thread only.
    unsafe { libc::syscall(libc::SYS_exit, 6) };
    std::ptr::null_mut()
}

fn start_thread(body: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void) -> libc::pthread_t {
    start_thread_with(body, -1)
}

/// A thread running `body` with `fd` as its argument; the subject gives
/// up if it cannot start one (see [`kconform_core::setup`]).
fn start_thread_with(
    body: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
    fd: libc::c_int,
) -> libc::pthread_t {
    let mut t: libc::pthread_t = 0;
    // SAFETY: a plain pthread running an extern "C" fn whose argument is
    // an integer carried in the pointer.
    let rc = unsafe {
        libc::pthread_create(
            &mut t,
            std::ptr::null(),
            body,
            fd as isize as *mut libc::c_void,
        )
    };
    require("pthread_create", rc == 0, Errno::from_raw(rc));
    t
}

// ---------------------------------------------------------------------------
// The tracer's side.

/// A stop as the tracer logs it: EXIT stops carry GETEVENTMSG.
fn seen(s: &WaitStatus) -> String {
    match s {
        WaitStatus::PtraceEvent(pid, _, ev) if event_name(*ev) == "EXIT" => {
            match ptrace::getevent(*pid) {
                Ok(msg) => format!("event EXIT msg={msg:#x}"),
                Err(e) => format!("event EXIT msg={}", errno_name(e)),
            }
        }
        other => describe(other),
    }
}

fn is_event(s: &WaitStatus, name: &str) -> bool {
    matches!(s, WaitStatus::PtraceEvent(_, _, ev) if event_name(*ev) == name)
}

/// What the tracer does after a hook has seen a stop.
enum Then {
    /// Resume, delivering the signal of a signal-delivery stop.
    Resume,
    /// The hook has resumed the task itself (or meant to leave it).
    Done,
}

/// The tracer's view of a traced subject and its threads, one log per
/// task, kept until the leader is reaped.
struct Follow {
    leader: Pid,
    main: Vec<String>,
    thread: Vec<String>,
    known: Vec<Pid>,
}

impl Follow {
    fn new(leader: Pid) -> Self {
        Follow {
            leader,
            main: Vec::new(),
            thread: Vec::new(),
            known: vec![leader],
        }
    }

    fn log(&mut self, pid: Pid, text: impl Into<String>) {
        if pid == self.leader {
            self.main.push(text.into());
        } else {
            self.thread.push(text.into());
        }
    }

    /// Answer every stop of the subject's tasks until the leader is
    /// reaped. Each stop is logged (set-up stops excepted), then `at`
    /// sees it and says whether to resume it the usual way.
    fn run(
        &mut self,
        mut at: impl FnMut(&mut Follow, Pid, &WaitStatus) -> Then,
    ) -> Result<(), Stop> {
        for _ in 0..64 {
            let s = wait_any()?;
            let Some(pid) = s.pid() else { continue };
            let first = !self.known.contains(&pid);
            if first {
                self.known.push(pid);
            }
            if is_final(&s) {
                // A thread's own status is left out: once the group has
                // exited, wait reports the group's code for every thread
                // not yet reaped, so which one a thread gets is a race.
                if pid == self.leader {
                    self.main.push(describe(&s));
                    return Ok(());
                }
                continue;
            }
            let setup = is_event(&s, "CLONE") || (first && is_event(&s, "STOP"));
            if !setup {
                self.log(pid, seen(&s));
            }
            if let Then::Resume = at(self, pid, &s) {
                let sig = match s {
                    WaitStatus::Stopped(_, sig) => Some(sig),
                    _ => None,
                };
                let _ = ptrace::cont(pid, sig);
            }
        }
        self.main.push("...".into());
        Ok(())
    }

    /// `main: a, b; thread: c` (or the main list alone).
    fn text(&self) -> String {
        if self.thread.is_empty() {
            format!("main: {}", self.main.join(", "))
        } else {
            format!(
                "main: {}; thread: {}",
                self.main.join(", "),
                self.thread.join(", ")
            )
        }
    }
}

/// A single task's stops, one after the other, joined by ` -> `.
struct Trail(Vec<String>);

impl Trail {
    fn new() -> Self {
        Trail(Vec::new())
    }
    fn push(&mut self, s: impl Into<String>) {
        self.0.push(s.into());
    }
    /// Wait for the next stop of `tracee` and log it.
    fn next(&mut self, tracee: &Tracee) -> Result<WaitStatus, Stop> {
        let s = tracee.wait()?;
        self.push(seen(&s));
        Ok(s)
    }
    /// Resume through the remaining stops (delivering signals of
    /// delivery stops) and log them and the end.
    fn finish(&mut self, tracee: &Tracee) -> Result<(), Stop> {
        self.resume_to_end(tracee, false).map(drop)
    }
    /// [`Trail::finish`] for a task already sent SIGKILL: a syscall-stop
    /// the task is seen moving on from is passed over, not logged or
    /// resumed (see [`HELD_AFTER`]). Returns how many were.
    fn finish_killed(&mut self, tracee: &Tracee) -> Result<u32, Stop> {
        self.resume_to_end(tracee, true)
    }
    fn resume_to_end(&mut self, tracee: &Tracee, pass_fleeting: bool) -> Result<u32, Stop> {
        let mut fleeting = 0;
        let mut moved_on = None;
        for _ in 0..16 {
            let s = match moved_on.take() {
                Some(s) => s,
                None => tracee.wait()?,
            };
            if pass_fleeting && matches!(s, WaitStatus::PtraceSyscall(_)) {
                moved_on = next_change_within(tracee.pid, HELD_AFTER)?;
                if moved_on.is_some() {
                    fleeting += 1;
                    continue;
                }
            }
            self.push(seen(&s));
            let sig = match s {
                WaitStatus::Exited(..) | WaitStatus::Signaled(..) => return Ok(fleeting),
                WaitStatus::Stopped(_, sig) => Some(sig),
                _ => None,
            };
            let _ = tracee.cont(sig);
        }
        self.push("...");
        Ok(fleeting)
    }
    fn text(&self) -> String {
        self.0.join(" -> ")
    }
    /// The observation: the stops, then what the subject noted.
    fn with_notes(&self, notes: &Notes) -> Outcome {
        Ok(Observation::new(format!(
            "{}; notes={}",
            self.text(),
            notes.summary()
        )))
    }
}

/// `cont SIGUSR2`, or `cont` for none.
fn cont_text(sig: Option<Signal>) -> String {
    match sig {
        Some(s) => format!("cont {}", s.as_str()),
        None => "cont".into(),
    }
}

// ---------------------------------------------------------------------------
// PTRACE_EVENT_EXIT and its event message.

/// How the traced subject comes to exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// exit_group(5) from the only thread.
    Exit,
    /// The same without PTRACE_O_TRACEEXIT: no stop.
    ExitUntraced,
    /// A second thread calls exit(6) for itself; the leader joins it and
    /// returns 0.
    ThreadExit,
    /// A second thread calls exit_group(7) while the leader is parked.
    GroupExitFromThread,
    /// The leader calls exit_group(7) while a second thread is parked.
    GroupExitFromLeader,
    /// The tracer sends SIGKILL to the parked subject.
    Sigkill,
    /// The same with a second thread parked too.
    SigkillThreads,
    /// The tracer sends SIGTERM (default action) to the parked subject.
    FatalSignal,
}

impl Ending {
    pub const ALL: [Ending; 8] = [
        Ending::Exit,
        Ending::ExitUntraced,
        Ending::ThreadExit,
        Ending::GroupExitFromThread,
        Ending::GroupExitFromLeader,
        Ending::Sigkill,
        Ending::SigkillThreads,
        Ending::FatalSignal,
    ];

    fn threads(self) -> bool {
        matches!(
            self,
            Ending::ThreadExit
                | Ending::GroupExitFromThread
                | Ending::GroupExitFromLeader
                | Ending::SigkillThreads
        )
    }

    /// The subject's code.
    fn subject(self) -> i32 {
        match self {
            Ending::Exit | Ending::ExitUntraced => 5,
            Ending::ThreadExit => {
                let t = start_thread(self_exiting_thread);
                // SAFETY: joining the thread created above.
                unsafe { libc::pthread_join(t, std::ptr::null_mut()) };
                0
            }
            // The group exit waits until the other thread is past its
            // set-up stop (the leader's CLONE stop, the new thread's first
            // stop): a SIGKILL that moves a task from a stop the tracer has
            // read but not yet answered into its EXIT stop would have the
            // tracer's answer resume the EXIT stop unseen.
            Ending::GroupExitFromThread => {
                let (rx, tx) = handshake();
                start_thread_with(group_exiting_thread, rx);
                send_byte(tx);
                park()
            }
            Ending::GroupExitFromLeader => {
                let (rx, tx) = handshake();
                start_thread_with(announcing_thread, tx);
                await_byte(rx);
                // SAFETY: exit_group does not return.
                unsafe { libc::syscall(libc::SYS_exit_group, 7) };
                0
            }
            Ending::SigkillThreads => {
                start_thread(parked_thread);
                park()
            }
            Ending::Sigkill | Ending::FatalSignal => park(),
        }
    }

    /// Start the subject traced by us.
    fn spawn(self) -> Result<Tracee, Stop> {
        let mut options = Options::PTRACE_O_TRACEEXIT;
        if self == Ending::ExitUntraced {
            options = Options::empty();
        }
        if self.threads() {
            options |= Options::PTRACE_O_TRACECLONE;
        }
        let tracee = Tracee::spawn(Attach::Seize, options, || self.subject())?;
        match self {
            Ending::Sigkill => kill(tracee.pid, Signal::SIGKILL)?,
            Ending::FatalSignal => kill(tracee.pid, Signal::SIGTERM)?,
            _ => {}
        }
        Ok(tracee)
    }
}

impl Param for Ending {
    fn slug(&self) -> String {
        match self {
            Ending::Exit => "exit",
            Ending::ExitUntraced => "exit-without-traceexit",
            Ending::ThreadExit => "thread-exit",
            Ending::GroupExitFromThread => "exit-group-from-thread",
            Ending::GroupExitFromLeader => "exit-group-from-leader",
            Ending::Sigkill => "sigkill",
            Ending::SigkillThreads => "sigkill-multi-thread",
            Ending::FatalSignal => "fatal-signal",
        }
        .into()
    }
}

/// Every exiting task stops at PTRACE_EVENT_EXIT once, whatever ends it
/// (its own exit, another thread's exit_group, SIGKILL, a fatal signal),
/// and GETEVENTMSG there gives the wait status it will exit with: the
/// group's status for every thread a group exit takes along.
pub const EVENT_EXIT: Scenario<Ending> = Scenario {
    base: "ptrace-signals/event-exit",
    area: AREA,
    summary: "every exiting task stops at PTRACE_EVENT_EXIT with its exit status as event message",
    needs: |_| Needs::default(),
    run: event_exit,
};

fn event_exit(p: &Ending, _: &Ctx) -> Outcome {
    let tracee = p.spawn()?;
    let mut follow = Follow::new(tracee.pid);
    let leader = tracee.pid;
    let mut killed = false;
    follow.run(|_, pid, s| {
        // The second thread exists once the leader's CLONE stop is in.
        if *p == Ending::SigkillThreads && pid == leader && is_event(s, "CLONE") && !killed {
            killed = true;
            let _ = ptrace::cont(pid, None);
            let _ = kill(leader, Signal::SIGKILL);
            return Then::Done;
        }
        Then::Resume
    })?;
    Ok(Observation::new(follow.text()))
}

// ---------------------------------------------------------------------------
// SIGKILL at PTRACE_EVENT_EXIT.

/// Where the tracer sends the SIGKILL: to the process (kill) or to the
/// stopped thread (tgkill).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directed {
    Process,
    Thread,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KillAtExit {
    pub ending: Ending,
    pub directed: Directed,
}

impl Param for KillAtExit {
    fn slug(&self) -> String {
        let to = match self.directed {
            Directed::Process => "kill",
            Directed::Thread => "tgkill",
        };
        format!("{}/{to}", self.ending.slug())
    }
}

/// SIGKILL to the process, or to one of its threads.
fn sigkill(leader: Pid, tid: Pid, directed: Directed) -> Result<(), Errno> {
    match directed {
        Directed::Process => kill(leader, Signal::SIGKILL),
        Directed::Thread => {
            // SAFETY: tgkill takes integer arguments.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_tgkill,
                    leader.as_raw(),
                    tid.as_raw(),
                    libc::SIGKILL,
                )
            };
            Errno::result(rc).map(drop)
        }
    }
}

/// A SIGKILL sent to a task stopped at PTRACE_EVENT_EXIT. Since 6.1
/// (9a95f78eab70, "ptrace: Stop supporting SIGKILL for PTRACE_EVENT_EXIT")
/// a signal sent to a group that is already exiting is dropped, so the
/// stop holds until the tracer resumes it; before, the SIGKILL woke the
/// task out of the stop. A thread that exits alone is not a group exit:
/// there the SIGKILL kills the group and ends the thread's stop on every
/// kernel.
pub const SIGKILL_AT_EVENT_EXIT: Scenario<KillAtExit> = Scenario {
    base: "ptrace-signals/sigkill-at-event-exit",
    area: AREA,
    summary: "a SIGKILL to a task stopped at PTRACE_EVENT_EXIT after a group exit is dropped",
    needs: |_| Needs::default(),
    run: sigkill_at_event_exit,
};

fn sigkill_at_event_exit(p: &KillAtExit, _: &Ctx) -> Outcome {
    let tracee = p.ending.spawn()?;
    let leader = tracee.pid;
    let mut follow = Follow::new(leader);
    let mut sent = false;
    follow.run(|f, pid, s| {
        if !sent && is_event(s, "EXIT") {
            sent = true;
            let sent = sigkill(leader, pid, p.directed);
            f.log(pid, format!("sigkill={}", result_name(&sent)));
            // GETEVENTMSG works only on a task still in a ptrace-stop.
            let stop = match ptrace::getevent(pid) {
                Ok(_) => "held".to_string(),
                Err(Errno::ESRCH) => "gone".to_string(),
                Err(e) => errno_name(e),
            };
            f.log(pid, format!("stop={stop}"));
            f.log(
                pid,
                format!("cont={}", result_name(&ptrace::cont(pid, None))),
            );
            return Then::Done;
        }
        Then::Resume
    })?;
    Ok(Observation::new(follow.text()))
}

// ---------------------------------------------------------------------------
// SIGKILL ends every other ptrace-stop.

/// The ptrace-stop the tracer holds the subject in when it sends SIGKILL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    SignalDelivery,
    GroupStop,
    Listening,
    Interrupt,
    SyscallEntry,
    SyscallExit,
}

impl Held {
    pub const ALL: [Held; 6] = [
        Held::SignalDelivery,
        Held::GroupStop,
        Held::Listening,
        Held::Interrupt,
        Held::SyscallEntry,
        Held::SyscallExit,
    ];
}

impl Param for Held {
    fn slug(&self) -> String {
        match self {
            Held::SignalDelivery => "signal-delivery-stop",
            Held::GroupStop => "group-stop",
            Held::Listening => "listening",
            Held::Interrupt => "interrupt-stop",
            Held::SyscallEntry => "syscall-entry-stop",
            Held::SyscallExit => "syscall-exit-stop",
        }
        .into()
    }
}

/// SIGKILL ends any other ptrace-stop at once, without the tracer
/// resuming the task; the dying task then stops at PTRACE_EVENT_EXIT
/// with SIGKILL as its status (ptrace(2), BUGS: "A SIGKILL signal may
/// still cause a PTRACE_EVENT_EXIT stop before actual signal death").
pub const SIGKILL_ENDS_STOP: Scenario<Held> = Scenario {
    base: "ptrace-signals/sigkill-ends-stop",
    area: AREA,
    summary: "SIGKILL ends any ptrace-stop other than EXIT without the tracer resuming the task",
    needs: |_| Needs::default(),
    run: sigkill_ends_stop,
};

fn sigkill_ends_stop(p: &Held, _: &Ctx) -> Outcome {
    let syscalls = matches!(p, Held::SyscallEntry | Held::SyscallExit);
    let mut options = Options::PTRACE_O_TRACEEXIT;
    if syscalls {
        options |= Options::PTRACE_O_TRACESYSGOOD;
    }
    let tracee = Tracee::spawn(Attach::Seize, options, || {
        if syscalls {
            // A fixed point for the tracer to start PTRACE_SYSCALL from.
            setup::or_exit("raise(SIGSTOP)", raise(Signal::SIGSTOP));
            // SAFETY: getppid takes no arguments.
            unsafe { libc::syscall(libc::SYS_getppid) };
        }
        park()
    })?;
    let pid = tracee.pid;
    let mut trail = Trail::new();
    match p {
        Held::SignalDelivery => {
            kill(pid, Signal::SIGUSR1)?;
            trail.next(&tracee)?;
        }
        Held::GroupStop | Held::Listening => {
            kill(pid, Signal::SIGSTOP)?;
            trail.next(&tracee)?;
            tracee.cont(Some(Signal::SIGSTOP))?;
            trail.push("cont SIGSTOP");
            trail.next(&tracee)?;
            if *p == Held::Listening {
                trail.push(format!("listen={}", result_name(&listen(pid))));
            }
        }
        Held::Interrupt => {
            ptrace::interrupt(pid)?;
            trail.next(&tracee)?;
        }
        Held::SyscallEntry | Held::SyscallExit => {
            let s = tracee.wait()?;
            if !matches!(s, WaitStatus::Stopped(_, Signal::SIGSTOP)) {
                return Err(Stop::error(format!(
                    "no SIGSTOP to start from: {}",
                    describe(&s)
                )));
            }
            ptrace::syscall(pid, None)?;
            trail.push(syscall_stop(&tracee, "entry")?);
            if *p == Held::SyscallExit {
                ptrace::syscall(pid, None)?;
                trail.push(syscall_stop(&tracee, "exit")?);
            }
        }
    }
    trail.push(format!(
        "sigkill={}",
        result_name(&kill(pid, Signal::SIGKILL))
    ));
    let fleeting = trail.finish_killed(&tracee)?;
    let seen = Observation::new(trail.text());
    Ok(match fleeting {
        0 => seen,
        n => seen.detail("syscall_stops_not_held", n),
    })
}

/// How long a syscall-stop reported after SIGKILL is watched for the task
/// moving on before it counts as held: far longer than the few
/// instructions that separate it from the EXIT stop, even on an emulated
/// CPU whose host is overcommitted (four TCG guests on two busy cores made
/// the TSYNC model 10 to 30 times slower). Only a kernel that does hold
/// the stop, which the verdict then shows, waits it out.
///
/// Before 2500ad1c7fa4 ("ptrace: Don't change __state", 5.19), a task
/// killed in its syscall-entry stop still made its syscall-exit report:
/// ptrace_stop() set TASK_TRACED and notified the tracer, and only
/// schedule() refused to sleep with SIGKILL pending. A tracer that waited
/// at the right moment saw a syscall-stop the task never stayed in, and
/// resuming it could resume the EXIT stop the task had reached meanwhile
/// instead. [`Trail::finish_killed`] passes such a stop over; one that
/// holds the task is logged and resumed, as in any trail.
const HELD_AFTER: Duration = Duration::from_secs(10);

/// The next state change of `pid` if one comes within `limit`.
fn next_change_within(pid: Pid, limit: Duration) -> Result<Option<WaitStatus>, Stop> {
    let start = Instant::now();
    loop {
        match waitpid(pid, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
            Ok(s) => return Ok(Some(s)),
            Err(e) => return Err(Stop::error(format!("waitpid({pid}, WNOHANG): {e}"))),
        }
        if start.elapsed() >= limit {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Wait for a syscall-stop and name it (`syscall-entry getppid`).
fn syscall_stop(tracee: &Tracee, which: &str) -> Result<String, Stop> {
    let s = tracee.wait()?;
    if !matches!(s, WaitStatus::PtraceSyscall(_)) {
        return Err(Stop::error(format!(
            "expected a syscall-{which} stop: {}",
            describe(&s)
        )));
    }
    let regs = ptrace::getregs(tracee.pid)?;
    let name = if regs.orig_rax == libc::SYS_getppid as u64 {
        "getppid".to_string()
    } else {
        format!("nr{}", regs.orig_rax)
    };
    Ok(format!("syscall-{which} {name}"))
}

// ---------------------------------------------------------------------------
// SIGKILL never gives a signal-delivery stop; other signals do.

/// The signal the tracer sends to its parked subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    Kill(Signal),
    /// The subject raises SIGKILL itself.
    RaiseSigkill,
}

impl Param for Sent {
    fn slug(&self) -> String {
        match self {
            Sent::Kill(s) => s.as_str().to_lowercase(),
            Sent::RaiseSigkill => "sigkill-raised-by-self".into(),
        }
    }
}

/// A signal sent to a tracee stops it in a signal-delivery stop where the
/// tracer may suppress it, even SIGSTOP and a SIGSEGV sent with kill();
/// SIGKILL never stops there (the kernel acts on it when it is sent) and
/// the task dies without the tracer having a say.
pub const NO_DELIVERY_STOP: Scenario<Sent> = Scenario {
    base: "ptrace-signals/sigkill-no-delivery-stop",
    area: AREA,
    summary:
        "SIGKILL never gives a signal-delivery stop the tracer could suppress; other signals do",
    needs: |_| Needs::default(),
    run: no_delivery_stop,
};

fn no_delivery_stop(p: &Sent, _: &Ctx) -> Outcome {
    let notes = Notes::new()?;
    let go = Gate::new()?;
    let tracee = Tracee::spawn(Attach::Seize, Options::empty(), || {
        if *p == Sent::RaiseSigkill {
            let _ = raise(Signal::SIGKILL);
        } else {
            go.wait();
        }
        notes.say("after");
        0
    })?;
    if let Sent::Kill(sig) = p {
        kill(tracee.pid, *sig)?;
    }
    let mut trail = Trail::new();
    let first = trail.next(&tracee)?;
    if let WaitStatus::Stopped(..) = first {
        tracee.cont(None)?;
        trail.push("suppress");
        go.open();
        trail.finish(&tracee)?;
    }
    trail.with_notes(&notes)
}

// ---------------------------------------------------------------------------
// What the tracer may do at a signal-delivery stop.

/// What the tracer does at the signal-delivery stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtDelivery {
    Suppress,
    Deliver,
    /// PTRACE_CONT with SIGUSR2 instead.
    ToSigusr2,
    /// PTRACE_CONT with SIGKILL instead.
    ToSigkill,
    /// PTRACE_SETSIGINFO with si_code SI_QUEUE, then deliver.
    RewriteSiginfo,
}

impl AtDelivery {
    fn slug(self) -> &'static str {
        match self {
            AtDelivery::Suppress => "suppress",
            AtDelivery::Deliver => "deliver",
            AtDelivery::ToSigusr2 => "change-to-sigusr2",
            AtDelivery::ToSigkill => "change-to-sigkill",
            AtDelivery::RewriteSiginfo => "rewrite-siginfo",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Delivery {
    /// SIGUSR1 (handled) or SIGTERM (default action: terminate).
    pub sig: Signal,
    pub action: AtDelivery,
}

impl Param for Delivery {
    fn slug(&self) -> String {
        format!(
            "{}/{}",
            self.sig.as_str().to_lowercase(),
            self.action.slug()
        )
    }
}

/// At a signal-delivery stop the tracer decides the signal's fate: 0
/// suppresses it, another number delivers that signal instead (with a
/// fresh SI_USER siginfo), and PTRACE_SETSIGINFO rewrites what the handler
/// receives (ptrace(2), "Signal injection and suppression").
pub const DELIVERY_STOP: Scenario<Delivery> = Scenario {
    base: "ptrace-signals/delivery-stop",
    area: AREA,
    summary:
        "at a signal-delivery stop the tracer suppresses, delivers, swaps or rewrites the signal",
    needs: |_| Needs::default(),
    run: delivery_stop,
};

fn delivery_stop(p: &Delivery, _: &Ctx) -> Outcome {
    let notes = Notes::new()?;
    // The subject opens `ready` once its handlers are in: a gate the
    // other way round.
    let ready = Gate::new()?;
    let go = Gate::new()?;
    let tracee = Tracee::spawn(Attach::Seize, Options::empty(), || {
        let usr1 = Disposition::Handled.apply(Signal::SIGUSR1, notes.raw_tx());
        let usr2 = Disposition::Handled.apply(Signal::SIGUSR2, notes.raw_tx());
        // Open whatever happened, so the scenario never waits for good.
        ready.open();
        setup::or_exit("sigaction(SIGUSR1)", usr1);
        setup::or_exit("sigaction(SIGUSR2)", usr2);
        go.wait();
        notes.say("after");
        0
    })?;
    ready.wait();
    let pid = tracee.pid;
    kill(pid, p.sig)?;
    let mut trail = Trail::new();
    let first = tracee.wait()?;
    if !matches!(first, WaitStatus::Stopped(_, s) if s == p.sig) {
        trail.push(describe(&first));
        return Ok(Observation::new(trail.text()));
    }
    match tracee.siginfo() {
        Ok(si) => trail.push(format!("stop {si}")),
        Err(e) => trail.push(format!("{} (GETSIGINFO {e})", describe(&first))),
    }
    let deliver = match p.action {
        AtDelivery::Suppress => None,
        AtDelivery::Deliver => Some(p.sig),
        AtDelivery::ToSigusr2 => Some(Signal::SIGUSR2),
        AtDelivery::ToSigkill => Some(Signal::SIGKILL),
        AtDelivery::RewriteSiginfo => {
            let set = ptrace::getsiginfo(pid).and_then(|mut si| {
                si.si_code = libc::SI_QUEUE;
                ptrace::setsiginfo(pid, &si)
            });
            trail.push(format!("setsiginfo={}", result_name(&set)));
            Some(p.sig)
        }
    };
    tracee.cont(deliver)?;
    trail.push(cont_text(deliver));
    go.open();
    trail.finish(&tracee)?;
    trail.with_notes(&notes)
}

// ---------------------------------------------------------------------------
// Group-stop, PTRACE_LISTEN, PTRACE_INTERRUPT.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Seized: the group-stop is PTRACE_EVENT_STOP; LISTEN keeps it
    /// stopped until SIGCONT, which the tracer is told about.
    ListenThenSigcont,
    /// Seized: a listening tracee takes no other request until
    /// PTRACE_INTERRUPT traps it again.
    ListenThenCont,
    /// Seized: SIGCONT to a group-stopped tracee that is not listening
    /// wakes nothing; the tracer hears of it once it resumes the tracee.
    SigcontWithoutListen,
    /// Seized: PTRACE_CONT from the group-stop runs the tracee anyway.
    ContFromGroupStop,
    /// Attached (not seized): the group-stop looks like a signal stop, and
    /// LISTEN and INTERRUPT are refused.
    Attached,
    /// Seized: PTRACE_INTERRUPT stops a tracee blocked in read(), and the
    /// read goes on transparently after PTRACE_CONT.
    InterruptBlockedRead,
    /// Seized, two threads: one signal-delivery stop for SIGSTOP, then a
    /// group-stop in every thread.
    Threads,
}

impl Group {
    pub const ALL: [Group; 7] = [
        Group::ListenThenSigcont,
        Group::ListenThenCont,
        Group::SigcontWithoutListen,
        Group::ContFromGroupStop,
        Group::Attached,
        Group::InterruptBlockedRead,
        Group::Threads,
    ];
}

impl Param for Group {
    fn slug(&self) -> String {
        match self {
            Group::ListenThenSigcont => "seize/listen-then-sigcont",
            Group::ListenThenCont => "seize/listen-then-cont",
            Group::SigcontWithoutListen => "seize/sigcont-without-listen",
            Group::ContFromGroupStop => "seize/cont-from-group-stop",
            Group::Attached => "attach/listen-and-interrupt-refused",
            Group::InterruptBlockedRead => "seize/interrupt-blocked-read",
            Group::Threads => "seize/multi-thread",
        }
        .into()
    }
}

/// Group-stop under ptrace (ptrace(2), "Group-stop", PTRACE_LISTEN,
/// PTRACE_INTERRUPT): what the tracer sees and what it may do.
pub const GROUP_STOP: Scenario<Group> = Scenario {
    base: "ptrace-signals/group-stop",
    area: AREA,
    summary: "group-stop under ptrace: PTRACE_EVENT_STOP, LISTEN, SIGCONT and INTERRUPT",
    needs: |_| Needs::default(),
    run: group_stop,
};

fn group_stop(p: &Group, _: &Ctx) -> Outcome {
    match p {
        Group::InterruptBlockedRead => interrupt_blocked_read(),
        Group::Threads => group_stop_threads(),
        _ => raised_sigstop(*p),
    }
}

/// The subject raises SIGSTOP; the tracer delivers it, reads the
/// group-stop it gets, then does what `p` says.
fn raised_sigstop(p: Group) -> Outcome {
    let notes = Notes::new()?;
    let how = if p == Group::Attached {
        Attach::Attach
    } else {
        Attach::Seize
    };
    let tracee = Tracee::spawn(how, Options::empty(), || {
        let _ = raise(Signal::SIGSTOP);
        notes.say("after");
        0
    })?;
    let pid = tracee.pid;
    let mut trail = Trail::new();
    trail.next(&tracee)?;
    tracee.cont(Some(Signal::SIGSTOP))?;
    trail.push("cont SIGSTOP");
    trail.next(&tracee)?;
    // A classic group-stop has no siginfo (EINVAL); a seized tracee's
    // PTRACE_EVENT_STOP carries one with the stop signal.
    let si = match tracee.siginfo() {
        Ok(si) => crate::kit::task::signame(si.signo),
        Err(e) => errno_name(e),
    };
    trail.push(format!("siginfo={si}"));
    match p {
        Group::ListenThenSigcont => {
            trail.push(format!("listen={}", result_name(&listen(pid))));
            trail.push(format!("state={}", state(pid)));
            trail.push(format!(
                "sigcont={}",
                result_name(&kill(pid, Signal::SIGCONT))
            ));
            trail.next(&tracee)?;
            tracee.cont(None)?;
            trail.push("cont");
        }
        Group::ListenThenCont => {
            trail.push(format!("listen={}", result_name(&listen(pid))));
            trail.push(format!("cont={}", result_name(&tracee.cont(None))));
            trail.push(format!(
                "interrupt={}",
                result_name(&ptrace::interrupt(pid))
            ));
            trail.next(&tracee)?;
            trail.push(format!(
                "sigcont={}",
                result_name(&kill(pid, Signal::SIGCONT))
            ));
            tracee.cont(None)?;
            trail.push("cont");
        }
        Group::SigcontWithoutListen => {
            trail.push(format!(
                "sigcont={}",
                result_name(&kill(pid, Signal::SIGCONT))
            ));
            let pending = match waitpid(pid, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => "none".to_string(),
                Ok(s) => describe(&s),
                Err(e) => errno_name(e),
            };
            trail.push(format!("reported={pending}"));
            trail.push(format!("state={}", state(pid)));
            tracee.cont(None)?;
            trail.push("cont");
        }
        Group::ContFromGroupStop => {
            tracee.cont(None)?;
            trail.push("cont");
        }
        Group::Attached => {
            trail.push(format!("listen={}", result_name(&listen(pid))));
            trail.push(format!(
                "interrupt={}",
                result_name(&ptrace::interrupt(pid))
            ));
            tracee.cont(None)?;
            trail.push("cont");
        }
        Group::InterruptBlockedRead | Group::Threads => {
            return Err(Stop::error("not a raised-SIGSTOP case"))
        }
    }
    trail.finish(&tracee)?;
    trail.with_notes(&notes)
}

/// The state letter of /proc/PID/status (`t` is a ptrace-stop).
fn state(pid: Pid) -> String {
    procfs::status(pid, "State")
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn interrupt_blocked_read() -> Outcome {
    let notes = Notes::new()?;
    let (rx, tx): (OwnedFd, OwnedFd) = nix::unistd::pipe()?;
    let tracee = Tracee::spawn(Attach::Seize, Options::empty(), || {
        let mut b = [0u8; 1];
        let r = nix::unistd::read(rx.as_fd(), &mut b);
        notes.say(&format!(
            "read={}",
            r.map(|n| n.to_string()).unwrap_or_else(errno_name)
        ));
        0
    })?;
    let mut trail = Trail::new();
    trail.push(format!(
        "interrupt={}",
        result_name(&ptrace::interrupt(tracee.pid))
    ));
    trail.next(&tracee)?;
    tracee.cont(None)?;
    trail.push("cont");
    nix::unistd::write(&tx, b"x")?;
    trail.finish(&tracee)?;
    trail.with_notes(&notes)
}

/// Which thread dequeues the process-directed SIGSTOP is a race, so the
/// text counts the stops of each kind instead of naming threads.
fn group_stop_threads() -> Outcome {
    let tracee = Tracee::spawn(Attach::Seize, Options::PTRACE_O_TRACECLONE, || {
        start_thread(parked_thread);
        park()
    })?;
    let leader = tracee.pid;
    settle_new_thread(leader)?;
    kill(leader, Signal::SIGSTOP)?;
    let (mut delivery, mut stopped) = (0, Vec::new());
    while stopped.len() < 2 {
        let s = wait_any()?;
        let Some(pid) = s.pid() else { continue };
        match s {
            WaitStatus::Stopped(_, Signal::SIGSTOP) => {
                delivery += 1;
                ptrace::cont(pid, Some(Signal::SIGSTOP))?;
            }
            WaitStatus::PtraceEvent(_, Signal::SIGSTOP, _) if is_event(&s, "STOP") => {
                stopped.push(pid);
            }
            other => {
                return Err(Stop::error(format!(
                    "unexpected stop in the group-stop: {}",
                    describe(&other)
                )))
            }
        }
    }
    let listened: Vec<String> = stopped.iter().map(|t| result_name(&listen(*t))).collect();
    kill(leader, Signal::SIGKILL)?;
    let end = loop {
        let s = wait_any()?;
        if is_final(&s) && s.pid() == Some(leader) {
            break describe(&s);
        }
    };
    Ok(Observation::new(format!(
        "signal-delivery stops={delivery} group-stops={} -> listen={} -> sigkill -> {end}",
        stopped.len(),
        listened.join(",")
    )))
}

/// Set-up of a seized subject that starts one thread (PTRACE_O_TRACECLONE):
/// answer the leader's CLONE stop and the new thread's first stop, and
/// return the new thread's id.
fn settle_new_thread(leader: Pid) -> Result<Pid, Stop> {
    let (mut clone_seen, mut thread) = (false, None);
    while !clone_seen || thread.is_none() {
        let s = wait_any()?;
        let Some(pid) = s.pid() else { continue };
        if is_final(&s) {
            return Err(Stop::error(format!(
                "subject ended early: {}",
                describe(&s)
            )));
        }
        if is_event(&s, "CLONE") {
            clone_seen = true;
        } else if pid != leader {
            thread = Some(pid);
        }
        ptrace::cont(pid, None)?;
    }
    thread.ok_or_else(|| Stop::error("no new thread"))
}

/// The next state change of any task of ours.
fn wait_any() -> Result<WaitStatus, Stop> {
    loop {
        match waitpid(None, Some(WaitPidFlag::__WALL)) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Stop::error(format!("waitpid: {e}"))),
            Ok(s) => return Ok(s),
        }
    }
}

// ---------------------------------------------------------------------------
// A thread that execs: requests to the old leader's pid before the tracer
// has collected PTRACE_EVENT_EXEC.

/// The request the tracer sends to the leader's pid while the thread that
/// exec'd sits in its PTRACE_EVENT_EXEC stop under that pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OldLeaderRequest {
    Cont,
    GetEventMsg,
    /// Asynchronous: refused by neither kernel.
    Interrupt,
}

impl Param for OldLeaderRequest {
    fn slug(&self) -> String {
        match self {
            OldLeaderRequest::Cont => "cont",
            OldLeaderRequest::GetEventMsg => "geteventmsg",
            OldLeaderRequest::Interrupt => "interrupt",
        }
        .into()
    }
}

/// When a thread that is not the leader execs, de_thread() gives it the
/// leader's pid and it stops at PTRACE_EVENT_EXEC there. Until the tracer
/// has waited for that stop (which tells it the pid changed hands),
/// requests to the pid fail with ESRCH instead of acting on a task the
/// tracer does not know is there; PTRACE_INTERRUPT and PTRACE_KILL, which
/// need no stopped tracee, still go through (dbb5afad100a).
pub const REQUEST_BEFORE_EXEC_EVENT: Scenario<OldLeaderRequest> = Scenario {
    base: "ptrace-signals/exec-from-thread/request-before-exec-event",
    area: AREA,
    summary: "after a thread's exec, requests to the leader's pid fail with ESRCH until PTRACE_EVENT_EXEC is collected",
    needs: |_| Needs::default(),
    run: request_before_exec_event,
};

fn request_before_exec_event(p: &OldLeaderRequest, ctx: &Ctx) -> Outcome {
    let (out_rx, out_tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let go = Gate::new()?;
    let probe = ctx.probe_exe.clone();
    let options = Options::PTRACE_O_TRACECLONE | Options::PTRACE_O_TRACEEXEC;
    let tracee = Tracee::spawn(Attach::Seize, options, || {
        // The exec'd probe prints a line: into the pipe, not our stdout.
        setup::or_exit("dup2(stdout)", nix::unistd::dup2_stdout(&out_tx));
        std::thread::scope(|s| {
            s.spawn(|| {
                go.wait();
                crate::kit::access::exec_probe(&probe, "ids")
            });
            park()
        })
    })?;
    drop(out_tx);
    let leader = tracee.pid;
    let thread = settle_new_thread(leader)?;
    go.open();
    let mut trail = Trail::new();
    // Look without reaping: the exec stop is there, under the leader's pid.
    let pending = waits::waitid_pid(
        leader,
        libc::WSTOPPED | libc::WEXITED | libc::WNOWAIT | libc::__WALL,
    );
    trail.push(match pending {
        Ok(w)
            if w.code == libc::CLD_TRAPPED
                && w.status == (libc::PTRACE_EVENT_EXEC << 8 | libc::SIGTRAP) =>
        {
            "exec-stop pending".to_string()
        }
        Ok(w) => format!("first report code={} status={:#x}", w.code, w.status),
        Err(e) => format!("waitid={}", errno_name(e)),
    });
    let answer = match p {
        OldLeaderRequest::Cont => result_name(&ptrace::cont(leader, None)),
        OldLeaderRequest::GetEventMsg => result_name(&ptrace::getevent(leader)),
        OldLeaderRequest::Interrupt => result_name(&ptrace::interrupt(leader)),
    };
    trail.push(format!("{}={answer}", p.slug()));
    for _ in 0..8 {
        let s = tracee.wait()?;
        match s {
            WaitStatus::PtraceEvent(pid, _, ev) if event_name(ev) == "EXEC" => {
                let msg = match ptrace::getevent(pid) {
                    Ok(m) if m == thread.as_raw() as libc::c_long => "thread-tid".to_string(),
                    Ok(m) if m == leader.as_raw() as libc::c_long => "leader-pid".to_string(),
                    Ok(_) => "other".to_string(),
                    Err(e) => errno_name(e),
                };
                trail.push(format!("event EXEC msg={msg}"));
            }
            other => trail.push(describe(&other)),
        }
        if is_final(&s) {
            break;
        }
        let _ = ptrace::cont(leader, None);
        trail.push("cont");
    }
    let ran = if crate::kit::access::read_all(out_rx).is_empty() {
        "no"
    } else {
        "yes"
    };
    Ok(Observation::new(format!(
        "{}; probe-ran={ran}",
        trail.text()
    )))
}

// ---------------------------------------------------------------------------
// A thread created while the process is group-stopped.

/// A seized process that is group-stopped and resumed by its tracer
/// (PTRACE_CONT from the group-stop) is still stopped as a process
/// (SIGNAL_STOP_STOPPED); a thread it creates joins the group-stop and,
/// seized through PTRACE_O_TRACECLONE, reports PTRACE_EVENT_STOP with the
/// stop signal: status 0x80137f (7b3c36fc4c23; before, the thread trapped
/// with no signal, 0x80007f, and do_jobctl_trap() warned).
pub const THREAD_JOINS_GROUP_STOP: Scenario<()> = Scenario {
    base: "ptrace-signals/group-stop/seize/thread-created-while-stopped",
    area: AREA,
    summary: "a thread created by a group-stopped tracee joins the group-stop with its stop signal",
    needs: |_| Needs::default(),
    run: thread_created_while_stopped,
};

fn thread_created_while_stopped(_: &(), _: &Ctx) -> Outcome {
    let pid = crate::kit::task::spawn(|| {
        setup::or_exit("raise(SIGSTOP)", raise(Signal::SIGSTOP));
        start_thread(parked_thread);
        park()
    })?;
    let mut trail = Trail::new();
    let first = waits::waitpid_raw(pid.as_raw(), libc::WUNTRACED)
        .map_err(|e| Stop::error(format!("waitpid(WUNTRACED): {e}")))?;
    trail.push(waits::status_text(first.1));
    let options = Options::PTRACE_O_TRACECLONE | Options::PTRACE_O_EXITKILL;
    let seized = ptrace::seize(pid, options);
    trail.push(format!("seize={}", result_name(&seized)));
    let end = |trail: &mut Trail| -> Result<(), Stop> {
        let _ = kill(pid, Signal::SIGKILL);
        loop {
            let (p, st) = waits::waitpid_raw(-1, libc::__WALL)
                .map_err(|e| Stop::error(format!("waitpid: {e}")))?;
            if p == pid && (libc::WIFEXITED(st) || libc::WIFSIGNALED(st)) {
                trail.push(waits::status_text(st));
                return Ok(());
            }
        }
    };
    if seized.is_err() {
        end(&mut trail)?;
        return Ok(Observation::new(trail.text()));
    }
    let wait_leader = || {
        waits::waitpid_raw(pid.as_raw(), libc::__WALL)
            .map_err(|e| Stop::error(format!("waitpid: {e}")))
    };
    trail.push(waits::status_text(wait_leader()?.1));
    ptrace::cont(pid, None)?;
    trail.push("cont");
    trail.push(waits::status_text(wait_leader()?.1));
    let (who, st) =
        waits::waitpid_raw(-1, libc::__WALL).map_err(|e| Stop::error(format!("waitpid: {e}")))?;
    let who = if who == pid { "leader" } else { "thread" };
    trail.push(format!("{who}: {} ({st:#x})", waits::status_text(st)));
    trail.push("sigkill");
    end(&mut trail)?;
    Ok(Observation::new(trail.text()))
}

// ---------------------------------------------------------------------------
// PTRACE_KILL on a tracee that is not in a ptrace-stop.

/// Where the tracee is when the tracer sends PTRACE_KILL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillWhere {
    /// Blocked in pause().
    Sleeping,
    /// In a busy loop.
    Running,
    /// In a signal-delivery stop (where PTRACE_KILL always worked).
    SignalDeliveryStop,
}

impl Param for KillWhere {
    fn slug(&self) -> String {
        match self {
            KillWhere::Sleeping => "sleeping",
            KillWhere::Running => "running",
            KillWhere::SignalDeliveryStop => "signal-delivery-stop",
        }
        .into()
    }
}

/// PTRACE_KILL kills the tracee wherever it is: it sends SIGKILL
/// (6a2d90ba027a). Before, it resumed the tracee from a ptrace-stop with
/// SIGKILL as the signal to deliver, which does nothing to a tracee that
/// is not stopped: the call returned 0 and the tracee lived on. The tracer
/// then asks PTRACE_INTERRUPT: a tracee still alive stops for it.
pub const PTRACE_KILL: Scenario<KillWhere> = Scenario {
    base: "ptrace-signals/ptrace-kill",
    area: AREA,
    summary:
        "PTRACE_KILL kills a tracee that is running or sleeping, not only one in a ptrace-stop",
    needs: |_| Needs::default(),
    run: ptrace_kill,
};

fn ptrace_kill(p: &KillWhere, _: &Ctx) -> Outcome {
    let ready = Gate::new()?;
    let tracee = Tracee::spawn(Attach::Seize, Options::empty(), || {
        ready.open();
        match p {
            KillWhere::Running => loop {
                std::hint::spin_loop();
            },
            KillWhere::Sleeping | KillWhere::SignalDeliveryStop => park(),
        }
    })?;
    ready.wait();
    let pid = tracee.pid;
    let mut trail = Trail::new();
    if *p == KillWhere::SignalDeliveryStop {
        kill(pid, Signal::SIGUSR1)?;
        trail.next(&tracee)?;
    }
    // SAFETY: PTRACE_KILL takes no pointers.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_KILL,
            pid.as_raw(),
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    trail.push(format!("ptrace-kill={}", result_name(&Errno::result(rc))));
    // A tracee that is still alive traps for this; a dying one never does.
    let _ = ptrace::interrupt(pid);
    let s = trail.next(&tracee)?;
    if !is_final(&s) {
        kill(pid, Signal::SIGKILL)?;
        trail.push("sigkill");
        trail.finish(&tracee)?;
    }
    Ok(Observation::new(trail.text()))
}

// ---------------------------------------------------------------------------
// PTRACE_GETSIGMASK / PTRACE_SETSIGMASK inside a syscall with a temporary
// signal mask.

/// What the tracer does with the tracee's signal mask, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskCase {
    /// GETSIGMASK at a signal-delivery stop that interrupted ppoll(),
    /// which runs with a mask of its own.
    GetInPpoll,
    /// SETSIGMASK there: the task keeps the new mask after ppoll().
    SetInPpoll,
    /// GETSIGMASK at a signal-delivery stop outside any such syscall.
    GetOutside,
}

impl Param for MaskCase {
    fn slug(&self) -> String {
        match self {
            MaskCase::GetInPpoll => "get/in-ppoll",
            MaskCase::SetInPpoll => "set/in-ppoll",
            MaskCase::GetOutside => "get/outside-ppoll",
        }
        .into()
    }
}

/// Syscalls that run with a temporary signal mask (ppoll, pselect,
/// epoll_pwait, rt_sigsuspend) save the task's own mask and restore it on
/// the way out, after signal delivery. A tracer stopping the task there
/// works on the task's own mask: GETSIGMASK returns the saved mask and
/// SETSIGMASK replaces it for good (fcfc2aa0185f; before, GETSIGMASK
/// returned ppoll's mask and the saved one overwrote what SETSIGMASK set).
/// The subject blocks SIGUSR1 and calls ppoll() with a mask of SIGUSR2
/// only; the tracer's SIGUSR1 interrupts it.
pub const SIGMASK: Scenario<MaskCase> = Scenario {
    base: "ptrace-signals/sigmask",
    area: AREA,
    summary: "PTRACE_GETSIGMASK/SETSIGMASK act on the task's own mask, not ppoll()'s temporary one",
    needs: |_| Needs::default(),
    run: sigmask,
};

/// The signals the sigmask scenario uses, as they show in its text.
const MASK_SIGNALS: [Signal; 3] = [Signal::SIGHUP, Signal::SIGUSR1, Signal::SIGUSR2];

/// `[SIGHUP,SIGUSR1]`: which of [`MASK_SIGNALS`] a kernel sigset (bit
/// sig-1) holds.
fn mask_text(set: u64) -> String {
    let names: Vec<&str> = MASK_SIGNALS
        .iter()
        .filter(|s| set & (1u64 << (**s as i32 - 1)) != 0)
        .map(|s| s.as_str())
        .collect();
    format!("[{}]", names.join(","))
}

fn kernel_sigset(sigs: &[Signal]) -> u64 {
    sigs.iter().fold(0, |m, s| m | 1u64 << (*s as i32 - 1))
}

/// The calling thread's blocked set as a kernel sigset.
fn own_mask() -> u64 {
    let mut cur = nix::sys::signal::SigSet::empty();
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_BLOCK,
        None,
        Some(&mut cur),
    );
    MASK_SIGNALS
        .iter()
        .filter(|s| cur.contains(**s))
        .fold(0, |m, s| m | 1u64 << (*s as i32 - 1))
}

fn getsigmask(pid: Pid) -> Result<u64, Errno> {
    let mut set: u64 = 0;
    // SAFETY: PTRACE_GETSIGMASK writes addr (8) bytes into set.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_GETSIGMASK,
            pid.as_raw(),
            std::mem::size_of::<u64>(),
            &mut set as *mut u64,
        )
    };
    Errno::result(rc).map(|_| set)
}

fn setsigmask(pid: Pid, set: u64) -> Result<(), Errno> {
    // SAFETY: PTRACE_SETSIGMASK reads addr (8) bytes from set.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_SETSIGMASK,
            pid.as_raw(),
            std::mem::size_of::<u64>(),
            &set as *const u64,
        )
    };
    Errno::result(rc).map(drop)
}

fn sigmask(p: &MaskCase, _: &Ctx) -> Outcome {
    let notes = Notes::new()?;
    let ready = Gate::new()?;
    let go = Gate::new()?;
    let in_ppoll = *p != MaskCase::GetOutside;
    let tracee = Tracee::spawn(Attach::Seize, Options::empty(), || {
        Disposition::Handled.apply_or_exit(Signal::SIGUSR1, notes.raw_tx());
        let own = if in_ppoll {
            Signal::SIGUSR1
        } else {
            Signal::SIGUSR2
        };
        let mut set = nix::sys::signal::SigSet::empty();
        set.add(own);
        setup::or_exit(
            "sigprocmask(SIG_SETMASK)",
            nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&set),
                None,
            ),
        );
        ready.open();
        if in_ppoll {
            // SAFETY: a zeroed sigset_t is valid; sigaddset on it.
            let mut tmp: libc::sigset_t = unsafe { std::mem::zeroed() };
            unsafe { libc::sigaddset(&mut tmp, libc::SIGUSR2) };
            // SAFETY: ppoll with no fds, no timeout and a mask that
            // unblocks the pending SIGUSR1.
            let rc = unsafe { libc::ppoll(std::ptr::null_mut(), 0, std::ptr::null(), &tmp) };
            notes.say(&format!("ppoll={}", result_name(&Errno::result(rc))));
        } else {
            go.wait();
        }
        notes.say(&format!("mask={}", mask_text(own_mask())));
        0
    })?;
    ready.wait();
    let pid = tracee.pid;
    // Blocked (in the ppoll cases), it waits until ppoll() unblocks it.
    kill(pid, Signal::SIGUSR1)?;
    let mut trail = Trail::new();
    let first = trail.next(&tracee)?;
    if matches!(first, WaitStatus::Stopped(_, Signal::SIGUSR1)) {
        match p {
            MaskCase::GetInPpoll | MaskCase::GetOutside => {
                let got = getsigmask(pid);
                trail.push(format!(
                    "getsigmask={}",
                    got.map(mask_text).unwrap_or_else(errno_name)
                ));
            }
            MaskCase::SetInPpoll => {
                let set = setsigmask(pid, kernel_sigset(&[Signal::SIGHUP]));
                trail.push(format!("setsigmask [SIGHUP]={}", result_name(&set)));
            }
        }
        tracee.cont(Some(Signal::SIGUSR1))?;
        trail.push("cont SIGUSR1");
    }
    go.open();
    trail.finish(&tracee)?;
    trail.with_notes(&notes)
}

// ---------------------------------------------------------------------------
// PTRACE_PEEKSIGINFO offsets.

/// Where in the tracee's queue of two pending signals the tracer asks
/// PTRACE_PEEKSIGINFO to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeekOffset {
    /// 0: both signals.
    First,
    /// 2: just past the end.
    PastEnd,
    /// 2^32 - 1: -1 once cut to 32 bits.
    Bit32Minus1,
    /// 2^32: 0 once cut to 32 bits.
    Bit32,
}

impl PeekOffset {
    fn value(self) -> u64 {
        match self {
            PeekOffset::First => 0,
            PeekOffset::PastEnd => 2,
            PeekOffset::Bit32Minus1 => (1 << 32) - 1,
            PeekOffset::Bit32 => 1 << 32,
        }
    }
}

impl Param for PeekOffset {
    fn slug(&self) -> String {
        match self {
            PeekOffset::First => "first",
            PeekOffset::PastEnd => "past-end",
            PeekOffset::Bit32Minus1 => "2-pow-32-minus-1",
            PeekOffset::Bit32 => "2-pow-32",
        }
        .into()
    }
}

/// PTRACE_PEEKSIGINFO copies siginfos from the tracee's queue starting at
/// the 64-bit offset `off`; an offset at or past the end copies nothing
/// and returns 0. Kernels from 3.10 to f6e2aa91a46d cut `off` to 32 bits
/// (s32): 2^32 peeked from the start of the queue, and 2^32 - 1 (-1)
/// never counted down to an entry, stayed negative, and so copied
/// uninitialised stack memory for every entry asked for. The tracee
/// has SIGUSR1 and SIGUSR2 blocked and pending (thread-directed) and sits
/// in a PTRACE_INTERRUPT stop; the tracer asks for two entries.
pub const PEEKSIGINFO: Scenario<PeekOffset> = Scenario {
    base: "ptrace-signals/peeksiginfo/offset",
    area: AREA,
    summary: "PTRACE_PEEKSIGINFO starts at the full 64-bit offset; past the end it copies nothing",
    needs: |_| Needs::default(),
    run: peeksiginfo,
};

/// struct ptrace_peeksiginfo_args (include/uapi/linux/ptrace.h).
#[repr(C)]
struct PeekArgs {
    off: u64,
    flags: u32,
    nr: i32,
}

fn peeksiginfo(p: &PeekOffset, _: &Ctx) -> Outcome {
    let ready = Gate::new()?;
    let tracee = Tracee::spawn(Attach::Seize, Options::empty(), || {
        let mut set = nix::sys::signal::SigSet::empty();
        set.add(Signal::SIGUSR1);
        set.add(Signal::SIGUSR2);
        setup::or_exit(
            "sigprocmask(SIG_BLOCK)",
            nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_BLOCK,
                Some(&set),
                None,
            ),
        );
        ready.open();
        park()
    })?;
    ready.wait();
    let pid = tracee.pid;
    for sig in [libc::SIGUSR1, libc::SIGUSR2] {
        // SAFETY: tgkill takes integer arguments.
        let rc = unsafe { libc::syscall(libc::SYS_tgkill, pid.as_raw(), pid.as_raw(), sig) };
        setup::step("tgkill", Errno::result(rc))?;
    }
    ptrace::interrupt(pid)?;
    let mut trail = Trail::new();
    trail.next(&tracee)?;
    let args = PeekArgs {
        off: p.value(),
        flags: 0,
        nr: 2,
    };
    let mut buf = [[0u8; 128]; 2];
    // SAFETY: PEEKSIGINFO reads args and writes at most nr (2) siginfos
    // of 128 bytes into buf.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_PEEKSIGINFO,
            pid.as_raw(),
            &args as *const PeekArgs,
            buf.as_mut_ptr(),
        )
    };
    trail.push(match Errno::result(rc) {
        // Entries of a real queue are named; what -1 makes a buggy
        // kernel copy is stack garbage, so only its count is shown.
        Ok(n) if *p != PeekOffset::Bit32Minus1 && n > 0 => {
            let names: Vec<String> = buf
                .iter()
                .take(n as usize)
                .map(|raw| {
                    crate::kit::task::signame(i32::from_ne_bytes(raw[0..4].try_into().unwrap()))
                })
                .collect();
            format!("peeked={n} [{}]", names.join(","))
        }
        Ok(n) => format!("peeked={n}"),
        Err(e) => format!("peek={}", errno_name(e)),
    });
    kill(pid, Signal::SIGKILL)?;
    trail.push("sigkill");
    trail.finish(&tracee)?;
    Ok(Observation::new(trail.text()))
}

// ---------------------------------------------------------------------------
// PTRACE_GET_SYSCALL_INFO leaves no kernel bytes in its padding.

/// At a syscall-entry stop PTRACE_GET_SYSCALL_INFO writes the 80 bytes of
/// an entry record (op, 3 padding bytes, arch, ip, sp, nr, args) into a
/// buffer the tracer filled with 0xaa, and leaves the rest alone. The
/// padding after `op` is a named field set to zero since 0032ce0f85a2;
/// before, it was a hole whose content came from the kernel stack.
pub const SYSCALL_INFO_PADDING: Scenario<()> = Scenario {
    base: "ptrace-signals/get-syscall-info/entry-padding",
    area: AREA,
    summary:
        "PTRACE_GET_SYSCALL_INFO zeroes the padding after op and writes no more than the record",
    needs: |_| Needs::default(),
    run: syscall_info_padding,
};

fn syscall_info_padding(_: &(), _: &Ctx) -> Outcome {
    let tracee = Tracee::spawn(Attach::Seize, Options::PTRACE_O_TRACESYSGOOD, || {
        setup::or_exit("raise(SIGSTOP)", raise(Signal::SIGSTOP));
        // SAFETY: getppid takes no arguments.
        unsafe { libc::syscall(libc::SYS_getppid) };
        0
    })?;
    let pid = tracee.pid;
    let s = tracee.wait()?;
    if !matches!(s, WaitStatus::Stopped(_, Signal::SIGSTOP)) {
        return Err(Stop::error(format!(
            "no SIGSTOP to start from: {}",
            describe(&s)
        )));
    }
    ptrace::syscall(pid, None)?;
    let s = tracee.wait()?;
    if !matches!(s, WaitStatus::PtraceSyscall(_)) {
        return Err(Stop::error(format!(
            "expected a syscall-entry stop: {}",
            describe(&s)
        )));
    }
    let mut buf = [0xaau8; 88];
    // SAFETY: GET_SYSCALL_INFO writes at most addr (88) bytes into buf.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_GET_SYSCALL_INFO,
            pid.as_raw(),
            buf.len(),
            buf.as_mut_ptr(),
        )
    };
    let text = match Errno::result(rc) {
        Err(e) => format!("get-syscall-info={}", errno_name(e)),
        Ok(size) => {
            let op = match buf[0] {
                0 => "none".to_string(),
                1 => "entry".to_string(),
                2 => "exit".to_string(),
                3 => "seccomp".to_string(),
                other => other.to_string(),
            };
            let pad = if buf[1..4] == [0, 0, 0] {
                "zero"
            } else if buf[1..4] == [0xaa; 3] {
                "unwritten"
            } else {
                "nonzero"
            };
            let end = (size as usize).min(buf.len());
            let tail = if buf[end..].iter().all(|b| *b == 0xaa) {
                "untouched"
            } else {
                "written"
            };
            format!("op={op} size={size} pad={pad} tail={tail}")
        }
    };
    kill(pid, Signal::SIGKILL)?;
    let end = loop {
        let s = tracee.wait()?;
        if is_final(&s) {
            break describe(&s);
        }
    };
    Ok(Observation::new(format!("{text} -> sigkill -> {end}")))
}

pub const AREA: Area = Area {
    name: "ptrace-signals",
    summary: "PTRACE_EVENT_EXIT, group-stop, PTRACE_LISTEN and SIGKILL under ptrace",
};

pub fn instances() -> Vec<Instance> {
    let mut all = Vec::new();
    all.extend(EVENT_EXIT.expand(Ending::ALL));
    let mut at_exit = Vec::new();
    for ending in [Ending::Exit, Ending::Sigkill, Ending::ThreadExit] {
        for directed in [Directed::Process, Directed::Thread] {
            at_exit.push(KillAtExit { ending, directed });
        }
    }
    all.extend(SIGKILL_AT_EVENT_EXIT.expand(at_exit));
    all.extend(SIGKILL_ENDS_STOP.expand(Held::ALL));
    all.extend(NO_DELIVERY_STOP.expand([
        Sent::Kill(Signal::SIGKILL),
        Sent::RaiseSigkill,
        Sent::Kill(Signal::SIGTERM),
        Sent::Kill(Signal::SIGSTOP),
        Sent::Kill(Signal::SIGSEGV),
    ]));
    let mut deliveries = Vec::new();
    for action in [
        AtDelivery::Suppress,
        AtDelivery::Deliver,
        AtDelivery::ToSigusr2,
        AtDelivery::ToSigkill,
        AtDelivery::RewriteSiginfo,
    ] {
        deliveries.push(Delivery {
            sig: Signal::SIGUSR1,
            action,
        });
    }
    // A suppressed SIGTERM is sigkill-no-delivery-stop/sigterm already.
    for action in [AtDelivery::Deliver, AtDelivery::ToSigusr2] {
        deliveries.push(Delivery {
            sig: Signal::SIGTERM,
            action,
        });
    }
    all.extend(DELIVERY_STOP.expand(deliveries));
    all.extend(GROUP_STOP.expand(Group::ALL));
    all.extend(THREAD_JOINS_GROUP_STOP.expand([()]));
    all.extend(REQUEST_BEFORE_EXEC_EVENT.expand([
        OldLeaderRequest::Cont,
        OldLeaderRequest::GetEventMsg,
        OldLeaderRequest::Interrupt,
    ]));
    all.extend(PTRACE_KILL.expand([
        KillWhere::Sleeping,
        KillWhere::Running,
        KillWhere::SignalDeliveryStop,
    ]));
    all.extend(SIGMASK.expand([
        MaskCase::GetInPpoll,
        MaskCase::SetInPpoll,
        MaskCase::GetOutside,
    ]));
    all.extend(PEEKSIGINFO.expand([
        PeekOffset::First,
        PeekOffset::PastEnd,
        PeekOffset::Bit32Minus1,
        PeekOffset::Bit32,
    ]));
    all.extend(SYSCALL_INFO_PADDING.expand([()]));
    all
}
