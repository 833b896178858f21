//! Which action wins across stacked filters, unknown action values and
//! RET_DATA (BRIEF item 5).

use kconform_harness::Instance;

pub fn instances() -> Vec<Instance> {
    Vec::new()
}
