//! Fixed-seed cases of the proptest models, so the guest checks the same
//! random cases on every run and every kernel.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// The first `n` values of `strategy` from a fixed seed. The models'
/// strategies never reject, so every draw yields a case.
pub fn seeded_cases<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    (0..n)
        .filter_map(|_| strategy.new_tree(&mut runner).ok().map(|t| t.current()))
        .collect()
}
