//! Two reports side by side: what regressed, what was fixed, what came
//! and went. The gate a distribution puts between an old kernel and a new
//! one: any regression fails it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kconform_core::expect::Status;
use kconform_core::record::{Conclusion, Report, ResultRecord};

/// How one id differs between the two reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Passed before, fails or breaks now; or, not passing on either, the
    /// kernel now does something else than before.
    Regression,
    /// Failed or broke before, passes now.
    Fix,
    /// Ran before, skipped now (an option or feature went missing).
    NowSkipped,
    /// Would be a regression, but the fixtures mark the id known-flaky.
    Flaky,
    /// Both conform, to different expectations: Linux changed on purpose
    /// (or a known bug was fixed) between the two kernels.
    ChangedAsExpected,
    /// Only in the new report.
    Added,
    /// Only in the old report.
    Removed,
}

impl Change {
    pub fn label(self) -> &'static str {
        match self {
            Change::Regression => "REGRESSION",
            Change::Fix => "FIXED",
            Change::NowSkipped => "NOW SKIPPED",
            Change::Flaky => "FLAKY (not counted)",
            Change::ChangedAsExpected => "CHANGED AS EXPECTED",
            Change::Added => "ADDED",
            Change::Removed => "REMOVED",
        }
    }
}

/// One changed id, with both sides when there are two.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    pub id: &'a str,
    pub change: Change,
    pub old: Option<&'a ResultRecord>,
    pub new: Option<&'a ResultRecord>,
}

pub struct Diff<'a> {
    pub old: &'a Report,
    pub new: &'a Report,
    /// Changed ids, regressions first, then by id.
    pub entries: Vec<Entry<'a>>,
    pub unchanged: usize,
}

impl Diff<'_> {
    pub fn count(&self, c: Change) -> usize {
        self.entries.iter().filter(|e| e.change == c).count()
    }

    /// 1 when anything regressed, else 0: what a gate checks.
    /// A gate fails on any regression.
    pub fn conclusion(&self) -> Conclusion {
        if self.count(Change::Regression) > 0 {
            Conclusion::Fails
        } else {
            Conclusion::Conforms
        }
    }
}

pub fn diff<'a>(old: &'a Report, new: &'a Report) -> Diff<'a> {
    let olds: BTreeMap<&str, &ResultRecord> =
        old.results.iter().map(|r| (r.id.as_str(), r)).collect();
    let news: BTreeMap<&str, &ResultRecord> =
        new.results.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut entries = Vec::new();
    let mut unchanged = 0;
    for (&id, &o) in &olds {
        let Some(&n) = news.get(id) else {
            entries.push(Entry {
                id,
                change: Change::Removed,
                old: Some(o),
                new: None,
            });
            continue;
        };
        match classify(o, n) {
            Some(Change::Regression) if n.flaky.is_some() => entries.push(Entry {
                id,
                change: Change::Flaky,
                old: Some(o),
                new: Some(n),
            }),
            Some(change) => entries.push(Entry {
                id,
                change,
                old: Some(o),
                new: Some(n),
            }),
            None => unchanged += 1,
        }
    }
    for (&id, &n) in &news {
        if !olds.contains_key(id) {
            entries.push(Entry {
                id,
                change: Change::Added,
                old: None,
                new: Some(n),
            });
        }
    }
    entries.sort_by(|a, b| (a.change, a.id).cmp(&(b.change, b.id)));
    Diff {
        old,
        new,
        entries,
        unchanged,
    }
}

fn classify(o: &ResultRecord, n: &ResultRecord) -> Option<Change> {
    use Status::*;
    // A known bug is not a pass: a kernel that starts to show one has
    // regressed, one that stops has been fixed.
    let broken = |s: Status| matches!(s, Fail | Error | KnownBug);
    match (o.status, n.status) {
        (Pass, s) if broken(s) => Some(Change::Regression),
        (s, Pass) if broken(s) => Some(Change::Fix),
        (Pass | Fail | Error | KnownBug, Skip) => Some(Change::NowSkipped),
        (Pass, Pass) if o.observed != n.observed => Some(Change::ChangedAsExpected),
        // Same verdict, yet the kernel did something else: in a gate,
        // behaviour that moved is what someone must look at.
        _ if o.observed.is_some() && n.observed.is_some() && o.observed != n.observed => {
            Some(Change::Regression)
        }
        _ => None,
    }
}

