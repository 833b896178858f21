//! `cargo test --features vm`: every scenario on every kernel of a matrix,
//! under QEMU, one trial per kernel x instance, judged exactly like
//! `kconform run`. Each kernel boots once (plus a boot per crash).
//!
//! Kernels: `$KCONFORM_VM_KERNELS` (specs separated by commas), else the
//! default matrix file `fixtures/matrix.toml`. Only kernels with a trial
//! left after the test filter are booted. Reports and console logs land
//! in `target/kconform-vm-reports/`.
//!
//! The `harness::` trials check the VM machinery against real faults in
//! the first kernel: a kernel warning, a panic and a hang are each pinned
//! on the instance that caused them and the run goes on. One boots
//! bullseye and trixie whatever the matrix, for the drift index.html marks.
//! The `harness::packages::` trials boot bookworm's cloud kernel .deb, sid's
//! split packages and an .rpm built around bookworm's kernel through the
//! CLI (`packages.rs`). `harness::c-reproducers-...` runs every C
//! reproducer in one boot of the first kernel and compares it with its
//! Rust twin there (`repro.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};

use kconform_core::expect::{Expectations, Status};
use kconform_core::guest::protocol::catalog_hash;
use kconform_core::model::{Instance, SkipClass, DEFAULT_ITERATIONS};
use kconform_core::record::{Report, ResultRecord};
use kconform_core::run::{Event, KernelRun};
use kconform_harness::kernels::{default_cache_root, load_matrix, KernelSpec, Resolver};
use kconform_harness::report;
use kconform_harness::vm::matrix::{probe_accel, Matrix};
use kconform_harness::vm::{guest, Accel, Guest, Qemu, VmSettings};

mod checks;
mod index_page;
mod install;
mod packages;
mod repro;

use checks::{
    a_kernel_set_runs_every_image, bad_kernel_among_good, ctrl_c_leaves_no_qemu, does_not_boot,
    interrupt_during_bisect, setup_failure_in_the_guest, tcg_guest_keeps_time_on_the_tsc,
    unknown_debian_name,
};
use install::installed_without_checkout;
use packages::{
    debian_package_boots, missing_unpacker_names_its_package, rpm_boots, sid_split_boots,
};

