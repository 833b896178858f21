//! Signals under ptrace: PTRACE_EVENT_EXIT, SIGKILL at that stop, group-stop
//! and PTRACE_LISTEN (BRIEF item 5).

use kconform_harness::Instance;

pub fn instances() -> Vec<Instance> {
    Vec::new()
}
