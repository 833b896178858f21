//! Config fragments: what `kernel-configs/*.config` asks of Kconfig,
//! merged over tinyconfig, and what Kconfig kept of it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kconform_core::kernel::{assignment, Setting};

/// An option the generated config does not have as the fragment asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    pub option: String,
    pub wanted: Setting,
    /// `None` when the option is not set (or does not exist in this tree).
    pub got: Option<String>,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let got = self.got.as_deref().unwrap_or("not set");
        write!(f, "{} (wanted {}, got {got})", self.option, self.wanted)
    }
}

pub(super) fn list(dropped: &[Dropped]) -> String {
    dropped
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A fragment's assignments in order; `Err((line, problem))` for a line
/// that is neither an assignment nor a comment, or an option given twice.
pub(super) fn parse_fragment(text: &str) -> Result<Vec<(String, Setting)>, (usize, String)> {
    let mut wants: Vec<(String, Setting)> = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim();
        let parsed = assignment(trimmed);
        if parsed.is_none() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        let Some((name, want)) = parsed else {
            return Err((
                n,
                format!(
                    "`{trimmed}` is not `CONFIG_NAME=value`, `# CONFIG_NAME is not set` \
                     or a # comment"
                ),
            ));
        };
        if let Some(first) = seen.insert(name.to_string(), n) {
            return Err((n, format!("{name} is already set on line {first}")));
        }
        wants.push((name.into(), want));
    }
    if wants.is_empty() {
        return Err((0, "sets no options".into()));
    }
    Ok(wants)
}

/// The options a .config sets, with their values as written.
pub(super) fn options_set(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(assignment)
        .filter_map(|(name, want)| match want {
            Setting::Value(v) => Some((name.to_string(), v)),
            Setting::NotSet => None,
        })
        .collect()
}

/// Every fragment option the config does not have as asked.
pub(super) fn dropped_options(
    config: &BTreeMap<String, String>,
    wants: &[(String, Setting)],
) -> Vec<Dropped> {
    wants
        .iter()
        .filter_map(|(option, wanted)| {
            let got = config.get(option).cloned();
            let kept = match wanted {
                Setting::Value(v) => got.as_deref() == Some(v.as_str()),
                Setting::NotSet => got.is_none(),
            };
            (!kept).then(|| Dropped {
                option: option.clone(),
                wanted: wanted.clone(),
                got,
            })
        })
        .collect()
}

