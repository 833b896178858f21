//! Expected behaviour as data: `fixtures/expectations/*.toml`, keyed by
//! scenario id, with kernel-version ranges where Linux legitimately
//! changed, and the verdict that compares an observation with it.
//!
//! ```toml
//! ["sa-immutable/sigaction/after-kill-thread"]
//! expect = "sigaction=EINVAL handler=SIG_DFL"
//!
//! [["sa-immutable/sigaction/after-kill-thread".kernels]]
//! range = "<5.16-rc1"
//! expect = "sigaction=ok handler=handler"
//! reason = "before SA_IMMUTABLE, RET_KILL_THREAD exited without touching the handler"
//! commit = "00b06da29cf9"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::kernel::Version;
use crate::model::{Outcome, SkipClass, Stop};

#[derive(Debug, thiserror::Error)]
pub enum ExpectError {
    #[error("cannot read expectations in {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {problem}")]
    Malformed {
        path: PathBuf,
        line: usize,
        problem: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    expect: String,
    #[serde(default)]
    flaky: Option<String>,
    #[serde(default)]
    kernels: Vec<RawRange>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRange {
    range: String,
    expect: String,
    reason: String,
    #[serde(default)]
    commit: Option<String>,
    /// The behaviour `expect` accepts is a bug, fixed upstream by `commit`.
    #[serde(default)]
    known_bug: bool,
    /// The first release with the fix.
    #[serde(default)]
    fixed_in: Option<String>,
    /// Stable releases that carry the fix, where known.
    #[serde(default)]
    stable: Vec<String>,
    #[serde(default)]
    cve: Option<String>,
}

/// A half-open set of kernel versions: `>=5.16-rc1, <5.16-rc2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    bounds: Vec<(Op, Version)>,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

/// A kernel range that does not parse, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("range `{range}`: {problem}")]
pub struct BadRange {
    pub range: String,
    pub problem: String,
}

impl Range {
    pub fn parse(s: &str) -> Result<Range, BadRange> {
        let bad = |problem: String| BadRange {
            range: s.to_string(),
            problem,
        };
        let mut bounds = Vec::new();
        for part in s.split(',').map(str::trim) {
            let (op, rest) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(p, op)| part.strip_prefix(p).map(|r| (*op, r)))
            .ok_or_else(|| {
                bad(format!(
                    "`{part}` needs an operator (>=, >, <, <=, =) before the version"
                ))
            })?;
            let v: Version = rest
                .trim()
                .parse()
                .map_err(|e: crate::kernel::BadVersion| bad(e.to_string()))?;
            bounds.push((op, v));
        }
        Ok(Range {
            bounds,
            text: s.to_string(),
        })
    }

    /// The bounds, each an operator (`<`, `<=`, `>`, `>=`, `=`) and a
    /// version, all of which a version in the range meets.
    pub fn bounds(&self) -> impl Iterator<Item = (&'static str, Version)> + '_ {
        self.bounds.iter().map(|(op, v)| {
            let op = match op {
                Op::Lt => "<",
                Op::Le => "<=",
                Op::Gt => ">",
                Op::Ge => ">=",
                Op::Eq => "=",
            };
            (op, *v)
        })
    }

    pub fn contains(&self, v: &Version) -> bool {
        self.bounds.iter().all(|(op, b)| match op {
            Op::Lt => v < b,
            Op::Le => v <= b,
            Op::Gt => v > b,
            Op::Ge => v >= b,
            Op::Eq => v == b,
        })
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone)]
pub struct KernelRange {
    pub range: Range,
    pub expect: String,
    pub reason: String,
    pub commit: Option<String>,
    /// When `expect` is a known bug's behaviour: the fix.
    pub bug: Option<KnownBug>,
    /// Where it was defined (its `[[id.kernels]]`).
    pub origin: Origin,
}

/// Where in the fixtures something was defined: `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub path: PathBuf,
    pub line: usize,
}

impl Origin {
    /// The fixture is refused here, for `problem`.
    pub fn malformed(&self, problem: String) -> ExpectError {
        ExpectError::Malformed {
            path: self.path.clone(),
            line: self.line,
            problem,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// One bug of the catalogue the fixtures make: the fix, the range the
/// bug lived in, and every instance whose fixture records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogueEntry {
    #[serde(flatten)]
    pub bug: KnownBug,
    /// The kernels the bug lived in: each distinct range its fixtures
    /// give (one per stable series where a fix was backported).
    pub ranges: Vec<String>,
    /// Every instance that observes it, once each.
    pub ids: Vec<String>,
}

/// A kernel bug a fixture range accepts the behaviour of, and its fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownBug {
    /// The upstream fix commit (abbreviated hash).
    pub commit: String,
    /// The first release with the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<String>,
    /// Stable releases that carry the fix, where known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stable: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cve: Option<String>,
    /// The bug, in a line (the range's reason).
    pub what: String,
}

#[derive(Debug, Clone)]
pub struct Expectation {
    pub expect: String,
    pub flaky: Option<String>,
    pub kernels: Vec<KernelRange>,
    /// Where it was defined, for messages.
    pub origin: Origin,
}

/// What to expect of one instance on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    pub text: String,
    /// Why this kernel expects something other than the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
    /// Where `text` is a known bug's behaviour: the bug, and what a kernel
    /// with the fix (a backport, say) shows instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bug: Option<(KnownBug, String)>,
}

impl Expectation {
    /// The first kernel range that holds the version wins; else the default.
    pub fn for_kernel(&self, version: Option<&Version>) -> Expected {
        if let Some(v) = version {
            for k in &self.kernels {
                if k.range.contains(v) {
                    let commit = k
                        .commit
                        .as_deref()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default();
                    return Expected {
                        text: k.expect.clone(),
                        because: Some(format!("kernel {}: {}{commit}", k.range, k.reason)),
                        bug: k.bug.clone().map(|b| (b, self.expect.clone())),
                    };
                }
            }
        }
        Expected {
            text: self.expect.clone(),
            because: None,
            bug: None,
        }
    }
}

/// Every expectation, by scenario id.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    pub by_id: BTreeMap<String, Expectation>,
}

