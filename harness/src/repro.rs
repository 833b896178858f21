//! Standalone C reproducers: one self-contained file per scenario
//! instance, for a kernel mailing list. The file is the kit
//! (`suites/repro/prelude.c`), the area's own helpers
//! (`suites/repro/<area>/kit.c`, where there are any), the scenario's C
//! twin (`suites/repro/<scenario base>.c`), and what this module writes
//! around them: a header saying what it checks and how to build it, the
//! fixture's kernel ranges as a function of the running kernel, and main.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use kconform_core::expect::Expectation;
use kconform_core::model::Feature;
use kconform_core::Instance;

/// Where the C sources come from: the bundled ones, or, for work on the
/// twins, a `suites/repro` directory named by this variable.
pub const SOURCES_ENV: &str = "KCONFORM_REPRO_SRC";

/// How long the instance may run before the reproducer kills it.
const TIMEOUT_S: u32 = 60;

#[derive(Debug, thiserror::Error)]
pub enum ReproError {
    #[error(
        "`{id}` has no C twin yet: suites/repro/{base}.c does not exist \
         ({covered} of {total} scenarios have one; `kconform repro --list` shows them)"
    )]
    NoTwin {
        id: String,
        base: String,
        covered: usize,
        total: usize,
    },
    #[error("cannot read the reproducers' sources in {dir} ({SOURCES_ENV}): {source}")]
    Sources {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// The C sources, by path below `suites/repro` (`prelude.c`,
/// `wait/wait4/pid.c`).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: BTreeMap<String, String>,
}

impl Sources {
    /// `$KCONFORM_REPRO_SRC` when set, else the bundled sources.
    pub fn load() -> Result<Sources, ReproError> {
        match std::env::var_os(SOURCES_ENV) {
            Some(dir) => Sources::from_dir(&PathBuf::from(dir)),
            None => Ok(Sources::bundled()),
        }
    }

    pub fn bundled() -> Sources {
        Sources {
            files: crate::bundled::REPRO_SOURCES
                .iter()
                .map(|(rel, text)| (rel.to_string(), text.to_string()))
                .collect(),
        }
    }

    pub fn from_dir(dir: &std::path::Path) -> Result<Sources, ReproError> {
        let mut files = BTreeMap::new();
        let err = |source| ReproError::Sources {
            dir: dir.to_path_buf(),
            source,
        };
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).map_err(err)? {
                let path = e.map_err(err)?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|x| x == "c") {
                    let rel = path.strip_prefix(dir).unwrap_or(&path);
                    let text = std::fs::read_to_string(&path).map_err(err)?;
                    files.insert(rel.to_string_lossy().into_owned(), text);
                }
            }
        }
        Ok(Sources { files })
    }

    /// The scenario's C twin, if it has one.
    pub fn twin(&self, scenario: &str) -> Option<&str> {
        self.files.get(&format!("{scenario}.c")).map(String::as_str)
    }

    pub fn has_twin(&self, scenario: &str) -> bool {
        self.twin(scenario).is_some()
    }
}

/// Every scenario base, once, in catalog order.
pub fn scenarios(catalog: &[Instance]) -> Vec<&'static str> {
    let mut seen = Vec::new();
    for i in catalog {
        if !seen.contains(&i.scenario) {
            seen.push(i.scenario);
        }
    }
    seen
}

/// The failing kernel's side of a report, for the header.
#[derive(Debug, Clone)]
pub struct SeenOn {
    pub kernel: String,
    pub observed: String,
}

