//! index.html over a real matrix: bullseye (5.10, without bfafe5efa975)
//! and trixie (6.12, with it) observe `tsync/dead-leader/own-filter`
//! differently, and the page marks that row as drift, each kernel's
//! observation in its cell. With `KCONFORM_CHROMIUM` set, Chromium also
//! renders the page and applies a `#filter=` from the URL.

use std::path::{Path, PathBuf};

use kconform_core::expect::Status;
use kconform_core::record::Report;
use kconform_harness::report::html::{esc, headless_chromium};

use crate::{kconform, read_report};

const OLD: &str = "debian:bullseye";
const NEW: &str = "debian:trixie";
const DRIFTS: &str = "tsync/dead-leader/own-filter";

pub(crate) fn index_marks_the_drift() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let reports = dir.path().join("reports");
    let (code, out) = kconform(&[
        "run",
        "--kernel",
        OLD,
        "--kernel",
        NEW,
        "--filter",
        "tsync/dead-leader",
        "--accel",
        "tcg",
        "--quiet",
        "--report",
        &reports.to_string_lossy(),
    ]);
    // A known bug does not fail the run; a failure elsewhere in the
    // filter would, and still leaves a page to check.
    if code != 0 && code != 1 {
        return Err(format!("exit {code}:\n{out}"));
    }
    let (old, new) = (read_report(&reports, OLD)?, read_report(&reports, NEW)?);
    let observed = |r: &Report, id: &str| {
        r.results
            .iter()
            .find(|x| x.id == id)
            .map(|x| (x.status, x.observed.clone()))
    };
    let (old_obs, new_obs) = match (observed(&old, DRIFTS), observed(&new, DRIFTS)) {
        (Some((Status::KnownBug, Some(o))), Some((Status::Pass, Some(n)))) if o != n => (o, n),
        other => {
            return Err(format!(
                "expected {DRIFTS} a known bug on {OLD} and a pass on {NEW}, observed differently: {other:?}\n{out}"
            ))
        }
    };
    let page = std::fs::read_to_string(reports.join("index.html")).map_err(|e| e.to_string())?;
    let tr = row(&page, DRIFTS)?;
    let want = [
        "class=\"row drift known-bug\"".to_string(),
        format!("<div class=\"obs\">{}</div>", esc(&old_obs)),
        format!("<div class=\"obs\">{}</div>", esc(&new_obs)),
        "<td class=\"status known-bug\"".into(),
        "<div class=\"why\">lacks bfafe5efa975</div>".into(),
    ];
    if let Some(missing) = want.iter().find(|w| !tr.contains(w.as_str())) {
        return Err(format!("the {DRIFTS} row lacks {missing}:\n{tr}"));
    }
    // Every other row is drift exactly when the two kernels observed it
    // differently (both having observed it).
    for r in &old.results {
        let (a, b) = (observed(&old, &r.id), observed(&new, &r.id));
        let differs = matches!((&a, &b), (Some((_, Some(a))), Some((_, Some(b)))) if a != b);
        let tr = row(&page, &r.id)?;
        let tag = &tr[..tr.find('>').unwrap_or(tr.len())];
        if tag.split(['"', ' ']).any(|c| c == "drift") != differs {
            return Err(format!("{}: {a:?} vs {b:?}, but the row is\n{tr}", r.id));
        }
    }
    let lacks = page
        .split("<ul id=\"lacks-fixes\">")
        .nth(1)
        .and_then(|s| s.split("<h2>").next())
        .ok_or("no list of the fixes each kernel lacks")?;
    if !lacks.contains(&format!("<li>{OLD}<ul>")) || lacks.contains(NEW) {
        return Err(format!(
            "the fixes lacked should name {OLD} alone:\n{lacks}"
        ));
    }
    match std::env::var_os("KCONFORM_CHROMIUM") {
        Some(chromium) => rendered(&PathBuf::from(chromium), &reports, dir.path()),
        None => Ok(()),
    }
}

/// Chromium's DOM of the page filtered to the drifting row by the URL:
/// that row shown and marked, its sibling hidden; and a screenshot.
fn rendered(chromium: &Path, reports: &Path, scratch: &Path) -> Result<(), String> {
    let page = reports.join("index.html");
    let profile = scratch.join("profile");
    let run = |extra: &[&str], fragment: &str| {
        headless_chromium(chromium, &profile, &page, fragment, extra)
            .map_err(|e| format!("{}: {e}", chromium.display()))
    };
    let out = run(&["--dump-dom"], &format!("#filter={DRIFTS}"))?;
    let dom = String::from_utf8_lossy(&out.stdout);
    let shown = row(&dom, DRIFTS)?;
    let shown_tag = &shown[..shown.find('>').unwrap_or(shown.len())];
    let sibling = row(&dom, "tsync/dead-leader/shared-filter")?;
    let sibling_tag = &sibling[..sibling.find('>').unwrap_or(sibling.len())];
    if shown_tag.contains("hidden") || !shown_tag.contains("drift") {
        return Err(format!(
            "the filtered-to row is hidden or unmarked: {shown_tag}"
        ));
    }
    if !sibling_tag.contains(" hidden=\"\"") {
        return Err(format!("the filter left another row shown: {sibling_tag}"));
    }
    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kconform-vm-index.png");
    let out = run(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,900",
        ],
        "",
    )?;
    match std::fs::read(&shot) {
        Ok(png) if png.starts_with(b"\x89PNG") && png.len() > 10_000 => Ok(()),
        Ok(png) => Err(format!("a screenshot of {} bytes", png.len())),
        Err(e) => Err(format!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// The `<tr>` of a scenario, as written or as Chromium dumps it.
fn row<'a>(page: &'a str, id: &str) -> Result<&'a str, String> {
    let at = page
        .find(&format!("data-id=\"{}\"", esc(id)))
        .ok_or(format!("index.html has no row for {id}"))?;
    let start = page[..at].rfind("<tr").ok_or("a row outside a <tr>")?;
    let end = at + page[at..].find("</tr>").ok_or("an unclosed row")?;
    Ok(&page[start..end])
}
