//! SECCOMP_RET_USER_NOTIF: a supervisor that answers, dies, or loses its
//! target (BRIEF item 5).
//!
//! A target process installs a filter that notifies on
//! `getpgid(NOTIF_ARG, 1, 2, 3, 4, 5)` (the extra arguments only show in
//! the notification) with SECCOMP_FILTER_FLAG_NEW_LISTENER, passes the
//! listener to the scenario over a unix socket and closes its own copy,
//! so the scenario (or a supervisor process it forks) is the only
//! supervisor. The target notes what its calls returned (`ret=42`,
//! `errno=ENOSYS`); the scenario writes down what each ioctl on the
//! listener answered (`send=ok`, `id-valid=ENOENT`) and what poll(2) said
//! (`IN`, `OUT`, `HUP`, `none`). Ids, pids and fd numbers vary, so they are
//! compared (`pid=caller-tid`, `fd=added`) rather than printed.
//!
//! Not covered here: TSYNC with a listener (the tsync area), USER_NOTIF
//! against other actions and a USER_NOTIF filter without a listener (the
//! precedence area).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use kconform_core::{
    setup, Area, Ctx, Feature, Instance, Needs, Observation, Outcome, Param, Scenario, Stop,
};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::{pipe2, Pid};

use crate::kit::notif::{
    notif_sizes, FdChannel, Listener, ADDFD_FLAG_SEND, ADDFD_FLAG_SETFD, FLAG_WAIT_KILLABLE_RECV,
    USER_NOTIF_FLAG_CONTINUE,
};
use crate::kit::seccomp::{
    seccomp, set_no_new_privs, Filter, Ret, FLAG_NEW_LISTENER, SECCOMP_SET_MODE_FILTER,
};
use crate::kit::task::{note_to, or_exit_stop, spawn, wait_exit, Gate, Notes};
use crate::kit::trace::{errno_name, result_name};

/// The notifying call's first argument: no process has this pid, so a
/// getpgid() that really runs fails with ESRCH.
const NOTIF_ARG: u32 = 0x7fff_fff1;

pub const AREA: Area = Area {
    name: "user-notif",
    summary: "SECCOMP_RET_USER_NOTIF: a supervisor answers, dies, or loses its target",
};

pub fn instances() -> Vec<Instance> {
    let mut all = Vec::new();
    all.extend(RECV.expand(Caller::ALL));
    all.extend(ANSWER.expand(Reply::ALL));
    all.extend(SUPERVISOR_GONE.expand(Gone::ALL));
    all.extend(TARGET_KILLED.expand(Killed::ALL));
    all.extend(SIGNALLED.expand(Signalled::ALL));
    all.extend(ADDFD.expand(AddFd::ALL));
    all.extend(LISTENER.expand(ListenerCase::ALL));
    all.extend(ID_VALID_NUMBER.expand([()]));
    // Where the kernel has the bug, RECV is seen blocked only by waiting
    // out its deadline.
    all.extend(
        RECV_WITHOUT_USERS
            .expand([UsersGone::Reaped, UsersGone::Zombie])
            .into_iter()
            .map(Instance::long),
    );
    all
}

/// A listener, and AF_UNIX to hand it from the target to the supervisor.
fn needs<P>(_: &P) -> Needs {
    Needs::any()
        .feature(Feature::NewListener)
        .config("CONFIG_UNIX")
}

/// getpgid(NOTIF_ARG, 1, 2, 3, 4, 5), as the raw return value (-errno).
fn notif_call() -> i64 {
    let args: [libc::c_long; 6] = [NOTIF_ARG as libc::c_long, 1, 2, 3, 4, 5];
    // SAFETY: getpgid with integer arguments (full-width, as syscall(2)
    // passes them on); the extra ones are ignored.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_getpgid,
            args[0],
            args[1],
            args[2],
            args[3],
            args[4],
            args[5],
        )
    };
    if rc < 0 {
        -(Errno::last_raw() as i64)
    } else {
        rc
    }
}

/// A return value as the target notes it: `ret=42`, `errno=ENOSYS`.
fn ret_text(r: i64) -> String {
    if r < 0 {
        format!("errno={}", errno_name(Errno::from_raw(-r as i32)))
    } else {
        format!("ret={r}")
    }
}

fn notifying_filter() -> Filter {
    Filter::allow_all().on_arg0(libc::SYS_getpgid, NOTIF_ARG, Ret::UserNotif)
}

/// Fork a target that installs the notifying filter with NEW_LISTENER
/// (and `flags`), hands the listener over, closes its copy, and runs
/// `body`.
fn spawn_target(flags: u32, body: impl FnOnce() -> i32) -> Result<(Pid, Listener), Stop> {
    let channel = FdChannel::new()?;
    let pid = spawn(|| {
        setup::or_exit("prctl(PR_SET_NO_NEW_PRIVS)", set_no_new_privs());
        let call = match flags {
            0 => "seccomp(SET_MODE_FILTER, NEW_LISTENER)",
            FLAG_WAIT_KILLABLE_RECV => {
                "seccomp(SET_MODE_FILTER, NEW_LISTENER | WAIT_KILLABLE_RECV)"
            }
            _ => "seccomp(SET_MODE_FILTER, NEW_LISTENER | ...)",
        };
        let fd = setup::or_exit(
            call,
            notifying_filter().install_flags(FLAG_NEW_LISTENER | flags),
        );
        setup::or_exit("sendmsg(SCM_RIGHTS)", channel.send(fd as RawFd));
        // SAFETY: closing the fd the kernel gave us; nothing else uses it.
        unsafe { libc::close(fd as RawFd) };
        body()
    })?;
    match channel.recv() {
        Ok(fd) => Ok((pid, Listener::new(fd))),
        Err(e) => {
            let end = wait_exit(pid)?;
            Err(Stop::error(format!(
                "the target handed over no listener ({e}); it ended with {end}"
            )))
        }
    }
}

