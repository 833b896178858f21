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
//! on the instance that caused them and the run goes on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};

use kconform_harness::debian::default_cache_root;
use kconform_harness::expect::{Expectations, Status};
use kconform_harness::matrix::{probe_accel, Matrix, MatrixFile};
use kconform_harness::model::{Area, Instance, Needs};
use kconform_harness::report::{Report, ResultRecord};
use kconform_harness::spec::{KernelSpec, Resolver};
use kconform_harness::vm::pid1::selftest;
use kconform_harness::vm::protocol::catalog_hash;
use kconform_harness::vm::qemu::{Accel, Qemu};
use kconform_harness::vm::{guest, run_suite, BootTarget, Guest, KernelRun, VmSettings};

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
    let harness_trials: [(&str, HarnessCheck); 7] = [
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
        ("harness::ctrl-c-leaves-no-qemu-behind", |_, spec| {
            ctrl_c_leaves_no_qemu(spec)
        }),
        (
            "harness::a-missing-config-option-skips-with-its-name",
            |env, spec| env.config_preflight(spec),
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
            let skip = r.status == Status::Skip;
            let (trial, area) = (name(&spec, &r.id), r.area.as_str());
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
fn kconform(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kconform"))
        .args(args)
        .output()
        .expect("run kconform");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The port the guest answered on, as the report records it.
fn results_port(report: &Report) -> &str {
    report
        .kernel
        .vm
        .as_ref()
        .map_or("none", |v| v.results_port.as_str())
}

fn read_report(dir: &Path, spec: &str) -> Result<Report, String> {
    Report::read(&Report::dir_in(dir, spec).join("report.json"))
}

/// A kernel whose init never starts: status error for it, exit 125 as the
/// only kernel, and the console tail saying why.
fn does_not_boot(spec: &KernelSpec) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let spec = spec.to_string();
    let (code, out) = kconform(&[
        "run",
        "--kernel",
        &spec,
        "--filter",
        "tsync/ancestors",
        "--accel",
        "tcg",
        // The last rdinit= wins: there is no such init, so the kernel panics.
        "--cmdline",
        "rdinit=/no/such/init",
        "--report",
        &dir.path().to_string_lossy(),
    ]);
    let report = read_report(dir.path(), &spec)?;
    let tail = report.kernel.console_tail.clone().unwrap_or_default();
    let why = report.kernel.error.clone().unwrap_or_default();
    let ok = code == 125
        && why.contains("did not boot")
        && tail.contains("Kernel panic")
        && report.results.iter().all(|r| r.status == Status::Error);
    ok.then_some(()).ok_or(format!(
        "exit {code}, error {why:?}, tail:\n{tail}\noutput:\n{out}"
    ))
}

/// A file that is not a kernel, next to a good kernel: its own error, and
/// the good kernel's results all there.
fn bad_kernel_among_good(spec: &KernelSpec) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let not_a_kernel = dir.path().join("notes.txt");
    std::fs::write(&not_a_kernel, "not a kernel\n").map_err(|e| e.to_string())?;
    let (bad, good) = (
        not_a_kernel.to_string_lossy().into_owned(),
        spec.to_string(),
    );
    let reports = dir.path().join("reports");
    let (code, out) = kconform(&[
        "run",
        "--kernel",
        &bad,
        "--kernel",
        &good,
        "--filter",
        "tsync/ancestors/shared",
        "--accel",
        "tcg",
        "--report",
        &reports.to_string_lossy(),
    ]);
    let bad_report = read_report(&reports, &bad)?;
    let good_report = read_report(&reports, &good)?;
    let why = bad_report.kernel.error.clone().unwrap_or_default();
    let ok = code == 1
        && why.contains("not a bootable x86 kernel image")
        && !good_report.results.is_empty()
        && good_report.summary.pass == good_report.results.len();
    ok.then_some(())
        .ok_or(format!("exit {code}, bad kernel error {why:?}\n{out}"))
}

fn unknown_debian_name() -> Result<(), String> {
    let (code, out) = kconform(&[
        "run",
        "--kernel",
        "debian:trixy",
        "--accel",
        "tcg",
        "--quiet",
    ]);
    let ok = code == 125
        && out.contains("bullseye, bookworm, trixie, sid")
        && out.contains("debian:trixie");
    ok.then_some(()).ok_or(format!("exit {code}:\n{out}"))
}

/// SIGINT to kconform mid-run (as Ctrl-C sends it): every QEMU it started
/// is gone once it is.
fn ctrl_c_leaves_no_qemu(spec: &KernelSpec) -> Result<(), String> {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kconform"))
        .args([
            "run",
            "--kernel",
            &spec.to_string(),
            "--accel",
            "tcg",
            "--quiet",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let parent = child.id() as i32;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let qemus = loop {
        let q = qemu_children_of(parent);
        if !q.is_empty() {
            break q;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            return Err("kconform started no QEMU within 120 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(500));
    kill(Pid::from_raw(parent), Signal::SIGINT).map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(500));
    let alive: Vec<i32> = qemus
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| !s.contains(") Z "))
                .unwrap_or(false)
        })
        .collect();
    alive
        .is_empty()
        .then_some(())
        .ok_or(format!("after SIGINT ({status}) QEMU {alive:?} still runs"))
}

/// Pids of QEMU processes whose parent is `parent`.
fn qemu_children_of(parent: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the command name: state, then the parent pid.
            let ppid = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            ppid == Some(parent) && stat.contains("(qemu-system-x86")
        })
        .collect()
}

