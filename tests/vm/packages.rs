//! Distribution packages as kernel specs, end to end: bookworm's cloud
//! kernel .deb and sid's split packages from Debian's archive, and an .rpm
//! built here around bookworm's vmlinuz and config, each resolved and
//! booted through the CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use kconform_core::expect::Status;
use kconform_core::kernel::parse_config;
use kconform_harness::kernels::debian::{DebianKernel, Fetcher};
use kconform_harness::kernels::{check_image, KernelSpec};
use kconform_harness::util::{sha256_config, sha256_file};

use crate::{kconform, read_report, Env};

const FILTER: &str = "tsync/ancestors";

/// The packages `parts` (name prefixes) of the kernel `debian:alias`
/// resolves to, as Debian ships them: downloaded once into
/// target/kconform-vm-packages/NAME_VERSION/ with the debian fetcher's
/// private apt; and the fetcher's own unpacking of them, to compare with.
fn from_archive(
    env: &Env,
    alias: &str,
    parts: &[&str],
) -> Result<(Vec<PathBuf>, PathBuf, DebianKernel), String> {
    let fetcher = Fetcher::new(env.resolver.cache_root.clone(), env.resolver.offline);
    let k = fetcher.fetch(alias).map_err(|e| e.to_string())?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/kconform-vm-packages")
        .join(format!("{}_{}", k.name, k.version));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let conf = env
        .resolver
        .cache_root
        .join("debian/apt")
        .join(&k.suite)
        .join("apt.conf");
    let apt = |args: &[&str]| {
        Command::new(args[0])
            .args(&args[1..])
            .env("APT_CONFIG", &conf)
            .current_dir(&dir)
            .output()
            .map_err(|e| e.to_string())
    };
    let mut debs = Vec::new();
    for part in parts {
        let pkg = format!("{part}{}", k.name);
        let prefix = format!("{pkg}_{}_", k.version.replace(':', "%3a"));
        let existing = || {
            std::fs::read_dir(&dir).ok()?.flatten().find_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                (n.starts_with(&prefix) && n.ends_with(".deb")).then(|| e.path())
            })
        };
        if let Some(deb) = existing() {
            debs.push(deb);
            continue;
        }
        let pin = format!("{pkg}={}", k.version);
        let mut out = apt(&["apt-get", "download", "-qq", &pin])?;
        // The fetcher answers from its cache for a day; the lists may be older.
        if !out.status.success() {
            apt(&["apt-get", "update", "-qq"])?;
            out = apt(&["apt-get", "download", "-qq", &pin])?;
        }
        debs.push(existing().ok_or(format!(
            "apt-get download {pin} left no .deb in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ))?);
    }
    Ok((debs, dir, k))
}

/// Boot `spec` through `kconform run` (with `cache` as its cache, when
/// given): every instance passes, and the report says the image is
/// `image` and its config came from `config_from`.
fn runs_clean(
    spec: &str,
    cache: Option<&Path>,
    image: &Path,
    config_from: &str,
    config: &str,
) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let report_dir = dir.path().to_string_lossy();
    let mut args = vec![
        "run",
        "--kernel",
        spec,
        "--filter",
        FILTER,
        "--accel",
        "tcg",
        "--quiet",
        "--report",
        &report_dir,
    ];
    let cache = cache.map(|c| c.to_string_lossy());
    if let Some(c) = &cache {
        args.extend(["--cache", c]);
    }
    let (code, out) = kconform(&args);
    let report = read_report(dir.path(), spec)?;
    let k = &report.kernel;
    let all_pass =
        !report.results.is_empty() && report.results.iter().all(|r| r.status == Status::Pass);
    let ok = code == 0
        && all_pass
        && k.image_sha256 == sha256_file(image)
        && k.config_source.as_deref() == Some(config_from)
        && k.config_sha256 == Some(sha256_config(&parse_config(config)));
    ok.then_some(()).ok_or(format!(
        "exit {code}; {} results, all pass: {all_pass}; image {:?} (want {:?}); config {:?} {:?}\n{out}",
        report.results.len(),
        k.image_sha256,
        sha256_file(image),
        k.config_source,
        k.config_sha256,
    ))
}

