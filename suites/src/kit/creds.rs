//! Privilege: who a subject runs as.

use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

use super::task::step_or_exit;

/// The unprivileged uid and gid scenarios drop to (`nobody`; no passwd
/// entry is needed, which matters in a bare initramfs).
pub const NOBODY: u32 = 65534;

/// A second unprivileged uid, for "someone else's task".
pub const OTHER: u32 = 65533;

/// Drop every privilege to `uid` (all three uids, all three gids, no
/// supplementary groups). A caller that is not root stays who it is.
pub fn drop_to(uid: u32) -> nix::Result<()> {
    drop_by_steps(uid, |_, result| result)
}

/// In a subject: [`drop_to`] `uid`; the call that fails
/// (`setresuid(65534)`, ...) is reported (see [`kconform_core::setup`])
/// and the subject gives up.
pub fn drop_or_exit(uid: u32) {
    let _ = drop_by_steps(uid, step_or_exit);
}

/// The calls of [`drop_to`], each handed to `step` with its name.
fn drop_by_steps(
    uid: u32,
    step: impl Fn(&str, nix::Result<()>) -> nix::Result<()>,
) -> nix::Result<()> {
    if !Uid::effective().is_root() {
        return Ok(());
    }
    let (u, g) = (Uid::from_raw(uid), Gid::from_raw(uid));
    step("setgroups(0, NULL)", setgroups(&[]))?;
    step(&format!("setresgid({uid})"), setresgid(g, g, g))?;
    step(&format!("setresuid({uid})"), setresuid(u, u, u))
}

pub fn is_root() -> bool {
    Uid::effective().is_root()
}
