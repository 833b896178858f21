//! 32-bit compat syscalls: the arch filters see, and no bypass through the
//! compat table (BRIEF item 5).

use kconform_harness::Instance;

pub fn instances() -> Vec<Instance> {
    Vec::new()
}
