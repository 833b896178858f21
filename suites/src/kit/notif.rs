//! SECCOMP_RET_USER_NOTIF from the supervisor's side: the listener fd a
//! NEW_LISTENER filter returns, its ioctls (RECV, SEND, ID_VALID, ADDFD),
//! poll states, and passing the fd from the filtered task to its
//! supervisor over a unix socket.
//!
//! The structures are libc's copies of include/uapi/linux/seccomp.h
//! (`seccomp_notif` 80 bytes, `seccomp_notif_resp` 24, `seccomp_notif_addfd`
//! 24); nix has no wrappers for these ioctls.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

use super::seccomp::{seccomp, AUDIT_ARCH_X86_64};

/// seccomp(2) operation: the sizes of the notification structures (5.0).
pub const SECCOMP_GET_NOTIF_SIZES: u32 = 3;
/// SECCOMP_SET_MODE_FILTER flag: once the supervisor has received a
/// notification, only fatal signals interrupt the waiting task (5.19).
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;
/// seccomp_notif_resp.flags: run the syscall after all (5.5).
pub const USER_NOTIF_FLAG_CONTINUE: u32 = 1;
/// seccomp_notif_addfd.flags: install at `newfd` (5.9).
pub const ADDFD_FLAG_SETFD: u32 = 1;
/// seccomp_notif_addfd.flags: install and answer the syscall with the new fd (5.14).
pub const ADDFD_FLAG_SEND: u32 = 2;

/// One notification as SECCOMP_IOCTL_NOTIF_RECV hands it over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notif {
    /// The cookie SEND, ID_VALID and ADDFD name it by (unique per filter).
    pub id: u64,
    /// The notifying thread's id, in the supervisor's pid namespace.
    pub pid: u32,
    pub nr: i32,
    pub arch: u32,
    pub args: [u64; 6],
}

impl Notif {
    /// `nr=110 arch=x86_64 args=[0x1,0x2,...]` (pid and id vary, so they
    /// are left to the caller).
    pub fn call_text(&self) -> String {
        let arch = if self.arch == AUDIT_ARCH_X86_64 {
            "x86_64".to_string()
        } else {
            format!("{:#x}", self.arch)
        };
        let args: Vec<String> = self.args.iter().map(|a| format!("{a:#x}")).collect();
        format!("nr={} arch={arch} args=[{}]", self.nr, args.join(","))
    }
}

/// The supervisor's end: a listener fd.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
}

impl Listener {
    pub fn new(fd: OwnedFd) -> Self {
        Listener { fd }
    }

