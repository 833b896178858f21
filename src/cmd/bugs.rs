//! `kconform bugs`: the catalogue of this corner's historical kernel bugs
//! the fixtures record (every `known-bug` range: the bug, its fix, CVE,
//! first fixed release, the instances that observe it), and with
//! `--kernel`, which of them each kernel still has.

use std::collections::BTreeSet;

use serde_json::json;

use kconform_core::expect::{CatalogueEntry, Status};
use kconform_core::model::Instance;
use kconform_core::record::{Conclusion, Report};
use kconform_harness::report;

use super::run::{execute, kernel_specs};
use super::{expectations, write_run_files};
use crate::cli::{BugsArgs, BugsFormat};
use crate::error::{Ended, Error};
use crate::ui::tables::by_version;

/// What one kernel showed of one bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// An instance showed the bug's behaviour where the fixtures expect
    /// it (a kernel of the range): the kernel lacks the fix.
    LacksFix,
    /// An instance failed: the bug came back, or something else broke.
    Fails,
    /// Every instance passed: the fix is there.
    Fixed,
    /// Nothing could be judged: skipped or broken.
    NotJudged,
}

impl Seen {
    fn as_str(self) -> &'static str {
        match self {
            Seen::LacksFix => "lacks-fix",
            Seen::Fails => "fails",
            Seen::Fixed => "fixed",
            Seen::NotJudged => "not-judged",
        }
    }

    fn of(bug: &CatalogueEntry, report: &Report) -> Seen {
        let statuses: Vec<Status> = report
            .results
            .iter()
            .filter(|r| bug.ids.contains(&r.id))
            .map(|r| r.status)
            .collect();
        if statuses.contains(&Status::KnownBug) {
            Seen::LacksFix
        } else if statuses.contains(&Status::Fail) {
            Seen::Fails
        } else if !statuses.is_empty() && statuses.iter().all(|s| *s == Status::Pass) {
            Seen::Fixed
        } else {
            Seen::NotJudged
        }
    }
}

pub fn bugs(args: BugsArgs) -> Result<Ended, Error> {
    let expectations = expectations(args.on.fixtures.as_deref())?;
    let catalog = kconform_suites::catalog();
    let ids: BTreeSet<&str> = catalog.iter().map(|i| i.id.as_str()).collect();
    expectations
        .check_known_bug_ids(|id| ids.contains(id))
        .map_err(Error::Fixtures)?;
    let bugs = expectations.known_bugs();
    let asked = !args.on.kernel.is_empty() || args.on.matrix.is_some();
    if !asked {
        print(&bugs, &[], args.format);
        return Ok(Conclusion::Conforms.into());
    }
    let pinned = pinning(&bugs);
    let instances: Vec<&Instance> = catalog
        .iter()
        .filter(|i| pinned.contains(i.id.as_str()))
        .collect();
    let specs = kernel_specs(&args.on)?;
    let runs = execute(&args.on, &specs, &instances, None, &catalog, &expectations)?;
    let reports: Vec<&Report> = runs.iter().map(|r| &r.report).collect();
    if let Some(dir) = &args.on.report {
        for run in &runs {
            let console = Some(run.console.as_str()).filter(|c| !c.is_empty());
            report::write_with_console(&run.report, console, dir)?;
        }
        write_run_files(dir, &reports, false)?;
    }
    print(&bugs, &reports, args.format);
    let each: Vec<Conclusion> = reports.iter().map(|r| r.conclusion(false)).collect();
    Ok(Conclusion::of_kernels(&each).into())
}

/// The instances that pin these bugs, each once.
fn pinning(bugs: &[CatalogueEntry]) -> BTreeSet<&str> {
    bugs.iter()
        .flat_map(|b| b.ids.iter().map(String::as_str))
        .collect()
}

fn print(bugs: &[CatalogueEntry], reports: &[&Report], format: BugsFormat) {
    match format {
        BugsFormat::Json => {
            let entries: Vec<serde_json::Value> = bugs
                .iter()
                .map(|b| {
                    let mut v = json!(b);
                    if !reports.is_empty() {
                        v["kernels"] = reports
                            .iter()
                            .map(|r| (r.kernel.spec.clone(), json!(Seen::of(b, r).as_str())))
                            .collect::<serde_json::Map<_, _>>()
                            .into();
                    }
                    v
                })
                .collect();
            let doc = json!({ "count": bugs.len(), "bugs": entries });
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).expect("JSON values serialise")
            );
        }
        BugsFormat::Table => table(bugs, reports),
    }
}

fn table(bugs: &[CatalogueEntry], reports: &[&Report]) {
    let reports = &by_version(reports)[..];
    let specs: Vec<&str> = reports.iter().map(|r| r.kernel.spec.as_str()).collect();
    let mut head = format!("{:<12}  {:<10}  {:<15}", "fix", "fixed in", "CVE");
    for s in &specs {
        head.push_str(&format!("  {s:<12}"));
    }
    println!("{head}  bug");
    for b in bugs {
        let mut row = format!(
            "{:<12}  {:<10}  {:<15}",
            b.bug.commit,
            b.bug.fixed_in.as_deref().unwrap_or("-"),
            b.bug.cve.as_deref().unwrap_or("-")
        );
        for (r, s) in reports.iter().zip(&specs) {
            row.push_str(&format!(
                "  {:<w$}",
                Seen::of(b, r).as_str(),
                w = s.len().max(12)
            ));
        }
        println!("{row}  {}", b.bug.what);
        let stable = if b.bug.stable.is_empty() {
            String::new()
        } else {
            format!("; stable {}", b.bug.stable.join(", "))
        };
        const SHOWN: usize = 3;
        let more = b.ids.len().saturating_sub(SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let shown: Vec<&str> = b.ids.iter().take(SHOWN).map(String::as_str).collect();
        println!(
            "{:<41}kernels {}{stable}; {}{more}",
            "",
            b.ranges.join(" or "),
            shown.join(" ")
        );
    }
    let cves = bugs.iter().filter(|b| b.bug.cve.is_some()).count();
    println!(
        "\n{} bugs ({cves} with a CVE), pinned by {} instances",
        bugs.len(),
        pinning(bugs).len()
    );
    if !reports.is_empty() {
        println!(
            "lacks-fix: the kernel shows the bug (its fixture range names it); fixed: every \
             instance passes; fails: an instance fails (the bug back, or something else); \
             not-judged: skipped or broken"
        );
    }
}
