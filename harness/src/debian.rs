//! `debian:NAME` kernels: a vmlinuz and its config taken from Debian's
//! archive, verified by apt and cached for offline reuse.
//!
//! NAME is a suite (`bullseye`, `bookworm`, `trixie`, `sid` or `unstable`),
//! meaning whatever that suite's `linux-image-cloud-amd64` depends on now,
//! or an image name such as `6.1.0-50-cloud-amd64`, looked up in every suite.
//!
//! apt runs with a private configuration per suite, so the host's /etc/apt
//! is neither read nor changed, and nothing is installed: packages are
//! downloaded with `apt-get download` and unpacked with `dpkg-deb -x`.
//! Under `<cache root>/debian/`:
//!
//! - `apt/<suite>/`: apt.conf, etc/, state/, cache/, the `updated` stamp, the lock
//! - `aliases/<suite>.json`: what the suite alias resolved to, and when
//! - `kernels/<name>_<version>/{vmlinuz,config,meta.json}`: appears whole, by rename
//! - `tmp/`: downloads being unpacked

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

pub const SUITES: [&str; 4] = ["bullseye", "bookworm", "trixie", "sid"];
const ALIASES: [&str; 5] = ["bullseye", "bookworm", "trixie", "sid", "unstable"];
/// Package lists and alias resolutions younger than this are used without
/// asking the mirror, so a matrix run over cached kernels stays offline.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Before declaring an image name unknown, lists older than this are
/// refreshed: mirrors publish a few times a day.
const RECHECK_AGE: Duration = Duration::from_secs(3600);
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
const CLOUD_META: &str = "linux-image-cloud-amd64";
const SUGGESTIONS: usize = 15;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebianKernel {
    /// The image name (kernel release), e.g. `6.1.0-41-cloud-amd64`.
    pub name: String,
    pub suite: String,
    /// The package that held the vmlinuz.
    pub package: String,
    /// Debian version of that package, e.g. `6.1.158-1`.
    pub version: String,
    pub image: PathBuf,
    pub config: Option<PathBuf>,
    /// Set when a remembered resolution stood in for the network.
    pub note: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DebianError {
    #[error("`debian:{name}` names neither a Debian suite nor a kernel image{}; use debian:SUITE (bullseye, bookworm, trixie, sid or unstable) or debian:IMAGE such as debian:6.1.0-50-cloud-amd64", .suite.map(|s| format!(" (did you mean debian:{s}?)")).unwrap_or_default())]
    NotAName {
        name: String,
        suite: Option<&'static str>,
    },
    #[error("no Debian suite (bullseye, bookworm, trixie, sid) has a kernel image `{name}`{}", nearest_text(.suggestions))]
    UnknownImage {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("debian:{name} is not in the cache and fetching is off (offline){}", cached_text(.cached))]
    NotCached { name: String, cached: Vec<String> },
    #[error("cannot resolve debian:{suite}: {detail}")]
    Resolve { suite: String, detail: String },
    #[error("`{tool}` is not installed; debian: kernels are fetched with apt-get and unpacked with dpkg-deb (install `{package}`)")]
    ToolMissing { tool: String, package: &'static str },
    #[error("{KEYRING} is missing, so apt cannot verify Debian's archive; install debian-archive-keyring")]
    NoKeyring,
    #[error("`{command}` failed ({status}); {hint}\n{stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
        hint: &'static str,
    },
    #[error("{package} {version} holds no x86 bzImage vmlinuz, nor does any kernel package it depends on; Debian's packaging may have changed")]
    NoVmlinuz { package: String, version: String },
    #[error("{what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn nearest_text(s: &[String]) -> String {
    if s.is_empty() {
        "; use a suite instead, e.g. debian:bookworm".into()
    } else {
        format!("; nearest: {}", s.join(", "))
    }
}

fn cached_text(s: &[String]) -> String {
    if s.is_empty() {
        "; nothing is cached yet: fetch it once with the network".into()
    } else {
        format!("; cached: {}", s.join(", "))
    }
}

const UPDATE_HINT: &str = "is the network up? KCONFORM_DEBIAN_MIRROR (and KCONFORM_DEBIAN_SECURITY_MIRROR) can name another Debian mirror; kernels already cached work offline";
const APT_HINT: &str = "the suite's package lists under the kconform cache may be damaged; deleting that apt/<suite> directory makes kconform start it afresh";
const DOWNLOAD_HINT: &str = "the package could not be downloaded or failed apt's verification; try again, or another mirror via KCONFORM_DEBIAN_MIRROR";
const UNPACK_HINT: &str = "the downloaded package would not unpack; try again";

/// `$KCONFORM_CACHE`, else `$XDG_CACHE_HOME/kconform`, else `~/.cache/kconform`.
pub fn default_cache_root() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("KCONFORM_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|x| x.join("kconform")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/kconform")))
        .unwrap_or_else(|| std::env::temp_dir().join("kconform-cache"))
}

