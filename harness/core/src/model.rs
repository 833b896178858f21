//! The scenario model: what a scenario is, what it needs, and what it reports.
//!
//! A scenario is defined once with a parameter type and expanded into one
//! [`Instance`] per parameter value. Each instance has a stable path-like id
//! (`area/behaviour/param/param`) that fixtures, reports and bisect filters
//! key on, so ids are an interface: renaming one is a breaking change.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A behaviour family (BRIEF.md items 1-5), declared by the suites: each
/// area module names its own, so a new area needs no edit here. Reports
/// carry the name; the order areas are shown in is the catalog's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Area {
    /// The id prefix every instance of the area starts with (`tsync`).
    pub name: &'static str,
    /// One line: what the area pins down.
    pub summary: &'static str,
}

impl Area {
    /// The harness's own instances (fault injection in the guest, tests of
    /// the machinery), which no scenario defines.
    pub const HARNESS: Area = Area {
        name: "kconform-selftest",
        summary: "the harness's own checks",
    };

    pub fn as_str(self) -> &'static str {
        self.name
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A kernel capability probed at run time; an instance whose feature is
/// absent is skipped with the reason, never failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feature {
    /// seccomp(2) with SECCOMP_SET_MODE_FILTER.
    SeccompFilter,
    /// SECCOMP_RET_KILL_PROCESS (4.14).
    RetKillProcess,
    /// SECCOMP_FILTER_FLAG_TSYNC_ESRCH (5.7).
    TsyncEsrch,
    /// SECCOMP_FILTER_FLAG_NEW_LISTENER / SECCOMP_RET_USER_NOTIF (5.0).
    NewListener,
    /// `Seccomp_filters:` in /proc/PID/status (5.9).
    SeccompFiltersInStatus,
    /// /proc/sys/kernel/modprobe exists, so request_module() spawns a usermode helper.
    UsermodeHelper,
}

impl Feature {
    pub fn describe(self) -> &'static str {
        match self {
            Feature::SeccompFilter => "seccomp filter mode",
            Feature::RetKillProcess => "SECCOMP_RET_KILL_PROCESS",
            Feature::TsyncEsrch => "SECCOMP_FILTER_FLAG_TSYNC_ESRCH",
            Feature::NewListener => "SECCOMP_FILTER_FLAG_NEW_LISTENER",
            Feature::SeccompFiltersInStatus => "Seccomp_filters in /proc/PID/status",
            Feature::UsermodeHelper => {
                "usermode helpers (/proc/sys/kernel/modprobe; kernel built without CONFIG_MODULES?)"
            }
        }
    }
}

/// What an instance needs before it can run.
#[derive(Clone, Debug, Default)]
pub struct Needs {
    /// Must run as root (it sets up setuid files, writes sysctls, or
    /// compares root with an unprivileged uid it drops to).
    pub root: bool,
    pub features: Vec<Feature>,
    /// Kernel config options (`CONFIG_...`), checked where the config is known.
    pub config: Vec<&'static str>,
    /// Sysctls (paths under /proc/sys) that must hold one of these values
    /// where the file exists. In a VM the guest writes the first value
    /// before the instance runs; natively kconform never changes a global
    /// setting, and the instance is skipped instead.
    pub sysctls: Vec<(&'static str, &'static [&'static str])>,
    /// Kernel command-line parameters (`syscall.x32=y`) the VM boots with
    /// for this instance. Natively they are not checked: the scenario
    /// finds out whether the facility is there, and says so.
    pub cmdline: Vec<&'static str>,
}

impl Needs {
    pub fn any() -> Self {
        Needs {
            features: vec![Feature::SeccompFilter],
            config: vec!["CONFIG_SECCOMP_FILTER"],
            ..Default::default()
        }
    }
    pub fn root() -> Self {
        Needs {
            root: true,
            ..Needs::any()
        }
    }
    pub fn feature(mut self, f: Feature) -> Self {
        self.features.push(f);
        self
    }
    pub fn config(mut self, opt: &'static str) -> Self {
        self.config.push(opt);
        self
    }
    /// `/proc/sys/<path>` must read one of `values` (the first is what a
    /// guest sets).
    pub fn sysctl(mut self, path: &'static str, values: &'static [&'static str]) -> Self {
        self.sysctls.push((path, values));
        self
    }
    /// The kernel must be booted with `param` (`name=value`).
    pub fn cmdline(mut self, param: &'static str) -> Self {
        self.cmdline.push(param);
        self
    }
}

/// What the kernel did, as compact deterministic text compared with the
/// fixture, plus details that vary run to run (attempt counts, tids) and
/// so are reported but never compared.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Observation {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<(String, String)>,
}

impl Observation {
    pub fn new(text: impl Into<String>) -> Self {
        Observation {
            text: text.into(),
            details: Vec::new(),
        }
    }
    pub fn detail(mut self, key: &str, value: impl fmt::Display) -> Self {
        self.details.push((key.to_string(), value.to_string()));
        self
    }
}

/// Why an instance was skipped: classes a distribution reads differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipClass {
    /// The kernel lacks it: a config option, a feature, an ABI.
    KernelLacks,
    /// The host forbids it: not root, or a global setting kconform never
    /// changes on the running kernel; in a VM, a setting the user's
    /// `--cmdline` pinned.
    HostForbids,
    /// A boot setting or a guest sysctl could have provided it and the
    /// harness did not: a bug of kconform's own.
    NotArranged,
}

impl SkipClass {
    pub const ALL: [SkipClass; 3] = [
        SkipClass::KernelLacks,
        SkipClass::HostForbids,
        SkipClass::NotArranged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SkipClass::KernelLacks => "kernel-lacks",
            SkipClass::HostForbids => "host-forbids",
            SkipClass::NotArranged => "not-arranged",
        }
    }
}

