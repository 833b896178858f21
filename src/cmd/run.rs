//! `kconform run`: the scenarios on the running kernel, or on kernels
//! under QEMU; reports written, and judged alone or against a baseline.

use std::time::Duration;

use kconform_core::expect::Expectations;
use kconform_core::kernel::KernelFacts;
use kconform_core::model::{Ctx, Instance};
use kconform_core::record::{Conclusion, Report};
use kconform_core::run::{KernelRun, Native, Runner};
use kconform_harness::kernels::{load_matrix, KernelSpec};
use kconform_harness::report::{self, diff, shard::Shard};
use kconform_harness::vm::matrix::Matrix;

use super::{chosen, cores, expectations, write_run_files};
use crate::cli::{Format, KernelsArgs, RunArgs};
use crate::error::{Ended, Error};
use crate::session::{resolver, Baseline, VmSession};
use crate::ui::progress::{Bars, HostBar};
use crate::ui::tables::{by_version, print_area_table, print_matrix_table, print_summary};

pub fn run(args: RunArgs) -> Result<Ended, Error> {
    let mut specs = kernel_specs(&args.on)?;
    if !args.format.is_empty() && args.on.report.is_none() {
        return Err(Error::FormatWithoutReport);
    }
    let baseline = Baseline::parse(args.baseline.as_deref())?;
    if let Baseline::FirstKernel(spec) = &baseline {
        specs.insert(0, spec.clone());
    }
    let expectations = expectations(args.on.fixtures.as_deref())?;
    let catalog = kconform_suites::catalog();
    expectations
        .check_known_bug_ids(|id| catalog.iter().any(|i| i.id == id))
        .map_err(Error::Fixtures)?;
    warn_of_orphans(&expectations, &catalog);
    let instances = chosen(&catalog, &args.filter)?;
    let mut runs = execute(
        &args.on,
        &specs,
        &instances,
        args.shard,
        &catalog,
        &expectations,
    )?;
    for run in &mut runs {
        run.report.shard = args.shard.map(|s| s.to_string());
    }
    if let Some(dir) = &args.on.report {
        for run in &runs {
            let console = Some(run.console.as_str()).filter(|c| !c.is_empty());
            let path = report::write_with_console(&run.report, console, dir)?;
            println!("report: {}", path.display());
        }
        let reports: Vec<&Report> = runs.iter().map(|r| &r.report).collect();
        write_run_files(
            dir,
            &by_version(&reports),
            args.format.contains(&Format::Kcidb),
        )?;
    }
    let reports: Vec<&Report> = runs.iter().map(|r| &r.report).collect();
    Ok(judge(&baseline, &reports, args.strict)?.into())
}

/// The kernels `--kernel` and `--matrix` name, sets (`debian:all`, a glob)
/// expanded and each kernel once; the running one without.
pub fn kernel_specs(on: &KernelsArgs) -> Result<Vec<KernelSpec>, Error> {
    let mut named = Vec::new();
    for k in &on.kernel {
        named.push(KernelSpec::parse(k)?);
    }
    match &on.matrix {
        Some(Some(file)) => named.extend(load_matrix(file)?),
        Some(None) => named.extend(kconform_harness::bundled::matrix()?),
        None => {}
    }
    if named.is_empty() {
        named.push(KernelSpec::Host);
    }
    let resolver = resolver(&on.vm)?;
    let mut specs: Vec<KernelSpec> = Vec::new();
    for spec in &named {
        let each = resolver.expand(spec)?;
        if !on.quiet && each != [spec.clone()] {
            let (first, last) = (&each[0], &each[each.len() - 1]);
            eprintln!(
                "kconform: {spec} is {} image(s), {} to {}",
                each.len(),
                first.to_string().trim_start_matches("debian:"),
                last.to_string().trim_start_matches("debian:")
            );
        }
        for k in each {
            // Twice the same kernel would write one report directory twice.
            if !specs.contains(&k) {
                specs.push(k);
            }
        }
    }
    Ok(specs)
}

/// Run `instances` (a shard's share of them) on every kernel: natively,
/// or under QEMU with a progress bar per kernel; the tables printed.
pub fn execute(
    args: &KernelsArgs,
    specs: &[KernelSpec],
    instances: &[&Instance],
    shard: Option<Shard>,
    catalog: &[Instance],
    expectations: &Expectations,
) -> Result<Vec<KernelRun>, Error> {
    let work = shares(specs, instances, shard);
    let facts = KernelFacts::probe();
    let ctx = Ctx {
        iterations: args.iterations,
        probe_exe: std::env::current_exe().map_err(Error::OwnExecutable)?,
        shared_dir: None,
        fail_setup: fail_setup(),
    };
    let native = Native {
        spec: "host",
        facts: &facts,
        expectations,
        ctx: &ctx,
        jobs: args.jobs.unwrap_or_else(cores),
        timeout: Duration::from_secs(args.timeout),
    };
    Ok(if specs == [KernelSpec::Host] {
        let share = work.first().map(|(_, m)| m.clone()).unwrap_or_default();
        vec![run_host(args, &native, &share)]
    } else {
        run_matrix(args, &native, &work, instances.len(), catalog, expectations)?
    })
}

