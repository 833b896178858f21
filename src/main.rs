//! `kconform`: run the kernel behaviour conformance suite.
//!
//! Exit status: 0 every instance conforms, 1 any fails (or broke), 125 the
//! run itself could not happen (bad input, nothing could be judged): the
//! codes `git bisect run` and CI gates understand.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

mod bisect;

use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use kconform_harness::debian::default_cache_root;
use kconform_harness::expect::{Expectations, Status};
use kconform_harness::kernel::KernelFacts;
use kconform_harness::matrix::{probe_accel, Matrix, MatrixFile, Step};
use kconform_harness::report::{Counts, Report, ResultRecord};
use kconform_harness::select::{select_instances, Filter};
use kconform_harness::session::Native;
use kconform_harness::spec::{KernelSpec, Resolver};
use kconform_harness::vm::protocol::{catalog_hash, Mode, Plan};
use kconform_harness::vm::qemu::{Accel, Qemu};
use kconform_harness::vm::{
    console, guest, run_plan, BootTarget, Guest, KernelRun, Progress, VmSettings,
};
use kconform_harness::{Area, Ctx, Instance};

/// Exit status when the run itself could not happen.
const CANNOT_TEST: u8 = 125;

#[derive(Parser)]
#[command(
    name = "kconform",
    version,
    about = "Linux kernel behaviour conformance: fork, ptrace, seccomp and signals"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print every scenario instance id, one per line.
    List {
        /// Only ids matching PATTERN (substring, or glob with `*`); repeatable.
        #[arg(long, value_name = "PATTERN")]
        filter: Vec<String>,
    },
    /// Run the scenarios and judge them against the fixtures.
    Run(RunArgs),
    /// Boot a kernel under QEMU once (boot only, or running one program) and time it.
    Boot(BootArgs),
    /// Compare two reports: regressions (pass to fail, or an observation
    /// that changed), fixes, and ids added or removed. Exit 1 on any regression.
    Diff {
        /// The baseline: a report.json, or the directory holding one.
        old: PathBuf,
        /// The report to judge against it.
        new: PathBuf,
    },
    /// One step of `git bisect run`: build the kernel tree, boot it, run
    /// the matching scenarios. Exit 0 they conform, 1 one fails (the
    /// regression), 125 this revision cannot be tested (build or boot
    /// failure, a scenario that broke).
    BisectStep(bisect::TestArgs),
    /// Find the commit that broke the matching scenarios: `git bisect`
    /// from a good and a bad revision of a kernel tree, each step built,
    /// booted and run; prints the first bad commit, the observations at
    /// the last good and the first bad commit, and each step's times.
    Bisect(bisect::BisectArgs),
    /// Join the reports of `run --shard` into one report per kernel,
    /// refusing a result that two shards both have.
    Merge {
        /// Where the merged DIR/<kernel>/report.json (and formats) go.
        #[arg(long, value_name = "DIR")]
        report: PathBuf,
        /// Shard report directories (as given to run --report), kernel
        /// report directories, or report.json files.
        #[arg(required = true, value_name = "SHARD")]
        shards: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// A kernel to run on (repeatable): `host` (the running kernel,
    /// natively), a bzImage/vmlinuz path, `debian:NAME` (bullseye, bookworm,
    /// trixie, sid, or an image name like 6.1.0-50-cloud-amd64), or
    /// `tree:PATH` (a kernel source tree, built). Default: host.
    #[arg(long, value_name = "SPEC")]
    kernel: Vec<String>,
    /// Also run every kernel of a matrix file (default: the repo's fixtures/matrix.toml).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = default_matrix())]
    matrix: Option<PathBuf>,
    /// Only ids matching PATTERN (substring, or glob with `*`); repeatable.
    #[arg(long, value_name = "PATTERN")]
    filter: Vec<String>,
    /// Triggers per race scenario, and milliseconds it may race.
    #[arg(long, default_value_t = kconform_harness::model::DEFAULT_ITERATIONS, value_name = "N")]
    iterations: u32,
    /// Write DIR/<kernel>/report.json (and console.log for VM kernels).
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Kernels booted at once; for `host`, instances at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Seconds one instance may take before it is killed and recorded as an error.
    #[arg(long, default_value_t = 20, value_name = "SECS")]
    timeout: u64,
    /// Directory of expectation files.
    #[arg(long, value_name = "DIR", env = "KCONFORM_FIXTURES", default_value = default_fixtures())]
    fixtures: PathBuf,
    /// Compare every kernel with this baseline: a report (report.json or
    /// its directory) or a kernel spec, run first. The exit status is then
    /// the gate's: 1 on any regression, else 0.
    #[arg(long, value_name = "REPORT|SPEC")]
    baseline: Option<String>,
    /// Run only shard I of N: every N-th kernel x instance pair, dealt
    /// round-robin (join the shards' reports with `kconform merge`).
    #[arg(long, value_name = "I/N")]
    shard: Option<kconform_harness::shard::Shard>,
    /// Also write the whole run in this format under --report DIR:
    /// `kcidb` writes DIR/kcidb.json (KernelCI's KCIDB I/O schema v5.3).
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Vec<Format>,
    #[command(flatten)]
    vm: VmArgs,
    /// Print only the summary.
    #[arg(long, short)]
    quiet: bool,
}