/// The target's notes and how it ended: `target ret=42 exit 0`.
fn target_end(notes: &Notes, pid: Pid) -> Result<String, Stop> {
    let end = wait_exit(pid)?;
    Ok(format!("target {} {end}", notes.take().join(",")))
}

/// Is a SECCOMP_SET_MODE_FILTER flag known to this kernel? (A null
/// program then fails with EFAULT, an unknown flag with EINVAL.)
fn filter_flag_known(flag: u32) -> bool {
    // SAFETY: a null program is never dereferenced; the kernel fails the
    // copy with EFAULT.
    let r = unsafe { seccomp(SECCOMP_SET_MODE_FILTER, flag, std::ptr::null_mut()) };
    r == Err(Errno::EFAULT)
}

/// A one-shot signal from a child to the scenario that reads as "no"
/// when the child dies without giving it (the scenario drops its write
/// end once the child is forked).
struct Latch {
    rx: OwnedFd,
    tx: Option<OwnedFd>,
}

impl Latch {
    fn new() -> Result<Self, Stop> {
        let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
        Ok(Latch { rx, tx: Some(tx) })
    }

    fn tx_raw(&self) -> RawFd {
        self.tx.as_ref().map_or(-1, |t| t.as_raw_fd())
    }

    /// In the scenario, after forking: only children can set it now.
    fn forked(&mut self) {
        self.tx = None;
    }

    /// Wait until set; `false` when every writer is gone, or after
    /// `timeout` (which only a failing kernel makes the scenario wait
    /// for).
    fn wait(&self, timeout: PollTimeout) -> bool {
        let mut fds = [PollFd::new(self.rx.as_fd(), PollFlags::POLLIN)];
        loop {
            match poll(&mut fds, timeout) {
                Err(Errno::EINTR) => continue,
                Ok(0) | Err(_) => return false,
                Ok(_) => break,
            }
        }
        let mut b = [0u8; 1];
        matches!(nix::unistd::read(self.rx.as_fd(), &mut b), Ok(1))
    }
}

/// Set a latch from a child (async-signal-safe).
fn set_latch(tx: RawFd) {
    // SAFETY: write(2) of a static byte.
    unsafe { libc::write(tx, b"s".as_ptr() as *const libc::c_void, 1) };
}

fn kill_and_reap(pid: Pid) -> Result<String, Stop> {
    let _ = kill(pid, Signal::SIGKILL);
    wait_exit(pid)
}

// ---------------------------------------------------------------------------
// 1. What RECV reports.

/// Which task of the target makes the notifying call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    MainThread,
    SecondThread,
    /// A child the target forks after installing the filter: it inherits
    /// the filter, and so the listener.
    ForkedChild,
}

impl Caller {
    const ALL: [Caller; 3] = [
        Caller::MainThread,
        Caller::SecondThread,
        Caller::ForkedChild,
    ];
}

impl Param for Caller {
    fn slug(&self) -> String {
        match self {
            Caller::MainThread => "main-thread",
            Caller::SecondThread => "second-thread",
            Caller::ForkedChild => "forked-child",
        }
        .into()
    }
}

static RECV: Scenario<Caller> = Scenario {
    base: "user-notif/recv",
    area: AREA,
    summary: "SECCOMP_IOCTL_NOTIF_RECV reports the call, its arguments and the calling task's id",
    needs,
    run: recv,
};

/// The notification carries the syscall number, the arch, all six
/// arguments and the id of the task that made the call (its tid, in the
/// supervisor's pid namespace); the id is valid until answered.
fn recv(p: &Caller, _: &Ctx) -> Outcome {
    let notes = Notes::new()?;
    let caller = |notes: &Notes| {
        notes.say(&format!("caller={}", nix::unistd::gettid()));
        notes.say(&ret_text(notif_call()));
    };
    let (pid, l) = spawn_target(0, || match p {
        Caller::MainThread => {
            caller(&notes);
            0
        }
        Caller::SecondThread => {
            let tx = notes.raw_tx();
            let t = std::thread::spawn(move || {
                note_to(tx, format!("caller={}", nix::unistd::gettid()).as_bytes());
                note_to(tx, ret_text(notif_call()).as_bytes());
            });
            if t.join().is_err() {
                return 123;
            }
            0
        }
        Caller::ForkedChild => {
            let child = spawn(|| {
                caller(&notes);
                0
            });
            let child = or_exit_stop("fork", child);
            match or_exit_stop("waitpid", wait_exit(child)).as_str() {
                "exit 0" => 0,
                _ => 124,
            }
        }
    })?;
    let n = l.recv()?;
    let valid = result_name(&l.id_valid(n.id));
    l.reply(n.id, 0)?;
    let end = wait_exit(pid)?;
    let mut target_notes = notes.take();
    let caller_tid: Option<u32> = target_notes
        .iter()
        .find_map(|s| s.strip_prefix("caller=")?.parse().ok());
    target_notes.retain(|s| !s.starts_with("caller="));
    let who = if Some(n.pid) == caller_tid {
        "caller-tid"
    } else if n.pid as i32 == pid.as_raw() {
        "target-pid"
    } else {
        "other"
    };
    Ok(Observation::new(format!(
        "{} pid={who} id-valid={valid}; target {} {end}",
        n.call_text(),
        target_notes.join(",")
    )))
}

