//! What each boot runs. A guest is thrown away after the run, so kconform
//! may set what its instances need: kernel command-line parameters, which
//! take a boot (instances whose parameters agree share one), and sysctls,
//! which the guest writes between phases of one boot.

use std::collections::{BTreeMap, BTreeSet};

use kconform_core::guest::protocol::Phase;
use kconform_core::model::{Needs, Stop};

/// `name=value` as name and value (a bare name has an empty value).
fn split(param: &str) -> (&str, &str) {
    param.split_once('=').unwrap_or((param, ""))
}

/// Why an instance cannot run with the user's `--cmdline`: it pins a
/// parameter, or a sysctl (`sysctl.kernel.yama.ptrace_scope=3`), to
/// another value than the instance needs. The user's word wins; it is
/// never silently overridden.
pub fn pinned(user: &str, needs: &Needs) -> Option<Stop> {
    // The kernel takes the last of repeated parameters.
    let set = |name: &str| {
        user.split_whitespace()
            .map(split)
            .rfind(|(n, _)| *n == name)
            .map(|(_, v)| v)
    };
    let refuse = |name: &str, theirs: &str, want: &str| {
        Some(Stop::forbidden(format!(
            "the command line pins {name}={theirs} (--cmdline) and this instance needs {want}"
        )))
    };
    for want in &needs.cmdline {
        let (name, value) = split(want);
        if let Some(theirs) = set(name).filter(|v| *v != value) {
            return refuse(name, theirs, want);
        }
    }
    for (path, values) in &needs.sysctls {
        let name = format!("sysctl.{}", path.replace('/', "."));
        if let Some(theirs) = set(&name).filter(|v| !values.contains(v)) {
            return refuse(&name, theirs, &values.join(" or "));
        }
    }
    None
}

/// The parameter names some of these instances need with different
/// values: instances that differ on them cannot share a boot.
pub fn conflicting<'a>(all: impl IntoIterator<Item = &'a Needs>) -> BTreeSet<&'static str> {
    let mut values: BTreeMap<&'static str, BTreeSet<&'static str>> = BTreeMap::new();
    for needs in all {
        for p in &needs.cmdline {
            let (name, value) = split(p);
            values.entry(name).or_default().insert(value);
        }
    }
    values
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(n, _)| n)
        .collect()
}

/// Which boot an instance belongs in: its parameters on the conflicting
/// names. Instances with equal keys share a boot.
pub fn boot_key(needs: &Needs, conflicting: &BTreeSet<&str>) -> Vec<&'static str> {
    let mut key: Vec<&'static str> = needs
        .cmdline
        .iter()
        .copied()
        .filter(|p| conflicting.contains(split(p).0))
        .collect();
    key.sort_unstable();
    key
}

/// The command-line parameters a boot of these instances needs.
pub fn boot_params<'a>(batch: impl IntoIterator<Item = &'a Needs>) -> Vec<&'static str> {
    let params: BTreeSet<&'static str> = batch
        .into_iter()
        .flat_map(|n| n.cmdline.iter().copied())
        .collect();
    params.into_iter().collect()
}

