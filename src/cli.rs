//! The command line: every subcommand and its options.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use kconform_core::model::DEFAULT_ITERATIONS;
use kconform_harness::report::shard::Shard;

#[derive(Parser)]
#[command(
    name = "kconform",
    version,
    about = "Linux kernel behaviour conformance: fork, ptrace, seccomp and signals"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
    BisectStep(TestArgs),
    /// Find the commit that broke the matching scenarios: `git bisect`
    /// from a good and a bad revision of a kernel tree, each step built,
    /// booted and run; prints the first bad commit, the observations at
    /// the last good and the first bad commit, and each step's times.
    Bisect(BisectArgs),
    /// The catalogue of this corner's historical kernel bugs, each pinned
    /// by scenarios: the bug, its fix, CVE, first fixed release and ids.
    /// With --kernel, which of them each kernel still has.
    Bugs(BugsArgs),
    /// Write a standalone C reproducer for one scenario instance: one
    /// file, libc and the uapi headers only, that sets the instance up as
    /// the scenario does, prints the observation, and exits 0 when it is
    /// what the running kernel should show, 1 when not, 2 when its own
    /// setup failed, 4 when the kernel lacks what it needs.
    Repro(ReproArgs),
    /// The kernel cache: list the Debian kernels in it, or prune them.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
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

#[derive(Subcommand)]
pub enum CacheAction {
    /// Each cached Debian kernel: version, suite, size, when it was
    /// fetched and last used, and whether a running kconform holds it.
    List {
        /// The cache (default: $KCONFORM_CACHE, else ~/.cache/kconform).
        #[arg(long, value_name = "DIR", env = "KCONFORM_CACHE")]
        cache: Option<PathBuf>,
    },
    /// Remove cached Debian kernels (all, or those unused for a while);
    /// a kernel a running kconform holds is kept, and said so.
    Prune {
        /// Only kernels no run has used for this long: `30d`, `12h`, `2weeks`.
        #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
        older_than: Option<std::time::Duration>,
        /// The cache (default: $KCONFORM_CACHE, else ~/.cache/kconform).
        #[arg(long, value_name = "DIR", env = "KCONFORM_CACHE")]
        cache: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub on: KernelsArgs,
    /// Only ids matching PATTERN (substring, or glob with `*`); repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub filter: Vec<String>,
    /// Compare every kernel with this baseline: a report (report.json or
    /// its directory) or a kernel spec, run first. The exit status is then
    /// the gate's: 1 on any regression, else 0.
    #[arg(long, value_name = "REPORT|SPEC")]
    pub baseline: Option<String>,
    /// Run only shard I of N: every N-th kernel x instance pair, dealt
    /// round-robin (join the shards' reports with `kconform merge`).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Also write the whole run in this format under --report DIR:
    /// `kcidb` writes DIR/kcidb.json (KernelCI's KCIDB I/O schema v5.3).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Vec<Format>,
    /// A known bug fails the run (by default a kernel that shows one the
    /// fixtures name conforms, and the report lists the fixes it lacks).
    #[arg(long)]
    pub strict: bool,
}

/// Which kernels a run covers and how it runs on them: `run` and `bugs`.
#[derive(clap::Args)]
pub struct KernelsArgs {
    /// A kernel to run on (repeatable): `host` (the running kernel,
    /// natively), a bzImage/vmlinuz path, a .deb or .rpm kernel package
    /// (or a directory of them), `debian:NAME` (bullseye, bookworm,
    /// trixie, sid, or an image name like 6.1.0-50-cloud-amd64; or a set:
    /// debian:all, debian:bookworm/*, debian:6.1.0-*-cloud-amd64), or
    /// `tree:PATH` (a kernel source tree, built). Default: host for `run`;
    /// `bugs` without it only prints the catalogue.
    #[arg(long, value_name = "SPEC")]
    pub kernel: Vec<String>,
    /// Also run every kernel of a matrix file (without FILE: the default
    /// matrix, fixtures/matrix.toml, built into kconform).
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub matrix: Option<Option<PathBuf>>,
    /// Triggers per race scenario, and milliseconds it may race.
    #[arg(long, default_value_t = DEFAULT_ITERATIONS, value_name = "N")]
    pub iterations: u32,
    /// Write DIR/<kernel>/report.json (and console.log for VM kernels).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Kernels booted at once; for `host`, instances at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Seconds one instance may take before it is killed and recorded as an error (a model, which checks many cases, may take as long for each case).
    #[arg(long, default_value_t = 20, value_name = "SECS")]
    pub timeout: u64,
    /// Directory of expectation files (default: fixtures/expectations,
    /// built into kconform).
    #[arg(long, value_name = "DIR", env = "KCONFORM_FIXTURES")]
    pub fixtures: Option<PathBuf>,
    #[command(flatten)]
    pub vm: VmArgs,
    /// Print only the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// How kernels other than `host` are fetched, built and booted.
#[derive(clap::Args)]
pub struct VmArgs {
    /// QEMU accelerator: auto probes KVM (remembered per host) and falls back to TCG.
    #[arg(long, value_enum, default_value = "auto")]
    pub accel: AccelArg,
    /// vCPUs per VM (race scenarios need at least 2).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub cpus: usize,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 512, value_name = "MIB")]
    pub memory: usize,
    /// Seconds from starting QEMU to the guest's first word.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub boot_timeout: u64,
    /// Extra kernel command line, appended to kconform's own.
    #[arg(long, default_value = "", value_name = "ARGS")]
    pub cmdline: String,
    /// Use only cached debian: kernels; never touch the network.
    #[arg(long, env = "KCONFORM_OFFLINE")]
    pub offline: bool,
    /// Where debian: kernels, tree builds and probes are cached.
    #[arg(long, value_name = "DIR", env = "KCONFORM_CACHE")]
    pub cache: Option<PathBuf>,
    /// Config fragment `tree:` kernels are built with: one of
    /// kernel-configs/ by name (minimal, distro, small; built into
    /// kconform), or a file of your own.
    #[arg(
        long,
        value_name = "NAME|FILE",
        env = "KCONFORM_FRAGMENT",
        default_value = "minimal"
    )]
    pub fragment: String,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Kcidb,
}

