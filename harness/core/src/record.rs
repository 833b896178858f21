//! What a run records: one result per instance on one kernel, the
//! kernel's facts, and the report that holds them. Writing and reading
//! reports is the host's business (`kconform_harness::report`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::executor::Execution;
use crate::expect::{judge, Expectations, KnownBug, Status};
use crate::kernel::KernelFacts;
use crate::model::{Instance, SkipClass, Stop};

pub const SCHEMA_VERSION: u32 = 1;

/// One instance's result on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRecord {
    pub id: String,
    pub area: String,
    pub status: Status,
    /// What the kernel did (absent when the instance was skipped or broke).
    pub observed: Option<String>,
    pub expected: Option<String>,
    /// Why this kernel's expectation differs from the default, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_because: Option<String>,
    pub duration_ms: u64,
    /// Why it was skipped, or what broke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a skip: whether the kernel lacks it, the host forbids it, or
    /// the harness failed to arrange it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_class: Option<SkipClass>,
    /// Run-to-run details (attempt counts, tids): reported, never compared.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
    /// Kernel problems (panic, oops, BUG, WARN, new taint, hang) seen while
    /// this instance ran; any makes it a fail whatever was observed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_events: Vec<KernelEvent>,
    /// Known flaky (the fixture says why): reported as it came out, but
    /// kept out of the exit status and of regression verdicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flaky: Option<String>,
    /// For a known-bug result: the bug and the fix this kernel lacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_bug: Option<KnownBug>,
}

/// A kernel problem, with the console lines that show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelEvent {
    /// panic, oops, bug, warning, taint, hang, or died (the VM ended
    /// without a word).
    pub kind: String,
    /// One line: what happened.
    pub summary: String,
    /// Console lines around it (may be empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub excerpt: String,
}

impl ResultRecord {
    /// A record for an instance that never ran: skipped (unmet needs),
    /// or an error saying why it did not run.
    pub fn unrun(inst: &Instance, why: &Stop) -> Self {
        let (status, reason, skip_class) = match why {
            Stop::Skip { reason, class } => (Status::Skip, reason.clone(), Some(*class)),
            Stop::Error(e) => (Status::Error, e.clone(), None),
        };
        ResultRecord {
            id: inst.id.clone(),
            area: inst.area.name.to_string(),
            status,
            observed: None,
            expected: None,
            expected_because: None,
            duration_ms: 0,
            reason: Some(reason),
            skip_class,
            details: BTreeMap::new(),
            kernel_events: Vec::new(),
            flaky: None,
            known_bug: None,
        }
    }

