//! kconform's machinery: the scenario model, the fork-per-instance
//! executor, kernel facts, expectations and verdicts, reports, selection.
//! Nothing here knows any particular scenario; `kconform-suites` does.

pub mod bisect;
pub mod debian;
pub mod diff;
pub mod executor;
pub mod expect;
pub mod formats;
pub mod html;
pub mod kcidb;
pub mod kernel;
pub mod matrix;
pub mod model;
pub mod report;
pub mod select;
pub mod session;
pub mod shard;
pub mod spec;
pub mod tree;
pub mod vm;

pub use model::{Area, Ctx, Feature, Instance, Needs, Observation, Outcome, Param, Scenario, Stop};
