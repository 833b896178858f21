//! Building a kernel source tree for `tree:PATH` kernel specs.
//!
//! The build is out of tree (`make -C TREE O=BUILD_DIR`) in a directory
//! kept across runs, so a second run only recompiles what changed. The
//! config is `tinyconfig` with a fragment (`kernel-configs/minimal.config`)
//! merged over it; it is generated beside the real `.config` and only
//! replaces it when the text differs, because a rewritten `.config` makes
//! Kbuild re-check every object. Kconfig silently drops options whose
//! dependencies are unmet, so the generated config is checked against the
//! fragment and a dropped option is an error naming it.

mod fragment;
mod needs;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use nix::fcntl::Flock;

pub use fragment::Dropped;
use fragment::{dropped_options, list, merge_fragment, options_set, parse_fragment};
use kconform_core::kernel::Setting;
use needs::{ccache_path, have_need, missing_needs};

/// The guest runs under qemu-system-x86_64. Passed to every make: Kconfig
/// records `$(ARCH)` and would re-run when it differs between runs, and
/// `tinyconfig` with the default `ARCH=x86` picks a 32-bit kernel.
const ARCH: &str = "x86_64";
/// A second output directory, inside the build directory, where the config
/// is generated. Kconfig's config targets always write `O/.config` (6.1's
/// `tinyconfig` ignores `KCONFIG_CONFIG` halfway through), and the real
/// `.config` must stay untouched until the new text is known to differ.
const KCONFIG_DIR: &str = "kconform-kconfig";
const LOG_NAME: &str = "kconform-build.log";
const LOCK_NAME: &str = "kconform.lock";
/// Directory of ccache masquerade links (`gcc` -> ccache) put first in
/// PATH, so the compiler on make's command line stays `gcc` with or
/// without ccache and toggling it never changes a recorded command.
pub(super) const CCACHE_DIR: &str = "kconform-ccache";
const TAIL_LINES: usize = 30;

/// Variables a caller's environment could carry into make that silently
/// change what is built: an outer make's jobserver and flags, a user's
/// ARCH or cross compiler, another output or config location.
const SCRUBBED_ENV: &[&str] = &[
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEOVERRIDES",
    "GNUMAKEFLAGS",
    "ARCH",
    "SUBARCH",
    "CROSS_COMPILE",
    "CC",
    "LD",
    "HOSTCC",
    "LLVM",
    "KBUILD_OUTPUT",
    "KBUILD_EXTMOD",
    "KCONFIG_CONFIG",
    "KCONFIG_ALLCONFIG",
    "O",
    "W",
    "V",
    "C",
];

/// A kernel built from a source tree.
#[derive(Clone, Debug)]
pub struct TreeKernel {
    /// `arch/x86/boot/bzImage` in the build directory.
    pub image: PathBuf,
    /// The build directory's `.config`.
    pub config: PathBuf,
    pub build_dir: PathBuf,
    /// Everything make printed, for this build only.
    pub log: PathBuf,
    /// False when nothing needed rebuilding (the image was not rewritten).
    pub built: bool,
    /// Whether the compiler ran through ccache.
    pub ccache: bool,
    pub duration: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("tree:{path}: no such directory; give the path of a Linux kernel source tree")]
    NotADirectory { path: PathBuf },
    #[error(
        "tree:{path}: not a Linux kernel source tree ({why}); give the top directory \
         of a kernel checkout, the one holding Makefile and Kconfig"
    )]
    NotAKernelTree { path: PathBuf, why: String },
    #[error(
        "tree:{path}: the tree has been configured or built in place ({found} exists) and \
         Kbuild refuses out-of-tree builds of it; run `make -C {path} mrproper` (this deletes \
         that in-place build) or give a clean copy"
    )]
    UncleanTree { path: PathBuf, found: String },
    #[error("{path}: {why}")]
    UnusablePath { path: PathBuf, why: String },
    #[error(
        "cannot build kernels here, missing {}; install with: apt-get install {}",
        .missing.join(", "),
        .packages.join(" ")
    )]
    MissingTools {
        missing: Vec<String>,
        packages: Vec<String>,
    },
    #[error("cannot read config fragment {path}: {source}")]
    FragmentUnreadable { path: PathBuf, source: io::Error },
    #[error("config fragment {path}:{line}: {problem}")]
    FragmentSyntax {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    #[error(
        "tree:{tree}: Kconfig did not keep what {fragment} asks: {}; their dependencies are \
         unmet in this tree, or this kernel has no such option. Add the missing dependencies \
         to the fragment; the generated config is {config}",
        list(.dropped)
    )]
    OptionsDropped {
        tree: PathBuf,
        fragment: PathBuf,
        config: PathBuf,
        dropped: Vec<Dropped>,
    },
    #[error(
        "tree:{tree}: `{step}` failed; full log: {log}\n--- last lines of the log ---\n{tail}"
    )]
    BuildFailed {
        tree: PathBuf,
        step: String,
        log: PathBuf,
        tail: String,
    },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> TreeError + 'a {
    move |source| TreeError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// The fragment kconform builds with: `kernel-configs/minimal.config`.
