//! Which action wins when several filters answer the same syscall, what
//! the kernel does with action values it does not know, and where each
//! action's 16 bits of RET_DATA end up (BRIEF item 5).
//!
//! kernel/seccomp.c seccomp_run_filters() runs every filter of the task,
//! newest first, and keeps a return value only if its action (the upper
//! 16 bits, compared as a signed number: `ACTION_ONLY()`) is strictly
//! lower than the best so far. So the most restrictive action wins
//! whatever the install order,
//! KILL_PROCESS < KILL_THREAD < TRAP < ERRNO < USER_NOTIF < TRACE < LOG < ALLOW,
//! and among equal actions the newest filter's return value is the one
//! acted on: its data, and for USER_NOTIF its listener (a USER_NOTIF from
//! a filter without one fails with ENOSYS even when an older filter's
//! USER_NOTIF has a listener).
//!
//! Every instance stacks filters on one probe, `getppid(PROBE_ARG)`,
//! called from a second thread of a fresh subject (so KILL_THREAD and
//! KILL_PROCESS differ: the main thread joins it and exits 3, or dies
//! too); each filter answers only the probe and allows everything else.
//! The subject has a SIGSYS handler, a thread answering its listener (if
//! one filter has one) with `NOTIF_REPLY`, and the scenario traces the
//! probe thread when a filter returns TRACE. Observations name the stack
//! in install order, oldest first (`trap(0x7),errno(1)`), and what the
//! probe met ([`stack::Effect`]): `kill-process`, `kill-thread`,
//! `trap data=0x7` (the handler's si_errno), `errno=EPERM`, `ret=0`,
//! `notified`, `trace data=0x9` (the tracer's event message), `ran` (the
//! real getppid answer). LOG and ALLOW both show as `ran`: which of the
//! two won is only visible in the audit log, which the suite does not
//! read.
//!
//! Which pairs: precedence is a total order, so each instance runs both
//! install orders of one pair, for every neighbouring pair in the order
//! (7: with consistent comparisons they pin the whole order) and for
//! KILL_PROCESS against every other action (6 more: it is the one
//! negative value, so an unsigned comparison, or the old 0x7fff0000
//! action mask that makes it equal to KILL_THREAD, shows there). That is
//! 13 of the 28 pairs; `precedence/model/random-stacks` (on every kernel)
//! and the proptest `suites/tests/precedence_model.rs` (in `cargo test`)
//! run random stacks of up to five filters, and so every pair and order,
//! against [`stack::predict`].
//!
//! Unknown action values are not refused at install (the BPF checker
//! only looks at opcodes) and SECCOMP_GET_ACTION_AVAIL calls them
//! unsupported. They take part in precedence by their value, so one
//! below TRAP beats TRAP and one above LOG loses to LOG; if one wins,
//! the `default:` case of __seccomp_filter() kills the process (since
//! 4d671d922d51, 5.10-rc1 and backported to 4.19.y: before, the thread).
//! 0x7fc00000 was such a value until 5.0 made it USER_NOTIF.

use kconform_core::{
    Area, Ctx, Feature, Instance, Needs, Observation, Outcome, Param, Scenario, Stop,
};

use crate::kit::seccomp::action_avail;
use crate::kit::trace::result_name;

use crate::models::precedence::model;
use crate::models::precedence::stack::{self, Layer};

pub const KILL_PROCESS: u32 = libc::SECCOMP_RET_KILL_PROCESS;
pub const KILL_THREAD: u32 = libc::SECCOMP_RET_KILL_THREAD;
pub const TRAP: u32 = libc::SECCOMP_RET_TRAP;
pub const ERRNO: u32 = libc::SECCOMP_RET_ERRNO;
pub const USER_NOTIF: u32 = libc::SECCOMP_RET_USER_NOTIF;
pub const TRACE: u32 = libc::SECCOMP_RET_TRACE;
pub const LOG: u32 = libc::SECCOMP_RET_LOG;
pub const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;

/// The data the pair instances give each action, so that a wrong winner
/// would show by its data too.
const PAIR_TRAP: u32 = TRAP | 0x7;
const PAIR_ERRNO: u32 = ERRNO | libc::EPERM as u32;
const PAIR_TRACE: u32 = TRACE | 0x9;

