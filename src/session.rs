//! What every VM kernel of one command shares: QEMU, the guest binary
//! and its initramfs, the kernel cache, the scratch directory; and the
//! baseline a run is compared with.

use std::path::Path;
use std::time::Duration;

use kconform_core::executor::parallel_map;
use kconform_core::guest::protocol::catalog_hash;
use kconform_core::interrupt;
use kconform_core::model::Instance;
use kconform_core::record::Report;
use kconform_harness::bundled::Fragment;
use kconform_harness::kernels::{default_cache_root, BootTarget, KernelSpec, Resolver};
use kconform_harness::report;
use kconform_harness::vm::matrix::probe_accel;
use kconform_harness::vm::{guest, Accel, Guest, Qemu, VmError, VmSettings};

use crate::cli::{AccelArg, VmArgs};
use crate::error::Error;
use crate::ui::progress::FetchBar;

pub struct VmSession {
    pub qemu: Qemu,
    pub guest: Guest,
    pub resolver: Resolver,
    /// Removed when the session ends, an interrupt included.
    pub workdir: tempfile::TempDir,
    iterations: u32,
    timeout: u64,
}

impl VmSession {
    pub fn start(
        vm: &VmArgs,
        iterations: u32,
        timeout: u64,
        catalog: &[Instance],
        exec: Option<&Path>,
        quiet: bool,
    ) -> Result<VmSession, Error> {
        // Bad input first, before QEMU and the guest build are looked at.
        let resolver = resolver(vm)?;
        let qemu = Qemu::find()?;
        let binaries = guest::locate_or_build(&resolver.cache_root, &|what| {
            if !quiet {
                eprintln!("kconform: {what}")
            }
        })?;
        let workdir = tempfile::Builder::new()
            .prefix("kconform-")
            .tempdir()
            .map_err(Error::Scratch)?;
        let ids = catalog_hash(catalog.iter().map(|i| i.id.as_str()));
        let guest = Guest::prepare(&binaries, exec, ids, workdir.path())?;
        Ok(VmSession {
            qemu,
            guest,
            resolver,
            workdir,
            iterations,
            timeout,
        })
    }

    /// Settings for every boot; `auto` accel probes KVM on `first`.
    pub fn settings_for(
        &self,
        vm: &VmArgs,
        first: Option<&KernelSpec>,
    ) -> Result<VmSettings, Error> {
        // A kernel that does not resolve gets its own error later.
        let target = match vm.accel {
            AccelArg::Auto => first.and_then(|s| self.resolver.resolve(s, &|_| {}).ok()),
            _ => None,
        };
        self.settings_with(vm, target.as_ref())
    }

    /// Settings for every boot; `auto` accel probes KVM on `probe_on`
    /// (TCG without one).
    pub fn settings_with(
        &self,
        vm: &VmArgs,
        probe_on: Option<&BootTarget>,
    ) -> Result<VmSettings, Error> {
        if vm.cpus == 0 || vm.memory < 64 {
            return Err(VmError::BadSize.into());
        }
        let mut settings = VmSettings {
            qemu: self.qemu.clone(),
            accel: Accel::Tcg,
            cpus: vm.cpus,
            memory_mb: vm.memory,
            boot_timeout: Duration::from_secs(vm.boot_timeout),
            instance_timeout: Duration::from_secs(self.timeout),
            iterations: self.iterations,
            cmdline_extra: vm.cmdline.clone(),
            results_shm: true,
            fail_setup: crate::cmd::run::fail_setup(),
        };
        settings.accel = match vm.accel {
            AccelArg::Kvm => Accel::Kvm,
            AccelArg::Tcg => Accel::Tcg,
            AccelArg::Auto => match probe_on {
                Some(target) => probe_accel(
                    target,
                    &settings,
                    &self.guest,
                    &self.resolver.cache_root,
                    self.workdir.path(),
                ),
                None => Accel::Tcg,
            },
        };
        Ok(settings)
    }

    /// Download the Debian images `specs` name that are not cached yet,
    /// two at a time (one unpacking while the other downloads keeps both
    /// the network and a core busy; more would only share them), under one
    /// progress bar, before any kernel boots. A failure is left for the
    /// kernel's own run to report.
    pub fn fetch_ahead(&self, specs: &[KernelSpec], quiet: bool) {
        let missing: Vec<&KernelSpec> = specs
            .iter()
            .filter(|s| self.resolver.must_download(s))
            .collect();
        if missing.is_empty() {
            return;
        }
        let bar = FetchBar::new(missing.len(), quiet);
        parallel_map(&missing, FETCHES_AT_ONCE, |_, spec| {
            if interrupt::requested() {
                return;
            }
            bar.started(spec);
            let r = self.resolver.resolve(spec, &|_| {});
            bar.finished(spec, r.err().map(|e| e.to_string()));
        });
        bar.done();
    }
}

/// Where kernels are fetched, built and cached, as the options say.
pub fn resolver(vm: &VmArgs) -> Result<Resolver, Error> {
    let cache_root = vm.cache.clone().unwrap_or_else(default_cache_root);
    Ok(Resolver {
        fragment: Fragment::named(&vm.fragment).map_err(Error::Fragment)?,
        cache_root,
        offline: vm.offline,
    })
}

const FETCHES_AT_ONCE: usize = 2;

/// What a run is compared with (`--baseline`).
pub enum Baseline {
    /// Nothing: the run's own verdict decides.
    None,
    /// A report written earlier.
    Report(Box<Report>),
    /// A kernel spec, run first as the run's first kernel.
    FirstKernel(KernelSpec),
}

impl Baseline {
    /// `--baseline X`: a JSON file (or a directory holding report.json)
    /// is a report; anything else a kernel spec.
    pub fn parse(x: Option<&str>) -> Result<Baseline, Error> {
        let Some(x) = x else {
            return Ok(Baseline::None);
        };
        let p = Path::new(x);
        let file = if p.is_dir() {
            p.join("report.json")
        } else {
            p.to_path_buf()
        };
        let json = std::fs::read(&file)
            .map(|b| b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{'))
            .unwrap_or(false);
        if json {
            return Ok(Baseline::Report(Box::new(report::read(&file)?)));
        }
        Ok(Baseline::FirstKernel(KernelSpec::parse(x)?))
    }
}
