//! Running the scenarios inside a kernel booted under QEMU.
//!
//! One kernel, one or more boots: the guest runs the planned instances
//! and reports each on its results port. When the kernel panics, oopses,
//! warns, taints itself or stops answering, the trouble is pinned on the
//! instance that was running; when several were running, those are run
//! again one at a time in a fresh boot so the blame is exact. After a crash
//! the VM boots again and carries on with the next instance.

pub mod console;
pub mod guest;
pub mod initramfs;
pub mod pid1;
pub mod protocol;
pub mod qemu;
pub mod shm;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::executor::Execution;
use crate::expect::{Expectations, Status};
use crate::kernel::{config_unmet, KernelFacts};
use crate::model::{Instance, Stop};
use crate::report::{KernelEvent, KernelInfo, Report, ResultRecord, VmInfo};
use protocol::{taint_letters, Event, Mode, Plan};
use qemu::{Accel, Launch, Qemu, Vm};

pub use guest::Guest;

#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error(
        "QEMU is not installed: kconform boots kernels with qemu-system-x86_64.\n  \
         On Debian or Ubuntu: apt-get install qemu-system-x86 (or set KCONFORM_QEMU to its path)"
    )]
    NoQemu,
    #[error("cannot run QEMU ({0}): {1}")]
    QemuUnusable(PathBuf, String),
    #[error("cannot {0} {1}: {2}")]
    Io(&'static str, PathBuf, std::io::Error),
    #[error("{0}")]
    Guest(String),
}

impl VmError {
    pub(crate) fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> VmError {
        let path = path.to_path_buf();
        move |e| VmError::Io(op, path, e)
    }
}

/// The kernel command line every boot starts with. `panic=-1` turns a
/// panic into an immediate reboot, which -no-reboot turns into QEMU's exit;
/// `loglevel=5` keeps the boot chatter off the console but not a WARN.
pub const BASE_CMDLINE: &str = "console=ttyS0 panic=-1 loglevel=5 rdinit=/init";

/// How every kernel of a run is booted.
#[derive(Clone, Debug)]
pub struct VmSettings {
    pub qemu: Qemu,
    pub accel: Accel,
    pub cpus: usize,
    pub memory_mb: usize,
    /// From QEMU's start to the guest's first word.
    pub boot_timeout: Duration,
    /// Per instance, enforced in the guest; the host allows more before it
    /// calls the VM hung.
    pub instance_timeout: Duration,
    pub iterations: u32,
    /// Appended to [`BASE_CMDLINE`].
    pub cmdline_extra: String,
    /// Offer the guest the shared-memory results channel ([`shm`]) when
    /// QEMU has the device for it; off, the guest answers on ttyS1, as it
    /// does where its kernel has no PCI.
    pub results_shm: bool,
}

impl VmSettings {
    pub fn cmdline(&self) -> String {
        if self.cmdline_extra.is_empty() {
            BASE_CMDLINE.to_string()
        } else {
            format!("{BASE_CMDLINE} {}", self.cmdline_extra)
        }
    }

    fn hang_after(&self) -> Duration {
        // TCG can be slow and the host busy: only a guest that outlives its
        // own per-instance timeout by a wide margin is stuck.
        self.instance_timeout + Duration::from_secs(20)
    }
}

/// A kernel image ready to boot, and what is known about it.
#[derive(Clone, Debug)]
pub struct BootTarget {
    /// How the user named it (`debian:sid`, a path, `tree:...`).
    pub spec: String,
    pub image: PathBuf,
    /// Where it came from, for the report.
    pub source: String,
    /// Its config, when known before booting, and where it was read.
    pub config: Option<(String, BTreeMap<String, String>)>,
}

/// What a run reports as it goes.
pub enum Progress<'a> {
    Booting {
        boot: usize,
    },
    Started {
        instances: usize,
    },
    Done {
        done: usize,
        total: usize,
        record: &'a ResultRecord,
    },
}

/// One kernel's run: its report and every boot's console log.
pub struct KernelRun {
    pub report: Report,
    pub console: String,
}

