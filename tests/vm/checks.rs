//! The VM machinery's own checks, against real faults in a real kernel:
//! trouble pinned on its instance, kernels that do not boot or are not
//! kernels, unknown names, a config that lacks an option, and Ctrl-C.

use std::path::Path;
use std::time::Duration;

use kconform_core::expect::{Expectations, Status};
use kconform_core::guest::pid1::selftest;
use kconform_core::model::{Area, Instance, Needs};
use kconform_core::run::Quiet;
use kconform_harness::kernels::{BootTarget, KernelSpec};
use kconform_harness::report;
use kconform_harness::vm::run_suite;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{kconform, read_report, results_port, Env};

/// A kernel whose init never starts: status error for it, exit 125 as the
/// only kernel, and the console tail saying why.
pub(crate) fn does_not_boot(spec: &KernelSpec) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let spec = spec.to_string();
    let (code, out) = kconform(&[
        "run",
        "--kernel",
        &spec,
        "--filter",
        "tsync/ancestors",
        "--accel",
        "tcg",
        // The last rdinit= wins: there is no such init, so the kernel panics.
        "--cmdline",
        "rdinit=/no/such/init",
        "--report",
        &dir.path().to_string_lossy(),
    ]);
    let report = read_report(dir.path(), &spec)?;
    let tail = report.kernel.console_tail.clone().unwrap_or_default();
    let why = report.kernel.error.clone().unwrap_or_default();
    let ok = code == 125
        && why.contains("did not boot")
        && tail.contains("Kernel panic")
        && report.results.iter().all(|r| r.status == Status::Error);
    ok.then_some(()).ok_or(format!(
        "exit {code}, error {why:?}, tail:\n{tail}\noutput:\n{out}"
    ))
}

/// A file that is not a kernel, next to a good kernel: its own error, and
/// the good kernel's results all there.
pub(crate) fn bad_kernel_among_good(spec: &KernelSpec) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let not_a_kernel = dir.path().join("notes.txt");
    std::fs::write(&not_a_kernel, "not a kernel\n").map_err(|e| e.to_string())?;
    let (bad, good) = (
        not_a_kernel.to_string_lossy().into_owned(),
        spec.to_string(),
    );
    let reports = dir.path().join("reports");
    let (code, out) = kconform(&[
        "run",
        "--kernel",
        &bad,
        "--kernel",
        &good,
        "--filter",
        "tsync/ancestors/shared",
        "--accel",
        "tcg",
        "--report",
        &reports.to_string_lossy(),
    ]);
    let bad_report = read_report(&reports, &bad)?;
    let good_report = read_report(&reports, &good)?;
    let why = bad_report.kernel.error.clone().unwrap_or_default();
    let ok = code == 1
        && why.contains("not a bootable x86 kernel image")
        && !good_report.results.is_empty()
        && good_report.summary.pass == good_report.results.len();
    ok.then_some(())
        .ok_or(format!("exit {code}, bad kernel error {why:?}\n{out}"))
}

/// A setup step failed on purpose in the guest: every instance that takes
/// it is an error naming the step, none a fail.
pub(crate) fn setup_failure_in_the_guest(spec: &KernelSpec) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let spec = spec.to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kconform"))
        .env("KCONFORM_FAIL_SETUP", "prctl(PR_SET_NO_NEW_PRIVS)")
        .args(["run", "--kernel", &spec, "--filter", "ret-kill/untraced"])
        .args(["--accel", "tcg", "--quiet", "--report"])
        .arg(dir.path())
        .output()
        .map_err(|e| e.to_string())?;
    let report = read_report(dir.path(), &spec)?;
    let want = "setup: prctl(PR_SET_NO_NEW_PRIVS) failed: injected (KCONFORM_FAIL_SETUP)";
    let all = !report.results.is_empty()
        && report
            .results
            .iter()
            .all(|r| r.status == Status::Error && r.reason.as_deref() == Some(want));
    all.then_some(()).ok_or(format!(
        "exit {:?}: {:#?}",
        out.status.code(),
        report.results
    ))
}

