//! `debian:NAME` kernels: a vmlinuz and its config taken from Debian's
//! archive, verified by apt and cached for offline reuse.
//!
//! NAME is a suite (`bullseye`, `bookworm`, `trixie`, `sid` or `unstable`),
//! meaning whatever that suite's `linux-image-cloud-amd64` depends on now,
//! or an image name such as `6.1.0-50-cloud-amd64`, looked up in every suite.
//! A set names several: `all`, `SUITE/GLOB` (`bookworm/*`) or a glob
//! (`6.1.0-*-cloud-amd64`), which [`Fetcher::expand`] turns into image names
//! from the suites' package lists.
//!
//! apt runs with a private configuration per suite, so the host's /etc/apt
//! is neither read nor changed, and nothing is installed: packages are
//! downloaded with `apt-get download` and unpacked with `dpkg-deb -x`.
//! Under `<cache root>/debian/`:
//!
//! - `apt/<suite>/`: apt.conf, etc/, state/, cache/, the `updated` stamp, the lock
//! - `aliases/<suite>.json`: what the suite alias resolved to, and when
//! - `kernels/<name>_<version>/{vmlinuz,config,meta.json}`: appears whole, by rename;
//!   `used` is touched by each run that takes it, which holds a shared flock
//!   on the directory until it exits, so `prune` (an exclusive one) passes it by
//! - `tmp/`: downloads being unpacked

mod apt;
mod cache;
mod names;
mod version;

