//! Debian's tools under kconform's private configuration: apt-get and
//! apt-cache with a root of their own per suite (never the host's
//! /etc/apt), and dpkg-deb, each run as a child an interrupt stops.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use super::names::pick;
use super::{
    io_err, now, write_atomic, write_if_changed, DebianError, Fetcher, APT_HINT, KEYRING,
    UPDATE_HINT,
};

impl Fetcher {
    /// The first of `pkgs` the suite has, with its candidate version's
    /// stanza. One apt-cache run for all: each costs most of a second.
    pub(super) fn show(
        &self,
        suite: &str,
        pkgs: &[&str],
    ) -> Result<Option<(String, String)>, DebianError> {
        let mut c = self.apt("apt-cache", suite)?;
        match run(c.args(["show", "--no-all-versions"]).args(pkgs), APT_HINT) {
            Ok(out) => Ok(pick(&String::from_utf8_lossy(&out.stdout), pkgs)),
            Err(DebianError::Command { stderr, .. })
                if stderr.contains("No packages found") || stderr.contains("Unable to locate") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub(super) fn update(&self, suite: &str) -> Result<(), DebianError> {
        if !Path::new(KEYRING).exists() {
            return Err(DebianError::NoKeyring);
        }
        let mut c = self.apt("apt-get", suite)?;
        run(c.args(["update", "-qq"]), UPDATE_HINT)?;
        let stamp = self.cache.join("apt").join(suite).join("updated");
        fs::write(&stamp, now().to_string()).map_err(io_err("cannot write", &stamp))
    }

    /// Time since the suite's lists were last fetched, if ever.
    pub(super) fn lists_age(&self, suite: &str) -> Result<Option<Duration>, DebianError> {
        let stamp = self.apt_root(suite)?.join("updated");
        let modified = fs::metadata(stamp).and_then(|m| m.modified());
        Ok(modified.ok().map(|t| t.elapsed().unwrap_or_default()))
    }

    pub(super) fn apt(&self, tool: &str, suite: &str) -> Result<Command, DebianError> {
        let mut c = Command::new(tool);
        c.env("APT_CONFIG", self.apt_root(suite)?.join("apt.conf"))
            .env("LC_ALL", "C");
        Ok(c)
    }

    /// Create or refresh the suite's private apt root. Each suite has its
    /// own: the same package names exist in several suites.
    fn apt_root(&self, suite: &str) -> Result<PathBuf, DebianError> {
        let root = self.cache.join("apt").join(suite);
        for d in [
            "etc/apt.conf.d",
            "etc/sources.list.d",
            "etc/preferences.d",
            "etc/trusted.gpg.d",
            "state/lists/partial",
            "cache/archives/partial",
            "log",
        ] {
            let d = root.join(d);
            fs::create_dir_all(&d).map_err(io_err("cannot create", &d))?;
        }
        let status = root.join("state/status");
        if !status.exists() {
            write_atomic(&status, b"")?;
        }
        let conf = apt_conf(&root, nix::unistd::geteuid().is_root());
        write_if_changed(&root.join("apt.conf"), &conf)?;
        let sources = sources(suite, &self.mirror, &self.security_mirror);
        if write_if_changed(&root.join("etc/sources.list"), &sources)? {
            let _ = fs::remove_file(root.join("updated"));
        }
        Ok(root)
    }

    /// The suite's lists being replaced: apt's update takes this
    /// exclusively, across processes, while reads and downloads take it
    /// shared ([`Fetcher::lock_shared`]) and so run side by side.
    pub(super) fn lock(&self, suite: &str) -> Result<Flock<File>, DebianError> {
        self.lock_as(suite, FlockArg::LockExclusive)
    }

    pub(super) fn lock_shared(&self, suite: &str) -> Result<Flock<File>, DebianError> {
        self.lock_as(suite, FlockArg::LockShared)
    }

    fn lock_as(&self, suite: &str, how: FlockArg) -> Result<Flock<File>, DebianError> {
        let path = self.apt_root(suite)?.join("kconform.lock");
        crate::util::lock_file(&path, how).map_err(io_err("cannot lock", &path))
    }

    pub(super) fn update_locked(&self, suite: &str) -> Result<(), DebianError> {
        let _lock = self.lock(suite)?;
        self.update(suite)
    }
}

pub(super) fn apt_conf(root: &Path, as_root: bool) -> String {
    let r = root.display();
    let mut s = format!(
        "// Written by kconform. Everything apt reads or writes is under {r}:
// the host's /etc/apt is never consulted and nothing gets installed.
Dir::Etc \"{r}/etc/\";
Dir::State \"{r}/state/\";
Dir::State::status \"{r}/state/status\";
Dir::Cache \"{r}/cache/\";
Dir::Log \"{r}/log/\";
APT::Architecture \"amd64\";
APT::Architectures {{ \"amd64\"; }};
Acquire::Languages \"none\";
// Four suites' lists and caches would otherwise take half a gigabyte.
Acquire::GzipIndexes \"true\";
Dir::Cache::srcpkgcache \"\";
// Reachable mirrors may be snapshots whose Release files are past their
// Valid-Until. InRelease signatures are still verified against the
// keyring named in sources.list, and packages against their hashes.
Acquire::Check-Valid-Until \"false\";
// Otherwise a failed fetch is a warning and stale lists pass for fresh.
APT::Update::Error-Mode \"any\";
"
    );
    if as_root {
        // _apt cannot enter root's 0700 home; apt would fall back to root
        // anyway, with a warning per file.
        s += "APT::Sandbox::User \"root\";\n";
    }
    s
}

pub(super) fn sources(suite: &str, mirror: &str, security: &str) -> String {
    let deb = |url: &str, dist: &str| format!("deb [signed-by={KEYRING}] {url} {dist} main\n");
    if suite == "sid" {
        return deb(mirror, suite);
    }
    // A release's newer kernels come through -security (bullseye's LTS
    // kernels only there) and now and then -updates; apt takes the newest.
    deb(mirror, suite)
        + &deb(mirror, &format!("{suite}-updates"))
        + &deb(security, &format!("{suite}-security"))
}

/// The security archive beside `mirror`: `.../debian` has `.../debian-security`,
/// snapshot's `.../archive/debian/DATE` has `.../archive/debian-security/DATE`.
pub(super) fn security_for(mirror: &str) -> String {
    let m = mirror.trim_end_matches('/');
    if let Some(base) = m.strip_suffix("/debian") {
        format!("{base}/debian-security")
    } else if m.contains("/debian/") {
        m.replacen("/debian/", "/debian-security/", 1)
    } else {
        "http://deb.debian.org/debian-security".into()
    }
}

pub(super) fn run(cmd: &mut Command, hint: &'static str) -> Result<Output, DebianError> {
    let shown = describe(cmd);
    let tool = cmd.get_program().to_string_lossy().into_owned();
    let out = crate::util::output_interruptibly(cmd.stdin(Stdio::null())).map_err(|e| {
        match e.kind() {
            io::ErrorKind::NotFound => {
                let package = if tool.starts_with("dpkg") {
                    "dpkg"
                } else {
                    "apt"
                };
                DebianError::ToolMissing {
                    tool: tool.clone(),
                    package,
                }
            }
            _ => DebianError::Io {
                what: "cannot run",
                path: tool.clone().into(),
                source: e,
            },
        }
    })?;
    if out.status.success() {
        return Ok(out);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(12)..]
        .iter()
        .map(|l| format!("  {l}"));
    Err(DebianError::Command {
        command: shown,
        status: out.status.to_string(),
        stderr: tail.collect::<Vec<_>>().join("\n"),
        hint,
    })
}

/// The command as one would retype it to see for oneself.
pub(super) fn describe(cmd: &Command) -> String {
    let env = cmd.get_envs().filter(|(k, _)| *k == "APT_CONFIG");
    let env =
        env.filter_map(|(k, v)| Some(format!("{}={} ", k.to_string_lossy(), v?.to_string_lossy())));
    let words: Vec<_> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy())
        .collect();
    format!("{}{}", env.collect::<String>(), words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_apt_setup() {
        assert_eq!(
            security_for("http://deb.debian.org/debian"),
            "http://deb.debian.org/debian-security"
        );
        assert_eq!(
            security_for("http://snapshot.debian.org/archive/debian/20250520T000000Z/"),
            "http://snapshot.debian.org/archive/debian-security/20250520T000000Z"
        );
        assert_eq!(
            sources("sid", "http://m/debian", "http://m/debian-security")
                .lines()
                .count(),
            1
        );
        let s = sources("bullseye", "http://m/debian", "http://m/debian-security");
        assert!(
            s.ends_with(
                "debian-archive-keyring.gpg] http://m/debian-security bullseye-security main\n"
            ),
            "{s}"
        );
        let c = apt_conf(Path::new("/c/apt/sid"), false);
        assert!(c.contains("Dir::Etc \"/c/apt/sid/etc/\";") && !c.contains("Sandbox"));
        assert!(apt_conf(Path::new("/c"), true).contains("APT::Sandbox::User \"root\";"));
    }
}