/// The actions, strongest first, as the pair instances use them.
const ORDER: [u32; 8] = [
    KILL_PROCESS,
    KILL_THREAD,
    PAIR_TRAP,
    PAIR_ERRNO,
    USER_NOTIF,
    PAIR_TRACE,
    LOG,
    ALLOW,
];

pub const AREA: Area = Area {
    name: "precedence",
    summary: "which action wins across stacked filters; unknown actions; RET_DATA",
};

pub fn instances() -> Vec<Instance> {
    let mut all = Vec::new();
    all.extend(PAIR.expand(pairs()));
    all.extend(SAME_ACTION.expand(SameAction::ALL));
    all.extend(UNKNOWN_STACKED.expand(unknown_stacked()));
    all.extend(UNKNOWN_ALONE.expand(UNKNOWN.map(Unknown)));
    all.extend(RET_DATA.expand(ret_data()));
    all.extend(ACTION_AVAIL.expand([()]));
    all.extend(MODEL.expand([()]).into_iter().map(Instance::long));
    all
}

/// A stack needs what its actions need: KILL_PROCESS (and the
/// kill-the-process answer to unknown actions) 4.14, USER_NOTIF 5.0.
fn needs_for(rets: &[u32]) -> Needs {
    let mut needs = Needs::any();
    if rets
        .iter()
        .any(|&r| r & 0xffff_0000 == KILL_PROCESS || !is_known(r))
    {
        needs = needs.feature(Feature::RetKillProcess);
    }
    if rets.iter().any(|&r| r & 0xffff_0000 == USER_NOTIF) {
        needs = needs.feature(Feature::NewListener);
    }
    needs
}

fn is_known(ret: u32) -> bool {
    ORDER.iter().any(|&a| a & 0xffff_0000 == ret & 0xffff_0000)
}

/// The slug of an action in ids: `kill-process`, `errno`, `0x10000`.
pub(crate) fn action_slug(ret: u32) -> String {
    match ret & 0xffff_0000 {
        KILL_PROCESS => "kill-process".into(),
        KILL_THREAD => "kill-thread".into(),
        TRAP => "trap".into(),
        ERRNO => "errno".into(),
        USER_NOTIF => "user-notif".into(),
        TRACE => "trace".into(),
        LOG => "log".into(),
        ALLOW => "allow".into(),
        _ => format!("{ret:#x}"),
    }
}

/// A USER_NOTIF layer gets the listener: in a pair there is only one.
fn layer(ret: u32) -> Layer {
    let l = Layer::new(ret);
    if ret & 0xffff_0000 == USER_NOTIF {
        l.with_listener()
    } else {
        l
    }
}

/// `stack` installed and run: `actions -> effect`.
fn ran(stack: &[Layer]) -> Result<String, Stop> {
    let effect = stack::run(stack)?;
    Ok(format!("{} -> {effect}", stack::describe(stack)))
}

/// Both install orders of `a` and `b`: `a,b -> effect; b,a -> effect`.
fn both_orders(a: Layer, b: Layer) -> Outcome {
    let parts = [ran(&[a, b])?, ran(&[b, a])?];
    Ok(Observation::new(parts.join("; ")))
}

/// One filter returning `ret`: `action -> effect`.
fn alone(ret: u32) -> Outcome {
    Ok(Observation::new(ran(&[Layer::new(ret)])?))
}

// ---------------------------------------------------------------------------
// Pairs of different actions.

/// Two actions, the stronger first in the id.
#[derive(Clone, Copy, Debug)]
pub struct Pair {
    pub stronger: u32,
    pub weaker: u32,
}

impl Param for Pair {
    fn slug(&self) -> String {
        format!(
            "{}/{}",
            action_slug(self.stronger),
            action_slug(self.weaker)
        )
    }
}

/// Neighbours in the order and KILL_PROCESS against all (see the module
/// doc for why these 13).
fn pairs() -> Vec<Pair> {
    let mut out: Vec<Pair> = Vec::new();
    let mut add = |i: usize, j: usize| {
        let p = Pair {
            stronger: ORDER[i.min(j)],
            weaker: ORDER[i.max(j)],
        };
        if !out
            .iter()
            .any(|q| q.stronger == p.stronger && q.weaker == p.weaker)
        {
            out.push(p);
        }
    };
    let last = ORDER.len() - 1;
    for i in 0..last {
        add(i, i + 1);
    }
    for j in 1..ORDER.len() {
        add(0, j);
    }
    out
}

