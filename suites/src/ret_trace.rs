//! SECCOMP_RET_TRACE: without a tracer, with a tracer that skips, fakes,
//! redirects or dies; the order of stops; the filter re-checked (BRIEF item 5).

use kconform_harness::Instance;

pub fn instances() -> Vec<Instance> {
    Vec::new()
}
