//! The twin check inside a guest: every instance's C reproducer runs in
//! one boot of a kernel of the matrix, and its observation must equal the
//! Rust scenario's in a `kconform run` of the same kernel.
//!
//! The reproducers are linked dynamically here, against the host's libc
//! copied into the guest (`/kconform/progs/lib`): static, each would be
//! 800 KB and all of them too big for an initramfs. The source and the
//! compiler flags are otherwise those of `tests/repro.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use kconform_core::executor::parallel_map;
use kconform_harness::kernels::KernelSpec;
use kconform_harness::repro::Sources;

use super::output_text;

#[path = "../common/reproducer.rs"]
mod reproducer;

const LOADER: &str = "/lib64/ld-linux-x86-64.so.2";
const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";

pub(crate) fn c_twins_agree_in_the_guest(spec: &KernelSpec) -> Result<(), String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let kconform = env!("CARGO_BIN_EXE_kconform");
    let sources_dir = root.join("suites/repro");
    let twins = Sources::from_dir(&sources_dir).map_err(|e| e.to_string())?;
    // As kconform's guest does, each reproducer sets the sysctls it needs
    // (--set-sysctls); those that need a higher Yama scope run later, as
    // scope 3 cannot be lowered again.
    let mut catalog: Vec<_> = kconform_suites::catalog()
        .into_iter()
        .filter(|i| twins.has_twin(i.scenario))
        .collect();
    catalog.sort_by_key(|i| {
        i.needs
            .sysctls
            .iter()
            .filter_map(|(_, values)| values.first()?.parse::<u32>().ok())
            .max()
            .unwrap_or(0)
    });
    let ids: Vec<String> = catalog.into_iter().map(|i| i.id).collect();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (src, progs) = (dir.path().join("src"), dir.path().join("progs"));
    for d in [&src, &progs.join("lib")] {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    std::fs::copy(LOADER, progs.join("lib/ld.so")).map_err(|e| format!("{LOADER}: {e}"))?;
    std::fs::copy(LIBC, progs.join("lib/libc.so.6")).map_err(|e| format!("{LIBC}: {e}"))?;

    // Short names in plan order; the guest runs them sorted.
    let name = |k: usize| format!("r{k:04}");
    let built = parallel_map(&ids, 2, |k, id| {
        build(kconform, &sources_dir, &src, &progs, id, &name(k))
    });
    if let Some(Err(e)) = built.iter().find(|b| b.is_err()) {
        return Err(e.clone());
    }

    let out = Command::new(kconform)
        .args(["boot", "--kernel", &spec.to_string(), "--exec"])
        .arg(&progs)
        .args(["--", "--set-sysctls"])
        .output()
        .map_err(|e| e.to_string())?;
    let text = output_text(&out);
    let said = blocks(&text);
    let report_dir = dir.path().join("report");
    let mut run = Command::new(kconform);
    run.args(["run", "--quiet", "--kernel", &spec.to_string(), "--report"])
        .arg(&report_dir);
    for id in &ids {
        run.args(["--filter", id]);
    }
    let _ = run.output().map_err(|e| e.to_string())?;
    let report = kconform_harness::report::read(
        &kconform_harness::util::sorted_entries(&report_dir)
            .into_iter()
            .find(|p| p.is_dir())
            .ok_or("kconform run wrote no report")?,
    )
    .map_err(|e| e.to_string())?;

    let mut disagree = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        let rust = report.results.iter().find(|r| &r.id == id);
        let c = said.get(&name(k));
        let agree = match (rust, c) {
            (Some(r), Some((code, out))) => match r.status.as_str() {
                "skip" => *code == 4,
                "error" => false,
                _ => *code <= 1 && observed(out) == r.observed.as_deref(),
            },
            _ => false,
        };
        if !agree {
            disagree.push(format!(
                "{id}\n  Rust: {}\n  C:    {}",
                rust.map_or("no result".into(), |r| format!(
                    "{} {}",
                    r.status.as_str(),
                    r.observed.as_deref().or(r.reason.as_deref()).unwrap_or("")
                )),
                c.map_or("did not run".into(), |(code, out)| format!(
                    "exit {code}: {}",
                    out.trim()
                ))
            ));
        }
    }
    eprintln!(
        "{spec}: {} of {} reproducers agree with their Rust twins",
        ids.len() - disagree.len(),
        ids.len()
    );
    if disagree.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the twins disagree on {spec}:\n{}",
            disagree.join("\n")
        ))
    }
}

fn build(
    kconform: &str,
    sources: &Path,
    src: &Path,
    progs: &Path,
    id: &str,
    name: &str,
) -> Result<(), String> {
    reproducer::build(
        Path::new(kconform),
        sources,
        id,
        &src.join(format!("{name}.c")),
        &progs.join(name),
        &[
            "-Wl,--dynamic-linker=/kconform/progs/lib/ld.so",
            "-Wl,-rpath,/kconform/progs/lib",
        ],
    )
}

/// `=== NAME exit N` blocks of `kconform boot --exec DIR`: name to exit
/// status and output.
fn blocks(text: &str) -> BTreeMap<String, (i32, String)> {
    let mut out: BTreeMap<String, (i32, String)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("=== ") {
            if let Some((name, code)) = rest.rsplit_once(" exit ") {
                let code = code.trim().parse().unwrap_or(-1);
                out.insert(name.to_string(), (code, String::new()));
                current = Some(name.to_string());
                continue;
            }
        }
        if let Some(entry) = current.as_ref().and_then(|n| out.get_mut(n)) {
            entry.1.push_str(line);
            entry.1.push('\n');
        }
    }
    out
}

fn observed(output: &str) -> Option<&str> {
    output.lines().find_map(|l| l.strip_prefix("observed: "))
}

/// `kconform repro ID --kernel A --kernel B`: one line per kernel, the
/// reproducer's observation and verdict there. The TSYNC dead-leader bug
/// (fixed by bfafe5efa975 in 6.11) shows on bullseye, not on trixie.
pub(crate) fn repro_on_two_kernels() -> Result<(), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_kconform"))
        .args(["repro", "tsync/dead-leader/own-filter"])
        .args(["--kernel", "debian:bullseye", "--kernel", "debian:trixie"])
        .output()
        .map_err(|e| e.to_string())?;
    let text = output_text(&out);
    let want = [
        "debian:bullseye: observed `tsync=main survivor-probe=1`: known-bug (this kernel lacks bfafe5efa975",
        "debian:trixie: observed `tsync=0 survivor-probe=3`: pass",
    ];
    for w in want {
        if !text.contains(w) {
            return Err(format!("no `{w}` in:\n{text}"));
        }
    }
    // A known bug on one kernel: the reproducer's exit 1, passed on.
    match out.status.code() {
        Some(1) => Ok(()),
        other => Err(format!("exit {other:?}, expected 1:\n{text}")),
    }
}
