//! The model of filter ancestry and the runner that puts the same steps
//! to the kernel; public so `suites/tests/tsync_model.rs` can drive them
//! as a proptest with shrinking.

use std::collections::HashMap;

use proptest::collection::vec;
use proptest::prelude::*;

use kconform_core::{Observation, Stop};

use crate::kit::crew::{in_subject, Crew};
use crate::kit::seccomp::FLAG_TSYNC_ESRCH;
use crate::kit::trace::errno_name;
use crate::tsync::{probe, tsync};

/// How many cases the guest scenario runs. Each costs tens of
/// milliseconds under QEMU's TCG, where this scenario runs on every
/// kernel of a matrix; the proptest (suites/tests/tsync_model.rs)
/// explores many more natively.
pub const CASES: usize = 12;
/// The most threads a case grows to (spawns past it are dropped).
pub const MAX_THREADS: usize = 6;

/// One generated operation. Thread numbers are taken modulo the
/// number of threads alive at that point, so every sequence is valid
/// and shrinks well.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Thread `by` creates a thread, which inherits its filter.
    Spawn { by: usize },
    /// Thread `by` stacks a new filter on its own.
    Install { by: usize },
    /// Thread `by` tries TSYNC of a new filter.
    Tsync { by: usize, esrch: bool },
}

/// Random operation sequences: a few threads first, then anything,
/// always ending with a TSYNC.
pub fn ops() -> impl Strategy<Value = Vec<Op>> {
    let t = 0..MAX_THREADS;
    let op = prop_oneof![
        3 => t.clone().prop_map(|by| Op::Spawn { by }),
        3 => t.clone().prop_map(|by| Op::Install { by }),
        2 => (t.clone(), any::<bool>()).prop_map(|(by, esrch)| Op::Tsync { by, esrch }),
    ];
    let spawn = t.clone().prop_map(|by| Op::Spawn { by });
    (vec(spawn, 1..4), vec(op, 0..10), t, any::<bool>()).prop_map(|(mut ops, rest, by, esrch)| {
        ops.extend(rest);
        ops.push(Op::Tsync { by, esrch });
        ops
    })
}

/// The guest's cases: the first `n` values of [`ops`] from a fixed seed.
pub fn fixed_cases(n: usize) -> Vec<Vec<Op>> {
    crate::kit::model::seeded_cases(ops(), n)
}

/// An operation with its thread resolved; its filter id is its index
/// in the step list plus one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Spawn { by: usize },
    Install { by: usize },
    Tsync { by: usize, esrch: bool },
}

/// Resolve thread numbers against the threads alive at each point.
pub fn resolve(ops: &[Op]) -> Vec<Step> {
    let mut threads = 1;
    let mut steps = Vec::new();
    for op in ops {
        match *op {
            Op::Spawn { by } if threads < MAX_THREADS => {
                steps.push(Step::Spawn { by: by % threads });
                threads += 1;
            }
            Op::Spawn { .. } => {}
            Op::Install { by } => steps.push(Step::Install { by: by % threads }),
            Op::Tsync { by, esrch } => steps.push(Step::Tsync {
                by: by % threads,
                esrch,
            }),
        }
    }
    steps
}

