//! SECCOMP_RET_USER_NOTIF: a supervisor that answers, dies, or loses its
//! target (BRIEF item 5).

use kconform_harness::Instance;

pub fn instances() -> Vec<Instance> {
    Vec::new()
}