impl Expectations {
    /// Load every `*.toml` in `dir`, in name order.
    pub fn load_dir(dir: &Path) -> Result<Self, ExpectError> {
        let read_err = |source| ExpectError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut all = Expectations::default();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|source| ExpectError::Read {
                path: f.clone(),
                source,
            })?;
            all.add_file(&f, &text)?;
        }
        Ok(all)
    }

    /// Parse one file's text into the set, refusing duplicates.
    pub fn add_file(&mut self, path: &Path, text: &str) -> Result<(), ExpectError> {
        let origin = |line: usize| Origin {
            path: path.to_path_buf(),
            line,
        };
        let malformed = |line: usize, problem: String| origin(line).malformed(problem);
        let raw: BTreeMap<String, RawEntry> = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(0);
            malformed(line, e.message().trim().to_string())
        })?;
        for (id, entry) in raw {
            let line = line_of_key(text, &id);
            if let Some(prev) = self.by_id.get(&id) {
                return Err(malformed(
                    line,
                    format!("`{id}` is already expected at {}", prev.origin),
                ));
            }
            if entry.expect.trim().is_empty() {
                return Err(malformed(line, format!("`{id}`: `expect` is empty")));
            }
            let mut kernels = Vec::new();
            for (n, k) in entry.kernels.into_iter().enumerate() {
                let at = line_of_range(text, &id, n).unwrap_or(line);
                let bad = |problem: String| malformed(at, format!("`{id}`: {problem}"));
                let range = Range::parse(&k.range).map_err(|p| bad(p.to_string()))?;
                if let Some(c) = &k.commit {
                    check_commit(c).map_err(&bad)?;
                }
                for v in k.fixed_in.iter().chain(&k.stable) {
                    v.parse::<Version>().map_err(|e| bad(e.to_string()))?;
                }
                if let Some(cve) = &k.cve {
                    check_cve(cve).map_err(&bad)?;
                }
                let bug = match (k.known_bug, &k.commit) {
                    (false, _) => {
                        if k.fixed_in.is_some() || !k.stable.is_empty() || k.cve.is_some() {
                            return Err(bad(
                                "`fixed-in`, `stable` and `cve` describe a known bug: add `known-bug = true`".into(),
                            ));
                        }
                        None
                    }
                    (true, None) => return Err(bad(
                        "a `known-bug` range must name the fix: add `commit = \"<12-digit hash>\"`"
                            .into(),
                    )),
                    (true, Some(commit)) => Some(KnownBug {
                        commit: commit.clone(),
                        fixed_in: k.fixed_in,
                        stable: k.stable,
                        cve: k.cve,
                        what: k.reason.clone(),
                    }),
                };
                kernels.push(KernelRange {
                    range,
                    expect: k.expect,
                    reason: k.reason,
                    commit: k.commit,
                    bug,
                    origin: origin(at),
                });
            }
            self.by_id.insert(
                id,
                Expectation {
                    expect: entry.expect,
                    flaky: entry.flaky,
                    kernels,
                    origin: origin(line),
                },
            );
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Expectation> {
        self.by_id.get(id)
    }

    /// The catalogue of known bugs: one entry per fix, its instances in id
    /// order, the entries ordered by the release that fixed them.
    pub fn known_bugs(&self) -> Vec<CatalogueEntry> {
        let mut entries: Vec<CatalogueEntry> = Vec::new();
        for (id, e) in &self.by_id {
            for k in &e.kernels {
                let Some(bug) = &k.bug else { continue };
                let range = k.range.to_string();
                match entries.iter_mut().find(|c| c.bug.commit == bug.commit) {
                    Some(c) => {
                        push_new(&mut c.ranges, range);
                        push_new(&mut c.ids, id.clone());
                        for s in &bug.stable {
                            push_new(&mut c.bug.stable, s.clone());
                        }
                    }
                    None => entries.push(CatalogueEntry {
                        bug: bug.clone(),
                        ranges: vec![range],
                        ids: vec![id.clone()],
                    }),
                }
            }
        }
        let release = |c: &CatalogueEntry| {
            c.bug
                .fixed_in
                .as_deref()
                .and_then(|v| v.parse::<Version>().ok())
        };
        entries.sort_by(|a, b| {
            release(a)
                .cmp(&release(b))
                .then(a.bug.commit.cmp(&b.bug.commit))
        });
        entries
    }

    /// A known bug recorded for an id no scenario has is refused: the
    /// catalogue would name a scenario that cannot observe it.
    pub fn check_known_bug_ids(&self, exists: impl Fn(&str) -> bool) -> Result<(), ExpectError> {
        for (id, e) in &self.by_id {
            if exists(id) {
                continue;
            }
            if let Some(k) = e.kernels.iter().find(|k| k.bug.is_some()) {
                return Err(k.origin.malformed(format!(
                    "`{id}` records a known bug, but no scenario has that id (see `kconform list`)"
                )));
            }
        }
        Ok(())
    }
}