pub fn default_fragment(repo_root: &Path) -> PathBuf {
    repo_root.join("kernel-configs").join("minimal.config")
}

/// Build (or bring up to date) the kernel in `tree` configured as
/// tinyconfig plus `fragment`, in `$KCONFORM_BUILD_DIR` or
/// `cache_root/build/<tree name>-<hash of its canonical path>`.
pub fn build(tree: &Path, fragment: &Path, cache_root: &Path) -> Result<TreeKernel, TreeError> {
    let start = Instant::now();
    let tree = check_tree(tree)?;
    let wants = load_fragment(fragment, 0)?;
    missing_needs(&BTreeMap::new(), &have_need)?;

    let build_dir = match std::env::var_os("KCONFORM_BUILD_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => build_dir_for(cache_root, &tree, fragment),
    };
    fs::create_dir_all(&build_dir).map_err(io_err("cannot create build directory", &build_dir))?;
    let build_dir = fs::canonicalize(&build_dir)
        .map_err(io_err("cannot resolve build directory", &build_dir))?;
    check_make_path(&build_dir)?;
    let _lock = lock(&build_dir)?;

    let log_path = build_dir.join(LOG_NAME);
    let mut log = Log::create(&log_path, &tree)?;
    let path_env = ccache_path(&build_dir);
    log.line(&format!(
        "tree {}, fragment {}, build dir {}, ccache {}",
        tree.display(),
        fragment.display(),
        build_dir.display(),
        if path_env.is_some() { "yes" } else { "no" },
    ))?;
    let make = |out: &Path, args: &[&str]| {
        let mut cmd = Command::new("make");
        cmd.arg("-C")
            .arg(&tree)
            .arg(concat_os("O=", out.as_os_str()))
            .arg(format!("ARCH={ARCH}"))
            .args(args)
            .stdin(Stdio::null())
            .env("LC_ALL", "C");
        for var in SCRUBBED_ENV {
            cmd.env_remove(var);
        }
        if let Some(path) = &path_env {
            cmd.env("PATH", path);
        }
        cmd
    };

    let kconfig_dir = build_dir.join(KCONFIG_DIR);
    fs::create_dir_all(&kconfig_dir).map_err(io_err("cannot create", &kconfig_dir))?;
    let new_config = kconfig_dir.join(".config");
    log.run("make tinyconfig", make(&kconfig_dir, &["tinyconfig"]))?;
    let base = fs::read_to_string(&new_config).map_err(io_err("cannot read", &new_config))?;
    fs::write(&new_config, merge_fragment(&base, &wants))
        .map_err(io_err("cannot write", &new_config))?;
    log.run("make olddefconfig", make(&kconfig_dir, &["olddefconfig"]))?;
    let generated = fs::read_to_string(&new_config).map_err(io_err("cannot read", &new_config))?;
    let options = options_set(&generated);
    let dropped = dropped_options(&options, &wants);
    if !dropped.is_empty() {
        return Err(TreeError::OptionsDropped {
            tree,
            fragment: fragment.to_path_buf(),
            config: new_config,
            dropped,
        });
    }
    missing_needs(&options, &have_need)?;

    let config = build_dir.join(".config");
    if fs::read(&config).ok().as_deref() == Some(generated.as_bytes()) {
        log.line("config unchanged")?;
    } else {
        log.line("config changed: replacing .config")?;
        // Written beside and renamed, so an interrupted run never leaves a
        // half-written .config that the next run would compare against.
        let staged = build_dir.join(".config.kconform");
        fs::write(&staged, &generated).map_err(io_err("cannot write", &staged))?;
        fs::rename(&staged, &config).map_err(io_err("cannot replace", &config))?;
    }

    let image = build_dir.join("arch/x86/boot/bzImage");
    let before = mtime(&image);
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = format!("-j{jobs}");
    log.run("make bzImage", make(&build_dir, &[&jobs, "bzImage"]))?;
    let after = mtime(&image).ok_or_else(|| TreeError::BuildFailed {
        tree: tree.clone(),
        step: "make bzImage".into(),
        log: log_path.clone(),
        tail: format!("make succeeded but left no {}", image.display()),
    })?;
    let duration = start.elapsed();
    log.line(&format!("done in {:.1} s", duration.as_secs_f64()))?;
    Ok(TreeKernel {
        image,
        config,
        build_dir,
        log: log_path,
        built: before != Some(after),
        ccache: path_env.is_some(),
        duration,
    })
}

