//! kconform's scenarios: what the kernel must do where fork, ptrace,
//! seccomp and signals meet. Each area module defines scenarios with the
//! [`kit`]; [`catalog`] expands them into the instances a run executes.

pub mod kit;
pub mod probe;

pub mod ptrace_attach;
pub mod ret_kill;
pub mod sa_immutable;
pub mod tsync;

use kconform_harness::Instance;

/// Every scenario instance, in a stable order (area, then definition).
pub fn catalog() -> Vec<Instance> {
    let mut all = Vec::new();
    all.extend(sa_immutable::instances());
    all.extend(ret_kill::instances());
    all.extend(ptrace_attach::instances());
    all.extend(tsync::instances());
    all
}
