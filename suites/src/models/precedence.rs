//! The precedence model: which action wins across a stack of filters
//! ([`stack::predict`]), the runner that puts a stack to the kernel
//! ([`stack::run`]), and random stacks checked against it ([`model`]).

/// Random stacks and their check against [`stack::predict`]; public so
/// `suites/tests/precedence_model.rs` can drive them as a proptest.
pub mod model {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use kconform_core::Stop;

    use super::stack::{self, Layer};
    use crate::precedence::{
        ALLOW, ERRNO, KILL_PROCESS, KILL_THREAD, LOG, TRACE, TRAP, USER_NOTIF,
    };

    /// How many stacks the guest scenario runs (each is a fork, two or
    /// three threads and maybe a ptrace session: cheap natively, a few
    /// milliseconds under TCG).
    pub const CASES: usize = 12;
    /// The most filters a stack has.
    pub const MAX_LAYERS: usize = 5;

    /// Every action, and two unknown values (below TRAP, above LOG).
    const ACTIONS: [u32; 10] = [
        KILL_PROCESS,
        KILL_THREAD,
        TRAP,
        ERRNO,
        USER_NOTIF,
        TRACE,
        LOG,
        ALLOW,
        0x0001_0000,
        0x7ffe_0000,
    ];

    /// One to five filters with random actions and data, at most one of
    /// them (any, not only a USER_NOTIF one) with a listener.
    pub fn stacks() -> impl Strategy<Value = Vec<Layer>> {
        let data = prop_oneof![
            3 => 0u32..8,
            1 => 4090u32..4100,
            1 => any::<u16>().prop_map(u32::from),
        ];
        let layer = (proptest::sample::select(&ACTIONS[..]), data)
            .prop_map(|(action, data)| Layer::new(action | data));
        (
            vec(layer, 1..=MAX_LAYERS),
            proptest::option::of(0..MAX_LAYERS),
        )
            .prop_map(|(mut layers, listener)| {
                if let Some(i) = listener {
                    let n = layers.len();
                    layers[i % n].listener = true;
                }
                layers
            })
    }

    /// The guest's cases: the first `n` values of [`stacks`] from a fixed seed.
    pub fn fixed_cases(n: usize) -> Vec<Vec<Layer>> {
        crate::kit::model::seeded_cases(stacks(), n)
    }

    /// Run one stack on the kernel: `Ok(None)` when it meets what the
    /// model predicts, else `stack: kernel=... model=...`.
    pub fn check(layers: &[Layer]) -> Result<Option<String>, Stop> {
        let got = stack::run(layers)?;
        let want = stack::predict(layers);
        Ok(
            (got != want)
                .then(|| format!("{}: kernel={got} model={want}", stack::describe(layers))),
        )
    }
}

/// A stack of filters on the probe, run in a subject, and what the probe
/// met; public for the model check and the proptest.
pub mod stack {
    use std::fmt;
    use std::os::fd::{AsFd, AsRawFd, RawFd};

    use nix::errno::Errno;
    use nix::fcntl::OFlag;
    use nix::sys::ptrace::{self, Options};
    use nix::sys::signal::Signal;
    use nix::sys::wait::WaitStatus;
    use nix::unistd::{pipe2, Pid};

    use kconform_core::{setup, Stop};

    use crate::kit::notif::Listener;
    use crate::kit::seccomp::{
        install_program, raw_rule_program, set_no_new_privs, FLAG_NEW_LISTENER,
    };
    use crate::kit::sig::Disposition;
    use crate::kit::task::{event_name, note_to, require, spawn, wait, wait_exit, Notes};
    use crate::kit::trace::errno_name;

    use crate::precedence::{
        ALLOW, ERRNO, KILL_PROCESS, KILL_THREAD, LOG, TRACE, TRAP, USER_NOTIF,
    };

    /// The probe is `getppid(PROBE_ARG)`: the filters match the argument,
    /// so nothing else the subject does meets them, and a probe that runs
    /// returns the scenario's pid, which no action's answer can mimic.
    pub const PROBE_ARG: u32 = 0x7fff_fff0;
    /// What the subject's supervising thread answers a notification with
    /// (above any pid_max, so it is never a real getppid answer).
    pub const NOTIF_REPLY: i64 = 0x4e_4e4e;

