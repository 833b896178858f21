//! SECCOMP_RET_TRAP: SIGSYS handlers that read the siginfo and restart or
//! emulate the trapped syscall (BRIEF item 5).

use kconform_harness::Instance;

pub fn instances() -> Vec<Instance> {
    Vec::new()
}