// ---------------------------------------------------------------------------
// 2. The answer.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    Value,
    Error,
    /// Both set: the error wins.
    ErrorAndValue,
    /// SECCOMP_USER_NOTIF_FLAG_CONTINUE (5.5): the call runs after all.
    Continue,
    /// CONTINUE with a value is refused and the notification stays pending.
    ContinueWithValue,
}

impl Reply {
    const ALL: [Reply; 5] = [
        Reply::Value,
        Reply::Error,
        Reply::ErrorAndValue,
        Reply::Continue,
        Reply::ContinueWithValue,
    ];
}

impl Param for Reply {
    fn slug(&self) -> String {
        match self {
            Reply::Value => "value",
            Reply::Error => "error",
            Reply::ErrorAndValue => "error-and-value",
            Reply::Continue => "continue",
            Reply::ContinueWithValue => "continue-with-value",
        }
        .into()
    }
}

static ANSWER: Scenario<Reply> = Scenario {
    base: "user-notif/answer",
    area: AREA,
    summary: "SECCOMP_IOCTL_NOTIF_SEND decides what the call returns, exactly once",
    needs,
    run: answer,
};

/// An id far from any the filter handed out (they count up from a random
/// start), for probing what SEND accepts.
fn unused_id(id: u64) -> u64 {
    id.wrapping_add(1 << 40)
}

fn answer(p: &Reply, _: &Ctx) -> Outcome {
    let notes = Notes::new()?;
    let (pid, l) = spawn_target(0, || {
        notes.say(&ret_text(notif_call()));
        0
    })?;
    let n = l.recv()?;
    if matches!(p, Reply::Continue | Reply::ContinueWithValue)
        && l.send(unused_id(n.id), 0, 0, USER_NOTIF_FLAG_CONTINUE) == Err(Errno::EINVAL)
    {
        let _ = l.reply(n.id, 0);
        let _ = wait_exit(pid);
        return Err(Stop::lacks(
            "SECCOMP_USER_NOTIF_FLAG_CONTINUE (5.5) not supported",
        ));
    }
    let eperm = -libc::EPERM;
    let send = match p {
        Reply::Value => result_name(&l.send(n.id, 42, 0, 0)),
        Reply::Error => result_name(&l.send(n.id, 0, eperm, 0)),
        Reply::ErrorAndValue => result_name(&l.send(n.id, 42, eperm, 0)),
        Reply::Continue => result_name(&l.send(n.id, 0, 0, USER_NOTIF_FLAG_CONTINUE)),
        Reply::ContinueWithValue => {
            let refused = result_name(&l.send(n.id, 42, 0, USER_NOTIF_FLAG_CONTINUE));
            let pending = result_name(&l.id_valid(n.id));
            let then = result_name(&l.reply(n.id, 7));
            format!("{refused} id-valid={pending} then-value-7={then}")
        }
    };
    let valid_after = result_name(&l.id_valid(n.id));
    let target = target_end(&notes, pid)?;
    let again = result_name(&l.reply(n.id, 1));
    Ok(Observation::new(format!(
        "send={send} id-valid={valid_after}; {target}; send-again={again}"
    )))
}

// ---------------------------------------------------------------------------
// 3. The supervisor goes away.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gone {
    /// The listener is closed before the target makes its call.
    ClosedBeforeCall,
    /// The supervisor process dies while the call waits to be received.
    DiesBeforeRecv,
    /// The supervisor process dies after receiving it, without answering.
    DiesAfterRecv,
}

impl Gone {
    const ALL: [Gone; 3] = [
        Gone::ClosedBeforeCall,
        Gone::DiesBeforeRecv,
        Gone::DiesAfterRecv,
    ];
}

impl Param for Gone {
    fn slug(&self) -> String {
        match self {
            Gone::ClosedBeforeCall => "closed-before-call",
            Gone::DiesBeforeRecv => "dies-before-recv",
            Gone::DiesAfterRecv => "dies-after-recv",
        }
        .into()
    }
}

static SUPERVISOR_GONE: Scenario<Gone> = Scenario {
    base: "user-notif/supervisor-gone",
    area: AREA,
    summary: "when the last listener fd closes, waiting and later notifying calls fail with ENOSYS",
    needs,
    run: supervisor_gone,
};