static PAIR: Scenario<Pair> = Scenario {
    base: "precedence/pair",
    area: AREA,
    summary: "of two stacked filters the more restrictive action wins, in either install order",
    needs: |p| needs_for(&[p.stronger, p.weaker]),
    run: |p, _| both_orders(layer(p.stronger), layer(p.weaker)),
};

// ---------------------------------------------------------------------------
// Equal actions: the newest filter's value.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameAction {
    Trap,
    Errno,
    Trace,
    /// USER_NOTIF in both, a listener on one.
    UserNotif,
}

impl SameAction {
    const ALL: [SameAction; 4] = [
        SameAction::Trap,
        SameAction::Errno,
        SameAction::Trace,
        SameAction::UserNotif,
    ];

    fn layers(self) -> (Layer, Layer) {
        match self {
            SameAction::Trap => (Layer::new(TRAP | 1), Layer::new(TRAP | 2)),
            SameAction::Errno => (Layer::new(ERRNO | 1), Layer::new(ERRNO | 2)),
            SameAction::Trace => (Layer::new(TRACE | 1), Layer::new(TRACE | 2)),
            SameAction::UserNotif => (
                Layer::new(USER_NOTIF).with_listener(),
                Layer::new(USER_NOTIF),
            ),
        }
    }
}

impl Param for SameAction {
    fn slug(&self) -> String {
        match self {
            SameAction::Trap => "trap",
            SameAction::Errno => "errno",
            SameAction::Trace => "trace",
            SameAction::UserNotif => "user-notif",
        }
        .into()
    }
}

static SAME_ACTION: Scenario<SameAction> = Scenario {
    base: "precedence/same-action",
    area: AREA,
    summary: "between equal actions the newest filter's return value (data, listener) is acted on",
    needs: |p| {
        let (a, b) = p.layers();
        needs_for(&[a.ret, b.ret])
    },
    run: |p, _| {
        let (a, b) = p.layers();
        both_orders(a, b)
    },
};

// ---------------------------------------------------------------------------
// Unknown action values.

/// One below KILL_THREAD (negative as s32), one between KILL_THREAD and
/// TRAP, one between LOG and ALLOW.
const UNKNOWN: [u32; 3] = [0xffff_0000, 0x0001_0000, 0x7ffe_0000];

#[derive(Clone, Copy, Debug)]
pub struct UnknownWith {
    pub unknown: u32,
    pub known: u32,
}

impl Param for UnknownWith {
    fn slug(&self) -> String {
        format!("{:#x}/{}", self.unknown, action_slug(self.known))
    }
}

/// Each unknown value against the known action just above it, which it
/// beats, and the highest one also against LOG just below it, to which
/// it loses (0xffff0000 has only KILL_PROCESS below, which kills too).
fn unknown_stacked() -> Vec<UnknownWith> {
    [
        (UNKNOWN[0], KILL_THREAD),
        (UNKNOWN[1], PAIR_TRAP),
        (UNKNOWN[2], LOG),
        (UNKNOWN[2], ALLOW),
    ]
    .into_iter()
    .map(|(unknown, known)| UnknownWith { unknown, known })
    .collect()
}

static UNKNOWN_STACKED: Scenario<UnknownWith> = Scenario {
    base: "precedence/unknown-action/stacked",
    area: AREA,
    summary:
        "an unknown action value installs, ranks by its value, and kills the process when it wins",
    needs: |p| needs_for(&[p.unknown, p.known]),
    run: |p, _| both_orders(Layer::new(p.unknown), Layer::new(p.known)),
};

/// One unknown value on its own.
#[derive(Clone, Copy, Debug)]
pub struct Unknown(u32);

impl Param for Unknown {
    fn slug(&self) -> String {
        format!("{:#x}", self.0)
    }
}

static UNKNOWN_ALONE: Scenario<Unknown> = Scenario {
    base: "precedence/unknown-action/alone",
    area: AREA,
    summary: "a lone filter returning an unknown action value kills the whole process, not just the calling thread",
    needs: |p| needs_for(&[p.0]),
    run: |p, _| alone(p.0),
};

