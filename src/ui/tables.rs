//! What a run prints at its end: the failures with both sides, the
//! skips by reason, and counts by area (one kernel) or a kernel-by-area
//! table (a matrix).

use std::collections::BTreeMap;

use kconform_core::expect::Status;
use kconform_core::record::{Counts, Report, ResultRecord};
use kconform_harness::kernels::debian::compare_versions;
use kconform_harness::report::formats::{coverage_line, fix_name, known_bugs};

/// Every failure and error with what was expected and observed, then
/// the skips grouped by reason.
pub fn print_summary(report: &Report, quiet: bool) {
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
    for f in &report.lacks_fixes {
        println!(
            "\nknown bug, this kernel lacks {} ({}):",
            fix_name(&f.bug),
            f.ids.len()
        );
        if !quiet {
            for id in &f.ids {
                println!("  {id}");
            }
        }
    }
    let mut skips: BTreeMap<(String, &str), Vec<&str>> = BTreeMap::new();
    for r in report.results.iter().filter(|r| r.status == Status::Skip) {
        let class = r.skip_class.map(|c| c.to_string()).unwrap_or_default();
        skips
            .entry((class, r.reason.as_deref().unwrap_or("no reason given")))
            .or_default()
            .push(&r.id);
    }
    for ((class, why), ids) in &skips {
        println!("\nskipped {} ({class}: {why}):", ids.len());
        if !quiet {
            for id in ids {
                println!("  {id}");
            }
        }
    }
}

/// One kernel: pass/fail/skip/error per area, in the catalog's order.
pub fn print_area_table(report: &Report) {
    println!(
        "\n{:<15} {:>5} {:>5} {:>5} {:>5}",
        "area", "pass", "fail", "skip", "error"
    );
    for (area, c) in report.by_area() {
        println!(
            "{:<15} {:>5} {:>5} {:>5} {:>5}",
            area, c.pass, c.fail, c.skip, c.error
        );
    }
    let s = &report.summary;
    println!(
        "{:<15} {:>5} {:>5} {:>5} {:>5}   {} instances in {:.2} s on {}{}",
        "total",
        s.pass,
        s.fail,
        s.skip,
        s.error,
        s.total(),
        report.duration_ms as f64 / 1000.0,
        report.kernel.release,
        known_bugs(s.known_bug)
    );
    println!("{}", coverage_line(report));
}

/// Reports in their kernels' version order (as dpkg orders versions: 5.10
/// before 6.1.0-41 before 6.1.0-57 before 6.12 before 7.2), by the release
/// the kernel reported, or the name it was given when it never ran.
pub fn by_version<'a>(reports: &[&'a Report]) -> Vec<&'a Report> {
    let key = |r: &Report| -> String {
        if r.kernel.release.is_empty() || r.kernel.error.is_some() {
            let spec = &r.kernel.spec;
            spec.split_once(':')
                .map_or(spec.as_str(), |(_, n)| n)
                .to_string()
        } else {
            r.kernel.release.clone()
        }
    };
    let mut v = reports.to_vec();
    v.sort_by(|a, b| compare_versions(&key(a), &key(b)));
    v
}

/// Kernel by area: pass/fail/skip/error per cell, only the areas that
/// ran, in `areas` order, kernels in version order; then each kernel that
/// could not run, and why.
pub fn print_matrix_table(reports: &[&Report], areas: &[&str]) {
    let reports = &by_version(reports)[..];
    let width = reports
        .iter()
        .map(|r| r.kernel.spec.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let cell = |c: &Counts| format!("{}/{}/{}/{}", c.pass, c.fail, c.skip, c.error);
    let by_area: Vec<BTreeMap<&str, Counts>> = reports
        .iter()
        .map(|r| r.by_area().into_iter().collect())
        .collect();
    let areas: Vec<&str> = areas
        .iter()
        .copied()
        .filter(|a| by_area.iter().any(|m| m.contains_key(a)))
        .collect();
    let mut header = vec![("kernel".to_string(), width)];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (r, counts) in reports.iter().zip(&by_area) {
        let mut row = vec![r.kernel.spec.clone()];
        for area in &areas {
            row.push(cell(&counts.get(area).cloned().unwrap_or_default()));
        }
        row.push(cell(&r.summary));
        row.push(r.summary.known_bug.to_string());
        row.push(coverage_cell(r));
        row.push(format!("{:.1}s", r.duration_ms as f64 / 1000.0));
        rows.push(row);
    }
    for area in &areas {
        header.push((area.to_string(), 0));
    }
    header.push(("total".to_string(), 0));
    header.push(("known-bug".to_string(), 0));
    header.push(("run/skipped (classes)".to_string(), 0));
    header.push(("time".to_string(), 0));
    for (i, (name, w)) in header.iter_mut().enumerate() {
        *w = rows
            .iter()
            .map(|row| row[i].len())
            .chain([name.len(), *w])
            .max()
            .unwrap_or(0);
    }
    println!("\ncells: pass/fail/skip/error; skips: lacks = the kernel lacks it, forbids = the host or --cmdline forbids it, arranged = kconform failed to arrange it");
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
    for r in reports {
        let k = &r.kernel;
        if let Some(e) = &k.error {
            println!("\n{}: {e}", k.spec);
            if let Some(tail) = &k.console_tail {
                println!("  console tail:\n{}", indent(tail));
            }
        }
    }
}

/// `419/11 (8 lacks, 3 forbids)`: instances run, skipped, and why.
fn coverage_cell(r: &Report) -> String {
    let c = &r.coverage;
    let classes: Vec<String> = c
        .skips
        .iter()
        .map(|(k, n)| format!("{n} {}", k.as_str().split('-').nth(1).unwrap_or("")))
        .collect();
    if classes.is_empty() {
        format!("{}/{}", c.run, c.skipped)
    } else {
        format!("{}/{} ({})", c.run, c.skipped, classes.join(", "))
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kconform_harness::vm::unrunnable;

    #[test]
    fn kernels_listed_in_version_order() {
        let ran = |spec: &str, release: &str| {
            let mut r = unrunnable(spec, None, "x", &[]);
            r.kernel.error = None;
            r.kernel.release = release.into();
            r
        };
        let reports = [
            ran("debian:sid", "7.2.13+deb14-cloud-amd64"),
            ran("debian:6.1.0-57-cloud-amd64", "6.1.0-57-cloud-amd64"),
            unrunnable("debian:6.1.0-41-cloud-amd64", None, "no boot", &[]),
            ran("debian:trixie", "6.12.118+deb13-cloud-amd64"),
            ran("debian:bullseye", "5.10.0-46-cloud-amd64"),
        ];
        let refs: Vec<&Report> = reports.iter().collect();
        let specs: Vec<&str> = by_version(&refs)
            .iter()
            .map(|r| r.kernel.spec.as_str())
            .collect();
        assert_eq!(
            specs,
            [
                "debian:bullseye",
                "debian:6.1.0-41-cloud-amd64",
                "debian:6.1.0-57-cloud-amd64",
                "debian:trixie",
                "debian:sid"
            ]
        );
    }
}