/// The canonical path of a kernel source tree Kbuild can build out of
/// tree.
fn check_tree(tree: &Path) -> Result<PathBuf, TreeError> {
    if !tree.is_dir() {
        return Err(TreeError::NotADirectory {
            path: tree.to_path_buf(),
        });
    }
    let canon = fs::canonicalize(tree).map_err(io_err("cannot resolve", tree))?;
    let not_kernel = |why: &str| TreeError::NotAKernelTree {
        path: canon.clone(),
        why: why.into(),
    };
    let makefile = fs::read_to_string(canon.join("Makefile"))
        .map_err(|_| not_kernel("no readable Makefile"))?;
    if !makefile.lines().any(|l| l.starts_with("VERSION =")) {
        return Err(not_kernel("its Makefile has no `VERSION =` line"));
    }
    if !canon.join("Kconfig").is_file() {
        return Err(not_kernel("no Kconfig"));
    }
    if !canon.join("arch/x86").is_dir() {
        return Err(not_kernel(
            "no arch/x86, and kconform builds x86_64 kernels",
        ));
    }
    // The same markers Kbuild's outputmakefile checks, caught before a
    // minute of tinyconfig.
    for found in [".config", "include/config", "arch/x86/include/generated"] {
        if canon.join(found).exists() {
            return Err(TreeError::UncleanTree {
                path: canon,
                found: found.into(),
            });
        }
    }
    check_make_path(&canon)?;
    Ok(canon)
}

/// Kbuild's Makefile refuses source and output paths with spaces or
/// colons; say so before make does.
fn check_make_path(path: &Path) -> Result<(), TreeError> {
    if path
        .as_os_str()
        .as_bytes()
        .iter()
        .any(|b| *b == b' ' || *b == b':')
    {
        return Err(TreeError::UnusablePath {
            path: path.to_path_buf(),
            why: "Kbuild cannot build in a path with spaces or colons; use another \
                  (KCONFORM_BUILD_DIR sets the build directory)"
                .into(),
        });
    }
    Ok(())
}

/// `cache_root/build/<last component>-<8 hex digits>`: readable, and two
/// trees with the same name in different places do not share a build.
/// Another fragment's options, taken first (and overridden by the
/// including fragment's own): `# kconform-include: minimal.config`, a
/// path relative to the including fragment.
const INCLUDE: &str = "# kconform-include:";

/// A fragment's options, its includes' first; a later assignment of an
/// option replaces an earlier one.
fn load_fragment(fragment: &Path, depth: usize) -> Result<Vec<(String, Setting)>, TreeError> {
    let text = fs::read_to_string(fragment).map_err(|source| TreeError::FragmentUnreadable {
        path: fragment.to_path_buf(),
        source,
    })?;
    let syntax = |line: usize, problem: String| TreeError::FragmentSyntax {
        path: fragment.to_path_buf(),
        line,
        problem,
    };
    let mut wants: Vec<(String, Setting)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(name) = line.strip_prefix(INCLUDE) else {
            continue;
        };
        if depth >= 4 {
            return Err(syntax(n + 1, "includes nest deeper than 4".into()));
        }
        let included = fragment
            .parent()
            .unwrap_or(Path::new("."))
            .join(name.trim());
        wants.extend(load_fragment(&included, depth + 1)?);
    }
    let own = parse_fragment(&text).map_err(|(line, problem)| syntax(line, problem))?;
    for (option, want) in own {
        wants.retain(|(o, _)| *o != option);
        wants.push((option, want));
    }
    Ok(wants)
}

/// `cache_root/build/<last component>-<8 hex digits>`: readable, and two
/// trees with the same name in different places do not share a build;
/// `-<fragment>` after it for a fragment other than minimal.config, so
/// each variant keeps its own incremental build.
fn build_dir_for(cache_root: &Path, canonical_tree: &Path, fragment: &Path) -> PathBuf {
    let name = canonical_tree
        .file_name()
        .map_or_else(|| "root".into(), |n| n.to_string_lossy().into_owned());
    let hash = fnv1a(canonical_tree.as_os_str().as_bytes());
    let short = (hash ^ (hash >> 32)) as u32;
    let variant = fragment
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| s != "minimal")
        .map(|s| format!("-{}", crate::util::safe_name(&s, "-_")))
        .unwrap_or_default();
    cache_root
        .join("build")
        .join(format!("{name}-{short:08x}{variant}"))
}

