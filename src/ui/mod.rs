//! What a person sees: progress as a run goes ([`progress`]), and the
//! tables and lists printed at its end ([`tables`]).

pub mod progress;
pub mod tables;
