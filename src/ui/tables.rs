//! What a run prints at its end: the failures with both sides, the
//! skips by reason, and counts by area (one kernel) or a kernel-by-area
//! table (a matrix).

use std::collections::BTreeMap;

use kconform_core::expect::Status;
use kconform_core::record::{Counts, Report, ResultRecord};

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

/// Kernel by area: pass/fail/skip/error per cell, only the areas that
/// ran, in `areas` order; then each kernel that could not run, and why.
pub fn print_matrix_table(reports: &[&Report], areas: &[&str]) {
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
        row.push(format!("{:.1}s", r.duration_ms as f64 / 1000.0));
        rows.push(row);
    }
    for area in &areas {
        header.push((area.to_string(), 0));
    }
    header.push(("total".to_string(), 0));
    header.push(("time".to_string(), 0));
    for (i, (name, w)) in header.iter_mut().enumerate() {
        *w = rows
            .iter()
            .map(|row| row[i].len())
            .chain([name.len(), *w])
            .max()
            .unwrap_or(0);
    }
    println!("\ncells: pass/fail/skip/error");
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

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}
