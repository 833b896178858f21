//! `git bisect` driven from kconform: the kernel tree's own bisect state
//! (refs/bisect, `git bisect log`) does the bookkeeping, so a bisect that
//! kconform drives is one a kernel developer can inspect, replay or take
//! over by hand. This module knows git, not scenarios: the caller tests
//! each revision and says good, bad or skip.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum BisectError {
    #[error("{tree}: not a git work tree ({detail}); bisect needs the kernel's git history: `git clone` the kernel, or run ci/bisect-demo for a demonstration history")]
    NotGit { tree: PathBuf, detail: String },
    #[error("{tree}: a bisect is already in progress there; finish it or `git -C {tree} bisect reset`, then run again")]
    InProgress { tree: PathBuf },
    #[error("{tree}: the work tree has uncommitted changes to tracked files; commit or `git stash` them first (each step checks out another revision)\n{changes}")]
    Dirty { tree: PathBuf, changes: String },
    #[error("{tree}: `{rev}` is not a commit there ({detail})")]
    UnknownRev {
        tree: PathBuf,
        rev: String,
        detail: String,
    },
    #[error("good {good} is not an ancestor of bad {bad}: are they swapped? bisect looks for the first bad commit after a good one")]
    NotAncestor { good: String, bad: String },
    #[error("good and bad are the same commit {0}: nothing to bisect")]
    Same(String),
    #[error("`git {args}` in {tree} failed: {detail}")]
    Git {
        tree: PathBuf,
        args: String,
        detail: String,
        stdout: String,
    },
}

const ONLY_SKIPPED: &str = "only 'skip'ped commits left";

/// What the tester made of one revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Good,
    Bad,
    /// Cannot be tested (does not build, does not boot): `git bisect skip`.
    Skip,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Good => "good",
            Verdict::Bad => "bad",
            Verdict::Skip => "skip",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What git wants next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Test the revision now checked out.
    Test(String),
    /// Bisect is over: this is the first bad commit.
    FirstBad(String),
    /// Only skipped commits are left; the first bad one is among these.
    OnlySkipped(Vec<String>),
}

/// A bisect in progress in `tree`. Dropping it runs `git bisect reset`,
/// which puts back the branch or commit that was checked out before.
pub struct GitBisect {
    tree: PathBuf,
    pub good: String,
    pub bad: String,
    /// Commits in good..bad: the candidates for the first bad one.
    pub commits: usize,
}

impl GitBisect {
    /// Check the tree and the revisions, then `git bisect start BAD GOOD`.
    pub fn start(tree: &Path, good: &str, bad: &str) -> Result<(GitBisect, Next), BisectError> {
        let tree = tree.to_path_buf();
        git(&tree, &["rev-parse", "--show-toplevel"]).map_err(|e| BisectError::NotGit {
            tree: tree.clone(),
            detail: e.detail(),
        })?;
        let git_dir = PathBuf::from(git(&tree, &["rev-parse", "--absolute-git-dir"])?);
        if git_dir.join("BISECT_START").exists() {
            return Err(BisectError::InProgress { tree });
        }
        let changes = git(&tree, &["status", "--porcelain", "--untracked-files=no"])?;
        if !changes.is_empty() {
            return Err(BisectError::Dirty { tree, changes });
        }
        let good = resolve(&tree, good)?;
        let bad = resolve(&tree, bad)?;
        if good == bad {
            return Err(BisectError::Same(good));
        }
        let ancestor = Command::new("git")
            .arg("-C")
            .arg(&tree)
            .args(["merge-base", "--is-ancestor", &good, &bad])
            .status()
            .map_err(|e| BisectError::Git {
                tree: tree.clone(),
                args: "merge-base".into(),
                detail: e.to_string(),
                stdout: String::new(),
            })?;
        if !ancestor.success() {
            return Err(BisectError::NotAncestor { good, bad });
        }
        let commits: usize = git(&tree, &["rev-list", "--count", &format!("{good}..{bad}")])?
            .parse()
            .unwrap_or(0);
        let out = git(&tree, &["bisect", "start", &bad, &good])?;
        let b = GitBisect {
            tree,
            good,
            bad,
            commits,
        };
        let next = b.next(&out)?;
        Ok((b, next))
    }