// ---------------------------------------------------------------------------
// RET_DATA.

#[derive(Clone, Copy, Debug)]
pub struct Data(u32);

impl Param for Data {
    fn slug(&self) -> String {
        match self.0 & 0xffff_0000 {
            ERRNO => format!("errno/{}", self.0 & 0xffff),
            _ => format!("{}/{:#x}", action_slug(self.0), self.0 & 0xffff),
        }
    }
}

/// ERRNO: 0 (a successful return of 0), the largest errno and one past
/// it (capped); TRAP and TRACE: all 16 bits, uncapped. (Other data values
/// appear in the pairs, the equal-action instances and the model.)
fn ret_data() -> Vec<Data> {
    [
        ERRNO,
        ERRNO | 4095,
        ERRNO | 4096,
        TRAP | 0xffff,
        TRACE | 0xffff,
    ]
    .into_iter()
    .map(Data)
    .collect()
}

static RET_DATA: Scenario<Data> = Scenario {
    base: "precedence/ret-data",
    area: AREA,
    summary: "RET_DATA becomes the errno (capped at 4095), the SIGSYS si_errno, or the tracer's event message",
    needs: |_| Needs::any(),
    run: |p, _| alone(p.0),
};

// ---------------------------------------------------------------------------
// SECCOMP_GET_ACTION_AVAIL.

static ACTION_AVAIL: Scenario<()> = Scenario {
    base: "precedence/action-avail",
    area: AREA,
    summary: "SECCOMP_GET_ACTION_AVAIL knows every action, only with its data bits clear, and no other value",
    needs: |_| {
        Needs::any()
            .feature(Feature::RetKillProcess)
            .feature(Feature::NewListener)
    },
    run: |_, _| {
        let mut parts: Vec<String> = ORDER
            .iter()
            .map(|&a| {
                let a = a & 0xffff_0000;
                format!("{}={}", action_slug(a), result_name(&action_avail(a)))
            })
            .collect();
        parts.push(format!(
            "errno(1)={}",
            result_name(&action_avail(ERRNO | 1))
        ));
        for u in UNKNOWN {
            parts.push(format!("{u:#x}={}", result_name(&action_avail(u))));
        }
        Ok(Observation::new(parts.join(" ")))
    },
};

// ---------------------------------------------------------------------------
// The model check.

static MODEL: Scenario<()> = Scenario {
    base: "precedence/model/random-stacks",
    area: AREA,
    summary: "random stacks of filters meet the action a model of seccomp_run_filters() predicts",
    needs: |_| {
        Needs::any()
            .feature(Feature::RetKillProcess)
            .feature(Feature::NewListener)
    },
    run: model_check,
};

/// A fixed-seed sequence of random stacks ([`model::stacks`]), each run
/// in a fresh subject; the proptest explores many more natively.
fn model_check(_: &(), _: &Ctx) -> Outcome {
    let cases = model::fixed_cases(model::CASES);
    let mut agree = 0;
    let mut first = None;
    for (i, layers) in cases.iter().enumerate() {
        match model::check(layers)? {
            None => agree += 1,
            Some(why) => {
                first.get_or_insert(format!(" first=#{i}:{why}"));
            }
        }
        kconform_core::setup::case_done();
    }
    Ok(Observation::new(format!(
        "cases={} agree={agree}{}",
        cases.len(),
        first.unwrap_or_default()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pair_subset_is_neighbours_and_kill_process_against_all() {
        let p = pairs();
        assert_eq!(p.len(), 13);
        for w in ORDER.windows(2) {
            assert!(p.iter().any(|q| q.stronger == w[0] && q.weaker == w[1]));
        }
        for &a in &ORDER[1..] {
            assert!(p
                .iter()
                .any(|q| q.stronger == KILL_PROCESS && q.weaker == a));
        }
    }

    #[test]
    fn fixed_cases_are_deterministic_and_varied() {
        let cases = model::fixed_cases(model::CASES);
        assert_eq!(cases, model::fixed_cases(model::CASES));
        let kinds: std::collections::BTreeSet<String> = cases
            .iter()
            .map(|c| {
                let e = stack::predict(c).to_string();
                e.split([' ', '=']).next().unwrap_or("").to_string()
            })
            .collect();
        assert!(kinds.len() >= 4, "{kinds:?}");
    }
}
