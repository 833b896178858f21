//! The minimal kernel fragment and the scenarios agree: every config
//! option a scenario declares it needs is enabled by
//! `kernel-configs/minimal.config`, so a `tree:` kernel built with it skips
//! nothing for want of an option.

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn the_fragment_enables_every_option_a_scenario_needs() {
    let fragment = Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-configs/minimal.config");
    let text = std::fs::read_to_string(&fragment).unwrap();
    let config = kconform_core::kernel::parse_config(&text);
    let needed: BTreeSet<&str> = kconform_suites::catalog()
        .iter()
        .flat_map(|i| i.needs.config.clone())
        .collect();
    assert!(
        needed.contains("CONFIG_SECCOMP_FILTER"),
        "the catalog's needs were not read: {needed:?}"
    );
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|opt| !matches!(config.get(*opt).map(String::as_str), Some("y")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} does not enable {missing:?}, which scenarios need: add each with a `# why:` line",
        fragment.display()
    );
}