/// Steps as compact text: `s0` spawn by main, `i2` install by
/// sibling-2, `t1` TSYNC by sibling-1, `T1` the same with TSYNC_ESRCH.
pub fn describe(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| match *s {
            Step::Spawn { by } => format!("s{by}"),
            Step::Install { by } => format!("i{by}"),
            Step::Tsync { by, esrch: false } => format!("t{by}"),
            Step::Tsync { by, esrch: true } => format!("T{by}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// What the kernel answered one TSYNC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Synced,
    /// It returned the tid of this thread (an index into the crew).
    Refused(usize),
    Esrch,
    Other(String),
}

/// What the model expects of one TSYNC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    Synced,
    /// Refused, naming any one of these threads.
    RefusedBy(Vec<usize>),
    Esrch,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prediction {
    pub tsyncs: Vec<Expect>,
    /// Each thread's newest filter id at the end (0: none).
    pub newest: Vec<u32>,
}

/// The kernel's side of a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelRun {
    pub answers: Vec<Answer>,
    pub newest: Vec<u32>,
}

/// The model: filters form a tree (each points at the filter it was
/// installed on), a thread runs a path from its newest filter to the
/// root. TSYNC by `t` succeeds iff every other thread's newest filter
/// is an ancestor of (or equal to) `t`'s, none counting as the root;
/// then every thread's newest filter is the new one, stacked on `t`'s.
/// Otherwise nothing changes and the answer names one of the threads
/// that failed the test (or is ESRCH when asked for).
pub fn predict(steps: &[Step]) -> Prediction {
    let mut parent: HashMap<u32, Option<u32>> = HashMap::new();
    let mut newest: Vec<Option<u32>> = vec![None];
    let mut tsyncs = Vec::new();
    let is_ancestor = |parent: &HashMap<u32, Option<u32>>, a: Option<u32>, mut of: Option<u32>| {
        let Some(a) = a else { return true };
        while let Some(f) = of {
            if f == a {
                return true;
            }
            of = parent[&f];
        }
        false
    };
    for (k, step) in steps.iter().enumerate() {
        let id = k as u32 + 1;
        match *step {
            Step::Spawn { by } => newest.push(newest[by]),
            Step::Install { by } => {
                parent.insert(id, newest[by]);
                newest[by] = Some(id);
            }
            Step::Tsync { by, esrch } => {
                let blocking: Vec<usize> = (0..newest.len())
                    .filter(|&u| u != by && !is_ancestor(&parent, newest[u], newest[by]))
                    .collect();
                if blocking.is_empty() {
                    parent.insert(id, newest[by]);
                    newest.iter_mut().for_each(|f| *f = Some(id));
                    tsyncs.push(Expect::Synced);
                } else if esrch {
                    tsyncs.push(Expect::Esrch);
                } else {
                    tsyncs.push(Expect::RefusedBy(blocking));
                }
            }
        }
    }
    Prediction {
        tsyncs,
        newest: newest.into_iter().map(|f| f.unwrap_or(0)).collect(),
    }
}

/// Put the steps to the kernel in a fresh subject process: one thread
/// per model thread, each filter tagged with its step's id.
pub fn run_on_kernel(steps: &[Step]) -> Result<KernelRun, Stop> {
    let steps = steps.to_vec();
    let obs = in_subject(move || {
        let mut crew = Crew::of_this_thread();
        let mut answers = Vec::new();
        for (k, step) in steps.iter().enumerate() {
            let id = k as u16 + 1;
            match *step {
                Step::Spawn { by } => {
                    crew.spawn_from(by)?;
                }
                Step::Install { by } => crew.install(by, id)?,
                Step::Tsync { by, esrch } => {
                    let flags = if esrch { FLAG_TSYNC_ESRCH } else { 0 };
                    let ret = crew.on(by, move || tsync(id, flags));
                    answers.push(match ret {
                        Ok(0) => "ok".to_string(),
                        Ok(tid) => match crew.index_of(tid) {
                            Some(i) => format!("t{i}"),
                            None => "xunknown-tid".into(),
                        },
                        Err(e) => format!("x{}", errno_name(e)),
                    });
                }
            }
        }
        let newest: Vec<String> = crew.each(probe);
        Ok(Observation::new(format!(
            "{} {}",
            answers.join(","),
            newest.join(",")
        )))
    })?;
    parse_run(&obs.text)
        .ok_or_else(|| Stop::error(format!("unreadable case result `{}`", obs.text)))
}

fn parse_run(text: &str) -> Option<KernelRun> {
    let (answers, newest) = text.split_once(' ')?;
    let answers = answers
        .split(',')
        .filter(|a| !a.is_empty())
        .map(|a| match a {
            "ok" => Answer::Synced,
            "xESRCH" => Answer::Esrch,
            _ => match a.strip_prefix('t').and_then(|i| i.parse().ok()) {
                Some(i) => Answer::Refused(i),
                None => Answer::Other(a.trim_start_matches('x').to_string()),
            },
        })
        .collect();
    let newest = newest
        .split(',')
        .map(|n| n.parse().unwrap_or(u32::MAX))
        .collect();
    Some(KernelRun { answers, newest })
}

/// `None` when the kernel's run agrees with the model, otherwise what
/// differs, compactly: `s0,i1,t0: kernel=[ok] [2,2] model=[refused(1)] [0,1]`.
pub fn disagreement(steps: &[Step], run: &KernelRun) -> Option<String> {
    let want = predict(steps);
    let answers_agree = run.answers.len() == want.tsyncs.len()
        && run
            .answers
            .iter()
            .zip(&want.tsyncs)
            .all(|(a, e)| match (a, e) {
                (Answer::Synced, Expect::Synced) | (Answer::Esrch, Expect::Esrch) => true,
                (Answer::Refused(i), Expect::RefusedBy(set)) => set.contains(i),
                _ => false,
            });
    if answers_agree && run.newest == want.newest {
        return None;
    }
    let answer = |a: &Answer| match a {
        Answer::Synced => "ok".to_string(),
        Answer::Refused(i) => format!("refused({i})"),
        Answer::Esrch => "ESRCH".into(),
        Answer::Other(s) => s.clone(),
    };
    let expect = |e: &Expect| match e {
        Expect::Synced => "ok".to_string(),
        Expect::RefusedBy(set) => {
            format!(
                "refused({})",
                set.iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join("|")
            )
        }
        Expect::Esrch => "ESRCH".into(),
    };
    let list = |v: Vec<String>| format!("[{}]", v.join(","));
    Some(format!(
        "{}: kernel={} {} model={} {}",
        describe(steps),
        list(run.answers.iter().map(answer).collect()),
        list(run.newest.iter().map(|n| n.to_string()).collect()),
        list(want.tsyncs.iter().map(expect).collect()),
        list(want.newest.iter().map(|n| n.to_string()).collect()),
    ))
}

/// Run one generated case on the kernel and compare: `Ok(None)` when
/// kernel and model agree.
pub fn check(ops: &[Op]) -> Result<Option<String>, Stop> {
    let steps = resolve(ops);
    let run = run_on_kernel(&steps)?;
    Ok(disagreement(&steps, &run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_cases_are_deterministic() {
        assert_eq!(fixed_cases(8), fixed_cases(8));
        assert!(fixed_cases(8)
            .iter()
            .all(|c| matches!(c.last(), Some(Op::Tsync { .. }))));
    }
}
