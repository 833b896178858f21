//! A kernel's report in the formats other tools already read, written
//! beside `report.json` (the canonical record): JUnit XML for CI systems,
//! KTAP for kernel tooling (what KUnit and the selftests print), and
//! Markdown for people.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use kconform_core::expect::Status;

use kconform_core::expect::KnownBug;
use kconform_core::record::{Report, ResultRecord};

use super::ReportError;
use crate::util::write_atomic;

/// Write junit.xml, results.ktap and summary.md into `dir`, each whole or
/// not at all.
pub fn write_all(report: &Report, dir: &Path) -> Result<(), ReportError> {
    for (name, text) in [
        ("junit.xml", junit(report)),
        ("results.ktap", ktap(report)),
        ("summary.md", summary_md(report)),
    ] {
        let path = dir.join(name);
        write_atomic(&path, text.as_bytes())
            .map_err(|source| ReportError::Unwritable { path, source })?;
    }
    Ok(())
}

/// One `<testsuite>` per area, one `<testcase>` per instance.
pub fn junit(report: &Report) -> String {
    let mut junit = quick_junit::Report::new(format!("kconform {}", report.kernel.spec));
    junit.set_time(Duration::from_millis(report.duration_ms));
    for (area, _) in report.by_area() {
        let records: Vec<&ResultRecord> =
            report.results.iter().filter(|r| r.area == area).collect();
        let mut suite = TestSuite::new(area);
        suite.add_property(("kernel", report.kernel.spec.as_str()));
        suite.add_property(("release", report.kernel.release.as_str()));
        for r in records {
            let mut case = TestCase::new(r.id.as_str(), junit_status(r));
            case.set_classname(format!("{}.{}", report.kernel.spec, area));
            case.set_time(Duration::from_millis(r.duration_ms));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit serialisation failed: {e} -->\n"))
}

fn junit_status(r: &ResultRecord) -> TestCaseStatus {
    match r.status {
        Status::Pass => TestCaseStatus::success(),
        Status::Skip => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(r.reason.clone().unwrap_or_default());
            s
        }
        // What a CI system shows without failing the build, as the run
        // itself does not fail on it (unless --strict).
        Status::KnownBug => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(known_bug_line(r));
            s.set_description(details(r));
            s
        }
        Status::Fail | Status::Error => {
            let kind = if r.status == Status::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(one_line(r));
            s.set_description(details(r));
            s
        }
    }
}

/// KTAP version 1: the run, one subtest per area, one test per instance.
pub fn ktap(report: &Report) -> String {
    let mut out = String::from("KTAP version 1\n");
    let areas: Vec<&str> = report.by_area().into_iter().map(|(a, _)| a).collect();
    let _ = writeln!(
        out,
        "# kconform on {} ({})",
        report.kernel.spec, report.kernel.release
    );
    let _ = writeln!(out, "1..{}", areas.len());
    for (n, area) in areas.iter().enumerate() {
        let records: Vec<&ResultRecord> =
            report.results.iter().filter(|r| r.area == **area).collect();
        let _ = writeln!(out, "  KTAP version 1");
        let _ = writeln!(out, "  # Subtest: {area}");
        let _ = writeln!(out, "  1..{}", records.len());
        for (k, r) in records.iter().enumerate() {
            // A '#' would start a directive: ids never have one, reasons may.
            let reason = r.reason.as_deref().unwrap_or("").replace('#', "");
            match r.status {
                Status::Pass => {
                    let _ = writeln!(out, "  ok {} {}", k + 1, r.id);
                }
                Status::Skip => {
                    let _ = writeln!(out, "  ok {} {} # SKIP {reason}", k + 1, r.id);
                }
                // kunit.py counts a SKIP as neither passed nor failed,
                // which is what the run makes of a known bug.
                Status::KnownBug => {
                    for line in details(r).lines() {
                        let _ = writeln!(out, "  # {line}");
                    }
                    let why = known_bug_line(r).replace('#', "");
                    let _ = writeln!(out, "  ok {} {} # SKIP {why}", k + 1, r.id);
                }
                Status::Fail | Status::Error => {
                    for line in details(r).lines() {
                        let _ = writeln!(out, "  # {line}");
                    }
                    let _ = writeln!(out, "  not ok {} {}", k + 1, r.id);
                }
            }
        }
        let failed = records
            .iter()
            .any(|r| matches!(r.status, Status::Fail | Status::Error));
        let all_skipped = records
            .iter()
            .all(|r| matches!(r.status, Status::Skip | Status::KnownBug));
        let verdict = if failed { "not ok" } else { "ok" };
        let skip = if all_skipped && !failed {
            " # SKIP"
        } else {
            ""
        };
        let _ = writeln!(out, "{verdict} {} {area}{skip}", n + 1);
    }
    out
}

