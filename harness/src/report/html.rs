//! `index.html`: a run's reports as one page a person reads, offline and
//! self-contained (inline CSS and JS, nothing fetched). At the top each
//! kernel, then an area-by-kernel grid of counts, then the fixes each
//! kernel lacks; below, one collapsible section per area with a row per
//! scenario and a cell per kernel that links to its kernel's log. Rows
//! failing or broken anywhere come first in their area, then rows whose
//! observations differ between kernels (drift, marked even when all
//! pass, each cell showing its kernel's observation). A filter box (or
//! `index.html#filter=PIECE`) hides the rows whose id lacks the piece.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use kconform_core::expect::Status;
use kconform_core::record::{Counts, Report, ResultRecord};

use super::formats::{coverage_line, fix_name};

/// One scenario's row: its results by kernel, and what makes it stand out.
struct Row<'a> {
    id: &'a str,
    area: &'a str,
    cells: Vec<Option<&'a ResultRecord>>,
    /// Failed or broke on some kernel.
    broken: bool,
    /// Two kernels that both ran it observed different things.
    drift: bool,
    known_bug: bool,
}

impl<'a> Row<'a> {
    fn new(id: &'a str, area: &'a str, cells: Vec<Option<&'a ResultRecord>>) -> Self {
        let ran = || cells.iter().flatten();
        // Skipped, broken or absent cells have no observation: they
        // neither make nor hide a drift.
        let observed: HashSet<&str> = ran().filter_map(|r| r.observed.as_deref()).collect();
        Row {
            id,
            area,
            broken: ran().any(|r| matches!(r.status, Status::Fail | Status::Error)),
            drift: observed.len() > 1,
            known_bug: ran().any(|r| r.status == Status::KnownBug),
            cells,
        }
    }

    /// Where the row goes in its area: the trouble first.
    fn rank(&self) -> u8 {
        match (self.broken, self.drift, self.known_bug) {
            (true, _, _) => 0,
            (_, true, _) => 1,
            (_, _, true) => 2,
            _ => 3,
        }
    }

    /// The one observation every kernel that ran it agrees on.
    fn common_observation(&self) -> Option<&'a str> {
        if self.drift {
            return None;
        }
        self.cells
            .iter()
            .flatten()
            .find_map(|r| r.observed.as_deref())
    }
}

/// The page for the reports of one run (one column per report).
pub fn index(reports: &[&Report]) -> String {
    // Scenarios and areas in first-seen order (the catalog's).
    let mut ids: Vec<(&str, &str)> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut cells: HashMap<(&str, usize), &ResultRecord> = HashMap::new();
    for (k, report) in reports.iter().enumerate() {
        for r in &report.results {
            if seen.insert(&r.id) {
                ids.push((&r.id, &r.area));
            }
            cells.insert((r.id.as_str(), k), r);
        }
    }
    let rows: Vec<Row> = ids
        .iter()
        .map(|&(id, area)| {
            let by_kernel = (0..reports.len())
                .map(|k| cells.get(&(id, k)).copied())
                .collect();
            Row::new(id, area, by_kernel)
        })
        .collect();
    let mut areas: Vec<(&str, Vec<&Row>)> = Vec::new();
    for row in &rows {
        match areas.iter_mut().find(|(a, _)| *a == row.area) {
            Some((_, in_area)) => in_area.push(row),
            None => areas.push((row.area, vec![row])),
        }
    }
    for (_, in_area) in &mut areas {
        in_area.sort_by_key(|r| r.rank());
    }

    let mut out = String::new();
    out.push_str(HEAD);
    let count = |f: fn(&Row) -> bool| rows.iter().filter(|r| f(r)).count();
    // One kernel has nothing to differ from: no drift to speak of.
    let several = reports.len() > 1;
    let _ = write!(
        out,
        "<p id=\"headline\">{}, {} in {}: <strong>{}</strong> failing or broken on {}, ",
        counted(reports.len(), "kernel"),
        counted(rows.len(), "scenario"),
        counted(areas.len(), "area"),
        count(|r| r.broken),
        if several { "some kernel" } else { "it" },
    );
    if several {
        let _ = write!(
            out,
            "<strong>{}</strong> observed differently by different kernels (drift), ",
            count(|r| r.drift),
        );
    }
    let _ = writeln!(
        out,
        "<strong>{}</strong> showing a known bug. In each area these come first, \
         and an area holding any starts open.</p>",
        count(|r| r.known_bug),
    );
    kernels_table(&mut out, reports);
    summary_grid(&mut out, reports, &areas);
    lacked_fixes(&mut out, reports);

    out.push_str(
        "<h2>Scenarios</h2>\n<p class=\"controls\"><label>Filter ids: \
         <input id=\"filter\" type=\"search\" placeholder=\"tsync/dead-leader\" autocomplete=\"off\"></label> \
         <span id=\"shown\"></span></p>\n",
    );
    for (area, in_area) in &areas {
        let broken = in_area.iter().filter(|r| r.broken).count();
        let drift = in_area.iter().filter(|r| r.drift).count();
        let known_bug = in_area.iter().filter(|r| r.known_bug).count();
        let open = if broken + drift + known_bug > 0 {
            " open data-open"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<details class=\"area\" id=\"area-{a}\"{open}>\n<summary><span class=\"area-name\">{a}</span> {}",
            counted(in_area.len(), "scenario"),
            a = esc(area),
        );
        if broken > 0 {
            let _ = write!(out, ", <span class=\"tag broken\">{broken} failing</span>");
        }
        if drift > 0 {
            let _ = write!(out, ", <span class=\"tag drift\">{drift} drift</span>");
        }
        if known_bug > 0 {
            let _ = write!(
                out,
                ", <span class=\"tag known-bug\">{known_bug} known-bug</span>"
            );
        }
        out.push_str("</summary>\n<table class=\"grid\">\n<tr><th>scenario</th><th>observed</th>");
        for r in reports {
            let _ = write!(out, "<th>{}</th>", esc(&r.kernel.spec));
        }
        out.push_str("</tr>\n");
        for row in in_area {
            scenario_row(&mut out, reports, row);
        }
        out.push_str("</table>\n</details>\n");
    }
    out.push_str(SCRIPT);
    out.push_str("</body>\n</html>\n");
    out
}