fn main() {
    let args = Arguments::from_args();
    let specs = kernels();
    let catalog = kconform_suites::catalog();
    let selected = |name: &str| {
        let hit = |pat: &str| {
            if args.exact {
                name == pat
            } else {
                name.contains(pat)
            }
        };
        args.filter.as_deref().map_or(true, hit) && !args.skip.iter().any(|s| hit(s))
    };
    let name = |spec: &KernelSpec, id: &str| format!("{spec}::{id}");
    let harness_trials: [(&str, HarnessCheck); 19] = [
        (
            "harness::kernel-trouble-is-pinned-on-its-instance",
            |env, spec| env.trouble_is_pinned(spec, true),
        ),
        (
            "harness::without-shared-memory-results-come-over-ttys1-and-trouble-is-still-pinned",
            |env, spec| env.trouble_is_pinned(spec, false),
        ),
        (
            "harness::a-kernel-that-does-not-boot-is-an-error-with-its-console",
            |_, spec| does_not_boot(spec),
        ),
        (
            "harness::a-bad-kernel-leaves-the-others-results",
            |_, spec| bad_kernel_among_good(spec),
        ),
        ("harness::unknown-debian-names-list-what-exists", |_, _| {
            unknown_debian_name()
        }),
        (
            "harness::a-debian-glob-runs-every-image-it-names",
            |_, _| a_kernel_set_runs_every_image(),
        ),
        (
            "harness::ctrl-c-kills-qemu-removes-scratch-and-writes-what-finished",
            |_, spec| ctrl_c_leaves_no_qemu(spec),
        ),
        (
            "harness::ctrl-c-during-a-bisect-stops-the-build-and-resets-the-bisect",
            |_, _| interrupt_during_bisect(),
        ),
        (
            "harness::repro-on-two-kernels-says-where-the-bug-shows",
            |_, _| repro::repro_on_two_kernels(),
        ),
        (
            "harness::c-reproducers-agree-with-their-rust-twins-in-the-guest",
            |_, spec| repro::c_twins_agree_in_the_guest(spec),
        ),
        (
            "harness::a-failed-setup-step-in-the-guest-is-an-error-naming-it",
            |_, spec| setup_failure_in_the_guest(spec),
        ),
        ("harness::a-tcg-guest-keeps-time-on-the-tsc", |_, spec| {
            tcg_guest_keeps_time_on_the_tsc(spec)
        }),
        (
            "harness::a-missing-config-option-skips-with-its-name",
            |env, spec| env.config_preflight(spec),
        ),
        (
            "harness::an-installed-kconform-works-with-the-checkout-gone",
            |_, spec| installed_without_checkout(spec),
        ),
        (
            "harness::index-html-marks-the-drift-between-bullseye-and-trixie",
            |_, _| index_page::index_marks_the_drift(),
        ),
        (
            "harness::packages::a-debian-package-is-a-kernel-and-boots",
            |env, _| debian_package_boots(env),
        ),
        (
            "harness::packages::sids-split-packages-in-a-directory-are-a-kernel-and-boot",
            |env, _| sid_split_boots(env),
        ),
        (
            "harness::packages::an-rpm-is-a-kernel-and-boots",
            |env, _| rpm_boots(env),
        ),
        (
            "harness::packages::a-missing-unpacker-names-the-package-to-install",
            |env, _| missing_unpacker_names_its_package(env),
        ),
    ];

    if args.list {
        let mut trials: Vec<Trial> = Vec::new();
        for spec in &specs {
            for inst in &catalog {
                trials.push(Trial::test(name(spec, &inst.id), || Ok(())));
            }
        }
        trials.extend(
            harness_trials
                .iter()
                .map(|(n, _)| Trial::test(*n, || Ok(()))),
        );
        libtest_mimic::run(&args, trials).exit();
    }

    let wanted: Vec<&KernelSpec> = specs
        .iter()
        .filter(|s| catalog.iter().any(|i| selected(&name(s, &i.id))))
        .collect();
    let env = Env::new(&catalog);
    let reports: Vec<(KernelSpec, Report)> = if wanted.is_empty() {
        Vec::new()
    } else {
        let owned: Vec<KernelSpec> = wanted.iter().map(|s| (*s).clone()).collect();
        env.run_matrix(&owned, &catalog)
            .into_iter()
            .zip(owned)
            .map(|(run, spec)| (spec, run.report))
            .collect()
    };

    let mut trials = Vec::new();
    for (spec, report) in reports {
        for r in report.results.clone() {
            let kernel_error = report.kernel.error.clone();
            let console_tail = report.kernel.console_tail.clone();
            // A skip a boot setting could have avoided is the harness's
            // failing: it stays a trial, which fails.
            let skip = r.status == Status::Skip && r.skip_class != Some(SkipClass::NotArranged);
            let (trial, area) = (name(&spec, &r.id), r.area.clone());
            trials.push(
                Trial::test(trial, move || verdict(&r, kernel_error, console_tail))
                    .with_kind(area)
                    .with_ignored_flag(skip),
            );
        }
    }
    // The machinery's own checks boot the first kernel; they run here,
    // one after another, not on the trial threads that judge results.
    for (trial, check) in harness_trials {
        if !selected(trial) {
            continue;
        }
        let outcome = match specs.first() {
            Some(spec) => check(&env, spec),
            None => Err("no kernel to test the harness on".into()),
        };
        trials.push(Trial::test(trial, move || outcome.map_err(Failed::from)));
    }
    libtest_mimic::run(&args, trials).exit();
}

type HarnessCheck = fn(&Env, &KernelSpec) -> Result<(), String>;

/// Run the kconform CLI; its exit code and everything it printed.
pub(crate) fn kconform(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kconform"))
        .args(args)
        .output()
        .expect("run kconform");
    (out.status.code().unwrap_or(-1), output_text(&out))
}

/// What a command printed, stdout then stderr.
pub(crate) fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The port the guest answered on, as the report records it.
pub(crate) fn results_port(report: &Report) -> &str {
    report
        .kernel
        .vm
        .as_ref()
        .map_or("none", |v| v.results_port.as_str())
}

/// The last lines of a command's output, for a failure message.
pub(crate) fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

pub(crate) fn read_report(dir: &Path, spec: &str) -> Result<Report, String> {
    report::read(&report::dir_in(dir, spec)).map_err(|e| e.to_string())
}

fn verdict(
    r: &ResultRecord,
    kernel_error: Option<String>,
    tail: Option<String>,
) -> Result<(), Failed> {
    match r.status {
        Status::Skip if r.skip_class == Some(SkipClass::NotArranged) => Err(format!(
            "skipped though kconform should have arranged it: {}",
            r.reason.clone().unwrap_or_default()
        )
        .into()),
        Status::Pass | Status::Skip | Status::KnownBug => Ok(()),
        _ => {
            let mut msg = format!("{}: {}", r.status, r.id);
            for (what, v) in [
                ("expected", &r.expected),
                ("observed", &r.observed),
                ("reason", &r.reason),
                ("kernel", &kernel_error),
            ] {
                if let Some(v) = v {
                    msg.push_str(&format!("\n  {what}: {v}"));
                }
            }
            for e in &r.kernel_events {
                msg.push_str(&format!(
                    "\n  kernel {}: {}\n{}",
                    e.kind, e.summary, e.excerpt
                ));
            }
            if let Some(t) = tail {
                msg.push_str(&format!("\n  console tail:\n{t}"));
            }
            Err(msg.into())
        }
    }
}

