//! `kconform repro`: a standalone C reproducer for one instance, from its
//! scenario's C twin (suites/repro) and the instance's expectation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use kconform_core::guest::protocol::{Mode, Plan};
use kconform_core::model::Instance;
use kconform_core::record::Conclusion;
use kconform_core::select::suggest;
use kconform_harness::kernels::KernelSpec;
use kconform_harness::report;
use kconform_harness::repro::{self, SeenOn, Sources};
use kconform_harness::vm::{run_plan, PlanRun};

use super::expectations;
use crate::cli::ReproArgs;
use crate::error::{Ended, Error};
use crate::session::VmSession;

pub fn repro(args: ReproArgs) -> Result<Ended, Error> {
    let catalog = kconform_suites::catalog();
    let sources = Sources::load()?;
    if args.list {
        list(&catalog, &sources);
        return Ok(Conclusion::Conforms.into());
    }
    let id = args.id.as_deref().unwrap_or_default();
    let inst = find(&catalog, id)?;
    let expectations = expectations(args.fixtures.as_deref())?;
    let seen = match &args.report {
        Some(path) => {
            let r = report::read(path)?;
            r.results.iter().find(|x| x.id == inst.id).map(|x| SeenOn {
                kernel: r.kernel.release.clone(),
                observed: x.observed.clone().unwrap_or_else(|| {
                    format!(
                        "({}: {})",
                        x.status.as_str(),
                        x.reason.clone().unwrap_or_default()
                    )
                }),
            })
        }
        None => None,
    };
    let scenarios = repro::scenarios(&catalog);
    let text = repro::generate(
        &sources,
        inst,
        &scenarios,
        expectations.get(&inst.id),
        seen.as_ref(),
    )?;
    let write = |path: &Path| {
        kconform_harness::util::write_atomic(path, text.as_bytes()).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    if args.kernel.is_empty() {
        match &args.output {
            Some(path) => write(path)?,
            None => print!("{text}"),
        }
        return Ok(Conclusion::Conforms.into());
    }
    let scratch = tempfile::tempdir().map_err(Error::Scratch)?;
    let c = match &args.output {
        Some(path) => path.clone(),
        None => scratch.path().join("repro.c"),
    };
    write(&c)?;
    let bin = compile(&c, &scratch.path().join("repro"))?;
    on_kernels(&args, &catalog, inst, &bin)
}

/// `gcc -static -O2 -Wall`, as the file's header tells its reader.
pub fn compile(c: &Path, bin: &Path) -> Result<PathBuf, Error> {
    let out = Command::new("gcc")
        .args(["-static", "-O2", "-Wall", "-o"])
        .arg(bin)
        .arg(c)
        .output()
        .map_err(Error::NoCompiler)?;
    if !out.status.success() {
        return Err(Error::Compile {
            path: c.to_path_buf(),
            message: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(bin.to_path_buf())
}

/// Boot each kernel with the reproducer as the only program: one line
/// each, the observation and the verdict it printed.
/// As kconform's guest arranges an instance's needs, so here: the boot
/// parameters it needs (x32) on the command line, and the reproducer
/// told to set its sysctls (a user's --cmdline still wins: it comes last).
fn on_kernels(
    args: &ReproArgs,
    catalog: &[Instance],
    inst: &Instance,
    bin: &Path,
) -> Result<Ended, Error> {
    let specs = args
        .kernel
        .iter()
        .map(|k| KernelSpec::parse(k))
        .collect::<Result<Vec<_>, _>>()?;
    if specs.iter().any(KernelSpec::is_host) {
        return Err(Error::BootHost);
    }
    let vm = VmSession::start(&args.vm, 1, 60, catalog, Some(bin), true)?;
    let mut settings = vm.settings_for(&args.vm, specs.first())?;
    let params: Vec<&str> = inst.needs.cmdline.to_vec();
    if !params.is_empty() {
        settings.cmdline_extra = [params.join(" "), settings.cmdline_extra.clone()]
            .join(" ")
            .trim()
            .to_string();
    }
    let plan = Plan::without_instances(Mode::Exec {
        name: "repro".into(),
        args: vec!["--set-sysctls".into()],
    });
    let mut worst = Conclusion::Conforms;
    for spec in &specs {
        let (line, conclusion) = match vm.resolver.resolve(spec, &|_| {}) {
            Err(e) => (format!("cannot test: {e}"), Conclusion::CannotTest),
            Ok(target) => {
                let plan = Plan {
                    kernel_config: target.config_text(),
                    ..plan.clone()
                };
                let run = run_plan(&target, &settings, &vm.guest, &plan, vm.workdir.path());
                said(&run)
            }
        };
        println!("{spec}: {line}");
        worst = worst.max(conclusion);
    }
    Ok(worst.into())
}

/// What the reproducer printed on the console, and what its exit says.
fn said(run: &PlanRun) -> (String, Conclusion) {
    if !run.booted || !run.finished {
        let fatal = run
            .fatal
            .as_deref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default();
        return (
            format!("cannot test: {}{fatal}", run.end),
            Conclusion::CannotTest,
        );
    }
    let pick = |prefix: &str| {
        run.console
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .find_map(|l| l.strip_prefix(prefix).map(str::to_string))
    };
    let status = run.exit_status.unwrap_or(-1);
    let text = match (pick("observed: "), pick("verdict: ")) {
        (Some(o), Some(v)) => format!("observed `{o}`: {v}"),
        _ => pick("skip: ")
            .map(|s| format!("skip: {s}"))
            .or_else(|| pick("setup: ").map(|s| format!("setup: {s}")))
            .or_else(|| pick("error: ").map(|s| format!("error: {s}")))
            .unwrap_or_else(|| format!("exited {status} without a verdict")),
    };
    let conclusion = match status {
        0 | 4 => Conclusion::Conforms,
        1 => Conclusion::Fails,
        _ => Conclusion::CannotTest,
    };
    (text, conclusion)
}

/// The instance with exactly this id, or the nearest ids.
fn find<'a>(catalog: &'a [Instance], id: &str) -> Result<&'a Instance, Error> {
    if let Some(inst) = catalog.iter().find(|i| i.id == id) {
        return Ok(inst);
    }
    let ids: Vec<&str> = catalog.iter().map(|i| i.id.as_str()).collect();
    let mut suggestions = suggest(&ids, id);
    // A scenario's base or an area names several instances: offer them.
    let under: Vec<String> = ids
        .iter()
        .filter(|i| i.starts_with(&format!("{id}/")))
        .take(8)
        .map(|i| i.to_string())
        .collect();
    if !under.is_empty() {
        suggestions = under;
    }
    Err(Error::UnknownId {
        id: id.to_string(),
        suggestions,
    })
}

fn list(catalog: &[Instance], sources: &Sources) {
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for i in catalog {
        *per.entry(i.scenario).or_default() += 1;
    }
    let (mut covered, mut instances) = (0, 0);
    for base in repro::scenarios(catalog) {
        let twin = sources.has_twin(base);
        if twin {
            covered += 1;
            instances += per[base];
        }
        println!(
            "{:<4} {base} ({} instances)",
            if twin { "C" } else { "-" },
            per[base]
        );
    }
    println!(
        "{covered} of {} scenarios have a C twin, covering {instances} of {} instances",
        per.len(),
        catalog.len()
    );
}
