//! What the host and the guest say to each other.
//!
//! The host writes a [`Plan`] into the initramfs; the guest's /init reads
//! it and answers with one JSON [`Event`] per line on a results port of
//! its own (shared memory, see [`super::shm`], or ttyS1), apart from the
//! kernel log on ttyS0, so a kernel message can never be mistaken for a
//! result or split one in half.

use serde::{Deserialize, Serialize};

use crate::model::Outcome;

/// Where the plan sits in the guest's root filesystem.
pub const PLAN_PATH: &str = "/kconform/plan.json";
/// Where an extra program given to `kconform boot --exec` sits.
pub const EXEC_PATH: &str = "/kconform/exec";
/// Where a directory given to `kconform boot --exec` sits: its programs
/// run in turn (see [`Mode::ExecEach`]).
pub const PROGS_DIR: &str = "/kconform/progs";
/// Where the guest's probe sits, when the initramfs has one: the small
/// `kconform-probe`, which scenarios exec (and copy setuid) in place of
/// /init itself (see `kconform_suites::probe`).
pub const PROBE_PATH: &str = "/kconform/probe";
/// The guest's results port where it has no shared memory.
pub const RESULTS_TTY: &str = "/dev/ttyS1";

/// What one boot of the guest is to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub mode: Mode,
    /// Instances to run, in this order (Suite mode).
    #[serde(default)]
    pub ids: Vec<String>,
    pub iterations: u32,
    pub timeout_ms: u64,
    /// Instances run at once: 1 isolates each one, so a kernel crash
    /// names exactly one scenario.
    pub jobs: usize,
    /// The sysctls the instances need, in phases: each phase's settings
    /// are written before its instances (`ids[start..]` up to the next
    /// phase's start) run. Phases come in an order where no setting has
    /// to be lowered again (Yama's scope 3 cannot be).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    /// A setup step to fail on purpose (see `Ctx::fail_setup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_setup: Option<String>,
    /// The kernel's config as the host knows it: in Exec modes the guest
    /// writes it to /boot/config-RELEASE, where a program (a C
    /// reproducer) looks for it as on a distribution's system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_config: Option<String>,
}

/// Sysctls to write: paths under /proc/sys, and values.
pub type Sysctls = [(String, String)];

/// Sysctls to write (paths under /proc/sys, values) before the plan's
/// instances from `start` on run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    pub start: usize,
    pub sysctls: Vec<(String, String)>,
}

impl Plan {
    /// A plan for a boot that runs no instance: `mode` is boot only, or
    /// one program.
    pub fn without_instances(mode: Mode) -> Plan {
        Plan {
            mode,
            ids: Vec::new(),
            iterations: 1,
            timeout_ms: 1000,
            jobs: 1,
            phases: Vec::new(),
            fail_setup: None,
            kernel_config: None,
        }
    }