/// Closing the listener (seccomp_notify_release -> seccomp_notify_detach)
/// answers every notification not yet answered with ENOSYS and frees the
/// filter's notification state: later calls fail with ENOSYS at once,
/// and the filter no longer counts as a listener, so a new one may be
/// installed below it.
fn supervisor_gone(p: &Gone, _: &Ctx) -> Outcome {
    let notes = Notes::new()?;
    let go = Gate::new()?;
    let (pid, l) = spawn_target(0, || {
        go.wait();
        notes.say(&format!("first {}", ret_text(notif_call())));
        notes.say(&format!("second {}", ret_text(notif_call())));
        let relisten = notifying_filter().install_flags(FLAG_NEW_LISTENER);
        notes.say(&format!("new-listener={}", result_name(&relisten)));
        0
    })?;
    let supervisor = match p {
        Gone::ClosedBeforeCall => {
            drop(l);
            go.open();
            None
        }
        Gone::DiesBeforeRecv | Gone::DiesAfterRecv => {
            let mut seen = Latch::new()?;
            let tx = seen.tx_raw();
            let after_recv = *p == Gone::DiesAfterRecv;
            let s = spawn(|| {
                let got = if after_recv {
                    l.recv().is_ok()
                } else {
                    l.wait_pending() == "IN"
                };
                if got {
                    set_latch(tx);
                }
                // Hold the listener until killed.
                loop {
                    // SAFETY: pause(2) takes nothing.
                    unsafe { libc::pause() };
                }
            })?;
            seen.forked();
            drop(l);
            go.open();
            if !seen.wait(PollTimeout::NONE) {
                let _ = kill_and_reap(s);
                let _ = kill_and_reap(pid);
                return Err(Stop::error("the supervisor never saw the call"));
            }
            Some(kill_and_reap(s)?)
        }
    };
    let target = target_end(&notes, pid)?;
    Ok(Observation::new(match supervisor {
        Some(s) => format!("supervisor {s}; {target}"),
        None => target,
    }))
}

// ---------------------------------------------------------------------------
// 4. The target dies.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Killed {
    /// SIGKILL while the notification waits to be received.
    BeforeRecv,
    /// SIGKILL after the supervisor received it, before it answers.
    AfterRecv,
}

impl Killed {
    const ALL: [Killed; 2] = [Killed::BeforeRecv, Killed::AfterRecv];
}

impl Param for Killed {
    fn slug(&self) -> String {
        match self {
            Killed::BeforeRecv => "before-recv",
            Killed::AfterRecv => "after-recv",
        }
        .into()
    }
}

static TARGET_KILLED: Scenario<Killed> = Scenario {
    base: "user-notif/target-killed",
    area: AREA,
    summary:
        "a notification whose task was killed is gone: ID_VALID, SEND and ADDFD fail with ENOENT",
    needs,
    run: target_killed,
};

/// The killed task leaves seccomp_do_user_notification() and takes its
/// notification off the list, so the supervisor finds nothing by its id;
/// once no task uses the filter, poll reports HUP (5.8). A notification
/// killed before RECV leaves RECV's semaphore raised: RECV returns ENOENT
/// instead of blocking.
fn target_killed(p: &Killed, _: &Ctx) -> Outcome {
    let (pid, l) = spawn_target(0, || {
        notif_call();
        0
    })?;
    let text = match p {
        Killed::BeforeRecv => {
            let pending = l.wait_pending();
            let end = kill_and_reap(pid)?;
            let poll = l.poll_now();
            let recv = result_name(&l.recv());
            format!("pending={pending}; target {end}; poll={poll} recv={recv}")
        }
        Killed::AfterRecv => {
            let n = l.recv()?;
            let before = result_name(&l.id_valid(n.id));
            let end = kill_and_reap(pid)?;
            let valid = result_name(&l.id_valid(n.id));
            let send = result_name(&l.reply(n.id, 1));
            let (_rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
            let addfd = result_name(&l.addfd(n.id, tx.as_raw_fd(), 0, 0, 0));
            let poll = l.poll_now();
            format!(
                "id-valid={before}; target {end}; id-valid={valid} send={send} addfd={addfd} poll={poll}"
            )
        }
    };
    Ok(Observation::new(text))
}

// ---------------------------------------------------------------------------
// 5. A signal while the call waits.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signalled {
    /// SIGUSR1 after RECV, handler with SA_RESTART.
    Restart,
    /// SIGUSR1 after RECV, handler without SA_RESTART.
    NoRestart,
    /// The filter has SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19);
    /// SIGUSR1 after RECV.
    KillableAfterRecv,
    /// The same flag, SIGUSR1 before RECV.
    KillableBeforeRecv,
}

impl Signalled {
    const ALL: [Signalled; 4] = [
        Signalled::Restart,
        Signalled::NoRestart,
        Signalled::KillableAfterRecv,
        Signalled::KillableBeforeRecv,
    ];

    fn killable(self) -> bool {
        matches!(
            self,
            Signalled::KillableAfterRecv | Signalled::KillableBeforeRecv
        )
    }
}

impl Param for Signalled {
    fn slug(&self) -> String {
        match self {
            Signalled::Restart => "after-recv/sa-restart",
            Signalled::NoRestart => "after-recv/no-restart",
            Signalled::KillableAfterRecv => "after-recv/wait-killable-recv",
            Signalled::KillableBeforeRecv => "before-recv/wait-killable-recv",
        }
        .into()
    }
}