fn kernels_table(out: &mut String, reports: &[&Report]) {
    out.push_str(
        "<table id=\"kernels\">\n<tr><th>kernel</th><th>release</th><th>pass</th><th>fail</th>\
         <th>known-bug</th><th>skip</th><th>error</th><th>coverage</th><th>note</th></tr>\n",
    );
    for r in reports {
        let s = &r.summary;
        let _ = writeln!(
            out,
            "<tr><td><a href=\"{dir}/summary.md\">{spec}</a></td><td>{rel}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{cov}</td><td>{note}</td></tr>",
            s.pass,
            s.fail,
            s.known_bug,
            s.skip,
            s.error,
            cov = esc(&coverage_line(r)),
            dir = esc(&kernel_dir(r)),
            spec = esc(&r.kernel.spec),
            rel = esc(&r.kernel.release),
            note = esc(r.kernel.error.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</table>\n");
}

/// Area by kernel: the counts of each status, the cell coloured by the
/// worst of them; and, over several kernels, how many of the area's
/// rows drift.
fn summary_grid(out: &mut String, reports: &[&Report], areas: &[(&str, Vec<&Row>)]) {
    out.push_str("<h2>By area</h2>\n<table id=\"summary\">\n<tr><th>area</th>");
    for r in reports {
        let _ = write!(out, "<th>{}</th>", esc(&r.kernel.spec));
    }
    let several = reports.len() > 1;
    out.push_str(if several {
        "<th>drift</th></tr>\n"
    } else {
        "</tr>\n"
    });
    for (area, in_area) in areas {
        let _ = write!(
            out,
            "<tr><td><a href=\"#area-{a}\">{a}</a></td>",
            a = esc(area)
        );
        for k in 0..reports.len() {
            let mut c = Counts::default();
            for r in in_area.iter().filter_map(|row| row.cells[k]) {
                c.add(r.status);
            }
            counts_cell(out, &c);
        }
        let drift = in_area.iter().filter(|r| r.drift).count();
        if drift > 0 {
            let _ = write!(out, "<td class=\"drift-count\">{drift}</td>");
        } else if several {
            out.push_str("<td></td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("<tr class=\"total\"><td>all areas</td>");
    for r in reports {
        counts_cell(out, &r.summary);
    }
    let drift: usize = areas
        .iter()
        .map(|(_, rows)| rows.iter().filter(|r| r.drift).count())
        .sum();
    if several {
        let _ = write!(out, "<td>{drift}</td>");
    }
    out.push_str("</tr>\n</table>\n");
}

fn counts_cell(out: &mut String, c: &Counts) {
    let all = [
        (Status::Fail, c.fail),
        (Status::Error, c.error),
        (Status::KnownBug, c.known_bug),
        (Status::Pass, c.pass),
        (Status::Skip, c.skip),
    ];
    // The first status present, in that order, colours the cell.
    let worst = all
        .iter()
        .find(|(_, n)| *n > 0)
        .map_or("none", |(s, _)| s.as_str());
    let _ = write!(out, "<td class=\"counts {worst}\">");
    let parts: Vec<String> = all
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("<span class=\"n {s}\">{n} {s}</span>", s = s.as_str()))
        .collect();
    out.push_str(&parts.join(" "));
    out.push_str("</td>");
}

fn lacked_fixes(out: &mut String, reports: &[&Report]) {
    if reports.iter().all(|r| r.lacks_fixes.is_empty()) {
        return;
    }
    out.push_str("<h2>Fixes each kernel lacks</h2>\n<ul id=\"lacks-fixes\">\n");
    for r in reports.iter().filter(|r| !r.lacks_fixes.is_empty()) {
        let _ = writeln!(out, "<li>{}<ul>", esc(&r.kernel.spec));
        for f in &r.lacks_fixes {
            let _ = writeln!(
                out,
                "<li><code>{}</code>: {}</li>",
                esc(&fix_name(&f.bug)),
                esc(&f.ids.join(", "))
            );
        }
        out.push_str("</ul></li>\n");
    }
    out.push_str("</ul>\n");
}

fn scenario_row(out: &mut String, reports: &[&Report], row: &Row) {
    let mut class = String::from("row");
    for (on, name) in [
        (row.broken, " broken"),
        (row.drift, " drift"),
        (row.known_bug, " known-bug"),
    ] {
        if on {
            class.push_str(name);
        }
    }
    let _ = write!(
        out,
        "<tr class=\"{class}\" data-id=\"{id}\"><td class=\"id\">{id}",
        id = esc(row.id)
    );
    if row.broken {
        out.push_str(" <span class=\"tag broken\">failing</span>");
    }
    if row.drift {
        out.push_str(" <span class=\"tag drift\">drift</span>");
    }
    out.push_str("</td>");
    match (row.drift, row.common_observation()) {
        (true, _) => out.push_str("<td class=\"obs differs\">differs by kernel</td>"),
        (false, Some(o)) => {
            let _ = write!(out, "<td class=\"obs\">{}</td>", esc(o));
        }
        (false, None) => out.push_str("<td class=\"obs\"></td>"),
    }
    for (report, cell) in reports.iter().zip(&row.cells) {
        match cell {
            Some(r) => result_cell(out, report, r, row.drift),
            None => out.push_str(
                "<td class=\"status none\" title=\"not run on this kernel\">not run</td>",
            ),
        }
    }
    out.push_str("</tr>\n");
}

/// A kernel's result: its status linking to the kernel's log, and in
/// words what a reader needs without hovering: the observation where
/// kernels differ, what was expected where it failed, the fix it lacks,
/// what broke.
fn result_cell(out: &mut String, report: &Report, r: &ResultRecord, drift: bool) {
    let log = if report.kernel.vm.is_some() {
        "console.log"
    } else {
        "report.json"
    };
    let _ = write!(
        out,
        "<td class=\"status {st}\" title=\"{tip}\"><a href=\"{dir}/{log}\">{st}</a>",
        st = r.status.as_str(),
        tip = esc(&tooltip(r)),
        dir = esc(&kernel_dir(report)),
    );
    if drift {
        if let Some(o) = &r.observed {
            let _ = write!(out, "<div class=\"obs\">{}</div>", esc(o));
        }
    }
    if matches!(r.status, Status::Fail | Status::KnownBug) && r.expected != r.observed {
        if let Some(e) = &r.expected {
            let _ = write!(out, "<div class=\"exp\">expected {}</div>", esc(e));
        }
    }
    if let Some(bug) = &r.known_bug {
        let _ = write!(out, "<div class=\"why\">lacks {}</div>", esc(&bug.commit));
    }
    if matches!(r.status, Status::Fail | Status::Error) {
        if let Some(why) = &r.reason {
            let _ = write!(out, "<div class=\"why\">{}</div>", esc(why));
        }
    }
    out.push_str("</td>");
}

/// `1 area`, `4 areas`.
fn counted(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
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
    if let Some(bug) = &r.known_bug {
        let _ = write!(t, "\nlacks {}", fix_name(bug));
    }
    for e in &r.kernel_events {
        let _ = write!(t, "\nkernel {}: {}", e.kind, e.summary);
    }
    if let Some(flaky) = &r.flaky {
        let _ = write!(t, "\nknown flaky: {flaky}");
    }
    t.trim().to_string()
}

/// Text as the page escapes it, for HTML text and attributes alike.
pub fn esc(s: &str) -> String {
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

/// Headless Chromium's look at `page`, `fragment` (such as
/// `#filter=tsync/`) appended to its URL: offline, with a profile
/// directory of its own, after the page's script has had time to run;
/// `extra` says what to take (`--dump-dom`, `--screenshot=FILE`). How the
/// tests check the page in a real browser.
pub fn headless_chromium(
    chromium: &std::path::Path,
    profile: &std::path::Path,
    page: &std::path::Path,
    fragment: &str,
    extra: &[&str],
) -> std::io::Result<std::process::Output> {
    std::process::Command::new(chromium)
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
        // Let the page's script run before the DOM is taken.
        .arg("--virtual-time-budget=2000")
        .args(extra)
        .arg(format!("file://{}{fragment}", page.display()))
        .output()
}

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kconform</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: .3em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; vertical-align: top; }
th { background: #f3f3f3; text-align: left; font-weight: 600; }
code, td.id, .obs, .exp { font-family: ui-monospace, monospace; }
td.id { white-space: nowrap; }
.obs, .exp, .why { font-size: 12px; white-space: pre-wrap; max-width: 30em; }
.exp, .why { color: #444; }
td.obs { min-width: 20em; }
td.obs.differs { font-family: inherit; font-style: italic; color: #1565c0; }
td.status { min-width: 5em; }
td.status a { color: inherit; font-weight: 600; }
td.status.none { color: #999; font-size: 12px; }
.status.pass, .n.pass { background: #c8e6c9; } .status.fail, .n.fail { background: #ef9a9a; }
.status.error, .n.error { background: #ffcc80; } .status.skip, .n.skip { background: #e0e0e0; }
.status.known-bug, .n.known-bug { background: #ce93d8; }
#summary td.counts .n { white-space: nowrap; padding: 0 4px; border-radius: 3px; }
#summary td.counts.fail { border-left: 4px solid #c62828; }
#summary td.counts.error { border-left: 4px solid #ef6c00; }
#summary td.counts.known-bug { border-left: 4px solid #8e24aa; }
#summary tr.total td { font-weight: 600; border-top: 2px solid #444; }
td.drift-count { color: #1565c0; font-weight: 600; }
.tag { font-size: 11px; font-family: system-ui, sans-serif; padding: 0 4px; border-radius: 3px; color: #fff; }
.tag.broken { background: #c62828; } .tag.drift { background: #1565c0; }
.tag.known-bug { background: #8e24aa; }
tr.drift td.id { border-left: 4px solid #1565c0; }
tr.broken td.id { border-left: 4px solid #c62828; }
details.area { margin: .4em 0; }
details.area > summary { cursor: pointer; padding: 2px 0; }
.area-name { font-weight: 600; font-family: ui-monospace, monospace; }
#filter { font: inherit; width: 22em; }
#shown { color: #555; }
</style>
</head>
<body>
<h1>kconform</h1>
"#;

/// The filter: rows whose id lacks the typed piece are hidden, as are
/// areas left without a row; `#filter=PIECE` in the URL applies on load
/// and follows what is typed, so a filtered page can be linked.
const SCRIPT: &str = r#"<script>
(function () {
  var input = document.getElementById('filter');
  var shown = document.getElementById('shown');
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr.row'));
  var areas = Array.prototype.slice.call(document.querySelectorAll('details.area'));
  function apply(piece) {
    var q = piece.trim().toLowerCase();
    var n = 0;
    rows.forEach(function (r) {
      var hit = r.getAttribute('data-id').toLowerCase().indexOf(q) >= 0;
      r.hidden = !hit;
      if (hit) { n++; }
    });
    areas.forEach(function (d) {
      var any = d.querySelector('tr.row:not([hidden])') !== null;
      d.hidden = !any;
      d.open = q ? any : d.hasAttribute('data-open');
    });
    shown.textContent = q ? n + ' of ' + rows.length + ' scenarios' : '';
  }
  function fromHash() {
    var h = location.hash.slice(1);
    if (h.indexOf('filter=') === 0) {
      var piece = h.slice(7);
      try { piece = decodeURIComponent(piece); } catch (e) {}
      input.value = piece;
      apply(piece);
    } else if (h.indexOf('area-') === 0) {
      var d = document.getElementById(h);
      if (d) { d.open = true; }
    }
  }
  input.addEventListener('input', function () {
    apply(input.value);
    var url = location.pathname + location.search;
    history.replaceState(null, '', input.value ? url + '#filter=' + encodeURIComponent(input.value) : url);
  });
  window.addEventListener('hashchange', fromHash);
  fromHash();
})();
</script>
"#;
#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::fixed_report;

    /// bookworm as the fixed report has it; sid passing everything it
    /// runs, observing the fixed way where bookworm shows the known bug,
    /// and refusing kthreads with ESRCH (which its expectation allows):
    /// two drift rows, one of them passing on both.
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
                r.known_bug = None;
                r.kernel_events.clear();
            }
            if r.id == "ptrace-attach/kthreads/seize/unprivileged" {
                r.observed = Some("refused all ESRCH".into());
                r.expected = r.observed.clone();
                r.expected_because = Some("kthreads are invisible to this kernel".into());
            }
        }
        let b = Report::new(b.kernel, b.duration_ms, b.results);
        (a, b)
    }

    /// The `<tr>` of a scenario, as written or as a browser dumps it.
    fn row<'a>(page: &'a str, id: &str) -> &'a str {
        let at = page
            .find(&format!("data-id=\"{id}\""))
            .unwrap_or_else(|| panic!("no row for {id}:\n{page}"));
        let start = page[..at].rfind("<tr").unwrap();
        let end = at + page[at..].find("</tr>").unwrap();
        &page[start..end]
    }

    fn row_classes<'a>(page: &'a str, id: &str) -> Vec<&'a str> {
        let tr = row(page, id);
        let class = &tr[tr.find("class=\"").unwrap() + 7..];
        class[..class.find('"').unwrap()].split(' ').collect()
    }

    #[test]
    fn index_html_is_stable() {
        let (a, b) = two_kernels();
        insta::assert_snapshot!(index(&[&a, &b]));
    }

    #[test]
    fn failing_scenarios_come_first_in_their_area_and_text_is_escaped() {
        let (mut a, b) = two_kernels();
        a.results[1].observed = Some("exit 0 <escaped> & \"quoted\"".into());
        let page = index(&[&a, &b]);
        let tsync = &page[page.find("id=\"area-tsync\"").unwrap()..];
        let at = |id: &str| tsync.find(&format!("data-id=\"{id}\"")).unwrap();
        // Catalog order is esrch, ancestor (failing), dead-leader (drift).
        assert!(at("tsync/ancestor/sibling") < at("tsync/dead-leader/own-filter"));
        assert!(at("tsync/dead-leader/own-filter") < at("tsync/esrch/diverged-1-of-2"));
        // An area with a failure starts open; one without does not.
        assert!(page.contains("<details class=\"area\" id=\"area-tsync\" open data-open>"));
        assert!(page.contains("<details class=\"area\" id=\"area-sa-immutable\">"));
        // The escaped observation is in the failing row and its cell differs
        // from sid's, so it is shown, escaped, in the cell.
        let failing = row(&page, "ret-kill/kill-process/single/untraced");
        assert!(
            failing.contains(
                "<div class=\"obs\">exit 0 &lt;escaped&gt; &amp; &quot;quoted&quot;</div>"
            ),
            "{failing}"
        );
        assert!(!page.contains("<escaped>"));
    }

    #[test]
    fn drift_is_marked_even_where_every_kernel_passes() {
        let (a, b) = two_kernels();
        let page = index(&[&a, &b]);
        let id = "ptrace-attach/kthreads/seize/unprivileged";
        assert_eq!(row_classes(&page, id), ["row", "drift"]);
        let tr = row(&page, id);
        assert_eq!(tr.matches("class=\"status pass\"").count(), 2, "{tr}");
        // Each kernel's observation is in its cell, not only in a tooltip.
        assert!(
            tr.contains("</a><div class=\"obs\">refused all EPERM</div>"),
            "{tr}"
        );
        assert!(
            tr.contains("</a><div class=\"obs\">refused all ESRCH</div>"),
            "{tr}"
        );
        // The known bug drifts too, and names the fix it lacks.
        let id = "tsync/dead-leader/own-filter";
        assert_eq!(row_classes(&page, id), ["row", "drift", "known-bug"]);
        assert!(row(&page, id).contains("<div class=\"why\">lacks bfafe5efa975</div>"));
        // The same observation everywhere is no drift; it is shown once.
        let id = "sa-immutable/trap/ignored/traceme/suppress";
        assert_eq!(row_classes(&page, id), ["row"]);
        assert!(row(&page, id)
            .contains("<td class=\"obs\">stop SIGSYS -&gt; suppress -&gt; exit 0</td>"));
        // ret-kill's failing row differs too.
        assert!(page.contains("<strong>3</strong> observed differently"));
    }

    #[test]
    fn skipped_broken_and_absent_cells_make_no_drift() {
        let (a, mut b) = two_kernels();
        let mut rows = b.results.clone();
        for r in &mut rows {
            if r.id == "ptrace-attach/kthreads/seize/unprivileged" {
                r.status = Status::Skip;
                r.observed = None;
            }
            if r.id == "tsync/dead-leader/own-filter" {
                r.status = Status::Error;
                r.observed = None;
                r.reason = Some("timed out".into());
            }
        }
        rows.retain(|r| r.id != "ret-kill/kill-process/single/untraced");
        b = Report::new(b.kernel, 1, rows);
        let page = index(&[&a, &b]);
        assert_eq!(
            row_classes(&page, "ptrace-attach/kthreads/seize/unprivileged"),
            ["row"]
        );
        assert_eq!(
            row_classes(&page, "tsync/dead-leader/own-filter"),
            ["row", "broken", "known-bug"]
        );
        let absent = row(&page, "ret-kill/kill-process/single/untraced");
        assert!(absent.contains("<td class=\"status none\""), "{absent}");
        assert!(!page.contains("class=\"row drift") && !page.contains(" drift\""));
    }

    #[test]
    fn the_summary_counts_each_area_on_each_kernel() {
        let (a, b) = two_kernels();
        let page = index(&[&a, &b]);
        let summary = &page[page.find("<table id=\"summary\">").unwrap()..];
        let summary = &summary[..summary.find("</table>").unwrap()];
        let tsync = summary
            .lines()
            .find(|l| l.contains("href=\"#area-tsync\""))
            .unwrap();
        assert_eq!(
            tsync,
            "<tr><td><a href=\"#area-tsync\">tsync</a></td>\
             <td class=\"counts fail\"><span class=\"n fail\">1 fail</span> <span class=\"n known-bug\">1 known-bug</span> <span class=\"n skip\">1 skip</span></td>\
             <td class=\"counts pass\"><span class=\"n pass\">2 pass</span> <span class=\"n skip\">1 skip</span></td>\
             <td class=\"drift-count\">1</td></tr>"
        );
        // Only bookworm lacks the fix; sid shows no known bug.
        let lacks = &page
            [page.find("<ul id=\"lacks-fixes\">").unwrap()..page.find("<h2>Scenarios").unwrap()];
        assert!(lacks.contains("<li>debian:bookworm<ul>") && !lacks.contains("debian:sid"));
    }

    #[test]
    fn one_kernel_has_no_drift_to_show() {
        let (a, _) = two_kernels();
        let page = index(&[&a]);
        let body = &page[page.find("<body>").unwrap()..page.find("<script>").unwrap()];
        assert!(!body.contains("drift"), "{body}");
        assert!(page.contains(
            "<strong>2</strong> failing or broken on it, <strong>1</strong> showing a known bug."
        ));
        // The known bug alone opens its area.
        assert!(page.contains("<details class=\"area\" id=\"area-tsync\" open data-open>"));
    }

    /// The page in a real browser: Chromium runs its script and parses it
    /// to the rows we wrote, a `#filter=` in the URL hides the other rows,
    /// and it renders a screenshot (kept for a person to look at).
    /// `KCONFORM_CHROMIUM=/usr/bin/chromium cargo test -p kconform-harness
    /// html -- --ignored` (.ci/run does).
    #[test]
    #[ignore = "needs Chromium: set KCONFORM_CHROMIUM"]
    fn chromium_renders_the_page_and_filters_by_the_url() {
        let chromium =
            std::env::var("KCONFORM_CHROMIUM").expect("KCONFORM_CHROMIUM: a chromium binary");
        let (a, b) = two_kernels();
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("index.html");
        std::fs::write(&page, index(&[&a, &b])).unwrap();
        let browser = Chromium {
            binary: chromium.into(),
            profile: dir.path().join("profile"),
        };
        let dom = browser.dom(&page, "");
        // Every result of both kernels, as the browser parsed them.
        let cells = a.results.len() + b.results.len();
        assert_eq!(dom.matches("<td class=\"status ").count(), cells, "{dom}");
        assert_eq!(
            dom.matches("<td class=\"status known-bug\"").count(),
            1,
            "{dom}"
        );
        assert_eq!(dom.matches("<td class=\"status fail\"").count(), 2, "{dom}");
        assert_eq!(dom.matches("<tr class=\"row").count(), a.results.len());
        assert!(
            !dom.contains("hidden=\"\""),
            "nothing is hidden unfiltered:\n{dom}"
        );
        assert_eq!(
            row_classes(&dom, "ptrace-attach/kthreads/seize/unprivileged"),
            ["row", "drift"]
        );

        let dom = browser.dom(&page, "#filter=tsync/");
        for r in &a.results {
            let tr = row(&dom, &r.id);
            let tag = &tr[..tr.find('>').unwrap()];
            assert_eq!(
                tag.contains(" hidden=\"\""),
                !r.id.starts_with("tsync/"),
                "{tag}"
            );
        }
        assert!(
            dom.contains("<span id=\"shown\">3 of 6 scenarios</span>"),
            "{dom}"
        );
        // Areas left without a row are hidden; tsync's is open.
        let details = |area: &str| {
            let at = dom.find(&format!("id=\"area-{area}\"")).unwrap();
            let start = dom[..at].rfind("<details").unwrap();
            &dom[start..at + dom[at..].find('>').unwrap()]
        };
        for area in ["sa-immutable", "ret-kill", "ptrace-attach"] {
            assert!(details(area).contains(" hidden=\"\""), "{}", details(area));
        }
        let tsync = details("tsync");
        assert!(
            tsync.contains(" open=\"\"") && !tsync.contains("hidden"),
            "{tsync}"
        );
        // The summary's link to a closed area opens it.
        let dom = browser.dom(&page, "#area-sa-immutable");
        let at = dom.find("id=\"area-sa-immutable\"").unwrap();
        let tag = &dom[dom[..at].rfind("<details").unwrap()..at + dom[at..].find('>').unwrap()];
        assert!(tag.contains(" open=\"\""), "{tag}");

        let shot =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/kconform-index.png");
        let png = browser.screenshot(&page, &shot);
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{} bytes",
            png.len()
        );
    }

    /// Headless Chromium, offline, with a profile of its own.
    struct Chromium {
        binary: std::path::PathBuf,
        profile: std::path::PathBuf,
    }

    impl Chromium {
        fn run(
            &self,
            page: &std::path::Path,
            fragment: &str,
            extra: &[&str],
        ) -> std::process::Output {
            headless_chromium(&self.binary, &self.profile, page, fragment, extra).unwrap()
        }

        /// The DOM after the page's script ran.
        fn dom(&self, page: &std::path::Path, fragment: &str) -> String {
            let out = self.run(page, fragment, &["--dump-dom"]);
            String::from_utf8_lossy(&out.stdout).into_owned()
        }

        fn screenshot(&self, page: &std::path::Path, shot: &std::path::Path) -> Vec<u8> {
            let arg = format!("--screenshot={}", shot.display());
            let out = self.run(page, "", &[&arg, "--window-size=1200,900"]);
            std::fs::read(shot).unwrap_or_else(|e| {
                panic!(
                    "no screenshot ({e}): {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
        }
    }
}