/// bookworm's linux-image-*-cloud-amd64 .deb as the kernel: resolved to
/// the very vmlinuz and config Debian's fetcher unpacks from it, and booted.
pub(crate) fn debian_package_boots(env: &Env) -> Result<(), String> {
    let (debs, _, k) = from_archive(env, "bookworm", &["linux-image-"])?;
    let deb = debs[0].clone();
    let spec = KernelSpec::parse(&deb.to_string_lossy()).map_err(|e| e.to_string())?;
    if spec != KernelSpec::Package(deb.clone()) {
        return Err(format!("{} parsed as {spec:?}", deb.display()));
    }
    let target = env
        .resolver
        .resolve(&spec, &|_| {})
        .map_err(|e| e.to_string())?;
    check_image(&target.image).map_err(|e| e.to_string())?;
    let config_path = k.config.as_ref().ok_or("the fetcher found no config")?;
    let config = std::fs::read_to_string(config_path).map_err(|e| e.to_string())?;
    let label = format!("{} {}", k.package, k.version);
    let found = target.config.as_ref().map(|(from, c)| (from.as_str(), c));
    if sha256_file(&target.image) != sha256_file(&k.image)
        || found != Some((label.as_str(), &parse_config(&config)))
        || !target.source.starts_with(&label)
    {
        return Err(format!(
            "{} resolved to {} from {} with config {:?}; Debian's fetcher has {}",
            deb.display(),
            target.image.display(),
            target.source,
            target.config.as_ref().map(|(f, c)| (f, c.len())),
            k.image.display()
        ));
    }
    runs_clean(&deb.to_string_lossy(), None, &k.image, &label, &config)
}

/// sid's kernel as Debian splits it: an empty linux-image-*, the vmlinuz
/// in linux-binary-*, the config in linux-base-*. The directory of the
/// three resolves to the fetcher's vmlinuz and config, and boots; the
/// empty package alone is refused with what it holds.
pub(crate) fn sid_split_boots(env: &Env) -> Result<(), String> {
    let parts = ["linux-image-", "linux-binary-", "linux-base-"];
    let (debs, dir, k) = from_archive(env, "sid", &parts)?;
    let config_path = k.config.as_ref().ok_or("the fetcher found no config")?;
    let config = std::fs::read_to_string(config_path).map_err(|e| e.to_string())?;
    let (n, v) = (&k.name, &k.version);
    let base = format!("linux-base-{n} {v}");
    let spec = KernelSpec::parse(&dir.to_string_lossy()).map_err(|e| e.to_string())?;
    let target = env
        .resolver
        .resolve(&spec, &|_| {})
        .map_err(|e| e.to_string())?;
    let source = format!(
        "linux-binary-{n} {v}, config from {base} ({})",
        dir.display()
    );
    let found = target.config.as_ref().map(|(from, c)| (from.as_str(), c));
    if spec != KernelSpec::Package(dir.clone())
        || sha256_file(&target.image) != sha256_file(&k.image)
        || found != Some((base.as_str(), &parse_config(&config)))
        || target.source != source
    {
        return Err(format!(
            "{spec:?} resolved to {} from {} with config {:?}; Debian's fetcher has {}",
            target.image.display(),
            target.source,
            target.config.as_ref().map(|(f, c)| (f, c.len())),
            k.image.display()
        ));
    }
    let empty = KernelSpec::parse(&debs[0].to_string_lossy()).map_err(|e| e.to_string())?;
    let refused = env
        .resolver
        .resolve(&empty, &|_| {})
        .err()
        .map(|e| e.to_string());
    let holds = format!("linux-image-{n} {v} holds no kernel image");
    if !refused.as_deref().is_some_and(|e| e.starts_with(&holds)) {
        return Err(format!("{} alone: {refused:?}", debs[0].display()));
    }
    runs_clean(&dir.to_string_lossy(), None, &k.image, &base, &config)
}