pub struct Fetcher {
    cache: PathBuf,
    offline: bool,
    mirror: String,
    security_mirror: String,
}

#[derive(Debug, PartialEq)]
enum Spec<'a> {
    Suite(&'static str),
    Image(&'a str),
    Neither,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    name: String,
    suite: String,
    package: String,
    version: String,
    packages: Vec<String>,
    fetched_at: u64,
}

#[derive(Serialize, Deserialize)]
struct Resolution {
    name: String,
    version: String,
    resolved_at: u64,
}

impl Fetcher {
    pub fn new(cache_root: PathBuf, offline: bool) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mirror = var("KCONFORM_DEBIAN_MIRROR").unwrap_or("http://deb.debian.org/debian".into());
        let security_mirror =
            var("KCONFORM_DEBIAN_SECURITY_MIRROR").unwrap_or_else(|| security_for(&mirror));
        Fetcher {
            cache: cache_root.join("debian"),
            offline,
            mirror,
            security_mirror,
        }
    }

    pub fn fetch(&self, name: &str) -> Result<DebianKernel, DebianError> {
        match classify(name) {
            Spec::Suite(suite) => self.fetch_suite(suite),
            Spec::Image(image) => self.fetch_image(image),
            Spec::Neither => {
                let near = ALIASES
                    .into_iter()
                    .map(|a| (strsim::levenshtein(name, a), a))
                    .min();
                // `stable` is two edits from `unstable`, and a different thing.
                let class = name.ends_with("stable") || name == "testing";
                let suite = near.filter(|(d, _)| *d <= 2 && !class).map(|(_, a)| a);
                Err(DebianError::NotAName {
                    name: name.into(),
                    suite,
                })
            }
        }
    }

    fn fetch_suite(&self, suite: &str) -> Result<DebianKernel, DebianError> {
        let path = self.cache.join("aliases").join(format!("{suite}.json"));
        let remembered: Option<Resolution> = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let fallback = remembered.as_ref().and_then(|r| {
            let age = now().saturating_sub(r.resolved_at);
            Some((self.cached(&r.name, Some(&r.version))?, age))
        });
        let stand_in = |why: &str| {
            fallback.as_ref().map(|(k, age)| DebianKernel {
                note: Some(format!(
                    "{why}; debian:{suite} is {} {}, as resolved {} ago",
                    k.name,
                    k.version,
                    ago(*age)
                )),
                ..k.clone()
            })
        };
        if self.offline {
            return stand_in("offline").ok_or_else(|| DebianError::NotCached {
                name: suite.into(),
                cached: self.cached_names(suite),
            });
        }
        if let Some((k, age)) = &fallback {
            if *age < MAX_AGE.as_secs() {
                return Ok(k.clone());
            }
        }
        let _lock = self.lock(suite)?;
        let mut updated = false;
        if !self.lists_age(suite)?.is_some_and(|a| a < MAX_AGE) {
            if let Err(e) = self.update(suite) {
                let why = match &e {
                    DebianError::Command { stderr, .. } => {
                        stderr.lines().next().unwrap_or_default().trim().to_string()
                    }
                    e => e.to_string(),
                };
                return stand_in(&format!("apt-get update failed ({why})")).ok_or(e);
            }
            updated = true;
        }
        let resolve = |detail: String| DebianError::Resolve {
            suite: suite.into(),
            detail,
        };
        let (_, meta) = self
            .show(suite, &[CLOUD_META])?
            .ok_or_else(|| resolve(format!("the suite has no {CLOUD_META}")))?;
        let name = image_of_meta(&meta)
            .ok_or_else(|| resolve(format!("{CLOUD_META} depends on no linux-image-NAME")))?;
        let k = self.fetch_in(suite, &name, updated)?.ok_or_else(|| {
            resolve(format!(
                "{CLOUD_META} depends on linux-image-{name}, which the suite lacks"
            ))
        })?;
        let r = Resolution {
            name: k.name.clone(),
            version: k.version.clone(),
            resolved_at: now(),
        };
        write_atomic(&path, &serde_json::to_vec_pretty(&r).expect("plain struct"))?;
        Ok(k)
    }

    fn fetch_image(&self, name: &str) -> Result<DebianKernel, DebianError> {
        if let Some(k) = self.cached(name, None) {
            return Ok(k);
        }
        if self.offline {
            return Err(DebianError::NotCached {
                name: name.into(),
                cached: self.cached_names(name),
            });
        }
        // Suites whose lists are fresh first, without the network; only if
        // none has the name, the others again after refreshing their lists.
        let ages = SUITES.map(|s| (s, self.lists_age(s).ok().flatten()));
        let below = |age: Option<Duration>, limit| age.is_some_and(|a| a < limit);
        let fresh = ages.iter().filter(|(_, a)| below(*a, MAX_AGE));
        let recheck = ages.iter().filter(|(_, a)| !below(*a, RECHECK_AGE));
        let passes = fresh
            .map(|(s, _)| (*s, false))
            .chain(recheck.map(|(s, _)| (*s, true)));
        for (suite, refresh) in passes {
            let _lock = self.lock(suite)?;
            // All suites share the mirror: when one cannot be refreshed,
            // trying the rest only makes the user wait longer for the error.
            if refresh {
                self.update(suite)?;
            }
            if let Some(k) = self.fetch_in(suite, name, refresh)? {
                return Ok(k);
            }
        }
        let mut all: Vec<String> = SUITES.iter().flat_map(|s| self.image_names(s)).collect();
        all.sort();
        all.dedup();
        Err(DebianError::UnknownImage {
            name: name.into(),
            suggestions: nearest(name, &all),
        })
    }

    /// With the suite locked: the cached entry for the suite's current
    /// version of `name`, else download it. `None`: the suite lacks it.
    fn fetch_in(
        &self,
        suite: &str,
        name: &str,
        updated: bool,
    ) -> Result<Option<DebianKernel>, DebianError> {
        // The unsigned twin is the same kernel without the Secure Boot
        // signature; some suites keep only one of the two.
        let signed = format!("linux-image-{name}");
        let unsigned = format!("{signed}-unsigned");
        let Some((pkg, stanza)) = self.show(suite, &[&signed, &unsigned])? else {
            return Ok(None);
        };
        let version = field(&stanza, "Version").unwrap_or_default();
        if let Some(k) = self.cached(name, Some(&version)) {
            return Ok(Some(k));
        }
        match self.unpack(suite, name, &pkg, &stanza, &version) {
            // Lists up to MAX_AGE old can name a version the archive has dropped.
            Err(DebianError::Command { .. }) if !updated => {
                self.update(suite)?;
                self.fetch_in(suite, name, true)
            }
            r => r.map(Some),
        }
    }

    /// Download `pkg` and, while the vmlinuz or config is still missing, the
    /// kernel packages it depends on (sid's linux-image-NAME is empty and
    /// depends on linux-binary-NAME and linux-base-NAME); never the modules.
    fn unpack(
        &self,
        suite: &str,
        name: &str,
        pkg: &str,
        stanza: &str,
        version: &str,
    ) -> Result<DebianKernel, DebianError> {
        let scratch = Scratch::new(&self.cache.join("tmp"))?;
        let (debs, root, entry) = (
            scratch.0.join("debs"),
            scratch.0.join("root"),
            scratch.0.join("entry"),
        );
        for d in [&debs, &root, &entry] {
            fs::create_dir(d).map_err(io_err("cannot create", d))?;
        }
        let mut queue = VecDeque::from([(pkg.to_string(), stanza.to_string())]);
        let mut fetched = Vec::new();
        let (mut image, mut config, mut holder) = (None, None, None);
        while let Some((p, st)) = queue.pop_front() {
            if fetched.contains(&p) || fetched.len() >= 4 {
                continue;
            }
            let mut c = self.apt("apt-get", suite)?;
            run(
                c.args(["download", "-qq", &p]).current_dir(&debs),
                DOWNLOAD_HINT,
            )?;
            for deb in fs::read_dir(&debs)
                .map_err(io_err("cannot read", &debs))?
                .flatten()
            {
                let mut c = Command::new("dpkg-deb");
                run(c.arg("-x").arg(deb.path()).arg(&root), UNPACK_HINT)?;
                fs::remove_file(deb.path()).map_err(io_err("cannot remove", &deb.path()))?;
            }
            fetched.push(p.clone());
            let (v, c) = find_parts(&root);
            if image.is_none() && v.is_some() {
                (image, holder) = (v, Some(p));
            }
            config = config.or(c);
            if image.is_some() && config.is_some() {
                break;
            }
            for dep in kernel_parts(&depends(&st), name) {
                queue.extend(self.show(suite, &[&dep])?);
            }
        }
        let no_vmlinuz = || DebianError::NoVmlinuz {
            package: pkg.into(),
            version: version.into(),
        };
        let image = image.filter(|i| is_bzimage(i)).ok_or_else(no_vmlinuz)?;
        let moved = |from: &Path, to: &str| -> Result<(), DebianError> {
            fs::rename(from, entry.join(to)).map_err(io_err("cannot move", from))
        };
        moved(&image, "vmlinuz")?;
        if let Some(c) = &config {
            moved(c, "config")?;
        }
        let meta = Meta {
            name: name.into(),
            suite: suite.into(),
            package: holder.unwrap_or_default(),
            version: version.into(),
            packages: fetched,
            fetched_at: now(),
        };
        write_atomic(
            &entry.join("meta.json"),
            &serde_json::to_vec_pretty(&meta).expect("plain struct"),
        )?;
        let kernels = self.cache.join("kernels");
        fs::create_dir_all(&kernels).map_err(io_err("cannot create", &kernels))?;
        let dest = kernels.join(format!("{name}_{version}"));
        // Losing the race to a concurrent fetcher leaves its equal entry.
        if let Err(e) = fs::rename(&entry, &dest) {
            if read_entry(&dest).is_none() {
                return Err(DebianError::Io {
                    what: "cannot create",
                    path: dest,
                    source: e,
                });
            }
        }
        read_entry(&dest).map(|(k, _)| k).ok_or_else(no_vmlinuz)
    }

    /// The entry for `name` (at `version`, or the newest fetched).
    fn cached(&self, name: &str, version: Option<&str>) -> Option<DebianKernel> {
        let kernels = self.cache.join("kernels");
        if let Some(v) = version {
            return read_entry(&kernels.join(format!("{name}_{v}"))).map(|(k, _)| k);
        }
        let prefix = format!("{name}_");
        fs::read_dir(kernels)
            .ok()?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .filter_map(|e| read_entry(&e.path()))
            .max_by_key(|(_, at)| *at)
            .map(|(k, _)| k)
    }

    fn cached_names(&self, near: &str) -> Vec<String> {
        let names: Vec<String> = fs::read_dir(self.cache.join("kernels"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| read_entry(&e.path()).map(|(k, _)| k.name))
            .collect();
        nearest(near, &names)
    }

    fn image_names(&self, suite: &str) -> Vec<String> {
        let Ok(mut c) = self.apt("apt-cache", suite) else {
            return vec![];
        };
        match run(
            c.args(["search", "--names-only", "^linux-image-"]),
            APT_HINT,
        ) {
            Ok(out) => image_names(&String::from_utf8_lossy(&out.stdout)),
            Err(_) => vec![],
        }
    }

    /// The first of `pkgs` the suite has, with its candidate version's
    /// stanza. One apt-cache run for all: each costs most of a second.
    fn show(&self, suite: &str, pkgs: &[&str]) -> Result<Option<(String, String)>, DebianError> {
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

    fn update(&self, suite: &str) -> Result<(), DebianError> {
        if !Path::new(KEYRING).exists() {
            return Err(DebianError::NoKeyring);
        }
        let mut c = self.apt("apt-get", suite)?;
        run(c.args(["update", "-qq"]), UPDATE_HINT)?;
        let stamp = self.cache.join("apt").join(suite).join("updated");
        fs::write(&stamp, now().to_string()).map_err(io_err("cannot write", &stamp))
    }

    /// Time since the suite's lists were last fetched, if ever.
    fn lists_age(&self, suite: &str) -> Result<Option<Duration>, DebianError> {
        let stamp = self.apt_root(suite)?.join("updated");
        let modified = fs::metadata(stamp).and_then(|m| m.modified());
        Ok(modified.ok().map(|t| t.elapsed().unwrap_or_default()))
    }

    fn apt(&self, tool: &str, suite: &str) -> Result<Command, DebianError> {
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

    /// Serialises apt's update and downloads per suite across processes.
    fn lock(&self, suite: &str) -> Result<Flock<File>, DebianError> {
        let path = self.apt_root(suite)?.join("kconform.lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path);
        let f = f.map_err(io_err("cannot open", &path))?;
        Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| DebianError::Io {
            what: "cannot lock",
            path,
            source: e.into(),
        })
    }
}

fn apt_conf(root: &Path, as_root: bool) -> String {
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

fn sources(suite: &str, mirror: &str, security: &str) -> String {
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
fn security_for(mirror: &str) -> String {
    let m = mirror.trim_end_matches('/');
    if let Some(base) = m.strip_suffix("/debian") {
        format!("{base}/debian-security")
    } else if m.contains("/debian/") {
        m.replacen("/debian/", "/debian-security/", 1)
    } else {
        "http://deb.debian.org/debian-security".into()
    }
}

fn classify(name: &str) -> Spec<'_> {
    let name = name.strip_prefix("linux-image-").unwrap_or(name);
    if name == "unstable" {
        return Spec::Suite("sid");
    }
    match SUITES.into_iter().find(|s| *s == name) {
        Some(s) => Spec::Suite(s),
        None if looks_like_image(name) => Spec::Image(name),
        None => Spec::Neither,
    }
}

/// A kernel release as Debian names images: three numbers, then `-` or `+`
/// and more (5.10.0-46-rt-amd64, 6.1.0-0.deb11.52-amd64,
/// 7.2.13+deb14-cloud-amd64), in characters apt takes literally.
fn looks_like_image(name: &str) -> bool {
    let literal = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    let Some((release, rest)) = name.split_once(['-', '+']) else {
        return false;
    };
    let nums: Vec<&str> = release.split('.').collect();
    literal
        && !rest.is_empty()
        && nums.len() == 3
        && nums
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A field of the first stanza of `apt-cache show` output, continuation
/// lines joined.
fn field(stanza: &str, key: &str) -> Option<String> {
    let mut lines = stanza.lines().take_while(|l| !l.trim().is_empty());
    let first = lines.find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?;
    let more = lines.take_while(|l| l.starts_with([' ', '\t']));
    Some(
        std::iter::once(first)
            .chain(more)
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
            .trim()
            .into(),
    )
}

/// The stanza of the first of `pkgs` present in `apt-cache show` output.
fn pick(show: &str, pkgs: &[&str]) -> Option<(String, String)> {
    let stanzas: Vec<&str> = show.split("\n\n").collect();
    pkgs.iter().find_map(|p| {
        let s = stanzas
            .iter()
            .find(|s| field(s, "Package").as_deref() == Some(p))?;
        Some((p.to_string(), s.to_string()))
    })
}

/// The package names in Depends, alternatives included, constraints dropped.
fn depends(stanza: &str) -> Vec<String> {
    let Some(deps) = field(stanza, "Depends") else {
        return vec![];
    };
    deps.split([',', '|'])
        .filter_map(|d| d.split(['(', '[', ' ']).find(|w| !w.is_empty()))
        .map(|d| d.split(':').next().unwrap_or(d).to_string())
        .collect()
}

/// Dependencies that may carry the vmlinuz or config of image `name`:
/// linux-binary-NAME first, then the like; never modules or headers.
fn kernel_parts(deps: &[String], name: &str) -> Vec<String> {
    let skip = [
        "linux-modules-",
        "linux-headers-",
        "linux-image-",
        "linux-kbuild-",
    ];
    let mut parts: Vec<String> = deps
        .iter()
        .filter(|d| d.contains(name) && !skip.iter().any(|s| d.starts_with(s)))
        .cloned()
        .collect();
    parts.sort_by_key(|d| !d.starts_with("linux-binary-"));
    parts.dedup();
    parts
}

/// The image name a metapackage's stanza depends on.
fn image_of_meta(stanza: &str) -> Option<String> {
    depends(stanza)
        .into_iter()
        .filter_map(|d| d.strip_prefix("linux-image-").map(str::to_string))
        .find(|n| looks_like_image(n))
}

/// Image names in `apt-cache search` output; not metapackages, -unsigned or -dbg.
fn image_names(search: &str) -> Vec<String> {
    search
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.strip_prefix("linux-image-"))
        .filter(|n| looks_like_image(n) && n.ends_with("amd64"))
        .map(str::to_string)
        .collect()
}

fn nearest(name: &str, names: &[String]) -> Vec<String> {
    let mut v: Vec<(usize, &String)> = names
        .iter()
        .map(|n| (strsim::levenshtein(name, n), n))
        .collect();
    v.sort();
    v.dedup();
    v.into_iter()
        .take(SUGGESTIONS)
        .map(|(_, n)| n.clone())
        .collect()
}

/// vmlinuz and config in an unpacked package tree. Regular files only: an
/// absolute symlink would lead into the host.
fn find_parts(root: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
    let is_file = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_file());
    let list = |d: PathBuf| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    };
    let (mut image, mut config) = (None, None);
    // Up to trixie /boot/{vmlinuz,config}-REL; later /usr/lib/modules/REL/{vmlinuz,config}.
    for p in list(root.join("boot")).into_iter().filter(|p| is_file(p)) {
        let n = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if n.starts_with("vmlinuz-") {
            image.get_or_insert(p);
        } else if n.starts_with("config-") {
            config.get_or_insert(p);
        }
    }
    for rel in list(root.join("usr/lib/modules"))
        .into_iter()
        .chain(list(root.join("lib/modules")))
    {
        if is_file(&rel.join("vmlinuz")) {
            image.get_or_insert(rel.join("vmlinuz"));
        }
        if is_file(&rel.join("config")) {
            config.get_or_insert(rel.join("config"));
        }
    }
    (image, config)
}

/// The x86 boot protocol's "HdrS" at 0x202: a bootable bzImage.
fn is_bzimage(path: &Path) -> bool {
    let mut head = [0u8; 0x206];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head[0x202..] == b"HdrS"
}

fn read_entry(dir: &Path) -> Option<(DebianKernel, u64)> {
    let meta: Meta = serde_json::from_slice(&fs::read(dir.join("meta.json")).ok()?).ok()?;
    let image = dir.join("vmlinuz");
    let config = Some(dir.join("config")).filter(|c| c.is_file());
    image.is_file().then(|| {
        let k = DebianKernel {
            name: meta.name,
            suite: meta.suite,
            package: meta.package,
            version: meta.version,
            image,
            config,
            note: None,
        };
        (k, meta.fetched_at)
    })
}

fn run(cmd: &mut Command, hint: &'static str) -> Result<Output, DebianError> {
    let shown = describe(cmd);
    let tool = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
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
fn describe(cmd: &Command) -> String {
    let env = cmd.get_envs().filter(|(k, _)| *k == "APT_CONFIG");
    let env =
        env.filter_map(|(k, v)| Some(format!("{}={} ", k.to_string_lossy(), v?.to_string_lossy())));
    let words: Vec<_> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy())
        .collect();
    format!("{}{}", env.collect::<String>(), words.join(" "))
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DebianError {
    let path = path.to_path_buf();
    move |source| DebianError::Io { what, path, source }
}

static UNIQUE: AtomicU32 = AtomicU32::new(0);

fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!(
        "{}.{}.{nanos}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

/// Readers see the old file or the new, never a part.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DebianError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
    }
    crate::report::write_atomic(path, bytes).map_err(io_err("cannot write", path))
}

fn write_if_changed(path: &Path, text: &str) -> Result<bool, DebianError> {
    if fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(false);
    }
    write_atomic(path, text.as_bytes()).map(|()| true)
}

/// A working directory removed however the fetch ends; ones left by killed
/// processes are swept after a day.
struct Scratch(PathBuf);

impl Scratch {
    fn new(parent: &Path) -> Result<Self, DebianError> {
        fs::create_dir_all(parent).map_err(io_err("cannot create", parent))?;
        for e in fs::read_dir(parent).into_iter().flatten().flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            if old.is_some_and(|a| a > MAX_AGE) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        let dir = parent.join(unique());
        fs::create_dir(&dir).map_err(io_err("cannot create", &dir))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn ago(secs: u64) -> String {
    match secs {
        0..120 => format!("{secs} s"),
        120..7200 => format!("{} min", secs / 60),
        7200..172_800 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID_IMAGE: &str = "\
Package: linux-image-7.2.13+deb14-cloud-amd64
Source: linux-signed-amd64 (7.2.13+1)
Version: 7.2.13-1
Installed-Size: 15
Depends: dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-7.2.13+deb14-cloud-amd64 (= 7.2.13-1),
 linux-binary-7.2.13+deb14-cloud-amd64 (= 7.2.13-1), linux-modules-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)
Pre-Depends: linux-base (>= 4.17~)
Description: Linux 7.2.13 for x86-64 cloud
 The Linux kernel 7.2.13 and modules for use on x86-64 cloud.

";
    const BOOKWORM_META: &str = "\
Package: linux-image-cloud-amd64
Version: 6.1.192-2
Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)
";
    const SID_META: &str = "\
Package: linux-image-cloud-amd64
Version: 7.2.13-1
Depends: linux-base-cloud-amd64 (= 7.2.13-1), linux-image-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)
";

    #[test]
    fn classifies_aliases_and_images() {
        assert_eq!(classify("bookworm"), Spec::Suite("bookworm"));
        assert_eq!(classify("unstable"), Spec::Suite("sid"));
        for n in [
            "6.1.0-50-cloud-amd64",
            "6.1.0-50-amd64",
            "5.10.0-46-rt-amd64",
            "7.2.13+deb14-cloud-amd64",
            "6.1.0-0.deb11.52-amd64",
        ] {
            assert_eq!(classify(n), Spec::Image(n));
        }
        assert_eq!(
            classify("linux-image-6.1.0-50-amd64"),
            Spec::Image("6.1.0-50-amd64")
        );
        for n in [
            "stable",
            "bookwrm",
            "6.1-amd64",
            "6.1.0",
            "6.1.0-*",
            "6.1.0-50-AMD64",
            "6.1.0-5 0",
            "",
        ] {
            assert_eq!(classify(n), Spec::Neither, "{n}");
        }
    }

    #[test]
    fn parses_fields_and_depends() {
        assert_eq!(field(SID_IMAGE, "Version").as_deref(), Some("7.2.13-1"));
        let both = format!("{BOOKWORM_META}\n{SID_IMAGE}");
        let (p, s) = pick(
            &both,
            &[
                "nope",
                "linux-image-7.2.13+deb14-cloud-amd64",
                "linux-image-cloud-amd64",
            ],
        )
        .unwrap();
        assert_eq!(
            (p.as_str(), s.as_str()),
            ("linux-image-7.2.13+deb14-cloud-amd64", SID_IMAGE.trim_end())
        );
        assert_eq!(pick(&both, &["linux-image"]), None);
        assert_eq!(field(SID_IMAGE, "Description").as_deref(),
                   Some("Linux 7.2.13 for x86-64 cloud The Linux kernel 7.2.13 and modules for use on x86-64 cloud."));
        assert_eq!(field(SID_IMAGE, "Depends:"), None);
        assert_eq!(
            field("Package: a\n\nVersion: 2\n", "Version"),
            None,
            "first stanza only"
        );
        assert_eq!(
            depends(SID_IMAGE),
            [
                "dracut",
                "initramfs-tools",
                "linux-initramfs-tool",
                "linux-base-7.2.13+deb14-cloud-amd64",
                "linux-binary-7.2.13+deb14-cloud-amd64",
                "linux-modules-7.2.13+deb14-cloud-amd64",
            ]
        );
        assert_eq!(
            depends("Depends: perl:any, libc6 [amd64] (>= 2)\n"),
            ["perl", "libc6"]
        );
    }

    #[test]
    fn follows_depends_to_the_kernel_not_the_modules() {
        let name = "7.2.13+deb14-cloud-amd64";
        assert_eq!(
            kernel_parts(&depends(SID_IMAGE), name),
            [
                "linux-binary-7.2.13+deb14-cloud-amd64",
                "linux-base-7.2.13+deb14-cloud-amd64"
            ]
        );
        let bookworm = "Depends: kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool\n";
        assert!(kernel_parts(&depends(bookworm), "6.1.0-56-cloud-amd64").is_empty());
        assert_eq!(
            image_of_meta(BOOKWORM_META).as_deref(),
            Some("6.1.0-56-cloud-amd64")
        );
        assert_eq!(
            image_of_meta(SID_META).as_deref(),
            Some("7.2.13+deb14-cloud-amd64")
        );
        assert_eq!(image_of_meta("Depends: linux-image-6.1-amd64\n"), None);
    }

    #[test]
    fn lists_images_nearest_first() {
        let search = "\
linux-image-6.1.0-56-cloud-amd64 - Linux 6.1 for x86-64 cloud (signed)
linux-image-6.1.0-56-cloud-amd64-unsigned - Linux 6.1 for x86-64 cloud
linux-image-6.1.0-56-cloud-amd64-dbg - Debug symbols for linux-image-6.1.0-56-cloud-amd64
linux-image-6.1.0-50-rt-amd64 - Linux 6.1 for x86-64, PREEMPT_RT (signed)
linux-image-6.1.0-50-amd64 - Linux 6.1 for 64-bit PCs (signed)
linux-image-cloud-amd64 - Linux for x86-64 cloud (meta-package)
linux-image-6.12-amd64 - Linux for 64-bit PCs (meta-package)
";
        let names = image_names(search);
        assert_eq!(
            names,
            [
                "6.1.0-56-cloud-amd64",
                "6.1.0-50-rt-amd64",
                "6.1.0-50-amd64"
            ]
        );
        assert_eq!(nearest("6.1.0-50-rt-amd", &names)[0], "6.1.0-50-rt-amd64");
        assert_eq!(
            nearest("6.1.0-57-cloud-amd64", &names)[0],
            "6.1.0-56-cloud-amd64"
        );
        let many: Vec<String> = (0..40).map(|i| format!("6.1.0-{i}-amd64")).collect();
        assert_eq!(nearest("6.1.0-7-amd64", &many).len(), SUGGESTIONS);
    }

    fn bzimage(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut b = vec![0u8; 0x400];
        b[0x202..0x206].copy_from_slice(b"HdrS");
        fs::write(path, b).unwrap();
    }

    #[test]
    fn finds_vmlinuz_in_boot_and_modules_dir() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        bzimage(&a.join("boot/vmlinuz-6.1.0-56-amd64"));
        fs::write(a.join("boot/config-6.1.0-56-amd64"), "CONFIG_SECCOMP=y\n").unwrap();
        fs::write(a.join("boot/System.map-6.1.0-56-amd64"), "").unwrap();
        let (v, c) = find_parts(&a);
        assert!(
            v.unwrap().ends_with("boot/vmlinuz-6.1.0-56-amd64")
                && is_bzimage(&a.join("boot/vmlinuz-6.1.0-56-amd64"))
        );
        assert!(c.unwrap().ends_with("boot/config-6.1.0-56-amd64"));
        bzimage(&b.join("usr/lib/modules/7.2.13+deb14-cloud-amd64/vmlinuz"));
        std::os::unix::fs::symlink(
            "/etc/hostname",
            b.join("usr/lib/modules/7.2.13+deb14-cloud-amd64/config"),
        )
        .unwrap();
        let (v, c) = find_parts(&b);
        assert!(v
            .unwrap()
            .ends_with("modules/7.2.13+deb14-cloud-amd64/vmlinuz"));
        assert_eq!(c, None, "a symlink out of the package is not its config");
        assert_eq!(find_parts(&t.path().join("none")), (None, None));
        assert!(!is_bzimage(&a.join("boot/config-6.1.0-56-amd64")));
    }

    fn entry(cache: &Path, name: &str, version: &str, at: u64) {
        let dir = cache.join(format!("debian/kernels/{name}_{version}"));
        bzimage(&dir.join("vmlinuz"));
        let meta = Meta {
            name: name.into(),
            suite: "bookworm".into(),
            package: format!("linux-image-{name}"),
            version: version.into(),
            packages: vec![],
            fetched_at: at,
        };
        fs::write(dir.join("meta.json"), serde_json::to_vec(&meta).unwrap()).unwrap();
    }

    #[test]
    fn serves_the_cache_offline() {
        let t = tempfile::tempdir().unwrap();
        entry(t.path(), "6.1.0-50-amd64", "6.1.170-1", 100);
        entry(t.path(), "6.1.0-50-amd64", "6.1.170-2", 200);
        entry(t.path(), "6.1.0-56-cloud-amd64", "6.1.192-2", 300);
        let f = Fetcher::new(t.path().into(), true);
        let k = f.fetch("6.1.0-50-amd64").unwrap();
        assert_eq!(
            (k.version.as_str(), k.config, k.note),
            ("6.1.170-2", None, None)
        );
        assert!(k
            .image
            .ends_with("kernels/6.1.0-50-amd64_6.1.170-2/vmlinuz"));

        let e = f.fetch("bookworm").unwrap_err().to_string();
        assert!(
            e.contains("debian:bookworm is not in the cache")
                && e.contains("cached: 6.1.0-50-amd64"),
            "{e}"
        );
        let r = Resolution {
            name: "6.1.0-56-cloud-amd64".into(),
            version: "6.1.192-2".into(),
            resolved_at: now() - 7200,
        };
        write_atomic(
            &t.path().join("debian/aliases/bookworm.json"),
            &serde_json::to_vec(&r).unwrap(),
        )
        .unwrap();
        let k = f.fetch("bookworm").unwrap();
        assert_eq!(k.name, "6.1.0-56-cloud-amd64");
        assert_eq!(
            k.note.as_deref(),
            Some("offline; debian:bookworm is 6.1.0-56-cloud-amd64 6.1.192-2, as resolved 2 h ago")
        );
        // Fresh and cached: no apt at all, even online.
        let online = Fetcher::new(t.path().into(), false);
        assert_eq!(online.fetch("bookworm").unwrap().note, None);
        assert!(!t.path().join("debian/apt").exists());
    }

    #[test]
    fn explains_bad_names() {
        let f = Fetcher::new(PathBuf::from("/nonexistent"), true);
        let e = f.fetch("bookwrm").unwrap_err().to_string();
        assert!(e.contains("(did you mean debian:bookworm?)"), "{e}");
        let e = f.fetch("stable").unwrap_err().to_string();
        assert!(!e.contains("did you mean"), "{e}");
        assert!(e.contains("use debian:SUITE (bullseye, bookworm, trixie, sid or unstable)"));
        let e = f.fetch("6.1.0-99-amd64").unwrap_err().to_string();
        assert!(
            e.ends_with("nothing is cached yet: fetch it once with the network"),
            "{e}"
        );
        let e = DebianError::UnknownImage {
            name: "6.1.0-99-amd64".into(),
            suggestions: vec!["6.1.0-56-amd64".into()],
        };
        assert_eq!(e.to_string(), "no Debian suite (bullseye, bookworm, trixie, sid) has a kernel image `6.1.0-99-amd64`; nearest: 6.1.0-56-amd64");
    }

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

    #[test]
    #[ignore = "needs the network and a Debian mirror"]
    fn fetches_bookworm() {
        let t = tempfile::tempdir().unwrap();
        let k = Fetcher::new(t.path().into(), false)
            .fetch("bookworm")
            .unwrap();
        assert!(
            k.name.starts_with("6.1.0-") && k.name.ends_with("-cloud-amd64"),
            "{k:?}"
        );
        assert!(
            is_bzimage(&k.image) && k.package == format!("linux-image-{}", k.name),
            "{k:?}"
        );
        let config = fs::read_to_string(k.config.as_ref().unwrap()).unwrap();
        assert!(config.contains("CONFIG_SECCOMP=y"));
        let again = Fetcher::new(t.path().into(), true).fetch(&k.name).unwrap();
        assert_eq!(again, k);
        assert_eq!(
            fs::read_dir(t.path().join("debian/tmp")).unwrap().count(),
            0
        );
    }
}