fn push_new(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// An abbreviated or full git commit hash: 7 to 40 lowercase hex digits.
fn check_commit(c: &str) -> Result<(), String> {
    let hex = c
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if (7..=40).contains(&c.len()) && hex {
        Ok(())
    } else {
        Err(format!(
            "commit `{c}` is not a commit hash (7 to 40 lowercase hex digits, e.g. 00b06da29cf9)"
        ))
    }
}

/// `CVE-YYYY-NNNN...`.
fn check_cve(cve: &str) -> Result<(), String> {
    let ok = cve.strip_prefix("CVE-").is_some_and(|rest| {
        rest.split_once('-').is_some_and(|(y, n)| {
            y.len() == 4
                && n.len() >= 4
                && y.bytes().all(|b| b.is_ascii_digit())
                && n.bytes().all(|b| b.is_ascii_digit())
        })
    });
    if ok {
        Ok(())
    } else {
        Err(format!("`{cve}` is not a CVE id (CVE-YYYY-NNNN)"))
    }
}

/// The line of the `n`th `[["id".kernels]]` table.
fn line_of_range(text: &str, id: &str, n: usize) -> Option<usize> {
    let needle = format!("[[\"{id}\".kernels]]");
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == needle)
        .nth(n)
        .map(|(i, _)| i + 1)
}

fn line_of_key(text: &str, id: &str) -> usize {
    let needle = format!("[\"{id}\"]");
    text.lines()
        .position(|l| l.trim() == needle)
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// The status of one instance on one kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    Skip,
    Error,
    /// The kernel does what a known bug does: a fixture range accepts
    /// it, naming the fix this kernel lacks. Neither a pass nor a fail.
    KnownBug,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
            Status::KnownBug => "known-bug",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    pub expected: Option<Expected>,
    /// For skip and error: why.
    pub reason: Option<String>,
    pub skip_class: Option<SkipClass>,
}

