//! kconform's core: what the static guest runs as well as the host.
//!
//! - [`model`]: scenarios, instances, needs, observations;
//! - [`executor`]: instances in forked scenario processes, with a timeout;
//! - [`reuse`]: whether a scenario process may run another instance;
//! - [`kernel`]: facts about a kernel (version, config, probed features);
//! - [`expect`]: the fixtures and the verdict against them;
//! - [`record`]: results and the per-kernel report they make;
//! - [`run`]: one kernel's run as events, and the native runner;
//! - [`select`]: `--filter` patterns;
//! - [`setup`]: a scenario's failed setup step, reported as an error;
//! - [`console`]: the kernel log read for trouble;
//! - [`guest`]: the guest's /init and its protocol with the host;
//! - [`interrupt`]: Ctrl-C and SIGTERM as a request to stop.
//!
//! Nothing here knows a particular scenario (`kconform-suites` does), a
//! kernel's origin, QEMU, or a report format (`kconform-harness` does).

pub mod console;
pub mod error;
pub mod executor;
pub mod expect;
pub mod guest;
pub mod interrupt;
pub mod kernel;
pub mod model;
pub mod record;
pub mod reuse;
pub mod run;
pub mod select;
pub mod setup;

pub use error::Error;
pub use model::{
    Area, Ctx, Feature, Instance, Needs, Observation, Outcome, Param, Scenario, SkipClass, Stop,
};