static SIGNALLED: Scenario<Signalled> = Scenario {
    base: "user-notif/signal",
    area: AREA,
    summary: "a signal interrupts a waiting notification (and restarts the call) unless WAIT_KILLABLE_RECV holds it",
    needs,
    run: signalled,
};

static HANDLED_TX: AtomicI32 = AtomicI32::new(-1);
static HANDLER_NOTES: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_usr1(_: libc::c_int) {
    note_to(HANDLER_NOTES.load(Ordering::SeqCst), b"handler");
    set_latch(HANDLED_TX.load(Ordering::SeqCst));
}

/// The waiting task sleeps interruptibly: a signal takes the notification
/// off the list (its id turns invalid) and the call returns -ERESTARTSYS,
/// so after the handler it is made again (SA_RESTART: a new notification
/// with a new id) or fails with EINTR. With WAIT_KILLABLE_RECV the wait
/// turns killable once the supervisor has received the notification: the
/// signal waits for the answer, and the handler runs after the call
/// returns; before RECV it still interrupts.
fn signalled(p: &Signalled, _: &Ctx) -> Outcome {
    let p = *p;
    let flags = if p.killable() {
        if !filter_flag_known(FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV) {
            return Err(Stop::lacks(
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19) not supported",
            ));
        }
        FLAG_WAIT_KILLABLE_RECV
    } else {
        0
    };
    let notes = Notes::new()?;
    let mut handled = Latch::new()?;
    let handled_tx = handled.tx_raw();
    let (pid, l) = spawn_target(flags, || {
        HANDLED_TX.store(handled_tx, Ordering::SeqCst);
        HANDLER_NOTES.store(notes.raw_tx(), Ordering::SeqCst);
        let sa = if p == Signalled::NoRestart {
            SaFlags::empty()
        } else {
            SaFlags::SA_RESTART
        };
        let act = SigAction::new(SigHandler::Handler(on_usr1), sa, SigSet::empty());
        // SAFETY: the handler only write(2)s.
        setup::or_exit("sigaction(SIGUSR1)", unsafe {
            sigaction(Signal::SIGUSR1, &act)
        });
        notes.say(&ret_text(notif_call()));
        0
    })?;
    handled.forked();
    let usr1 = |pid| kill(pid, Signal::SIGUSR1);
    // Only a kernel that fails to deliver the signal makes this wait out.
    let patience = PollTimeout::from(5000u16);
    let text = match p {
        Signalled::Restart | Signalled::NoRestart => {
            let n1 = l.recv()?;
            usr1(pid)?;
            let ran = handled.wait(patience);
            let old = format!(
                "handler-ran={} old-id-valid={} old-send={}",
                yes(ran),
                result_name(&l.id_valid(n1.id)),
                result_name(&l.reply(n1.id, 1))
            );
            if p == Signalled::Restart && ran {
                let n2 = l.recv()?;
                let same = n2.nr == n1.nr && n2.args == n1.args;
                let send = result_name(&l.reply(n2.id, 7));
                let target = target_end(&notes, pid)?;
                format!(
                    "{old}; renotified same-call={} new-id={} send={send}; {target}",
                    yes(same),
                    yes(n2.id != n1.id)
                )
            } else {
                let target = target_end(&notes, pid)?;
                format!("{old}; {target}; poll={}", l.poll_now())
            }
        }
        Signalled::KillableAfterRecv => {
            let n = l.recv()?;
            usr1(pid)?;
            let valid = result_name(&l.id_valid(n.id));
            let send = result_name(&l.reply(n.id, 5));
            let target = target_end(&notes, pid)?;
            format!("id-valid={valid} send={send}; {target}")
        }
        Signalled::KillableBeforeRecv => {
            let pending = l.wait_pending();
            usr1(pid)?;
            let ran = handled.wait(patience);
            // The interrupted notification left RECV's semaphore raised:
            // receive only once the restarted call's notification is
            // listed, or RECV may find nothing (ENOENT).
            l.wait_pending();
            let n = l.recv()?;
            let send = result_name(&l.reply(n.id, 6));
            let target = target_end(&notes, pid)?;
            format!(
                "pending={pending} handler-ran-before-recv={} send={send}; {target}",
                yes(ran)
            )
        }
    };
    Ok(Observation::new(text))
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

// ---------------------------------------------------------------------------
// 6. SECCOMP_IOCTL_NOTIF_ADDFD.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddFd {
    /// Lowest free fd in the target; the answer names it.
    Plain,
    /// At a chosen number (SECCOMP_ADDFD_FLAG_SETFD).
    SetFd,
    /// newfd_flags O_CLOEXEC.
    Cloexec,
    /// SECCOMP_ADDFD_FLAG_SEND (5.14): install and answer in one step.
    Send,
}

impl AddFd {
    const ALL: [AddFd; 4] = [AddFd::Plain, AddFd::SetFd, AddFd::Cloexec, AddFd::Send];
}

impl Param for AddFd {
    fn slug(&self) -> String {
        match self {
            AddFd::Plain => "plain",
            AddFd::SetFd => "setfd",
            AddFd::Cloexec => "cloexec",
            AddFd::Send => "send",
        }
        .into()
    }
}