/// How kernels other than `host` are fetched, built and booted.
#[derive(clap::Args)]
struct VmArgs {
    /// QEMU accelerator: auto probes KVM (remembered per host) and falls back to TCG.
    #[arg(long, value_enum, default_value = "auto")]
    accel: AccelArg,
    /// vCPUs per VM (race scenarios need at least 2).
    #[arg(long, default_value_t = 2, value_name = "N")]
    cpus: usize,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 512, value_name = "MIB")]
    memory: usize,
    /// Seconds from starting QEMU to the guest's first word.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    boot_timeout: u64,
    /// Extra kernel command line, appended to kconform's own.
    #[arg(long, default_value = "", value_name = "ARGS")]
    cmdline: String,
    /// Use only cached debian: kernels; never touch the network.
    #[arg(long, env = "KCONFORM_OFFLINE")]
    offline: bool,
    /// Where debian: kernels, tree builds and probes are cached.
    #[arg(long, value_name = "DIR", env = "KCONFORM_CACHE")]
    cache: Option<PathBuf>,
    /// Config fragment `tree:` kernels are built with.
    #[arg(long, value_name = "FILE", default_value = default_fragment())]
    fragment: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Kcidb,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AccelArg {
    Auto,
    Kvm,
    Tcg,
}

fn default_fixtures() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/expectations")
}

fn default_matrix() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/matrix.toml")
}

fn default_fragment() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/kernel-configs/minimal.config")
}

fn main() -> ExitCode {
    kconform_suites::probe::dispatch_if_probe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List { filter } => list(&filter),
        Command::Run(args) => run(args),
        Command::Boot(args) => boot(args),
        Command::Diff { old, new } => diff_reports(&old, &new),
        Command::BisectStep(args) => bisect::step(args),
        Command::Bisect(args) => bisect::bisect(args),
        Command::Merge { report, shards } => merge_reports(&report, &shards),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("kconform: {msg}");
            ExitCode::from(CANNOT_TEST)
        }
    }
}

fn chosen<'a>(catalog: &'a [Instance], patterns: &[String]) -> Result<Vec<&'a Instance>, String> {
    let filters: Vec<Filter> = patterns.iter().map(|p| Filter::new(p)).collect();
    select_instances(catalog, &filters).map_err(|e| e.to_string())
}

