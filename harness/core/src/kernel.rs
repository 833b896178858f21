//! Facts about the kernel the scenarios run on: release, version, config,
//! and the seccomp features it has (probed, never assumed from the version).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::{Feature, Needs, SkipClass, Stop};

/// A kernel version as releases and ranges spell it: `5.16`, `5.16-rc1`,
/// `6.1.0-50-cloud-amd64`, `6.18.44-fc-v669`. Release candidates sort
/// before the release: 5.16-rc1 < 5.16-rc2 < 5.16 < 5.16.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// `None` for a release, `Some(n)` for -rcN.
    pub rc: Option<u32>,
}

impl Version {
    fn key(&self) -> (u32, u32, u32, u32) {
        (
            self.major,
            self.minor,
            self.patch,
            self.rc.unwrap_or(u32::MAX),
        )
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        if let Some(rc) = self.rc {
            write!(f, "-rc{rc}")?;
        }
        Ok(())
    }
}

/// Text that is not a kernel version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a kernel version (expected e.g. 5.16, 5.16-rc1, 6.1.0-50-amd64)")]
pub struct BadVersion(pub String);

impl FromStr for Version {
    type Err = BadVersion;

    fn from_str(s: &str) -> Result<Self, BadVersion> {
        let bad = || BadVersion(s.to_string());
        let (nums, rest) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        };
        let mut it = nums.split('.').filter(|p| !p.is_empty());
        let mut num = || -> Result<Option<u32>, BadVersion> {
            it.next()
                .map(|p| p.parse::<u32>().map_err(|_| bad()))
                .transpose()
        };
        let major = num()?.ok_or_else(bad)?;
        let minor = num()?.ok_or_else(bad)?;
        let patch = num()?.unwrap_or(0);
        let rc = rest
            .strip_prefix("-rc")
            .map(|r| {
                let digits: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
                digits.parse::<u32>().map_err(|_| bad())
            })
            .transpose()?;
        Ok(Version {
            major,
            minor,
            patch,
            rc,
        })
    }
}

/// Facts about the running kernel, gathered once per run in the parent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KernelFacts {
    pub release: String,
    pub machine: String,
    #[serde(skip)]
    pub version: Option<Version>,
    /// Where the config came from, if it is known.
    pub config_source: Option<String>,
    #[serde(skip)]
    pub config: Option<BTreeMap<String, String>>,
    #[serde(skip)]
    pub features: Vec<(Feature, bool)>,
    #[serde(skip)]
    pub root: bool,
    /// These are a guest's facts: the guest sets the sysctls instances
    /// need, so one that still differs is the harness's failing, not the
    /// host's rule.
    #[serde(skip)]
    pub guest: bool,
}

impl KernelFacts {
    /// Probe the running kernel.
    pub fn probe() -> Self {
        let uts = nix::sys::utsname::uname().ok();
        let release = uts
            .as_ref()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_else(|| "unknown".into());
        let machine = uts
            .as_ref()
            .map(|u| u.machine().to_string_lossy().into_owned())
            .unwrap_or_else(|| "unknown".into());
        let (config_source, config) = match read_running_config(&release) {
            Some((src, cfg)) => (Some(src), Some(cfg)),
            None => (None, None),
        };
        let features = ALL_FEATURES
            .iter()
            .map(|&f| (f, probe_feature(f)))
            .collect();
        KernelFacts {
            version: release.parse().ok(),
            release,
            machine,
            config_source,
            config,
            features,
            root: nix::unistd::geteuid().is_root(),
            guest: false,
        }
    }

    /// Facts a guest reported about the kernel it booted; features are
    /// probed in the guest, so none are claimed here.
    pub fn reported(
        release: &str,
        proc_version: &str,
        machine: &str,
        config: Option<(String, BTreeMap<String, String>)>,
    ) -> Self {
        let (config_source, config) = match config {
            Some((src, map)) => (Some(src), Some(map)),
            None => (None, None),
        };
        KernelFacts {
            release: release.to_string(),
            machine: machine.to_string(),
            version: upstream_version(release, proc_version),
            config_source,
            config,
            features: Vec::new(),
            root: true,
            guest: false,
        }
    }

    pub fn has(&self, f: Feature) -> bool {
        self.features
            .iter()
            .find(|(g, _)| *g == f)
            .map(|(_, ok)| *ok)
            .unwrap_or(false)
    }

