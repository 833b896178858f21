//! Progress bars fed by a run's events: one bar for a native run, one
//! per kernel for a matrix; a line per step where stderr is no terminal.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use kconform_core::expect::Status;
use kconform_core::run::{Event, Listener};
use kconform_harness::kernels::KernelSpec;

/// One bar for the running kernel's instances.
pub struct HostBar {
    bar: ProgressBar,
    quiet: bool,
}

impl HostBar {
    pub fn new(instances: usize, quiet: bool) -> HostBar {
        let bar = if std::io::stderr().is_terminal() && !quiet {
            let bar = ProgressBar::new(instances as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        HostBar { bar, quiet }
    }

    pub fn done(&self) {
        self.bar.finish_and_clear();
    }
}

impl Listener for HostBar {
    fn on(&self, _: usize, event: Event) {
        if let Event::Result { record: r, .. } = event {
            self.bar.inc(1);
            self.bar.set_message(r.id.clone());
            if !self.quiet && matches!(r.status, Status::Fail | Status::Error) {
                self.bar
                    .suspend(|| eprintln!("{} {}", r.status.as_str().to_uppercase(), r.id));
            }
        }
    }
}

/// Kernels downloaded ahead of a run: one bar, the ones in flight as its
/// message; a line per kernel where stderr is no terminal.
pub struct FetchBar {
    bar: ProgressBar,
    live: bool,
    quiet: bool,
    flight: Mutex<Vec<String>>,
    start: Instant,
    kernels: usize,
}

impl FetchBar {
    pub fn new(kernels: usize, quiet: bool) -> FetchBar {
        let live = std::io::stderr().is_terminal() && !quiet;
        if !quiet {
            eprintln!("kconform: fetching {kernels} kernel(s) not in the cache, two at a time");
        }
        let bar = if live {
            let bar = ProgressBar::new(kernels as u64);
            bar.set_style(
                ProgressStyle::with_template("fetching {bar:30} {pos}/{len} {elapsed} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(500));
            bar
        } else {
            ProgressBar::hidden()
        };
        FetchBar {
            bar,
            live,
            quiet,
            flight: Mutex::new(Vec::new()),
            start: Instant::now(),
            kernels,
        }
    }

    fn in_flight(&self, change: impl FnOnce(&mut Vec<String>)) {
        let mut flight = self.flight.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut flight);
        self.bar.set_message(flight.join(", "));
    }

    pub fn started(&self, spec: &KernelSpec) {
        self.in_flight(|f| f.push(spec.to_string()));
    }

    pub fn finished(&self, spec: &KernelSpec, error: Option<String>) {
        let name = spec.to_string();
        self.in_flight(|f| f.retain(|s| *s != name));
        self.bar.inc(1);
        let line = match error {
            Some(e) => format!(
                "kconform: cannot fetch {name}: {}",
                e.lines().next().unwrap_or("")
            ),
            None if !self.live && !self.quiet => format!(
                "kconform: fetched {name} ({}/{})",
                self.bar.position(),
                self.kernels
            ),
            None => return,
        };
        self.bar.suspend(|| eprintln!("{line}"));
    }

    pub fn done(&self) {
        self.bar.finish_and_clear();
        if !self.quiet {
            eprintln!(
                "kconform: fetched in {:.0} s",
                self.start.elapsed().as_secs_f64()
            );
        }
    }
}

/// One progress bar per kernel on a terminal; one line per step elsewhere.
/// With more kernels than a terminal holds bars for (the whole archive),
/// only the running kernels have bars, under one that counts kernels, and
/// each finished kernel leaves a line.
pub struct Bars {
    multi: MultiProgress,
    bars: Vec<ProgressBar>,
    specs: Vec<String>,
    live: bool,
    quiet: bool,
    /// `Some` in the compact form: the kernels' count, and which bars are up.
    compact: Option<(ProgressBar, Mutex<Vec<bool>>)>,
}

/// More kernels than this get the compact form.
const MAX_BARS: usize = 12;

impl Bars {
    pub fn new(specs: &[KernelSpec], instances: &[usize], quiet: bool) -> Bars {
        let live = std::io::stderr().is_terminal() && !quiet;
        let multi = MultiProgress::new();
        let specs: Vec<String> = specs.iter().map(ToString::to_string).collect();
        let width = specs.iter().map(String::len).max().unwrap_or(8).min(40);
        let style = ProgressStyle::with_template(&format!(
            "{{prefix:{width}}} {{bar:30}} {{pos:>3}}/{{len:3}} {{wide_msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let compact = (live && specs.len() > MAX_BARS).then(|| {
            let total = multi.add(ProgressBar::new(specs.len() as u64));
            total.set_style(
                ProgressStyle::with_template("kernels {bar:30} {pos}/{len} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            (total, Mutex::new(vec![false; specs.len()]))
        });
        let bars = specs
            .iter()
            .zip(instances)
            .map(|(s, &n)| {
                let bar = if compact.is_some() {
                    ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::hidden())
                } else if live {
                    multi.add(ProgressBar::new(n as u64))
                } else {
                    ProgressBar::hidden()
                };
                bar.set_style(style.clone());
                bar.set_prefix(s.clone());
                bar.set_message("waiting");
                bar
            })
            .collect();
        Bars {
            multi,
            bars,
            specs,
            live,
            quiet,
            compact,
        }
    }

    fn say(&self, line: String) {
        if self.quiet {
            return;
        }
        if self.live {
            let _ = self.multi.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    /// A step worth a line of its own where there are no bars.
    fn step(&self, k: usize, what: String) {
        self.bars[k].set_message(what.clone());
        if !self.live {
            self.say(format!("kconform: {}: {what}", self.specs[k]));
        }
    }

    pub fn done(&self) {
        let _ = self.multi.clear();
    }
}

impl Listener for Bars {
    fn on(&self, k: usize, event: Event) {
        let bar = &self.bars[k];
        if let Some((_, up)) = &self.compact {
            let mut up = up.lock().unwrap_or_else(|p| p.into_inner());
            if !up[k] {
                up[k] = true;
                self.multi.add(bar.clone());
            }
        }
        match event {
            Event::Preparing(what) => self.step(k, what.to_string()),
            Event::Booting(1) => self.step(k, "booting".into()),
            Event::Booting(boot) => self.step(k, format!("booting again (boot {boot})")),
            Event::Result { done, record, .. } => {
                bar.set_position(done as u64);
                bar.set_message(record.id.clone());
                if matches!(record.status, Status::Fail | Status::Error) {
                    self.say(format!(
                        "{} {}: {}",
                        record.status.as_str().to_uppercase(),
                        self.specs[k],
                        record.id
                    ));
                }
            }
            Event::Finished(report) => {
                let s = &report.summary;
                let line = match &report.kernel.error {
                    Some(e) if s.pass + s.fail == 0 => {
                        format!("ERROR: {}", e.lines().next().unwrap_or(""))
                    }
                    _ => format!(
                        "{} pass, {} fail, {} skip, {} error{} in {:.1} s",
                        s.pass,
                        s.fail,
                        s.skip,
                        s.error,
                        kconform_harness::report::formats::known_bugs(s.known_bug),
                        report.duration_ms as f64 / 1000.0
                    ),
                };
                if let Some((total, _)) = &self.compact {
                    bar.finish_and_clear();
                    self.multi.remove(bar);
                    total.inc(1);
                    self.say(format!("{}: {line}", self.specs[k]));
                    return;
                }
                bar.finish_with_message(line.clone());
                if !self.live {
                    self.say(format!("kconform: {}: {line}", self.specs[k]));
                }
            }
        }
    }
}
