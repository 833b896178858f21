//! The harness's one error type. Each leaf error names what is wrong and
//! says what the user can do about it; this wraps them for callers that
//! only report and stop.

pub use crate::kernels::bisect::BisectError;
pub use crate::kernels::debian::DebianError;
pub use crate::kernels::package::PackageError;
pub use crate::kernels::tree::TreeError;
pub use crate::kernels::SpecError;
pub use crate::report::ReportError;
pub use crate::vm::VmError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Core(#[from] kconform_core::Error),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Debian(#[from] DebianError),
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error(transparent)]
    Bisect(#[from] BisectError),
    #[error(transparent)]
    Vm(#[from] VmError),
    #[error(transparent)]
    Report(#[from] ReportError),
}
