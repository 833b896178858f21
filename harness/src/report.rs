//! The per-kernel report: one record per instance, written whole or not at all.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::executor::Execution;
use crate::expect::{judge, Expectations, Status};
use crate::kernel::KernelFacts;
use crate::model::{Area, Instance};

pub const SCHEMA_VERSION: u32 = 1;

/// One instance's result on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRecord {
    pub id: String,
    pub area: Area,
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
    /// A record for an instance that never ran (unmet needs).
    pub fn skipped(inst: &Instance, reason: String) -> Self {
        ResultRecord {
            id: inst.id.clone(),
            area: inst.area,
            status: Status::Skip,
            observed: None,
            expected: None,
            expected_because: None,
            duration_ms: 0,
            reason: Some(reason),
            details: BTreeMap::new(),
            kernel_events: Vec::new(),
            flaky: None,
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
        let (observed, details) = match &exec.outcome {
            Ok(obs) => (
                Some(obs.text.clone()),
                obs.details.iter().cloned().collect(),
            ),
            Err(_) => (None, BTreeMap::new()),
        };
        ResultRecord {
            id: inst.id.clone(),
            area: inst.area,
            status: verdict.status,
            observed,
            expected: verdict.expected.as_ref().map(|e| e.text.clone()),
            expected_because: verdict.expected.and_then(|e| e.because),
            duration_ms: exec.duration.as_millis() as u64,
            reason: verdict.reason,
            details,
            kernel_events: Vec::new(),
            flaky: expectation.and_then(|e| e.flaky.clone()),
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
}

impl Counts {
    pub fn add(&mut self, s: Status) {
        match s {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Skip => self.skip += 1,
            Status::Error => self.error += 1,
        }
    }
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.skip + self.error
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub kernel: KernelInfo,
    /// `I/N` when this report holds one shard's share of the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    pub duration_ms: u64,
    pub summary: Counts,
    pub results: Vec<ResultRecord>,
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
            duration_ms,
            summary,
            results,
        }
    }

    pub fn by_area(&self) -> BTreeMap<Area, Counts> {
        let mut m: BTreeMap<Area, Counts> = BTreeMap::new();
        for r in &self.results {
            m.entry(r.area).or_default().add(r.status);
        }
        m
    }

    /// The exit status a run with this report ends with: 0 all conform,
    /// 1 any fail, 125 nothing could be judged because the run broke.
    /// Known-flaky instances count for neither.
    pub fn exit_code(&self) -> i32 {
        let counted = |s: Status| {
            self.results
                .iter()
                .filter(|r| r.status == s && r.flaky.is_none())
                .count()
        };
        if counted(Status::Fail) > 0 {
            1
        } else if self.summary.total() > 0 && self.summary.error == self.summary.total() {
            125
        } else if counted(Status::Error) > 0 {
            1
        } else {
            0
        }
    }

    /// Where this kernel's report goes under a report directory.
    pub fn dir_in(root: &Path, spec: &str) -> PathBuf {
        let safe: String = spec
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        root.join(safe)
    }

    /// Write `DIR/<kernel>/report.json`, and beside it the same in the
    /// other formats (junit.xml, results.ktap, summary.md), each whole or
    /// not at all.
    pub fn write_to(&self, root: &Path) -> std::io::Result<PathBuf> {
        let dir = Report::dir_in(root, &self.kernel.spec);
        std::fs::create_dir_all(&dir)?;
        crate::formats::write_all(self, &dir)?;
        let path = dir.join("report.json");
        let mut json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        json.push(b'\n');
        write_atomic(&path, &json)?;
        Ok(path)
    }

    pub fn read(path: &Path) -> Result<Report, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let report: Report = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not a kconform report: {e}", path.display()))?;
        if report.schema_version != SCHEMA_VERSION {
            return Err(format!(
                "{}: report schema {} is not {SCHEMA_VERSION}, the one this kconform reads",
                path.display(),
                report.schema_version
            ));
        }
        Ok(report)
    }
}

/// sha256 of a file, in hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