fn kernels() -> Vec<KernelSpec> {
    match std::env::var("KCONFORM_VM_KERNELS") {
        Ok(list) if !list.trim().is_empty() => list
            .split([',', ' ', '\n'])
            .filter(|s| !s.is_empty())
            .map(|s| KernelSpec::parse(s).unwrap_or_else(|e| panic!("KCONFORM_VM_KERNELS: {e}")))
            .collect(),
        _ => {
            let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/matrix.toml");
            load_matrix(&file).unwrap_or_else(|e| panic!("{e}"))
        }
    }
}

/// QEMU, the guest and settings, shared by every kernel.
pub(crate) struct Env {
    pub(crate) settings: VmSettings,
    pub(crate) guest: Guest,
    pub(crate) resolver: Resolver,
    pub(crate) expectations: Expectations,
    pub(crate) workdir: tempfile::TempDir,
}

impl Env {
    fn new(catalog: &[Instance]) -> Env {
        let qemu = Qemu::find().unwrap_or_else(|e| panic!("{e}"));
        let binaries =
            guest::locate_or_build(&kconform_harness::kernels::default_cache_root(), &|what| {
                eprintln!("vm tests: {what}")
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let workdir = tempfile::tempdir().expect("scratch directory");
        let ids = catalog_hash(catalog.iter().map(|i| i.id.as_str()));
        let guest =
            Guest::prepare(&binaries, None, ids, workdir.path()).unwrap_or_else(|e| panic!("{e}"));
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let expectations = Expectations::load_dir(&root.join("fixtures/expectations"))
            .unwrap_or_else(|e| panic!("{e}"));
        let iterations = std::env::var("KCONFORM_ITERATIONS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(DEFAULT_ITERATIONS);
        Env {
            settings: VmSettings {
                qemu,
                accel: Accel::Tcg,
                cpus: 2,
                memory_mb: 512,
                boot_timeout: Duration::from_secs(90),
                instance_timeout: Duration::from_secs(20),
                iterations,
                cmdline_extra: String::new(),
                results_shm: true,
                fail_setup: None,
            },
            guest,
            resolver: Resolver {
                cache_root: default_cache_root(),
                offline: std::env::var_os("KCONFORM_OFFLINE").is_some(),
                fragment: kconform_harness::bundled::Fragment::File(
                    root.join("kernel-configs/minimal.config"),
                ),
            },
            expectations,
            workdir,
        }
    }

    pub(crate) fn reports_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kconform-vm-reports")
    }

    pub(crate) fn with_accel(&self, first: &KernelSpec) -> VmSettings {
        let mut settings = self.settings.clone();
        if let Ok(target) = self.resolver.resolve(first, &|_| {}) {
            settings.accel = probe_accel(
                &target,
                &settings,
                &self.guest,
                &self.resolver.cache_root,
                self.workdir.path(),
            );
        }
        settings
    }

    fn run_matrix(&self, specs: &[KernelSpec], catalog: &[Instance]) -> Vec<KernelRun> {
        let settings = self.with_accel(&specs[0]);
        let instances: Vec<&Instance> = catalog.iter().collect();
        let matrix = Matrix {
            resolver: &self.resolver,
            settings: &settings,
            guest: &self.guest,
            expectations: &self.expectations,
            native: None,
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            workdir: self.workdir.path(),
        };
        eprintln!(
            "vm tests: {} instances on {} ({}), booting each kernel once",
            instances.len(),
            specs
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            settings.accel.as_str()
        );
        let work: Vec<(KernelSpec, Vec<&Instance>)> = specs
            .iter()
            .map(|s| (s.clone(), instances.clone()))
            .collect();
        // Each kernel's line as soon as it is done, from the run's events.
        let progress = |_: usize, event: Event| {
            if let Event::Finished(r) = event {
                let s = &r.summary;
                eprintln!(
                    "vm tests: {}: {} pass, {} fail, {} skip, {} error in {:.1} s (results through {})",
                    r.kernel.spec,
                    s.pass,
                    s.fail,
                    s.skip,
                    s.error,
                    r.duration_ms as f64 / 1000.0,
                    results_port(r)
                );
            }
        };
        let runs = matrix.run(&work, &progress);
        for run in &runs {
            if let Err(e) =
                report::write_with_console(&run.report, Some(&run.console), &Self::reports_dir())
            {
                eprintln!("vm tests: cannot keep the report: {e}");
            }
        }
        runs
    }
}