/// One boot's instances in the order the guest runs them, and the phases
/// it sets sysctls in. Instances that need no sysctl run in the first
/// phase; the others go to the first phase their settings agree with,
/// taken in ascending order of value so that no phase has to lower a
/// setting again (Yama's scope 3 cannot be lowered). Within a phase,
/// long instances come first (they overlap the short ones rather than
/// end the phase alone), then the given order.
pub fn phases(batch: &[(usize, &Needs, bool)]) -> (Vec<usize>, Vec<Phase>) {
    let key = |needs: &Needs| -> Vec<(&'static str, &'static str)> {
        let mut k: Vec<_> = needs.sysctls.iter().map(|(p, v)| (*p, v[0])).collect();
        k.sort_unstable();
        k
    };
    let mut constrained: Vec<&(usize, &Needs, bool)> = batch
        .iter()
        .filter(|(_, n, _)| !n.sysctls.is_empty())
        .collect();
    constrained.sort_by_key(|(k, n, _)| (key(n), *k));
    let mut settings: Vec<BTreeMap<&str, &str>> = Vec::new();
    let mut members: Vec<Vec<(usize, bool)>> = Vec::new();
    for (k, needs, long) in constrained {
        let want = key(needs);
        let fits =
            |s: &BTreeMap<&str, &str>| want.iter().all(|(p, v)| s.get(p).map_or(true, |x| x == v));
        let at = match settings.iter().position(fits) {
            Some(at) => at,
            None => {
                settings.push(BTreeMap::new());
                members.push(Vec::new());
                settings.len() - 1
            }
        };
        settings[at].extend(want.iter().copied());
        members[at].push((*k, *long));
    }
    if members.is_empty() {
        settings.push(BTreeMap::new());
        members.push(Vec::new());
    }
    members[0].extend(
        batch
            .iter()
            .filter(|(_, n, _)| n.sysctls.is_empty())
            .map(|(k, _, long)| (*k, *long)),
    );
    let mut order = Vec::with_capacity(batch.len());
    let mut phases = Vec::with_capacity(members.len());
    for (m, s) in members.iter_mut().zip(&settings) {
        m.sort_by_key(|(k, long)| (!long, *k));
        phases.push(Phase {
            start: order.len(),
            sysctls: s
                .iter()
                .map(|(p, v)| (p.to_string(), v.to_string()))
                .collect(),
        });
        order.extend(m.iter().map(|(k, _)| *k));
    }
    (order, phases)
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAMA: &str = "kernel/yama/ptrace_scope";

    fn needs(
        sysctls: &[(&'static str, &'static [&'static str])],
        cmdline: &[&'static str],
    ) -> Needs {
        Needs {
            sysctls: sysctls.to_vec(),
            cmdline: cmdline.to_vec(),
            ..Needs::default()
        }
    }

    #[test]
    fn the_user_command_line_wins_and_says_so() {
        let x32 = needs(&[], &["syscall.x32=y"]);
        assert_eq!(pinned("quiet", &x32), None);
        assert_eq!(pinned("syscall.x32=y", &x32), None);
        let Some(Stop::Skip { reason, .. }) = pinned("syscall.x32=n quiet", &x32) else {
            panic!("not pinned")
        };
        assert!(reason.contains("pins syscall.x32=n"), "{reason}");
        // The last of a repeated parameter is the one the kernel takes.
        assert_eq!(pinned("syscall.x32=n syscall.x32=y", &x32), None);
        // A sysctl set on the command line pins it too.
        let yama = needs(&[(YAMA, &["0", "1"])], &[]);
        assert_eq!(pinned("sysctl.kernel.yama.ptrace_scope=1", &yama), None);
        let Some(Stop::Skip { reason, .. }) = pinned("sysctl.kernel.yama.ptrace_scope=3", &yama)
        else {
            panic!("not pinned")
        };
        assert!(
            reason.contains("pins sysctl.kernel.yama.ptrace_scope=3"),
            "{reason}"
        );
    }

    #[test]
    fn agreeing_parameters_share_a_boot() {
        let (a, b, c) = (
            needs(&[], &["syscall.x32=y"]),
            needs(&[], &[]),
            needs(&[], &["syscall.x32=n", "quiet"]),
        );
        assert!(conflicting([&a, &b]).is_empty());
        assert_eq!(boot_params([&a, &b]), ["syscall.x32=y"]);
        let names = conflicting([&a, &b, &c]);
        assert_eq!(names.iter().copied().collect::<Vec<_>>(), ["syscall.x32"]);
        assert_eq!(boot_key(&a, &names), ["syscall.x32=y"]);
        assert!(boot_key(&b, &names).is_empty());
        assert_eq!(boot_key(&c, &names), ["syscall.x32=n"]);
    }

    #[test]
    fn sysctl_phases_never_lower_a_setting_and_free_instances_go_first() {
        let scope = |v: &'static [&'static str]| needs(&[(YAMA, v)], &[]);
        let (free, any, one, two, three) = (
            needs(&[], &[]),
            scope(&["0", "1"]),
            scope(&["1"]),
            scope(&["2"]),
            scope(&["3"]),
        );
        let batch = [
            (0, &three, false),
            (1, &free, false),
            (2, &two, false),
            (3, &any, false),
            (4, &one, false),
            (5, &free, true),
        ];
        let (order, phases) = phases(&batch);
        assert_eq!(order, [5, 1, 3, 4, 2, 0]);
        let values: Vec<(usize, String)> = phases
            .iter()
            .map(|p| (p.start, p.sysctls.iter().map(|(_, v)| v.as_str()).collect()))
            .collect();
        assert_eq!(
            values,
            [
                (0, "0".into()),
                (3, "1".into()),
                (4, "2".into()),
                (5, "3".into())
            ]
        );
        let (order, phases) = phases_of_free(&free);
        assert_eq!((order, phases.len()), (vec![0], 1));
    }

    fn phases_of_free(free: &Needs) -> (Vec<usize>, Vec<Phase>) {
        phases(&[(0, free, false)])
    }
}
