//! Models of what the kernel must do, each with a runner that puts the
//! same steps to the kernel: checked on fixed-seed cases in every kernel
//! (the areas' model scenarios) and as proptests with shrinking
//! (`suites/tests/*_model.rs`).

pub mod precedence;
pub mod ret_kill;
pub mod tsync;