static ADDFD: Scenario<AddFd> = Scenario {
    base: "user-notif/addfd",
    area: AREA,
    summary: "SECCOMP_IOCTL_NOTIF_ADDFD puts the supervisor's file into the waiting task",
    needs,
    run: addfd,
};

/// The fd number SETFD asks for.
const SETFD_AT: u32 = 77;

/// The supervisor makes a pipe after the target forked (so ADDFD is the
/// only way the target can hold its write end) and adds the write end;
/// the target's call returns the fd number (the supervisor's answer, or
/// ADDFD itself with SEND), and the target writes into it.
fn addfd(p: &AddFd, _: &Ctx) -> Outcome {
    let notes = Notes::new()?;
    let (pid, l) = spawn_target(0, || {
        let r = notif_call();
        notes.say(&format!("fd={r}"));
        if r >= 0 {
            let fd = r as RawFd;
            // SAFETY: the call returned the fd ADDFD installed; it stays
            // open for as long as this borrow.
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
            let cloexec = fcntl(borrowed, FcntlArg::F_GETFD)
                .map(|f| FdFlag::from_bits_truncate(f).contains(FdFlag::FD_CLOEXEC));
            notes.say(&format!(
                "cloexec={}",
                match cloexec {
                    Ok(c) => yes(c).to_string(),
                    Err(e) => errno_name(e),
                }
            ));
            // SAFETY: write(2) of a static buffer to the added fd.
            let w = unsafe { libc::write(fd, b"addfd".as_ptr() as *const libc::c_void, 5) };
            notes.say(if w == 5 { "wrote" } else { "write-failed" });
        }
        0
    })?;
    let n = l.recv()?;
    let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
    let (newfd, newfd_flags, flags) = match p {
        AddFd::Plain => (0, 0, 0),
        AddFd::SetFd => (SETFD_AT, 0, ADDFD_FLAG_SETFD),
        AddFd::Cloexec => (0, libc::O_CLOEXEC as u32, 0),
        AddFd::Send => (0, 0, ADDFD_FLAG_SEND),
    };
    let added = l.addfd(n.id, tx.as_raw_fd(), newfd, newfd_flags, flags);
    drop(tx);
    if added == Err(Errno::EINVAL) {
        let _ = l.send(n.id, 0, -libc::ENOSYS, 0);
        let _ = wait_exit(pid);
        return Err(Stop::lacks(match p {
            AddFd::Send => "SECCOMP_ADDFD_FLAG_SEND (5.14) not supported",
            _ => "SECCOMP_IOCTL_NOTIF_ADDFD (5.9) not supported",
        }));
    }
    let answered = match (p, added) {
        (AddFd::Send, _) => format!("id-valid={}", result_name(&l.id_valid(n.id))),
        (_, Ok(fd)) => format!("send={}", result_name(&l.reply(n.id, fd as i64))),
        (_, Err(_)) => format!("send={}", result_name(&l.reply(n.id, -1))),
    };
    let end = wait_exit(pid)?;
    let target: Vec<String> = notes
        .take()
        .into_iter()
        .map(|s| match (s.strip_prefix("fd="), added) {
            (Some(v), Ok(fd)) if v == fd.to_string() => "fd=added".to_string(),
            _ => s,
        })
        .collect();
    let mut got = [0u8; 16];
    let n_read = nix::unistd::read(rx.as_fd(), &mut got).unwrap_or(0);
    let added_text = match (p, added) {
        (AddFd::SetFd, Ok(fd)) => fd.to_string(),
        (_, Ok(_)) => "ok".into(),
        (_, Err(e)) => errno_name(e),
    };
    Ok(Observation::new(format!(
        "addfd={added_text} {answered}; target {} {end}; pipe={}",
        target.join(","),
        String::from_utf8_lossy(&got[..n_read])
    )))
}

// ---------------------------------------------------------------------------
// 7. The listener itself.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerCase {
    /// A second NEW_LISTENER filter while one has a listener.
    Second,
    /// What the fd is.
    Fd,
    /// poll(2) through a notification's life.
    Poll,
    /// RECV into a buffer that is not zeroed.
    DirtyRecv,
    /// SECCOMP_GET_NOTIF_SIZES.
    Sizes,
}

impl ListenerCase {
    const ALL: [ListenerCase; 5] = [
        ListenerCase::Second,
        ListenerCase::Fd,
        ListenerCase::Poll,
        ListenerCase::DirtyRecv,
        ListenerCase::Sizes,
    ];
}

impl Param for ListenerCase {
    fn slug(&self) -> String {
        match self {
            ListenerCase::Second => "second-listener",
            ListenerCase::Fd => "fd",
            ListenerCase::Poll => "poll-states",
            ListenerCase::DirtyRecv => "dirty-recv",
            ListenerCase::Sizes => "sizes",
        }
        .into()
    }
}

static LISTENER: Scenario<ListenerCase> = Scenario {
    base: "user-notif/listener",
    area: AREA,
    summary: "the listener fd: one per filter chain, what it is, its poll states, RECV's buffer check, the ABI sizes",
    needs: |p| match p {
        ListenerCase::Poll | ListenerCase::DirtyRecv => needs(p),
        _ => Needs::any().feature(Feature::NewListener),
    },
    run: listener,
};