fn verdict(
    r: &ResultRecord,
    kernel_error: Option<String>,
    tail: Option<String>,
) -> Result<(), Failed> {
    match r.status {
        Status::Pass | Status::Skip => Ok(()),
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
            MatrixFile::load(&file).unwrap_or_else(|e| panic!("{e}"))
        }
    }
}

/// QEMU, the guest and settings, shared by every kernel.
struct Env {
    settings: VmSettings,
    guest: Guest,
    resolver: Resolver,
    expectations: Expectations,
    workdir: tempfile::TempDir,
}

impl Env {
    fn new(catalog: &[Instance]) -> Env {
        let qemu = Qemu::find().unwrap_or_else(|e| panic!("{e}"));
        let binary = guest::locate_or_build(&|what| eprintln!("vm tests: {what}"))
            .unwrap_or_else(|e| panic!("{e}"));
        let workdir = tempfile::tempdir().expect("scratch directory");
        let ids = catalog_hash(catalog.iter().map(|i| i.id.as_str()));
        let guest =
            Guest::prepare(&binary, None, ids, workdir.path()).unwrap_or_else(|e| panic!("{e}"));
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let expectations = Expectations::load_dir(&root.join("fixtures/expectations"))
            .unwrap_or_else(|e| panic!("{e}"));
        let iterations = std::env::var("KCONFORM_ITERATIONS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(kconform_harness::model::DEFAULT_ITERATIONS);
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
            },
            guest,
            resolver: Resolver {
                cache_root: default_cache_root(),
                offline: std::env::var_os("KCONFORM_OFFLINE").is_some(),
                fragment: root.join("kernel-configs/minimal.config"),
            },
            expectations,
            workdir,
        }
    }

    fn reports_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kconform-vm-reports")
    }

    fn with_accel(&self, first: &KernelSpec) -> VmSettings {
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
        let runs = matrix.run(&work, &|_, _| {});
        for run in &runs {
            let s = &run.report.summary;
            eprintln!(
                "vm tests: {}: {} pass, {} fail, {} skip, {} error in {:.1} s (results through {})",
                run.report.kernel.spec,
                s.pass,
                s.fail,
                s.skip,
                s.error,
                run.report.duration_ms as f64 / 1000.0,
                results_port(&run.report)
            );
            if let Err(e) = run.write_to(&Self::reports_dir()) {
                eprintln!("vm tests: cannot keep the report: {e}");
            }
        }
        runs
    }

    /// The kernel's image with a config beside it that lacks
    /// CONFIG_MODULES: the usermode-helper instances are skipped, naming
    /// the option, before anything boots for them.
    fn config_preflight(&self, spec: &KernelSpec) -> Result<(), String> {
        let target = self.resolver.resolve(spec, &|_| {})?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let image = dir.path().join("vmlinuz");
        std::fs::copy(&target.image, &image).map_err(|e| e.to_string())?;
        let mut config = String::from("CONFIG_SECCOMP=y\nCONFIG_SECCOMP_FILTER=y\n");
        for (k, v) in target.config.map(|(_, c)| c).unwrap_or_default() {
            if k != "CONFIG_MODULES" && v != "n" {
                config.push_str(&format!("{k}={v}\n"));
            }
        }
        config.push_str("# CONFIG_MODULES is not set\n");
        std::fs::write(dir.path().join("config"), config).map_err(|e| e.to_string())?;
        let reports = dir.path().join("reports");
        let image = image.to_string_lossy().into_owned();
        let (code, out) = kconform(&[
            "run",
            "--kernel",
            &image,
            "--filter",
            "ptrace-attach/usermode-helper",
            "--accel",
            self.settings.accel.as_str(),
            "--report",
            &reports.to_string_lossy(),
        ]);
        let report = read_report(&reports, &image)?;
        let ok = code == 0
            && report.results.len() == 2
            && report.results.iter().all(|r| {
                r.status == Status::Skip
                    && r.reason.as_deref() == Some("kernel config lacks CONFIG_MODULES")
            })
            && report.kernel.release != "unknown";
        ok.then_some(())
            .ok_or(format!("exit {code}: {:#?}\n{out}", report.results))
    }

    /// A warning, a panic and a hang, each between ordinary instances, in
    /// one run: each is pinned on its instance, the rest pass, and the
    /// VM comes back after the panic and the hang. The guest answers
    /// through shared memory when `shm` offers it, else over ttyS1.
    fn trouble_is_pinned(&self, spec: &KernelSpec, shm: bool) -> Result<(), String> {
        let target: BootTarget = self.resolver.resolve(spec, &|_| {})?;
        let mut settings = self.with_accel(spec);
        settings.results_shm = shm;
        // The hang is found by silence: keep the wait for it short.
        settings.instance_timeout = Duration::from_secs(2);
        let fake = |id: &str| Instance::from_fn(id, Area::Tsync, Needs::root(), |_| unreachable!());
        let instances = [
            fake(selftest::OK),
            fake(selftest::WARN),
            fake(selftest::PANIC),
            fake(selftest::HANG),
            fake(selftest::OK),
        ];
        // Distinct ids, as the run keys on them; the guest knows them all.
        let refs: Vec<&Instance> = instances.iter().collect();
        let mut expectations = Expectations::default();
        expectations
            .add_file(
                Path::new("selftest.toml"),
                &format!(
                    "[\"{}\"]\nexpect = \"ok\"\n[\"{}\"]\nexpect = \"warned\"\n",
                    selftest::OK,
                    selftest::WARN
                ),
            )
            .map_err(|e| e.to_string())?;
        let name = if shm {
            "harness-selftest"
        } else {
            "harness-selftest-ttys1"
        };
        let dir = self.workdir.path().join(name);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let run = run_suite(
            &target,
            &settings,
            &self.guest,
            &refs,
            &expectations,
            &dir,
            &|_| {},
        );
        let _ = run.write_to(&Self::reports_dir().join(name));
        let r = &run.report.results;
        let kinds = |k: usize| {
            r[k].kernel_events
                .iter()
                .map(|e| e.kind.as_str())
                .collect::<Vec<_>>()
        };
        let check = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(format!("{what}: {:#?}", run.report))
            }
        };
        check(r.len() == 5, "one record per instance")?;
        check(
            results_port(&run.report) == if shm { "shared memory" } else { "ttyS1" },
            "the results come through the port offered",
        )?;
        check(
            r[0].status == Status::Pass,
            "the first ordinary instance passes",
        )?;
        check(
            r[1].status == Status::Fail && kinds(1) == ["warning"],
            "the warning is pinned on its instance",
        )?;
        check(
            r[1].kernel_events[0].summary.contains("simulated warning"),
            "the warning's console line is kept",
        )?;
        check(
            r[2].status == Status::Fail && kinds(2) == ["panic"],
            "the panic is pinned on its instance",
        )?;
        check(
            r[2].kernel_events[0]
                .excerpt
                .contains("Attempted to kill init"),
            "the panic's console excerpt is kept",
        )?;
        check(
            r[3].status == Status::Fail && kinds(3) == ["hang"],
            "the hang is pinned on its instance",
        )?;
        check(
            r[4].status == Status::Pass,
            "the run goes on after a panic and a hang",
        )?;
        let boots = run.report.kernel.vm.as_ref().map(|v| v.boots).unwrap_or(0);
        check(
            boots >= 3,
            "the VM is booted again after the panic and after the hang",
        )?;
        check(
            run.console.contains("Kernel panic"),
            "the console log keeps every boot",
        )?;
        Ok(())
    }
}