fn list(patterns: &[String]) -> Result<ExitCode, String> {
    let catalog = kconform_suites::catalog();
    for inst in chosen(&catalog, patterns)? {
        println!("{}", inst.id);
    }
    Ok(ExitCode::SUCCESS)
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn run(args: RunArgs) -> Result<ExitCode, String> {
    let mut specs = Vec::new();
    for k in &args.kernel {
        specs.push(KernelSpec::parse(k)?);
    }
    if let Some(file) = &args.matrix {
        specs.extend(MatrixFile::load(file)?);
    }
    if specs.is_empty() {
        specs.push(KernelSpec::Host);
    }
    if !args.format.is_empty() && args.report.is_none() {
        return Err("--format writes under the report directory: add --report DIR".into());
    }
    let baseline = match args.baseline.as_deref().map(Baseline::parse).transpose()? {
        Some(Baseline::Spec(spec)) => {
            specs.insert(0, spec);
            Some(None)
        }
        Some(Baseline::Report(r)) => Some(Some(*r)),
        None => None,
    };
    let expectations = Expectations::load_dir(&args.fixtures).map_err(|e| {
        format!("{e}\n(fix the file, or point --fixtures / KCONFORM_FIXTURES at the expectations directory)")
    })?;
    let catalog = kconform_suites::catalog();
    for id in expectations.by_id.keys() {
        if !catalog.iter().any(|i| &i.id == id) {
            eprintln!(
                "kconform: warning: {} expects `{id}`, which no scenario defines",
                expectations.by_id[id].origin
            );
        }
    }
    let instances = chosen(&catalog, &args.filter)?;
    // Each kernel's share of the instances: all of them, or a shard's.
    let work: Vec<(KernelSpec, Vec<&Instance>)> = specs
        .iter()
        .enumerate()
        .map(|(k, spec)| {
            let mine = instances
                .iter()
                .enumerate()
                .filter(|(i, _)| args.shard.map_or(true, |s| s.takes(k, *i, instances.len())))
                .map(|(_, inst)| *inst)
                .collect();
            (spec.clone(), mine)
        })
        .filter(|(_, mine): &(KernelSpec, Vec<&Instance>)| !mine.is_empty())
        .collect();
    let facts = KernelFacts::probe();
    let ctx = Ctx {
        iterations: args.iterations,
        probe_exe: std::env::current_exe()
            .map_err(|e| format!("cannot find my own executable: {e}"))?,
        shared_dir: None,
    };
    let jobs = args.jobs.unwrap_or_else(cores);
    let native = Native {
        facts: &facts,
        expectations: &expectations,
        ctx: &ctx,
        jobs,
        timeout: Duration::from_secs(args.timeout),
    };
    if specs == [KernelSpec::Host] {
        let host_share = work.first().map(|(_, m)| m.clone()).unwrap_or_default();
        let report = run_host(&args, &native, &host_share, &facts)?;
        write_formats(&args, &[&report])?;
        return Ok(match baseline {
            Some(Some(base)) => gate(&base, &[&report]),
            _ => ExitCode::from(report.exit_code() as u8),
        });
    }

    let vm = VmSession::start(
        &args.vm,
        args.iterations,
        args.timeout,
        &catalog,
        None,
        args.quiet,
    )?;
    let first_vm = specs.iter().find(|s| !s.is_host());
    let settings = vm.settings_for(&args.vm, first_vm)?;
    if !args.quiet {
        eprintln!(
            "kconform: {} instances on {} kernel(s), {} at a time; QEMU {} ({}), {} vCPUs, {} MiB",
            instances.len(),
            specs.len(),
            jobs.min(specs.len()),
            settings.qemu.version,
            settings.accel.as_str(),
            settings.cpus,
            settings.memory_mb
        );
    }
    let matrix = Matrix {
        resolver: &vm.resolver,
        settings: &settings,
        guest: &vm.guest,
        expectations: &expectations,
        native: Some(&native),
        jobs,
        workdir: vm.workdir.path(),
    };
    let specs: Vec<KernelSpec> = work.iter().map(|(s, _)| s.clone()).collect();
    let lens: Vec<usize> = work.iter().map(|(_, m)| m.len()).collect();
    let bars = Bars::new(&specs, &lens, args.quiet);
    let mut runs = matrix.run(&work, &|k, step| bars.step(k, &specs[k], step));
    for run in &mut runs {
        run.report.shard = args.shard.map(|s| s.to_string());
    }
    bars.done();

    for run in &runs {
        let r = &run.report;
        if r.summary.total() != r.summary.pass {
            println!("\n== {} ({}) ==", r.kernel.spec, r.kernel.release);
            print_summary(r, args.quiet);
        }
    }
    print_matrix_table(&runs);
    if let Some(dir) = &args.report {
        for run in &runs {
            let path = run
                .write_to(dir)
                .map_err(|e| format!("cannot write the report under {}: {e}", dir.display()))?;
            println!("report: {}", path.display());
        }
    }
    write_formats(&args, &runs.iter().map(|r| &r.report).collect::<Vec<_>>())?;
    match baseline {
        Some(Some(base)) => {
            return Ok(gate(
                &base,
                &runs.iter().map(|r| &r.report).collect::<Vec<_>>(),
            ))
        }
        Some(None) => {
            let rest: Vec<&Report> = runs[1..].iter().map(|r| &r.report).collect();
            return Ok(gate(&runs[0].report, &rest));
        }
        None => {}
    }
    let code = if runs.len() == 1 {
        runs[0].report.exit_code()
    } else if runs.iter().all(|r| r.report.exit_code() == 0) {
        0
    } else {
        1
    };
    Ok(ExitCode::from(code as u8))
}

/// The whole-run files under `--report DIR`: index.html, and the
/// formats `--format` asks for.
fn write_formats(args: &RunArgs, reports: &[&Report]) -> Result<(), String> {
    let Some(dir) = &args.report else {
        return Ok(());
    };
    write_index(dir, reports)?;
    if args.format.contains(&Format::Kcidb) {
        let path = dir.join("kcidb.json");
        let mut json = serde_json::to_vec_pretty(&kconform_harness::kcidb::kcidb(reports))
            .map_err(|e| e.to_string())?;
        json.push(b'\n');
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        kconform_harness::report::write_atomic(&path, &json)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("kcidb: {}", path.display());
    }
    Ok(())
}

/// What `--baseline` names.
enum Baseline {
    Report(Box<Report>),
    Spec(KernelSpec),
}

impl Baseline {
    fn parse(x: &str) -> Result<Baseline, String> {
        let p = std::path::Path::new(x);
        let file = if p.is_dir() {
            p.join("report.json")
        } else {
            p.to_path_buf()
        };
        // A JSON file is a report; any other file is a kernel image.
        let json = std::fs::read(&file)
            .map(|b| b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{'))
            .unwrap_or(false);
        if json {
            return Report::read(&file).map(|r| Baseline::Report(Box::new(r)));
        }
        KernelSpec::parse(x).map(Baseline::Spec)
    }
}

/// Each report against the baseline; 1 if any regressed, 125 if the
/// baseline itself could not be run (nothing to judge against).
fn gate(base: &Report, reports: &[&Report]) -> ExitCode {
    if let Some(why) = &base.kernel.error {
        eprintln!(
            "kconform: the baseline {} could not be run: {why}",
            base.kernel.spec
        );
        return ExitCode::from(CANNOT_TEST);
    }
    let mut code = 0;
    for r in reports {
        let d = kconform_harness::diff::diff(base, r);
        println!(
            "\n== baseline diff ==\n{}",
            kconform_harness::diff::render(&d)
        );
        code = code.max(d.exit_code());
    }
    ExitCode::from(code as u8)
}

fn run_host(
    args: &RunArgs,
    native: &Native,
    instances: &[&Instance],
    facts: &KernelFacts,
) -> Result<Report, String> {
    if !args.quiet {
        eprintln!(
            "kconform: {} instances on host ({}), {} at a time",
            instances.len(),
            facts.release,
            native.jobs
        );
    }
    let bar = if std::io::stderr().is_terminal() && !args.quiet {
        let bar = ProgressBar::new(instances.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut report = native.run("host", instances, &|r| {
        bar.inc(1);
        bar.set_message(r.id.clone());
        if !args.quiet && matches!(r.status, Status::Fail | Status::Error) {
            bar.suspend(|| eprintln!("{} {}", r.status.as_str().to_uppercase(), r.id));
        }
    });
    bar.finish_and_clear();
    report.shard = args.shard.map(|s| s.to_string());

    print_summary(&report, args.quiet);
    print_area_table(&report);
    if let Some(dir) = &args.report {
        let path = report
            .write_to(dir)
            .map_err(|e| format!("cannot write the report under {}: {e}", dir.display()))?;
        println!("report: {}", path.display());
    }
    Ok(report)
}

/// What every VM kernel of a run shares: QEMU, the guest, the cache.
struct VmSession {
    qemu: Qemu,
    guest: Guest,
    resolver: Resolver,
    workdir: tempfile::TempDir,
    iterations: u32,
    timeout: u64,
}

impl VmSession {
    fn start(
        vm: &VmArgs,
        iterations: u32,
        timeout: u64,
        catalog: &[Instance],
        exec: Option<&std::path::Path>,
        quiet: bool,
    ) -> Result<VmSession, String> {
        let qemu = Qemu::find().map_err(|e| e.to_string())?;
        let binary = guest::locate_or_build(&|what| {
            if !quiet {
                eprintln!("kconform: {what}")
            }
        })
        .map_err(|e| e.to_string())?;
        let workdir = tempfile::Builder::new()
            .prefix("kconform-")
            .tempdir()
            .map_err(|e| format!("cannot create a scratch directory: {e}"))?;
        let ids = catalog_hash(catalog.iter().map(|i| i.id.as_str()));
        let guest =
            Guest::prepare(&binary, exec, ids, workdir.path()).map_err(|e| e.to_string())?;
        let resolver = Resolver {
            cache_root: vm.cache.clone().unwrap_or_else(default_cache_root),
            offline: vm.offline,
            fragment: vm.fragment.clone(),
        };
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
    fn settings_for(&self, vm: &VmArgs, first: Option<&KernelSpec>) -> Result<VmSettings, String> {
        // A kernel that does not resolve gets its own error later.
        let target = match vm.accel {
            AccelArg::Auto => first.and_then(|s| self.resolver.resolve(s, &|_| {}).ok()),
            _ => None,
        };
        self.settings_with(vm, target.as_ref())
    }

    /// Settings for every boot; `auto` accel probes KVM on `probe_on`
    /// (TCG without one).
    fn settings_with(
        &self,
        vm: &VmArgs,
        probe_on: Option<&BootTarget>,
    ) -> Result<VmSettings, String> {
        if vm.cpus == 0 || vm.memory < 64 {
            return Err("--cpus must be at least 1 and --memory at least 64 (MiB)".into());
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
}

/// One progress bar per kernel on a terminal; one line per step elsewhere.
struct Bars {
    multi: MultiProgress,
    bars: Vec<ProgressBar>,
    live: bool,
    quiet: bool,
}

impl Bars {
    fn new(specs: &[KernelSpec], instances: &[usize], quiet: bool) -> Bars {
        let live = std::io::stderr().is_terminal() && !quiet;
        let multi = MultiProgress::new();
        let width = specs
            .iter()
            .map(|s| s.to_string().len())
            .max()
            .unwrap_or(8)
            .min(40);
        let style = ProgressStyle::with_template(&format!(
            "{{prefix:{width}}} {{bar:30}} {{pos:>3}}/{{len:3}} {{wide_msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bars = specs
            .iter()
            .zip(instances)
            .map(|(s, &n)| {
                let bar = if live {
                    multi.add(ProgressBar::new(n as u64))
                } else {
                    ProgressBar::hidden()
                };
                bar.set_style(style.clone());
                bar.set_prefix(s.to_string());
                bar.set_message("waiting");
                bar
            })
            .collect();
        Bars {
            multi,
            bars,
            live,
            quiet,
        }
    }

    fn say(&self, line: String) {
        if self.quiet {
            return;
        }
        if self.live {
            let _ = self.multi.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    fn step(&self, k: usize, spec: &KernelSpec, step: Step) {
        let bar = &self.bars[k];
        match step {
            Step::Resolving(what) => {
                bar.set_message(what.to_string());
                if !self.live {
                    self.say(format!("kconform: {spec}: {what}"));
                }
            }
            Step::Vm(Progress::Booting { boot }) => {
                let what = if boot == 1 {
                    "booting".to_string()
                } else {
                    format!("booting again (boot {boot})")
                };
                bar.set_message(what.clone());
                if !self.live {
                    self.say(format!("kconform: {spec}: {what}"));
                }
            }
            Step::Vm(Progress::Started { .. }) => {}
            Step::Vm(Progress::Done { done, record, .. }) => {
                bar.set_position(done as u64);
                bar.set_message(record.id.clone());
                if matches!(record.status, Status::Fail | Status::Error) {
                    self.say(format!(
                        "{} {spec}: {}",
                        record.status.as_str().to_uppercase(),
                        record.id
                    ));
                }
            }
            Step::Finished(report) => {
                let s = &report.summary;
                let line = match &report.kernel.error {
                    Some(e) if s.pass + s.fail == 0 => {
                        format!("ERROR: {}", e.lines().next().unwrap_or(""))
                    }
                    _ => format!(
                        "{} pass, {} fail, {} skip, {} error in {:.1} s",
                        s.pass,
                        s.fail,
                        s.skip,
                        s.error,
                        report.duration_ms as f64 / 1000.0
                    ),
                };
                bar.finish_with_message(line.clone());
                if !self.live {
                    self.say(format!("kconform: {spec}: {line}"));
                }
            }
        }
    }

    fn done(&self) {
        let _ = self.multi.clear();
    }
}

#[derive(clap::Args)]
struct BootArgs {
    /// The kernel to boot (a bzImage/vmlinuz path, debian:NAME, tree:PATH).
    #[arg(long, value_name = "SPEC")]
    kernel: String,
    /// Run this static program in the guest (as root, /proc /sys /dev
    /// mounted, cwd /tmp) instead of powering off at once.
    #[arg(long, value_name = "PROGRAM")]
    exec: Option<PathBuf>,
    /// Arguments for --exec.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
    /// Print the guest's console.
    #[arg(long)]
    console: bool,
    #[command(flatten)]
    vm: VmArgs,
}

/// Boot a kernel once: boot only (the floor every run pays), or to run
/// one program; prints the wall time.
fn boot(args: BootArgs) -> Result<ExitCode, String> {
    let spec = KernelSpec::parse(&args.kernel)?;
    if spec.is_host() {
        return Err("`boot` needs a kernel to boot under QEMU, not host".into());
    }
    let catalog = kconform_suites::catalog();
    let vm = VmSession::start(&args.vm, 1, 20, &catalog, args.exec.as_deref(), true)?;
    let settings = vm.settings_for(&args.vm, Some(&spec))?;
    let target = vm.resolver.resolve(&spec, &|_| {})?;
    let plan = Plan {
        mode: match &args.exec {
            Some(prog) => Mode::Exec {
                name: prog
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "exec".into()),
                args: args.args.clone(),
            },
            None => Mode::BootOnly,
        },
        ids: Vec::new(),
        iterations: 1,
        timeout_ms: 1000,
        jobs: 1,
    };
    let run = run_plan(&target, &settings, &vm.guest, &plan, vm.workdir.path());
    if args.console {
        print!("{}", run.console);
    }
    println!(
        "{}: {} ({}); first word after {:.2} s, QEMU ran {:.2} s{}",
        spec,
        if run.booted { "booted" } else { "did not boot" },
        settings.accel.as_str(),
        run.boot_ms as f64 / 1000.0,
        run.wall.as_secs_f64(),
        run.exit_status
            .map(|s| format!(", program exited {s}"))
            .unwrap_or_default()
    );
    if let Some(f) = &run.fatal {
        eprintln!("kconform: the guest reported: {f}");
    }
    if !run.booted || !run.finished {
        if !args.console {
            eprintln!("{}", console::tail(&run.console, 30));
        }
        eprintln!("kconform: {}", run.end);
        return Ok(ExitCode::from(CANNOT_TEST));
    }
    Ok(ExitCode::from(
        run.exit_status.unwrap_or(0).clamp(0, 255) as u8
    ))
}

/// DIR/index.html for the reports of one run.
fn write_index(dir: &std::path::Path, reports: &[&Report]) -> Result<(), String> {
    let path = dir.join("index.html");
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    kconform_harness::report::write_atomic(
        &path,
        kconform_harness::html::index(reports).as_bytes(),
    )
    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("index: {}", path.display());
    Ok(())
}

fn merge_reports(out: &std::path::Path, shards: &[PathBuf]) -> Result<ExitCode, String> {
    let mut reports = Vec::new();
    for s in shards {
        let files: Vec<PathBuf> = if s.is_file() {
            vec![s.clone()]
        } else if s.join("report.json").is_file() {
            vec![s.join("report.json")]
        } else {
            let mut found: Vec<PathBuf> = std::fs::read_dir(s)
                .map_err(|e| format!("{}: {e}", s.display()))?
                .flatten()
                .map(|e| e.path().join("report.json"))
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(format!("{}: no report.json in it or below it", s.display()));
            }
            found
        };
        for f in files {
            reports.push(Report::read(&f)?);
        }
    }
    let catalog = kconform_suites::catalog();
    let order: Vec<&str> = catalog.iter().map(|i| i.id.as_str()).collect();
    let merged = kconform_harness::shard::merge(reports, &order)?;
    write_index(out, &merged.iter().collect::<Vec<_>>())?;
    for r in &merged {
        let path = r
            .write_to(out)
            .map_err(|e| format!("cannot write the report under {}: {e}", out.display()))?;
        let s = &r.summary;
        println!(
            "{}: {} results ({} pass, {} fail, {} skip, {} error): {}",
            r.kernel.spec,
            s.total(),
            s.pass,
            s.fail,
            s.skip,
            s.error,
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn diff_reports(old: &std::path::Path, new: &std::path::Path) -> Result<ExitCode, String> {
    let load = |p: &std::path::Path| {
        let file = if p.is_dir() {
            p.join("report.json")
        } else {
            p.to_path_buf()
        };
        Report::read(&file)
    };
    let (old, new) = (load(old)?, load(new)?);
    let d = kconform_harness::diff::diff(&old, &new);
    print!("{}", kconform_harness::diff::render(&d));
    Ok(ExitCode::from(d.exit_code() as u8))
}

/// Kernel by area: pass/fail/skip/error per cell, only the areas that ran.
fn print_matrix_table(runs: &[KernelRun]) {
    let width = runs
        .iter()
        .map(|r| r.report.kernel.spec.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let cell = |c: &Counts| format!("{}/{}/{}/{}", c.pass, c.fail, c.skip, c.error);
    let areas: Vec<Area> = Area::ALL
        .into_iter()
        .filter(|a| runs.iter().any(|r| r.report.by_area().contains_key(a)))
        .collect();
    let mut header = vec![("kernel".to_string(), width)];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for run in runs {
        let r = &run.report;
        let by_area = r.by_area();
        let mut row = vec![r.kernel.spec.clone()];
        for area in &areas {
            row.push(cell(&by_area.get(area).cloned().unwrap_or_default()));
        }
        row.push(cell(&r.summary));
        row.push(format!("{:.1}s", r.duration_ms as f64 / 1000.0));
        rows.push(row);
    }
    for area in &areas {
        header.push((area.as_str().to_string(), 0));
    }
    header.push(("total".to_string(), 0));
    header.push(("time".to_string(), 0));
    for (i, (name, w)) in header.iter_mut().enumerate() {
        *w = rows
            .iter()
            .map(|row| row[i].len())
            .chain([name.len(), *w])
            .max()
            .unwrap_or(0);
    }
    println!("\ncells: pass/fail/skip/error");
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&header)
            .enumerate()
            .map(|(i, (c, (_, w)))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        println!("{}", parts.join("  "));
    };
    line(header.iter().map(|(n, _)| n.as_str()).collect());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    for run in runs {
        let k = &run.report.kernel;
        if let Some(e) = &k.error {
            println!("\n{}: {e}", k.spec);
            if let Some(tail) = &k.console_tail {
                println!("  console tail:\n{}", indent(tail));
            }
        }
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

fn print_summary(report: &Report, quiet: bool) {
    let problems: Vec<&ResultRecord> = report
        .results
        .iter()
        .filter(|r| matches!(r.status, Status::Fail | Status::Error))
        .collect();
    if !quiet {
        for r in &problems {
            println!("\n{} {}", r.status.as_str().to_uppercase(), r.id);
            if let Some(e) = &r.expected {
                println!("  expected: {e}");
            }
            if let Some(o) = &r.observed {
                println!("  observed: {o}");
            }
            if let Some(why) = &r.reason {
                println!("  reason:   {why}");
            }
        }
    }
    let mut skips: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in report.results.iter().filter(|r| r.status == Status::Skip) {
        skips
            .entry(r.reason.as_deref().unwrap_or("no reason given"))
            .or_default()
            .push(&r.id);
    }
    for (why, ids) in &skips {
        println!("\nskipped {} ({why}):", ids.len());
        if !quiet {
            for id in ids {
                println!("  {id}");
            }
        }
    }
}

fn print_area_table(report: &Report) {
    println!(
        "\n{:<15} {:>5} {:>5} {:>5} {:>5}",
        "area", "pass", "fail", "skip", "error"
    );
    let by_area = report.by_area();
    for area in Area::ALL {
        if let Some(c) = by_area.get(&area) {
            println!(
                "{:<15} {:>5} {:>5} {:>5} {:>5}",
                area.as_str(),
                c.pass,
                c.fail,
                c.skip,
                c.error
            );
        }
    }
    let s = &report.summary;
    println!(
        "{:<15} {:>5} {:>5} {:>5} {:>5}   {} instances in {:.2} s on {}",
        "total",
        s.pass,
        s.fail,
        s.skip,
        s.error,
        s.total(),
        report.duration_ms as f64 / 1000.0,
        report.kernel.release
    );
}
