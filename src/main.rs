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

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use kconform_harness::expect::{Expectations, Status};
use kconform_harness::kernel::KernelFacts;
use kconform_harness::report::{Report, ResultRecord};
use kconform_harness::select::{select_instances, Filter};
use kconform_harness::session::Native;
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
}

#[derive(clap::Args)]
struct RunArgs {
    /// The kernel to run on: `host` runs natively on the running kernel.
    #[arg(long, default_value = "host", value_name = "SPEC")]
    kernel: String,
    /// Only ids matching PATTERN (substring, or glob with `*`); repeatable.
    #[arg(long, value_name = "PATTERN")]
    filter: Vec<String>,
    /// Attempts per race scenario.
    #[arg(long, default_value_t = 200, value_name = "N")]
    iterations: u32,
    /// Write DIR/<kernel>/report.json.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Instances run at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Seconds one instance may take before it is killed and recorded as an error.
    #[arg(long, default_value_t = 20, value_name = "SECS")]
    timeout: u64,
    /// Directory of expectation files.
    #[arg(long, value_name = "DIR", env = "KCONFORM_FIXTURES", default_value = default_fixtures())]
    fixtures: PathBuf,
    /// Print only the summary.
    #[arg(long, short)]
    quiet: bool,
}

fn default_fixtures() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/expectations")
}

fn main() -> ExitCode {
    kconform_suites::probe::dispatch_if_probe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List { filter } => list(&filter),
        Command::Run(args) => run(args),
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

fn run(args: RunArgs) -> Result<ExitCode, String> {
    if args.kernel != "host" {
        return Err(format!(
            "kernel `{}`: only `host` (the running kernel, natively) is supported by this build; \
             booting bzImage, debian: and tree: kernels under QEMU is not implemented yet",
            args.kernel
        ));
    }
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
    let facts = KernelFacts::probe();
    let ctx = Ctx {
        iterations: args.iterations,
        probe_exe: std::env::current_exe()
            .map_err(|e| format!("cannot find my own executable: {e}"))?,
    };
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let native = Native {
        facts: &facts,
        expectations: &expectations,
        ctx: &ctx,
        jobs,
        timeout: Duration::from_secs(args.timeout),
    };

    if !args.quiet {
        eprintln!(
            "kconform: {} instances on {} ({}), {} at a time",
            instances.len(),
            args.kernel,
            facts.release,
            jobs
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
    let report = native.run(&args.kernel, &instances, &|r| {
        bar.inc(1);
        bar.set_message(r.id.clone());
        if !args.quiet && matches!(r.status, Status::Fail | Status::Error) {
            bar.suspend(|| eprintln!("{} {}", r.status.as_str().to_uppercase(), r.id));
        }
    });
    bar.finish_and_clear();

    print_summary(&report, args.quiet);
    if let Some(dir) = &args.report {
        let path = report
            .write_to(dir)
            .map_err(|e| format!("cannot write the report under {}: {e}", dir.display()))?;
        println!("report: {}", path.display());
    }
    Ok(ExitCode::from(report.exit_code() as u8))
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