    /// Tell git what the checked-out revision did.
    pub fn mark(&self, verdict: Verdict) -> Result<Next, BisectError> {
        match git(&self.tree, &["bisect", verdict.as_str()]) {
            Ok(out) => self.next(&out),
            // git exits 2 when it cannot go on, and says why on stdout.
            Err(BisectError::Git { ref stdout, .. }) if stdout.contains(ONLY_SKIPPED) => {
                self.next(stdout)
            }
            Err(e) => Err(e),
        }
    }

    /// Check out a revision outside git's choice (to observe an endpoint).
    pub fn checkout(&self, rev: &str) -> Result<(), BisectError> {
        git(&self.tree, &["checkout", "-q", "--detach", rev]).map(drop)
    }

    /// `git bisect log`: the record a developer can replay.
    pub fn log(&self) -> Result<String, BisectError> {
        git(&self.tree, &["bisect", "log"])
    }

    /// The first parent of `rev`.
    pub fn parent(&self, rev: &str) -> Result<String, BisectError> {
        resolve(&self.tree, &format!("{rev}^"))
    }

    /// `abbrev subject` of a commit, for people.
    pub fn describe(&self, rev: &str) -> String {
        self.log_line(rev, "%h %s")
    }

    /// `sha subject`, the full id: for the lines that name the answer.
    pub fn describe_full(&self, rev: &str) -> String {
        self.log_line(rev, "%H %s")
    }

    fn log_line(&self, rev: &str, format: &str) -> String {
        log_line(&self.tree, rev, format).unwrap_or_else(|| rev.to_string())
    }

    fn next(&self, out: &str) -> Result<Next, BisectError> {
        if let Some(line) = out
            .lines()
            .find(|l| l.ends_with(" is the first bad commit"))
        {
            let sha = line.split_whitespace().next().unwrap_or_default();
            return Ok(Next::FirstBad(resolve(&self.tree, sha)?));
        }
        if out.contains(ONLY_SKIPPED) {
            let shas = out
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|w| w.len() == 40 && w.chars().all(|c| c.is_ascii_hexdigit()))
                .map(str::to_string)
                .collect();
            return Ok(Next::OnlySkipped(shas));
        }
        Ok(Next::Test(resolve(&self.tree, "HEAD")?))
    }
}

impl Drop for GitBisect {
    fn drop(&mut self) {
        if let Err(e) = git(&self.tree, &["bisect", "reset"]) {
            eprintln!("kconform: {e}");
        }
    }
}

/// One `git log -1 --format=FORMAT REV` line, None outside a git tree.
pub fn log_line(tree: &Path, rev: &str, format: &str) -> Option<String> {
    git(tree, &["log", "-1", &format!("--format={format}"), rev]).ok()
}

fn resolve(tree: &Path, rev: &str) -> Result<String, BisectError> {
    git(
        tree,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map_err(|e| BisectError::UnknownRev {
        tree: tree.to_path_buf(),
        rev: rev.to_string(),
        detail: match e.detail() {
            d if d.is_empty() => "no such revision".into(),
            d => d,
        },
    })
}

impl BisectError {
    fn detail(&self) -> String {
        match self {
            BisectError::Git { detail, .. } => detail.clone(),
            other => other.to_string(),
        }
    }
}

/// Run git in `tree`; stdout, trimmed, or its stderr as the error.
fn git(tree: &Path, args: &[&str]) -> Result<String, BisectError> {
    let fail = |detail: String, stdout: String| BisectError::Git {
        tree: tree.to_path_buf(),
        args: args.join(" "),
        detail,
        stdout,
    };
    let out = Command::new("git")
        .arg("-C")
        .arg(tree)
        .args(args)
        .output()
        .map_err(|e| {
            fail(
                format!("cannot run git: {e} (apt-get install git)"),
                String::new(),
            )
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
            stdout,
        ));
    }
    Ok(stdout)
}