impl KernelRun {
    /// Write report.json and console.log under `root/<kernel>/`.
    pub fn write_to(&self, root: &Path) -> std::io::Result<PathBuf> {
        let dir = Report::dir_in(root, &self.report.kernel.spec);
        std::fs::create_dir_all(&dir)?;
        crate::report::write_atomic(&dir.join("console.log"), self.console.as_bytes())?;
        self.report.write_to(root)
    }
}

/// The report of a kernel that could not be run at all: every instance
/// an error with the reason, so a matrix still shows the whole grid.
pub fn unrunnable(
    spec: &str,
    source: Option<String>,
    why: &str,
    instances: &[&Instance],
) -> Report {
    let reason = format!("not run: {}", first_line(why));
    let results = instances
        .iter()
        .map(|inst| {
            let mut r = ResultRecord::skipped(inst, reason.clone());
            r.status = Status::Error;
            r
        })
        .collect();
    let mut kernel =
        KernelInfo::from_facts(spec, &KernelFacts::reported("unknown", "", "x86_64", None));
    kernel.version = None;
    kernel.source = source;
    kernel.error = Some(why.to_string());
    Report::new(kernel, 0, results)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Instances the guest runs at once per vCPU. Most of an instance's time
/// is spent blocked (waitpid, ptrace stops, pipes), so under TCG one per
/// vCPU leaves the vCPUs idle. Bookworm's cloud kernel, 2 vCPUs under
/// TCG, four runs each (boot included): 5.6-6.0 s at 2 per vCPU, 4.0-4.2 s
/// at 3, 4.3-5.7 s at 4, every instance conforming in each run.
const JOBS_PER_CPU: usize = 3;

/// Ceiling on boots per kernel: every boot must settle at least one
/// instance, and a kernel that crashes on everything is not retried forever.
const MAX_BOOTS: usize = 64;

/// Run `instances` in `target` under QEMU and judge them.
pub fn run_suite(
    target: &BootTarget,
    settings: &VmSettings,
    guest: &Guest,
    instances: &[&Instance],
    expectations: &Expectations,
    workdir: &Path,
    on: &(dyn Fn(Progress) + Sync),
) -> KernelRun {
    let start = Instant::now();
    let mut runner = Runner::new(target, settings, guest, workdir);
    let mut records: Vec<Option<ResultRecord>> = vec![None; instances.len()];
    let mut pending: Vec<usize> = Vec::new();
    for (k, inst) in instances.iter().enumerate() {
        let unmet = target
            .config
            .as_ref()
            .and_then(|(_, c)| config_unmet(c, &inst.needs));
        match unmet {
            Some(why) => records[k] = Some(ResultRecord::skipped(inst, why)),
            None => pending.push(k),
        }
    }
    let total = instances.len();
    let mut done = records.iter().filter(|r| r.is_some()).count();
    for r in records.iter().flatten() {
        on(Progress::Done {
            done,
            total,
            record: r,
        });
    }
    on(Progress::Started { instances: total });

    let mut facts: Option<KernelFacts> = None;
    let mut proc_version = None;
    let mut kernel_events = Vec::new();
    let mut isolate: Vec<usize> = Vec::new();
    let mut fatal: Option<String> = None;

    // At least one boot, even when the config ruled out every instance:
    // the report names the kernel that was booted.
    while fatal.is_none() && (facts.is_none() || !(pending.is_empty() && isolate.is_empty())) {
        if runner.boots >= MAX_BOOTS {
            fatal = Some(format!("gave up after {MAX_BOOTS} boots"));
            break;
        }
        let (mut batch, jobs) = if isolate.is_empty() {
            (std::mem::take(&mut pending), settings.cpus * JOBS_PER_CPU)
        } else {
            (std::mem::take(&mut isolate), 1)
        };
        // Long instances first (stable otherwise): they overlap the short
        // ones rather than finish the run alone.
        batch.sort_by_key(|&k| !instances[k].long);
        let plan = Plan {
            mode: Mode::Suite,
            ids: batch.iter().map(|&k| instances[k].id.clone()).collect(),
            iterations: settings.iterations,
            timeout_ms: settings.instance_timeout.as_millis() as u64,
            jobs,
        };
        on(Progress::Booting {
            boot: runner.boots + 1,
        });
        let mut state = BootState::default();
        let outcome = runner.boot(&plan, &mut |ev, tick_start| {
            state.on_guest_event(ev, tick_start)
        });
        let console = outcome.console.as_str();

        if facts.is_none() {
            match &state.hello {
                Some(h) => {
                    if h.catalog != guest.catalog {
                        fatal = Some(format!(
                            "the guest binary {} was built from other scenarios than this kconform \
                             (catalog {} vs {}): rebuild it, or unset KCONFORM_GUEST",
                            guest.binary.display(),
                            h.catalog,
                            guest.catalog
                        ));
                        continue;
                    }
                    facts = Some(KernelFacts::reported(
                        &h.release,
                        &h.proc_version,
                        &h.machine,
                        target.config.clone(),
                    ));
                    proc_version = Some(h.proc_version.clone());
                }
                None => {
                    fatal = Some(format!(
                        "the kernel did not boot: {}",
                        outcome.end.describe(settings)
                    ));
                    runner.console_tail_on_failure = Some(console::tail(console, 40));
                    continue;
                }
            }
        } else if state.hello.is_none() {
            // It booted before and not now: nothing more can be learned.
            fatal = Some(format!(
                "the kernel did not boot again after a crash: {}",
                outcome.end.describe(settings)
            ));
            for &k in &batch {
                pending.push(k);
            }
            continue;
        }
        if let Some(msg) = &state.fatal {
            fatal = Some(format!("the guest gave up: {msg}"));
        }
        let facts = facts.as_ref().expect("set on the first boot");

        // Trouble that ended the boot: pin it on whoever was running.
        if !matches!(outcome.end, BootEnd::Finished) {
            // In flight: started by the results port's word, or by the
            // kernel log's (the port's last bytes may have been lost).
            let logged = started_in_log(console);
            let mut suspects: BTreeSet<usize> = state.in_flight.keys().copied().collect();
            suspects.extend(
                logged
                    .keys()
                    .filter(|i| !state.done.contains_key(i) && **i < batch.len()),
            );
            // Look for the trouble from the first suspect's start on, so
            // an earlier instance's warning is not taken for this crash.
            let from = suspects
                .iter()
                .filter_map(|i| logged.get(i))
                .min()
                .copied()
                .unwrap_or(state.last_start_offset);
            let (kind, summary, excerpt) = console::crash_excerpt_from(console, from)
                .unwrap_or_else(|| {
                    let kind = if matches!(outcome.end, BootEnd::Hung(_)) {
                        "hang"
                    } else {
                        "died"
                    };
                    let since = console.get(from..).unwrap_or(console);
                    (
                        kind,
                        outcome.end.describe(settings),
                        console::tail(since, 20),
                    )
                });
            if suspects.is_empty() {
                kernel_events.push(KernelEvent {
                    kind: kind.into(),
                    summary,
                    excerpt,
                });
            } else {
                state.troubles.push(Trouble {
                    suspects,
                    kind,
                    summary,
                    excerpt,
                });
            }
        }

        // Settle what this boot decided.
        let mut blame: BTreeMap<usize, Vec<KernelEvent>> = BTreeMap::new();
        let mut retry: BTreeSet<usize> = BTreeSet::new();
        for t in &state.troubles {
            if t.suspects.len() == 1 || jobs == 1 {
                for &i in &t.suspects {
                    // The console line and the crash can report one event twice.
                    let events = blame.entry(i).or_default();
                    if !events.iter().any(|e| e.summary == t.summary) {
                        events.push(t.event());
                    }
                }
            } else {
                retry.extend(t.suspects.iter().copied());
            }
        }
        let mut settled = 0;
        for (i, &k) in batch.iter().enumerate() {
            let inst = instances[k];
            if retry.contains(&i) {
                isolate.push(k);
                continue;
            }
            let events = blame.remove(&i).unwrap_or_default();
            let record = match state.done.remove(&i) {
                Some(exec) => Some(ResultRecord::judged(inst, &exec, facts, expectations)),
                // Running when the kernel went down: the trouble is its result.
                None if !events.is_empty() => Some(ResultRecord::judged(
                    inst,
                    &Execution {
                        outcome: Err(Stop::Error("the kernel went down while it ran".into())),
                        duration: Duration::ZERO,
                    },
                    facts,
                    expectations,
                )),
                None => None,
            };
            match record {
                Some(mut r) => {
                    if !events.is_empty() {
                        r.status = Status::Fail;
                        r.reason = Some(format!(
                            "kernel {} while this instance ran: {}",
                            events[0].kind, events[0].summary
                        ));
                        r.kernel_events = events;
                    }
                    settled += 1;
                    done += 1;
                    on(Progress::Done {
                        done,
                        total,
                        record: &r,
                    });
                    records[k] = Some(r);
                }
                None => pending.push(k),
            }
        }
        // Keep the run's order: what is left goes first, as planned.
        pending.sort_unstable();
        isolate.sort_unstable();
        if settled == 0 && retry.is_empty() && fatal.is_none() && !batch.is_empty() {
            fatal = Some(format!(
                "a boot settled no instance ({})",
                outcome.end.describe(settings)
            ));
        }
    }

    let vm = VmInfo {
        qemu: settings.qemu.version.clone(),
        accel: settings.accel.as_str().into(),
        cpus: settings.cpus,
        memory_mb: settings.memory_mb,
        cmdline: settings.cmdline(),
        boots: runner.boots,
        boot_ms: runner.boot_ms,
        results_port: runner.results_port.into(),
        console_log: "console.log".into(),
    };
    let report = match (facts, fatal) {
        (Some(facts), fatal) => {
            let reason = fatal.as_deref().map(|f| format!("not run: {f}"));
            let results = records
                .into_iter()
                .zip(instances)
                .map(|(r, inst)| {
                    r.unwrap_or_else(|| {
                        let mut r = ResultRecord::skipped(inst, reason.clone().unwrap_or_default());
                        r.status = Status::Error;
                        r
                    })
                })
                .collect();
            let mut kernel = KernelInfo::from_facts(&target.spec, &facts);
            kernel.proc_version = proc_version;
            kernel.source = Some(target.source.clone());
            kernel.image_sha256 = crate::report::sha256_file(&target.image).ok();
            kernel.config_sha256 = target
                .config
                .as_ref()
                .map(|(_, c)| crate::report::sha256_config(c));
            kernel.vm = Some(vm);
            kernel.events = kernel_events;
            kernel.error = fatal;
            Report::new(kernel, start.elapsed().as_millis() as u64, results)
        }
        (None, fatal) => {
            let why = fatal.unwrap_or_else(|| "nothing ran".into());
            let mut report = unrunnable(&target.spec, Some(target.source.clone()), &why, instances);
            report.kernel.vm = Some(vm);
            report.kernel.console_tail = runner.console_tail_on_failure.take();
            report.duration_ms = start.elapsed().as_millis() as u64;
            report
        }
    };
    KernelRun {
        report,
        console: runner.console,
    }
}

/// Boot and run a single plan that is not the suite (boot only, or an
/// extra program), returning the console and how long it took.
pub fn run_plan(
    target: &BootTarget,
    settings: &VmSettings,
    guest: &Guest,
    plan: &Plan,
    workdir: &Path,
) -> PlanRun {
    let mut runner = Runner::new(target, settings, guest, workdir);
    let start = Instant::now();
    let mut exited = None;
    let mut fatal = None;
    let mut hello = false;
    let outcome = runner.boot(plan, &mut |ev, _| match ev {
        Event::Hello { .. } => hello = true,
        Event::Exited { status, .. } => exited = Some(*status),
        Event::Fatal { message } => fatal = Some(message.clone()),
        _ => {}
    });
    PlanRun {
        wall: start.elapsed(),
        boot_ms: runner.boot_ms,
        booted: hello,
        finished: matches!(outcome.end, BootEnd::Finished),
        end: outcome.end.describe(settings),
        exit_status: exited,
        fatal,
        console: runner.console,
    }
}

pub struct PlanRun {
    pub wall: Duration,
    pub boot_ms: u64,
    pub booted: bool,
    pub finished: bool,
    pub end: String,
    pub exit_status: Option<i32>,
    pub fatal: Option<String>,
    pub console: String,
}

struct Hello {
    release: String,
    proc_version: String,
    machine: String,
    catalog: String,
}

/// A kernel problem and who may have caused it.
struct Trouble {
    suspects: BTreeSet<usize>,
    kind: &'static str,
    summary: String,
    excerpt: String,
}

impl Trouble {
    fn event(&self) -> KernelEvent {
        KernelEvent {
            kind: self.kind.into(),
            summary: self.summary.clone(),
            excerpt: self.excerpt.clone(),
        }
    }
}

/// What one boot has said so far.
#[derive(Default)]
struct BootState {
    hello: Option<Hello>,
    taint: u64,
    /// Plan index -> console length when it started.
    in_flight: BTreeMap<usize, usize>,
    last_start_offset: usize,
    done: BTreeMap<usize, Execution>,
    troubles: Vec<Trouble>,
    fatal: Option<String>,
}

impl BootState {
    /// `tick_start`: the console's length before the boot loop's latest
    /// read, which came before this event's; the event's own console
    /// output cannot begin earlier.
    fn on_guest_event(&mut self, ev: &Event, tick_start: usize) {
        match ev {
            Event::Hello {
                release,
                proc_version,
                machine,
                taint,
                catalog,
                ..
            } => {
                self.taint = *taint;
                self.hello = Some(Hello {
                    release: release.clone(),
                    proc_version: proc_version.clone(),
                    machine: machine.clone(),
                    catalog: catalog.clone(),
                });
            }
            Event::Start { i, .. } => {
                self.in_flight.insert(*i, tick_start);
                self.last_start_offset = self.in_flight.values().copied().min().unwrap_or(0);
            }
            Event::Done {
                i,
                outcome,
                duration_ms,
                taint,
                kmsg,
                ..
            } => {
                self.in_flight.remove(i);
                let mut suspects: BTreeSet<usize> = self.in_flight.keys().copied().collect();
                suspects.insert(*i);
                let new_taint = *taint & !self.taint;
                self.taint = *taint;
                let log = kmsg.join("\n");
                if let Some((kind, summary, excerpt)) = console::excerpt_from(&log, 0) {
                    self.troubles.push(Trouble {
                        suspects,
                        kind,
                        summary,
                        excerpt,
                    });
                } else if new_taint != 0 {
                    let summary = format!("kernel tainted: {}", taint_letters(new_taint));
                    self.troubles.push(Trouble {
                        suspects,
                        kind: "taint",
                        summary,
                        excerpt: log,
                    });
                }
                self.done.insert(
                    *i,
                    Execution {
                        outcome: outcome.clone(),
                        duration: Duration::from_millis(*duration_ms),
                    },
                );
            }
            Event::Fatal { message } => self.fatal = Some(message.clone()),
            Event::Exited { .. } | Event::End => {}
        }
    }
}

#[derive(Debug)]
enum BootEnd {
    /// The guest said End and QEMU exited.
    Finished,
    /// QEMU exited before the guest said End (a panic reboots it).
    Exited(Option<i32>, String),
    /// No word from the guest within the boot timeout.
    NoHello,
    /// The guest went silent mid-run.
    Hung(Duration),
    /// QEMU could not be started.
    NotStarted(String),
}

impl BootEnd {
    fn describe(&self, s: &VmSettings) -> String {
        match self {
            BootEnd::Finished => "finished".into(),
            BootEnd::Exited(code, stderr) if stderr.trim().is_empty() => {
                format!("the VM ended early (QEMU exit status {code:?})")
            }
            BootEnd::Exited(_, stderr) => format!("QEMU failed: {}", stderr.trim()),
            BootEnd::NoHello => format!(
                "no word from the guest within {} s of starting QEMU (--boot-timeout)",
                s.boot_timeout.as_secs()
            ),
            BootEnd::Hung(d) => format!("the guest went silent for {} s", d.as_secs()),
            BootEnd::NotStarted(e) => e.clone(),
        }
    }
}

struct BootOutcome {
    end: BootEnd,
    /// This boot's console.
    console: String,
}

struct Runner<'a> {
    target: &'a BootTarget,
    settings: &'a VmSettings,
    guest: &'a Guest,
    workdir: &'a Path,
    /// Every boot's console, with a header per boot.
    console: String,
    boots: usize,
    /// The first boot's time to the guest's first word.
    boot_ms: u64,
    /// The port the first boot's guest answered on.
    results_port: &'static str,
    console_tail_on_failure: Option<String>,
}