    /// Take ownership of the fd seccomp(2) returned for NEW_LISTENER.
    pub fn from_raw(fd: i64) -> Self {
        // SAFETY: the caller hands over an fd the kernel just returned and
        // nothing else owns.
        Listener::new(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// SECCOMP_IOCTL_NOTIF_RECV: block until a notification is pending and take it.
    pub fn recv(&self) -> Result<Notif, Errno> {
        // SAFETY: an all-zero seccomp_notif is valid plain data.
        self.recv_into(unsafe { std::mem::zeroed() })
    }

    /// RECV into a buffer that is not zeroed: kernels since 5.5 refuse it
    /// with EINVAL, to keep the structure extensible.
    pub fn recv_dirty(&self) -> Result<Notif, Errno> {
        // SAFETY: as above.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        req.flags = 1;
        self.recv_into(req)
    }

    fn recv_into(&self, mut req: libc::seccomp_notif) -> Result<Notif, Errno> {
        // SAFETY: RECV writes one seccomp_notif into req, which is ours.
        let rc = unsafe { libc::ioctl(self.raw(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) };
        Errno::result(rc)?;
        Ok(Notif {
            id: req.id,
            pid: req.pid,
            nr: req.data.nr,
            arch: req.data.arch,
            args: req.data.args,
        })
    }

    /// SECCOMP_IOCTL_NOTIF_SEND: the syscall returns `error` if it is not
    /// 0 (a negative errno), else `val`; with CONTINUE it runs after all.
    pub fn send(&self, id: u64, val: i64, error: i32, flags: u32) -> Result<(), Errno> {
        let mut resp = libc::seccomp_notif_resp {
            id,
            val,
            error,
            flags,
        };
        // SAFETY: SEND reads one seccomp_notif_resp from resp.
        let rc = unsafe { libc::ioctl(self.raw(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
        Errno::result(rc).map(drop)
    }

    /// Answer with a return value.
    pub fn reply(&self, id: u64, val: i64) -> Result<(), Errno> {
        self.send(id, val, 0, 0)
    }

    /// SECCOMP_IOCTL_NOTIF_ID_VALID: is `id` still a notification the
    /// supervisor has received and not answered, from a task still waiting?
    pub fn id_valid(&self, id: u64) -> Result<(), Errno> {
        let mut id = id;
        // SAFETY: ID_VALID reads one u64.
        let rc = unsafe { libc::ioctl(self.raw(), libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &mut id) };
        Errno::result(rc).map(drop)
    }

    /// SECCOMP_IOCTL_NOTIF_ADDFD: install a copy of `srcfd` in the
    /// notifying task; returns the fd number it got there.
    pub fn addfd(
        &self,
        id: u64,
        srcfd: RawFd,
        newfd: u32,
        newfd_flags: u32,
        flags: u32,
    ) -> Result<i32, Errno> {
        let mut addfd = libc::seccomp_notif_addfd {
            id,
            flags,
            srcfd: srcfd as u32,
            newfd,
            newfd_flags,
        };
        // SAFETY: ADDFD reads one seccomp_notif_addfd from addfd.
        let rc = unsafe { libc::ioctl(self.raw(), libc::SECCOMP_IOCTL_NOTIF_ADDFD, &mut addfd) };
        Errno::result(rc)
    }

    /// What poll(2) says now, without waiting: `IN` (a notification
    /// waits to be received), `OUT` (one received, not answered), `HUP`
    /// (no task uses the filter any more, 5.8), or `none`.
    pub fn poll_now(&self) -> String {
        poll_text(self.poll_flags(PollFlags::POLLIN | PollFlags::POLLOUT, PollTimeout::ZERO))
    }

    /// Block until a notification waits to be received (or the filter
    /// has no users left); returns what poll said.
    pub fn wait_pending(&self) -> String {
        poll_text(self.poll_flags(PollFlags::POLLIN, PollTimeout::NONE))
    }

    fn poll_flags(&self, events: PollFlags, timeout: PollTimeout) -> PollFlags {
        let mut fds = [PollFd::new(self.fd.as_fd(), events)];
        loop {
            match poll(&mut fds, timeout) {
                Err(Errno::EINTR) => continue,
                Err(_) => return PollFlags::POLLERR,
                Ok(_) => return fds[0].revents().unwrap_or(PollFlags::empty()),
            }
        }
    }
}

fn poll_text(f: PollFlags) -> String {
    let mut parts = Vec::new();
    for (flag, name) in [
        (PollFlags::POLLIN, "IN"),
        (PollFlags::POLLOUT, "OUT"),
        (PollFlags::POLLHUP, "HUP"),
        (PollFlags::POLLERR, "ERR"),
    ] {
        if f.contains(flag) {
            parts.push(name);
        }
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("|")
    }
}

/// SECCOMP_GET_NOTIF_SIZES: the kernel's sizes of seccomp_notif,
/// seccomp_notif_resp and seccomp_data.
pub fn notif_sizes() -> Result<[u16; 3], Errno> {
    let mut sizes = [0u16; 3];
    // SAFETY: GET_NOTIF_SIZES writes three u16 into sizes.
    unsafe {
        seccomp(
            SECCOMP_GET_NOTIF_SIZES,
            0,
            sizes.as_mut_ptr() as *mut libc::c_void,
        )
    }?;
    Ok(sizes)
}

/// A connected pair of unix sockets for handing a listener from the
/// filtered task to its supervisor.
pub struct FdChannel {
    a: OwnedFd,
    b: OwnedFd,
}

impl FdChannel {
    pub fn new() -> Result<Self, Errno> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok(FdChannel { a, b })
    }

    /// In the sender: pass a copy of `fd` (SCM_RIGHTS).
    pub fn send(&self, fd: RawFd) -> Result<(), Errno> {
        let fds = [fd];
        let iov = [IoSlice::new(b"f")];
        sendmsg::<()>(
            self.a.as_raw_fd(),
            &iov,
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .map(drop)
    }

    /// In the receiver: the passed fd, or ENODATA when the sender went
    /// away without passing one (this drops the receiver's copy of the
    /// sending end first, so a dead sender reads as end of file).
    pub fn recv(self) -> Result<OwnedFd, Errno> {
        drop(self.a);
        let mut byte = [0u8; 1];
        let mut iov = [IoSliceMut::new(&mut byte)];
        let mut space = nix::cmsg_space!(RawFd);
        let msg = loop {
            match recvmsg::<()>(
                self.b.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(Errno::EINTR) => continue,
                other => break other?,
            }
        };
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                if let Some(&fd) = fds.first() {
                    // SAFETY: SCM_RIGHTS just installed this fd for us.
                    return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
        Err(Errno::ENODATA)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_sizes_match_the_uapi() {
        assert_eq!(std::mem::size_of::<libc::seccomp_notif>(), 80);
        assert_eq!(std::mem::size_of::<libc::seccomp_notif_resp>(), 24);
        assert_eq!(std::mem::size_of::<libc::seccomp_notif_addfd>(), 24);
        assert_eq!(std::mem::size_of::<libc::seccomp_data>(), 64);
    }

    #[test]
    fn poll_states_read_as_words() {
        assert_eq!(poll_text(PollFlags::empty()), "none");
        assert_eq!(poll_text(PollFlags::POLLIN), "IN");
        assert_eq!(
            poll_text(PollFlags::POLLOUT | PollFlags::POLLHUP),
            "OUT|HUP"
        );
    }

    #[test]
    fn an_fd_crosses_the_channel() {
        let ch = FdChannel::new().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        ch.send(w.as_raw_fd()).unwrap();
        drop(w);
        let w2 = ch.recv().unwrap();
        nix::unistd::write(&w2, b"x").unwrap();
        let mut b = [0u8; 1];
        assert_eq!(nix::unistd::read(r.as_fd(), &mut b).unwrap(), 1);
        assert_eq!(&b, b"x");
    }

    #[test]
    fn call_text_names_the_arch() {
        let n = Notif {
            id: 9,
            pid: 1,
            nr: 121,
            arch: AUDIT_ARCH_X86_64,
            args: [0x10, 1, 2, 3, 4, 5],
        };
        assert_eq!(
            n.call_text(),
            "nr=121 arch=x86_64 args=[0x10,0x1,0x2,0x3,0x4,0x5]"
        );
    }
}
