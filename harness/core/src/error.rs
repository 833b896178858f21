//! The core's one error type: each leaf error says what is wrong and
//! where, and what the user can do about it.

pub use crate::expect::{BadRange, ExpectError};
pub use crate::kernel::BadVersion;
pub use crate::select::NoMatch;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A fixture file that cannot be read or is malformed (`file:line`).
    #[error(transparent)]
    Expect(#[from] ExpectError),
    /// A `--filter` that matches no id (with the nearest ids).
    #[error(transparent)]
    Filter(#[from] NoMatch),
    #[error(transparent)]
    Version(#[from] BadVersion),
    #[error(transparent)]
    Range(#[from] BadRange),
}