/// `base` with the fragment's options removed and the fragment appended,
/// as `merge_config.sh -m` does: Kconfig then sees one assignment per
/// option instead of warning about reassignments.
pub(super) fn merge_fragment(base: &str, wants: &[(String, Setting)]) -> String {
    let ours: BTreeSet<&str> = wants.iter().map(|(n, _)| n.as_str()).collect();
    let mut out = String::with_capacity(base.len() + wants.len() * 40);
    for line in base.lines() {
        if assignment(line).is_some_and(|(name, _)| ours.contains(name)) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("# kconform fragment\n");
    for (name, want) in wants {
        match want {
            Setting::Value(v) => out.push_str(&format!("{name}={v}\n")),
            Setting::NotSet => out.push_str(&format!("# {name} is not set\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;
    use crate::kernels::tree::{default_fragment, TreeError};

    fn wants(text: &str) -> Vec<(String, Setting)> {
        parse_fragment(text).unwrap()
    }

    fn v(s: &str) -> Setting {
        Setting::Value(s.into())
    }

    #[test]
    fn fragment_assignments_in_order() {
        let text = "# why: because\nCONFIG_SMP=y\n\n  CONFIG_NR_CPUS=4\n\
                    # CONFIG_DEBUG_INFO is not set\nCONFIG_CMDLINE=\"a b\"\nCONFIG_BLOCK=n\n";
        assert_eq!(
            wants(text),
            vec![
                ("CONFIG_SMP".into(), v("y")),
                ("CONFIG_NR_CPUS".into(), v("4")),
                ("CONFIG_DEBUG_INFO".into(), Setting::NotSet),
                ("CONFIG_CMDLINE".into(), v("\"a b\"")),
                ("CONFIG_BLOCK".into(), Setting::NotSet),
            ]
        );
    }

    #[test]
    fn fragment_refuses_junk_and_repeats() {
        let (line, problem) = parse_fragment("# c\nCONFIG_SMP=y\nSMP=y\n").unwrap_err();
        assert_eq!(line, 3);
        assert!(problem.contains("`SMP=y`"), "{problem}");
        assert_eq!(parse_fragment("CONFIG_SMP\n").unwrap_err().0, 1);
        assert_eq!(parse_fragment("CONFIG_SMP=\n").unwrap_err().0, 1);
        let (line, problem) =
            parse_fragment("CONFIG_SMP=y\n# CONFIG_SMP is not set\n").unwrap_err();
        assert_eq!(
            (line, problem.as_str()),
            (2, "CONFIG_SMP is already set on line 1")
        );
        assert!(parse_fragment("# only comments\n").is_err());
    }

    #[test]
    fn the_shipped_fragment_parses_and_explains_every_option() {
        let path = default_fragment(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap());
        let text = fs::read_to_string(&path).unwrap();
        let opts = wants(&text);
        for must in [
            "CONFIG_SECCOMP_FILTER",
            "CONFIG_SMP",
            "CONFIG_MODULES",
            "CONFIG_NET",
        ] {
            assert!(opts.iter().any(|(n, _)| n == must), "{must} missing");
        }
        // Every fragment shipped explains every option it sets.
        for entry in fs::read_dir(path.parent().unwrap()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().map_or(true, |e| e != "config") {
                continue;
            }
            let text = fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if assignment(line).is_some() {
                    assert!(
                        i > 0 && lines[i - 1].starts_with("# why: "),
                        "{}:{}: `{line}` has no `# why:` line above it",
                        path.display(),
                        i + 1
                    );
                }
            }
        }
    }

    #[test]
    fn config_check_names_what_kconfig_dropped() {
        let config = options_set(
            "# comment\nCONFIG_SMP=y\nCONFIG_NR_CPUS=64\n# CONFIG_NET is not set\n\
             CONFIG_BLOCK=y\nCONFIG_CMDLINE=\"x\"\n",
        );
        let asked = wants(
            "CONFIG_SMP=y\nCONFIG_NR_CPUS=4\nCONFIG_NET=y\nCONFIG_UNIX=y\n\
             # CONFIG_BLOCK is not set\n# CONFIG_DEBUG_INFO is not set\nCONFIG_CMDLINE=\"x\"\n",
        );
        let dropped = dropped_options(&config, &asked);
        let shown: Vec<String> = dropped.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "CONFIG_NR_CPUS (wanted 4, got 64)",
                "CONFIG_NET (wanted y, got not set)",
                "CONFIG_UNIX (wanted y, got not set)",
                "CONFIG_BLOCK (wanted not set, got y)",
            ]
        );
        let err = TreeError::OptionsDropped {
            tree: "/src/linux".into(),
            fragment: "minimal.config".into(),
            config: "/b/kconform-kconfig/.config".into(),
            dropped,
        };
        let msg = err.to_string();
        assert!(
            msg.contains("CONFIG_NET (wanted y, got not set), CONFIG_UNIX"),
            "{msg}"
        );
        assert!(msg.contains("/b/kconform-kconfig/.config"), "{msg}");
    }

    #[test]
    fn merge_replaces_base_assignments_and_appends_the_fragment() {
        let base = "#\n# CONFIG_SMP is not set\nCONFIG_NR_CPUS=8\nCONFIG_X86=y\n\
                    CONFIG_SMP_FOO=y\nCONFIG_KERNEL_XZ=y\n";
        let merged = merge_fragment(
            base,
            &wants("CONFIG_SMP=y\nCONFIG_NR_CPUS=4\n# CONFIG_KERNEL_XZ is not set\n"),
        );
        assert_eq!(
            merged,
            "#\nCONFIG_X86=y\nCONFIG_SMP_FOO=y\n# kconform fragment\n\
             CONFIG_SMP=y\nCONFIG_NR_CPUS=4\n# CONFIG_KERNEL_XZ is not set\n"
        );
    }
}