#[derive(clap::Args)]
pub struct BugsArgs {
    /// `table` for people, `json` for machines.
    #[arg(long, value_enum, default_value = "table")]
    pub format: BugsFormat,
    /// Run the scenarios that pin the bugs on these kernels (else only
    /// the catalogue is printed); `--kernel host` is the running kernel.
    #[command(flatten)]
    pub on: KernelsArgs,
}

impl Command {
    /// Whether the command only prints (a listing, the catalogue), with no
    /// report or tree to leave in order if its reader goes away.
    pub fn only_prints(&self) -> bool {
        match self {
            Command::List { .. } => true,
            Command::Repro(args) => args.kernel.is_empty(),
            Command::Cache {
                action: CacheAction::List { .. },
            } => true,
            Command::Bugs(args) => args.on.kernel.is_empty() && args.on.matrix.is_none(),
            _ => false,
        }
    }
}

#[derive(clap::Args)]
pub struct ReproArgs {
    /// The instance's id (as `kconform list` prints it).
    #[arg(required_unless_present = "list")]
    pub id: Option<String>,
    /// Write the file here (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A report (report.json, or its directory) whose observation of
    /// this instance the file's header quotes: the kernel where it failed.
    #[arg(long, value_name = "REPORT")]
    pub report: Option<PathBuf>,
    /// Which scenarios have a C twin, and how many instances they cover.
    #[arg(long)]
    pub list: bool,
    /// Compile the reproducer and boot this kernel (repeatable) with it as
    /// the only program, as `boot --exec` does; prints each kernel's
    /// observation and verdict.
    #[arg(long, value_name = "SPEC")]
    pub kernel: Vec<String>,
    #[command(flatten)]
    pub vm: VmArgs,
    /// Directory of expectation files (default: fixtures/expectations,
    /// built into kconform).
    #[arg(long, value_name = "DIR", env = "KCONFORM_FIXTURES")]
    pub fixtures: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BugsFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum AccelArg {
    Auto,
    Kvm,
    Tcg,
}

#[derive(clap::Args)]
pub struct BootArgs {
    /// The kernel to boot (a bzImage/vmlinuz path, a .deb/.rpm or a
    /// directory of them, debian:NAME, tree:PATH).
    #[arg(long, value_name = "SPEC")]
    pub kernel: String,
    /// Run this static program in the guest (as root, /proc /sys /dev
    /// mounted, cwd /tmp) instead of powering off at once. A directory:
    /// its tree is copied to /kconform/progs and each executable file at
    /// its top runs in turn, each one's output printed after `=== NAME
    /// exit N`.
    #[arg(long, value_name = "PROGRAM")]
    pub exec: Option<PathBuf>,
    /// Arguments for --exec (for each program of a directory).
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
    /// Print the guest's console.
    #[arg(long)]
    pub console: bool,
    #[command(flatten)]
    pub vm: VmArgs,
}

/// How a revision is tested: shared by `bisect` and `bisect-step`.
#[derive(clap::Args)]
pub struct TestArgs {
    /// The kernel source tree (a git work tree for `bisect`).
    #[arg(long, default_value = ".", value_name = "PATH")]
    pub tree: PathBuf,
    /// The scenarios that decide (as for `run --filter`); repeatable.
    #[arg(long, required = true, value_name = "PATTERN")]
    pub filter: Vec<String>,
    /// Triggers per race scenario, and milliseconds it may race.
    #[arg(long, default_value_t = DEFAULT_ITERATIONS, value_name = "N")]
    pub iterations: u32,
    /// Seconds one instance may take (a model: each of its cases).
    #[arg(long, default_value_t = 20, value_name = "SECS")]
    pub timeout: u64,
    /// Directory of expectation files (default: fixtures/expectations,
    /// built into kconform).
    #[arg(long, value_name = "DIR", env = "KCONFORM_FIXTURES")]
    pub fixtures: Option<PathBuf>,
    /// A known bug makes a revision bad (by default it counts as good).
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub vm: VmArgs,
}

#[derive(clap::Args)]
pub struct BisectArgs {
    /// A revision where the scenarios conform.
    #[arg(long, value_name = "REV")]
    pub good: String,
    /// A later revision where they do not.
    #[arg(long, value_name = "REV")]
    pub bad: String,
    /// Write the C reproducer of the first instance that changed into
    /// this directory (its header quotes the first bad commit's observation).
    #[arg(long, value_name = "DIR")]
    pub repro: Option<PathBuf>,
    #[command(flatten)]
    pub test: TestArgs,
}
