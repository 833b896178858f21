//! kconform's scenarios: what the kernel must do where fork, ptrace,
//! seccomp and signals meet. Each area module defines scenarios with the
//! [`kit`]; [`catalog`] expands them into the instances a run executes.

pub mod kit;
pub mod models;
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
pub mod wait;
pub mod x86_ptrace;

use kconform_core::{Area, Instance};

/// An area: its name and summary, and its instances.
pub struct AreaDef {
    pub area: Area,
    pub instances: fn() -> Vec<Instance>,
}

/// Every area, in the order reports show them: the four seed areas
/// (BRIEF.md items 1-4), then the matrix around them (item 5).
pub const AREAS: &[AreaDef] = &[
    AreaDef {
        area: sa_immutable::AREA,
        instances: sa_immutable::instances,
    },
    AreaDef {
        area: ret_kill::AREA,
        instances: ret_kill::instances,
    },
    AreaDef {
        area: ptrace_attach::AREA,
        instances: ptrace_attach::instances,
    },
    AreaDef {
        area: tsync::AREA,
        instances: tsync::instances,
    },
    AreaDef {
        area: inherit::AREA,
        instances: inherit::instances,
    },
    AreaDef {
        area: ret_trace::AREA,
        instances: ret_trace::instances,
    },
    AreaDef {
        area: precedence::AREA,
        instances: precedence::instances,
    },
    AreaDef {
        area: ptrace_signals::AREA,
        instances: ptrace_signals::instances,
    },
    AreaDef {
        area: ptrace_access::AREA,
        instances: ptrace_access::instances,
    },
    AreaDef {
        area: sigsys::AREA,
        instances: sigsys::instances,
    },
    AreaDef {
        area: compat::AREA,
        instances: compat::instances,
    },
    AreaDef {
        area: user_notif::AREA,
        instances: user_notif::instances,
    },
    AreaDef {
        area: wait::AREA,
        instances: wait::instances,
    },
    AreaDef {
        area: x86_ptrace::AREA,
        instances: x86_ptrace::instances,
    },
];

/// Every area, in catalog order.
pub fn areas() -> Vec<Area> {
    AREAS.iter().map(|a| a.area).collect()
}

/// Every scenario instance, in a stable order (area, then definition).
pub fn catalog() -> Vec<Instance> {
    AREAS.iter().flat_map(|a| (a.instances)()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use kconform_core::expect::Expectations;

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
        for area in super::areas() {
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
