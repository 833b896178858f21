//! The reports a run writes: per kernel `report.json` (the canonical
//! record, [`kconform_core::record::Report`]) and beside it the same in
//! the formats other tools read ([`formats`]: JUnit, KTAP, Markdown);
//! for the whole run `index.html` ([`html`]) and KCIDB data ([`kcidb`]);
//! two reports compared ([`diff`]); shards joined ([`shard`]). Every file
//! is written whole or not at all.

pub mod diff;
pub mod formats;
pub mod html;
pub mod kcidb;
pub mod shard;

use std::path::{Path, PathBuf};

pub use kconform_core::record::{Report, SCHEMA_VERSION};

use crate::util::{safe_name, write_atomic};

/// A report that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a kconform report: {why}")]
    NotAReport { path: PathBuf, why: String },
    #[error("{path}: report schema {found} is not {SCHEMA_VERSION}, the one this kconform reads")]
    Schema { path: PathBuf, found: u32 },
    #[error("cannot write {path}: {source}; nothing was half-written (fix the directory, or pass another --report DIR)")]
    Unwritable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: no report.json in it or below it")]
    NoReports { path: PathBuf },
    #[error(
        "{spec}: the shards ran different kernels ({one} and {other}); merge shards of one run"
    )]
    ShardsDiffer {
        spec: String,
        one: String,
        other: String,
    },
    #[error("{spec}: `{id}` is in two shard reports; each result must come from one shard")]
    Twice { spec: String, id: String },
}

/// Where a kernel's files go under a report directory.
pub fn dir_in(root: &Path, spec: &str) -> PathBuf {
    root.join(safe_name(spec, "._-"))
}

/// Write `DIR/<kernel>/report.json`, and beside it the same in the other
/// formats (junit.xml, results.ktap, summary.md) and, when there is one,
/// the kernel's console log, each whole or not at all.
pub fn write(report: &Report, root: &Path) -> Result<PathBuf, ReportError> {
    write_with_console(report, None, root)
}

