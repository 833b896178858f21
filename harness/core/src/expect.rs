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
#[serde(deny_unknown_fields)]
struct RawRange {
    range: String,
    expect: String,
    reason: String,
    #[serde(default)]
    commit: Option<String>,
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
}

#[derive(Debug, Clone)]
pub struct Expectation {
    pub expect: String,
    pub flaky: Option<String>,
    pub kernels: Vec<KernelRange>,
    /// Where it was defined, for messages.
    pub origin: String,
}

/// What to expect of one instance on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    pub text: String,
    /// Why this kernel expects something other than the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
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
                    };
                }
            }
        }
        Expected {
            text: self.expect.clone(),
            because: None,
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
        let malformed = |line: usize, problem: String| ExpectError::Malformed {
            path: path.to_path_buf(),
            line,
            problem,
        };
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
            for k in entry.kernels {
                let range =
                    Range::parse(&k.range).map_err(|p| malformed(line, format!("`{id}`: {p}")))?;
                kernels.push(KernelRange {
                    range,
                    expect: k.expect,
                    reason: k.reason,
                    commit: k.commit,
                });
            }
            self.by_id.insert(
                id,
                Expectation {
                    expect: entry.expect,
                    flaky: entry.flaky,
                    kernels,
                    origin: format!("{}:{line}", path.display()),
                },
            );
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Expectation> {
        self.by_id.get(id)
    }
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
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
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
            Some(exp) => Verdict {
                status: if exp.text == obs.text {
                    Status::Pass
                } else {
                    Status::Fail
                },
                expected: Some(exp),
                reason: None,
                skip_class: None,
            },
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
        assert_eq!(c.origin, "fixtures/expectations/x.toml:5");
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
            "fixtures/expectations/x.toml:1: `a`: range `5.16`: `5.16` needs an operator (>=, >, <, <=, =) before the version"
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

    #[test]
    fn verdicts() {
        let exp = Some(Expected {
            text: "exit 0".into(),
            because: None,
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
