//! A run on one kernel, native or under QEMU, told as [`Event`]s.
//!
//! Every run goes the same way: instances whose needs the kernel does
//! not meet become skips, the rest run, each result is judged against
//! the fixtures the moment it exists, and the report keeps the catalog's
//! order whatever order results came in. [`Results`] is that logic; the
//! native runner here and the VM runner (`kconform_harness::vm`) are its
//! two users, behind [`Runner`]. The CLI's progress bars and the `cargo
//! test` harnesses consume the events; a runner's report, an interrupted
//! one too, holds exactly the records its `Result` events told.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::executor::{execute_all, Execution};
use crate::expect::Expectations;
use crate::interrupt;
use crate::kernel::KernelFacts;
use crate::model::{Ctx, Instance, Needs, Stop};
use crate::record::{KernelInfo, Report, ResultRecord};

/// What happens to one kernel of a run, as it happens.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// A slow step before anything runs: fetching, building, booting a
    /// probe (`what` says which).
    Preparing(&'a str),
    /// A boot of the kernel under QEMU starts: 1 for the first, more
    /// after a crash or to isolate a culprit.
    Booting(usize),
    /// A result exists: `done` of `total` are settled.
    Result {
        done: usize,
        total: usize,
        record: &'a ResultRecord,
    },
    /// The kernel's report is whole (or as whole as an interrupt let it be).
    Finished(&'a Report),
}

/// Hears a run's events: `kernel` is the kernel's index in the run.
pub trait Listener: Sync {
    fn on(&self, kernel: usize, event: Event);
}

impl<F: Fn(usize, Event) + Sync> Listener for F {
    fn on(&self, kernel: usize, event: Event) {
        self(kernel, event)
    }
}

/// Hears nothing.
pub struct Quiet;

impl Listener for Quiet {
    fn on(&self, _: usize, _: Event) {}
}

/// One kernel's run: its report, and the kernel log of every boot (empty
/// for the running kernel, whose log is the host's).
pub struct KernelRun {
    pub report: Report,
    pub console: String,
}

/// Somewhere instances run: the running kernel, or one under QEMU.
pub trait Runner: Sync {
    /// Run `instances`, each judged as it ends, telling `listener` as
    /// kernel number `kernel`; the report holds a record for every
    /// instance, in order.
    fn run(&self, kernel: usize, instances: &[&Instance], listener: &dyn Listener) -> KernelRun;
}

/// A kernel's results as they settle: in the instances' order, none
/// lost, each told to the listener once.
pub struct Results<'a> {
    instances: &'a [&'a Instance],
    records: Vec<Option<ResultRecord>>,
    done: usize,
    kernel: usize,
    listener: &'a dyn Listener,
}

impl<'a> Results<'a> {
    pub fn new(kernel: usize, instances: &'a [&'a Instance], listener: &'a dyn Listener) -> Self {
        Results {
            instances,
            records: vec![None; instances.len()],
            done: 0,
            kernel,
            listener,
        }
    }

    /// Skip every instance `unmet` has a reason for; the indices of the
    /// others, which are to run, in order.
    pub fn skip_unmet(&mut self, unmet: impl Fn(&Needs) -> Option<Stop>) -> Vec<usize> {
        let mut pending = Vec::new();
        for (k, inst) in self.instances.iter().enumerate() {
            match unmet(&inst.needs) {
                Some(why) => self.settle(k, ResultRecord::unrun(inst, &why)),
                None => pending.push(k),
            }
        }
        pending
    }

    pub fn instances(&self) -> &'a [&'a Instance] {
        self.instances
    }

    pub fn instance(&self, k: usize) -> &'a Instance {
        self.instances[k]
    }

    /// Instance `k`'s result.
    pub fn settle(&mut self, k: usize, record: ResultRecord) {
        self.done += 1;
        self.listener.on(
            self.kernel,
            Event::Result {
                done: self.done,
                total: self.instances.len(),
                record: &record,
            },
        );
        self.records[k] = Some(record);
    }

    /// Every record, in order; an instance never settled gets `missing`'s.
    pub fn into_records(self, missing: impl Fn(&Instance) -> ResultRecord) -> Vec<ResultRecord> {
        self.records
            .into_iter()
            .zip(self.instances)
            .map(|(r, inst)| r.unwrap_or_else(|| missing(inst)))
            .collect()
    }
}

/// The record of an instance that never got to run because the run was
/// cut short (`why`): an error, never a verdict on the kernel.
pub fn not_run(inst: &Instance, why: &str) -> ResultRecord {
    ResultRecord::unrun(inst, &Stop::Error(format!("not run: {why}")))
}

/// The running kernel, natively: each instance forked, `jobs` at a time.
pub struct Native<'a> {
    pub spec: &'a str,
    pub facts: &'a KernelFacts,
    pub expectations: &'a Expectations,
    pub ctx: &'a Ctx,
    pub jobs: usize,
    pub timeout: Duration,
}

impl Runner for Native<'_> {
    fn run(&self, kernel: usize, instances: &[&Instance], listener: &dyn Listener) -> KernelRun {
        let start = Instant::now();
        let mut results = Results::new(kernel, instances, listener);
        let mut pending = results.skip_unmet(|needs| self.facts.unmet(needs));
        // Long instances first, so they overlap the short ones (as in a
        // guest); results still come back in the catalogue's order.
        pending.sort_by_key(|&k| !instances[k].long);
        let to_run: Vec<&Instance> = pending.iter().map(|&k| instances[k]).collect();
        let results = Mutex::new(results);
        execute_all(
            &to_run,
            self.ctx,
            self.jobs,
            self.timeout,
            &|_, _| {},
            &|_, _| {},
            &|j, inst, exec: &Execution| {
                let r = ResultRecord::judged(inst, exec, self.facts, self.expectations);
                results.lock().unwrap().settle(pending[j], r);
            },
        );
        let records = results
            .into_inner()
            .unwrap()
            .into_records(|inst| not_run(inst, "interrupted"));
        let mut report = Report::new(
            KernelInfo::from_facts(self.spec, self.facts),
            start.elapsed().as_millis() as u64,
            records,
        );
        report.interrupted = interrupt::requested();
        listener.on(kernel, Event::Finished(&report));
        KernelRun {
            report,
            console: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Area, Observation};

    /// With one instance at a time, a long instance listed last runs
    /// first (each instance appends its name to a file as it starts), and
    /// the report still lists the results in the catalogue's order.
    #[test]
    fn native_runs_long_instances_first_and_reports_in_catalogue_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("started");
        let starts = |name: &'static str| {
            let log = log.clone();
            move |_: &Ctx| {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)?;
                writeln!(f, "{name}")?;
                Ok(Observation::new(name))
            }
        };
        let short = Instance::from_fn("t/short", Area::HARNESS, Needs::default(), starts("short"));
        let long =
            Instance::from_fn("t/long", Area::HARNESS, Needs::default(), starts("long")).long();
        let facts = KernelFacts::probe();
        let ctx = Ctx {
            iterations: 1,
            probe_exe: "/bin/true".into(),
            shared_dir: None,
            fail_setup: None,
        };
        let native = Native {
            spec: "host",
            facts: &facts,
            expectations: &Expectations::default(),
            ctx: &ctx,
            jobs: 1,
            timeout: Duration::from_secs(20),
        };
        let run = native.run(0, &[&short, &long], &Quiet);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "long\nshort\n");
        let ids: Vec<&str> = run.report.results.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["t/short", "t/long"]);
    }
}
