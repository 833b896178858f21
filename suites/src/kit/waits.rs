//! Wait statuses as the kernel hands them over, raw: a status word that
//! nix would refuse (a stop with no signal number, which only a kernel bug
//! produces) still reads as text, and waitid(2) can be asked to leave the
//! status in place (WNOWAIT) so the scenario can look before it reaps.

use nix::errno::Errno;
use nix::unistd::Pid;

use super::task::{event_name, signame};

/// A raw status word of wait4(2) as observation text, in the words of
/// [`super::task::describe`]: `exit 7`, `killed SIGKILL`, `stop SIGUSR1`,
/// `event STOP SIGSTOP`, `event CLONE`, `syscall-stop`. A stop without a
/// signal number reads `sig0` where the signal goes (`event STOP sig0`).
pub fn status_text(status: i32) -> String {
    if libc::WIFEXITED(status) {
        return format!("exit {}", libc::WEXITSTATUS(status));
    }
    if libc::WIFSIGNALED(status) {
        let core = if libc::WCOREDUMP(status) { " core" } else { "" };
        return format!("killed {}{core}", signame(libc::WTERMSIG(status)));
    }
    if libc::WIFSTOPPED(status) {
        let sig = (status >> 8) & 0xff;
        let event = (status >> 16) & 0xff;
        if sig == (libc::SIGTRAP | 0x80) {
            return "syscall-stop".into();
        }
        return match event {
            0 => format!("stop {}", signame(sig)),
            e => match event_name(e) {
                "STOP" => format!("event STOP {}", signame(sig)),
                name => format!("event {name}"),
            },
        };
    }
    if libc::WIFCONTINUED(status) {
        return "continued".into();
    }
    format!("status {status:#x}")
}

/// waitpid(2) with the raw status word; EINTR is retried.
pub fn waitpid_raw(pid: libc::pid_t, options: i32) -> Result<(Pid, i32), Errno> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes one int into status.
        let rc = unsafe { libc::waitpid(pid, &mut status, options) };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(p) => return Ok((Pid::from_raw(p), status)),
        }
    }
}

/// What waitid(2) reported: si_code (CLD_*), si_status, si_pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waited {
    pub code: i32,
    pub status: i32,
    pub pid: libc::pid_t,
}

/// waitid(P_PID, pid, ..., options); EINTR is retried.
pub fn waitid_pid(pid: Pid, options: i32) -> Result<Waited, Errno> {
    loop {
        // SAFETY: an all-zero siginfo_t is valid plain data.
        let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid writes one siginfo_t into si.
        let rc = unsafe { libc::waitid(libc::P_PID, pid.as_raw() as libc::id_t, &mut si, options) };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            // SAFETY: waitid filled the SIGCHLD fields of si.
            Ok(_) => {
                return Ok(Waited {
                    code: si.si_code,
                    status: unsafe { si.si_status() },
                    pid: unsafe { si.si_pid() },
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_statuses_read_as_words() {
        assert_eq!(status_text(0x0500), "exit 5");
        assert_eq!(status_text(0x0009), "killed SIGKILL");
        assert_eq!(status_text(0x0a7f), "stop SIGUSR1");
        assert_eq!(status_text(0x80137f), "event STOP SIGSTOP");
        assert_eq!(status_text(0x80007f), "event STOP sig0");
        assert_eq!(status_text(0x03057f), "event CLONE");
        assert_eq!(status_text(0x857f), "syscall-stop");
    }
}