/// `KCONFORM_FAIL_SETUP`: a setup step to fail on purpose, for the tests
/// that show a failed setup is an error and never a verdict.
pub fn fail_setup() -> Option<String> {
    std::env::var("KCONFORM_FAIL_SETUP")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A fixture for an id no scenario defines is left from a rename.
fn warn_of_orphans(expectations: &Expectations, catalog: &[Instance]) {
    for (id, e) in &expectations.by_id {
        if !catalog.iter().any(|i| &i.id == id) {
            eprintln!(
                "kconform: warning: {} expects `{id}`, which no scenario defines",
                e.origin
            );
        }
    }
}

/// Each kernel's share of the instances: all of them, or a shard's;
/// kernels left with none are dropped.
fn shares<'a>(
    specs: &[KernelSpec],
    instances: &[&'a Instance],
    shard: Option<Shard>,
) -> Vec<(KernelSpec, Vec<&'a Instance>)> {
    specs
        .iter()
        .enumerate()
        .map(|(k, spec)| {
            let mine = instances
                .iter()
                .enumerate()
                .filter(|(i, _)| shard.map_or(true, |s| s.takes(k, *i, instances.len())))
                .map(|(_, inst)| *inst)
                .collect();
            (spec.clone(), mine)
        })
        .filter(|(_, mine): &(KernelSpec, Vec<&Instance>)| !mine.is_empty())
        .collect()
}

fn run_host(args: &KernelsArgs, native: &Native, instances: &[&Instance]) -> KernelRun {
    if !args.quiet {
        eprintln!(
            "kconform: {} instances on host ({}), {} at a time",
            instances.len(),
            native.facts.release,
            native.jobs
        );
    }
    let bar = HostBar::new(instances.len(), args.quiet);
    let run = native.run(0, instances, &bar);
    bar.done();
    print_summary(&run.report, args.quiet);
    print_area_table(&run.report);
    run
}

fn run_matrix(
    args: &KernelsArgs,
    native: &Native,
    work: &[(KernelSpec, Vec<&Instance>)],
    chosen: usize,
    catalog: &[Instance],
    expectations: &Expectations,
) -> Result<Vec<KernelRun>, Error> {
    let vm = VmSession::start(
        &args.vm,
        args.iterations,
        args.timeout,
        catalog,
        None,
        args.quiet,
    )?;
    let first_vm = work.iter().map(|(s, _)| s).find(|s| !s.is_host());
    let settings = vm.settings_for(&args.vm, first_vm)?;
    let jobs = native.jobs;
    if !args.quiet {
        eprintln!(
            "kconform: {} instances on {} kernel(s), {} at a time; QEMU {} ({}), {} vCPUs, {} MiB",
            chosen,
            work.len(),
            jobs.min(work.len()),
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
        expectations,
        native: Some(native),
        jobs,
        workdir: vm.workdir.path(),
    };
    let specs: Vec<KernelSpec> = work.iter().map(|(s, _)| s.clone()).collect();
    vm.fetch_ahead(&specs, args.quiet);
    let lens: Vec<usize> = work.iter().map(|(_, m)| m.len()).collect();
    let bars = Bars::new(&specs, &lens, args.quiet);
    let runs = matrix.run(work, &bars);
    bars.done();
    for run in &runs {
        let r = &run.report;
        if r.summary.total() != r.summary.pass {
            println!("\n== {} ({}) ==", r.kernel.spec, r.kernel.release);
            print_summary(r, args.quiet);
        }
    }
    let areas: Vec<&str> = kconform_suites::areas().iter().map(|a| a.name).collect();
    print_matrix_table(&runs.iter().map(|r| &r.report).collect::<Vec<_>>(), &areas);
    Ok(runs)
}

/// The run's verdict: each kernel's own, or each against the baseline
/// (a gate: any regression fails it).
fn judge(baseline: &Baseline, reports: &[&Report], strict: bool) -> Result<Conclusion, Error> {
    let (base, rest) = match baseline {
        Baseline::None => {
            let each: Vec<Conclusion> = reports.iter().map(|r| r.conclusion(strict)).collect();
            return Ok(Conclusion::of_kernels(&each));
        }
        Baseline::Report(base) => (base.as_ref(), reports),
        Baseline::FirstKernel(_) => (reports[0], &reports[1..]),
    };
    if let Some(why) = &base.kernel.error {
        return Err(Error::BaselineNotRun {
            spec: base.kernel.spec.clone(),
            why: why.clone(),
        });
    }
    let mut verdict = Conclusion::Conforms;
    for r in rest {
        let d = diff::diff(base, r);
        println!("\n== baseline diff ==\n{}", diff::render(&d));
        verdict = verdict.max(d.conclusion());
    }
    Ok(verdict)
}