impl fmt::Display for SkipClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an instance produced no observation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stop {
    /// The kernel or host cannot run this instance (the reason says why).
    Skip { reason: String, class: SkipClass },
    /// The scenario's own setup broke; says nothing about the kernel.
    Error(String),
}

impl Stop {
    /// Skipped: the kernel lacks what the instance needs.
    pub fn lacks(reason: impl Into<String>) -> Self {
        Stop::Skip {
            reason: reason.into(),
            class: SkipClass::KernelLacks,
        }
    }
    /// Skipped: the host (or the run's settings) forbid it.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Stop::Skip {
            reason: reason.into(),
            class: SkipClass::HostForbids,
        }
    }
    pub fn error(what: impl fmt::Display) -> Self {
        Stop::Error(what.to_string())
    }
}

impl From<nix::Error> for Stop {
    fn from(e: nix::Error) -> Self {
        Stop::Error(format!("setup failed: {e}"))
    }
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Self {
        Stop::Error(format!("setup failed: {e}"))
    }
}

pub type Outcome = Result<Observation, Stop>;

/// Race iterations when none are asked for: each race scenario runs at
/// most this many triggers, and at most this many milliseconds (where an
/// emulated CPU ends it first; see the races themselves). Bisects and
/// nightly runs raise it with `--iterations`.
pub const DEFAULT_ITERATIONS: u32 = 100;

/// Run-wide settings a scenario may read.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Iterations for race scenarios ([`DEFAULT_ITERATIONS`] unless asked).
    pub iterations: u32,
    /// An executable that understands `__probe ...` (see `kconform_suites::probe`):
    /// scenarios exec it as a setuid copy or a usermode helper.
    pub probe_exe: std::path::PathBuf,
    /// A directory that outlives every instance of the run, where they
    /// may leave what the next one can reuse instead of remaking (the
    /// probe's setuid copies). Only the guest sets it: nothing there
    /// outlives the VM, whereas a native run that is killed would leave
    /// its contents behind.
    pub shared_dir: Option<std::path::PathBuf>,
    /// A setup step to fail on purpose (its call's name, or part of it),
    /// so tests can show a failed setup is an error and never a verdict
    /// (`KCONFORM_FAIL_SETUP`; see [`crate::setup`]).
    pub fail_setup: Option<String>,
}

/// A parameter value of a scenario definition: its slug becomes the
/// trailing part of the instance id.
pub trait Param: Clone + Send + Sync + 'static {
    fn slug(&self) -> String;
}

impl Param for () {
    fn slug(&self) -> String {
        String::new()
    }
}

type RunFn = dyn Fn(&Ctx) -> Outcome + Send + Sync;

/// One runnable scenario instance.
#[derive(Clone)]
pub struct Instance {
    pub id: String,
    /// The scenario's base id (`wait/wait4/pid`); the id is this plus the
    /// parameter's slug.
    pub scenario: &'static str,
    pub area: Area,
    /// One line: the behaviour the instance checks.
    pub summary: &'static str,
    pub needs: Needs,
    /// Long-running (a timed race, a model check, a wait for a deadline):
    /// started first, so it overlaps the many short instances instead of
    /// ending the run alone.
    pub long: bool,
    run: Arc<RunFn>,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("id", &self.id)
            .field("area", &self.area)
            .finish()
    }
}

impl Instance {
    pub fn run(&self, ctx: &Ctx) -> Outcome {
        (self.run)(ctx)
    }

    /// Mark as long-running (see [`Instance::long`]).
    pub fn long(mut self) -> Self {
        self.long = true;
        self
    }

    /// An instance with a hand-written body, for harness tests.
    pub fn from_fn(
        id: &str,
        area: Area,
        needs: Needs,
        run: impl Fn(&Ctx) -> Outcome + Send + Sync + 'static,
    ) -> Self {
        Instance {
            id: id.to_string(),
            scenario: "",
            area,
            summary: "",
            needs,
            long: false,
            run: Arc::new(run),
        }
    }
}

/// One scenario definition: a base id, the behaviour, and the parameter
/// values it expands over.
pub struct Scenario<P: Param> {
    pub base: &'static str,
    pub area: Area,
    pub summary: &'static str,
    pub needs: fn(&P) -> Needs,
    pub run: fn(&P, &Ctx) -> Outcome,
}

impl<P: Param> Scenario<P> {
    /// Matrix expansion: one instance per parameter value.
    pub fn expand(&self, params: impl IntoIterator<Item = P>) -> Vec<Instance> {
        params
            .into_iter()
            .map(|p| {
                let slug = p.slug();
                let id = if slug.is_empty() {
                    self.base.to_string()
                } else {
                    format!("{}/{}", self.base, slug)
                };
                let run = self.run;
                let needs = (self.needs)(&p);
                Instance {
                    id,
                    scenario: self.base,
                    area: self.area,
                    summary: self.summary,
                    needs,
                    long: false,
                    run: Arc::new(move |ctx| run(&p, ctx)),
                }
            })
            .collect()
    }
}
