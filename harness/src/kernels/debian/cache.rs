//! The kernel cache: packages downloaded and unpacked into a scratch
//! directory, then moved whole into `kernels/<name>_<version>/`, and
//! read back from there.

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::fcntl::FlockArg;

use serde::{Deserialize, Serialize};

use super::apt::run;
use super::names::{depends, find_parts, kernel_parts, nearest};
use super::version::compare as compare_versions;
use super::{
    io_err, now, write_atomic, DebianError, DebianKernel, Fetcher, DOWNLOAD_HINT, MAX_AGE,
    UNPACK_HINT,
};
use crate::kernels::is_bzimage;
use crate::util::lock_existing;

#[derive(Serialize, Deserialize)]
pub(super) struct Meta {
    pub(super) name: String,
    pub(super) suite: String,
    pub(super) package: String,
    pub(super) version: String,
    pub(super) packages: Vec<String>,
    pub(super) fetched_at: u64,
}

impl Fetcher {
    /// Download `pkg` and, while the vmlinuz or config is still missing, the
    /// kernel packages it depends on (sid's linux-image-NAME is empty and
    /// depends on linux-binary-NAME and linux-base-NAME); never the modules.
    pub(super) fn unpack(
        &self,
        suite: &str,
        name: &str,
        pkg: &str,
        stanza: &str,
        version: &str,
    ) -> Result<DebianKernel, DebianError> {
        let scratch = scratch(&self.cache.join("tmp"))?;
        let (debs, root, entry) = (
            scratch.path().join("debs"),
            scratch.path().join("root"),
            scratch.path().join("entry"),
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
    pub(super) fn cached(&self, name: &str, version: Option<&str>) -> Option<DebianKernel> {
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

    pub(super) fn cached_names(&self, near: &str) -> Vec<String> {
        let names: Vec<String> = self.cached_all().into_iter().map(|(k, _)| k.name).collect();
        nearest(near, &names)
    }

    /// Every kernel in the cache, with when it was fetched.
    fn cached_all(&self) -> Vec<(DebianKernel, u64)> {
        fs::read_dir(self.cache.join("kernels"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| read_entry(&e.path()))
            .collect()
    }
}

/// A kernel in the cache, as `kconform cache list` shows it.
#[derive(Clone, Debug)]
pub struct CacheEntry {
    pub name: String,
    pub version: String,
    pub suite: String,
    pub dir: PathBuf,
    pub bytes: u64,
    pub fetched_at: u64,
    /// When a run last took it; when it was fetched if none has.
    pub used_at: u64,
    /// A running kconform holds it (a shared flock on `dir`).
    pub held: bool,
}

/// What `prune` removed, and what it left because a run holds it.
#[derive(Debug, Default)]
pub struct Pruned {
    pub removed: Vec<CacheEntry>,
    pub held: Vec<CacheEntry>,
}

impl Fetcher {
    /// The cached kernels of `suite`, by name.
    pub(super) fn cached_in(&self, suite: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .cached_all()
            .into_iter()
            .filter(|(k, _)| k.suite == suite)
            .map(|(k, _)| k.name)
            .collect();
        names.sort_by(|a, b| compare_versions(a, b));
        names.dedup();
        names
    }

    /// Every kernel in the cache, oldest version first.
    pub fn entries(&self) -> Vec<CacheEntry> {
        let mut v: Vec<CacheEntry> = self
            .cached_all()
            .into_iter()
            .filter_map(|(k, fetched_at)| entry_of(k, fetched_at))
            .collect();
        v.sort_by(|a, b| {
            compare_versions(&a.name, &b.name)
                .then_with(|| compare_versions(&a.version, &b.version))
        });
        v
    }

    /// Remove the cached kernels not used within `older_than` (all without
    /// it), except those a running kconform holds. Each entry goes whole:
    /// locked, renamed out of `kernels/`, then deleted.
    pub fn prune(&self, older_than: Option<Duration>) -> Result<Pruned, DebianError> {
        let mut pruned = Pruned::default();
        let cutoff = older_than.map(|d| now().saturating_sub(d.as_secs()));
        let tmp = self.cache.join("tmp");
        for e in self.entries() {
            if cutoff.is_some_and(|c| e.used_at > c) {
                continue;
            }
            let lock = match lock_existing(&e.dir, FlockArg::LockExclusiveNonblock) {
                Ok(l) => l,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    pruned.held.push(e);
                    continue;
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => return Err(io_err("cannot lock", &e.dir)(err)),
            };
            fs::create_dir_all(&tmp).map_err(io_err("cannot create", &tmp))?;
            let away = tempfile::Builder::new()
                .prefix("pruned-")
                .tempdir_in(&tmp)
                .map_err(io_err("cannot create a directory in", &tmp))?;
            let gone = away.path().join("entry");
            fs::rename(&e.dir, &gone).map_err(io_err("cannot move", &e.dir))?;
            drop(lock);
            away.close().map_err(io_err("cannot remove", &gone))?;
            pruned.removed.push(e);
        }
        Ok(pruned)
    }
}

/// The listing of a cached kernel: its size, its last use, whether a
/// run holds it.
fn entry_of(k: DebianKernel, fetched_at: u64) -> Option<CacheEntry> {
    let dir = k.image.parent()?.to_path_buf();
    let bytes = fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum();
    let used_at = fs::read_to_string(dir.join("used"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(fetched_at)
        .max(fetched_at);
    let held = match lock_existing(&dir, FlockArg::LockExclusiveNonblock) {
        Ok(_) => false,
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    };
    Some(CacheEntry {
        name: k.name,
        version: k.version,
        suite: k.suite,
        dir,
        bytes,
        fetched_at,
        used_at,
        held,
    })
}

pub(super) fn read_entry(dir: &Path) -> Option<(DebianKernel, u64)> {
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

/// A working directory under `parent`, removed however the fetch ends
/// (an interrupt included); ones left by killed processes are swept
/// after a day.
fn scratch(parent: &Path) -> Result<tempfile::TempDir, DebianError> {
    crate::util::scratch_dir(parent, "fetch-", MAX_AGE)
        .map_err(io_err("cannot create a directory in", parent))
}
