//! Kernels from distribution packages: a `.deb` (Debian's and Ubuntu's
//! `linux-image-*`), an `.rpm` (Fedora's, RHEL's and CentOS Stream's
//! `kernel-core`), or a directory of them, which together make one kernel
//! whose parts may be split: sid's `linux-image-*` is empty, its vmlinuz is
//! in `linux-binary-*` and its config in `linux-base-*`; Ubuntu keeps the
//! config in `linux-modules-*`.
//!
//! `dpkg-deb -x` unpacks a .deb, `rpm2cpio | cpio` an .rpm, each package
//! into its own tree, so every part is told by the package that held it.
//! The image is `boot/vmlinuz-REL` or `[usr/]lib/modules/REL/vmlinuz`,
//! the config `boot/config-REL` or `[usr/]lib/modules/REL/config` of the
//! same release; the config drives the preflight as a `debian:` kernel's does.
//!
//! Under `<cache root>/packages/`:
//!
//! - `<sha256 of the packages' contents>/{vmlinuz,config,meta.json}`:
//!   appears whole, by rename, and serves the same packages again
//! - `tmp/`: packages being unpacked

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use kconform_core::kernel::parse_config;
use serde::{Deserialize, Serialize};

use super::{check_image, BootTarget, SpecError};

/// Files listed when a package holds no kernel.
const LISTED: usize = 20;
/// Scratch directories older than this were left by killed processes.
const STALE: Duration = Duration::from_secs(24 * 3600);
/// Bump when what an entry holds changes, so old entries are not read.
const LAYOUT: &str = "kconform-packages-1";

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{} holds no .deb or .rpm package: put the kernel's packages in it", .dir.display())]
    NoPackages { dir: PathBuf },
    #[error("`{tool}` is not installed; {format} kernels are unpacked with it (apt-get install {package})")]
    ToolMissing {
        tool: &'static str,
        package: &'static str,
        format: &'static str,
    },
    #[error("`{command}` failed ({status}): is {} a {format} package?\n{stderr}", .path.display())]
    Unpack {
        command: String,
        status: String,
        stderr: String,
        path: PathBuf,
        format: &'static str,
    },
    #[error("{} {} no kernel image (boot/vmlinuz-*, lib/modules/*/vmlinuz or usr/lib/modules/*/vmlinuz); {}; the image is in Debian's and Ubuntu's linux-image-* (sid's in linux-binary-*) and Fedora's kernel-core: give that package, or a directory with it and the package of its config", .packages.join(", "), if .packages.len() == 1 { "holds" } else { "hold" }, holdings(.files, *.total))]
    NoImage {
        packages: Vec<String>,
        files: Vec<String>,
        total: usize,
    },
    #[error("{} hold several kernels: {}; give a directory with the packages of one", .packages.join(", "), .images.join(", "))]
    SeveralImages {
        packages: Vec<String>,
        images: Vec<String>,
    },
    #[error(transparent)]
    Image(#[from] SpecError),
    #[error("{what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn holdings(files: &[String], total: usize) -> String {
    match total {
        0 => "it holds no files".into(),
        n if n > files.len() => format!(
            "it holds {} and {} more files",
            files.join(", "),
            n - files.len()
        ),
        _ => format!("it holds {}", files.join(", ")),
    }
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> PackageError {
    let path = path.to_path_buf();
    move |source| PackageError::Io { what, path, source }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Deb,
    Rpm,
}

impl Format {
    pub fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "deb" => Some(Format::Deb),
            "rpm" => Some(Format::Rpm),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Deb => ".deb",
            Format::Rpm => ".rpm",
        }
    }
}

/// A program that unpacks packages, and the Debian package that has it.
struct Tool {
    program: &'static str,
    package: &'static str,
}

const DPKG_DEB: Tool = Tool {
    program: "dpkg-deb",
    package: "dpkg",
};
const RPM2CPIO: Tool = Tool {
    program: "rpm2cpio",
    package: "rpm2cpio",
};
const CPIO: Tool = Tool {
    program: "cpio",
    package: "cpio",
};