/// The reproducer for `inst`, judged by `expectation`.
pub fn generate(
    sources: &Sources,
    inst: &Instance,
    all_scenarios: &[&str],
    expectation: Option<&Expectation>,
    seen: Option<&SeenOn>,
) -> Result<String, ReproError> {
    let twin = sources.twin(inst.scenario).ok_or_else(|| {
        let covered = all_scenarios.iter().filter(|s| sources.has_twin(s)).count();
        ReproError::NoTwin {
            id: inst.id.clone(),
            base: inst.scenario.to_string(),
            covered,
            total: all_scenarios.len(),
        }
    })?;
    let params = inst
        .id
        .strip_prefix(inst.scenario)
        .map(|p| p.trim_start_matches('/'))
        .unwrap_or("");
    let mut c = header(inst, expectation, seen);
    c.push_str(sources.files.get("prelude.c").map_or("", String::as_str));
    let kit = format!("{}/kit.c", inst.area.name);
    let kit_text = sources.files.get(&kit);
    // The config reader (an inflater for /proc/config.gz among it) only
    // where a config option is checked.
    let checks_config = !config_needs(inst).is_empty()
        || kit_text.is_some_and(|t| t.contains("need_config("))
        || twin.contains("need_config(");
    if checks_config {
        c.push_str("\n/* ---- the kernel's config (suites/repro/config.c) ---- */\n\n");
        c.push_str(sources.files.get("config.c").map_or("", String::as_str));
    }
    if let Some(text) = kit_text {
        let _ = write!(
            c,
            "\n/* ---- {} helpers (suites/repro/{kit}) ---- */\n\n",
            inst.area.name
        );
        c.push_str(text);
    }
    let _ = write!(
        c,
        "\n/* ---- the scenario (suites/repro/{}.c) ---- */\n\n",
        inst.scenario
    );
    c.push_str(twin);
    c.push_str("\n/* ---- this instance ---- */\n\n");
    c.push_str(&expected_fn(expectation));
    c.push_str(&needs_fn(inst));
    let _ = write!(
        c,
        "\nint main(int argc, char **argv)\n{{\n\treturn repro_main(argc, argv, {}, {}, {}, {TIMEOUT_S}, check_needs, expected_for);\n}}\n",
        c_str(&inst.id),
        c_str(params),
        u8::from(inst.needs.root),
    );
    Ok(c)
}

fn header(inst: &Instance, expectation: Option<&Expectation>, seen: Option<&SeenOn>) -> String {
    let mut h = String::from("/*\n");
    let mut line = |s: &str| {
        let _ = writeln!(
            h,
            " *{}{}",
            if s.is_empty() { "" } else { " " },
            s.replace("*/", "* /")
        );
    };
    line(&format!("kconform reproducer: {}", inst.id));
    line("");
    line(&format!(
        "Behaviour: {}.",
        inst.summary.trim_end_matches('.')
    ));
    line("");
    match expectation {
        Some(e) => {
            line("Expected observation:");
            line(&format!("  {}", e.expect));
            for k in &e.kernels {
                let commit = k
                    .commit
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default();
                line(&format!("  on kernels {}: {}", k.range, k.expect));
                line(&format!("    {}{commit}", k.reason));
                if let Some(bug) = &k.bug {
                    let release = bug
                        .fixed_in
                        .as_deref()
                        .map(|r| format!(" in {r}"))
                        .unwrap_or_default();
                    line(&format!(
                        "    a known bug: fixed by {}{release}; a kernel with the fix shows the default",
                        bug.commit
                    ));
                }
            }
            let fixes: Vec<&str> = e
                .kernels
                .iter()
                .filter_map(|k| k.commit.as_deref())
                .collect();
            if !fixes.is_empty() {
                line(&format!("Commits the fixture cites: {}", fixes.join(", ")));
            }
        }
        None => line("No expectation in kconform's fixtures: the reproducer only observes."),
    }
    if let Some(s) = seen {
        line(&format!("Observed on {}: {}", s.kernel, s.observed));
    }
    line("");
    line("Build: gcc -static -O2 -Wall -o repro repro.c");
    line(&format!(
        "Run:   ./repro{}",
        if inst.needs.root { "   (as root)" } else { "" }
    ));
    for (path, values) in &inst.needs.sysctls {
        line(&format!(
            "Needs {} = {} (it skips otherwise); in a throwaway VM,",
            path.replace('/', "."),
            values.join(" or ")
        ));
        line("`./repro --set-sysctls` sets it first, as kconform's guest does.");
    }
    line("It prints what it observed and what this kernel should show, then");
    line("exits 0 when they agree, 1 when they differ (or a known bug shows),");
    line("2 when its own setup failed (naming the call), 4 when the kernel");
    line("lacks what the behaviour needs.");
    h.push_str(" */\n");
    h
}

