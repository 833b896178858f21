//! `kconform bisect` (drive a whole bisect from a good and a bad
//! revision) and `kconform bisect-step` (one step, for `git bisect run`).
//! Both test a revision the same way: build the tree as checked out,
//! boot it, run the scenarios matching the filter, judge them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use kconform_harness::bisect::{log_line, GitBisect, Next, Verdict};
use kconform_harness::expect::{Expectations, Status};
use kconform_harness::report::ResultRecord;
use kconform_harness::spec::KernelSpec;
use kconform_harness::Instance;

use crate::{chosen, default_fixtures, VmArgs, VmSession, CANNOT_TEST};

/// How a revision is tested: shared by `bisect` and `bisect-step`.
#[derive(clap::Args)]
pub struct TestArgs {
    /// The kernel source tree (a git work tree for `bisect`).
    #[arg(long, default_value = ".", value_name = "PATH")]
    tree: PathBuf,
    /// The scenarios that decide (as for `run --filter`); repeatable.
    #[arg(long, required = true, value_name = "PATTERN")]
    filter: Vec<String>,
    /// Triggers per race scenario, and milliseconds it may race.
    #[arg(long, default_value_t = kconform_harness::model::DEFAULT_ITERATIONS, value_name = "N")]
    iterations: u32,
    /// Seconds one instance may take.
    #[arg(long, default_value_t = 20, value_name = "SECS")]
    timeout: u64,
    /// Directory of expectation files.
    #[arg(long, value_name = "DIR", env = "KCONFORM_FIXTURES", default_value = default_fixtures())]
    fixtures: PathBuf,
    #[command(flatten)]
    vm: VmArgs,
}

#[derive(clap::Args)]
pub struct BisectArgs {
    /// A revision where the scenarios conform.
    #[arg(long, value_name = "REV")]
    good: String,
    /// A later revision where they do not.
    #[arg(long, value_name = "REV")]
    bad: String,
    #[command(flatten)]
    test: TestArgs,
}

/// What is fixed for every revision of one bisect.
struct Tester<'a> {
    args: &'a TestArgs,
    tree: PathBuf,
    vm: VmSession,
    instances: Vec<&'a Instance>,
    expectations: Expectations,
}

/// One tested revision.
struct Tested {
    verdict: Verdict,
    built: Duration,
    /// Boot and scenarios, as QEMU ran them.
    ran: Duration,
    release: String,
    /// Why it could not be tested.
    why: Option<String>,
    results: Vec<ResultRecord>,
}