    /// Judge an execution against the fixtures for this kernel.
    pub fn judged(
        inst: &Instance,
        exec: &Execution,
        facts: &KernelFacts,
        expectations: &Expectations,
    ) -> Self {
        let expectation = expectations.get(&inst.id);
        let expected = expectation.map(|e| e.for_kernel(facts.version.as_ref()));
        let verdict = judge(&exec.outcome, expected);
        let known_bug = match verdict.status {
            Status::KnownBug => verdict
                .expected
                .as_ref()
                .and_then(|e| e.bug.as_ref())
                .map(|(b, _)| b.clone()),
            _ => None,
        };
        let (observed, details) = match &exec.outcome {
            Ok(obs) => (
                Some(obs.text.clone()),
                obs.details.iter().cloned().collect(),
            ),
            Err(_) => (None, BTreeMap::new()),
        };
        ResultRecord {
            id: inst.id.clone(),
            area: inst.area.name.to_string(),
            status: verdict.status,
            observed,
            expected: verdict.expected.as_ref().map(|e| e.text.clone()),
            expected_because: verdict.expected.and_then(|e| e.because),
            duration_ms: exec.duration.as_millis() as u64,
            reason: verdict.reason,
            skip_class: verdict.skip_class,
            details,
            kernel_events: Vec::new(),
            flaky: expectation.and_then(|e| e.flaky.clone()),
            known_bug,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelInfo {
    /// How the user named the kernel (`host`, a path, `debian:...`).
    pub spec: String,
    pub release: String,
    pub machine: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_source: Option<String>,
    /// The upstream version kernel ranges were judged against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// /proc/version, which names the build (and Debian's package version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proc_version: Option<String>,
    /// Where the image came from: a path, a Debian package, a tree build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// sha256 of the kernel image booted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_sha256: Option<String>,
    /// sha256 of the kernel config known before boot (its `CONFIG_*`
    /// settings, sorted), so two reports show whether the configs match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_sha256: Option<String>,
    /// How the kernel was booted, when it ran under QEMU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm: Option<VmInfo>,
    /// Why the kernel could not be tested at all (did not boot, failed to
    /// download or build); its instances are then errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The last console lines, when the kernel did not boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_tail: Option<String>,
    /// Kernel problems outside any instance (during boot, between instances).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<KernelEvent>,
}

/// How a kernel was run under QEMU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmInfo {
    pub qemu: String,
    pub accel: String,
    pub cpus: usize,
    pub memory_mb: usize,
    pub cmdline: String,
    /// Boots it took: 1, plus one per crash or hang recovered from.
    pub boots: usize,
    /// From QEMU's start to the guest's first word.
    pub boot_ms: u64,
    /// Where the guest's results came from: "shared memory" (an ivshmem
    /// device), "ttyS1" (a kernel without PCI), or both in that order.
    /// Absent from reports written before it existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub results_port: String,
    /// The kernel log of every boot, next to report.json.
    pub console_log: String,
}

impl KernelInfo {
    pub fn from_facts(spec: &str, facts: &KernelFacts) -> Self {
        KernelInfo {
            spec: spec.to_string(),
            release: facts.release.clone(),
            machine: facts.machine.clone(),
            config_source: facts.config_source.clone(),
            version: facts.version.map(|v| v.to_string()),
            proc_version: None,
            source: None,
            image_sha256: None,
            config_sha256: None,
            vm: None,
            error: None,
            console_tail: None,
            events: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub skip: usize,
    pub error: usize,
    /// Absent from reports written before the status existed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub known_bug: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Counts {
    pub fn add(&mut self, s: Status) {
        match s {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Skip => self.skip += 1,
            Status::Error => self.error += 1,
            Status::KnownBug => self.known_bug += 1,
        }
    }
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.skip + self.error + self.known_bug
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub kernel: KernelInfo,
    /// `I/N` when this report holds one shard's share of the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// The run was stopped (Ctrl-C, SIGTERM) before everything ran; the
    /// instances that did not run are errors that say so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    pub duration_ms: u64,
    pub summary: Counts,
    /// How many instances ran, and the skips by class.
    #[serde(default)]
    pub coverage: Coverage,
    /// The known bugs this kernel showed: the fixes it lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lacks_fixes: Vec<LackedFix>,
    pub results: Vec<ResultRecord>,
}

/// How much of the suite a kernel really ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Instances that ran (every status but skip).
    pub run: usize,
    pub skipped: usize,
    /// Skips by class; a skip of unknown class (an old report) is not here.
    pub skips: BTreeMap<SkipClass, usize>,
}

impl Coverage {
    fn of(results: &[ResultRecord]) -> Coverage {
        let mut c = Coverage::default();
        for r in results {
            if r.status == Status::Skip {
                c.skipped += 1;
                if let Some(class) = r.skip_class {
                    *c.skips.entry(class).or_default() += 1;
                }
            } else {
                c.run += 1;
            }
        }
        c
    }
}

/// A fix a kernel lacks: the known bug it showed, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LackedFix {
    #[serde(flatten)]
    pub bug: KnownBug,
    /// The instances that showed it.
    pub ids: Vec<String>,
}

impl LackedFix {
    fn of(results: &[ResultRecord]) -> Vec<LackedFix> {
        let mut fixes: Vec<LackedFix> = Vec::new();
        for r in results {
            let Some(bug) = &r.known_bug else { continue };
            match fixes.iter_mut().find(|f| f.bug.commit == bug.commit) {
                Some(f) => f.ids.push(r.id.clone()),
                None => fixes.push(LackedFix {
                    bug: bug.clone(),
                    ids: vec![r.id.clone()],
                }),
            }
        }
        fixes
    }
}

impl Report {
    pub fn new(kernel: KernelInfo, duration_ms: u64, results: Vec<ResultRecord>) -> Self {
        let mut summary = Counts::default();
        for r in &results {
            summary.add(r.status);
        }
        Report {
            schema_version: SCHEMA_VERSION,
            kernel,
            shard: None,
            interrupted: false,
            duration_ms,
            summary,
            coverage: Coverage::of(&results),
            lacks_fixes: LackedFix::of(&results),
            results,
        }
    }

    /// Counts per area, in the order the areas first appear (the
    /// catalog's, in every report a run writes).
    pub fn by_area(&self) -> Vec<(&str, Counts)> {
        let mut areas: Vec<(&str, Counts)> = Vec::new();
        for r in &self.results {
            let at = match areas.iter().position(|(a, _)| *a == r.area) {
                Some(at) => at,
                None => {
                    areas.push((r.area.as_str(), Counts::default()));
                    areas.len() - 1
                }
            };
            areas[at].1.add(r.status);
        }
        areas
    }

    /// What the run of this report concludes: fails when any instance
    /// failed or broke (or, `strict`, showed a known bug), cannot test
    /// when every one broke (nothing could be judged). Known-flaky
    /// instances count for neither.
    pub fn conclusion(&self, strict: bool) -> Conclusion {
        let counted = |s: Status| {
            self.results
                .iter()
                .filter(|r| r.status == s && r.flaky.is_none())
                .count()
        };
        if counted(Status::Fail) > 0 || (strict && counted(Status::KnownBug) > 0) {
            Conclusion::Fails
        } else if self.summary.total() > 0 && self.summary.error == self.summary.total() {
            Conclusion::CannotTest
        } else if counted(Status::Error) > 0 {
            Conclusion::Fails
        } else {
            Conclusion::Conforms
        }
    }

    /// What this report says of a bisect step's revision: a kernel that
    /// did not run, or a scenario that broke, cannot test it (the
    /// suite's trouble is not the revision's); a failure (or, `strict`, a
    /// known bug) makes it bad.
    pub fn bisect_conclusion(&self, strict: bool) -> Conclusion {
        let counted = |s: Status| {
            self.results
                .iter()
                .filter(|r| r.status == s && r.flaky.is_none())
                .count()
        };
        if self.kernel.error.is_some() || counted(Status::Error) > 0 {
            Conclusion::CannotTest
        } else if counted(Status::Fail) > 0 || (strict && counted(Status::KnownBug) > 0) {
            Conclusion::Fails
        } else {
            Conclusion::Conforms
        }
    }
}

/// What a run, a diff or a bisect step concludes; the CLI turns it into
/// the exit status (0, 1, 125) that CI gates and `git bisect run` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Conclusion {
    /// Every instance conforms (skips allowed); no regression.
    Conforms,
    /// An instance failed or broke; a regression.
    Fails,
    /// Nothing could be judged: bad input, a kernel that did not run.
    CannotTest,
}

impl Conclusion {
    /// The verdict over several: any that cannot be tested is worst only
    /// when it is the only one; otherwise any failure fails.
    pub fn of_kernels(all: &[Conclusion]) -> Conclusion {
        match all {
            [one] => *one,
            _ if all.iter().all(|c| *c == Conclusion::Conforms) => Conclusion::Conforms,
            _ => Conclusion::Fails,
        }
    }
}