impl<'a> Runner<'a> {
    fn new(
        target: &'a BootTarget,
        settings: &'a VmSettings,
        guest: &'a Guest,
        workdir: &'a Path,
    ) -> Self {
        Runner {
            target,
            settings,
            guest,
            workdir,
            console: String::new(),
            boots: 0,
            boot_ms: 0,
            results_port: "none",
            console_tail_on_failure: None,
        }
    }

    /// One boot: `observe` sees each guest event with the console length
    /// read just before it.
    fn boot(&mut self, plan: &Plan, observe: &mut dyn FnMut(&Event, usize)) -> BootOutcome {
        self.boots += 1;
        // Numbered across the process, not per runner: callers may run
        // several kernels (bisect steps) in one workdir, and a new boot
        // must never read an earlier boot's results file.
        static BOOTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = BOOTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let path = |name: &str| self.workdir.join(format!("{name}-{n}"));
        let (initrd, console_path, results_path, shm_path, stderr_path) = (
            path("initrd"),
            path("console"),
            path("results"),
            path("results-shm"),
            path("qemu-stderr"),
        );
        let shm_path =
            (self.settings.results_shm && self.settings.qemu.ivshmem).then_some(shm_path);
        let mut out = BootOutcome {
            end: BootEnd::NotStarted(String::new()),
            console: String::new(),
        };
        let cmdline = self.settings.cmdline();
        let started = (|| -> Result<Vm, VmError> {
            initramfs::write_boot(&self.guest.base, plan, &initrd)
                .map_err(VmError::io("write", &initrd))?;
            if let Some(p) = &shm_path {
                shm::create(p).map_err(VmError::io("create", p))?;
            }
            Vm::start(
                &self.settings.qemu,
                &Launch {
                    kernel: &self.target.image,
                    initrd: &initrd,
                    cmdline: &cmdline,
                    accel: self.settings.accel,
                    cpus: self.settings.cpus,
                    memory_mb: self.settings.memory_mb,
                    console: &console_path,
                    results: &results_path,
                    results_shm: shm_path.as_deref(),
                    stderr: &stderr_path,
                },
            )
        })();
        let mut vm = match started {
            Ok(vm) => vm,
            Err(e) => {
                out.end = BootEnd::NotStarted(e.to_string());
                return out;
            }
        };
        let start = Instant::now();
        let mut console = Tail::new(console_path);
        let mut results = Results {
            shm: shm_path.as_deref().map(shm::Reader::open),
            tty: Tail::new(results_path),
            tty_used: false,
        };
        let mut pending_line = String::new();
        let mut hello_at: Option<Instant> = None;
        let mut last_word = Instant::now();
        let mut ended = false;
        out.end = loop {
            std::thread::sleep(Duration::from_millis(10));
            let exited = vm.try_wait();
            let tick_start = out.console.len();
            console.read_more(&mut out.console);
            if results.read_more(&mut pending_line) {
                while let Some(nl) = pending_line.find('\n') {
                    let line: String = pending_line.drain(..=nl).collect();
                    let line = line.trim();
                    if line.is_empty() {
                        continue;
                    }
                    last_word = Instant::now();
                    match serde_json::from_str::<Event>(line) {
                        Ok(ev) => {
                            if matches!(ev, Event::Hello { .. }) && hello_at.is_none() {
                                hello_at = Some(Instant::now());
                            }
                            if matches!(ev, Event::End) {
                                ended = true;
                            }
                            observe(&ev, tick_start);
                        }
                        // A garbled line is the guest's problem, reported as such.
                        Err(e) => {
                            let ev = Event::Fatal {
                                message: format!("unreadable line from the guest ({e}): {line}"),
                            };
                            observe(&ev, tick_start)
                        }
                    }
                }
            }
            if exited.is_some() {
                // One last read: QEMU may have written more before exiting.
                console.read_more(&mut out.console);
            }
            if let Some(status) = exited {
                if ended {
                    break BootEnd::Finished;
                }
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                break BootEnd::Exited(status.code(), stderr);
            }
            if ended && last_word.elapsed() > Duration::from_secs(10) {
                // The guest said End but the VM lingers: done all the same.
                break BootEnd::Finished;
            }
            match hello_at {
                None if start.elapsed() > self.settings.boot_timeout => break BootEnd::NoHello,
                Some(_) if !ended && last_word.elapsed() > self.settings.hang_after() => {
                    break BootEnd::Hung(last_word.elapsed())
                }
                _ => {}
            }
        };
        drop(vm);
        if self.boots == 1 {
            self.results_port = results.port();
            self.boot_ms = hello_at
                .map(|h| h.duration_since(start).as_millis() as u64)
                .unwrap_or(0);
        }
        self.console.push_str(&format!(
            "===== kconform: boot {n} of {}: {} ({}) =====\n",
            self.target.spec,
            plan_summary(plan),
            out.end.describe(self.settings)
        ));
        self.console
            .push_str(&name_start_marks(&out.console, &plan.ids));
        if !out.console.ends_with('\n') {
            self.console.push('\n');
        }
        out
    }
}

