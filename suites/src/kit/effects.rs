//! Side effects a syscall leaves, so a scenario can tell whether a
//! filtered, skipped, redirected or emulated syscall really ran.
//!
//! One pipe, reachable through several fd numbers (`A`, `B`, ...). The
//! syscall under test is `write(fd_i, "<letter i>\n", 2)`: a filter can
//! tell the numbers apart by their first argument, a tracer or a SIGSYS
//! handler can redirect a write by pointing it at another number and
//! label, and the pipe afterwards says which writes reached the kernel.

use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg};

use kconform_core::Stop;

use super::task::Notes;

/// The labels, one per fd: fd `i` is written `LABELS[i]`. Static, so a
/// forked subject has them at the same address as its tracer.
pub static LABELS: [[u8; 2]; 6] = [*b"A\n", *b"B\n", *b"C\n", *b"D\n", *b"E\n", *b"F\n"];

/// A pipe reachable through several fd numbers.
pub struct Effects {
    pipe: Notes,
    fds: Vec<RawFd>,
}

impl Effects {
    /// `n` fd numbers (at most [`LABELS`].len()), all dups of the pipe's
    /// write end; numbers are whatever the kernel hands out, never fixed.
    pub fn new(n: usize) -> Result<Self, Stop> {
        assert!(n <= LABELS.len());
        let pipe = Notes::new()?;
        let mut fds = Vec::with_capacity(n);
        for _ in 0..n {
            // SAFETY: the pipe's write end lives as long as `pipe`, and the
            // dup is closed only when `self` is dropped.
            let fd = fcntl(
                unsafe { std::os::fd::BorrowedFd::borrow_raw(pipe.raw_tx()) },
                FcntlArg::F_DUPFD_CLOEXEC(3),
            )?;
            fds.push(fd);
        }
        Ok(Effects { pipe, fds })
    }

    /// The fd number of label `i`.
    pub fn fd(&self, i: usize) -> RawFd {
        self.fds[i]
    }

    /// Which fd index a number is, as its letter (`A`), or the number.
    pub fn name(&self, fd: u64) -> String {
        match self.fds.iter().position(|&f| f as u64 == fd) {
            Some(i) => letter(i).to_string(),
            None => (fd as i64).to_string(),
        }
    }

    /// `write(fd(i), LABELS[i], 2)` straight through syscall(2): the
    /// return value, or minus the errno.
    pub fn write(&self, i: usize) -> i64 {
        write_label(self.fd(i), i)
    }

    /// The labels that reached the pipe, in order (`A`, `B,A`), or `none`.
    pub fn summary(&self) -> String {
        self.pipe.summary()
    }
}

impl Drop for Effects {
    fn drop(&mut self) {
        for &fd in &self.fds {
            let _ = nix::unistd::close(fd);
        }
    }
}

/// The letter of label `i`.
pub fn letter(i: usize) -> char {
    LABELS[i][0] as char
}

/// `write(fd, LABELS[i], 2)` through syscall(2): the return value, or
/// minus the errno. Async-signal-safe.
pub fn write_label(fd: RawFd, i: usize) -> i64 {
    // SAFETY: write(2) from a static buffer.
    let rc = unsafe { libc::syscall(libc::SYS_write, fd, LABELS[i].as_ptr(), 2usize) };
    if rc < 0 {
        -(Errno::last_raw() as i64)
    } else {
        rc
    }
}

/// A syscall's result as observation text: the value, or the errno name
/// when it is in the error range (`2`, `ENOSYS`).
pub fn result_text(ret: i64) -> String {
    if (-4095..0).contains(&ret) {
        format!("{:?}", Errno::from_raw(-ret as i32))
    } else {
        ret.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_reach_the_pipe_by_label() {
        let e = Effects::new(3).unwrap();
        assert_ne!(e.fd(0), e.fd(1));
        assert_eq!(e.write(1), 2);
        assert_eq!(e.write(0), 2);
        assert_eq!(e.summary(), "B,A");
        assert_eq!(e.name(e.fd(2) as u64), "C");
        assert_eq!(result_text(2), "2");
        assert_eq!(result_text(-38), "ENOSYS");
        assert_eq!(write_label(-1, 0), -(libc::EBADF as i64));
    }
}
