//! Progress bars fed by a run's events: one bar for a native run, one
//! per kernel for a matrix; a line per step where stderr is no terminal.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

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

/// One progress bar per kernel on a terminal; one line per step elsewhere.
pub struct Bars {
    multi: MultiProgress,
    bars: Vec<ProgressBar>,
    specs: Vec<String>,
    live: bool,
    quiet: bool,
}

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
        let bars = specs
            .iter()
            .zip(instances)
            .map(|(s, &n)| {
                let bar = if live {
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
                bar.finish_with_message(line.clone());
                if !self.live {
                    self.say(format!("kconform: {}: {line}", self.specs[k]));
                }
            }
        }
    }
}