/// Plan indices the guest's start lines in the kernel log name, with the
/// console offset of each line.
fn started_in_log(console: &str) -> BTreeMap<usize, usize> {
    let mut found = BTreeMap::new();
    let mut offset = 0;
    for line in console.split_inclusive('\n') {
        if let Some((_, rest)) = line.split_once(pid1::START_MARK) {
            if let Some(i) = rest.split_whitespace().next().and_then(|i| i.parse().ok()) {
                found.entry(i).or_insert(offset);
            }
        }
        offset += line.len();
    }
    found
}

/// The console with each guest start line completed by the id it
/// stands for (`kconform: start 12` + ` sa-immutable/...`), for people
/// reading console.log.
fn name_start_marks(console: &str, ids: &[String]) -> String {
    let mut named = String::with_capacity(console.len() + console.len() / 2);
    for line in console.split_inclusive('\n') {
        let id = line
            .split_once(pid1::START_MARK)
            .and_then(|(_, rest)| rest.trim_end().parse::<usize>().ok())
            .and_then(|i| ids.get(i));
        match id {
            Some(id) => {
                let body = line.trim_end_matches(['\r', '\n']);
                named.push_str(body);
                named.push(' ');
                named.push_str(id);
                named.push_str(&line[body.len()..]);
            }
            None => named.push_str(line),
        }
    }
    named
}

