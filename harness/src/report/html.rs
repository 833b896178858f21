//! `index.html`: the matrix as a page a person opens. A kernel-by-scenario
//! grid, a colour per status, the observation on hover, each cell linking
//! to its kernel's log; the scenarios that fail anywhere come first.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kconform_core::expect::Status;
use kconform_core::record::{Report, ResultRecord};

/// The page for the reports of one run (one column per report).
pub fn index(reports: &[&Report]) -> String {
    // Rows in first-seen order; those failing or broken anywhere on top.
    let mut ids: Vec<&str> = Vec::new();
    let mut cells: BTreeMap<(&str, usize), &ResultRecord> = BTreeMap::new();
    for (k, report) in reports.iter().enumerate() {
        for r in &report.results {
            if !cells.keys().any(|(id, _)| *id == r.id) {
                ids.push(&r.id);
            }
            cells.insert((r.id.as_str(), k), r);
        }
    }
    let broken = |id: &str| {
        (0..reports.len()).any(|k| {
            cells
                .get(&(id, k))
                .is_some_and(|r| matches!(r.status, Status::Fail | Status::Error))
        })
    };
    let (mut rows, rest): (Vec<&str>, Vec<&str>) = ids.iter().partition(|id| broken(id));
    let failing = rows.len();
    rows.extend(rest);

    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>kconform</title>\n<style>\n\
         body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; }\n\
         table { border-collapse: collapse; }\n\
         th, td { border: 1px solid #ccc; padding: 2px 6px; }\n\
         th.kernel { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; }\n\
         td.id { font-family: monospace; white-space: nowrap; }\n\
         td.status a { display: block; color: inherit; text-decoration: none; text-align: center; }\n\
         .pass { background: #c8e6c9; } .fail { background: #ef9a9a; }\n\
         .error { background: #ffcc80; } .skip { background: #e0e0e0; } .none { background: #fff; }\n\
         .known-bug { background: #ce93d8; }\n\
         tr.split td { border-top: 3px solid #444; }\n\
         </style>\n</head>\n<body>\n<h1>kconform</h1>\n",
    );
    let _ = writeln!(
        out,
        "<p id=\"headline\">{} kernels, {} scenarios; <strong>{failing}</strong> failing or broken on some kernel (listed first).</p>",
        reports.len(),
        rows.len()
    );
    out.push_str("<table id=\"kernels\">\n<tr><th>kernel</th><th>release</th><th>pass</th><th>fail</th><th>skip</th><th>error</th><th>known-bug</th><th>coverage</th><th>note</th></tr>\n");
    for r in reports {
        let s = &r.summary;
        let _ = writeln!(
            out,
            "<tr><td><a href=\"{dir}/summary.md\">{spec}</a></td><td>{rel}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{cov}</td><td>{note}</td></tr>",
            s.pass,
            s.fail,
            s.skip,
            s.error,
            s.known_bug,
            cov = esc(&super::formats::coverage_line(r)),
            dir = esc(&kernel_dir(r)),
            spec = esc(&r.kernel.spec),
            rel = esc(&r.kernel.release),
            note = esc(r.kernel.error.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</table>\n");
    if reports.iter().any(|r| !r.lacks_fixes.is_empty()) {
        out.push_str("<h2>Fixes these kernels lack</h2>\n<ul id=\"lacks-fixes\">\n");
        for r in reports.iter().filter(|r| !r.lacks_fixes.is_empty()) {
            let _ = writeln!(out, "<li>{}<ul>", esc(&r.kernel.spec));
            for f in &r.lacks_fixes {
                let _ = writeln!(
                    out,
                    "<li><code>{}</code>: {}</li>",
                    esc(&super::formats::fix_name(&f.bug)),
                    esc(&f.ids.join(", "))
                );
            }
            out.push_str("</ul></li>\n");
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2>Scenarios</h2>\n<table id=\"grid\">\n<tr><th>scenario</th>");
    for r in reports {
        let _ = write!(out, "<th class=\"kernel\">{}</th>", esc(&r.kernel.spec));
    }
    out.push_str("</tr>\n");
    for (n, id) in rows.iter().enumerate() {
        let class = if n == failing && failing > 0 {
            " class=\"split\""
        } else {
            ""
        };
        let _ = write!(out, "<tr{class}><td class=\"id\">{}</td>", esc(id));
        for (k, report) in reports.iter().enumerate() {
            match cells.get(&(*id, k)) {
                Some(r) => {
                    let log = if report.kernel.vm.is_some() {
                        "console.log"
                    } else {
                        "report.json"
                    };
                    let _ = write!(
                        out,
                        "<td class=\"status {st}\" title=\"{tip}\"><a href=\"{dir}/{log}\">{st}</a></td>",
                        st = r.status.as_str(),
                        tip = esc(&tooltip(r)),
                        dir = esc(&kernel_dir(report)),
                    );
                }
                None => {
                    out.push_str("<td class=\"status none\" title=\"not run on this kernel\"></td>")
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n</body>\n</html>\n");
    out
}

/// The report directory of a kernel, relative to the page.
fn kernel_dir(r: &Report) -> String {
    super::dir_in(std::path::Path::new(""), &r.kernel.spec)
        .display()
        .to_string()
}

fn tooltip(r: &ResultRecord) -> String {
    let mut t = String::new();
    if let Some(o) = &r.observed {
        let _ = write!(t, "observed: {o}");
    }
    if r.status != Status::Pass {
        if let Some(e) = &r.expected {
            let _ = write!(t, "\nexpected: {e}");
        }
    }
    if let Some(why) = &r.reason {
        let _ = write!(t, "\n{why}");
    }
    t.trim().to_string()
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::fixed_report;

    fn two_kernels() -> (Report, Report) {
        let a = fixed_report();
        let mut b = fixed_report();
        b.kernel.spec = "debian:sid".into();
        b.kernel.release = "7.2.13+deb14-cloud-amd64".into();
        for r in &mut b.results {
            if r.status != Status::Skip {
                r.status = Status::Pass;
                r.observed = r.expected.clone();
                r.reason = None;
            }
        }
        let b = Report::new(b.kernel, b.duration_ms, b.results);
        (a, b)
    }

    #[test]
    fn index_html_is_stable() {
        let (a, b) = two_kernels();
        insta::assert_snapshot!(index(&[&a, &b]));
    }

    #[test]
    fn failing_scenarios_come_first_and_text_is_escaped() {
        let (mut a, b) = two_kernels();
        a.results[1].observed = Some("exit 0 <escaped> & \"quoted\"".into());
        let page = index(&[&a, &b]);
        let grid = &page[page.find("id=\"grid\"").unwrap()..];
        let first = grid.find("ret-kill/kill-process/single/untraced").unwrap();
        let passing = grid
            .find("sa-immutable/trap/ignored/traceme/suppress")
            .unwrap();
        assert!(
            first < passing,
            "a failing scenario must be listed before passing ones"
        );
        assert!(page.contains("exit 0 &lt;escaped&gt; &amp; &quot;quoted&quot;"));
        assert!(!page.contains("<escaped>"));
    }

    /// The page in a real browser: Chromium parses it to the grid we
    /// wrote, and renders a screenshot (kept for a person to look at).
    /// `KCONFORM_CHROMIUM=/usr/bin/chromium cargo test -p kconform-harness
    /// html -- --ignored` (.ci/run does).
    #[test]
    #[ignore = "needs Chromium: set KCONFORM_CHROMIUM"]
    fn chromium_renders_the_grid() {
        let chromium =
            std::env::var("KCONFORM_CHROMIUM").expect("KCONFORM_CHROMIUM: a chromium binary");
        let (a, b) = two_kernels();
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("index.html");
        std::fs::write(&page, index(&[&a, &b])).unwrap();
        let url = format!("file://{}", page.display());
        let profile = dir.path().join("profile");
        let browser = |extra: &[&str]| {
            std::process::Command::new(&chromium)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                ])
                .args([
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .args(extra)
                .arg(&url)
                .output()
                .unwrap()
        };
        let dom = browser(&["--dump-dom"]);
        let dom = String::from_utf8_lossy(&dom.stdout);
        // Every result of both kernels, as the browser parsed them.
        let cells = a.results.len() + b.results.len();
        assert_eq!(dom.matches("class=\"status ").count(), cells, "{dom}");
        assert_eq!(
            dom.matches("class=\"status known-bug\"").count(),
            1,
            "{dom}"
        );
        assert_eq!(dom.matches("class=\"status fail\"").count(), 2, "{dom}");
        let shot =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/kconform-index.png");
        let shot_arg = format!("--screenshot={}", shot.display());
        let out = browser(&[&shot_arg, "--window-size=1000,700"]);
        let png = std::fs::read(&shot).unwrap_or_else(|e| {
            panic!(
                "no screenshot ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{} bytes",
            png.len()
        );
    }
}