    /// Why an instance with these needs cannot run here, if it cannot:
    /// the skip, with its class.
    pub fn unmet(&self, needs: &Needs) -> Option<Stop> {
        if needs.root && !self.root {
            return Some(Stop::forbidden(
                "needs root (run kconform as root to include it)",
            ));
        }
        if let Some(why) = self.config.as_ref().and_then(|c| config_unmet(c, needs)) {
            return Some(Stop::lacks(why));
        }
        for f in &needs.features {
            if !self.has(*f) {
                return Some(Stop::lacks(format!("kernel lacks {}", f.describe())));
            }
        }
        for (path, values) in &needs.sysctls {
            let Some(now) = sysctl(path) else { continue };
            if values.contains(&now.as_str()) {
                continue;
            }
            let name = path.replace('/', ".");
            let want = values.join(" or ");
            return Some(if self.guest {
                Stop::Skip {
                    reason: format!("{name} is {now} in the guest though this instance needs {want}: kconform did not set it"),
                    class: SkipClass::NotArranged,
                }
            } else {
                Stop::forbidden(format!(
                    "{name} is {now} here and this instance needs {want}; kconform never \
                     changes a global setting of the running kernel (under QEMU it sets it)"
                ))
            });
        }
        None
    }
}

/// `/proc/sys/<path>` as text, trimmed; none where it does not exist.
pub fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .ok()
        .map(|v| v.trim().to_string())
}

/// Why a kernel with this config cannot run an instance with these
/// needs: the missing options, named.
pub fn config_unmet(config: &BTreeMap<String, String>, needs: &Needs) -> Option<String> {
    let missing: Vec<&str> = needs
        .config
        .iter()
        .copied()
        .filter(|opt| !matches!(config.get(*opt).map(String::as_str), Some("y") | Some("m")))
        .collect();
    (!missing.is_empty()).then(|| format!("kernel config lacks {}", missing.join(", ")))
}

/// The upstream version of a kernel. Debian's releases name an ABI, not a
/// version (`6.1.0-41-cloud-amd64` is 6.1.158), which only /proc/version
/// tells: `... #1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 (2025-11-09)`.
pub fn upstream_version(release: &str, proc_version: &str) -> Option<Version> {
    let from_release: Option<Version> = release.parse().ok();
    let debian = proc_version
        .split_whitespace()
        .skip_while(|w| *w != "Debian")
        .nth(1)
        .and_then(|v| v.parse::<Version>().ok());
    match (from_release, debian) {
        // Only trust the package version when it names the same series.
        (Some(r), Some(d)) if (r.major, r.minor) == (d.major, d.minor) => Some(d),
        (r, d) => r.or(d),
    }
}

const ALL_FEATURES: [Feature; 6] = [
    Feature::SeccompFilter,
    Feature::RetKillProcess,
    Feature::TsyncEsrch,
    Feature::NewListener,
    Feature::SeccompFiltersInStatus,
    Feature::UsermodeHelper,
];

use libc::{
    SECCOMP_FILTER_FLAG_TSYNC_ESRCH, SECCOMP_GET_ACTION_AVAIL, SECCOMP_GET_NOTIF_SIZES,
    SECCOMP_RET_KILL_PROCESS, SECCOMP_SET_MODE_FILTER,
};

fn seccomp_errno(op: libc::c_uint, flags: libc::c_ulong, arg: *mut libc::c_void) -> Option<i32> {
    // SAFETY: seccomp(2) with a null or valid pointer argument; the probes
    // below never install a filter (a null program faults with EFAULT).
    let rc = unsafe { libc::syscall(libc::SYS_seccomp, op, flags, arg) };
    if rc < 0 {
        Some(nix::errno::Errno::last_raw())
    } else {
        None
    }
}