impl<'a> Tester<'a> {
    fn new(args: &'a TestArgs, catalog: &'a [Instance]) -> Result<Tester<'a>, String> {
        let expectations = Expectations::load_dir(&args.fixtures).map_err(|e| e.to_string())?;
        let instances = chosen(catalog, &args.filter)?;
        let tree = std::fs::canonicalize(&args.tree)
            .map_err(|e| format!("kernel tree {}: {e}", args.tree.display()))?;
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
    fn test(&self) -> Result<Tested, String> {
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
        let run = kconform_harness::vm::run_suite(
            &target,
            &settings,
            &self.vm.guest,
            &self.instances,
            &self.expectations,
            self.vm.workdir.path(),
            &|_| {},
        );
        let r = run.report;
        let counted = |s: Status| {
            r.results
                .iter()
                .filter(|x| x.status == s && x.flaky.is_none())
                .count()
        };
        let (verdict, why) = if let Some(e) = &r.kernel.error {
            (Verdict::Skip, Some(e.clone()))
        } else if counted(Status::Error) > 0 {
            let n = counted(Status::Error);
            (Verdict::Skip, Some(format!("{n} scenario(s) broke")))
        } else if counted(Status::Fail) > 0 {
            (Verdict::Bad, None)
        } else {
            (Verdict::Good, None)
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
    fn exit_code(&self) -> u8 {
        match self.verdict {
            Verdict::Good => 0,
            Verdict::Bad => 1,
            Verdict::Skip => CANNOT_TEST,
        }
    }

    fn timing(&self) -> String {
        format!(
            "built in {:.1} s, booted and ran in {:.1} s",
            self.built.as_secs_f64(),
            self.ran.as_secs_f64()
        )
    }

    fn failing(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.status == Status::Fail)
            .count()
    }
}

/// `bisect-step`: test HEAD of the tree; exit 0, 1 or 125 for `git bisect run`.
pub fn step(args: TestArgs) -> Result<ExitCode, String> {
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
    Ok(ExitCode::from(t.exit_code()))
}

/// `abbrev subject` of the tree's HEAD, or the tree's path outside git.
fn head_of(tree: &Path) -> String {
    log_line(tree, "HEAD", "%h %s").unwrap_or_else(|| tree.display().to_string())
}

/// ceil(log2(n)) + 1: the most steps a bisect of `n` commits may take
/// here (binary search, plus one endpoint observed at the end).
fn step_limit(n: usize) -> u32 {
    n.max(1).next_power_of_two().trailing_zeros() + 1
}

/// `bisect`: from a good and a bad revision to the first bad commit.
pub fn bisect(args: BisectArgs) -> Result<ExitCode, String> {
    let catalog = kconform_suites::catalog();
    // The revisions first: a wrong tree or revision is refused before
    // the guest is built and QEMU looked for.
    let (git, mut next) =
        GitBisect::start(&args.test.tree, &args.good, &args.bad).map_err(|e| e.to_string())?;
    let tester = Tester::new(&args.test, &catalog)?;
    let limit = step_limit(git.commits);
    println!(
        "bisect: {} commit(s) after {} up to {}; scenarios: {} ({} instance(s)); at most {limit} steps",
        git.commits,
        git.describe(&git.good),
        git.describe(&git.bad),
        args.test.filter.join(" "),
        tester.instances.len(),
    );
    let mut steps: Vec<(String, Tested)> = Vec::new();
    let run_step = |sha: &str, steps: &mut Vec<(String, Tested)>| -> Result<Verdict, String> {
        let t = tester.test()?;
        let verdict = t.verdict;
        println!(
            "step {}: {}: {}{} ({})",
            steps.len() + 1,
            git.describe(sha),
            t.verdict,
            match (&t.why, t.verdict) {
                (Some(why), _) => format!(", cannot test: {why}"),
                (None, Verdict::Bad) => format!(", {} failing", t.failing()),
                _ => String::new(),
            },
            t.timing()
        );
        steps.push((sha.to_string(), t));
        Ok(verdict)
    };
    let first_bad = loop {
        match next {
            Next::Test(sha) => {
                let verdict = run_step(&sha, &mut steps)?;
                next = git.mark(verdict).map_err(|e| e.to_string())?;
            }
            Next::FirstBad(sha) => break sha,
            Next::OnlySkipped(shas) => {
                print_steps(&git, &steps, limit);
                println!(
                    "\nbisect: only untestable commits are left; the first bad commit is one of:"
                );
                for sha in shas {
                    println!("  {}", git.describe(&sha));
                }
                return Ok(ExitCode::from(CANNOT_TEST));
            }
        }
    };
    // git assumes the endpoints it was given; observe whichever of the
    // first bad commit and its parent the search never tested.
    let last_good = git.parent(&first_bad).map_err(|e| e.to_string())?;
    for (sha, want) in [(&first_bad, Verdict::Bad), (&last_good, Verdict::Good)] {
        if steps.iter().any(|(s, _)| s == sha) {
            continue;
        }
        git.checkout(sha).map_err(|e| e.to_string())?;
        let got = run_step(sha, &mut steps)?;
        if got != want && got != Verdict::Skip {
            print_steps(&git, &steps, limit);
            let what = if want == Verdict::Bad {
                format!(
                    "the bad revision {} conforms: no regression in this range for these scenarios",
                    git.describe(sha)
                )
            } else {
                format!(
                    "the good revision {} does not conform: start from an older good revision",
                    git.describe(sha)
                )
            };
            println!("\nbisect: {what}");
            return Ok(ExitCode::from(CANNOT_TEST));
        }
    }
    let at = |sha: &str| steps.iter().find(|(s, _)| s == sha).map(|(_, t)| t);
    println!("\nfirst bad commit: {}", git.describe_full(&first_bad));
    println!("last good commit: {}", git.describe_full(&last_good));
    print_observations(at(&last_good), at(&first_bad));
    print_steps(&git, &steps, limit);
    Ok(ExitCode::SUCCESS)
}

/// The instances whose observation differs between the two commits.
fn print_observations(good: Option<&Tested>, bad: Option<&Tested>) {
    let (Some(good), Some(bad)) = (good, bad) else {
        println!("(no observations: an endpoint could not be tested)");
        return;
    };
    let changed: Vec<(&ResultRecord, Option<&ResultRecord>)> = bad
        .results
        .iter()
        .map(|b| (b, good.results.iter().find(|g| g.id == b.id)))
        .filter(|(b, g)| !g.is_some_and(|g| g.status == b.status && g.observed == b.observed))
        .collect();
    const SHOWN: usize = 12;
    println!(
        "\n{} instance(s) changed between the last good and the first bad commit:",
        changed.len()
    );
    let obs = |r: Option<&ResultRecord>| match r {
        Some(r) => format!(
            "{} {}",
            r.status.as_str(),
            r.observed.as_deref().or(r.reason.as_deref()).unwrap_or("")
        ),
        None => "not run".into(),
    };
    for (b, g) in changed.iter().take(SHOWN) {
        println!("  {}", b.id);
        println!("    last good: {}", obs(*g));
        println!("    first bad: {}", obs(Some(b)));
        if let Some(e) = &b.expected {
            println!("    expected:  {e}");
        }
    }
    if changed.len() > SHOWN {
        println!("  ... and {} more", changed.len() - SHOWN);
    }
}

fn print_steps(git: &GitBisect, steps: &[(String, Tested)], limit: u32) {
    println!(
        "\n{} step(s) for {} commit(s) (at most ceil(log2({})) + 1 = {limit}):",
        steps.len(),
        git.commits,
        git.commits
    );
    println!(
        "  {:>4}  {:<50}  {:<7}  {:>8}  {:>13}",
        "step", "commit", "verdict", "build", "boot and run"
    );
    for (n, (sha, t)) in steps.iter().enumerate() {
        let mut name = git.describe(sha);
        if name.chars().count() > 50 {
            name = name.chars().take(47).collect::<String>() + "...";
        }
        println!(
            "  {:>4}  {:<50}  {:<7}  {:>7.1}s  {:>12.1}s",
            n + 1,
            name,
            t.verdict.as_str(),
            t.built.as_secs_f64(),
            t.ran.as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::step_limit;

    #[test]
    fn step_limit_is_ceil_log2_plus_one() {
        assert_eq!(step_limit(1), 1);
        assert_eq!(step_limit(2), 2);
        assert_eq!(step_limit(8), 4);
        assert_eq!(step_limit(9), 5);
        assert_eq!(step_limit(1000), 11);
    }
}