/// Under TCG the guest keeps time on the TSC, told on its command line
/// that it is reliable (see `vm::TCG_CMDLINE`): a static program in the
/// guest reads the clocksource the kernel chose.
pub(crate) fn tcg_guest_keeps_time_on_the_tsc(spec: &KernelSpec) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (src, progs) = (dir.path().join("clock.c"), dir.path().join("progs"));
    let source = r#"#include <stdio.h>
int main(void) {
    char name[64] = "";
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (!f || !fgets(name, sizeof name, f))
        return 2;
    printf("clocksource %s", name);
    return 0;
}
"#;
    std::fs::write(&src, source).map_err(|e| e.to_string())?;
    std::fs::create_dir(&progs).map_err(|e| e.to_string())?;
    let cc = std::process::Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(progs.join("clock"))
        .arg(&src)
        .output()
        .map_err(|e| format!("gcc: {e}"))?;
    if !cc.status.success() {
        return Err(format!("gcc -static: {}", crate::output_text(&cc)));
    }
    let progs = progs.to_string_lossy();
    let spec = spec.to_string();
    let clock = |extra: &str| {
        let (code, text) = kconform(&[
            "boot",
            "--accel",
            "tcg",
            "--kernel",
            &spec,
            "--cmdline",
            extra,
            "--exec",
            &progs,
        ]);
        // tsc-early until the kernel has refined its calibration, then tsc.
        let tsc = ["clocksource tsc", "clocksource tsc-early"];
        let on_tsc = text.lines().any(|l| tsc.contains(&l));
        (code == 0 && text.contains("=== clock exit 0"), on_tsc, text)
    };
    // The user's command line comes last and wins: the control that shows
    // this check can see a guest off the TSC.
    match (clock(""), clock("tsc=unstable")) {
        ((true, true, _), (true, false, _)) => Ok(()),
        ((_, _, ours), (_, _, theirs)) => Err(format!(
            "as kconform boots it:\n{ours}\nwith --cmdline tsc=unstable:\n{theirs}"
        )),
    }
}

pub(crate) fn unknown_debian_name() -> Result<(), String> {
    let (code, out) = kconform(&[
        "run",
        "--kernel",
        "debian:trixy",
        "--accel",
        "tcg",
        "--quiet",
    ]);
    let ok = code == 125
        && out.contains("bullseye, bookworm, trixie, sid")
        && out.contains("debian:trixie");
    ok.then_some(()).ok_or(format!("exit {code}:\n{out}"))
}

/// A glob over one suite's images: each image it names fetched (two at a
/// time), booted and reported under its own name, in version order.
pub(crate) fn a_kernel_set_runs_every_image() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // sid's cloud and rt images (`...d-amd64`, `...t-amd64`): two small
    // ones of whatever sid has now; not the generic one, three times larger.
    let (code, out) = kconform(&[
        "run",
        "--kernel",
        "debian:sid/*[dt]-amd64",
        "--filter",
        "tsync/ancestors/shared",
        "--accel",
        "tcg",
        "--report",
        &dir.path().to_string_lossy(),
    ]);
    // Sid holds one kernel version, now and then two: a cloud and an rt
    // image of each, oldest first.
    let said = out
        .lines()
        .find(|l| l.contains("debian:sid/*[dt]-amd64 is "))
        .ok_or(format!("exit {code}, expansion not said:\n{out}"))?;
    let parts = said
        .split_once(" is ")
        .and_then(|(_, r)| r.split_once(" image(s), "))
        .and_then(|(n, r)| Some((n.parse::<usize>().ok()?, r.split_once(" to ")?)));
    let Some((n, (cloud, rt))) = parts else {
        return Err(said.to_string());
    };
    if n < 2 || n % 2 != 0 || !cloud.ends_with("-cloud-amd64") || !rt.ends_with("-rt-amd64") {
        return Err(format!("not sid's cloud and rt images: {said}"));
    }
    // Each image has its own report. One that crashed while booting is
    // the archive's news, which kconform reports as it should (sid's
    // 7.2.13 rt image oopsed on an int3 in idle once in about 20 boots
    // under TCG, two kernels booting at once): what this test checks is
    // the expansion, so that report is accepted, saying so.
    let mut crashed = false;
    for image in [cloud, rt] {
        let spec = format!("debian:{image}");
        let r = read_report(dir.path(), &spec)?;
        let console =
            std::fs::read_to_string(report::dir_in(dir.path(), &spec).join("console.log"))
                .unwrap_or_default();
        match &r.kernel.error {
            None if !r.results.is_empty() && r.summary.pass == r.results.len() => {}
            Some(e)
                if e.starts_with("the kernel did not boot")
                    && !r.results.is_empty()
                    && console.lines().any(|l| {
                        matches!(
                            kconform_core::console::trouble(l),
                            Some("panic" | "oops" | "bug")
                        )
                    }) =>
            {
                eprintln!("{spec} crashed while booting (accepted: its report says so):\n{e}");
                crashed = true;
            }
            _ => return Err(format!("{spec}: {:?}\n{out}", r.kernel.error)),
        }
    }
    // The end-of-run table lists them in version order: cloud before rt.
    let row = |image: &str| {
        out.lines()
            .position(|l| l.starts_with(&format!("debian:{image} ")))
    };
    match (code, row(cloud), row(rt)) {
        (code, Some(c), Some(r)) if c < r && (code == 0 || crashed) => Ok(()),
        _ => Err(format!("exit {code}, table rows out of order:\n{out}")),
    }
}

