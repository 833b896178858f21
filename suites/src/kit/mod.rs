//! The toolkit scenarios are written with: seccomp filters, subjects and
//! their notes, tracing, signal dispositions, credentials, /proc. It keeps
//! kernel plumbing out of the scenarios so each reads as setup, the
//! kernel call, and the observation.

pub mod access;
pub mod bpf;
pub mod compat;
pub mod creds;
pub mod crew;
pub mod effects;
pub mod model;
pub mod notif;
pub mod procfs;
pub mod script;
pub mod seccomp;
pub mod sig;
pub mod task;
pub mod trace;
pub mod waits;
pub mod x86;
