//! The bisect demonstration, end to end: `ci/bisect-demo` makes a git
//! history from linux-source-6.1 whose fifth of eight commits brings back
//! the 5.16-rc1 SA_IMMUTABLE regression, and `kconform bisect` must name
//! that commit within ceil(log2(8)) + 1 = 4 steps, printing each step's
//! build and boot times.
//!
//! It builds kernels (about 5 minutes the first time on 2 cores, then
//! incremental), so it runs only when asked:
//! `cargo test --test bisect_demo -- --ignored`.

use std::process::Command;

#[test]
#[ignore = "builds kernels; run with: cargo test --test bisect_demo -- --ignored"]
fn bisect_names_the_commit_that_brought_the_regression_back() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/bisect-demo");
    let out = Command::new(script).output().expect("run ci/bisect-demo");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ci/bisect-demo failed:\n{text}\n{err}"
    );

    let culprit = line_after(&text, "the regression is ");
    let named = line_after(&text, "first bad commit: ");
    assert_eq!(named, culprit, "{text}");
    assert!(
        named.contains("signal: make every forced signal SA_IMMUTABLE"),
        "{text}"
    );
    // The C reproducer of the first instance that changed: the command
    // that writes it, and the file (--repro), which builds.
    assert!(
        text.contains("reproducer: kconform repro sa-immutable/"),
        "{text}"
    );
    assert!(
        text.contains("bisect-demo: the reproducer builds: sa-immutable_"),
        "{text}"
    );
    // Observations at both ends: a scenario that passed, then failed.
    assert!(text.contains("    last good: pass "), "{text}");
    assert!(text.contains("    first bad: fail "), "{text}");

    let steps: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("step ") && l.contains("(built in "))
        .collect();
    assert!(
        !steps.is_empty() && steps.len() <= 4,
        "{} steps for 8 commits (at most 4):\n{text}",
        steps.len()
    );
    assert!(
        text.contains(&format!("{} step(s) for 8 commit(s)", steps.len())),
        "{text}"
    );
}

/// The rest of the first line containing `marker`, after it.
fn line_after<'a>(text: &'a str, marker: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.split_once(marker).map(|(_, rest)| rest.trim()))
        .unwrap_or_else(|| panic!("no `{marker}` in:\n{text}"))
}
