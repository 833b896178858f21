//! `kconform bisect`: from a good and a bad revision of a kernel tree to
//! the first bad commit, each step tested as `bisect-step` tests one.

use kconform_core::expect::Status;
use kconform_core::record::{Conclusion, ResultRecord};
use kconform_harness::kernels::bisect::{GitBisect, Next, Verdict};
use kconform_harness::repro::{self, SeenOn, Sources};

use super::bisect_step::{Tested, Tester};
use crate::cli::BisectArgs;
use crate::error::{Ended, Error};

/// ceil(log2(n)) + 1: the most steps a bisect of `n` commits may take
/// here (binary search, plus one endpoint observed at the end).
fn step_limit(n: usize) -> u32 {
    n.max(1).next_power_of_two().trailing_zeros() + 1
}

/// `bisect`: from a good and a bad revision to the first bad commit.
pub fn bisect(args: BisectArgs) -> Result<Ended, Error> {
    let catalog = kconform_suites::catalog();
    // The revisions first: a wrong tree or revision is refused before
    // the guest is built and QEMU looked for.
    let (git, mut next) = GitBisect::start(&args.test.tree, &args.good, &args.bad)?;
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
    let run_step = |sha: &str, steps: &mut Vec<(String, Tested)>| -> Result<Verdict, Error> {
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
                next = git.mark(verdict)?;
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
                return Ok(Conclusion::CannotTest.into());
            }
        }
    };
    // git assumes the endpoints it was given; observe whichever of the
    // first bad commit and its parent the search never tested.
    let last_good = git.parent(&first_bad)?;
    for (sha, want) in [(&first_bad, Verdict::Bad), (&last_good, Verdict::Good)] {
        if steps.iter().any(|(s, _)| s == sha) {
            continue;
        }
        git.checkout(sha)?;
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
            return Ok(Conclusion::CannotTest.into());
        }
    }
    let at = |sha: &str| steps.iter().find(|(s, _)| s == sha).map(|(_, t)| t);
    println!("\nfirst bad commit: {}", git.describe_full(&first_bad));
    println!("last good commit: {}", git.describe_full(&last_good));
    let changed = print_observations(at(&last_good), at(&first_bad));
    print_steps(&git, &steps, limit);
    if let (Some(r), Some(bad)) = (changed, at(&first_bad)) {
        let commit = git.describe(&first_bad);
        reproducer(&args, &catalog, r, &commit, &bad.release)?;
    }
    Ok(Conclusion::Conforms.into())
}

/// The reproducer of the first instance that changed: the command that
/// writes it, and with --repro the file itself.
fn reproducer(
    args: &BisectArgs,
    catalog: &[kconform_core::model::Instance],
    bad: &ResultRecord,
    commit: &str,
    release: &str,
) -> Result<(), Error> {
    let Some(inst) = catalog.iter().find(|i| i.id == bad.id) else {
        return Ok(());
    };
    let sources = Sources::load()?;
    if !sources.has_twin(inst.scenario) {
        println!(
            "\nno C reproducer: {} has no C twin yet (suites/repro/{}.c)",
            inst.scenario, inst.scenario
        );
        return Ok(());
    }
    println!(
        "\nreproducer: kconform repro {} -o repro.c && gcc -static -O2 -Wall -o repro repro.c",
        bad.id
    );
    let Some(dir) = &args.repro else {
        return Ok(());
    };
    let expectations = super::expectations(args.test.fixtures.as_deref())?;
    let scenarios = repro::scenarios(catalog);
    let seen = SeenOn {
        kernel: format!("{release} (first bad commit {commit})"),
        observed: bad
            .observed
            .clone()
            .or_else(|| bad.reason.clone())
            .unwrap_or_default(),
    };
    let text = repro::generate(
        &sources,
        inst,
        &scenarios,
        expectations.get(&inst.id),
        Some(&seen),
    )?;
    let path = dir.join(format!("{}.c", bad.id.replace('/', "_")));
    std::fs::create_dir_all(dir)
        .and_then(|_| kconform_harness::util::write_atomic(&path, text.as_bytes()))
        .map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
    println!("wrote {}", path.display());
    Ok(())
}

/// The instances whose observation differs between the two commits; the
/// first that changed (a failure first), for its reproducer.
fn print_observations<'a>(
    good: Option<&Tested>,
    bad: Option<&'a Tested>,
) -> Option<&'a ResultRecord> {
    let (Some(good), Some(bad)) = (good, bad) else {
        println!("(no observations: an endpoint could not be tested)");
        return None;
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
    changed
        .iter()
        .find(|(b, _)| b.status == Status::Fail)
        .or(changed.first())
        .map(|(b, _)| *b)
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