/// SIGINT to kconform mid-run (as Ctrl-C sends it), once the guest has
/// finished an instance: kconform kills QEMU, removes its scratch
/// directory, writes the report of what finished, marked interrupted,
/// and exits 130.
pub(crate) fn ctrl_c_leaves_no_qemu(spec: &KernelSpec) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (scratch, reports) = (tmp.path().join("tmp"), tmp.path().join("reports"));
    std::fs::create_dir(&scratch).map_err(|e| e.to_string())?;
    let spec = spec.to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kconform"))
        // Long races, started first, keep the run going while short
        // instances finish around them.
        .args(["run", "--kernel", &spec, "--accel", "tcg", "--quiet"])
        .args(["--iterations", "8000", "--report"])
        .arg(&reports)
        .env("TMPDIR", &scratch)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let parent = child.id() as i32;
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    // The guest's first finished instance, as it lands in the results
    // channel's file in kconform's scratch directory.
    let qemus = loop {
        let q = qemu_children_of(parent);
        if !q.is_empty() && files_under(&scratch).iter().any(|f| has_done_event(f)) {
            break q;
        }
        if std::time::Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
            let _ = child.kill();
            return Err("kconform finished no instance in a VM within 180 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    kill(Pid::from_raw(parent), Signal::SIGINT).map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    let alive: Vec<i32> = qemus.into_iter().filter(|p| running(*p)).collect();
    let left = files_under(&scratch);
    let report = read_report(&reports, &spec)?;
    let finished = report
        .results
        .iter()
        .filter(|r| r.reason.as_deref() != Some("not run: interrupted"))
        .count();
    let check = |ok: bool, what: &str| {
        ok.then_some(()).ok_or(format!(
            "{what}: exit {status}, QEMU alive {alive:?}, scratch left {left:?}, \
             report interrupted={} with {finished} of {} finished",
            report.interrupted,
            report.results.len()
        ))
    };
    check(status.code() == Some(130), "exit status 130")?;
    check(alive.is_empty(), "no QEMU left")?;
    check(left.is_empty(), "the scratch directory removed")?;
    check(report.interrupted, "the report says it was interrupted")?;
    check(
        finished > 0 && finished < report.results.len(),
        "what finished is there, what did not is marked not run",
    )
}

/// SIGINT while `kconform bisect` builds a step: the build (make and what
/// it started) stops, the tree's bisect is reset, the scratch directory
/// is removed, and kconform exits 130.
pub(crate) fn interrupt_during_bisect() -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (tree, scratch, build) = (
        tmp.path().join("linux"),
        tmp.path().join("tmp"),
        tmp.path().join("build"),
    );
    for d in [&tree.join("arch/x86"), &scratch, &build] {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    // A stand-in tree that looks like a kernel to kconform and whose
    // every make target takes long.
    std::fs::write(tree.join("Makefile"), "VERSION = 6\n%:\n\tsleep 3217\n")
        .map_err(|e| e.to_string())?;
    std::fs::write(tree.join("Kconfig"), "").map_err(|e| e.to_string())?;
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&tree)
            .args(args)
            .env("GIT_AUTHOR_NAME", "k")
            .env("GIT_AUTHOR_EMAIL", "k@k")
            .env("GIT_COMMITTER_NAME", "k")
            .env("GIT_COMMITTER_EMAIL", "k@k")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    git(&["init", "-q"]);
    for n in 0..4 {
        std::fs::write(tree.join("arch/x86/n"), n.to_string()).map_err(|e| e.to_string())?;
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", &format!("commit {n}")]);
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kconform"))
        .args([
            "bisect", "--good", "HEAD~3", "--bad", "HEAD", "--accel", "tcg",
        ])
        .args(["--filter", "tsync/ancestors/shared", "--tree"])
        .arg(&tree)
        .env("TMPDIR", &scratch)
        .env("KCONFORM_BUILD_DIR", &build)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while sleepers().is_empty() {
        if std::time::Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
            let _ = child.kill();
            return Err("kconform bisect started no build within 180 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(200));
    let left = files_under(&scratch);
    let bisecting = tree.join(".git/BISECT_START").exists();
    let sleeping = sleepers();
    (status.code() == Some(130) && left.is_empty() && !bisecting && sleeping.is_empty())
        .then_some(())
        .ok_or(format!(
            "exit {status}, scratch left {left:?}, bisect still started: {bisecting}, \
             build still running: {sleeping:?}"
        ))
}

/// Pids of the stand-in tree's build steps.
fn sleepers() -> Vec<i32> {
    pids()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == b"sleep\x003217\x00")
        })
        .collect()
}

