//! Starting QEMU, and making sure it never outlives us.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde::{Deserialize, Serialize};

use super::VmError;

/// The QEMU binary and what it says its version is.
#[derive(Clone, Debug)]
pub struct Qemu {
    pub binary: PathBuf,
    pub version: String,
    /// Whether it has the `ivshmem-plain` device the shared-memory
    /// results channel needs (some distributions build QEMU without it).
    pub ivshmem: bool,
}

impl Qemu {
    /// `$KCONFORM_QEMU`, else `qemu-system-x86_64` on PATH.
    pub fn find() -> Result<Qemu, VmError> {
        let binary = match std::env::var_os("KCONFORM_QEMU") {
            Some(p) => PathBuf::from(p),
            None => which("qemu-system-x86_64").ok_or(VmError::NoQemu)?,
        };
        let out = Command::new(&binary)
            .arg("--version")
            .output()
            .map_err(|e| VmError::QemuUnusable(binary.clone(), e.to_string()))?;
        let version = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("QEMU emulator version ")
            .to_string();
        let ivshmem = Command::new(&binary)
            .args(["-machine", "none", "-device", "help"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("\"ivshmem-plain\""))
            .unwrap_or(false);
        Ok(Qemu {
            binary,
            version,
            ivshmem,
        })
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// How QEMU runs the guest's instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// Everything that varies between boots.
pub struct Launch<'a> {
    pub kernel: &'a Path,
    pub initrd: &'a Path,
    pub cmdline: &'a str,
    pub accel: Accel,
    pub cpus: usize,
    pub memory_mb: usize,
    /// ttyS0: the kernel log.
    pub console: &'a Path,
    /// ttyS1: the guest's events, where it cannot use `results_shm`.
    pub results: &'a Path,
    /// The guest's events through shared memory (see [`super::shm`]): a
    /// file made by [`super::shm::create`], or none for ttyS1 only.
    pub results_shm: Option<&'a Path>,
    /// QEMU's own complaints.
    pub stderr: &'a Path,
}

/// A running QEMU. Dropping it kills it.
pub struct Vm {
    child: Child,
}

impl Vm {
    pub fn start(qemu: &Qemu, l: &Launch) -> Result<Vm, VmError> {
        let mut cmd = Command::new(&qemu.binary);
        cmd.args(["-nodefaults", "-no-reboot", "-display", "none"])
            .args(["-accel", l.accel.as_str()])
            .args(["-smp", &l.cpus.to_string()])
            .args(["-m", &format!("{}M", l.memory_mb)])
            .arg("-kernel")
            .arg(l.kernel)
            .arg("-initrd")
            .arg(l.initrd)
            .args(["-append", l.cmdline])
            .arg("-chardev")
            .arg(chardev_file("console", l.console))
            .args(["-serial", "chardev:console"])
            .arg("-chardev")
            .arg(chardev_file("results", l.results))
            .args(["-serial", "chardev:results"]);
        if let Some(path) = l.results_shm {
            cmd.arg("-object")
                .arg(format!(
                    "memory-backend-file,id=results-mem,share=on,size={},mem-path={}",
                    super::shm::SIZE,
                    escape(path)
                ))
                .args(["-device", "ivshmem-plain,memdev=results-mem"]);
        }
        if l.accel == Accel::Kvm {
            cmd.args(["-cpu", "host"]);
        } else {
            // The plain model: TCG runs it faster than `max`, whose vector
            // extensions glibc and the kernel would then use, emulated
            // (bookworm's suite, boot included: 3.9-4.5 s against
            // 4.5-6.5 s), and every Debian kernel from 5.10 to 7.2 boots
            // on it.
            cmd.args(["-cpu", "qemu64"]);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(l.stderr).map_err(VmError::io("create", l.stderr))?);
        // SAFETY: prctl(2) is async-signal-safe. If kconform dies (Ctrl-C,
        // SIGKILL, a panic) the kernel kills QEMU with it.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| VmError::QemuUnusable(qemu.binary.clone(), e.to_string()))?;
        Ok(Vm { child })
    }

    /// The exit status, if QEMU has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chardev_file(id: &str, path: &Path) -> String {
    format!("file,id={id},path={}", escape(path))
}

/// A path as a QEMU option value: QEMU splits options on commas, and
/// reads a doubled comma as one.
fn escape(path: &Path) -> String {
    path.display().to_string().replace(',', ",,")
}