/// FNV-1a: stable across Rust releases, unlike std's hasher, so build
/// directories keep their names.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn concat_os(a: &str, b: &OsStr) -> OsString {
    let mut s = OsString::from(a);
    s.push(b);
    s
}

fn mtime(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Held while building: two runs sharing a build directory would
/// interleave make in it. Released when dropped.
fn lock(build_dir: &Path) -> Result<Flock<File>, TreeError> {
    let path = build_dir.join(LOCK_NAME);
    crate::util::lock_exclusive(&path).map_err(io_err("cannot lock", &path))
}

/// The build log: commands and their whole output, never the terminal.
struct Log {
    file: File,
    path: PathBuf,
    tree: PathBuf,
    start: Instant,
}

impl Log {
    fn create(path: &Path, tree: &Path) -> Result<Log, TreeError> {
        let file = File::create(path).map_err(io_err("cannot create build log", path))?;
        Ok(Log {
            file,
            path: path.to_path_buf(),
            tree: tree.to_path_buf(),
            start: Instant::now(),
        })
    }

    fn line(&mut self, text: &str) -> Result<(), TreeError> {
        // Elapsed time on each line shows where a slow build spent it.
        let t = self.start.elapsed().as_secs_f64();
        writeln!(self.file, "kconform [{t:7.1} s]: {text}")
            .map_err(io_err("cannot write", &self.path))
    }

    fn run(&mut self, step: &str, mut cmd: Command) -> Result<(), TreeError> {
        self.line(&format!("$ {step}"))?;
        let out = self
            .file
            .try_clone()
            .map_err(io_err("cannot write", &self.path))?;
        let err = out
            .try_clone()
            .map_err(io_err("cannot write", &self.path))?;
        // Its own process group, so an interrupt stops make and every
        // compiler it started.
        let child = cmd
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(io_err("cannot run make in", &self.tree))?;
        let status = crate::util::wait_interruptibly(child)
            .map_err(io_err("make stopped in", &self.tree))?;
        if status.success() {
            return Ok(());
        }
        let _ = self.line(&format!("`{step}` failed: {status}"));
        let text = fs::read(&self.path).unwrap_or_default();
        Err(TreeError::BuildFailed {
            tree: self.tree.clone(),
            step: step.into(),
            log: self.path.clone(),
            tail: crate::util::tail(&String::from_utf8_lossy(&text), TAIL_LINES),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_dirs_are_named_by_tree_and_stable() {
        let minimal = Path::new("kernel-configs/minimal.config");
        let a = build_dir_for(Path::new("/c"), Path::new("/src/linux-6.1"), minimal);
        let b = build_dir_for(Path::new("/c"), Path::new("/other/linux-6.1"), minimal);
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(a.starts_with("/c/build"));
        let (stem, hash) = name.rsplit_once('-').unwrap();
        assert_eq!(stem, "linux-6.1");
        assert_eq!(hash.len(), 8);
        assert!(hash.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        // A fixed value: the name must not change between kconform builds.
        assert_eq!(
            name,
            format!("linux-6.1-{:08x}", {
                let h = fnv1a(b"/src/linux-6.1");
                (h ^ (h >> 32)) as u32
            })
        );
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(
            build_dir_for(Path::new("/c"), Path::new("/"), minimal),
            Path::new("/c/build").join(format!("root-{:08x}", {
                let h = fnv1a(b"/");
                (h ^ (h >> 32)) as u32
            }))
        );
        // Each other fragment keeps a build of its own.
        let distro = build_dir_for(
            Path::new("/c"),
            Path::new("/src/linux-6.1"),
            Path::new("kernel-configs/distro.config"),
        );
        assert_eq!(distro, a.with_file_name(format!("{name}-distro")));
    }

    #[test]
    fn a_fragment_takes_its_includes_options_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("base.config"),
            "CONFIG_SLUB=y\nCONFIG_SMP=y\n",
        )
        .unwrap();
        let variant = dir.path().join("variant.config");
        std::fs::write(
            &variant,
            "# kconform-include: base.config\n# why: a variant\nCONFIG_SLOB=y\n# CONFIG_SLUB is not set\n",
        )
        .unwrap();
        let wants = load_fragment(&variant, 0).unwrap();
        assert_eq!(
            wants,
            vec![
                ("CONFIG_SMP".to_string(), Setting::Value("y".into())),
                ("CONFIG_SLOB".to_string(), Setting::Value("y".into())),
                ("CONFIG_SLUB".to_string(), Setting::NotSet),
            ]
        );
        std::fs::write(
            &variant,
            "# kconform-include: missing.config\nCONFIG_SMP=y\n",
        )
        .unwrap();
        let err = load_fragment(&variant, 0).unwrap_err().to_string();
        assert!(err.contains("missing.config"), "{err}");
    }

    fn fake_tree(dir: &Path) {
        fs::write(
            dir.join("Makefile"),
            "# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = 1\n",
        )
        .unwrap();
        fs::write(dir.join("Kconfig"), "mainmenu \"Linux\"\n").unwrap();
        fs::create_dir_all(dir.join("arch/x86")).unwrap();
    }

    #[test]
    fn tree_validation() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();

        let missing = root.join("nope");
        assert!(matches!(
            check_tree(&missing),
            Err(TreeError::NotADirectory { .. })
        ));
        let file = root.join("file");
        fs::write(&file, "").unwrap();
        assert!(matches!(
            check_tree(&file),
            Err(TreeError::NotADirectory { .. })
        ));

        let tree = root.join("linux");
        fs::create_dir(&tree).unwrap();
        let err = check_tree(&tree).unwrap_err();
        assert!(err.to_string().contains("no readable Makefile"), "{err}");
        fs::write(tree.join("Makefile"), "all:\n\ttrue\n").unwrap();
        let err = check_tree(&tree).unwrap_err();
        assert!(err.to_string().contains("`VERSION =`"), "{err}");

        fake_tree(&tree);
        assert_eq!(check_tree(&tree).unwrap(), fs::canonicalize(&tree).unwrap());
        fs::remove_file(tree.join("Kconfig")).unwrap();
        assert!(check_tree(&tree)
            .unwrap_err()
            .to_string()
            .contains("no Kconfig"));

        fake_tree(&tree);
        fs::create_dir_all(tree.join("include/config")).unwrap();
        let err = check_tree(&tree).unwrap_err();
        assert!(matches!(err, TreeError::UncleanTree { .. }), "{err}");
        assert!(err.to_string().contains("mrproper"), "{err}");

        let spaced = root.join("linux 6.1");
        fs::create_dir(&spaced).unwrap();
        fake_tree(&spaced);
        assert!(matches!(
            check_tree(&spaced),
            Err(TreeError::UnusablePath { .. })
        ));
    }

    #[test]
    fn bad_fragment_and_tree_errors_before_any_make() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = tmp.path().join("linux");
        fs::create_dir(&tree).unwrap();
        fake_tree(&tree);
        let frag = tmp.path().join("frag.config");
        let err = build(&tree, &frag, tmp.path()).unwrap_err();
        assert!(matches!(err, TreeError::FragmentUnreadable { .. }), "{err}");
        fs::write(&frag, "CONFIG_SMP=y\nnonsense\n").unwrap();
        let err = build(&tree, &frag, tmp.path()).unwrap_err();
        assert!(err.to_string().contains("frag.config:2:"), "{err}");
        let err = build(&tmp.path().join("absent"), &frag, tmp.path()).unwrap_err();
        assert!(err.to_string().contains("no such directory"), "{err}");
    }

    /// Builds a real kernel: minutes from scratch, seconds when nothing
    /// changed. `KCONFORM_TEST_TREE=/path/to/linux cargo test -p
    /// kconform-harness tree -- --ignored --nocapture`
    #[test]
    #[ignore = "builds a kernel; set KCONFORM_TEST_TREE to a kernel source tree"]
    fn builds_a_kernel_tree() {
        let tree = std::env::var_os("KCONFORM_TEST_TREE")
            .expect("set KCONFORM_TEST_TREE to a Linux source tree");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let fragment = default_fragment(repo);
        let cache = crate::kernels::default_cache_root();
        let first = build(Path::new(&tree), &fragment, &cache).unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "build: {:.1} s, built={}, ccache={}, image {} ({} bytes), log {}",
            first.duration.as_secs_f64(),
            first.built,
            first.ccache,
            first.image.display(),
            fs::metadata(&first.image).unwrap().len(),
            first.log.display()
        );
        let config = fs::read_to_string(&first.config).unwrap();
        assert!(config.contains("\nCONFIG_SECCOMP_FILTER=y\n"));
        let again = build(Path::new(&tree), &fragment, &cache).unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "no-change build: {:.1} s, built={}",
            again.duration.as_secs_f64(),
            again.built
        );
        assert!(!again.built, "nothing changed, yet the image was rebuilt");
        assert_eq!(mtime(&again.config), mtime(&first.config));
    }
}