fn pids() -> impl Iterator<Item = i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
}

/// A process that exists and is not a zombie.
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

/// Every file below `dir`.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        }
        out.push(p);
    }
    out
}

/// Whether a results channel file holds a finished instance's event.
fn has_done_event(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("results"))
        && std::fs::read(path).is_ok_and(|b| b.windows(11).any(|w| w == b"\"ev\":\"done\""))
}

/// Pids of QEMU processes whose parent is `parent`.
fn qemu_children_of(parent: i32) -> Vec<i32> {
    pids()
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the command name: state, then the parent pid.
            let ppid = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            ppid == Some(parent) && stat.contains("(qemu-system-x86")
        })
        .collect()
}

impl Env {
    /// The kernel's image with a config beside it that lacks
    /// CONFIG_MODULES: the usermode-helper instances are skipped, naming
    /// the option, before anything boots for them.
    pub(crate) fn config_preflight(&self, spec: &KernelSpec) -> Result<(), String> {
        let target = self
            .resolver
            .resolve(spec, &|_| {})
            .map_err(|e| e.to_string())?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let image = dir.path().join("vmlinuz");
        std::fs::copy(&target.image, &image).map_err(|e| e.to_string())?;
        let mut config = String::from("CONFIG_SECCOMP=y\nCONFIG_SECCOMP_FILTER=y\n");
        for (k, v) in target.config.map(|(_, c)| c).unwrap_or_default() {
            if k != "CONFIG_MODULES" && v != "n" {
                config.push_str(&format!("{k}={v}\n"));
            }
        }
        config.push_str("# CONFIG_MODULES is not set\n");
        std::fs::write(dir.path().join("config"), config).map_err(|e| e.to_string())?;
        let reports = dir.path().join("reports");
        let image = image.to_string_lossy().into_owned();
        let (code, out) = kconform(&[
            "run",
            "--kernel",
            &image,
            "--filter",
            "ptrace-attach/usermode-helper",
            "--accel",
            self.settings.accel.as_str(),
            "--report",
            &reports.to_string_lossy(),
        ]);
        let report = read_report(&reports, &image)?;
        let ok = code == 0
            && report.results.len() == 2
            && report.results.iter().all(|r| {
                r.status == Status::Skip
                    && r.reason.as_deref() == Some("kernel config lacks CONFIG_MODULES")
            })
            && report.kernel.release != "unknown";
        ok.then_some(())
            .ok_or(format!("exit {code}: {:#?}\n{out}", report.results))
    }

