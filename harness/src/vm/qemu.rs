//! Starting QEMU, and making sure it never outlives us. The command line
//! is built by small pure functions, one per concern, each tested.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde::{Deserialize, Serialize};

use super::VmError;
use kconform_core::guest::shm;

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
            None => crate::util::which("qemu-system-x86_64").ok_or(VmError::NoQemu)?,
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
    /// The guest's events through shared memory: a file made by
    /// [`shm::create`], or none for ttyS1 only.
    pub results_shm: Option<&'a Path>,
    /// QEMU's own complaints.
    pub stderr: &'a Path,
}

/// No devices but those asked for, no reboot (a reboot ends QEMU, which
/// is how the guest powers off), no display.
fn machine_args(l: &Launch) -> Vec<String> {
    let mut args: Vec<String> = ["-nodefaults", "-no-reboot", "-display", "none"]
        .map(String::from)
        .to_vec();
    args.extend(["-accel".into(), l.accel.as_str().into()]);
    args.extend(["-smp".into(), l.cpus.to_string()]);
    args.extend(["-m".into(), format!("{}M", l.memory_mb)]);
    args.extend(["-cpu".into(), cpu_model(l.accel).into()]);
    args
}

/// The host's CPU under KVM. Under TCG the plain model: TCG runs it
/// faster than `max`, whose vector extensions glibc and the kernel would
/// then use, emulated (bookworm's suite, boot included: 3.9-4.5 s against
/// 4.5-6.5 s), and every Debian kernel from 5.10 to 7.2 boots on it.
fn cpu_model(accel: Accel) -> &'static str {
    match accel {
        Accel::Kvm => "host",
        Accel::Tcg => "qemu64",
    }
}

/// The kernel, its initramfs and its command line: no disk, no firmware
/// boot loader.
fn boot_args(l: &Launch) -> Vec<String> {
    vec![
        "-kernel".into(),
        l.kernel.display().to_string(),
        "-initrd".into(),
        l.initrd.display().to_string(),
        "-append".into(),
        l.cmdline.into(),
    ]
}

/// ttyS0 into the console file, ttyS1 into the results file.
fn serial_args(l: &Launch) -> Vec<String> {
    vec![
        "-chardev".into(),
        format!("file,id=console,path={}", escape(l.console)),
        "-serial".into(),
        "chardev:console".into(),
        "-chardev".into(),
        format!("file,id=results,path={}", escape(l.results)),
        "-serial".into(),
        "chardev:results".into(),
    ]
}

/// The results file as the memory of an ivshmem PCI device, when asked.
fn shm_args(l: &Launch) -> Vec<String> {
    let Some(path) = l.results_shm else {
        return Vec::new();
    };
    vec![
        "-object".into(),
        format!(
            "memory-backend-file,id=results-mem,share=on,size={},mem-path={}",
            shm::SIZE,
            escape(path)
        ),
        "-device".into(),
        "ivshmem-plain,memdev=results-mem".into(),
    ]
}

/// QEMU's whole argument list for one boot.
pub fn args(l: &Launch) -> Vec<String> {
    [machine_args(l), boot_args(l), serial_args(l), shm_args(l)].concat()
}

/// A path as a QEMU option value: QEMU splits options on commas, and
/// reads a doubled comma as one.
fn escape(path: &Path) -> String {
    path.display().to_string().replace(',', ",,")
}

/// A running QEMU. Dropping it kills it.
pub struct Vm {
    child: Child,
}

impl Vm {
    pub fn start(qemu: &Qemu, l: &Launch) -> Result<Vm, VmError> {
        let mut cmd = Command::new(&qemu.binary);
        cmd.args(args(l))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(l.stderr).map_err(VmError::io("create", l.stderr))?);
        // SAFETY: prctl(2) is async-signal-safe. If kconform dies (SIGKILL,
        // a panic) the kernel kills QEMU with it. Its own process group:
        // a Ctrl-C at the terminal is kconform's to act on, so QEMU does
        // not die under a boot that kconform is still reading.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.process_group(0);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn launch<'a>(accel: Accel, shm: Option<&'a Path>) -> Launch<'a> {
        Launch {
            kernel: Path::new("/k/bzImage"),
            initrd: Path::new("/w/initrd-1"),
            cmdline: "console=ttyS0 panic=-1",
            accel,
            cpus: 2,
            memory_mb: 512,
            console: Path::new("/w/console-1"),
            results: Path::new("/w,x/results-1"),
            results_shm: shm,
            stderr: Path::new("/w/qemu-stderr-1"),
        }
    }

    #[test]
    fn the_machine_is_bare_and_sized_as_asked() {
        assert_eq!(
            machine_args(&launch(Accel::Tcg, None)).join(" "),
            "-nodefaults -no-reboot -display none -accel tcg -smp 2 -m 512M -cpu qemu64"
        );
        assert!(machine_args(&launch(Accel::Kvm, None))
            .join(" ")
            .ends_with("-accel kvm -smp 2 -m 512M -cpu host"));
    }

    #[test]
    fn the_kernel_boots_from_its_initramfs_with_the_command_line_whole() {
        assert_eq!(
            boot_args(&launch(Accel::Tcg, None)),
            [
                "-kernel",
                "/k/bzImage",
                "-initrd",
                "/w/initrd-1",
                "-append",
                "console=ttyS0 panic=-1"
            ]
        );
    }

    #[test]
    fn serial_ports_go_to_files_with_commas_escaped() {
        let a = serial_args(&launch(Accel::Tcg, None));
        assert_eq!(a[1], "file,id=console,path=/w/console-1");
        assert_eq!(a[5], "file,id=results,path=/w,,x/results-1");
        assert_eq!(
            (a[3].as_str(), a[7].as_str()),
            ("chardev:console", "chardev:results")
        );
    }

    #[test]
    fn shared_memory_is_a_device_only_when_asked() {
        assert!(shm_args(&launch(Accel::Tcg, None)).is_empty());
        let p = Path::new("/w/results-shm-1");
        let a = shm_args(&launch(Accel::Tcg, Some(p)));
        assert_eq!(
            a[1],
            format!(
                "memory-backend-file,id=results-mem,share=on,size={},mem-path=/w/results-shm-1",
                shm::SIZE
            )
        );
        assert_eq!(a[3], "ivshmem-plain,memdev=results-mem");
        assert_eq!(args(&launch(Accel::Tcg, Some(p))).len(), 12 + 6 + 8 + 4);
    }
}
