//! One boot of a kernel under QEMU: write its initramfs, start QEMU,
//! follow the console and the results port until the guest is done, goes
//! silent, or the VM ends, and say how it ended.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kconform_core::guest::protocol::{Event, Mode, Plan};
use kconform_core::guest::{pid1, shm};
use kconform_core::interrupt;

use super::qemu::{Launch, Vm};
use super::{initramfs, Guest, VmError, VmSettings};
use crate::kernels::BootTarget;

/// Boot and run a single plan that is not the suite (boot only, or an
/// extra program), returning the console and how long it took.
pub fn run_plan(
    target: &BootTarget,
    settings: &VmSettings,
    guest: &Guest,
    plan: &Plan,
    workdir: &Path,
) -> PlanRun {
    let mut runner = Booter::new(target, settings, guest, workdir);
    let start = Instant::now();
    let mut exited = None;
    let mut fatal = None;
    let mut hello = false;
    let mut ran = Vec::new();
    let outcome = runner.boot(plan, &[], &mut |ev, _| match ev {
        Event::Hello { .. } => hello = true,
        Event::Exited { status, .. } => exited = Some(*status),
        Event::Ran {
            name,
            status,
            output,
        } => ran.push((name.clone(), *status, output.clone())),
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
        ran,
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
    /// ExecEach: each program's name, exit status and output.
    pub ran: Vec<(String, i32, String)>,
    pub fatal: Option<String>,
    pub console: String,
}

#[derive(Debug)]
pub(super) enum BootEnd {
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
    /// kconform was asked to stop (Ctrl-C, SIGTERM) and killed QEMU.
    Interrupted,
}

impl BootEnd {
    pub(super) fn describe(&self, s: &VmSettings) -> String {
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
            BootEnd::Interrupted => "interrupted".into(),
        }
    }
}

pub(super) struct BootOutcome {
    pub(super) end: BootEnd,
    /// This boot's console.
    pub(super) console: String,
}

pub(super) struct Booter<'a> {
    target: &'a BootTarget,
    settings: &'a VmSettings,
    guest: &'a Guest,
    workdir: &'a Path,
    /// Every boot's console, with a header per boot.
    pub(super) console: String,
    pub(super) boots: usize,
    /// The first boot's time to the guest's first word.
    pub(super) boot_ms: u64,
    /// The port the first boot's guest answered on.
    pub(super) results_port: &'static str,
    /// The first boot's kernel command line.
    pub(super) cmdline: String,
}

impl<'a> Booter<'a> {
    pub(super) fn new(
        target: &'a BootTarget,
        settings: &'a VmSettings,
        guest: &'a Guest,
        workdir: &'a Path,
    ) -> Self {
        Booter {
            target,
            settings,
            guest,
            workdir,
            console: String::new(),
            boots: 0,
            boot_ms: 0,
            results_port: "none",
            cmdline: String::new(),
        }
    }

    /// One boot, with `params` on the kernel command line after the
    /// run's own: `observe` sees each guest event with the console length
    /// read just before it.
    pub(super) fn boot(
        &mut self,
        plan: &Plan,
        params: &[&str],
        observe: &mut dyn FnMut(&Event, usize),
    ) -> BootOutcome {
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
        let cmdline = std::iter::once(self.settings.cmdline())
            .chain(params.iter().map(|p| p.to_string()))
            .collect::<Vec<_>>()
            .join(" ");
        if self.boots == 1 {
            self.cmdline = cmdline.clone();
        }
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
        let mut results = Ports {
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
            if interrupt::requested() {
                break BootEnd::Interrupted;
            }
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
            "===== kconform: boot {n} of {}: {} ({}); command line: {cmdline} =====\n",
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
pub(super) fn started_in_log(console: &str) -> BTreeMap<usize, usize> {
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
        Mode::ExecEach { .. } => "each program in turn".into(),
    }
}

/// The guest's two results ports, read in the order the guest wrote to
/// them: it starts on the shared memory when it can, and moves to ttyS1
/// for good only when that is full.
struct Ports {
    shm: Option<shm::Reader>,
    tty: Tail,
    tty_used: bool,
}

impl Ports {
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
    fn results_in(dir: &Path, tty: &str) -> (PathBuf, PathBuf, Ports) {
        let (shm_path, tty_path) = (dir.join("shm"), dir.join("tty"));
        shm::create(&shm_path).unwrap();
        std::fs::write(&tty_path, tty).unwrap();
        let results = Ports {
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
