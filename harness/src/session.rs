//! One native run: decide what can run here, run it, judge it, and
//! gather the report. The CLI and the cargo-test harness both go through
//! [`judge_one`], so a verdict means the same thing everywhere.

use std::time::{Duration, Instant};

use crate::executor::{execute, execute_all};
use crate::expect::Expectations;
use crate::kernel::KernelFacts;
use crate::model::{Ctx, Instance};
use crate::report::{KernelInfo, Report, ResultRecord};

/// Settings of a native run.
pub struct Native<'a> {
    pub facts: &'a KernelFacts,
    pub expectations: &'a Expectations,
    pub ctx: &'a Ctx,
    pub jobs: usize,
    pub timeout: Duration,
}

impl Native<'_> {
    /// Run one instance (or skip it with the reason) and judge it.
    pub fn judge_one(&self, inst: &Instance) -> ResultRecord {
        match self.facts.unmet(&inst.needs) {
            Some(why) => ResultRecord::skipped(inst, why),
            None => {
                let exec = execute(inst, self.ctx, self.timeout);
                ResultRecord::judged(inst, &exec, self.facts, self.expectations)
            }
        }
    }

    /// Run every instance, `jobs` at a time; `on_result` sees each record
    /// as soon as it exists. Records come back in the instances' order.
    pub fn run(
        &self,
        spec: &str,
        instances: &[&Instance],
        on_result: &(dyn Fn(&ResultRecord) + Sync),
    ) -> Report {
        let start = Instant::now();
        let mut records: Vec<Option<ResultRecord>> = vec![None; instances.len()];
        let mut runnable = Vec::new();
        for (i, inst) in instances.iter().enumerate() {
            match self.facts.unmet(&inst.needs) {
                Some(why) => {
                    let r = ResultRecord::skipped(inst, why);
                    on_result(&r);
                    records[i] = Some(r);
                }
                None => runnable.push(i),
            }
        }
        let to_run: Vec<&Instance> = runnable.iter().map(|&i| instances[i]).collect();
        let judged = std::sync::Mutex::new(vec![None; to_run.len()]);
        execute_all(
            &to_run,
            self.ctx,
            self.jobs,
            self.timeout,
            &|_, _| {},
            &|k, inst, exec| {
                let r = ResultRecord::judged(inst, exec, self.facts, self.expectations);
                on_result(&r);
                judged.lock().unwrap()[k] = Some(r);
            },
        );
        for (&i, r) in runnable.iter().zip(judged.into_inner().unwrap()) {
            records[i] = r;
        }
        Report::new(
            KernelInfo::from_facts(spec, self.facts),
            start.elapsed().as_millis() as u64,
            records
                .into_iter()
                .map(|r| r.expect("every instance has a record"))
                .collect(),
        )
    }
}
