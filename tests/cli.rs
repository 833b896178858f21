//! The `kconform` command as a user runs it: ids, filters, bad input,
//! exit codes, the report file, and running without root.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{assert_refused, fixtures, kconform, text};

/// A copy of the fixtures that a test may edit.
fn fixtures_copy(dir: &Path) -> PathBuf {
    let to = dir.join("expectations");
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(fixtures()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    to
}

#[test]
fn list_prints_every_id_once_and_ids_are_stable() {
    let out = kconform().arg("list").output().unwrap();
    assert!(out.status.success());
    let ids = String::from_utf8(out.stdout).unwrap();
    let mut sorted: Vec<&str> = ids.lines().collect();
    let n = sorted.len();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), n, "duplicate ids");
    assert!(n >= 150, "only {n} instances");
    // Ids key fixtures, reports and bisect filters: renaming one is a
    // breaking change, so any change to this list must be deliberate.
    insta::assert_snapshot!("ids", ids);
}

/// `kconform list | head -1`: the listing ends when its reader goes, killed
/// by SIGPIPE as `ls` would be, never with a panic on the terminal.
#[test]
fn a_listing_whose_reader_is_gone_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    for args in [&["list"][..], &["bugs"][..]] {
        // A pipe whose reader is already gone: the first line meets it,
        // however fast the command is.
        let (reader, writer) = nix::unistd::pipe().unwrap();
        drop(reader);
        let out = kconform()
            .args(args)
            .stdout(Stdio::from(writer))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(
            out.status.signal(),
            Some(nix::sys::signal::Signal::SIGPIPE as i32),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn unknown_filter_says_so_and_suggests_close_ids() {
    let out = kconform()
        .args(["run", "--filter", "tsinc/ancestors"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let t = text(&out);
    assert!(
        t.contains("no scenario matches --filter `tsinc/ancestors`"),
        "{t}"
    );
    assert!(t.contains("did you mean: tsync/ancestors"), "{t}");
}

#[test]
fn malformed_expectations_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixtures_copy(dir.path());
    let bad = fx.join("zz-broken.toml");
    std::fs::write(
        &bad,
        "[\"ret-kill/new\"]\nexpect = \"exit 0\"\nexpcet = \"typo\"\n",
    )
    .unwrap();
    let out = kconform()
        .args(["run", "--filter", "ret-kill/untraced", "--fixtures"])
        .arg(&fx)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let t = text(&out);
    assert!(t.contains(&format!("{}:3: ", bad.display())), "{t}");
    assert!(t.contains("expcet"), "{t}");
}

#[test]
fn a_wrong_expectation_fails_the_run_with_both_sides_shown() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixtures_copy(dir.path());
    let f = fx.join("ret-kill.toml");
    let id = "ret-kill/untraced/kill-process/single-thread";
    let edited = std::fs::read_to_string(&f).unwrap().replace(
        &format!("[\"{id}\"]\nexpect = \"killed SIGSYS; effects=none\""),
        &format!("[\"{id}\"]\nexpect = \"exit 0; effects=escaped\""),
    );
    std::fs::write(&f, edited).unwrap();
    let out = kconform()
        .args(["run", "--filter", id, "--fixtures"])
        .arg(&fx)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("expected: exit 0; effects=escaped"), "{t}");
    assert!(t.contains("observed: killed SIGSYS; effects=none"), "{t}");
}

#[test]
fn run_writes_a_whole_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = kconform()
        .args([
            "run",
            "--quiet",
            "--filter",
            "ret-kill/untraced",
            "--report",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let path = dir.path().join("host/report.json");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let release = nix::sys::utsname::uname().unwrap();
    assert_eq!(
        report["kernel"]["release"],
        release.release().to_str().unwrap()
    );
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for r in results {
        for field in [
            "id",
            "area",
            "status",
            "observed",
            "expected",
            "duration_ms",
        ] {
            assert!(r.get(field).is_some(), "{field} missing in {r}");
        }
        assert_eq!(r["status"], "pass");
        assert_eq!(r["area"], "ret-kill");
    }
}

#[test]
fn without_root_the_run_names_what_it_skipped() {
    // Run as an unprivileged uid: as root, through setpriv on a copy of the
    // binary that uid can reach; as anyone else, directly.
    let dir = tempfile::tempdir().unwrap();
    let fx = fixtures_copy(dir.path());
    let bin = dir.path().join("kconform");
    std::fs::copy(env!("CARGO_BIN_EXE_kconform"), &bin).unwrap();
    let mut cmd = if nix::unistd::geteuid().is_root() {
        use std::os::unix::fs::PermissionsExt;
        for p in [dir.path(), fx.as_path()] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let out = cmd
        .args([
            "run",
            "--filter",
            "ptrace-attach/",
            "--filter",
            "ret-kill/untraced",
            "--fixtures",
        ])
        .arg(&fx)
        .current_dir(dir.path())
        .output()
        .expect("setpriv (util-linux) runs the unprivileged half of this test");
    let t = text(&out);
    assert!(
        t.contains("(host-forbids: needs root (run kconform as root to include it)):"),
        "{t}"
    );
    assert!(t.contains("ptrace-attach/"), "{t}");
    // The unprivileged part still ran and conformed.
    let row: Vec<&str> = t
        .lines()
        .find(|l| l.starts_with("ret-kill "))
        .unwrap_or_else(|| panic!("no ret-kill row in:\n{t}"))
        .split_whitespace()
        .collect();
    assert_eq!(row, ["ret-kill", "4", "0", "0", "0"], "{t}");
}

#[test]
fn without_qemu_a_vm_run_names_the_package_to_install() {
    assert_refused(
        kconform()
            .args(["run", "--kernel", "debian:bookworm"])
            .env("PATH", "/nonexistent")
            .env_remove("KCONFORM_QEMU"),
        "apt-get install qemu-system-x86",
    );
}

#[test]
fn a_malformed_kernel_spec_is_refused_before_anything_runs() {
    assert_refused(
        kconform().args(["run", "--kernel", "fedora:40"]),
        "debian:NAME or tree:PATH",
    );
}

#[test]
fn a_malformed_matrix_file_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("matrix.toml");
    std::fs::write(&m, "kernels = \"debian:sid\"\n").unwrap();
    assert_refused(
        kconform().args(["run", "--matrix", m.to_str().unwrap()]),
        "matrix.toml: not a matrix file",
    );
}

#[test]
fn diff_names_regressions_with_both_sides_and_gates_on_them() {
    let dir = tempfile::tempdir().unwrap();
    let run = kconform()
        .args([
            "run",
            "--filter",
            "tsync/ancestors/shared",
            "--quiet",
            "--report",
        ])
        .arg(dir.path().join("old"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let old = dir.path().join("old/host");
    // The same run, as if a newer kernel had answered one id differently.
    let mut report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(old.join("report.json")).unwrap()).unwrap();
    let first = &mut report["results"][0];
    let id = first["id"].as_str().unwrap().to_string();
    first["status"] = "fail".into();
    first["observed"] = "synced none".into();
    let new = dir.path().join("new.json");
    std::fs::write(&new, serde_json::to_vec(&report).unwrap()).unwrap();

    let same = kconform().arg("diff").arg(&old).arg(&old).output().unwrap();
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert!(text(&same).contains("0 regressions"), "{}", text(&same));

    let out = kconform().arg("diff").arg(&old).arg(&new).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains(&format!("REGRESSION {id}")), "{t}");
    assert!(t.contains("fail  synced none"), "{t}");
    assert!(t.contains("1 regressions"), "{t}");
}

#[test]
fn diff_refuses_a_truncated_report_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let half = dir.path().join("half.json");
    std::fs::write(&half, "{\"schema_version\": 1, \"kernel\": {").unwrap();
    assert_refused(
        kconform().arg("diff").arg(&half).arg(&half),
        "half.json: not a kconform report",
    );
}

#[test]
fn run_against_a_baseline_exits_as_a_gate() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let first = kconform()
        .args([
            "run",
            "--filter",
            "tsync/ancestors/shared",
            "--quiet",
            "--report",
        ])
        .arg(&base)
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", text(&first));
    let gate = |baseline: &Path| {
        kconform()
            .args([
                "run",
                "--filter",
                "tsync/ancestors/shared",
                "--quiet",
                "--baseline",
            ])
            .arg(baseline)
            .output()
            .unwrap()
    };
    let same = gate(&base.join("host"));
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert!(text(&same).contains("0 regressions"), "{}", text(&same));

    // The same kernel judged against fixtures that expect something else
    // of one id: it passed in the baseline and fails now.
    let fixtures = fixtures_copy(dir.path());
    let tsync = fixtures.join("tsync.toml");
    let text_before = std::fs::read_to_string(&tsync).unwrap();
    let marker = "[\"tsync/ancestors/shared/siblings-1\"]\nexpect = \"";
    assert!(text_before.contains(marker), "fixture layout changed");
    std::fs::write(
        &tsync,
        text_before.replacen(marker, &format!("{marker}not this "), 1),
    )
    .unwrap();
    let out = kconform()
        .args([
            "run",
            "--filter",
            "tsync/ancestors/shared",
            "--quiet",
            "--fixtures",
        ])
        .arg(&fixtures)
        .arg("--baseline")
        .arg(base.join("host"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("REGRESSION tsync/ancestors/shared/siblings-1"),
        "{}",
        text(&out)
    );
}

#[test]
fn format_kcidb_writes_the_run_as_kcidb_v5() {
    let dir = tempfile::tempdir().unwrap();
    let out = kconform()
        .args(["run", "--filter", "tsync/ancestors/shared", "--quiet"])
        .args(["--format", "kcidb", "--report"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("kcidb.json")).unwrap()).unwrap();
    assert_eq!(data["version"]["major"], 5);
    let tests = data["tests"].as_array().unwrap();
    assert!(!tests.is_empty());
    assert!(tests.iter().all(|t| t["status"] == "PASS"), "{data}");

    assert_refused(
        kconform().args(["run", "--format", "kcidb"]),
        "add --report DIR",
    );
}

/// Three shards of one run, merged: the same ids as the run unsharded,
/// none lost, none twice; a shard given twice is refused.
#[test]
fn shards_merge_back_into_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let filter = ["--filter", "tsync/", "--quiet", "--report"];
    let whole = kconform()
        .arg("run")
        .args(filter)
        .arg(dir.path().join("whole"))
        .output()
        .unwrap();
    assert!(whole.status.success(), "{}", text(&whole));
    let mut shards = Vec::new();
    for i in 1..=3 {
        let d = dir.path().join(format!("shard-{i}"));
        let out = kconform()
            .arg("run")
            .args(filter)
            .arg(&d)
            .args(["--shard", &format!("{i}/3")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        shards.push(d);
    }
    let ids = |p: &Path| -> Vec<String> {
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p.join("host/report.json")).unwrap()).unwrap();
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    };
    let per_shard: Vec<usize> = shards.iter().map(|s| ids(s).len()).collect();
    assert!(per_shard.iter().all(|&n| n > 0), "{per_shard:?}");

    let merged = dir.path().join("merged");
    let out = kconform()
        .arg("merge")
        .arg("--report")
        .arg(&merged)
        .args(&shards)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ids(&merged), ids(&dir.path().join("whole")));

    assert_refused(
        kconform()
            .arg("merge")
            .arg("--report")
            .arg(dir.path().join("bad"))
            .args([&shards[0], &shards[0]]),
        "is in two shard reports",
    );

    // A shard report cut short is refused, naming the file.
    let cut = shards[1].join("host/report.json");
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_refused(
        kconform()
            .arg("merge")
            .arg("--report")
            .arg(dir.path().join("bad2"))
            .args(&shards),
        "shard-2/host/report.json: not a kconform report",
    );
    assert!(
        !dir.path().join("bad2").exists(),
        "nothing is written from a refused merge"
    );
}

