//! kconform's scenarios: what the kernel must do where fork, ptrace,
//! seccomp and signals meet. Each area module defines scenarios with the
//! [`kit`]; [`catalog`] expands them into the instances a run executes.

pub mod kit;
pub mod probe;

pub mod compat;
pub mod inherit;
pub mod precedence;
pub mod ptrace_access;
pub mod ptrace_attach;
pub mod ptrace_signals;
pub mod ret_kill;
pub mod ret_trace;
pub mod sa_immutable;
pub mod sigsys;
pub mod tsync;
pub mod user_notif;

use kconform_harness::Instance;

/// Every scenario instance, in a stable order (area, then definition).
pub fn catalog() -> Vec<Instance> {
    let mut all = Vec::new();
    all.extend(sa_immutable::instances());
    all.extend(ret_kill::instances());
    all.extend(ptrace_attach::instances());
    all.extend(tsync::instances());
    all.extend(inherit::instances());
    all.extend(ret_trace::instances());
    all.extend(precedence::instances());
    all.extend(ptrace_signals::instances());
    all.extend(ptrace_access::instances());
    all.extend(sigsys::instances());
    all.extend(compat::instances());
    all.extend(user_notif::instances());
    all
}
