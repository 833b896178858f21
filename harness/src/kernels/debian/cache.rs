//! The kernel cache: packages downloaded and unpacked into a scratch
//! directory, then moved whole into `kernels/<name>_<version>/`, and
//! read back from there.

use std::collections::VecDeque;
use std::fs;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::apt::run;
use super::names::{depends, find_parts, kernel_parts, nearest};
use super::{
    io_err, now, write_atomic, DebianError, DebianKernel, Fetcher, DOWNLOAD_HINT, MAX_AGE,
    UNPACK_HINT,
};
use crate::kernels::is_bzimage;

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
        let names: Vec<String> = fs::read_dir(self.cache.join("kernels"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| read_entry(&e.path()).map(|(k, _)| k.name))
            .collect();
        nearest(near, &names)
    }
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
    tempfile::Builder::new()
        .prefix("fetch-")
        .tempdir_in(parent)
        .map_err(io_err("cannot create a directory in", parent))
}
