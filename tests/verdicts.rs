//! What a verdict means, as `kconform run` gives it on the running
//! kernel: a failed setup step is an error naming the step, never a fail;
//! a known bug is its own status, which fails the run only with
//! `--strict`; a known bug must name its fix.

use std::path::{Path, PathBuf};

mod common;
use common::{assert_refused, fixtures, kconform, text};

const ID: &str = "ret-kill/untraced/kill-process/multi-thread";

/// A copy of the fixtures with `id`'s entry replaced by `entry`.
fn fixtures_with(dir: &Path, id: &str, entry: &str) -> PathBuf {
    let to = dir.join("expectations");
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(fixtures()).unwrap() {
        let e = e.unwrap();
        let text = std::fs::read_to_string(e.path()).unwrap();
        let head = format!("[\"{id}\"]\n");
        let text = match text.find(&head) {
            Some(at) => {
                // The entry runs to the next blank line.
                let end = text[at..].find("\n\n").map_or(text.len(), |e| at + e + 2);
                format!("{}{entry}\n{}", &text[..at], &text[end..])
            }
            None => text,
        };
        std::fs::write(to.join(e.file_name()), text).unwrap();
    }
    to
}

/// report.json's record of `id`.
fn record(report_dir: &Path, id: &str) -> serde_json::Value {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_dir.join("host/report.json")).unwrap())
            .unwrap();
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap()
}

#[test]
fn a_failed_setup_step_is_an_error_naming_the_call_never_a_fail() {
    let dir = tempfile::tempdir().unwrap();
    let out = kconform()
        .env("KCONFORM_FAIL_SETUP", "prctl(PR_SET_NO_NEW_PRIVS)")
        .args([
            "run",
            "--quiet",
            "--filter",
            "ret-kill/untraced",
            "--report",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let t = text(&out);
    // Every instance broke: nothing could be judged, as git bisect run
    // and CI read 125.
    assert_eq!(out.status.code(), Some(125), "{t}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("host/report.json")).unwrap())
            .unwrap();
    let results = json["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        assert_eq!(r["status"], "error", "{r}");
        assert_eq!(
            r["reason"], "setup: prctl(PR_SET_NO_NEW_PRIVS) failed: injected (KCONFORM_FAIL_SETUP)",
            "{r}"
        );
        assert!(r.get("observed").map_or(true, |o| o.is_null()), "{r}");
    }
    assert_eq!(json["summary"]["fail"], 0);
}

#[test]
fn a_known_bug_is_reported_with_its_fix_and_fails_only_when_strict() {
    let dir = tempfile::tempdir().unwrap();
    // The running kernel's answer, declared a known bug's for every kernel.
    let entry = format!(
        "[\"{ID}\"]\nexpect = \"exit 0; effects=escaped\"\n\n[[\"{ID}\".kernels]]\n\
         range = \">=2.6\"\nexpect = \"killed SIGSYS; effects=none\"\n\
         reason = \"a test's stand-in bug\"\ncommit = \"0123456789ab\"\nknown-bug = true\n\
         fixed-in = \"99.1\"\n"
    );
    let fx = fixtures_with(dir.path(), ID, &entry);
    let run = |strict: bool| {
        let mut c = kconform();
        c.args(["run", "--quiet", "--filter", ID, "--fixtures"])
            .arg(&fx)
            .arg("--report")
            .arg(dir.path().join("r"));
        if strict {
            c.arg("--strict");
        }
        c.output().unwrap()
    };
    let out = run(false);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("known bug, this kernel lacks 0123456789ab (fixed in 99.1)"),
        "{t}"
    );
    let r = record(&dir.path().join("r"), ID);
    assert_eq!(r["status"], "known-bug", "{r}");
    assert_eq!(r["known_bug"]["commit"], "0123456789ab", "{r}");
    let md = std::fs::read_to_string(dir.path().join("r/host/summary.md")).unwrap();
    assert!(md.contains("## Fixes this kernel lacks"), "{md}");
    let out = run(true);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn a_known_bug_without_its_fix_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let entry = format!(
        "[\"{ID}\"]\nexpect = \"killed SIGSYS; effects=none\"\n\n[[\"{ID}\".kernels]]\n\
         range = \"<5.0\"\nexpect = \"exit 0; effects=escaped\"\nreason = \"r\"\nknown-bug = true\n"
    );
    let fx = fixtures_with(dir.path(), ID, &entry);
    let t = assert_refused(
        kconform()
            .args(["run", "--quiet", "--filter", ID, "--fixtures"])
            .arg(&fx),
        "must name the fix",
    );
    assert!(t.contains("ret-kill.toml:"), "{t}");
}

#[test]
fn the_bug_catalogue_lists_each_fix_with_its_instances() {
    let out = kconform()
        .args(["bugs", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bugs = json["bugs"].as_array().unwrap();
    assert_eq!(json["count"].as_u64(), Some(bugs.len() as u64));
    let ids: Vec<String> = String::from_utf8(kconform().arg("list").output().unwrap().stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    for b in bugs {
        let commit = b["commit"].as_str().unwrap();
        assert!(
            commit.len() >= 7 && commit.bytes().all(|c| c.is_ascii_hexdigit()),
            "{b}"
        );
        assert!(b["what"].as_str().is_some_and(|w| !w.is_empty()), "{b}");
        for id in b["ids"].as_array().unwrap() {
            assert!(
                ids.iter().any(|i| i == id.as_str().unwrap()),
                "{id} is no scenario's"
            );
        }
    }
    let table = text(&kconform().arg("bugs").output().unwrap());
    assert!(table.contains(&format!("{} bugs (", bugs.len())), "{table}");
}

#[test]
fn a_known_bug_of_an_id_no_scenario_has_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let entry = format!(
        "[\"{ID}\"]\nexpect = \"killed SIGSYS; effects=none\"\n\n\
         [\"ret-kill/no/such/instance\"]\nexpect = \"x\"\n\n[[\"ret-kill/no/such/instance\".kernels]]\n\
         range = \"<5.0\"\nexpect = \"y\"\nreason = \"r\"\ncommit = \"0123456789ab\"\nknown-bug = true\n"
    );
    let fx = fixtures_with(dir.path(), ID, &entry);
    for args in [&["bugs"][..], &["run", "--filter", ID][..]] {
        let t = assert_refused(
            kconform().args(args).arg("--fixtures").arg(&fx),
            "`ret-kill/no/such/instance` records a known bug",
        );
        assert!(t.contains("ret-kill.toml:"), "{t}");
    }
}