/// The diff as a person reads it: each change with old and new side by side.
pub fn render(d: &Diff) -> String {
    let side = |r: &Report| format!("{} ({})", r.kernel.spec, r.kernel.release);
    let (old_name, new_name) = (side(d.old), side(d.new));
    let width = old_name.len().max(new_name.len());
    let mut out = format!("old: {old_name}\nnew: {new_name}\n");
    for e in &d.entries {
        let _ = writeln!(out, "\n{} {}", e.change.label(), e.id);
        for (name, rec) in [(&old_name, e.old), (&new_name, e.new)] {
            if let Some(r) = rec {
                let what = r.observed.as_deref().or(r.reason.as_deref()).unwrap_or("");
                let _ = writeln!(out, "  {name:<width$}  {:<5} {what}", r.status.as_str());
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{} regressions, {} fixed, {} now skipped, {} changed as expected, {} flaky, {} added, {} removed, {} unchanged",
        d.count(Change::Regression),
        d.count(Change::Fix),
        d.count(Change::NowSkipped),
        d.count(Change::ChangedAsExpected),
        d.count(Change::Flaky),
        d.count(Change::Added),
        d.count(Change::Removed),
        d.unchanged
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::fixed_report;

    /// The fixed report on a "newer" kernel: one fix, one regression by a
    /// changed observation, one by a failing verdict, one added, one removed.
    fn newer() -> Report {
        let mut r = fixed_report();
        r.kernel.spec = "debian:sid".into();
        r.kernel.release = "7.2.13+deb14-cloud-amd64".into();
        for x in &mut r.results {
            match x.id.as_str() {
                "ret-kill/kill-process/single/untraced" => {
                    x.status = Status::Pass;
                    x.observed = x.expected.clone();
                }
                "sa-immutable/trap/ignored/traceme/suppress" => {
                    x.status = Status::Fail;
                    x.observed = Some("killed SIGSYS".into());
                }
                "ptrace-attach/kthreads/seize/unprivileged" => {
                    x.observed = Some("refused all EPERM,ESRCH".into());
                    x.expected = x.observed.clone();
                }
                _ => {}
            }
        }
        r.results.retain(|x| x.id != "tsync/ancestor/sibling");
        let mut added = r.results[0].clone();
        added.id = "sa-immutable/new/scenario".into();
        added.status = Status::Pass;
        r.results.push(added);
        r
    }

    #[test]
    fn changes_are_classified() {
        let (old, new) = (fixed_report(), newer());
        let d = diff(&old, &new);
        let got: Vec<(Change, &str)> = d.entries.iter().map(|e| (e.change, e.id)).collect();
        assert_eq!(
            got,
            [
                (
                    Change::Regression,
                    "sa-immutable/trap/ignored/traceme/suppress"
                ),
                (Change::Fix, "ret-kill/kill-process/single/untraced"),
                (
                    Change::ChangedAsExpected,
                    "ptrace-attach/kthreads/seize/unprivileged"
                ),
                (Change::Added, "sa-immutable/new/scenario"),
                (Change::Removed, "tsync/ancestor/sibling"),
            ]
        );
        // The skip, and the known bug seen on both sides.
        assert_eq!(d.unchanged, 2);
        assert_eq!(d.conclusion(), Conclusion::Fails);
    }

    #[test]
    fn a_known_bug_appearing_is_a_regression_and_going_is_a_fix() {
        let old = fixed_report();
        let mut new = old.clone();
        let at = |r: &Report| {
            r.results
                .iter()
                .position(|x| x.status == Status::Pass)
                .unwrap()
        };
        let k = at(&new);
        new.results[k].status = Status::KnownBug;
        let d = diff(&old, &new);
        assert_eq!(d.count(Change::Regression), 1);
        assert_eq!(d.conclusion(), Conclusion::Fails);
        let d = diff(&new, &old);
        assert_eq!(d.count(Change::Fix), 1);
        assert_eq!(d.conclusion(), Conclusion::Conforms);
    }

    #[test]
    fn a_known_flaky_id_does_not_fail_the_gate() {
        let old = fixed_report();
        let mut new = newer();
        for r in &mut new.results {
            if r.id == "sa-immutable/trap/ignored/traceme/suppress" {
                r.flaky = Some("known to race".into());
            }
        }
        let d = diff(&old, &new);
        assert_eq!(d.count(Change::Regression), 0);
        assert_eq!(d.count(Change::Flaky), 1);
        assert_eq!(d.conclusion(), Conclusion::Conforms);
    }

    #[test]
    fn a_report_against_itself_has_no_changes() {
        let r = fixed_report();
        let d = diff(&r, &r);
        assert!(d.entries.is_empty());
        assert_eq!(d.conclusion(), Conclusion::Conforms);
    }

    #[test]
    fn rendered_diff_is_stable() {
        let (old, new) = (fixed_report(), newer());
        insta::assert_snapshot!(render(&diff(&old, &new)));
    }
}