#[test]
fn bisect_refuses_a_tree_without_history_and_unknown_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let bisect = |tree: &Path, good: &str| {
        let mut cmd = kconform();
        cmd.args([
            "bisect",
            "--filter",
            "sa-immutable/",
            "--good",
            good,
            "--bad",
            "HEAD",
        ])
        .arg("--tree")
        .arg(tree);
        cmd
    };
    assert_refused(&mut bisect(dir.path(), "v6.0"), "not a git work tree");
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .status()
            .unwrap();
        assert!(ok.success());
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "only"]);
    assert_refused(&mut bisect(dir.path(), "v6.0"), "`v6.0` is not a commit");
    assert!(!dir.path().join(".git/BISECT_START").exists());
}

#[test]
fn an_unknown_fragment_is_refused_naming_the_built_in_ones() {
    let cache = tempfile::tempdir().unwrap();
    assert_refused(
        kconform()
            .args(["run", "--kernel", "tree:/nonexistent", "--fragment", "tiny"])
            .args(["--cache".as_ref(), cache.path().as_os_str()]),
        "not one of the fragments built in (distro, minimal, small)",
    );
}

#[test]
fn the_built_in_expectations_judge_a_run_from_any_directory() {
    // No --fixtures, no KCONFORM_FIXTURES, and a working directory far
    // from the source tree: the expectations built into the binary judge.
    let dir = tempfile::tempdir().unwrap();
    let out = kconform()
        .current_dir(dir.path())
        .env_remove("KCONFORM_FIXTURES")
        .args(["run", "--filter", "wait/", "--quiet"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("ran 9 of 9"), "{t}");
}

/// A Debian kernel in a cache under `root`, as the fetcher leaves one.
fn cached_kernel(root: &Path, name: &str, version: &str, suite: &str, fetched_at: u64) {
    let dir = root.join(format!("debian/kernels/{name}_{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut image = vec![0u8; 0x400];
    image[0x202..0x206].copy_from_slice(b"HdrS");
    std::fs::write(dir.join("vmlinuz"), image).unwrap();
    let meta = serde_json::json!({
        "name": name, "suite": suite, "package": format!("linux-image-{name}"),
        "version": version, "packages": [], "fetched_at": fetched_at,
    });
    std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn cache_lists_and_prunes_the_debian_kernels() {
    let t = tempfile::tempdir().unwrap();
    cached_kernel(
        t.path(),
        "7.2.13+deb14-cloud-amd64",
        "7.2.13-1",
        "sid",
        now(),
    );
    cached_kernel(
        t.path(),
        "6.1.0-57-cloud-amd64",
        "6.1.192-3",
        "bookworm",
        now() - 90 * 86_400,
    );
    // `kconform cache ARGS --cache T`: it succeeds; what it printed.
    let cache = |args: &[&str]| {
        let out = kconform()
            .arg("cache")
            .args(args)
            .arg("--cache")
            .arg(t.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        text(&out)
    };
    let list = || cache(&["list"]);
    let t1 = list();
    let lines: Vec<&str> = t1.lines().collect();
    assert!(lines[0].starts_with("kernel "), "{t1}");
    let words: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        words[..3],
        ["6.1.0-57-cloud-amd64", "6.1.192-3", "bookworm"],
        "version order: {t1}"
    );
    assert!(lines[1].ends_with("90 days ago  90 days ago"), "{t1}");
    assert!(lines[2].starts_with("7.2.13+deb14-cloud-amd64"), "{t1}");
    assert!(lines[3].starts_with("2 kernel(s), 0.0 MB in "), "{t1}");

    let p = cache(&["prune", "--older-than", "30d"]);
    assert!(
        p.starts_with("removed 6.1.0-57-cloud-amd64 6.1.192-3")
            && p.contains("1 kernel(s) removed"),
        "{p}"
    );
    let t2 = list();
    assert!(
        !t2.contains("6.1.0-57") && t2.contains("1 kernel(s)"),
        "{t2}"
    );

    // As a running kconform holds what it uses: a shared flock on the entry.
    let entry = t
        .path()
        .join("debian/kernels/7.2.13+deb14-cloud-amd64_7.2.13-1");
    let dir = std::fs::File::open(&entry).unwrap();
    let held = nix::fcntl::Flock::lock(dir, nix::fcntl::FlockArg::LockSharedNonblock).unwrap();
    assert!(list().contains(" (in use)"));
    let prune = || cache(&["prune"]);
    let p = prune();
    assert!(
        p.starts_with("kept    7.2.13+deb14-cloud-amd64 7.2.13-1: a running kconform holds it"),
        "{p}"
    );
    assert!(entry.join("vmlinuz").is_file());
    drop(held);
    assert!(prune().contains("1 kernel(s) removed"));
    assert!(!entry.exists());
}

#[test]
fn a_kernel_set_is_expanded_and_one_that_matches_nothing_names_the_nearest() {
    let t = tempfile::tempdir().unwrap();
    cached_kernel(t.path(), "6.1.0-57-cloud-amd64", "6.1.192-3", "bookworm", 2);
    cached_kernel(t.path(), "6.1.0-50-amd64", "6.1.170-2", "bookworm", 1);
    // Offline with no package lists: the cache is what there is.
    let run = |spec: &str| {
        let mut c = kconform();
        c.args([
            "run",
            "--offline",
            "--filter",
            "no-such-instance",
            "--kernel",
            spec,
        ])
        .env("KCONFORM_CACHE", t.path());
        c
    };
    let said = assert_refused(&mut run("debian:bookworm/*"), "no scenario matches");
    assert!(
        said.contains("debian:bookworm/* is 2 image(s), 6.1.0-50-amd64 to 6.1.0-57-cloud-amd64"),
        "{said}"
    );
    assert_refused(
        &mut run("debian:6.1.0-*-rt-amd64"),
        "no Debian image matches `debian:6.1.0-*-rt-amd64`; nearest: 6.1.0-50-amd64, 6.1.0-57-cloud-amd64",
    );
    assert_refused(&mut run("debian:bokworm/*"), "`bokworm` is not a suite");
}

#[test]
fn repro_writes_a_file_that_builds_and_judges_the_running_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("repro.c");
    let out = kconform()
        .current_dir(dir.path())
        .env_remove("KCONFORM_REPRO_SRC")
        .args(["repro", "wait/wait4/pid/int-min", "-o"])
        .arg(&c)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&c).unwrap();
    assert!(
        text.starts_with("/*\n * kconform reproducer: wait/wait4/pid/int-min\n"),
        "{text}"
    );
    assert!(
        text.contains("Build: gcc -static -O2 -Wall -o repro repro.c"),
        "{text}"
    );
    let bin = dir.path().join("repro");
    let cc = std::process::Command::new("gcc")
        .args(["-static", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&bin)
        .arg(&c)
        .output()
        .expect("gcc (apt-get install gcc libc6-dev)");
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let run = std::process::Command::new(&bin).output().unwrap();
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(
        said.contains("observed: wait4=ESRCH; child exit 0\n"),
        "{said}"
    );
    assert_eq!(run.status.code(), Some(0), "{said}");
}

#[test]
fn repro_of_an_unknown_id_names_the_nearest() {
    assert_refused(
        kconform().args(["repro", "wait/wait4/pid/int-max"]),
        "no instance has the id `wait/wait4/pid/int-max`; did you mean: wait/wait4/pid/int-min",
    );
}

#[test]
fn repro_without_gcc_names_the_package() {
    let dir = tempfile::tempdir().unwrap();
    assert_refused(
        kconform().env("PATH", dir.path()).args([
            "repro",
            "wait/wait4/pid/int-min",
            "--kernel",
            "debian:bookworm",
        ]),
        "install it (Debian: apt-get install gcc libc6-dev)",
    );
}

#[test]
fn repro_of_a_scenario_without_a_c_twin_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prelude.c"), "").unwrap();
    assert_refused(
        kconform()
            .env("KCONFORM_REPRO_SRC", dir.path())
            .args(["repro", "wait/wait4/pid/int-min"]),
        "`wait/wait4/pid/int-min` has no C twin yet: suites/repro/wait/wait4/pid.c does not exist",
    );
}

#[test]
fn repro_quotes_the_observation_of_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("r");
    let run = kconform()
        .args([
            "run",
            "--quiet",
            "--filter",
            "wait/wait4/pid/int-min",
            "--report",
        ])
        .arg(&reports)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report = reports.join("host");
    let out = kconform()
        .args(["repro", "wait/wait4/pid/int-min", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.starts_with(" * Observed on ") && l.ends_with(": wait4=ESRCH; child exit 0")),
        "{}{}",
        &text[..text.len().min(1500)],
        String::from_utf8_lossy(&out.stderr)
    );
}
