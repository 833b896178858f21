//! kconform's scenarios: what the kernel must do where fork, ptrace,
//! seccomp and signals meet. Each area module defines scenarios with the
//! [`kit`]; [`catalog`] expands them into the instances a run executes.

pub mod kit;
pub mod probe;

pub mod compat;
pub mod inherit;
pub mod precedence;
pub mod ptrace_access;
pub mod ptrace_attach;
pub mod ptrace_signals;
pub mod ret_kill;
pub mod ret_trace;
pub mod sa_immutable;
pub mod sigsys;
pub mod tsync;
pub mod user_notif;

use kconform_harness::Instance;

/// Every scenario instance, in a stable order (area, then definition).
pub fn catalog() -> Vec<Instance> {
    let mut all = Vec::new();
    all.extend(sa_immutable::instances());
    all.extend(ret_kill::instances());
    all.extend(ptrace_attach::instances());
    all.extend(tsync::instances());
    all.extend(inherit::instances());
    all.extend(ret_trace::instances());
    all.extend(precedence::instances());
    all.extend(ptrace_signals::instances());
    all.extend(ptrace_access::instances());
    all.extend(sigsys::instances());
    all.extend(compat::instances());
    all.extend(user_notif::instances());
    all
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use kconform_harness::expect::Expectations;
    use kconform_harness::Area;

    /// Each area's ids are unique, carry the area's name, and match its
    /// fixture file one to one (no instance without an expectation, no
    /// expectation left behind by a renamed id).
    #[test]
    fn every_area_matches_its_fixture_file() {
        let all = super::catalog();
        let mut seen = BTreeSet::new();
        for inst in &all {
            assert!(seen.insert(inst.id.as_str()), "{} twice", inst.id);
            let area = inst.area.as_str();
            assert!(inst.id.starts_with(&format!("{area}/")), "{}", inst.id);
        }
        for area in Area::ALL {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../fixtures/expectations/{}.toml", area.as_str()));
            let text = std::fs::read_to_string(&path).unwrap();
            let mut e = Expectations::default();
            e.add_file(&path, &text).unwrap();
            let expected: BTreeSet<&str> = e.by_id.keys().map(String::as_str).collect();
            let ids: BTreeSet<&str> = all
                .iter()
                .filter(|i| i.area == area)
                .map(|i| i.id.as_str())
                .collect();
            assert!(!ids.is_empty(), "{area}: no instances");
            assert_eq!(expected, ids, "{}", path.display());
        }
    }
}