fn plan_summary(plan: &Plan) -> String {
    match &plan.mode {
        Mode::Suite => format!("{} instances, {} at a time", plan.ids.len(), plan.jobs),
        Mode::BootOnly => "boot only".into(),
        Mode::Exec { name, args } => format!("exec {name} {}", args.join(" ")),
    }
}

/// The guest's two results ports, read in the order the guest wrote to
/// them: it starts on the shared memory when it can, and moves to ttyS1
/// for good only when that is full.
struct Results {
    shm: Option<shm::Reader>,
    tty: Tail,
    tty_used: bool,
}

impl Results {
    /// Append what the guest has said since the last call; true if anything.
    fn read_more(&mut self, out: &mut String) -> bool {
        let mut any = false;
        if let Some(shm) = &mut self.shm {
            let mut bytes = Vec::new();
            // An unreadable file reads as silence, which the boot's
            // timeouts then report.
            let _ = shm.read_more(&mut bytes);
            if !bytes.is_empty() {
                // Whole lines only: the guest publishes a line at a time.
                out.push_str(&String::from_utf8_lossy(&bytes));
                any = true;
            }
            if shm.used() && !shm.moved() {
                return any;
            }
        }
        let tty = self.tty.read_more(out);
        self.tty_used |= tty;
        any || tty
    }

