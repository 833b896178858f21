//! TSYNC against the model of filter ancestry, as a real proptest: random
//! thread/filter trees are built in subject processes on the running
//! kernel, and a disagreement shrinks to the smallest sequence of spawns,
//! installs and sync attempts that still shows it. The guest runs the
//! same check from a fixed seed as `tsync/model/random-trees`.

use std::sync::OnceLock;

use kconform_core::Stop;
use kconform_suites::models::tsync::{self as model, Answer, Expect, KernelRun, Op, Step};
use proptest::prelude::*;

/// seccomp filters installable here? (Not in every sandbox a test may run in.)
fn kernel_can_run_cases() -> bool {
    static CAN: OnceLock<bool> = OnceLock::new();
    *CAN.get_or_init(|| match model::check(&[Op::Tsync { by: 0, esrch: true }]) {
        Ok(_) => true,
        Err(Stop::Skip { .. }) => false,
        Err(Stop::Error(e)) => {
            eprintln!("tsync model check cannot run here: {e}");
            false
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn kernel_tsync_agrees_with_the_ancestry_model(ops in model::ops()) {
        if !kernel_can_run_cases() {
            return Ok(());
        }
        match model::check(&ops) {
            Ok(None) => {}
            Ok(Some(why)) => prop_assert!(false, "kernel and model disagree: {}", why),
            Err(e) => prop_assert!(false, "case could not run: {:?}", e),
        }
    }
}

// The model itself, on the shapes the named scenarios pin down.

fn predict(steps: &[Step]) -> model::Prediction {
    model::predict(steps)
}

#[test]
fn shared_filter_syncs_everyone() {
    // main installs 1, spawns two siblings, syncs 4.
    let p = predict(&[
        Step::Install { by: 0 },
        Step::Spawn { by: 0 },
        Step::Spawn { by: 0 },
        Step::Tsync {
            by: 0,
            esrch: false,
        },
    ]);
    assert_eq!(p.tsyncs, vec![Expect::Synced]);
    assert_eq!(p.newest, vec![4, 4, 4]);
}

#[test]
fn no_filter_is_the_root_ancestor() {
    let p = predict(&[
        Step::Spawn { by: 0 },
        Step::Tsync {
            by: 0,
            esrch: false,
        },
    ]);
    assert_eq!(p.tsyncs, vec![Expect::Synced]);
    assert_eq!(p.newest, vec![2, 2]);
}

#[test]
fn a_diverged_sibling_blocks_and_nothing_changes() {
    let p = predict(&[
        Step::Install { by: 0 },
        Step::Spawn { by: 0 },
        Step::Spawn { by: 0 },
        Step::Install { by: 2 },
        Step::Tsync {
            by: 0,
            esrch: false,
        },
        Step::Tsync { by: 0, esrch: true },
    ]);
    assert_eq!(p.tsyncs, vec![Expect::RefusedBy(vec![2]), Expect::Esrch]);
    assert_eq!(p.newest, vec![1, 1, 4]);
}

#[test]
fn a_thread_ahead_of_the_others_may_sync_them() {
    // sibling-1 stacks 4 over the shared 1; its sync succeeds, main's would not.
    let p = predict(&[
        Step::Install { by: 0 },
        Step::Spawn { by: 0 },
        Step::Spawn { by: 0 },
        Step::Install { by: 1 },
        Step::Tsync {
            by: 0,
            esrch: false,
        },
        Step::Tsync {
            by: 1,
            esrch: false,
        },
    ]);
    assert_eq!(p.tsyncs, vec![Expect::RefusedBy(vec![1]), Expect::Synced]);
    assert_eq!(p.newest, vec![6, 6, 6]);
}

#[test]
fn an_unfiltered_caller_is_blocked_by_any_filtered_thread() {
    let p = predict(&[
        Step::Spawn { by: 0 },
        Step::Spawn { by: 0 },
        Step::Install { by: 1 },
        Step::Tsync {
            by: 2,
            esrch: false,
        },
    ]);
    assert_eq!(p.tsyncs, vec![Expect::RefusedBy(vec![1])]);
    assert_eq!(p.newest, vec![0, 3, 0]);
}

#[test]
fn thread_numbers_resolve_against_live_threads_and_spawns_are_capped() {
    let mut ops = vec![Op::Spawn { by: 5 }; model::MAX_THREADS + 2];
    ops.push(Op::Install { by: 7 });
    ops.push(Op::Tsync { by: 9, esrch: true });
    let steps = model::resolve(&ops);
    let spawns = steps
        .iter()
        .filter(|s| matches!(s, Step::Spawn { .. }))
        .count();
    assert_eq!(spawns, model::MAX_THREADS - 1);
    assert_eq!(steps[0], Step::Spawn { by: 0 });
    assert_eq!(
        steps[spawns],
        Step::Install {
            by: 7 % model::MAX_THREADS
        }
    );
    assert_eq!(model::describe(&steps[spawns..]), "i1,T3");
}

#[test]
fn disagreements_name_the_case_compactly() {
    let steps = [
        Step::Spawn { by: 0 },
        Step::Install { by: 1 },
        Step::Tsync {
            by: 0,
            esrch: false,
        },
    ];
    let agreeing = KernelRun {
        answers: vec![Answer::Refused(1)],
        newest: vec![0, 2],
    };
    assert_eq!(model::disagreement(&steps, &agreeing), None);
    let wrong = KernelRun {
        answers: vec![Answer::Synced],
        newest: vec![3, 3],
    };
    assert_eq!(
        model::disagreement(&steps, &wrong).as_deref(),
        Some("s0,i1,t0: kernel=[ok] [3,3] model=[refused(1)] [0,2]")
    );
}

#[test]
fn the_guest_cases_are_fixed_and_varied() {
    let cases = model::fixed_cases(model::CASES);
    assert_eq!(cases, model::fixed_cases(model::CASES));
    let outcomes: Vec<Expect> = cases
        .iter()
        .flat_map(|c| predict(&model::resolve(c)).tsyncs)
        .collect();
    assert!(outcomes.contains(&Expect::Synced));
    assert!(outcomes.iter().any(|e| matches!(e, Expect::RefusedBy(_))));
    assert!(outcomes.contains(&Expect::Esrch));
}
