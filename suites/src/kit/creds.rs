//! Privilege: who a subject runs as.

use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

/// The unprivileged uid and gid scenarios drop to (`nobody`; no passwd
/// entry is needed, which matters in a bare initramfs).
pub const NOBODY: u32 = 65534;

/// A second unprivileged uid, for "someone else's task".
pub const OTHER: u32 = 65533;

/// Drop every privilege to `uid` (all three uids, all three gids, no
/// supplementary groups). A caller that is not root stays who it is.
pub fn drop_to(uid: u32) -> nix::Result<()> {
    if !Uid::effective().is_root() {
        return Ok(());
    }
    setgroups(&[])?;
    setresgid(Gid::from_raw(uid), Gid::from_raw(uid), Gid::from_raw(uid))?;
    setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid))
}

pub fn is_root() -> bool {
    Uid::effective().is_root()
}
