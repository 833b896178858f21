//! Who may trace or read whom: credentials, dumpable, process_vm_readv,
//! /proc/PID/mem, Yama (BRIEF item 5).

use kconform_harness::Instance;

pub fn instances() -> Vec<Instance> {
    Vec::new()
}