/// For a person: what was run where, counts by area, then every failure
/// with both sides, then the skips by reason.
pub fn summary_md(report: &Report) -> String {
    let k = &report.kernel;
    let s = &report.summary;
    let mut out = format!("# kconform on `{}`\n\n", k.spec);
    let _ = writeln!(out, "- kernel: `{}` ({})", k.release, k.machine);
    if let Some(v) = &k.version {
        let _ = writeln!(out, "- version judged against: {v}");
    }
    if let Some(src) = &k.source {
        let _ = writeln!(out, "- source: {src}");
    }
    if let Some(vm) = &k.vm {
        let _ = writeln!(
            out,
            "- QEMU {} ({}), {} vCPUs, {} MiB, {} boot(s), first word after {:.2} s",
            vm.qemu,
            vm.accel,
            vm.cpus,
            vm.memory_mb,
            vm.boots,
            vm.boot_ms as f64 / 1000.0
        );
    }
    let _ = writeln!(
        out,
        "- **{} pass, {} fail, {} skip, {} error{}** of {} in {:.1} s",
        s.pass,
        s.fail,
        s.skip,
        s.error,
        known_bugs(s.known_bug),
        s.total(),
        report.duration_ms as f64 / 1000.0
    );
    let _ = writeln!(out, "- {}", coverage_line(report));
    if let Some(e) = &k.error {
        let _ = writeln!(out, "\n**The kernel could not be tested:** {e}");
        if let Some(tail) = &k.console_tail {
            let _ = writeln!(out, "\n```\n{tail}\n```");
        }
    }
    let _ = writeln!(
        out,
        "\n| area | pass | fail | skip | error |\n| --- | --- | --- | --- | --- |"
    );
    for (area, c) in report.by_area() {
        let _ = writeln!(
            out,
            "| {area} | {} | {} | {} | {} |",
            c.pass, c.fail, c.skip, c.error
        );
    }
    if !report.lacks_fixes.is_empty() {
        let _ = writeln!(out, "\n## Fixes this kernel lacks\n");
        for f in &report.lacks_fixes {
            let _ = writeln!(out, "- {}: {}", fix_name(&f.bug), f.ids.join(", "));
        }
    }
    let problems: Vec<&ResultRecord> = report
        .results
        .iter()
        .filter(|r| matches!(r.status, Status::Fail | Status::Error))
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(out, "\n## Failures and errors\n");
        for r in problems {
            let _ = writeln!(
                out,
                "### {} `{}`\n\n```\n{}\n```\n",
                r.status,
                r.id,
                details(r)
            );
        }
    }
    let mut skips: std::collections::BTreeMap<(String, &str), Vec<&str>> = Default::default();
    for r in report.results.iter().filter(|r| r.status == Status::Skip) {
        let class = r.skip_class.map(|c| c.to_string()).unwrap_or_default();
        skips
            .entry((class, r.reason.as_deref().unwrap_or("no reason given")))
            .or_default()
            .push(&r.id);
    }
    if !skips.is_empty() {
        let _ = writeln!(out, "\n## Skipped\n");
        for ((class, why), ids) in skips {
            let class = if class.is_empty() {
                class
            } else {
                format!("{class}: ")
            };
            let _ = writeln!(out, "- {class}{why} ({}): {}", ids.len(), ids.join(", "));
        }
    }
    out
}

/// `, 2 known-bug` where there are some.
pub fn known_bugs(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} known-bug")
    }
}

/// `ran 419 of 430; skipped 11: 8 host-forbids, 3 kernel-lacks`.
pub fn coverage_line(report: &Report) -> String {
    let c = &report.coverage;
    let mut line = format!("ran {} of {}", c.run, c.run + c.skipped);
    if c.skipped > 0 {
        let classes: Vec<String> = c.skips.iter().map(|(k, n)| format!("{n} {k}")).collect();
        line.push_str(&format!("; skipped {}: {}", c.skipped, classes.join(", ")));
    }
    line
}

/// `00b06da29cf9 (fixed in 5.16, stable 5.15.5; CVE-...)`: a fix, named.
pub fn fix_name(bug: &KnownBug) -> String {
    let mut notes = Vec::new();
    if let Some(r) = &bug.fixed_in {
        notes.push(format!("fixed in {r}"));
    }
    if !bug.stable.is_empty() {
        notes.push(format!("stable {}", bug.stable.join(", ")));
    }
    if let Some(c) = &bug.cve {
        notes.push(c.clone());
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    format!("{}{notes}: {}", bug.commit, bug.what)
}

/// A known-bug result in a line: the fix the kernel lacks.
fn known_bug_line(r: &ResultRecord) -> String {
    match &r.known_bug {
        Some(bug) => format!("known bug, this kernel lacks {}", fix_name(bug)),
        None => "known bug".into(),
    }
}

/// One line for a failure: what differs, or what broke.
fn one_line(r: &ResultRecord) -> String {
    match (&r.reason, &r.expected, &r.observed) {
        (Some(why), _, _) => why.clone(),
        (None, Some(e), Some(o)) => format!("expected `{e}`, observed `{o}`"),
        _ => r.status.to_string(),
    }
}

/// Both sides, the reason, and any kernel trouble, a field per line.
fn details(r: &ResultRecord) -> String {
    let mut out = String::new();
    for (what, v) in [
        ("expected", &r.expected),
        ("observed", &r.observed),
        ("reason", &r.reason),
    ] {
        if let Some(v) = v {
            let _ = writeln!(out, "{what}: {v}");
        }
    }
    for e in &r.kernel_events {
        let _ = writeln!(out, "kernel {}: {}", e.kind, e.summary);
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::fixed_report;

    #[test]
    fn junit_is_stable() {
        insta::assert_snapshot!(junit(&fixed_report()));
    }

    #[test]
    fn ktap_is_stable() {
        insta::assert_snapshot!(ktap(&fixed_report()));
    }

    #[test]
    fn summary_md_is_stable() {
        insta::assert_snapshot!(summary_md(&fixed_report()));
    }

    #[test]
    fn ktap_counts_match_its_plans() {
        let text = ktap(&fixed_report());
        let areas = text
            .lines()
            .filter(|l| l.starts_with("ok ") || l.starts_with("not ok "))
            .count();
        assert!(text.contains(&format!("\n1..{areas}\n")), "{text}");
        // An area with a failing instance is itself not ok.
        assert!(text.contains("not ok 2 ret-kill"), "{text}");
    }

    #[test]
    fn every_format_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        write_all(&fixed_report(), dir.path()).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["junit.xml", "results.ktap", "summary.md"]);
    }
}