/// An .rpm shaped like Fedora's kernel-core (/lib/modules/REL/vmlinuz and
/// config), built with rpmbuild around bookworm's kernel: booted.
pub(crate) fn rpm_boots(env: &Env) -> Result<(), String> {
    let (_, _, k) = from_archive(env, "bookworm", &["linux-image-"])?;
    let config_path = k.config.as_ref().ok_or("the fetcher found no config")?;
    let config = std::fs::read_to_string(config_path).map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let rpm = build_rpm(dir.path(), &k.name, &k.image, config_path)?;
    let spec = rpm.to_string_lossy().into_owned();
    let file = rpm.file_name().unwrap_or_default().to_string_lossy();
    // rpmbuild stamps each build: a cache of its own, or every test run
    // would leave another unpacked kernel in the user's.
    let cache = dir.path().join("cache");
    runs_clean(&spec, Some(&cache), &k.image, &file, &config)
}

/// kernel-core-REL.x86_64.rpm holding /lib/modules/REL/{vmlinuz,config}.
fn build_rpm(dir: &Path, release: &str, image: &Path, config: &Path) -> Result<PathBuf, String> {
    let top = dir.join("rpmbuild");
    let sources = top.join("SOURCES");
    std::fs::create_dir_all(&sources).map_err(|e| e.to_string())?;
    for (from, to) in [(image, "vmlinuz"), (config, "config")] {
        std::fs::copy(from, sources.join(to)).map_err(|e| e.to_string())?;
    }
    // rpm versions take no '-'.
    let version = release.split('-').next().unwrap_or("0");
    let spec = format!(
        "Name: kernel-core
Version: {version}
Release: 1
Summary: bookworm's cloud kernel, packaged as Fedora packages its kernels
License: GPL-2.0-only
BuildArch: x86_64
AutoReqProv: no
%global __os_install_post %{{nil}}
%global debug_package %{{nil}}
%description
The vmlinuz and config of {release}, for kconform's tests.
%install
mkdir -p %{{buildroot}}/lib/modules/{release}
cp %{{_sourcedir}}/vmlinuz %{{_sourcedir}}/config %{{buildroot}}/lib/modules/{release}/
%files
/lib/modules/{release}
"
    );
    let spec_file = dir.join("kernel-core.spec");
    std::fs::write(&spec_file, spec).map_err(|e| e.to_string())?;
    let out = Command::new("rpmbuild")
        .arg("-bb")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg(&spec_file)
        .output()
        .map_err(|e| format!("rpmbuild (apt-get install rpm): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "rpmbuild failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let rpm = top.join(format!("RPMS/x86_64/kernel-core-{version}-1.x86_64.rpm"));
    let to = dir.join(rpm.file_name().unwrap_or_default());
    std::fs::rename(&rpm, &to).map_err(|e| format!("{}: {e}", rpm.display()))?;
    Ok(to)
}

/// Without rpm2cpio on PATH, `kconform boot` of an .rpm says which Debian
/// package to install, and cannot test (125).
pub(crate) fn missing_unpacker_names_its_package(env: &Env) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).map_err(|e| e.to_string())?;
    let qemu = env.settings.qemu.binary.clone();
    std::os::unix::fs::symlink(&qemu, bin.join("qemu-system-x86_64")).map_err(|e| e.to_string())?;
    let rpm = dir.path().join("kernel-core-6.1.0-1.x86_64.rpm");
    std::fs::write(&rpm, "not read: rpm2cpio is missing").map_err(|e| e.to_string())?;
    let out = Command::new(env!("CARGO_BIN_EXE_kconform"))
        .args(["boot", "--accel", "tcg", "--kernel"])
        .arg(&rpm)
        .env("PATH", &bin)
        .env("KCONFORM_GUEST", &env.guest.binary)
        .env("KCONFORM_CACHE", dir.path().join("cache"))
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stderr);
    let ok = out.status.code() == Some(125)
        && text.contains(
            "`rpm2cpio` is not installed; .rpm kernels are unpacked with it (apt-get install rpm2cpio)",
        );
    ok.then_some(())
        .ok_or(format!("exit {:?}: {text}", out.status.code()))
}