fn probe_feature(f: Feature) -> bool {
    match f {
        // A known operation with a null program fails with EFAULT; an
        // unknown one (or no seccomp at all) with EINVAL or ENOSYS.
        Feature::SeccompFilter => {
            seccomp_errno(SECCOMP_SET_MODE_FILTER, 0, std::ptr::null_mut()) == Some(libc::EFAULT)
        }
        Feature::TsyncEsrch => {
            seccomp_errno(
                SECCOMP_SET_MODE_FILTER,
                SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
                std::ptr::null_mut(),
            ) == Some(libc::EFAULT)
        }
        Feature::RetKillProcess => {
            let mut action = SECCOMP_RET_KILL_PROCESS;
            seccomp_errno(
                SECCOMP_GET_ACTION_AVAIL,
                0,
                &mut action as *mut u32 as *mut libc::c_void,
            )
            .is_none()
        }
        Feature::NewListener => {
            let mut sizes = [0u16; 3];
            seccomp_errno(
                SECCOMP_GET_NOTIF_SIZES,
                0,
                sizes.as_mut_ptr() as *mut libc::c_void,
            )
            .is_none()
        }
        Feature::SeccompFiltersInStatus => std::fs::read_to_string("/proc/self/status")
            .map(|s| s.contains("\nSeccomp_filters:"))
            .unwrap_or(false),
        Feature::UsermodeHelper => std::path::Path::new("/proc/sys/kernel/modprobe").exists(),
    }
}

/// The running kernel's config: /proc/config.gz, else /boot/config-RELEASE.
fn read_running_config(release: &str) -> Option<(String, BTreeMap<String, String>)> {
    if let Ok(f) = std::fs::File::open("/proc/config.gz") {
        let mut text = String::new();
        if flate2::read::GzDecoder::new(f)
            .read_to_string(&mut text)
            .is_ok()
        {
            return Some(("/proc/config.gz".into(), parse_config(&text)));
        }
    }
    let boot = format!("/boot/config-{release}");
    let text = std::fs::read_to_string(&boot).ok()?;
    Some((boot, parse_config(&text)))
}

/// What a .config line (or a config fragment's) says of one option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Setting {
    /// `CONFIG_X=value`, the value as Kconfig writes it (`y`, `4`, `"text"`).
    Value(String),
    /// `# CONFIG_X is not set` or `CONFIG_X=n`.
    NotSet,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setting::Value(v) => f.write_str(v),
            Setting::NotSet => f.write_str("not set"),
        }
    }
}

/// One option assignment in .config syntax: `CONFIG_X=v` or
/// `# CONFIG_X is not set`. `None` for comments, blanks and anything else.
pub fn assignment(line: &str) -> Option<(&str, Setting)> {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix('#') {
        let name = rest.trim().strip_suffix(" is not set")?.trim();
        return is_option_name(name).then_some((name, Setting::NotSet));
    }
    let (name, value) = line.split_once('=')?;
    let (name, value) = (name.trim(), value.trim());
    if !is_option_name(name) || value.is_empty() {
        return None;
    }
    Some((
        name,
        if value == "n" {
            Setting::NotSet
        } else {
            Setting::Value(value.into())
        },
    ))
}

