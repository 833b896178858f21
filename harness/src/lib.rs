//! kconform's machinery on the host: where kernels come from
//! ([`kernels`]: specs, Debian's archive, source trees, `git bisect`),
//! running them under QEMU ([`vm`]), and the reports a run writes
//! ([`report`]). The model, the executor, the verdict and the guest's
//! side are `kconform-core`; the scenarios are `kconform-suites`, which
//! this crate never names.

pub mod bundled;
pub mod error;
pub mod kernels;
pub mod report;
pub mod repro;
pub mod util;
pub mod vm;

pub use error::Error;