pub use cache::{CacheEntry, Pruned};
pub use version::compare as compare_versions;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use apt::run;
use apt::security_for;
use names::{
    classify, field, image_names, image_of_meta, matching, nearest, nearest_to_glob, set_of,
};
use nix::fcntl::{Flock, FlockArg};

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
    #[error("`debian:{name}`: {why}; a set of kernels is debian:all, debian:SUITE/GLOB (e.g. debian:bookworm/*) or a glob such as debian:6.1.0-*-cloud-amd64")]
    BadSet { name: String, why: String },
    #[error("`debian:{name}` names a set of kernels; this command boots one: name an image such as debian:6.1.0-57-cloud-amd64 (`kconform run` takes sets)")]
    OneWanted { name: String },
    #[error("no Debian image matches `debian:{name}`{}", nearest_text(.suggestions))]
    NoMatch {
        name: String,
        suggestions: Vec<String>,
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

pub struct Fetcher {
    cache: PathBuf,
    offline: bool,
    mirror: String,
    security_mirror: String,
}

#[derive(Debug, PartialEq)]
pub(super) enum Spec<'a> {
    Suite(&'static str),
    Image(&'a str),
    Neither,
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

    /// The kernel `name` names, from the cache or the archive, held for
    /// this process (see [`hold`]).
    pub fn fetch(&self, name: &str) -> Result<DebianKernel, DebianError> {
        if set_of(name).is_some() {
            return Err(DebianError::OneWanted { name: name.into() });
        }
        let k = self.fetch_unheld(name)?;
        if hold(&k)? {
            return Ok(k);
        }
        // Pruned between being found and being held: fetched again.
        let k = self.fetch_unheld(name)?;
        match hold(&k)? {
            true => Ok(k),
            false => Err(DebianError::Io {
                what: "was removed while being fetched (a concurrent `kconform cache prune`?)",
                path: k.image,
                source: io::ErrorKind::NotFound.into(),
            }),
        }
    }

    /// The image names a set names, oldest first; `None` for a name of
    /// one kernel. Lists older than a day are refreshed first (online).
    pub fn expand(&self, name: &str) -> Result<Option<Vec<String>>, DebianError> {
        let set = match set_of(name) {
            None => return Ok(None),
            Some(Err(why)) => {
                return Err(DebianError::BadSet {
                    name: name.into(),
                    why,
                })
            }
            Some(Ok(set)) => set,
        };
        let suites: Vec<&str> = set.suite.map_or(SUITES.to_vec(), |s| vec![s]);
        let mut all = Vec::new();
        for suite in suites {
            all.extend(self.listed(suite)?);
        }
        all.sort_by(|a, b| compare_versions(a, b));
        all.dedup();
        let found = matching(&set.pattern, &all);
        if found.is_empty() {
            return Err(DebianError::NoMatch {
                name: name.into(),
                suggestions: nearest_to_glob(set.text, &all),
            });
        }
        Ok(Some(found))
    }

    /// Every amd64 image the suite's package lists name. Offline, lists
    /// of any age; with none, the suite's kernels in the cache.
    fn listed(&self, suite: &str) -> Result<Vec<String>, DebianError> {
        let stamp = self.cache.join("apt").join(suite).join("updated");
        if self.offline && !stamp.exists() {
            return Ok(self.cached_in(suite));
        }
        let fresh = |f: &Self| f.lists_age(suite).map(|a| a.is_some_and(|a| a < MAX_AGE));
        if !self.offline && !fresh(self)? {
            let _lock = self.lock(suite)?;
            // Another process may have refreshed them while this one waited;
            // stale lists still list what the archive had.
            if !fresh(self)? {
                if let Err(e) = self.update(suite) {
                    if self.lists_age(suite)?.is_none() {
                        return Err(e);
                    }
                }
            }
        }
        let _shared = self.lock_shared(suite)?;
        let mut c = self.apt("apt-cache", suite)?;
        let out = run(
            c.args(["search", "--names-only", "^linux-image-"]),
            APT_HINT,
        )?;
        Ok(image_names(&String::from_utf8_lossy(&out.stdout)))
    }

    /// Whether fetching `name` downloads: an image name not in the cache.
    pub fn must_download(&self, name: &str) -> bool {
        match classify(name) {
            Spec::Image(image) => !self.offline && self.cached(image, None).is_none(),
            _ => false,
        }
    }

    fn fetch_unheld(&self, name: &str) -> Result<DebianKernel, DebianError> {
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
        let mut updated = false;
        if !self.lists_age(suite)?.is_some_and(|a| a < MAX_AGE) {
            if let Err(e) = self.update_locked(suite) {
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
        let shown = {
            let _shared = self.lock_shared(suite)?;
            self.show(suite, &[CLOUD_META])?
        };
        let (_, meta) = shown.ok_or_else(|| resolve(format!("the suite has no {CLOUD_META}")))?;
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
            // All suites share the mirror: when one cannot be refreshed,
            // trying the rest only makes the user wait longer for the error.
            if refresh {
                self.update_locked(suite)?;
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

    /// The cached entry for the suite's current version of `name`, else
    /// download it. `None`: the suite lacks it. Under the suite's shared
    /// lock, so downloads run side by side and an update waits for them.
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
        let attempt = || -> Result<Option<DebianKernel>, DebianError> {
            let _shared = self.lock_shared(suite)?;
            let Some((pkg, stanza)) = self.show(suite, &[&signed, &unsigned])? else {
                return Ok(None);
            };
            let version = field(&stanza, "Version").unwrap_or_default();
            if let Some(k) = self.cached(name, Some(&version)) {
                return Ok(Some(k));
            }
            self.unpack(suite, name, &pkg, &stanza, &version).map(Some)
        };
        match attempt() {
            // Lists up to MAX_AGE old can name a version the archive has
            // dropped; lists younger than RECHECK_AGE are what it has now.
            Err(DebianError::Command { .. })
                if !updated && !self.lists_age(suite)?.is_some_and(|a| a < RECHECK_AGE) =>
            {
                self.update_locked(suite)?;
                attempt()
            }
            r => r,
        }
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
}

/// The cache entries this process took, each under a shared flock until it
/// exits: `kconform cache prune` skips what a running kconform holds.
static HELD: Mutex<Vec<Flock<File>>> = Mutex::new(Vec::new());

/// Hold `k`'s entry for the rest of the process, and note its use for
/// `prune --older-than`. `false`: the entry was pruned before it was held.
fn hold(k: &DebianKernel) -> Result<bool, DebianError> {
    let Some(dir) = k.image.parent() else {
        return Ok(false);
    };
    let lock = match crate::util::lock_existing(dir, FlockArg::LockShared) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err("cannot lock", dir)(e)),
    };
    // A prune that won the race renamed the entry away before unlocking.
    if !k.image.is_file() {
        return Ok(false);
    }
    let used = dir.join("used");
    fs::write(&used, now().to_string()).map_err(io_err("cannot write", &used))?;
    HELD.lock().unwrap_or_else(|p| p.into_inner()).push(lock);
    Ok(true)
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DebianError {
    let path = path.to_path_buf();
    move |source| DebianError::Io { what, path, source }
}

/// Readers see the old file or the new, never a part.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DebianError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
    }
    crate::util::write_atomic(path, bytes).map_err(io_err("cannot write", path))
}

fn write_if_changed(path: &Path, text: &str) -> Result<bool, DebianError> {
    if fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(false);
    }
    write_atomic(path, text.as_bytes()).map(|()| true)
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
pub(super) mod tests {
    use super::cache::Meta;
    use super::*;
    use crate::kernels::is_bzimage;

    pub(in crate::kernels) fn bzimage(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut b = vec![0u8; 0x400];
        b[0x202..0x206].copy_from_slice(b"HdrS");
        fs::write(path, b).unwrap();
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
    fn prune_passes_by_what_a_run_holds() {
        let t = tempfile::tempdir().unwrap();
        let day = 86_400;
        entry(
            t.path(),
            "5.10.0-46-cloud-amd64",
            "5.10.262-1",
            now() - 40 * day,
        );
        entry(t.path(), "6.1.0-50-amd64", "6.1.170-2", now() - 40 * day);
        entry(
            t.path(),
            "6.1.0-57-cloud-amd64",
            "6.1.192-3",
            now() - 40 * day,
        );
        entry(
            t.path(),
            "7.2.13+deb14-cloud-amd64",
            "7.2.13-1",
            now() - 2 * day,
        );
        let f = Fetcher::new(t.path().into(), true);
        let names = |v: &[CacheEntry]| v.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&f.entries()),
            [
                "5.10.0-46-cloud-amd64",
                "6.1.0-50-amd64",
                "6.1.0-57-cloud-amd64",
                "7.2.13+deb14-cloud-amd64"
            ],
            "in version order"
        );
        assert!(f.entries().iter().all(|e| !e.held && e.bytes > 0x400));
        // A run takes 6.1.0-50 and holds it until it exits; using it counts.
        let held = f.fetch("6.1.0-50-amd64").unwrap();
        let e = f.entries();
        assert!(e[1].held && e[1].used_at >= now() - 5, "{:?}", e[1]);

        let p = f.prune(Some(Duration::from_secs(30 * day))).unwrap();
        assert_eq!(
            (names(&p.removed), names(&p.held)),
            (
                vec![
                    "5.10.0-46-cloud-amd64".to_string(),
                    "6.1.0-57-cloud-amd64".into()
                ],
                vec![]
            ),
            "older than 30 days and not just used"
        );
        let p = f.prune(None).unwrap();
        assert_eq!(names(&p.removed), ["7.2.13+deb14-cloud-amd64"]);
        assert_eq!(names(&p.held), ["6.1.0-50-amd64"]);
        assert_eq!(names(&f.entries()), ["6.1.0-50-amd64"]);
        assert!(held.image.is_file(), "the held kernel survives prune");
        assert_eq!(
            fs::read_dir(t.path().join("debian/tmp")).unwrap().count(),
            0
        );
        assert!(f.fetch("6.1.0-57-cloud-amd64").is_err(), "pruned for good");
    }

    #[test]
    fn sets_expand_offline_from_the_cache_and_say_what_is_near() {
        let t = tempfile::tempdir().unwrap();
        entry(t.path(), "6.1.0-57-cloud-amd64", "6.1.192-3", 300);
        entry(t.path(), "6.1.0-50-amd64", "6.1.170-2", 200);
        let f = Fetcher::new(t.path().into(), true);
        assert_eq!(
            f.expand("bookworm/*").unwrap().unwrap(),
            ["6.1.0-50-amd64", "6.1.0-57-cloud-amd64"]
        );
        assert_eq!(f.expand("6.1.0-57-cloud-amd64").unwrap(), None);
        assert!(f.expand("trixie/*").is_err(), "nothing cached from trixie");
        let e = f.expand("6.1.0-*-rt-amd64").unwrap_err().to_string();
        assert!(
            e.starts_with(
                "no Debian image matches `debian:6.1.0-*-rt-amd64`; nearest: 6.1.0-50-amd64"
            ),
            "{e}"
        );
        let e = f.fetch("all").unwrap_err().to_string();
        assert!(e.contains("names a set of kernels"), "{e}");
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