fn listener(p: &ListenerCase, _: &Ctx) -> Outcome {
    match p {
        ListenerCase::Second | ListenerCase::Fd => in_filtered_subject(*p),
        ListenerCase::Poll => {
            let go = Gate::new()?;
            let hold = Gate::new()?;
            let mut returned = Latch::new()?;
            let returned_tx = returned.tx_raw();
            let (pid, l) = spawn_target(0, || {
                go.wait();
                notif_call();
                set_latch(returned_tx);
                // Stay, so "answered" is not mistaken for "no users".
                hold.wait();
                0
            })?;
            returned.forked();
            let idle = l.poll_now();
            go.open();
            let pending = l.wait_pending();
            let n = l.recv()?;
            let received = l.poll_now();
            l.reply(n.id, 0)?;
            let answered = if returned.wait(PollTimeout::NONE) {
                l.poll_now()
            } else {
                "target-gone".into()
            };
            hold.open();
            let end = wait_exit(pid)?;
            Ok(Observation::new(format!(
                "idle={idle} pending={pending} received={received} answered={answered}; target {end}; gone={}",
                l.poll_now()
            )))
        }
        ListenerCase::DirtyRecv => {
            let (pid, l) = spawn_target(0, || {
                notif_call();
                0
            })?;
            let pending = l.wait_pending();
            let dirty = l.recv_dirty();
            // A kernel that takes the dirty buffer hands the notification
            // out with it: answer that one, as no second RECV would get it.
            let zeroed = match &dirty {
                Ok(n) => {
                    l.reply(n.id, 0)?;
                    "not-tried".to_string()
                }
                Err(_) => {
                    let zeroed = l.recv();
                    match &zeroed {
                        Ok(n) => l.reply(n.id, 0)?,
                        Err(_) => {
                            let _ = kill(pid, Signal::SIGKILL);
                        }
                    }
                    result_name(&zeroed)
                }
            };
            let dirty = result_name(&dirty);
            let end = wait_exit(pid)?;
            Ok(Observation::new(format!(
                "pending={pending} dirty={dirty} zeroed={zeroed}; target {end}"
            )))
        }
        ListenerCase::Sizes => {
            let s = notif_sizes().map_err(|e| Stop::error(format!("GET_NOTIF_SIZES: {e}")))?;
            Ok(Observation::new(format!(
                "seccomp_notif={} seccomp_notif_resp={} seccomp_data={}",
                s[0], s[1], s[2]
            )))
        }
    }
}

/// Cases the target can check on its own listener: the observation is
/// what it notes.
fn in_filtered_subject(p: ListenerCase) -> Outcome {
    let notes = Notes::new()?;
    let pid = spawn(|| {
        setup::or_exit("prctl(PR_SET_NO_NEW_PRIVS)", set_no_new_privs());
        let first = match notifying_filter().install_flags(FLAG_NEW_LISTENER) {
            // SAFETY: the kernel just handed us this fd; nothing else owns it.
            Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd as RawFd) },
            Err(e) => {
                notes.say(&format!("first={}", errno_name(e)));
                return 0;
            }
        };
        match p {
            ListenerCase::Second => {
                let second = notifying_filter().install_flags(FLAG_NEW_LISTENER);
                let plain = notifying_filter().install_flags(0);
                drop(first);
                let after = notifying_filter().install_flags(FLAG_NEW_LISTENER);
                notes.say(&format!(
                    "second={} without-listener={} after-close={}",
                    result_name(&second),
                    result_name(&plain),
                    result_name(&after)
                ));
            }
            _ => {
                let kind = std::fs::read_link(format!("/proc/self/fd/{}", first.as_raw_fd()))
                    .map(|t| t.to_string_lossy().replace(' ', "-"))
                    .unwrap_or_else(|e| format!("unreadable({e})"));
                let fd_flags = fcntl(&first, FcntlArg::F_GETFD).map(FdFlag::from_bits_truncate);
                let fl_flags = fcntl(&first, FcntlArg::F_GETFL).map(OFlag::from_bits_truncate);
                let cloexec = fd_flags.map(|f| yes(f.contains(FdFlag::FD_CLOEXEC)));
                let mode = fl_flags.map(|f| match f & OFlag::O_ACCMODE {
                    OFlag::O_RDWR => "rdwr",
                    OFlag::O_RDONLY => "rdonly",
                    _ => "wronly",
                });
                notes.say(&format!(
                    "kind={kind} cloexec={} mode={}",
                    cloexec.unwrap_or("?"),
                    mode.unwrap_or("?")
                ));
            }
        }
        0
    })?;
    let end = wait_exit(pid)?;
    if end != "exit 0" {
        return Err(Stop::error(format!("the subject ended with {end}")));
    }
    Ok(Observation::new(notes.summary()))
}

// ---------------------------------------------------------------------------
// 8. SECCOMP_IOCTL_NOTIF_ID_VALID's ioctl number.

/// The number libc and the uapi header use today: _IOW('!', 2, __u64).
const ID_VALID_IOW: libc::c_ulong = libc::SECCOMP_IOCTL_NOTIF_ID_VALID as libc::c_ulong;
/// The number 5.0 to 5.8 defined, with the wrong direction:
/// _IOR('!', 2, __u64), kept as an alias since.
const ID_VALID_IOR: libc::c_ulong = (2 << 30) | (8 << 16) | ((b'!' as libc::c_ulong) << 8) | 2;