/// Whether a kernel spec names packages: a .deb or .rpm path, or a
/// directory holding some.
pub fn names_packages(path: &Path) -> bool {
    Format::of(path).is_some() || (path.is_dir() && packages_in(path).is_ok_and(|p| !p.is_empty()))
}

/// The .deb and .rpm files directly in `dir`, in name order.
fn packages_in(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| Format::of(p).is_some() && p.is_file())
        .collect();
    v.sort();
    Ok(v)
}

/// What an entry of the cache records.
#[derive(Serialize, Deserialize)]
struct Meta {
    layout: String,
    release: String,
    /// Each package as `name version`, or its file name.
    packages: Vec<String>,
    image_from: String,
    config_from: Option<String>,
}

/// A spec naming packages, as a kernel ready to boot: unpacked now, or
/// found in the cache from an earlier run.
pub fn resolve(
    path: &Path,
    spec: String,
    cache_root: &Path,
    say: &dyn Fn(&str),
) -> Result<BootTarget, PackageError> {
    let files = if path.is_dir() {
        let files = packages_in(path).map_err(io_err("cannot read", path))?;
        if files.is_empty() {
            return Err(PackageError::NoPackages { dir: path.into() });
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let root = cache_root.join("packages");
    let dest = root.join(key(&files)?);
    let meta = match read_entry(&dest) {
        Some(m) => m,
        None => {
            say("unpacking the package");
            unpack(&files, &root, &dest)?
        }
    };
    let config = match &meta.config_from {
        Some(from) => {
            let c = dest.join("config");
            let text = fs::read_to_string(&c).map_err(io_err("cannot read", &c))?;
            Some((from.clone(), parse_config(&text)))
        }
        None => {
            say(&format!(
                "no config for {} in the package, so none rules instances out before booting (sid keeps it in linux-base-*, Ubuntu in linux-modules-*: give a directory with both packages)",
                meta.release
            ));
            None
        }
    };
    let source = match &meta.config_from {
        Some(c) if *c != meta.image_from => format!(
            "{}, config from {} ({})",
            meta.image_from,
            c,
            path.display()
        ),
        _ => format!("{} ({})", meta.image_from, path.display()),
    };
    Ok(BootTarget {
        spec,
        image: dest.join("vmlinuz"),
        source,
        config,
    })
}

/// The cache key: the packages' contents, whatever their names or dates.
fn key(files: &[PathBuf]) -> Result<String, PackageError> {
    use sha2::{Digest, Sha256};
    let mut sums = Vec::new();
    for f in files {
        let mut file = fs::File::open(f).map_err(io_err("cannot read", f))?;
        let mut h = Sha256::new();
        io::copy(&mut file, &mut h).map_err(io_err("cannot read", f))?;
        sums.push(h.finalize());
    }
    sums.sort();
    let mut h = Sha256::new();
    h.update(LAYOUT);
    for s in sums {
        h.update(s);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn read_entry(dir: &Path) -> Option<Meta> {
    let meta: Meta = serde_json::from_slice(&fs::read(dir.join("meta.json")).ok()?).ok()?;
    (meta.layout == LAYOUT && dir.join("vmlinuz").is_file()).then_some(meta)
}

/// A part of a kernel found in an unpacked package.
pub(super) struct Found {
    pub(super) release: String,
    pub(super) path: PathBuf,
    /// Index of the package that held it.
    pub(super) from: usize,
}

fn unpack(files: &[PathBuf], root: &Path, dest: &Path) -> Result<Meta, PackageError> {
    let scratch = scratch(&root.join("tmp"))?;
    let entry = scratch.path().join("entry");
    fs::create_dir(&entry).map_err(io_err("cannot create", &entry))?;
    let (mut names, mut trees) = (Vec::new(), Vec::new());
    let (mut images, mut configs) = (Vec::new(), Vec::new());
    for (i, file) in files.iter().enumerate() {
        let tree = scratch.path().join(format!("{i}"));
        fs::create_dir(&tree).map_err(io_err("cannot create", &tree))?;
        names.push(unpack_one(file, &tree)?);
        let (im, co) = parts(&tree, i);
        images.extend(im);
        configs.extend(co);
        trees.push(tree);
    }
    let mut releases: Vec<String> = Vec::new();
    for f in &images {
        let r = format!("{} ({})", f.release, names[f.from]);
        if !releases.contains(&r) {
            releases.push(r);
        }
    }
    let image = match images.first() {
        None => {
            let mut held = Vec::new();
            for t in &trees {
                held.extend(files_under(t, t));
            }
            let total = held.len();
            held.truncate(LISTED);
            return Err(PackageError::NoImage {
                packages: names,
                files: held,
                total,
            });
        }
        Some(first) if images.iter().any(|f| f.release != first.release) => {
            return Err(PackageError::SeveralImages {
                packages: names,
                images: releases,
            });
        }
        Some(first) => first,
    };
    check_image(&image.path)?;
    let config = configs.iter().find(|c| c.release == image.release);
    let moved = |from: &Path, to: &str| -> Result<(), PackageError> {
        fs::rename(from, entry.join(to)).map_err(io_err("cannot move", from))
    };
    moved(&image.path, "vmlinuz")?;
    if let Some(c) = config {
        moved(&c.path, "config")?;
    }
    let meta = Meta {
        layout: LAYOUT.into(),
        release: image.release.clone(),
        image_from: names[image.from].clone(),
        config_from: config.map(|c| names[c.from].clone()),
        packages: names,
    };
    let json = serde_json::to_vec_pretty(&meta).expect("plain struct");
    let m = entry.join("meta.json");
    crate::util::write_atomic(&m, &json).map_err(io_err("cannot write", &m))?;
    // Losing the race to a concurrent run leaves its equal entry.
    if let Err(e) = fs::rename(&entry, dest) {
        if read_entry(dest).is_none() {
            return Err(PackageError::Io {
                what: "cannot create",
                path: dest.into(),
                source: e,
            });
        }
    }
    Ok(meta)
}

/// Unpack one package into `tree`; its name and version as it states
/// them (a .deb), or its file name (an .rpm, whose name rpm2cpio drops).
fn unpack_one(file: &Path, tree: &Path) -> Result<String, PackageError> {
    let format = Format::of(file).unwrap_or(Format::Deb);
    match format {
        Format::Deb => {
            let mut x = Command::new(DPKG_DEB.program);
            run(&DPKG_DEB, x.arg("-x").arg(file).arg(tree), file, format)?;
            let mut show = Command::new(DPKG_DEB.program);
            let out = run(
                &DPKG_DEB,
                show.args(["--show", "--showformat=${Package} ${Version}"])
                    .arg(file),
                file,
                format,
            )?;
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
        Format::Rpm => {
            rpm_unpack(file, tree)?;
            Ok(file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default())
        }
    }
}

/// `rpm2cpio FILE | cpio -idm` in `tree`; an interrupt stops both.
fn rpm_unpack(file: &Path, tree: &Path) -> Result<(), PackageError> {
    let format = Format::Rpm;
    // A file, not a pipe: rpm2cpio's complaints must not block it while
    // cpio's output is read.
    let mut errors = tempfile::tempfile().map_err(io_err("cannot create a file in", tree))?;
    let mut r2c = Command::new(RPM2CPIO.program);
    r2c.arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(
            errors
                .try_clone()
                .map_err(io_err("cannot create a file in", tree))?,
        );
    let mut r2c = r2c.spawn().map_err(spawn_err(&RPM2CPIO, format))?;
    let payload = r2c.stdout.take().expect("piped");
    let mut cpio = Command::new(CPIO.program);
    cpio.args(["-idm", "--quiet", "--no-absolute-filenames"])
        .current_dir(tree)
        .stdin(payload);
    let shown = describe(&cpio);
    let out = crate::util::output_interruptibly(&mut cpio);
    // cpio is done (or failed, or was stopped): rpm2cpio has nothing left
    // to write to.
    let r2c_status = if out.is_ok() {
        crate::util::wait_interruptibly(r2c)
    } else {
        let _ = r2c.kill();
        r2c.wait()
    };
    let out = out.map_err(spawn_err(&CPIO, format))?;
    let r2c_status = r2c_status.map_err(io_err("cannot run", Path::new(RPM2CPIO.program)))?;
    if !r2c_status.success() {
        use io::Seek;
        let mut text = String::new();
        let _ = errors.rewind();
        let _ = errors.read_to_string(&mut text);
        return Err(PackageError::Unpack {
            command: format!("rpm2cpio {}", file.display()),
            status: r2c_status.to_string(),
            stderr: indent_tail(&text),
            path: file.into(),
            format: format.name(),
        });
    }
    if !out.status.success() {
        return Err(PackageError::Unpack {
            command: format!("rpm2cpio {} | {shown}", file.display()),
            status: out.status.to_string(),
            stderr: indent_tail(&String::from_utf8_lossy(&out.stderr)),
            path: file.into(),
            format: format.name(),
        });
    }
    Ok(())
}

fn run(
    tool: &Tool,
    cmd: &mut Command,
    file: &Path,
    format: Format,
) -> Result<Output, PackageError> {
    let shown = describe(cmd);
    let out = crate::util::output_interruptibly(cmd.stdin(Stdio::null()))
        .map_err(spawn_err(tool, format))?;
    if out.status.success() {
        return Ok(out);
    }
    Err(PackageError::Unpack {
        command: shown,
        status: out.status.to_string(),
        stderr: indent_tail(&String::from_utf8_lossy(&out.stderr)),
        path: file.into(),
        format: format.name(),
    })
}

fn spawn_err(tool: &Tool, format: Format) -> impl FnOnce(io::Error) -> PackageError {
    let (program, package) = (tool.program, tool.package);
    move |e| match e.kind() {
        io::ErrorKind::NotFound => PackageError::ToolMissing {
            tool: program,
            package,
            format: format.name(),
        },
        _ => PackageError::Io {
            what: "cannot run",
            path: program.into(),
            source: e,
        },
    }
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

fn indent_tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(12)..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Images and configs in the unpacked package `from`, in the order they
/// are looked for: /boot/{vmlinuz,config}-REL (up to trixie), then
/// [usr/]lib/modules/REL/{vmlinuz,config}. Regular files only: an
/// absolute symlink would lead into the host.
pub(super) fn parts(tree: &Path, from: usize) -> (Vec<Found>, Vec<Found>) {
    let found = |release: &str, path: PathBuf| Found {
        release: release.to_string(),
        path,
        from,
    };
    let is_file = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_file());
    let (mut images, mut configs) = (Vec::new(), Vec::new());
    for p in crate::util::sorted_entries(&tree.join("boot")) {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        if !is_file(&p) {
            continue;
        }
        if let Some(rel) = name.strip_prefix("vmlinuz-") {
            images.push(found(rel, p.clone()));
        } else if let Some(rel) = name.strip_prefix("config-") {
            configs.push(found(rel, p.clone()));
        }
    }
    for dir in ["usr/lib/modules", "lib/modules"] {
        for rel in crate::util::sorted_entries(&tree.join(dir)) {
            let release = rel.file_name().unwrap_or_default().to_string_lossy();
            for (file, into) in [("vmlinuz", &mut images), ("config", &mut configs)] {
                if is_file(&rel.join(file)) {
                    into.push(found(&release, rel.join(file)));
                }
            }
        }
    }
    (images, configs)
}

/// Every file (not directory) under `dir`, relative to `base`, sorted.
fn files_under(dir: &Path, base: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for p in crate::util::sorted_entries(dir) {
        let real_dir = fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir());
        if real_dir {
            out.extend(files_under(&p, base));
        } else if let Ok(rel) = p.strip_prefix(base) {
            out.push(format!("/{}", rel.display()));
        }
    }
    out
}

/// A working directory under `parent`, removed however the unpacking
/// ends; ones left by killed processes are swept after a day.
fn scratch(parent: &Path) -> Result<tempfile::TempDir, PackageError> {
    crate::util::scratch_dir(parent, "unpack-", STALE)
        .map_err(io_err("cannot create a directory in", parent))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::kernels::debian::tests::bzimage;
    use crate::kernels::KernelSpec;

    /// A .deb built by dpkg-deb from `files` (path in the package, content;
    /// `None`: a bzImage).
    fn deb(dir: &Path, name: &str, version: &str, files: &[(&str, Option<&str>)]) -> PathBuf {
        let tree = tempfile::tempdir().unwrap();
        fs::create_dir(tree.path().join("DEBIAN")).unwrap();
        fs::write(
            tree.path().join("DEBIAN/control"),
            format!("Package: {name}\nVersion: {version}\nArchitecture: amd64\nMaintainer: kconform <k@example.org>\nDescription: a test package\n"),
        )
        .unwrap();
        for (path, content) in files {
            let p = tree.path().join(path);
            match content {
                Some(c) => {
                    fs::create_dir_all(p.parent().unwrap()).unwrap();
                    fs::write(&p, c).unwrap();
                }
                None => bzimage(&p),
            }
        }
        let out = dir.join(format!("{name}_{version}_amd64.deb"));
        let st = Command::new("dpkg-deb")
            .args(["--build", "--root-owner-group", "-Zgzip"])
            .arg(tree.path())
            .arg(&out)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        out
    }

    /// An .rpm built by rpmbuild holding `files` (as [`deb`]).
    fn rpm(dir: &Path, name: &str, files: &[(&str, Option<&str>)]) -> PathBuf {
        let top = tempfile::tempdir().unwrap();
        let sources = top.path().join("SOURCES");
        let mut install = String::new();
        for (i, (path, content)) in files.iter().enumerate() {
            let src = sources.join(format!("f{i}"));
            match content {
                Some(c) => {
                    fs::create_dir_all(&sources).unwrap();
                    fs::write(&src, c).unwrap();
                }
                None => bzimage(&src),
            }
            let to = Path::new("%{buildroot}").join(path);
            install += &format!(
                "mkdir -p {}\ncp %{{_sourcedir}}/f{i} {}\n",
                to.parent().unwrap().display(),
                to.display()
            );
        }
        let list: String = files.iter().map(|(p, _)| format!("/{p}\n")).collect();
        let spec = top.path().join("k.spec");
        fs::write(
            &spec,
            format!("Name: {name}\nVersion: 6.1.0\nRelease: 1\nSummary: test\nLicense: GPL-2.0-only\nBuildArch: x86_64\nAutoReqProv: no\n%global __os_install_post %{{nil}}\n%global debug_package %{{nil}}\n%description\ntest\n%install\n{install}%files\n{list}"),
        )
        .unwrap();
        let out = Command::new("rpmbuild")
            .arg("-bb")
            .arg("--define")
            .arg(format!("_topdir {}", top.path().display()))
            .arg(&spec)
            .output()
            .expect("rpmbuild (apt-get install rpm)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let built = top
            .path()
            .join(format!("RPMS/x86_64/{name}-6.1.0-1.x86_64.rpm"));
        let to = dir.join(built.file_name().unwrap());
        fs::copy(&built, &to).unwrap();
        to
    }

    /// What resolving said.
    #[derive(Default)]
    struct Log(RefCell<Vec<String>>);

    impl Log {
        fn say(&self, s: &str) {
            self.0.borrow_mut().push(s.to_string())
        }
    }

    const SECCOMP: &str = "CONFIG_SECCOMP=y\nCONFIG_SECCOMP_FILTER=y\n";

    #[test]
    fn a_deb_resolves_to_its_image_and_config_and_is_unpacked_once() {
        let (t, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let rel = "6.1.0-9-amd64";
        let p = deb(
            t.path(),
            &format!("linux-image-{rel}"),
            "6.1.1-1",
            &[
                (&format!("boot/vmlinuz-{rel}"), None),
                (&format!("boot/config-{rel}"), Some(SECCOMP)),
                (&format!("boot/System.map-{rel}"), Some("")),
            ],
        );
        let spec = KernelSpec::parse(&p.to_string_lossy()).unwrap();
        assert_eq!(spec, KernelSpec::Package(p.clone()));
        assert_eq!(spec.to_string(), p.display().to_string());
        let log = Log::default();
        let k = resolve(&p, spec.to_string(), cache.path(), &|s| log.say(s)).unwrap();
        check_image(&k.image).unwrap();
        let (from, config) = k.config.unwrap();
        assert_eq!(from, "linux-image-6.1.0-9-amd64 6.1.1-1");
        assert_eq!(
            config.get("CONFIG_SECCOMP_FILTER").map(String::as_str),
            Some("y")
        );
        assert_eq!(
            k.source,
            format!("linux-image-6.1.0-9-amd64 6.1.1-1 ({})", p.display())
        );
        assert_eq!(*log.0.borrow(), ["unpacking the package"]);

        // Again, under another name: the same contents, from the cache.
        let renamed = t.path().join("again.deb");
        fs::rename(&p, &renamed).unwrap();
        let log = Log::default();
        let again = resolve(&renamed, "again".into(), cache.path(), &|s| log.say(s)).unwrap();
        assert_eq!(again.image, k.image);
        assert!(log.0.borrow().is_empty(), "{:?}", log.0.borrow());
        let tmp = cache.path().join("packages/tmp");
        assert_eq!(fs::read_dir(tmp).unwrap().count(), 0);
    }

    #[test]
    fn a_matrix_file_names_packages() {
        let t = tempfile::tempdir().unwrap();
        let m = t.path().join("matrix.toml");
        fs::write(
            &m,
            format!(
                "kernels = [\"/srv/k/kernel-core-6.12.0-1.el10.x86_64.rpm\", \"{}\"]\n",
                t.path().display()
            ),
        )
        .unwrap();
        fs::write(t.path().join("linux-image-6.1.0-9-amd64_1_amd64.deb"), "").unwrap();
        assert_eq!(
            crate::kernels::load_matrix(&m).unwrap(),
            [
                KernelSpec::Package("/srv/k/kernel-core-6.12.0-1.el10.x86_64.rpm".into()),
                KernelSpec::Package(t.path().into())
            ]
        );
    }

    #[test]
    fn sids_split_packages_merge_in_a_directory() {
        let (t, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let rel = "7.2.13+deb14-cloud-amd64";
        let modules = format!("usr/lib/modules/{rel}");
        let image = deb(
            t.path(),
            &format!("linux-image-{rel}"),
            "7.2.13-1",
            &[(
                &format!("usr/share/lintian/overrides/linux-image-{rel}"),
                Some("x"),
            )],
        );
        let binary = deb(
            t.path(),
            &format!("linux-binary-{rel}"),
            "7.2.13-1",
            &[(&format!("{modules}/vmlinuz"), None)],
        );
        deb(
            t.path(),
            &format!("linux-base-{rel}"),
            "7.2.13-1",
            &[
                (&format!("{modules}/config"), Some(SECCOMP)),
                (&format!("{modules}/System.map"), Some("")),
            ],
        );
        assert_eq!(
            KernelSpec::parse(&t.path().to_string_lossy()),
            Ok(KernelSpec::Package(t.path().into()))
        );
        let k = resolve(t.path(), "sid".into(), cache.path(), &|_| {}).unwrap();
        check_image(&k.image).unwrap();
        assert_eq!(
            k.source,
            format!(
                "linux-binary-{rel} 7.2.13-1, config from linux-base-{rel} 7.2.13-1 ({})",
                t.path().display()
            )
        );
        assert_eq!(k.config.unwrap().0, format!("linux-base-{rel} 7.2.13-1"));

        // The image's package alone boots, without a config to preflight.
        let log = Log::default();
        let k = resolve(&binary, "b".into(), cache.path(), &|s| log.say(s)).unwrap();
        assert!(k.config.is_none());
        assert!(
            log.0
                .borrow()
                .iter()
                .any(|l| l.starts_with(&format!("no config for {rel}"))),
            "{:?}",
            log.0.borrow()
        );
        // The empty linux-image-* alone is refused, saying what it holds.
        let e = resolve(&image, "i".into(), cache.path(), &|_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("linux-image-{rel} 7.2.13-1 holds no kernel image"))
                && e.contains(&format!(
                    "it holds /usr/share/lintian/overrides/linux-image-{rel};"
                ))
                && e.contains("(sid's in linux-binary-*)"),
            "{e}"
        );
    }

    #[test]
    fn two_kernels_in_one_directory_are_refused() {
        let (t, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for rel in ["6.1.0-9-amd64", "6.1.0-9-cloud-amd64"] {
            let image = format!("boot/vmlinuz-{rel}");
            deb(
                t.path(),
                &format!("linux-image-{rel}"),
                "1",
                &[(&image, None)],
            );
        }
        let e = resolve(t.path(), "d".into(), cache.path(), &|_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("hold several kernels: 6.1.0-9-amd64 (linux-image-6.1.0-9-amd64 1), 6.1.0-9-cloud-amd64 (linux-image-6.1.0-9-cloud-amd64 1)"),
            "{e}"
        );
    }

    #[test]
    fn what_is_not_a_kernel_package_is_refused() {
        let (t, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let many: Vec<(String, Option<&str>)> = (0..25)
            .map(|i| (format!("usr/share/doc/hello/f{i:02}"), Some("hi")))
            .collect();
        let many: Vec<(&str, Option<&str>)> = many.iter().map(|(p, c)| (p.as_str(), *c)).collect();
        let hello = deb(t.path(), "hello", "2.10-3", &many);
        let e = resolve(&hello, "h".into(), cache.path(), &|_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("hello 2.10-3 holds no kernel image")
                && e.contains("/usr/share/doc/hello/f19 and 5 more files;"),
            "{e}"
        );
        // A vmlinuz QEMU cannot boot as x86 (another architecture's).
        let arm = deb(
            t.path(),
            "linux-image-6.1.0-9-arm64",
            "1",
            &[("boot/vmlinuz-6.1.0-9-arm64", Some("ARMd"))],
        );
        let e = resolve(&arm, "a".into(), cache.path(), &|_| {}).unwrap_err();
        assert!(
            matches!(e, PackageError::Image(SpecError::NotAnImage { .. })),
            "{e}"
        );
        assert!(!cache
            .path()
            .join("packages")
            .read_dir()
            .unwrap()
            .any(|e| e.unwrap().file_name() != "tmp"));
        // Not a package at all.
        let fake = t.path().join("fake.deb");
        fs::write(&fake, "not a package").unwrap();
        let e = resolve(&fake, "f".into(), cache.path(), &|_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("`dpkg-deb -x ")
                && e.contains(&format!("is {} a .deb package?", fake.display())),
            "{e}"
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(!names_packages(empty.path()));
        assert_eq!(
            KernelSpec::parse(&empty.path().to_string_lossy()),
            Ok(KernelSpec::Image(empty.path().into()))
        );
        assert!(resolve(empty.path(), "e".into(), cache.path(), &|_| {})
            .unwrap_err()
            .to_string()
            .ends_with("holds no .deb or .rpm package: put the kernel's packages in it"));
    }

    #[test]
    fn an_rpm_resolves_and_one_without_a_kernel_is_refused() {
        let (t, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let rel = "6.1.0-9.fc99.x86_64";
        let core = rpm(
            t.path(),
            "kernel-core",
            &[
                (&format!("lib/modules/{rel}/vmlinuz"), None),
                (&format!("lib/modules/{rel}/config"), Some(SECCOMP)),
            ],
        );
        assert_eq!(
            KernelSpec::parse(&core.to_string_lossy()),
            Ok(KernelSpec::Package(core.clone()))
        );
        let k = resolve(&core, "c".into(), cache.path(), &|_| {}).unwrap();
        check_image(&k.image).unwrap();
        let (from, config) = k.config.unwrap();
        assert_eq!(from, "kernel-core-6.1.0-1.x86_64.rpm");
        assert_eq!(config.get("CONFIG_SECCOMP").map(String::as_str), Some("y"));

        let docs = rpm(
            t.path(),
            "kernel-doc",
            &[("usr/share/doc/kernel/README", Some("hi"))],
        );
        let e = resolve(&docs, "d".into(), cache.path(), &|_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("kernel-doc-6.1.0-1.x86_64.rpm holds no kernel image")
                && e.contains("it holds /usr/share/doc/kernel/README;"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_tool_names_the_package_to_install() {
        let t = tempfile::tempdir().unwrap();
        let gone = Tool {
            program: "kconform-no-such-tool",
            package: "dpkg",
        };
        let e = run(
            &gone,
            &mut Command::new(gone.program),
            &t.path().join("x.deb"),
            Format::Deb,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "`kconform-no-such-tool` is not installed; .deb kernels are unpacked with it (apt-get install dpkg)"
        );
    }
}