    /// One filter of a stack: the probe gets `ret`; `listener` installs
    /// it with SECCOMP_FILTER_FLAG_NEW_LISTENER.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Layer {
        pub ret: u32,
        pub listener: bool,
    }

    impl Layer {
        pub fn new(ret: u32) -> Self {
            Layer {
                ret,
                listener: false,
            }
        }

        pub fn with_listener(mut self) -> Self {
            self.listener = true;
            self
        }

        /// The action as seccomp_run_filters() compares it.
        pub fn action(&self) -> i32 {
            (self.ret & 0xffff_0000) as i32
        }

        pub fn data(&self) -> u16 {
            (self.ret & 0xffff) as u16
        }
    }

    impl fmt::Display for Layer {
        /// `kill-thread`, `trap(0x7)`, `errno(1)`, `user-notif+listener`,
        /// `0x10000` (an unknown value, data included).
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let d = self.data();
            match self.ret & 0xffff_0000 {
                KILL_PROCESS | KILL_THREAD | USER_NOTIF | LOG | ALLOW if d != 0 => {
                    write!(f, "{}({d:#x})", crate::precedence::action_slug(self.ret))
                }
                KILL_PROCESS | KILL_THREAD | USER_NOTIF | LOG | ALLOW => {
                    f.write_str(&crate::precedence::action_slug(self.ret))
                }
                TRAP | TRACE => write!(f, "{}({d:#x})", crate::precedence::action_slug(self.ret)),
                ERRNO => write!(f, "errno({d})"),
                _ => write!(f, "{:#x}", self.ret),
            }?;
            if self.listener {
                f.write_str("+listener")?;
            }
            Ok(())
        }
    }

    /// A stack in install order, oldest first: `trap(0x7),errno(1)`.
    pub fn describe(layers: &[Layer]) -> String {
        layers
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// What the probe met.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Effect {
        /// The whole subject died of SIGSYS.
        KillProcess,
        /// The probe thread died; the main thread went on.
        KillThread,
        /// The SIGSYS handler ran with this si_errno; the probe returned
        /// its syscall number (syscall_rollback).
        Trap(u16),
        /// The probe failed with this errno.
        Errno(i32),
        /// The probe returned this without running (ERRNO with data 0).
        Returned(i64),
        /// The listener received the probe and its answer came back.
        Notified,
        /// The tracer saw PTRACE_EVENT_SECCOMP with this message, and the
        /// probe then ran.
        Trace(u16),
        /// The probe ran (ALLOW or LOG).
        Ran,
        /// seccomp(2) refused filter #i.
        Refused(usize, String),
        /// Anything else, as the raw facts.
        Odd(String),
    }

    impl fmt::Display for Effect {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Effect::KillProcess => f.write_str("kill-process"),
                Effect::KillThread => f.write_str("kill-thread"),
                Effect::Trap(d) => write!(f, "trap data={d:#x}"),
                Effect::Errno(e) => match Errno::from_raw(*e) {
                    Errno::UnknownErrno => write!(f, "errno={e}"),
                    known => write!(f, "errno={}", errno_name(known)),
                },
                Effect::Returned(v) => write!(f, "ret={v}"),
                Effect::Notified => f.write_str("notified"),
                Effect::Trace(d) => write!(f, "trace data={d:#x}"),
                Effect::Ran => f.write_str("ran"),
                Effect::Refused(i, e) => write!(f, "install #{i} refused {e}"),
                Effect::Odd(s) => write!(f, "odd: {s}"),
            }
        }
    }

    /// The model: the newest filter with the lowest action wins (ties
    /// keep the newer one); no filter below ALLOW means the probe runs.
    /// Unknown actions act as KILL_PROCESS, ERRNO data is capped at
    /// MAX_ERRNO (0 returns 0), USER_NOTIF reaches a listener only if the
    /// winning filter has one (else ENOSYS), and a tracer is always there
    /// for TRACE.
    pub fn predict(layers: &[Layer]) -> Effect {
        let mut best: Option<&Layer> = None;
        for l in layers.iter().rev() {
            if l.action() < best.map_or(ALLOW as i32, |b| b.action()) {
                best = Some(l);
            }
        }
        let Some(w) = best else {
            return Effect::Ran;
        };
        let data = w.data();
        match w.ret & 0xffff_0000 {
            KILL_THREAD => Effect::KillThread,
            TRAP => Effect::Trap(data),
            ERRNO if data == 0 => Effect::Returned(0),
            ERRNO => Effect::Errno(i32::from(data.min(4095))),
            USER_NOTIF if w.listener => Effect::Notified,
            USER_NOTIF => Effect::Errno(libc::ENOSYS),
            TRACE => Effect::Trace(data),
            LOG => Effect::Ran,
            _ => Effect::KillProcess,
        }
    }

    /// Put the stack on a fresh subject and probe it.
    ///
    /// The subject installs the filters oldest first, starts a thread
    /// that answers the listener (if a filter has one) and the probe
    /// thread, which reports its tid and waits; the scenario seizes it
    /// when a filter returns TRACE, lets it go, and reads what happened.
    pub fn run(layers: &[Layer]) -> Result<Effect, Stop> {
        let traced = layers.iter().any(|l| l.ret & 0xffff_0000 == TRACE);
        let notes = Notes::new()?;
        let (tid_rx, tid_tx) = pipe2(OFlag::O_CLOEXEC)?;
        let (go_rx, go_tx) = pipe2(OFlag::O_CLOEXEC)?;
        let pid = spawn(|| {
            subject(
                layers,
                notes.raw_tx(),
                tid_tx.as_raw_fd(),
                go_rx.as_raw_fd(),
            )
        })?;
        drop(tid_tx);
        let mut buf = [0u8; 4];
        let tid = match read_full(tid_rx.as_raw_fd(), &mut buf) {
            true => Pid::from_raw(i32::from_ne_bytes(buf)),
            false => {
                // No probe thread: an install was refused or setup failed.
                let end = wait_exit(pid)?;
                return classify(&end, &notes.take(), &[], pid);
            }
        };
        let mut events = Vec::new();
        if traced {
            if let Err(e) = ptrace::seize(
                tid,
                Options::PTRACE_O_TRACESECCOMP | Options::PTRACE_O_EXITKILL,
            ) {
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                let _ = wait_exit(pid);
                return Err(Stop::forbidden(format!(
                    "cannot trace the subject's thread to see RET_TRACE (PTRACE_SEIZE: {e})"
                )));
            }
        }
        let _ = nix::unistd::write(go_tx.as_fd(), b"g");
        if traced {
            events = follow(tid)?;
        }
        let end = wait_exit(pid)?;
        classify(&end, &notes.take(), &events, nix::unistd::getpid())
    }

    /// Resume the traced probe thread through its stops until it is
    /// gone; returns its PTRACE_EVENT_SECCOMP messages.
    fn follow(tid: Pid) -> Result<Vec<u16>, Stop> {
        let mut msgs = Vec::new();
        for _ in 0..32 {
            match wait(tid)? {
                WaitStatus::PtraceEvent(_, _, ev) if event_name(ev) == "SECCOMP" => {
                    let msg = ptrace::getevent(tid).unwrap_or(-1);
                    msgs.push(msg as u16);
                    let _ = ptrace::cont(tid, None);
                }
                WaitStatus::Stopped(_, sig) => {
                    let _ = ptrace::cont(tid, Some(sig));
                }
                WaitStatus::Exited(..) | WaitStatus::Signaled(..) => return Ok(msgs),
                _ => {
                    let _ = ptrace::cont(tid, None);
                }
            }
        }
        Err(Stop::error("the traced probe thread never ended"))
    }

    fn read_full(fd: RawFd, buf: &mut [u8]) -> bool {
        let mut got = 0;
        while got < buf.len() {
            // SAFETY: read(2) into the unfilled part of buf.
            let n = unsafe {
                libc::read(
                    fd,
                    buf[got..].as_mut_ptr() as *mut libc::c_void,
                    buf.len() - got,
                )
            };
            match n {
                n if n > 0 => got += n as usize,
                n if n < 0 && Errno::last() == Errno::EINTR => continue,
                _ => return false,
            }
        }
        true
    }

    /// The subject: filters, a SIGSYS handler, the listener's answering
    /// thread, the probe thread. Exits 3 once the probe thread is gone.
    fn subject(layers: &[Layer], notes: RawFd, tid_tx: RawFd, go_rx: RawFd) -> i32 {
        setup::or_exit("prctl(PR_SET_NO_NEW_PRIVS)", set_no_new_privs());
        Disposition::Handled.apply_or_exit(Signal::SIGSYS, notes);
        let mut listener = None;
        for (i, l) in layers.iter().enumerate() {
            let prog = raw_rule_program(libc::SYS_getppid, PROBE_ARG, l.ret);
            let flags = if l.listener { FLAG_NEW_LISTENER } else { 0 };
            match install_program(&prog, flags) {
                Ok(fd) if l.listener => listener = Some(Listener::from_raw(fd)),
                Ok(_) => {}
                Err(e) => {
                    note_to(notes, format!("refused {i} {}", errno_name(e)).as_bytes());
                    return 0;
                }
            }
        }
        if let Some(l) = listener {
            // Never joined: it blocks in RECV until the subject exits.
            let started = std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || answer_forever(l, notes));
            setup::or_exit("pthread_create(listener thread)", started);
        }
        let probe = start_thread(Box::new(move || probe_thread(notes, tid_tx, go_rx)));
        // SAFETY: joining the thread started above, once.
        unsafe { libc::pthread_join(probe, std::ptr::null_mut()) };
        note_to(notes, b"joined");
        3
    }

    fn probe_thread(notes: RawFd, tid_tx: RawFd, go_rx: RawFd) {
        let tid = nix::unistd::gettid().as_raw().to_ne_bytes();
        // SAFETY: write(2) from a stack buffer.
        unsafe { libc::write(tid_tx, tid.as_ptr() as *const libc::c_void, tid.len()) };
        let mut go = [0u8; 1];
        // SAFETY: read(2) into a stack buffer.
        while unsafe { libc::read(go_rx, go.as_mut_ptr() as *mut libc::c_void, 1) } < 0
            && Errno::last() == Errno::EINTR
        {}
        // The raw return value: glibc's syscall() passes anything outside
        // -4095..-1 through as a return value (a RET_ERRNO above
        // MAX_ERRNO would be one), so errno is cleared first and read only
        // for a -1 return.
        Errno::clear();
        // SAFETY: getppid takes no pointer; the argument is ignored.
        let rc = unsafe { libc::syscall(libc::SYS_getppid, PROBE_ARG as i64) };
        let r = if rc == -1 {
            -(Errno::last_raw() as i64)
        } else {
            rc
        };
        note_to(notes, format!("ret={r}").as_bytes());
    }

    fn answer_forever(l: Listener, notes: RawFd) {
        loop {
            match l.recv() {
                Ok(n) => {
                    note_to(notes, b"notified");
                    let _ = l.reply(n.id, NOTIF_REPLY);
                }
                Err(Errno::EINTR) | Err(Errno::ENOENT) => continue,
                Err(_) => return,
            }
        }
    }

    /// A raw pthread (std's JoinHandle cannot be joined once a seccomp
    /// kill took the thread); the subject gives up if it cannot start one.
    fn start_thread(f: Box<dyn FnOnce() + Send>) -> libc::pthread_t {
        extern "C" fn trampoline(arg: *mut libc::c_void) -> *mut libc::c_void {
            // SAFETY: arg is the box leaked below, taken back exactly once.
            let f = unsafe { Box::from_raw(arg as *mut Box<dyn FnOnce() + Send>) };
            f();
            std::ptr::null_mut()
        }
        let arg = Box::into_raw(Box::new(f));
        let mut t: libc::pthread_t = 0;
        // SAFETY: a plain pthread running trampoline on the box.
        let rc = unsafe {
            libc::pthread_create(
                &mut t,
                std::ptr::null(),
                trampoline,
                arg as *mut libc::c_void,
            )
        };
        require("pthread_create(probe thread)", rc == 0, Errno::from_raw(rc));
        t
    }

    /// Read the subject's end, notes and the tracer's messages as one
    /// [`Effect`]; `ppid` is what a probe that runs returns.
    fn classify(end: &str, notes: &[String], traces: &[u16], ppid: Pid) -> Result<Effect, Stop> {
        if let Some(r) = notes.iter().find_map(|n| n.strip_prefix("refused ")) {
            let (i, e) = r.split_once(' ').unwrap_or((r, ""));
            return Ok(Effect::Refused(i.parse().unwrap_or(usize::MAX), e.into()));
        }
        let code = end
            .strip_prefix("exit ")
            .and_then(|c| c.parse::<i32>().ok());
        if code == Some(setup::SUBJECT_EXIT) {
            return Err(Stop::error(format!("the subject's setup failed: {end}")));
        }
        let ret = notes
            .iter()
            .find_map(|n| n.strip_prefix("ret=")?.parse::<i64>().ok());
        let trap = notes.iter().find_map(|n| {
            let rest = n.strip_prefix("handler SIGSYS")?;
            let hex = rest.split(" errno=0x").nth(1)?.split(' ').next()?;
            u16::from_str_radix(hex, 16).ok()
        });
        let notified = notes.iter().any(|n| n == "notified");
        let joined = notes.iter().any(|n| n == "joined");
        let quiet = trap.is_none() && traces.is_empty() && !notified;
        let ran = ppid.as_raw() as i64;
        let effect = match (end, ret, joined) {
            ("killed SIGSYS", None, false) if quiet => Effect::KillProcess,
            ("exit 3", None, true) if quiet => Effect::KillThread,
            ("exit 3", Some(r), true) => match (trap, traces, notified) {
                (Some(d), [], false) if r == libc::SYS_getppid => Effect::Trap(d),
                (None, [d], false) if r == ran => Effect::Trace(*d),
                (None, [], true) if r == NOTIF_REPLY => Effect::Notified,
                (None, [], false) if r == ran => Effect::Ran,
                (None, [], false) if r < 0 => Effect::Errno(-r as i32),
                (None, [], false) => Effect::Returned(r),
                _ => odd(end, notes, traces),
            },
            _ => odd(end, notes, traces),
        };
        Ok(effect)
    }

    fn odd(end: &str, notes: &[String], traces: &[u16]) -> Effect {
        Effect::Odd(format!(
            "{end} notes=[{}] trace-msgs={traces:?}",
            notes.join("|")
        ))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn p(rets: &[(u32, bool)]) -> Effect {
            let layers: Vec<Layer> = rets
                .iter()
                .map(|&(r, l)| Layer {
                    ret: r,
                    listener: l,
                })
                .collect();
            predict(&layers)
        }

        #[test]
        fn the_lowest_action_wins_and_ties_keep_the_newest() {
            assert_eq!(
                p(&[(ALLOW, false), (KILL_PROCESS, false)]),
                Effect::KillProcess
            );
            assert_eq!(
                p(&[(KILL_PROCESS, false), (KILL_THREAD, false)]),
                Effect::KillProcess
            );
            assert_eq!(p(&[(TRAP | 1, false), (TRAP | 2, false)]), Effect::Trap(2));
            assert_eq!(p(&[(TRAP | 2, false), (ERRNO | 1, false)]), Effect::Trap(2));
            assert_eq!(p(&[(LOG, false), (ALLOW | 5, false)]), Effect::Ran);
            assert_eq!(p(&[(ALLOW, false)]), Effect::Ran);
        }

        #[test]
        fn the_newest_user_notif_decides_about_the_listener() {
            assert_eq!(
                p(&[(USER_NOTIF, true), (USER_NOTIF, false)]),
                Effect::Errno(libc::ENOSYS)
            );
            assert_eq!(
                p(&[(USER_NOTIF, false), (USER_NOTIF, true)]),
                Effect::Notified
            );
            assert_eq!(
                p(&[(TRACE, true), (USER_NOTIF, false)]),
                Effect::Errno(libc::ENOSYS)
            );
        }

        #[test]
        fn errno_data_is_capped_and_unknown_actions_kill_the_process() {
            assert_eq!(p(&[(ERRNO, false)]), Effect::Returned(0));
            assert_eq!(p(&[(ERRNO | 0xffff, false)]), Effect::Errno(4095));
            assert_eq!(p(&[(0x7ffe_0000, false)]), Effect::KillProcess);
            assert_eq!(
                p(&[(0x7ffe_0000, false), (ERRNO | 1, false)]),
                Effect::Errno(1)
            );
            assert_eq!(
                p(&[(0xffff_0000, false), (KILL_THREAD, false)]),
                Effect::KillProcess
            );
            assert_eq!(
                p(&[(0x0001_0000, false), (KILL_THREAD, false)]),
                Effect::KillThread
            );
        }

        #[test]
        fn layers_read_compactly() {
            let s = [
                Layer::new(TRAP | 7),
                Layer::new(ERRNO | 1),
                Layer::new(USER_NOTIF).with_listener(),
                Layer::new(0x0001_0000),
                Layer::new(ALLOW | 2),
            ];
            assert_eq!(
                describe(&s),
                "trap(0x7),errno(1),user-notif+listener,0x10000,allow(0x2)"
            );
            assert_eq!(Effect::Errno(1).to_string(), "errno=EPERM");
            assert_eq!(Effect::Errno(4095).to_string(), "errno=4095");
        }
    }
}