/// [`write`], with the kernel log of every boot as console.log.
pub fn write_with_console(
    report: &Report,
    console: Option<&str>,
    root: &Path,
) -> Result<PathBuf, ReportError> {
    let dir = dir_in(root, &report.kernel.spec);
    let unwritable = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Unwritable { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(unwritable(&dir))?;
    if let Some(console) = console {
        let path = dir.join("console.log");
        write_atomic(&path, console.as_bytes()).map_err(unwritable(&path))?;
    }
    formats::write_all(report, &dir)?;
    let path = dir.join("report.json");
    let mut json = serde_json::to_vec_pretty(report).expect("a report serialises");
    json.push(b'\n');
    write_atomic(&path, &json).map_err(unwritable(&path))?;
    Ok(path)
}

/// Write a whole-run file (index.html, kcidb.json) under `dir`.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, ReportError> {
    let path = dir.join(name);
    std::fs::create_dir_all(dir)
        .and_then(|()| write_atomic(&path, bytes))
        .map_err(|source| ReportError::Unwritable {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

/// Read a report: a `report.json`, or the directory holding one.
pub fn read(path: &Path) -> Result<Report, ReportError> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&file).map_err(|source| ReportError::Unreadable {
        path: file.clone(),
        source,
    })?;
    let report: Report = serde_json::from_slice(&bytes).map_err(|e| ReportError::NotAReport {
        path: file.clone(),
        why: e.to_string(),
    })?;
    if report.schema_version != SCHEMA_VERSION {
        return Err(ReportError::Schema {
            path: file,
            found: report.schema_version,
        });
    }
    Ok(report)
}

/// Every report under `path`: a report.json, a kernel's directory, or a
/// run's directory of kernel directories (in name order).
pub fn read_all(path: &Path) -> Result<Vec<Report>, ReportError> {
    if path.is_file() || path.join("report.json").is_file() {
        return read(path).map(|r| vec![r]);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|source| ReportError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?
        .flatten()
        .map(|e| e.path().join("report.json"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(ReportError::NoReports {
            path: path.to_path_buf(),
        });
    }
    found.iter().map(|f| read(f)).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use kconform_core::expect::{KnownBug, Status};
    use kconform_core::model::SkipClass;
    use kconform_core::record::{Conclusion, KernelEvent, KernelInfo, ResultRecord, VmInfo};

    pub fn fixed_report() -> Report {
        let rec = |id: &str,
                   area: &str,
                   status,
                   obs: Option<&str>,
                   exp: Option<&str>,
                   reason: Option<&str>| {
            ResultRecord {
                id: id.into(),
                area: area.into(),
                status,
                observed: obs.map(Into::into),
                expected: exp.map(Into::into),
                expected_because: None,
                duration_ms: 3,
                reason: reason.map(Into::into),
                skip_class: (status == Status::Skip).then_some(SkipClass::KernelLacks),
                details: BTreeMap::new(),
                kernel_events: Vec::new(),
                flaky: None,
                known_bug: None,
            }
        };
        let mut with_details = rec(
            "ptrace-attach/kthreads/seize/unprivileged",
            "ptrace-attach",
            Status::Pass,
            Some("refused all EPERM"),
            Some("refused all EPERM"),
            None,
        );
        with_details.details.insert("kthreads".into(), "56".into());
        let mut known_bug = rec(
            "tsync/dead-leader/own-filter",
            "tsync",
            Status::KnownBug,
            Some("leader filters=1"),
            Some("leader filters=0"),
            None,
        );
        known_bug.known_bug = Some(KnownBug {
            commit: "bfafe5efa975".into(),
            fixed_in: Some("6.9".into()),
            stable: vec!["6.6.30".into()],
            cve: None,
            what: "a dead leader's filters lived until the whole group was reaped".into(),
        });
        let mut warned = rec(
            "tsync/ancestor/sibling",
            "tsync",
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
                    "sa-immutable",
                    Status::Pass,
                    Some("stop SIGSYS -> suppress -> exit 0"),
                    Some("stop SIGSYS -> suppress -> exit 0"),
                    None,
                ),
                rec(
                    "ret-kill/kill-process/single/untraced",
                    "ret-kill",
                    Status::Fail,
                    Some("exit 0 effects=escaped"),
                    Some("killed SIGSYS effects=none"),
                    None,
                ),
                rec(
                    "tsync/esrch/diverged-1-of-2",
                    "tsync",
                    Status::Skip,
                    None,
                    None,
                    Some("kernel lacks SECCOMP_FILTER_FLAG_TSYNC_ESRCH"),
                ),
                with_details,
                warned,
                known_bug,
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
        assert_eq!(r.conclusion(false), Conclusion::Fails);
        r.results.retain(|x| x.status != Status::Fail);
        r = Report::new(r.kernel.clone(), 1, r.results);
        assert_eq!(r.conclusion(false), Conclusion::Conforms);
        // A known bug fails the run only when asked to.
        assert_eq!(r.conclusion(true), Conclusion::Fails);
        assert_eq!(r.lacks_fixes.len(), 1);
        assert_eq!(r.lacks_fixes[0].ids, ["tsync/dead-leader/own-filter"]);
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
        assert_eq!(r.conclusion(false), Conclusion::Conforms);
    }

    #[test]
    fn report_round_trips_through_disk_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let r = fixed_report();
        let path = write(&r, dir.path()).unwrap();
        assert_eq!(path, dir.path().join("debian_bookworm/report.json"));
        assert_eq!(read(&path).unwrap(), r);
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
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: not a kconform report", path.display())),
            "{err}"
        );
    }

    #[test]
    fn kernel_dir_names_are_safe() {
        assert_eq!(
            dir_in(Path::new("r"), "debian:6.1.0-50-cloud-amd64"),
            PathBuf::from("r/debian_6.1.0-50-cloud-amd64")
        );
    }
}