/// Tests that lay out small git histories in temporary directories.
#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .output()
            .unwrap();
        assert!(ok.status.success(), "{:?}", ok);
    }

    /// A history of `n` commits; file `state` says "bad" from commit `bad_from` on.
    fn history(n: usize, bad_from: usize) -> (tempfile::TempDir, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        sh(dir.path(), &["init", "-q"]);
        let mut shas = Vec::new();
        for i in 0..n {
            let state = if i >= bad_from { "bad" } else { "good" };
            std::fs::write(dir.path().join("state"), state).unwrap();
            std::fs::write(dir.path().join("n"), i.to_string()).unwrap();
            sh(dir.path(), &["add", "."]);
            sh(dir.path(), &["commit", "-q", "-m", &format!("commit {i}")]);
            shas.push(resolve(dir.path(), "HEAD").unwrap());
        }
        (dir, shas)
    }

    fn judge(dir: &Path) -> Verdict {
        match std::fs::read_to_string(dir.join("state")).unwrap().as_str() {
            "bad" => Verdict::Bad,
            _ => Verdict::Good,
        }
    }

    #[test]
    fn finds_the_first_bad_commit_and_resets() {
        for bad_from in 1..9 {
            let (dir, shas) = history(9, bad_from);
            let (b, mut next) = GitBisect::start(dir.path(), &shas[0], &shas[8]).unwrap();
            assert_eq!(b.commits, 8);
            let mut steps = 0;
            let first_bad = loop {
                match next {
                    Next::Test(_) => {
                        steps += 1;
                        next = b.mark(judge(dir.path())).unwrap();
                    }
                    Next::FirstBad(sha) => break sha,
                    Next::OnlySkipped(s) => panic!("only skipped: {s:?}"),
                }
            };
            assert_eq!(first_bad, shas[bad_from], "bad from {bad_from}");
            assert!(steps <= 3, "{steps} steps for 8 commits");
            drop(b);
            assert_eq!(resolve(dir.path(), "HEAD").unwrap(), shas[8]);
            assert!(!dir.path().join(".git/BISECT_START").exists());
        }
    }

    #[test]
    fn skipped_commits_are_named_when_they_hide_the_answer() {
        let (dir, shas) = history(4, 2);
        let (b, mut next) = GitBisect::start(dir.path(), &shas[0], &shas[3]).unwrap();
        let left = loop {
            match next {
                Next::Test(_) => next = b.mark(Verdict::Skip).unwrap(),
                Next::OnlySkipped(s) => break s,
                Next::FirstBad(s) => panic!("named {s} without testing anything"),
            }
        };
        assert!(left.contains(&shas[2]), "{left:?}");
    }

    #[test]
    fn refuses_bad_input_with_what_to_do() {
        let plain = tempfile::tempdir().unwrap();
        let e = GitBisect::start(plain.path(), "a", "b").err().unwrap();
        assert!(matches!(e, BisectError::NotGit { .. }), "{e}");
        assert!(e.to_string().contains("git clone"), "{e}");

        let (dir, shas) = history(3, 1);
        let e = GitBisect::start(dir.path(), &shas[2], &shas[0])
            .err()
            .unwrap();
        assert!(e.to_string().contains("swapped"), "{e}");
        let e = GitBisect::start(dir.path(), "v9.9", &shas[2])
            .err()
            .unwrap();
        assert!(matches!(e, BisectError::UnknownRev { .. }), "{e}");
        let e = GitBisect::start(dir.path(), &shas[1], &shas[1])
            .err()
            .unwrap();
        assert!(matches!(e, BisectError::Same(_)), "{e}");

        std::fs::write(dir.path().join("state"), "edited").unwrap();
        let e = GitBisect::start(dir.path(), &shas[0], &shas[2])
            .err()
            .unwrap();
        assert!(e.to_string().contains("git stash"), "{e}");
        sh(dir.path(), &["checkout", "-q", "--", "state"]);

        let (b, _) = GitBisect::start(dir.path(), &shas[0], &shas[2]).unwrap();
        let e = GitBisect::start(dir.path(), &shas[0], &shas[2])
            .err()
            .unwrap();
        assert!(matches!(e, BisectError::InProgress { .. }), "{e}");
        drop(b);
    }
}