    /// Which port the guest answered on, for the report.
    fn port(&self) -> &'static str {
        match (self.shm.as_ref().is_some_and(|s| s.used()), self.tty_used) {
            (true, false) => "shared memory",
            (true, true) => "shared memory, then ttyS1",
            (false, true) => "ttyS1",
            (false, false) => "none",
        }
    }
}

/// Follows a file QEMU appends to.
struct Tail {
    path: PathBuf,
    file: Option<std::fs::File>,
    partial: Vec<u8>,
}

impl Tail {
    fn new(path: PathBuf) -> Tail {
        Tail {
            path,
            file: None,
            partial: Vec::new(),
        }
    }

    /// Append whatever is new (as text) to `out`; true if anything was.
    fn read_more(&mut self, out: &mut String) -> bool {
        if self.file.is_none() {
            self.file = std::fs::File::open(&self.path).ok();
        }
        let Some(f) = self.file.as_mut() else {
            return false;
        };
        let before = self.partial.len();
        let _ = f.read_to_end(&mut self.partial);
        if self.partial.len() == before {
            return false;
        }
        // Hand out complete UTF-8 only; a character split across reads waits.
        let valid = match std::str::from_utf8(&self.partial) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.partial.len(),
        };
        let chunk: Vec<u8> = self.partial.drain(..valid).collect();
        out.push_str(&String::from_utf8_lossy(&chunk).replace('\r', ""));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ports' files in `dir`, ttyS1's holding `tty`, and a reader.
    fn results_in(dir: &Path, tty: &str) -> (PathBuf, PathBuf, Results) {
        let (shm_path, tty_path) = (dir.join("shm"), dir.join("tty"));
        shm::create(&shm_path).unwrap();
        std::fs::write(&tty_path, tty).unwrap();
        let results = Results {
            shm: Some(shm::Reader::open(&shm_path)),
            tty: Tail::new(tty_path.clone()),
            tty_used: false,
        };
        (shm_path, tty_path, results)
    }

