//! Action precedence against the model of seccomp_run_filters(), as a real
//! proptest: random stacks of one to five filters (every action, two
//! unknown values, random data, at most one listener on any filter) are
//! put on a probe syscall in subject processes on the running kernel, and
//! a disagreement shrinks to the smallest stack that still shows it. The
//! guest runs the same check from a fixed seed as
//! `precedence/model/random-stacks`.

use std::sync::OnceLock;

use kconform_core::Stop;
use kconform_suites::models::precedence::model;
use kconform_suites::models::precedence::stack::{self, Effect, Layer};
use kconform_suites::precedence::{
    ALLOW, ERRNO, KILL_PROCESS, KILL_THREAD, LOG, TRACE, TRAP, USER_NOTIF,
};
use proptest::prelude::*;

/// Can this kernel (and sandbox) run every kind of case: filters,
/// KILL_PROCESS, a listener, and tracing the probe thread?
fn kernel_can_run_cases() -> bool {
    static CAN: OnceLock<bool> = OnceLock::new();
    *CAN.get_or_init(|| {
        let probe = [
            Layer::new(KILL_PROCESS | 1),
            Layer::new(USER_NOTIF).with_listener(),
            Layer::new(TRACE | 1),
        ];
        match stack::run(&probe) {
            Ok(Effect::KillProcess) => true,
            Ok(other) => {
                eprintln!("precedence model check cannot run here: probe stack met {other}");
                false
            }
            Err(Stop::Skip { reason: why, .. }) | Err(Stop::Error(why)) => {
                eprintln!("precedence model check cannot run here: {why}");
                false
            }
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
    fn kernel_precedence_agrees_with_the_model(layers in model::stacks()) {
        if !kernel_can_run_cases() {
            return Ok(());
        }
        match model::check(&layers) {
            Ok(None) => {}
            Ok(Some(why)) => prop_assert!(false, "kernel and model disagree: {}", why),
            Err(e) => prop_assert!(false, "case could not run: {:?}", e),
        }
    }
}

// The model itself, on shapes the named scenarios pin down.

fn predict(rets: &[u32]) -> Effect {
    let layers: Vec<Layer> = rets.iter().map(|&r| Layer::new(r)).collect();
    stack::predict(&layers)
}

#[test]
fn the_strongest_action_wins_in_any_order() {
    let order = [
        KILL_PROCESS,
        KILL_THREAD,
        TRAP | 7,
        ERRNO | 1,
        TRACE | 9,
        LOG,
        ALLOW,
    ];
    for (i, &a) in order.iter().enumerate() {
        for &b in &order[i..] {
            assert_eq!(predict(&[a, b]), predict(&[b, a]), "{a:#x} {b:#x}");
            assert_eq!(predict(&[a, b]), predict(&[a]), "{a:#x} {b:#x}");
        }
    }
}

#[test]
fn ties_go_to_the_newest_filter() {
    assert_eq!(predict(&[TRAP | 1, TRAP | 2, ALLOW]), Effect::Trap(2));
    assert_eq!(predict(&[ERRNO | 2, LOG, ERRNO | 1]), Effect::Errno(1));
    assert_eq!(
        predict(&[TRACE | 3, TRACE | 4, TRACE | 5]),
        Effect::Trace(5)
    );
    let listener_below = [
        Layer::new(USER_NOTIF).with_listener(),
        Layer::new(USER_NOTIF),
    ];
    assert_eq!(stack::predict(&listener_below), Effect::Errno(libc::ENOSYS));
}

#[test]
fn a_listener_on_a_losing_filter_is_never_asked() {
    let layers = [
        Layer::new(ALLOW).with_listener(),
        Layer::new(USER_NOTIF),
        Layer::new(ERRNO | 3),
    ];
    assert_eq!(stack::predict(&layers), Effect::Errno(3));
}

#[test]
fn unknown_values_rank_by_value_and_kill_the_process_when_they_win() {
    assert_eq!(predict(&[0x0001_0000, TRAP | 1]), Effect::KillProcess);
    assert_eq!(predict(&[0x0001_0000, KILL_THREAD]), Effect::KillThread);
    assert_eq!(predict(&[0x7ffe_0000, LOG]), Effect::Ran);
    assert_eq!(predict(&[ALLOW, 0x7ffe_0000]), Effect::KillProcess);
}

#[test]
fn the_guest_cases_are_fixed_and_varied() {
    let cases = model::fixed_cases(model::CASES);
    assert_eq!(cases, model::fixed_cases(model::CASES));
    assert!(cases
        .iter()
        .all(|c| !c.is_empty() && c.len() <= model::MAX_LAYERS));
    assert!(cases
        .iter()
        .all(|c| c.iter().filter(|l| l.listener).count() <= 1));
    let effects: Vec<Effect> = cases.iter().map(|c| stack::predict(c)).collect();
    assert!(effects.contains(&Effect::KillProcess), "{effects:?}");
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Errno(_))),
        "{effects:?}"
    );
    assert!(cases.iter().any(|c| c.len() >= 3));
}