    /// The plan's instances as phases: each phase's settings and the
    /// range of plan indices it covers. A plan without phases is one.
    pub fn phase_ranges(&self) -> Vec<(&Sysctls, std::ops::Range<usize>)> {
        if self.phases.is_empty() {
            return vec![(&[][..], 0..self.ids.len())];
        }
        let ends = self
            .phases
            .iter()
            .skip(1)
            .map(|p| p.start)
            .chain(std::iter::once(self.ids.len()));
        self.phases
            .iter()
            .zip(ends)
            .map(|(p, end)| (p.sysctls.as_slice(), p.start.min(end)..end))
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Run the instances in `ids`.
    Suite,
    /// Say hello and power off: the floor every run pays.
    BootOnly,
    /// Run [`EXEC_PATH`] as `name` (its argv[0], which multi-call
    /// binaries such as busybox dispatch on) with these arguments, its
    /// output on the console.
    Exec { name: String, args: Vec<String> },
    /// Run every executable file directly in [`PROGS_DIR`], in name
    /// order, each with `args`, in /tmp, for at most `timeout_ms`; their
    /// output comes back in [`Event::Ran`].
    ExecEach { timeout_ms: u64, args: Vec<String> },
}

/// One line on the results port. Instances are named by their index in
/// the plan, never by id: under TCG every byte through the emulated UART
/// (the port of kernels without PCI) costs the guest a few microseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "kebab-case")]
pub enum Event {
    /// The guest is up; facts about the kernel it runs on.
    Hello {
        release: String,
        /// /proc/version: Debian kernels name their upstream version only here.
        proc_version: String,
        machine: String,
        cpus: usize,
        /// /proc/sys/kernel/tainted at start.
        taint: u64,
        /// Where the guest found the kernel's config, if it did.
        config_source: Option<String>,
        /// Hash of the guest's instance ids: host and guest must agree.
        catalog: String,
    },
    Start {
        i: usize,
    },
    /// Instance `i`, past its deadline, had finished a case since it was
    /// set, and got the timeout again.
    MoreTime {
        i: usize,
    },
    Done {
        i: usize,
        outcome: Outcome,
        duration_ms: u64,
        /// /proc/sys/kernel/tainted after the instance.
        #[serde(default, skip_serializing_if = "is_zero")]
        taint: u64,
        /// Kernel log lines (from /dev/kmsg) since the previous Done, when
        /// one of them announces trouble: read from the ring buffer, so
        /// they never lag behind the event the way the console can.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kmsg: Vec<String>,
    },
    /// Exec mode: the program's exit status.
    Exited {
        status: i32,
        duration_ms: u64,
    },
    /// ExecEach mode: one program's exit status (-1: killed, or its
    /// timeout) and what it wrote to stdout and stderr.
    Ran {
        name: String,
        status: i32,
        output: String,
    },
    /// Something the guest could not do (unreadable plan, unknown id).
    Fatal {
        message: String,
    },
    /// Everything planned was done; the guest powers off next.
    End,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A stable fingerprint of a list of instance ids, so a host never
/// judges results from a guest binary built from other scenarios.
pub fn catalog_hash<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    // FNV-1a: stable across builds and Rust versions, unlike DefaultHasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for id in ids {
        for b in id.bytes().chain(std::iter::once(b'\n')) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Letters for the bits of /proc/sys/kernel/tainted, as the kernel prints them.
pub fn taint_letters(mask: u64) -> String {
    const FLAGS: &[u8] = b"PFSRMBUDAWCIOELKXTN";
    FLAGS
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, &c)| c as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Observation, Stop};

    #[test]
    fn events_round_trip_as_single_lines() {
        let events = vec![
            Event::Start { i: 3 },
            Event::Done {
                i: 3,
                outcome: Ok(Observation::new("exit 0").detail("n", 2)),
                duration_ms: 4,
                taint: 0,
                kmsg: vec!["WARNING: CPU: 0 PID: 1 at x".into()],
            },
            Event::Done {
                i: 4,
                outcome: Err(Stop::lacks("no")),
                duration_ms: 0,
                taint: 512,
                kmsg: Vec::new(),
            },
            Event::End,
        ];
        for e in events {
            let line = serde_json::to_string(&e).unwrap();
            assert!(!line.contains('\n'));
            assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), e);
        }
    }

    #[test]
    fn phases_cover_the_plan_in_order() {
        let mut plan = Plan {
            mode: Mode::Suite,
            ids: (0..5).map(|i| i.to_string()).collect(),
            iterations: 1,
            timeout_ms: 1,
            jobs: 1,
            phases: Vec::new(),
            fail_setup: None,
            kernel_config: None,
        };
        assert_eq!(plan.phase_ranges(), vec![(&[][..], 0..5)]);
        let yama = vec![("kernel/yama/ptrace_scope".to_string(), "1".to_string())];
        plan.phases = vec![
            Phase {
                start: 0,
                sysctls: Vec::new(),
            },
            Phase {
                start: 3,
                sysctls: yama.clone(),
            },
        ];
        assert_eq!(
            plan.phase_ranges(),
            vec![(&[][..], 0..3), (yama.as_slice(), 3..5)]
        );
    }

    #[test]
    fn taint_letters_follow_the_kernel() {
        assert_eq!(taint_letters(0), "");
        // TAINT_WARN is bit 9, TAINT_DIE ("D") bit 7.
        assert_eq!(taint_letters(1 << 9), "W");
        assert_eq!(taint_letters((1 << 9) | (1 << 7) | 1), "PDW");
    }

    #[test]
    fn catalog_hash_is_order_sensitive_and_stable() {
        assert_eq!(catalog_hash(["a", "b"]), catalog_hash(["a", "b"]));
        assert_ne!(catalog_hash(["a", "b"]), catalog_hash(["b", "a"]));
        assert_eq!(catalog_hash([]), "cbf29ce484222325");
    }
}