    #[test]
    fn results_are_read_in_the_order_the_guest_wrote_them() {
        let dir = tempfile::tempdir().unwrap();
        let (shm_path, tty_path, mut results) = results_in(dir.path(), "");
        // Room for 8 bytes of lines, so the third line moves to ttyS1.
        let map = shm::Mapped::new(&shm_path, 64 + 8);
        let mut w = map.writer().unwrap();
        let mut got = String::new();
        assert!(!results.read_more(&mut got));
        assert!(w.append(b"one\n"));
        assert!(results.read_more(&mut got));
        assert_eq!(got, "one\n");
        // Bytes on ttyS1 while the guest is still on the shared memory
        // are not its events' continuation yet: they wait.
        std::fs::write(&tty_path, "three\n").unwrap();
        assert!(w.append(b"two\n"));
        assert!(!w.append(b"three\n"));
        results.read_more(&mut got);
        assert_eq!(got, "one\ntwo\n");
        w.mark_moved();
        results.read_more(&mut got);
        assert_eq!(got, "one\ntwo\nthree\n");
        assert_eq!(results.port(), "shared memory, then ttyS1");
    }

    #[test]
    fn a_guest_without_shared_memory_is_heard_on_ttys1() {
        let dir = tempfile::tempdir().unwrap();
        let (_, _, mut results) = results_in(dir.path(), "hello\n");
        let mut got = String::new();
        assert!(results.read_more(&mut got));
        assert_eq!((got.as_str(), results.port()), ("hello\n", "ttyS1"));
    }

    #[test]
    fn start_marks_get_their_ids_and_nothing_else_changes() {
        let ids = vec!["a/one".to_string(), "b/two".to_string()];
        let console = "[    1.0] kconform: start 1\r\n\
                       [    1.1] something else 1\n\
                       [    1.2] kconform: start 7\n\
                       [    1.3] kconform: start 0";
        assert_eq!(
            name_start_marks(console, &ids),
            "[    1.0] kconform: start 1 b/two\r\n\
             [    1.1] something else 1\n\
             [    1.2] kconform: start 7\n\
             [    1.3] kconform: start 0 a/one"
        );
        let named = name_start_marks(console, &ids);
        assert_eq!(
            started_in_log(&named).keys().copied().collect::<Vec<_>>(),
            vec![0, 1, 7]
        );
    }
}