/// expected_for(): the fixture's ranges in order, the first that holds
/// the running kernel wins, else the default (as kconform judges).
fn expected_fn(expectation: Option<&Expectation>) -> String {
    let mut f = String::from("static struct expected expected_for(const struct kver *v)\n{\n");
    let Some(e) = expectation else {
        f.push_str("\t(void)v;\n\treturn (struct expected){ \"(no expectation)\", NULL, NULL, NULL };\n}\n");
        return f;
    };
    for k in &e.kernels {
        let conds: Vec<String> = k
            .range
            .bounds()
            .map(|(op, b)| {
                let op = if op == "=" { "==" } else { op };
                format!(
                    "kver_cmp(v, &(struct kver){{ {}, {}, {}, {} }}) {op} 0",
                    b.major,
                    b.minor,
                    b.patch,
                    b.rc.unwrap_or(0)
                )
            })
            .collect();
        let commit = k
            .commit
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        let because = format!("kernel {}: {}{commit}", k.range, k.reason);
        let (fixed, fix) = match &k.bug {
            Some(bug) => (
                c_str(&e.expect),
                c_str(&format!(
                    "{}{}",
                    bug.commit,
                    bug.fixed_in
                        .as_deref()
                        .map(|r| format!(", fixed in {r}"))
                        .unwrap_or_default()
                )),
            ),
            None => ("NULL".into(), "NULL".into()),
        };
        let _ = write!(
            f,
            "\tif (v && {})\n\t\treturn (struct expected){{ {}, {}, {fixed}, {fix} }};\n",
            conds.join(" && "),
            c_str(&k.expect),
            c_str(&because),
        );
    }
    if e.kernels.is_empty() {
        f.push_str("\t(void)v;\n");
    }
    let _ = write!(
        f,
        "\treturn (struct expected){{ {}, NULL, NULL, NULL }};\n}}\n",
        c_str(&e.expect)
    );
    f
}

/// check_needs(): what kconform checks before it runs the instance.
fn needs_fn(inst: &Instance) -> String {
    let mut f = String::from("\nstatic void check_needs(void)\n{\n");
    for feature in &inst.needs.features {
        let _ = writeln!(f, "\tneed_feature({});", c_str(&format!("{feature:?}")));
    }
    for config in config_needs(inst) {
        let _ = writeln!(f, "\tneed_config({});", c_str(config));
    }
    for (path, values) in &inst.needs.sysctls {
        let list: Vec<String> = values.iter().map(|v| c_str(v)).collect();
        let _ = writeln!(
            f,
            "\tneed_sysctl({}, (const char *const[]){{ {}, NULL }});",
            c_str(path),
            list.join(", ")
        );
    }
    for param in &inst.needs.cmdline {
        let _ = writeln!(
            f,
            "\t/* boots with {param} under kconform; the scenario checks for it */"
        );
    }
    f.push_str("}\n");
    f
}

/// The config options to check: CONFIG_SECCOMP_FILTER is the feature
/// probe's to find (a seccomp() call), as it is kconform's where the
/// config cannot be read.
fn config_needs(inst: &Instance) -> Vec<&'static str> {
    let probed = inst.needs.features.contains(&Feature::SeccompFilter);
    inst.needs
        .config
        .iter()
        .copied()
        .filter(|c| !(probed && *c == "CONFIG_SECCOMP_FILTER"))
        .collect()
}

/// A C string literal.
pub fn c_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_strings_escape_quotes_and_controls() {
        assert_eq!(c_str(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(c_str("x\ny"), r#""x\ny""#);
    }
}