/// Compare what happened with what was expected.
pub fn judge(outcome: &Outcome, expected: Option<Expected>) -> Verdict {
    match outcome {
        Err(Stop::Skip { reason, class }) => Verdict {
            status: Status::Skip,
            expected,
            reason: Some(reason.clone()),
            skip_class: Some(*class),
        },
        Err(Stop::Error(why)) => Verdict {
            status: Status::Error,
            expected,
            reason: Some(why.clone()),
            skip_class: None,
        },
        Ok(obs) => match expected {
            None => Verdict {
                status: Status::Error,
                expected: None,
                reason: Some("no expectation for this id in fixtures/expectations: add one".into()),
                skip_class: None,
            },
            Some(exp) => {
                let Some((bug, fixed)) = exp.bug.clone() else {
                    return Verdict {
                        status: if exp.text == obs.text {
                            Status::Pass
                        } else {
                            Status::Fail
                        },
                        expected: Some(exp),
                        reason: None,
                        skip_class: None,
                    };
                };
                // A kernel in a known bug's range shows the bug, or the
                // fixed behaviour where the fix was backported; what Linux
                // promises is the fixed one either way.
                let status = if obs.text == exp.text {
                    Status::KnownBug
                } else if obs.text == fixed {
                    Status::Pass
                } else {
                    Status::Fail
                };
                let release = bug
                    .fixed_in
                    .as_deref()
                    .map(|r| format!(" in {r}"))
                    .unwrap_or_default();
                let because = format!(
                    "{}; the known bug's behaviour ({}) is reported as known-bug, fixed by {}{release}",
                    exp.because.clone().unwrap_or_default(),
                    exp.text,
                    bug.commit
                );
                Verdict {
                    status,
                    expected: Some(Expected {
                        text: fixed,
                        because: Some(because),
                        bug: Some((bug, exp.text)),
                    }),
                    reason: None,
                    skip_class: None,
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Observation;

    fn load(text: &str) -> Result<Expectations, ExpectError> {
        let mut e = Expectations::default();
        e.add_file(Path::new("fixtures/expectations/x.toml"), text)?;
        Ok(e)
    }

    const SAMPLE: &str = r#"
["a/b"]
expect = "exit 0"

["sa/c"]
expect = "stop SIGSYS -> exit 0"

[["sa/c".kernels]]
range = ">=5.16-rc1, <5.16-rc2"
expect = "killed SIGSYS"
reason = "SA_IMMUTABLE hid forced signals from tracers"
commit = "00b06da29cf9"
"#;

    #[test]
    fn kernel_ranges_pick_the_expectation() {
        let e = load(SAMPLE).unwrap();
        let c = e.get("sa/c").unwrap();
        let rc1: Version = "5.16.0-rc1".parse().unwrap();
        let rc2: Version = "5.16.0-rc2".parse().unwrap();
        let got = c.for_kernel(Some(&rc1));
        assert_eq!(got.text, "killed SIGSYS");
        assert_eq!(
            got.because.as_deref(),
            Some("kernel >=5.16-rc1, <5.16-rc2: SA_IMMUTABLE hid forced signals from tracers (00b06da29cf9)")
        );
        assert_eq!(c.for_kernel(Some(&rc2)).text, "stop SIGSYS -> exit 0");
        assert_eq!(c.for_kernel(None).text, "stop SIGSYS -> exit 0");
        assert_eq!(c.origin.to_string(), "fixtures/expectations/x.toml:5");
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let err = load("[\"a\"]\nexpect = \"x\"\n\n[\"b\"]\nexpect = \n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("fixtures/expectations/x.toml:5: "), "{msg}");
    }

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let err = load("[\"a\"]\nexpect = \"x\"\nexpcet = \"y\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("fixtures/expectations/x.toml:"), "{msg}");
        assert!(msg.contains("expcet"), "{msg}");
    }

    #[test]
    fn bad_range_names_the_entry() {
        let text = "[\"a\"]\nexpect = \"x\"\n[[\"a\".kernels]]\nrange = \"5.16\"\nexpect = \"y\"\nreason = \"r\"\n";
        let msg = load(text).unwrap_err().to_string();
        assert_eq!(
            msg,
            "fixtures/expectations/x.toml:3: `a`: range `5.16`: `5.16` needs an operator (>=, >, <, <=, =) before the version"
        );
    }

    #[test]
    fn duplicate_ids_across_files_are_refused() {
        let mut e = load(SAMPLE).unwrap();
        let err = e
            .add_file(Path::new("y.toml"), "[\"a/b\"]\nexpect = \"exit 1\"\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "y.toml:1: `a/b` is already expected at fixtures/expectations/x.toml:2"
        );
    }

    const KNOWN_BUG: &str = r#"
["tsync/dead-leader/own-filter"]
expect = "fixed"

[["tsync/dead-leader/own-filter".kernels]]
range = "<6.9"
expect = "buggy"
reason = "filters were released only when the whole group was reaped"
commit = "bfafe5efa975"
known-bug = true
fixed-in = "6.9"
stable = ["6.6.30"]
"#;

    #[test]
    fn a_known_bug_is_neither_a_pass_nor_a_fail() {
        let e = load(KNOWN_BUG).unwrap();
        let x = e.get("tsync/dead-leader/own-filter").unwrap();
        let on = |v: &str, obs: &str| {
            let version: Version = v.parse().unwrap();
            judge(
                &Ok(Observation::new(obs)),
                Some(x.for_kernel(Some(&version))),
            )
        };
        let old = on("6.1.90", "buggy");
        assert_eq!(old.status, Status::KnownBug);
        assert_eq!(old.expected.as_ref().unwrap().text, "fixed");
        assert_eq!(old.expected.unwrap().bug.unwrap().0.commit, "bfafe5efa975");
        // The fix backported into the old series: a pass.
        assert_eq!(on("6.1.92", "fixed").status, Status::Pass);
        assert_eq!(on("6.1.92", "other").status, Status::Fail);
        // Past the fix, the bug's behaviour is a plain failure.
        assert_eq!(on("6.12", "buggy").status, Status::Fail);
        assert_eq!(on("6.12", "fixed").status, Status::Pass);
    }

    #[test]
    fn a_known_bug_must_name_its_fix_well() {
        let without = KNOWN_BUG.replace("commit = \"bfafe5efa975\"\n", "");
        let err = load(&without).unwrap_err().to_string();
        assert!(
            err.starts_with("fixtures/expectations/x.toml:5:") && err.contains("must name the fix"),
            "{err}"
        );
        let bad = KNOWN_BUG.replace("bfafe5efa975", "not-a-hash");
        let err = load(&bad).unwrap_err().to_string();
        assert!(
            err.contains(":5:") && err.contains("not a commit hash"),
            "{err}"
        );
        let stray = KNOWN_BUG.replace("known-bug = true\n", "");
        assert!(load(&stray)
            .unwrap_err()
            .to_string()
            .contains("add `known-bug = true`"));
        let cve = KNOWN_BUG.replace("known-bug = true", "known-bug = true\ncve = \"CVE-22-1\"");
        assert!(load(&cve).unwrap_err().to_string().contains("not a CVE id"));
    }

    /// A fix backported to stable series is recorded as one range per
    /// series, often on several instances: the catalogue still has one
    /// entry, every range once, every instance once, every stable release.
    #[test]
    fn a_bug_split_per_stable_series_is_one_catalogue_entry() {
        let range = |id: &str, r: &str, stable: &str| {
            format!(
                "[[\"{id}\".kernels]]\nrange = \"{r}\"\nexpect = \"bug\"\nreason = \"the bug\"\n\
                 commit = \"31e62c2ebbfd\"\nknown-bug = true\nstable = [\"{stable}\"]\n"
            )
        };
        let text = format!(
            "[\"p/a\"]\nexpect = \"ok\"\n{}{}[\"p/b\"]\nexpect = \"ok\"\n{}{}",
            range("p/a", "<5.10.256", "5.10.256"),
            range("p/a", ">=5.11, <6.1.173", "6.1.173"),
            range("p/b", "<5.10.256", "5.10.256"),
            range("p/b", ">=5.11, <6.1.173", "6.1.173"),
        );
        let bugs = load(&text).unwrap().known_bugs();
        assert_eq!(bugs.len(), 1, "{bugs:?}");
        assert_eq!(bugs[0].ranges, ["<5.10.256", ">=5.11, <6.1.173"]);
        assert_eq!(bugs[0].ids, ["p/a", "p/b"]);
        assert_eq!(bugs[0].bug.stable, ["5.10.256", "6.1.173"]);
    }

    #[test]
    fn verdicts() {
        let exp = Some(Expected {
            text: "exit 0".into(),
            because: None,
            bug: None,
        });
        assert_eq!(
            judge(&Ok(Observation::new("exit 0")), exp.clone()).status,
            Status::Pass
        );
        assert_eq!(
            judge(&Ok(Observation::new("exit 1")), exp.clone()).status,
            Status::Fail
        );
        assert_eq!(
            judge(&Err(Stop::lacks("no")), exp.clone()).status,
            Status::Skip
        );
        assert_eq!(judge(&Err(Stop::error("broke")), exp).status, Status::Error);
        let none = judge(&Ok(Observation::new("exit 0")), None);
        assert_eq!(none.status, Status::Error);
        assert!(none.reason.unwrap().contains("no expectation"));
    }
}