fn is_option_name(name: &str) -> bool {
    name.strip_prefix("CONFIG_").is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// A kernel .config as a map: `CONFIG_X=y` lines, quotes stripped, and
/// `# CONFIG_X is not set` as "n".
pub fn parse_config(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(assignment)
        .map(|(name, setting)| {
            let value = match setting {
                Setting::Value(v) => v.trim_matches('"').to_string(),
                Setting::NotSet => "n".to_string(),
            };
            (name.to_string(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn config_preflight_names_the_missing_options() {
        let config =
            parse_config("CONFIG_SECCOMP_FILTER=y\n# CONFIG_MODULES is not set\nCONFIG_NET=m\n");
        let needs = Needs::root().config("CONFIG_MODULES").config("CONFIG_NET");
        assert_eq!(
            config_unmet(&config, &needs).as_deref(),
            Some("kernel config lacks CONFIG_MODULES")
        );
        assert_eq!(
            config_unmet(&config, &Needs::root().config("CONFIG_NET")),
            None
        );
    }

    #[rstest]
    #[case("6.1.0-41-cloud-amd64", "Linux version 6.1.0-41-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12) #1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 (2025-11-09)", "6.1.158")]
    #[case(
        "5.10.0-30-cloud-amd64",
        "Linux version 5.10.0-30-cloud-amd64 #1 SMP Debian 5.10.218-1 (2024-06-01)",
        "5.10.218"
    )]
    #[case("7.2.13+deb14-cloud-amd64", "Linux version 7.2.13+deb14-cloud-amd64 #1 SMP PREEMPT_DYNAMIC Debian 7.2.13-1 (2026-10-28)", "7.2.13")]
    #[case("6.1.66", "Linux version 6.1.66 (root@build) #3 SMP", "6.1.66")]
    #[case("5.16.0-rc1", "Linux version 5.16.0-rc1 #1 SMP", "5.16-rc1")]
    fn upstream_version_prefers_debians_package_version(
        #[case] release: &str,
        #[case] proc_version: &str,
        #[case] want: &str,
    ) {
        assert_eq!(
            upstream_version(release, proc_version),
            Some(want.parse().unwrap())
        );
    }

    #[rstest]
    #[case("6.18.44-fc-v669", 6, 18, 44, None)]
    #[case("5.16.0-rc1", 5, 16, 0, Some(1))]
    #[case("5.16-rc2", 5, 16, 0, Some(2))]
    #[case("6.1.0-50-cloud-amd64", 6, 1, 0, None)]
    #[case("5.10", 5, 10, 0, None)]
    fn parses_releases(
        #[case] s: &str,
        #[case] major: u32,
        #[case] minor: u32,
        #[case] patch: u32,
        #[case] rc: Option<u32>,
    ) {
        let v: Version = s.parse().unwrap();
        assert_eq!((v.major, v.minor, v.patch, v.rc), (major, minor, patch, rc));
    }

    #[rstest]
    #[case("5.16-rc1", "5.16-rc2")]
    #[case("5.16-rc2", "5.16")]
    #[case("5.16", "5.16.1")]
    #[case("5.15.99", "5.16-rc1")]
    #[case("6.1.0-50-cloud-amd64", "6.12")]
    fn orders_releases(#[case] lo: &str, #[case] hi: &str) {
        let lo: Version = lo.parse().unwrap();
        let hi: Version = hi.parse().unwrap();
        assert!(lo < hi, "{lo} < {hi}");
    }

    #[rstest]
    #[case("")]
    #[case("six")]
    #[case("6")]
    #[case("6.x")]
    fn rejects_non_versions(#[case] s: &str) {
        assert!(s.parse::<Version>().is_err());
    }

    #[test]
    fn parses_config_lines() {
        let cfg = parse_config("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\n# comment\n");
        assert_eq!(cfg.get("CONFIG_A").unwrap(), "y");
        assert_eq!(cfg.get("CONFIG_B").unwrap(), "n");
        assert_eq!(cfg.get("CONFIG_C").unwrap(), "x");
        assert_eq!(cfg.len(), 3);
    }

    #[test]
    fn missing_config_option_is_named() {
        let facts = KernelFacts {
            release: "6.1".into(),
            machine: "x86_64".into(),
            version: None,
            config_source: Some("test".into()),
            config: Some(parse_config(
                "CONFIG_SECCOMP_FILTER=y\n# CONFIG_MODULES is not set\n",
            )),
            features: vec![(Feature::SeccompFilter, true)],
            root: true,
            guest: false,
        };
        let needs = Needs::any().config("CONFIG_MODULES");
        assert_eq!(
            facts.unmet(&needs),
            Some(Stop::lacks("kernel config lacks CONFIG_MODULES"))
        );
        assert_eq!(facts.unmet(&Needs::any()), None);
        let needs = Needs::any().feature(Feature::TsyncEsrch);
        let Some(Stop::Skip { reason, class }) = facts.unmet(&needs) else {
            panic!("not skipped")
        };
        assert!(reason.contains("TSYNC_ESRCH") && class == SkipClass::KernelLacks);
    }

    #[test]
    fn a_sysctl_need_is_the_hosts_to_keep_and_the_guests_to_arrange() {
        let mut facts = KernelFacts::reported("6.1", "", "x86_64", None);
        facts.root = true;
        // /proc/sys/kernel/ostype reads "Linux" everywhere.
        let needs = Needs::default().sysctl("kernel/ostype", &["BSD"]);
        let class = |f: &KernelFacts| match f.unmet(&needs) {
            Some(Stop::Skip { class, .. }) => Some(class),
            _ => None,
        };
        assert_eq!(class(&facts), Some(SkipClass::HostForbids));
        facts.guest = true;
        assert_eq!(class(&facts), Some(SkipClass::NotArranged));
        let ok = Needs::default().sysctl("kernel/ostype", &["BSD", "Linux"]);
        assert_eq!(facts.unmet(&ok), None);
        // Where the sysctl does not exist, the instance finds out itself.
        let absent = Needs::default().sysctl("kernel/no-such-sysctl", &["1"]);
        assert_eq!(facts.unmet(&absent), None);
    }
}