static ID_VALID_NUMBER: Scenario<()> = Scenario {
    base: "user-notif/id-valid/ioctl-number",
    area: AREA,
    summary: "SECCOMP_IOCTL_NOTIF_ID_VALID answers to its _IOW number and to the old _IOR one",
    needs,
    run: id_valid_number,
};

/// The id travels to the kernel, so the ioctl is _IOW (47e33c05f9f0,
/// 5.9-rc1, 5.8.2, 5.7.16); the _IOR number of 5.0-5.8 still works as an
/// alias. Kernels before the fix answered EINVAL to the _IOW number.
fn id_valid_number(_: &(), _: &Ctx) -> Outcome {
    let notes = Notes::new()?;
    let (pid, l) = spawn_target(0, || {
        notes.say(&ret_text(notif_call()));
        0
    })?;
    let n = l.recv()?;
    let ask = |cmd: libc::c_ulong| {
        let mut id = n.id;
        // SAFETY: ID_VALID reads one u64.
        let rc = unsafe { libc::ioctl(l.raw(), cmd as _, &mut id) };
        result_name(&Errno::result(rc))
    };
    let iow = ask(ID_VALID_IOW);
    let ior = ask(ID_VALID_IOR);
    l.reply(n.id, 0)?;
    Ok(Observation::new(format!(
        "iow={iow} ior={ior}; {}",
        target_end(&notes, pid)?
    )))
}

// ---------------------------------------------------------------------------
// 9. RECV once no task uses the filter.

/// Where the filter's only user is when the supervisor calls RECV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsersGone {
    /// Exited and reaped.
    Reaped,
    /// Exited, not yet reaped (a zombie).
    Zombie,
}

impl Param for UsersGone {
    fn slug(&self) -> String {
        match self {
            UsersGone::Reaped => "target-reaped",
            UsersGone::Zombie => "target-zombie",
        }
        .into()
    }
}

static RECV_WITHOUT_USERS: Scenario<UsersGone> = Scenario {
    base: "user-notif/recv-without-users",
    area: AREA,
    summary: "SECCOMP_IOCTL_NOTIF_RECV returns ENOENT once no task can use the filter",
    needs,
    run: recv_without_users,
};

/// How long RECV may block before the scenario calls it blocked: only a
/// kernel without the fix waits that long.
const RECV_DEADLINE_MS: i64 = 500;

extern "C" fn ignore_alarm(_: libc::c_int) {}

/// RECV with a SIGALRM after [`RECV_DEADLINE_MS`] (no SA_RESTART):
/// `blocked` when the alarm had to end it.
fn recv_or_blocked(l: &Listener) -> Result<String, Stop> {
    let act = SigAction::new(
        SigHandler::Handler(ignore_alarm),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler does nothing.
    let old = setup::step("sigaction(SIGALRM)", unsafe {
        sigaction(Signal::SIGALRM, &act)
    })?;
    let arm = |ms: i64| {
        let t = libc::itimerval {
            it_interval: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            it_value: libc::timeval {
                tv_sec: ms / 1000,
                tv_usec: (ms % 1000) * 1000,
            },
        };
        // SAFETY: setitimer reads one itimerval.
        Errno::result(unsafe { libc::setitimer(libc::ITIMER_REAL, &t, std::ptr::null_mut()) })
    };
    setup::step("setitimer(ITIMER_REAL)", arm(RECV_DEADLINE_MS))?;
    let r = l.recv();
    let _ = arm(0);
    // SAFETY: putting back the action that was there.
    let _ = unsafe { sigaction(Signal::SIGALRM, &old) };
    Ok(match r {
        Ok(n) => format!("notification nr={}", n.nr),
        Err(Errno::EINTR) => "blocked".to_string(),
        Err(e) => errno_name(e),
    })
}

/// A filter whose every user has exited can never notify again, so a
/// supervisor blocked in (or calling) RECV gets ENOENT instead of waiting
/// for good (95036a79e7b5, 6.11, with bfafe5efa975 releasing an exited
/// task's filters at exit instead of when it is reaped). Kernels before
/// 6.11 only woke poll() (HUP, 5.8, and only once the task was reaped);
/// RECV blocked until a signal ended it.
fn recv_without_users(p: &UsersGone, _: &Ctx) -> Outcome {
    let (pid, l) = spawn_target(0, || 0)?;
    let target = match p {
        UsersGone::Reaped => format!("target {}", wait_exit(pid)?),
        UsersGone::Zombie => {
            setup::step(
                "waitid(WEXITED | WNOWAIT)",
                crate::kit::waits::waitid_pid(pid, libc::WEXITED | libc::WNOWAIT),
            )?;
            "target zombie".to_string()
        }
    };
    let poll = l.poll_now();
    let recv = recv_or_blocked(&l)?;
    if *p == UsersGone::Zombie {
        wait_exit(pid)?;
    }
    Ok(Observation::new(format!(
        "{target}; poll={poll} recv={recv}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_values_read_as_notes() {
        assert_eq!(ret_text(42), "ret=42");
        assert_eq!(ret_text(-(libc::ENOSYS as i64)), "errno=ENOSYS");
    }
}
