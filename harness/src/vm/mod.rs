//! Kernels under QEMU, the host's side.
//!
//! - [`suite`]: the whole suite on one kernel: boots until everything is
//!   settled, after a crash too;
//! - [`boot`]: one boot: initramfs, QEMU, the console and results port
//!   followed until the guest is done or silent;
//! - [`blame`]: kernel trouble pinned on the instance that caused it;
//! - [`matrix`]: several kernels, a bounded number at a time, and the
//!   KVM probe;
//! - [`qemu`], [`initramfs`], [`guest`]: QEMU's command line and process,
//!   the guest's root filesystem, the static guest binary.
//!
//! The guest's own side (its /init, the protocol, the shared memory) is
//! `kconform_core::guest`: the guest binary links only the core.

mod blame;
mod boot;
pub mod guest;
pub mod initramfs;
pub mod matrix;
mod plan;
pub mod qemu;
mod suite;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kconform_core::expect::Expectations;
use kconform_core::kernel::KernelFacts;
use kconform_core::model::Instance;
use kconform_core::record::{KernelInfo, Report};
use kconform_core::run::{not_run, KernelRun, Listener, Runner};

pub use boot::{run_plan, PlanRun};
pub use guest::Guest;
pub use qemu::{Accel, Qemu};
pub use suite::run_suite;

use crate::kernels::BootTarget;

#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error(
        "QEMU is not installed: kconform boots kernels with qemu-system-x86_64.\n  \
         On Debian or Ubuntu: apt-get install qemu-system-x86 (or set KCONFORM_QEMU to its path)"
    )]
    NoQemu,
    #[error("cannot run QEMU ({0}): {1}")]
    QemuUnusable(PathBuf, String),
    #[error("cannot {0} {1}: {2}")]
    Io(&'static str, PathBuf, std::io::Error),
    #[error("{0}")]
    Guest(String),
    #[error("--cpus must be at least 1 and --memory at least 64 (MiB)")]
    BadSize,
}

impl VmError {
    pub(crate) fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> VmError {
        let path = path.to_path_buf();
        move |e| VmError::Io(op, path, e)
    }
}

/// The kernel command line every boot starts with. `panic=-1` turns a
/// panic into an immediate reboot, which -no-reboot turns into QEMU's exit;
/// `loglevel=5` keeps the boot chatter off the console but not a WARN.
pub const BASE_CMDLINE: &str = "console=ttyS0 panic=-1 loglevel=5 rdinit=/init";

/// Added under TCG. QEMU's TSC there is one clock shared by every vCPU
/// (QEMU reads it under a lock and never lets it go back), but the kernel
/// does not trust a TSC without the invariant-TSC flag on a non-Intel CPU
/// with more than one core (`unsynchronized_tsc()`), and qemu64 is such a
/// CPU: it falls back to the HPET, an emulated device whose every read
/// exits to QEMU under its global lock. That made a clock_gettime() 2.0
/// µs in a bookworm guest against 0.16 µs from the vDSO on the TSC, and
/// the kernel reads the clock on every fork, poll and timer.
pub const TCG_CMDLINE: &str = "tsc=reliable";

/// How every kernel of a run is booted.
#[derive(Clone, Debug)]
pub struct VmSettings {
    pub qemu: Qemu,
    pub accel: Accel,
    pub cpus: usize,
    pub memory_mb: usize,
    /// From QEMU's start to the guest's first word.
    pub boot_timeout: Duration,
    /// Per instance, enforced in the guest; the host allows more before it
    /// calls the VM hung.
    pub instance_timeout: Duration,
    pub iterations: u32,
    /// Appended to [`BASE_CMDLINE`].
    pub cmdline_extra: String,
    /// Offer the guest the shared-memory results channel when QEMU has
    /// the device for it; off, the guest answers on ttyS1, as it does
    /// where its kernel has no PCI.
    pub results_shm: bool,
    /// A setup step to fail on purpose in every instance (see
    /// `kconform_core::setup`).
    pub fail_setup: Option<String>,
}

impl VmSettings {
    /// [`BASE_CMDLINE`], then under TCG [`TCG_CMDLINE`], then the user's
    /// extra parameters, last so that they win.
    pub fn cmdline(&self) -> String {
        let mut line = BASE_CMDLINE.to_string();
        if self.accel == Accel::Tcg {
            line = format!("{line} {TCG_CMDLINE}");
        }
        if !self.cmdline_extra.is_empty() {
            line = format!("{line} {}", self.cmdline_extra);
        }
        line
    }

    fn hang_after(&self) -> Duration {
        // TCG can be slow and the host busy: only a guest that outlives its
        // own per-instance timeout by a wide margin is stuck.
        self.instance_timeout + Duration::from_secs(20)
    }
}

/// One resolved kernel under QEMU, as a [`Runner`].
pub struct VmKernel<'a> {
    pub target: &'a BootTarget,
    pub settings: &'a VmSettings,
    pub guest: &'a Guest,
    pub expectations: &'a Expectations,
    /// Scratch space for this kernel's initrds and QEMU's files.
    pub workdir: &'a Path,
}

impl Runner for VmKernel<'_> {
    fn run(&self, kernel: usize, instances: &[&Instance], listener: &dyn Listener) -> KernelRun {
        run_suite(
            self.target,
            self.settings,
            self.guest,
            instances,
            self.expectations,
            self.workdir,
            kernel,
            listener,
        )
    }
}

/// The report of a kernel that could not be run at all: every instance
/// an error with the reason, so a matrix still shows the whole grid.
pub fn unrunnable(
    spec: &str,
    source: Option<String>,
    why: &str,
    instances: &[&Instance],
) -> Report {
    let first_line = why.lines().next().unwrap_or(why);
    let results = instances.iter().map(|i| not_run(i, first_line)).collect();
    let mut kernel =
        KernelInfo::from_facts(spec, &KernelFacts::reported("unknown", "", "x86_64", None));
    kernel.version = None;
    kernel.source = source;
    kernel.error = Some(why.to_string());
    Report::new(kernel, 0, results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(accel: Accel, extra: &str) -> VmSettings {
        VmSettings {
            qemu: Qemu {
                binary: "qemu-system-x86_64".into(),
                version: "7.2".into(),
                ivshmem: true,
            },
            accel,
            cpus: 2,
            memory_mb: 512,
            boot_timeout: Duration::from_secs(60),
            instance_timeout: Duration::from_secs(20),
            iterations: 100,
            cmdline_extra: extra.into(),
            results_shm: true,
            fail_setup: None,
        }
    }

    #[test]
    fn a_tcg_guest_is_told_its_tsc_is_reliable_and_the_users_words_come_last() {
        assert_eq!(
            settings(Accel::Tcg, "").cmdline(),
            format!("{BASE_CMDLINE} tsc=reliable")
        );
        assert_eq!(
            settings(Accel::Tcg, "tsc=unstable").cmdline(),
            format!("{BASE_CMDLINE} tsc=reliable tsc=unstable")
        );
    }

    #[test]
    fn a_kvm_guest_keeps_its_own_clock() {
        assert_eq!(settings(Accel::Kvm, "").cmdline(), BASE_CMDLINE);
        assert_eq!(
            settings(Accel::Kvm, "quiet").cmdline(),
            format!("{BASE_CMDLINE} quiet")
        );
    }
}
