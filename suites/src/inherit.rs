//! Filters, NO_NEW_PRIVS and tracers across fork, clone, vfork, execve and
//! setuid exec (BRIEF item 5).

use kconform_harness::Instance;

pub fn instances() -> Vec<Instance> {
    Vec::new()
}
