//! `kconform bisect-step`: one revision, for `git bisect run`. Both it
//! and `bisect` test a revision the same way ([`Tester`]): build the
//! tree as checked out, boot it, run the scenarios matching the filter,
//! judge them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kconform_core::expect::{Expectations, Status};
use kconform_core::model::Instance;
use kconform_core::record::{Conclusion, ResultRecord};
use kconform_core::run::Quiet;
use kconform_harness::kernels::bisect::{log_line, Verdict};
use kconform_harness::kernels::KernelSpec;
use kconform_harness::vm::VmKernel;

use super::{chosen, expectations};
use crate::cli::TestArgs;
use crate::error::{Ended, Error};
use crate::session::VmSession;
use kconform_core::run::Runner;

/// What is fixed for every revision of one bisect.
pub struct Tester<'a> {
    args: &'a TestArgs,
    pub tree: PathBuf,
    vm: VmSession,
    pub instances: Vec<&'a Instance>,
    expectations: Expectations,
}

/// One tested revision.
pub struct Tested {
    pub verdict: Verdict,
    pub built: Duration,
    /// Boot and scenarios, as QEMU ran them.
    pub ran: Duration,
    pub release: String,
    /// Why it could not be tested.
    pub why: Option<String>,
    pub results: Vec<ResultRecord>,
}

impl<'a> Tester<'a> {
    pub fn new(args: &'a TestArgs, catalog: &'a [Instance]) -> Result<Tester<'a>, Error> {
        let expectations = expectations(args.fixtures.as_deref())?;
        let instances = chosen(catalog, &args.filter)?;
        let tree = std::fs::canonicalize(&args.tree).map_err(|e| {
            kconform_harness::error::SpecError::Unreadable {
                path: args.tree.clone(),
                why: format!("kernel tree: {e}"),
            }
        })?;
        let vm = VmSession::start(&args.vm, args.iterations, args.timeout, catalog, None, true)?;
        Ok(Tester {
            args,
            tree,
            vm,
            instances,
            expectations,
        })
    }

    /// Build the tree as checked out, boot it, run the chosen scenarios.
    pub fn test(&self) -> Result<Tested, Error> {
        let started = Instant::now();
        let target = match self
            .vm
            .resolver
            .resolve(&KernelSpec::Tree(self.tree.clone()), &|_| {})
        {
            Ok(t) => t,
            Err(why) => {
                return Ok(Tested {
                    verdict: Verdict::Skip,
                    built: started.elapsed(),
                    ran: Duration::ZERO,
                    release: String::new(),
                    why: Some(why.to_string()),
                    results: Vec::new(),
                })
            }
        };
        let built = started.elapsed();
        let settings = self.vm.settings_with(&self.args.vm, Some(&target))?;
        let run = VmKernel {
            target: &target,
            settings: &settings,
            guest: &self.vm.guest,
            expectations: &self.expectations,
            workdir: self.vm.workdir.path(),
        }
        .run(0, &self.instances, &Quiet);
        let r = run.report;
        let errors = r
            .results
            .iter()
            .filter(|x| x.status == Status::Error && x.flaky.is_none())
            .count();
        let why = match (&r.kernel.error, errors) {
            (Some(e), _) => Some(e.clone()),
            (None, 0) => None,
            (None, n) => Some(format!("{n} scenario(s) broke")),
        };
        let verdict = match r.bisect_conclusion(self.args.strict) {
            Conclusion::Conforms => Verdict::Good,
            Conclusion::Fails => Verdict::Bad,
            Conclusion::CannotTest => Verdict::Skip,
        };
        Ok(Tested {
            verdict,
            built,
            ran: Duration::from_millis(r.duration_ms),
            release: r.kernel.release.clone(),
            why,
            results: r.results,
        })
    }
}

impl Tested {
    pub fn conclusion(&self) -> Conclusion {
        match self.verdict {
            Verdict::Good => Conclusion::Conforms,
            Verdict::Bad => Conclusion::Fails,
            Verdict::Skip => Conclusion::CannotTest,
        }
    }

    pub fn timing(&self) -> String {
        format!(
            "built in {:.1} s, booted and ran in {:.1} s",
            self.built.as_secs_f64(),
            self.ran.as_secs_f64()
        )
    }

    pub fn failing(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.status == Status::Fail)
            .count()
    }
}

/// `bisect-step`: test HEAD of the tree; exit 0, 1 or 125 for `git bisect run`.
pub fn step(args: TestArgs) -> Result<Ended, Error> {
    let catalog = kconform_suites::catalog();
    let tester = Tester::new(&args, &catalog)?;
    let head = head_of(&tester.tree);
    let t = tester.test()?;
    for x in &t.results {
        println!(
            "{:<5} {}  {}",
            x.status.as_str(),
            x.id,
            x.observed.as_deref().or(x.reason.as_deref()).unwrap_or("")
        );
    }
    match &t.why {
        Some(why) => println!("bisect-step: {head}: cannot test this revision: {why}"),
        None => println!(
            "bisect-step: {head} ({}): {}, {}",
            t.release,
            t.verdict,
            t.timing()
        ),
    }
    Ok(t.conclusion().into())
}

/// `abbrev subject` of the tree's HEAD, or the tree's path outside git.
fn head_of(tree: &Path) -> String {
    log_line(tree, "HEAD", "%h %s").unwrap_or_else(|| tree.display().to_string())
}
