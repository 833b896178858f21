//! Reports as KernelCI's KCIDB data (I/O schema v5.3), so a KernelCI
//! deployment can ingest a run: one checkout and one build per kernel, one
//! test per instance.

use serde_json::{json, Value};

use kconform_core::expect::Status;
use kconform_core::record::Report;

/// The KCIDB origin kconform submits as (`[a-z0-9_]+`).
pub const ORIGIN: &str = "kconform";

/// KCIDB data for the reports of one run.
pub fn kcidb(reports: &[&Report]) -> Value {
    let mut checkouts = Vec::new();
    let mut builds = Vec::new();
    let mut tests = Vec::new();
    // Known bugs as KCIDB issues (one per fix), each test that showed one
    // an incident of it: how KernelCI tells a known failure from news.
    let mut issues: Vec<Value> = Vec::new();
    let mut incidents = Vec::new();
    for report in reports {
        let k = &report.kernel;
        // Ids must be unique across submissions of the same kernel: the
        // spec and the release name the kernel, not the run.
        let key = slug(&format!("{}_{}", k.spec, k.release));
        let checkout_id = format!("{ORIGIN}:{key}");
        let build_id = format!("{ORIGIN}:{key}:build");
        checkouts.push(json!({
            "id": checkout_id,
            "origin": ORIGIN,
            "comment": format!("{} ({})", k.spec, k.source.as_deref().unwrap_or(&k.release)),
        }));
        let mut build = json!({
            "id": build_id,
            "checkout_id": checkout_id,
            "origin": ORIGIN,
            "architecture": k.machine,
            "comment": k.proc_version.clone().unwrap_or_else(|| k.release.clone()),
            // A kernel kconform could not fetch, build or boot.
            "status": if k.error.is_some() { "ERROR" } else { "PASS" },
        });
        if let Some(src) = &k.config_source {
            build["config_name"] = json!(src);
        }
        builds.push(build);
        let environment = match &k.vm {
            Some(vm) => format!(
                "QEMU {} ({}), {} vCPUs, {} MiB",
                vm.qemu, vm.accel, vm.cpus, vm.memory_mb
            ),
            None => "the running kernel, natively".to_string(),
        };
        for r in &report.results {
            // A kernel that never ran: its instances are missing, not broken.
            let status = match r.status {
                Status::Error if k.error.is_some() && r.observed.is_none() => "MISS",
                Status::Pass => "PASS",
                Status::Fail => "FAIL",
                Status::Skip => "SKIP",
                Status::Error => "ERROR",
                Status::KnownBug => "FAIL",
            };
            let comment = match (&r.observed, &r.reason) {
                (Some(o), _) => format!("observed: {o}"),
                (None, Some(why)) => why.clone(),
                (None, None) => String::new(),
            };
            let mut misc = json!({ "kconform_id": r.id, "duration_ms": r.duration_ms });
            if let Some(e) = &r.expected {
                misc["expected"] = json!(e);
            }
            if !r.kernel_events.is_empty() {
                misc["kernel_events"] = json!(r.kernel_events);
            }
            let test_id = format!("{build_id}:{}", slug(&r.id));
            if let Some(bug) = &r.known_bug {
                let issue_id = format!("{ORIGIN}:fix-{}", bug.commit);
                if !issues.iter().any(|i| i["id"] == issue_id.as_str()) {
                    issues.push(json!({
                        "id": issue_id,
                        "version": 1,
                        "origin": ORIGIN,
                        "report_subject": bug.what,
                        "culprit": { "code": true },
                        "comment": format!("known kernel bug, fixed upstream by {}", super::formats::fix_name(bug)),
                    }));
                }
                incidents.push(json!({
                    "id": format!("{test_id}:fix-{}", bug.commit),
                    "origin": ORIGIN,
                    "issue_id": issue_id,
                    "issue_version": 1,
                    "test_id": test_id,
                    "present": true,
                }));
            }
            tests.push(json!({
                "id": test_id,
                "build_id": build_id,
                "origin": ORIGIN,
                "path": path(&r.id),
                "status": status,
                "comment": comment,
                "environment": { "comment": environment },
                "misc": misc,
            }));
        }
    }
    json!({
        "version": { "major": 5, "minor": 3 },
        "checkouts": checkouts,
        "builds": builds,
        "tests": tests,
        "issues": issues,
        "incidents": incidents,
    })
}

/// A test path: dot-separated `[a-zA-Z0-9_-]+` parts under `kconform`.
fn path(id: &str) -> String {
    std::iter::once(ORIGIN.to_string())
        .chain(id.split('/').filter(|p| !p.is_empty()).map(slug))
        .collect::<Vec<_>>()
        .join(".")
}

fn slug(s: &str) -> String {
    crate::util::safe_name(s, "-_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::fixed_report;

    #[test]
    fn kcidb_is_stable() {
        insta::assert_json_snapshot!(kcidb(&[&fixed_report()]));
    }

    #[test]
    fn paths_are_dotted_kcidb_paths() {
        assert_eq!(
            path("sa-immutable/traced/ret-trap/sig-dfl/traceme/suppress"),
            "kconform.sa-immutable.traced.ret-trap.sig-dfl.traceme.suppress"
        );
        assert_eq!(path("a/b c/d.e"), "kconform.a.b_c.d_e");
    }

    /// Checked by KernelCI's own validator (the kcidb-io package):
    /// `KCONFORM_KCIDB_PYTHON=/path/to/python-with-kcidb-io cargo test -p
    /// kconform-harness kcidb -- --ignored` (.ci/run does).
    #[test]
    #[ignore = "needs a python with kcidb-io: set KCONFORM_KCIDB_PYTHON"]
    fn kcidb_io_accepts_it() {
        let python = std::env::var("KCONFORM_KCIDB_PYTHON")
            .expect("KCONFORM_KCIDB_PYTHON: a python that can `import kcidb_io`");
        let mut unrunnable = fixed_report();
        unrunnable.kernel.spec = "debian:sid".into();
        unrunnable.kernel.error = Some("the kernel did not boot".into());
        for r in &mut unrunnable.results {
            r.status = Status::Error;
            r.observed = None;
        }
        let data = kcidb(&[&fixed_report(), &unrunnable]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kcidb.json");
        std::fs::write(&file, serde_json::to_vec(&data).unwrap()).unwrap();
        let out = std::process::Command::new(python)
            .arg("-c")
            .arg(
                "import json, sys\n\
                 from kcidb_io.schema import V5_3\n\
                 V5_3.validate_exactly(json.load(open(sys.argv[1])))\n\
                 print('valid')",
            )
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("valid"),
            "kcidb-io refused it:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
