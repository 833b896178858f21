//! Probe modes of the kconform binaries: when a scenario execs the binary
//! as a setuid copy or as the kernel's modprobe helper, it reports what
//! it is instead of running a suite.

/// Call first thing in `main`: returns only when not invoked as a probe.
pub fn dispatch_if_probe() {}
