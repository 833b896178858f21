//! `cargo test`: every scenario instance is a trial, run natively on the
//! running kernel and judged against the fixtures, exactly as
//! `kconform run` judges it. Instances whose needs this host does not meet
//! (not root, a kernel feature or config option missing) are ignored, and
//! the reasons are printed first.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kconform_core::expect::{Expectations, Status};
use kconform_core::kernel::KernelFacts;
use kconform_core::model::{Ctx, DEFAULT_ITERATIONS};
use kconform_core::run::{Native, Quiet, Runner};
use kconform_core::Stop;
use libtest_mimic::{Arguments, Failed, Trial};

struct Shared {
    facts: KernelFacts,
    expectations: Expectations,
    ctx: Ctx,
}

fn main() {
    let args = Arguments::from_args();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/expectations");
    let expectations = Expectations::load_dir(&fixtures).unwrap_or_else(|e| panic!("{e}"));
    let iterations = std::env::var("KCONFORM_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ITERATIONS);
    let shared = Arc::new(Shared {
        facts: KernelFacts::probe(),
        expectations,
        ctx: Ctx {
            iterations,
            // The kconform binary answers `__probe` the way scenarios need.
            probe_exe: PathBuf::from(env!("CARGO_BIN_EXE_kconform")),
            shared_dir: None,
            fail_setup: None,
        },
    });

    let mut ignored: BTreeMap<String, usize> = BTreeMap::new();
    let trials: Vec<Trial> = kconform_suites::catalog()
        .into_iter()
        .map(|inst| {
            let unmet = shared.facts.unmet(&inst.needs);
            if let Some(Stop::Skip { reason, class }) = &unmet {
                *ignored.entry(format!("{reason} ({class})")).or_default() += 1;
            }
            let kind = inst.area.as_str();
            let name = inst.id.clone();
            let shared = Arc::clone(&shared);
            Trial::test(name, move || {
                let native = Native {
                    spec: "host",
                    facts: &shared.facts,
                    expectations: &shared.expectations,
                    ctx: &shared.ctx,
                    jobs: 1,
                    timeout: Duration::from_secs(20),
                };
                // The same run as `kconform run`, of this one instance.
                let mut run = native.run(0, &[&inst], &Quiet);
                let r = run.report.results.remove(0);
                match r.status {
                    Status::Pass => Ok(()),
                    Status::Skip => {
                        eprintln!("{}: skipped: {}", r.id, r.reason.unwrap_or_default());
                        Ok(())
                    }
                    // The run does not fail on a known bug: it names the fix.
                    Status::KnownBug => {
                        let fix = r.known_bug.map(|b| b.commit).unwrap_or_default();
                        eprintln!("{}: known bug: this kernel lacks {fix}", r.id);
                        Ok(())
                    }
                    Status::Fail => Err(Failed::from(format!(
                        "observed: {}\nexpected: {}{}",
                        r.observed.unwrap_or_default(),
                        r.expected.unwrap_or_default(),
                        r.expected_because
                            .map(|b| format!("\n  ({b})"))
                            .unwrap_or_default()
                    ))),
                    Status::Error => Err(Failed::from(format!(
                        "error: {}",
                        r.reason.unwrap_or_default()
                    ))),
                }
            })
            .with_kind(kind)
            .with_ignored_flag(unmet.is_some())
        })
        .collect();
    for (why, n) in &ignored {
        eprintln!("ignoring {n} scenario instance(s): {why}");
    }
    libtest_mimic::run(&args, trials).exit();
}
