//! A matrix: several kernels, each resolved (downloaded, built), booted
//! and run, a bounded number at a time. One kernel's failure to resolve or
//! boot is its own error; the others' results are still there.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Deserialize;

use crate::executor::parallel_map;
use crate::expect::Expectations;
use crate::model::Instance;
use crate::report::Report;
use crate::session::Native;
use crate::spec::{KernelSpec, Resolver};
use crate::vm::protocol::{Mode, Plan};
use crate::vm::qemu::Accel;
use crate::vm::{
    run_plan, run_suite, unrunnable, BootTarget, Guest, KernelRun, Progress, VmSettings,
};

/// A matrix file: `kernels = ["debian:bookworm", "tree:/src/linux", ...]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixFile {
    pub kernels: Vec<String>,
}

impl MatrixFile {
    pub fn load(path: &Path) -> Result<Vec<KernelSpec>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the matrix file {}: {e}", path.display()))?;
        let m: MatrixFile = toml::from_str(&text)
            .map_err(|e| format!("{}: not a matrix file: {e}", path.display()))?;
        if m.kernels.is_empty() {
            return Err(format!("{}: `kernels` is empty", path.display()));
        }
        m.kernels
            .iter()
            .map(|k| KernelSpec::parse(k).map_err(|e| format!("{}: {e}", path.display())))
            .collect()
    }
}

/// What happens to one kernel of a matrix, as it happens.
pub enum Step<'a> {
    Resolving(&'a str),
    Vm(Progress<'a>),
    Finished(&'a Report),
}

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
    /// Run `instances` on every kernel; results in `specs` order.
    /// Run each kernel's instances (kernels may have different ones, as a
    /// shard does); results in `work` order.
    pub fn run(
        &self,
        work: &[(KernelSpec, Vec<&Instance>)],
        on: &(dyn Fn(usize, Step) + Sync),
    ) -> Vec<KernelRun> {
        parallel_map(work, self.jobs, |k, (spec, instances)| {
            let run = self.run_one(k, spec, instances, on);
            on(k, Step::Finished(&run.report));
            run
        })
    }

    fn run_one(
        &self,
        k: usize,
        spec: &KernelSpec,
        instances: &[&Instance],
        on: &(dyn Fn(usize, Step) + Sync),
    ) -> KernelRun {
        let name = spec.to_string();
        if spec.is_host() {
            let done = AtomicUsize::new(0);
            return match self.native {
                Some(native) => KernelRun {
                    report: native.run("host", instances, &|r| {
                        let done = done.fetch_add(1, Ordering::Relaxed) + 1;
                        on(
                            k,
                            Step::Vm(Progress::Done {
                                done,
                                total: instances.len(),
                                record: r,
                            }),
                        )
                    }),
                    console: String::new(),
                },
                None => KernelRun {
                    report: unrunnable(&name, None, "`host` cannot run here", instances),
                    console: String::new(),
                },
            };
        }
        let target = match self
            .resolver
            .resolve(spec, &|what| on(k, Step::Resolving(what)))
        {
            Ok(t) => t,
            Err(why) => {
                return KernelRun {
                    report: unrunnable(&name, None, &why, instances),
                    console: String::new(),
                }
            }
        };
        let dir = self.workdir.join(format!("kernel-{k}"));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return KernelRun {
                report: unrunnable(
                    &name,
                    Some(target.source),
                    &format!("cannot create {}: {e}", dir.display()),
                    instances,
                ),
                console: String::new(),
            };
        }
        run_suite(
            &target,
            self.settings,
            self.guest,
            instances,
            self.expectations,
            &dir,
            &|p| on(k, Step::Vm(p)),
        )
    }
}

/// The default matrix file, in this source tree.
pub fn default_matrix_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|w| w.join("fixtures/matrix.toml"))
        .unwrap_or_else(|| PathBuf::from("fixtures/matrix.toml"))
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
    let key: String = format!("{host} {}", settings.qemu.version)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let memo = cache_root.join("accel").join(key);
    match std::fs::read_to_string(&memo).as_deref().map(str::trim) {
        Ok("kvm") => return Accel::Kvm,
        Ok("tcg") => return Accel::Tcg,
        _ => {}
    }
    let mut trial = settings.clone();
    trial.accel = Accel::Kvm;
    trial.boot_timeout = Duration::from_secs(8);
    let plan = Plan {
        mode: Mode::BootOnly,
        ids: Vec::new(),
        iterations: 1,
        timeout_ms: 1000,
        jobs: 1,
    };
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