/// sha256 of a parsed config: `CONFIG_X=value` lines in name order.
pub fn sha256_config(config: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (k, v) in config {
        hasher.update(format!("{k}={v}\n"));
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Write through a temporary file in the same directory, then rename, so a
/// reader never sees half a file and a crash leaves the old one intact.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Unique per process and per call: threads (a matrix, concurrent
    // fetches) may write the same file at once, and the last rename wins.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("report"),
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn fixed_report() -> Report {
        let rec =
            |id: &str, area, status, obs: Option<&str>, exp: Option<&str>, reason: Option<&str>| {
                ResultRecord {
                    id: id.into(),
                    area,
                    status,
                    observed: obs.map(Into::into),
                    expected: exp.map(Into::into),
                    expected_because: None,
                    duration_ms: 3,
                    reason: reason.map(Into::into),
                    details: BTreeMap::new(),
                    kernel_events: Vec::new(),
                    flaky: None,
                }
            };
        let mut with_details = rec(
            "ptrace-attach/kthreads/seize/unprivileged",
            Area::PtraceAttach,
            Status::Pass,
            Some("refused all EPERM"),
            Some("refused all EPERM"),
            None,
        );
        with_details.details.insert("kthreads".into(), "56".into());
        let mut warned = rec(
            "tsync/ancestor/sibling",
            Area::Tsync,
            Status::Fail,
            Some("synced all"),
            Some("synced all"),
            Some("kernel warning while this instance ran"),
        );
        warned.kernel_events.push(KernelEvent {
            kind: "warning".into(),
            summary: "WARNING: CPU: 1 PID: 77 at kernel/seccomp.c:612 seccomp_sync_threads+0x9a/0x140".into(),
            excerpt: "------------[ cut here ]------------\nWARNING: CPU: 1 PID: 77 at kernel/seccomp.c:612".into(),
        });
        Report::new(
            KernelInfo {
                spec: "debian:bookworm".into(),
                release: "6.1.0-50-cloud-amd64".into(),
                machine: "x86_64".into(),
                config_source: Some("linux-image-6.1.0-50-cloud-amd64 6.1.158-1".into()),
                version: Some("6.1.158".into()),
                proc_version: Some(
                    "Linux version 6.1.0-50-cloud-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1"
                        .into(),
                ),
                source: Some("linux-image-6.1.0-50-cloud-amd64 6.1.158-1 (bookworm)".into()),
                image_sha256: Some(
                    "9f2c4d0e6b1a7c3e5d8f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d".into(),
                ),
                config_sha256: Some(
                    "3c5e7a9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c".into(),
                ),
                vm: Some(VmInfo {
                    qemu: "7.2.19".into(),
                    accel: "tcg".into(),
                    cpus: 2,
                    memory_mb: 512,
                    cmdline: "console=ttyS0 panic=-1".into(),
                    boots: 1,
                    boot_ms: 2100,
                    results_port: String::new(),
                    console_log: "console.log".into(),
                }),
                error: None,
                console_tail: None,
                events: Vec::new(),
            },
            812,
            vec![
                rec(
                    "sa-immutable/trap/ignored/traceme/suppress",
                    Area::SaImmutable,
                    Status::Pass,
                    Some("stop SIGSYS -> suppress -> exit 0"),
                    Some("stop SIGSYS -> suppress -> exit 0"),
                    None,
                ),
                rec(
                    "ret-kill/kill-process/single/untraced",
                    Area::RetKill,
                    Status::Fail,
                    Some("exit 0 effects=escaped"),
                    Some("killed SIGSYS effects=none"),
                    None,
                ),
                rec(
                    "tsync/esrch/diverged-1-of-2",
                    Area::Tsync,
                    Status::Skip,
                    None,
                    None,
                    Some("kernel lacks SECCOMP_FILTER_FLAG_TSYNC_ESRCH"),
                ),
                with_details,
                warned,
            ],
        )
    }

    #[test]
    fn report_json_is_stable() {
        insta::assert_json_snapshot!(fixed_report());
    }

    #[test]
    fn exit_codes() {
        let mut r = fixed_report();
        assert_eq!(r.exit_code(), 1);
        r.results.retain(|x| x.status != Status::Fail);
        r = Report::new(r.kernel.clone(), 1, r.results);
        assert_eq!(r.exit_code(), 0);
    }

    #[test]
    fn a_known_flaky_failure_is_reported_but_not_counted() {
        let mut r = fixed_report();
        for x in &mut r.results {
            if x.status == Status::Fail {
                x.flaky = Some("races with the scheduler under TCG".into());
            }
        }
        assert_eq!(r.summary.fail, 2);
        assert_eq!(r.exit_code(), 0);
    }

    #[test]
    fn sha256_of_a_file_is_the_standard_one() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("abc");
        std::fs::write(&f, "abc").unwrap();
        assert_eq!(
            sha256_file(&f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn report_round_trips_through_disk_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let r = fixed_report();
        let path = r.write_to(dir.path()).unwrap();
        assert_eq!(path, dir.path().join("debian_bookworm/report.json"));
        assert_eq!(Report::read(&path).unwrap(), r);
        // No temporary file is left behind, only the finished formats.
        let mut files: Vec<String> = std::fs::read_dir(dir.path().join("debian_bookworm"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(
            files,
            ["junit.xml", "report.json", "results.ktap", "summary.md"]
        );
    }

    #[test]
    fn truncated_report_is_refused_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        let json = serde_json::to_string(&fixed_report()).unwrap();
        std::fs::write(&path, &json[..json.len() / 2]).unwrap();
        let err = Report::read(&path).unwrap_err();
        assert!(
            err.starts_with(&format!("{}: not a kconform report", path.display())),
            "{err}"
        );
    }

    #[test]
    fn kernel_dir_names_are_safe() {
        assert_eq!(
            Report::dir_in(Path::new("r"), "debian:6.1.0-50-cloud-amd64"),
            PathBuf::from("r/debian_6.1.0-50-cloud-amd64")
        );
    }
}
