//! `#!` scripts a scenario has the kernel exec: the interpreter line is
//! the point (whose file binfmt_script opens, and what that does to the
//! new image's dumpability).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::sys::statvfs::{statvfs, FsFlags};

use kconform_core::Stop;

use super::access::temp_dir;

/// A root-owned, world-readable, mode 0755 script `DIR/NAME` whose
/// first line is `#!INTERPRETER ARG`, in a fresh directory everyone can
/// search, on a mount that allows exec. Removed on drop.
pub struct Script {
    dir: PathBuf,
    pub path: PathBuf,
}

impl Script {
    /// The script `name` run by `interpreter` with the one optional
    /// argument a `#!` line takes. Needs root (the file is chowned).
    pub fn new(name: &str, interpreter: &Path, arg: &str) -> Result<Script, Stop> {
        let execs = |d: &Path| statvfs(d).is_ok_and(|s| !s.flags().contains(FsFlags::ST_NOEXEC));
        let dir = temp_dir("kconform-script", execs)
            .ok_or_else(|| Stop::forbidden("no writable directory on a mount without noexec"))?;
        let script = Script {
            path: dir.join(name),
            dir,
        };
        std::fs::set_permissions(&script.dir, std::fs::Permissions::from_mode(0o755))?;
        std::fs::write(&script.path, format!("#!{} {arg}\n", interpreter.display()))?;
        std::os::unix::fs::chown(&script.path, Some(0), Some(0))?;
        std::fs::set_permissions(&script.path, std::fs::Permissions::from_mode(0o755))?;
        Ok(script)
    }

    /// The directory the script is in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
