//! RET_KILL against random tracer request sequences, as a real proptest:
//! a subject is killed by RET_KILL_THREAD or RET_KILL_PROCESS (from its only
//! thread or a second one), and at every stop of a killed task from its
//! PTRACE_EVENT_EXIT on the tracer makes requests from a random list
//! (PTRACE_CONT or PTRACE_SYSCALL with various signals, SETREGS and POKEUSER
//! pointing rip at an escape hatch, INTERRUPT, LISTEN, DETACH, kill() with
//! SIGCONT, SIGSTOP, SIGUSR1 or SIGKILL). The task must never run again
//! (the effects pipe stays free of escapes) and must end as the action says.
//! A failure shrinks to the shortest request list that still shows it. The
//! guest runs the same check from a fixed seed as
//! `ret-kill/tracer-sequences/random`.
//!
//! Only the proptest forks here: the other tests are pure, so no test's
//! waitpid(-1) can take another's child.

use std::sync::OnceLock;

use kconform_core::Stop;
use kconform_suites::models::ret_kill::{self as sequences, Case, Request, Run};
use kconform_suites::ret_kill::{Kill, Threads};
use nix::sys::signal::Signal;
use proptest::prelude::*;

/// seccomp filters and ptrace usable here? (Not in every sandbox a test may run in.)
fn kernel_can_run_cases() -> bool {
    static CAN: OnceLock<bool> = OnceLock::new();
    *CAN.get_or_init(|| {
        let probe = Case {
            kill: Kill::Thread,
            threads: Threads::Single,
            requests: vec![Request::Cont(None)],
        };
        match sequences::check(&probe) {
            Ok(_) => true,
            Err(Stop::Skip { .. }) => false,
            Err(Stop::Error(e)) => {
                eprintln!("ret-kill sequences cannot run here: {e}");
                false
            }
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_ret_killed_task_never_runs_again(case in sequences::cases()) {
        if !kernel_can_run_cases() {
            return Ok(());
        }
        match sequences::check(&case) {
            Ok(None) => {}
            Ok(Some(why)) => prop_assert!(false, "{}: {}", sequences::name(&case), why),
            Err(e) => prop_assert!(false, "case could not run: {:?}", e),
        }
    }
}

// The judgement itself, on runs made up for it.

fn run(end: &str, effects: &[&str], sigkill_sent: bool) -> Run {
    Run {
        log: vec!["main event EXIT".into(), "setregs=ok".into()],
        end: end.into(),
        effects: effects.iter().map(|e| e.to_string()).collect(),
        sigkill_sent,
        applied: 1,
    }
}

fn case(kill: Kill, threads: Threads) -> Case {
    Case {
        kill,
        threads,
        requests: vec![Request::SetRegs, Request::Cont(None)],
    }
}

#[test]
fn a_killed_task_dying_of_sigsys_with_no_effects_conforms() {
    let c = case(Kill::Process, Threads::Multi);
    assert_eq!(
        sequences::verdict(&c, &run("killed SIGSYS", &[], false)),
        None
    );
    let c = case(Kill::Thread, Threads::Multi);
    assert_eq!(
        sequences::verdict(&c, &run("exit 3", &["main-after-join"], false)),
        None
    );
}

#[test]
fn any_escape_is_a_revival_whatever_the_end() {
    let c = case(Kill::Process, Threads::Single);
    let why = sequences::verdict(&c, &run("exit 77", &["escaped-via-regs"], false)).unwrap();
    assert!(why.starts_with("ran again"), "{why}");
    let c = case(Kill::Thread, Threads::Multi);
    let why = sequences::verdict(
        &c,
        &run("exit 3", &["escaped-thread", "main-after-join"], false),
    )
    .unwrap();
    assert!(why.starts_with("ran again"), "{why}");
}

#[test]
fn the_end_must_match_the_action_unless_the_tracer_sent_sigkill() {
    let c = case(Kill::Thread, Threads::Single);
    assert!(sequences::verdict(&c, &run("killed SIGKILL", &[], false)).is_some());
    assert_eq!(
        sequences::verdict(&c, &run("killed SIGKILL", &[], true)),
        None
    );
    let c = case(Kill::Thread, Threads::Multi);
    assert!(sequences::verdict(&c, &run("exit 3", &[], false)).is_some());
    assert!(sequences::verdict(&c, &run("killed SIGSYS", &[], false)).is_some());
}

#[test]
fn the_guest_cases_are_fixed_and_varied() {
    let cases = sequences::fixed_cases(sequences::CASES);
    let names: Vec<String> = cases.iter().map(sequences::name).collect();
    assert_eq!(
        names,
        sequences::fixed_cases(sequences::CASES)
            .iter()
            .map(sequences::name)
            .collect::<Vec<_>>()
    );
    assert_eq!(cases.len(), sequences::CASES);
    assert!(cases.iter().any(|c| c.kill == Kill::Thread));
    assert!(cases.iter().any(|c| c.kill == Kill::Process));
    assert!(cases.iter().any(|c| c.threads == Threads::Multi));
    let requests: Vec<Request> = cases.iter().flat_map(|c| c.requests.clone()).collect();
    assert!(requests
        .iter()
        .any(|r| matches!(r, Request::SetRegs | Request::PokeRip)));
    assert!(requests.contains(&Request::Kill(Signal::SIGKILL)) || requests.len() > 20);
}