    /// A warning, a panic and a hang, each between ordinary instances, in
    /// one run: each is pinned on its instance, the rest pass, and the
    /// VM comes back after the panic and the hang. The guest answers
    /// through shared memory when `shm` offers it, else over ttyS1.
    pub(crate) fn trouble_is_pinned(&self, spec: &KernelSpec, shm: bool) -> Result<(), String> {
        let target: BootTarget = self
            .resolver
            .resolve(spec, &|_| {})
            .map_err(|e| e.to_string())?;
        let mut settings = self.with_accel(spec);
        settings.results_shm = shm;
        // The hang is found by silence: keep the wait for it short.
        settings.instance_timeout = Duration::from_secs(2);
        let fake =
            |id: &str| Instance::from_fn(id, Area::HARNESS, Needs::root(), |_| unreachable!());
        let instances = [
            fake(selftest::OK),
            fake(selftest::WARN),
            fake(selftest::PANIC),
            fake(selftest::HANG),
            fake(selftest::OK),
        ];
        // Distinct ids, as the run keys on them; the guest knows them all.
        let refs: Vec<&Instance> = instances.iter().collect();
        let mut expectations = Expectations::default();
        expectations
            .add_file(
                Path::new("selftest.toml"),
                &format!(
                    "[\"{}\"]\nexpect = \"ok\"\n[\"{}\"]\nexpect = \"warned\"\n",
                    selftest::OK,
                    selftest::WARN
                ),
            )
            .map_err(|e| e.to_string())?;
        let name = if shm {
            "harness-selftest"
        } else {
            "harness-selftest-ttys1"
        };
        let dir = self.workdir.path().join(name);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let run = run_suite(
            &target,
            &settings,
            &self.guest,
            &refs,
            &expectations,
            &dir,
            0,
            &Quiet,
        );
        let _ = report::write_with_console(
            &run.report,
            Some(&run.console),
            &Self::reports_dir().join(name),
        );
        let r = &run.report.results;
        let kinds = |k: usize| {
            r[k].kernel_events
                .iter()
                .map(|e| e.kind.as_str())
                .collect::<Vec<_>>()
        };
        let check = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(format!("{what}: {:#?}", run.report))
            }
        };
        check(r.len() == 5, "one record per instance")?;
        check(
            results_port(&run.report) == if shm { "shared memory" } else { "ttyS1" },
            "the results come through the port offered",
        )?;
        check(
            r[0].status == Status::Pass,
            "the first ordinary instance passes",
        )?;
        check(
            r[1].status == Status::Fail && kinds(1) == ["warning"],
            "the warning is pinned on its instance",
        )?;
        check(
            r[1].kernel_events[0].summary.contains("simulated warning"),
            "the warning's console line is kept",
        )?;
        check(
            r[2].status == Status::Fail && kinds(2) == ["panic"],
            "the panic is pinned on its instance",
        )?;
        check(
            r[2].kernel_events[0]
                .excerpt
                .contains("Attempted to kill init"),
            "the panic's console excerpt is kept",
        )?;
        check(
            r[3].status == Status::Fail && kinds(3) == ["hang"],
            "the hang is pinned on its instance",
        )?;
        check(
            r[4].status == Status::Pass,
            "the run goes on after a panic and a hang",
        )?;
        let boots = run.report.kernel.vm.as_ref().map(|v| v.boots).unwrap_or(0);
        check(
            boots >= 3,
            "the VM is booted again after the panic and after the hang",
        )?;
        check(
            run.console.contains("Kernel panic"),
            "the console log keeps every boot",
        )?;
        Ok(())
    }
}
