//! The guest binary: every scenario in one static executable.
//!
//! Under QEMU it is /init of the initramfs the harness writes, and speaks
//! the protocol of `kconform_core::guest` on its results port. Run by hand
//! (not as pid 1) it is a quick way to see raw observations: one JSON line
//! per instance (id, outcome, duration), never judged; the host judges.

use std::time::Duration;

use kconform_core::executor::execute_all;
use kconform_core::kernel::KernelFacts;
use kconform_core::select::{select_instances, Filter};
use kconform_core::Ctx;

fn main() {
    kconform_suites::probe::dispatch_if_probe();
    kconform_core::guest::pid1::run_if_init(kconform_suites::catalog);
    let mut filters = Vec::new();
    let mut iterations = kconform_core::model::DEFAULT_ITERATIONS;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--filter" => filters.extend(args.next().map(|f| Filter::new(&f))),
            "--iterations" => {
                iterations = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(iterations)
            }
            other => {
                eprintln!("kconform-guest: unknown argument `{other}` (takes --filter PAT, --iterations N)");
                std::process::exit(2);
            }
        }
    }
    let catalog = kconform_suites::catalog();
    let chosen = match select_instances(&catalog, &filters) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kconform-guest: {e}");
            std::process::exit(125);
        }
    };
    let facts = KernelFacts::probe();
    let mut instances = Vec::new();
    for inst in chosen {
        match facts.unmet(&inst.needs) {
            Some(why) => {
                let outcome: kconform_core::Outcome = Err(why);
                println!(
                    "{}",
                    serde_json::json!({"id": inst.id, "outcome": outcome, "duration_ms": 0})
                );
            }
            None => instances.push(inst),
        }
    }
    let ctx = Ctx {
        iterations,
        probe_exe: std::env::current_exe().unwrap_or_else(|_| "/init".into()),
        shared_dir: None,
        fail_setup: None,
    };
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    execute_all(
        &instances,
        &ctx,
        jobs,
        Duration::from_secs(20),
        &|_, _| {},
        &|_, _| {},
        &|_, inst, exec| {
            let line = serde_json::json!({
                "id": inst.id,
                "outcome": exec.outcome,
                "duration_ms": exec.duration.as_millis() as u64,
            });
            println!("{line}");
        },
    );
}
