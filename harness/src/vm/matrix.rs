//! A matrix: several kernels, each resolved (downloaded, built), booted
//! and run, a bounded number at a time. One kernel's failure to resolve or
//! boot is its own error; the others' results are still there.

use std::path::Path;
use std::time::Duration;

use kconform_core::executor::parallel_map;
use kconform_core::expect::Expectations;
use kconform_core::guest::protocol::{Mode, Plan};
use kconform_core::interrupt;
use kconform_core::model::Instance;
use kconform_core::run::{Event, KernelRun, Listener, Native, Runner};

use super::{run_plan, unrunnable, Accel, Guest, VmKernel, VmSettings};
use crate::kernels::{BootTarget, KernelSpec, Resolver};
use crate::util::safe_name;

/// Everything a matrix run needs.
pub struct Matrix<'a> {
    pub resolver: &'a Resolver,
    pub settings: &'a VmSettings,
    pub guest: &'a Guest,
    pub expectations: &'a Expectations,
    /// For `host` entries: the running kernel, natively.
    pub native: Option<&'a Native<'a>>,
    /// Kernels at once.
    pub jobs: usize,
    /// Scratch space for initrds and QEMU's files.
    pub workdir: &'a Path,
}

impl Matrix<'_> {
    /// Run each kernel's instances (kernels may have different ones, as a
    /// shard does); results in `work` order, kernel `k` told as `k`.
    pub fn run(
        &self,
        work: &[(KernelSpec, Vec<&Instance>)],
        listener: &dyn Listener,
    ) -> Vec<KernelRun> {
        parallel_map(work, self.jobs, |k, (spec, instances)| {
            self.run_one(k, spec, instances, listener)
        })
    }

    fn run_one(
        &self,
        k: usize,
        spec: &KernelSpec,
        instances: &[&Instance],
        listener: &dyn Listener,
    ) -> KernelRun {
        let fail = |source: Option<String>, why: &str| {
            let mut report = unrunnable(&spec.to_string(), source, why, instances);
            report.interrupted = interrupt::requested();
            listener.on(k, Event::Finished(&report));
            KernelRun {
                report,
                console: String::new(),
            }
        };
        if interrupt::requested() {
            return fail(None, "interrupted");
        }
        if spec.is_host() {
            return match self.native {
                Some(native) => native.run(k, instances, listener),
                None => fail(None, "`host` cannot run here"),
            };
        }
        let target = match self
            .resolver
            .resolve(spec, &|what| listener.on(k, Event::Preparing(what)))
        {
            Ok(t) => t,
            Err(why) => return fail(None, &why.to_string()),
        };
        let dir = self.workdir.join(format!("kernel-{k}"));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            let why = format!("cannot create {}: {e}", dir.display());
            return fail(Some(target.source), &why);
        }
        let vm = VmKernel {
            target: &target,
            settings: self.settings,
            guest: self.guest,
            expectations: self.expectations,
            workdir: &dir,
        };
        vm.run(k, instances, listener)
    }
}

/// KVM when it really runs a kernel, TCG otherwise. On some hosts
/// /dev/kvm opens and tiny guests run, yet a real kernel stops with "KVM
/// internal error" and QEMU hangs: so the probe boots the guest itself,
/// boot-only, and takes KVM only if the guest answers in time. The answer
/// is remembered per host kernel and QEMU version.
pub fn probe_accel(
    target: &BootTarget,
    settings: &VmSettings,
    guest: &Guest,
    cache_root: &Path,
    workdir: &Path,
) -> Accel {
    if !Path::new("/dev/kvm").exists() {
        return Accel::Tcg;
    }
    let host = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let key = safe_name(&format!("{host} {}", settings.qemu.version), ".");
    let memo = cache_root.join("accel").join(key);
    match std::fs::read_to_string(&memo).as_deref().map(str::trim) {
        Ok("kvm") => return Accel::Kvm,
        Ok("tcg") => return Accel::Tcg,
        _ => {}
    }
    let mut trial = settings.clone();
    trial.accel = Accel::Kvm;
    trial.boot_timeout = Duration::from_secs(8);
    let plan = Plan::without_instances(Mode::BootOnly);
    let dir = workdir.join("kvm-probe");
    let _ = std::fs::create_dir_all(&dir);
    let run = run_plan(target, &trial, guest, &plan, &dir);
    let accel = if run.booted && run.finished {
        Accel::Kvm
    } else {
        Accel::Tcg
    };
    let _ = std::fs::create_dir_all(memo.parent().unwrap_or(cache_root));
    let _ = std::fs::write(&memo, accel.as_str());
    accel
}
